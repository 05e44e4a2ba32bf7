"""Value fingerprints: a canonical, type-tagged encoding hashed with xxh3_128.

Builtin values are encoded here, the stdlib's value types (decimals, datetimes, UUIDs,
...) by ``_stdlib``; every other type goes through one registry,
`register_fingerprint` (kept in ``_registry``, re-exported here), that maps a type (or
the dotted name of one, so that registering needs no import) to a function returning a
value to hash in its place. The numpy, pandas, pyarrow, polars, xarray, torch and scipy
handlers are registered the same way by sibling modules (``_numpy``, ``_pandas``, ...),
each imported only the first time a value of its package is met. Functions and classes
are registered by ``code.py``.

Imports only the stdlib, ``attrs``, ``xxhash``, ``._registry`` and ``._stdlib`` (and
``._analysis``, which imports this module, when an enum member is met). The rules are in
``docs/keys.md``.
"""

from __future__ import annotations

__all__ = [
    "Elements",
    "FingerprintError",
    "RawBytes",
    "fingerprint",
    "register_fingerprint",
]

import array
import collections
import dataclasses
import enum
import pathlib
import struct
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import xxhash

from ..readonly import ReadOnlyDict, ReadOnlyList
from ._registry import (
    Handler,
    _dispatch,
    _handler_for,
    _immutable_types,
    _subclass_of,
    register_fingerprint,
)
from ._registry import register_builtin as register_builtin  # for the handler modules
from ._state import state_outside, subclass_state
from ._stdlib import STDLIB_ENCODERS

# Bump when the encoding changes: every digest changes with it, on purpose.
_FORMAT = b"artifact-cache/fingerprint/2\x00"

_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
# One NaN for all NaNs: float("nan"), numpy's nan and 0.0/0.0 (sign bit set) differ in bits.
_NAN = _F64.pack(float("nan"))

# Tags: one byte each, followed by a fixed-size or length-prefixed payload, so the stream
# of tags and payloads can be parsed back in exactly one way.
_T_NONE = b"N"
_T_TRUE = b"T"
_T_FALSE = b"F"
_T_ELLIPSIS = b"."
_T_NOTIMPLEMENTED = b"!"
_T_INT = b"i"
_T_FLOAT = b"f"
_T_COMPLEX = b"c"
_T_STR = b"s"
_T_BYTES = b"b"
_T_BYTEARRAY = b"B"
_T_MEMORYVIEW = b"m"
_T_LIST = b"l"
_T_TUPLE = b"t"
_T_DICT = b"d"
_T_ORDERED_PAIRS = b"o"
_T_SET = b"e"
_T_FROZENSET = b"E"
_T_BACKREF = b"<"
_T_PATH = b"p"
_T_BUILTIN = b"C"
_T_METHOD = b"M"
_T_ENUM = b"n"
_T_USER_ENUM = b"u"
_T_NAMEDTUPLE = b"w"
_T_DATACLASS = b"K"
_T_ATTRS = b"A"
_T_DATACLASS_EXTRA = b"k"
_T_ATTRS_EXTRA = b"a"
_T_HOOK = b"H"
_T_SET_SUBCLASS = b"S"
_T_GLOBAL = b"G"
_T_OBJECT = b"O"
_T_MISSING = b"_"
_T_REGISTERED = b"Y"
_T_REGISTERED_EXTRA = b"y"
_T_RAW = b"W"
_T_ELEMENTS = b"*"
_T_ALIASES = b"&"


class FingerprintError(TypeError):
    """A value could not be fingerprinted; ``path`` says where inside it.

    ``path`` reads like ``"arg 'df' -> ['cols'][2]"``: the argument, then the keys,
    indexes and attributes that lead to the offending object.

    Examples:
        >>> import threading
        >>> try:
        ...     fingerprint({"lock": threading.Lock()}, name="opts")
        ... except FingerprintError as exc:
        ...     print(exc.path)
        arg 'opts' -> ['lock']
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class _Failure(Exception):
    """Raised inside the encoder; collects path segments on its way out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: list[str] = []  # innermost first

    def to_error(self, prefix: str) -> FingerprintError:
        path = prefix + ("" if not self.segments else " -> " + "".join(reversed(self.segments)))
        message = (
            f"cannot fingerprint {path}: {self.reason}. Pass a value that can be "
            "fingerprinted, leave this argument out of the key, give its class an "
            "__artifact_fingerprint__() method, or teach the cache its type with "
            "artifact_cache.register_fingerprint()."
        )
        return FingerprintError(message, path=path)


@attrs.frozen
class RawBytes:
    """Bytes a fingerprint handler wants hashed as they are, in chunks, without copies.

    ``nbytes`` is the total length (it is encoded first, so the encoding stays
    unambiguous); ``chunks`` yields buffers adding up to it and may be a generator.

    Examples:
        >>> fingerprint(RawBytes(3, [b"ab", b"c"])) == fingerprint(RawBytes(3, [b"abc"]))
        True
    """

    nbytes: int
    chunks: Iterable[bytes | bytearray | memoryview]


@attrs.frozen
class Elements:
    """A sequence of objects, encoded like a list but with a fast path for strings.

    For handlers of columns of text (object arrays, string columns): the strings are
    hashed joined once, with their lengths, and any other element with its position.

    Examples:
        >>> fingerprint(Elements(["a", "b"])) == fingerprint(Elements(["a", "b"]))
        True
    """

    items: Sequence[object]


def fingerprint(value: object, *, name: str | None = None) -> str:
    """Return a 32-hex digest of ``value`` that is equal for equal values in any process.

    The digest is xxh3_128 over a canonical, type-tagged encoding: dict and set order,
    ``PYTHONHASHSEED`` and the process do not matter; ``1``, ``1.0``, ``True`` and ``"1"``
    differ. numpy arrays and pandas objects are hashed on their buffers. ``name`` (an
    argument name) is used in the error message. See ``docs/keys.md`` for all the rules.

    Raises:
        FingerprintError: ``value`` holds an object that cannot be reduced (a lock, a
            socket, an open file, a generator, a module).

    Examples:
        >>> fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
        True
        >>> fingerprint(1) == fingerprint(1.0)
        False
    """
    # Inlined, with the error's prefix built only on failure: this runs for every
    # argument of every memoised call, hits included.
    encoder = _Encoder()
    try:
        encoder.encode(value)
        encoder.finish(value)
    except _Failure as failure:
        prefix = "value" if name is None else f"arg {name!r}"
        raise failure.to_error(prefix) from failure.__cause__
    except RecursionError:
        prefix = "value" if name is None else f"arg {name!r}"
        raise _Failure("it is nested too deeply").to_error(prefix) from None
    return encoder.hexdigest()


def digest_or_failure(value: object) -> str:
    """The digest of ``value``; raises the internal failure (for code.py, which adds a path)."""
    encoder = _Encoder()
    try:
        encoder.encode(value)
        encoder.finish(value)
    except RecursionError:
        raise _Failure("it is nested too deeply") from None
    return encoder.hexdigest()


# --------------------------------------------------------------------------- helpers
def qualified(obj: Any) -> str:
    """``module:qualname`` of a class or function, the identity used everywhere here."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(qualname, str):
        return qualified(type(obj))
    return f"{module if isinstance(module, str) else '?'}:{qualname}"


def short_repr(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = f"<{qualified(type(obj))}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _float_bytes(value: float) -> bytes:
    return _NAN if value != value else _F64.pack(value)


_MISSING = object()
_DONE = -1  # a container's position once encoded (see _Encoder._positions)
_UNRESOLVED: Any = object()


class _Encoder:
    """Feeds the canonical encoding of values into one xxh3_128 hasher."""

    __slots__ = (
        "_classes",
        "_h",
        "_held",
        "_opaque",
        "_positions",
        "_saved",
        "_shared",
        "_stack",
    )

    def __init__(self) -> None:
        self._h = xxhash.xxh3_128(_FORMAT)
        # Containers being encoded, to turn cycles into back-references: id -> position
        # on the stack. A mutable one stays at _DONE once encoded (held, so that no id
        # is reused), to notice one met twice; not inside what a handler or hook
        # returns in a value's place (while _opaque).
        self._stack: list[int] = []
        self._positions: dict[int, int] = {}
        self._held: list[object] = []
        self._saved: list[int | None] = []
        self._shared = False
        self._opaque = 0
        # Digests of the classes of objects met in this value: a list of ten thousand
        # instances fingerprints their class once.
        self._classes: dict[type, bytes] = {}

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def finish(self, value: object) -> None:
        """After ``encode(value)``: add which places hold one object, if any do."""
        if not self._shared:
            return
        from ._sharing import shared_places  # (a walker of this module's encoder)

        groups = shared_places(value)
        if groups:
            self._count(_T_ALIASES, len(groups))
            for places in groups:
                self._count(b"", len(places))
                self._h.update(struct.pack(f"<{len(places)}Q", *places))

    def encode(self, value: object) -> None:
        handler = _EXACT.get(type(value))
        if handler is not None:
            handler(self, value)
        else:
            self._encode_other(value)

    # -- building blocks -------------------------------------------------------------

    def _blob(self, tag: bytes, data: bytes | bytearray | memoryview) -> None:
        self._h.update(tag + _U64.pack(memoryview(data).nbytes))
        self._h.update(data)

    def _text(self, tag: bytes, text: str) -> None:
        self._blob(tag, text.encode("utf-8", "surrogatepass"))

    def _count(self, tag: bytes, n: int) -> None:
        self._h.update(tag + _U64.pack(n))

    def _sub(self, value: object) -> bytes:
        """Digest of one value on its own, for sorting dict items and set elements."""
        outer = self._h
        self._h = xxhash.xxh3_128()
        try:
            self.encode(value)
            return self._h.digest()
        finally:
            self._h = outer

    def _backref(self, obj: object) -> bool:
        """Encode a back-reference if ``obj`` is already being encoded further up."""
        position = self._positions.get(id(obj))
        if position is None:
            return False
        if position == _DONE:  # met before: encoded again, and its places noted
            if not self._opaque:
                self._shared = True
            return False
        self._count(_T_BACKREF, len(self._stack) - position)
        return True

    def _push(self, obj: object) -> None:
        """Enter a mutable container or object; `_pop` leaves it noted as met."""
        key = id(obj)
        if self._opaque:  # not noted: `_pop` puts back what was there
            self._saved.append(self._positions.get(key))
        else:
            self._held.append(obj)
        self._positions[key] = len(self._stack)
        self._stack.append(key)

    def _pop(self) -> None:
        key = self._stack.pop()
        if not self._opaque:
            self._positions[key] = _DONE
        elif self._saved.pop() is None:
            del self._positions[key]
        else:
            self._positions[key] = _DONE

    def _push_code(self, obj: object) -> None:
        """Enter a class, function or immutable value, whose sharing does not count."""
        self._positions[id(obj)] = len(self._stack)
        self._stack.append(id(obj))

    def _pop_code(self) -> None:
        """Leave what `_push_code` entered."""
        del self._positions[self._stack.pop()]

    def _meet(self, obj: object) -> None:
        """Note a mutable object that is not pushed (a set, a bytearray)."""
        if self._positions.get(id(obj)) == _DONE:
            self._shared = True
        else:
            self._positions[id(obj)] = _DONE
            self._held.append(obj)

    # -- builtins --------------------------------------------------------------------

    def _none(self, value: None) -> None:
        self._h.update(_T_NONE)

    def _bool(self, value: bool) -> None:
        self._h.update(_T_TRUE if value else _T_FALSE)

    def _ellipsis(self, value: object) -> None:
        self._h.update(_T_ELLIPSIS if value is ... else _T_NOTIMPLEMENTED)

    def _int(self, value: int) -> None:
        self._blob(_T_INT, value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True))

    def _float(self, value: float) -> None:
        self._h.update(_T_FLOAT + _float_bytes(value))

    def _complex(self, value: complex) -> None:
        self._h.update(_T_COMPLEX + _float_bytes(value.real) + _float_bytes(value.imag))

    def _str(self, value: str) -> None:
        self._text(_T_STR, value)

    def _bytes(self, value: bytes) -> None:
        self._blob(_T_BYTES, value)

    def _bytearray(self, value: bytearray) -> None:
        if not self._opaque:
            self._meet(value)
        self._blob(_T_BYTEARRAY, value)

    def _memoryview(self, value: memoryview) -> None:
        self._text(_T_MEMORYVIEW, value.format)
        self._tuple(value.shape or ())
        self._blob(b"", value.cast("B") if value.c_contiguous else value.tobytes())

    def _sequence(self, tag: bytes, value: Sequence[object]) -> None:
        self._count(tag, len(value))
        for i, item in enumerate(value):
            try:
                self.encode(item)
            except _Failure as failure:  # zero-cost until raised, so per item is fine
                failure.segments.append(f"[{i}]")
                raise

    def _list(self, value: list[object]) -> None:
        if self._backref(value):
            return
        self._push(value)
        try:
            self._sequence(_T_LIST, value)
        finally:
            self._pop()

    def _tuple(self, value: tuple[object, ...]) -> None:
        self._sequence(_T_TUPLE, value)

    # A record's read-only dicts and lists, as dicts and lists: they can neither change nor
    # hold themselves, so where one is met twice (every record without tags shares one
    # empty mapping) nothing is shared that a change could show.
    def _read_only_dict(self, value: ReadOnlyDict) -> None:
        self._pairs(_T_DICT, value.items(), ordered=False)

    def _read_only_list(self, value: ReadOnlyList) -> None:
        self._sequence(_T_LIST, value)

    def _dict(self, value: dict[object, object]) -> None:
        if self._backref(value):
            return
        self._push(value)
        try:
            self._pairs(_T_DICT, value.items(), ordered=False)
        finally:
            self._pop()

    def _pairs(
        self,
        tag: bytes,
        items: Iterable[tuple[object, object]],
        *,
        ordered: bool,
        attribute_style: bool = False,
    ) -> None:
        """Encode key/value pairs; unless ``ordered``, sorted by their digests."""
        encoded = []
        for key, item in items:
            try:
                encoded.append(self._sub(key) + self._sub(item))
            except _Failure as failure:
                if attribute_style and isinstance(key, str):
                    failure.segments.append(f".{key}")
                else:
                    failure.segments.append(f"[{short_repr(key)}]")
                raise
        if not ordered:
            # Key digests are unique except for distinct-but-equal keys such as two NaN
            # objects; then the value digest breaks the tie.
            encoded.sort()
        self._count(tag, len(encoded))
        self._h.update(b"".join(encoded))

    def _set(self, value: set[object] | frozenset[object]) -> None:
        tag = _T_SET if type(value) is set else _T_FROZENSET
        if tag is _T_SET and not self._opaque:
            self._meet(value)
        self._elements(tag, value)

    def _elements(self, tag: bytes, value: set[object] | frozenset[object]) -> None:
        digests = []
        for item in value:
            try:
                digests.append(self._sub(item))
            except _Failure as failure:
                failure.segments.append(f"{{{short_repr(item)}}}")
                raise
        digests.sort()
        self._count(tag, len(digests))
        self._h.update(b"".join(digests))

    # -- what handlers return --------------------------------------------------------

    def _raw(self, value: RawBytes) -> None:
        self._count(_T_RAW, value.nbytes)
        seen = 0
        for chunk in value.chunks:
            view = memoryview(chunk)
            seen += view.nbytes
            self._h.update(view)
        if seen != value.nbytes:
            raise _Failure(f"a handler promised {value.nbytes} bytes and gave {seen}")

    def _objects(self, value: Elements) -> None:
        """Encode a sequence of objects; runs of strings go through one fast join."""
        items = value.items
        n = len(items)
        kinds = set(map(type, items))
        others = [] if kinds <= {str} else [i for i, x in enumerate(items) if type(x) is not str]
        self._count(_T_ELEMENTS, n)
        self._count(b"", len(others))
        for i in others:
            self._h.update(_U64.pack(i))
            try:
                self.encode(items[i])
            except _Failure as failure:
                failure.segments.append(f"[{i}]")
                raise
        strings: Any = items if not others else [x for x in items if type(x) is str]
        # Lengths in code points plus the joined text decode back to exactly these strings.
        self._h.update(array.array("q", map(len, strings)).tobytes())
        self._h.update("".join(strings).encode("utf-8", "surrogatepass"))

    # -- everything that is not an exact builtin -------------------------------------

    def _encode_other(self, value: object) -> None:
        cls = type(value)
        if getattr(cls, "__artifact_fingerprint__", None) is not None:
            self._hook(value)
            return
        handler = _dispatch.get(cls, _UNRESOLVED)
        if handler is _UNRESOLVED:
            handler = _handler_for(cls)
        if handler is not None:
            self._registered(value, handler)
        elif isinstance(value, types.BuiltinFunctionType):
            self._text(_T_BUILTIN, qualified(value))
            owner = value.__self__
            self.encode(None if isinstance(owner, types.ModuleType) else owner)
        elif isinstance(value, types.MethodType):
            self._h.update(_T_METHOD)
            self.encode(value.__func__)
            self.encode(value.__self__)
        elif isinstance(value, enum.Enum):
            self._enum(value)
        elif isinstance(value, pathlib.PurePath):
            self._text(_T_PATH, cls.__name__)
            self._tuple(value.parts)
        elif isinstance(value, set | frozenset):
            self._set_subclass(value)
        elif isinstance(value, tuple) and isinstance(
            fields := getattr(cls, "_fields", None), tuple
        ):
            self._fields(_T_NAMEDTUPLE, value, fields)
        elif dataclasses.is_dataclass(value):
            names = [f.name for f in dataclasses.fields(value)]
            self._fields(_T_DATACLASS, value, names, extra_tag=_T_DATACLASS_EXTRA)
        elif attrs.has(cls):
            names = [a.name for a in attrs.fields(cls)]
            self._fields(_T_ATTRS, value, names, extra_tag=_T_ATTRS_EXTRA)
        else:
            self._reduced(value)

    def _enum(self, value: enum.Enum) -> None:
        from ._analysis import _is_user_class  # it imports this module

        cls = type(value)
        if not _is_user_class(cls):
            # An enum of the stdlib or an installed package counts by name, as its class.
            self._text(_T_ENUM, qualified(cls))
            self.encode(value.value if value.name is None else value.name)
            return
        # Two classes of one qualified name (a factory, a re-run notebook cell, an edited
        # module in a later process) can give one member name other values or methods.
        self._text(_T_USER_ENUM, qualified(cls))
        self._class(cls)
        self.encode(value.name)
        try:
            self.encode(value.value)
        except _Failure as failure:
            failure.segments.append(".value")
            raise

    def _registered(self, value: object, handler: Handler) -> None:
        if self._backref(value):
            return
        # Code (classes, functions) and immutable values met twice are not sharing.
        code = isinstance(value, type | types.FunctionType) or type(value) in _immutable_types
        if code:
            self._push_code(value)
        else:
            self._push(value)
        try:
            # A subclass's own state (an array's unit, a frame's _metadata) is hashed
            # after what the base's handler returns, under another tag.
            base = _subclass_of.get(type(value))
            extra = None if base is None else subclass_state(value, base)
            self._text(_T_REGISTERED_EXTRA if extra else _T_REGISTERED, qualified(type(value)))
            try:
                surrogate = handler(value)
            except _Failure:
                raise
            except Exception as exc:
                name = getattr(handler, "__qualname__", repr(handler))
                failure = _Failure(
                    f"the fingerprint function {name} registered for "
                    f"{qualified(type(value))} raised {type(exc).__name__}: {exc}"
                )
                raise failure from exc
            self._opaque += 1
            try:
                self.encode(surrogate)
            finally:
                self._opaque -= 1
            if extra:
                self._pairs(_T_DICT, extra.items(), ordered=False, attribute_style=True)
        finally:
            if code:
                self._pop_code()
            else:
                self._pop()

    def _hook(self, value: Any) -> None:
        if self._backref(value):
            return
        self._push(value)
        try:
            self._class(type(value))
            self._h.update(_T_HOOK)
            self._opaque += 1
            try:
                self.encode(value.__artifact_fingerprint__())
            except _Failure as failure:
                failure.segments.append(".__artifact_fingerprint__()")
                raise
            finally:
                self._opaque -= 1
        finally:
            self._pop()

    def _class(self, cls: type) -> None:
        """A value's class: by its members for user classes, by name otherwise."""
        digest = self._classes.get(cls)
        if digest is None:
            try:
                digest = self._classes[cls] = self._sub(cls)
            except _Failure as failure:
                failure.segments.append(".__class__")
                raise
        self._h.update(digest)

    def _fields(
        self, tag: bytes, value: object, names: Sequence[str], extra_tag: bytes | None = None
    ) -> None:
        if self._backref(value):
            return
        self._push(value)
        try:
            # State outside the fields (set by a method, as a fitted model's coef_) is
            # hashed after them, under another tag: without any, the bytes are as before.
            extra = None if extra_tag is None else state_outside(value, names)
            self._h.update(extra_tag if extra and extra_tag else tag)
            self._class(type(value))
            self._count(b"", len(names))
            for name in names:
                self._text(b"", name)
                item = getattr(value, name, _MISSING)
                if item is _MISSING:
                    self._h.update(_T_MISSING)
                    continue
                try:
                    self.encode(item)
                except _Failure as failure:
                    failure.segments.append(f".{name}")
                    raise
            if extra:
                self._pairs(_T_DICT, extra.items(), ordered=False, attribute_style=True)
        finally:
            self._pop()

    def _set_subclass(self, value: set[object] | frozenset[object]) -> None:
        if isinstance(value, set) and not self._opaque:
            self._meet(value)
        # Their pickles list the elements in iteration order, which depends on the seed.
        self._h.update(_T_SET_SUBCLASS)
        self._class(type(value))
        self._elements(_T_SET, value)
        self.encode(getattr(value, "__dict__", None))

    def _reduced(self, value: object) -> None:
        """Class plus the object's state from ``__reduce_ex__(5)``, canonically."""
        cls = type(value)
        try:
            reduced = value.__reduce_ex__(5)
        except Exception as exc:
            failure = _Failure(
                f"a {cls.__module__}.{cls.__qualname__} object cannot be reduced ({exc})"
            )
            raise failure from exc
        if isinstance(reduced, str):
            # A global singleton, pickled by reference.
            self._text(
                _T_GLOBAL, f"{getattr(value, '__module__', None) or cls.__module__}:{reduced}"
            )
            return
        if not isinstance(reduced, tuple) or not 2 <= len(reduced) <= 6:
            raise _Failure(f"a {qualified(cls)} object has an invalid __reduce_ex__ result")
        if self._backref(value):
            return
        self._push(value)
        try:
            constructor, args, state, list_items, dict_items = (*reduced, None, None, None)[:5]
            self._h.update(_T_OBJECT)
            self._class(cls)
            self._text(b"", qualified(constructor))
            try:
                self.encode(args)
            except _Failure as failure:
                failure.segments.append(".__reduce__()")
                raise
            self._state(state)
            self.encode(None if list_items is None else list(list_items))
            if dict_items is None:
                self._h.update(_T_NONE)
            else:
                ordered = isinstance(value, collections.OrderedDict)
                self._pairs(_T_ORDERED_PAIRS if ordered else _T_DICT, dict_items, ordered=ordered)
        finally:
            self._pop()

    def _state(self, state: object) -> None:
        # Objects with __slots__ reduce to (dict or None, slots dict).
        if (
            type(state) is tuple
            and len(state) == 2
            and (state[0] is None or type(state[0]) is dict)
            and type(state[1]) is dict
        ):
            self._h.update(_T_TUPLE)
            self._state(state[0])
            self._state(state[1])
        elif type(state) is dict:
            self._pairs(_T_DICT, state.items(), ordered=False, attribute_style=True)
        else:
            self.encode(state)


_EXACT: dict[type, Callable[[_Encoder, Any], None]] = {
    type(None): _Encoder._none,
    bool: _Encoder._bool,
    int: _Encoder._int,
    float: _Encoder._float,
    complex: _Encoder._complex,
    str: _Encoder._str,
    bytes: _Encoder._bytes,
    bytearray: _Encoder._bytearray,
    memoryview: _Encoder._memoryview,
    list: _Encoder._list,
    tuple: _Encoder._tuple,
    dict: _Encoder._dict,
    ReadOnlyDict: _Encoder._read_only_dict,  # (a record's tags or extra: as a dict)
    ReadOnlyList: _Encoder._read_only_list,  # (a list inside a record's extra: as a list)
    set: _Encoder._set,
    frozenset: _Encoder._set,
    type(...): _Encoder._ellipsis,
    type(NotImplemented): _Encoder._ellipsis,
    **STDLIB_ENCODERS,
    RawBytes: _Encoder._raw,
    Elements: _Encoder._objects,
}
