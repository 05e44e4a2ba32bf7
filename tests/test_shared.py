"""A store shared by processes, store objects and threads stays correct.

Fresh listings on every backend, gc that keeps what any record names, clear racing
saves, repair of a damaged payload by any writer, memory:// under threads, and S3
timeouts of the store's own.
"""

from __future__ import annotations

import json
import pickle
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from procs import POLLS_MAX

import artifact_cache as ac
from artifact_cache.storage import S3_DEFAULTS, S3_RETRIES

PROCESS_BACKENDS = ["local", "s3"]


def _url(backend: str, tmp_path: Path, request: Any) -> str:
    from conftest import make_url

    return make_url(backend, tmp_path, request)


def _run(code: str, *args: str) -> None:
    """Run ``code`` in a fresh interpreter (bounded); fail with its stderr if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def _record_file(store: ac.ArtifactStore, step_id: str, key: str = "default") -> str:
    return store._storage.record_path(step_id, key)


def _edit_record(store: ac.ArtifactStore, step_id: str, edit: Any, key: str = "default") -> None:
    path = _record_file(store, step_id, key)
    data = json.loads(store.fs.cat_file(path))
    edit(data)
    store._storage._put(path, [json.dumps(data).encode()], 0)


# --------------------------------------------------------------------------- defect 1
OTHER_WRITER = """
import sys
import artifact_cache as ac
store = ac.open_store(sys.argv[1])
store.save("shared/step", {"by": "B"}, key="k2")
store.save("shared/step/child", "B's child")
store.save("elsewhere/deep/step", "B's deep step")
"""


@pytest.mark.parametrize("backend", PROCESS_BACKENDS)
def test_sees_what_another_process_wrote(backend: str, tmp_path: Path, request: Any) -> None:
    """After another process saves, every lookup of a store object that has listed and
    looked up before sees it, and gc(grace=0) keeps the other process's payload."""
    url = _url(backend, tmp_path, request)
    a = ac.open_store(url)
    a.save("shared/step", {"by": "A"}, key="k1")
    a.save("elsewhere/deep/other", "A's")
    # Prime every listing a cache could keep: the root, the step's folder, sub-folders.
    assert [i.key for i in a.list()] and a.artifacts("shared/step")
    assert not a.exists("shared/step", key="k2")
    assert not a.exists("shared/step/child")
    assert a.list("elsewhere/deep/")

    _run(OTHER_WRITER, url)

    assert a.exists("shared/step", key="k2")
    assert a.exists("shared/step/child")
    assert a.info("shared/step", key="k2").key == "k2"
    assert a.get("shared/step") == {"by": "B"}  # B's is the newest
    assert {i.key for i in a.artifacts("shared/step")} == {"k1", "k2"}
    assert {i.step_id for i in a.list("elsewhere/deep/")} == {
        "elsewhere/deep/other",
        "elsewhere/deep/step",
    }
    assert len(a.list()) == 5
    report = a.gc(grace=0)
    assert report.removed == 0
    for info in a.list():
        a.load(info)  # every payload is still there
    assert a.get("shared/step", key="k2") == {"by": "B"}


def test_listing_cache_never_answers(s3_url: str) -> None:
    """The store's S3 filesystem keeps no listings, and is not the instance that the
    user's own s3fs code shares (whose caching is left as it is)."""
    import fsspec

    store = ac.open_store(s3_url)
    store.save("a/b", 1)
    store.list()
    store.exists("a/b", key="other")
    assert len(store.fs.dircache) == 0
    assert not store.fs.dircache.use_listings_cache
    shared = fsspec.filesystem("s3", config_kwargs=store.fs.config_kwargs)
    assert shared is not store.fs and shared.dircache.use_listings_cache


def _listing_cache_fs() -> type:
    """A filesystem over a shared dict that, like s3fs, gcsfs and adlfs, answers
    ``ls``/``info``/``exists`` from listings it cached earlier."""
    from fsspec.spec import AbstractFileSystem

    class ListingCacheFS(AbstractFileSystem):  # type: ignore[misc]
        protocol = "listingcache"
        root_marker = ""
        files: dict[str, bytes] = {}  # the "server": shared by every instance

        @classmethod
        def _strip_protocol(cls, path: str) -> str:
            return str(path).removeprefix("listingcache://").rstrip("/")

        def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
            path = self._strip_protocol(path)
            if path in self.dircache:
                entries = self.dircache[path]
            else:
                children: dict[str, dict[str, Any]] = {}
                for name, data in list(self.files.items()):
                    if name.startswith(path + "/"):
                        head = name[len(path) + 1 :].split("/", 1)[0]
                        child = f"{path}/{head}"
                        kind = "file" if child == name else "directory"
                        size = len(data) if kind == "file" else 0
                        children[child] = {"name": child, "size": size, "type": kind}
                if not children:
                    raise FileNotFoundError(path)
                entries = self.dircache[path] = sorted(children.values(), key=str)
            return entries if detail else [e["name"] for e in entries]

        def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
            path = self._strip_protocol(path)
            parent = path.rsplit("/", 1)[0]
            for entry in self.ls(parent):  # the parent's listing, cached or not
                if entry["name"] == path:
                    return dict(entry)
            raise FileNotFoundError(path)

        def cat_file(self, path: str, start: Any = None, end: Any = None, **kw: Any) -> bytes:
            try:
                return self.files[self._strip_protocol(path)][start:end]
            except KeyError:
                raise FileNotFoundError(path) from None

        def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kw: Any) -> None:
            path = self._strip_protocol(path)
            self.files[path] = bytes(value)
            self.dircache.pop(path.rsplit("/", 1)[0], None)  # its own folder only, as s3fs

        def rm(self, path: Any, recursive: bool = False, maxdepth: Any = None) -> None:
            for p in [path] if isinstance(path, str) else path:
                self.files.pop(self._strip_protocol(p), None)

    return ListingCacheFS


def test_any_filesystem_with_a_listing_cache(monkeypatch) -> None:
    """On a filesystem that caches listings (as s3fs, gcsfs and adlfs do), a store
    object that listed before sees what another client saved afterwards."""
    from fsspec.registry import _registry

    cls = _listing_cache_fs()
    monkeypatch.setitem(_registry, "listingcache", cls)
    monkeypatch.setattr(cls, "files", {})
    url = f"listingcache://bucket-{uuid.uuid4().hex}/cache"
    a = ac.open_store(url)
    a.save("step", 1, key="k1")
    a.save("step/child", 2)
    assert len(a.list()) == 2 and not a.exists("step", key="k2")
    b = ac.open_store(url, skip_instance_cache=True)  # another client: its own instance
    assert b.fs is not a.fs
    b.save("step", 3, key="k2")
    b.save("step/child/leaf", 4)
    b.save("other/deep", 5)
    assert a.exists("step", key="k2") and a.get("step", key="k2") == 3
    assert {i.step_id for i in a.list()} == {"step", "step/child", "step/child/leaf", "other/deep"}
    assert {i.key for i in a.artifacts("step")} == {"k1", "k2"}
    assert a.gc(grace=0).removed == 0
    assert a.get("step/child/leaf") == 4


def test_memoised_function_reuses_another_process_result(s3_url: str) -> None:
    """A memoised function in this process finds what another process computed, though
    this process looked the key up before."""
    calls = []
    store = ac.open_store(s3_url)

    @store.step("square")
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert square(2) == 4 and calls == [2]
    key3 = square._prepare((3,), {}).key  # the key the call square(3) looks up
    assert len(store.list()) == 1 and len(square.artifacts()) == 1  # listings, as a user does
    assert not store.exists("square", key=key3)
    _run(
        """
        import sys
        import artifact_cache as ac
        ac.open_store(sys.argv[1]).save("square", 9, key=sys.argv[2])
        """,
        s3_url,
        key3,
    )
    assert store.exists("square", key=key3)
    assert square(3) == 9 and calls == [2]


# --------------------------------------------------------------------------- defect 2
class TestGcKeepsWhatRecordsName:
    def test_extra_field_inside_inputs(self, store: ac.ArtifactStore) -> None:
        """A record with an unknown field inside inputs[0] (as a newer release may write)
        is read, keeps the field on a round-trip, and gc keeps its payload."""
        raw = store.save("raw", list(range(100)))
        store.save("model", {"w": [1.0] * 100}, inputs=[raw.ref])
        _edit_record(store, "model", lambda d: d["inputs"][0].update(signature="abc"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no record is skipped
            info = store.info("model")
            assert {i.step_id for i in store.list()} == {"raw", "model"}
            assert store.gc(grace=0).removed == 0
        assert info.to_dict()["inputs"][0]["signature"] == "abc"
        assert ac.ArtifactInfo.from_json(info.to_json()).inputs[0].extra == {"signature": "abc"}
        assert store.get("model") == {"w": [1.0] * 100}

    @pytest.mark.payload_files
    def test_unreadable_record_keeps_its_payload(self, store: ac.ArtifactStore) -> None:
        """gc keeps every payload a record it cannot parse names, and says which record."""
        info = store.save("model", {"w": [2.0] * 100})
        orphan = store.save("orphan", "x" * 100)
        store.delete("orphan", purge=True)
        _edit_record(store, "model", lambda d: d.update(size="not a size"))
        with pytest.warns(UserWarning, match="'model'.*keeping every payload it names"):
            report = store.gc(grace=0)
        assert report.removed == 1
        assert store._storage.has_object(info.digest, info.size)
        assert not store._storage.has_object(orphan.digest, orphan.size)

    @pytest.mark.payload_files
    def test_record_that_cannot_be_read_is_not_deleted(
        self, store: ac.ArtifactStore, monkeypatch
    ) -> None:
        """A record whose read fails (not "not found") stops listings and gc: it is not
        taken for a deleted one, and gc removes nothing."""
        info = store.save("model", {"w": 1})
        orphan = store.save("orphan", {"w": 2})
        store.delete("orphan", purge=True)
        storage = store._storage
        real = storage.read_many

        def flaky(paths: Any) -> dict[str, Any]:
            out = real(paths)
            for path in out:
                if "/model/" in path:
                    out[path] = ConnectionResetError("connection reset by peer")
            return out

        monkeypatch.setattr(storage, "read_many", flaky)
        for call in (store.list, lambda: store.artifacts("model"), lambda: store.gc(grace=0)):
            with pytest.raises(ac.ArtifactStoreError, match="connection reset"):
                call()
        monkeypatch.undo()
        assert storage.has_object(orphan.digest, orphan.size)
        assert store.get("model") == {"w": 1} and store.info("model") == info


# --------------------------------------------------------------------------- defect 3
SAVER = """
import sys
import artifact_cache as ac
store = ac.open_store(sys.argv[1])
writer, count = sys.argv[2], int(sys.argv[3])
store.save("common", "first", key=f"k{writer}-first")
print("ready", flush=True)
for i in range(count):
    # New files in one folder and new folders: a clear removing folders races with both.
    store.save("common", {"writer": writer, "i": i}, key=f"k{writer}-{i}")
    if i % 4 == 0:
        # (over INLINE_MAX: a payload file of its own, which clear removes too)
        store.save(f"w{writer}/s{i}/leaf", {"writer": writer, "i": i, "pad": "x" * 20_000})
print("done", flush=True)
"""


@pytest.mark.parametrize("backend", PROCESS_BACKENDS)
def test_clear_racing_saves(backend: str, tmp_path: Path, request: Any) -> None:
    """clear() while two other processes save finishes every time, no save fails, and
    afterwards every visible record has its payload."""
    url = _url(backend, tmp_path, request)
    store = ac.open_store(url)
    store.save("before", 1)
    count = "300" if backend == "local" else "30"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, url, str(w), count],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    clears = 0
    try:
        for p in procs:
            assert p.stdout is not None
            ready = p.stdout.readline()
            assert ready == "ready\n", (ready, p.stderr.read() if p.stderr else "")
        while any(p.poll() is None for p in procs) and clears < 5000:
            store.clear()
            clears += 1
        # Read the rest through the same text streams that read "ready": communicate()
        # reads the raw pipes and would miss a "done" already buffered by readline().
        results = []
        for p in procs:
            assert p.stdout is not None and p.stderr is not None
            p.wait(timeout=120)
            results.append((p.stdout.read(), p.stderr.read()))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert clears > 0
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0 and out == "done\n", err[-3000:]
    infos = store.list()
    for info in infos:
        assert isinstance(store.load(info), dict)
    store.clear()
    assert store.list() == []
    if backend == "local":
        # Nothing but the marker, the index of records (a cache of refs/) and the gc
        # lock (an empty file).
        files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
        leftovers = [
            p for p in files if not p.name.startswith("index.sqlite") and p.name != "gc.lock"
        ]
        assert [p.name for p in leftovers] == ["STORE.json"], leftovers


@pytest.mark.payload_files
def test_clear_keeps_no_record_without_payload(store: ac.ArtifactStore, monkeypatch) -> None:
    """A record written while clear removes payloads is dropped if its payload went,
    and a save whose payload clear removed puts it back after its record."""
    storage = store._storage
    info = store.save("early", "payload")
    real_payloads = storage.remove_payloads

    def save_meanwhile() -> None:
        # A save that re-used the payload wrote its record after clear's first listing.
        storage.put_record("late", "default", info.to_json().replace('"early"', '"late"'))
        real_payloads()

    monkeypatch.setattr(storage, "remove_payloads", save_meanwhile)
    store.clear()
    monkeypatch.undo()
    assert store.list() == []
    # The other order: the payload goes after the save's record is written.
    real_put_record = storage.put_record

    def clear_after_record(step_id: str, key: str, text: str, **kw: Any) -> None:
        real_put_record(step_id, key, text, **kw)
        storage.remove_payloads()

    monkeypatch.setattr(storage, "put_record", clear_after_record)
    store.save("x", [1, 2, 3])
    monkeypatch.undo()
    assert store.get("x") == [1, 2, 3]
    # A whole clear (another store object's) between a save's payload and its record:
    # the save finds its payload gone after writing its record, and puts it back.
    other = ac.open_store(store.location, skip_instance_cache=True)
    value = list(range(10000))  # (above INLINE_MAX: a payload file of its own)

    def clear_before_record(step_id: str, key: str, text: str, **kw: Any) -> None:
        other.clear()
        real_put_record(step_id, key, text, **kw)

    monkeypatch.setattr(storage, "put_record", clear_before_record)
    store.save("y", value)
    monkeypatch.undo()
    assert store.get("y") == value and other.get("y") == value


# --------------------------------------------------------------------------- defect 6
def _flip(store: ac.ArtifactStore, digest: str) -> None:
    path = store._storage.object_path(digest)
    data = bytearray(store.fs.cat_file(path))
    data[len(data) // 2] ^= 0xFF
    store._storage._put(path, [bytes(data)], len(data))


class TestRepairByAnyWriter:
    @pytest.mark.payload_files
    def test_new_store_object(self, store_url: str) -> None:
        """A save of the same value through a store object that never read the damaged
        payload rewrites it (same size: size alone cannot tell)."""
        first = ac.open_store(store_url)
        info = first.save("x", list(range(1000)))
        _flip(first, info.digest)
        with pytest.raises(ac.IntegrityError):
            first.get("x")
        second = ac.open_store(store_url, skip_instance_cache=True)
        second.save("x", list(range(1000)))
        assert first.get("x") == list(range(1000))

    @pytest.mark.parametrize("backend", PROCESS_BACKENDS)
    def test_another_process(self, backend: str, tmp_path: Path, request: Any) -> None:
        """A save of the same value in another process repairs a same-size corruption
        (a value above INLINE_MAX, so that it has a payload file)."""
        url = _url(backend, tmp_path, request)
        store = ac.open_store(url)
        info = store.save("x", list(range(10000)))
        _flip(store, info.digest)
        _run(
            """
            import sys
            import artifact_cache as ac
            ac.open_store(sys.argv[1]).save("y", list(range(10000)))
            """,
            url,
        )
        assert store.get("x") == list(range(10000))

    def test_large_local_payload(self, tmp_path: Path) -> None:
        """A large local payload (written while hashed) is renamed over a damaged copy."""
        import numpy as np

        store = ac.open_store(str(tmp_path / "s"))
        value = np.arange(3 * 2**21, dtype=np.float64)  # 48 MiB: above the 16 MiB mark
        info = store.save("big", value)
        _flip(store, info.digest)
        ac.open_store(str(tmp_path / "s")).save("big2", value)
        assert np.array_equal(store.get("big"), value)

    def test_large_s3_payload(self, s3_url: str) -> None:
        """A large payload on S3 (downloaded and hashed before it is re-used) is uploaded
        again when damaged, and re-used when intact."""
        import numpy as np

        store = ac.open_store(s3_url)
        value = np.arange(17 * 2**17, dtype=np.float64)  # 17 MiB: above the 16 MiB mark
        info = store.save("big", value)
        path = store._storage.object_path(info.digest)
        _flip(store, info.digest)
        ac.open_store(s3_url, skip_instance_cache=True).save("big2", value)
        assert np.array_equal(store.get("big"), value)
        third = ac.open_store(s3_url, skip_instance_cache=True)
        written: list[str] = []
        real_put = third._storage._put

        def put(target: str, *args: Any, **kw: Any) -> None:
            written.append(target)
            real_put(target, *args, **kw)

        third._storage._put = put  # type: ignore[method-assign]
        third.save("big3", value)
        # The record and its version record only: the payload is re-used.
        assert path not in written and len(written) == 2

    @pytest.mark.payload_files
    def test_intact_payload_is_reused(self, tmp_path: Path) -> None:
        """An intact local payload is re-used, not written again (its inode stays)."""
        store = ac.open_store(str(tmp_path / "s"))
        info = store.save("x", list(range(1000)))
        path = Path(store._storage.object_path(info.digest))
        before = path.stat().st_ino
        ac.open_store(str(tmp_path / "s")).save("y", list(range(1000)))
        assert path.stat().st_ino == before


# --------------------------------------------------------------------------- defect 7
class _CountingDict(dict):  # type: ignore[type-arg]
    """fsspec's memory dict, counting every walk over all of its files."""

    walks = 0

    def __iter__(self) -> Any:
        type(self).walks += 1
        return super().__iter__()

    def keys(self) -> Any:
        type(self).walks += 1
        return super().keys()

    def items(self) -> Any:
        type(self).walks += 1
        return super().items()

    def values(self) -> Any:
        type(self).walks += 1
        return super().values()


class TestMemoryStores:
    def test_sixteen_threads(self) -> None:
        """16 threads saving and reading in two memory stores never raise, beside a third
        memory store with many files (which a scan of every memory file would walk)."""
        from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

        urls = [f"memory://threads-{uuid.uuid4().hex}" for _ in range(2)]
        errors: list[BaseException] = []
        crowd = f"/crowd-{uuid.uuid4().hex}"
        crowd_files = [f"{crowd}/f{i}" for i in range(20_000)]
        for path in crowd_files:
            MemoryFileSystem.store[path] = MemoryFile(None, path, b"x")

        def work(n: int) -> None:
            store = ac.open_store(urls[n % 2])
            try:
                for i in range(25):
                    store.save(f"t{n}/s{i % 5}", {"n": n, "i": i}, key=f"k{i % 3}")
                    assert store.get(f"t{n}/s{i % 5}")["n"] == n
                    store.exists(f"t{(n + 1) % 16}/s0")
                    store.list(f"t{n}/")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
        finally:
            for path in crowd_files:
                MemoryFileSystem.store.pop(path, None)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert sum(len(ac.open_store(u).list()) for u in urls) == 16 * 5 * 3

    def test_lookups_do_not_walk_every_memory_file(self, monkeypatch) -> None:
        """A lookup without a key, a listing and gc look at this store's files only."""
        from fsspec.implementations.memory import MemoryFileSystem

        files = _CountingDict(MemoryFileSystem.store)
        monkeypatch.setattr(MemoryFileSystem, "store", files)
        other = ac.open_store(f"memory://other-{uuid.uuid4().hex}")
        for i in range(20):
            other.save(f"s{i}", i)
        store = ac.open_store(f"memory://mine-{uuid.uuid4().hex}")
        store.save("x", 1)
        _CountingDict.walks = 0
        assert store.get("x") == 1
        assert store.info("x").key == "default"
        assert store.exists("x") and not store.exists("y")
        assert len(store.list()) == 1 and len(store.artifacts("x")) == 1
        store.gc(grace=0)
        store.delete("x")
        store.save("x", 2)
        assert _CountingDict.walks == 0

    @pytest.mark.payload_files
    def test_files_stay_readable_through_fsspec(self, mem_store: ac.ArtifactStore) -> None:
        """Payloads and records of a memory store are fsspec memory files as before."""
        info = mem_store.save("x", b"abc", serializer="raw")
        assert mem_store.fs.cat_file(info.uri) == b"abc"


# --------------------------------------------------------------------------- defect 8
class _SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _poll in range(POLLS_MAX):
            if self.stop.is_set():
                return
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


class TestS3Timeouts:
    def test_defaults_in_place(self, s3_url: str) -> None:
        """An S3 store gets connect/read timeouts and bounded retries by default."""
        fs = ac.open_store(s3_url).fs
        for name, value in S3_DEFAULTS.items():
            assert fs.config_kwargs[name] == value
        assert fs.retries == S3_RETRIES
        attempts = S3_DEFAULTS["retries"]["total_max_attempts"]
        per_attempt = S3_DEFAULTS["connect_timeout"] + S3_DEFAULTS["read_timeout"]
        backoff = 2.0  # botocore's standard mode: at most 2 s before its second attempt
        s3fs_backoff = 0.1 + 0.17  # s3fs sleeps 0.1 * 1.7**i between its attempts
        worst = S3_RETRIES * (attempts * per_attempt + (attempts - 1) * backoff) + s3fs_backoff
        assert worst < 60

    def test_user_options_override(self, s3_url: str) -> None:
        """Storage options override each default; the others stay."""
        store = ac.open_store(s3_url, config_kwargs={"read_timeout": 99})
        assert store.fs.config_kwargs["read_timeout"] == 99
        assert store.fs.config_kwargs["connect_timeout"] == S3_DEFAULTS["connect_timeout"]
        assert store.storage_options == {"config_kwargs": {"read_timeout": 99}}
        store.save("x", 1)  # the options reach a working client
        assert store.get("x") == 1

    @pytest.mark.parametrize("layer", ["simplecache", "dir"])
    def test_chained_urls_get_the_defaults(self, s3_url: str, layer: str, tmp_path: Path) -> None:
        """An S3 layer behind another (``simplecache::s3://``, ``dir::s3://``) gets the
        same timeouts and retries; options given under the layer's name win one by one."""
        options: dict[str, Any] = {"s3": {"config_kwargs": {"read_timeout": 99}}}
        if layer == "simplecache":
            options["simplecache"] = {"cache_storage": str(tmp_path / "c")}
        store = ac.open_store(f"{layer}::{s3_url}", **options)
        assert store.fs.config_kwargs["read_timeout"] == 99
        assert store.fs.config_kwargs["connect_timeout"] == S3_DEFAULTS["connect_timeout"]
        assert store.fs.config_kwargs["retries"] == S3_DEFAULTS["retries"]
        assert store.fs.retries == S3_RETRIES
        store.save("x", 1)
        assert pickle.loads(pickle.dumps(store)).get("x") == 1

    def test_silent_endpoint_fails_cleanly(self) -> None:
        """Against an endpoint that accepts and never answers, save() raises an
        ArtifactStoreError naming the store instead of hanging."""
        server = _SilentServer()
        outcome: list[BaseException | None] = []
        url = "s3://silent-bucket/cache"

        def attempt() -> None:
            store = ac.open_store(
                url,
                endpoint_url=f"http://127.0.0.1:{server.port}",
                key="testing",
                secret="testing",
                config_kwargs={"connect_timeout": 1, "read_timeout": 1},
            )
            try:
                store.save("step-a", 1)
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        worker = threading.Thread(target=attempt, daemon=True)
        try:
            worker.start()
            worker.join(timeout=60)
            assert not worker.is_alive(), "save() hung on a silent endpoint"
        finally:
            server.close()
        assert server.accepted  # it did reach the server
        [error] = outcome
        assert isinstance(error, ac.ArtifactStoreError)
        assert url in str(error) and "'step-a'" in str(error)
