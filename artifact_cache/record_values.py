"""The values a record holds, and how each is checked when a record is read.

Digests and version ids (their patterns, how ids are made), times, sizes, codec names,
inline payloads, key recipes: each check takes a field's JSON value and returns what
`ArtifactInfo` gets, or raises RecordError (ValueError, TypeError and OverflowError are
reported the same way). `artifact_cache.info.RECORD_FIELDS` says which field gets which
check. Imports the stdlib, errors, stepid and the key recipe.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Callable
from typing import Any

from .errors import RecordError
from .fingerprint.recipe import KeyRecipe
from .stepid import validate_key, validate_step_id

__all__ = [
    "DIGEST_PATTERN",
    "INLINE_MAX",
    "MAX_DEPTH",
    "VERSION_PATTERN",
    "derived_version_id",
    "is_digest",
    "is_version_id",
    "new_version_id",
]

DIGEST_PATTERN = re.compile(r"[0-9a-f]{32}")
"""A payload digest: xxh3_128 as 32 lowercase hex characters (and so never a path)."""

MAX_DEPTH = 32
"""Deepest nesting of lists and objects a record may have (unknown fields included)."""


def is_digest(value: object) -> bool:
    """True if ``value`` is a digest as records hold them (32 lowercase hex characters).

    Examples:
        >>> is_digest("ab" * 16), is_digest("../../etc/passwd")
        (True, False)
    """
    return isinstance(value, str) and DIGEST_PATTERN.fullmatch(value) is not None


VERSION_PATTERN = re.compile(r"[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}")
"""A version id: the UTC time of the save to the microsecond, then 8 hex characters
(``20261202T031500123456Z-1a2b3c4d``). Ids sort in the order their saves began, and are
never a path."""


def is_version_id(value: object) -> bool:
    """True if ``value`` is a version id as records hold them (`VERSION_PATTERN`).

    Examples:
        >>> is_version_id("20261202T031500123456Z-1a2b3c4d"), is_version_id("../x")
        (True, False)
    """
    return isinstance(value, str) and VERSION_PATTERN.fullmatch(value) is not None


def _stamp(created: dt.datetime) -> str:
    return created.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def new_version_id(created: dt.datetime) -> str:
    """A new version id for a save at ``created``: its time, then 8 random hex characters.

    Examples:
        >>> import datetime as dt
        >>> new_version_id(dt.datetime(2026, 12, 2, 3, 15, tzinfo=dt.UTC))[:23]
        '20261202T031500000000Z-'
    """
    return f"{_stamp(created)}-{secrets.token_hex(4)}"


def derived_version_id(created: dt.datetime, digest: str) -> str:
    """The version id of a record that names none (written before versions existed).

    Its time and the first 8 characters of its digest, so every reader derives the same.

    Examples:
        >>> import datetime as dt
        >>> derived_version_id(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "ab" * 16)
        '20260101T000000000000Z-abababab'
    """
    tail = digest[:8] if is_digest(digest) else "0" * 8
    return f"{_stamp(created)}-{tail}"


def _utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _fail(what: str) -> RecordError:
    return RecordError(what)


def _check_depth(data: Any, where: str) -> None:
    """Refuse unknown values nested deeper than MAX_DEPTH (known fields have fixed shapes)."""
    stack = [(data, 2)]  # the record itself is level 1
    while stack:
        value, depth = stack.pop()
        # (A tuple is a list once written: a caller's value is checked as it will read.)
        if isinstance(value, dict | list | tuple):
            if depth > MAX_DEPTH:
                raise _fail(f"{where}: nested deeper than {MAX_DEPTH} levels")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items if isinstance(v, dict | list | tuple))


def _str(value: Any) -> str:
    if type(value) is not str and not isinstance(value, str):
        raise _fail(f"expected a string, got {type(value).__name__}")
    return value


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _optional_str(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return _str(value)


def _step_id(value: Any) -> str:
    return validate_step_id(_str(value))


def _key(value: Any) -> str:
    return validate_key(_str(value))


def _digest(value: Any) -> str:
    if not is_digest(value):
        raise _fail("not a digest (32 lowercase hex characters)")
    return str(value)


def _size(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(f"expected a non-negative integer, got {value!r:.40}")
    if value >= 2**63:
        raise _fail("larger than any file")
    return value


def _seconds(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise _fail(f"expected a number of seconds, got {value!r:.40}")
    if value < 0:
        raise _fail("negative")
    return float(value)


def _created(value: Any) -> dt.datetime:
    return _utc(dt.datetime.fromisoformat(_str(value)))


def _str_map(value: Any, what: str) -> dict[str, str]:
    """An object of strings to strings (``what`` names one value in messages)."""
    if not isinstance(value, dict):
        raise _fail(f"expected an object of strings, got {type(value).__name__}")
    for k, v in value.items():
        if not isinstance(v, str):
            raise _fail(f"{what} {k!r} is a {type(v).__name__}, not a string")
    return value


def _recipe(value: Any) -> KeyRecipe:
    if not isinstance(value, dict):
        raise _fail(f"expected an object, got {type(value).__name__}")
    recipe: dict[str, Any] = {}
    # Parts a newer release adds are kept (a rewrite and a signature keep them), as the
    # record's own unknown fields are.
    extra: dict[str, Any] = {}
    for name, part in value.items():
        check = _RECIPE_CHECKS.get(name)
        if check is None:
            if isinstance(part, dict | list):
                _check_depth(part, f"part {name!r}")
            extra[name] = part
            continue
        try:
            recipe[name] = check(part)
        except RecordError as exc:
            raise _fail(f"part {name!r}: {exc}") from None
    if "identity" not in recipe:
        raise _fail("lacks identity")
    return KeyRecipe(**recipe, extra=extra)


_RECIPE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "identity": _str,
    "version": _optional_str,
    "code_parts": lambda v: _str_map(v, "code part"),
    "arguments": lambda v: _str_map(v, "argument"),
    "format": _str,
}


def _payload_hash(value: Any) -> str:
    algorithm, _, hexdigest = _str(value).partition(":")
    if algorithm not in ("sha256", "blake3") or not _HEX64.fullmatch(hexdigest):
        raise _fail("not 'sha256:<64 hex>' or 'blake3:<64 hex>'")
    return str(value)


_HEX64 = re.compile(r"[0-9a-f]{64}")


INLINE_MAX = 16 * 2**10
"""Payloads up to this size are stored inside their record (field ``inline``)."""

_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
"""Padded base64 text, of a length that is a multiple of 4 (checked first: the pattern
alone says nothing of groups, which makes it several times faster to match)."""


def _inline(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(f"expected base64 text, got {type(value).__name__}")
    if len(value) > (INLINE_MAX + 2) // 3 * 4 or len(value) % 4 or not _BASE64.fullmatch(value):
        raise _fail(f"not the base64 text of a payload of at most {INLINE_MAX} bytes")
    return value


_CODEC = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,31}")
"""A codec name as `artifact_cache.compression` knows them (``zstd``, ``gzip``, ...)."""


def _compression(value: Any) -> str:
    if not isinstance(value, str) or not _CODEC.fullmatch(value):
        raise _fail(f"not a codec name (up to 32 of a-z 0-9 _ . + -), got {value!r:.40}")
    return value


def _version_id(value: Any) -> str:
    if not is_version_id(value):
        raise _fail("not a version id (like 20261202T031500123456Z-1a2b3c4d)")
    return str(value)


def _record_version(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _fail(f"expected a positive integer, got {value!r:.40}")
    return value
