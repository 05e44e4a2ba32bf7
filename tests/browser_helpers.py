"""Drive Debian's Chromium through Playwright (never ``playwright install``)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The toolbar says "idle" before the kernel even exists, and a Shift+Enter sent then is
# dropped; wait on the real kernel connection instead (needs expose_app_in_browser).
KERNEL_READY_JS = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session
        && w.sessionContext.session.kernel;
    return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1100) -> Iterator[Any]:
    """A headless Chromium page in a throw-away profile."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height},
            )
            try:
                yield context.pages[0] if context.pages else context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def grid_row(grid: Any, step_id: str) -> Any:
    """The first row of an ArtifactBrowser grid whose step id cell reads ``step_id``."""
    cell = grid.page.get_by_role("gridcell", name=step_id, exact=True)
    return grid.locator("tbody tr[data-row]", has=cell).first


def grid_step_ids(rows: Any) -> list[str]:
    """The step ids of the grid rows in ``rows`` (the grid or some of its rows), in order.

    The step id is a row's second cell, after the row number (headers are ``th``).
    """
    return [t.strip() for t in rows.locator("td:nth-child(2)").all_inner_texts()]
