"""Retention: max_size, max_count and max_age enforced after saves and by prune, least
recently used first; access times; step(max_age=); the prune command; concurrent saves."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import pickle
import subprocess
import sys
import textwrap
import threading
import time
import types
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest
from procs import run_threads

import artifact_cache as ac
from artifact_cache import saving
from artifact_cache.cli import main
from artifact_cache.lifecycle import retention


def backdate(store: ac.ArtifactStore, step_id: str, seconds: float, key: str = "default") -> None:
    """Rewrite a record as if it had been created ``seconds`` earlier."""
    info = store.info(step_id, key=key)
    old = attrs.evolve(info, created=info.created - dt.timedelta(seconds=seconds))
    store._storage.put_record(step_id, key, old.to_json())


def _clock_off(monkeypatch: pytest.MonkeyPatch, by: dt.timedelta) -> None:
    """Make saves in this process read a clock that is ``by`` off (as another machine's)."""
    real = dt.datetime

    class Off(real):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real.now(tz) + by

    monkeypatch.setattr(saving, "dt", types.SimpleNamespace(datetime=Off, UTC=dt.UTC))


def names(store: ac.ArtifactStore) -> set[str]:
    return {i.step_id for i in store.list()}


def blob(tag: int, size: int = 20_000) -> bytes:
    """Raw bytes of exactly ``size`` (above 16 KiB: a payload file of its own)."""
    return bytes([tag]) * size


# --------------------------------------------------------------------------- options
class TestOptions:
    @pytest.mark.parametrize(
        ("option", "value", "words"),
        [
            ("max_size", -1, "must not be negative"),
            ("max_size", "lots", "like '500MiB'"),
            ("max_size", 1.5, "an int of bytes"),
            ("max_size", True, "an int of bytes"),
            ("max_count", -3, "must not be negative"),
            ("max_count", "10", "must be an int"),
            ("max_age", -1, "0 or more seconds"),
            ("max_age", dt.timedelta(seconds=-5), "0 or more seconds"),
            ("max_age", float("nan"), "0 or more seconds"),
            ("max_age", "soon", "like '7d'"),
            ("max_age", [1], "a datetime.timedelta"),
            ("prune_every", -1, "must not be negative"),
        ],
    )
    def test_bad_values_are_refused(self, option: str, value: Any, words: str) -> None:
        """A negative or mistyped limit is an InvalidOptionError naming the option and store."""
        url = f"memory://test-{uuid.uuid4().hex}"
        with pytest.raises(ac.InvalidOptionError, match=option) as err:
            ac.open_store(url, **{option: value})
        assert words in str(err.value) and url in str(err.value)
        assert isinstance(err.value, ValueError)

    def test_units(self) -> None:
        """Sizes and ages are read in the units the docs give."""
        store = ac.open_store(
            f"memory://test-{uuid.uuid4().hex}", max_size="500MiB", max_age="12h", max_count=7
        )
        assert store.retention.max_size == 500 * 2**20
        assert store.retention.max_age == 12 * 3600
        assert store.retention.max_count == 7
        assert retention.parse_size("10GB") == 10 * 10**9
        assert retention.parse_size("2G") == 2 * 2**30
        assert retention.parse_age("7d") == 7 * 86400
        assert retention.parse_age(dt.timedelta(minutes=3)) == 180

    def test_pickled_store_keeps_its_limits(self, tmp_path: Path) -> None:
        """A store sent to a worker keeps its limits."""
        store = ac.open_store(str(tmp_path / "s"), max_count=3, max_age=dt.timedelta(days=1))
        again = pickle.loads(pickle.dumps(store))
        assert again.retention == store.retention
        assert again.retention.max_age == 86400


# --------------------------------------------------------------------------- limits
class TestMaxCount:
    def test_after_saves(self, store_url: str) -> None:
        """With max_count=3, saves keep the 3 most recently used artifacts, and only them."""
        store = ac.open_store(store_url, max_count=3, prune_every=1)
        for i in range(6):
            store.save(f"s{i}", i)
        assert names(store) == {"s3", "s4", "s5"}
        assert [store.get(f"s{i}") for i in (3, 4, 5)] == [3, 4, 5]

    def test_through_prune(self, store_url: str) -> None:
        """prune(dry_run=True) removes nothing and reports what prune then removes."""
        store = ac.open_store(store_url, max_count=2, prune_every=0)
        for i in range(5):
            store.save(f"s{i}", {"i": i})
        assert len(store.list()) == 5  # prune_every=0: saves enforce nothing
        preview = store.prune(dry_run=True)
        assert preview.dry_run and len(store.list()) == 5
        assert [a.step_id for a in preview.removed] == ["s0", "s1", "s2"]
        assert preview.by_rule == {"max_count": 3}
        report = store.prune()
        assert [a.step_id for a in report.removed] == ["s0", "s1", "s2"]
        assert names(store) == {"s3", "s4"}
        assert (report.kept, report.skipped) == (2, 0)
        assert store.prune().removed == ()
        unlimited = ac.open_store(store_url)
        assert unlimited.prune().removed == () and len(unlimited.list()) == 2

    def test_reads_count_as_use(self, store_url: str) -> None:
        """An old artifact read recently survives over a newer one nobody read."""
        store = ac.open_store(store_url, prune_every=0)
        for name in ("old", "middle", "new"):
            store.save(name, name)
        assert store.get("old") == "old"
        report = store.prune(max_count=2)
        assert [a.step_id for a in report.removed] == ["middle"]
        assert names(store) == {"old", "new"}
        assert report.removed[0].last_used == report.removed[0].created

    def test_memory_store_holds_at_most_max_count(self) -> None:
        """A memory:// store's max_count caps what it holds: within prune_every - 1 more
        between prunes, exactly max_count after one."""
        store = ac.open_store(f"memory://test-{uuid.uuid4().hex}", max_count=10)
        every = retention.CADENCE["memory"].saves
        for i in range(100):
            store.save(f"s{i}", i)
            assert len(store.list()) <= 10 + every - 1
        store.prune()
        assert names(store) == {f"s{i}" for i in range(90, 100)}


class TestCadence:
    def test_saves_prune_every_so_often(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Saves run a prune every 16 saves on memory://, more saves apart as the store
        grows (what the last prune kept / 16), and exactly every prune_every saves."""
        saves = 0
        runs: list[tuple[int, int]] = []  # (saves so far, artifacts kept)
        real = retention.prune

        def counting(store: ac.ArtifactStore, *args: Any, **kwargs: Any) -> Any:
            report = real(store, *args, **kwargs)
            runs.append((saves, report.kept))
            return report

        monkeypatch.setattr(retention, "prune", counting)

        def fill(store: ac.ArtifactStore, count: int) -> list[tuple[int, int]]:
            nonlocal saves
            saves = 0
            runs.clear()
            for i in range(count):
                saves += 1
                store.save(f"s{i}", i)
            return list(runs)

        small = ac.open_store(f"memory://test-{uuid.uuid4().hex}", max_count=10)
        assert fill(small, 64) == [(16, 10), (32, 10), (48, 10), (64, 10)]
        big = ac.open_store(f"memory://test-{uuid.uuid4().hex}", max_count=800)
        found = fill(big, 1200)
        gaps = [(b[0] - a[0], a[1]) for a, b in zip([(0, 0), *found], found, strict=False)]
        assert all(gap == max(16, kept // 16) for gap, kept in gaps), gaps
        assert found[-1][1] == 800 and len(found) < 1200 / 16
        exact = ac.open_store(f"memory://test-{uuid.uuid4().hex}", max_count=480, prune_every=5)
        assert [n for n, _ in fill(exact, 20)] == [5, 10, 15, 20]
        assert fill(ac.open_store(f"memory://test-{uuid.uuid4().hex}"), 40) == []  # no limits

    def test_threads_saving(self, store_url: str) -> None:
        """Threads saving into one store with limits prune without errors or warnings."""
        import warnings

        store = ac.open_store(store_url, max_count=8, prune_every=3)
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(12):
                    store.save(f"t{n}/{i}", [n, i])
                    # Other threads' saves may have pushed it out already: that is allowed.
                    with contextlib.suppress(ac.ArtifactNotFoundError):
                        assert store.get(f"t{n}/{i}") == [n, i]
            except BaseException as exc:  # reported below
                errors.append(exc)

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        assert errors == []
        store.prune()
        infos = store.list()
        assert len(infos) == 8
        assert all(
            store.load(i) == [int(i.step_id[1]), int(i.step_id.split("/")[1])] for i in infos
        )


class TestMaxAge:
    def test_through_prune(self, store_url: str) -> None:
        """max_age removes the artifacts created longer ago than it, and only them."""
        store = ac.open_store(store_url, max_age=dt.timedelta(hours=1), prune_every=0)
        for name in ("a", "b", "c"):
            store.save(name, name)
        backdate(store, "a", 7200)
        backdate(store, "c", 3700)
        _ = store.get("a")  # a read does not renew an age: max_age counts from creation
        preview = store.prune(dry_run=True)
        assert sorted(a.step_id for a in preview.removed) == ["a", "c"]
        assert names(store) == {"a", "b", "c"}
        report = store.prune()
        assert sorted(a.step_id for a in report.removed) == ["a", "c"]
        assert report.by_rule == {"max_age": 2}
        assert names(store) == {"b"}

    def test_after_saves(self, store_url: str) -> None:
        """A save prunes what has grown older than max_age."""
        store = ac.open_store(store_url, max_age=60, prune_every=1)
        store.save("old", 1)
        backdate(store, "old", 120)
        store.save("young", 2)
        assert names(store) == {"young"}

    def test_clock(self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ages are measured on retention's clock (what the step tests move)."""
        mem_store.save("x", 1)
        assert mem_store.prune(max_age=3600).removed == ()
        monkeypatch.setattr(retention, "clock", lambda: time.time() + 7200)
        assert [a.step_id for a in mem_store.prune(max_age=3600).removed] == ["x"]


class TestMaxSize:
    def test_through_prune(self, store_url: str) -> None:
        """max_size removes the least recently used until the bytes stored fit, and frees
        their payload files."""
        store = ac.open_store(store_url, prune_every=0)
        infos = [store.save(f"s{i}", blob(i), serializer="raw") for i in range(4)]
        storage = store._storage
        report = store.prune(max_size=45_000, grace=0)
        assert [a.step_id for a in report.removed] == ["s0", "s1"]
        assert report.by_rule == {"max_size": 2}
        assert names(store) == {"s2", "s3"}
        assert report.kept_size == 40_000 and report.size == 40_000
        assert report.payloads_removed == 2 and report.freed == 40_000
        assert not storage.has_payload(infos[0].digest)
        assert storage.has_payload(infos[2].digest)
        assert store.get("s2") == blob(2)

    def test_shared_payload_counts_once(self, store_url: str) -> None:
        """A payload two artifacts share counts once, and stays while one names it."""
        store = ac.open_store(store_url, prune_every=0)
        store.save("a", blob(1), serializer="raw")
        shared = store.save("b", blob(2), serializer="raw")
        store.save("c", blob(2), serializer="raw")
        assert store.prune(max_size=40_000, dry_run=True).removed == ()
        report = store.prune(max_size=20_000, grace=0)
        assert [a.step_id for a in report.removed] == ["a"]
        assert names(store) == {"b", "c"}
        store.delete("b")
        assert store.prune(max_size=20_000, grace=0).removed == ()
        assert store._storage.has_payload(shared.digest)  # "c" still names it
        assert store.get("c") == blob(2)

    def test_inline_payloads_count_by_size(self, store_url: str) -> None:
        """Small payloads stored inside their records count by their size."""
        store = ac.open_store(store_url, max_size=2_500, prune_every=1)
        for i in range(4):
            store.save(f"s{i}", blob(i, 1_000), serializer="raw")
        assert names(store) == {"s2", "s3"}

    def test_grace_keeps_young_payload_files(self, mem_store: ac.ArtifactStore) -> None:
        """A payload file younger than the grace period is left for gc (saves in flight)."""
        info = mem_store.save("a", blob(1), serializer="raw")
        mem_store.save("b", blob(2), serializer="raw")
        report = mem_store.prune(max_count=1)
        assert [a.step_id for a in report.removed] == ["a"]
        assert report.payloads_removed == 0
        assert mem_store._storage.has_payload(info.digest)
        assert mem_store.gc(grace=0).removed == 1


# --------------------------------------------------------------------------- access times
class TestAccessTimes:
    def test_reads_do_not_write_each_time(
        self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Reads note their time in memory; one small file is written at most once a
        minute, holding them all."""
        storage = mem_store._storage
        for name in ("a", "b"):
            mem_store.save(name, name)
        for _ in range(20):
            mem_store.get("a")
            mem_store.get("b")
        assert storage.access_files() == []
        later = time.time() + retention.ACCESS_FLUSH_SECONDS + 1
        monkeypatch.setattr(retention, "clock", lambda: later)
        mem_store.get("a")
        files = storage.access_files()
        assert len(files) == 1
        data = json.loads(storage.fs.cat_file(files[0].path))
        assert data["format"] == "artifact_cache.access"
        assert {(s, k) for s, k, _ in data["accessed"]} == {("a", "default"), ("b", "default")}

    @pytest.mark.parametrize("backend", ["local", "s3"])
    def test_reads_in_another_process(
        self, backend: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """What another process read (written when it exits) counts in this one's prune."""
        from conftest import make_url

        url = make_url(backend, tmp_path, request)
        store = ac.open_store(url, prune_every=0)
        for name in ("old", "middle", "new"):
            store.save(name, name)
        reader = "import sys, artifact_cache as ac; ac.open_store(sys.argv[1]).get('old')"
        subprocess.run([sys.executable, "-c", reader, url], check=True, timeout=60)
        assert len(store._storage.access_files()) == 1
        report = store.prune(max_count=2)
        assert [a.step_id for a in report.removed] == ["middle"]

    def test_hostile_access_files_are_ignored(self, store: ac.ArtifactStore) -> None:
        """Access files that are not of the documented form never stop a prune."""
        for name in ("a", "b", "c"):
            store.save(name, name)
        bad = [
            b"\xff\xfe not json",
            b"[1, 2, 3]",
            b'{"format": "artifact_cache.access", "version": 99, "accessed": []}',
            json.dumps(
                {
                    "format": "artifact_cache.access",
                    "version": 1,
                    "accessed": [
                        ["a", "default", "yesterday"],
                        ["a", "default", None],
                        ["a", "default", True],
                        [1, "default", 5.0],
                        ["a"],
                        "a",
                        {"a": 1},
                    ],
                }
            ).encode(),
            b"[" * 100_000,
        ]
        for i, data in enumerate(bad):
            store._storage.put_access(f"bad{i}.json", data)
        report = store.prune(max_count=2)
        assert [a.step_id for a in report.removed] == ["a"]

    def test_prune_compacts_access_files(self, store: ac.ArtifactStore) -> None:
        """A prune merges every access file into one, keeping the times of artifacts
        still there."""
        storage = store._storage
        for name in ("a", "b", "c"):
            store.save(name, name)
        now = time.time()
        for i, entries in enumerate([[["a", "default", now]], [["gone", "default", now]]]):
            text = {"format": "artifact_cache.access", "version": 1, "accessed": entries}
            storage.put_access(f"p{i}.json", json.dumps(text).encode())
        assert store.prune(max_count=2).removed[0].step_id == "b"
        files = storage.access_files()
        assert len(files) == 1 and files[0].name.startswith("compact-")
        data = json.loads(storage.fs.cat_file(files[0].path))
        assert [e[:2] for e in data["accessed"]] == [["a", "default"]]

    def test_gc_keeps_and_clear_removes_access_files(self, store: ac.ArtifactStore) -> None:
        """Access files are not garbage for gc; clear removes them with everything else."""
        store.save("a", "a")
        store.get("a")
        store.prune(max_count=5)  # writes this process's read times
        assert len(store._storage.access_files()) == 1
        store.gc(grace=0)
        assert len(store._storage.access_files()) == 1
        store.clear()
        assert store._storage.access_files() == []

    def test_read_only_store_writes_no_access_file(self, tmp_path: Path) -> None:
        """A read-only store records nothing: it writes nothing."""
        url = str(tmp_path / "s")
        ac.open_store(url).save("a", 1)
        reader = ac.open_store(url, read_only=True)
        reader.get("a")
        assert reader.prune(max_count=0, dry_run=True).removed[0].step_id == "a"
        assert not (tmp_path / "s" / "access").exists()
        with pytest.raises(ac.ReadOnlyStoreError):
            reader.prune(max_count=0)

    def test_reads_in_threads_lose_no_access_time(self, mem_store: ac.ArtifactStore) -> None:
        """Threads reading at once: every artifact read is in the access file the next
        flush writes, with the time of its latest read."""
        for i in range(8):
            mem_store.save("t", i, key=f"k{i}")
        start = threading.Barrier(4, timeout=30)

        def work(n: int) -> None:
            start.wait()
            for i in range(50):
                mem_store.get("t", key=f"k{(n + i) % 8}")

        run_threads(work)
        usage, storage = mem_store._retention.usage, mem_store._storage
        assert usage.dirty
        before = time.time()
        mem_store.get("t", key="k0")  # the newest read of k0
        usage.flush(storage)
        (entry,) = storage.access_files()
        data = json.loads(storage.fs.cat_file(entry.path))
        times = {k: t for s, k, t in data["accessed"] if s == "t"}
        assert sorted(times) == [f"k{i}" for i in range(8)]
        assert times["k0"] >= round(before, 3) - 0.001 and not usage.dirty


# --------------------------------------------------------------------------- safety
class TestConcurrentSaves:
    def test_record_saved_again_meanwhile_is_kept(
        self, store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A chosen artifact saved again between the prune's listing and its removal stays."""
        for name in ("a", "b", "c"):
            store.save(name, name)
        real = retention._heads

        def listing_then_save(storage: Any) -> Any:
            found = real(storage)
            store.save("a", "saved again")  # another writer, right after the listing
            return found

        monkeypatch.setattr(retention, "_heads", listing_then_save)
        report = store.prune(max_count=1)
        assert [a.step_id for a in report.removed] == ["b"]
        assert report.skipped == 1
        assert store.get("a") == "saved again"

    @pytest.mark.parametrize("backend", ["memory", "local"])
    def test_payload_saved_again_meanwhile_is_kept(
        self,
        backend: str,
        tmp_path: Path,
        request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Where removals take no lock (object stores, local disks without flock), a
        payload re-used by a save whose record lands just after the prune's last look at
        the records is not removed (the save renewed the payload's time). (With the lock
        such a save waits for the removal: tests/test_gc_race.py.)"""
        from conftest import make_url

        from artifact_cache.storage.gclock import NoLock

        url = make_url(backend, tmp_path, request)
        store = ac.open_store(url, prune_every=0)
        monkeypatch.setattr(store._storage, "_gc_lock", NoLock())
        store.save("old", blob(7), serializer="raw")
        store.save("new", blob(8), serializer="raw")
        real = store._referenced

        def look_then_save(**kwargs: Any) -> set[str]:
            seen = real(**kwargs)
            ac.open_store(url).save("late", blob(7), serializer="raw")  # another writer
            return seen

        monkeypatch.setattr(store, "_referenced", look_then_save)
        report = store.prune(max_count=1, grace=0)
        assert [a.step_id for a in report.removed] == ["old"]
        assert report.payloads_removed == 0
        monkeypatch.undo()
        assert store.get("late") == blob(7)

    def test_save_between_the_last_read_and_the_removal_stays(
        self, store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A save of a chosen artifact that lands between the prune's last read of its
        record and the removal keeps its value, head and version (the head is put back
        from its version record); the chosen version and its history go."""
        old = [store.save("a", f"old {i}") for i in range(2)]
        real = retention._same
        saved: list[ac.ArtifactInfo] = []

        def read_then_save(storage: Any, chosen: Any, start: float) -> Any:
            now = real(storage, chosen, start)
            saved.append(store.save(chosen.step_id, "new", key=chosen.key))  # another writer
            return now

        monkeypatch.setattr(retention, "_same", read_then_save)
        report = store.prune(max_count=0)
        monkeypatch.undo()
        assert report.removed == () and report.skipped == 1
        [new] = saved
        assert store.get("a") == "new" and store.info("a").version == new.version
        assert [(i.version, i.status) for i in store.versions("a")] == [(new.version, "active")]
        assert store.get("a", version=new.version) == "new"
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("a", version=old[1].version)

    def test_newer_head_is_never_written_over(
        self, store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A save between the prune's read and the removal, and another one after the
        removal: the head is not put back over the newer save's."""
        store.save("a", "old")
        storage = store._storage
        real_same, real_read = retention._same, storage.read_versions
        saved: list[ac.ArtifactInfo] = []

        def read_then_save(storage: Any, chosen: Any, start: float) -> Any:
            now = real_same(storage, chosen, start)
            saved.append(store.save("a", "between"))
            return now

        def save_then_read(names: Any) -> Any:
            if len(saved) == 1:  # (after the removal, before the head is put back)
                saved.append(store.save("a", "newest"))
            return real_read(names)

        monkeypatch.setattr(retention, "_same", read_then_save)
        monkeypatch.setattr(storage, "read_versions", save_then_read)
        report = store.prune(max_count=0)
        monkeypatch.undo()
        between, newest = saved
        assert report.removed == () and report.skipped == 1
        assert store.get("a") == "newest" and store.info("a").version == newest.version
        assert [(i.version, i.status) for i in store.versions("a")] == [
            (newest.version, "active"),
            (between.version, "superseded"),
        ]

    def test_save_deleted_since_stays_deleted(
        self, store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A save between the prune's read and the removal that someone deleted
        meanwhile is not brought back; its tombstoned version stays in the history."""
        store.save("a", "old")
        real = retention._same
        saved: list[ac.ArtifactInfo] = []

        def read_save_delete(storage: Any, chosen: Any, start: float) -> Any:
            now = real(storage, chosen, start)
            saved.append(store.save("a", "new"))
            store.delete("a")
            return now

        monkeypatch.setattr(retention, "_same", read_save_delete)
        store.prune(max_count=0)
        monkeypatch.undo()
        assert not store.exists("a")
        assert [(i.version, i.status) for i in store.versions("a")] == [
            (saved[0].version, "tombstoned")
        ]

    def test_version_saved_ahead_before_the_prune_is_not_made_the_head(
        self, store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A saver whose clock runs an hour ahead saves first, one with a right clock then
        saves again (the head): the first one's version id says later, but it was there
        before the prune, so the prune removes the artifact with its whole history rather
        than make the superseded value the head again."""
        _clock_off(monkeypatch, dt.timedelta(hours=1))
        old = store.save("model", "old, superseded")
        monkeypatch.undo()
        new = store.save("model", "new")
        assert old.version > new.version and store.get("model") == "new"
        report = store.prune(max_count=0, grace=0)
        assert [(a.step_id, a.key) for a in report.removed] == [("model", "default")]
        assert report.skipped == 0 and not store.exists("model")
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("model")
        assert store.versions("model") == []
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("model", version=old.version)

    def test_save_during_the_prune_with_a_clock_behind_stays(
        self, store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A save whose head lands between the prune's read and the removal, from a
        saver whose clock runs an hour behind (its version id older than the chosen
        one's), keeps its head and version: what the prune listed before removing tells
        it, not the ids' times."""
        store.save("a", "old")
        real = retention._same
        saved: list[ac.ArtifactInfo] = []

        def read_then_save(storage: Any, chosen: Any, start: float) -> Any:
            now = real(storage, chosen, start)
            with pytest.MonkeyPatch.context() as behind:
                _clock_off(behind, -dt.timedelta(hours=1))
                saved.append(store.save("a", "new"))
            return now

        monkeypatch.setattr(retention, "_same", read_then_save)
        report = store.prune(max_count=0, grace=0)
        monkeypatch.undo()
        [new] = saved
        assert report.removed == () and report.skipped == 1
        assert store.get("a") == "new" and store.info("a").version == new.version
        assert [(i.version, i.status) for i in store.versions("a")] == [(new.version, "active")]

    def test_artifacts_newer_than_the_prune_stay(
        self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Artifacts created after the prune started are never removed, even over a limit."""
        for name in ("a", "b"):
            mem_store.save(name, name)
        past = time.time() - 3600
        monkeypatch.setattr(retention, "clock", lambda: past)
        report = mem_store.prune(max_count=0, max_age=0)
        assert report.removed == () and report.kept == 2


WRITER = textwrap.dedent(
    """
    import sys
    import time
    import artifact_cache as ac
    store = ac.open_store(sys.argv[1], prune_every=0)
    count = int(sys.argv[2])
    print("ready", flush=True)
    for i in range(count):
        size = 20_000 if i % 2 else 100  # payload files and inline payloads
        info = store.save(f"w/{i}", bytes([i % 256]) * size, serializer="raw")
        print(i, info.created.isoformat(), flush=True)
        time.sleep(0.002)
    """
)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_prune_while_another_process_saves(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prune in this process while another saves: no artifact created after a prune
    started is removed by it, nothing is removed unreported, every record left loads."""
    from conftest import make_url

    real = retention._heads
    pause = 0.05 if backend == "local" else 0.5

    def slow_listing(storage: Any) -> Any:
        time.sleep(pause)  # as on a large bucket: saves land between start and listing
        return real(storage)

    monkeypatch.setattr(retention, "_heads", slow_listing)
    url = make_url(backend, tmp_path, request)
    store = ac.open_store(url, prune_every=0)
    for i in range(6):
        store.save(f"before/{i}", i)
    count = 200 if backend == "local" else 40
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reports = []
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        while proc.poll() is None and len(reports) < 500:
            reports.append(store.prune(max_count=5, grace=0))
        # The rest through the text stream that read "ready" (it may hold lines already):
        # communicate() would read the raw pipe past them.
        proc.wait(timeout=120)
        assert proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    saved = {
        f"w/{line.split()[0]}": dt.datetime.fromisoformat(line.split()[1])
        for line in out.splitlines()
    }
    assert len(saved) == count and reports
    removed: dict[str, dt.datetime] = {}
    for report in reports:
        assert report.started is not None
        for artifact in report.removed:
            assert artifact.created < report.started
            removed[artifact.step_id] = artifact.created
    left = {i.step_id: i for i in store.list()}
    for step_id, created in saved.items():
        if step_id in left:
            assert left[step_id].created == created
        else:
            assert removed.get(step_id) == created, f"{step_id} vanished unreported"
    assert any(s.startswith("w/") for s in removed)
    # The slow listing let the writer save during prunes, which kept what it saved.
    assert any(r.kept > 5 for r in reports)
    for info in left.values():
        store.load(info)  # every record left has its payload


RESAVER = textwrap.dedent(
    """
    import sys
    import artifact_cache as ac
    store = ac.open_store(sys.argv[1], prune_every=0)
    print("ready", flush=True)
    for line in sys.stdin:  # a step id to save again, as the prune asks
        info = store.save(line.strip(), ("new", line.strip()))
        print(info.step_id, info.version, info.created.isoformat(), flush=True)
    """
)

FREE_RESAVER = textwrap.dedent(
    """
    import sys
    import artifact_cache as ac
    store = ac.open_store(sys.argv[1], prune_every=0)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in reversed(range(int(sys.argv[2]))):
        info = store.save(f"s/{i:03d}", ("free", i))
        print(info.step_id, info.version, info.created.isoformat(), flush=True)
    """
)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_prune_keeps_saves_made_while_it_removes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prune(max_count=0) over old steps while other processes save them again: one
    process saves every third step between the prune's last read of its record and
    the removal (the prune waits for it), another saves them all, unasked, from the
    moment the prune has chosen (all of them, in the order it removes). Every save
    made after the prune started keeps its head (or a later save's) and its version,
    and loads; nothing is removed unreported."""
    from conftest import make_url

    count = 60 if backend == "local" else 15
    url = make_url(backend, tmp_path, request)
    store = ac.open_store(url, prune_every=0)
    for i in range(count):
        store.save(f"s/{i:03d}", ("old", i))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in (RESAVER, FREE_RESAVER)
    ]
    asked, free = procs
    saved: list[list[str]] = []
    real = retention._same

    def read_then_save(storage: Any, chosen: Any, start: float) -> Any:
        now = real(storage, chosen, start)
        if not saved:  # the prune has chosen: the unasked saves begin
            assert free.stdin is not None
            free.stdin.write("go\n")
            free.stdin.flush()
        if int(chosen.step_id[2:]) % 3 == 0:
            assert asked.stdin is not None and asked.stdout is not None
            asked.stdin.write(f"{chosen.step_id}\n")
            asked.stdin.flush()
            saved.append(asked.stdout.readline().split())
        return now

    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        monkeypatch.setattr(retention, "_same", read_then_save)
        report = store.prune(max_count=0, grace=0)
        monkeypatch.undo()
        for proc in procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            proc.wait(timeout=120)
            if proc is free:
                saved.extend(line.split() for line in proc.stdout.read().splitlines())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc in procs:
        assert proc.returncode == 0, proc.stderr.read()[-3000:] if proc.stderr else ""
    assert report.started is not None and len(saved) == count + (count + 2) // 3
    assert report.skipped >= (count + 2) // 3  # every asked save was kept
    removed = {(a.step_id, a.created) for a in report.removed}
    heads = {i.step_id: i for i in store.list()}
    for step_id, version, created in saved:
        when = dt.datetime.fromisoformat(created)
        if when < report.started and (step_id, when) in removed:
            continue  # saved before the prune started, and reported removed
        head = heads.get(step_id)
        assert head is not None, f"{step_id} {version} lost its head"
        # One of the saves made since (of two at once, the last head written wins).
        assert head.version in {v for s, v, _c in saved if s == step_id}, step_id
        assert store.get(step_id, version=version)[1] in (step_id, int(step_id[2:]))
    for step_id, head in heads.items():
        assert store.load(head) is not None
        statuses = [i.status for i in store.versions(step_id)]
        assert statuses.count("active") == 1, (step_id, statuses)


# --------------------------------------------------------------------------- step(max_age)
class TestStepMaxAge:
    def test_expired_result_is_computed_again(self, store: ac.ArtifactStore) -> None:
        """An artifact older than the step's max_age is a miss: computed and saved again."""
        calls: list[int] = []

        @store.step("slow", max_age=dt.timedelta(hours=1))
        def slow(x: int) -> int:
            calls.append(x)
            return x * 2

        assert slow(3) == 6 and slow(3) == 6 and calls == [3]
        key = slow.key(3)
        assert slow.is_cached(3)
        backdate(store, "slow", 7200, key=key)
        assert not slow.is_cached(3)
        why = slow.explain(3)
        assert not why.hit and why.expired and "older than the step's max_age" in str(why)
        assert slow.call(3).cached is False and calls == [3, 3]
        assert slow.call(3).cached is True and calls == [3, 3]
        assert store.info("slow", key=key).created > dt.datetime.now(dt.UTC) - dt.timedelta(
            minutes=5
        )

    def test_clock_moves_past_max_age(
        self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Expiry follows retention's clock; without max_age nothing expires."""
        counted: list[int] = []

        @mem_store.step(max_age=60)
        def fresh(x: int) -> int:
            counted.append(x)
            return x

        @mem_store.step
        def forever(x: int) -> int:
            counted.append(-x)
            return x

        fresh(1), forever(1)
        monkeypatch.setattr(retention, "clock", lambda: time.time() + 120)
        fresh(1), forever(1)
        assert counted == [1, -1, 1]

    def test_bad_max_age(self, mem_store: ac.ArtifactStore) -> None:
        """A negative or mistyped max_age fails at decoration."""
        with pytest.raises(ac.InvalidOptionError, match="max_age"):
            mem_store.step(max_age=-1)(lambda: 1)
        with pytest.raises(ac.InvalidOptionError, match="max_age"):
            mem_store.step(max_age="a while")(lambda: 1)


# --------------------------------------------------------------------------- CLI
class TestCli:
    def test_prune(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """artifact-cache prune --dry-run lists and keeps; prune removes; --json reports."""
        url = str(tmp_path / "s")
        store = ac.open_store(url)
        for i in range(4):
            store.save(f"s{i}", blob(i), serializer="raw")
        assert main(["--store", url, "prune", "--max-count", "2", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "would remove 2 artifacts" in out and "s0" in out and "s1" in out
        assert len(store.list()) == 4
        assert main(["--store", url, "prune", "--max-size", "25KB", "--grace", "0"]) == 0
        out = capsys.readouterr().out
        assert "removed 3 artifacts" in out and "max_size" in out
        assert names(store) == {"s3"}
        backdate(store, "s3", 3 * 86400)
        assert main(["--store", url, "prune", "--max-age", "2d", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert [a["step_id"] for a in data["removed"]] == ["s3"]
        assert data["by_rule"] == {"max_age": 1}

    def test_limits_are_store_options(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The limits are store options: accepted before the command too."""
        url = str(tmp_path / "s")
        store = ac.open_store(url)
        for i in range(3):
            store.save(f"s{i}", i)
        assert main(["--max-count", "1", "--store", url, "prune"]) == 0
        assert "removed 2 artifacts" in capsys.readouterr().out
        assert names(store) == {"s2"}

    @pytest.mark.parametrize(
        "args",
        [
            [],
            ["--max-size", "lots"],
            ["--max-age", "forever"],
            ["--max-count", "-1"],
            ["--max-count", "1", "--grace", "-1"],
        ],
    )
    def test_usage_errors(
        self, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No limit, or a limit that is not a size, age or count, is a usage error (exit 2)."""
        assert main(["--store", str(tmp_path / "s"), "prune", *args]) == 2
        err = capsys.readouterr().err
        assert "error:" in err and (not args or args[0] in err)


class TestVersions:
    """Retention over version histories: an evicted artifact takes its history, earlier
    versions count towards max_size, and prune applies keep_versions and max_age to them."""

    def test_an_evicted_artifact_takes_its_history(self, store_url: str) -> None:
        store = ac.open_store(store_url, prune_every=0)
        for i in range(3):
            store.save("a", i)
        store.save("b", 1)
        _ = store.get("b")
        report = store.prune(max_count=1, grace=0)
        assert [(a.step_id, a.version) for a in report.removed] == [("a", None)]
        assert store.versions("a") == [] and not store.exists("a")
        assert [v.status for v in store.versions("b")] == ["active"]

    def test_history_counts_towards_max_size(self, store_url: str) -> None:
        store = ac.open_store(store_url, prune_every=0)
        store.save("a", blob(1), serializer="raw")
        store.save("a", blob(2), serializer="raw")  # the first stays as a version
        store.save("b", blob(3), serializer="raw")
        # The heads alone (40 kB) fit; with a's history (60 kB) they do not.
        report = store.prune(max_size=45_000, grace=0)
        assert [a.step_id for a in report.removed] == ["a"]
        assert report.by_rule == {"max_size": 1}
        assert store.versions("a") == [] and store.get("b") == blob(3)

    def test_prune_applies_keep_versions(self, store_url: str) -> None:
        for i in range(4):
            ac.open_store(store_url).save("x", i)
        store = ac.open_store(store_url, keep_versions=2, prune_every=0)
        preview = store.prune(dry_run=True)
        assert preview.by_rule == {"keep_versions": 2} and len(store.versions("x")) == 4
        report = store.prune(grace=0)
        assert report.by_rule == {"keep_versions": 2}
        assert all(a.version is not None for a in report.removed)
        left = store.versions("x")
        assert [v.status for v in left] == ["active", "superseded"]
        assert [store.load(v) for v in left] == [3, 2] and store.get("x") == 3

    def test_earlier_versions_past_max_age(self, mem_store: ac.ArtifactStore) -> None:
        """Old superseded versions go by max_age; the active one and young ones stay."""
        for i in range(3):
            mem_store.save("x", i)
        now = time.time()
        earlier = [v for v in mem_store.versions("x") if v.status != "active"]
        old = attrs.evolve(earlier[1], created=dt.datetime.fromtimestamp(now - 7200, dt.UTC))
        chosen = retention._earlier_versions([earlier[0], old], {("x", "default")}, 3600, None, now)
        assert chosen == [(old, "max_age")]
        # keep_versions=2: the active one and the newest earlier one stay.
        chosen = retention._earlier_versions(earlier, {("x", "default")}, None, 2, now)
        assert chosen == [(earlier[1], "keep_versions")]


def test_prune_reads_no_record_the_index_checked(tmp_path: Path) -> None:
    """A prune of a local store takes the records the index already checked as they are:
    it reads none of their files again to parse them."""
    writer = ac.ArtifactStore(str(tmp_path / "s"))
    for i in range(30):
        writer.save(f"s{i % 3}", i, key=f"k{i}")
    assert len(writer.list()) == 30  # the index has checked every record
    retention._parsed.clear()
    store = ac.ArtifactStore(str(tmp_path / "s"), max_count=25)
    asked: list[object] = []
    real = store._storage.indexed_text

    def counted(names: Any) -> Any:
        asked.extend(names)
        return real(names)

    store._storage.indexed_text = counted  # type: ignore[method-assign]
    report = store.prune(dry_run=True)
    assert len(report.removed) == 5
    assert asked == []
