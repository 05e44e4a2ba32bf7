"""Reading many records of a store: through its index, or by listing record files.

What `ArtifactStore.info` (without a key), `artifacts` and `list` read: the records,
checked, newest first, and the errors of the bad ones (the store warns about those). A
record parsed before from the same version of its file is not parsed again. The store is
passed in (imported for typing only). May import errors, info and storage.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from .errors import RecordError
from .info import ArtifactInfo
from .lifecycle.filters import Query
from .storage import IndexedRecord, RecordName

if TYPE_CHECKING:
    from .store import ArtifactStore

__all__ = ["active", "from_index", "newest_indexed", "records"]


def records(
    store: ArtifactStore, found: Mapping[RecordName, bytes | Exception]
) -> tuple[list[ArtifactInfo], list[RecordError]]:
    """The valid records among fetched record files, and the errors of the bad ones.

    A record deleted between listing and reading is skipped; any other failure to
    read one is raised: a record that cannot be read is not a deleted one.
    """
    infos: list[ArtifactInfo] = []
    bad: list[RecordError] = []
    for name, data in found.items():
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, Exception):
            raise data
        try:
            infos.append(store._record(name.step_id, name.key, data))
        except RecordError as exc:
            bad.append(exc)
    infos.sort(key=lambda i: i.created, reverse=True)
    return infos, bad


def from_index(
    store: ArtifactStore, rows: Sequence[IndexedRecord]
) -> tuple[list[ArtifactInfo], list[RecordError]]:
    """The records an index lists, parsed and checked as `records` does, newest first.

    A row the index checked itself (``info``) is used as it is; a record parsed before
    from the same version of its file is not parsed again.
    """
    infos: list[ArtifactInfo] = []
    bad: list[RecordError] = []
    missed: dict[RecordName, IndexedRecord] = {}
    where = store.location
    for row in rows:
        if row.info is not None:  # checked by the index when it read the file
            infos.append(row.info)
            continue
        cached = _parsed.get((where, row.name))
        if cached is not None and cached[0] == row.token:
            found = cached[1]
            (infos if isinstance(found, ArtifactInfo) else bad).append(found)  # type: ignore[arg-type]
        else:
            missed[row.name] = row
    if missed:
        held = {n: r.text for n, r in missed.items() if r.text is not None}
        texts: dict[RecordName, bytes | Exception] = dict(held)
        if len(held) < len(missed):
            texts.update(store._storage.indexed_text([n for n in missed if n not in held]))
        for name, data in texts.items():
            if isinstance(data, FileNotFoundError):
                continue
            if isinstance(data, Exception):
                raise data
            parsed: ArtifactInfo | RecordError
            try:
                parsed = store._record(name.step_id, name.key, data)
            except RecordError as exc:
                parsed = exc
            (infos if isinstance(parsed, ArtifactInfo) else bad).append(parsed)  # type: ignore[arg-type]
            _remember_parsed((where, name), missed[name].token, parsed)
    infos.sort(key=lambda i: i.created, reverse=True)
    return infos, bad


def newest_indexed(store: ArtifactStore, step_id: str) -> ArtifactInfo | None:
    """The newest record of a step found through the index, read again from its file
    (unless the index read it for this lookup); None to look the slow way (no index,
    no valid record, or its file changed). Not found if the index has no record."""
    storage = store._storage
    found = storage.newest_record(step_id)
    if found is None:
        return None
    newest, invalid = found
    if newest is None:
        if not invalid:
            raise store._not_found(step_id, None)  # (the index is up to date: none)
        return None
    try:
        # The index gives the text only if it is the file's as this lookup found it.
        data = newest.text
        if data is None:
            data = storage.read_record(step_id, newest.name.key)
        info = store._record(step_id, newest.name.key, data)
    except (FileNotFoundError, RecordError):
        return None
    if info.created.timestamp() != newest.created:
        return None
    _infos, bad = from_index(store, invalid)
    store._skip(bad, stacklevel=4)
    return info


def active(
    store: ArtifactStore, prefix: str, folder: str, query: Query
) -> tuple[list[ArtifactInfo], list[RecordError]]:
    """The active records under ``prefix`` (in ``folder``), and the errors of the bad
    ones, for `ArtifactStore.list` (in its guard): from the index where the store has one
    (tags, times and limit applied before any record is parsed), else by reading every
    record file. An answer the index gives again unchanged is the one given before."""
    storage = store._storage
    # A bar opens if many records have to be read to bring the index up to date.
    bar = partial(store._bar, what="listing", unit="records")
    listing = storage.indexed_listing(folder, bar=bar)
    rows = storage.indexed_records(folder, prefix=prefix, bar=bar) if listing is None else None
    memo = store._list_memo
    found: Any = listing if listing is not None else rows
    if found is not None and memo is not None and memo[0] is found and memo[1:3] == (prefix, query):
        infos, bad = memo[3], memo[4]  # the index gave the very same answer
    elif listing is not None:
        # Built from what the index checked when it read each file; invalid
        # records are parsed again, to be warned about.
        valid, invalid = listing
        infos = [i for i in valid if i.step_id.startswith(prefix)] if prefix else valid
        bad_rows = [r for r in invalid if r.name.step_id.startswith(prefix)]
        bad = from_index(store, bad_rows)[1] if bad_rows else []
        store._list_memo = (found, prefix, query, infos, bad)
    elif rows is not None:
        # Tags, times and limit are applied before any record is parsed; invalid
        # records are kept (to be warned about).
        infos, bad = from_index(
            store, query.rows(r for r in rows if r.name.step_id.startswith(prefix))
        )
        store._list_memo = (found, prefix, query, infos, bad)
    else:
        names = storage.record_names(folder)
        wanted = [n for n in names if n.step_id.startswith(prefix)]
        with store._bar(len(wanted), "listing", unit="records"):
            infos, bad = records(store, storage.read_records(wanted))
    return infos, bad


_parsed_lock = threading.Lock()
_parsed: dict[tuple[str, RecordName], tuple[Any, ArtifactInfo | RecordError]] = {}
"""Records parsed in this process, by store and name, with the version of the file read."""
_PARSED_MAX = 1_000_000


def _remember_parsed(where: tuple[str, RecordName], token: Any, parsed: Any) -> None:
    with _parsed_lock:
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        _parsed[where] = (token, parsed)
