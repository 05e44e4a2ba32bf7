"""Progress bars (tqdm) for long saves, loads, listings and pipeline runs, and the off switch.

The thresholds and tqdm's delay are lowered for these tests, so that small payloads
count as long ones and a bar appears at once; tqdm writes to ``sys.stderr``, which
pytest captures.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import artifact_cache as ac
from artifact_cache import progress

MiB = 2**20


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "MIN_BYTES", 2 * MiB)
    monkeypatch.setattr(progress, "MIN_RECORDS", 50)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.delenv(progress.ENV_PROGRESS, raising=False)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """(description, units reported, total) of every bar, read when it finishes."""
    seen: list[tuple[str, int, int]] = []
    finish = progress.Bar._finish

    def record(self: progress.Bar) -> None:
        t = self._tqdm
        seen.append((t.desc, t.n, t.total))
        finish(self)

    monkeypatch.setattr(progress.Bar, "_finish", record)
    return seen


def big(n: int = 3 * MiB) -> bytes:
    return os.urandom(n)


class TestStoreBars:
    @pytest.mark.parametrize("size", [3 * MiB, 20 * MiB])  # one read / a chunked read
    def test_save_and_load_over_the_threshold(
        self,
        size: int,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        counted: list[tuple[str, int, int]],
    ) -> None:
        """A large save and load draw a bar that the storage layer moves to the end."""
        store = ac.open_store(str(tmp_path / "store"))
        payload = big(size)
        info = store.save("big", payload, serializer="raw")
        assert "saving big" in capsys.readouterr().err
        assert store.get("big") == payload
        assert "loading big" in capsys.readouterr().err
        # Every byte was reported by the writes and reads themselves (the writer thread
        # of a large local save included), not filled in at the end.
        assert counted == [("saving big", info.size, info.size), ("loading big", size, size)]

    def test_no_bar_under_the_threshold(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Small saves, loads and listings draw nothing."""
        store = ac.open_store(str(tmp_path / "store"))
        store.save("small", big(MiB), serializer="raw")
        store.get("small")
        store.list()
        assert capsys.readouterr().err == ""

    def test_listing_over_the_threshold(
        self, capsys: pytest.CaptureFixture[str], counted: list[tuple[str, int, int]]
    ) -> None:
        """A listing of many records draws a bar counting records, read in batches."""
        store = ac.open_store(f"memory://progress-{uuid.uuid4().hex}")
        for i in range(300):
            store.save(f"s/{i}", i)
        capsys.readouterr()
        assert len(store.list()) == 300
        assert "listing" in capsys.readouterr().err
        assert counted == [("listing", 300, 300)]

    def test_listing_on_s3(
        self, s3_url: str, capsys: pytest.CaptureFixture[str], counted: list[tuple[str, int, int]]
    ) -> None:
        """On S3 too, the records are counted as they arrive."""
        store = ac.open_store(s3_url)
        for i in range(60):
            store.save(f"s/{i}", i)
        assert len(store.list()) == 60
        assert counted == [("listing", 60, 60)]

    def test_off_by_option(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """open_store(progress=False) draws no bar, even over the threshold, and pickles so."""
        store = ac.open_store(str(tmp_path / "store"), progress=False)
        store.save("big", big(), serializer="raw")
        store.get("big")
        assert capsys.readouterr().err == ""
        assert store.progress is False
        assert pickle.loads(pickle.dumps(store)).progress is False

    def test_off_by_environment(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ARTIFACT_CACHE_PROGRESS=0 switches bars off; progress=True switches them back on."""
        monkeypatch.setenv(progress.ENV_PROGRESS, "0")
        store = ac.open_store(str(tmp_path / "store"))
        store.save("big", big(), serializer="raw")
        assert capsys.readouterr().err == ""
        ac.open_store(str(tmp_path / "store"), progress=True).get("big")
        assert "loading big" in capsys.readouterr().err

    def test_reused_payload_completes_its_bar(
        self, tmp_path: Path, counted: list[tuple[str, int, int]]
    ) -> None:
        """Saving a payload that is already stored reuses it; its bar still ends full.

        The stored copy is read back and checked against its digest (so that a damaged one
        is rewritten), which is what the bar shows; the file itself is not written again.
        """
        store = ac.open_store(str(tmp_path / "store"))
        payload = big()
        first = store.save("a", payload, serializer="raw")
        path = tmp_path / "store" / "objects" / first.digest[:2] / first.digest
        inode = path.stat().st_ino
        store.save("b", payload, serializer="raw")
        assert counted[1] == ("saving b", len(payload), len(payload))
        assert path.stat().st_ino == inode  # the same file, not replaced


class TestPipelineBar:
    def pipeline(self) -> ac.Pipeline:
        store = ac.open_store(f"memory://progress-{uuid.uuid4().hex}")
        return ac.Pipeline(
            store,
            [ac.Step("one", lambda: 1), ac.Step("two", lambda x: x + 1, input_from="one")],
            name="twosteps",
        )

    def test_bar_over_the_steps(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Pipeline.run draws a bar named after the pipeline, over its steps."""
        self.pipeline().run()
        err = capsys.readouterr().err
        assert "twosteps" in err and "/2" in err

    def test_off(self, capsys: pytest.CaptureFixture[str]) -> None:
        """progress=False, verbose=True (which prints its own lines) or a callback: no bar."""
        self.pipeline().run(progress=False)
        self.pipeline().run(verbose=True)
        seen: list[str] = []
        self.pipeline().run(progress=lambda step_id, result: seen.append(step_id))
        assert capsys.readouterr().err == ""
        assert seen == ["one", "one", "two", "two"]

    def test_off_with_the_store(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A store opened with progress=False runs its pipelines without a bar too."""
        pipe = self.pipeline()
        store = ac.open_store(pipe.store.location, progress=False)
        ac.Pipeline(store, [ac.Step("one", lambda: 1)], name="quiet").run()
        assert capsys.readouterr().err == ""


def test_import_does_not_load_tqdm() -> None:
    """tqdm is optional and loaded only when a bar is drawn."""
    code = "import sys, json, artifact_cache; print(json.dumps('tqdm' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False


def test_without_tqdm(tmp_path: Path) -> None:
    """Without tqdm, long operations work and draw nothing."""
    code = (
        "import sys; sys.modules['tqdm'] = None\n"
        "import os, artifact_cache as ac\n"
        "from artifact_cache import progress\n"
        "progress.MIN_BYTES = 1; progress.DELAY = 0\n"
        "store = ac.open_store(sys.argv[1])\n"
        "store.save('x', os.urandom(1000), serializer='raw')\n"
        "assert len(store.get('x')) == 1000\n"
    )
    env: dict[str, Any] = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s")], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
