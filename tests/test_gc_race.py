"""gc and prune against saves that re-use a stored payload: no save that returned loses
its payload (docs/format.md "Garbage").

A save that re-uses a payload file holds the store's gc lock (shared) from publishing it
to checking it after its record; gc and prune hold it (exclusive) around their last look
at the records and the removal. The deterministic tests run a save at the dangerous
point, in a thread; the last one runs gc in a real process against a saving loop.
"""

from __future__ import annotations

import fcntl
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import artifact_cache as ac
from artifact_cache.storage import gclock

VALUE = os.urandom(64 * 2**10)  # a payload file of its own (not inline), below 16 MiB


def _url(backend: str, tmp_path: Path) -> str:
    return (
        str(tmp_path / "store") if backend == "local" else f"memory://gc-race-{os.urandom(8).hex()}"
    )


class _Saver:
    """A save run in a thread from inside a gc or prune, at the dangerous point:
    `run` returns once the save has returned or is waiting for the gc lock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, save: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.waiting = threading.Event()
        self.results: list[Any] = []
        self.thread = threading.Thread(target=self._save, args=(save,))
        self._spy(monkeypatch)

    def _save(self, save: Callable[[], Any]) -> None:
        try:
            self.results.append(save())
        except BaseException as exc:  # reported by the test
            self.results.append(exc)
        finally:
            self.done.set()

    def _spy(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Note when the save thread asks for the lock shared (it then waits for gc)."""
        real_flock = fcntl.flock

        def flock(fd: int, how: int) -> None:
            if how == fcntl.LOCK_SH and threading.current_thread() is self.thread:
                self.waiting.set()
            real_flock(fd, how)

        monkeypatch.setattr(fcntl, "flock", flock)
        real_shared = gclock.MemoryLock.shared

        def shared(lock: gclock.MemoryLock) -> Any:
            if threading.current_thread() is self.thread:
                self.waiting.set()
            return real_shared(lock)

        monkeypatch.setattr(gclock.MemoryLock, "shared", shared)

    def run(self) -> None:
        """Start the save; return when it returned or waits for the lock."""
        self.thread.start()
        for _poll in range(6000):  # at most a minute
            if self.done.wait(0.01) or self.waiting.is_set():
                return
        raise AssertionError("the save neither returned nor waited for the gc lock")

    def result(self) -> Any:
        self.thread.join(60)
        assert self.done.is_set(), "the save did not end"
        [result] = self.results
        if isinstance(result, BaseException):
            raise result
        return result


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_save_during_gc_last_look_keeps_its_payload(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that re-uses an orphaned payload, started just after gc's last look at the
    records (before its removal), returns a record whose payload is there: it waits for
    the removal and then writes the payload again."""
    url = _url(backend, tmp_path)
    ac.open_store(url).save("a", VALUE, serializer="raw")
    ac.open_store(url).delete("a", purge=True)  # the payload is garbage now
    collector, saver = ac.open_store(url), ac.open_store(url)  # two processes, in effect
    save = _Saver(monkeypatch, lambda: saver.save("a", VALUE, serializer="raw"))
    real_look = collector._referenced

    def last_look(**kwargs: Any) -> set[str]:
        found = real_look(**kwargs)
        if kwargs.get("warn") is False and not save.thread.is_alive() and not save.done.is_set():
            save.run()  # between the last look and the removal
        return found

    monkeypatch.setattr(collector, "_referenced", last_look)
    try:
        report = collector.gc(grace=0)
    finally:
        info = save.result()
    assert saver.get("a") == VALUE
    assert ac.open_store(url).load(info) == VALUE
    # The save waited for the removal, and then wrote the payload again.
    assert save.waiting.is_set() and report.removed == 1


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_save_during_prune_removal_keeps_its_payload(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for prune: a save re-using the payload of an artifact prune removed,
    started after prune's last look and its check of the payload's time, keeps it."""
    url = _url(backend, tmp_path)
    pruner = ac.open_store(url, prune_every=0)
    pruner.save("old", VALUE, serializer="raw")
    pruner.save("new", b"another payload" * 2000, serializer="raw")
    saver = ac.open_store(url)
    save = _Saver(monkeypatch, lambda: saver.save("late", VALUE, serializer="raw"))
    storage = pruner._storage
    real_entries = storage.object_entries
    calls = []

    def entries(digests: Any) -> Any:
        found = real_entries(digests)
        calls.append(digests)
        if len(calls) == 2:  # the check of the times, after the last look
            save.run()
        return found

    monkeypatch.setattr(storage, "object_entries", entries)
    try:
        report = pruner.prune(max_count=1, grace=0)
    finally:
        info = save.result()
    assert saver.get("late") == VALUE and ac.open_store(url).load(info) == VALUE
    assert [a.step_id for a in report.removed] == ["old"]
    assert len(calls) == 2 and save.waiting.is_set()
    assert report.payloads_removed == 1


def test_object_store_gc_looks_at_the_version_records_last(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On S3 (no lock) a save landing after gc's last look at the records (a repeated
    save uploads nothing: its version record and record, then a HEAD, so the payload's
    time stays old) is seen by the listing of version records gc makes just before
    removing."""
    from conftest import make_url

    url = make_url("s3", tmp_path, request)
    saver = ac.open_store(url)
    saver.save("a", VALUE, serializer="raw")
    saver.delete("a", purge=True)
    collector = ac.open_store(url)
    real_look = collector._referenced
    saved = []

    def last_look(**kwargs: Any) -> set[str]:
        found = real_look(**kwargs)
        if kwargs.get("warn") is False:
            saved.append(saver.save("a", VALUE, serializer="raw"))  # after the last look
        return found

    monkeypatch.setattr(collector, "_referenced", last_look)
    report = collector.gc(grace=0)
    assert len(saved) == 1
    assert saver.get("a") == VALUE and ac.open_store(url).load(saved[0]) == VALUE
    assert report.removed == 0


def test_object_store_gc_lists_the_version_records_until_none_is_new(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gc lists the version records again while new ones appear: a save re-using the
    payload seen by a later listing keeps it; while saves never stop it removes after
    five listings."""
    from conftest import make_url

    url = make_url("s3", tmp_path, request)
    saver = ac.open_store(url)
    saver.save("a", VALUE, serializer="raw")
    saver.delete("a", purge=True)
    collector = ac.open_store(url)
    storage = collector._storage
    real_names = storage.version_names
    listings: list[int] = []

    def version_names(folder: str = "") -> Any:
        listings.append(1)  # 1: gc's first look, 2: its last look, 3...: after it
        if len(listings) == 3:
            saver.save("other", b"o" * 20_000, serializer="raw")
        if len(listings) == 4:
            saver.save("a", VALUE, serializer="raw")
        return real_names(folder)

    monkeypatch.setattr(storage, "version_names", version_names)
    assert collector.gc(grace=0).removed == 0
    assert len(listings) == 4  # the second after the last look found "a"
    assert saver.get("a") == VALUE
    # Saves that never stop: after five listings the payload goes all the same.
    saver.delete("a", purge=True)
    listings.clear()

    def always_new(folder: str = "") -> Any:
        listings.append(1)
        saver.save(f"busy/{len(listings)}", b"b" * 20_000, serializer="raw")
        return real_names(folder)

    monkeypatch.setattr(storage, "version_names", always_new)
    assert collector.gc(grace=0).removed == 1
    assert len(listings) == 2 + 5


def test_a_killed_save_releases_the_lock(tmp_path: Path) -> None:
    """A process killed while it holds the gc lock (shared) leaves no lock behind: gc
    runs to the end afterwards."""
    url = str(tmp_path / "store")
    store = ac.open_store(url)
    store.save("a", VALUE, serializer="raw")
    store.delete("a", purge=True)
    holder = textwrap.dedent(
        """
        import sys, time
        import artifact_cache as ac
        storage = ac.open_store(sys.argv[1])._storage
        hold = storage.payload_hold()
        hold.take()
        print("held", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder, url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        lock = Path(url) / gclock.LOCK_NAME
        fd = os.open(lock, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):  # held by the other process
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        proc.kill()
        proc.wait(60)
    assert store.gc(grace=0).removed == 1


KILLED_SAVER = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    import artifact_cache as ac
    url, about, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    value = Path(sys.argv[4]).read_bytes()
    store = ac.open_store(url)
    real_put_record = store._storage.put_record

    def put_record_and_die(*args, **kwargs):
        about.touch()  # its payload is published: the record comes next
        for _poll in range(6000):
            if go.exists():
                break
            time.sleep(0.01)
        real_put_record(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # before checking the payload

    store._storage.put_record = put_record_and_die
    store.save("a", value, serializer="raw")
    """
)


def test_a_save_killed_after_its_record_leaves_its_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saver killed (SIGKILL) right after writing its record, with a gc started
    between its payload and its record, leaves a record whose payload is there: the gc
    waits for the save's lock, which dies with the process, and then sees the record."""
    url = str(tmp_path / "store")
    store = ac.open_store(url)
    store.save("a", VALUE, serializer="raw")
    store.delete("a", purge=True)  # the payload is garbage now
    about, go, value = tmp_path / "about", tmp_path / "go", tmp_path / "value"
    value.write_bytes(VALUE)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVER, url, str(about), str(go), str(value)]
    )
    asking = threading.Event()  # the gc asks for the lock (and waits for the saver)
    real_flock = fcntl.flock

    def flock(fd: int, how: int) -> None:
        if how == fcntl.LOCK_EX:
            asking.set()
        real_flock(fd, how)

    monkeypatch.setattr(fcntl, "flock", flock)
    reports: list[Any] = []
    collector = ac.open_store(url)
    gc = threading.Thread(target=lambda: reports.append(collector.gc(grace=0)))
    try:
        for _poll in range(6000):
            if about.exists() or proc.poll() is not None:
                break
            time.sleep(0.01)
        assert about.exists(), "the saver did not get to its record"
        gc.start()
        for _poll in range(6000):  # until the gc is removing, or has removed
            if asking.wait(0.01) or not gc.is_alive():
                break
        go.touch()
        assert proc.wait(60) == -9  # killed before checking its payload
        gc.join(60)
    finally:
        go.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        gc.join(60)
    assert not gc.is_alive()
    assert ac.open_store(url).get("a") == VALUE  # the record and its payload
    assert [r.removed for r in reports] == [0]


def test_a_child_forked_during_a_save_holds_no_lock(tmp_path: Path) -> None:
    """A process forked while a thread of its parent holds the lock (mid-save) does not
    keep it (its copy of the open lock file would, for as long as it lives)."""
    url = str(tmp_path / "store")
    storage = ac.open_store(url)._storage
    taken, release = threading.Event(), threading.Event()

    def save() -> None:
        with storage.payload_hold() as hold:
            hold.take()
            taken.set()
            release.wait(60)

    thread = threading.Thread(target=save)
    thread.start()
    child = None
    try:
        assert taken.wait(60)
        started, ready = os.pipe()
        with warnings.catch_warnings():  # (a fork with threads running: on purpose)
            warnings.simplefilter("ignore", DeprecationWarning)
            child = os.fork()
        if child == 0:  # the child: says it runs, and lives on for a while
            try:
                os.write(ready, b"x")
                time.sleep(60)
            finally:
                os._exit(0)
        os.close(ready)
        assert os.read(started, 1) == b"x"
        os.close(started)
        release.set()
        thread.join(60)
        fd = os.open(Path(url) / gclock.LOCK_NAME, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free, though the child lives
        finally:
            os.close(fd)
    finally:
        release.set()
        thread.join(60)
        if child:
            os.kill(child, 9)
            os.waitpid(child, 0)


def test_the_lock_file_is_nothing_else(tmp_path: Path) -> None:
    """``gc.lock`` is no record, payload or temporary: listings, gc and clear leave it."""
    store = ac.open_store(str(tmp_path / "store"))
    store.save("a", VALUE, serializer="raw")
    lock = tmp_path / "store" / gclock.LOCK_NAME
    assert lock.exists()
    assert [i.step_id for i in store.list()] == ["a"]
    assert store.gc(grace=0).removed == 0
    store.delete("a", purge=True)
    assert store.gc(grace=0).removed == 1
    store.save("b", VALUE, serializer="raw")
    store.clear()
    assert lock.exists() and store.list() == []
    store.save("c", VALUE, serializer="raw")
    assert store.get("c") == VALUE


def test_a_filesystem_without_flock_saves_and_collects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where ``flock`` is refused (some network mounts), saves and gc go on unlocked,
    with the measures object stores take (the final listing of version records)."""
    import errno

    def refuse(fd: int, how: int) -> None:
        raise OSError(errno.ENOLCK, "no locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    store = ac.open_store(str(tmp_path / "store"))
    assert store._storage.payloads_locked  # until a lock is asked for
    store.save("a", VALUE, serializer="raw")
    assert not store._storage.payloads_locked
    store.delete("a", purge=True)
    store.save("b", b"other" * 10_000, serializer="raw")
    assert store.gc(grace=0).removed == 1
    assert store.get("b") == b"other" * 10_000


# --------------------------------------------------------------------------- real processes
COLLECTOR = textwrap.dedent(
    """
    import os, sys, warnings
    import artifact_cache as ac
    warnings.simplefilter("ignore")
    store = ac.open_store(sys.argv[1])
    count, stop = sys.argv[2], sys.argv[3]
    removed = 0
    for passes in range(1, 5001):
        if os.path.exists(stop):
            break
        removed += store.gc(grace=0).removed
        with open(count + ".tmp", "w") as f:
            f.write(f"{passes} {removed}")
        os.replace(count + ".tmp", count)
    """
)

ITERATIONS = 50
"""Saves that re-use a payload gc may be removing, in the real-process test."""


def _passes(count: Path) -> tuple[int, int]:
    try:
        passes, removed = count.read_text().split()
    except (FileNotFoundError, ValueError):
        return 0, 0
    return int(passes), int(removed)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A process running gc(grace=0) on a local store, pass after pass (at most 5000);
    stopped at the end of the test."""
    url = str(tmp_path / "store")
    store = ac.open_store(url)
    for i in range(300):  # inline records: they make gc's last look take a while
        store.save(f"z/{i:04d}", i)
    count, stop = tmp_path / "passes", tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, "-c", COLLECTOR, url, str(count), str(stop)])
    try:
        yield url, count
    finally:
        stop.touch()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_every_returned_save_loads_while_gc_runs(collector: tuple[str, Path]) -> None:
    """A process runs gc over and over while this one deletes an artifact (its payload
    becomes garbage) and saves the same value again (re-using the payload file): every
    save that returned loads, after any gc pass that may have been running has ended."""
    url, count = collector
    store = ac.open_store(url)
    rng = random.Random(1234)
    for it in range(ITERATIONS):
        store.delete("a", purge=True)  # the payload is garbage now
        # Save while a gc pass that found the payload unnamed is under way (at some
        # point of it), or, every fifth time, after one removed it.
        _wait_passes(count, _passes(count)[0] + (2 if it % 5 == 0 else 1))
        time.sleep(rng.uniform(0, 0.05))
        info = store.save("a", VALUE, serializer="raw")
        _wait_passes(count, _passes(count)[0] + 2)  # a pass begun after the save ended
        assert store.load(info) == VALUE
        assert store.get("a") == VALUE
    assert _passes(count)[1] > 0  # gc did remove the payload now and then


def _wait_passes(count: Path, passes: int) -> None:
    for _poll in range(6000):  # at most a minute or so
        if _passes(count)[0] >= passes:
            return
        time.sleep(0.01)
    raise AssertionError("the gc process stopped making passes")
