"""`ReadOnlyDict`: the mappings of a record (its tags, its unknown fields).

A record is immutable, so its mappings are too: readers then share one record (a
listing in one process returns the same records while no folder changed) without one
reader's change showing in another's. Imports nothing of the package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EMPTY", "ReadOnlyDict", "read_only"]


class ReadOnlyDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes; ``dict(d)`` (or ``d.copy()``) is a copy to change.

    It compares, dumps to JSON, pickles and fingerprints as the dict of its items.

    Examples:
        >>> tags = ReadOnlyDict(source="crm")
        >>> tags == {"source": "crm"}, dict(tags) | {"stage": "raw"}
        (True, {'source': 'crm', 'stage': 'raw'})
        >>> tags["source"] = "erp"
        Traceback (most recent call last):
        ...
        TypeError: a record's tags and extra fields cannot be changed ...
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> ReadOnlyDict:
        made = dict.__new__(cls)
        dict.update(made, *args, **kwargs)
        return made

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # (filled by __new__: calling this again changes nothing)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def copy(self) -> dict[Any, Any]:
        """A dict of the same items, to change."""
        return dict(self)


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(
        "a record's tags and extra fields cannot be changed (records are immutable); "
        "change a copy: dict(info.tags)"
    )


for _name in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem",
              "setdefault", "update"):  # fmt: skip
    setattr(ReadOnlyDict, _name, _refuse)
del _name

EMPTY = ReadOnlyDict()
"""The mapping of every record without tags (or unknown fields): one, as it cannot change."""


def read_only(value: Any) -> ReadOnlyDict:
    """``value``'s items in a mapping that cannot change (``value`` itself if it is one)."""
    if type(value) is ReadOnlyDict:
        return value
    return ReadOnlyDict(value) if value else EMPTY
