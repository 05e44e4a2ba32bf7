"""Versions and status: every save kept, one active, delete tombstones, purge, trimming.

Run on every backend (memory://, a local folder, S3 on the moto server), with real
processes for concurrent saves of one step and key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from test_record_fields import BASE

import artifact_cache as ac
from artifact_cache.cli import main
from artifact_cache.info import derived_version_id, is_version_id
from artifact_cache.lifecycle.versions import trim_versions
from artifact_cache.storage import VersionName


def _version_files(store: ac.ArtifactStore) -> list[str]:
    """Every file under the store's versions/ folder."""
    storage = store._storage
    return [e.path for e in storage.files("versions")]


def _write(store: ac.ArtifactStore, relative: str, data: bytes) -> None:
    """Put a file into the store as another (hostile) writer would."""
    store._storage._put(store._storage.path(relative), [data], len(data))


class TestVersions:
    def test_three_saves_three_versions(self, store: ac.ArtifactStore) -> None:
        """Three saves of one step give three versions, newest first: active, superseded,
        superseded; each version's value comes back by get(version=)."""
        saved = [store.save("extract", {"run": i}) for i in range(3)]
        versions = store.versions("extract")
        assert [i.status for i in versions] == ["active", "superseded", "superseded"]
        assert [i.version for i in versions] == [s.version for s in reversed(saved)]
        assert all(is_version_id(i.version) for i in versions)
        assert len({i.version for i in versions}) == 3
        for info in saved:
            assert store.get("extract", version=info.version) == {"run": saved.index(info)}
            assert store.info("extract", version=info.version).digest == info.digest
        assert store.info("extract", version=saved[0].version).status == "superseded"
        assert store.info("extract", key="default", version=saved[2].version).status == "active"
        assert store.get("extract") == {"run": 2}
        assert store.info("extract").version == saved[2].version
        assert [i.step_id for i in store.list()] == ["extract"]

    def test_delete_leaves_a_tombstone(self, store: ac.ArtifactStore) -> None:
        """delete: get/exists/list no longer find it; versions() shows it tombstoned and
        its value is still there by version; a later save is active again."""
        first = store.save("model", "v1")
        second = store.save("model", "v2")
        assert store.delete("model") is True
        with pytest.raises(ac.ArtifactNotFoundError, match="'model'"):
            store.get("model")
        assert not store.exists("model") and store.list() == []
        versions = store.versions("model")
        assert [(i.version, i.status) for i in versions] == [
            (second.version, "tombstoned"),
            (first.version, "superseded"),
        ]
        assert store.get("model", version=second.version) == "v2"
        third = store.save("model", "v3")
        statuses = {i.version: i.status for i in store.versions("model")}
        assert statuses == {
            third.version: "active",
            second.version: "tombstoned",
            first.version: "superseded",
        }
        assert store.delete("model", key="default") is True
        assert [i.status for i in store.versions("model")][:2] == ["tombstoned", "tombstoned"]

    @pytest.mark.payload_files
    def test_delete_keeps_a_head_whose_version_record_is_gone(
        self, store: ac.ArtifactStore
    ) -> None:
        """A head whose version record is gone (trimmed while the head was being written)
        still is that version: delete gives it its record (the head's exact text) before
        the tombstone, so the history keeps it, gc keeps its payload and it loads."""
        info = store.save("x", "the value")
        storage = store._storage
        name = VersionName("x", "default", info.version)
        head = storage.read_record("x", "default")
        storage.remove_versions([name])
        assert [(i.version, i.status) for i in store.versions("x")] == [(info.version, "active")]
        assert store.delete("x") is True
        assert [(i.version, i.status) for i in store.versions("x")] == [
            (info.version, "tombstoned")
        ]
        assert storage.read_versions([name])[name] == head
        assert store.gc(grace=0).removed == 0
        assert store.get("x", version=info.version) == "the value"

    def test_delete_never_writes_over_a_version_record(self, store: ac.ArtifactStore) -> None:
        """Version records never change: delete leaves an existing one as it is, even
        when its text is not the head's."""
        info = store.save("x", "v")
        record = dict(info.to_dict(), note="another writer's text")
        text = json.dumps(record, indent=1).encode()
        _write(store, f"versions/x/@default@{info.version}.json", text)
        store.delete("x")
        name = VersionName("x", "default", info.version)
        assert store._storage.read_versions([name])[name] == text
        assert [(i.version, i.status) for i in store.versions("x")] == [
            (info.version, "tombstoned")
        ]

    def test_purge_leaves_nothing(self, store: ac.ArtifactStore) -> None:
        """delete(purge=True) removes the head and every version file of the step."""
        infos = [store.save("x", i, key=k) for i in range(2) for k in ("a", "b")]
        store.save("x/child", "kept")
        store.delete("x", key="a")
        assert store.delete("x", purge=True) is True
        assert store.versions("x") == [] and not store.exists("x")
        assert [i.step_id for i in store.versions("x/child")] == ["x/child"]
        assert all("/x/child/" in p for p in _version_files(store))
        with pytest.raises(ac.ArtifactNotFoundError, match=infos[0].version):
            store.get("x", version=infos[0].version)
        assert store.delete("x", purge=True) is False
        if store._storage.is_local:  # no empty folder is left behind either
            assert os.listdir(store._storage.layout.versions_dir("x")) == ["child"]

    def test_purge_one_key(self, store: ac.ArtifactStore) -> None:
        """purge with a key drops that key's history only."""
        store.save("s", 1, key="a")
        kept = store.save("s", 2, key="b")
        store.delete("s", key="a")
        assert store.delete("s", key="a", purge=True) is True  # the history was there
        assert [i.version for i in store.versions("s")] == [kept.version]

    def test_versions_of_every_key(self, store: ac.ArtifactStore) -> None:
        """Without a key, versions() lists every key's versions and get(version=) finds
        a version whatever its key."""
        a = store.save("feat", 1, key="a")
        b1 = store.save("feat", 2, key="b")
        b2 = store.save("feat", 3, key="b")
        found = store.versions("feat")
        assert [(i.key, i.status) for i in found] == [
            ("b", "active"),
            ("b", "superseded"),
            ("a", "active"),
        ]
        assert [i.key for i in store.versions("feat", key="a")] == ["a"]
        assert store.get("feat", version=a.version) == 1
        assert store.get("feat", version=b1.version) == 2
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("feat", key="a", version=b2.version)

    def test_head_decides_when_saves_finish_out_of_order(self, store: ac.ArtifactStore) -> None:
        """A save that began first but wrote its head last is the active version: the
        head decides, not the newest id."""
        import datetime as dt

        import attrs

        from artifact_cache.info import new_version_id

        newer = store.save("s", "began second, finished first")
        began = newer.created - dt.timedelta(seconds=1)
        slow = attrs.evolve(
            store.save("tmp", "began first, finished last"),
            step_id="s",
            created=began,
            version=new_version_id(began),
        )
        store._storage.put_record("s", "default", slow.to_json(), version=slow.version)
        found = store.versions("s")
        assert [(i.version, i.status) for i in found] == [
            (newer.version, "superseded"),
            (slow.version, "active"),
        ]
        assert store.get("s") == "began first, finished last"
        assert store.info("s").version == slow.version

    def test_missing_version(self, store: ac.ArtifactStore) -> None:
        """A missing version is ArtifactNotFoundError naming step, version and store; a
        malformed id is refused before any I/O."""
        store.save("s", 1)
        missing = "20200101T000000000000Z-00000000"
        with pytest.raises(ac.ArtifactNotFoundError) as err:
            store.get("s", version=missing)
        assert "'s'" in str(err.value) and missing in str(err.value)
        assert store.location in str(err.value)
        for bad in ("../../etc/passwd", "latest", ""):
            with pytest.raises(ac.InvalidStepIdError, match="version id"):
                store.get("s", version=bad)

    def test_list_status_filters(self, store: ac.ArtifactStore) -> None:
        """list(status=...) keeps the versions of that status; None keeps them all."""
        a1 = store.save("a", 1, tags={"t": "x"})
        a2 = store.save("a", 2, tags={"t": "y"})
        b = store.save("b", 3)
        store.delete("b")
        store.save("c/d", 4)

        def versions(**kw: Any) -> list[str | None]:
            return [i.version for i in store.list(**kw)]

        assert [i.step_id for i in store.list()] == ["c/d", "a"]
        assert all(i.status == "active" for i in store.list(status="active"))
        assert versions(status="superseded") == [a1.version]
        assert versions(status="tombstoned") == [b.version]
        assert len(versions(status=None)) == 4
        assert versions(prefix="a", status=None) == [a2.version, a1.version]
        assert versions(status=None, tags={"t": "x"}) == [a1.version]
        assert [i.step_id for i in store.list("c/", status=None)] == ["c/d"]
        with pytest.raises(ac.ArtifactStoreError, match="status"):
            store.list(status="deleted")

    def test_clear_removes_versions(self, store: ac.ArtifactStore) -> None:
        """clear() removes the histories too."""
        for i in range(3):
            store.save("a", i)
        store.delete("a")
        store.save("b", 1)
        store.clear()
        assert store.versions("a") == [] and store.list(status=None) == []
        assert _version_files(store) == []


class TestGc:
    @pytest.mark.payload_files
    def test_gc_keeps_what_history_names(self, store: ac.ArtifactStore) -> None:
        """gc keeps every payload a version names (deleted ones included); after a
        purge the payloads are garbage."""
        old = store.save("m", "first value")
        store.save("m", "second value")
        store.delete("m")
        assert store.gc(grace=0).removed == 0
        assert store.get("m", version=old.version) == "first value"
        store.delete("m", purge=True)
        assert store.gc(grace=0).removed == 2

    @pytest.mark.payload_files
    def test_keep_versions_leaves_payloads_for_gc(self, store_url: str) -> None:
        """keep_versions=2 keeps exactly the 2 newest versions (files and listing); the
        payload of a trimmed one goes at gc."""
        store = ac.open_store(store_url, keep_versions=2, prune_every=1)
        infos = [store.save("s", f"value {i}") for i in range(5)]
        assert [i.version for i in store.versions("s")] == [infos[4].version, infos[3].version]
        assert len(_version_files(store)) == 2
        assert store.gc(grace=0).removed == 3
        assert store.get("s", version=infos[3].version) == "value 3"
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("s", version=infos[2].version)


class TestKeepVersions:
    def test_keep_versions(self, store_url: str) -> None:
        """keep_versions counts per step and key, never removes the active version, and
        drops a trimmed version's tombstone with it."""
        store = ac.open_store(store_url, keep_versions=2, prune_every=1)
        assert store.keep_versions == 2
        for i in range(4):
            store.save("s", i, key="a")
            store.save("s", i * 10, key="b")
        assert [store.get("s", key="a", version=i.version) for i in store.versions("s", key="a")]
        assert [i.status for i in store.versions("s", key="b")] == ["active", "superseded"]
        store.delete("s", key="a")
        store.save("s", 99, key="a")
        found = store.versions("s", key="a")
        assert [(i.status, store.get("s", key="a", version=i.version)) for i in found] == [
            ("active", 99),
            ("tombstoned", 3),
        ]
        store.save("s", 100, key="a")
        assert [i.status for i in store.versions("s", key="a")] == ["active", "superseded"]
        assert not any(p.endswith(".tombstone.json") for p in _version_files(store))

    def test_option_checked_and_kept_by_pickling(self, mem_store: ac.ArtifactStore) -> None:
        """keep_versions must be a positive integer; a pickled store keeps it."""
        import pickle

        for bad in (0, -1, 1.5, True, "2"):
            with pytest.raises(ac.ArtifactStoreError, match="keep_versions"):
                ac.open_store(mem_store.location, keep_versions=bad)  # type: ignore[arg-type]
        store = ac.open_store(mem_store.location, keep_versions=3)
        assert pickle.loads(pickle.dumps(store)).keep_versions == 3
        assert ac.open_store(mem_store.location).keep_versions is None

    def test_trim_versions_over_the_store(self, mem_store: ac.ArtifactStore) -> None:
        """trim_versions trims every step and key, keeps the active, reports what it
        removed, and removes nothing with dry_run."""
        store = mem_store
        for i in range(3):
            store.save("a", i)
            store.save("b/c", i, key="k")
        store.delete("a")
        planned = trim_versions(store, 1, dry_run=True)
        assert len(planned) == 2 + 2 and len(store.list(status=None)) == 6
        removed = trim_versions(store, 1)
        assert {(i.step_id, i.version) for i in removed} == {
            (i.step_id, i.version) for i in planned
        }
        assert [i.status for i in store.versions("a")] == ["tombstoned"]
        assert [(i.status, store.load(i)) for i in store.versions("b/c")] == [("active", 2)]
        assert trim_versions(store._storage, 1) == []


class TestLocal:
    def test_version_is_a_hard_link_of_the_head(self, tmp_path: Path) -> None:
        """On a local disk the version record and the head are one file (one write)."""
        store = ac.open_store(str(tmp_path / "s"))
        info = store.save("x", [1, 2, 3])
        head = tmp_path / "s" / "refs" / "x" / "@default.json"
        version = tmp_path / "s" / "versions" / "x" / f"@default@{info.version}.json"
        assert os.stat(head).st_ino == os.stat(version).st_ino
        assert json.loads(version.read_text())["version"] == info.version

    def test_copy_where_links_fail(self, tmp_path: Path, monkeypatch: Any) -> None:
        """Where hard links are refused the version record is written as a copy."""
        store = ac.open_store(str(tmp_path / "s"))

        def refuse(src: str, dst: str) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr("artifact_cache.storage.writes.os.link", refuse)
        info = store.save("x", "copied")
        version = tmp_path / "s" / "versions" / "x" / f"@default@{info.version}.json"
        head = tmp_path / "s" / "refs" / "x" / "@default.json"
        assert version.read_bytes() == head.read_bytes()
        assert os.stat(head).st_ino != os.stat(version).st_ino
        assert not list((tmp_path / "s").rglob(".tmp-*"))
        assert store.get("x", version=info.version) == "copied"


class TestWriteIfAbsent:
    def test_writes_only_where_nothing_is(self, store: ac.ArtifactStore) -> None:
        """put_version_if_absent / put_record_if_absent write a missing file, and leave
        an existing one as it is (False); no temporary is left behind."""
        storage = store._storage
        name = VersionName("x", "default", "20261202T031500123456Z-1a2b3c4d")
        assert storage.put_version_if_absent(name, b"first") is True
        assert storage.put_version_if_absent(name, b"second") is False
        assert storage.read_versions([name])[name] == b"first"
        assert storage.put_record_if_absent("x", "k", b"head") is True
        assert storage.put_record_if_absent("x", "k", b"other") is False
        assert storage.read_record("x", "k") == b"head"
        assert [e.name for e in storage.files("versions")] == [
            "@default@20261202T031500123456Z-1a2b3c4d.json"
        ]

    def test_s3_write_is_conditional(self, s3_url: str, monkeypatch: Any) -> None:
        """On S3 a record written between the look and the write is not written over:
        the PUT is conditional (If-None-Match), as the moto server checks."""
        storage = ac.open_store(s3_url)._storage
        storage.put_record_if_absent("x", "default", b"first")

        def missed(path: str) -> bytes:
            raise FileNotFoundError(path)  # as if the other writer came just after it

        monkeypatch.setattr(storage, "_cat", missed)
        assert storage.put_record_if_absent("x", "default", b"second") is False
        monkeypatch.undo()
        assert storage.read_record("x", "default") == b"first"

    def test_threads_racing_write_once(self, tmp_path: Path) -> None:
        """Of threads writing one name at once on a local disk, exactly one writes it."""
        storage = ac.open_store(str(tmp_path / "s"))._storage
        results: dict[int, bool] = {}

        def write(i: int) -> None:
            results[i] = storage.put_record_if_absent("x", "default", f"{i}".encode())

        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results.values()) == [False] * 7 + [True]
        [winner] = [i for i, wrote in results.items() if wrote]
        assert storage.read_record("x", "default") == str(winner).encode()
        assert not list((tmp_path / "s").rglob(".tmp-*"))

    def test_where_links_fail(self, tmp_path: Path, monkeypatch: Any) -> None:
        """Where hard links are refused it looks, then renames (never over a file)."""
        storage = ac.open_store(str(tmp_path / "s"))._storage

        def refuse(src: str, dst: str) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr("artifact_cache.storage.writes.os.link", refuse)
        assert storage.put_record_if_absent("x", "default", b"first") is True
        assert storage.put_record_if_absent("x", "default", b"second") is False
        assert storage.read_record("x", "default") == b"first"
        assert not list((tmp_path / "s").rglob(".tmp-*"))


class TestOlderStores:
    def test_head_without_version(self, store: ac.ArtifactStore) -> None:
        """A record written before versions (no version field, no version file) lists,
        is one active version with a derived id, and keeps its value when deleted."""
        info = store.save("tmp", {"old": True})
        record = info.to_dict()
        record.pop("version")
        record["step_id"] = "legacy"
        store.delete("tmp", purge=True)
        _write(store, "refs/legacy/@default.json", json.dumps(record).encode())
        assert _version_files(store) == []
        assert [i.step_id for i in store.list()] == ["legacy"]
        found = store.versions("legacy")
        derived = derived_version_id(info.created, info.digest)
        assert [(i.version, i.status) for i in found] == [(derived, "active")]
        assert store.info("legacy").version == derived
        assert store.get("legacy", version=derived) == {"old": True}
        store.delete("legacy")
        assert [(i.version, i.status) for i in store.versions("legacy")] == [
            (derived, "tombstoned")
        ]
        assert store.get("legacy", version=derived) == {"old": True}
        new = store.save("legacy", "new")
        assert [i.version for i in store.versions("legacy")] == [new.version, derived]

    def test_round_trip_keeps_old_text(self) -> None:
        """A record without a version reads back to the same text (signatures hold)."""
        old = dict(BASE, step_id="x")
        info = ac.ArtifactInfo.from_dict(old)
        assert info.version == "20260101T000000000000Z-abababab"
        assert "version" not in info.to_dict()
        assert ac.ArtifactInfo.from_json(info.to_json()) == info


class TestHostile:
    def test_hostile_version_files(self, store: ac.ArtifactStore) -> None:
        """Version records and tombstones that are not of the documented form are
        skipped with a warning, never change a status, and gc keeps what they name."""
        good = store.save("s", list(range(10_000)))  # a payload file of its own
        store.save("s", "newer")
        orphan = store.save("gone", list(range(20_000)))
        store.delete("gone", purge=True)
        base = "versions/s/@default@"
        record = good.to_dict()
        ids = [f"2020010{i}T000000000000Z-0000000{i}" for i in range(1, 7)]
        hostile = {
            ids[0]: b"{not json",
            ids[1]: json.dumps(dict(record, version=ids[1], step_id="other")).encode(),
            ids[2]: json.dumps(dict(record, version=ids[2], digest="../../secret")).encode(),
            ids[3]: json.dumps(dict(record, version=ids[0])).encode(),  # another version
            ids[4]: json.dumps(dict(record, version=ids[4], tags=[orphan.digest])).encode(),
        }
        for version, data in hostile.items():
            _write(store, f"{base}{version}.json", data)
        tombstones = [
            b"[]",
            json.dumps({"tombstone": 1, "step_id": "s", "key": "default"}).encode(),
            json.dumps(
                {"tombstone": "1", "step_id": "s", "key": "default", "version": good.version}
            ).encode(),
        ]
        _write(store, f"{base}{good.version}.tombstone.json", tombstones[2])
        _write(store, f"{base}{ids[5]}.tombstone.json", tombstones[0])
        _write(store, f"{base}not-a-version.json", b"ignored: not a version id")
        with pytest.warns(UserWarning) as caught:
            found = store.versions("s")
        assert [i.status for i in found] == ["active", "superseded"]
        assert found[1].version == good.version  # its bad tombstone is ignored
        text = " ".join(str(w.message) for w in caught)
        for version in [*ids[:5], good.version]:
            assert version in text
        for version in ids[:5]:
            with pytest.raises(ac.RecordError, match=version):
                store.get("s", version=version)
        with pytest.warns(UserWarning) as caught:
            store.gc(grace=0)
        assert any("keeping every payload it names" in str(w.message) for w in caught)
        assert store._storage.has_payload(orphan.digest)  # named by a hostile record
        assert store.get("s", version=good.version) == list(range(10_000))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert [i.step_id for i in store.list()] == ["s"]  # heads only, untouched


class TestSigned:
    def test_versions_are_signed(self, mem_store: ac.ArtifactStore) -> None:
        """Version records carry the head's signature; an altered one is refused."""
        store = ac.open_store(mem_store.location, signing_key="team-key")
        first = store.save("m", "v1")
        store.save("m", "v2")
        old = store.info("m", version=first.version)
        assert store.verified(old) and store.get("m", version=first.version) == "v1"
        path = store._storage.layout.version_path(VersionName("m", "default", first.version))
        record = json.loads(store.fs.cat_file(path))
        record["tags"] = {"forged": "yes"}
        store._storage._put(path, [json.dumps(record).encode()], 0)
        with pytest.raises(ac.IntegrityError, match="signature"):
            store.get("m", version=first.version)


class TestCli:
    def test_versions_ls_status_and_rm_purge(self, tmp_path: Path, capsys: Any) -> None:
        """artifact-cache versions, ls --status and rm --purge."""
        url = str(tmp_path / "s")
        store = ac.open_store(url)
        first = store.save("x", 1)
        second = store.save("x", 2)
        store.save("y", 3)
        capsys.readouterr()
        assert main(["--store", url, "versions", "x"]) == 0
        out = capsys.readouterr().out
        assert first.version in out and second.version in out
        assert out.index(second.version) < out.index(first.version)
        assert "active" in out and "superseded" in out
        assert main(["--store", url, "versions", "x", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert [(d["version"], d["status"]) for d in data] == [
            (second.version, "active"),
            (first.version, "superseded"),
        ]
        assert main(["--store", url, "rm", "x"]) == 0
        assert main(["--store", url, "ls", "--status", "tombstoned", "--json"]) == 0
        capsys.readouterr()
        assert main(["--store", url, "ls", "--status", "tombstoned"]) == 0
        out = capsys.readouterr().out
        assert "tombstoned" in out and "x" in out and "y " not in out
        assert main(["--store", url, "ls", "--status", "all", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 3
        assert main(["--store", url, "rm", "x", "--purge"]) == 0
        assert "purged" in capsys.readouterr().out
        assert store.versions("x") == []
        assert main(["--store", url, "rm", "x", "--purge"]) == 1
        assert main(["--store", url, "versions", "nothing"]) == 0
        assert "no versions" in capsys.readouterr().err


# --------------------------------------------------------------------------- processes
SAVER = textwrap.dedent(
    """
    import sys
    import artifact_cache as ac
    store = ac.open_store(sys.argv[1])
    writer = int(sys.argv[2])
    print("ready", flush=True)
    for i in range(int(sys.argv[3])):
        store.save("shared", {"writer": writer, "i": i, "pad": "x" * 100 * writer})
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_four_processes_save_one_key(backend: str, tmp_path: Path, request: Any) -> None:
    """4 processes saving one step and key 25 times each keep 100 versions; exactly one
    is active (the one get() returns) and every version's value is readable."""
    from conftest import make_url
    from procs import stop_process

    url = make_url(backend, tmp_path, request)
    count = 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, url, str(w), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(1, 5)
    ]
    try:
        for p in procs:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0 and out == "ready\ndone\n", err[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                stop_process(p, grace=5)  # type: ignore[arg-type]
    store = ac.open_store(url)
    versions = store.versions("shared")
    assert len(versions) == 4 * count
    active = [i for i in versions if i.status == "active"]
    assert len(active) == 1
    assert store.info("shared").version == active[0].version
    assert active[0].status == "active" and store.get("shared") == store.load(active[0])
    values = {(v["writer"], v["i"]) for v in (store.load(i) for i in versions)}
    assert values == {(w, i) for w in range(1, 5) for i in range(count)}
    for info in versions[::9]:  # by id as well (each a lookup of its own)
        value = store.get("shared", version=info.version)
        assert value["pad"] == "x" * 100 * value["writer"]
    assert len({i.version for i in versions}) == 4 * count
