"""Garbage collection: clearing a store, and removing payloads no record names.

`clear` removes every artifact; `gc` removes payloads no record or version record
names, and temporaries of crashed saves; `referenced` is what both must keep. The store
is passed in (imported for typing only): `ArtifactStore.clear`, `ArtifactStore.gc` and
`ArtifactStore._referenced` delegate here. May import errors, info and storage.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from ..errors import ArtifactStoreError, RecordError
from ..info import ArtifactInfo, is_digest
from ..storage import TMP_PREFIX, FileEntry, VersionName
from . import versions as _versions

if TYPE_CHECKING:
    from ..store import ArtifactStore

__all__ = ["GcReport", "clear", "gc", "referenced", "remove_garbage"]


@attrs.frozen(kw_only=True)
class GcReport:
    """What [`ArtifactStore.gc`][] removed and kept."""

    removed: int
    freed: int
    kept_young: int
    referenced: int


def clear(store: ArtifactStore) -> int:
    """Remove every artifact and payload of ``store`` (writable, in its `_io` guard);
    return how many artifacts there were."""
    storage = store._storage
    records = storage.record_names()
    storage.remove_records(records)
    storage.remove_version_files()
    storage.remove_payloads()
    # Saves that ran meanwhile may have written a record whose payload went above.
    # Keep the ones whose payload is there; a save still running puts its payload
    # back after writing its record, so no visible record lacks its payload.
    later = storage.read_records(storage.record_names())
    orphans = []
    for name, data in later.items():
        if isinstance(data, FileNotFoundError):
            continue
        digest = None
        inline = False
        if not isinstance(data, Exception):
            with contextlib.suppress(RecordError):
                parsed = ArtifactInfo.from_json(data)
                digest, inline = parsed.digest, parsed.inline is not None
        if not inline and (digest is None or not storage.has_payload(digest)):
            orphans.append(name)
    storage.remove_records(orphans)
    _versions.drop_orphans(storage)
    store._retention.forget()  # and the access files with the read times
    storage.prune_folders()
    return len(records)


def gc(store: ArtifactStore, *, grace: float, dry_run: bool) -> GcReport:
    """Remove payloads no record points to, and temporaries left by crashed saves, as
    `ArtifactStore.gc` documents (``store`` writable unless ``dry_run``, in its guard)."""
    storage = store._storage
    referenced = store._referenced()
    now = time.time()
    doomed: list[FileEntry] = []
    young = 0
    # Temporaries of interrupted local writes sit beside records too.
    temps = [
        e
        for area in ("refs", "versions")
        for e in storage.files(area)
        if e.name.startswith(TMP_PREFIX)
    ]
    for entry in storage.files("objects") + temps:
        if entry.name in referenced:
            continue
        if now - entry.mtime < grace:
            young += 1
            continue
        doomed.append(entry)
    if doomed and not dry_run:
        # A save may have re-used an old payload since the first listing: look again.
        doomed = remove_garbage(store, doomed, storage.current)
    return GcReport(
        removed=len(doomed),
        freed=sum(e.size for e in doomed),
        kept_young=young,
        referenced=len(referenced),
    )


def remove_garbage(
    store: ArtifactStore,
    entries: Sequence[FileEntry],
    current: Callable[[Sequence[FileEntry]], Iterable[FileEntry]],
) -> list[FileEntry]:
    """Remove those of ``entries`` (payload files and temporaries a first look found
    unnamed) that no record names on a last look and whose files are unchanged since
    (``current``: their entries now); what it removed. What ``gc`` and ``prune`` do last.

    The last look and the removal hold the store's gc lock (exclusive; see
    `storage.gclock`): a save that names a stored payload holds it (shared) from
    publishing the payload to checking it is there after its record, so either the
    last look sees its record, or its check runs after the removal and writes the
    payload again. Where nothing is locked (object stores) the version records are
    listed again until no new one appears, and the removal follows that listing: a
    save writes its version record before its head.
    """
    storage = store._storage
    listed: set[VersionName] = set()
    with storage.removing_payloads():
        again = store._referenced(warn=False, versions_listed=listed)
        doomed = [e for e in entries if e.name not in again]
        if doomed:
            # A save that re-used a payload renewed its time, or wrote it again.
            now = {e.path: (e.size, e.mtime) for e in current(doomed)}
            doomed = [e for e in doomed if now.get(e.path) == (e.size, e.mtime)]
        if doomed and not storage.payloads_locked:
            doomed = _after_last_listing(store, doomed, listed)
        storage.remove_files(doomed)
    return doomed


_LISTINGS = 5
"""How many times an unlocked removal lists the version records while saves keep
writing new ones (then it removes after reading the last new ones)."""


def _after_last_listing(
    store: ArtifactStore, doomed: list[FileEntry], listed: set[VersionName]
) -> list[FileEntry]:
    """Those of ``doomed`` no version record written since ``listed`` names, listing the
    version records until a listing finds none new (at most `_LISTINGS` times), so that
    the removal follows that listing at once."""
    storage = store._storage
    for _listing in range(_LISTINGS):
        new = {n for n in storage.version_names() if not n.tombstone} - listed
        if not new:
            break
        late, bad = _versions.referenced(storage, names=new, listed=listed)
        late.update(d for text, _error in bad for d in _named_digests(text))
        doomed = [e for e in doomed if e.name not in late]
        if not doomed:
            break
    return doomed


def referenced(
    store: ArtifactStore, *, warn: bool = True, versions_listed: set[VersionName] | None = None
) -> set[str]:
    """Every digest a record of ``store`` names, read afresh; what ``gc`` must keep.

    A record that is not of the documented form still protects every digest-shaped
    string in it (with a warning naming it). A record that cannot be read at all
    stops ``gc``: it might name any payload. (Warnings name the caller of
    ``store.gc``: it calls this through ``store._referenced``.)
    """
    storage = store._storage
    found = storage.read_records(storage.record_names())
    digests: set[str] = set()
    for name, data in found.items():
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, Exception):
            msg = (
                f"cannot read the record of step {name.step_id!r} key {name.key!r} in "
                f"store {store.location}; nothing was removed"
            )
            raise ArtifactStoreError(f"{msg}: {type(data).__name__}: {data}") from data
        try:
            info = store._record(name.step_id, name.key, data)
        except RecordError as exc:
            named = _named_digests(data)
            digests |= named
            if warn:
                kept = "keeping every payload it names" if named else "it names no payload"
                warnings.warn(f"gc: {exc}; {kept}", stacklevel=5)
        else:
            # An inline record needs no payload file, but keeps one `url` wrote.
            digests.add(info.digest)
    # Every version record keeps its payload too; a bad one, whatever it names.
    in_versions, bad_versions = _versions.referenced(storage, listed=versions_listed)
    digests |= in_versions
    for text, error in bad_versions:
        named = _named_digests(text)
        digests |= named
        if warn:
            note = "keeping every payload it names" if named else "it names no payload"
            warnings.warn(f"gc: {error}; {note}", stacklevel=5)
    return digests


_DIGESTS = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def _named_digests(data: bytes) -> set[str]:
    """The digests a record gc cannot use may name: what it must keep.

    Every digest-shaped string in its bytes, and every ``"digest"`` field at any depth
    if it is JSON (where escapes could hide one from the first search).
    """
    found = {m.decode() for m in _DIGESTS.findall(data)}
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return found
    stack = [parsed]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            digest = value.get("digest")
            if is_digest(digest):
                found.add(str(digest))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
