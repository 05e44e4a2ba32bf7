"""Local disks: writes through a temporary name and a rename, walks that tolerate removals."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .. import progress
from .entries import FileEntry

__all__ = ["walk_entries", "walk_paths", "write_file"]


def write_file(path: str, chunks: Sequence[bytes | bytearray | memoryview]) -> None:
    with open(path, "wb") as f:
        progress.write_chunks(f, chunks)


def walk_paths(base: str) -> list[str]:
    """Paths of the files below a local folder, sorted; a folder removed meanwhile is skipped."""
    return sorted(f"{folder}/{name}" for folder, _dirs, names in os.walk(base) for name in names)


def walk_entries(base: str) -> list[FileEntry]:
    """The files below a local folder with their sizes and times; none removed meanwhile."""
    out: list[FileEntry] = []
    for folder, _dirs, names in os.walk(base):
        for name in names:
            path = f"{folder}/{name}"
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            out.append(FileEntry(path, st.st_size, st.st_mtime))
    return out
