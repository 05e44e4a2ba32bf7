"""What a record index keeps of one record file (`IndexedRecord`), shared by every index.

A record's text is parsed and checked once, when an index first reads its file
(`examine`); `indexed_row` is what any index keeps of it then. See `index` for the
indexes themselves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import attrs

from .. import info as _info
from ..errors import RecordError
from ..fingerprint.recipe import KeyRecipe
from ..info import ArtifactInfo, _build, _ref, checked_record
from ..readonly import EMPTY
from ..readonly import read_only as _read_only
from .layout import RecordName

__all__ = [
    "Bar",
    "IndexedRecord",
    "Reader",
    "examine",
    "indexed_row",
    "no_bar",
    "pack_checked",
    "pack_columns",
    "record_at",
    "tags_json",
    "unpack_checked",
    "unpack_columns",
]


@attrs.frozen
class IndexedRecord:
    """What an index knows of one record file.

    ``token`` identifies the file's version (equal tokens: the same text); ``created``
    and ``tags`` are read from a valid record (``ok``); an invalid one has neither.
    ``text``: the record's text, where the index holds it (invalid records, memory://).
    ``info``: a valid record as the index checked it, where it holds one.
    """

    name: RecordName
    token: Any
    ok: bool
    created: float
    tags_json: str | None
    text: bytes | None = attrs.field(default=None, eq=False, repr=False)
    info: ArtifactInfo | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def tags(self) -> dict[str, str] | None:
        """The record's tags (None for an invalid record)."""
        return json.loads(self.tags_json) if self.tags_json is not None else None


def record_at(
    step_id: str,
    key: str,
    data: bytes,
    store: str,
    *,
    remedy: str | None = None,
) -> ArtifactInfo:
    """The record in ``data``, found at ``refs/<step_id>/@<key>.json`` of ``store``,
    parsed and checked: every reader of a record file checks it this way.

    ``remedy``: what the errors tell the reader to do (else: "not used"). Every reader
    of the same bytes in this process gets the same record (`checked_record`).

    Raises:
        RecordError: the record is not of the documented form, or names another step id
            or key than where it lives; it is never used.
    """
    try:
        info = checked_record(data)
    except RecordError as exc:
        where = f"the record of step {step_id!r} key {key!r} in store {store}"
        raise RecordError(f"{where} is unreadable ({exc}); {remedy or 'not used'}") from None
    if info.step_id != step_id or info.key != key:
        where = f"the record of step {step_id!r} key {key!r} in store {store}"
        msg = f"{where} says it is step {info.step_id!r} key {info.key!r}; not used"
        raise RecordError(msg + (f" ({remedy})" if remedy else ""))
    return info


def examine(name: RecordName, data: bytes) -> ArtifactInfo | None:
    """The record in ``data``, found at ``name``, parsed and checked; None if it is not a
    valid record of that step id and key."""
    try:
        return record_at(name.step_id, name.key, data, "")
    except RecordError:
        return None


def tags_json(info: ArtifactInfo) -> str:
    return json.dumps(dict(info.tags), sort_keys=True)


def indexed_row(name: RecordName, token: Any, data: bytes) -> IndexedRecord:
    """What an index keeps of the record text ``data`` found at ``name`` (checked once)."""
    info = examine(name, data)
    if info is None:
        return IndexedRecord(name, token, False, 0.0, None, data)
    return IndexedRecord(name, token, True, info.created.timestamp(), tags_json(info), data, info)


Reader = Callable[[Sequence[str]], dict[str, "bytes | Exception"]]
"""Reads files by path, reporting each failure in place of its text (``Storage.read_many``)."""


Bar = Callable[[int], contextlib.AbstractContextManager[Any]]
"""Opens a progress bar for reading this many records (the store's, or none)."""


def no_bar(total: int) -> contextlib.AbstractContextManager[Any]:
    """No progress bar."""
    return contextlib.nullcontext()


def pack_checked(info: ArtifactInfo) -> str:
    """The fields of a checked record but its step id, as a JSON array in field order.

    What an index keeps of a record it has parsed and checked: `unpack_checked` turns it
    back into an equal ArtifactInfo without parsing or checking the record again.
    """
    return json.dumps(
        [
            info.key, info.digest, info.size, info.serializer, info.python_type,
            info.created.isoformat(), info.mime_type, info.tags,
            [r.to_dict() for r in info.inputs], info.code_fingerprint, info.duration,
            info.args_repr, info.uri, info.recipe.to_dict() if info.recipe else None,
            info.payload_hash, info.signature, info.inline, info.compression, info.version,
            info.extra,
        ]
    )  # fmt: skip


def unpack_checked(step_id: str, packed: str, out: list[ArtifactInfo]) -> None:
    """Append to ``out`` the records of ``step_id`` in ``packed``: a JSON array of
    `pack_checked` forms (of records checked when they were packed), read as the
    columns they make (`unpack_columns`).

    Raises ValueError or TypeError if ``packed`` is not of that form.
    """
    rows = json.loads(packed)
    if type(rows) is not list or not all(type(row) is list for row in rows):
        raise ValueError("not rows of checked fields")
    if rows:
        unpack_columns(step_id, [list(column) for column in zip(*rows, strict=True)], out)


# Positions in a `pack_checked` array of the values a JSON form cannot hold as they are.
_CREATED, _TAGS, _INPUTS, _RECIPE, _VERSION, _EXTRA = 5, 7, 8, 13, 18, 19
_PACKED = [f for f in _info._FIELDS if f not in ("step_id", "status")]
_WIDTH = len(_PACKED)
assert _PACKED == [
    "key", "digest", "size", "serializer", "python_type", "created", "mime_type", "tags",
    "inputs", "code_fingerprint", "duration", "args_repr", "uri", "recipe", "payload_hash",
    "signature", "inline", "compression", "version", "extra",
], "ArtifactInfo's fields changed: pack_checked and unpack_columns follow their order"  # fmt: skip
assert [_PACKED[i] for i in (_CREATED, _TAGS, _INPUTS, _RECIPE, _VERSION, _EXTRA)] == [
    "created", "tags", "inputs", "recipe", "version", "extra"
]  # fmt: skip
_SAME_EMPTY: dict[int, Any] = {_TAGS: {}, _INPUTS: [], _EXTRA: {}}


def _shareable(i: int, value: Any) -> bool:
    """Whether field ``i`` of every record of a listing may be held as this one value:
    text, an integer, a boolean or null (not a float: 0.0 and -0.0 are equal, but each
    record's own is what its text and signature hold); no recipe; empty tags, inputs
    or extra. Never the keys: a listing holds as many records as it names keys."""
    if i in _SAME_EMPTY:
        return value == _SAME_EMPTY[i] and type(value) is type(_SAME_EMPTY[i])
    if i == _RECIPE:
        return value is None
    if i in (_CREATED, _VERSION):
        return type(value) is str
    return i > 0 and type(value) in (str, int, bool, type(None))


def pack_columns(rows: Sequence[Sequence[Any]]) -> list[Any]:
    """The `pack_checked` arrays ``rows`` (of one step) as columns: one list per field,
    or ``{"=": value}`` where every record holds the same value that may be shared
    (`_shareable`). What a listing keeps per folder (`unpack_columns` reads it): each
    value shared by a step's records is read once.
    """
    out: list[Any] = []
    for i, column in enumerate(zip(*rows, strict=True)):
        first = column[0]
        if (
            _shareable(i, first)
            and column.count(first) == len(column)
            and len(set(map(type, column))) == 1
        ):
            out.append({"=": first})
        else:
            out.append(list(column))
    if len(out) != _WIDTH:
        raise ValueError(f"rows of {len(out)} values, not {_WIDTH}")
    return out


def unpack_columns(step_id: str, columns: Any, out: list[ArtifactInfo]) -> None:
    """Append to ``out`` the records of ``step_id`` in ``columns`` (`pack_columns`'s form,
    as JSON gives it back; of records checked when they were packed).

    As many records as keys; a value held for every record is one that may be shared
    (`_shareable`), and the records share it (empty tags and extra are one mapping,
    which cannot change). Raises ValueError or TypeError if ``columns`` is not of that
    form.
    """
    if type(columns) is not list or len(columns) != _WIDTH or type(columns[0]) is not list:
        raise ValueError("not the columns of a listing")
    n = len(columns[0])
    made: list[Any] = []
    for i, column in enumerate(columns):  # (per folder: kept short for small folders)
        kind = type(column)
        if kind is list:
            if len(column) != n:
                raise ValueError(f"column {i} holds {len(column)} values for {n} keys")
            convert = _CONVERT[i]
            made.append(column if convert is None else convert(column))
            continue
        if kind is not dict or len(column) != 1 or "=" not in column:
            raise ValueError(f"column {i} is neither values nor one value")
        value = column["="]
        if value is None and i in _NULLABLE:
            made.append(repeat(None, n))
            continue
        if not _shareable(i, value):
            raise TypeError(f"column {i} holds {value!r:.40} for every record")
        if i in _SAME_EMPTY:
            value = () if i == _INPUTS else EMPTY
        elif i == _CREATED:
            value = dt.datetime.fromisoformat(value)
        made.append(repeat(value, n))
    _build(step_id, zip(*made, strict=False), out.append)


def _versions(values: list[Any]) -> list[Any]:
    if not {*map(type, values)} <= {str}:
        raise TypeError("a version that is not text")
    return values


_CONVERT: list[Callable[[list[Any]], list[Any]] | None] = [None] * _WIDTH
"""How a listing's column of each field is made from what JSON holds (None: as it is)."""
_CONVERT[_CREATED] = lambda values: list(map(dt.datetime.fromisoformat, values))
_CONVERT[_INPUTS] = lambda values: [tuple(map(_ref, refs)) if refs else () for refs in values]
_CONVERT[_TAGS] = _CONVERT[_EXTRA] = lambda values: list(map(_read_only, values))
_CONVERT[_RECIPE] = lambda values: [None if r is None else KeyRecipe.from_dict(r) for r in values]
_CONVERT[_VERSION] = _versions
_NULLABLE = frozenset(i for i in range(_WIDTH) if _shareable(i, None))
"""The fields a listing may hold as one null for every record."""
