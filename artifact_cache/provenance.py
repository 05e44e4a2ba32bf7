"""Provenance: which stored artifact an object in this process came from.

Saves and loads tag what they return (`ArtifactStore.save`, `ArtifactStore.load`);
`artifact_cache.store.lineage_of` reads the tag. In memory only, per process: weak
references where the object takes them, else a small LRU. Imports the stdlib and
`artifact_cache.info`.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import types
import weakref
from collections import OrderedDict
from functools import partial
from itertools import islice
from typing import Any

from .info import ArtifactInfo, ArtifactRef

__all__ = ["Provenance", "Source", "tracker"]


class Provenance:
    """Which stored artifact an object in this process came from (for lineage).

    Objects that support weak references are tracked until they die; others (dicts,
    lists, tuples) are kept in a small LRU so that a recycled ``id`` cannot be mistaken
    for them, but only when small: holding a large one would keep its memory after the
    user dropped it. (The pipeline records its inputs explicitly and needs none of this.)

    The parts of a tuple, list or dict artifact (its items, a dict's values; and theirs,
    `PART_DEPTH` levels down; the first `PART_MAX` in all) are tracked as coming from
    that artifact too, so that ``X, y = features()`` keeps the lineage of ``X`` and
    ``y``. Only parts with an identity of their own are: objects that support weak
    references (arrays, DataFrames, instances of most classes), and the first
    `STRONG_PARTS` mutable containers (lists, dicts, sets, bytearrays) of a small
    artifact, held in the LRU. Values the rest of the program shares never are: immutable
    ones the interpreter may share between unrelated code (None, booleans, numbers,
    strings, bytes, tuples, frozensets), and what pickles by reference (classes,
    functions, modules, enum members), which a load gives back as the very objects
    everyone uses. A tag on the interned ``"a"``, the small int ``1`` or the class
    ``int`` would be a tag on every use.
    """

    _UNTRACKED = (type(None), bool, int, float, complex)
    _SHARED = (
        *(type(None), bool, int, float, complex, str, bytes, tuple, frozenset, range),
        *(type, types.FunctionType, types.BuiltinFunctionType, types.MethodType),
        *(types.ModuleType, enum.Enum),
    )
    _MUTABLE = (list, dict, set, bytearray)
    STRONG_MAX_BYTES = 2**20
    PART_DEPTH = 2
    PART_MAX = 64
    STRONG_PARTS = 8

    def __init__(self, strong_limit: int = 128) -> None:
        self._lock = threading.Lock()
        self._weak: dict[int, tuple[weakref.ref[Any], Source]] = {}
        self._strong: OrderedDict[int, tuple[Any, Source]] = OrderedDict()
        self._limit = strong_limit

    def remember(self, obj: Any, source: ArtifactInfo | ArtifactRef, size: int) -> None:
        if isinstance(obj, self._UNTRACKED):
            return
        ref = (source.step_id, source.key, source.digest)  # (made an ArtifactRef if asked)
        if not isinstance(obj, list | tuple | dict):
            self._remember(obj, ref, size)
            return
        # (Every load of a container comes here: one walk, one lock for what is held.)
        held: list[Any] = [] if size > self.STRONG_MAX_BYTES else [obj]
        strong = self.STRONG_PARTS if held else 0
        if type(obj).__weakrefoffset__:  # (a subclass taking weak references)
            self._remember(obj, ref, size)
            held = held[1:]
        for part in self._parts(obj):
            mutable = isinstance(part, self._MUTABLE)  # (each counts, held or weakly tracked)
            if type(part).__weakrefoffset__:
                self._remember(part, ref, size, strong=mutable and strong > 0)
            elif mutable and strong > 0:
                held.append(part)
            strong -= mutable
        if held:
            with self._lock:
                for item in held:
                    self._hold(item, ref)

    def _parts(self, obj: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> list[Any]:
        """The items of a container artifact that can be tracked (not `_SHARED`),
        breadth-first, among its first PART_MAX items; tuples among them are looked into
        but not tracked."""
        found: list[Any] = []
        level: list[Any] = [obj]
        budget = self.PART_MAX
        kinds, kind_of, leaves = _KINDS, self._kind, self._LEAVES
        for _ in range(self.PART_DEPTH):
            below: list[Any] = []
            for container in level:
                if budget <= 0:
                    return found
                items = container.values() if isinstance(container, dict) else container
                if len(items) > budget:
                    items = list(islice(items, budget))
                budget -= len(items)
                if leaves.issuperset(map(type, items)):
                    continue  # (numbers, strings and the like only: nothing to look at)
                for item in items:
                    kind = kinds.get(type(item))  # (the common types without isinstance)
                    if kind is None:
                        kind = kind_of(item)
                    if kind & _NESTED:
                        below.append(item)
                    if kind & _TRACKED:
                        found.append(item)
            if not below:
                break
            level = below
        return found

    @classmethod
    def _kind(cls, item: Any) -> int:
        """Whether ``item`` is looked into (`_NESTED`) and tracked (`_TRACKED`)."""
        nested = _NESTED if isinstance(item, list | tuple | dict) else 0
        return nested | (0 if isinstance(item, cls._SHARED) else _TRACKED)

    def _remember(self, obj: Any, ref: Source, size: int, *, strong: bool = True) -> None:
        oid = id(obj)
        if type(obj).__weakrefoffset__:  # its instances take weak references
            with contextlib.suppress(TypeError):
                wr = weakref.ref(obj, partial(self._forget, oid))
                with self._lock:
                    self._weak[oid] = (wr, ref)
                return
        if not strong or size > self.STRONG_MAX_BYTES:
            return
        with self._lock:
            self._hold(obj, ref)

    def _hold(self, obj: Any, ref: Source) -> None:
        """Keep ``obj`` in the LRU (under the lock)."""
        oid = id(obj)
        self._strong[oid] = (obj, ref)
        self._strong.move_to_end(oid)
        if len(self._strong) > self._limit:
            self._strong.popitem(last=False)

    def _forget(self, oid: int, _: object) -> None:
        self._weak.pop(oid, None)

    def lookup(self, obj: Any) -> ArtifactRef | None:
        oid = id(obj)
        found: Source | None = None
        with self._lock:
            weak = self._weak.get(oid)
            if weak is not None and weak[0]() is obj:
                found = weak[1]
            else:
                strong = self._strong.get(oid)
                if strong is not None and strong[0] is obj:
                    found = strong[1]
        if found is None:
            return None
        step_id, key, digest = found
        return ArtifactRef(step_id=step_id, key=key, digest=digest)

    # A small artifact of builtin values, as most loads give, is tagged by exact types.
    _PLAIN = frozenset((dict, list, tuple))
    _LEAVES = frozenset((type(None), bool, int, float, complex, str, bytes, frozenset, range))
    _HELD = frozenset(t for t in _MUTABLE if not t.__weakrefoffset__)  # (sets: held weakly)
    _BUILTIN = _LEAVES | _PLAIN | _HELD

    def remember_result(self, obj: Any, source: ArtifactInfo | ArtifactRef, size: int) -> None:
        """`remember` what a save was given or a load made: a small dict, list or tuple of
        builtin values takes a short way, with the same result.

        Examples:
            >>> tracker, rows = Provenance(), {"n": 2, "xs": [1, 2]}
            >>> source = ArtifactRef(step_id="s", key="k", digest="ab" * 16)
            >>> tracker.remember_result(rows, source, 9)
            >>> tracker.lookup(rows["xs"]).step_id, tracker.lookup(rows["n"])
            ('s', None)
        """
        if type(obj) in _PLAIN and size <= self.STRONG_MAX_BYTES and self.PART_DEPTH == 2:
            held = self._plain(obj)
            if held is not None:  # (one walk by exact types, one lock)
                ref = (source.step_id, source.key, source.digest)
                lru, lock = self._strong, self._lock
                lock.acquire()  # (as ``with``, which costs twice as much on every load)
                try:
                    for item in held:
                        oid = id(item)
                        if oid in lru:
                            lru.move_to_end(oid)
                        lru[oid] = (item, ref)
                    while len(lru) > self._limit:
                        lru.popitem(last=False)
                finally:
                    lock.release()
                return
        self.remember(obj, source, size)

    def _plain(self, obj: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> list[Any] | None:
        """What `remember` holds of a small artifact of builtin values: the artifact, then
        its first `STRONG_PARTS` mutable parts, in the order `_parts` finds them (two
        levels, as `PART_DEPTH` says). None if a part within reach is of another type (it
        may take weak references): `remember` then takes the general way."""
        items = obj.values() if type(obj) is dict else obj
        budget = self.PART_MAX - len(items)
        if budget < 0:  # (only the first PART_MAX items, and nothing below them)
            items, budget = list(islice(items, self.PART_MAX)), 0
        held, below = [obj], []
        for item in items:  # (one look at each: most are leaves)
            kind = type(item)
            if kind in _LEAVES:
                continue
            if kind not in _BUILTIN:
                return None
            if kind in _HELD:
                held.append(item)
            if kind in _PLAIN:
                below.append(item)
        for container in below:  # (the second and last level: looked at, not into)
            if budget <= 0:
                break
            items = container.values() if type(container) is dict else container
            if len(items) > budget:
                items = list(islice(items, budget))
            budget -= len(items)
            if _LEAVES.issuperset(map(type, items)):
                continue
            for item in items:
                kind = type(item)
                if kind in _HELD:
                    held.append(item)
                elif kind not in _BUILTIN:
                    return None
        return held[: self.STRONG_PARTS + 1]


_NESTED, _TRACKED = 1, 2
_SAMPLES: tuple[Any, ...] = (None, False, 0, 0.0, 0j, "", b"", frozenset(), range(0), (), [], {})
_KINDS: dict[type, int] = {type(v): Provenance._kind(v) for v in (*_SAMPLES, set(), bytearray())}
"""The kind (`Provenance._kind`) of the most common exact types, found by one lookup."""
assert {t for t, kind in _KINDS.items() if not kind} == Provenance._LEAVES
_LEAVES, _BUILTIN, _HELD, _PLAIN = (
    Provenance._LEAVES,
    Provenance._BUILTIN,
    Provenance._HELD,
    Provenance._PLAIN,
)
"""`Provenance`'s exact types as globals: `Provenance._plain` reads them on every load."""
Source = tuple[str, str, str]
"""Where an object came from: step id, key, digest."""

tracker = Provenance()
"""The one tracker of this process (what `lineage_of` asks)."""
