"""compress=: pickle and json payloads compressed by a named codec, on every backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_record_fields import BASE

import artifact_cache as ac
from artifact_cache.digest import hash_bytes

CODECS = ["gzip", "bz2", "lzma", "zstd"]

# Compressible: words repeat. 300 KiB pickled, far above the inline limit.
BIG = [f"customer {i % 50} bought item {i % 7}" for i in range(10_000)]


def _stored(store: ac.ArtifactStore, info: ac.ArtifactInfo) -> bytes:
    """The payload's bytes as stored (in the record or in objects/)."""
    inline = info.inline_payload()
    if inline is not None:
        return inline
    return bytes(store.fs.cat_file(store._storage.object_path(info.digest)))


class TestRoundTrip:
    @pytest.mark.parametrize("codec", CODECS)
    def test_pickle(self, store: ac.ArtifactStore, codec: str) -> None:
        """A compressed pickle comes back equal; the record names the codec and its
        digest and size are those of the stored, compressed bytes; it is smaller."""
        plain = store.save("plain", BIG)
        info = store.save("packed", BIG, compress=codec)
        assert info.compression == codec and store.info("packed").compression == codec
        assert store.get("packed") == BIG
        assert info.size < plain.size / 4
        stored = _stored(store, info)
        assert len(stored) == info.size and hash_bytes(stored) == info.digest
        assert plain.compression is None and "compression" not in plain.to_dict()

    @pytest.mark.parametrize("codec", ["gzip", "zstd"])
    def test_json(self, store: ac.ArtifactStore, codec: str) -> None:
        """A compressed json payload: get and json.load(store.open()) give the value."""
        info = store.save("rows", BIG, serializer="json", compress=codec)
        assert info.compression == codec and info.serializer == "json"
        assert store.get("rows") == BIG
        with store.open("rows") as f:  # the serialised bytes, decompressed
            assert json.load(f) == BIG

    def test_open_gives_the_serialised_bytes(self, store: ac.ArtifactStore) -> None:
        """store.open streams the payload decompressed: the same bytes as uncompressed."""
        store.save("plain", BIG)
        store.save("packed", BIG, compress="zstd")
        with store.open("plain") as a, store.open("packed") as b:
            plain = a.read()
            assert b.read(4) == b"ACP1"
            assert b"ACP1" + b.read() == plain
        with store.open("packed") as f:  # read in pieces, as a stream
            assert f.read(100) + f.read(100) == plain[:200]

    def test_inline(self, store: ac.ArtifactStore) -> None:
        """A payload that compresses to 16 KiB or less travels inside its record, compressed."""
        plain = store.save("plain", BIG)
        info = store.save("packed", BIG, compress="zstd")
        assert plain.inline is None and info.inline is not None
        assert store.get("packed") == BIG

    def test_arrays_come_back_writable(self, store: ac.ArtifactStore) -> None:
        """Out-of-band numpy buffers survive compression and load writable."""
        arr = np.tile(np.arange(1000, dtype=np.float64), 200)
        info = store.save("arr", arr, compress="lzma")
        assert info.size < arr.nbytes / 10
        out = store.get("arr")
        np.testing.assert_array_equal(out, arr)
        assert out.flags.writeable

    @pytest.mark.parametrize("codec", CODECS)
    def test_equal_values_share_one_payload(self, store: ac.ArtifactStore, codec: str) -> None:
        """Compression is deterministic (gzip's header holds no time): dedup still works."""
        first = store.save("a", BIG, compress=codec)
        second = store.save("b", list(BIG), compress=codec)
        assert first.digest == second.digest

    def test_memoised_step(self, store: ac.ArtifactStore) -> None:
        """@store.step(compress=...) saves compressed and serves the hit decompressed;
        the codec takes no part in the key."""
        calls = []

        def body(n: int) -> list[str]:
            calls.append(n)
            return BIG[:n]

        packed = store.step("rows", compress="zstd")(body)
        plain = store.step("rows")(body)
        assert packed(5_000) == BIG[:5_000] and packed(5_000) == BIG[:5_000]
        assert calls == [5_000]
        assert store.info("rows").compression == "zstd"
        assert plain.call(5_000).cached and calls == [5_000]  # the same key
        assert plain(6_000) == BIG[:6_000]
        assert store.info("rows").compression is None

    def test_gc_keeps_compressed_payloads(self, store: ac.ArtifactStore) -> None:
        """gc and dedup see the stored bytes' digest: nothing referenced is removed."""
        store.save("packed", BIG * 3, compress="gzip")
        store.gc(grace=0)
        assert store.get("packed") == BIG * 3

    def test_signed(self, store_url: str) -> None:
        """A signature covers the codec: a record whose compression was changed is refused."""
        store = ac.open_store(store_url, signing_key="team-key")
        info = store.save("packed", BIG, compress="gzip")
        assert store.get("packed") == BIG and store.verified(info)
        forged = ac.ArtifactInfo.from_dict({**info.to_dict(), "compression": "bz2"})
        with pytest.raises(ac.IntegrityError):
            store.load(forged)


class TestRefused:
    @pytest.mark.parametrize("codec", ["rar", "GZIP", "zip", ""])
    def test_unknown_codec(self, store: ac.ArtifactStore, codec: str) -> None:
        """An unknown codec is refused naming the step, the store and the usable codecs;
        nothing is written, the previous artifact stays."""
        store.save("x", [1])
        with pytest.raises(ac.SerializationError) as err:
            store.save("x", BIG, compress=codec)
        text = str(err.value)
        assert "'x'" in text and store.location in text and "gzip" in text
        assert store.get("x") == [1] and store.info("x").compression is None

    def test_raw(self, mem_store: ac.ArtifactStore) -> None:
        """A raw payload is the file given (url serves it): compress= is refused."""
        with pytest.raises(ac.SerializationError, match="pickle and json") as err:
            mem_store.save("csv", b"a,b\n1,2\n", serializer="raw", compress="gzip")
        assert "'csv'" in str(err.value) and mem_store.location in str(err.value)
        assert not mem_store.exists("csv")

    @pytest.mark.parametrize(
        "options",
        [{"compress": "rar"}, {"compress": 3}, {"serializer": "raw", "compress": "gzip"}],
    )
    def test_decorator(self, mem_store: ac.ArtifactStore, options: dict[str, Any]) -> None:
        """A bad codec is refused when the function is decorated, naming the step."""
        with pytest.raises(ValueError, match="'f'"):
            mem_store.step("f", **options)(lambda: 1)

    @pytest.mark.parametrize("how", ["flip", "truncate"])
    @pytest.mark.parametrize("size", ["inline", "file"])
    def test_damaged_payload(self, store: ac.ArtifactStore, how: str, size: str) -> None:
        """A corrupt or truncated compressed payload raises IntegrityError: the digest of
        the stored bytes is checked before anything is decompressed."""
        value = BIG if size == "inline" else [str(i) for i in range(200_000)]
        info = store.save("packed", value, compress="gzip")
        assert (info.inline is not None) == (size == "inline")
        data = bytearray(_stored(store, info))
        if how == "flip":
            data[len(data) // 2] ^= 0xFF
        else:
            del data[len(data) // 2 :]
        if size == "file":
            store.fs.pipe_file(store._storage.object_path(info.digest), bytes(data))
            target = info
        else:
            # An inline payload changed together with its size: only the digest tells.
            record = {**info.to_dict(), "inline": _b64(bytes(data)), "size": len(data)}
            target = ac.ArtifactInfo.from_dict(record)
        with pytest.raises(ac.IntegrityError) as err:
            store.load(target)
        assert "'packed'" in str(err.value) and store.location in str(err.value)


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


class TestRecordField:
    @pytest.mark.parametrize("value", [3, "", "GZIP", "../gzip", "z" * 33, ["gzip"], True])
    def test_bad_values_are_refused(self, value: Any) -> None:
        """compression is a codec name or null; anything else makes the record invalid."""
        with pytest.raises(ac.RecordError, match="compression"):
            ac.ArtifactInfo.from_dict({**BASE, "compression": value})

    @pytest.mark.parametrize("value", ["zstd", "gzip", "lz4", "brotli", None])
    def test_good_values_round_trip(self, value: str | None) -> None:
        """A codec name (known here or not) or null is kept through JSON."""
        info = ac.ArtifactInfo.from_dict({**BASE, "compression": value})
        assert info.compression == value
        assert ac.ArtifactInfo.from_json(info.to_json()) == info

    def test_a_codec_unknown_here(self, mem_store: ac.ArtifactStore) -> None:
        """A record naming a codec this installation does not know fails to load with a
        message naming it, the step and the store (it is not taken for uncompressed)."""
        info = mem_store.save("x", [1, 2])
        strange = ac.ArtifactInfo.from_dict({**info.to_dict(), "compression": "brotli"})
        with pytest.raises(ac.SerializationError, match="brotli") as err:
            mem_store.load(strange)
        assert "'x'" in str(err.value) and mem_store.location in str(err.value)


def test_without_zstandard(tmp_path: Path) -> None:
    """Where zstandard is missing, a zstd artifact fails to load (get and open) naming
    the package and the zstd extra; saving with zstd says the same and writes nothing;
    gzip still works."""
    url = str(tmp_path / "store")
    ac.open_store(url).save("packed", BIG, compress="zstd")
    code = f"""
import sys
sys.modules["zstandard"] = None
sys.modules["backports.zstd"] = None
import artifact_cache as ac
store = ac.open_store({url!r})
for call in (lambda: store.get("packed"), lambda: store.open("packed"),
             lambda: store.save("again", [1], compress="zstd")):
    try:
        call()
    except ac.MissingDependencyError as exc:
        print("MISSING:", exc)
print("EXISTS:", store.exists("again"))
print("INFO:", store.info("packed").compression)
store.save("gz", [1, 2], compress="gzip")
print("GZIP:", store.get("gz"))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    missing = [line for line in proc.stdout.splitlines() if line.startswith("MISSING:")]
    assert len(missing) == 3, proc.stdout
    for line, step in zip(missing, ("packed", "packed", "again"), strict=True):
        assert "zstandard" in line and "artifact-cache[zstd]" in line
        assert f"'{step}'" in line and url in line
    assert "EXISTS: False" in proc.stdout
    assert "INFO: zstd" in proc.stdout
    assert "GZIP: [1, 2]" in proc.stdout


def _rows(n: int) -> list[str]:
    return BIG[:n]


class TestJoblibMemory:
    @pytest.mark.parametrize(
        ("compress", "codec"),
        [(True, "gzip"), (3, "gzip"), ("zlib", "gzip"), ("lzma", "lzma"), (("zstd", 3), "zstd")],
    )
    def test_compress_is_honoured(self, tmp_path: Path, compress: Any, codec: str) -> None:
        """Memory(compress=) as joblib takes it compresses the cached results; a pickled
        Memory (as sklearn's clones and workers get it) keeps the codec."""
        import pickle

        memory = ac.Memory(tmp_path / "cache", compress=compress)
        rows = memory.cache(_rows)
        assert rows(5_000) == BIG[:5_000]
        assert memory.store is not None
        [info] = memory.store.list()
        assert info.compression == codec
        assert rows(5_000) == BIG[:5_000] and rows.check_call_in_cache(5_000)
        again = pickle.loads(pickle.dumps(memory))
        assert again.codec == codec

    @pytest.mark.parametrize("compress", [False, 0])
    def test_off(self, tmp_path: Path, compress: Any) -> None:
        """compress=False or 0 stores results uncompressed, as before."""
        memory = ac.Memory(tmp_path / "cache", compress=compress)
        memory.cache(_rows)(100)
        assert memory.store is not None and memory.store.list()[0].compression is None

    @pytest.mark.parametrize("compress", ["rar", 12, ("nope", 3), 1.5])
    def test_bad_values(self, tmp_path: Path, compress: Any) -> None:
        """An unknown codec or level is refused when the Memory is made."""
        with pytest.raises(ValueError, match="compress"):
            ac.Memory(tmp_path / "cache", compress=compress)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("serializer", ["pickle", "json"])
def test_a_reader_unaware_of_compression_fails_loudly(
    mem_store: ac.ArtifactStore, codec: str, serializer: str
) -> None:
    """Read as if the record had no compression field (as a release before it reads it),
    a compressed payload raises an error: it is never taken for another value (which is
    why the store's format version stays as it is)."""
    info = mem_store.save("packed", BIG, serializer=serializer, compress=codec)
    unaware = ac.ArtifactInfo.from_dict(
        {k: v for k, v in info.to_dict().items() if k != "compression"}
    )
    with pytest.raises(ac.SerializationError, match="'packed'"):
        mem_store.load(unaware)
