"""Reading large payloads: into fresh memory that is not zeroed first, hashed as it lands.

A payload over the small-read size is read in chunks into an anonymous map (or mapped
from its file, on request): arrays unpickled from it wrap it without a copy. With a
hasher, the reads run in a thread and each chunk is hashed as soon as it has landed.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from .. import progress

__all__ = ["SizeMismatch", "map_file", "read_chunks", "read_large"]

_CHUNK = 64 * 2**20
"""Block size of a large read through fsspec (one request per block on object stores)."""


class SizeMismatch(Exception):
    """A payload's stored size differs from its record's (raised before reading it)."""

    def __init__(self, actual: int) -> None:
        super().__init__(actual)
        self.actual = actual


_READ_CHUNK = 16 * 2**20
"""Bytes read per call while a payload is hashed as it lands: small enough that the hash
of one chunk overlaps the read of the next, large enough to cost few system calls."""

_HASH_SLICE = 4 * 2**20
"""xxhash keeps the GIL while it runs: slices let the reading thread start its next read."""

_MADV_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", None)


def _anonymous_buffer(size: int) -> memoryview:
    """A new writable buffer of ``size`` bytes that is not zero-filled up front.

    An anonymous map costs nothing until its pages are written (a bytearray is zeroed
    first, which costs as much as the read), and its pages go back to the OS when it is
    freed. Transparent huge pages, where the kernel offers them on request, make the
    first write to each 2 MiB one fault instead of 512 (as numpy asks for its arrays).
    Pages are not populated up front (``MAP_POPULATE``): that zeroes every page before
    the read writes it again, measured slower than faulting them in during the read.
    """
    flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0)
    buffer = mmap.mmap(-1, size, flags=flags)
    if _MADV_HUGEPAGE is not None:
        with contextlib.suppress(OSError):
            buffer.madvise(_MADV_HUGEPAGE)
    return memoryview(buffer)


def _hash_into(hasher: Any, view: memoryview) -> None:
    for start in range(0, view.nbytes, _HASH_SLICE):
        hasher.update(view[start : start + _HASH_SLICE])


def read_chunks(
    readinto: Callable[[memoryview], int | None], view: memoryview, size: int, hasher: Any
) -> int:
    """Fill ``view`` (``size + 1`` bytes) from ``readinto``; return the bytes read.

    With a ``hasher``, the reads run in a thread (``readinto`` releases the GIL) and
    this thread hashes each chunk as soon as it has landed, so the digest is ready when
    the last chunk is. Progress is reported from the calling thread, whose bar it is.
    """
    if hasher is None:
        pos = 0
        while pos <= size:
            n = readinto(view[pos : pos + _READ_CHUNK])
            if not n:
                break
            pos += n
            progress.advance(n)
        return pos
    landed: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()

    def reader() -> None:
        pos = 0
        try:
            while pos <= size and not stop.is_set():
                n = readinto(view[pos : pos + _READ_CHUNK])
                if not n:
                    break
                pos += n
                landed.put(pos)
        except BaseException as exc:  # handed to the caller's thread
            landed.put(exc)
        finally:
            landed.put(None)

    thread = threading.Thread(target=reader, name="artifact-cache-read", daemon=True)
    thread.start()
    hashed = 0
    try:
        while True:
            item = landed.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            _hash_into(hasher, view[hashed:item])
            progress.advance(item - hashed)
            hashed = item
    finally:
        stop.set()
        thread.join()
    return hashed


_MAP_ACCESS = {"r": mmap.ACCESS_READ, "c": mmap.ACCESS_COPY}


def map_file(path: str, size: int, mode: str, hasher: Any) -> memoryview:
    """The payload file mapped into memory (``"r"`` read-only, ``"c"`` copy-on-write).

    Its size is checked before it is mapped; with a ``hasher`` the whole map is hashed,
    which reads the file once into the page cache.
    """
    access = _MAP_ACCESS.get(mode)
    if access is None:
        raise ValueError(f"mmap_mode must be 'r' or 'c', not {mode!r}")
    with open(path, "rb") as f:
        actual = os.fstat(f.fileno()).st_size
        if actual != size:
            raise SizeMismatch(actual)
        view = memoryview(mmap.mmap(f.fileno(), size, access=access))
    if hasher is not None:
        _hash_into(hasher, view)
    progress.advance(size)
    return view


def read_large(path: str, size: int, hasher: Any, fs: Any = None) -> memoryview:
    """A large payload read into a new buffer of ``size + 1`` bytes, cut to what was read.

    ``fs`` None: the local file itself, unbuffered: each chunk goes from the page cache
    straight into the buffer the arrays will use. Else read through ``fs`` in large
    blocks. With a ``hasher``, hashed as it lands (see `read_chunks`).
    """
    view = _anonymous_buffer(size + 1)
    if fs is None:
        with open(path, "rb", buffering=0) as raw:
            pos = read_chunks(raw.readinto, view, size, hasher)
    else:
        with fs.open(path, "rb", block_size=_CHUNK) as f:
            pos = read_chunks(f.readinto, view, size, hasher)
    return view[:pos]
