"""The index of a remote store's records: a compacted manifest plus the records written since.

On object stores (and any filesystem where every check is a request: sftp, ...) a
listing is one recursive LIST of ``refs/`` (one request per 1,000 files on S3). What
reading every record file costs on top of it (one GET each) is what this index saves:

* **The manifest** is one file, ``refs/.manifest-1.json.gz``: gzip'd JSON mapping each
  record's name under ``refs/`` to the *version token* the listing gave for its file
  (its ETag where the listing has one, its size and modification time) and the record's
  text. It lives under ``refs/`` so the LIST that a listing makes anyway says whether it
  exists and which version it is: a store without one costs no request for it, and a
  store object that has read a version does not read it again.
* **A lookup** lists its folder, then takes each record's text from what this store
  object already read (same token) or, if two or more records are not known, from the
  manifest (one GET), and reads only the rest, one GET each. The LIST decides what
  exists and which version: a record deleted since is not listed and never appears; one
  rewritten has another token and is read again; one the manifest does not know (a
  writer that never touches the manifest: every save, an older release, a crash) is
  read. The manifest is never trusted beyond that: a missing, truncated, corrupt or
  hostile one (a name that is not a valid record's, wrong types, another schema), or
  one whose gzip would expand beyond a bound, is ignored as if empty, and its texts are
  parsed and checked like record files by the store above.
* **Compaction**: a listing of the whole store that found at least `COMPACT_RECORDS`
  records the manifest does not cover, or more than `COMPACT_SHARE` of the store (and at
  least two), writes a new manifest covering every record listed (one PUT). A listing of a
  part of the store (a folder, a prefix, one step) that fetched the manifest and found at
  least `COMPACT_RECORDS` records of that part not covered writes the manifest it read
  with that part replaced by what it listed; everything else is kept as it was, which is
  safe because every entry is checked against a LIST before use. Saves never write it;
  a read-only store (or one whose write of it failed once) never writes it. Concurrent
  compactions need no lock: the last one wins, and a manifest older than the records
  only costs the GETs of the records it misses.
* **Tokens without an ETag** (sftp, ...) are a size and a modification time, which a
  rewrite of the same size within the same clock tick would not change: a record whose
  time is less than `RACY_SECONDS` old is read again at each lookup until it settles,
  and is not written into the manifest before.
* A record at a name no valid record has, or longer than 1 MiB, stays out of the
  manifest and is read from its file at each lookup. ``gc`` and ``clear`` never use the
  manifest: what they keep or remove is decided by the record files themselves.

Imports the stdlib, ``attrs``, `artifact_cache.errors`, `artifact_cache.stepid` and the
storage package's own modules (`index` for what a row is); the filesystem is reached
through the callables given.
"""

from __future__ import annotations

import functools
import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from ..errors import InvalidStepIdError
from ..stepid import validate_key, validate_step_id
from .entries import FileEntry
from .layout import Layout, RecordName
from .rows import Bar, IndexedRecord, Reader, indexed_row, no_bar

__all__ = [
    "COMPACT_RECORDS",
    "COMPACT_SHARE",
    "MANIFEST_NAME",
    "RACY_SECONDS",
    "ManifestIndex",
    "Token",
    "decode_manifest",
    "encode_manifest",
]

MANIFEST_NAME = ".manifest-1.json.gz"
"""The manifest's name under ``refs/`` (no step id starts with ``.``; version in the name,
so releases with another schema keep their own beside it)."""

SCHEMA = "artifact_cache.manifest"
VERSION = 1

COMPACT_RECORDS = 32
"""Records not in the manifest that make a listing write a new one."""
COMPACT_SHARE = 0.1
"""... or this share of the store (with at least two), for a listing of the whole store."""
WORTH_FETCHING = 2
"""Unknown records that make a lookup fetch the manifest (one GET instead of as many)."""
RACY_SECONDS = 3.0
"""A file without an ETag modified this recently may change again without a new token."""

_MIN_CAP = 64 * 2**20
_MAX_RATIO = 64
"""A manifest expanding beyond max(64 MiB, 64 x its size) is ignored (a gzip bomb)."""
_KNOWN_MAX = 2_000_000
_TEXT_MAX = 2**20
"""Records longer than this are read from their files only (a save writes far less
unless given huge tags): none bloats every read of the manifest."""

Token = tuple[str | None, int, float]
"""A record file's version as a listing shows it: (ETag or None, size, modification time)."""

_PENDING = object()
"""The manifest's token after this object wrote it, until a listing shows it."""


def token_of(entry: FileEntry) -> Token:
    """The version token of a listed file."""
    return (entry.etag, entry.size, entry.mtime)


def settled(token: Token, now: float) -> bool:
    """True if equal tokens of this file will mean equal contents (see `RACY_SECONDS`)."""
    return token[0] is not None or now - token[2] >= RACY_SECONDS


# ---------------------------------------------------------------------- the file
def encode_manifest(entries: Iterable[tuple[str, Token, bytes]]) -> bytes:
    """The manifest file of ``(name under refs/, token, record text)`` entries.

    Examples:
        >>> data = encode_manifest([("a/@k.json", ('"e1"', 2, 1.5), b"{}")])
        >>> decode_manifest(data)
        {'a/@k.json': (('"e1"', 2, 1.5), b'{}')}
    """
    records = {
        name: [list(token), text.decode("utf-8", "surrogateescape")]
        for name, token, text in entries
    }
    doc = {"format": SCHEMA, "version": VERSION, "records": records}
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    return gzip.compress(raw, compresslevel=6, mtime=0)


def decode_manifest(data: bytes) -> dict[str, tuple[Token, bytes]] | None:
    """The entries of a manifest file by name under ``refs/``; None unless every part of
    it is of the documented form (then it is ignored as a whole).

    Examples:
        >>> decode_manifest(b"not gzip") is None
        True
        >>> decode_manifest(encode_manifest([("../x/@k.json", (None, 1, 0.0), b"{}")])) is None
        True
    """
    try:
        inflate = zlib.decompressobj(wbits=31)
        cap = max(_MIN_CAP, _MAX_RATIO * len(data))
        raw = inflate.decompress(data, cap)
        if inflate.unconsumed_tail or not inflate.eof:
            return None  # truncated, or expanding beyond the bound
        doc = json.loads(raw)
    except (zlib.error, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != SCHEMA or doc.get("version") != VERSION:
        return None
    records = doc.get("records")
    if not isinstance(records, dict):
        return None
    out: dict[str, tuple[Token, bytes]] = {}
    for name, value in records.items():
        token = _token(value[0]) if isinstance(value, list) and len(value) == 2 else None
        if token is None or not isinstance(value[1], str) or _record_name(name) is None:
            return None
        try:
            text = value[1].encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return None
        out[name] = (token, text)
    return out


def _token(value: Any) -> Token | None:
    if not isinstance(value, list) or len(value) != 3:
        return None
    etag, size, mtime = value
    if etag is not None and not isinstance(etag, str):
        return None
    if type(size) is not int or size < 0:
        return None
    if type(mtime) not in (int, float):
        return None
    return (etag, size, float(mtime))


def _record_name(name: str) -> RecordName | None:
    """The record a name under ``refs/`` denotes, if it is a valid record's own name."""
    step_id, sep, file = name.rpartition("/@")
    if not sep or not file.endswith(".json"):
        return None
    found = RecordName(step_id, file[: -len(".json")])
    return found if _valid(found) else None


def _valid(name: RecordName) -> bool:
    """True if a record of this name could be valid (only those go into a manifest)."""
    try:
        validate_step_id(name.step_id)
        validate_key(name.key)
    except InvalidStepIdError:
        return False
    return True


# ---------------------------------------------------------------------- lookups
@attrs.frozen
class _Scope:
    """What a lookup covers: records under ``folder`` (``exact``: of that step only) whose
    step id starts with ``prefix``."""

    folder: str
    exact: bool = False
    prefix: str = ""

    @property
    def sees_manifest(self) -> bool:
        """The lookup's LIST shows the manifest (a listing of all of ``refs/``)."""
        return not self.folder and not self.exact

    @property
    def whole(self) -> bool:
        """The lookup covers every record of the store."""
        return self.sees_manifest and not self.prefix

    def covers(self, name: RecordName) -> bool:
        step = name.step_id
        if self.exact:
            return step == self.folder
        under = not self.folder or step == self.folder or step.startswith(self.folder + "/")
        return under and step.startswith(self.prefix)


@attrs.define(slots=False)
class _Known:
    """A record's text at a version, and what it holds once examined."""

    name: RecordName
    token: Token
    text: bytes
    row: IndexedRecord | None = None

    @functools.cached_property
    def storable(self) -> bool:
        """True if it may go into a manifest (a valid record's name, not too long)."""
        return len(self.text) <= _TEXT_MAX and _valid(self.name)

    def indexed(self) -> IndexedRecord:
        if self.row is None:
            self.row = indexed_row(self.name, self.token, self.text)
        return self.row


class ManifestIndex:
    """The index of one remote store's records (one per store object): what this object
    has read, the manifest, and the record files, in that order (see the module)."""

    def __init__(
        self,
        layout: Layout,
        *,
        find: Callable[[str], list[FileEntry]],
        ls: Callable[[str], list[FileEntry]],
        read: Reader,
        get: Callable[[str], bytes],
        put: Callable[[str, bytes], None],
        writable: Callable[[], bool],
    ) -> None:
        self.layout = layout
        self.path = f"{layout.refs}/{MANIFEST_NAME}"
        self._find, self._ls, self._read, self._get, self._put = find, ls, read, get, put
        self._writable = writable
        self._lock = threading.Lock()
        self._known: dict[str, _Known] = {}
        """Record path -> its text at a token (read here, or taken from a manifest)."""
        self._remote: dict[str, Token] | None = None
        """The manifest as last read or written here: path -> token (None: none known)."""
        self._remote_token: Any = None
        """The listing's token of that manifest (None: not known)."""
        self._write_failed = False
        self._memo: dict[_Scope, tuple[list[tuple[str, Token]], list[IndexedRecord]]] = {}
        self.reads = 0
        """Record files read (tests and benchmarks count them)."""
        self.fetches = 0
        """Manifests read."""
        self.writes = 0
        """Manifests written."""

    # ------------------------------------------------------------------ queries
    def records(
        self,
        folder: str = "",
        *,
        step_id: str | None = None,
        prefix: str = "",
        bar: Bar | None = None,
    ) -> list[IndexedRecord]:
        """Every record under ``refs/<folder>`` whose step id starts with ``prefix`` (or
        of exactly ``step_id``), as the listing made now shows them.

        The same list object as last time if nothing changed since (a caller may keep
        what it made of it).
        """
        if step_id is not None:
            scope = _Scope(step_id, exact=True)
        else:
            scope = _Scope(folder.strip("/"), prefix=prefix)
        rows, _fresh, listed = self._lookup(scope, bar)
        memo = self._memo.get(scope)
        if listed is not None and memo is not None and memo[0] == listed:
            return memo[1]
        if listed is not None:
            if len(self._memo) > 64:
                self._memo.clear()
            self._memo[scope] = (listed, rows)
        return rows

    def newest(
        self, step_id: str, bar: Bar | None = None
    ) -> tuple[IndexedRecord | None, list[IndexedRecord]]:
        """The newest valid record of exactly ``step_id`` and its invalid records.

        The newest one carries its text only if its file was read by this lookup (else
        the caller reads the file: the index never vouches for what is loaded).
        """
        rows, fresh, _listed = self._lookup(_Scope(step_id, exact=True), bar)
        good = [r for r in rows if r.ok]
        best = max(good, key=lambda r: r.created) if good else None
        if best is not None and best.name not in fresh:
            best = attrs.evolve(best, text=None)
        return best, [r for r in rows if not r.ok]

    # ------------------------------------------------------------------ the lookup
    def _lookup(
        self, scope: _Scope, bar: Bar | None
    ) -> tuple[list[IndexedRecord], set[RecordName], list[tuple[str, Token]] | None]:
        """(rows, names read from their files now, the listing if every token settled)."""
        now = time.time()
        if scope.exact:
            entries = self._ls(self.layout.record_dir(scope.folder))
        else:
            entries = self._find(self.layout.refs_folder(scope.folder))
        manifest: FileEntry | None = None
        listed: dict[str, tuple[RecordName, Token]] = {}
        for entry in entries:
            if entry.path == self.path:
                manifest = entry
                continue
            name = self.layout.parse_record_path(entry.path)
            if name is not None and scope.covers(name):
                listed[entry.path] = (name, token_of(entry))
        if scope.sees_manifest:
            self._seen_manifest(manifest)

        hits, misses = self._match(listed)
        # Whether what the manifest holds now is known here: it was read (or found
        # missing) now, or the LIST shows the version last read or written here.
        view = scope.whole and (manifest is None or token_of(manifest) == self._remote_token)
        if len(misses) >= WORTH_FETCHING and self._worth_fetching(scope, manifest):
            view = self._fetch(scope, manifest, listed)
            more, misses = self._match({p: listed[p] for p in misses})
            hits.update(more)

        fresh: dict[str, _Known] = {}
        if misses:
            with (bar or no_bar)(len(misses)):
                texts = self._read(misses)
            for path, data in texts.items():
                if isinstance(data, FileNotFoundError | IsADirectoryError):
                    continue  # removed since the listing
                if isinstance(data, Exception):
                    raise data  # a record that cannot be read is not a deleted one
                name, token = listed[path]
                read = _Known(name, token, bytes(data))
                if not settled(token, now):
                    # Its token may stay the same at its next rewrite: the text itself
                    # tells its versions apart (for whoever keeps what it made of a row).
                    read.row = indexed_row(name, (*token, read.text), read.text)
                read.indexed()
                fresh[path] = read
            self.reads += len(fresh)
            with self._lock:
                if len(self._known) > _KNOWN_MAX:
                    self._known.clear()
                for path, read in fresh.items():
                    if settled(read.token, now):
                        self._known[path] = read

        found = {**hits, **fresh}
        rows = [found[p].indexed() for p in listed if p in found]
        if scope.whole:
            with self._lock:  # forget what is gone (and manifest entries never confirmed)
                self._known = {p: k for p, k in self._known.items() if p in listed}
        if view:
            self._compact(scope, listed, now)
        unsettled = any(not settled(t, now) for _n, t in listed.values())
        snapshot = None if unsettled else sorted((p, t) for p, (_n, t) in listed.items())
        return rows, {fresh[p].name for p in fresh}, snapshot

    def _match(
        self, listed: dict[str, tuple[RecordName, Token]]
    ) -> tuple[dict[str, _Known], list[str]]:
        """Listed records known at their listed token, and the paths of the others."""
        hits: dict[str, _Known] = {}
        misses: list[str] = []
        with self._lock:
            for path, (_name, token) in listed.items():
                known = self._known.get(path)
                if known is not None and known.token == token:
                    hits[path] = known
                else:
                    misses.append(path)
        return hits, misses

    # ------------------------------------------------------------------ the manifest
    def _seen_manifest(self, manifest: FileEntry | None) -> None:
        """Note what a LIST of all of ``refs/`` says of the manifest."""
        with self._lock:
            if manifest is None:
                self._remote, self._remote_token = None, None
            elif self._remote_token is _PENDING:
                self._remote_token = token_of(manifest)  # (taken as the one written here)

    def _worth_fetching(self, scope: _Scope, manifest: FileEntry | None) -> bool:
        if not scope.sees_manifest:
            return True  # (its LIST cannot tell whether there is one)
        return manifest is not None and token_of(manifest) != self._remote_token

    def _fetch(
        self,
        scope: _Scope,
        manifest: FileEntry | None,
        listed: dict[str, tuple[RecordName, Token]],
    ) -> bool:
        """Read the manifest; True if it could be read (or is missing).

        What it knows of listed records at their listed token is taken; its entries
        outside the lookup's scope are kept for later lookups (each checked against a
        LIST of its own before use).
        """
        self.fetches += 1
        data: bytes | None
        try:
            data = self._get(self.path)
        except FileNotFoundError:
            data = None
        except Exception:
            # Not readable now (permissions, network): a cache, not the source of truth.
            return False
        # Of another form: as if empty (and so written again).
        entries = (decode_manifest(data) if data is not None else None) or {}
        refs = self.layout.refs
        remote: dict[str, Token] = {}
        with self._lock:
            for rel, (token, text) in entries.items():
                path = f"{refs}/{rel}"
                remote[path] = token
                found = listed.get(path)
                if found is None:
                    name = _record_name(rel)
                    if name is None or scope.covers(name):
                        continue  # gone since the manifest was written
                elif found[1] != token:
                    continue  # changed since the manifest was written
                else:
                    name = found[0]
                known = self._known.get(path)
                if known is None or known.token != token:
                    self._known[path] = _Known(name, token, text)
            self._remote = remote
            self._remote_token = token_of(manifest) if manifest is not None else None
        return True

    def _compact(
        self, scope: _Scope, listed: dict[str, tuple[RecordName, Token]], now: float
    ) -> None:
        """Write a new manifest if this lookup found enough that it does not cover."""
        if self._write_failed or not self._writable():
            return
        with self._lock:
            remote = self._remote or {}
            # (A record at a name no valid record has is read at every listing: its file
            # says how it is bad, and a manifest naming it would be refused.)
            known = self._known
            coverable = {
                p: t
                for p, (_n, t) in listed.items()
                if settled(t, now) and p in known and known[p].storable
            }
            uncovered = sum(1 for p, t in coverable.items() if remote.get(p) != t)
            if scope.whole:
                due = uncovered >= COMPACT_RECORDS or (
                    uncovered >= 2 and uncovered > COMPACT_SHARE * len(listed)
                )
            else:
                due = uncovered >= COMPACT_RECORDS
            if not due:
                return
            rows: dict[str, _Known] = {}
            if not scope.whole:
                # The rest of the manifest as it was read (or known here), this part anew.
                for path, entry in known.items():
                    if not scope.covers(entry.name) and entry.storable:
                        rows[path] = entry
            for path, token in coverable.items():
                if known[path].token == token:
                    rows[path] = known[path]
        start = len(self.layout.refs) + 1
        data = encode_manifest((p[start:], k.token, k.text) for p, k in sorted(rows.items()))
        try:
            self._put(self.path, data)
        except Exception:
            # Read-only credentials or filesystem: a cache not written costs only GETs.
            self._write_failed = True
            return
        self.writes += 1
        with self._lock:
            self._remote = {p: k.token for p, k in rows.items()}
            self._remote_token = _PENDING
