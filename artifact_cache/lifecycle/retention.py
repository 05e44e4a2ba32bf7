"""Retention: keeping a store within its limits on size, count and age, by pruning.

A store opened with ``max_size``, ``max_count`` or ``max_age`` keeps within them by
itself: every so many saves (`CADENCE`, or the store's ``prune_every``) it runs
[`prune`][], which `ArtifactStore.prune` also runs on demand. Eviction removes the least
recently used artifacts first; ``max_age`` removes those created longer ago than that.

The read times come from `access` (kept in memory by each process, shared through
small access files, which a prune merges and compacts); the limits and how often saves
prune come from `policy`.

Removing an artifact removes its record and its history (the version files there
when the prune listed them, before removing anything), after reading the record again
to make sure it is still the one chosen and older than the prune; a save whose head
lands between that read and the removal gets its head back from its version record,
written after that listing (`versions.remove_pruned`). Its
payload then goes the way ``gc`` removes garbage (kept if any record names it, or if it
is younger than the grace period). May import errors, info, storage and the lifecycle
modules below it (policy, access, versions, garbage); the store is passed in (imported
for typing only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactStoreError
from ..info import ArtifactInfo
from ..storage import IndexedRecord, RecordName, Storage
from ..storage.rows import examine
from . import garbage as _garbage
from . import versions as _versions
from .access import ACCESS_FLUSH_SECONDS, _compact, _merge, _usage, read_access
from .policy import CADENCE, Cadence, RetentionPolicy, parse_age, parse_size
from .report import PrunedArtifact, PruneReport

if TYPE_CHECKING:
    from ..store import ArtifactStore

__all__ = [
    "ACCESS_FLUSH_SECONDS",
    "CADENCE",
    "GRACE",
    "Cadence",
    "PruneReport",
    "PrunedArtifact",
    "Retention",
    "RetentionPolicy",
    "clock",
    "expired",
    "parse_age",
    "parse_size",
    "prune",
]

clock = time.time
"""The wall clock of retention: ages, access times and a prune's start (tests replace it)."""


def _clock() -> float:
    # Looked up on each call: the access times follow a replaced clock too.
    return clock()


GRACE = 600.0
"""Seconds a payload file must be old before a prune removes it (a save in flight writes
its payload before its record); ``gc``'s own default is an hour."""


def expired(info: ArtifactInfo, max_age: float | None) -> bool:
    """True if ``info`` was created more than ``max_age`` seconds ago (by `clock`).

    Examples:
        >>> import artifact_cache as ac
        >>> info = ac.open_store("memory://doc-expired").save("x", 1)
        >>> expired(info, 3600), expired(info, None), expired(info, 0.0)
        (False, False, True)
    """
    return max_age is not None and clock() - info.created.timestamp() > max_age


# --------------------------------------------------------------------------- choosing
_parsed_lock = threading.Lock()
_parsed: dict[tuple[str, RecordName], tuple[Any, ArtifactInfo | None]] = {}
"""Records parsed by prunes in this process, by store and name, with the index's token of
the file's version: an unchanged record is not parsed again."""
_PARSED_MAX = 1_000_000


def _heads(storage: Storage) -> list[ArtifactInfo]:
    """Every valid record (head) of the store, from the index where there is one.

    A record that cannot be read or parsed is never chosen: it is left as it is.
    """
    rows = storage.indexed_records()
    if rows is None:
        found = storage.read_records(storage.record_names())
        return [i for i in (_parse(n, d) for n, d in found.items()) if i is not None]
    where = storage.uri(storage.root)
    out: list[ArtifactInfo] = []
    missed: dict[RecordName, IndexedRecord] = {}
    with _parsed_lock:
        for row in rows:
            if not row.ok:
                continue
            if row.info is not None:  # checked by the index when it read the file
                out.append(row.info)
                continue
            cached = _parsed.get((where, row.name))
            if cached is not None and cached[0] == row.token:
                if cached[1] is not None:
                    out.append(cached[1])
            else:
                missed[row.name] = row
    if missed:
        texts: dict[RecordName, bytes | Exception] = {
            n: r.text for n, r in missed.items() if r.text is not None
        }
        texts.update(storage.indexed_text([n for n in missed if n not in texts]))
        with _parsed_lock:
            if len(_parsed) + len(texts) > _PARSED_MAX:
                _parsed.clear()
            for name, data in texts.items():
                info = _parse(name, data)
                if not isinstance(data, Exception):
                    _parsed[(where, name)] = (missed[name].token, info)
                if info is not None:
                    out.append(info)
    return out


def _parse(name: RecordName, data: bytes | Exception) -> ArtifactInfo | None:
    return None if isinstance(data, Exception) else examine(name, data)


def _when(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def choose(
    heads: Iterable[ArtifactInfo],
    access: Mapping[tuple[str, str], float],
    policy: RetentionPolicy,
    start: float,
    history: Mapping[tuple[str, str], Mapping[str, int]] | None = None,
) -> tuple[list[PrunedArtifact], list[ArtifactInfo]]:
    """(what to remove, least recently used first; what stays) under ``policy``.

    Artifacts created at or after ``start`` always stay (they count towards the limits).
    ``max_age`` removes those created more than ``max_age`` before ``start``; then the
    least recently used go until the count and the bytes stored are within the limits.
    ``history``: per step and key, the payloads (digest: size) its earlier versions
    hold; they count towards ``max_size``, and go with their artifact.
    """
    history = history or {}

    def held(info: ArtifactInfo) -> dict[str, int]:
        return {**history.get((info.step_id, info.key), {}), info.digest: info.size}

    removed: list[PrunedArtifact] = []
    young: list[ArtifactInfo] = []
    old: list[tuple[float, float, str, str, ArtifactInfo]] = []  # sorted: LRU first

    def remove(info: ArtifactInfo, rule: str, last_used: float) -> None:
        removed.append(_pruned(info, rule, last_used=_when(last_used)))

    max_age = policy.max_age
    for info in heads:
        created = info.created.timestamp()
        # A read time from the future (a skewed or hostile access file) counts as now.
        read = min(access.get((info.step_id, info.key), -math.inf), start)
        last_used = max(created, read)
        if created >= start:
            young.append(info)
        elif max_age is not None and start - created > max_age:
            remove(info, "max_age", last_used)
        else:
            old.append((last_used, created, info.step_id, info.key, info))
    old.sort()  # (step id, key) is unique: the record itself is never compared
    count = len(young) + len(old)
    refs: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for info in [*young, *(row[4] for row in old)]:
        for digest, size in held(info).items():
            refs[digest] = refs.get(digest, 0) + 1
            sizes[digest] = size
    stored = sum(sizes.values())
    cut = 0
    for last_used, _created, _step, _key, info in old:
        over_count = policy.max_count is not None and count > policy.max_count
        over_size = policy.max_size is not None and stored > policy.max_size
        if not (over_count or over_size):
            break
        remove(info, "max_count" if over_count else "max_size", last_used)
        cut += 1
        count -= 1
        for digest in held(info):
            refs[digest] -= 1
            if not refs[digest]:
                stored -= sizes[digest]
    return removed, young + [row[4] for row in old[cut:]]


# --------------------------------------------------------------------------- pruning
def _earlier_versions(
    earlier: Iterable[ArtifactInfo],
    active: set[tuple[str, str]],
    max_age: float | None,
    keep: int | None,
    start: float,
) -> list[tuple[ArtifactInfo, str]]:
    """Earlier (superseded or tombstoned) versions to remove, with the rule: those created
    more than ``max_age`` before ``start``, then per step and key those beyond the ``keep``
    newest versions (the active one counting as one of them). Versions created at or
    after ``start`` stay and count."""
    groups: dict[tuple[str, str], list[ArtifactInfo]] = {}
    for version in earlier:
        groups.setdefault((version.step_id, version.key), []).append(version)
    out: list[tuple[ArtifactInfo, str]] = []
    for name, group in groups.items():
        group.sort(key=lambda v: v.version or "", reverse=True)
        room = None if keep is None else keep - (name in active)
        for version in group:
            created = version.created.timestamp()
            if created < start and max_age is not None and start - created > max_age:
                out.append((version, "max_age"))
            elif room is not None and room <= 0 and created < start:
                out.append((version, "keep_versions"))
            elif room is not None:
                room -= 1
    return out


def _pruned(
    info: ArtifactInfo, rule: str, *, last_used: dt.datetime, version: str | None = None
) -> PrunedArtifact:
    """The report's entry for ``info``, removed by ``rule`` (``version``: only that one)."""
    return PrunedArtifact(
        step_id=info.step_id,
        key=info.key,
        digest=info.digest,
        size=info.size,
        rule=rule,
        created=info.created,
        last_used=last_used,
        version=version,
    )


def _pruned_version(version: ArtifactInfo, rule: str) -> PrunedArtifact:
    return _pruned(version, rule, last_used=version.created, version=version.version)


def _same(storage: Storage, chosen: PrunedArtifact, start: float) -> ArtifactInfo | None:
    """The record at the chosen name if it is still the one chosen, older than ``start``."""
    try:
        data = storage.read_record(chosen.step_id, chosen.key)
    except FileNotFoundError:
        return None
    now = _parse(RecordName(chosen.step_id, chosen.key), data)
    if (
        now is not None
        and now.digest == chosen.digest
        and now.created == chosen.created
        and now.created.timestamp() < start
    ):
        return now
    return None


def _stored_size(infos: Iterable[ArtifactInfo]) -> int:
    return sum(i.size for i in {i.digest: i for i in infos}.values())


def prune(
    store: ArtifactStore,
    policy: RetentionPolicy,
    *,
    dry_run: bool = False,
    grace: float = GRACE,
) -> PruneReport:
    """Enforce ``policy`` on ``store`` now (see the module's docstring); what it removed.

    Safe while other processes save; it removes nothing they saved after it started: an
    artifact created after the prune started is never chosen, a chosen record is read
    again and removed only if it is unchanged, a save that writes its head between that
    read and the removal gets it back (only where no newer head is) and keeps its
    version, and a payload goes only if no record names it on a last look (and it is
    older than ``grace`` seconds). `ArtifactStore.prune` calls it with the store's
    limits.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-retention-prune")
        >>> _ = store.save("a", 1), store.save("b", 2)
        >>> prune(store, RetentionPolicy(max_count=1)).by_rule
        {'max_count': 1}
    """
    storage = store._storage
    start = clock()
    usage = _usage(storage, _clock)
    if not store.read_only:
        # This process's own reads first (a prune in one process sees them at once).
        with contextlib.suppress(Exception):
            usage.flush(storage)
    heads = _heads(storage)
    access, files = read_access(storage)
    _merge(access, ((s, k, t) for (s, k), t in usage.snapshot().items()))
    keep = getattr(store, "keep_versions", None)
    earlier: list[ArtifactInfo] = []
    if policy.max_size is not None or policy.max_age is not None or keep is not None:
        # Earlier versions: their payloads count towards max_size, and max_age and
        # keep_versions apply to them too.
        found, _bad = _versions.listing(storage, "", None)  # bad files are left alone
        earlier = [v for v in found if v.status != "active"]
    history: dict[tuple[str, str], dict[str, int]] = {}
    for version in earlier:
        history.setdefault((version.step_id, version.key), {})[version.digest] = version.size
    chosen, staying = choose(heads, access, policy, start, history)
    # An artifact that goes takes its history with it; of the others, earlier versions
    # past max_age or beyond keep_versions go.
    gone = {(c.step_id, c.key) for c in chosen}
    trimmed = _earlier_versions(
        [v for v in earlier if (v.step_id, v.key) not in gone],
        {(i.step_id, i.key) for i in heads},
        policy.max_age,
        keep,
        start,
    )

    if dry_run:
        chosen = chosen + [_pruned_version(v, rule) for v, rule in trimmed]
        going = {id(v) for v, _rule in trimmed}
        kept_digests = {i.digest for i in staying} | {
            v.digest for v in earlier if (v.step_id, v.key) not in gone and id(v) not in going
        }
        inline = {i.digest: i.size for i in heads if i.inline is not None}
        doomed = {c.digest for c in chosen if c.digest not in kept_digests}
        files_gone = [
            e
            for e in storage.object_entries(sorted(d for d in doomed if d not in inline))
            if start - e.mtime >= grace
        ]
        freed = sum(e.size for e in files_gone) + sum(c.size for c in chosen if c.digest in inline)
        return PruneReport(
            removed=tuple(chosen),
            kept=len(staying),
            kept_size=_stored_size(staying),
            payloads_removed=len(files_gone),
            freed=freed,
            dry_run=True,
            started=_when(start),
        )
    removed: list[PrunedArtifact] = []
    skipped = 0
    # The chosen steps' version files, listed before any removal: a version written
    # after this is a save made during the prune (told by the store's order, not by
    # the savers' clocks in the version ids), and only such a one gets the head back.
    steps = dict.fromkeys(item.step_id for item in chosen)
    listed = {name for step_id in steps for name in storage.step_version_names(step_id)}
    for item in chosen:
        # Read again just before removing: a save since the listing wins, and so does
        # one that writes its head between this read and the removal (remove_pruned).
        now = _same(storage, item, start)
        with store._io("pruning", item.step_id):
            went = now is not None and _versions.remove_pruned(storage, now, listed)
        if went:
            removed.append(item)
        else:
            skipped += 1
            staying.extend(i for i in heads if (i.step_id, i.key) == (item.step_id, item.key))
    if trimmed:
        _versions.remove(storage, [v for v, _rule in trimmed])
        removed.extend(_pruned_version(v, rule) for v, rule in trimmed)
    payloads, freed = _remove_payloads(store, removed, heads, start, grace)
    present = {(i.step_id, i.key) for i in staying}
    if len(files) > 1 or any(n not in present for n in access):
        with contextlib.suppress(Exception):
            _compact(storage, access, files, present)
    usage.pruned(len(staying))
    return PruneReport(
        removed=tuple(removed),
        kept=len(staying),
        kept_size=_stored_size(staying),
        skipped=skipped,
        payloads_removed=payloads,
        freed=freed,
        dry_run=False,
        started=_when(start),
    )


def _remove_payloads(
    store: ArtifactStore,
    removed: list[PrunedArtifact],
    heads: list[ArtifactInfo],
    start: float,
    grace: float,
) -> tuple[int, int]:
    """Remove the payload files of removed artifacts that no record names any more, the
    way ``gc`` does; (files removed, bytes freed, inline payloads included)."""
    storage = store._storage
    inline = {i.digest for i in heads if i.inline is not None}
    freed = sum(r.size for r in removed if r.digest in inline)
    digests = sorted({r.digest for r in removed} - inline)
    if not digests:
        return 0, freed
    entries = [e for e in storage.object_entries(digests) if start - e.mtime >= grace]
    if not entries:
        return 0, freed
    try:
        # The last look, as gc's: a save may have named one of these payloads meanwhile
        # (or re-used one, which renews its time, or wrote it again: those are kept).
        doomed = _garbage.remove_garbage(
            store, entries, lambda found: storage.object_entries([e.name for e in found])
        )
    except ArtifactStoreError as exc:
        warnings.warn(f"prune: payloads left for gc: {exc}", stacklevel=4)
        return 0, freed
    return len(doomed), freed + sum(e.size for e in doomed)


# --------------------------------------------------------------------------- per store
def _kind(storage: Storage) -> str:
    return "local" if storage.is_local else "remote" if storage.remote else "memory"


class Retention:
    """A store's retention: its policy, and this process's state for the store's root.

    `ArtifactStore` holds one and tells it of every read (`used`) and save (`saved`).
    """

    def __init__(
        self,
        storage: Storage,
        policy: RetentionPolicy,
        *,
        read_only: bool,
        keep_versions: int | None = None,
    ) -> None:
        self.storage = storage
        self.policy = policy
        self.keep_versions = keep_versions
        self.read_only = read_only
        self.usage = _usage(storage, _clock)
        cadence = CADENCE[_kind(storage)]
        every = policy.prune_every
        # An explicit prune_every is the cadence, on every kind of store.
        self.cadence = cadence if every is None else Cadence(every)

    def used(self, step_id: str, key: str) -> None:
        """An artifact was read: note when (written later, in one small file)."""
        if not self.read_only:
            self.usage.used(self.storage, step_id, key)

    def saved(self, store: ArtifactStore) -> None:
        """A save happened: prune if the cadence says it is time (never raises)."""
        cadence = self.cadence
        if not (self.policy.limited or self.keep_versions) or cadence.saves <= 0:
            return
        usage = self.usage
        with usage.lock:
            usage.saves += 1
            needed = max(cadence.saves, usage.kept // cadence.scale if cadence.scale else 0)
            due = usage.saves >= needed and time.monotonic() - usage.pruned_at >= cadence.seconds
            if due:
                usage.saves = 0
        if not due or not usage.pruning.acquire(blocking=False):
            return  # not yet, or another thread of this process is pruning this store
        try:
            store.prune()
        except ArtifactStoreError as exc:
            warnings.warn(f"the automatic prune after a save failed: {exc}", stacklevel=4)
        finally:
            usage.pruning.release()

    def forget(self) -> None:
        """The store was cleared: forget its read times, here and in its access files."""
        self.usage.forget()
        self.storage.remove_access()
