"""ArtifactBrowser in a real JupyterLab, driven by headless Debian Chromium.

The notebook is written by the test with no saved outputs, so a rendered widget proves
that its cell really ran in a kernel that imports this artifact_cache.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser_helpers import KERNEL_READY_JS, chromium_page

import artifact_cache as ac

# CI installs chromium (.ci/run) and must never skip this test; elsewhere, say what is missing.
pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium (apt-get install -y chromium); CI installs it",
)


def write_notebook(path: Path, store_path: Path) -> None:
    source = (
        "import sys\n"
        "import artifact_cache as ac\n"
        "print('kernel python:', sys.executable)\n"
        f"store = ac.open_store({str(store_path)!r})\n"
        "store.browse()"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, path)


def save_screenshot(target: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    target.screenshot(path=str(path))
    if os.environ.get("SCREENSHOT_DIR"):
        out = Path(os.environ["SCREENSHOT_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, out / name)
    return path


def test_browse_select_and_delete_in_jupyterlab(
    jupyter_lab: dict[str, Any], tmp_path: Path
) -> None:
    """The widget lists the store's artifacts; a row selected and deleted there is gone."""
    store_path = tmp_path / "store"
    store = ac.open_store(str(store_path))
    store.save("extract", list(range(100)), tags={"source": "crm"})
    clean = store.save("clean", {"rows": 100}, tags={"stage": "prep"})
    store.save("features", "x" * 3000)
    name = f"browse-{uuid.uuid4().hex[:8]}.ipynb"
    write_notebook(jupyter_lab["root"] / name, store_path)

    started = time.perf_counter()
    with chromium_page() as page:
        page_errors: list[str] = []
        page.on("pageerror", lambda e: page_errors.append(str(e)[:300]))
        page.goto(
            f"{jupyter_lab['base']}/lab/tree/{name}?token={jupyter_lab['token']}",
            wait_until="domcontentloaded",
            timeout=60_000,
        )
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_function(KERNEL_READY_JS, timeout=60_000)
        output = page.locator(".jp-OutputArea-output")
        assert output.count() == 0  # nothing rendered before the cell runs

        page.locator(".jp-Cell").first.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        table = output.locator("table").first
        try:
            table.get_by_role("cell", name="features", exact=True).wait_for(timeout=30_000)
        except Exception:
            save_screenshot(page, tmp_path, "artifact_browser_failure.png")
            print("outputs:", output.all_inner_texts(), "page errors:", page_errors)
            print(Path(str(jupyter_lab["log"])).read_text(errors="replace")[-3000:])
            raise
        assert f"kernel python: {sys.executable}" in output.first.inner_text()
        for step_id in ("extract", "clean", "features"):
            assert table.get_by_role("cell", name=step_id, exact=True).is_visible()
        assert "3 artifacts" in page.get_by_text(re.compile(r"\d+ artifacts? ·")).inner_text()

        # Select the row of "clean" in the selector, found by its text.
        selector = output.get_by_role("listbox")
        # ipywidgets shows option labels with non-breaking spaces.
        labels = selector.locator("option").all_inner_texts()
        label = next(t for t in labels if " clean @ " in t.replace("\xa0", " "))
        selector.select_option(label=label)
        output.get_by_text(clean.digest, exact=True).wait_for(timeout=10_000)  # the record is shown

        output.get_by_role("button", name="Delete selected (1)").click()
        output.get_by_text("Delete 1 artifact: clean @ default?").wait_for(timeout=10_000)
        save_screenshot(page, tmp_path, "artifact_browser_confirm.png")
        output.get_by_role("button", name="Yes, delete 1").click()

        table.get_by_role("cell", name="clean", exact=True).wait_for(
            state="detached", timeout=10_000
        )
        page.get_by_text(re.compile(r"2 artifacts ·")).wait_for(timeout=10_000)
        assert table.get_by_role("cell", name="extract", exact=True).is_visible()
        assert table.get_by_role("cell", name="features", exact=True).is_visible()
        widget = page.locator(".jp-OutputArea-output .widget-vbox").first
        widget.scroll_into_view_if_needed()
        save_screenshot(page, tmp_path, "artifact_browser.png")
        print(f"\nbrowser part {time.perf_counter() - started:.1f}s; page errors: {page_errors}")

    reopened = ac.open_store(str(store_path))
    assert not reopened.exists("clean")
    assert sorted(i.step_id for i in reopened.list()) == ["extract", "features"]
