"""Large loads: read into the buffers the arrays use, digest checked as the bytes land,
and ``mmap_mode`` for local stores.

The large-payload path starts at 16 MiB; the tests lower that threshold (and the chunk
size) so that small arrays go through the same code, chunk by chunk.
"""

from __future__ import annotations

import os
import pickle
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

import artifact_cache as ac
import artifact_cache.storage.base as storage_module
import artifact_cache.storage.buffers as buffers_module
from artifact_cache.digest import hash_bytes, hasher
from artifact_cache.serializers import PickleSerializer


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Payloads over 64 KiB take the large path, read in 16 KiB chunks."""
    monkeypatch.setattr(storage_module, "_SMALL", 64 * 2**10)
    monkeypatch.setattr(buffers_module, "_READ_CHUNK", 16 * 2**10)
    monkeypatch.setattr(buffers_module, "_HASH_SLICE", 4 * 2**10)


def _array(n: int = 300_000) -> np.ndarray:
    return np.random.default_rng(7).random(n)


def _payload_file(store: ac.ArtifactStore, info: ac.ArtifactInfo) -> Path:
    return Path(store._storage.object_path(info.digest))


def _count_unpickling(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = PickleSerializer.loads

    def counted(self: PickleSerializer, data: memoryview) -> object:
        calls.append(1)
        return original(self, data)

    monkeypatch.setattr(PickleSerializer, "loads", counted)
    return calls


class TestChunkedRead:
    @pytest.mark.usefixtures("chunked")
    def test_large_values_equal_on_every_backend(self, store: ac.ArtifactStore) -> None:
        """A payload read chunk by chunk while it is hashed comes back equal and writable."""
        arr = _array()
        value = {"a": arr, "b": arr[::2].copy(), "name": "x"}
        store.save("big", value)
        out = store.get("big")
        assert np.array_equal(out["a"], arr) and np.array_equal(out["b"], arr[::2])
        assert out["name"] == "x"
        assert out["a"].flags.writeable
        out["a"][0] = -1.0  # an independent copy
        assert store.get("big")["a"][0] == arr[0]

    @pytest.mark.payload_files
    def test_read_object_feeds_the_hasher(self, chunked: None, tmp_path: Path) -> None:
        """The digest comes from the hasher fed during the read, on both paths."""
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        for n in (10, 300_000):  # the small path, then the chunked one
            info = store.save(f"v{n}", _array(n))
            h = hasher()
            data = store._storage.read_object(info.digest, info.size, hasher=h)
            assert h.hexdigest() == info.digest == hash_bytes(data)
            assert len(data) == info.size

    @pytest.mark.usefixtures("chunked")
    def test_corrupt_payload_raises_before_unpickling(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A flipped byte (same size) fails the digest; nothing is unpickled or returned."""
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        info = store.save("big", _array())
        path = _payload_file(store, info)
        data = bytearray(path.read_bytes())
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
        calls = _count_unpickling(monkeypatch)
        for mode in (None, "r", "c"):
            with pytest.raises(ac.IntegrityError, match="does not match its digest") as err:
                store.get("big", mmap_mode=mode)
            assert "'big'" in str(err.value) and store.location in str(err.value)
        assert calls == []
        # Saving the value again repairs the payload.
        store.save("big", _array())
        assert np.array_equal(store.get("big"), _array())

    @pytest.mark.usefixtures("chunked")
    @pytest.mark.parametrize("change", ["truncated", "longer"])
    @pytest.mark.parametrize("mode", [None, "r"])
    def test_wrong_size_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str, mode: str | None
    ) -> None:
        """A payload shorter or longer than its record says is refused, never unpickled."""
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        info = store.save("big", _array())
        path = _payload_file(store, info)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if change == "truncated" else data + b"x")
        calls = _count_unpickling(monkeypatch)
        with pytest.raises(ac.IntegrityError, match="recorded"):
            store.get("big", mmap_mode=mode)
        assert calls == []

    def test_reader_failure_reaches_the_caller(self) -> None:
        """An error in the reading thread is raised in the caller's, and the thread ends."""
        view = memoryview(bytearray(100))
        calls = []

        def readinto(buf: memoryview) -> int:
            calls.append(threading.current_thread().name)
            if len(calls) == 3:
                raise OSError("disk gone")
            buf[:10] = b"x" * 10
            return 10

        before = threading.active_count()
        with pytest.raises(OSError, match="disk gone"):
            buffers_module.read_chunks(readinto, view, 99, hasher())
        assert calls[0] != threading.current_thread().name  # read in another thread
        assert threading.active_count() == before

    def test_missing_large_payload(self, chunked: None, tmp_path: Path) -> None:
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        info = store.save("big", _array())
        os.unlink(_payload_file(store, info))
        with pytest.raises(ac.PayloadMissingError, match="'big'"):
            store.get("big")


class TestMmapMode:
    @pytest.mark.parametrize("size", [300_000, 10])
    def test_read_only_arrays_backed_by_the_file(self, tmp_path: Path, size: int) -> None:
        """``mmap_mode="r"``: equal values; out-of-band arrays are read-only maps."""
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        arr = _array(size)
        store.save("arr", {"arr": arr, "n": 3})
        out = store.get("arr", mmap_mode="r")
        assert np.array_equal(out["arr"], arr) and out["n"] == 3
        if arr.nbytes >= PickleSerializer.INBAND_BELOW:
            assert not out["arr"].flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                out["arr"][0] = 1.0
        info = store.info("arr")
        again = store.load(info, mmap_mode="r")
        assert np.array_equal(again["arr"], arr)

    def test_copy_on_write(self, tmp_path: Path) -> None:
        """``mmap_mode="c"``: writable arrays whose changes never reach the stored payload."""
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        arr = _array()
        store.save("arr", arr)
        out = store.get("arr", mmap_mode="c")
        assert out.flags.writeable
        out[:10] = -1.0
        assert np.array_equal(store.get("arr"), arr)
        assert np.array_equal(store.get("arr", mmap_mode="r"), arr)

    def test_signed_store_checks_the_mapped_payload(self, tmp_path: Path) -> None:
        """A signed store verifies the cryptographic hash of a mapped payload too."""
        store = ac.open_store(str(tmp_path / "s"), progress=False, signing_key="k")
        arr = _array()
        info = store.save("arr", arr)
        assert np.array_equal(store.get("arr", mmap_mode="r"), arr)
        with pytest.raises(ac.IntegrityError):
            ac.open_store(str(tmp_path / "s"), signing_key="other").load(info, mmap_mode="r")

    @pytest.mark.parametrize("backend", ["memory", "s3"])
    def test_other_backends_fall_back_to_a_read(
        self, backend: str, request: pytest.FixtureRequest
    ) -> None:
        """On memory:// and S3 the option is ignored: an ordinary, writable load."""
        if backend == "memory":
            url = f"memory://loads-{request.node.name}"
        else:
            url = request.getfixturevalue("s3_url")
        store = ac.open_store(url, progress=False)
        arr = _array(100_000)
        store.save("arr", arr)
        out = store.get("arr", mmap_mode="r")
        assert np.array_equal(out, arr) and out.flags.writeable

    def test_bad_mode_is_refused_before_any_io(self, tmp_path: Path) -> None:
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        for mode in ("r+", "w+", True):
            with pytest.raises(ac.ArtifactStoreError, match="mmap_mode") as err:
                store.get("nothing-here", mmap_mode=mode)  # type: ignore[arg-type]
            assert "'nothing-here'" in str(err.value) and store.location in str(err.value)


class TestMemoryMmapMode:
    def test_memory_hits_come_back_mapped(self, tmp_path: Path) -> None:
        """``ac.Memory(mmap_mode="r")``: a cached array is a read-only map, as in joblib."""
        memory = ac.Memory(tmp_path / "cache", mmap_mode="r")
        calls: list[int] = []

        @memory.cache
        def make(n: int) -> np.ndarray:
            calls.append(n)
            return np.arange(n, dtype=np.float64)

        first = make(5000)
        assert first.flags.writeable  # computed: the function's own array
        again = make(5000)
        assert calls == [5000]
        assert np.array_equal(again, np.arange(5000.0)) and not again.flags.writeable

    def test_writing_modes_map_copy_on_write(self, tmp_path: Path) -> None:
        """joblib's "r+" would write into the cache: here it maps copy-on-write."""
        memory = ac.Memory(tmp_path / "cache")

        def make(n: int) -> np.ndarray:
            return np.arange(n, dtype=np.float64)

        plain = memory.cache(make)
        plain(5000)
        out = memory.cache(make, mmap_mode="r+")(5000)
        assert out.flags.writeable
        out[:] = -1.0
        assert np.array_equal(plain(5000), np.arange(5000.0))


class TestPickleHeader:
    @pytest.mark.parametrize("value", [1, None, "ab", list(range(30))])
    def test_bare_pickle_streams_load(self, value: object) -> None:
        """A payload without the header (a plain pickle stream, shorter than a header or
        not) loads as pickle does."""
        data = pickle.dumps(value, protocol=5)
        assert PickleSerializer().loads(memoryview(data)) == value

    @pytest.mark.parametrize("cut", [4, 9, 15])
    def test_a_header_cut_short_is_an_error(self, cut: int) -> None:
        """A payload that starts as ours but is shorter than the header never loads as a
        bare pickle stream: the header's own error says it is short."""
        data = b"".join(bytes(c) for c in PickleSerializer().dumps([1, 2]))
        with pytest.raises(struct.error, match="at least 16 bytes"):
            PickleSerializer().loads(memoryview(data[:cut]))
        assert PickleSerializer().loads(memoryview(data)) == [1, 2]
