"""The example notebooks run end to end in a fresh kernel of this environment.

Each notebook is copied into the test's tmp folder, its outputs cleared, and executed
there (its working directory), so runs never write into the repository. A last cell,
added to the copy only, prints the kernel's interpreter so the test can check the kernel
ran this environment. 02 runs against a bucket on the moto server, as
``$ARTIFACT_CACHE_URL``.

The notebooks are committed with the outputs of such a run. With
``ARTIFACT_CACHE_WRITE_NOTEBOOKS=1`` the tests write each executed notebook back into
``notebooks/`` (02 from its S3 run), recording a digest of the cells they ran, so that a
test can tell when a committed output no longer belongs to its cell.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import new_bucket

import artifact_cache as ac

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MARK = "kernel interpreter: "
WRITE_BACK = os.environ.get("ARTIFACT_CACHE_WRITE_NOTEBOOKS") == "1"


@pytest.fixture
def jupyter_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jupyter and IPython folders of the test's own, so no user kernelspec shadows ours.

    With no user-level ``python3`` kernelspec, jupyter_client finds this environment's,
    whose ``python`` it resolves to ``sys.executable``.
    """
    home = tmp_path / "jupyter-home"
    for name, sub in [
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (home / sub).mkdir(parents=True)
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    monkeypatch.delenv("ARTIFACT_CACHE_URL", raising=False)


def sources_digest(nb: Any) -> str:
    """A digest of the notebook's cells (type and source), which its outputs belong to."""
    cells = [[cell.cell_type, cell.source] for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def execute(name: str, workdir: Path, *, write_back: bool = True) -> Any:
    """Run notebook ``name`` in ``workdir``; return it with its outputs. Fails on any cell error.

    With ``ARTIFACT_CACHE_WRITE_NOTEBOOKS=1`` and ``write_back``, the executed notebook
    (without the test's own cell) replaces the committed one.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOKS / name, workdir / name)
    nb = nbformat.read(workdir / name, as_version=4)
    for cell in nb.cells:  # whatever is shown afterwards comes from this run
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("artifact_cache", None)
    nb.cells.append(
        nbformat.v4.new_code_cell(f"import sys; print({MARK!r} + sys.executable)", id="test-kernel")
    )
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    assert f"{MARK}{sys.executable}" in text_of(nb.cells[-1])
    if WRITE_BACK and write_back:
        saved = nbformat.from_dict(nb)
        saved.cells = saved.cells[:-1]
        saved.metadata["artifact_cache"] = {"executed_cells": sources_digest(saved)}
        nbformat.validate(saved)
        nbformat.write(saved, NOTEBOOKS / name)
    return nb


def text_of(cell: Any) -> str:
    """Everything a cell printed or displayed as plain text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def outputs(nb: Any) -> str:
    """The plain text of every output of the notebook."""
    return "\n".join(text_of(cell) for cell in nb.cells if cell.cell_type == "code")


def html_of(nb: Any) -> str:
    """The HTML of every output of the notebook."""
    return "\n".join(
        output["data"].get("text/html", "")
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "data" in output
    )


def test_notebooks_are_saved_with_the_outputs_of_a_run() -> None:
    """Each committed notebook holds the outputs of one run of its current cells, in order."""
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["01-quickstart.ipynb", "02-remote-s3.ipynb", "03-pipelines.ipynb"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), name
        assert code[-1].outputs, name
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        assert not errors, name
        recorded = nb.metadata.get("artifact_cache", {}).get("executed_cells")
        assert recorded == sources_digest(nb), (
            f"{name}: cells changed since its outputs were made; regenerate them with "
            "ARTIFACT_CACHE_WRITE_NOTEBOOKS=1 python -m pytest tests/test_notebooks.py"
        )
    quickstart = nbformat.read(NOTEBOOKS / "01-quickstart.ipynb", as_version=4)
    assert "application/vnd.jupyter.widget-state+json" in quickstart.metadata.widgets


@pytest.mark.usefixtures("jupyter_env")
def test_quickstart(tmp_path: Path) -> None:
    """01 computes the pipeline once, serves the re-run from its store, and shows the browser."""
    nb = execute("01-quickstart.ipynb", tmp_path)
    text = outputs(nb)
    assert "second run:" in text
    assert "clean served from the cache: True" in text
    assert "hit: step 'summary'" in text
    assert "argument 'min_price' changed" in text
    assert "artifact-list" in html_of(nb)  # store.list() rendered as a table
    assert "application/vnd.jupyter.widget-view+json" in str(nb.cells[-2].outputs)
    store = ac.open_store(str(tmp_path / "quickstart-cache"))
    assert {i.step_id for i in store.list()} == {"load_sales", "clean", "summary"}
    summary = store.info("summary")
    assert [r.step_id for r in summary.inputs] == ["clean"]


@pytest.mark.usefixtures("jupyter_env")
def test_remote_s3(tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """02 writes to the bucket named by $ARTIFACT_CACHE_URL, where the test then finds it all."""
    url = f"s3://{new_bucket(moto_endpoint)}/nb"
    monkeypatch.setenv("ARTIFACT_CACHE_URL", url)
    nb = execute("02-remote-s3.ipynb", tmp_path)
    text = outputs(nb)
    assert f"store: {url}" in text
    assert f"S3 endpoint: {moto_endpoint}" in text
    assert "first call cached: False" in text
    assert "second call cached: True" in text
    assert "colleague's call cached: True" in text
    assert re.search(r"query: .*Signature", text), text  # a presigned link
    assert not (tmp_path / "remote-demo-cache").exists()
    store = ac.open_store(url)
    ids = {i.step_id for i in store.list()}
    assert ids == {"nb-demo/measurements", "nb-demo/sensor-means", "nb-demo/report.csv"}
    means = store.get("nb-demo/sensor-means")
    assert len(means) == 8


@pytest.mark.usefixtures("jupyter_env")
def test_remote_s3_falls_back_to_a_local_folder(tmp_path: Path) -> None:
    """Without $ARTIFACT_CACHE_URL, 02 runs on a folder beside the notebook."""
    nb = execute("02-remote-s3.ipynb", tmp_path, write_back=False)  # the S3 run is kept
    assert "file://" in outputs(nb)  # a local folder's link
    store = ac.open_store(str(tmp_path / "remote-demo-cache"))
    assert store.exists("nb-demo/sensor-means")


@pytest.mark.usefixtures("jupyter_env")
def test_pipelines(tmp_path: Path) -> None:
    """03 caches a re-run, recomputes only downstream of a change, and runs the runbook."""
    nb = execute("03-pipelines.ipynb", tmp_path)
    text = outputs(nb)
    saved = "['extract', 'clean', 'segment', 'summarise']"
    assert f"cached: {saved}" in text  # the second run
    assert "cached: ['extract']" in text  # the changed parameters
    assert "computed: ['clean', 'segment', 'summarise', 'report']" in text
    assert "run-result" in html_of(nb)  # RunResult rendered as a table
    runbook_cell = next(c for c in nb.cells if "from_runbook" in c.source)
    assert f"cached: {saved}" in text_of(runbook_cell)
    cli_cell = next(c for c in nb.cells if "-m artifact_cache run" in c.source)
    assert "5 steps: 1 computed, 4 cached" in text_of(cli_cell)
    assert (tmp_path / "customers.yml").exists()
    store = ac.open_store(str(tmp_path / "pipelines-cache"))
    assert {i.step_id for i in store.list()} == {"extract", "clean", "segment", "summarise"}
    assert os.path.exists(tmp_path / "pipeline_steps.py")
