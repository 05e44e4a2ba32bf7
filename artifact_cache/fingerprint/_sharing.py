"""Which places of a value hold one mutable object (``[a, a]`` is not ``[a, copy(a)]``):
a second walk of the value, made only when the first one met an object twice
(`artifact_cache.fingerprint.values._Encoder.finish`), which lists the objects it meets
in the canonical order the encoding uses (dict items and set elements by digest).
"""

from __future__ import annotations

from collections.abc import Iterable

from .values import _Encoder

__all__ = ["shared_places"]


def shared_places(value: object) -> list[list[int]]:
    """Each object met more than once in ``value``: the places (indexes in the canonical
    order of the objects met) it is at."""
    return _AliasEncoder.shared_places(value)


class _AliasEncoder(_Encoder):
    """Walks a value as `_Encoder` does, listing the mutable objects met, in canonical
    order: dict items and set elements in the order of their digests."""

    __slots__ = ("_log",)

    def __init__(self) -> None:
        super().__init__()
        self._log: list[object] = []

    @classmethod
    def shared_places(cls, value: object) -> list[list[int]]:
        """Each object met more than once: the places (indexes in that order) it is at."""
        walker = cls()
        walker.encode(value)
        places: dict[int, list[int]] = {}
        for place, obj in enumerate(walker._log):
            places.setdefault(id(obj), []).append(place)
        return [group for group in places.values() if len(group) > 1]

    def _meet(self, obj: object) -> None:
        self._log.append(obj)

    def _push(self, obj: object) -> None:
        super()._push(obj)
        if not self._opaque:
            self._log.append(obj)

    def _pairs(
        self,
        tag: bytes,
        items: Iterable[tuple[object, object]],
        *,
        ordered: bool,
        attribute_style: bool = False,
    ) -> None:
        if ordered:
            super()._pairs(tag, items, ordered=True, attribute_style=attribute_style)
            return
        outer, met = self._log, []
        try:
            for key, item in items:
                self._log = []
                digest = self._sub(key) + self._sub(item)
                met.append((digest, self._log))
        finally:
            self._log = outer
        self._sorted(tag, met)

    def _elements(self, tag: bytes, value: set[object] | frozenset[object]) -> None:
        outer, met = self._log, []
        try:
            for item in value:
                self._log = []
                met.append((self._sub(item), self._log))
        finally:
            self._log = outer
        self._sorted(tag, met)

    def _sorted(self, tag: bytes, met: list[tuple[bytes, list[object]]]) -> None:
        """Hash the digests as `_Encoder` does; list their objects in that order."""
        met.sort(key=lambda entry: entry[0])
        self._count(tag, len(met))
        self._h.update(b"".join(digest for digest, _ in met))
        for _, log in met:
            self._log.extend(log)
