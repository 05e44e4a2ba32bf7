"""fsspec URLs beyond memory://, local folders and S3: they work, or open_store says why not.

sftp runs against a real SSH server: asyncssh's SFTP server on 127.0.0.1, started by a
fixture in a thread of its own, reached by fsspec's paramiko-based client.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from conftest import make_url

import artifact_cache as ac

# paramiko must not try a user's agent or keys: the test server knows only a password.
SSH_OPTIONS = {"look_for_keys": False, "allow_agent": False, "timeout": 30}


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An SFTP server on 127.0.0.1 (asyncssh), serving a temporary folder as its root."""
    import asyncssh

    root = tmp_path_factory.mktemp("sftp_root")
    password = f"pw-{uuid.uuid4().hex}"

    class Server(asyncssh.SSHServer):  # type: ignore[misc]
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, given: str) -> bool:
            return username == "ci" and given == password

    class Files(asyncssh.SFTPServer):  # type: ignore[misc]
        def __init__(self, chan: Any) -> None:
            super().__init__(chan, chroot=str(root).encode())

    async def start() -> Any:
        return await asyncssh.create_server(
            Server,
            "127.0.0.1",
            0,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            sftp_factory=Files,
        )

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sftp-server", daemon=True)
    thread.start()
    try:
        server = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
        port = server.sockets[0].getsockname()[1]
        yield {"port": port, "password": password, "root": root}
        server.close()
        asyncio.run_coroutine_threadsafe(server.wait_closed(), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@pytest.fixture
def sftp_url(sftp_server: dict[str, Any]) -> str:
    """A store URL in a fresh folder (whose parents do not exist) on the SFTP server."""
    return f"sftp://127.0.0.1:{sftp_server['port']}/teams/{uuid.uuid4().hex}/cache"


class TestSftp:
    """A store on an SSH server behaves as on any other backend."""

    @pytest.mark.payload_files
    def test_store_works(self, sftp_server: dict[str, Any], sftp_url: str) -> None:
        """Saves create the folders they need; every operation works; pickles reopen."""
        store = ac.open_store(
            sftp_url, username="ci", password=sftp_server["password"], **SSH_OPTIONS
        )
        info = store.save("deals/A/extract", {"rows": [1, 2, 3]}, tags={"team": "x"})
        store.save("model", list(range(1000)), key="v1")
        assert store.get("deals/A/extract") == {"rows": [1, 2, 3]}
        assert store.exists("model", key="v1") and store.info("model").key == "v1"
        assert sorted(i.step_id for i in store.list()) == ["deals/A/extract", "model"]
        assert store.list(tags={"team": "x"}) == [info]
        with store.open("model") as f:
            assert f.read(4) == b"ACP1"
        again = pickle.loads(pickle.dumps(store))
        assert again.get("model") == list(range(1000))
        assert store.delete("model", purge=True) and not store.exists("model")
        assert store.gc(grace=0).removed == 1
        assert store.clear() == 1 and store.list() == []
        # Files went where the URL says, with nothing left under a temporary name.
        folder = sftp_server["root"] / sftp_url.split("/", 3)[3]
        assert (folder / "STORE.json").is_file()
        leftovers = [p for p in folder.rglob("*") if p.name.startswith(".tmp-")]
        assert leftovers == []

    def test_password_in_url_is_hidden(self, sftp_server: dict[str, Any]) -> None:
        """A password written into the URL works but never shows in location, repr or errors."""
        password = sftp_server["password"]
        url = f"sftp://ci:{password}@127.0.0.1:{sftp_server['port']}/cache-{uuid.uuid4().hex}"
        store = ac.open_store(url, **SSH_OPTIONS)
        store.save("extract", 1)
        assert store.get("extract") == 1
        assert password not in store.location and password not in repr(store)
        assert "ci:***@127.0.0.1" in store.location
        with pytest.raises(ac.ArtifactNotFoundError) as exc:
            store.get("missing")
        assert password not in str(exc.value)
        assert pickle.loads(pickle.dumps(store)).get("extract") == 1

    def test_bad_login_is_one_clear_error(self, sftp_server: dict[str, Any]) -> None:
        """A refused login raises ArtifactStoreError naming the store, without the password."""
        url = f"sftp://127.0.0.1:{sftp_server['port']}/cache"
        wrong = f"wrong-{uuid.uuid4().hex}"
        with pytest.raises(ac.ArtifactStoreError, match="cannot open store sftp://") as exc:
            ac.open_store(url, username="ci", password=wrong, **SSH_OPTIONS)
        assert wrong not in str(exc.value)


class TestChainedUrls:
    """Chained and wrapped URLs open the right place, or are refused in one line."""

    def test_dir_prefix_does_not_double_the_path(self, tmp_path: Path) -> None:
        """``dir::file:///base`` stores under /base, not /base/base."""
        base = tmp_path / "base"
        store = ac.open_store(f"dir::file://{base}")
        store.save("extract", [1])
        assert (base / "STORE.json").is_file()
        assert ac.open_store(str(base)).get("extract") == [1]
        assert store.get("extract") == [1]

    def test_reference_filesystem_is_refused(self, tmp_path: Path) -> None:
        """``reference://`` would drop saves silently: open_store refuses it and says why."""
        refs = tmp_path / "refs.json"
        refs.write_text('{"version": 1, "refs": {}}')
        for url, options in (("reference://", {"fo": str(refs)}), ("reference://", {})):
            with pytest.raises(ac.ArtifactStoreError, match="reference filesystem") as exc:
                ac.open_store(url, **options)
            assert str(exc.value).count("\n") == 0

    def test_zip_without_archive_is_a_clear_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``zip://a.zip`` (no ``::``) says how to name the archive instead of IsADirectoryError."""
        monkeypatch.chdir(tmp_path)
        with zipfile.ZipFile("a.zip", "w") as z:
            z.writestr("store/STORE.json", '{"format": "artifact_cache", "version": 1}')
        with pytest.raises(ac.ArtifactStoreError, match=r"zip://folder-in-archive::") as exc:
            ac.open_store("zip://a.zip")
        assert not isinstance(exc.value, IsADirectoryError)
        assert ac.open_store("zip://store::a.zip").list() == []

    @pytest.mark.payload_files
    @pytest.mark.parametrize("backend", ["local", "s3"])
    @pytest.mark.parametrize("layer", ["simplecache", "filecache"])
    def test_cached_chain_sees_new_records(
        self, layer: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """Through a caching layer, a record another writer replaced is read fresh."""
        store_url = make_url(backend, tmp_path, request)
        writer = ac.open_store(store_url)
        writer.save("extract", "v1")
        reader = ac.open_store(
            f"{layer}::{store_url}", **{layer: {"cache_storage": str(tmp_path / "cache")}}
        )
        assert reader.get("extract") == "v1"
        writer.save("extract", "v2")
        writer.save("extract", "other", key="k2")
        assert reader.get("extract", key="default") == "v2"
        assert reader.exists("extract", key="k2")
        assert {i.key for i in reader.artifacts("extract")} == {"default", "k2"}
        # Payloads are named by content, so they are served from the local copy.
        assert any((tmp_path / "cache").iterdir())

    def test_writes_through_a_cached_chain_reach_the_target(self, tmp_path: Path) -> None:
        """A save through ``simplecache::`` lands in the target store, readable without it."""
        target = tmp_path / "store"
        cached = ac.open_store(
            f"simplecache::file://{target}", simplecache={"cache_storage": str(tmp_path / "c")}
        )
        cached.save("extract", {"a": 1})
        assert ac.open_store(str(target)).get("extract") == {"a": 1}


class TestMissingBucket:
    """A bucket that does not exist is an error naming it, never an empty store."""

    def test_missing_bucket_is_named(self, moto_endpoint: str) -> None:
        """get, exists, list and save all raise ArtifactStoreError naming the bucket."""
        bucket = f"ac-missing-{uuid.uuid4().hex[:12]}"
        store = ac.open_store(f"s3://{bucket}/cache")
        for call in (
            lambda: store.get("extract"),
            lambda: store.exists("extract"),
            lambda: store.list(),
            lambda: store.save("extract", 1),
        ):
            with pytest.raises(ac.ArtifactStoreError, match=f"bucket '{bucket}' does not exist"):
                call()
        with pytest.raises(ac.ArtifactStoreError) as exc:
            ac.open_store(f"s3://{bucket}/cache").get("extract")
        assert not isinstance(exc.value, ac.ArtifactNotFoundError)
        s3 = fsspec.filesystem("s3", skip_instance_cache=True)
        assert not s3.exists(bucket)  # nothing created it

    def test_existing_empty_bucket_is_an_empty_store(self, s3_url: str) -> None:
        """A bucket that exists but holds no store reads as empty, as before."""
        store = ac.open_store(s3_url)
        assert store.list() == [] and not store.exists("extract")
        with pytest.raises(ac.ArtifactNotFoundError):
            store.get("extract")
