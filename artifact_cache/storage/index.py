"""An index of a store's records, so that listings and "newest of a step" read no record file.

Record files stay the source of truth; an index is a cache of them that any reader
brings up to date, and that nothing needs to write when saving:

* **Local stores** keep ``<root>/index.sqlite`` (SQLite in WAL mode): per folder of
  ``refs/`` the modification time it had when it was indexed, and per record the file's
  identity (inode, modification time, size), its text, its ``created`` time, its tags and
  whether it is a valid record of its path. Writing, replacing or removing a record
  renames or unlinks a file in its folder, which changes the folder's modification
  time. A lookup stats the folders it covers and re-reads only the folders that
  changed, and in them only the files whose identity changed. A folder modified less
  than `RACY_NS` before it was indexed is indexed again next time (a second write in
  the same clock tick would not change its time). So a record written by any process,
  one that never touches the index (an older release, a process killed between its
  two writes) included, appears at the next lookup; a missing, truncated or corrupt
  index is simply made again, and one that cannot be written (a read-only folder, a
  lock held too long) is not used at all. No writer holds a lock across machines:
  SQLite's own locks guard only the index file, on one machine.
* **memory://** stores keep the same facts per file in the process (`MemoryRecords`),
  keyed by fsspec's ``MemoryFile`` object, which every write replaces.
* **Object stores** (and sftp, ...) keep a compacted manifest plus the records written
  since: `manifest.ManifestIndex`, whose rows carry their texts.

The index never vouches for a record: what a lookup returns is parsed and checked again
from the record's text, and ``get(step)`` reads the chosen record's file once more (the
same file that signature checks and loads use) unless the lookup itself just read it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from ..errors import RecordError
from ..info import ArtifactInfo
from .layout import RECORD_SUFFIX, RecordName

__all__ = ["INDEX_NAME", "RACY_NS", "IndexedRecord", "LocalIndex", "MemoryRecords", "examine"]

INDEX_NAME = "index.sqlite"
"""The index file of a local store, beside ``refs/`` (with SQLite's ``-wal``/``-shm``)."""

RACY_NS = 2_000_000_000
"""A folder modified this recently when it was indexed is looked at again next time."""

_SCHEMA = 1
_BUSY_SECONDS = 10.0


@attrs.frozen
class IndexedRecord:
    """What an index knows of one record file.

    ``token`` identifies the file's version (equal tokens: the same text); ``created``
    and ``tags`` are read from a valid record (``ok``); an invalid one has neither.
    ``text``: the record's text, where the index holds it in memory.
    """

    name: RecordName
    token: Any
    ok: bool
    created: float
    tags_json: str | None
    text: bytes | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def tags(self) -> dict[str, str] | None:
        """The record's tags (None for an invalid record)."""
        return json.loads(self.tags_json) if self.tags_json is not None else None


_COLUMNS = "step_id, key, ino, mtime_ns, size, ok, created, tags"


def _row(row: tuple[Any, ...]) -> IndexedRecord:
    step_id, key, ino, mtime_ns, size, ok, created, tags = row
    return IndexedRecord(RecordName(step_id, key), (ino, mtime_ns, size), bool(ok), created, tags)


def examine(name: RecordName, data: bytes) -> tuple[bool, float, str | None]:
    """(valid, created, tags as JSON) of a record's text found at ``name``."""
    try:
        info = ArtifactInfo.from_json(data)
    except RecordError:
        return False, 0.0, None
    if (info.step_id, info.key) != (name.step_id, name.key):
        return False, 0.0, None
    return True, info.created.timestamp(), json.dumps(dict(info.tags), sort_keys=True)


Reader = Callable[[Sequence[str]], dict[str, "bytes | Exception"]]
"""Reads files by path, reporting each failure in place of its text (``Storage.read_many``)."""


Bar = Callable[[int], contextlib.AbstractContextManager[Any]]
"""Opens a progress bar for reading this many records (the store's, or none)."""


def no_bar(total: int) -> contextlib.AbstractContextManager[Any]:
    """No progress bar."""
    return contextlib.nullcontext()


# ---------------------------------------------------------------------- memory
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
            ok, created, tags = examine(name, data)
            entry = IndexedRecord(name, file, ok, created, tags, data)
            with self._lock:
                if len(self._seen) > 1_000_000:
                    self._seen.clear()
                self._seen[path] = (file, entry)
            out.append(entry)
        return out


# ---------------------------------------------------------------------- local
class _Unavailable(Exception):
    """The index cannot be used now (locked too long, read-only, ...): read the files."""


_DDL = """
CREATE TABLE IF NOT EXISTS folders (step_id TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    step_id TEXT NOT NULL, key TEXT NOT NULL,
    ino INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,
    ok INTEGER NOT NULL, created REAL NOT NULL, tags TEXT, data BLOB NOT NULL,
    PRIMARY KEY (step_id, key)
);
CREATE INDEX IF NOT EXISTS records_by_time ON records (step_id, created);
"""


class LocalIndex:
    """The SQLite index of one local store's records (one per root and process)."""

    def __init__(self, root: str, read: Reader) -> None:
        self.read = read
        self.root = root.rstrip("/")
        self.refs = f"{self.root}/refs"
        self.path = f"{self.root}/{INDEX_NAME}"
        self._local = threading.local()
        # Answers given at a folder time that was settled (not in the racy window): the
        # same until a folder's time changes. Per folder set: (times, rows).
        self._newest_memo: dict[
            str, tuple[int, tuple[IndexedRecord | None, list[IndexedRecord]]]
        ] = {}
        self._list_memo: dict[str, tuple[list[tuple[str, int]], list[IndexedRecord]]] = {}
        self.reads = 0
        """Record files read to bring the index up to date (tests count them)."""

    # ------------------------------------------------------------------ connection
    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        self._local.conn = None  # (a connection is never used across a fork)
        if not os.path.isdir(self.root):
            raise _Unavailable("no store folder yet")
        conn = sqlite3.connect(self.path, timeout=_BUSY_SECONDS, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != _SCHEMA:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DROP TABLE IF EXISTS folders")
                conn.execute("DROP TABLE IF EXISTS records")
                for statement in _DDL.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={_SCHEMA}")
                conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _forget_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _discard(self) -> None:
        """Remove a corrupt index (it is made again from the records)."""
        self._forget_connection()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(self.path + suffix)

    def _run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work``; a corrupt index is discarded and made again once.

        Raises _Unavailable if the index cannot be used (the caller reads the files).
        """
        for attempt in range(2):
            try:
                return work(self._connection())
            except sqlite3.DatabaseError as exc:
                self._forget_connection()
                corrupt = not isinstance(exc, sqlite3.OperationalError) or any(
                    word in str(exc) for word in ("malformed", "not a database", "disk image")
                )
                if not corrupt or attempt:
                    raise _Unavailable(str(exc)) from exc
                self._discard()
            except OSError as exc:
                self._forget_connection()
                raise _Unavailable(str(exc)) from exc
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ queries
    def records(
        self, folder: str = "", *, step_id: str | None = None, bar: Bar | None = None
    ) -> list[IndexedRecord] | None:
        """Every record under ``refs/<folder>`` (or of exactly ``step_id``), up to date.

        None if the index cannot be used now: the caller reads the record files.
        """
        try:
            reading = bar or no_bar
            return self._run(lambda conn: self._records(conn, folder, step_id, reading))  # type: ignore[no-any-return]
        except _Unavailable:
            return None

    def newest(
        self, step_id: str, bar: Bar | None = None
    ) -> tuple[IndexedRecord | None, list[IndexedRecord]] | None:
        """The newest valid record of exactly ``step_id`` and its invalid records, up to
        date; None if the index cannot be used now."""

        try:
            now = os.stat(f"{self.refs}/{step_id}").st_mtime_ns
        except OSError:
            now = None
        memo = self._newest_memo.get(step_id)
        if memo is not None and memo[0] == now:
            return memo[1]

        def work(conn: sqlite3.Connection) -> tuple[IndexedRecord | None, list[IndexedRecord]]:
            stale = self._stale(conn, [step_id], recursive=False)
            if stale:
                self._sync(conn, stale, bar or no_bar)
            best = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE step_id=? AND ok=1 "
                "ORDER BY created DESC LIMIT 1",
                (step_id,),
            ).fetchone()
            bad = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE step_id=? AND ok=0", (step_id,)
            ).fetchall()
            found = (_row(best) if best else None), [_row(r) for r in bad]
            if not stale and now is not None:
                # Indexed at this (settled) folder time: the same answer until it changes.
                self._newest_memo[step_id] = (now, found)
            return found

        try:
            return self._run(work)  # type: ignore[no-any-return]
        except _Unavailable:
            return None

    def data(self, names: Sequence[RecordName]) -> dict[RecordName, bytes]:
        """The indexed text of records (as read when their files were last indexed)."""

        def work(conn: sqlite3.Connection) -> dict[RecordName, bytes]:
            out: dict[RecordName, bytes] = {}
            for name in names:
                row = conn.execute(
                    "SELECT data FROM records WHERE step_id=? AND key=?", (name.step_id, name.key)
                ).fetchone()
                if row is not None:
                    out[name] = bytes(row[0])
            return out

        try:
            return self._run(work)  # type: ignore[no-any-return]
        except _Unavailable:
            return {}

    def _records(
        self, conn: sqlite3.Connection, folder: str, step_id: str | None, bar: Bar
    ) -> list[IndexedRecord]:
        times: list[tuple[str, int]] = []
        if step_id is not None:
            stale = self._stale(conn, [step_id], recursive=False)
        else:
            seen, stale = self._walk(conn, folder)
            if not stale:
                times = sorted(seen.items())
                memo = self._list_memo.get(folder)
                if memo is not None and memo[0] == times:
                    return memo[1]
        if stale:
            self._sync(conn, stale, bar)
        if step_id is not None:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE step_id=?",
                (step_id,),
            ).fetchall()
        elif not folder:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM records").fetchall()
        else:
            base = folder.strip("/")
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE step_id=? OR substr(step_id, 1, ?)=?",
                (base, len(base) + 1, base + "/"),
            ).fetchall()
        out = [_row(r) for r in rows]
        if times:
            self._list_memo[folder] = (times, out)
        return out

    # ------------------------------------------------------------------ freshness
    def _folder_times(self, conn: sqlite3.Connection) -> dict[str, int]:
        return dict(conn.execute("SELECT step_id, mtime_ns FROM folders").fetchall())

    def _stale(self, conn: sqlite3.Connection, steps: list[str], *, recursive: bool) -> list[str]:
        """The folders of ``steps`` whose time differs from the indexed one."""
        out = []
        for step in steps:
            row = conn.execute("SELECT mtime_ns FROM folders WHERE step_id=?", (step,)).fetchone()
            try:
                now = os.stat(f"{self.refs}/{step}").st_mtime_ns
            except (FileNotFoundError, NotADirectoryError):
                now = None
            if (row is None and now is not None) or (row is not None and row[0] != now):
                out.append(step)
        return out

    def _walk(self, conn: sqlite3.Connection, folder: str) -> tuple[dict[str, int], list[str]]:
        """Every folder under ``refs/<folder>`` (step ids) and those that changed; folders
        gone since they were indexed count as changed."""
        known = self._folder_times(conn)
        base = folder.strip("/")
        seen: dict[str, int] = {}
        stale: list[str] = []
        top = f"{self.refs}/{base}" if base else self.refs
        stack: list[tuple[str, str]] = [(top, base)]
        if base:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                self._check_folder(base, os.stat(top).st_mtime_ns, known, seen, stale)
        while stack:
            path, step = stack.pop()
            try:
                entries = list(os.scandir(path))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                child = f"{step}/{entry.name}" if step else entry.name
                try:
                    mtime = entry.stat(follow_symlinks=False).st_mtime_ns
                except FileNotFoundError:
                    continue
                self._check_folder(child, mtime, known, seen, stale)
                stack.append((entry.path, child))
        present = seen
        prefix = base + "/"
        for step in known:
            under = not base or step == base or step.startswith(prefix)
            if under and step not in present:
                stale.append(step)
        return seen, stale

    @staticmethod
    def _check_folder(
        step: str, mtime: int, known: dict[str, int], seen: dict[str, int], stale: list[str]
    ) -> None:
        seen[step] = mtime
        if known.get(step) != mtime:
            stale.append(step)

    def _sync(self, conn: sqlite3.Connection, steps: list[str], bar: Bar) -> None:
        """Index the folders of ``steps`` again: re-read the files whose identity changed
        (all at once, under one progress bar if there are many)."""
        plans = [self._plan(conn, step) for step in steps]
        changed = {path: plan for plan in plans if plan for path in plan[2]}
        fresh = []
        if changed:
            with bar(len(changed)):
                texts = self.read(list(changed))
            for path, data in texts.items():
                if isinstance(data, FileNotFoundError | IsADirectoryError):
                    continue
                if isinstance(data, Exception):
                    raise data  # a record that cannot be read is not a deleted one
                self.reads += 1
                step = changed[path][0]
                key, token = changed[path][2][path]
                ok, created, tags = examine(RecordName(step, key), data)
                fresh.append((step, key, *token, int(ok), created, tags, data))
        gone = [step for step, plan in zip(steps, plans, strict=True) if plan is None]
        with _transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", fresh
            )
            for step in gone:
                conn.execute("DELETE FROM records WHERE step_id=?", (step,))
                conn.execute("DELETE FROM folders WHERE step_id=?", (step,))
            for plan in plans:
                if plan is None:
                    continue
                step, mtime, _changed, removed = plan
                conn.executemany(
                    "DELETE FROM records WHERE step_id=? AND key=?", [(step, k) for k in removed]
                )
                # A folder changed too recently may change again within the same clock tick.
                racy = time.time_ns() - mtime < RACY_NS
                conn.execute(
                    "INSERT OR REPLACE INTO folders VALUES (?, ?)", (step, -1 if racy else mtime)
                )

    def _plan(
        self, conn: sqlite3.Connection, step: str
    ) -> tuple[str, int, dict[str, tuple[str, tuple[int, int, int]]], list[str]] | None:
        """(step, folder time, changed files by path, keys gone) of one folder; None if
        the folder is gone."""
        folder = f"{self.refs}/{step}"
        try:
            mtime = os.stat(folder).st_mtime_ns  # before the listing: later changes show
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return None
        indexed = {
            key: (ino, mt, size)
            for key, ino, mt, size in conn.execute(
                "SELECT key, ino, mtime_ns, size FROM records WHERE step_id=?", (step,)
            )
        }
        present: dict[str, tuple[int, int, int]] = {}
        for entry in entries:
            name = entry.name
            if not (name.startswith("@") and name.endswith(RECORD_SUFFIX)):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.is_file(follow_symlinks=False):
                present[name[1 : -len(RECORD_SUFFIX)]] = (st.st_ino, st.st_mtime_ns, st.st_size)
        # Each changed file is read after its identity was taken: if it changes again
        # meanwhile, the identity indexed is the older one and it is read again next time.
        changed = {
            f"{folder}/@{key}{RECORD_SUFFIX}": (key, token)
            for key, token in present.items()
            if indexed.get(key) != token
        }
        return step, mtime, changed, [key for key in indexed if key not in present]


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
