"""The storage layer: the store's layout on any fsspec filesystem, and its atomic writes.

This is the only module that imports fsspec. It knows paths, bytes and records' text; it
knows nothing of objects or serializers. Layout (documented in docs/format.md)::

    <root>/STORE.json                   format marker and version
    <root>/objects/ab/abcdef...         payloads, named by their digest
    <root>/refs/<step_id>/@<key>.json   one record per artifact

Every file becomes visible atomically: on local disks it is written under a temporary
name in the same folder and renamed; on object stores it is one PUT (or one completed
multipart upload), which is atomic there; on ``memory://`` the file is set in one step.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import mmap
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import fsspec
from fsspec.implementations.cached import CachingFileSystem
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from . import progress
from .errors import (
    ArtifactStoreError,
    MissingDependencyError,
    StoreFormatError,
    UnknownSchemeError,
    install_hint,
)

__all__ = ["FORMAT_VERSION", "TMP_PREFIX", "Storage"]

FORMAT_VERSION = 1
"""Version of the on-storage layout written by this release (see docs/format.md)."""

TMP_PREFIX = ".tmp-"
"""Prefix of the temporary names local writes go through before their rename."""

_RECORD_SUFFIX = ".json"
_CHUNK = 64 * 2**20
_MAP_FLAGS = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0) | getattr(mmap, "MAP_POPULATE", 0)
"""Linux maps the pages in one go (MAP_POPULATE) instead of one fault per page during the read."""
_SMALL = 16 * 2**20
"""Payloads up to this size are read with one ``cat_file`` (one GET on object stores)."""
_BATCH = 256
"""Records fetched per request batch while a progress bar is open."""
_EXTRAS = {"s3": ("s3", "s3fs"), "s3a": ("s3", "s3fs")}
"""URL schemes whose backend one of the package's extras installs: (extra, package)."""


def _write_file(path: str, chunks: Sequence[bytes | bytearray | memoryview]) -> None:
    with open(path, "wb") as f:
        progress.write_chunks(f, chunks)


_REFUSED = {
    "reference": "a reference filesystem is a read-only view of other files: what is "
    "saved through it is lost; open the store at the URL of the files themselves",
}
"""Protocols a store cannot work on, anywhere in a chained URL, and why."""

_ARCHIVES = ("zip", "tar")
"""Protocols that read inside an archive: the archive is named after ``::``."""

_RENAMING = frozenset({"sftp", "ssh"})
"""Protocols with folders and an atomic rename: writes go to a temporary name first."""


def _check_url(url: str, storage_options: dict[str, Any]) -> None:
    """Refuse, in one line, a URL whose saves could not be read back."""
    layers = url.split("::")
    for layer in layers:
        protocol = fsspec.core.split_protocol(layer)[0]
        if protocol in _REFUSED:
            raise ArtifactStoreError(f"cannot open store {url}: {_REFUSED[protocol]}")
    protocol = fsspec.core.split_protocol(layers[0])[0]
    if protocol in _ARCHIVES and len(layers) == 1 and "fo" not in storage_options:
        msg = (
            f"cannot open store {url}: a {protocol}:// URL needs the archive after '::', "
            f"e.g. {protocol}://folder-in-archive::path/to/archive.{protocol}"
        )
        raise ArtifactStoreError(msg)


def _unwrap(fs: Any, path: str) -> tuple[Any, str, Any]:
    """(filesystem for records and writes, root path, filesystem for reading payloads).

    A ``dir::`` prefix filesystem is replaced by the one it wraps, at its folder (fsspec
    hands back the folder again as the path, which would double it). A caching layer
    (``simplecache::``, ``filecache::``, ``blockcache::``) serves payloads only: they are
    named by their digest and never change, while a record read through a cache could
    be stale.
    """
    if isinstance(fs, DirFileSystem):
        inner = fs.fs
        path = fs.path if path.rstrip("/") == str(fs.path).rstrip("/") else fs._join(path)
        return _unwrap(inner, str(path))
    if isinstance(fs, CachingFileSystem):
        target, root, _ = _unwrap(fs.fs, path)
        return target, root, fs
    return fs, path, fs


def _filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    _check_url(url, storage_options)
    try:
        fs, path = fsspec.core.url_to_fs(url, **storage_options)
        return fs, str(path)
    except ValueError as exc:
        if "not known" not in str(exc) and "not available" not in str(exc):
            raise ArtifactStoreError(f"cannot open store {url}: {exc}") from exc
        known = ", ".join(sorted(fsspec.available_protocols()))
        scheme = url.split("://", 1)[0]
        msg = f"cannot open store {url}: unknown URL scheme {scheme!r}; fsspec knows: {known}"
        raise UnknownSchemeError(msg) from exc
    except ImportError as exc:
        # fsspec's message names the package to install ("Install s3fs to access S3").
        msg = f"cannot open store {url}: {exc}"
        extra = _EXTRAS.get(url.split("://", 1)[0].lower())
        if extra is not None:
            msg = f"{msg}: {install_hint(*extra)}"
        raise MissingDependencyError(msg, name=extra[1] if extra else None) from exc
    except Exception as exc:
        # Filesystems that connect when created (sftp) fail here: refused, bad login, ...
        raise ArtifactStoreError(f"cannot open store {url}: {type(exc).__name__}: {exc}") from exc


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


class Storage:
    """Paths and atomic reads/writes of payloads and records under one root."""

    def __init__(self, url: str, storage_options: dict[str, Any]) -> None:
        self.fs, path, self._payload_fs = _unwrap(*_filesystem(url, storage_options))
        self._renaming = bool(set(_protocols(self.fs)) & _RENAMING)
        self.root = path.rstrip("/") or path
        # Every path is the prefix plus a relative name. At the root of a filesystem whose
        # paths have no leading "/" (zip://, a bucket-less root) the prefix is empty.
        self._prefix = f"{path.rstrip('/')}/" if path.strip("/") else path[:1]
        self.url = url
        self.is_local = isinstance(self.fs, LocalFileSystem)
        # fsspec's MemoryFileSystem answers info/exists/ls/find by scanning every file of
        # every memory:// store in the process; lookups go to its dict instead (reads and
        # writes still go through the filesystem).
        self._mem: dict[str, Any] | None = (
            self.fs.store if isinstance(self.fs, MemoryFileSystem) else None
        )
        self._format_checked = False

    # ----------------------------------------------------------------- paths
    def path(self, relative: str) -> str:
        """The full path of a name relative to the store's root (e.g. ``"objects"``)."""
        return f"{self._prefix}{relative}"

    def object_path(self, digest: str) -> str:
        return f"{self._prefix}objects/{digest[:2]}/{digest}"

    def record_dir(self, step_id: str) -> str:
        return f"{self._prefix}refs/{step_id}"

    def record_path(self, step_id: str, key: str) -> str:
        return f"{self._prefix}refs/{step_id}/@{key}{_RECORD_SUFFIX}"

    def uri(self, path: str) -> str:
        return str(self.fs.unstrip_protocol(path))

    @staticmethod
    def parse_record_path(path: str, refs_root: str) -> tuple[str, str] | None:
        """Split ``.../refs/<step_id>/@<key>.json`` into (step_id, key), else None."""
        rel = path[len(refs_root) + 1 :] if path.startswith(refs_root + "/") else None
        if not rel or not rel.endswith(_RECORD_SUFFIX):
            return None
        step_id, _, name = rel.rpartition("/")
        if not step_id or not name.startswith("@"):
            return None
        return step_id, name[1 : -len(_RECORD_SUFFIX)]

    def size(self, path: str) -> int:
        """Size of the file at ``path``; FileNotFoundError if there is none."""
        if self._mem is not None:
            found = self._mem.get(path)
            if found is None:
                raise FileNotFoundError(path)
            return int(found.size)
        return int(self.fs.size(path))

    def exists(self, path: str) -> bool:
        try:
            self.size(path)
        except FileNotFoundError:
            return False
        return True

    def _find(self, base: str, *, detail: bool = False) -> list[Any]:
        """Every file below ``base`` (one recursive listing; fresh, not from a cache)."""
        if self._mem is not None:
            start = base + "/"
            if not detail:
                return sorted(p for p in self._mem if p.startswith(start))
            return [
                {"name": p, "size": f.size, "created": f.created}
                for p, f in list(self._mem.items())
                if p.startswith(start)
            ]
        self.fs.invalidate_cache(base)
        try:
            found = self.fs.find(base, detail=detail)
        except FileNotFoundError:
            return []
        return list(found.values()) if detail else list(found)

    def _files_in(self, folder: str) -> list[str]:
        """The files directly inside ``folder``."""
        if self._mem is not None:
            start = folder + "/"
            return [p for p in self._mem if p.startswith(start) and "/" not in p[len(start) :]]
        self.fs.invalidate_cache(folder)
        try:
            names = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return []
        return [self.fs._strip_protocol(n) for n in names]

    # ----------------------------------------------------------------- format
    def check_format(self) -> None:
        """Refuse a store written in a newer format; run once per Storage."""
        if self._format_checked:
            return
        try:
            marker = json.loads(self.fs.cat_file(f"{self._prefix}STORE.json"))
        except FileNotFoundError:
            marker = None
            self._check_bucket()
        if marker is not None:
            version = marker.get("version") if isinstance(marker, dict) else None
            if not isinstance(version, int) or version > FORMAT_VERSION:
                msg = (
                    f"store {self.url} has format version {version!r}, newer than this "
                    f"artifact_cache reads ({FORMAT_VERSION}); upgrade artifact_cache"
                )
                raise StoreFormatError(msg)
        self._format_checked = True

    def _check_bucket(self) -> None:
        """On object stores, a missing bucket is an error, not an empty store."""
        split = getattr(self.fs, "split_path", None)
        if split is None:
            return
        bucket = split(self.root)[0]
        if bucket and not self.fs.exists(bucket):
            msg = (
                f"store {self.url}: bucket {bucket!r} does not exist (or these credentials "
                "cannot see it); create it first"
            )
            raise ArtifactStoreError(msg)

    def ensure_marker(self) -> None:
        """Write STORE.json if it is missing (called before the first write)."""
        path = f"{self._prefix}STORE.json"
        if self.exists(path):
            return
        text = json.dumps({"format": "artifact_cache", "version": FORMAT_VERSION})
        self._put(path, [text.encode()], len(text))

    # ----------------------------------------------------------------- writes
    def _put(self, path: str, chunks: Sequence[bytes | bytearray | memoryview], size: int) -> None:
        """Make ``path`` hold the concatenation of ``chunks``, visible all at once."""
        if self.is_local:
            folder = path.rsplit("/", 1)[0]
            os.makedirs(folder, exist_ok=True)
            tmp = f"{folder}/{TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                _write_file(tmp, chunks)
                os.replace(tmp, path)
            except BaseException:
                # A KeyboardInterrupt mid-write must not leave the temporary behind either.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        else:
            try:
                self._put_remote(path, chunks, size)
            except FileNotFoundError:
                # Filesystems with real folders (sftp, ftp, ...) need the parents first;
                # object stores have none, and there a missing bucket is not to be created.
                if hasattr(self.fs, "split_path"):
                    raise
                self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                self._put_remote(path, chunks, size)

    def _put_remote(
        self, path: str, chunks: Sequence[bytes | bytearray | memoryview], size: int
    ) -> None:
        if self._renaming:
            # Written under a temporary name beside the target, then renamed over it.
            tmp = f"{path.rsplit('/', 1)[0]}/{TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                with self.fs.open(tmp, "wb") as f:
                    for chunk in chunks:
                        f.write(chunk)
                self.fs.mv(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    self.fs.rm_file(tmp)
                raise
        elif size < _SMALL or len(chunks) == 1:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self.fs.pipe_file(path, bytes(data) if isinstance(data, memoryview) else data)
            progress.advance(size)
        else:
            # Object stores: a multipart upload becomes visible only when completed.
            with self.fs.open(path, "wb") as f:
                progress.write_chunks(f, chunks)

    def has_object(self, digest: str, size: int) -> bool:
        """True if the payload is stored whole (a short file from a crash does not count)."""
        try:
            return self.size(self.object_path(digest)) == size
        except FileNotFoundError:
            return False

    def put_object(
        self, digest: str, chunks: Sequence[bytes | bytearray | memoryview], size: int
    ) -> None:
        self._put(self.object_path(digest), chunks, size)

    def publish_object(
        self,
        chunks: Sequence[bytes | bytearray | memoryview],
        size: int,
        digest_of: Callable[[], str],
        *,
        reuse: Callable[[str], bool],
    ) -> tuple[str, bool]:
        """Store a payload under its digest unless ``reuse(digest)`` and it is there whole.

        Returns the digest and whether an existing payload was re-used (its age is
        renewed where that is cheap, so that ``gc``'s grace period counts from now).

        A large payload on a local disk is written to a temporary file while its digest
        is computed, and then renamed (or dropped, if an identical payload exists): the
        hash costs no extra time. Elsewhere the digest comes first, so that an existing
        payload is never uploaded again.
        """
        if not (self.is_local and size > _SMALL):
            digest = digest_of()
            if reuse(digest) and self.has_object(digest, size):
                self._renew(digest)
                return digest, True
            self.put_object(digest, chunks, size)
            return digest, False
        folder = self.path("objects")
        os.makedirs(folder, exist_ok=True)
        tmp = f"{folder}/{TMP_PREFIX}{uuid.uuid4().hex}"
        with ThreadPoolExecutor(1) as pool:
            # The writer thread reports to the caller's progress bar, if any.
            context = contextvars.copy_context()
            written = pool.submit(context.run, _write_file, tmp, chunks)
            try:
                digest = digest_of()
            finally:
                error = written.exception()
        try:
            if error is not None:
                raise error
            reused = reuse(digest) and self.has_object(digest, size)
            if reused:
                os.unlink(tmp)
                self._renew(digest)
            else:
                final = self.object_path(digest)
                os.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return digest, reused

    def _renew(self, digest: str) -> None:
        if self.is_local:
            with contextlib.suppress(OSError):
                os.utime(self.object_path(digest))

    def put_record(self, step_id: str, key: str, text: str) -> None:
        data = text.encode()
        self._put(self.record_path(step_id, key), [data], len(data))

    # ----------------------------------------------------------------- reads
    def read_object(self, digest: str, size: int) -> memoryview:
        """Read a whole payload into one new writable buffer.

        Arrays unpickled from it wrap it without a copy. A payload longer than ``size``
        comes back ``size + 1`` bytes long, a shorter one short: the caller compares.
        """
        path = self.object_path(digest)
        if size <= _SMALL:
            if self._payload_fs is not self.fs:
                data = memoryview(bytearray(self._payload_fs.cat_file(path)))
            else:
                data = memoryview(bytearray(self._cat(path)))
            progress.advance(data.nbytes)
            return data
        # An anonymous map is not zero-filled up front as a bytearray is (that costs as
        # much as the read itself), and its pages go back to the OS when it is freed.
        view = memoryview(mmap.mmap(-1, size + 1, flags=_MAP_FLAGS))
        pos = 0
        with self._payload_fs.open(path, "rb", block_size=_CHUNK) as f:
            while pos <= size:
                n = f.readinto(view[pos : pos + _CHUNK])
                if not n:
                    break
                pos += n
                progress.advance(n)
        return view[:pos]

    def open_object(self, digest: str) -> IO[bytes]:
        return self._payload_fs.open(self.object_path(digest), "rb")  # type: ignore[no-any-return]

    def sign_object(self, digest: str, expires: int) -> str:
        path = self.object_path(digest)
        if self.is_local:
            if not os.path.exists(path):
                raise FileNotFoundError(path)
            return self.uri(path)
        return str(self.fs.sign(path, expiration=expires))

    def _cat(self, path: str) -> bytes:
        if self.is_local:
            # The hit path of a memoised call reads two small files; fsspec's local
            # cat_file costs more than the read itself.
            with open(path, "rb") as f:
                return f.read()
        return bytes(self.fs.cat_file(path))

    def read_record(self, step_id: str, key: str) -> bytes:
        return self._cat(self.record_path(step_id, key))

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | Exception]:
        """Fetch many small files at once (concurrently on async filesystems like s3fs)."""
        if not progress.active():
            return self._read_many(paths)
        # In batches, so that a progress bar moves while a long listing is read.
        out: dict[str, bytes | Exception] = {}
        for start in range(0, len(paths), _BATCH):
            batch = paths[start : start + _BATCH]
            out.update(self._read_many(batch))
            progress.advance(len(batch))
        return out

    def _read_many(self, paths: Sequence[str]) -> dict[str, bytes | Exception]:
        if not paths:
            return {}
        if len(paths) == 1:
            try:
                return {paths[0]: self.fs.cat_file(paths[0])}
            except FileNotFoundError as exc:
                return {paths[0]: exc}
        out = self.fs.cat(list(paths), on_error="return")
        return {self.fs._strip_protocol(k): v for k, v in out.items()}

    # ----------------------------------------------------------------- listing
    def record_paths(self, prefix: str = "") -> list[str]:
        """Paths of every record under ``refs/<prefix>`` (one recursive listing)."""
        refs = f"{self._prefix}refs"
        base = refs if not prefix else f"{refs}/{prefix.strip('/')}"
        return [p for p in self._find(base) if p.endswith(_RECORD_SUFFIX) and "/@" in p]

    def step_record_paths(self, step_id: str) -> list[str]:
        """Paths of the records of exactly one step id (not its children)."""
        return [
            p
            for p in self._files_in(self.record_dir(step_id))
            if p.rsplit("/", 1)[-1].startswith("@") and p.endswith(_RECORD_SUFFIX)
        ]

    def files(self, area: str) -> list[dict[str, Any]]:
        """Every file under ``objects/`` or ``refs/`` with its size and modification time."""
        return self._find(f"{self._prefix}{area}", detail=True)

    # ----------------------------------------------------------------- removal
    def remove(self, paths: Sequence[str]) -> None:
        if paths:
            self.fs.rm(list(paths))

    def remove_all(self) -> None:
        for sub in ("refs", "objects"):
            path = f"{self._prefix}{sub}"
            if self._mem is not None:
                # A recursive rm on memory:// re-lists the whole filesystem per file.
                self.remove(self._find(path))
                continue
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(path, recursive=True)
