"""The real ``artifact-cache`` console script, run in a subprocess on local and S3 stores.

Stores are filled through the Python API (fast) and inspected through the command. The
subprocess inherits the moto endpoint and dummy credentials from ``os.environ`` (set by
the ``moto_endpoint`` fixture) and gets ``tests/`` on ``PYTHONPATH`` for runbook targets.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from procs import SCRIPT
from procs import run_cli as run

import artifact_cache as ac
from artifact_cache.cli import main


def assert_one_error_line(proc: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("artifact-cache: error: "), proc.stderr
    for part in parts:
        assert part in lines[0]


@pytest.fixture(params=["local", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store: a local folder, or a fresh bucket on the moto server."""
    if request.param == "local":
        return str(tmp_path / "store")
    return str(request.getfixturevalue("s3_url"))


@pytest.fixture
def filled(url: str) -> str:
    """A store with three artifacts under two top-level prefixes."""
    store = ac.open_store(url)
    store.save("deals/A/cim", {"rows": [1, 2, 3]}, tags={"team": "m&a"})
    time.sleep(0.01)  # distinct created times: ls is newest first
    store.save("deals/B/cim", b"x" * 2048, serializer="raw", mime_type="text/plain")
    time.sleep(0.01)
    store.save("extract", list(range(100)), key="k1")
    return url


class TestBrowse:
    def test_ls_table_and_json(self, filled: str) -> None:
        """ls prints an aligned table newest first; --json is parseable and complete."""
        proc = run("ls", "--store", filled)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].split()[:3] == ["STEP", "ID", "KEY"]
        assert [line.split()[0] for line in lines[1:]] == ["extract", "deals/B/cim", "deals/A/cim"]
        assert lines[1].split()[1] == "k1"

        proc = run("--store", filled, "ls", "deals/", "--json")  # global --store works too
        data = json.loads(proc.stdout)
        assert [d["step_id"] for d in data] == ["deals/B/cim", "deals/A/cim"]
        assert data[0]["size"] == 2048 and data[1]["tags"] == {"team": "m&a"}

        data = json.loads(run("ls", "--store", filled, "--json", "--tag", "team=m&a").stdout)
        assert [d["step_id"] for d in data] == ["deals/A/cim"]

    def test_info(self, filled: str) -> None:
        """info shows one record; --json round-trips to an ArtifactInfo."""
        proc = run("info", "extract", "--store", filled)
        assert proc.returncode == 0, proc.stderr
        assert "step id:" in proc.stdout and "builtins.list" in proc.stdout
        proc = run("info", "extract", "--key", "k1", "--json", "--store", filled)
        info = ac.ArtifactInfo.from_dict(json.loads(proc.stdout))
        assert info == ac.open_store(filled).info("extract")

    def test_du(self, filled: str) -> None:
        """du sums sizes and counts per top-level prefix, with a total."""
        proc = run("du", "--store", filled)
        assert proc.returncode == 0, proc.stderr
        rows = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()[1:4]}
        assert rows == {"deals": "2", "extract": "1", "total": "3"}
        data = json.loads(run("du", "--json", "--store", filled).stdout)
        sizes = {i.step_id: i.size for i in ac.open_store(filled).list()}
        assert data["prefixes"] == [
            {"prefix": "deals", "count": 2, "size": sizes["deals/A/cim"] + sizes["deals/B/cim"]},
            {"prefix": "extract", "count": 1, "size": sizes["extract"]},
        ]
        assert data["total"] == {"count": 3, "size": sum(sizes.values())}

    def test_missing_artifact_is_one_error_line(self, filled: str) -> None:
        """A missing artifact exits 1 with one line on stderr naming step and store."""
        assert_one_error_line(run("info", "nope", "--store", filled), "'nope'", "store")

    def test_invalid_step_id_is_one_error_line(self, filled: str) -> None:
        """An invalid step id is reported, not a traceback."""
        assert_one_error_line(run("rm", "../x", "--store", filled), "invalid step id")


class TestRemove:
    def test_rm(self, filled: str) -> None:
        """rm deletes the named steps; a step with nothing to delete exits 1."""
        proc = run("rm", "deals/A/cim", "extract", "--store", filled)
        assert proc.returncode == 0, proc.stderr
        assert [i.step_id for i in ac.open_store(filled).list()] == ["deals/B/cim"]
        assert_one_error_line(run("rm", "extract", "--store", filled), "'extract'")

    def test_rm_key(self, filled: str) -> None:
        """rm --key deletes one key only."""
        assert run("rm", "extract", "--key", "other", "--store", filled).returncode == 1
        assert run("rm", "extract", "--key", "k1", "--store", filled).returncode == 0
        assert not ac.open_store(filled).exists("extract")

    def test_clear_refuses_without_terminal(self, filled: str) -> None:
        """clear without --yes and no terminal refuses with one line, removing nothing."""
        assert_one_error_line(run("clear", "--store", filled), "--yes", "not a terminal")
        assert len(ac.open_store(filled).list()) == 3

    def test_clear_yes(self, filled: str) -> None:
        """clear --yes removes everything."""
        proc = run("clear", "--yes", "--store", filled)
        assert proc.returncode == 0 and "removed 3 artifacts" in proc.stdout
        assert ac.open_store(filled).list() == []


class TestClearConfirm:
    """On a terminal, clear asks (in-process: a pseudo-terminal is not needed for this)."""

    @pytest.mark.parametrize(("answer", "kept"), [("n\n", 1), ("y\n", 0)])
    def test_asks_on_a_terminal(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, answer: str, kept: int
    ) -> None:
        """Only 'y' clears; anything else keeps the store and exits 1."""
        url = str(tmp_path / "store")
        ac.open_store(url).save("x", 1)
        stdin = io.StringIO(answer)
        monkeypatch.setattr(stdin, "isatty", lambda: True, raising=False)
        monkeypatch.setattr(sys, "stdin", stdin)
        assert main(["--store", url, "clear"]) == (0 if kept == 0 else 1)
        assert len(ac.open_store(url).list()) == kept


class TestGc:
    @pytest.mark.payload_files
    def test_orphan_removed_after_grace_only(self, url: str) -> None:
        """gc keeps an orphan younger than the grace period and removes it after."""
        store = ac.open_store(url)
        store.save("keep", [1, 2, 3])
        orphan = store.save("orphan", {"big": "x" * 1000})
        store.delete("orphan", purge=True)

        data = json.loads(run("gc", "--json", "--store", url).stdout)  # default grace 1 h
        assert data["removed"] == 0 and data["kept_young"] == 1 and data["referenced"] == 1

        data = json.loads(run("gc", "--grace", "0", "--dry-run", "--json", "--store", url).stdout)
        assert data["removed"] == 1 and data["dry_run"]

        proc = run("gc", "--grace", "0", "--store", url)
        assert proc.returncode == 0 and "removed 1 unreferenced payloads" in proc.stdout
        store.save("orphan", {"other": 1})  # a new record, a different payload
        with pytest.raises(ac.ArtifactNotFoundError):
            store.load(orphan)
        assert ac.open_store(url).get("keep") == [1, 2, 3]

    @pytest.mark.payload_files
    def test_old_orphan_removed_with_default_grace(self, tmp_path: Path) -> None:
        """On a local store, an orphan older than the grace period goes with plain gc."""
        store = ac.open_store(str(tmp_path / "store"))
        young = store.save("young", "y" * 100)
        old = store.save("old", "o" * 100)
        store.delete("young", purge=True)
        store.delete("old", purge=True)
        path = tmp_path / "store" / "objects" / old.digest[:2] / old.digest
        two_hours_ago = time.time() - 7200
        os.utime(path, (two_hours_ago, two_hours_ago))
        data = json.loads(run("gc", "--json", "--store", str(tmp_path / "store")).stdout)
        assert data["removed"] == 1 and data["kept_young"] == 1
        assert not path.exists()
        assert (path.parent.parent / young.digest[:2] / young.digest).exists()


RUNBOOK = """\
execution:
  - id: extract
    run: runbook_steps:extract
    params: {n: 6}
  - id: classify
    run: runbook_steps:classify
    input_from: extract
  - id: summarise
    run: runbook_steps:summarise
    input_from: classify
"""


class TestRun:
    def test_run_runbook(self, url: str, tmp_path: Path) -> None:
        """run shows progress and a summary; the second run is served from the cache."""
        book = tmp_path / "book.yml"
        book.write_text(RUNBOOK)
        proc = run("run", str(book), "--store", url)
        assert proc.returncode == 0, proc.stderr
        assert "[1/3] extract ... computed" in proc.stdout
        assert "3 steps: 3 computed, 0 cached" in proc.stdout
        proc = run("run", str(book), "--store", url, "--json")
        data: dict[str, Any] = json.loads(proc.stdout)  # progress goes to stderr
        assert [s["status"] for s in data["steps"]] == ["cached"] * 3
        assert "[3/3] summarise ... cached" in proc.stderr
        assert ac.open_store(url).get("summarise") == {"high": 3, "low": 3}

    def test_runbook_store_relative_to_runbook(self, tmp_path: Path) -> None:
        """A relative store: in the runbook is a folder beside it, whatever the cwd."""
        (tmp_path / "proj").mkdir()
        book = tmp_path / "proj" / "book.yml"
        book.write_text("store: cache\n" + RUNBOOK)
        proc = run("run", str(book), "--until", "classify", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        store = ac.open_store(str(tmp_path / "proj" / "cache"))
        assert store.exists("classify") and not store.exists("summarise")
        proc = run("run", str(book), "--only", "summarise", cwd=tmp_path)
        assert proc.returncode == 0 and "[1/1] summarise ... computed" in proc.stdout

    def test_failing_step_exits_1(self, tmp_path: Path) -> None:
        """A step that raises: exit 1, one error line naming the step, no traceback."""
        book = tmp_path / "book.yml"
        book.write_text(RUNBOOK.replace("n: 6", "n: oops"))
        proc = run("run", str(book), "--store", str(tmp_path / "s"))
        assert_one_error_line(proc, "step 'extract'", "TypeError")
        assert "extract ... failed" in proc.stdout

    def test_bad_runbook_and_missing_file(self, tmp_path: Path) -> None:
        """A malformed or missing runbook: exit 1, one line naming the problem."""
        book = tmp_path / "book.yml"
        book.write_text("execution:\n  - {id: x, run: 'nowhere_xyz:f'}\n")
        assert_one_error_line(run("run", str(book)), "step 'x'", "field 'run'")
        assert_one_error_line(run("run", str(tmp_path / "nope.yml")), "nope.yml")

    def test_missing_input_message(self, tmp_path: Path) -> None:
        """The documented message reaches the user as one line."""
        book = tmp_path / "book.yml"
        book.write_text(RUNBOOK.replace("params: {n: 6}", "save_output: false"))
        proc = run("run", str(book), "--store", str(tmp_path / "s"))
        assert_one_error_line(proc, "Step 'classify' depends on 'extract' but artifact not found.")


class TestUsage:
    def test_help_for_every_command(self) -> None:
        """Every subcommand has --help (checked in-process: argparse is the same code)."""
        for command in ("ls", "info", "rm", "clear", "du", "gc", "run", "demo"):
            assert main([command, "--help"]) == 0

    def test_usage_error_exit_2(self) -> None:
        """A usage mistake exits 2 with argparse's message, not a traceback."""
        proc = run("ls", "--tag", "novalue")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "artifact-cache: error: --tag expects NAME=VALUE" in proc.stderr
        assert run("frobnicate").returncode == 2

    def test_module_entry_point(self, tmp_path: Path) -> None:
        """python -m artifact_cache is the same command."""
        proc = subprocess.run(
            [sys.executable, "-m", "artifact_cache", "--store", str(tmp_path), "du", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0 and json.loads(proc.stdout)["total"]["count"] == 0

    def test_default_store_from_environment(self, tmp_path: Path) -> None:
        """Without --store the command uses $ARTIFACT_CACHE_URL like open_store()."""
        ac.open_store(str(tmp_path / "env")).save("x", 1)
        env = dict(os.environ, ARTIFACT_CACHE_URL=str(tmp_path / "env"))
        proc = subprocess.run(
            [str(SCRIPT), "ls", "--json"], capture_output=True, text=True, env=env, timeout=60
        )
        assert [d["step_id"] for d in json.loads(proc.stdout)] == ["x"]


def test_demo(tmp_path: Path) -> None:
    """demo runs its pipeline twice; the second run is all cache hits."""
    proc = run("demo", "--store", str(tmp_path / "demo"), "--rows", "3000")
    assert proc.returncode == 0, proc.stderr
    run2 = proc.stdout[proc.stdout.index("run 2") :]
    assert "4 steps: 0 computed, 4 cached" in run2
    assert "4 steps: 4 computed, 0 cached" in proc.stdout[: proc.stdout.index("run 2")]
    assert "speed-up:" in proc.stdout
    assert "demo/train" in run("ls", "demo/", "--store", str(tmp_path / "demo")).stdout


class TestLsOptions:
    def test_latest_and_arguments(self, tmp_path: Path) -> None:
        """ls shows each artifact's arguments; --latest keeps the newest of each step."""
        url = str(tmp_path / "store")
        store = ac.open_store(url)

        @store.step("fit")
        def fit(rows: list[int], alpha: float = 0.1) -> int:
            return len(rows)

        fit([1, 2, 3])
        time.sleep(0.01)  # distinct creation times, so "newest" is well defined
        fit([1, 2, 3], alpha=0.5)
        time.sleep(0.01)
        store.save("extract", [1])
        proc = run("ls", "--store", url)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].split()[-1] == "ARGUMENTS"
        assert [line.split()[0] for line in lines[1:]] == ["extract", "fit", "fit"]
        assert lines[1].endswith("  -")  # a plain save has no arguments
        assert lines[2].endswith("rows=[1, 2, 3], alpha=0.5")
        assert lines[3].endswith("rows=[1, 2, 3], alpha=0.1")

        latest = run("ls", "--latest", "--store", url).stdout.splitlines()
        assert [line.split()[0] for line in latest[1:]] == ["extract", "fit"]
        assert latest[2].endswith("alpha=0.5")
        data = json.loads(run("ls", "fit", "--latest", "--json", "--store", url).stdout)
        assert [d["args_repr"] for d in data] == ["rows=[1, 2, 3], alpha=0.5"]

    def test_long_arguments_are_cut(self, tmp_path: Path) -> None:
        """A long argument repr is cut in the table; --json keeps it whole."""
        url = str(tmp_path / "store")
        store = ac.open_store(url)
        store.save("x", 1, args_repr="data=" + "y" * 150)
        line = run("ls", "--store", url).stdout.splitlines()[1]
        assert line.endswith("...") and "y" * 150 not in line
        data = json.loads(run("ls", "--json", "--store", url).stdout)
        assert data[0]["args_repr"] == "data=" + "y" * 150


def test_demo_keep_reuses_across_processes(tmp_path: Path) -> None:
    """demo --keep in a second process takes every step from what the first stored."""
    url = str(tmp_path / "demo")
    first = run("demo", "--keep", "--store", url, "--rows", "2000")
    assert first.returncode == 0, first.stderr
    assert "demo --keep --rows 2000" in first.stdout
    run1 = first.stdout[: first.stdout.index("run 2")]
    assert "4 steps: 4 computed, 0 cached" in run1  # nothing stored yet
    second = run("demo", "--keep", "--store", url, "--rows", "2000")
    assert second.returncode == 0, second.stderr
    run1 = second.stdout[: second.stdout.index("run 2")]
    assert "(--keep: what an earlier demo stored is used)" in run1
    assert "4 steps: 0 computed, 4 cached" in run1
    assert "an earlier demo stored every step" in second.stdout
    # Without --keep the demo starts fresh again.
    third = run("demo", "--store", url, "--rows", "2000")
    assert "4 steps: 4 computed, 0 cached" in third.stdout[: third.stdout.index("run 2")]
