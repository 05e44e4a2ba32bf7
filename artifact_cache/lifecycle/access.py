"""Read times: when this process read artifacts, and the access files that share them.

Reads are recorded without a write per read: each process keeps the times it read
artifacts in memory, per store, and writes them as one small file of its own,
``<root>/access/<process>.json``, at most once a minute (`ACCESS_FLUSH_SECONDS`), before
a prune and when the interpreter exits. A prune merges every access file (an unreadable
or hostile one is ignored) and compacts them into one. May import storage; the clock is
passed in by retention, whose clock it is.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping

from ..storage import TMP_PREFIX, FileEntry, Storage

__all__ = ["ACCESS_FLUSH_SECONDS"]

ACCESS_FLUSH_SECONDS = 60.0
"""A process writes the read times it collected at most this often per store."""

ACCESS_FORMAT = "artifact_cache.access"
_ACCESS_VERSION = 1
_ACCESS_FILE_MAX = 16 * 2**20
"""An access file larger than this is ignored (and left alone): none is that large."""
_ACCESS_ENTRIES_MAX = 200_000
"""Read times one process keeps per store; beyond, the oldest are forgotten."""
_EXIT_SECONDS = 2.0
"""Time the interpreter's exit may spend writing the last read times of every store."""
_STALE_TEMPORARY = 3600.0


def _process_name() -> str:
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}.json"


_process_lock = threading.Lock()
_process: tuple[int, str] | None = None


def process_file() -> str:
    """The access file name of this process (a forked child gets a name of its own)."""
    global _process
    with _process_lock:
        if _process is None or _process[0] != os.getpid():
            _process = (os.getpid(), _process_name())
        return _process[1]


def access_text(seen: Mapping[tuple[str, str], float]) -> bytes:
    """An access file's content: ``{"format", "version", "accessed": [[step, key, t], ...]}``."""
    entries = [[s, k, round(t, 3)] for (s, k), t in sorted(seen.items())]
    data = {"format": ACCESS_FORMAT, "version": _ACCESS_VERSION, "accessed": entries}
    return json.dumps(data, separators=(",", ":")).encode()


def parse_access(data: bytes) -> Iterator[tuple[str, str, float]]:
    """The ``(step_id, key, time)`` entries of an access file; nothing from a bad one.

    Entries of the wrong shape are skipped one by one; a file that is not JSON of the
    documented form gives nothing. Never raises.
    """
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(parsed, dict) or parsed.get("format") != ACCESS_FORMAT:
        return
    if parsed.get("version") != _ACCESS_VERSION or not isinstance(parsed.get("accessed"), list):
        return
    for entry in parsed["accessed"]:
        if not (isinstance(entry, list) and len(entry) == 3):
            continue
        step_id, key, when = entry
        if not (isinstance(step_id, str) and isinstance(key, str)):
            continue
        if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
            continue
        yield step_id, key, float(when)


class _Usage:
    """One store root's retention state in this process: when artifacts were read, and
    the saves since the last prune (shared by every store object on that root)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.seen: dict[tuple[str, str], float] = {}
        self.dirty = False
        self.flushed_at = clock()
        self.storage: Storage | None = None
        self.saves = 0
        self.pruned_at = -math.inf
        self.kept = 0
        self.pruning = threading.Lock()

    def used(self, storage: Storage, step_id: str, key: str) -> None:
        now = self.clock()
        lock = self.lock
        lock.acquire()  # (as ``with``, which costs twice as much on every read)
        try:
            self.seen[(step_id, key)] = now
            self.dirty = True
            self.storage = storage
            due = now - self.flushed_at >= ACCESS_FLUSH_SECONDS
        finally:
            lock.release()
        if due:
            # A read must not fail because its time could not be written: it is advisory.
            with contextlib.suppress(Exception):
                self.flush(storage)

    def snapshot(self) -> dict[tuple[str, str], float]:
        with self.lock:
            return dict(self.seen)

    def flush(self, storage: Storage) -> None:
        """Write this process's read times to its access file, if any are new."""
        with self.lock:
            if not self.dirty:
                return
            if len(self.seen) > _ACCESS_ENTRIES_MAX:
                newest = sorted(self.seen.items(), key=lambda item: item[1])
                self.seen = dict(newest[-_ACCESS_ENTRIES_MAX // 2 :])
            text = access_text(self.seen)
            self.dirty = False
            self.flushed_at = self.clock()
        try:
            storage.put_access(process_file(), text)
        except BaseException:
            with self.lock:
                self.dirty = True
            raise

    def forget(self) -> None:
        with self.lock:
            self.seen.clear()
            self.dirty = False

    def pruned(self, kept: int) -> None:
        with self.lock:
            self.saves = 0
            self.pruned_at = time.monotonic()
            self.kept = kept


_usage_lock = threading.Lock()
_usages: dict[str, _Usage] = {}


def _usage(storage: Storage, clock: Callable[[], float]) -> _Usage:
    """The state of ``storage``'s root in this process (made on first use, with ``clock``)."""
    where = storage.uri(storage.root)
    with _usage_lock:
        found = _usages.get(where)
        if found is None:
            found = _usages[where] = _Usage(clock)
        return found


def _flush_at_exit() -> None:
    """Write the read times not written yet, of every store but ``memory://`` ones
    (which end with the process), within `_EXIT_SECONDS` in all."""
    with _usage_lock:
        pending = [
            (u, u.storage)
            for u in _usages.values()
            if u.dirty and u.storage is not None and (u.storage.is_local or u.storage.remote)
        ]
    if not pending:
        return

    def work(usage: _Usage, storage: Storage) -> None:
        with contextlib.suppress(Exception):
            usage.flush(storage)

    # One thread per store, all waited for together: a store whose endpoint is gone
    # (or slow) delays the exit by the budget at most, and holds up no other store.
    threads = [
        threading.Thread(target=work, args=item, name="artifact-cache-access", daemon=True)
        for item in pending
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + _EXIT_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _register_at_exit() -> None:
    # Run before concurrent.futures shuts its thread pools down at exit (threading's own
    # exit hooks run first, newest first): s3fs's HTTP client resolves names in one, and
    # fails with "cannot schedule new futures after shutdown" in a plain atexit handler.
    import concurrent.futures.thread  # noqa: F401  (its hook first: ours then runs before it)

    hook = getattr(threading, "_register_atexit", None)
    if hook is not None:
        with contextlib.suppress(RuntimeError):
            hook(_flush_at_exit)
            return
    atexit.register(_flush_at_exit)


_register_at_exit()


def read_access(storage: Storage) -> tuple[dict[tuple[str, str], float], list[FileEntry]]:
    """Every access file merged (latest time per artifact), and the files read."""
    entries = [e for e in storage.access_files() if e.size <= _ACCESS_FILE_MAX]
    texts = storage.read_many([e.path for e in entries])
    merged: dict[tuple[str, str], float] = {}
    read = []
    for entry in entries:
        data = texts.get(entry.path)
        if not isinstance(data, bytes):
            continue  # gone meanwhile, or unreadable: ignored, never fatal
        read.append(entry)
        _merge(merged, ((s, k, t) for s, k, t in parse_access(data)))
    return merged, read


def _merge(into: dict[tuple[str, str], float], entries: Iterable[tuple[str, str, float]]) -> None:
    for step_id, key, when in entries:
        name = (step_id, key)
        if when > into.get(name, -math.inf):
            into[name] = when


def _compact(
    storage: Storage,
    access: Mapping[tuple[str, str], float],
    files: list[FileEntry],
    present: set[tuple[str, str]],
) -> None:
    """Merge the access files read into one (only times of artifacts still there), then
    remove them. A process whose file goes writes everything it knows again next time."""
    seen = {name: t for name, t in access.items() if name in present}
    storage.put_access(f"compact-{uuid.uuid4().hex}.json", access_text(seen))
    now = time.time()
    stale = [
        e
        for e in storage.access_files()
        if e.name.startswith(TMP_PREFIX) and now - e.mtime > _STALE_TEMPORARY
    ]
    storage.remove_files(files + stale)
