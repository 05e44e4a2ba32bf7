"""Local disks: writes through a temporary name and a rename, walks that tolerate removals."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

from .. import progress
from .entries import FileEntry

__all__ = ["read_small", "temporary_name", "walk_entries", "walk_paths", "write_file"]

_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_O_NEW |= getattr(os, "O_BINARY", 0)
_FIRST_READ = 64 * 2**10
_SMALL_WRITE = 2**20
"""Writes up to this size go through ``os.write`` (no file object, no progress slices)."""

_TOKEN = os.urandom(8).hex()
_counter = itertools.count()


def temporary_name(tmp_prefix: str) -> str:
    """A name no other writer uses: this process's id, a random token, a counter."""
    return f"{tmp_prefix}{os.getpid()}-{_TOKEN}-{next(_counter)}"


def write_file(path: str, chunks: Sequence[bytes | bytearray | memoryview]) -> None:
    """Create ``path`` (which must not exist) holding the concatenation of ``chunks``."""
    size = sum(memoryview(c).nbytes for c in chunks)
    if size > _SMALL_WRITE:
        with open(path, "xb") as f:
            progress.write_chunks(f, chunks)
        return
    data = memoryview(chunks[0] if len(chunks) == 1 else b"".join(chunks)).cast("B")
    fd = os.open(path, _O_NEW, 0o666)
    try:
        written = os.write(fd, data)
        while written < size:
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)
    progress.advance(size)


def read_small(path: str) -> bytes:
    """The whole of a small file (a record), in as few system calls as Python allows."""
    fd = os.open(path, _O_READ)
    try:
        first = os.read(fd, _FIRST_READ)
        if not first:
            return first
        more = os.read(fd, _FIRST_READ)  # the end, unless the first read came up short
        if not more:
            return first
        parts = [first, more]
        while chunk := os.read(fd, 2**20):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


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
