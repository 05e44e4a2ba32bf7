"""Typed listing entries: what every backend's listing of a file comes down to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["FileEntry", "entry_mtime"]


@attrs.frozen
class FileEntry:
    """One file found by a listing: its full path, base name, size and modification time.

    ``etag``: the version tag the listing gives (object stores' ETag), else None.
    """

    path: str
    size: int
    mtime: float
    etag: str | None = None

    @property
    def name(self) -> str:
        """The file's base name (a digest, a record's ``@key.json``, a temporary's name)."""
        return self.path.rsplit("/", 1)[-1]

    @classmethod
    def from_fsspec(cls, entry: Mapping[str, Any]) -> FileEntry:
        """From an fsspec ``find``/``ls`` detail dict, whatever the backend's field names."""
        etag = entry.get("ETag", entry.get("etag"))
        return cls(
            str(entry["name"]),
            int(entry.get("size") or 0),
            entry_mtime(entry),
            str(etag) if etag is not None else None,
        )


def entry_mtime(entry: Mapping[str, Any]) -> float:
    """Modification time of an fsspec listing entry as seconds since the epoch."""
    for field in ("mtime", "LastModified", "created", "last_modified"):
        value = entry.get(field)
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
        if isinstance(value, int | float):
            return float(value)
    return 0.0
