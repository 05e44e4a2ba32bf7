"""The generic fsspec backend: `Storage`, a store's files on any fsspec filesystem.

The storage package is the only part of the library that imports fsspec. It knows
paths, bytes and records' text; it knows nothing of objects or serializers. Where files
live is `layout`'s; what a listing entry is, `entries`'; local disks, ``memory://`` and
object stores each have their own module; `index` keeps an index of the records;
`filesystems` opens a store's filesystem, `writes` writes files, `buffers` reads large
payloads and `marker` keeps the format marker.

Every file becomes visible atomically: on local disks it is written under a temporary
name in the same folder and renamed; on object stores it is one PUT (or one completed
multipart upload), which is atomic there (see `writes`); on ``memory://`` the file is
set in one step.

No answer comes from a listing cache: the store's filesystem is a private instance whose
fsspec listing cache (``dircache``) never keeps anything (see `filesystems`), so every
lookup sees what other processes wrote before it started. A ``memory://`` store keeps
its own index of its files under a lock instead of scanning fsspec's process-wide dict.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

from .. import progress
from ..info import ArtifactInfo
from .buffers import SizeMismatch, map_file, read_large
from .entries import FileEntry
from .filesystems import (
    RENAMING,
    check_bucket,
    open_filesystem,
    protocols,
    unwrap,
    without_listing_cache,
)
from .gclock import Hold, NoLock, Ready, file_lock
from .layout import TMP_PREFIX, Layout, RecordName, VersionName
from .local import read_small, walk_entries, walk_paths
from .manifest import ManifestIndex
from .marker import FORMAT_VERSION, MARKER, marker_text, read_marker
from .memory import dt_now, memory_index
from .rows import Bar, IndexedRecord
from .sqlite_index import LocalIndex
from .writes import publish_local, put_local, put_local_if_absent, put_remote

__all__ = ["FORMAT_VERSION", "SizeMismatch", "Storage"]

_SMALL = 16 * 2**20
"""Payloads up to this size are read with one ``cat_file`` (one GET on object stores)."""
_BATCH = 256
"""Records fetched per request batch while a progress bar is open."""

_YOUNG_TEMPORARY = 3600.0
"""``clear`` leaves temporaries younger than this alone: they belong to saves in flight."""


class Storage:
    """Paths and atomic reads/writes of payloads and records under one root."""

    def __init__(self, url: str, storage_options: dict[str, Any]) -> None:
        target, path, payload_fs = unwrap(*open_filesystem(url, storage_options))
        # Records and listings go to the filesystem under any dir:: or cache layer, in a
        # copy that caches no listing; only payloads (immutable) may come through a cache.
        fresh = bool(storage_options.get("skip_instance_cache"))
        self.fs = without_listing_cache(target, fresh=fresh)
        self._payload_fs = self.fs if payload_fs is target else payload_fs
        self._renaming = bool(set(protocols(self.fs)) & RENAMING)
        self.root = path.rstrip("/") or path
        # Every path is the prefix plus a relative name. At the root of a filesystem whose
        # paths have no leading "/" (zip://, a bucket-less root) the prefix is empty.
        self._prefix = f"{path.rstrip('/')}/" if path.strip("/") else path[:1]
        self.layout = Layout(self._prefix, url)
        self._url = url
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.remote = not self.is_local and not isinstance(self.fs, MemoryFileSystem)
        """Every check costs a request (object stores, sftp, ...)."""
        # fsspec's MemoryFileSystem answers info/exists/ls/find by scanning every file of
        # every memory:// store in the process: a memory store reads and writes fsspec's
        # dict directly and lists its own index.
        self._mem: dict[str, Any] | None = None
        if isinstance(self.fs, MemoryFileSystem):
            self._mem = self.fs.store
            self._index = memory_index(self.fs.store, self._prefix)
        self._gc_lock: NoLock = NoLock()
        if self._mem is not None:
            self._gc_lock = self._index.gc_lock
        elif self.is_local:
            self._gc_lock = file_lock(self.root)
        self._records_index = (
            LocalIndex(self.root, lambda paths: self.read_many(paths)) if self.is_local else None
        )
        self.read_only = False
        """Set by a read-only store: then nothing is written, not even the manifest."""
        self._manifest = (
            ManifestIndex(
                self.layout,
                find=lambda base: self._find(base, detail=True),
                ls=self._entries_in,
                read=lambda paths: self.read_many(paths),
                get=self._cat,
                put=lambda path, data: self._put(path, [data], len(data)),
                writable=lambda: not self.read_only,
            )
            if self.remote
            else None
        )
        self._format_checked = False
        self._marker_seen = False
        self._marker_version: Any = None
        # s3fs's cat_file asks for the size (a HEAD) before its GET unless told to read
        # in one request; a record or small payload is always read whole.
        self._get_kw: dict[str, Any] = {"max_concurrency": 1} if "s3" in protocols(self.fs) else {}

    # ----------------------------------------------------------------- paths
    @property
    def url(self) -> str:
        """The store's URL as its messages name it."""
        return self._url

    @url.setter
    def url(self, value: str) -> None:
        self._url = value
        self.layout = Layout(self._prefix, value)

    def path(self, relative: str) -> str:
        """The full path of a name relative to the store's root (e.g. ``"objects"``)."""
        return self.layout.path(relative)

    def object_path(self, digest: str) -> str:
        """The path of a payload; IntegrityError unless ``digest`` is a digest (never a path)."""
        return self.layout.object_path(digest)

    def record_dir(self, step_id: str) -> str:
        return self.layout.record_dir(step_id)

    def record_path(self, step_id: str, key: str) -> str:
        return self.layout.record_path(step_id, key)

    def uri(self, path: str) -> str:
        return str(self.fs.unstrip_protocol(path))

    def object_uri(self, digest: str) -> str:
        """The URL of a payload, as records name it."""
        return self.uri(self.object_path(digest))

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
            paths = sorted(self._index.find(base))
            if not detail:
                return paths
            found = ((p, self._mem.get(p)) for p in paths)
            return [
                FileEntry(p, int(f.size), f.modified.timestamp()) for p, f in found if f is not None
            ]
        if self.is_local:
            return walk_entries(base) if detail else walk_paths(base)
        self.fs.invalidate_cache(base)
        try:
            found = self.fs.find(base, detail=detail)
        except FileNotFoundError:
            return []
        return [FileEntry.from_fsspec(e) for e in found.values()] if detail else list(found)

    def _entries_in(self, folder: str) -> list[FileEntry]:
        """The files directly inside ``folder`` with their sizes, times and ETags (remote)."""
        self.fs.invalidate_cache(folder)
        try:
            found = self.fs.ls(folder, detail=True)
        except FileNotFoundError:
            return []
        strip = self.fs._strip_protocol
        return [
            FileEntry.from_fsspec({**e, "name": strip(e["name"])})
            for e in found
            if e.get("type") != "directory"
        ]

    def _files_in(self, folder: str) -> list[str]:
        """The files directly inside ``folder``."""
        if self._mem is not None:
            return self._index.files_in(folder)
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
        present, version = read_marker(
            self._cat,
            f"{self._prefix}{MARKER}",
            self.url,
            lambda: check_bucket(self.fs, self.root, self.url),
        )
        self._format_checked = True
        self._marker_seen = present
        self._marker_version = version

    def ensure_marker(self) -> None:
        """Write STORE.json if it is missing (called before the first write)."""
        path = f"{self._prefix}{MARKER}"
        if self._marker_seen:
            if self._marker_version == FORMAT_VERSION:
                return
        elif self.exists(path):
            return
        # Missing, or of an older version that does not know inline records: a reader of
        # that version would take an inline record for one whose payload file is lost.
        data = marker_text()
        self._put(path, [data], len(data))

    # ----------------------------------------------------------------- writes
    def _put(
        self,
        path: str,
        chunks: Sequence[bytes | bytearray | memoryview],
        size: int,
        *,
        first: str | None = None,
        ready: Ready | None = None,
    ) -> None:
        """Make ``path`` hold the concatenation of ``chunks``, visible all at once.

        ``first``: another path given the same bytes before ``path`` is written (a
        version record before its head). On a local disk it is a hard link to the
        temporary file that then becomes ``path``: one write of the data (a copy where
        the filesystem has no links). ``ready``: called just before ``path`` appears
        (after the bytes are written).
        """
        if first is not None and not self.is_local:
            self._put(first, chunks, size)
        if self.is_local:
            put_local(path, chunks, first=first, ready=ready)
            return
        if ready is not None:
            ready()
        if self._mem is not None:
            # One assignment into fsspec's dict, without its scans of every memory file.
            MemoryFile(self.fs, path, b"".join(chunks)).commit()
            self._index.add(path)
            progress.advance(size)
        else:
            put_remote(self.fs, path, chunks, size, renaming=self._renaming)

    def has_object(self, digest: str, size: int) -> bool:
        """True if the payload is stored whole (a short file from a crash does not count)."""
        try:
            return self.size(self.object_path(digest)) == size
        except FileNotFoundError:
            return False

    def put_object(
        self,
        digest: str,
        chunks: Sequence[bytes | bytearray | memoryview],
        size: int,
        *,
        ready: Ready | None = None,
    ) -> None:
        self._put(self.object_path(digest), chunks, size, ready=ready)

    def payload_hold(self) -> Hold:
        """A save's shared hold of the store's gc lock (see `gclock`), taken by its first
        ``take()`` (by `publish_object`, or before the record): ``with`` it around
        publishing the payload, writing the record and checking the payload is there."""
        return Hold(self._gc_lock)

    def removing_payloads(self) -> contextlib.AbstractContextManager[None]:
        """The store's gc lock, exclusive (see `gclock`): ``with`` it around the last
        read of the records and the removal of the payloads none names."""
        return self._gc_lock.exclusive()

    @property
    def payloads_locked(self) -> bool:
        """True if saves and removals of payloads exclude each other (`gclock`): local
        disks with ``flock`` and ``memory://``; not object stores."""
        return self._gc_lock.locks

    def current(self, entries: Sequence[FileEntry]) -> list[FileEntry]:
        """The files of ``entries`` that are still there, with their sizes and times now:
        one stat per file, or on object stores one listing per area (``objects``, ...)."""
        if self.remote:
            paths = {e.path for e in entries}
            areas = {e.path[len(self._prefix) :].split("/", 1)[0] for e in entries}
            return [f for area in sorted(areas) for f in self.files(area) if f.path in paths]
        out = []
        for entry in entries:
            if self._mem is not None:
                found = self._mem.get(entry.path)
                if found is not None:
                    out.append(FileEntry(entry.path, int(found.size), found.modified.timestamp()))
                continue
            try:
                st = os.stat(entry.path)
            except FileNotFoundError:
                continue
            out.append(FileEntry(entry.path, st.st_size, st.st_mtime))
        return out

    def _intact(self, digest: str, size: int, hash_of: Callable[..., str]) -> bool:
        """True if the stored payload has this size and its bytes hash to ``digest``.

        On object stores a payload up to 16 MiB counts as not intact without being read:
        uploading it again costs one PUT, as much as the GET that would check it.
        """
        if not (self.is_local or self._mem is not None) and size <= _SMALL:
            return False  # (without asking whether it is there: one request fewer)
        if not self.has_object(digest, size):
            return False
        try:
            data = self.read_object(digest, size)
        except (FileNotFoundError, SizeMismatch):
            return False
        return len(data) == size and hash_of(data) == digest

    def publish_object(
        self,
        chunks: Sequence[bytes | bytearray | memoryview],
        size: int,
        digest_of: Callable[[], str],
        *,
        reuse: Callable[[str], bool],
        hash_of: Callable[..., str],
        ready: Ready | None = None,
    ) -> tuple[str, bool]:
        """Store a payload under its digest unless an intact copy is there already.

        Returns the digest and whether an existing payload was re-used (its age is
        renewed where that is cheap, so that ``gc``'s grace period counts from now).

        An existing payload is re-used only if ``reuse(digest)`` and its bytes hash to its
        name (``hash_of``), so any writer repairs a damaged payload by saving the value
        again. Where checking costs as much as writing (small payloads on object stores,
        large ones on a local disk) the payload is simply written again.

        A large payload on a local disk is written to a temporary file while its digest
        is computed, and then renamed over any existing copy: the hash costs no extra
        time. Elsewhere the digest comes first.

        ``ready`` (a save's `Hold.take`) is called before an existing payload is looked
        at, or just before a new one appears under its name.
        """
        if not (self.is_local and size > _SMALL):
            digest = digest_of()
            if reuse(digest):
                if ready is not None:
                    ready()
                if self._intact(digest, size, hash_of):
                    self._renew(digest)
                    return digest, True
            self.put_object(digest, chunks, size, ready=ready)
            return digest, False
        folder = self.path("objects")  # clear() never removes this folder itself
        return publish_local(folder, chunks, digest_of, self.object_path, ready), False

    def _renew(self, digest: str) -> None:
        if self.is_local:
            with contextlib.suppress(OSError):
                os.utime(self.object_path(digest))
        elif self._mem is not None:
            found = self._mem.get(self.object_path(digest))
            if found is not None:
                found.modified = dt_now()

    def put_record(
        self, step_id: str, key: str, text: str | bytes, *, version: str | None = None
    ) -> None:
        """Write a record; with ``version``, its version record first (the same text)."""
        data = text.encode() if isinstance(text, str) else text
        first = None
        if version is not None:
            first = self.layout.version_path(VersionName(step_id, key, version))
        self._put(self.record_path(step_id, key), [data], len(data), first=first)

    def put_version(self, name: VersionName, text: str) -> None:
        """Write a version's record or tombstone (whole, in one step)."""
        data = text.encode()
        self._put(self.layout.version_path(name), [data], len(data))

    def _put_if_absent(self, path: str, data: bytes) -> bool:
        """Make ``path`` hold ``data`` unless a file is there already (never over one);
        True if this call wrote it.

        Atomic on a local disk (a hard link that fails if the name is taken), in
        ``memory://`` (one ``setdefault``) and on object stores that honour fsspec's
        ``mode="create"`` (after a look, a conditional PUT on S3). Other filesystems
        look, then write the usual way.
        """
        if self.is_local:
            return put_local_if_absent(path, data)
        if self._mem is not None:
            made = MemoryFile(self.fs, path, data)
            if self._mem.setdefault(path, made) is not made:
                return False
            self._index.add(path)
            return True
        try:
            # A look first (the usual answer on a second look: one GET, no upload, and
            # no listing that a HEAD answered "not found" adds on s3fs).
            self._cat(path)
            return False
        except FileNotFoundError:
            pass
        if self._renaming or not hasattr(self.fs, "split_path"):
            # Folders (sftp, ...): the look was all; the write is atomic by a rename.
            self._put(path, [data], len(data))
            return True
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        except TypeError:  # (a pipe_file that knows no mode: the look was all)
            self._put(path, [data], len(data))
        return True

    def put_record_if_absent(self, step_id: str, key: str, data: bytes) -> bool:
        """Write a record unless one is there (never over a newer save's); True if written."""
        return self._put_if_absent(self.record_path(step_id, key), data)

    def put_version_if_absent(self, name: VersionName, data: bytes) -> bool:
        """Write a version's record unless its file is there (version records never
        change); True if written."""
        return self._put_if_absent(self.layout.version_path(name), data)

    # ----------------------------------------------------------------- reads
    def read_object(
        self, digest: str, size: int, *, hasher: Any = None, mmap_mode: str | None = None
    ) -> memoryview:
        """Read a whole payload into one new buffer (writable unless ``mmap_mode="r"``).

        Arrays unpickled from it wrap it without a copy. A payload longer than ``size``
        comes back ``size + 1`` bytes long, a shorter one short: the caller compares.

        ``hasher`` (anything with ``update``) is fed every byte read, while the read goes
        on: a large payload is read in a thread and hashed chunk by chunk as it lands, so
        checking its digest costs almost no time after the read. ``mmap_mode`` (``"r"``
        or ``"c"``, local stores only; elsewhere ignored) maps the payload file instead
        of reading it: read-only, or copy-on-write.
        """
        path = self.object_path(digest)
        local = self.is_local and self._payload_fs is self.fs
        if mmap_mode is not None and local and size > 0:
            return map_file(path, size, mmap_mode, hasher)
        if size <= _SMALL:
            if self._payload_fs is not self.fs:
                data = memoryview(bytearray(self._payload_fs.cat_file(path)))
            else:
                data = memoryview(bytearray(self._cat(path)))
            if hasher is not None:
                hasher.update(data)
            progress.advance(data.nbytes)
            return data
        # A record may claim any size: never map more than the file holds.
        actual = self.size(path)
        if actual != size:
            raise SizeMismatch(actual)
        return read_large(path, size, hasher, None if local else self._payload_fs)

    def open_object(self, digest: str) -> IO[bytes]:
        path = self.object_path(digest)
        if self._mem is not None:
            # fsspec hands out the stored MemoryFile itself, whose position is shared.
            return io.BytesIO(self._cat(path))
        return self._payload_fs.open(path, "rb")  # type: ignore[no-any-return]

    def sign_object(self, digest: str, expires: int) -> str:
        path = self.object_path(digest)
        if self.is_local:
            if not os.path.exists(path):
                raise FileNotFoundError(path)
            return self.uri(path)
        return str(self.fs.sign(path, expiration=expires))

    def _cat(self, path: str) -> bytes:
        if self.is_local:
            # The hit path of a memoised call reads small files; fsspec's local cat_file
            # costs more than the read itself.
            return read_small(path)
        # (MemoryFileSystem.cat_file is a dict lookup: no scan of other memory stores.)
        return bytes(self.fs.cat_file(path, **self._get_kw))

    def read_record(self, step_id: str, key: str) -> bytes:
        return self._cat(self.layout.record_path(step_id, key))

    def read_records(self, names: Sequence[RecordName]) -> dict[RecordName, bytes | Exception]:
        """Fetch many records at once; a failure is reported per record, not raised."""
        paths = {self.layout.record_path(n.step_id, n.key): n for n in names}
        return {paths[p]: data for p, data in self.read_many(list(paths)).items() if p in paths}

    def read_versions(self, names: Sequence[VersionName]) -> dict[VersionName, bytes | Exception]:
        """Fetch version records and tombstones at once; failures reported per file."""
        paths = {self.layout.version_path(n): n for n in names}
        return {paths[p]: data for p, data in self.read_many(list(paths)).items() if p in paths}

    def has_record(self, step_id: str, key: str) -> bool:
        return self.exists(self.layout.record_path(step_id, key))

    def has_payload(self, digest: str) -> bool:
        """True if a file is stored under this digest (whatever its size)."""
        return self.exists(self.object_path(digest))

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
        if len(paths) == 1 or self._mem is not None or self.is_local:
            out: dict[str, bytes | Exception] = {}
            read = read_small if self.is_local else self._cat
            for path in paths:
                try:
                    out[path] = read(path)
                except Exception as exc:  # reported per file, as fsspec's cat does
                    out[path] = exc
            return out
        out = self.fs.cat(list(paths), on_error="return", **self._get_kw)
        return {self.fs._strip_protocol(k): v for k, v in out.items()}

    # ----------------------------------------------------------------- listing
    def record_names(self, folder: str = "") -> list[RecordName]:
        """Every record under ``refs/<folder>`` (one recursive listing)."""
        parse = self.layout.parse_record_path
        return [n for n in map(parse, self._find(self.layout.refs_folder(folder))) if n]

    def version_names(self, folder: str = "") -> list[VersionName]:
        """Every version record and tombstone under ``versions/<folder>`` (one listing)."""
        parse = self.layout.parse_version_path
        return [n for n in map(parse, self._find(self.layout.versions_folder(folder))) if n]

    def step_version_names(self, step_id: str, key: str | None = None) -> list[VersionName]:
        """The version files of exactly one step id (of one ``key``, or all its keys)."""
        parse = self.layout.parse_version_path
        found = map(parse, self._files_in(self.layout.versions_dir(step_id)))
        return [
            n
            for n in found
            if n is not None and n.step_id == step_id and (key is None or n.key == key)
        ]

    def step_record_names(self, step_id: str) -> list[RecordName]:
        """The records of exactly one step id (not its children)."""
        parse = self.layout.parse_record_path
        found = (parse(p) for p in self._files_in(self.record_dir(step_id)))
        return [n for n in found if n is not None and n.step_id == step_id]

    def indexed_records(
        self,
        folder: str = "",
        *,
        step_id: str | None = None,
        prefix: str = "",
        bar: Bar | None = None,
    ) -> list[IndexedRecord] | None:
        """Every record under ``refs/<folder>``, or of exactly ``step_id``, from the index.

        Up to date with the record files (see `index` and `manifest`); None where the
        index cannot be used now: then read the records themselves. ``prefix``: only
        records whose step id starts with it are needed (others may be left out where
        that saves reads; callers filter anyway).
        """
        if self._manifest is not None:
            return self._manifest.records(folder, step_id=step_id, prefix=prefix, bar=bar)
        if self._records_index is not None:
            return self._records_index.records(folder, step_id=step_id, bar=bar)
        if self._mem is None:
            return None
        if step_id is not None:
            paths = self._index.files_in(self.layout.record_dir(step_id))
        else:
            paths = self._index.find(self.layout.refs_folder(folder))
        found = []
        for path in paths:
            name = self.layout.parse_record_path(path)
            file = self._mem.get(path)
            if name and file is not None and (step_id is None or name.step_id == step_id):
                found.append((path, name, file))
        return self._index.records.lookup(found, self.read_many, bar)

    def indexed_listing(
        self, folder: str = "", *, step_id: str | None = None, bar: Bar | None = None
    ) -> tuple[list[ArtifactInfo], list[IndexedRecord]] | None:
        """The valid records under ``refs/<folder>`` (or of exactly ``step_id``), newest
        first, as a local store's index checked them, and the invalid ones (with their
        text); the same lists while nothing changed (never change them). None where there
        is no such index or it cannot be used now (see `indexed_records`)."""
        if self._records_index is None:
            return None
        return self._records_index.listing(folder, step_id=step_id, bar=bar)

    def newest_record(
        self, step_id: str
    ) -> tuple[IndexedRecord | None, list[IndexedRecord]] | None:
        """The newest valid record of a step and its invalid ones, from the index (see
        `indexed_records`); None where there is no index.

        The newest one carries its text only where that is what its file held when this
        lookup looked (remote stores: read by it; ``memory://``: the current file)."""
        if self._records_index is not None:
            return self._records_index.newest(step_id)
        if self._manifest is not None:
            return self._manifest.newest(step_id)
        rows = self.indexed_records(step_id=step_id)
        if rows is None:
            return None
        good = [r for r in rows if r.ok]
        newest = max(good, key=lambda r: r.created) if good else None
        return newest, [r for r in rows if not r.ok]

    def indexed_text(self, names: Sequence[RecordName]) -> dict[RecordName, bytes | Exception]:
        """The text of records as their index last read it (else read from their files)."""
        if self._records_index is None:
            return self.read_records(names)
        out: dict[RecordName, bytes | Exception] = dict(self._records_index.data(names))
        missing = [n for n in names if n not in out]
        if missing:
            out.update(self.read_records(missing))
        return out

    def files(self, area: str) -> list[FileEntry]:
        """Every file under ``objects/``, ``refs/`` or ``versions/`` with its size and time."""
        return self._find(self.path(area), detail=True)

    def object_entries(self, digests: Sequence[str]) -> list[FileEntry]:
        """The payload files of these digests that exist, with their sizes and times."""
        out: list[FileEntry] = []
        for digest in digests:
            path = self.object_path(digest)
            if self._mem is not None:
                found = self._mem.get(path)
                if found is not None:
                    out.append(FileEntry(path, int(found.size), found.modified.timestamp()))
                continue
            try:
                if self.is_local:
                    st = os.stat(path)
                    out.append(FileEntry(path, st.st_size, st.st_mtime))
                else:
                    out.append(FileEntry.from_fsspec(self.fs.info(path)))
            except FileNotFoundError:
                continue
        return out

    # ----------------------------------------------------------------- access files
    def access_files(self) -> list[FileEntry]:
        """Every access file (``access/*.json``), with its size and time; no temporaries."""
        return [
            e
            for e in self._find(self.layout.access, detail=True)
            if e.name.endswith(".json") and not e.name.startswith(TMP_PREFIX)
        ]

    def put_access(self, name: str, data: bytes) -> None:
        """Write the access file ``name`` whole (atomically, as every file)."""
        self._put(self.layout.access_path(name), [data], len(data))

    def remove_access(self) -> None:
        """Remove every access file (and temporaries of interrupted writes of them)."""
        self.remove([e.path for e in self._find(self.layout.access, detail=True)])

    # ----------------------------------------------------------------- removal
    def remove(self, paths: Sequence[str]) -> None:
        """Remove files; one already gone is not an error (someone else removed it)."""
        if not paths:
            return
        if self._mem is not None:
            for path in paths:
                self._mem.pop(path, None)
                self._index.discard(path)
            return
        if self.is_local:
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(list(paths))

    def remove_records(self, names: Sequence[RecordName]) -> None:
        self.remove([self.layout.record_path(n.step_id, n.key) for n in names])

    def remove_versions(self, names: Sequence[VersionName]) -> None:
        self.remove([self.layout.version_path(n) for n in names])

    def remove_files(self, entries: Sequence[FileEntry]) -> None:
        self.remove([e.path for e in entries])

    def remove_payloads(self) -> None:
        """Remove every payload, and every temporary older than an hour (younger ones
        belong to saves in flight), and the manifest of records: what ``clear`` removes
        besides records."""
        if self._manifest is not None:
            self.remove([self._manifest.path])
        now = time.time()
        self.remove(
            [
                e.path
                for e in self.files("objects")
                if not (e.name.startswith(TMP_PREFIX) and now - e.mtime < _YOUNG_TEMPORARY)
            ]
        )

    def remove_version_files(self) -> None:
        """Remove every file under ``versions/`` but temporaries younger than an hour
        (saves in flight): what ``clear`` removes of the version histories."""
        now = time.time()
        self.remove(
            [
                e.path
                for e in self.files("versions")
                if not (e.name.startswith(TMP_PREFIX) and now - e.mtime < _YOUNG_TEMPORARY)
            ]
        )

    def prune_version_folders(self, step_id: str) -> None:
        """Remove the empty folders under a step's ``versions/`` folder (local disks)."""
        if not self.is_local:
            return
        top = self.layout.versions_dir(step_id)
        for folder, _dirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(folder)

    def prune_folders(self) -> None:
        """Remove empty folders under ``refs/``, ``versions/`` and ``objects/`` (local disks;
        best effort).

        A folder a concurrent save has just filled is left: ``os.rmdir`` only removes
        empty ones, and a save whose folder vanished makes it again.
        """
        if not self.is_local:
            return
        for area in ("refs", "versions", "objects"):
            top = self.path(area)
            for folder, _dirs, _files in os.walk(top, topdown=False):
                if folder != top:
                    with contextlib.suppress(OSError):
                        os.rmdir(folder)
