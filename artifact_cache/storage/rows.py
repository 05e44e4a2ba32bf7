"""What a record index keeps of one record file (`IndexedRecord`), shared by every index.

A record's text is parsed and checked once, when an index first reads its file
(`examine`); `indexed_row` is what any index keeps of it then. See `index` for the
indexes themselves.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..errors import RecordError
from ..info import ArtifactInfo
from .layout import RecordName

__all__ = ["Bar", "IndexedRecord", "Reader", "examine", "indexed_row", "no_bar", "tags_json"]


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


def examine(name: RecordName, data: bytes) -> ArtifactInfo | None:
    """The record in ``data``, found at ``name``, parsed and checked; None if it is not a
    valid record of that step id and key."""
    try:
        info = ArtifactInfo.from_json(data)
    except RecordError:
        return None
    if (info.step_id, info.key) != (name.step_id, name.key):
        return None
    return info


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
