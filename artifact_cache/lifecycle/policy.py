"""A store's retention policy: its limits, the options that set them, and the cadence.

`RetentionPolicy` holds ``max_size``, ``max_count``, ``max_age`` and ``prune_every`` in
plain units (bytes, seconds), each option checked by `parse_size`, `parse_age` or as a
count; `CADENCE` says how often saves run a prune by themselves on each kind of store.
Pure values: may import errors only.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import InvalidOptionError

__all__ = [
    "CADENCE",
    "Cadence",
    "RetentionPolicy",
    "parse_age",
    "parse_size",
]


# --------------------------------------------------------------------------- cadence
@attrs.frozen
class Cadence:
    """When saves enforce the limits: after ``saves`` saves, and (object stores) at most
    once per ``seconds``, per process and store.

    ``scale``: the saves needed grow to the number of artifacts the last prune kept
    divided by this (0: they do not), so that the listing a prune costs stays a constant
    share of each save's cost however large the store.
    """

    saves: int
    seconds: float = 0.0
    scale: int = 0


CADENCE: Mapping[str, Cadence] = MappingProxyType(
    {
        # The index makes a prune's listing cheap: a scan per 16 or 64 saves costs little.
        "memory": Cadence(16, scale=16),
        "local": Cadence(64, scale=16),
        # A listing is requests (LIST pages, the manifest, records saved since), and so is
        # each removal: fewer prunes, each doing more.
        "remote": Cadence(256, 300.0, scale=4),
    }
)
"""How often saves run a prune by themselves, per kind of store (an explicit
``prune_every`` replaces it: exactly every so many saves)."""


# --------------------------------------------------------------------------- options
_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "K": 2**10,
    "M": 2**20,
    "G": 2**30,
    "T": 2**40,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NUMBER = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"


def _where(store: str | None) -> str:
    return f" (store {store})" if store else ""


def _with_unit(
    value: str,
    units: Mapping[str, int],
    fold: Callable[[str], str],
    *,
    expected: str,
    what: str,
    store: str | None,
) -> float:
    """The number in ``value`` times its unit (``units``, looked up by ``fold(unit)``)."""
    match = re.fullmatch(_NUMBER + r"([A-Za-z]*)\s*", value)
    unit = fold(match.group(2)) if match else ""
    if match is None or unit not in units:
        raise InvalidOptionError(f"{what} must be {expected}, not {value!r}{_where(store)}")
    return float(match.group(1)) * units[unit]


def parse_size(value: Any, *, what: str = "max_size", store: str | None = None) -> int:
    """Bytes from an int or text: ``"500MiB"``, ``"10GB"`` (powers of 1000), ``"2G"``.

    ``K``/``M``/``G``/``T`` alone are powers of 1024, as joblib's ``bytes_limit`` reads them.

    Raises:
        InvalidOptionError: a negative number, a bool, or text of another form.

    Examples:
        >>> parse_size("500MiB"), parse_size("10GB"), parse_size(1024)
        (524288000, 10000000000, 1024)
    """
    if isinstance(value, str):
        expected = "bytes or a size like '500MiB' or '10GB'"
        size = _with_unit(value, _SIZE_UNITS, str.upper, expected=expected, what=what, store=store)
        return int(size)
    expected = "an int of bytes or a size like '10GB'"
    return _count(value, what=what, store=store, expected=expected)


def parse_age(value: Any, *, what: str = "max_age", store: str | None = None) -> float:
    """Seconds from a number, a ``timedelta`` or text: ``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``.

    Raises:
        InvalidOptionError: a negative or non-finite age, a bool, or text of another form.

    Examples:
        >>> import datetime as dt
        >>> parse_age("7d"), parse_age("12h"), parse_age(dt.timedelta(minutes=2)), parse_age(5)
        (604800.0, 43200.0, 120.0, 5.0)
    """
    if isinstance(value, str):
        expected = "seconds or an age like '7d', '12h' or '30m'"
        return _with_unit(value, _AGE_UNITS, str.lower, expected=expected, what=what, store=store)
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        msg = f"{what} must be seconds, a datetime.timedelta or an age like '7d', not {value!r}"
        raise InvalidOptionError(msg + _where(store))
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidOptionError(f"{what} must be 0 or more seconds, got {value!r}{_where(store)}")
    return seconds


def _count(value: Any, *, what: str, store: str | None, expected: str = "an int") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(f"{what} must be {expected}, not {value!r}{_where(store)}")
    if value < 0:
        raise InvalidOptionError(f"{what} must not be negative, got {value}{_where(store)}")
    return value


@attrs.frozen(kw_only=True)
class RetentionPolicy:
    """A store's limits (None: no limit), checked and in plain units.

    Examples:
        >>> RetentionPolicy.of(max_size="1GB", max_age="7d")
        RetentionPolicy(max_size=1000000000, max_count=None, max_age=604800.0, prune_every=None)
    """

    max_size: int | None = None
    """Bytes of payloads the store may hold (a payload shared by artifacts counts once)."""
    max_count: int | None = None
    """Artifacts the store may hold."""
    max_age: float | None = None
    """Seconds after its creation an artifact is removed."""
    prune_every: int | None = None
    """Saves between the prunes saves run by themselves (0: never; None: `CADENCE`,
    whose time limit on object stores an explicit value lifts)."""

    @classmethod
    def of(
        cls,
        *,
        max_size: Any = None,
        max_count: Any = None,
        max_age: Any = None,
        prune_every: Any = None,
        store: str | None = None,
    ) -> RetentionPolicy:
        """The policy of these options, each checked (errors name ``store``).

        Raises:
            InvalidOptionError: an option is negative or of the wrong type.
        """
        if max_size is None and max_count is None and max_age is None and prune_every is None:
            return _NO_LIMITS  # the usual store: nothing to check
        return cls(
            max_size=None if max_size is None else parse_size(max_size, store=store),
            max_count=None
            if max_count is None
            else _count(max_count, what="max_count", store=store),
            max_age=None if max_age is None else parse_age(max_age, store=store),
            prune_every=None
            if prune_every is None
            else _count(prune_every, what="prune_every", store=store),
        )

    @property
    def limited(self) -> bool:
        """True if any limit is set."""
        return (self.max_size, self.max_count, self.max_age) != (None, None, None)


_NO_LIMITS = RetentionPolicy()
