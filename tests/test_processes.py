"""Real processes: concurrent writers, a writer killed mid-save, a save failing half-way."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import artifact_cache as ac
from artifact_cache.storage import TMP_PREFIX

WRITER = textwrap.dedent(
    """
    import sys
    import artifact_cache as ac
    store = ac.open_store(sys.argv[1])
    writer = int(sys.argv[2])
    for i in range(50):
        store.save("shared/step", {"writer": writer, "i": i, "blob": bytes([writer]) * 50_000})
    """
)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_two_processes_same_step(backend: str, tmp_path: Path, request: Any) -> None:
    """Two processes saving one step id 50 times each leave a readable artifact,
    and a reader polling meanwhile never sees a torn one."""
    from conftest import make_url

    url = make_url(backend, tmp_path, request)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(w)]) for w in (1, 2)]
    store = ac.open_store(url)
    seen = 0
    while any(p.poll() is None for p in procs):
        try:
            value = store.get("shared/step")
        except ac.ArtifactNotFoundError:
            continue
        assert value["blob"] == bytes([value["writer"]]) * 50_000
        seen += 1
    assert [p.wait() for p in procs] == [0, 0]
    final = store.get("shared/step")
    assert final["writer"] in (1, 2) and final["i"] == 49
    assert len(store.list()) == 1
    assert seen > 0


KILLED = textwrap.dedent(
    """
    import sys
    import numpy as np
    import artifact_cache as ac
    store = ac.open_store(sys.argv[1])
    # 96 arrays of 4 MiB: written buffer by buffer, so the save takes a while.
    big = [np.full(2**19, i, dtype=np.float64) for i in range(96)]
    print("saving", flush=True)
    store.save("model", big)
    print("saved", flush=True)
    """
)


def test_sigkill_mid_save_keeps_previous(tmp_path: Path) -> None:
    """A writer killed with SIGKILL while saving a large payload leaves the old artifact."""
    url = str(tmp_path / "store")
    store = ac.open_store(url)
    store.save("model", "previous")
    objects = tmp_path / "store" / "objects"
    for _attempt in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED, url], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "saving\n"
        deadline = time.monotonic() + 30
        temp = None
        while temp is None and time.monotonic() < deadline and proc.poll() is None:
            temp = next((p for p in objects.rglob(f"{TMP_PREFIX}*") if p.stat().st_size), None)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if temp is not None:
            break  # killed while the payload was half written
    else:
        pytest.fail("could not catch the writer in the middle of a save")
    assert store.get("model") == "previous"
    assert store.info("model").python_type == "builtins.str"
    # The half-written temporary is garbage: gc removes it once past the grace period.
    assert list(objects.rglob(f"{TMP_PREFIX}*"))
    report = store.gc(grace=0)
    assert report.removed >= 1
    assert not list(objects.rglob(f"{TMP_PREFIX}*"))
    assert store.get("model") == "previous"


class TestFailedSave:
    def test_rename_fails_local(self, tmp_path: Path, monkeypatch: Any) -> None:
        """A filesystem error mid-save leaves the previous artifact and no temporary."""
        store = ac.open_store(str(tmp_path / "s"))
        store.save("x", "old")

        def broken(src: str, dst: str) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("artifact_cache.storage.writes.os.replace", broken)
        with pytest.raises(ac.ArtifactStoreError, match="'x'") as err:
            store.save("x", "new" * 1000)
        assert "No space left" in str(err.value)
        monkeypatch.undo()
        assert store.get("x") == "old"
        assert not list((tmp_path / "s").rglob(f"{TMP_PREFIX}*"))

    @pytest.mark.payload_files
    @pytest.mark.parametrize("backend", ["memory", "s3"])
    def test_upload_fails(
        self, backend: str, tmp_path: Path, request: Any, monkeypatch: Any
    ) -> None:
        """An object store failing on upload leaves the previous artifact readable."""
        from conftest import make_url

        store = ac.open_store(make_url(backend, tmp_path, request))
        store.save("x", "old")
        if backend == "memory":
            # memory:// stores set fsspec's MemoryFile objects directly.
            from fsspec.implementations.memory import MemoryFile

            real_commit = MemoryFile.commit

            def broken_commit(self: Any) -> None:
                if "/objects/" in self.path:
                    raise ConnectionError("connection reset mid-upload")
                real_commit(self)

            monkeypatch.setattr(MemoryFile, "commit", broken_commit)
        else:
            real = store.fs.pipe_file

            def broken(path: str, *args: Any, **kwargs: Any) -> Any:
                if "/objects/" in path:
                    raise ConnectionError("connection reset mid-upload")
                return real(path, *args, **kwargs)

            monkeypatch.setattr(store.fs, "pipe_file", broken)
        with pytest.raises(ac.ArtifactStoreError, match="connection reset"):
            store.save("x", "new")
        monkeypatch.undo()
        assert store.get("x") == "old"

    @pytest.mark.payload_files
    def test_serializer_raises_midway(self, store: ac.ArtifactStore) -> None:
        """An object whose pickling fails part-way writes nothing."""

        class Half:
            def __reduce__(self) -> Any:
                raise RuntimeError("cannot pickle the second half")

        store.save("x", "old")
        with pytest.raises(ac.SerializationError, match="second half"):
            store.save("x", [list(range(10_000)), Half()])
        assert store.get("x") == "old"
        assert len(store.fs.find(store._storage.path("objects"))) == 1
