"""The index of object stores: a manifest of records under ``refs/`` plus the records
written since, checked against every LIST (artifact_cache/storage/manifest.py).

Requests are counted by the WSGI wrapper of tests/test_requests.py around a moto server
of this module's own; records are written behind the store's back with s3fs or boto3,
as a writer that never touches the manifest (an older release, a crash) would.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from test_requests import Counting, counted  # noqa: F401  (the counting moto server)
from test_urls import SSH_OPTIONS, sftp_server, sftp_url  # noqa: F401  (an SFTP server)

import artifact_cache as ac
import artifact_cache.listing
from artifact_cache.storage.manifest import (
    MANIFEST_NAME,
    decode_manifest,
    encode_manifest,
)

ROOT = Path(__file__).resolve().parent.parent

N = 12
"""Records of most tests: enough to be worth a manifest (more than 10% of the store not
in it), few enough for moto."""


class Bucket:
    """A store URL in a fresh bucket of the counting server, and ways to write around it."""

    def __init__(self, endpoint: str, counter: Counting) -> None:
        import boto3
        import s3fs

        self.counter = counter
        self.name = f"mf-{uuid.uuid4().hex[:12]}"
        self.client = boto3.client("s3", endpoint_url=endpoint)
        self.client.create_bucket(Bucket=self.name)
        self.options = {"client_kwargs": {"endpoint_url": endpoint}, "skip_instance_cache": True}
        self.url = f"s3://{self.name}/store"
        self.fs = s3fs.S3FileSystem(**self.options)
        self.manifest_key = f"store/refs/{MANIFEST_NAME}"

    def store(self, **kwargs: Any) -> ac.ArtifactStore:
        """A new store object (nothing read yet), its format marker already checked."""
        store = ac.ArtifactStore(self.url, progress=False, **self.options, **kwargs)
        store.exists("warm-up")  # the format check: once per store object
        return store

    def write_records(self, template: dict[str, Any], steps: list[str], **fields: Any) -> None:
        """Record files for ``steps`` (key ``default``), put concurrently, no manifest."""
        self.fs.pipe(
            {
                f"{self.name}/store/refs/{s}/@default.json": json.dumps(
                    dict(template, step_id=s, key="default", **fields)
                ).encode()
                for s in steps
            }
        )

    def manifest(self) -> bytes | None:
        try:
            body = self.client.get_object(Bucket=self.name, Key=self.manifest_key)["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(body.read())

    def put_manifest(self, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=self.manifest_key, Body=data)

    def count(self, call: Any) -> tuple[Any, dict[str, int]]:
        """Run ``call``; its requests by kind (``LIST``, ``GET manifest``, ``GET record``, ...)."""
        start = self.counter.mark()
        result = call()
        kinds: dict[str, int] = {}
        for line in self.counter.since(start):
            method, path = line.split(" ", 1)
            if "list-type" in path:
                kind = "LIST"
            elif MANIFEST_NAME in path:
                kind = f"{method} manifest"
            elif "/refs/" in path:
                kind = f"{method} record"
            else:
                kind = f"{method} other"
            kinds[kind] = kinds.get(kind, 0) + 1
        return result, kinds


@pytest.fixture
def bucket(counted: tuple[str, Counting]) -> Bucket:  # noqa: F811
    return Bucket(*counted)


def _template(bucket: Bucket) -> dict[str, Any]:
    """A valid record to copy (its payload stored inside it)."""
    store = bucket.store()
    info = store.save("template", {"v": 0})
    store.delete("template")
    return info.to_dict()


def _keys(infos: list[ac.ArtifactInfo]) -> set[str]:
    return {i.step_id for i in infos}


class TestListing:
    """Listings read the manifest instead of the records it holds at their listed ETag."""

    def test_thousand_artifacts(self, bucket: Bucket) -> None:
        """1,000 records: one LIST per 1,000 files and one manifest GET, then only what
        changed; a rewritten record is read again, a deleted one is gone."""
        steps = [f"g{i % 10}/s{i}" for i in range(1000)]
        bucket.write_records(_template(bucket), steps)
        first = bucket.store()
        found, seen = bucket.count(first.list)
        assert _keys(found) == set(steps)
        # No manifest yet (the LIST says so: no GET for it): every record, then one PUT.
        assert seen == {"LIST": 1, "GET record": 1000, "PUT manifest": 1}, seen

        reader = bucket.store()
        found, seen = bucket.count(reader.list)
        assert _keys(found) == set(steps)
        # 1,001 files (the records and the manifest): two LIST pages, one manifest GET.
        assert seen == {"LIST": 2, "GET manifest": 1}, seen
        found, seen = bucket.count(reader.list)
        assert len(found) == 1000 and seen == {"LIST": 2}, seen  # nothing changed

        writer = bucket.store()
        for i in range(5):
            writer.save(f"new/s{i}", i)
        found, seen = bucket.count(reader.list)
        assert _keys(found) == set(steps) | {f"new/s{i}" for i in range(5)}
        assert seen == {"LIST": 2, "GET record": 5}, seen

        writer.save("g3/s3", "rewritten", tags={"v": "2"})
        assert writer.delete("g4/s4")
        found, seen = bucket.count(reader.list)
        assert "g4/s4" not in _keys(found) and len(found) == 1004
        assert next(i for i in found if i.step_id == "g3/s3").tags == {"v": "2"}
        assert reader.get("g3/s3") == "rewritten"
        assert seen == {"LIST": 2, "GET record": 1}, seen
        # A fresh reader: the manifest, and the six records written since.
        found, seen = bucket.count(bucket.store().list)
        assert len(found) == 1004 and seen == {"LIST": 2, "GET manifest": 1, "GET record": 6}

    def test_rewritten_record_is_never_served_stale(self, bucket: Bucket) -> None:
        """A record rewritten by another writer to a text of the same length (another
        ETag, same size) is read again by a store that has the old one in its manifest."""
        template = _template(bucket)
        steps = [f"s{i}" for i in range(N)]
        bucket.write_records(template, steps, tags={"v": "1"})
        bucket.store().list()  # writes the manifest
        reader = bucket.store()
        assert {i.tags["v"] for i in reader.list()} == {"1"}
        bucket.write_records(template, ["s7"], tags={"v": "2"})
        found = {i.step_id: i.tags["v"] for i in reader.list()}
        assert found["s7"] == "2" and set(found.values()) == {"1", "2"}
        assert {i.step_id: i.tags["v"] for i in bucket.store().list()} == found
        assert bucket.store().info("s7").tags == {"v": "2"}

    def test_record_of_a_writer_without_the_manifest(self, bucket: Bucket) -> None:
        """A record put with boto3 (no manifest update) appears at the next listing, in
        artifacts() and as the newest of its step."""
        template = _template(bucket)
        bucket.write_records(template, [f"s{i}" for i in range(N)])
        store = bucket.store()
        assert len(store.list()) == N
        body = dict(template, step_id="s3", key="later", created="2100-01-01T00:00:00+00:00")
        key = "store/refs/s3/@later.json"
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=json.dumps(body))
        assert ("s3", "later") in {(i.step_id, i.key) for i in store.list()}
        assert [i.key for i in store.artifacts("s3")] == ["later", "default"]
        assert store.info("s3").key == "later"
        assert bucket.store().info("s3").key == "later"

    def test_prefix_listing_uses_the_manifest(self, bucket: Bucket) -> None:
        """list(prefix) lists only its folder and takes the matching records' texts from
        the manifest; records of other folders are not read."""
        bucket.write_records(_template(bucket), [f"{g}/s{i}" for g in "ab" for i in range(N)])
        bucket.store().list()  # writes the manifest
        reader = bucket.store()
        found, seen = bucket.count(lambda: reader.list("b/"))
        assert _keys(found) == {f"b/s{i}" for i in range(N)}
        assert seen == {"LIST": 1, "GET manifest": 1}, seen

    def test_prefix_listing_merges_into_the_manifest(self, bucket: Bucket) -> None:
        """A prefix listing that read 32 or more records not in the manifest writes them
        into it, keeping the other folders' entries."""
        template = _template(bucket)
        bucket.write_records(template, [f"a/s{i}" for i in range(40)])
        bucket.store().list()  # the manifest: a/ only
        bucket.write_records(template, [f"b/s{i}" for i in range(40)])
        reader = bucket.store()
        found, seen = bucket.count(lambda: reader.list("b/"))
        assert len(found) == 40
        assert seen == {"LIST": 1, "GET manifest": 1, "GET record": 40, "PUT manifest": 1}
        found, seen = bucket.count(bucket.store().list)
        assert len(found) == 80 and seen == {"LIST": 1, "GET manifest": 1}, seen

    def test_newest_of_a_step_with_many_keys(self, bucket: Bucket) -> None:
        """get(step) of a step with 12 keys: its folder's LIST, the manifest and the
        chosen record's file (the index never vouches for what is loaded)."""
        store = bucket.store()
        for k in range(N):
            store.save("step", k, key=f"k{k}")
        assert len(store.list()) == N  # writes the manifest
        reader = bucket.store()
        value, seen = bucket.count(lambda: reader.get("step"))
        assert value == N - 1
        assert seen == {"LIST": 1, "GET manifest": 1, "GET record": 1}, seen
        reader = bucket.store()
        value, seen = bucket.count(lambda: reader.get("step", key="k3"))
        assert value == 3 and seen == {"GET record": 1}, seen

    def test_missing_step_is_one_list(self, bucket: Bucket) -> None:
        """get(step) of a step with no record: its folder is listed once (s3fs's ls of a
        missing folder asks about its parent too), not again the slow way."""
        store = bucket.store()
        start = bucket.counter.mark()
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("nothing/here")
        seen = bucket.counter.since(start)
        assert len(seen) == 2 and all("list-type" in r for r in seen), seen


def _entries(bucket: Bucket) -> dict[str, Any]:
    data = bucket.manifest()
    assert data is not None
    entries = decode_manifest(data)
    assert entries is not None
    return entries


def _bomb() -> bytes:
    """A gzip stream expanding to 100 MiB from about 100 KiB (more than the bound)."""
    return gzip.compress(bytes(100 * 2**20), compresslevel=9)


DAMAGE = {
    "deleted": None,
    "truncated": lambda data: data[: len(data) // 2],
    "garbage": lambda data: b"not gzip at all " * 64,
    "not json": lambda data: gzip.compress(b"{not json"),
    "other schema": lambda data: gzip.compress(
        json.dumps({"format": "artifact_cache.manifest", "version": 99, "records": {}}).encode()
    ),
    "wrong types": lambda data: gzip.compress(
        json.dumps(
            {
                "format": "artifact_cache.manifest",
                "version": 1,
                "records": {"s1/@default.json": {"token": "x", "text": 3}},
            }
        ).encode()
    ),
    "outside refs": lambda data: encode_manifest(
        [("../../objects/ab/@default.json", (None, 1, 0.0), b"{}")]
    ),
    "gzip bomb": lambda data: _bomb(),
}


class TestDamagedManifest:
    """A manifest deleted, damaged or hostile is ignored as if empty and written again;
    listings stay right."""

    @pytest.mark.parametrize("damage", list(DAMAGE))
    def test_ignored_and_rewritten(self, bucket: Bucket, damage: str) -> None:
        steps = [f"s{i}" for i in range(N)]
        bucket.write_records(_template(bucket), steps)
        assert len(bucket.store().list()) == N
        before = _entries(bucket)
        assert len(before) == N
        change = DAMAGE[damage]
        if change is None:
            bucket.client.delete_object(Bucket=bucket.name, Key=bucket.manifest_key)
        else:
            data = bucket.manifest()
            assert data is not None
            bucket.put_manifest(change(data))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing skipped, nothing odd
            found, seen = bucket.count(bucket.store().list)
        assert _keys(found) == set(steps)
        assert seen.get("GET record") == N and seen.get("PUT manifest") == 1, seen
        assert _entries(bucket) == before  # the same records at the same versions

    def test_ghost_entry_never_appears(self, bucket: Bucket) -> None:
        """An entry for a record that does not exist (deleted since, or made up) is not
        listed: the LIST decides what exists."""
        template = _template(bucket)
        bucket.write_records(template, [f"s{i}" for i in range(N)])
        bucket.store().list()
        ghost = json.dumps(dict(template, step_id="ghost", key="default")).encode()
        entries = [(k, t, x) for k, (t, x) in _entries(bucket).items()]
        bucket.put_manifest(
            encode_manifest([*entries, ("ghost/@default.json", ('"e"', 1, 0.0), ghost)])
        )
        store = bucket.store()
        assert "ghost" not in _keys(store.list()) and len(store.list()) == N
        assert not store.exists("ghost")
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("ghost")

    def test_hostile_text_is_checked_like_a_record(self, bucket: Bucket) -> None:
        """A text given for a listed record's very version is parsed and checked as a
        record file is: a bad one is skipped with a warning, and get() reads the file."""
        template = _template(bucket)
        bucket.write_records(template, [f"s{i}" for i in range(N)])
        bucket.store().list()
        entries = _entries(bucket)
        token, _text = entries["s5/@default.json"]
        bad = json.dumps(dict(template, step_id="s5", key="default", digest="../../etc/passwd"))
        entries["s5/@default.json"] = (token, bad.encode())
        bucket.put_manifest(encode_manifest((k, t, x) for k, (t, x) in entries.items()))
        store = bucket.store()
        artifact_cache.listing._parsed.clear()  # records parsed here: the true file's
        with pytest.warns(UserWarning, match="skipping a record"):
            assert len(store.list()) == N - 1
        assert store.get("s5") == {"v": 0}  # the record file itself


class TestWriters:
    """Who writes the manifest: listings of writable stores, never saves."""

    def test_saves_never_write_it(self, bucket: Bucket) -> None:
        store = bucket.store()
        for i in range(N):
            store.save(f"s{i}", i)
        assert bucket.manifest() is None
        assert len(store.artifacts("s1")) == 1 and store.get("s2") == 2
        assert bucket.manifest() is None  # lookups of one step read no more than they list

    def test_read_only_store_never_writes_it(self, bucket: Bucket) -> None:
        bucket.write_records(_template(bucket), [f"s{i}" for i in range(N)])
        found, seen = bucket.count(bucket.store(read_only=True).list)
        assert len(found) == N and "PUT manifest" not in seen
        assert bucket.manifest() is None

    def test_small_store_is_not_compacted(self, bucket: Bucket) -> None:
        """A single new record is not worth a manifest (reading it costs one GET)."""
        store = bucket.store()
        store.save("only", 1)
        assert len(store.list()) == 1
        assert bucket.manifest() is None

    def test_gc_keeps_it_and_clear_removes_it(self, bucket: Bucket) -> None:
        store = bucket.store()
        for i in range(N):
            store.save(f"s{i}", list(range(5000)))  # payload files
        assert len(store.list()) == N and bucket.manifest() is not None
        store.delete("s1")
        report = store.gc(grace=0)
        assert report.removed == 0 and report.referenced == 1  # one payload, shared
        assert bucket.manifest() is not None
        assert store.clear() == N - 1
        assert bucket.manifest() is None
        assert store.list() == [] and bucket.store().list() == []


LISTER = """
import sys, time
import artifact_cache as ac
from artifact_cache.storage import manifest
manifest.COMPACT_RECORDS = 2  # compact at nearly every listing
url, progress, done = sys.argv[1:4]
store = ac.ArtifactStore(url, progress=False)
store.exists("warm-up")
for turn in range(400):
    finished = open(done).read() == "done" if __import__("os").path.exists(done) else False
    lines = open(progress).read().split()
    confirmed = {line for line in lines if not line.startswith("hot=")}
    hot = max([int(line[4:]) for line in lines if line.startswith("hot=")], default=-1)
    found = {i.step_id: i for i in store.list()}
    missing = confirmed - set(found)
    if missing:
        sys.exit(f"saved before the listing, not listed: {sorted(missing)[:5]}")
    if hot >= 0 and int(found["hot"].tags["n"]) < hot:
        sys.exit(f"stale: hot {found['hot'].tags['n']} listed after {hot} was saved")
    if finished:
        break
else:
    sys.exit("the saver never finished")
print(store._storage._manifest.writes, flush=True)
"""

SAVER = """
import sys
import artifact_cache as ac
url, progress, done, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = ac.ArtifactStore(url, progress=False)
with open(progress, "a") as log:
    for i in range(n):
        store.save(f"p/s{i}", i)
        store.save("hot", i, tags={"n": str(i)})
        log.write(f"p/s{i}\\nhot={i}\\n")
        log.flush()
open(done, "w").write("done")
"""


def test_processes_listing_and_compacting_while_one_saves(s3_url: str, tmp_path: Path) -> None:
    """Two processes list (and compact at nearly every listing) while a third saves: every
    record saved before a listing started is in it, the rewritten one never stale, and
    every record is in a final listing."""
    progress, done = tmp_path / "progress", tmp_path / "done"
    progress.write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-c"]
    listers = [
        subprocess.Popen(
            [*run, textwrap.dedent(LISTER), s3_url, str(progress), str(done)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        saver = subprocess.run(
            [*run, textwrap.dedent(SAVER), s3_url, str(progress), str(done), "40"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert saver.returncode == 0, saver.stderr
        outs = [p.communicate(timeout=300) for p in listers]
    finally:
        for p in listers:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_out, err) in zip(listers, outs, strict=True):
        assert p.returncode == 0, err
    assert sum(int(out) for out, _err in outs) > 0  # they did compact
    store = ac.ArtifactStore(s3_url, progress=False)
    found = {i.step_id: i for i in store.list()}
    assert set(found) == {f"p/s{i}" for i in range(40)} | {"hot"}
    assert found["hot"].tags == {"n": "39"} and store.get("hot") == 39


def test_decode_refuses_what_it_did_not_write() -> None:
    """Every part of a manifest is checked; anything off makes it ignored as a whole."""
    good = encode_manifest([("a/b/@k.json", ('"e"', 3, 1.5), b"{}")])
    assert decode_manifest(good) == {"a/b/@k.json": (('"e"', 3, 1.5), b"{}")}
    doc = json.loads(gzip.decompress(good))
    for bad in (
        {"a/@k.json": [['"e"', True, 1.5], "{}"]},  # a boolean size
        {"a/@k.json": [['"e"', 3, "1.5"], "{}"]},
        {"a/@k.json": [[3, 3, 1.5], "{}"]},
        {"a/@k.json": [['"e"', 3, 1.5], b"{}".hex(), "extra"]},
        {"a/@k.json": [['"e"', 3, 1.5], None]},
        {"a//@k.json": [['"e"', 3, 1.5], "{}"]},
        {"/a/@k.json": [['"e"', 3, 1.5], "{}"]},
        {".a/@k.json": [['"e"', 3, 1.5], "{}"]},
        {"a/@k.txt": [['"e"', 3, 1.5], "{}"]},
        {"a/k.json": [['"e"', 3, 1.5], "{}"]},
        {"a/@b/c.json": [['"e"', 3, 1.5], "{}"]},
        [],
    ):
        data = gzip.compress(json.dumps(dict(doc, records=bad)).encode())
        assert decode_manifest(data) is None, bad
    assert decode_manifest(_bomb()) is None
    assert decode_manifest(good[:-4]) is None
    # A text that is not UTF-8 round-trips byte for byte.
    odd = encode_manifest([("a/@k.json", (None, 3, 1.0), b"\xff\xfe{")])
    assert decode_manifest(odd) == {"a/@k.json": ((None, 3, 1.0), b"\xff\xfe{")}


class TestWithoutEtags:
    """On sftp a listing gives sizes and times only (no ETag): the same index works."""

    def test_sftp(
        self,
        sftp_server: dict[str, Any],  # noqa: F811
        sftp_url: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A record rewritten with the same size and time is read again while its time
        is recent; settled records go into a manifest that a fresh store then uses."""
        from artifact_cache.storage import manifest as module

        monkeypatch.setattr(module, "RACY_SECONDS", 3600.0)  # every record is recent
        options = {"username": "ci", "password": sftp_server["password"], **SSH_OPTIONS}
        store = ac.open_store(sftp_url, **options)
        for i in range(N):
            store.save(f"s{i}", i, tags={"v": "1"})
        assert len(store.list()) == N
        folder = sftp_server["root"] / sftp_url.split("/", 3)[3]
        manifest = folder / "refs" / MANIFEST_NAME
        assert not manifest.exists()  # nothing settled: nothing to write yet
        record = folder / "refs" / "s3" / "@default.json"
        stamp = record.stat().st_mtime_ns
        store.save("s3", 3, tags={"v": "2"})  # the same size...
        os.utime(record, ns=(stamp, stamp))  # ... and time: the token is unchanged
        assert {i.step_id: i.tags["v"] for i in store.list()}["s3"] == "2"

        monkeypatch.setattr(module, "RACY_SECONDS", 3.0)
        past = time.time() - 60
        for path in (folder / "refs").rglob("@*.json"):
            os.utime(path, (past, past))
        assert len(store.list()) == N  # settled now: compacted
        entries = decode_manifest(manifest.read_bytes())
        assert entries is not None and len(entries) == N
        assert all(token[0] is None for token, _text in entries.values())  # no ETags
        fresh = ac.open_store(sftp_url, **options)
        assert len(fresh.list()) == N
        assert fresh._storage._manifest is not None and fresh._storage._manifest.reads == 0
        assert fresh.get("s3") == 3 and fresh.info("s3").tags == {"v": "2"}
        store.fs.client.close()  # (the server's session ends now, not at its shutdown)


def test_azure(az_url: str, azurite: str) -> None:
    """On Azure Blob Storage (Azurite) the listing's ETags make the same index work: a
    fresh store reads the manifest instead of the records, and sees a rewrite."""
    store = ac.open_store(az_url, connection_string=azurite)
    for i in range(N):
        store.save(f"s{i}", i, tags={"v": "1"})
    assert len(store.list()) == N  # writes the manifest
    fresh = ac.open_store(az_url, connection_string=azurite)
    assert len(fresh.list()) == N
    index = fresh._storage._manifest
    assert index is not None and index.fetches == 1 and index.reads == 0
    store.save("s3", 3, tags={"v": "2"})
    assert {i.step_id: i.tags["v"] for i in fresh.list()}["s3"] == "2"
    assert index.reads == 1
    assert fresh.get("s3") == 3


def test_record_at_an_invalid_name(bucket: Bucket) -> None:
    """A record file at a name no valid record has is skipped with a warning at every
    listing, and kept out of the manifest (which would be refused if it named it)."""
    template = _template(bucket)
    bucket.write_records(template, [f"s{i}" for i in range(N)])
    body = json.dumps(dict(template, step_id="s1", key="bad key"))
    key = "store/refs/s1/@bad key.json"
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=body)
    for _ in range(2):
        store = bucket.store()
        with pytest.warns(UserWarning, match="skipping a record"):
            found, seen = bucket.count(store.list)
        assert len(found) == N
    assert seen == {"LIST": 1, "GET manifest": 1, "GET record": 1}, seen
    assert len(_entries(bucket)) == N


def test_long_record_stays_out_of_the_manifest(bucket: Bucket) -> None:
    """A record longer than 1 MiB (huge tags) is listed, and read from its file each time
    rather than copied into the manifest that every fresh store reads."""
    template = _template(bucket)
    bucket.write_records(template, [f"s{i}" for i in range(N)])
    bucket.write_records(template, ["huge"], tags={"blob": "x" * 2**20})
    for _ in range(2):
        store = bucket.store()
        found, seen = bucket.count(store.list)
        assert len(found) == N + 1
        assert len(next(i for i in found if i.step_id == "huge").tags["blob"]) == 2**20
    assert seen == {"LIST": 1, "GET manifest": 1, "GET record": 1}, seen
    assert "huge/@default.json" not in _entries(bucket) and len(_entries(bucket)) == N


def test_doctests() -> None:
    """The manifest module's examples give the output they show."""
    import doctest

    from artifact_cache.storage import manifest

    result = doctest.testmod(manifest, report=True)
    assert result.attempted >= 4 and result.failed == 0
