"""The type registry: which function fingerprints values of a type not built in.

`register_fingerprint` maps a type, or the dotted name of one so that registering needs
no import, to a function returning a value to hash in its place; `register_builtin` does
the same for the library's own handlers without replacing a user's. The handler modules
of numpy, pandas, pyarrow, polars, xarray, torch and scipy (``_numpy``, ``_pandas``, ...)
are imported here the first time a value of their package is looked up. ``values.py``
asks `_handler_for` (through the `_dispatch` cache) for every value that is not an exact
builtin. Imports only the stdlib.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

Handler = Callable[[Any], object]
_F = TypeVar("_F", bound=Handler)

_by_type: dict[type, Handler] = {}
_by_name: dict[str, Handler] = {}  # dotted names whose module is not imported yet
_dispatch: dict[type, Handler | None] = {}  # resolved per concrete type, cleared on change
# A subclass, defined outside the package, of a type a built-in handler of a family
# below is registered for: the registered base, whose handler hashes only what the
# base holds (filled and cleared with _dispatch).
_subclass_of: dict[type, type] = {}
_builtin: set[type | str] = set()  # the registrations made by register_builtin
# Built-in registrations for immutable values (numpy scalars, timestamps, Arrow data),
# and the concrete types resolved to one: one such object met twice is not sharing.
_immutable: set[type | str] = set()
_immutable_types: set[type] = set()
_registry_lock = threading.RLock()

# Built-in handlers by top-level package: the module that registers them is imported the
# first time a value whose class comes from that package is met, never before.
_FAMILIES = {
    "numpy": "_numpy",
    "pandas": "_pandas",
    "pyarrow": "_arrow",
    "polars": "_polars",
    "xarray": "_xarray",
    "torch": "_torch",
    "scipy": "_scipy",
}
_families_loaded: set[str] = set()


@overload
def register_fingerprint(type_or_name: type | str, fn: _F, /) -> _F: ...
@overload
def register_fingerprint(type_or_name: type | str, /) -> Callable[[_F], _F]: ...
def register_fingerprint(type_or_name: type | str, fn: Handler | None = None, /) -> Any:
    """Teach the cache how to fingerprint values of a type: by a value to hash instead.

    ``fn(value)`` returns something the cache can already fingerprint (a tuple of
    numbers, strings, arrays, ...); the digest is taken from the type's
    ``module:qualname`` and that value. Subclasses use the handler of their nearest
    registered base, as with `functools.singledispatch`. A dotted name such as
    ``"torch.Tensor"`` registers without importing the package: it is resolved when a
    value of that package is first fingerprinted. Your registration wins over the
    built-in one for the same type. Usable as a decorator.

    Raises:
        TypeError: ``type_or_name`` is neither a class nor a dotted name.

    Examples:
        >>> import artifact_cache as ac
        >>> class Point:
        ...     def __init__(self, x, y):
        ...         self.x, self.y, self.cache = x, y, {}
        >>> ac.register_fingerprint(Point, lambda p: (p.x, p.y))  # doctest: +ELLIPSIS
        <function <lambda> at ...>
        >>> p = Point(1, 2)
        >>> p.cache["seen"] = True
        >>> ac.fingerprint(p) == ac.fingerprint(Point(1, 2))
        True
    """
    if fn is None:

        def decorator(func: _F) -> _F:
            register_fingerprint(type_or_name, func)
            return func

        return decorator
    _register(type_or_name, fn, replace=True)
    return fn


def register_builtin(type_or_name: type | str, fn: Handler, *, immutable: bool = False) -> None:
    """Register a built-in handler; a user's registration for the same type is kept.

    ``immutable``: the type's values cannot change, so one met twice in an argument is
    not sharing that the key must tell apart.
    """
    _register(type_or_name, fn, replace=False, immutable=immutable)


def _register(
    type_or_name: type | str, fn: Handler, *, replace: bool, immutable: bool = False
) -> None:
    if not callable(fn):
        raise TypeError(f"register_fingerprint needs a function, not {type(fn).__name__}")
    with _registry_lock:
        if isinstance(type_or_name, type):
            if replace or type_or_name not in _by_type:
                _by_type[type_or_name] = fn
                _mark(type_or_name, builtin=not replace, immutable=immutable)
        elif isinstance(type_or_name, str) and "." in type_or_name.strip("."):
            resolved = _lookup(type_or_name)
            if isinstance(resolved, type):
                if replace or resolved not in _by_type:
                    _by_type[resolved] = fn
                    _mark(resolved, builtin=not replace, immutable=immutable)
            elif replace or type_or_name not in _by_name:
                _by_name[type_or_name] = fn
                _mark(type_or_name, builtin=not replace, immutable=immutable)
        else:
            msg = (
                "register_fingerprint takes a class or a dotted name such as "
                f"'torch.Tensor', not {type_or_name!r}"
            )
            raise TypeError(msg)
        _dispatch.clear()
        _subclass_of.clear()
        _immutable_types.clear()


def _mark(key: type | str, *, builtin: bool, immutable: bool = False) -> None:
    if builtin:
        _builtin.add(key)
    else:
        _builtin.discard(key)
    if builtin and immutable:
        _immutable.add(key)
    else:
        _immutable.discard(key)


def _lookup(name: str) -> object:
    """The object a dotted name leads to through already imported modules, or None."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        obj: object = sys.modules.get(".".join(parts[:i]))
        if obj is None:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


def _top_module(cls: type) -> str:
    module = getattr(cls, "__module__", None)
    return module.partition(".")[0] if isinstance(module, str) else ""


def _handler_for(cls: type) -> Handler | None:
    """The registered handler for ``cls`` (nearest registered class in its MRO), or None."""
    with _registry_lock:
        mro = getattr(cls, "__mro__", (cls,))
        for base in mro:
            top = _top_module(base)
            if top in _FAMILIES and top not in _families_loaded:
                _families_loaded.add(top)
                importlib.import_module(f"{__package__}.{_FAMILIES[top]}")
        for name in list(_by_name):
            resolved = _lookup(name)
            if isinstance(resolved, type):
                if resolved not in _by_type:
                    _by_type[resolved] = _by_name[name]
                    _mark(resolved, builtin=name in _builtin, immutable=name in _immutable)
                del _by_name[name]
                _builtin.discard(name)
                _immutable.discard(name)
        found: Handler | None = None
        for base in mro:
            found = _by_type.get(base)
            key: type | str = base
            if found is None:
                key = f"{getattr(base, '__module__', '')}.{base.__qualname__}"
                found = _by_name.get(key)
            if found is not None:
                top = _top_module(base)
                outside = base is not cls and _top_module(cls) != top
                if outside and key in _builtin and top in _FAMILIES:
                    _subclass_of[cls] = base
                if key in _immutable:
                    _immutable_types.add(cls)
                break
        _dispatch[cls] = found
        return found


def subclass_base(cls: type) -> type | None:
    """The registered base of ``cls`` if it is a subclass whose own state the built-in
    handler leaves out (asked after `_handler_for` resolved ``cls``)."""
    return _subclass_of.get(cls)
