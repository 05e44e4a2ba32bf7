"""az:// stores on Azure Blob Storage, through adlfs against Azurite (the real emulator).

Azurite is started once per session by the ``azurite`` fixture (tests/azure_fixtures.py);
each test gets a fresh container from ``az_url``.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import fsspec
import pytest
from azure_fixtures import ACCOUNT_KEY, new_container

import artifact_cache as ac
from artifact_cache.signing import redact, secret_values


def _save_elsewhere(url: str, connection_string: str, step: str, value: int, key: str) -> None:
    """Save from another process, as a teammate's machine would."""
    code = (
        "import sys, artifact_cache as ac\n"
        "url, cs, step, value, key = sys.argv[1:]\n"
        "ac.open_store(url, connection_string=cs).save(step, int(value), key=key)\n"
    )
    args = [url, connection_string, step, str(value), key]
    subprocess.run([sys.executable, "-c", code, *args], check=True, timeout=120)


def test_round_trip(az_url: str, azurite: str) -> None:
    """save, get, info, list, exists, delete, gc and clear on a container."""
    store = ac.open_store(az_url, connection_string=azurite)
    assert store.list() == [] and not store.exists("extract")
    rows = {"rows": list(range(10_000))}  # over the inline limit: a payload blob
    store.save("extract", rows, key="k1", tags={"team": "a"})
    store.save("train", b"x" * 50_000, key="k1")
    assert store.get("extract", key="k1") == rows
    info = store.info("extract", key="k1")
    assert info.tags == {"team": "a"} and info.size > 0 and info.inline is None
    assert info.uri is not None
    assert info.uri.split("://", 1)[1].startswith(az_url.split("://", 1)[1] + "/objects/")
    assert store.info("train", key="k1").inline is None
    assert {(a.step_id, a.key) for a in store.list()} == {("extract", "k1"), ("train", "k1")}
    assert store.exists("train", key="k1") and not store.exists("train", key="k2")

    # A second store object reads what the first wrote.
    again = ac.open_store(az_url, connection_string=azurite)
    assert again.get("train") == b"x" * 50_000

    assert store.delete("train", key="k1", purge=True)  # its history goes too
    assert not store.exists("train") and not again.exists("train")
    report = store.gc(grace=0)
    assert report.removed == 1 and report.referenced == 1  # train's payload went
    assert store.get("extract", key="k1") == rows
    note = store.save("note", "small")  # a small payload travels inside its record
    assert note.inline is not None and again.get("note") == "small"
    assert store.clear() == 2
    assert store.list() == [] and again.list() == []
    with pytest.raises(ac.ArtifactNotFoundError):
        again.get("extract")


def test_saves_of_another_process_are_seen(az_url: str, azurite: str) -> None:
    """list, exists, info and get see a key another process saved after this one listed.

    adlfs caches listings per filesystem instance, and fsspec shares one instance per
    set of options: here the user's own code has listed the step's folder through it.
    """
    store = ac.open_store(az_url, connection_string=azurite)
    store.save("extract", 1, key="k1")
    shared = fsspec.filesystem("az", connection_string=azurite)
    root = az_url.split("://", 1)[1]
    assert len(shared.ls(f"{root}/refs/extract")) == 1  # now cached by adlfs
    assert [a.key for a in store.list()] == ["k1"] and not store.exists("extract", key="k2")

    _save_elsewhere(az_url, azurite, "extract", 2, "k2")

    assert sorted(a.key for a in store.list()) == ["k1", "k2"]
    assert store.exists("extract", key="k2")
    assert store.info("extract", key="k2").key == "k2"
    assert store.get("extract", key="k2") == 2
    assert store.gc(grace=0).removed == 0  # the other process's payload is kept
    assert store.get("extract", key="k2") == 2


def test_missing_container_is_named(azurite: str) -> None:
    """A container that does not exist is an error naming it, never an empty store."""
    container = f"ac-missing-{uuid.uuid4().hex[:12]}"
    store = ac.open_store(f"az://{container}/cache", connection_string=azurite)
    for call in (
        lambda: store.get("extract"),
        lambda: store.exists("extract"),
        lambda: store.list(),
        lambda: store.save("extract", 1),
    ):
        with pytest.raises(ac.ArtifactStoreError, match=f"container '{container}' does not ex"):
            call()
    with pytest.raises(ac.ArtifactStoreError) as exc:
        store.get("extract")
    assert not isinstance(exc.value, ac.ArtifactNotFoundError)
    assert f"az://{container}/cache" in str(exc.value)
    fs = fsspec.filesystem("az", connection_string=azurite, skip_instance_cache=True)
    assert not fs.exists(container)  # nothing created it


def test_account_key_is_never_shown(azurite: str) -> None:
    """The account key in a connection string is in no repr or error, alone or whole."""
    wrong_key = "A" * 40 + ACCOUNT_KEY[40:]
    wrong = azurite.replace(ACCOUNT_KEY, wrong_key)
    url = f"az://{new_container(azurite)}/cache"
    store = ac.open_store(url, connection_string=wrong)
    shown = [repr(store), str(store)]
    for call in (lambda: store.save("extract", 1), lambda: store.get("extract")):
        with pytest.raises(ac.ArtifactStoreError) as exc:
            call()
        shown.append(str(exc.value))
    assert "authenticate" in shown[-1]  # the server's refusal is still reported
    for text in shown:
        assert wrong_key not in text and wrong_key[:20] not in text
    # An error quoting only the key (not the whole connection string) is redacted too.
    secrets = secret_values({"connection_string": wrong})
    assert "***" in redact(f"signature made with {wrong_key} was refused", secrets)
    assert wrong_key not in redact(f"signature made with {wrong_key} was refused", secrets)
