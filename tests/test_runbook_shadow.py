"""Runbooks import their step modules without letting their folder shadow installed packages.

Each test writes a runbook, its step module and a hostile ``yaml.py`` (which would leave a
marker file and break the run) into one folder and runs the real ``artifact-cache``
console script in a subprocess, from that folder and from elsewhere.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_cli import run as run_cli

HOSTILE = """\
import pathlib
pathlib.Path({marker!r}).write_text("the runbook's yaml.py ran")
raise SystemExit("yaml.py beside the runbook was imported")
"""

STEPS = """\
import json  # the standard library, though a json.py lies beside this module too


def numbers(n):
    return list(range(n))


def total(rows):
    return sum(rows)
"""

RUNBOOK = """\
name: shadow
store: store
execution:
  - id: numbers
    run: shadow_steps:numbers
    params: {n: 5}
  - id: total
    run: shadow_steps:total
    input_from: numbers
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script, run as test_cli runs it (no store from the environment)."""
    return run_cli(*args, cwd=cwd, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A runbook folder holding step modules and a yaml.py and json.py that must not run."""
    folder = tmp_path / "project"
    folder.mkdir()
    marker = tmp_path / "hostile-ran"
    (folder / "yaml.py").write_text(HOSTILE.format(marker=str(marker)))
    (folder / "json.py").write_text(HOSTILE.format(marker=str(marker)))
    (folder / "shadow_steps.py").write_text(STEPS)
    (folder / "runbook.yml").write_text(RUNBOOK)
    return folder


@pytest.mark.parametrize("where", ["runbook folder", "elsewhere"])
def test_yaml_beside_runbook_does_not_run(project: Path, where: str) -> None:
    """A yaml.py beside the runbook never runs; the step module beside it still imports."""
    cwd = project if where == "runbook folder" else project.parent
    proc = run("run", str(project / "runbook.yml"), "--json", cwd=cwd)
    assert not (project.parent / "hostile-ran").exists(), proc.stderr
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [s["step_id"] for s in result["steps"]] == ["numbers", "total"]
    check = run("--store", str(project / "store"), "info", "total", "--json", cwd=project.parent)
    assert json.loads(check.stdout)["python_type"] == "builtins.int"


def test_shadowed_step_module_is_named(project: Path) -> None:
    """A step module named like an installed one is reported, not silently replaced."""
    (project / "yaml.py").write_text("def numbers(n):\n    return list(range(n))\n")
    runbook = project / "uses_yaml.yml"
    runbook.write_text(
        "store: store\nexecution:\n  - id: numbers\n    run: yaml:numbers\n    params: {n: 2}\n"
    )
    proc = run("run", str(runbook), cwd=project.parent)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "installed module of the same name" in proc.stderr
    assert str(project / "yaml.py") in proc.stderr
