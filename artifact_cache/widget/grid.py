"""ArtifactGrid: the browser's table as an anywidget that reports clicks with their
modifier keys (ipywidgets' own buttons report a click without them).

Python draws the table; the front end (the JavaScript and CSS here) only reports what
was clicked.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import anywidget
import traitlets

from .html import _BY_NAME

_GRID_JS = """
function render({ model, el }) {
  const draw = () => {
    // Keep the scroll position and the focused cell across a redraw.
    const scroller = el.querySelector(".ac-grid-scroll");
    const top = scroller ? scroller.scrollTop : 0;
    const left = scroller ? scroller.scrollLeft : 0;
    const focused = el.contains(document.activeElement) ? document.activeElement : null;
    const refocus = focused && (focused.dataset.row !== undefined
      ? `tr[data-row="${focused.dataset.row}"]`
      : focused.dataset.col !== undefined ? `th[data-col="${focused.dataset.col}"]` : null);
    el.innerHTML = model.get("html");
    const again = el.querySelector(".ac-grid-scroll");
    if (again) { again.scrollTop = top; again.scrollLeft = left; }
    if (refocus) { const target = el.querySelector(refocus); if (target) target.focus(); }
  };
  const generation = () => {
    const drawing = el.querySelector("[data-generation]");
    return drawing ? Number(drawing.dataset.generation) : -1;
  };
  const act = (event) => {
    const header = event.target.closest("th[data-col]");
    if (header && el.contains(header)) {
      model.send({ event: "header", column: header.dataset.col, generation: generation() });
      return true;
    }
    const row = event.target.closest("tr[data-row]");
    if (row && el.contains(row)) {
      model.send({ event: "row", row: Number(row.dataset.row), generation: generation(),
                   shift: event.shiftKey, toggle: event.ctrlKey || event.metaKey });
      return true;
    }
    return false;
  };
  // A shift-click would otherwise select the page's text between the two rows.
  const noTextSelection = (event) => {
    if (event.shiftKey && event.target.closest("tr[data-row]")) event.preventDefault();
  };
  const onKey = (event) => {
    if ((event.key === "Enter" || event.key === " ") && act(event)) event.preventDefault();
  };
  draw();
  model.on("change:html", draw);
  el.addEventListener("mousedown", noTextSelection);
  el.addEventListener("click", act);
  el.addEventListener("keydown", onKey);
  return () => {
    model.off("change:html", draw);
    el.removeEventListener("mousedown", noTextSelection);
    el.removeEventListener("click", act);
    el.removeEventListener("keydown", onKey);
  };
}
export default { render };
"""

_GRID_CSS = """
.ac-grid-scroll { max-height: 440px; overflow: auto; }
.ac-grid {
  border-collapse: collapse; width: 100%; font-size: var(--jp-ui-font-size1, 13px);
  color: var(--jp-ui-font-color1, #1f1f1f); font-variant-numeric: tabular-nums;
}
.ac-grid th {
  position: sticky; top: 0; z-index: 1; text-align: left; padding: 5px 10px;
  background: var(--jp-layout-color1, #fff); font-weight: 600; white-space: nowrap;
  border-bottom: 2px solid var(--jp-border-color1, #bdbdbd); user-select: none;
}
.ac-grid th[data-col] { cursor: pointer; }
.ac-grid th[data-col]:hover { background: var(--jp-layout-color2, #eee); }
.ac-grid td {
  text-align: left; vertical-align: top; padding: 3px 10px;
  border-bottom: 1px solid var(--jp-border-color2, #e5e5e5);
}
.ac-grid .ac-right { text-align: right; }
.ac-grid .ac-nowrap { white-space: nowrap; }
.ac-grid .ac-muted { color: var(--jp-ui-font-color2, #666); }
.ac-grid .ac-mono { font-family: var(--jp-code-font-family, monospace); }
.ac-grid .ac-args {
  max-width: 24em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}
.ac-grid .ac-arrow { color: var(--jp-brand-color1, #1976d2); padding-left: 4px; }
.ac-grid tbody tr { cursor: pointer; }
.ac-grid tbody tr:hover { background: var(--jp-rendermime-table-row-hover-background, #eef4fb); }
/* A tint of the theme's brand colour keeps the row's text legible in light and dark. */
.ac-grid tbody tr.ac-selected {
  background: #cfe4fa;
  background: color-mix(in srgb, var(--jp-brand-color1, #1976d2) 24%, transparent);
}
.ac-grid tr:focus, .ac-grid th:focus {
  outline: 1px solid var(--jp-brand-color1, #1976d2); outline-offset: -1px;
}
.ac-grid-empty { color: var(--jp-ui-font-color2, #666); padding: 8px 4px; }
"""


class ArtifactGrid(anywidget.AnyWidget):
    """The browser's table: rows and headers that report clicks, with modifier keys.

    Python draws the table (`html`); the front end only reports what was clicked,
    so that every rule (what a shift-click selects, how a header sorts) lives here and
    is tested here. `click_row()` and `click_header()` do what a click in the
    front end does.

    Examples:
        >>> grid = ArtifactGrid()
        >>> grid.show("<table>...</table>", rows=["a", "b", "c"])
        >>> grid.on_row_click(lambda row, shift, toggle: print(row, shift, toggle))
        >>> grid.click_row(2, shift=True)
        2 True False
    """

    _esm = _GRID_JS
    _css = _GRID_CSS
    html = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generation = 0
        self._shown: tuple[Hashable, ...] = ()
        self._row_handlers: list[Callable[[int, bool, bool], None]] = []
        self._header_handlers: list[Callable[[str], None]] = []
        self.on_msg(self._on_frontend_message)

    def show(self, table_html: str, rows: Iterable[Hashable]) -> None:
        """Draw a table whose rows are ``rows`` (an id of each, in order).

        When the rows change, clicks made on an older drawing are ignored from then on;
        a redraw of the same rows (a new selection) keeps them valid.
        """
        shown = tuple(rows)
        if shown != self._shown:
            self._shown = shown
            self.generation += 1
        self.html = f"<div data-generation='{self.generation}'>{table_html}</div>"

    def on_row_click(self, callback: Callable[[int, bool, bool], None]) -> None:
        """Call ``callback(row, shift, toggle)`` on a click on a row."""
        self._row_handlers.append(callback)

    def on_header_click(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(column)`` on a click on a sortable column header."""
        self._header_handlers.append(callback)

    def click_row(self, row: int, *, shift: bool = False, toggle: bool = False) -> None:
        """Do what a click on row ``row`` does (``toggle``: with ctrl or cmd held)."""
        for callback in self._row_handlers:
            callback(row, shift, toggle)

    def click_header(self, column: str) -> None:
        """Do what a click on the header of ``column`` does."""
        for callback in self._header_handlers:
            callback(column)

    def _on_frontend_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # The table may have been redrawn (a filter, a refresh) after the click was made:
        # a row number then points at another record, so such a click is dropped.
        if not isinstance(content, dict) or content.get("generation") != self.generation:
            return
        if content.get("event") == "row" and isinstance(content.get("row"), int):
            self.click_row(
                content["row"],
                shift=bool(content.get("shift")),
                toggle=bool(content.get("toggle")),
            )
        elif content.get("event") == "header" and content.get("column") in _BY_NAME:
            self.click_header(content["column"])
