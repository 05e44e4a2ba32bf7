"""ArtifactBrowser in a real JupyterLab, driven by headless Debian Chromium.

The notebook is written by the test with no saved outputs, so a rendered widget proves
that its cell really ran in a kernel that imports this artifact_cache. The screenshots
the docs show come from this test: ``SCREENSHOT_DIR=docs/images pytest
tests/test_browser.py`` writes them there (without it they go to the test's tmp folder).
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
import pandas as pd
import pytest
from browser_helpers import KERNEL_READY_JS, chromium_page, grid_row, grid_step_ids

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


def fill_store(store: ac.ArtifactStore) -> None:
    """A small store like a notebook's: a pipeline, a model fitted three ways, a report."""
    extract = store.save("extract", list(range(2000)), tags={"source": "crm"})
    clean = store.save(
        "clean", {"rows": 1990, "dropped": 10}, tags={"stage": "prep"}, inputs=[extract.ref]
    )

    @store.step("fit")
    def fit(alpha: float, max_depth: int = 3) -> dict[str, float]:
        return {"alpha": alpha, "score": 0.9 - alpha / 10}

    for alpha in (0.1, 0.5, 1.0):
        fit(alpha)
    revenue = pd.DataFrame(
        {
            "region": ["north", "south", "east", "west"],
            "units": [1204, 987, 1530, 761],
            "revenue": [14530.5, 11020.25, 18877.0, 8402.75],
        }
    )
    store.save("report", revenue, tags={"stage": "final"}, inputs=[clean.ref])


def test_browse_click_sort_filter_and_delete_in_jupyterlab(
    jupyter_lab: dict[str, Any], tmp_path: Path
) -> None:
    """Rows select by click, shift-click and ctrl-click, headers sort, a filter clears the
    preview, the type drop-down filters, the record shows its inputs and downstream, and a
    row deleted after the confirmation is gone from the store."""
    store_path = tmp_path / "store"
    store = ac.open_store(str(store_path))
    fill_store(store)
    clean = store.info("clean")
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
        grid = output.locator("table.ac-grid")
        try:
            grid_row(grid, "report").wait_for(timeout=30_000)
        except Exception:
            save_screenshot(page, tmp_path, "browser-failure.png")
            print("outputs:", output.all_inner_texts(), "page errors:", page_errors)
            print(Path(str(jupyter_lab["log"])).read_text(errors="replace")[-3000:])
            raise
        assert f"kernel python: {sys.executable}" in output.first.inner_text()
        newest_first = [i.step_id for i in store.list()]
        assert grid_step_ids(grid) == newest_first
        page.get_by_text(re.compile(r"6 artifacts ·")).wait_for(timeout=10_000)
        fit_args = grid.locator("td.ac-args").all_inner_texts()
        assert len({t for t in fit_args if "alpha" in t}) == 3  # the three fits differ

        # A click selects one row and shows its record.
        selected = grid.locator("tr.ac-selected")
        grid_row(grid, "clean").click()
        output.get_by_text(clean.digest, exact=True).wait_for(timeout=10_000)
        assert grid_step_ids(selected) == ["clean"]
        # Its record lists what was computed from it (downstream) beside its inputs.
        output.get_by_text(re.compile("\u2192 report @")).wait_for(timeout=10_000)
        output.get_by_text(re.compile("\u2514 extract @")).wait_for(timeout=10_000)
        # A shift-click on another row selects the range between the two.
        grid_row(grid, "report").click(modifiers=["Shift"])
        first, last = sorted((newest_first.index("clean"), newest_first.index("report")))
        span = newest_first[first : last + 1]
        output.get_by_text(f"{len(span)} artifacts selected").wait_for(timeout=10_000)
        assert grid_step_ids(selected) == span
        assert output.get_by_role("button", name=f"Delete selected ({len(span)})").is_visible()
        # A ctrl-click takes one row out of the selection (and another puts it back).
        middle = grid.locator("tbody tr[data-row]").nth(first + 1)
        middle.click(modifiers=["Control"])
        output.get_by_text(f"{len(span) - 1} artifacts selected").wait_for(timeout=10_000)
        assert grid_step_ids(selected) == span[:1] + span[2:]
        middle.click(modifiers=["Control"])
        output.get_by_text(f"{len(span)} artifacts selected").wait_for(timeout=10_000)

        # A header click sorts by size, largest first; a second click reverses.
        by_size = [i.step_id for i in sorted(store.list(), key=lambda i: -i.size)]
        assert by_size != newest_first
        size_header = grid.locator("th[data-col='size']")
        size_header.click()
        grid.locator("th[data-col='size'][aria-sort='descending']").wait_for(timeout=10_000)
        assert grid_step_ids(grid) == by_size
        grid.locator("th[data-col='size']").click()
        grid.locator("th[data-col='size'][aria-sort='ascending']").wait_for(timeout=10_000)
        assert grid_step_ids(grid) == by_size[::-1]

        # Preview the report: a themed table, shown beside its record.
        grid_row(grid, "report").click()
        output.get_by_role("button", name="Load preview").click()
        preview = output.get_by_text("Preview of report")
        preview.wait_for(timeout=10_000)
        output.locator("table.ac-frame").get_by_text("18877").wait_for(timeout=10_000)
        widget = page.locator(".jp-OutputArea-output .widget-vbox").first
        widget.scroll_into_view_if_needed()
        save_screenshot(widget, tmp_path, "browser.png")

        # A filter that hides the previewed row clears the preview and the record.
        output.get_by_placeholder("contains...").fill("fit")
        grid_row(grid, "report").wait_for(state="detached", timeout=10_000)
        preview.wait_for(state="detached", timeout=10_000)
        output.get_by_text("Select a row to see its record.").wait_for(timeout=10_000)
        assert output.locator("table.ac-frame").count() == 0
        assert grid_step_ids(grid) == ["fit", "fit", "fit"]
        output.get_by_placeholder("contains...").fill("")
        grid_row(grid, "report").wait_for(timeout=10_000)

        # The type drop-down offers the types present, with counts, and filters by one.
        type_select = (
            output.locator(".widget-dropdown")
            .filter(has=page.locator("label", has_text="Type"))
            .locator("select")
        )
        type_select.select_option(label="builtins.dict (4)")
        grid_row(grid, "report").wait_for(state="detached", timeout=10_000)
        assert sorted(grid_step_ids(grid)) == ["clean", "fit", "fit", "fit"]
        type_select.select_option(label="any type")
        grid_row(grid, "report").wait_for(timeout=10_000)

        # Delete asks first; after Yes the row is gone.
        grid_row(grid, "clean").click()
        output.get_by_role("button", name="Delete selected (1)").click()
        output.get_by_text("Delete 1 artifact: clean @ default?").wait_for(timeout=10_000)
        assert store.exists("clean")  # nothing happens before the confirmation
        save_screenshot(widget, tmp_path, "browser-confirm.png")
        output.get_by_role("button", name="Yes, delete 1").click()
        grid_row(grid, "clean").wait_for(state="detached", timeout=10_000)
        page.get_by_text(re.compile(r"5 artifacts ·")).wait_for(timeout=10_000)
        assert "clean" not in grid_step_ids(grid)
        print(f"\nbrowser part {time.perf_counter() - started:.1f}s; page errors: {page_errors}")

    reopened = ac.open_store(str(store_path))
    assert not reopened.exists("clean")
    assert sorted(i.step_id for i in reopened.list()) == ["extract", "fit", "fit", "fit", "report"]
