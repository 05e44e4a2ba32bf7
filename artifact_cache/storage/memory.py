"""``memory://`` stores: an index of one store's files, beside fsspec's process-wide dict."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from .gclock import MemoryLock
from .index import MemoryRecords

__all__ = ["MemoryIndex", "dt_now", "memory_index"]


class MemoryIndex:
    """The files of one ``memory://`` store: folder -> names, under a lock.

    fsspec's MemoryFileSystem keeps every file of every memory store in one dict and
    answers ``ls``/``find``/``info``, and even a write (which checks the parents), by
    scanning all of it, which also fails when another thread adds a file meanwhile.
    Stores in one process on one root share one index; files are still fsspec's
    ``MemoryFile`` objects in fsspec's dict, so fsspec can read them.
    """

    def __init__(self, files: dict[str, Any], prefix: str) -> None:
        self.records = MemoryRecords()
        """What each record file of the store held when it was last examined."""
        self.lock = threading.Lock()
        self.gc_lock = MemoryLock()
        """The store's gc lock (see `gclock`): one per root, as this index."""
        self.folders: dict[str, set[str]] = {}
        while True:
            try:
                paths = [p for p in list(files) if p.startswith(prefix)]
                break
            except RuntimeError:  # another thread added a file while we copied the keys
                continue
        for path in paths:
            self.add(path)

    def add(self, path: str) -> None:
        folder, _, name = path.rpartition("/")
        with self.lock:
            self.folders.setdefault(folder, set()).add(name)

    def discard(self, path: str) -> None:
        folder, _, name = path.rpartition("/")
        with self.lock:
            names = self.folders.get(folder)
            if names is not None:
                names.discard(name)
                if not names:
                    del self.folders[folder]

    def files_in(self, folder: str) -> list[str]:
        with self.lock:
            return [f"{folder}/{n}" for n in self.folders.get(folder, ())]

    def find(self, base: str) -> list[str]:
        start = base + "/"
        with self.lock:
            return [
                f"{folder}/{n}"
                for folder, names in self.folders.items()
                if folder == base or folder.startswith(start)
                for n in names
            ]


_memory_lock = threading.Lock()
_memory_indexes: dict[tuple[int, str], MemoryIndex] = {}


def memory_index(files: dict[str, Any], prefix: str) -> MemoryIndex:
    with _memory_lock:
        index = _memory_indexes.get((id(files), prefix))
        if index is None:
            index = _memory_indexes[(id(files), prefix)] = MemoryIndex(files, prefix)
        return index


def dt_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
