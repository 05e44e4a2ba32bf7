"""Lineage queries: what an artifact was computed from, and what was computed from it.

Every record keeps its ``inputs``: an `ArtifactRef` (step id, key, digest) per artifact
it was computed from. `lineage` follows them upwards, breadth-first; `downstream` reads
the store's listing once and follows them the other way. Both work on records only,
never on payloads.

An input is turned into the record it names by one function, `resolve_ref`. It is
that artifact if the record now stored under the input's step id and key has the
input's digest. If that record is gone, or holds another digest (the step was saved
again since: the input was an earlier artifact), the input cannot be followed: it is
left out of the answer, with a `UserWarning` that names it and why, and nothing above
it is followed through it.

This module works through the store it is given (``store.info``, ``store.list``) and
imports no module above ``storage``; `ArtifactStore.lineage` and
`ArtifactStore.downstream` delegate here.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from ..errors import ArtifactNotFoundError, InvalidQueryError
from ..info import ArtifactInfo, ArtifactRef

if TYPE_CHECKING:
    from ..store import ArtifactStore

__all__ = [
    "MISSING",
    "REPLACED",
    "Resolved",
    "children_of",
    "downstream",
    "identity",
    "lineage",
    "resolve_ref",
    "walk_down",
    "walk_up",
]

Identity = tuple[str, str, str]
"""(step id, key, digest): one artifact, whatever record holds it now."""

MISSING = "not in the store any more"
"""Why an input is not followed: no record under its step id and key."""
REPLACED = "replaced since"
"""Why an input is not followed: its step id and key hold a later artifact now."""

Known = Mapping[tuple[str, str], ArtifactInfo]
"""Records of a listing already read, by (step id, key)."""


def identity(item: ArtifactInfo | ArtifactRef) -> Identity:
    """The (step id, key, digest) of a record or a reference to one.

    Examples:
        >>> identity(ArtifactRef(step_id="raw", key="default", digest="ab" * 16))[:2]
        ('raw', 'default')
    """
    return (item.step_id, item.key, item.digest)


@attrs.frozen
class Resolved:
    """What an input turned out to be: its record (``info``), or why there is none."""

    ref: ArtifactRef
    info: ArtifactInfo | None
    problem: str | None = None


def resolve_ref(
    ref: ArtifactRef, *, store: ArtifactStore | None = None, known: Known | None = None
) -> Resolved:
    """The artifact ``ref`` names, or why it cannot be found: the one place that decides.

    It is the record stored now under ``ref``'s step id and key (looked up in ``known``,
    a listing already read, if given: no I/O; else read from ``store``) if that record
    holds ``ref``'s digest: `REPLACED` if it holds another (``ref`` named an earlier
    artifact), `MISSING` if there is none.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-resolve")
        >>> raw = store.save("raw", [1])
        >>> resolve_ref(raw.ref, store=store).info == raw
        True
        >>> _ = store.save("raw", [2])
        >>> resolve_ref(raw.ref, store=store).problem
        'replaced since'
    """
    head: ArtifactInfo | None
    if known is not None:
        head = known.get((ref.step_id, ref.key))
    elif store is not None:
        try:
            head = store.info(ref.step_id, key=ref.key)
        except ArtifactNotFoundError:
            head = None
    else:
        raise TypeError("resolve_ref needs a store or a listing (known)")
    if head is None:
        return Resolved(ref, None, MISSING)
    if head.digest != ref.digest:
        return Resolved(ref, None, REPLACED)
    return Resolved(ref, head)


def _check_depth(depth: object, step_id: str, location: str) -> int | None:
    if depth is None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        msg = (
            f"lineage of step {step_id!r} in store {location}: depth must be a whole "
            f"number of 0 or more (or None for all), not {depth!r:.40}"
        )
        raise InvalidQueryError(msg)
    return depth


def walk_up(
    start: ArtifactInfo,
    *,
    store: ArtifactStore | None = None,
    known: Known | None = None,
    depth: int | None = None,
) -> tuple[list[ArtifactInfo], list[Resolved]]:
    """The records ``start`` was computed from, breadth-first, each once, and the
    inputs that could not be followed (each resolved by `resolve_ref`).

    ``depth`` 1 gives the direct inputs, 2 theirs too, and so on (None: all).

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-walk-up")
        >>> raw = store.save("raw", [1])
        >>> top = store.save("top", [2], inputs=[store.save("mid", [3], inputs=[raw.ref]).ref])
        >>> found, unresolved = walk_up(top, store=store)
        >>> [i.step_id for i in found], unresolved
        (['mid', 'raw'], [])
    """
    found: list[ArtifactInfo] = []
    unresolved: list[Resolved] = []
    seen: set[Identity] = {identity(start)}
    queue: deque[tuple[ArtifactRef, int]] = deque((ref, 1) for ref in start.inputs)
    while queue:
        ref, level = queue.popleft()
        if depth is not None and level > depth:
            break  # breadth-first: every later item is at least as deep
        if identity(ref) in seen:
            continue  # a diamond, or a cycle in hand-made records
        seen.add(identity(ref))
        resolved = resolve_ref(ref, store=store, known=known)
        if resolved.info is None:
            unresolved.append(resolved)
            continue
        found.append(resolved.info)
        queue.extend((r, level + 1) for r in resolved.info.inputs)
    return found, unresolved


Children = Mapping[Identity, "list[ArtifactInfo]"]
"""The records computed from each artifact (by the identity of their inputs)."""


def children_of(infos: Iterable[ArtifactInfo]) -> dict[Identity, list[ArtifactInfo]]:
    """The records of a listing computed directly from each artifact, oldest first: the
    index `walk_down` follows (build it once to walk down from many artifacts).

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-children")
        >>> raw = store.save("raw", [1])
        >>> _ = store.save("mid", [3], inputs=[raw.ref])
        >>> [i.step_id for i in children_of(store.list())[identity(raw)]]
        ['mid']
    """
    children: dict[Identity, list[ArtifactInfo]] = {}
    for info in sorted(infos, key=lambda i: i.created):
        for ref in dict.fromkeys(identity(r) for r in info.inputs):
            children.setdefault(ref, []).append(info)
    return children


def walk_down(
    start: ArtifactInfo,
    infos: Iterable[ArtifactInfo] | None = None,
    *,
    children: Children | None = None,
) -> list[ArtifactInfo]:
    """The records among ``infos`` computed from ``start``, directly or not,
    breadth-first, each once (oldest first within one level: the order they were made).

    A record counts if one of its inputs names ``start`` or one of those, by step id,
    key and digest: a record computed from an earlier artifact of ``start``'s step is
    not downstream of ``start``. ``children`` (from `children_of`) replaces ``infos``.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-walk-down")
        >>> raw = store.save("raw", [1])
        >>> _ = store.save("top", [2], inputs=[store.save("mid", [3], inputs=[raw.ref]).ref])
        >>> [i.step_id for i in walk_down(raw, store.list())]
        ['mid', 'top']
    """
    if children is None:
        children = children_of(infos or ())
    found: list[ArtifactInfo] = []
    seen: set[Identity] = {identity(start)}
    queue = deque([identity(start)])
    while queue:
        for child in children.get(queue.popleft(), ()):
            if identity(child) not in seen:
                seen.add(identity(child))
                found.append(child)
                queue.append(identity(child))
    return found


_SAID = {
    MISSING: "is not in the store any more",
    REPLACED: "was replaced since by a later artifact of that step and key",
}


def _warn(step_id: str, location: str, unresolved: Iterable[Resolved]) -> None:
    for item in unresolved:
        ref = item.ref
        said = _SAID.get(item.problem or "", f"cannot be found ({item.problem})")
        warnings.warn(
            f"lineage of step {step_id!r} in store {location}: its input step "
            f"{ref.step_id!r} key {ref.key!r} (digest {ref.digest}) {said}; "
            "left out, and not followed further",
            stacklevel=4,
        )


def lineage(
    store: ArtifactStore, step_id: str, *, key: str | None = None, depth: int | None = None
) -> list[ArtifactInfo]:
    """What `ArtifactStore.lineage` returns (see there), as a plain list.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-lineage-fn")
        >>> _ = store.save("b", 2, inputs=[store.save("a", 1).ref])
        >>> [i.step_id for i in lineage(store, "b")]
        ['a']
    """
    limit = _check_depth(depth, step_id, store.location)
    start = store.info(step_id, key=key)
    found, unresolved = walk_up(start, store=store, depth=limit)
    _warn(step_id, store.location, unresolved)
    return found


def downstream(store: ArtifactStore, step_id: str, *, key: str | None = None) -> list[ArtifactInfo]:
    """What `ArtifactStore.downstream` returns (see there), as a plain list.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-downstream-fn")
        >>> _ = store.save("b", 2, inputs=[store.save("a", 1).ref])
        >>> [i.step_id for i in downstream(store, "a")]
        ['b']
    """
    start = store.info(step_id, key=key)
    return walk_down(start, store.list())
