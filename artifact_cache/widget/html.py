"""The browser's pure rendering: its table columns and the HTML of records, previews
and lineage trees.

Every function here turns records (or a loaded object) into escaped, bounded HTML text;
none does I/O beyond the lineage lookups ``store`` allows, and this module imports no
ipywidgets or anywidget, so the rendering can be read and tested on its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import numbers
import reprlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactStoreError
from ..info import ArtifactInfo, human_size
from ..lifecycle.lineage import Children, children_of, resolve_ref, walk_down
from ..signing import signed_text

if TYPE_CHECKING:
    from ..store import ArtifactStore

_Name = tuple[str, str]


class _Column:
    """One sortable column of the grid: its id, header and sort key."""

    def __init__(
        self,
        name: str,
        label: str,
        key: Callable[[ArtifactInfo], Any],
        *,
        right: bool = False,
        newest_first: bool = False,
    ) -> None:
        self.name = name
        self.label = label
        self.key = key
        self.right = right
        # Sizes and dates are most useful largest/newest first; text reads A to Z.
        self.first_ascending = not newest_first


_COLUMNS: tuple[_Column, ...] = (
    _Column("step_id", "step id", lambda i: (i.step_id, i.key)),
    _Column("args", "arguments", lambda i: (i.args_repr or "", i.step_id, i.key)),
    _Column("key", "key", lambda i: (i.key, i.step_id)),
    _Column("type", "type", lambda i: (i.python_type, i.step_id)),
    _Column("size", "size", lambda i: i.size, right=True, newest_first=True),
    _Column("created", "created", lambda i: i.created, newest_first=True),
    _Column("tags", "tags", lambda i: (_tags_text(i.tags), i.step_id)),
)
_BY_NAME: Mapping[str, _Column] = {c.name: c for c in _COLUMNS}

# Theme variables with fallbacks, so that the widget reads well in light and dark
# JupyterLab themes, in VS Code and in the classic notebook alike.
_MUTED = "color:var(--jp-ui-font-color2,#666)"
_MONO = "font-family:var(--jp-code-font-family,monospace)"
_FIELD_TH = (
    "text-align:left;vertical-align:top;padding:1px 12px 1px 0;width:6em;font-weight:600;"
    "white-space:nowrap;border:none;line-height:1.5"
)
_FIELD_TD = "text-align:left;padding:1px 0;word-break:break-all;line-height:1.5;border:none"
_PREVIEW_REPR = 2000
"""Characters of a text or repr preview shown before it is cut."""
_PREVIEW_ROWS = 10
_PREVIEW_COLUMNS = 20
_LINEAGE_NODES = 100
_ARGS_SHOWN = 60


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


def _short_repr(obj: Any) -> str:
    r = reprlib.Repr()
    r.maxlevel = 3
    r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdeque = r.maxdict = 30
    r.maxstring = r.maxother = r.maxlong = _PREVIEW_REPR
    return r.repr(obj)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _pre(text: str) -> str:
    if len(text) > _PREVIEW_REPR:
        text = text[:_PREVIEW_REPR] + f"... ({len(text) - _PREVIEW_REPR:,} more characters)"
    return (
        f"<pre style='white-space:pre-wrap;max-height:300px;overflow:auto;margin:4px 0;"
        f"{_MONO}'>{_esc(text)}</pre>"
    )


def _label(value: Any) -> str:
    """A column or index label; a MultiIndex tuple reads ``a / b``."""
    if isinstance(value, tuple):
        return " / ".join(str(v) for v in value)
    return str(value)


def _cell(value: Any) -> tuple[str, bool]:
    """A DataFrame cell as text, and whether it is a number (right-aligned)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return _cut(str(value), 200), False
    if isinstance(value, numbers.Integral):
        return str(value), True
    if isinstance(value, numbers.Real):
        text = repr(float(value))  # the shortest text that reads back as the same float
        return (text if len(text) <= 12 else format(float(value), ".6g")), True
    return str(value), True


def _frame_html(frame: Any) -> str:
    """The first rows of a DataFrame as a borderless, themed table (every label escaped).

    Drawn here rather than with ``DataFrame.to_html``, whose ``border="1"`` grid ignores
    the notebook's theme inside a widget.
    """
    columns = list(frame.columns)
    hidden = max(0, len(columns) - _PREVIEW_COLUMNS)
    columns = columns[:_PREVIEW_COLUMNS]
    line = "1px solid var(--jp-border-color1,#bdbdbd)"
    th = (
        f"padding:4px 12px;font-weight:600;border:none;border-bottom:{line};"
        "white-space:nowrap;line-height:1.5"
    )
    td = "padding:3px 12px;border:none;white-space:nowrap;line-height:1.5"
    rows = list(frame.iloc[:, :_PREVIEW_COLUMNS].itertuples(index=False, name=None))
    numeric = [all(_cell(row[c])[1] for row in rows) and bool(rows) for c in range(len(columns))]
    index_name = _label(frame.index.name) if frame.index.name is not None else ""
    head = f"<th style='{th};text-align:left'>{_esc(index_name)}</th>" + "".join(
        f"<th style='{th};text-align:{'right' if numeric[c] else 'left'}'>{_esc(_label(name))}</th>"
        for c, name in enumerate(columns)
    )
    body = []
    for n, (label, row) in enumerate(zip(frame.index, rows, strict=True)):
        shade = "background:var(--jp-rendermime-table-row-background,#f5f5f5);" if n % 2 else ""
        cells = "".join(
            f"<td style='{td};text-align:{'right' if numeric[c] else 'left'}'>"
            f"{_esc(_cell(value)[0])}</td>"
            for c, value in enumerate(row)
        )
        body.append(
            f"<tr style='{shade}'><td style='{td};text-align:left;{_MUTED};font-weight:600'>"
            f"{_esc(_label(label))}</td>{cells}</tr>"
        )
    more = (
        f"<div style='{_MUTED};padding:2px 12px'>and {hidden:,} more columns</div>"
        if hidden
        else ""
    )
    return (
        "<div style='max-height:320px;overflow:auto'>"
        "<table class='ac-frame' style='border-collapse:collapse;border:none;"
        "font-size:var(--jp-ui-font-size1,13px);font-variant-numeric:tabular-nums;"
        "color:var(--jp-ui-font-color1,#1f1f1f)'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}</div>"
    )


def _preview_html(obj: Any) -> str:
    """A safe, bounded HTML view of a loaded object (pandas and numpy by duck typing).

    pandas and numpy are never imported here: an artifact of those types can only have
    been loaded if they are installed.
    """
    kind = f"<b>{_esc(type(obj).__module__ + '.' + type(obj).__qualname__)}</b>"
    shape = getattr(obj, "shape", None)
    if shape is not None and callable(getattr(obj, "head", None)):
        sample = obj.head(_PREVIEW_ROWS)
        if not hasattr(sample, "columns") and hasattr(sample, "to_frame"):
            sample = sample.to_frame()  # a Series
        if hasattr(sample, "columns") and hasattr(sample, "itertuples"):
            first = f"first {min(_PREVIEW_ROWS, len(sample))} rows"
            return (
                f"<div style='padding-bottom:4px'>{kind}, shape {_esc(shape)}; {first}:</div>"
                + _frame_html(sample)
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


def _mono(text: str | None) -> str:
    return f"<span style='{_MONO}'>{_esc(text)}</span>" if text else ""


def _lineage_html(
    info: ArtifactInfo, known: Mapping[_Name, ArtifactInfo], store: ArtifactStore | None = None
) -> str:
    """The inputs of ``info``, and theirs, as an indented tree.

    The records come from the listing already read, so drawing the tree costs no I/O
    unless an input's step was saved again or deleted since: then, with ``store``, its
    version is looked up in the step's history (marked with its status, and followed).
    An input gone from the history too is marked, and not followed.
    """
    lines: list[str] = []
    stack = [(ref, 0, frozenset({(info.step_id, info.key)})) for ref in reversed(info.inputs)]
    while stack and len(lines) < _LINEAGE_NODES:
        ref, depth, path = stack.pop()
        try:
            resolved = resolve_ref(ref, store=store, known=known)
        except ArtifactStoreError:  # the history cannot be read now: the listing's answer
            resolved = resolve_ref(ref, known=known)
        found = resolved.info
        if resolved.problem is not None:
            note = resolved.problem
        elif (ref.step_id, ref.key) in path:
            note = "cycle"
        else:
            note = ""
        status = found.status if found is not None and found.status != "active" else ""
        if status and not note:
            note = f"{status} version"
        pad = f"padding-left:{depth * 1.2:.1f}em"
        suffix = f" <span style='{_MUTED}'>({note})</span>" if note else ""
        lines.append(
            f"<div style='{pad}'>\u2514 {_esc(ref.step_id)} @ {_mono(ref.key[:12])}{suffix}</div>"
        )
        if found is not None and (not note or status):
            below = path | {(ref.step_id, ref.key)}
            stack.extend((r, depth + 1, below) for r in reversed(found.inputs))
    if stack:
        lines.append(f"<div style='{_MUTED}'>(more inputs not shown)</div>")
    return "".join(lines)


def _downstream_html(info: ArtifactInfo, children: Children) -> str:
    """What was computed from ``info``, directly or not, breadth-first, from the listing
    already read (``children``, from `children_of`: no I/O)."""
    found = walk_down(info, children=children)
    lines = [
        f"<div>\u2192 {_esc(i.step_id)} @ {_mono(i.key[:12])}</div>" for i in found[:_LINEAGE_NODES]
    ]
    if len(found) > _LINEAGE_NODES:
        lines.append(f"<div style='{_MUTED}'>(and {len(found) - _LINEAGE_NODES} more)</div>")
    return "".join(lines)


def _detail_html(
    info: ArtifactInfo,
    now: dt.datetime,
    known: Mapping[_Name, ArtifactInfo],
    verified: bool | None = None,
    children: Children | None = None,
    store: ArtifactStore | None = None,
) -> str:
    """The full record of one artifact as a two-column table (every string escaped).

    ``verified``: the store's verdict on the record's signature (None: no signing key).
    ``known``: the listing read last, by identity; the lineage tree ("inputs") and what
    was computed from the artifact ("downstream") are drawn from it (``children``: its
    `children_of`, if already made).
    """
    if children is None:
        children = children_of(known.values())
    serializer = info.serializer + (f" ({info.mime_type})" if info.mime_type else "")
    serializer += f", {info.compression}-compressed" if info.compression else ""
    fields: list[tuple[str, str]] = [
        ("step id", f"<b>{_esc(info.step_id)}</b>"),
        ("key", _mono(info.key)),
        ("arguments", _mono(info.args_repr)),
        ("type", _esc(info.python_type)),
        ("size", f"{_esc(human_size(info.size))} ({info.size:,} bytes)"),
        ("created", f"{_esc(_ago(info.created, now))}, {_esc(_absolute(info.created))}"),
        ("serializer", _esc(serializer)),
        ("digest", _mono(info.digest)),
        ("version", f"{_mono(info.version)} ({_esc(info.status)})"),
    ]
    fields += [
        ("signed", _esc(signed_text(info.signed, verified))),
        ("tags", _esc(_tags_text(info.tags))),
        ("inputs", _lineage_html(info, known, store)),
        ("downstream", _downstream_html(info, children)),
        ("code", _mono(info.code_fingerprint)),
        ("duration", "" if info.duration is None else f"{info.duration:.3f} s"),
        ("uri", _mono(info.uri)),
    ]
    body = "".join(
        f"<tr><th style='{_FIELD_TH}'>{name}</th>"
        f"<td style='{_FIELD_TD}'>{value or '&mdash;'}</td></tr>"
        for name, value in fields
    )
    return f"<table style='border-collapse:collapse;border:none'>{body}</table>"


def _table_html(
    rows: Sequence[ArtifactInfo],
    selected: Sequence[bool],
    *,
    start: int,
    sort_column: str,
    ascending: bool,
    stored: bool,
) -> str:
    """One page of the grid (``rows``, the first numbered ``start + 1``) as an HTML
    table whose headers show the sort; ``selected``: whether each row is selected.
    ``stored``: whether the store holds any record (it words an empty page)."""
    if not rows:
        why = "match the filters" if stored else "are stored here"
        return f"<div class='ac-grid-empty'>No artifacts {why}.</div>"
    now = dt.datetime.now(dt.UTC)
    head = ["<th class='ac-right ac-muted'>#</th>"]
    for column in _COLUMNS:
        right = " ac-right" if column.right else ""
        if column.name == sort_column:
            arrow = "\u25b2" if ascending else "\u25bc"
            order = "ascending" if ascending else "descending"
            marker = f"<span class='ac-arrow'>{arrow}</span>"
        else:
            order, marker = "none", ""
        head.append(
            f"<th class='ac-sortable{right}' data-col='{column.name}' aria-sort='{order}' "
            f"tabindex='0' title='Sort by {column.label}'>{column.label}{marker}</th>"
        )
    body = []
    for n, (info, chosen) in enumerate(zip(rows, selected, strict=True)):
        args = info.args_repr or ""
        state = "class='ac-selected' aria-selected='true'" if chosen else "aria-selected='false'"
        body.append(
            f"<tr data-row='{n}' tabindex='0' {state}>"
            f"<td class='ac-right ac-muted'>{start + n + 1}</td>"
            f"<td>{_esc(info.step_id)}</td>"
            f"<td class='ac-mono ac-args' title='{_esc(args)}'>"
            f"{_esc(_cut(args, _ARGS_SHOWN))}</td>"
            f"<td class='ac-mono' title='{_esc(info.key)}'>{_esc(info.key[:12])}</td>"
            f"<td>{_esc(info.python_type)}</td>"
            f"<td class='ac-right ac-nowrap'>{_esc(human_size(info.size))}</td>"
            f"<td class='ac-nowrap' title='{_esc(_absolute(info.created))}'>"
            f"{_esc(_ago(info.created, now))} <span class='ac-muted'>"
            f"{_esc(info.created.strftime('%Y-%m-%d %H:%M'))}</span></td>"
            f"<td>{_esc(_tags_text(info.tags))}</td>"
            "</tr>"
        )
    return (
        "<div class='ac-grid-scroll'>"
        "<table class='ac-grid' role='grid' aria-multiselectable='true'>"
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody>"
        "</table></div>"
    )
