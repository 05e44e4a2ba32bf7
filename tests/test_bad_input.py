"""Bad input gets a clear error naming the step id and the store; nothing stored is lost."""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

import artifact_cache as ac
from artifact_cache.fingerprint.recipe import KeyRecipe
from artifact_cache.storage import FORMAT_VERSION

BAD_IDS = [
    "..",
    "a/../b",
    "/abs",
    "a//b",
    "a\\b",
    "a\x00b",
    "tab\tid",
    "s3://x",
    "",
    "x" * 1000,
    "a/",
    ".hidden",
    "sp ace",
    "a/./b",
]


class TestInvalidStepIds:
    @pytest.mark.parametrize("bad", BAD_IDS)
    def test_rejected_before_io(self, bad: str, tmp_path: Any) -> None:
        """Every operation rejects a malformed id before touching storage."""
        root = tmp_path / "store"
        store = ac.open_store(str(root))
        for call in (
            lambda: store.save(bad, 1),
            lambda: store.get(bad),
            lambda: store.info(bad),
            lambda: store.exists(bad),
            lambda: store.delete(bad),
        ):
            with pytest.raises(ac.InvalidStepIdError) as err:
                call()
            assert isinstance(err.value, ValueError)
            assert str(root) in str(err.value)
        assert not root.exists()

    def test_bad_key(self, mem_store: ac.ArtifactStore) -> None:
        """Keys follow the segment rule."""
        with pytest.raises(ac.InvalidStepIdError, match="'x'"):
            mem_store.save("x", 1, key="a/b")

    def test_non_str(self, mem_store: ac.ArtifactStore) -> None:
        """A step id must be a str."""
        with pytest.raises(ac.InvalidStepIdError):
            mem_store.save(123, 1)  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad", BAD_IDS)
    def test_rejected_after_good_ones_every_time(
        self, bad: str, mem_store: ac.ArtifactStore
    ) -> None:
        """A store skips checking the step id it checked last: a malformed id, between
        reads of a good one, is rejected on each call all the same."""
        mem_store.save("good", 1, key="k")
        for _ in range(2):
            assert mem_store.get("good", key="k") == 1
            with pytest.raises(ac.InvalidStepIdError, match=mem_store.location):
                mem_store.get(bad, key="k")
            with pytest.raises(ac.InvalidStepIdError):
                mem_store.save(bad, 2)
        assert mem_store.get("good", key="k") == 1

    def test_good_ids(self, mem_store: ac.ArtifactStore) -> None:
        """Ids of the allowed form, up to 128 characters a segment, are accepted."""
        for good in ["extract", "deals/DEAL-001/cim", "v1.2_x-y", "a" * 128, "a/" * 5 + "b"]:
            mem_store.save(good, 1)
            assert mem_store.get(good) == 1


class TestMissing:
    def test_message_names_step_and_store(self, store: ac.ArtifactStore) -> None:
        """A missing artifact raises a KeyError naming the step id and the store."""
        with pytest.raises(ac.ArtifactNotFoundError) as err:
            store.get("nope")
        assert isinstance(err.value, KeyError)
        assert "'nope'" in str(err.value) and store.location in str(err.value)
        with pytest.raises(KeyError, match="'k9'"):
            store.info("nope", key="k9")


class TestUnpicklable:
    @pytest.mark.parametrize("kind", ["lock_with_lambda", "socket"])
    def test_nothing_written(self, store: ac.ArtifactStore, kind: str) -> None:
        """An unserialisable object raises SerializationError and the old artifact stays."""
        store.save("step", "old")
        sock = socket.socket()
        try:
            bad = {"f": lambda: 1, "lock": threading.Lock()} if kind != "socket" else [sock]
            with pytest.raises(ac.SerializationError) as err:
                store.save("step", bad)
        finally:
            sock.close()
        assert "'step'" in str(err.value) and store.location in str(err.value)
        assert store.get("step") == "old"
        assert len(store.list()) == 1

    def test_json_rejects_objects(self, mem_store: ac.ArtifactStore) -> None:
        """The json serializer refuses what JSON cannot hold."""
        with pytest.raises(ac.SerializationError, match="'cfg'"):
            mem_store.save("cfg", {1, 2}, serializer="json")

    def test_unknown_serializer(self, mem_store: ac.ArtifactStore) -> None:
        """An unknown serializer name is refused with the names that exist."""
        with pytest.raises(ac.SerializationError, match="pickle"):
            mem_store.save("x", 1, serializer="nope")


def _corrupt(store: ac.ArtifactStore, digest: str, how: str) -> None:
    fs, path = store.fs, store._storage.object_path(digest)
    data = bytearray(fs.cat_file(path))
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[len(data) // 2 :]
    fs.pipe_file(path, bytes(data))


class TestCorruptPayload:
    @pytest.mark.parametrize("how", ["flip", "truncate"])
    def test_integrity_error_before_unpickle(self, store: ac.ArtifactStore, how: str) -> None:
        """A flipped or truncated payload raises IntegrityError and is never unpickled."""
        import numpy as np

        info = store.save("arr", np.arange(50_000))
        _corrupt(store, info.digest, how)
        with pytest.raises(ac.IntegrityError) as err:
            store.get("arr")
        assert "'arr'" in str(err.value) and store.location in str(err.value)

    @pytest.mark.payload_files
    @pytest.mark.parametrize("how", ["flip", "truncate"])
    def test_saving_again_repairs(self, store: ac.ArtifactStore, how: str) -> None:
        """Saving the same value again after a failed check rewrites the damaged payload."""
        info = store.save("x", list(range(1000)))
        _corrupt(store, info.digest, how)
        with pytest.raises(ac.IntegrityError, match="repairs"):
            store.get("x")
        store.save("x", list(range(1000)))
        assert store.get("x") == list(range(1000))

    def test_corrupt_record(self, mem_store: ac.ArtifactStore) -> None:
        """An unreadable record is an IntegrityError for info and skipped by list."""
        mem_store.save("a", 1)
        mem_store.save("b", 2)
        mem_store.fs.pipe_file(mem_store._storage.record_path("a", "default"), b"{not json")
        with pytest.raises(ac.IntegrityError, match="'a'"):
            mem_store.info("a", key="default")
        with pytest.warns(UserWarning, match="'a'"):
            assert [i.step_id for i in mem_store.list()] == ["b"]


class TestOpening:
    def test_unknown_scheme(self) -> None:
        """An unknown scheme lists the schemes fsspec knows."""
        with pytest.raises(ac.UnknownSchemeError) as err:
            ac.open_store("nosuchfs://bucket/x")
        assert "nosuchfs" in str(err.value) and "memory" in str(err.value)
        assert isinstance(err.value, ValueError)

    def test_newer_format_refused(self, store: ac.ArtifactStore) -> None:
        """A store written in a newer format is refused with a clear error."""
        store.save("x", 1)
        marker = store._storage.path("STORE.json")
        store.fs.pipe_file(marker, json.dumps({"version": FORMAT_VERSION + 1}).encode())
        again = ac.open_store(store.location)
        with pytest.raises(ac.StoreFormatError, match="upgrade"):
            again.get("x")

    def test_marker_written(self, store: ac.ArtifactStore) -> None:
        """The first save writes STORE.json with the format version."""
        store.save("x", 1)
        marker = json.loads(store.fs.cat_file(store._storage.path("STORE.json")))
        assert marker["version"] == FORMAT_VERSION

    def test_missing_credentials(self, moto_endpoint: str, monkeypatch: Any) -> None:
        """An S3 store without credentials fails with an error naming step and store."""
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(var)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        store = ac.open_store("s3://no-creds-bucket/x", skip_instance_cache=True)
        with pytest.raises(ac.ArtifactStoreError) as err:
            store.save("step-a", 1)
        assert "'step-a'" in str(err.value) and "s3://no-creds-bucket/x" in str(err.value)


def test_a_str_subclass_accepted_once_is_not_trusted_for_other_ids(tmp_path: Path) -> None:
    """A step id of a str subclass that compares equal to anything is checked, but not
    remembered as the last valid id: a bad id after it is still refused."""

    class Anything(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __ne__(self, other: object) -> bool:
            return False

        __hash__ = str.__hash__

    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save(Anything("good"), 1)
    with pytest.raises(ac.InvalidStepIdError):
        store.get("../etc", key="default")


def _deep(levels: int) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for _ in range(levels):
        nested = {"x": nested}
    return nested


BAD_RECORD_VALUES = {
    "negative duration": {"duration": -1.0},
    "NaN duration": {"duration": float("nan")},
    "duration that is no number": {"duration": "x"},
    "code fingerprint that is no text": {"code_fingerprint": 5},
    "args repr of bytes": {"args_repr": b"x"},
    "mime type of bytes": {"mime_type": b"x"},
    "input naming an invalid step id": {
        "inputs": [ac.ArtifactRef(step_id="../x", key="default", digest="0" * 32)]
    },
    "input that is no reference": {"inputs": ["junk"]},
    "extra nested too deep": {"extra": {"d": _deep(40)}},
}


@pytest.mark.parametrize("given", BAD_RECORD_VALUES.values(), ids=list(BAD_RECORD_VALUES))
def test_values_a_reader_refuses_are_refused_before_anything_is_written(
    tmp_path: Path, given: dict[str, Any]
) -> None:
    """A save given a value its record cannot hold as readers check it (a negative or NaN
    duration, an input naming an invalid step id, extra fields nested deeper than a
    record may be) raises a clear error naming the step and the store and writes
    nothing: before, it replaced a good head by a record every reader refused."""
    root = tmp_path / "store"
    store = ac.open_store(str(root))
    good = store.save("step", list(range(20_000)))  # (a payload file of its own)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert any(p.parts[0] == "objects" for p in files)
    named = rf"step 'step' in store {re.escape(store.location)}: .* nothing was written"
    with pytest.raises(ac.InvalidOptionError, match=named):
        store.save("step", list(range(30_000)), **given)
    fresh = ac.open_store(str(root))
    assert fresh.get("step") == list(range(20_000)) and fresh.info("step") == good
    assert [v.version for v in fresh.versions("step")] == [good.version]
    after = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert [p for p in after if p not in files and not p.name.startswith("index.")] == []


def test_a_record_readers_would_refuse_is_never_written(tmp_path: Path) -> None:
    """Whatever the caller's checks miss, the record is checked as readers check it
    before it is written: a recipe whose argument digest is no text (a reader refuses
    it) fails the save and the step keeps its good artifact."""
    store = ac.open_store(str(tmp_path / "store"))
    store.save("step", 1)
    bad = KeyRecipe(identity="m:f", arguments={"a": 5})  # type: ignore[dict-item]
    named = rf"step 'step' in store {re.escape(store.location)}: .*; no record written"
    with pytest.raises(ac.InvalidOptionError, match=named):
        store.save("step", 2, recipe=bad)
    assert ac.open_store(str(tmp_path / "store")).get("step") == 1
    assert len(store.versions("step")) == 1


def test_open_and_url_of_a_missing_payload_say_it_is_missing(tmp_path: Path) -> None:
    """A record whose payload file is gone: ``open`` and ``url`` raise what ``get`` does
    (the payload is missing, save the step again), not "no artifact" for a step that
    lists, with a "did you mean" naming the very same step."""
    store = ac.open_store(str(tmp_path / "store"))
    info = store.save("deals/x", list(range(20_000)))
    assert info.inline is None
    Path(store._storage.object_path(info.digest)).unlink()
    for call in (store.get, store.open, store.url):
        with pytest.raises(ac.PayloadMissingError) as caught:
            call("deals/x")
        message = str(caught.value)
        assert "step 'deals/x' key 'default'" in message and info.digest in message
        assert store.location in message and "did you mean" not in message


def test_extra_too_deep_anywhere_is_refused_before_the_payload_is_written(
    tmp_path: Path,
) -> None:
    """``extra`` nested too deep inside a tuple (a list once written), or thousands of
    levels deep: refused with a short message before anything is written (before, the
    first left a payload file behind and the second escaped as a RecursionError)."""
    root = tmp_path / "store"
    store = ac.open_store(str(root))
    for extra in ({"a": (_deep(40),)}, {"a": _deep(2_000)}):
        with pytest.raises(ac.InvalidOptionError, match="nothing was written") as caught:
            store.save("step", b"x" * 100_000, extra=extra)
        assert len(str(caught.value)) < 400
    assert not list(root.rglob("objects/*/*")) and store.list() == []


def test_a_record_made_by_hand_refuses_values_that_hold_themselves() -> None:
    """A record's unknown fields are made read-only at any depth; a value that holds
    itself (or nests past any record's depth) is a ValueError, not an exhausted stack."""
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    fields = dict(step_id="s", key="k", digest="0" * 32, size=1, serializer="pickle")
    for extra in (cyclic, _deep(2_000)):
        with pytest.raises(ValueError, match="nested deeper than"):
            ac.ArtifactInfo(**fields, python_type="builtins.int", extra=extra)
    deep = ac.ArtifactInfo(**fields, python_type="builtins.int", extra=_deep(50))
    assert deep.to_dict()["x"] == _deep(49)
