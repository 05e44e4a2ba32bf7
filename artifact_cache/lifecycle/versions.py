"""Versions: every save's record is kept, each with a status; delete leaves a tombstone.

A save writes its record twice, with the same text: first as an immutable version record
``versions/<step_id>/@<key>@<version>.json``, then as the head ``refs/<step_id>/@<key>.json``
(see `artifact_cache.storage.Storage.put_record`). The head is the single authority on
which version is active, so every process agrees even when concurrent saves finish out
of order: the last head written wins. A version is

* ``"active"``: the head names it;
* ``"tombstoned"``: ``delete`` removed the head naming it, and left a tombstone
  ``versions/<step_id>/@<key>@<version>.tombstone.json`` saying so;
* ``"superseded"``: any other.

A record written before versions existed (no ``version`` field, no version file) is one
version whose id is derived from its ``created`` time and digest. Hostile version
records and tombstones (not JSON, another step, key or version than their path, a digest
that is a path) are never used: they are skipped with a warning, and gc keeps every
payload they name.

May import info, errors and storage; `ArtifactStore` delegates here (never the reverse).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Collection, Mapping, Sequence, Set
from typing import Any

import attrs

from ..errors import (
    ArtifactNotFoundError,
    ArtifactStoreError,
    InvalidOptionError,
    InvalidQueryError,
    RecordError,
)
from ..info import STATUSES, ArtifactInfo, is_digest, is_version_id
from ..storage import RecordName, Storage, VersionName
from ..storage.rows import record_at

__all__ = [
    "TOMBSTONE_FORMAT",
    "delete",
    "drop_orphans",
    "find",
    "history",
    "listing",
    "referenced",
    "remove",
    "remove_pruned",
    "tombstone_text",
    "trim_versions",
]

TOMBSTONE_FORMAT = 1
"""The ``tombstone`` field of the tombstones this release writes."""

Found = Mapping[Any, "bytes | Exception"]
Bad = list[tuple[Any, RecordError]]


# ---------------------------------------------------------------------- parsing
def _head(storage: Storage, name: RecordName, data: bytes) -> ArtifactInfo:
    """A head record, checked as the store checks it (RecordError if it is bad)."""
    return record_at(name.step_id, name.key, data, storage.url)


def _where(storage: Storage, name: VersionName) -> str:
    what = "tombstone" if name.tombstone else "record"
    return (
        f"the {what} of version {name.version!r} of step {name.step_id!r} key {name.key!r} "
        f"in store {storage.url}"
    )


def _version(storage: Storage, name: VersionName, data: bytes) -> ArtifactInfo:
    """A version record, checked: a valid record of its step, key and version."""
    where = _where(storage, name)
    try:
        info = ArtifactInfo.from_json(data)
    except RecordError as exc:
        raise RecordError(f"{where} is unreadable ({exc}); not used") from None
    said = (info.step_id, info.key, info.version)
    if said != (name.step_id, name.key, name.version):
        msg = (
            f"{where} says it is step {info.step_id!r} key {info.key!r} version "
            f"{info.version!r}; not used"
        )
        raise RecordError(msg)
    return info


def tombstone_text(step_id: str, key: str, version: str) -> str:
    """The text of the tombstone ``delete`` writes for a version it removes.

    Examples:
        >>> text = tombstone_text("extract", "default", "20261202T031500123456Z-1a2b3c4d")
        >>> sorted(json.loads(text))
        ['deleted', 'key', 'step_id', 'tombstone', 'version']
    """
    deleted = dt.datetime.now(dt.UTC).isoformat()
    data = {
        "tombstone": TOMBSTONE_FORMAT,
        "step_id": step_id,
        "key": key,
        "version": version,
        "deleted": deleted,
    }
    return json.dumps(data, sort_keys=True)


def _tombstone(storage: Storage, name: VersionName, data: bytes) -> None:
    """Check a tombstone: a JSON object naming its own step, key and version."""
    where = _where(storage, name)
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"{where} is not JSON ({exc}); ignored") from None
    if not isinstance(parsed, dict):
        raise RecordError(f"{where} is not a JSON object; ignored")
    form = parsed.get("tombstone")
    if not isinstance(form, int) or isinstance(form, bool) or form < 1:
        raise RecordError(f"{where} has no positive integer 'tombstone' field; ignored")
    said = (parsed.get("step_id"), parsed.get("key"), parsed.get("version"))
    if said != (name.step_id, name.key, name.version):
        raise RecordError(f"{where} names step, key, version {said!r:.200}; ignored")
    deleted = parsed.get("deleted")
    try:
        dt.datetime.fromisoformat(deleted)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RecordError(f"{where} has no ISO 8601 'deleted' time; ignored") from None


# ---------------------------------------------------------------------- statuses
def _statuses(storage: Storage, versions: Found, heads: Found) -> tuple[list[ArtifactInfo], Bad]:
    """Every version among fetched version files and heads, with its status.

    A file gone meanwhile is skipped; a file that cannot be read is raised (it is not a
    deleted one); a bad one is reported in the second list, with its name.
    """
    bad: Bad = []
    active: dict[RecordName, ArtifactInfo] = {}
    for head, data in heads.items():
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, Exception):
            raise data
        try:
            active[head] = _head(storage, head, data)
        except RecordError as exc:
            bad.append((head, exc))
    tombstoned: set[tuple[RecordName, str]] = set()
    records: dict[tuple[RecordName, str | None], ArtifactInfo] = {}
    for name, data in versions.items():
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, Exception):
            raise data
        try:
            if name.tombstone:
                _tombstone(storage, name, data)
                tombstoned.add((name.record, name.version))
            else:
                records[(name.record, name.version)] = _version(storage, name, data)
        except RecordError as exc:
            bad.append((name, exc))
    for head, info in active.items():
        # A record older than versions, or one whose version file is gone: still a version.
        records.setdefault((head, info.version), info)
    out = []
    for (record, version), info in records.items():
        head_info = active.get(record)
        if head_info is not None and head_info.version == version:
            status = "active"
        elif (record, version) in tombstoned:
            status = "tombstoned"
        else:
            status = "superseded"
        out.append(attrs.evolve(info, status=status))
    out.sort(key=lambda i: i.version or "", reverse=True)
    return out, bad


def _scan(
    storage: Storage, *, step_id: str | None = None, key: str | None = None, folder: str = ""
) -> tuple[list[ArtifactInfo], Bad]:
    if step_id is not None:
        names = storage.step_version_names(step_id, key)
        heads = (
            [RecordName(step_id, key)] if key is not None else storage.step_record_names(step_id)
        )
    else:
        names = storage.version_names(folder)
        heads = storage.record_names(folder)
    return _statuses(storage, storage.read_versions(names), storage.read_records(heads))


def history(
    storage: Storage, step_id: str, key: str | None = None
) -> tuple[list[ArtifactInfo], list[RecordError]]:
    """Every version of a step (of one ``key``, or all), newest first, and the bad files."""
    infos, bad = _scan(storage, step_id=step_id, key=key)
    return infos, [exc for _name, exc in bad]


def listing(
    storage: Storage,
    prefix: str,
    status: str | None,
    tags: Mapping[str, str] | None = None,
) -> tuple[list[ArtifactInfo], list[RecordError]]:
    """Versions whose step id starts with ``prefix``, of one status (None: all), newest
    first (by ``created``), and the bad files found."""
    if status is not None and status not in STATUSES:
        msg = f"status must be one of {', '.join(map(repr, STATUSES))} or None, not {status!r}"
        raise InvalidQueryError(f"listing store {storage.url}: {msg}")
    infos, bad = _scan(storage, folder=prefix.rpartition("/")[0])
    out = [
        i
        for i in infos
        if i.step_id.startswith(prefix)
        and (status is None or i.status == status)
        and (not tags or all(i.tags.get(k) == v for k, v in tags.items()))
    ]
    out.sort(key=lambda i: (i.created, i.version or ""), reverse=True)
    return out, [exc for name, exc in bad if name.step_id.startswith(prefix)]


def find(
    storage: Storage, step_id: str, key: str | None, version: str
) -> tuple[ArtifactInfo, list[RecordError]]:
    """One version of a step (of ``key``, else of any key), with its status.

    Raises:
        ArtifactNotFoundError: no such version (the message names step, version, store).
        RecordError: the version's record is not of the documented form.
        InvalidStepIdError: ``version`` is not a version id.
    """
    storage.layout.version_path(VersionName(step_id, key or "default", version))  # checks it
    if key is not None:
        names = [VersionName(step_id, key, version), VersionName(step_id, key, version, True)]
        heads = [RecordName(step_id, key)]
    else:
        names = [n for n in storage.step_version_names(step_id) if n.version == version]
        heads = storage.step_record_names(step_id)
    infos, bad = _statuses(storage, storage.read_versions(names), storage.read_records(heads))
    for info in infos:
        if info.version == version:
            others = [exc for name, exc in bad if not _is_version(name, version)]
            return info, others
    for name, exc in bad:
        if _is_version(name, version) and not name.tombstone:
            raise exc
    which = f" key {key!r}" if key is not None else ""
    msg = f"no version {version!r} of step {step_id!r}{which} in store {storage.url}"
    raise ArtifactNotFoundError(msg)


def _is_version(name: Any, version: str) -> bool:
    return isinstance(name, VersionName) and name.version == version


# ---------------------------------------------------------------------- changes
def delete(storage: Storage, step_id: str, key: str | None, *, purge: bool) -> bool:
    """Remove the head of a step (and key), leaving a tombstone for the version it named;
    with ``purge``, remove the whole version history too. True if anything was there.

    A head that is not a valid record is removed without a tombstone. A head whose
    version record is missing (one written before versions existed, or whose record was
    trimmed while it was being written) first gets it, of its own text, so that its
    history keeps it; an existing version record is never written over.
    """
    heads = [RecordName(step_id, key)] if key is not None else storage.step_record_names(step_id)
    found = storage.read_records(heads)
    present = []
    for head, data in found.items():
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, Exception):
            raise data
        present.append(head)
        if purge:
            continue
        try:
            info = _head(storage, head, data)
        except RecordError:
            continue
        version = info.version or info.derived_version
        # A head whose version record is missing (written before versions existed, or
        # its record trimmed while the head was being written) is still that version:
        # its record is made first, of the head's text, so the history keeps it once
        # the head is gone (an existing one is never changed: version records are not).
        storage.put_version_if_absent(VersionName(head.step_id, head.key, version), data)
        name = VersionName(head.step_id, head.key, version, tombstone=True)
        storage.put_version(name, tombstone_text(head.step_id, head.key, version))
    storage.remove_records(present)
    history_removed = False
    if purge:
        names = storage.step_version_names(step_id, key)
        storage.remove_versions(names)
        storage.prune_version_folders(step_id)
        history_removed = bool(names)
    return bool(present) or history_removed


def remove_pruned(storage: Storage, chosen: ArtifactInfo, listed: Set[VersionName]) -> bool:
    """Remove an artifact a prune chose (its head, just read again and found unchanged)
    with its history; False if, instead, a save made during the prune stands.

    ``listed``: the version files the prune listed before it began removing. Those of
    the chosen step and key go, as ``delete(purge=True)`` removes them, and so do the
    chosen version's files. A save of the same step and key may write its head between
    the prune's read and this removal, and that head goes with the chosen one; such a
    save wrote its version record first, after the prune's listing. So after removing
    the head this lists the key's version files again: those not listed before are
    saves made during the prune and stay. If the newest of them (by its id) has its
    record and no tombstone, the head is written again from that record (its exact
    text), only if no head is there: a save that wrote its head since is never written
    over. That version is active again and False is returned. A version that was there
    before the prune listed is never made the head again, whatever its id's time says
    (the saver's clock, which may run ahead): the head the prune chose had replaced it.
    """
    step_id, key = chosen.step_id, chosen.key
    storage.remove_records([RecordName(step_id, key)])
    version = chosen.version or chosen.derived_version
    names = storage.step_version_names(step_id, key)
    storage.remove_versions([n for n in names if n in listed or n.version == version])
    storage.prune_version_folders(step_id)
    later = [n for n in names if n not in listed and n.version != version]
    deleted = {n.version for n in later if n.tombstone}
    records = [n for n in later if not n.tombstone]
    found = storage.read_versions(records)
    for name in sorted(later, key=lambda n: (n.version, n.tombstone), reverse=True):
        if name.version in deleted:
            return True  # the newest was deleted since: it stays deleted
        data = found.get(name)
        if data is None or isinstance(data, Exception):
            continue  # gone meanwhile (trimmed), or unreadable: not restored
        try:
            _version(storage, name, data)
        except RecordError:
            continue
        storage.put_record_if_absent(step_id, key, data)
        return False
    return True


def _doomed(infos: Sequence[ArtifactInfo], keep: int) -> list[ArtifactInfo]:
    """Of one step and key's versions (newest first), those beyond the ``keep`` newest;
    the active version is always kept (and counts as one of them)."""
    room = keep - sum(1 for i in infos if i.status == "active")
    doomed = []
    for info in infos:
        if info.status == "active":
            continue
        if room > 0:
            room -= 1
        else:
            doomed.append(info)
    return doomed


def check_keep(keep: object, where: str) -> int | None:
    """``keep_versions`` as given: None, or a positive integer (else InvalidOptionError)."""
    if keep is None:
        return None
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        msg = (
            f"{where}: keep_versions must be None (keep every version) or a positive "
            f"integer, not {keep!r}"
        )
        raise InvalidOptionError(msg)
    return keep


def remove(storage: Storage, doomed: Sequence[ArtifactInfo]) -> None:
    """Remove these version records (and any tombstone of them); payloads are left for gc."""
    names: list[VersionName] = []
    for info in doomed:
        if info.version is None or not is_version_id(info.version):
            continue
        for tombstone in (False, True):
            names.append(VersionName(info.step_id, info.key, info.version, tombstone))
    storage.remove_versions(names)


def trim_versions(store_or_storage: Any, keep: int, *, dry_run: bool = False) -> list[ArtifactInfo]:
    """Over a whole store, remove each step and key's versions beyond the ``keep`` newest.

    The active version of each is always kept (and counts as one of the ``keep``); removed
    versions' payloads are left for ``gc`` (which keeps those another record names). Bad
    version files are left alone, with a warning. Returns the versions removed (with
    ``dry_run``: that would be), newest first.

    ``store_or_storage``: an `ArtifactStore` (its storage is used) or a `Storage`.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-trim-versions")
        >>> _ = [store.save("x", i) for i in range(3)]
        >>> len(trim_versions(store, 1)), [i.status for i in store.versions("x")]
        (2, ['active'])
    """
    storage: Storage = getattr(store_or_storage, "_storage", store_or_storage)
    keep = check_keep(keep, f"store {storage.url}") or 0
    if keep < 1:
        raise ArtifactStoreError(f"store {storage.url}: keep must be a positive integer")
    infos, bad = _scan(storage)
    for _name, exc in bad:
        warnings.warn(f"trimming versions: skipping {exc}", stacklevel=2)
    groups: dict[tuple[str, str], list[ArtifactInfo]] = {}
    for info in infos:
        groups.setdefault((info.step_id, info.key), []).append(info)
    doomed = [d for group in groups.values() for d in _doomed(group, keep)]
    if not dry_run:
        remove(storage, doomed)
    doomed.sort(key=lambda i: i.version or "", reverse=True)
    return doomed


# ---------------------------------------------------------------------- gc and clear
def referenced(
    storage: Storage,
    *,
    names: Collection[VersionName] | None = None,
    listed: set[VersionName] | None = None,
) -> tuple[set[str], list[tuple[bytes, RecordError]]]:
    """Every digest a version record names, read afresh (what gc must keep besides the
    heads'), and the text and error of each bad version record (gc keeps what it names).
    ``names``: read only these (else every one a listing finds); ``listed``: given the
    names read.

    A version record that cannot be read at all stops gc: it might name any payload.
    """
    if names is None:
        names = [n for n in storage.version_names() if not n.tombstone]
    if listed is not None:
        listed.update(names)
    digests: set[str] = set()
    bad: list[tuple[bytes, RecordError]] = []
    for name, data in storage.read_versions(list(names)).items():
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, Exception):
            msg = f"cannot read {_where(storage, name)}; nothing was removed"
            raise ArtifactStoreError(f"{msg}: {type(data).__name__}: {data}") from data
        try:
            digests.add(_version(storage, name, data).digest)
        except RecordError as exc:
            bad.append((data, exc))
    return digests, bad


def drop_orphans(storage: Storage) -> None:
    """Remove the version records whose payload file is gone (what ``clear`` does last,
    for versions saved while it removed payloads); inline ones keep their payload."""
    names = [n for n in storage.version_names() if not n.tombstone]
    orphans = []
    for name, data in storage.read_versions(names).items():
        if isinstance(data, Exception):
            continue
        try:
            info = _version(storage, name, data)
        except RecordError:
            continue
        if info.inline is None and is_digest(info.digest) and not storage.has_payload(info.digest):
            orphans.append(name)
    storage.remove_versions(orphans)
