"""An index of a store's records, so that listings and "newest of a step" read no record file.

Record files stay the source of truth; an index is a cache of them that any reader
brings up to date, and that nothing needs to write when saving:

* **Local stores** keep ``<root>/index.sqlite`` (SQLite in WAL mode; `sqlite_index`):
  per folder of ``refs/`` the modification time it had when it was indexed and the
  names of its sub-folders then, and per record the file's identity (inode, modification time,
  size), whether it is a valid record of its path and, if so, its fields as checked
  (its ``created`` time and tags too), else its text. Writing, replacing or removing a
  record renames or unlinks a file in its folder, which changes the folder's
  modification time. A lookup stats the folders it covers and re-reads only the
  folders that changed, and in them only the files whose identity changed; a folder
  whose time did not change has the same sub-folders, so a listing lists only the
  folders that changed. A folder modified less than `RACY_NS` before it was indexed is
  indexed again next time (a second write in the same clock tick would not change its
  time). So a record written by any process, one that never touches the index (an
  older release, a process killed between its two writes) included, appears at the
  next lookup; a missing, truncated or corrupt index, or one of another schema, is
  simply made again, and one that cannot be written (a read-only folder, a lock held
  too long) is not used at all. No writer holds a lock across machines: SQLite's own
  locks guard only the index file, on one machine.
* **memory://** stores keep the same facts per file in the process (`MemoryRecords`),
  keyed by fsspec's ``MemoryFile`` object, which every write replaces.
* **Object stores** (and sftp, ...) keep a compacted manifest plus the records written
  since: `manifest.ManifestIndex`, whose rows carry their texts.

The index vouches only for what it checked itself: a record is parsed and checked
(`ArtifactInfo.from_json`, and its step id and key against its path) when its file is
indexed, and a listing builds records from the fields kept then, without parsing them
again; an invalid record keeps its text, to be reported as before. ``get(step)`` reads
the chosen record's file once more (the same file that signature checks and loads use)
unless the lookup itself just read it, and signatures are checked where artifacts are
loaded, never by the index.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .layout import RecordName
from .rows import Bar, IndexedRecord, Reader, examine, indexed_row, no_bar
from .sqlite_index import INDEX_NAME, RACY_NS, LocalIndex

__all__ = [
    "INDEX_NAME",
    "RACY_NS",
    "IndexedRecord",
    "LocalIndex",
    "MemoryRecords",
    "examine",
    "indexed_row",
]


class MemoryRecords:
    """Per record path of one ``memory://`` store: the file object last examined, and
    what it held."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[Any, IndexedRecord]] = {}

    def lookup(
        self, found: Iterable[tuple[str, RecordName, Any]], read: Reader, bar: Bar | None = None
    ) -> list[IndexedRecord]:
        """Index entries of ``(path, name, file)``; files not seen before are read and examined.

        A record that cannot be read (other than gone) raises: it is not a deleted one.
        """
        out: list[IndexedRecord] = []
        missed: dict[str, tuple[RecordName, Any]] = {}
        with self._lock:
            for path, name, file in found:
                seen = self._seen.get(path)
                if seen is not None and seen[0] is file:
                    out.append(seen[1])
                else:
                    missed[path] = (name, file)
        if not missed:
            return out
        with (bar or no_bar)(len(missed)):
            texts = read(list(missed))
        for path, data in texts.items():
            if isinstance(data, FileNotFoundError):
                continue
            if isinstance(data, Exception):
                raise data
            name, file = missed[path]
            entry = indexed_row(name, file, data)
            with self._lock:
                if len(self._seen) > 1_000_000:
                    self._seen.clear()
                self._seen[path] = (file, entry)
            out.append(entry)
        return out
