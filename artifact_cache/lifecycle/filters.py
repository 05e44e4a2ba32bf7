"""Filters of `ArtifactStore.list`: tags, recorded type, creation time, how many.

A `Query` is checked when it is made (before any I/O) and applied twice: to the rows of
a store's index, whose ``created`` and ``tags`` are known without parsing a record (so
filtering by them, and keeping the newest ``limit``, reads nothing more), and to the
parsed records, which settles what the index cannot know (the recorded type) and keeps
the answer honest where there is no index (object stores read every record).

The rules, as `docs/lifecycle.md` states them:

* ``type`` is a string or a class (which stands for the name a save records for it,
  ``module.qualname``). A string matches the recorded type exactly, or by the same
  class name in a module inside the other's: ``"pandas.DataFrame"`` matches
  ``pandas.core.frame.DataFrame`` (what older pandas releases record) and the reverse.
  A name without a dot (``"DataFrame"``) matches that class name in any module.
* ``created_after`` and ``created_before`` take a `datetime.datetime`, a
  `datetime.date` (midnight UTC) or ISO 8601 text; a time without a zone is UTC, as
  records are. The range is half-open: ``created_after <= created < created_before``.
* ``limit`` keeps the newest ``limit`` records that pass the other filters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import attrs

from ..errors import InvalidQueryError
from ..info import ArtifactInfo
from ..storage import IndexedRecord
from .policy import _where

__all__ = ["Query", "as_time", "type_matches", "type_name"]


def type_name(cls: type) -> str:
    """The name a save records for an object of class ``cls`` (``module.qualname``).

    Examples:
        >>> type_name(dict)
        'builtins.dict'
    """
    return f"{cls.__module__}.{cls.__qualname__}"


def as_time(value: object, *, what: str, store: str = "") -> dt.datetime:
    """``value`` as an aware UTC datetime (a naive one, or a date at midnight, is UTC).

    Raises:
        InvalidQueryError: ``value`` is neither a datetime, a date nor ISO 8601 text.

    Examples:
        >>> as_time("2026-01-02T03:04:05", what="created_after").isoformat()
        '2026-01-02T03:04:05+00:00'
        >>> as_time(dt.date(2026, 1, 2), what="created_before").isoformat()
        '2026-01-02T00:00:00+00:00'
    """
    where = _where(store)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            msg = f"{what} must be a datetime or ISO 8601 text, not {value!r:.60}{where}"
            raise InvalidQueryError(msg) from None
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        msg = f"{what} must be a datetime, a date or ISO 8601 text, not {type(value).__name__}"
        raise InvalidQueryError(msg + where)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _type_text(value: object, store: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, type):
        return type_name(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    msg = f"type must be a class or a type name such as 'pandas.DataFrame', not {value!r:.60}"
    raise InvalidQueryError(msg + _where(store))


def _limit(value: object, store: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"limit must be a whole number of 0 or more, not {value!r:.60}"
        raise InvalidQueryError(msg + _where(store))
    return value


def type_matches(recorded: str, wanted: str) -> bool:
    """True if a recorded python type is the type ``wanted`` names (see the module's rules).

    Examples:
        >>> type_matches("pandas.core.frame.DataFrame", "pandas.DataFrame")
        True
        >>> type_matches("pandas.DataFrame", "pandas.core.frame.DataFrame")
        True
        >>> type_matches("pandas.DataFrame", "DataFrame")
        True
        >>> type_matches("polars.dataframe.frame.DataFrame", "pandas.DataFrame")
        False
    """
    if recorded == wanted:
        return True
    module, dot, name = wanted.rpartition(".")
    if not recorded.endswith("." + name):
        return False
    if not dot:
        return True
    # The same class name in modules of one package, one inside the other: a class
    # recorded where it is defined, asked for by where it is exported (or the reverse).
    where = recorded[: -len(name) - 1]
    return where.startswith(module + ".") or module.startswith(where + ".")


@attrs.frozen(kw_only=True)
class Query:
    """What `ArtifactStore.list` keeps besides its prefix (all optional, checked on creation).

    Examples:
        >>> q = Query.of(type=dict, limit=2)
        >>> q.type, q.limit
        ('builtins.dict', 2)
    """

    tags: tuple[tuple[str, str], ...] = ()
    type: str | None = None
    after: dt.datetime | None = None
    before: dt.datetime | None = None
    limit: int | None = None

    @classmethod
    def of(
        cls,
        *,
        tags: Mapping[str, str] | None = None,
        type: object = None,
        created_after: dt.datetime | dt.date | str | None = None,
        created_before: dt.datetime | dt.date | str | None = None,
        limit: int | None = None,
        store: str = "",
    ) -> Query:
        """Check the arguments of `ArtifactStore.list` and hold them.

        Raises:
            InvalidQueryError: an argument is not of an accepted form (the message names
                it and the store).
        """
        after = before = None
        if created_after is not None:
            after = as_time(created_after, what="created_after", store=store)
        if created_before is not None:
            before = as_time(created_before, what="created_before", store=store)
        return cls(
            tags=tuple(sorted((str(k), str(v)) for k, v in (tags or {}).items())),
            type=_type_text(type, store),
            after=after,
            before=before,
            limit=_limit(limit, store),
        )

    @property
    def empty(self) -> bool:
        """True if the query keeps everything."""
        return self == Query()

    def _timely(self, created: float) -> bool:
        if self.after is not None and created < self.after.timestamp():
            return False
        return self.before is None or created < self.before.timestamp()

    def rows(self, rows: Iterable[IndexedRecord]) -> list[IndexedRecord]:
        """The index rows that may pass, before any record is parsed.

        Tags and creation time come from the index; invalid records are kept (to be
        warned about). Without a type filter, only the newest ``limit`` valid rows are
        kept: the others cannot be among the answer.
        """
        wanted = dict(self.tags)
        kept = [
            r
            for r in rows
            if not r.ok
            or (
                (not wanted or _has_tags(r.tags, wanted))
                and ((self.after is None and self.before is None) or self._timely(r.created))
            )
        ]
        if self.limit is None or self.type is not None:
            return kept
        good = sorted((r for r in kept if r.ok), key=lambda r: r.created, reverse=True)
        return [r for r in kept if not r.ok] + good[: self.limit]

    def keeps(self, info: ArtifactInfo) -> bool:
        """True if a parsed record passes every filter but ``limit``."""
        if self.tags and not all(info.tags.get(k) == v for k, v in self.tags):
            return False
        if self.type is not None and not type_matches(info.python_type, self.type):
            return False
        return self._timely(info.created.timestamp())

    def apply(self, infos: Sequence[ArtifactInfo]) -> list[ArtifactInfo]:
        """The records that pass, in the given order (newest first), at most ``limit``."""
        kept = [i for i in infos if self.keeps(i)]
        return kept if self.limit is None else kept[: self.limit]


def _has_tags(have: Mapping[str, str] | None, want: Mapping[str, str]) -> bool:
    return have is not None and all(have.get(k) == v for k, v in want.items())
