"""What an object holds besides what a handler hashes: its slots and ``__dict__`` entries
(`instance_state`), those of a subclass of a handled type (`subclass_state`) and those
of an attrs or dataclass instance outside its fields (`state_outside`). Imports the
stdlib only; `artifact_cache.fingerprint.values` hashes what these return.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["instance_state", "slots_of", "state_outside", "subclass_state"]

_SLOTS: weakref.WeakKeyDictionary[type, tuple[tuple[str, Any], ...]] = weakref.WeakKeyDictionary()


def slots_of(cls: type, stop: type = object) -> tuple[tuple[str, Any], ...]:
    """The slots the classes of ``cls``'s MRO before ``stop`` declare: (name, descriptor)."""
    found = _SLOTS.get(cls) if stop is object else None
    if found is None:
        found = ()
        for klass in cls.__mro__:
            if klass is stop:
                break
            slots = klass.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name.startswith("__") and not name.endswith("__"):
                    name = f"_{klass.__name__.lstrip('_')}{name}"  # mangled, as stored
                descriptor = klass.__dict__.get(name)
                if isinstance(descriptor, types.MemberDescriptorType):
                    found += ((name, descriptor),)
        if stop is object:
            _SLOTS[cls] = found
    return found


def instance_state(
    value: object,
    slots: Iterable[tuple[str, Any]],
    skip: Iterable[str] = (),
    *,
    attributes: bool = True,
) -> dict[str, Any]:
    """An object's ``__dict__`` (if ``attributes``) and its set ``slots``, minus ``skip``.

    Slots are read through their descriptors: an unset one is left out, and a class's
    ``__getattr__`` (which may compute a cached value) is not called.
    """
    skipped = set(skip)
    instance_dict = getattr(value, "__dict__", None) if attributes else None
    state = {}
    if type(instance_dict) is dict:
        state = {k: v for k, v in instance_dict.items() if k not in skipped}
    for name, descriptor in slots:
        if name not in skipped and name not in state:
            try:
                state[name] = descriptor.__get__(value, type(value))
            except AttributeError:
                continue
    return state


def subclass_state(value: object, base: type) -> dict[str, Any]:
    """What a subclass instance of a type with a built-in handler holds beyond the base."""
    cls = type(value)
    carried = getattr(base, "_metadata", None)
    if isinstance(carried, list | tuple):
        # pandas: the attributes named in _metadata are the ones a subclass adds.
        state = {}
        for name in getattr(cls, "_metadata", ()):
            if name not in carried:
                try:
                    state[name] = object.__getattribute__(value, name)
                except AttributeError:
                    continue
        return state
    # Without a __dict__ on the base's instances (an ndarray's), all of one is the
    # subclass's; otherwise only the slots the subclass declares can be told apart.
    return instance_state(value, slots_of(cls, stop=base), attributes=not base.__dictoffset__)


def state_outside(value: object, fields: Sequence[str]) -> dict[str, Any]:
    """What an attrs or dataclass instance holds besides its fields."""
    return instance_state(value, slots_of(type(value)), fields)
