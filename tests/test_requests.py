"""HTTP requests per operation on S3, counted by a WSGI wrapper around moto's server.

Counts are deterministic (unlike times): these tests keep the request budget from
growing back. Every save writes its version record and then its head: two record PUTs.
The shared-store guarantees hold at these counts: a save still checks that its payload
is there after writing its record, and puts it back if not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from counting import Counting, counting_moto

import artifact_cache as ac
from artifact_cache.storage import VersionName


@pytest.fixture(scope="module")
def counted(moto_endpoint: str) -> Iterator[tuple[str, Counting]]:
    """A second moto server (credentials from the session's), every request counted."""
    with counting_moto() as found:
        yield found


@pytest.fixture
def s3(counted: tuple[str, Counting]) -> tuple[Any, str, dict[str, Any], Counting]:
    import boto3

    endpoint, counter = counted
    bucket = f"req-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    options = {"client_kwargs": {"endpoint_url": endpoint}, "skip_instance_cache": True}
    return client, f"s3://{bucket}/store", options, counter


def _count(counter: Counting, call: Any) -> tuple[Any, list[str]]:
    start = counter.mark()
    result = call()
    return result, counter.since(start)


def test_save_and_get_budget(s3: tuple[Any, str, dict[str, Any], Counting]) -> None:
    _client, url, options, counter = s3
    store = ac.ArtifactStore(url, progress=False, **options)
    store.save("warm", 0)  # the format marker: once per store
    big = list(range(10000))  # above INLINE_MAX: a payload file of its own
    _, seen = _count(counter, lambda: store.save("a", big))
    # payload PUT, version PUT, record PUT, payload HEAD after the record
    assert len(seen) == 4, seen
    _, seen = _count(counter, lambda: store.save("a", big))
    assert len(seen) == 3, seen  # version PUT, record PUT, payload HEAD
    reader = ac.ArtifactStore(url, progress=False, **options)
    reader.exists("warm")  # the format check: once per store
    value, seen = _count(counter, lambda: reader.get("a", key="default"))
    assert value == big and len(seen) == 2, seen  # record GET, payload GET: no HEAD
    assert all(r.startswith("GET") for r in seen)
    value, seen = _count(counter, lambda: reader.get("a"))
    assert value == big and len(seen) == 3, seen  # one LIST, then the two GETs


def test_small_save_and_get_budget(s3: tuple[Any, str, dict[str, Any], Counting]) -> None:
    """A small payload lives in its record: two PUTs to save (version, head), one GET to load."""
    _client, url, options, counter = s3
    store = ac.ArtifactStore(url, progress=False, **options)
    store.save("warm", 0)  # the format marker: once per store
    _, seen = _count(counter, lambda: store.save("a", {"x": 1}))
    assert len(seen) == 2 and all(r.startswith("PUT /") for r in seen), seen
    assert "/versions/a/@default@" in seen[0] and "/refs/a/@default.json" in seen[1], seen
    _, seen = _count(counter, lambda: store.save("a", {"x": 1}))
    assert len(seen) == 2, seen
    reader = ac.ArtifactStore(url, progress=False, **options)
    reader.exists("warm")  # the format check: once per store
    value, seen = _count(counter, lambda: reader.get("a", key="default"))
    assert value == {"x": 1} and len(seen) == 1 and seen[0].startswith("GET"), seen
    value, seen = _count(counter, lambda: reader.get("a"))
    assert value == {"x": 1} and len(seen) == 2, seen  # one LIST, one GET


def test_repeated_save_puts_back_a_removed_payload(
    s3: tuple[Any, str, dict[str, Any], Counting],
) -> None:
    """The cheap repeated save still checks its payload after its record is written."""
    _client, url, options, counter = s3
    store = ac.ArtifactStore(url, progress=False, **options)
    value = list(range(10000))  # above INLINE_MAX: a payload file of its own
    info = store.save("a", value)
    store.fs.rm(store._storage.object_path(info.digest))  # a gc or clear meanwhile
    _, seen = _count(counter, lambda: store.save("a", value))
    # Version and record PUTs; HEAD finds nothing (s3fs then lists, in case it is a
    # folder); PUT back.
    assert len(seen) == 5 and seen[-1].startswith("PUT /"), seen
    other = ac.ArtifactStore(url, progress=False, **options)
    assert other.get("a") == value


def test_decorator_budget(s3: tuple[Any, str, dict[str, Any], Counting]) -> None:
    _client, url, options, counter = s3
    ac.ArtifactStore(url, progress=False, **options).save("warm", 0)  # the marker
    store = ac.ArtifactStore(url, progress=False, **options)
    store.exists("warm")  # the format check: once per store

    @store.step
    def double(x: int) -> int:
        return 2 * x

    value, seen = _count(counter, lambda: double(21))
    # One lookup (no second one: no other caller shared the key's flight) and a new save:
    # a small result is stored inside its record, so the save is that record's PUTs
    # (its version record, then its head).
    assert value == 42 and len(seen) == 3, seen
    assert seen[0].startswith("GET") and all(r.startswith("PUT") for r in seen[1:]), seen
    value, seen = _count(counter, lambda: double(21))
    assert value == 42 and len(seen) == 1 and seen[0].startswith("GET"), seen  # the record


def test_decorator_budget_large_result(s3: tuple[Any, str, dict[str, Any], Counting]) -> None:
    """A result above INLINE_MAX has a payload file: one more PUT, HEAD and GET."""
    _client, url, options, counter = s3
    ac.ArtifactStore(url, progress=False, **options).save("warm", 0)  # the marker
    store = ac.ArtifactStore(url, progress=False, **options)
    store.exists("warm")  # the format check: once per store

    @store.step
    def numbers(n: int) -> list[int]:
        return list(range(n))

    value, seen = _count(counter, lambda: numbers(10000))
    assert value == list(range(10000)) and len(seen) == 5, seen
    value, seen = _count(counter, lambda: numbers(10000))
    assert value == list(range(10000)) and len(seen) == 2, seen


def _put_records(client: Any, url: str, template: dict[str, Any], steps: list[str]) -> None:
    """Records of ``steps`` (key "default") written straight to the bucket, as a writer
    that never touches the manifest would."""
    bucket = url.split("/")[2]
    for step in steps:
        body = json.dumps(dict(template, step_id=step, key="default"))
        client.put_object(Bucket=bucket, Key=f"store/refs/{step}/@default.json", Body=body)


def test_list_prefix_budget(s3: tuple[Any, str, dict[str, Any], Counting]) -> None:
    """list(prefix) lists only under the prefix and reads only the matching records."""
    client, url, options, counter = s3
    store = ac.ArtifactStore(url, progress=False, **options)
    info = store.save("template", 1)
    base = info.to_dict()
    _put_records(
        client,
        url,
        base,
        [f"{g}/s{i}" for g, n in (("other", 150), ("wanted", 10)) for i in range(n)],
    )
    found, seen = _count(counter, lambda: store.list("wanted/"))
    assert len(found) == 10
    # One LIST under refs/wanted/, the manifest (there is none yet), ten GETs.
    assert len(seen) == 12, seen
    assert "wanted" in seen[0] and ".manifest" in seen[1]
    store.list()  # reads the other 150 records and writes the manifest
    reader = ac.ArtifactStore(url, progress=False, **options)
    reader.exists("template")  # the format check: once per store
    found, seen = _count(counter, lambda: reader.list("wanted/"))
    assert len(found) == 10 and len(seen) == 2, seen  # the LIST and the manifest


def test_list_budget(s3: tuple[Any, str, dict[str, Any], Counting]) -> None:
    """A full listing reads every record once, then the manifest it writes: a fresh store
    makes one LIST and one GET, and a second listing only the LIST."""
    client, url, options, counter = s3
    store = ac.ArtifactStore(url, progress=False, **options)
    base = store.save("template", 1).to_dict()
    _put_records(client, url, base, [f"s{i}" for i in range(50)])
    found, seen = _count(counter, store.list)
    assert len(found) == 51
    # One LIST (which shows no manifest), 51 GETs, the manifest's PUT.
    assert len(seen) == 53 and seen[-1].startswith("PUT") and ".manifest" in seen[-1], seen
    reader = ac.ArtifactStore(url, progress=False, **options)
    reader.exists("template")  # the format check: once per store
    found, seen = _count(counter, reader.list)
    assert len(found) == 51 and len(seen) == 2 and ".manifest" in seen[1], seen
    found, seen = _count(counter, reader.list)
    assert len(found) == 51 and len(seen) == 1, seen


def test_delete_budget(s3: tuple[Any, str, dict[str, Any], Counting]) -> None:
    """delete of one key: the record's GET, a look at its version record (it must not be
    written over), the tombstone's PUT, the record's DELETE. A version record that is
    missing (trimmed while the head was written) is put back: one conditional PUT more."""
    _client, url, options, counter = s3
    store = ac.ArtifactStore(url, progress=False, **options)
    store.save("warm", 0)  # the format marker: once per store
    store.save("a", {"x": 1})
    _, seen = _count(counter, lambda: store.delete("a", key="default"))
    version = "/store/versions/a/@default@"
    assert [r.split("?")[0].split(" ")[0] for r in seen] == ["GET", "GET", "PUT", "POST"], seen
    assert "/refs/a/@default.json" in seen[0] and version in seen[1] and version in seen[2]
    info = store.save("b", {"x": 2})
    name = VersionName("b", "default", info.version)
    store._storage.remove_versions([name])
    _, seen = _count(counter, lambda: store.delete("b", key="default"))
    assert [r.split(" ")[0] for r in seen] == ["GET", "GET", "PUT", "PUT", "POST"], seen
    assert seen[2].startswith(
        f"PUT {url.removeprefix('s3:/')}/versions/b/@default@{info.version}.json"
    )
    assert [(i.version, i.status) for i in store.versions("b")] == [(info.version, "tombstoned")]
