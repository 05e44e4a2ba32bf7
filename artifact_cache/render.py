"""HTML and text renderings of records for people: sizes, artifact tables, a store.

What notebooks show (``_repr_html_`` of a store, a listing, a record); every string is
escaped. Imports only the stdlib (records are imported for typing only).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .info import ArtifactInfo

__all__ = ["describe", "human_size", "info_html", "infos_html", "store_html"]


def human_size(n: float) -> str:
    """Format a byte count in binary units.

    Examples:
        >>> human_size(1536)
        '1.5 KiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def describe(info: ArtifactInfo) -> list[tuple[str, str]]:
    """``info`` as (label, text) pairs, for people; empty fields left out
    (`ArtifactInfo.describe`)."""
    rows = [
        ("step id", info.step_id),
        ("key", info.key),
        ("type", info.python_type),
        ("size", f"{human_size(info.size)} ({info.size} bytes)"),
        ("created", info.created.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("serializer", info.serializer + (f" ({info.mime_type})" if info.mime_type else "")),
        ("compression", info.compression or ""),
        ("digest", info.digest),
        ("tags", ", ".join(f"{k}={v}" for k, v in info.tags.items())),
        ("inputs", ", ".join(f"{r.step_id}@{r.key}" for r in info.inputs)),
        ("arguments", info.args_repr or ""),
        ("code", info.code_fingerprint or ""),
        ("duration", "" if info.duration is None else f"{info.duration:.3f} s"),
        ("uri", info.uri or ""),
        ("version", info.version or ""),
        ("status", info.status),
        ("signed", "yes" if info.signed else "no"),
    ]
    return [(k, v) for k, v in rows if v]


def info_html(info: ArtifactInfo) -> str:
    """One record as an HTML table of its `describe` rows (what a notebook shows)."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in describe(info)
    )
    return f"<table class='artifact-info'>{body}</table>"


def infos_html(infos: Iterable[ArtifactInfo], *, limit: int = 50) -> str:
    """Render artifacts as a compact HTML table (every string escaped).

    Each header is aligned as its cells are (sizes to the right, text to the left),
    whatever the notebook's stylesheet does with tables; no artifact at all reads as a
    line that says so.

    Examples:
        >>> infos_html([])
        "<p class='artifact-list'><i>no artifacts</i></p>"
    """
    infos = list(infos)
    if not infos:
        return "<p class='artifact-list'><i>no artifacts</i></p>"
    columns = [
        ("step id", "left"),
        ("key", "left"),
        ("type", "left"),
        ("size", "right"),
        ("created", "left"),
    ]
    head = "".join(f"<th style='text-align:{align}'>{name}</th>" for name, align in columns)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td style='text-align:{align}'>{html.escape(v)}</td>"
            for v, (_, align) in zip(
                (
                    i.step_id,
                    i.key[:12],
                    i.python_type,
                    human_size(i.size),
                    i.created.strftime("%Y-%m-%d %H:%M:%S"),
                ),
                columns,
                strict=True,
            )
        )
        + "</tr>"
        for i in infos[:limit]
    )
    more = f"<p>... and {len(infos) - limit} more</p>" if len(infos) > limit else ""
    return (
        f"<table class='artifact-list'><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}"
    )


def store_html(location: str, infos: list[ArtifactInfo] | Exception) -> str:
    """A store at ``location`` for a notebook: its size and its newest artifacts, or the
    error listing it raised (``infos``).

    Examples:
        >>> store_html("memory://x", [])
        '<p><b>ArtifactStore</b> <code>memory://x</code>: no artifacts</p>'
    """
    if isinstance(infos, Exception):
        return f"<p><b>ArtifactStore</b>: {html.escape(str(infos))}</p>"
    if not infos:
        return f"<p><b>ArtifactStore</b> <code>{html.escape(location)}</code>: no artifacts</p>"
    total = human_size(sum(i.size for i in infos))
    count = f"{len(infos):,} artifact{'' if len(infos) == 1 else 's'}"
    head = f"<p><b>ArtifactStore</b> <code>{html.escape(location)}</code>: {count}, {total}</p>"
    return head + infos_html(infos, limit=10)
