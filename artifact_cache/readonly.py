"""`ReadOnlyDict` and `ReadOnlyList`: the mappings of a record (its tags, its unknown
fields) and the lists and mappings inside them, at any depth.

A record is immutable, so its mappings are too, all the way down: readers then share one
record (a listing in one process returns the same records while no folder changed, and
every read of the same record text gives the one record) without one reader's change
showing in another's. Imports nothing of the package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EMPTY", "ReadOnlyDict", "ReadOnlyList", "read_only", "thawed"]


class ReadOnlyDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes; ``dict(d)`` (or ``d.copy()``) is a copy to change.

    It compares, dumps to JSON, pickles and fingerprints as the dict of its items. The
    dicts and lists among its values are made read-only too (`ReadOnlyDict`,
    `ReadOnlyList`), at any depth.

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
        for key, value in made.items():
            if type(value) not in _FLAT:  # (text, numbers: most values)
                dict.__setitem__(made, key, _deep(value, 1))
        return made

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # (filled by __new__: calling this again changes nothing)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def copy(self) -> dict[Any, Any]:
        """A dict of the same items, to change."""
        return dict(self)


class ReadOnlyList(list):  # type: ignore[type-arg]
    """A list that refuses changes (inside a record's unknown fields); ``list(x)`` is a
    copy to change. It compares, dumps to JSON, pickles and fingerprints as a list.

    Examples:
        >>> parts = ReadOnlyList([1, [2, 3]])
        >>> parts == [1, [2, 3]], type(parts[1]).__name__
        (True, 'ReadOnlyList')
        >>> parts.append(4)
        Traceback (most recent call last):
        ...
        TypeError: a record's tags and extra fields cannot be changed ...
    """

    __slots__ = ()

    def __init__(self, items: Any = ()) -> None:
        list.__init__(self, [_deep(item, 1) for item in items])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))

    def copy(self) -> list[Any]:
        """A list of the same items, to change."""
        return list(self)


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(
        "a record's tags and extra fields cannot be changed (records are immutable); "
        "change a copy: dict(info.tags)"
    )


for _name in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem",
              "setdefault", "update"):  # fmt: skip
    setattr(ReadOnlyDict, _name, _refuse)
for _name in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend",
              "insert", "pop", "remove", "clear", "sort", "reverse"):  # fmt: skip
    setattr(ReadOnlyList, _name, _refuse)
del _name

_FLAT = frozenset((str, int, float, bool, type(None), ReadOnlyDict, ReadOnlyList))


MAX_DEPTH = 100
"""How deep a read-only value may nest (a record's own values nest 32 levels at most)."""


def _deep(value: Any, depth: int) -> Any:
    """``value`` with its dicts and lists (also inside tuples) made read-only; ``depth``:
    how deep it is. Raises ValueError past `MAX_DEPTH` levels (or for a value that holds
    itself), where it would otherwise exhaust the stack."""
    kind = type(value)
    if kind in _FLAT:
        return value
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels (or holding itself)")
    if isinstance(value, dict):
        made: Any = dict.__new__(ReadOnlyDict)
        dict.update(made, {k: _deep(v, depth + 1) for k, v in value.items()})
        return made
    if isinstance(value, list):
        made = list.__new__(ReadOnlyList)
        list.extend(made, [_deep(v, depth + 1) for v in value])
        return made
    if kind is tuple:
        return tuple([_deep(v, depth + 1) for v in value])
    return value


EMPTY = ReadOnlyDict()
"""The mapping of every record without tags (or unknown fields): one, as it cannot change."""


def read_only(value: Any) -> ReadOnlyDict:
    """``value``'s items in a mapping that cannot change (``value`` itself if it is one)."""
    if type(value) is ReadOnlyDict:
        return value
    return ReadOnlyDict(value) if value else EMPTY


def thawed(value: Any) -> Any:
    """``value`` with its read-only dicts and lists (at any depth) as new dicts and lists,
    to change at will; other values as they are.

    Examples:
        >>> thawed(ReadOnlyDict(a=[1, {"b": 2}])) == {"a": [1, {"b": 2}]}
        True
    """
    if isinstance(value, dict):
        return {k: thawed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thawed(v) for v in value]
    if type(value) is tuple:
        return tuple(map(thawed, value))
    return value
