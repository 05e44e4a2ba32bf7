"""The store contract, run on every backend: memory://, a local folder, S3 on moto."""

from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import artifact_cache as ac


class TestSaveGet:
    def test_round_trip(self, store: ac.ArtifactStore) -> None:
        """What was saved comes back equal."""
        value = {"rows": [1, 2, 3], "name": "crm", "nested": {"a": (1.5, None)}}
        info = store.save("extract", value, tags={"source": "crm"})
        assert store.get("extract") == value
        assert info.step_id == "extract" and info.key == "default"
        assert info.python_type == "builtins.dict"
        assert dict(info.tags) == {"source": "crm"}

    def test_independent_copy(self, store: ac.ArtifactStore) -> None:
        """get returns a copy: mutating it does not change what is stored."""
        value = {"a": [1]}
        store.save("x", value)
        first = store.get("x")
        first["a"].append(2)
        value["a"].append(3)
        assert store.get("x") == {"a": [1]}
        assert store.get("x") is not store.get("x")

    def test_numpy_array_out_of_band(self, store: ac.ArtifactStore) -> None:
        """A large array round-trips exactly and comes back writable."""
        arr = np.arange(300_000, dtype=np.float64).reshape(1000, 300)
        store.save("arr", arr)
        out = store.get("arr")
        assert out.dtype == arr.dtype and out.shape == arr.shape
        np.testing.assert_array_equal(out, arr)
        assert out.flags.writeable
        out[0, 0] = -1  # does not touch the stored copy
        assert store.get("arr")[0, 0] == 0

    def test_closures_and_lambdas(self, store: ac.ArtifactStore) -> None:
        """cloudpickle stores lambdas and closures."""
        k = 7
        store.save("fn", lambda x: x * k)
        assert store.get("fn")(6) == 42

    def test_overwrite_same_key(self, store: ac.ArtifactStore) -> None:
        """Saving again under the same step id and key replaces the artifact."""
        store.save("x", 1)
        store.save("x", 2)
        assert store.get("x") == 2
        assert len(store.list()) == 1

    def test_keys_newest_wins(self, store: ac.ArtifactStore) -> None:
        """Several keys per step id: get() gives the newest, get(key=) a given one."""
        store.save("feat", "a", key="k1")
        time.sleep(0.01)
        store.save("feat", "b", key="k2")
        assert store.get("feat") == "b"
        assert store.get("feat", key="k1") == "a"
        assert store.info("feat").key == "k2"
        assert {i.key for i in store.list()} == {"k1", "k2"}

    def test_hierarchical_ids(self, store: ac.ArtifactStore) -> None:
        """Step ids nest with '/', and a parent id is an artifact of its own."""
        store.save("deals", 0)
        store.save("deals/DEAL-001/cim", 1)
        store.save("deals/DEAL-002/cim", 2)
        assert store.get("deals/DEAL-001/cim") == 1
        assert store.get("deals") == 0
        assert sorted(i.step_id for i in store.list("deals/")) == [
            "deals/DEAL-001/cim",
            "deals/DEAL-002/cim",
        ]
        assert [i.step_id for i in store.list("deals/DEAL-002")] == ["deals/DEAL-002/cim"]
        assert len(store.list("de")) == 3
        assert store.delete("deals") is True
        assert store.exists("deals/DEAL-001/cim")

    def test_raw_and_json(self, store: ac.ArtifactStore) -> None:
        """The raw and json serializers are recorded and give back their values."""
        info = store.save("csv", b"a,b\n1,2\n", serializer="raw", mime_type="text/csv")
        assert info.serializer == "raw" and info.mime_type == "text/csv"
        assert store.get("csv") == b"a,b\n1,2\n"
        info = store.save("cfg", {"lr": 0.1, "layers": [1, 2]}, serializer="json")
        assert store.info("cfg").serializer == "json"
        assert store.get("cfg") == {"lr": 0.1, "layers": [1, 2]}
        with store.open("cfg") as f:
            assert f.read() == b'{"lr": 0.1, "layers": [1, 2]}'

    @pytest.mark.payload_files
    def test_identical_payloads_stored_once(self, store: ac.ArtifactStore) -> None:
        """Two artifacts with the same bytes share one payload."""
        a = store.save("a", list(range(100)))
        b = store.save("b", list(range(100)))
        assert a.digest == b.digest
        fs = store.fs
        objects = [p for p in fs.find(store._storage.path("objects"))]
        assert len(objects) == 1


class TestInfoExistsList:
    @pytest.mark.payload_files
    def test_info_reads_no_payload(self, store: ac.ArtifactStore) -> None:
        """info() works even when the payload is gone: it reads the record only."""
        info = store.save("x", "payload")
        store.fs.rm(store._storage.object_path(info.digest))
        assert store.info("x") == info
        with pytest.raises(ac.PayloadMissingError, match="'x'"):
            store.get("x")

    def test_exists(self, store: ac.ArtifactStore) -> None:
        """exists() follows saves and deletes, per step and per key."""
        assert not store.exists("x")
        store.save("x", 1, key="k")
        assert store.exists("x") and store.exists("x", key="k")
        assert not store.exists("x", key="other")
        store.delete("x", key="k")
        assert not store.exists("x")

    def test_list_newest_first_and_tags(self, store: ac.ArtifactStore) -> None:
        """list() is newest first and filters on tags."""
        for i, source in enumerate(["crm", "erp", "crm"]):
            store.save(f"s{i}", i, tags={"source": source})
            time.sleep(0.01)
        assert [i.step_id for i in store.list()] == ["s2", "s1", "s0"]
        assert [i.step_id for i in store.list(tags={"source": "crm"})] == ["s2", "s0"]
        assert store.list(tags={"source": "none"}) == []

    def test_info_json_round_trip(self, store: ac.ArtifactStore) -> None:
        """A stored record equals the one save() returned."""
        info = store.save("x", [1], tags={"a": "b"})
        assert store.info("x") == info == ac.ArtifactInfo.from_json(info.to_json())


class TestDeleteClear:
    def test_delete(self, store: ac.ArtifactStore) -> None:
        """delete() removes one step's artifacts and reports whether any existed."""
        store.save("x", 1, key="a")
        store.save("x", 2, key="b")
        store.save("y", 3)
        assert store.delete("x", key="missing") is False
        assert store.delete("x", key="a") is True
        assert store.delete("x") is True
        assert store.delete("x") is False
        assert not store.exists("x") and store.get("y") == 3

    def test_clear(self, store: ac.ArtifactStore) -> None:
        """clear() empties the store and counts what it removed."""
        for i in range(3):
            store.save(f"s/{i}", i)
        assert store.clear() == 3
        assert store.list() == []
        assert store.clear() == 0
        store.save("again", 1)  # still usable afterwards
        assert store.get("again") == 1


class TestOpenUrl:
    def test_open_streams_payload(self, store: ac.ArtifactStore) -> None:
        """open() gives a file object over the stored bytes."""
        data = bytes(range(256)) * 1000
        store.save("blob", data, serializer="raw")
        with store.open("blob") as f:
            assert f.read(10) == data[:10]
            assert f.read() == data[10:]

    @pytest.mark.payload_files
    def test_url(self, store: ac.ArtifactStore, store_url: str) -> None:
        """url() is presigned on S3, file:// locally, an error on memory://."""
        store.save("blob", b"hello url", serializer="raw")
        if store_url.startswith("memory://"):
            with pytest.raises(ac.ArtifactStoreError, match="'blob'"):
                store.url("blob")
            return
        url = store.url("blob", expires=60)
        assert url.startswith("file://" if not store_url.startswith("s3") else "http")
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.read() == b"hello url"


class TestThreads:
    def test_eight_threads_200_artifacts(self, store: ac.ArtifactStore) -> None:
        """8 threads saving and reading 200 artifacts on one store object."""

        def work(i: int) -> tuple[int, object]:
            value = {"i": i, "data": list(range(i % 17))}
            store.save(f"t/{i % 25}", value, key=f"k{i}")
            return i, store.get(f"t/{i % 25}", key=f"k{i}")

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(200)))
        for i, got in results:
            assert got == {"i": i, "data": list(range(i % 17))}
        assert len(store.list("t/")) == 200


class TestPickling:
    def test_store_pickles(self, store: ac.ArtifactStore) -> None:
        """A store survives pickling and points at the same artifacts."""
        import pickle

        store.save("x", 41)
        again = pickle.loads(pickle.dumps(store))
        assert again == store and again.get("x") == 41


class TestGc:
    @pytest.mark.payload_files
    def test_removes_orphans_only(self, store: ac.ArtifactStore) -> None:
        """gc removes payloads no record points to, keeps referenced and young ones."""
        kept = store.save("kept", "kept value")
        orphan = store.save("gone", "orphan value")
        store.delete("gone", purge=True)  # no history keeps its payload
        young = store.gc(grace=3600)
        assert young.removed == 0 and young.kept_young == 1
        report = store.gc(grace=0)
        assert (report.removed, report.referenced) == (1, 1)
        assert report.freed == orphan.size
        assert not store._storage.has_object(orphan.digest, orphan.size)
        assert store._storage.has_object(kept.digest, kept.size)
        assert store.get("kept") == "kept value"

    @pytest.mark.payload_files
    def test_dry_run(self, mem_store: ac.ArtifactStore) -> None:
        """A dry run reports without removing."""
        info = mem_store.save("x", 1)
        mem_store.delete("x", purge=True)
        assert mem_store.gc(grace=0, dry_run=True).removed == 1
        assert mem_store._storage.has_object(info.digest, info.size)


class TestListScale:
    def test_thousands_without_payloads(self, mem_store: ac.ArtifactStore, monkeypatch) -> None:
        """list() over 3,000 artifacts reads records only, never a payload."""
        for i in range(3000):
            mem_store.save(f"many/{i % 300}", i, key=f"k{i}")

        def no_payloads(*args: object) -> None:
            raise AssertionError("list() read a payload")

        monkeypatch.setattr(mem_store._storage, "read_object", no_payloads)
        monkeypatch.setattr(mem_store._storage, "open_object", no_payloads)
        infos = mem_store.list("many/")
        assert len(infos) == 3000
        assert {i.key for i in infos} == {f"k{i}" for i in range(3000)}

    def test_s3_records_fetched_in_one_batch(self, s3_url: str, monkeypatch) -> None:
        """On S3, list() fetches all records with one concurrent batch, not one by one."""
        store = ac.open_store(s3_url)
        for i in range(20):
            store.save(f"batch/{i}", i)
        fs = store.fs
        batches: list[int] = []
        real_cat = fs.cat

        def spy_cat(paths: list[str], **kwargs: object) -> object:
            batches.append(len(paths))
            return real_cat(paths, **kwargs)

        def no_single(*args: object, **kwargs: object) -> None:
            raise AssertionError("records fetched one request at a time")

        monkeypatch.setattr(fs, "cat", spy_cat)
        monkeypatch.setattr(fs, "cat_file", no_single)
        assert sorted(i.python_type for i in store.list()) == ["builtins.int"] * 20
        assert batches == [20]


class TestOtherUrls:
    @pytest.mark.parametrize("inside", ["", "cache"])
    def test_zip_archive_read_only(self, tmp_path, inside: str) -> None:
        """A store zipped up (at the archive's root or in a folder) reads through zip://."""
        import shutil

        src = tmp_path / "src"
        local = ac.open_store(str(src / inside) if inside else str(src))
        local.save("deals/A/cim", {"pages": 12}, tags={"kind": "cim"})
        local.save("extract", [1, 2, 3])
        archive = shutil.make_archive(str(tmp_path / "cache"), "zip", src)
        url = f"zip://{inside}::{archive}" if inside else f"zip://::{archive}"
        store = ac.open_store(url)
        assert store.get("deals/A/cim") == {"pages": 12}
        assert store.exists("extract")
        assert sorted(i.step_id for i in store.list()) == ["deals/A/cim", "extract"]


class TestGcWhileSaving:
    @pytest.mark.payload_files
    def test_gc_between_reuse_and_record(self, store: ac.ArtifactStore, monkeypatch) -> None:
        """A save that re-uses an orphaned payload survives a gc run in the middle of it:
        where saves hold the gc lock (local disks, memory://) the gc's removal waits for
        the save and then sees its record; on object stores the gc removes the payload and
        the save's check puts it back."""
        value = {"rows": list(range(100))}
        store.save("old", value)
        store.delete("old", purge=True)  # its payload is now garbage
        collector = ac.open_store(store.location)  # another process's view, in effect
        locked = store._storage.payloads_locked
        removing = threading.Event()
        real_removing = collector._storage.removing_payloads

        def removing_payloads() -> Any:
            removing.set()  # about to take the lock (and wait for the save, if locked)
            return real_removing()

        monkeypatch.setattr(collector._storage, "removing_payloads", removing_payloads)
        reports: list[Any] = []
        gc = threading.Thread(target=lambda: reports.append(collector.gc(grace=0)))
        real_put_record = store._storage.put_record

        def gc_then_put(step_id: str, key: str, text: str, **kw: Any) -> None:
            gc.start()
            assert removing.wait(60)  # the gc found the payload unnamed, and removes it
            if not locked:
                gc.join(60)
            real_put_record(step_id, key, text, **kw)

        monkeypatch.setattr(store._storage, "put_record", gc_then_put)
        try:
            store.save("new", value)
        finally:
            gc.join(60)
        monkeypatch.undo()
        assert not gc.is_alive()
        # Locked: the gc's last look came after the save, which named the payload.
        assert [r.removed for r in reports] == [0 if locked else 1]
        assert store.get("new") == value


class TestProvenanceMemory:
    def test_large_unweakrefable_results_not_held(self, mem_store: ac.ArtifactStore) -> None:
        """Saving or loading a large dict does not keep it alive in the process."""
        import sys

        big = {"blob": bytearray(2 * 2**20)}
        before = sys.getrefcount(big)
        mem_store.save("big", big)
        assert sys.getrefcount(big) == before
        assert ac.lineage_of(big) is None
        small = {"n": 1}
        mem_store.save("small", small)
        assert ac.lineage_of(small).step_id == "small"
