"""The SQLite index of a local store's records (``<root>/index.sqlite``).

Per folder of ``refs/`` it keeps the modification time the folder had when it was
indexed and the names of its sub-folders then; per record the file's identity (inode,
modification time, size), whether it is a valid record of its path and, if so, its
fields as checked, else its text. A lookup stats the folders it covers and re-reads
only what changed; see `index` for the whole design and its guarantees.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import groupby
from operator import attrgetter, itemgetter
from stat import S_ISDIR
from typing import Any

from ..info import ArtifactInfo
from .layout import RECORD_SUFFIX, RecordName
from .rows import (
    Bar,
    IndexedRecord,
    Reader,
    examine,
    no_bar,
    pack_checked,
    pack_columns,
    tags_json,
    unpack_checked,
    unpack_columns,
)

__all__ = ["INDEX_NAME", "RACY_NS", "LocalIndex"]

INDEX_NAME = "index.sqlite"
"""The index file of a local store, beside ``refs/`` (with SQLite's ``-wal``/``-shm``)."""

RACY_NS = 2_000_000_000
"""A folder modified this recently when it was indexed is looked at again next time."""

_SCHEMA = 4
"""Version of the index's tables; an index of another version is made again."""
_BUSY_SECONDS = 10.0


_COLUMNS = "step_id, key, ino, mtime_ns, size, ok, created, tags, info, data"


def _rows(rows: Iterable[tuple[Any, ...]]) -> list[IndexedRecord]:
    """The index's rows as IndexedRecords; the checked fields of the valid ones are read
    together, a run of one step's rows at a time (`unpack_checked`)."""
    rows = list(rows)
    infos: list[ArtifactInfo] = []
    valid = [row for row in rows if row[5] and row[8] is not None]
    for step_id, run in groupby(valid, key=itemgetter(0)):
        _unpack(step_id, "[" + ",".join(row[8] for row in run) + "]", infos)
    checked = iter(infos)
    out = []
    for step_id, key, ino, mtime_ns, size, ok, created, tags, packed, data in rows:
        info = next(checked) if ok and packed is not None else None
        text = bytes(data) if data is not None else None
        name = RecordName(step_id, key)
        out.append(IndexedRecord(name, (ino, mtime_ns, size), bool(ok), created, tags, text, info))
    return out


def _unpack(step_id: str, packed: str, out: list[ArtifactInfo]) -> None:
    """`unpack_checked`; a row not of that form is a corrupt index."""
    try:
        unpack_checked(step_id, packed, out)
    except (ValueError, TypeError, AttributeError) as exc:
        raise sqlite3.DatabaseError(f"malformed index row of {step_id!r}: {exc}") from None


def _unpack_columns(
    step_id: str, columns: list[Any] | None, text: str, out: list[ArtifactInfo]
) -> None:
    """`unpack_columns` of ``columns``, else of the listing ``text``; a listing not of
    that form is a corrupt index."""
    try:
        unpack_columns(step_id, json.loads(text) if columns is None else columns, out)
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise sqlite3.DatabaseError(f"malformed index listing of {step_id!r}: {exc}") from None


class _Unavailable(Exception):
    """The index cannot be used now (locked too long, read-only, ...): read the files."""


_DDL = """
CREATE TABLE IF NOT EXISTS folders (
    step_id TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, subdirs TEXT NOT NULL, listing TEXT
);
CREATE TABLE IF NOT EXISTS records (
    step_id TEXT NOT NULL, key TEXT NOT NULL,
    ino INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,
    ok INTEGER NOT NULL, created REAL NOT NULL, tags TEXT, info TEXT, data BLOB,
    PRIMARY KEY (step_id, key)
);
CREATE INDEX IF NOT EXISTS records_by_time ON records (step_id, created);
CREATE INDEX IF NOT EXISTS records_invalid ON records (step_id) WHERE ok = 0;
"""
"""``folders.subdirs``: the JSON list of the folder's sub-folders when it was indexed;
``folders.listing``: the fields of its valid records as JSON columns (`pack_columns`;
NULL: not made since the folder was last indexed). ``records.info``: a valid record's
checked fields (`pack_checked`); ``records.data``: an invalid record's text."""

_Listing = tuple[list[ArtifactInfo], list[IndexedRecord]]


class LocalIndex:
    """The SQLite index of one local store's records (one per root and process)."""

    def __init__(self, root: str, read: Reader) -> None:
        self.read = read
        self.root = root.rstrip("/")
        self.refs = f"{self.root}/refs"
        self.path = f"{self.root}/{INDEX_NAME}"
        self._local = threading.local()
        # Answers given at a folder time that was settled (not in the racy window): the
        # same until a folder's time changes. Per folder set: (times, answer).
        self._newest_memo: dict[
            str, tuple[int, tuple[IndexedRecord | None, list[IndexedRecord]]]
        ] = {}
        self._list_memo: dict[str, tuple[list[tuple[str, int]], _Listing]] = {}
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
        """Every record under ``refs/<folder>`` (or of exactly ``step_id``), up to date;
        valid ones carry their checked ``info``, invalid ones their ``text``.

        None if the index cannot be used now: the caller reads the record files.
        """

        def work(conn: sqlite3.Connection) -> list[IndexedRecord]:
            self._refresh(conn, folder, step_id, bar or no_bar)
            where, args = _scope(folder, step_id)
            rows = conn.execute(f"SELECT {_COLUMNS} FROM records WHERE {where}", args)
            return _rows(rows)

        try:
            return self._run(work)  # type: ignore[no-any-return]
        except _Unavailable:
            return None

    def listing(
        self, folder: str = "", *, step_id: str | None = None, bar: Bar | None = None
    ) -> _Listing | None:
        """The valid records under ``refs/<folder>`` (or of exactly ``step_id``), newest
        first, as the index checked them, and the invalid ones (with their text); up to
        date. While no folder changes, the same lists again (not to be changed).

        None if the index cannot be used now: the caller reads the record files.
        """
        try:
            reading = bar or no_bar
            return self._run(lambda conn: self._listing(conn, folder, step_id, reading))  # type: ignore[no-any-return]
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
            stale = self._stale(conn, [step_id])
            if stale:
                self._sync(conn, stale, bar or no_bar)
            best = conn.execute(
                "SELECT step_id, key, ino, mtime_ns, size, ok, created, tags, NULL, NULL "
                "FROM records WHERE step_id=? AND ok=1 ORDER BY created DESC LIMIT 1",
                (step_id,),
            ).fetchone()
            bad = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE step_id=? AND ok=0", (step_id,)
            ).fetchall()
            found = (_rows([best])[0] if best else None), _rows(bad)
            if not stale and now is not None:
                # Indexed at this (settled) folder time: the same answer until it changes.
                self._newest_memo[step_id] = (now, found)
            return found

        try:
            return self._run(work)  # type: ignore[no-any-return]
        except _Unavailable:
            return None

    def data(self, names: Sequence[RecordName]) -> dict[RecordName, bytes]:
        """The indexed text of invalid records (as read when their files were last indexed)."""

        def work(conn: sqlite3.Connection) -> dict[RecordName, bytes]:
            out: dict[RecordName, bytes] = {}
            for name in names:
                row = conn.execute(
                    "SELECT data FROM records WHERE step_id=? AND key=?", (name.step_id, name.key)
                ).fetchone()
                if row is not None and row[0] is not None:
                    out[name] = bytes(row[0])
            return out

        try:
            return self._run(work)  # type: ignore[no-any-return]
        except _Unavailable:
            return {}

    def _refresh(
        self, conn: sqlite3.Connection, folder: str, step_id: str | None, bar: Bar
    ) -> list[tuple[str, int]] | None:
        """Bring the folders of a lookup up to date. Returns their (settled) times if
        none had changed, else None."""
        times = None
        if step_id is not None:
            stale = self._stale(conn, [step_id])
        else:
            seen, stale = self._walk(conn, folder)
            if not stale:
                times = sorted(seen.items())
        if stale:
            self._sync(conn, stale, bar)
        return times

    def _listing(
        self, conn: sqlite3.Connection, folder: str, step_id: str | None, bar: Bar
    ) -> _Listing:
        times = self._refresh(conn, folder, step_id, bar)
        if times is not None:
            memo = self._list_memo.get(folder)
            if memo is not None and memo[0] == times:
                return memo[1]
        where, args = _scope(folder, step_id)
        infos: list[ArtifactInfo] = []
        # One text per folder, made when the folder was first listed after it was
        # indexed: its records' fields as columns, no Python object per record to read.
        select = f"SELECT step_id, listing FROM folders WHERE {where}"
        groups = conn.execute(select, args).fetchall()
        made: dict[str, list[Any]] = {}
        if any(packed is None for _step, packed in groups):
            try:
                made, groups = self._make_listings(conn, select, where, args)
            except sqlite3.DataError:  # longer than SQLite's longest string: row by row
                groups = []
                rows = conn.execute(
                    f"SELECT step_id, info FROM records WHERE ok=1 AND {where} ORDER BY step_id",
                    args,
                )
                with _collector_paused():
                    for step, run in groupby(rows, key=itemgetter(0)):
                        _unpack(step, "[" + ",".join(packed for _step, packed in run) + "]", infos)
        with _collector_paused():
            for step, packed in groups:
                columns = made.get(step)
                if columns is not None or packed:
                    _unpack_columns(step, columns, packed, infos)
        infos.sort(key=_created, reverse=True)
        bad = _rows(conn.execute(f"SELECT {_COLUMNS} FROM records WHERE ok=0 AND {where}", args))
        found = (infos, bad)
        if times is not None:
            self._list_memo[folder] = (times, found)
        return found

    @staticmethod
    def _make_listings(
        conn: sqlite3.Connection, select: str, where: str, args: Sequence[str]
    ) -> tuple[dict[str, list[Any]], list[tuple[str, str]]]:
        """Make the listing of every folder in scope that has none; return the columns of
        those holding records, and ``select``'s rows read in the same transaction (no
        other writer's sync can make one NULL again before they are read). Raises
        DataError if a listing is longer than SQLite allows."""
        made: dict[str, list[Any]] = {}
        # (Other writers' syncs wait meanwhile: Python packs each folder here, about
        # 1 us a record, well within the busy timeout.)
        with _transaction(conn):
            missing = conn.execute(
                f"SELECT step_id FROM folders WHERE listing IS NULL AND {where}", args
            ).fetchall()
            for (step,) in missing:
                (joined,) = conn.execute(
                    "SELECT group_concat(info, ',') FROM records WHERE step_id=? AND ok=1",
                    (step,),
                ).fetchone()
                listing = ""
                if joined:
                    try:
                        columns = pack_columns(json.loads(f"[{joined}]"))
                    except (ValueError, TypeError, RecursionError) as exc:
                        msg = f"malformed index row of {step!r}: {exc}"
                        raise sqlite3.DatabaseError(msg) from None
                    listing = json.dumps(columns)
                    made[step] = columns
                conn.execute("UPDATE folders SET listing=? WHERE step_id=?", (listing, step))
            groups = conn.execute(select, args).fetchall()
        return made, groups

    # ------------------------------------------------------------------ freshness
    def _stale(self, conn: sqlite3.Connection, steps: list[str]) -> list[str]:
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
        """Every folder under ``refs/<folder>`` (step ids) with its time, and those that
        changed; folders gone since they were indexed count as changed.

        A folder whose time is the one it had when indexed holds the sub-folders it held
        then (making, removing or renaming one changes its time): only the folders that
        changed are listed, the others' sub-folders are only looked at.
        """
        known = {
            step: (mtime, subdirs)
            for step, mtime, subdirs in conn.execute(
                "SELECT step_id, mtime_ns, subdirs FROM folders"
            )
        }
        base = folder.strip("/")
        seen: dict[str, int] = {}
        stale: list[str] = []
        top = f"{self.refs}/{base}" if base else self.refs
        if base:
            try:
                mtime = os.stat(top).st_mtime_ns
            except (FileNotFoundError, NotADirectoryError):
                pass
            else:
                seen[base] = mtime
                if known.get(base, (None,))[0] != mtime:
                    stale.append(base)
        # (path, step id, the names of its sub-folders if unchanged, else None: list it)
        stack: list[tuple[str, str, list[str] | None]] = [(top, base, None)]
        while stack:
            path, step, names = stack.pop()
            children: list[tuple[str, str, int]] = []
            if names is None:
                try:
                    entries = list(os.scandir(path))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        try:
                            mtime = entry.stat(follow_symlinks=False).st_mtime_ns
                        except FileNotFoundError:
                            continue
                        children.append((entry.name, entry.path, mtime))
            else:
                for name in names:
                    child_path = f"{path}/{name}"
                    try:
                        st = os.lstat(child_path)
                    except (FileNotFoundError, NotADirectoryError):
                        continue
                    if S_ISDIR(st.st_mode):
                        children.append((name, child_path, st.st_mtime_ns))
            for name, child_path, mtime in children:
                child = f"{step}/{name}" if step else name
                seen[child] = mtime
                indexed = known.get(child)
                if indexed is not None and indexed[0] == mtime:
                    subdirs = indexed[1]
                    stack.append(
                        (child_path, child, json.loads(subdirs) if subdirs != "[]" else [])
                    )
                else:
                    stale.append(child)
                    stack.append((child_path, child, None))
        prefix = base + "/"
        for step in known:
            under = not base or step == base or step.startswith(prefix)
            if under and step not in seen:
                stale.append(step)
        return seen, stale

    def _sync(self, conn: sqlite3.Connection, steps: list[str], bar: Bar) -> None:
        """Index the folders of ``steps`` again: re-read the files whose identity changed
        (all at once, under one progress bar if there are many)."""
        plans = [self._plan(conn, step) for step in steps]
        changed = {
            path: (plan[0], *found) for plan in plans if plan for path, found in plan[2].items()
        }
        fresh: list[tuple[Any, ...]] = []
        if changed:
            with bar(len(changed)):
                texts = self.read(list(changed))
            for path, data in texts.items():
                if isinstance(data, FileNotFoundError | IsADirectoryError):
                    continue
                if isinstance(data, Exception):
                    raise data  # a record that cannot be read is not a deleted one
                self.reads += 1
                step, key, token = changed[path]
                info = examine(RecordName(step, key), data)
                if info is None:  # kept as text, to be reported as it is
                    fresh.append((step, key, *token, 0, 0.0, None, None, data))
                else:  # kept as checked: listings build it again without parsing it
                    created, tags = info.created.timestamp(), tags_json(info)
                    fresh.append((step, key, *token, 1, created, tags, pack_checked(info), None))
        gone = [step for step, plan in zip(steps, plans, strict=True) if plan is None]
        with _transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", fresh
            )
            for step in gone:
                conn.execute("DELETE FROM records WHERE step_id=?", (step,))
                conn.execute("DELETE FROM folders WHERE step_id=?", (step,))
            for plan in plans:
                if plan is None:
                    continue
                step, mtime, _changed, removed, subdirs = plan
                conn.executemany(
                    "DELETE FROM records WHERE step_id=? AND key=?", [(step, k) for k in removed]
                )
                # A folder changed too recently may change again within the same clock tick.
                racy = time.time_ns() - mtime < RACY_NS
                conn.execute(
                    "INSERT OR REPLACE INTO folders VALUES (?, ?, ?, NULL)",
                    (step, -1 if racy else mtime, json.dumps(subdirs)),
                )

    def _plan(
        self, conn: sqlite3.Connection, step: str
    ) -> tuple[str, int, dict[str, tuple[str, tuple[int, int, int]]], list[str], list[str]] | None:
        """(step, folder time, changed files by path, keys gone, sub-folders) of one
        folder; None if the folder is gone."""
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
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(name)  # as of the folder's time taken above
                continue
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
        removed = [key for key in indexed if key not in present]
        return step, mtime, changed, removed, sorted(subdirs)


def _scope(folder: str, step_id: str | None) -> tuple[str, tuple[Any, ...]]:
    """The SQL condition (and its arguments) of the records of exactly ``step_id``, or
    of every step id under ``folder``."""
    if step_id is not None:
        return "step_id=?", (step_id,)
    base = folder.strip("/")
    if not base:
        return "1", ()
    return "(step_id=? OR substr(step_id, 1, ?)=?)", (base, len(base) + 1, base + "/")


_created = attrgetter("created")


@contextlib.contextmanager
def _collector_paused() -> Any:
    """Pause Python's cyclic garbage collector while a listing builds its records.

    Each record is three new objects that the collector counts; building tens of
    thousands of them would run it many times over, scanning every object in the
    process each full run, and it would find nothing: records hold no cycles. The
    objects are looked at later, as any others are. A collector already switched off
    stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
