"""Small payloads are stored inside their record: one file, one write, one read."""

from __future__ import annotations

import base64
import json
import pickle
from pathlib import Path

import fsspec
import pytest

import artifact_cache as ac
from artifact_cache.digest import hash_bytes
from artifact_cache.errors import ArtifactStoreError, IntegrityError, RecordError, StoreFormatError
from artifact_cache.info import INLINE_MAX, ArtifactInfo
from artifact_cache.storage.base import FORMAT_VERSION


class _Touch:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def _record_path(store: ac.ArtifactStore, step_id: str, key: str = "default") -> str:
    return store._storage.record_path(step_id, key)


def _objects(store: ac.ArtifactStore) -> list[str]:
    return list(store.fs.find(store._storage.path("objects")))


def _rewrite(store: ac.ArtifactStore, step_id: str, change: dict[str, object]) -> None:
    path = _record_path(store, step_id)
    data = json.loads(store.fs.cat_file(path))
    data.update(change)
    store.fs.pipe_file(path, json.dumps(data).encode())


def test_small_payload_is_one_record_file(store: ac.ArtifactStore) -> None:
    """A value under the threshold writes no payload file and loads from its record."""
    info = store.save("small", {"a": 1})
    assert info.inline is not None and info.uri is None
    assert _objects(store) == []
    assert store.get("small") == {"a": 1}
    big = store.save("big", b"x" * (INLINE_MAX + 1), serializer="raw")
    assert big.inline is None
    assert len(_objects(store)) == 1
    assert store.get("big") == b"x" * (INLINE_MAX + 1)


def test_tampered_inline_bytes_are_never_unpickled(
    mem_store: ac.ArtifactStore, tmp_path: Path
) -> None:
    """Inline bytes that do not hash to the digest are an IntegrityError, not unpickled."""
    mem_store.save("small", "x" * 1000)
    flag = tmp_path / "ran"
    evil = pickle.dumps(_Touch(str(flag)))
    info = mem_store.info("small")
    fake = evil + b"." * (info.size - len(evil))
    assert pickle.loads(fake) is not None and flag.exists()  # the attack works if unpickled
    flag.unlink()
    _rewrite(mem_store, "small", {"inline": base64.b64encode(fake).decode()})
    with pytest.raises(IntegrityError, match="does not match its digest"):
        mem_store.get("small")
    assert not flag.exists()


def test_inline_size_must_match_the_record() -> None:
    """The field is checked when read: base64 text whose decoded size is the record's size."""
    info = ac.open_store("memory://inline-size").save("s", b"abc", serializer="raw")
    data = info.to_dict()
    assert ArtifactInfo.from_dict(data).inline == data["inline"]
    for bad in ("YWJjZA==", "not base64!", 3, "YWJ"):
        with pytest.raises(RecordError, match="inline"):
            ArtifactInfo.from_dict({**data, "inline": bad})


def test_signed_inline_payload_is_covered(store_url: str) -> None:
    """Changing the inline bytes and the digest of a signed record is refused."""
    store = ac.open_store(store_url, signing_key="k" * 32)
    info = store.save("config", {"command": "ok!!"})
    same_size = base64.b64decode(info.inline or "").replace(b"ok!!", b"rm!!")
    assert len(same_size) == info.size and b"rm!!" in same_size
    _rewrite(store, "config", {"inline": base64.b64encode(same_size).decode()})
    with pytest.raises(IntegrityError):  # the bytes alone
        store.get("config")
    with pytest.raises(IntegrityError):
        store.open("config")
    store.save("config", {"command": "ok"})
    other = ac.open_store("memory://inline-other").save("config", {"command": "evil"})
    _rewrite(store, "config", {"inline": other.inline, "digest": other.digest, "size": other.size})
    with pytest.raises(IntegrityError):
        store.get("config")


def test_open_and_url_of_an_inline_artifact(store: ac.ArtifactStore) -> None:
    """open() reads the inline bytes; url() writes the payload file on demand, kept by gc."""
    info = store.save("report", b"a,b\n1,2\n", serializer="raw")
    with store.open("report") as f:
        assert f.read() == b"a,b\n1,2\n"
    if store.location.startswith("memory://"):
        with pytest.raises(ArtifactStoreError, match="has no URLs"):
            store.url("report")
        assert _objects(store) == []  # nothing written for a URL it cannot give
        return
    assert _objects(store) == []
    url = store.url("report")
    assert _objects(store) == [store._storage.object_path(info.digest)]
    with fsspec.open(url, "rb") as f:
        assert f.read() == b"a,b\n1,2\n"
    store.gc(grace=0)
    assert len(_objects(store)) == 1
    with pytest.raises(ac.ReadOnlyStoreError):
        store.save("other", b"zz", serializer="raw")
        ac.open_store(store.location, read_only=True, **store.storage_options).url("other")


def test_gc_and_clear_keep_inline_records(store: ac.ArtifactStore) -> None:
    """gc removes no inline artifact (it has no payload file); clear removes them all."""
    store.save("small", 1)
    store.save("big", b"y" * (INLINE_MAX + 1), serializer="raw")
    store.delete("big", purge=True)  # no history keeps its payload
    report = store.gc(grace=0)
    assert report.removed == 1
    assert store.get("small") == 1
    assert store.clear() == 1
    assert not store.exists("small")


def test_older_records_with_payload_files_still_load(tmp_path: Path) -> None:
    """A small value saved as a payload file (as older releases did) still loads."""
    store = ac.open_store(str(tmp_path / "s"))
    info = store.save("old", b"x" * (INLINE_MAX + 1), serializer="raw")
    payload = store.fs.cat_file(info.uri)
    small = b"tiny"
    digest = hash_bytes(small)
    path = store._storage.object_path(digest)
    store.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    store.fs.pipe_file(path, small)
    _rewrite(store, "old", {"digest": digest, "size": 4, "uri": store._storage.object_uri(digest)})
    assert store.get("old") == small
    assert payload == b"x" * (INLINE_MAX + 1)


def test_format_marker_versions(tmp_path: Path) -> None:
    """New stores are version 2; a version-1 marker is read and raised by a save; 3 is refused."""
    root = tmp_path / "s"
    store = ac.open_store(str(root))
    store.save("a", 1)
    assert json.loads((root / "STORE.json").read_text())["version"] == FORMAT_VERSION == 2
    (root / "STORE.json").write_text(json.dumps({"format": "artifact_cache", "version": 1}))
    old = ac.open_store(str(root))
    assert old.get("a") == 1
    assert json.loads((root / "STORE.json").read_text())["version"] == 1
    old.save("b", 2)
    assert json.loads((root / "STORE.json").read_text())["version"] == 2
    (root / "STORE.json").write_text(json.dumps({"format": "artifact_cache", "version": 3}))
    with pytest.raises(StoreFormatError):
        ac.open_store(str(root)).get("a")
