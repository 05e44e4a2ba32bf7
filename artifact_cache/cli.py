"""The ``artifact-cache`` command: browse, prune and run pipelines on a store from a shell.

Stdlib only (argparse). Every subcommand takes ``--store URL`` (also accepted before the
subcommand); the default is `artifact_cache.open_store`'s: ``$ARTIFACT_CACHE_URL``,
else ``./.artifact_cache``. User mistakes print one line on stderr and exit non-zero
(2 for usage, 1 for failures); they never print a traceback. PyYAML is imported only
by ``run`` and the demo's steps only by ``demo``, so that ``ls`` starts fast.

Examples:
    >>> main(["--store", "memory://doc-cli", "ls"])
    0
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .cli_options import (
    _artifact_options,
    _json_option,
    _limit_options,
    _read_only_option,
    _store_option,
    _sweep_options,
)
from .config import open_store
from .errors import (
    ArtifactStoreError,
    InvalidQueryError,
    missing_folder_note,
)
from .info import ArtifactInfo, human_size
from .pipeline import _format_table as table
from .signing import signed_text

if TYPE_CHECKING:
    from .pipeline import RunResult
    from .store import ArtifactStore

__all__ = ["main"]

PROG = "artifact-cache"
_DEMO_ROWS = 200_000


class UsageError(Exception):
    """A mistake in the command line that argparse cannot see (exit code 2)."""


# --------------------------------------------------------------------------- output helpers
def _when(created: dt.datetime) -> str:
    return created.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_json(data: Any, out: TextIO) -> None:
    json.dump(data, out, indent=2, sort_keys=True, default=str)
    out.write("\n")


def _parse_tags(pairs: Sequence[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    tags: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--tag expects NAME=VALUE, got {pair!r}")
        tags[name] = value
    return tags


def _store(args: argparse.Namespace) -> ArtifactStore:
    return open_store(getattr(args, "store", None), read_only=_read_only(args), **_limits(args))


_LIMITS = ("max_size", "max_count", "max_age")


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    """The store limits given on the command line (``--max-size`` ...), already parsed."""
    return {name: getattr(args, name) for name in _LIMITS if hasattr(args, name)}


def _read_only(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "read_only", False))


def _signed_line(store: ArtifactStore, info: ArtifactInfo) -> str:
    return signed_text(info.signed, store.verified(info))


# --------------------------------------------------------------------------- commands
_ARGS_WIDTH = 60
"""The ARGUMENTS column of ``ls`` is cut to this many characters (``info`` shows them all)."""


def _short(text: str | None, width: int = _ARGS_WIDTH) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _newest_per_step(infos: Sequence[ArtifactInfo]) -> list[ArtifactInfo]:
    """The first (newest) record of each step id, in the order given (newest first)."""
    seen: set[str] = set()
    out = []
    for info in infos:
        if info.step_id not in seen:
            seen.add(info.step_id)
            out.append(info)
    return out


def _print_infos(infos: Sequence[ArtifactInfo], out: TextIO, *, versions: bool = False) -> None:
    rows = [
        [i.step_id, i.key, i.python_type, human_size(i.size), _when(i.created), _short(i.args_repr)]
        for i in infos
    ]
    headers = ["STEP ID", "KEY", "TYPE", "SIZE", "CREATED (UTC)", "ARGUMENTS"]
    if versions:
        # Versions: which one and its status matter more than the arguments.
        rows = [[*r[:5], i.status, i.version or "-"] for r, i in zip(rows, infos, strict=True)]
        headers = [*headers[:5], "STATUS", "VERSION"]
    print(table(rows, headers, right=[3]), file=out)


@contextlib.contextmanager
def _query_usage() -> Iterator[None]:
    """A filter or depth the store refuses is a bad option value: a usage error."""
    try:
        yield
    except InvalidQueryError as exc:
        raise UsageError(str(exc)) from None


def _record_json(info: ArtifactInfo) -> dict[str, Any]:
    """A record as ``--json`` prints it: its fields, and the status the store computed."""
    return {**info.to_dict(), "version": info.version, "status": info.status}


def cmd_ls(args: argparse.Namespace, out: TextIO) -> int:
    """List artifacts, newest first."""
    store = _store(args)
    status = None if args.status == "all" else args.status
    with _query_usage():
        infos: Sequence[ArtifactInfo] = store.list(
            args.prefix,
            tags=_parse_tags(args.tag),
            type=args.type,
            status=status,
            created_after=args.after,
            created_before=args.before,
            limit=args.limit,
        )
    if args.latest:
        infos = _newest_per_step(infos)
    if args.json:
        _print_json([_record_json(i) for i in infos], out)
        return 0
    if not infos:
        what = "artifacts" if status == "active" else f"{args.status} versions"
        print(
            f"no {what} in {store.location}{missing_folder_note(store.location)}",
            file=sys.stderr,
        )
        return 0
    _print_infos(infos, out, versions=status != "active")
    return 0


def cmd_lineage(args: argparse.Namespace, out: TextIO) -> int:
    """What an artifact was computed from, breadth-first."""
    store = _store(args)
    with _query_usage(), warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        infos = store.lineage(args.step, key=args.key, depth=args.depth)
    for note in notes:  # inputs that could not be followed: one line each, no source line
        print(f"{PROG}: note: {note.message}", file=sys.stderr)
    return _print_related(infos, "inputs", args, out)


def cmd_downstream(args: argparse.Namespace, out: TextIO) -> int:
    """What was computed from an artifact, breadth-first."""
    infos = _store(args).downstream(args.step, key=args.key)
    return _print_related(infos, "artifacts computed from it", args, out)


def _print_related(
    infos: Sequence[ArtifactInfo], what: str, args: argparse.Namespace, out: TextIO
) -> int:
    if args.json:
        _print_json([_record_json(i) for i in infos], out)
    elif infos:
        _print_infos(infos, out)
    else:
        which = f" key {args.key}" if args.key else ""
        print(f"{args.step}{which}: no {what} recorded", file=sys.stderr)
    return 0


def cmd_versions(args: argparse.Namespace, out: TextIO) -> int:
    """List every version of a step, newest first, with its status."""
    store = _store(args)
    infos = store.versions(args.step, key=args.key)
    if args.json:
        _print_json([_record_json(i) for i in infos], out)
        return 0
    if not infos:
        which = f" key {args.key}" if args.key else ""
        where = f"{store.location}{missing_folder_note(store.location)}"
        print(f"no versions of step {args.step}{which} in {where}", file=sys.stderr)
        return 0
    rows = [
        [i.version or "-", i.key, i.status, i.python_type, human_size(i.size), _when(i.created)]
        for i in infos
    ]
    headers = ["VERSION", "KEY", "STATUS", "TYPE", "SIZE", "CREATED (UTC)"]
    print(table(rows, headers, right=[4]), file=out)
    return 0


def cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    """Show one artifact's record."""
    store = _store(args)
    info = store.info(args.step, key=args.key)
    if args.json:
        _print_json(info.to_dict(), out)
        return 0
    lines = [(k, _signed_line(store, info) if k == "signed" else v) for k, v in info.describe()]
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k + ':':<{width + 1}} {v}", file=out)
    return 0


def cmd_rm(args: argparse.Namespace, out: TextIO) -> int:
    """Delete artifacts; exit 1 if any step had nothing to delete."""
    store = _store(args)
    missing = []
    for step in args.steps:
        # store.delete(key=...) reports True for a missing key on S3 (deleting a missing
        # object succeeds there), so ask first: the user should hear that nothing matched.
        # With --purge, a deleted step's history alone is something to remove.
        found = args.purge or args.key is None or store.exists(step, key=args.key)
        if found and store.delete(step, key=args.key, purge=args.purge):
            which = f" key {args.key}" if args.key else ""
            verb = "purged" if args.purge else "removed"
            print(f"{verb} {step}{which}", file=out)
        else:
            missing.append(step)
    if missing:
        which = f" with key {args.key!r}" if args.key else ""
        names = ", ".join(repr(s) for s in missing)
        where = f"{store.location}{missing_folder_note(store.location)}"
        raise ArtifactStoreError(f"no artifact for step {names}{which} in store {where}")
    return 0


def cmd_clear(args: argparse.Namespace, out: TextIO) -> int:
    """Remove everything, after confirmation (or ``--yes``)."""
    store = _store(args)
    if not args.yes:
        if not sys.stdin.isatty():
            # A script or CI job must say --yes: nobody is there to answer the question.
            raise ArtifactStoreError(
                f"refusing to clear store {store.location} without --yes "
                "(stdin is not a terminal, so it cannot ask)"
            )
        count = len(store.list())
        answer = input(f"Remove all {count} artifacts from {store.location}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed", file=out)
            return 1
    removed = store.clear()
    print(f"removed {removed} artifacts from {store.location}", file=out)
    return 0


def cmd_du(args: argparse.Namespace, out: TextIO) -> int:
    """Size and count of artifacts per top-level prefix of their step ids."""
    store = _store(args)
    infos = store.list()
    groups: dict[str, list[ArtifactInfo]] = {}
    for info in infos:
        groups.setdefault(info.step_id.split("/", 1)[0], []).append(info)
    prefixes: list[dict[str, Any]] = [
        {"prefix": p, "count": len(g), "size": sum(i.size for i in g)}
        for p, g in sorted(groups.items())
    ]
    # Identical payloads are stored once, so what the disk holds can be less than the sum.
    unique = {i.digest: i.size for i in infos}
    total = {"count": len(infos), "size": sum(i.size for i in infos)}
    stored = {"payloads": len(unique), "size": sum(unique.values())}
    if args.json:
        _print_json({"prefixes": prefixes, "total": total, "stored": stored}, out)
        return 0
    rows = [[p["prefix"], str(p["count"]), human_size(p["size"])] for p in prefixes]
    rows.append(["total", str(total["count"]), human_size(total["size"])])
    print(table(rows, ["PREFIX", "ARTIFACTS", "SIZE"], right=[1, 2]), file=out)
    print(
        f"{stored['payloads']} distinct payloads, {human_size(stored['size'])} stored "
        "(identical payloads are stored once)",
        file=out,
    )
    return 0


def cmd_gc(args: argparse.Namespace, out: TextIO) -> int:
    """Remove payloads that no record points to, older than the grace period."""
    if args.grace < 0:
        raise UsageError(f"--grace must be 0 or more seconds, got {args.grace}")
    report = _store(args).gc(grace=args.grace, dry_run=args.dry_run)
    if args.json:
        data = {
            "removed": report.removed,
            "freed": report.freed,
            "kept_young": report.kept_young,
            "referenced": report.referenced,
            "dry_run": args.dry_run,
        }
        _print_json(data, out)
        return 0
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} {report.removed} unreferenced payloads ({human_size(report.freed)}); "
        f"kept {report.kept_young} younger than {args.grace:g} s; "
        f"{report.referenced} referenced",
        file=out,
    )
    return 0


def cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    """Remove artifacts beyond the limits given, least recently used first."""
    if args.grace < 0:
        raise UsageError(f"--grace must be 0 or more seconds, got {args.grace}")
    if not _limits(args):
        raise UsageError("prune needs a limit: --max-size, --max-count or --max-age")
    store = _store(args)
    report = store.prune(dry_run=args.dry_run, grace=args.grace)
    if args.json:
        _print_json(report.to_dict(), out)
        return 0
    verb = "would remove" if args.dry_run else "removed"
    if report.removed:
        rows = [
            [a.step_id, a.key, human_size(a.size), _when(a.created), _when(a.last_used), a.rule]
            for a in report.removed
        ]
        headers = ["STEP ID", "KEY", "SIZE", "CREATED (UTC)", "LAST USED (UTC)", verb.upper()]
        print(table(rows, headers, right=[2]), file=out)
    print(f"{report.summary()} in {store.location}", file=out)
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    """Run a YAML runbook."""
    from .pipeline import Pipeline, StepFailedError

    # Step modules beside the runbook or in the current folder import (after installed
    # packages, never in their place): Pipeline.from_runbook sees to it.
    url = getattr(args, "store", None)
    read_only = _read_only(args)
    limits = _limits(args)
    store = open_store(url, read_only=read_only, **limits) if url else None
    pipeline = Pipeline.from_runbook(args.runbook, store=store)
    if (read_only and not pipeline.store.read_only) or (limits and store is None):
        # The runbook's own store, opened again read-only (steps compute, nothing is
        # saved) or with the limits given.
        runbook_store = open_store(pipeline.store.location, read_only=read_only, **limits)
        pipeline = Pipeline(runbook_store, pipeline.steps, name=pipeline.name)
    only = [s for group in args.only for s in group.split(",") if s] if args.only else None
    # With --json, stdout carries only the JSON document; progress goes to stderr.
    log = sys.stderr if args.json else out
    print(f"running {pipeline.name} on {pipeline.store.location}", file=log)
    try:
        with contextlib.redirect_stdout(log):
            result = pipeline.run(fresh=args.fresh, only=only, until=args.until, verbose=True)
    except StepFailedError as exc:
        if exc.result is not None and len(exc.result):
            print(exc.result.summary(), file=log)
        raise
    if args.json:
        _print_json(result.to_dict(), out)
    else:
        print(result.summary(), file=out)
    return 0


def _summary_of(result: RunResult) -> str:
    hits = sum(r.cached for r in result)
    return f"{hits}/{len(result)} from the cache, {result.duration:.2f} s"


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Run the demo pipeline twice and show the second run served from the cache."""
    from .demo import demo_pipeline

    store = _store(args)
    pipeline = demo_pipeline(store, rows=args.rows)
    print(f"artifact-cache demo: {args.rows:,} synthetic rows, store {store.location}", file=out)
    if args.keep:
        print("\nrun 1 (--keep: what an earlier demo stored is used)", file=out)
    else:
        print("\nrun 1 (fresh: the demo's artifacts are cleared first)", file=out)
    first = pipeline.run(fresh=not args.keep, verbose=True)
    print(first.summary(), file=out)
    print("\nrun 2 (same code, same parameters)", file=out)
    second = pipeline.run(verbose=True)
    print(second.summary(), file=out)
    model = pipeline.store.load(second["demo/train"].info) if second["demo/train"].info else None
    print(file=out)
    if isinstance(model, Mapping):
        print(f"model: logistic regression, held-out accuracy {model['accuracy']:.3f}", file=out)
    speedup = first.duration / second.duration if second.duration > 0 else float("inf")
    print(f"run 1: {_summary_of(first)}", file=out)
    print(f"run 2: {_summary_of(second)}", file=out)
    if all(r.cached for r in first):
        print("run 1 computed nothing: an earlier demo stored every step", file=out)
    else:
        print(f"speed-up: {speedup:.0f}x", file=out)
    print(f"browse the artifacts: {PROG} --store {store.location} ls demo/", file=out)
    again = f"{PROG} --store {store.location} demo --keep"
    if args.rows != _DEMO_ROWS:
        again += f" --rows {args.rows}"
    print(f"reuse them from another process: {again}", file=out)
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``artifact-cache`` (exposed for documentation tools)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Browse, prune and run pipelines on an artifact_cache store.",
        epilog=f"Run '{PROG} demo' to see a pipeline cached; '{PROG} COMMAND --help' for more.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # Accepted before and after the subcommand. SUPPRESS keeps a subcommand's absent
    # option from overwriting a global one, and lets ``run`` see whether one was given.
    _store_option(parser, default=argparse.SUPPRESS)
    _read_only_option(parser)
    _limit_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    newest = "a specific key (default: the newest artifact of the step)"

    def command(name: str, func: Callable[..., int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _store_option(p, default=argparse.SUPPRESS)
        _read_only_option(p)
        _limit_options(p)
        p.set_defaults(func=func)
        return p

    p = command(
        "ls", cmd_ls, "list artifacts (step id, key, type, size, created, arguments), newest first"
    )
    p.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="step id prefix")
    p.add_argument("--latest", action="store_true", help="only the newest artifact of each step id")
    p.add_argument(
        "--tag", action="append", metavar="NAME=VALUE", help="keep artifacts with this tag"
    )
    p.add_argument(
        "--type",
        metavar="TYPE",
        help="keep artifacts of this Python type (builtins.dict, pandas.DataFrame, DataFrame)",
    )
    p.add_argument(
        "--after", metavar="TIME", help="keep artifacts created at or after TIME (ISO, UTC)"
    )
    p.add_argument("--before", metavar="TIME", help="keep artifacts created before TIME (ISO, UTC)")
    p.add_argument("--limit", type=int, metavar="N", help="keep the newest N artifacts")
    p.add_argument(
        "--status",
        choices=["active", "superseded", "tombstoned", "all"],
        default="active",
        help="list the versions of this status (default: active, the artifacts get finds)",
    )
    _json_option(p)

    p = command("lineage", cmd_lineage, "what an artifact was computed from, breadth-first")
    _artifact_options(p, key_help=newest, depth=True)

    p = command("downstream", cmd_downstream, "what was computed from an artifact, breadth-first")
    _artifact_options(p, key_help=newest)

    p = command("versions", cmd_versions, "list every version of a step, newest first")
    _artifact_options(p, key_help="a specific key (default: every key of the step)")

    p = command("info", cmd_info, "show the record of one artifact (no payload is read)")
    _artifact_options(p, key_help=newest)

    p = command("rm", cmd_rm, "delete the artifacts of one or more steps")
    p.add_argument("steps", nargs="+", metavar="STEP", help="step ids")
    p.add_argument("--key", help="delete only this key (default: every key of the step)")
    p.add_argument(
        "--purge", action="store_true", help="remove the version history too (default: kept)"
    )

    p = command("clear", cmd_clear, "remove every artifact and payload from the store")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = command("du", cmd_du, "size and count of artifacts per top-level prefix")
    _json_option(p)

    p = command("gc", cmd_gc, "remove payloads that no record points to")
    _sweep_options(p, grace=3600.0, files="files")

    p = command(
        "prune",
        cmd_prune,
        "remove artifacts beyond a size, count or age, least recently used first",
    )
    _sweep_options(p, grace=600.0, files="payload files")

    p = command("run", cmd_run, "run a YAML runbook (see docs/pipelines.md)")
    p.add_argument("runbook", metavar="RUNBOOK", help="path to the runbook (.yml)")
    p.add_argument("--fresh", action="store_true", help="clear the steps' artifacts first")
    p.add_argument(
        "--only",
        action="append",
        metavar="STEP[,STEP]",
        help="run just these steps; their inputs must be stored already (repeatable)",
    )
    p.add_argument("--until", metavar="STEP", help="run this step and what it depends on")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = command("demo", cmd_demo, "run a small pipeline twice: the second run is cached")
    p.add_argument(
        "--rows", type=int, default=_DEMO_ROWS, help="rows of synthetic data (default: 200000)"
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="use what an earlier demo stored instead of clearing it first (run it twice: "
        "the second process computes nothing)",
    )
    return parser


def _error(message: str) -> None:
    # One line, whatever the exception's text looks like.
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``artifact-cache`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Examples:
        >>> main(["--store", "memory://doc-main", "du", "--json"]) == 0  # doctest: +ELLIPSIS
        {...
        True
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    out = sys.stdout
    try:
        return int(args.func(args, out))
    except BrokenPipeError:
        # ``artifact-cache ls | head``: the reader left; stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        _error(str(exc))
        return 2
    except (ArtifactStoreError, OSError) as exc:
        # Store errors name the step and the store; OSError covers a missing runbook.
        if isinstance(exc, FileNotFoundError) and exc.filename:
            _error(f"{exc.strerror}: {exc.filename}")
        else:
            _error(str(exc) or type(exc).__name__)
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
