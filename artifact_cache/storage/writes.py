"""Atomic writes: every file a store writes becomes visible whole, or not at all.

On local disks a file is written under a temporary name in its folder and renamed over
the target (a folder removed meanwhile by a concurrent ``clear`` is made again); a
second name for the same bytes is a hard link to the temporary. On filesystems with
folders and an atomic rename (sftp) the same, through fsspec. On object stores it is
one PUT, or one multipart upload, which becomes visible only when completed.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import progress
from .layout import TMP_PREFIX
from .local import temporary_name, write_file

__all__ = ["SMALL_PUT", "publish_local", "put_local", "put_local_if_absent", "put_remote"]

Chunks = Sequence[bytes | bytearray | memoryview]

SMALL_PUT = 16 * 2**20
"""Files up to this size go to an object store in one ``pipe_file`` (one PUT)."""

_ATTEMPTS = 20
"""Times a local write makes its folder again when a concurrent ``clear`` removed it."""


def put_local(
    path: str,
    chunks: Chunks,
    *,
    first: str | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Make the local file ``path`` hold the concatenation of ``chunks``, all at once.

    ``first``: another path given the same bytes before ``path`` is written, as a hard
    link to the temporary file that then becomes ``path`` (a copy where the filesystem
    has no links). ``ready``: called just before the rename that makes ``path``
    appear (a save takes its store's gc lock there: not while it writes).
    """

    def place(tmp: str) -> bool:
        if first is not None:
            _link_or_copy(tmp, first, chunks)
        if ready is not None:
            ready()
        os.replace(tmp, path)
        return True

    _write_then(path, chunks, place)


def put_local_if_absent(path: str, data: bytes) -> bool:
    """Make the local file ``path`` hold ``data`` unless a file is there already; True if
    this call made it.

    Never over an existing file, even one written at the same moment: the complete
    temporary file is hard-linked to ``path``, which fails if the name is taken. Where
    hard links are refused it looks, then renames.
    """
    if os.path.exists(path):
        return False

    def place(tmp: str) -> bool:
        try:
            try:
                os.link(tmp, path)
            except FileExistsError:  # taken meanwhile
                return False
            except FileNotFoundError:
                raise
            except OSError:  # no hard links here
                if os.path.exists(path):
                    return False
                os.replace(tmp, path)
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)  # (linked, or not used)

    return _write_then(path, [data], place)


def _write_then(path: str, chunks: Chunks, place: Callable[[str], bool]) -> bool:
    """Write ``chunks`` to a temporary file beside ``path``, then ``place(tmp)``, which
    makes ``path`` from it; what ``place`` returns. A temporary that fails is removed."""
    folder = path.rsplit("/", 1)[0]
    for attempt in range(_ATTEMPTS):
        tmp = f"{folder}/{temporary_name(TMP_PREFIX)}"
        try:
            if attempt:  # (the folder is made only when it is missing)
                os.makedirs(folder, exist_ok=True)
            write_file(tmp, chunks)
            return place(tmp)
        except BaseException as exc:
            # A KeyboardInterrupt mid-write must not leave the temporary behind either.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            # No folder yet, or a concurrent clear removed the (empty) folder, perhaps
            # while makedirs made it (which then reports it as existing but not a
            # folder): again.
            if isinstance(exc, FileNotFoundError | FileExistsError) and attempt < _ATTEMPTS - 1:
                continue
            raise
    raise AssertionError("unreachable: the last attempt raises")


def _link_or_copy(tmp: str, target: str, chunks: Chunks) -> None:
    """Give ``target`` the (complete) file ``tmp`` as a hard link, else as a copy."""
    for attempt in range(_ATTEMPTS):
        try:
            if attempt:  # (the folder is made only when it is missing)
                os.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            os.link(tmp, target)
            return
        except FileExistsError:
            if os.path.isfile(target):
                return  # an earlier attempt of this very write made it
            if attempt == _ATTEMPTS - 1:
                raise
        except FileNotFoundError:
            # A concurrent clear removed the new folder: again (unless ours is gone).
            if attempt == _ATTEMPTS - 1 or not os.path.exists(tmp):
                raise
        except OSError:
            break  # no hard links here (EPERM, EXDEV, ENOTSUP, ...)
    put_local(target, chunks)


def put_remote(fs: Any, path: str, chunks: Chunks, size: int, *, renaming: bool) -> None:
    """Make ``path`` on ``fs`` (not local, not memory) hold ``chunks``, all at once.

    ``renaming``: ``fs`` has folders and an atomic rename (sftp): written under a
    temporary name beside the target first.
    """
    try:
        _put_remote(fs, path, chunks, size, renaming)
    except FileNotFoundError:
        # Filesystems with real folders (sftp, ftp, ...) need the parents first;
        # object stores have none, and there a missing bucket is not to be created.
        if hasattr(fs, "split_path"):
            raise
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        _put_remote(fs, path, chunks, size, renaming)


def _put_remote(fs: Any, path: str, chunks: Chunks, size: int, renaming: bool) -> None:
    if renaming:
        # Written under a temporary name beside the target, then renamed over it.
        tmp = f"{path.rsplit('/', 1)[0]}/{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            with fs.open(tmp, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
            fs.mv(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                fs.rm_file(tmp)
            raise
    elif size < SMALL_PUT or len(chunks) == 1:
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        fs.pipe_file(path, bytes(data) if isinstance(data, memoryview) else data)
        progress.advance(size)
    else:
        # Object stores: a multipart upload becomes visible only when completed.
        with fs.open(path, "wb") as f:
            progress.write_chunks(f, chunks)


def publish_local(
    folder: str,
    chunks: Chunks,
    digest_of: Callable[[], str],
    path_of: Callable[[str], str],
    ready: Callable[[], None] | None = None,
) -> str:
    """Write a large payload into ``folder`` while its digest is computed, then rename it
    to ``path_of(digest)`` (over any existing copy); returns the digest. ``ready``:
    called just before the rename.

    The write runs in a thread (reporting to the caller's progress bar, if any), so the
    hash costs no extra time.
    """
    os.makedirs(folder, exist_ok=True)
    tmp = f"{folder}/{TMP_PREFIX}{uuid.uuid4().hex}"
    with ThreadPoolExecutor(1) as pool:
        # The writer thread reports to the caller's progress bar, if any.
        context = contextvars.copy_context()
        written = pool.submit(context.run, write_file, tmp, chunks)
        try:
            digest = digest_of()
        finally:
            error = written.exception()
    try:
        if error is not None:
            raise error
        final = path_of(digest)
        if ready is not None:
            ready()
        for attempt in range(_ATTEMPTS):
            try:
                os.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                os.replace(tmp, final)
                break
            except (FileNotFoundError, FileExistsError):
                # A concurrent clear removed the empty folder; our temporary is kept.
                if attempt == _ATTEMPTS - 1 or not os.path.exists(tmp):
                    raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return digest
