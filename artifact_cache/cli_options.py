"""The options that several ``artifact-cache`` subcommands share, as argparse helpers.

``--store``, ``--read-only``, the store limits (``--max-size``, ``--max-count``,
``--max-age``), ``--json``, a step's ``STEP``/``--key`` and a sweep's
``--grace``/``--dry-run``: each is defined once here, and `artifact_cache.cli` adds them
to the subcommands that take them. Stdlib only (argparse).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .config import default_url
from .errors import InvalidOptionError


def _store_option(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=default,
        help=f"the store: any fsspec URL or a local folder (default: {default_url()})",
    )


def _read_only_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="open the store read-only: rm, clear, gc and saves are refused",
    )


def _checked(parse: Callable[..., Any], option: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text, what=option)
        except InvalidOptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _count(text: str, *, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidOptionError(f"{what} must be 0 or more, not {text!r}")
    return value


def _limit_options(parser: argparse.ArgumentParser) -> None:
    """``--max-size``, ``--max-count``, ``--max-age``: limits of the store (before or
    after the command), enforced by ``prune`` and by the saves of ``run`` and ``demo``."""
    from .lifecycle.retention import parse_age, parse_size

    limits = (
        (
            "--max-size",
            parse_size,
            "SIZE",
            "keep at most this many bytes of payloads: 10GB, 500MiB, 2G, 1000",
        ),
        ("--max-count", _count, "N", "keep at most N artifacts (the least recently used go first)"),
        ("--max-age", parse_age, "AGE", "remove artifacts created longer ago: 7d, 12h, 30m, 90s"),
    )
    for option, parse, metavar, help in limits:
        parser.add_argument(
            option,
            type=_checked(parse, option),
            default=argparse.SUPPRESS,
            metavar=metavar,
            help=help,
        )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _artifact_options(
    parser: argparse.ArgumentParser, *, key_help: str, depth: bool = False
) -> None:
    """``STEP``, ``--key`` (``--depth``) and ``--json``: the options of a command about
    one step."""
    parser.add_argument("step", metavar="STEP", help="step id")
    parser.add_argument("--key", help=key_help)
    if depth:
        parser.add_argument(
            "--depth", type=int, metavar="N", help="follow inputs N levels up (default: all)"
        )
    _json_option(parser)


def _sweep_options(parser: argparse.ArgumentParser, *, grace: float, files: str) -> None:
    """``--grace``, ``--dry-run`` and ``--json``: the options of a command that removes
    files (``gc``, ``prune``)."""
    parser.add_argument(
        "--grace",
        type=float,
        default=grace,
        metavar="SECONDS",
        help=f"keep {files} younger than this: saves in flight (default: {grace:.0f})",
    )
    parser.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    _json_option(parser)
