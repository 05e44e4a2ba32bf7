"""ArtifactInfo: the record kept for every artifact, and its JSON and HTML forms.

A record round-trips through JSON unchanged, unknown fields included (a newer version may
add fields; an older one keeps them on a rewrite). Imports only ``attrs`` and the stdlib.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .fingerprint.recipe import KeyRecipe, as_recipe

__all__ = ["RECORD_VERSION", "ArtifactInfo", "ArtifactRef", "human_size", "infos_html"]

RECORD_VERSION = 1
"""Version of the record schema written by this release."""


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


def _utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _frozen_tags(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(sorted((str(k), str(v)) for k, v in (value or {}).items()))


@attrs.frozen(kw_only=True)
class ArtifactRef:
    """A pointer to one artifact: what lineage (``ArtifactInfo.inputs``) is made of."""

    step_id: str
    key: str
    digest: str

    def to_dict(self) -> dict[str, str]:
        """Return the JSON-able form."""
        return {"step_id": self.step_id, "key": self.key, "digest": self.digest}


def _refs(value: Iterable[ArtifactRef | Mapping[str, str]]) -> tuple[ArtifactRef, ...]:
    return tuple(v if isinstance(v, ArtifactRef) else ArtifactRef(**v) for v in value)


@attrs.frozen(kw_only=True)
class ArtifactInfo:
    """What is known about one stored artifact, without reading its payload.

    Examples:
        >>> info = ArtifactInfo(step_id="extract", key="default", digest="ab" * 16, size=3,
        ...                     serializer="json", python_type="builtins.list")
        >>> ArtifactInfo.from_json(info.to_json()) == info
        True
    """

    step_id: str
    key: str
    digest: str
    size: int
    serializer: str
    python_type: str
    created: dt.datetime = attrs.field(
        factory=lambda: dt.datetime.now(dt.UTC), converter=_utc, eq=True
    )
    mime_type: str | None = None
    # Mappings take no part in the hash (they are unhashable), only in equality.
    tags: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_tags, hash=False)
    inputs: tuple[ArtifactRef, ...] = attrs.field(default=(), converter=_refs)
    code_fingerprint: str | None = None
    duration: float | None = None
    args_repr: str | None = None
    uri: str | None = None
    recipe: KeyRecipe | None = attrs.field(default=None, converter=as_recipe, hash=False)
    """What the key of a memoised call was made of; None for artifacts saved directly."""
    payload_hash: str | None = None
    """``"blake3:<hex>"`` or ``"sha256:<hex>"`` of the payload, by a store with a signing key."""
    signature: str | None = None
    """HMAC-SHA256 of the record's other fields, written by a store with a signing key."""
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, hash=False)
    """Fields this version does not know, kept so that a rewrite does not drop them."""

    @property
    def signed(self) -> bool:
        """True if the record carries a signature (whether it is valid is the store's check)."""
        return self.signature is not None

    @property
    def ref(self) -> ArtifactRef:
        """This artifact as an [`ArtifactRef`][]."""
        return ArtifactRef(step_id=self.step_id, key=self.key, digest=self.digest)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form, including unknown fields read earlier."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            record_version=RECORD_VERSION,
            step_id=self.step_id,
            key=self.key,
            digest=self.digest,
            size=self.size,
            serializer=self.serializer,
            python_type=self.python_type,
            created=self.created.isoformat(),
            mime_type=self.mime_type,
            tags=dict(self.tags),
            inputs=[r.to_dict() for r in self.inputs],
            code_fingerprint=self.code_fingerprint,
            duration=self.duration,
            args_repr=self.args_repr,
            uri=self.uri,
        )
        if self.recipe is not None:
            out["recipe"] = self.recipe.to_dict()
        # Written only when set, so that an unsigned record reads as it always did.
        if self.payload_hash is not None:
            out["payload_hash"] = self.payload_hash
        if self.signature is not None:
            out["signature"] = self.signature
        return out

    def to_json(self) -> str:
        """Serialise to a JSON string (sorted keys, so equal records give equal text)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArtifactInfo:
        """Build from [`to_dict`][] output; unknown fields go to ``extra``."""
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for k, v in data.items():
            if k in _KNOWN:
                kwargs[k] = v
            elif k != "record_version":
                extra[k] = v
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json(cls, text: str | bytes) -> ArtifactInfo:
        """Parse a record written by [`to_json`][]."""
        return cls.from_dict(json.loads(text))

    def describe(self) -> list[tuple[str, str]]:
        """The record as (label, text) pairs, for people; empty fields left out.

        Examples:
            >>> info = ArtifactInfo(step_id="x", key="default", digest="ab" * 16, size=1536,
            ...                     serializer="pickle", python_type="builtins.list")
            >>> dict(info.describe())["size"]
            '1.5 KiB (1536 bytes)'
        """
        rows = [
            ("step id", self.step_id),
            ("key", self.key),
            ("type", self.python_type),
            ("size", f"{human_size(self.size)} ({self.size} bytes)"),
            ("created", self.created.strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("serializer", self.serializer + (f" ({self.mime_type})" if self.mime_type else "")),
            ("digest", self.digest),
            ("tags", ", ".join(f"{k}={v}" for k, v in self.tags.items())),
            ("inputs", ", ".join(f"{r.step_id}@{r.key}" for r in self.inputs)),
            ("arguments", self.args_repr or ""),
            ("code", self.code_fingerprint or ""),
            ("duration", "" if self.duration is None else f"{self.duration:.3f} s"),
            ("uri", self.uri or ""),
            ("signed", "yes" if self.signed else "no"),
        ]
        return [(k, v) for k, v in rows if v]

    def _repr_html_(self) -> str:
        rows = self.describe()
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table class='artifact-info'>{body}</table>"


_KNOWN = frozenset(a.name for a in attrs.fields(ArtifactInfo)) - {"extra"}


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
