"""ArtifactBrowser: an ipywidgets browser over an `ArtifactStore`.

It lists, filters, sorts and pages the store's records, which it reads once per refresh
(never a payload). The table is the control: a click selects a row, shift-click a range,
ctrl-click (cmd-click on a Mac) adds or removes one row, and a click on a column header
sorts by that column. The detail pane shows the selected record, its lineage and what
was computed from it, and a payload only when asked to preview it; it never shows an
artifact that is no longer selected. Delete and clear ask for a confirmation inside the
widget. Failures are shown in the widget, not raised into the notebook.

It imports ipywidgets and anywidget (the ``notebook`` extra, ``.[notebook]``); the
package loads it lazily. The table is an ``anywidget`` because ipywidgets' own buttons
report a click without its modifier keys.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import ArtifactStoreError
from ..info import ArtifactInfo, human_size
from ..lifecycle.filters import as_time
from ..lifecycle.lineage import Children, children_of
from .controls import button, count_box, labelled, text_box
from .grid import ArtifactGrid
from .html import (
    _BY_NAME,
    _COLUMNS,
    _MUTED,
    _detail_html,
    _esc,
    _mono,
    _Name,
    _preview_html,
    _table_html,
)

if TYPE_CHECKING:
    from ..store import ArtifactStore

__all__ = ["ArtifactBrowser", "ArtifactGrid"]

_STATUS_OPTIONS = [
    ("Active", "active"),
    ("Superseded", "superseded"),
    ("Deleted (tombstoned)", "tombstoned"),
    ("All versions", "all"),
]
"""The status filter's choices: ``store.list(status=...)`` (``"all"``: None)."""

_Identity = tuple[str, str, str | None]


def _identity(info: ArtifactInfo) -> _Identity:
    # The active artifact of a step and key stays the same row when it is saved again;
    # an earlier version is one row of its own.
    return (info.step_id, info.key, None if info.status == "active" else info.version)


_ANY_TYPE = "any type"


def _parse_tags(text: str) -> dict[str, str | None]:
    """``"k=v, k2=v2, k3"`` -> ``{"k": "v", "k2": "v2", "k3": None}`` (None: any value)."""
    wanted: dict[str, str | None] = {}
    for term in text.split(","):
        term = term.strip()
        if not term:
            continue
        name, sep, value = term.partition("=")
        wanted[name.strip()] = value.strip() if sep else None
    return wanted


def _has_tags(info: ArtifactInfo, wanted: Mapping[str, str | None]) -> bool:
    for name, value in wanted.items():
        have = info.tags.get(name)
        if have is None or (value is not None and have != value):
            return False
    return True


class ArtifactBrowser(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A notebook widget to browse, preview, delete and clear the artifacts of a store.

    The records are read once per `refresh()` (never the payloads); filtering,
    sorting and paging work on that list in memory, so a store of 10,000 artifacts stays
    responsive. The table is the control: a click on a row selects it, shift-click
    selects the range from the last clicked row, ctrl-click (cmd-click) adds or removes
    one row, and a click on a column header sorts by it (again: the other way). The
    detail pane shows the selected record, its arguments, the tree of its inputs (its
    lineage) and what was computed from it (downstream), both from the listing; it
    never shows an artifact that is no longer selected, so a filter, page turn, delete
    or refresh that hides the selection also clears the preview. A payload is loaded
    only when **Load preview** is pressed, and one larger than ``preview_limit`` bytes
    only after a confirmation. **Delete selected** and **Clear all** ask inside the
    widget before they act; a store whose ``read_only`` is true has neither.

    Args:
        store: the store to browse.
        page_size: rows per page.
        preview_limit: payloads larger than this many bytes ask before being previewed.

    Parts, all public so that they can be driven from code and tests: ``header``,
    ``refresh_button``, ``filter_box`` (step id substring, case-insensitive),
    ``tag_box`` (``k=v, k2=v2``; a bare ``k`` means "has tag k"), ``status_box``
    (``"active"``: the artifacts `get` finds; ``"superseded"``, ``"tombstoned"`` or
    ``"all"`` lists versions, and hides **Delete selected**), ``type_box`` (a
    dropdown of the recorded types present), ``days_box`` (created in the last N days;
    0: any time), ``after_picker`` and ``before_picker`` (created from one date to
    another, both whole days in UTC), ``limit_box`` (the newest N that pass the other
    filters; 0: all), ``hint``, ``grid``
    (the table, an `ArtifactGrid`), ``prev_button``, ``next_button``, ``page_label``,
    ``detail``, ``preview_button``, ``preview``, ``delete_button``, ``clear_button``,
    ``confirm_bar``, ``confirm_label``, ``confirm_yes``, ``confirm_no`` and ``error``.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-browser")
        >>> _ = store.save("extract", [1, 2, 3], tags={"source": "crm"})
        >>> _ = store.save("features", {"n": 3})
        >>> _ = store.save("model", "weights")
        >>> browser = store.browse()  # the last expression of a cell displays it
        >>> [i.step_id for i in browser.rows]  # newest first
        ['model', 'features', 'extract']
        >>> browser.grid.click_row(0)  # a click on the first row
        >>> browser.grid.click_row(2, shift=True)  # a shift-click on the third
        >>> [i.step_id for i in browser.selected]
        ['model', 'features', 'extract']
        >>> browser.grid.click_header("step_id")  # sort by step id, A to Z
        >>> [i.step_id for i in browser.rows]
        ['extract', 'features', 'model']
        >>> browser.tag_box.value = "source=crm"
        >>> [i.step_id for i in browser.rows]
        ['extract']
        >>> browser.tag_box.value = ""
        >>> browser.type_box.value = "builtins.dict"  # one of the types present
        >>> [i.step_id for i in browser.rows]
        ['features']
    """

    def __init__(
        self,
        store: ArtifactStore,
        *,
        page_size: int = 50,
        preview_limit: int = 100 * 2**20,
    ) -> None:
        if page_size < 1:
            msg = f"page_size must be at least 1, not {page_size}"
            raise ValueError(msg)
        self.store = store
        self.page_size = page_size
        self.preview_limit = preview_limit
        self._all: list[ArtifactInfo] = []
        self._known: dict[_Name, ArtifactInfo] = {}
        self._children: Children | None = None
        self._matching: list[ArtifactInfo] = []
        self._rows: list[ArtifactInfo] = []
        self._page = 0
        self._sort_column = "created"
        self._sort_ascending = False
        self._selection: set[_Identity] = set()
        self._anchor: _Identity | None = None
        self._previewed: ArtifactInfo | None = None
        self._pending: Callable[[], None] | None = None
        self._quiet = False

        self.header: widgets.HTML = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self.refresh_button: widgets.Button = widgets.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Read the store's records again",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
        )
        self.filter_box: widgets.Text = text_box("Step id", "contains...", "260px")
        self.tag_box: widgets.Text = text_box("Tags", "key=value, ...", "240px")
        self.type_box: widgets.Dropdown = labelled(
            widgets.Dropdown, "Type", "260px", options=[(_ANY_TYPE, "")], value=""
        )
        self.status_box: widgets.Dropdown = labelled(
            widgets.Dropdown,
            "Status",
            "220px",
            options=_STATUS_OPTIONS,
            value="active",
            tooltip="Which versions to list: the artifacts get finds, or earlier versions",
        )
        self.days_box: widgets.BoundedIntText = count_box(
            "Last days", "Only artifacts created in the last N days (0: any time)", "140px", 100_000
        )
        self.after_picker: widgets.DatePicker = labelled(widgets.DatePicker, "From", "200px")
        self.before_picker: widgets.DatePicker = labelled(widgets.DatePicker, "To", "190px")
        self.limit_box: widgets.BoundedIntText = count_box(
            "Newest", "Only the newest N matching artifacts (0: all)", "140px", 10**9
        )
        self.hint: widgets.HTML = widgets.HTML(
            f"<span style='{_MUTED}'>Click a row to select it, shift-click for a range, "
            "ctrl-click to add or remove one; click a column header to sort.</span>"
        )
        self.error: widgets.HTML = widgets.HTML()
        self.grid: ArtifactGrid = ArtifactGrid(layout=widgets.Layout(width="100%"))
        self.prev_button: widgets.Button = button("Prev", "90px", icon="chevron-left")
        self.page_label: widgets.Label = widgets.Label()
        self.next_button: widgets.Button = button("Next", "90px", icon="chevron-right")
        self.preview_button: widgets.Button = button(
            "Load preview", icon="eye", tooltip="Load the selected artifact's payload and show it"
        )
        self.delete_button: widgets.Button = button(
            "Delete selected", icon="trash", button_style="warning"
        )
        self.clear_button: widgets.Button = button("Clear all", icon="trash", button_style="danger")
        self.confirm_label: widgets.HTML = widgets.HTML()
        self.confirm_yes: widgets.Button = button("Yes", button_style="danger")
        self.confirm_no: widgets.Button = button("Cancel")
        self.confirm_bar: widgets.HBox = widgets.HBox(
            [self.confirm_label, self.confirm_yes, self.confirm_no],
            layout=widgets.Layout(display="none", align_items="center", padding="2px 0"),
        )
        self.detail: widgets.HTML = widgets.HTML(
            layout=widgets.Layout(flex="1 1 380px", min_width="0", padding="0 16px 0 0")
        )
        self.preview: widgets.HTML = widgets.HTML(
            layout=widgets.Layout(flex="1 1 380px", min_width="0")
        )

        self.refresh_button.on_click(lambda _: self.refresh())
        for box in (
            self.filter_box,
            self.tag_box,
            self.type_box,
            self.days_box,
            self.after_picker,
            self.before_picker,
            self.limit_box,
        ):
            box.observe(self._on_query, names="value")
        # Another status is another listing: read the store again.
        self.status_box.observe(lambda _: self.refresh(), names="value")
        self.grid.on_row_click(self._on_row_click)
        self.grid.on_header_click(self._on_header_click)
        self.prev_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(+1))
        self.preview_button.on_click(self._on_preview)
        self.delete_button.on_click(self._on_delete)
        self.clear_button.on_click(self._on_clear)
        self.confirm_yes.on_click(self._on_confirm)
        self.confirm_no.on_click(lambda _: self._hide_confirm())

        center = widgets.Layout(align_items="center")
        wrap = widgets.Layout(align_items="center", flex_flow="row wrap")
        super().__init__(
            [
                widgets.HBox([self.header, self.refresh_button], layout=center),
                widgets.HBox([self.filter_box, self.tag_box, self.hint], layout=wrap),
                widgets.HBox(
                    [
                        self.status_box,
                        self.type_box,
                        self.days_box,
                        self.after_picker,
                        self.before_picker,
                        self.limit_box,
                    ],
                    layout=wrap,
                ),
                self.error,
                self.grid,
                widgets.HBox(
                    [
                        self.prev_button,
                        self.page_label,
                        self.next_button,
                        widgets.HTML(layout=widgets.Layout(width="24px")),
                        self.preview_button,
                        self.delete_button,
                        self.clear_button,
                    ],
                    layout=wrap,
                ),
                self.confirm_bar,
                widgets.HBox(
                    [self.detail, self.preview],
                    layout=widgets.Layout(
                        align_items="flex-start", flex_flow="row wrap", width="100%"
                    ),
                ),
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.refresh()

    def __repr__(self) -> str:
        return f"ArtifactBrowser({self.store.location!r}, {len(self._all)} artifacts)"

    # ------------------------------------------------------------------ public
    @property
    def rows(self) -> list[ArtifactInfo]:
        """The records shown on the current page, in display order."""
        return list(self._rows)

    @property
    def matching(self) -> list[ArtifactInfo]:
        """Every record that passes the filters, sorted, across all pages."""
        return list(self._matching)

    @property
    def selected(self) -> list[ArtifactInfo]:
        """The selected records (all on the current page), in display order."""
        return [i for i in self._rows if _identity(i) in self._selection]

    @property
    def previewed(self) -> ArtifactInfo | None:
        """The record whose payload `preview` shows, if any."""
        return self._previewed

    @property
    def page(self) -> int:
        """The current page, counted from 0."""
        return self._page

    @property
    def page_count(self) -> int:
        """How many pages the matching records fill (at least 1)."""
        return max(1, math.ceil(len(self._matching) / self.page_size))

    @property
    def sort_column(self) -> str:
        """The column the rows are sorted by: one of `columns`."""
        return self._sort_column

    @property
    def sort_ascending(self) -> bool:
        """True if the rows are sorted smallest, oldest or A first."""
        return self._sort_ascending

    @property
    def columns(self) -> list[str]:
        """The names of the sortable columns, as `sort()` and the headers take them."""
        return [c.name for c in _COLUMNS]

    @property
    def read_only(self) -> bool:
        """True if the store refuses writes: then there is nothing to delete or clear."""
        return bool(getattr(self.store, "read_only", False))

    def refresh(self) -> None:
        """Read the store's records again (never a payload) and redraw.

        The selection keeps the artifacts that are still there; a preview stays only if
        its artifact is still selected alone and unchanged. A failure, such as an
        unreachable store, is shown in `error`, not raised.
        """
        self._hide_confirm()
        self._clear_error()
        try:
            status = self.status_box.value
            self._all = list(self.store.list(status=None if status == "all" else status))
        except Exception as exc:
            self._all = []
            self._show_error(f"cannot list store {self.store.location}: {_reason(exc)}")
            self.header.value = (
                f"<b>ArtifactStore</b> <code>{_esc(self.store.location)}</code> "
                f"<span style='{_MUTED}'>(unavailable)</span>"
            )
        else:
            total = human_size(sum(i.size for i in self._all))
            count = f"{len(self._all):,} artifact{'' if len(self._all) == 1 else 's'}"
            mode = f" <span style='{_MUTED}'>(read-only)</span>" if self.read_only else ""
            self.header.value = (
                f"<b>ArtifactStore</b> <code>{_esc(self.store.location)}</code>"
                f" &middot; {_esc(count)} &middot; {_esc(total)}{mode}"
            )
        # The artifacts get finds, by step and key: what lineage resolves inputs against.
        self._known = {(i.step_id, i.key): i for i in self._all if i.status == "active"}
        self._children = None  # made when a record is first shown
        self._update_types()
        destructive = "none" if self.read_only else ""
        # Delete acts on an artifact (its active version): not offered beside versions.
        versions = self.status_box.value != "active"
        self.delete_button.layout.display = "none" if versions else destructive
        self.clear_button.layout.display = destructive
        self._apply(reset_page=False)

    def select(self, *targets: int | str | ArtifactInfo) -> list[ArtifactInfo]:
        """Select rows of the current page (replacing the selection), as clicks do.

        Each target is a position in `rows`, a step id (all of its rows shown) or
        an `ArtifactInfo`. With no target the selection is cleared. Returns
        `selected`.

        Raises:
            IndexError: a position is not on the page.
            ValueError: a step id or record is not among the rows shown.
        """
        chosen: list[_Identity] = []
        for target in targets:
            if isinstance(target, int) and not isinstance(target, bool):
                if not 0 <= target < len(self._rows):
                    msg = f"row {target} is not on this page ({len(self._rows)} rows shown)"
                    raise IndexError(msg)
                chosen.append(_identity(self._rows[target]))
                continue
            if isinstance(target, ArtifactInfo):
                found = [_identity(i) for i in self._rows if _identity(i) == _identity(target)]
            else:
                found = [_identity(i) for i in self._rows if i.step_id == target]
            if not found:
                msg = (
                    f"{target!r} is not among the rows shown (page {self._page + 1} of "
                    f"{self.page_count}); change the filter or the page first"
                )
                raise ValueError(msg)
            chosen.extend(found)
        self._anchor = chosen[-1] if chosen else None
        self._set_selection(set(chosen))
        return self.selected

    def sort(self, column: str, *, ascending: bool | None = None) -> None:
        """Sort by ``column`` (one of `columns`), as a click on its header does.

        With ``ascending=None`` a column already sorted by is reversed, and a new one
        starts in its natural order: largest and newest first for size and created,
        A to Z for the others. The view goes back to the first page.

        Raises:
            ValueError: ``column`` is not a sortable column.
        """
        if column not in _BY_NAME:
            msg = f"cannot sort by {column!r}; the columns are {', '.join(_BY_NAME)}"
            raise ValueError(msg)
        if ascending is None:
            if column == self._sort_column:
                ascending = not self._sort_ascending
            else:
                ascending = _BY_NAME[column].first_ascending
        self._sort_column, self._sort_ascending = column, ascending
        self._apply(reset_page=True)

    # ------------------------------------------------------------------ drawing
    def _update_types(self) -> None:
        """Offer the types present in the listing (and keep the one chosen, if any)."""
        counts = Counter(i.python_type for i in self._all)
        chosen = self.type_box.value
        if chosen and chosen not in counts:
            counts[chosen] = 0  # still filtered by, though none is left
        options = [(_ANY_TYPE, "")] + [(f"{t} ({counts[t]})", t) for t in sorted(counts)]
        if options != list(self.type_box.options):
            # New options reset the value: no redraw until the chosen one is back.
            self._quiet = True
            try:
                self.type_box.options = options
                self.type_box.value = chosen
            finally:
                self._quiet = False

    def _created_range(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[after, before) from the date pickers (whole days, UTC) and "last N days"."""
        after = before = None
        if self.after_picker.value is not None:
            after = as_time(self.after_picker.value, what="from")
        if self.before_picker.value is not None:
            before = as_time(self.before_picker.value, what="to") + dt.timedelta(days=1)
        if self.days_box.value:
            recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.days_box.value)
            after = recent if after is None else max(after, recent)
        return after, before

    def _apply(self, *, reset_page: bool) -> None:
        """Filter and sort the records read last, then show the current page."""
        text = self.filter_box.value.strip().lower()
        wanted = _parse_tags(self.tag_box.value)
        kind = self.type_box.value
        after, before = self._created_range()
        matching = [
            i
            for i in self._all
            if (not text or text in i.step_id.lower())
            and (not wanted or _has_tags(i, wanted))
            and (not kind or i.python_type == kind)
            and (after is None or i.created >= after)
            and (before is None or i.created < before)
        ]
        if self.limit_box.value:
            # The newest N of those that pass, whatever column the table is sorted by.
            matching.sort(key=lambda i: i.created, reverse=True)
            del matching[self.limit_box.value :]
        matching.sort(key=_BY_NAME[self._sort_column].key, reverse=not self._sort_ascending)
        self._matching = matching
        self._page = 0 if reset_page else min(self._page, self.page_count - 1)
        self._show_page()

    def _show_page(self) -> None:
        self._hide_confirm()
        start = self._page * self.page_size
        self._rows = self._matching[start : start + self.page_size]
        shown = f"{len(self._matching):,} of {len(self._all):,} artifacts"
        self.page_label.value = f"page {self._page + 1} of {self.page_count} \u00b7 {shown}"
        self.prev_button.disabled = self._page == 0
        self.next_button.disabled = self._page >= self.page_count - 1
        self._show_selection()

    def _show_selection(self) -> None:
        """Redraw everything that depends on the selection, keeping the pane honest."""
        on_page = {_identity(i) for i in self._rows}
        self._selection &= on_page
        if self._anchor not in on_page:
            self._anchor = None
        chosen = self.selected
        # The preview belongs to one record: it goes when that record is no longer the
        # whole selection, or was replaced or deleted since it was loaded.
        if self._previewed is not None and chosen != [self._previewed]:
            self._previewed = None
            self.preview.value = ""
        table = _table_html(
            self._rows,
            [_identity(i) in self._selection for i in self._rows],
            start=self._page * self.page_size,
            sort_column=self._sort_column,
            ascending=self._sort_ascending,
            stored=bool(self._all),
        )
        self.grid.show(table, [_identity(i) for i in self._rows])
        self.preview_button.disabled = len(chosen) != 1
        self.delete_button.disabled = not chosen
        self.delete_button.description = (
            f"Delete selected ({len(chosen)})" if chosen else "Delete selected"
        )
        self.clear_button.disabled = not self._all
        if len(chosen) == 1:
            verify = getattr(self.store, "verified", None)
            verdict = verify(chosen[0]) if verify is not None else None
            if self._children is None:
                self._children = children_of(self._all)
            self.detail.value = _detail_html(
                chosen[0], dt.datetime.now(dt.UTC), self._known, verdict, self._children, self.store
            )
        elif chosen:
            total = human_size(sum(i.size for i in chosen))
            names = "".join(
                f"<li>{_esc(i.step_id)} @ {_mono(i.key[:12])}</li>" for i in chosen[:20]
            )
            more = f"<li>and {len(chosen) - 20} more</li>" if len(chosen) > 20 else ""
            self.detail.value = (
                f"<div style='line-height:1.5'><b>{len(chosen)} artifacts selected</b>, "
                f"{_esc(total)} in all:</div>"
                f"<ul style='margin:2px 0;padding-left:1.4em;line-height:1.5'>{names}{more}</ul>"
            )
        else:
            self.detail.value = (
                f"<div style='{_MUTED};padding:4px 0'>Select a row to see its record.</div>"
            )

    def _set_selection(self, chosen: Iterable[_Identity]) -> None:
        # A confirmation belongs to the selection it was asked for.
        self._hide_confirm()
        self._selection = set(chosen)
        self._show_selection()

    # ------------------------------------------------------------------ events
    def _on_query(self, _change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._apply(reset_page=True)

    def _on_row_click(self, row: int, shift: bool, toggle: bool) -> None:
        if not 0 <= row < len(self._rows):
            return
        clicked = _identity(self._rows[row])
        order = [_identity(i) for i in self._rows]
        if shift and self._anchor is not None:
            lo, hi = sorted((order.index(self._anchor), row))
            span = set(order[lo : hi + 1])
            self._set_selection(self._selection | span if toggle else span)
            return  # the anchor stays, so that the next shift-click re-spans from it
        self._anchor = clicked
        if toggle:
            self._set_selection(self._selection ^ {clicked})
        else:
            self._set_selection({clicked})

    def _on_header_click(self, column: str) -> None:
        with contextlib.suppress(ValueError):
            self.sort(column)

    def _turn(self, step: int) -> None:
        page = min(max(self._page + step, 0), self.page_count - 1)
        if page != self._page:
            self._page = page
            self._show_page()

    def _on_preview(self, _button: Any) -> None:
        chosen = self.selected
        if len(chosen) != 1:
            self._show_error("select exactly one artifact to preview")
            return
        info = chosen[0]
        if info.size > self.preview_limit:
            self._ask(
                f"{_esc(info.step_id)} is {_esc(human_size(info.size))}, more than the "
                f"preview limit of {_esc(human_size(self.preview_limit))}. Load it anyway?",
                f"Yes, load {human_size(info.size)}",
                lambda: self._load_preview(info),
            )
            return
        self._load_preview(info)

    def _load_preview(self, info: ArtifactInfo) -> None:
        self._clear_error()
        try:
            obj = self.store.load(info)
            shown = _preview_html(obj)
        except Exception as exc:
            self._previewed = None
            self.preview.value = ""
            self._show_error(f"cannot preview {info.step_id!r}: {_reason(exc)}")
            return
        if self.selected != [info]:
            return  # the selection moved on while the payload was loading
        self._previewed = info
        self.preview.value = (
            f"<div style='padding-bottom:4px'>Preview of <b>{_esc(info.step_id)}</b> @ "
            f"{_mono(info.key[:12])}</div>" + shown
        )

    def _on_delete(self, _button: Any) -> None:
        if self.read_only:
            self._show_error(f"store {self.store.location} is read-only")
            return
        chosen = self.selected
        if not chosen:
            self._show_error("select the artifacts to delete first")
            return
        names = ", ".join(f"{i.step_id} @ {i.key[:12]}" for i in chosen[:5])
        more = f" and {len(chosen) - 5} more" if len(chosen) > 5 else ""
        self._ask(
            f"Delete {len(chosen)} artifact{'s' if len(chosen) > 1 else ''}: {_esc(names)}{more}?",
            f"Yes, delete {len(chosen)}",
            lambda: self._delete(chosen),
        )

    def _delete(self, infos: list[ArtifactInfo]) -> None:
        failures = []
        for info in infos:
            try:
                self.store.delete(info.step_id, key=info.key)
            except Exception as exc:
                failures.append(f"{info.step_id!r}: {_reason(exc)}")
        self.refresh()
        if failures:
            self._show_error("could not delete " + "; ".join(failures))

    def _on_clear(self, _button: Any) -> None:
        if self.read_only:
            self._show_error(f"store {self.store.location} is read-only")
            return
        n = len(self._all)
        self._ask(
            f"Delete all {n:,} artifacts and their payloads from "
            f"<code>{_esc(self.store.location)}</code>? This cannot be undone.",
            f"Yes, delete all {n:,}",
            self._clear,
        )

    def _clear(self) -> None:
        try:
            self.store.clear()
        except Exception as exc:
            self.refresh()
            self._show_error(f"cannot clear store {self.store.location}: {_reason(exc)}")
            return
        self.refresh()

    # ------------------------------------------------------------------ confirm / error
    def _ask(self, question_html: str, yes: str, action: Callable[[], None]) -> None:
        self._pending = action
        self.confirm_label.value = f"<span style='padding-right:8px'>{question_html}</span>"
        self.confirm_yes.description = yes
        self.confirm_bar.layout.display = "flex"

    def _on_confirm(self, _button: Any) -> None:
        action, self._pending = self._pending, None
        self._hide_confirm()
        if action is not None:
            action()

    def _hide_confirm(self) -> None:
        self._pending = None
        self.confirm_bar.layout.display = "none"
        self.confirm_label.value = ""

    def _show_error(self, message: str) -> None:
        self.error.value = (
            "<div style='color:var(--jp-error-color1,#c62828);padding:4px 0'>"
            f"&#9888; {_esc(message)}</div>"
        )

    def _clear_error(self) -> None:
        self.error.value = ""


def _reason(exc: BaseException) -> str:
    # Our own errors already say what and where; anything else gets its type name.
    return str(exc) if isinstance(exc, ArtifactStoreError) else f"{type(exc).__name__}: {exc}"
