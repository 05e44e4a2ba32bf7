"""Step id and key validation, and sanitising of names derived from functions.

A step id is one or more ``/``-separated segments; each segment is 1-128 characters of
letters, digits, ``_``, ``-`` and ``.``, and does not start with ``.``. Keys follow the
segment rule. Validation runs before any I/O. Imports only ``errors``.
"""

from __future__ import annotations

import functools
import re

from .errors import InvalidStepIdError

__all__ = ["DEFAULT_KEY", "sanitize_step_id", "validate_key", "validate_step_id"]

DEFAULT_KEY = "default"
"""The key a plain `ArtifactStore.save` uses when none is given."""

_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")
_MAX_SEGMENTS = 32
_VALID_STEP_ID = re.compile(rf"{_SEGMENT.pattern}(?:/{_SEGMENT.pattern}){{0,{_MAX_SEGMENTS - 1}}}")
"""Exactly the step ids `_why` finds nothing wrong with (checked first: most are valid)."""


@functools.lru_cache(maxsize=4096)
def _why(step_id: str) -> str:
    # Cached: a memoised call validates the same step id and key on every hit.
    if not step_id:
        return "it is empty"
    if "://" in step_id:
        return "it looks like a URL; a step id is a name inside the store, not a location"
    if step_id.startswith("/"):
        return "it is an absolute path"
    if "\\" in step_id:
        return "it contains a backslash"
    if any(ord(c) < 32 or ord(c) == 127 for c in step_id):
        return "it contains a control character"
    segments = step_id.split("/")
    if len(segments) > _MAX_SEGMENTS:
        return f"it has more than {_MAX_SEGMENTS} segments"
    for seg in segments:
        if not seg:
            return "it has an empty segment ('//' or a trailing '/')"
        if seg in (".", ".."):
            return f"it has a {seg!r} segment"
        if len(seg) > 128:
            return f"segment {seg[:20]!r}... is {len(seg)} characters long (at most 128)"
        if seg.startswith("."):
            return f"segment {seg!r} starts with '.'"
        if not _SEGMENT.fullmatch(seg):
            return f"segment {seg!r} has characters other than letters, digits, '_', '-', '.'"
    return ""


def validate_step_id(step_id: object, *, store: str = "") -> str:
    """Return ``step_id`` unchanged if it is valid, else raise `InvalidStepIdError`.

    Examples:
        >>> validate_step_id("deals/DEAL-001/cim")
        'deals/DEAL-001/cim'
        >>> validate_step_id("../etc")
        Traceback (most recent call last):
        ...
        artifact_cache.errors.InvalidStepIdError: invalid step id '../etc': it has a '..' segment...
    """
    if type(step_id) is str and _VALID_STEP_ID.fullmatch(step_id):
        return step_id
    if not isinstance(step_id, str):
        msg = f"step id must be a str, not {type(step_id).__name__}: {step_id!r}"
        raise InvalidStepIdError(msg)
    why = _why(step_id)
    if why:
        where = f" for store {store}" if store else ""
        shown = step_id if len(step_id) <= 80 else step_id[:77] + "..."
        msg = (
            f"invalid step id {shown!r}{where}: {why}; use '/'-separated names of letters, "
            "digits, '_', '-' and '.' (e.g. 'extract' or 'deals/DEAL-001/cim')"
        )
        raise InvalidStepIdError(msg)
    return step_id


def validate_key(key: object, *, step_id: str = "", store: str = "") -> str:
    """Return ``key`` unchanged if it is a valid key (one step id segment), else raise.

    Examples:
        >>> validate_key("3f2a9c")
        '3f2a9c'
    """
    if type(key) is str and _SEGMENT.fullmatch(key):
        return key
    if not isinstance(key, str) or "/" in key or _why(key):
        msg = (
            f"invalid key {key!r} for step {step_id!r} in store {store}: a key is 1-128 "
            "letters, digits, '_', '-' or '.', not starting with '.'"
        )
        raise InvalidStepIdError(msg)
    return key


def sanitize_step_id(name: str) -> str:
    """Turn any name (e.g. a function's ``__qualname__``) into a valid step id.

    Never raises: runs of disallowed characters become ``_`` and ``<locals>`` parts of
    nested functions' qualified names are dropped.

    Examples:
        >>> sanitize_step_id("Model.fit.<locals>.inner")
        'Model.fit.inner'
        >>> sanitize_step_id("<lambda>")
        'lambda'
    """
    parts = []
    for seg in name.replace("\\", "/").split("/"):
        seg = seg.replace("<locals>.", "").replace(".<locals>", "")
        seg = _BAD_CHARS.sub("_", seg).strip("_").lstrip(".")[:128]
        if seg and seg not in (".", ".."):
            parts.append(seg)
    return "/".join(parts[:_MAX_SEGMENTS]) or "step"
