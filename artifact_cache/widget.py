"""ArtifactBrowser: an ipywidgets browser over an `ArtifactStore`.

It lists, filters, sorts and pages the store's records, which it reads once per refresh
(never a payload); shows one record in full; loads a payload only when asked to preview
it; and deletes or clears after a confirmation inside the widget. Failures are shown in
the widget, not raised into the notebook.

This is the only module that imports ipywidgets (the ``notebook`` extra, ``.[notebook]``);
``import artifact_cache`` loads it lazily. It may import every lower layer of the package.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import math
import reprlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .errors import ArtifactStoreError
from .info import ArtifactInfo, human_size

if TYPE_CHECKING:
    from .store import ArtifactStore

__all__ = ["ArtifactBrowser"]

_SORT_KEYS: Mapping[str, Callable[[ArtifactInfo], Any]] = {
    "created": lambda i: i.created,
    "step_id": lambda i: (i.step_id, i.key),
    "key": lambda i: (i.key, i.step_id),
    "python_type": lambda i: (i.python_type, i.step_id),
    "size": lambda i: i.size,
}
_SORT_OPTIONS = [
    ("created", "created"),
    ("step id", "step_id"),
    ("key", "key"),
    ("type", "python_type"),
    ("size", "size"),
]
_COLUMNS = ("#", "step id", "key", "type", "size", "created", "tags")

# Theme variables with fallbacks, so the table reads well in light and dark JupyterLab
# themes and in the classic notebook alike.
_MUTED = "color:var(--jp-ui-font-color2,#666)"
_TH = (
    "text-align:left;padding:4px 10px;position:sticky;top:0;"
    "background:var(--jp-layout-color1,#fff);"
    "border-bottom:2px solid var(--jp-border-color1,#bbb)"
)
_TD = "text-align:left;padding:3px 10px;border-bottom:1px solid var(--jp-border-color2,#e5e5e5)"
_SELECTED_ROW = "background:var(--jp-brand-color3,#cfe4fa)"
_MONO = "font-family:var(--jp-code-font-family,monospace)"
_PREVIEW_REPR = 2000
"""Characters of a text or repr preview shown before it is cut."""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _ago(created: dt.datetime, now: dt.datetime) -> str:
    """``created`` relative to ``now`` in words: "just now", "5 min ago", "3 days ago"."""
    seconds = (now - created).total_seconds()
    if seconds < -60:
        return "in the future"  # clock skew between the writer and this machine
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    for unit, length in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400)):
        if seconds >= length:
            n = int(seconds // length)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    raise AssertionError("unreachable")


def _absolute(created: dt.datetime) -> str:
    return created.strftime("%Y-%m-%d %H:%M:%S UTC")


def _tags_text(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags.items())


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


def _short_repr(obj: Any) -> str:
    r = reprlib.Repr()
    r.maxlevel = 3
    r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdeque = r.maxdict = 30
    r.maxstring = r.maxother = r.maxlong = _PREVIEW_REPR
    return r.repr(obj)


def _pre(text: str) -> str:
    if len(text) > _PREVIEW_REPR:
        text = text[:_PREVIEW_REPR] + f"... ({len(text) - _PREVIEW_REPR:,} more characters)"
    return (
        f"<pre style='white-space:pre-wrap;max-height:300px;overflow:auto;margin:4px 0'>"
        f"{_esc(text)}</pre>"
    )


def _preview_html(obj: Any) -> str:
    """A safe, bounded HTML view of a loaded object (pandas and numpy by duck typing).

    pandas and numpy are never imported here: an artifact of those types can only have
    been loaded if they are installed.
    """
    kind = f"<b>{_esc(type(obj).__module__ + '.' + type(obj).__qualname__)}</b>"
    shape = getattr(obj, "shape", None)
    if shape is not None and callable(getattr(obj, "head", None)):
        sample = obj.head()
        if not hasattr(sample, "to_html") and hasattr(sample, "to_frame"):
            sample = sample.to_frame()  # a Series
        if hasattr(sample, "to_html"):
            # pandas escapes cell values and labels itself (escape=True is its default).
            table = sample.to_html(max_cols=20, escape=True)
            return (
                f"<div>{kind}, shape {_esc(shape)}; first rows:</div>"
                f"<div style='max-height:320px;overflow:auto'>{table}</div>"
            )
    dtype = getattr(obj, "dtype", None)
    if shape is not None and dtype is not None:
        parts = [f"{kind}, shape {_esc(shape)}, dtype {_esc(dtype)}"]
        if getattr(obj, "size", 0) and getattr(dtype, "kind", "") in "biuf":
            # Statistics are a nicety: an array type without them still shows its shape.
            with contextlib.suppress(Exception):
                stats = (float(obj.min()), float(obj.max()), float(obj.mean()))
                parts.append("min {:.6g}, max {:.6g}, mean {:.6g}".format(*stats))
        return "<div>" + "; ".join(parts) + "</div>" + _pre(_short_repr(obj))
    if isinstance(obj, str | bytes | bytearray):
        unit = "characters" if isinstance(obj, str) else "bytes"
        return f"<div>{kind}, {len(obj):,} {unit}</div>" + _pre(_short_repr(obj))
    return f"<div>{kind}</div>" + _pre(_short_repr(obj))


def _detail_html(info: ArtifactInfo, now: dt.datetime) -> str:
    """The full record of one artifact as a two-column table (every string escaped)."""

    def mono(text: str | None) -> str:
        return f"<span style='{_MONO}'>{_esc(text)}</span>" if text else ""

    serializer = info.serializer + (f" ({info.mime_type})" if info.mime_type else "")
    inputs = "<br>".join(
        f"{_esc(r.step_id)} @ {mono(r.key)} "
        f"<span style='{_MUTED}'>(digest {_esc(r.digest[:16])}...)</span>"
        for r in info.inputs
    )
    fields: list[tuple[str, str]] = [
        ("step id", _esc(info.step_id)),
        ("key", mono(info.key)),
        ("type", _esc(info.python_type)),
        ("size", f"{_esc(human_size(info.size))} ({info.size:,} bytes)"),
        ("created", f"{_esc(_ago(info.created, now))}, {_esc(_absolute(info.created))}"),
        ("serializer", _esc(serializer)),
        ("digest", mono(info.digest)),
        ("tags", _esc(_tags_text(info.tags))),
        ("inputs", inputs),
        ("arguments", mono(info.args_repr)),
        ("code", mono(info.code_fingerprint)),
        ("duration", "" if info.duration is None else f"{info.duration:.3f} s"),
        ("uri", mono(info.uri)),
    ]
    body = "".join(
        f"<tr><th style='{_TH};position:static;border-bottom:none;padding:1px 10px 1px 0;"
        f"width:6em;vertical-align:top'>{name}</th>"
        f"<td style='{_TD};border-bottom:none;padding:1px 0;word-break:break-all;"
        f"line-height:1.4'>{value or '&mdash;'}</td></tr>"
        for name, value in fields
    )
    return f"<table style='border-collapse:collapse'>{body}</table>"


class ArtifactBrowser(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A notebook widget to browse, preview, delete and clear the artifacts of a store.

    The records are read once per `refresh()` (never the payloads); filtering,
    sorting and paging work on that list in memory, so a store of 10,000 artifacts stays
    responsive. A payload is loaded only when **Load preview** is pressed, and one larger
    than ``preview_limit`` bytes only after a confirmation. **Delete selected** and
    **Clear all** ask inside the widget before they act.

    Args:
        store: the store to browse.
        page_size: rows per page.
        preview_limit: payloads larger than this many bytes ask before being previewed.

    Parts, all public so that they can be driven from code and tests: ``header``,
    ``refresh_button``, ``filter_box`` (step id substring, case-insensitive),
    ``tag_box`` (``k=v, k2=v2``; a bare ``k`` means "has tag k"), ``sort_by``,
    ``ascending``, ``table``, ``prev_button``, ``next_button``, ``page_label``,
    ``selector`` (the rows of the current page), ``detail``, ``preview_button``,
    ``preview``, ``delete_button``, ``clear_button``, ``confirm_bar``, ``confirm_label``,
    ``confirm_yes``, ``confirm_no`` and ``error``.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-browser")
        >>> _ = store.save("extract", [1, 2, 3], tags={"source": "crm"})
        >>> _ = store.save("features", {"n": 3})
        >>> browser = store.browse()  # the last expression of a cell displays it
        >>> [i.step_id for i in browser.rows]
        ['features', 'extract']
        >>> browser.tag_box.value = "source=crm"
        >>> [i.step_id for i in browser.select(0)]
        ['extract']
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
        self._matching: list[ArtifactInfo] = []
        self._rows: list[ArtifactInfo] = []
        self._page = 0
        self._pending: Callable[[], None] | None = None
        self._redrawing = False

        narrow = {"description_width": "initial"}
        self.header: widgets.HTML = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self.refresh_button: widgets.Button = widgets.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Read the store's records again",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
        )
        self.filter_box: widgets.Text = widgets.Text(
            description="Step id",
            placeholder="contains...",
            continuous_update=True,
            style=narrow,
            layout=widgets.Layout(width="260px"),
        )
        self.tag_box: widgets.Text = widgets.Text(
            description="Tags",
            placeholder="key=value, ...",
            continuous_update=True,
            style=narrow,
            layout=widgets.Layout(width="240px"),
        )
        self.sort_by: widgets.Dropdown = widgets.Dropdown(
            description="Sort by",
            options=_SORT_OPTIONS,
            value="created",
            style=narrow,
            layout=widgets.Layout(width="180px"),
        )
        self.ascending: widgets.ToggleButton = widgets.ToggleButton(
            value=False,
            description="Ascending",
            icon="sort-amount-asc",
            tooltip="Sort ascending (off: descending)",
            layout=widgets.Layout(width="120px"),
        )
        self.error: widgets.HTML = widgets.HTML()
        self.table: widgets.HTML = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.prev_button: widgets.Button = widgets.Button(
            description="Prev", icon="chevron-left", layout=widgets.Layout(width="90px")
        )
        self.page_label: widgets.Label = widgets.Label()
        self.next_button: widgets.Button = widgets.Button(
            description="Next", icon="chevron-right", layout=widgets.Layout(width="90px")
        )
        self.selector: widgets.SelectMultiple = widgets.SelectMultiple(
            options=[],
            rows=10,
            description="Select",
            style=narrow,
            layout=widgets.Layout(width="410px"),
        )
        self.detail: widgets.HTML = widgets.HTML(
            layout=widgets.Layout(flex="1 1 auto", min_width="0", padding="0 0 0 12px")
        )
        self.preview_button: widgets.Button = widgets.Button(
            description="Load preview",
            icon="eye",
            tooltip="Load the payload and show it",
            layout=widgets.Layout(width="auto"),
        )
        self.delete_button: widgets.Button = widgets.Button(
            description="Delete selected",
            icon="trash",
            button_style="warning",
            layout=widgets.Layout(width="auto"),
        )
        self.clear_button: widgets.Button = widgets.Button(
            description="Clear all",
            icon="trash",
            button_style="danger",
            layout=widgets.Layout(width="auto"),
        )
        self.confirm_label: widgets.HTML = widgets.HTML()
        self.confirm_yes: widgets.Button = widgets.Button(
            description="Yes", button_style="danger", layout=widgets.Layout(width="auto")
        )
        self.confirm_no: widgets.Button = widgets.Button(
            description="Cancel", layout=widgets.Layout(width="auto")
        )
        self.confirm_bar: widgets.HBox = widgets.HBox(
            [self.confirm_label, self.confirm_yes, self.confirm_no],
            layout=widgets.Layout(display="none", align_items="center", padding="2px 0"),
        )
        self.preview: widgets.HTML = widgets.HTML()

        self.refresh_button.on_click(lambda _: self.refresh())
        for box in (self.filter_box, self.tag_box, self.sort_by, self.ascending):
            box.observe(self._on_query, names="value")
        self.prev_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(+1))
        self.selector.observe(self._on_select, names="value")
        self.preview_button.on_click(self._on_preview)
        self.delete_button.on_click(self._on_delete)
        self.clear_button.on_click(self._on_clear)
        self.confirm_yes.on_click(self._on_confirm)
        self.confirm_no.on_click(lambda _: self._hide_confirm())

        center = widgets.Layout(align_items="center")
        super().__init__(
            [
                widgets.HBox([self.header, self.refresh_button], layout=center),
                widgets.HBox(
                    [self.filter_box, self.tag_box, self.sort_by, self.ascending],
                    layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
                ),
                self.error,
                self.table,
                widgets.HBox([self.prev_button, self.page_label, self.next_button], layout=center),
                widgets.HBox(
                    [
                        widgets.VBox(
                            [
                                self.selector,
                                widgets.HBox(
                                    [self.preview_button, self.delete_button, self.clear_button],
                                    layout=widgets.Layout(flex_flow="row wrap"),
                                ),
                            ],
                            # A fixed width, so that a long record beside it cannot
                            # squeeze the selector and cut the buttons' labels.
                            layout=widgets.Layout(flex="0 0 auto", width="420px"),
                        ),
                        self.detail,
                    ],
                    layout=widgets.Layout(align_items="flex-start", width="100%"),
                ),
                self.confirm_bar,
                self.preview,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.refresh()

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
        """The records selected on the current page."""
        return [self._rows[i] for i in self.selector.value]

    @property
    def page(self) -> int:
        """The current page, counted from 0."""
        return self._page

    @property
    def page_count(self) -> int:
        """How many pages the matching records fill (at least 1)."""
        return max(1, math.ceil(len(self._matching) / self.page_size))

    def refresh(self) -> None:
        """Read the store's records again (never a payload) and redraw.

        A failure, such as an unreachable store, is shown in `error`, not raised.
        """
        self._hide_confirm()
        self._clear_error()
        self.preview.value = ""
        try:
            self._all = list(self.store.list())
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
            self.header.value = (
                f"<b>ArtifactStore</b> <code>{_esc(self.store.location)}</code>"
                f" &middot; {_esc(count)} &middot; {_esc(total)}"
            )
        self._apply(reset_page=False)

    def select(self, *targets: int | str | ArtifactInfo) -> list[ArtifactInfo]:
        """Select rows of the current page, as a click in `selector` does.

        Each target is a position in `rows`, a step id (all of its rows shown) or
        an `ArtifactInfo`. With no target the selection is cleared. Returns
        `selected`.

        Raises:
            IndexError: a position is not on the page.
            ValueError: a step id or record is not among the rows shown.
        """
        positions: set[int] = set()
        for target in targets:
            if isinstance(target, int) and not isinstance(target, bool):
                if not 0 <= target < len(self._rows):
                    msg = f"row {target} is not on this page ({len(self._rows)} rows shown)"
                    raise IndexError(msg)
                positions.add(target)
                continue
            if isinstance(target, ArtifactInfo):
                found = [
                    n
                    for n, i in enumerate(self._rows)
                    if (i.step_id, i.key) == (target.step_id, target.key)
                ]
            else:
                found = [n for n, i in enumerate(self._rows) if i.step_id == target]
            if not found:
                msg = (
                    f"{target!r} is not among the rows shown (page {self._page + 1} of "
                    f"{self.page_count}); change the filter or the page first"
                )
                raise ValueError(msg)
            positions.update(found)
        self.selector.value = tuple(sorted(positions))
        return self.selected

    # ------------------------------------------------------------------ drawing
    def _apply(self, *, reset_page: bool) -> None:
        """Filter and sort the records read last, then show the current page."""
        text = self.filter_box.value.strip().lower()
        wanted = _parse_tags(self.tag_box.value)
        matching = [
            i
            for i in self._all
            if (not text or text in i.step_id.lower()) and (not wanted or _has_tags(i, wanted))
        ]
        matching.sort(key=_SORT_KEYS[self.sort_by.value], reverse=not self.ascending.value)
        self._matching = matching
        self._page = 0 if reset_page else min(self._page, self.page_count - 1)
        self._show_page()

    def _show_page(self) -> None:
        self._hide_confirm()
        start = self._page * self.page_size
        self._rows = self._matching[start : start + self.page_size]
        self._redrawing = True
        try:
            self.selector.options = [
                (f"{start + n + 1}. {i.step_id} @ {i.key[:12]}", n)
                for n, i in enumerate(self._rows)
            ]
            self.selector.value = ()
        finally:
            self._redrawing = False
        self.selector.rows = max(4, min(10, len(self._rows)))
        shown = f"{len(self._matching):,} of {len(self._all):,} artifacts"
        self.page_label.value = f"page {self._page + 1} of {self.page_count} \u00b7 {shown}"
        self.prev_button.disabled = self._page == 0
        self.next_button.disabled = self._page >= self.page_count - 1
        self._show_selection()

    def _render_table(self) -> None:
        if not self._rows:
            why = "match the filters" if self._all else "are stored here"
            self.table.value = f"<div style='{_MUTED};padding:8px 4px'>No artifacts {why}.</div>"
            return
        now = dt.datetime.now(dt.UTC)
        chosen = set(self.selector.value)
        start = self._page * self.page_size
        head = "".join(
            f"<th style='{_TH}{';text-align:right' if h in ('#', 'size') else ''}'>{h}</th>"
            for h in _COLUMNS
        )
        body = []
        for n, info in enumerate(self._rows):
            style = f" style='{_SELECTED_ROW}'" if n in chosen else ""
            body.append(
                f"<tr{style}>"
                f"<td style='{_TD};text-align:right;{_MUTED}'>{start + n + 1}</td>"
                f"<td style='{_TD}'>{_esc(info.step_id)}</td>"
                f"<td style='{_TD};{_MONO}' title='{_esc(info.key)}'>{_esc(info.key[:12])}</td>"
                f"<td style='{_TD}'>{_esc(info.python_type)}</td>"
                f"<td style='{_TD};text-align:right;white-space:nowrap'>"
                f"{_esc(human_size(info.size))}</td>"
                f"<td style='{_TD};white-space:nowrap' title='{_esc(_absolute(info.created))}'>"
                f"{_esc(_ago(info.created, now))} "
                f"<span style='{_MUTED}'>{_esc(info.created.strftime('%Y-%m-%d %H:%M'))}</span>"
                f"</td>"
                f"<td style='{_TD}'>{_esc(_tags_text(info.tags))}</td>"
                "</tr>"
            )
        self.table.value = (
            "<div style='max-height:440px;overflow:auto'>"
            "<table style='border-collapse:collapse;width:100%'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    def _show_selection(self) -> None:
        self._render_table()
        chosen = self.selected
        self.preview_button.disabled = len(chosen) != 1
        self.delete_button.disabled = not chosen
        self.delete_button.description = (
            f"Delete selected ({len(chosen)})" if chosen else "Delete selected"
        )
        self.clear_button.disabled = not self._all
        if len(chosen) == 1:
            self.detail.value = _detail_html(chosen[0], dt.datetime.now(dt.UTC))
        elif chosen:
            total = human_size(sum(i.size for i in chosen))
            self.detail.value = (
                f"<div style='padding:4px 10px'><b>{len(chosen)} artifacts selected</b>, "
                f"{_esc(total)} in all.</div>"
            )
        else:
            self.detail.value = (
                f"<div style='{_MUTED};padding:4px 10px'>Select a row to see its record.</div>"
            )

    # ------------------------------------------------------------------ events
    def _on_query(self, _change: Mapping[str, Any]) -> None:
        self._apply(reset_page=True)

    def _turn(self, step: int) -> None:
        page = min(max(self._page + step, 0), self.page_count - 1)
        if page != self._page:
            self._page = page
            self.preview.value = ""
            self._show_page()

    def _on_select(self, _change: Mapping[str, Any]) -> None:
        if self._redrawing:
            return
        # A confirmation or preview belongs to the selection it was asked for.
        self._hide_confirm()
        self.preview.value = ""
        self._show_selection()

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
            self.preview.value = (
                f"<div style='padding-top:4px'>Preview of <b>{_esc(info.step_id)}</b> @ "
                f"<span style='{_MONO}'>{_esc(info.key[:12])}</span>:</div>" + _preview_html(obj)
            )
        except Exception as exc:
            self.preview.value = ""
            self._show_error(f"cannot preview {info.step_id!r}: {_reason(exc)}")

    def _on_delete(self, _button: Any) -> None:
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
