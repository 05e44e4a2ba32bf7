"""What a prune removed: `PruneReport`, with one `PrunedArtifact` per artifact or version.

Plain results, built by retention's prune and shown by the command line (``prune``,
``prune --json``). May import info only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from ..info import human_size

__all__ = ["PruneReport", "PrunedArtifact"]


@attrs.frozen(kw_only=True)
class PrunedArtifact:
    """One artifact a prune removed (or would remove), and why."""

    step_id: str
    key: str
    digest: str
    size: int
    rule: str
    """``"max_age"``, ``"max_count"``, ``"max_size"`` or ``"keep_versions"``: the limit it
    was removed for."""
    created: dt.datetime
    last_used: dt.datetime
    """The later of its creation and the last read recorded."""
    version: str | None = None
    """Set when one earlier version was removed (its step and key's artifact stays);
    None when the artifact went, with its whole version history."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (times in ISO 8601)."""
        return {
            "step_id": self.step_id,
            "key": self.key,
            "digest": self.digest,
            "size": self.size,
            "rule": self.rule,
            "created": self.created.isoformat(),
            "last_used": self.last_used.isoformat(),
            "version": self.version,
        }


RULES = ("max_age", "max_count", "max_size", "keep_versions")


@attrs.frozen(kw_only=True, repr=False)
class PruneReport:
    """What [`ArtifactStore.prune`][artifact_cache.store.ArtifactStore.prune] removed,
    or would remove with ``dry_run=True``.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-prune-report")
        >>> for i in range(3):
        ...     _ = store.save(f"step{i}", i)
        >>> report = store.prune(max_count=1, dry_run=True)
        >>> [a.step_id for a in report.removed], report.by_rule
        (['step0', 'step1'], {'max_count': 2})
    """

    removed: tuple[PrunedArtifact, ...] = ()
    """The artifacts removed (would be, on a dry run), least recently used first."""
    kept: int = 0
    """Artifacts left in the store."""
    kept_size: int = 0
    """Bytes of payloads left (a payload shared by artifacts counted once)."""
    skipped: int = 0
    """Artifacts chosen but left alone: saved again or removed by someone else meanwhile."""
    payloads_removed: int = 0
    """Payload files removed (would be): no record names them any more."""
    freed: int = 0
    """Bytes those payload files held, plus the bytes of payloads kept inside removed records."""
    dry_run: bool = False
    started: dt.datetime | None = None
    """When the prune started: nothing created at or after it was removed."""

    @property
    def size(self) -> int:
        """Bytes the removed artifacts' payloads hold (each artifact counted)."""
        return sum(a.size for a in self.removed)

    @property
    def by_rule(self) -> dict[str, int]:
        """How many artifacts each limit removed."""
        counts: dict[str, int] = {}
        for artifact in self.removed:
            counts[artifact.rule] = counts.get(artifact.rule, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (the CLI's ``prune --json``)."""
        return {
            "removed": [a.to_dict() for a in self.removed],
            "by_rule": self.by_rule,
            "kept": self.kept,
            "kept_size": self.kept_size,
            "skipped": self.skipped,
            "payloads_removed": self.payloads_removed,
            "freed": self.freed,
            "dry_run": self.dry_run,
            "started": self.started.isoformat() if self.started else None,
        }

    def summary(self) -> str:
        """One line: what was removed, by which limit, what it freed and what is left."""
        verb = "would remove" if self.dry_run else "removed"
        count = len(self.removed)
        text = f"{verb} {count} artifact{'' if count == 1 else 's'}"
        if self.removed:
            rules = ", ".join(f"{n} by {r}" for r, n in sorted(self.by_rule.items()))
            text += f" ({human_size(self.size)}; {rules})"
        files = f"{self.payloads_removed} payload file{'' if self.payloads_removed == 1 else 's'}"
        text += f", freeing {human_size(self.freed)} ({files})"
        text += f"; kept {self.kept} ({human_size(self.kept_size)})"
        if self.skipped:
            text += f"; left {self.skipped} saved again meanwhile"
        return text

    def __repr__(self) -> str:
        return f"<PruneReport: {self.summary()}>"
