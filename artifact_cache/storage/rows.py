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
from typing import Any

import attrs

from .. import info as _info
from ..errors import RecordError
from ..fingerprint.recipe import KeyRecipe
from ..info import ArtifactInfo, _frozen, _ref, _Unfrozen, checked_record
from .layout import RecordName

__all__ = [
    "Bar",
    "IndexedRecord",
    "Reader",
    "examine",
    "indexed_row",
    "no_bar",
    "pack_checked",
    "record_at",
    "tags_json",
    "unpack_checked",
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
    shared: bool = False,
) -> ArtifactInfo:
    """The record in ``data``, found at ``refs/<step_id>/@<key>.json`` of ``store``,
    parsed and checked: every reader of a record file checks it this way.

    ``remedy``: what the errors tell the reader to do (else: "not used"). ``shared``:
    the instance shared by every reader of the same bytes in this process
    (`checked_record`), for callers that never hand it out; else a copy of its own.

    Raises:
        RecordError: the record is not of the documented form, or names another step id
            or key than where it lives; it is never used.
    """
    try:
        info = checked_record(data) if shared else ArtifactInfo.from_json(data)
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
    `pack_checked` forms (of records checked when they were packed).

    Raises ValueError or TypeError if ``packed`` is not of that form.
    """
    # The arrays are in `_Unfrozen`'s order: one call each, then the values that a JSON
    # form cannot hold are made.
    fromisoformat, append, unfrozen, swap = (
        dt.datetime.fromisoformat,
        out.append,
        _Unfrozen,
        _info._SWAP,
    )
    for row in json.loads(packed):
        info = unfrozen(step_id, *row)
        info.created = fromisoformat(info.created)  # type: ignore[arg-type]
        info.inputs = tuple(map(_ref, info.inputs)) if info.inputs else ()
        if info.recipe is not None:
            info.recipe = KeyRecipe.from_dict(info.recipe)  # type: ignore[arg-type]
        if not isinstance(info.version, str):
            raise TypeError(f"version {info.version!r:.40} is not text")
        if swap:
            info.__class__ = ArtifactInfo  # type: ignore[assignment]
            append(info)  # type: ignore[arg-type]
        else:
            append(_frozen(info))
