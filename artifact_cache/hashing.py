"""Deterministic fingerprints of values and code, the raw material of cache keys.

``fingerprint`` digests a value from a canonical, type-tagged encoding (never from pickle
bytes of containers), ``code_fingerprint`` digests a function and the user helpers it
reaches. The rules are written down in ``docs/keys.md``.

This is a low layer: it imports only the stdlib, ``attrs`` and ``xxhash``. numpy and
pandas are never imported here; they are used only when a value is already one of their
types, so they are taken from ``sys.modules``.
"""

from __future__ import annotations

__all__ = [
    "CodeFingerprint",
    "FingerprintError",
    "code_fingerprint",
    "fingerprint",
    "hash_bytes",
]

import ast
import collections
import dataclasses
import datetime
import decimal
import dis
import enum
import fractions
import functools
import inspect
import os
import pathlib
import site
import struct
import sys
import sysconfig
import textwrap
import types
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import attrs
import xxhash

# Bump when the encoding changes: every digest changes with it, on purpose.
_FORMAT = b"artifact-cache/fingerprint/1\x00"

_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
# One NaN for all NaNs: float("nan"), numpy's nan and 0.0/0.0 (sign bit set) differ in bits.
_NAN = _F64.pack(float("nan"))
# Float arrays are checked for NaN in slices this size, small enough to stay in cache
# while xxh3 reads them again (measured: ~7.7 GB/s against 9 GB/s without the check).
_CHUNK_BYTES = 512 * 1024
# Module-level containers larger than this are treated as data, not as code constants.
_MAX_CONSTANT_ITEMS = 10_000
# 3.14+ marks a docstring with a flag; before that, co_consts[0] is the docstring or None.
_CO_HAS_DOCSTRING = 0x4000000

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
_T_DECIMAL = b"D"
_T_FRACTION = b"Q"
_T_DATETIME = b"@"
_T_DATE = b"a"
_T_TIME = b"h"
_T_TIMEDELTA = b"r"
_T_UUID = b"u"
_T_PATH = b"p"
_T_RANGE = b"R"
_T_SLICE = b":"
_T_TYPE = b"y"
_T_FUNCTION = b"L"
_T_BUILTIN = b"C"
_T_METHOD = b"M"
_T_ENUM = b"n"
_T_NAMEDTUPLE = b"w"
_T_DATACLASS = b"K"
_T_ATTRS = b"A"
_T_HOOK = b"H"
_T_SET_SUBCLASS = b"S"
_T_GLOBAL = b"G"
_T_OBJECT = b"O"
_T_MISSING = b"_"
_T_NDARRAY = b"["
_T_MASKED = b"]"
_T_NPSCALAR = b"#"
_T_DTYPE = b"$"
_T_OBJECTS = b"*"
_T_DATAFRAME = b"P"
_T_SERIES = b"V"
_T_INDEX = b"I"
_T_EXTENSION = b"X"
_T_PD_NA = b"?"
_T_PD_NAT = b"x"
_T_TIMESTAMP = b"z"
_T_PD_TIMEDELTA = b"Z"


class FingerprintError(TypeError):
    """A value could not be fingerprinted; ``path`` says where inside it.

    ``path`` reads like ``"arg 'df' -> ['cols'][2]"``: the argument, then the keys,
    indexes and attributes that lead to the offending object.
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
            "fingerprinted, leave this argument out of the key, or give its class an "
            "__artifact_fingerprint__() method that returns a value to hash instead."
        )
        return FingerprintError(message, path=path)


def fingerprint(value: object, *, name: str | None = None) -> str:
    """Return a 32-hex digest of ``value`` that is equal for equal values in any process.

    The digest is xxh3_128 over a canonical, type-tagged encoding: dict and set order,
    ``PYTHONHASHSEED`` and the process do not matter; ``1``, ``1.0``, ``True`` and ``"1"``
    differ. numpy arrays and pandas objects are hashed on their buffers. ``name`` (an
    argument name) is used in the error message. See ``docs/keys.md`` for all the rules.

    Raises:
        FingerprintError: ``value`` holds an object that cannot be reduced (a lock, a
            socket, an open file, a generator, a module).

    Example:
        >>> fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
        True
        >>> fingerprint(1) == fingerprint(1.0)
        False
    """
    return _fingerprint(value, "value" if name is None else f"arg {name!r}")


def hash_bytes(*chunks: bytes | bytearray | memoryview) -> str:
    """Return the xxh3_128 hex digest of the concatenated chunks, without joining them.

    Examples:
        >>> hash_bytes(b"ab", b"c") == hash_bytes(b"abc")
        True
    """
    h = xxhash.xxh3_128()
    for chunk in chunks:
        if len(chunk) <= _HASH_SLICE:  # len() counts items, so this is only a shortcut
            h.update(chunk)
            continue
        view = memoryview(chunk).cast("B")
        # xxhash keeps the GIL while it runs: slices let a thread writing the same
        # payload to disk take turns with it instead of waiting for the whole hash.
        for start in range(0, view.nbytes, _HASH_SLICE):
            h.update(view[start : start + _HASH_SLICE])
    return h.hexdigest()


_HASH_SLICE = 8 * 2**20


def _fingerprint(value: object, prefix: str) -> str:
    encoder = _Encoder()
    try:
        encoder.encode(value)
    except _Failure as failure:
        raise failure.to_error(prefix) from failure.__cause__
    except RecursionError:
        raise _Failure("it is nested too deeply").to_error(prefix) from None
    return encoder.hexdigest()


def _qualified(obj: Any) -> str:
    """``module:qualname`` of a class or function, the identity used everywhere here."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(qualname, str):
        return _qualified(type(obj))
    return f"{module if isinstance(module, str) else '?'}:{qualname}"


def _short_repr(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = f"<{_qualified(type(obj))}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _float_bytes(value: float) -> bytes:
    return _NAN if value != value else _F64.pack(value)


_MISSING = object()


class _Encoder:
    """Feeds the canonical encoding of values into one xxh3_128 hasher."""

    __slots__ = ("_h", "_positions", "_stack")

    def __init__(self) -> None:
        self._h = xxhash.xxh3_128(_FORMAT)
        # Containers being encoded, to turn cycles into back-references.
        self._stack: list[int] = []
        self._positions: dict[int, int] = {}

    def hexdigest(self) -> str:
        return self._h.hexdigest()

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
        self._count(_T_BACKREF, len(self._stack) - position)
        return True

    def _push(self, obj: object) -> None:
        self._positions[id(obj)] = len(self._stack)
        self._stack.append(id(obj))

    def _pop(self) -> None:
        del self._positions[self._stack.pop()]

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
                    failure.segments.append(f"[{_short_repr(key)}]")
                raise
        if not ordered:
            # Key digests are unique except for distinct-but-equal keys such as two NaN
            # objects; then the value digest breaks the tie.
            encoded.sort()
        self._count(tag, len(encoded))
        self._h.update(b"".join(encoded))

    def _set(self, value: set[object] | frozenset[object]) -> None:
        tag = _T_SET if type(value) is set else _T_FROZENSET
        self._elements(tag, value)

    def _elements(self, tag: bytes, value: set[object] | frozenset[object]) -> None:
        digests = []
        for item in value:
            try:
                digests.append(self._sub(item))
            except _Failure as failure:
                failure.segments.append(f"{{{_short_repr(item)}}}")
                raise
        digests.sort()
        self._count(tag, len(digests))
        self._h.update(b"".join(digests))

    # -- other stdlib values ---------------------------------------------------------

    def _decimal(self, value: decimal.Decimal) -> None:
        # str() keeps the exponent: Decimal("1.0") and Decimal("1.00") differ, as in pickle.
        self._text(_T_DECIMAL, str(value))

    def _fraction(self, value: fractions.Fraction) -> None:
        self._h.update(_T_FRACTION)
        self._int(value.numerator)
        self._int(value.denominator)

    def _datetime(self, value: datetime.datetime) -> None:
        self._h.update(_T_DATETIME)
        self._tuple(
            (
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
                value.fold,
            )
        )
        self.encode(value.tzinfo)

    def _date(self, value: datetime.date) -> None:
        self._h.update(_T_DATE)
        self._tuple((value.year, value.month, value.day))

    def _time(self, value: datetime.time) -> None:
        self._h.update(_T_TIME)
        self._tuple((value.hour, value.minute, value.second, value.microsecond, value.fold))
        self.encode(value.tzinfo)

    def _timedelta(self, value: datetime.timedelta) -> None:
        self._h.update(_T_TIMEDELTA)
        self._tuple((value.days, value.seconds, value.microseconds))

    def _uuid(self, value: uuid.UUID) -> None:
        self._blob(_T_UUID, value.bytes)

    def _range(self, value: range) -> None:
        self._h.update(_T_RANGE)
        self._tuple((value.start, value.stop, value.step))

    def _slice(self, value: slice) -> None:
        self._h.update(_T_SLICE)
        self._tuple((value.start, value.stop, value.step))

    # -- everything that is not an exact builtin -------------------------------------

    def _encode_other(self, value: object) -> None:
        cls = type(value)
        if getattr(cls, "__artifact_fingerprint__", None) is not None:
            self._hook(value)
            return
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic, numpy.dtype)):
            self._numpy(numpy, value)
            return
        pandas = sys.modules.get("pandas")
        if pandas is not None and self._pandas(pandas, value):
            return
        if isinstance(value, type):
            self._text(_T_TYPE, _qualified(value))
        elif isinstance(value, types.FunctionType):
            self._text(_T_FUNCTION, code_fingerprint(value).digest)
        elif isinstance(value, types.BuiltinFunctionType):
            self._text(_T_BUILTIN, _qualified(value))
            owner = value.__self__
            self.encode(None if isinstance(owner, types.ModuleType) else owner)
        elif isinstance(value, types.MethodType):
            self._h.update(_T_METHOD)
            self.encode(value.__func__)
            self.encode(value.__self__)
        elif isinstance(value, enum.Enum):
            self._text(_T_ENUM, _qualified(cls))
            self.encode(value.value if value.name is None else value.name)
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
            self._fields(_T_DATACLASS, value, [f.name for f in dataclasses.fields(value)])
        elif attrs.has(cls):
            self._fields(_T_ATTRS, value, [a.name for a in attrs.fields(cls)])
        else:
            self._reduced(value)

    def _hook(self, value: Any) -> None:
        if self._backref(value):
            return
        self._push(value)
        try:
            self._text(_T_HOOK, _qualified(type(value)))
            try:
                self.encode(value.__artifact_fingerprint__())
            except _Failure as failure:
                failure.segments.append(".__artifact_fingerprint__()")
                raise
        finally:
            self._pop()

    def _fields(self, tag: bytes, value: object, names: Sequence[str]) -> None:
        if self._backref(value):
            return
        self._push(value)
        try:
            self._text(tag, _qualified(type(value)))
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
        finally:
            self._pop()

    def _set_subclass(self, value: set[object] | frozenset[object]) -> None:
        # Their pickles list the elements in iteration order, which depends on the seed.
        self._text(_T_SET_SUBCLASS, _qualified(type(value)))
        self._elements(_T_SET, value)
        self.encode(getattr(value, "__dict__", None))

    def _reduced(self, value: object) -> None:
        """Class identity plus the object's state from ``__reduce_ex__(5)``, canonically."""
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
            raise _Failure(f"a {_qualified(cls)} object has an invalid __reduce_ex__ result")
        if self._backref(value):
            return
        self._push(value)
        try:
            constructor, args, state, list_items, dict_items = (*reduced, None, None, None)[:5]
            self._text(_T_OBJECT, _qualified(cls))
            self._text(b"", _qualified(constructor))
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

    # -- numpy -----------------------------------------------------------------------

    def _numpy(self, np: Any, value: Any) -> None:
        if isinstance(value, np.dtype):
            self._dtype(value)
        elif isinstance(value, np.generic):
            self._text(_T_NPSCALAR, _qualified(type(value)))
            self._dtype(value.dtype)
            self._buffer(np, np.asarray(value))
        else:
            self._ndarray(np, value)

    def _dtype(self, dtype: Any) -> None:
        self._text(_T_DTYPE, dtype.str)
        # dtype.str is "|V16" for every 16-byte record: add the fields when there are any.
        complex_layout = dtype.names is not None or dtype.subdtype is not None
        self._text(b"", repr(dtype) if complex_layout else "")

    def _ndarray(self, np: Any, array_: Any) -> None:
        masked = sys.modules.get("numpy.ma")
        if masked is not None and isinstance(array_, masked.MaskedArray):
            self._h.update(_T_MASKED)
            self._ndarray(np, array_.data)
            self._ndarray(np, masked.getmaskarray(array_))
            return
        if self._backref(array_):
            return
        self._text(_T_NDARRAY, _qualified(type(array_)))
        self._dtype(array_.dtype)
        self._tuple(array_.shape)
        if array_.dtype.kind == "O":
            self._push(array_)
            try:
                self._objects(array_.reshape(-1).tolist())
            finally:
                self._pop()
        elif array_.dtype.hasobject:
            self.encode(array_.reshape(-1).tolist())
        else:
            self._buffer(np, array_)

    def _buffer(self, np: Any, array_: Any) -> None:
        """Hash an array's bytes in C order, copying only when it is not C-contiguous."""
        if not array_.flags.c_contiguous:
            array_ = np.ascontiguousarray(array_)
        if array_.nbytes == 0:
            return
        flat = array_.reshape(-1)
        kind = flat.dtype.kind
        if kind not in "fc":
            self._h.update(flat.view(np.uint8))
            return
        if kind == "c":
            flat = flat.view(flat.real.dtype)
        step = max(1, _CHUNK_BYTES // flat.dtype.itemsize)
        nan = flat.dtype.type("nan")
        for start in range(0, flat.size, step):
            chunk = flat[start : start + step]
            is_nan = np.isnan(chunk)
            if is_nan.any():
                chunk = chunk.copy()
                chunk[is_nan] = nan
            self._h.update(chunk.view(np.uint8))

    def _objects(self, items: list[object]) -> None:
        """Encode a sequence of objects; runs of strings go through one fast join."""
        n = len(items)
        kinds = set(map(type, items))
        others = [] if kinds <= {str} else [i for i, x in enumerate(items) if type(x) is not str]
        self._count(_T_OBJECTS, n)
        self._count(b"", len(others))
        for i in others:
            self._h.update(_U64.pack(i))
            try:
                self.encode(items[i])
            except _Failure as failure:
                failure.segments.append(f"[{i}]")
                raise
        strings = cast(list[str], items if not others else [x for x in items if type(x) is str])
        # Lengths in code points plus the joined text decode back to exactly these strings.
        np = sys.modules["numpy"]  # only numpy and pandas values get here
        self._h.update(np.fromiter(map(len, strings), "<i8", len(strings)).view(np.uint8))
        self._h.update("".join(strings).encode("utf-8", "surrogatepass"))

    # -- pandas ----------------------------------------------------------------------

    def _pandas(self, pd: Any, value: Any) -> bool:
        """Encode a pandas object; return False if ``value`` is not one."""
        if isinstance(value, pd.DataFrame):
            self._dataframe(value)
        elif isinstance(value, pd.Series):
            self._h.update(_T_SERIES)
            self.encode(value.name)
            self._index(value.index)
            self._pd_values(value)
        elif isinstance(value, pd.Index):
            self._index(value)
        elif isinstance(value, pd.api.extensions.ExtensionArray):
            self._extension_array(pd, value)
        elif value is pd.NA:
            self._h.update(_T_PD_NA)
        elif value is pd.NaT:
            self._h.update(_T_PD_NAT)
        elif isinstance(value, pd.Timestamp):
            self._h.update(_T_TIMESTAMP)
            self._tuple(
                (value.isoformat(), None if value.tz is None else str(value.tz), value.unit)
            )
        elif isinstance(value, pd.Timedelta):
            self._h.update(_T_PD_TIMEDELTA)
            self._tuple((str(value), value.unit))
        else:
            return False
        return True

    def _dataframe(self, frame: Any) -> None:
        self._h.update(_T_DATAFRAME)
        try:
            self._index(frame.columns)
        except _Failure as failure:
            failure.segments.append(".columns")
            raise
        try:
            self._index(frame.index)
        except _Failure as failure:
            failure.segments.append(".index")
            raise
        ncols = frame.shape[1]
        self._count(b"", ncols)
        for i in range(ncols):
            # iloc, not frame[name]: column names may repeat.
            try:
                self._pd_values(frame.iloc[:, i])
            except _Failure as failure:
                failure.segments.append(f"[{_short_repr(frame.columns[i])}]")
                raise

    def _index(self, index: Any) -> None:
        pd = sys.modules["pandas"]
        self._text(_T_INDEX, _qualified(type(index)))
        if isinstance(index, pd.MultiIndex):
            self.encode(list(index.names))
            self._count(b"", index.nlevels)
            # Level values, not levels and codes: those differ for equal indexes.
            for level in range(index.nlevels):
                self._pd_values(index.get_level_values(level))
        elif isinstance(index, pd.RangeIndex):
            self.encode(index.name)
            self._tuple((index.start, index.stop, index.step))
        else:
            self.encode(index.name)
            self._pd_values(index)

    def _pd_values(self, values: Any) -> None:
        """The values of a Series or Index, with their dtype."""
        np = sys.modules["numpy"]
        if isinstance(values.dtype, np.dtype):
            self._ndarray(np, values.to_numpy(copy=False))
        else:
            self._extension_array(sys.modules["pandas"], values.array)

    def _extension_array(self, pd: Any, values: Any) -> None:
        np = sys.modules["numpy"]
        dtype = values.dtype
        self._text(_T_EXTENSION, _qualified(type(dtype)))
        self._text(b"", str(dtype))
        if isinstance(dtype, pd.CategoricalDtype):
            self.encode(dtype.ordered)
            self._index(dtype.categories)
            self._ndarray(np, values.codes)
        elif isinstance(dtype, pd.DatetimeTZDtype):
            self._ndarray(np, values.asi8)  # a view; str(dtype) has the unit and zone
        elif isinstance(
            values, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)
        ):
            numpy_dtype = dtype.numpy_dtype
            self._ndarray(np, np.asarray(values.isna()))
            self._ndarray(np, values.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0)))
        else:
            # Strings (pandas' default str dtype), periods, intervals, ...: element by
            # element, exact and type-tagged. hash_pandas_object is faster on mixed
            # objects but stringifies them (1 and "1" collide), so it is not used.
            self._objects(np.asarray(values, dtype=object).tolist())


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
    set: _Encoder._set,
    frozenset: _Encoder._set,
    type(...): _Encoder._ellipsis,
    type(NotImplemented): _Encoder._ellipsis,
    decimal.Decimal: _Encoder._decimal,
    fractions.Fraction: _Encoder._fraction,
    datetime.datetime: _Encoder._datetime,
    datetime.date: _Encoder._date,
    datetime.time: _Encoder._time,
    datetime.timedelta: _Encoder._timedelta,
    uuid.UUID: _Encoder._uuid,
    range: _Encoder._range,
    slice: _Encoder._slice,
}


# ---------------------------------------------------------------------------------------
# Code fingerprints


class _FrozenParts(Mapping[str, str]):
    """A read-only, hashable, picklable ``{name: digest}`` mapping, sorted by name."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str]) -> None:
        self._data = dict(sorted(data.items()))

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[type[_FrozenParts], tuple[dict[str, str]]]:
        return (_FrozenParts, (self._data,))


def _freeze_parts(parts: Mapping[str, str]) -> _FrozenParts:
    return parts if isinstance(parts, _FrozenParts) else _FrozenParts(parts)


@attrs.frozen(kw_only=True)
class CodeFingerprint:
    """The digest of a function's code and of every user helper it reaches.

    ``parts`` maps ``"module:qualname"`` of the function and of each helper, class and
    module-level constant that was followed (plus ``"depends_on[i]"`` entries) to its own
    digest; ``digest`` combines them all.

    Example:
        >>> def area(r):
        ...     return 3.14159 * r * r
        >>> fp = code_fingerprint(area)
        >>> len(fp.digest), fp.diff(fp)
        (32, [])
    """

    digest: str
    parts: Mapping[str, str] = attrs.field(converter=_freeze_parts)
    # The bindings that were followed, as (namespace or cell, name, object); not part of
    # the value, never pickled (it holds module namespaces), empty after unpickling.
    watch: tuple[tuple[Any, str | None, object], ...] = attrs.field(
        default=(), eq=False, hash=False, repr=False
    )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_fingerprint, (self.digest, dict(self.parts)))

    def stale(self) -> bool:
        """True if a name the fingerprint followed is now bound to another object.

        A notebook re-run of a helper's cell, or a reload of its module, rebinds the
        name; checking identities costs a dictionary lookup a name, so a memoised
        function can look on every call. Changes made in place (a mutated global
        list) are not seen.

        Examples:
            >>> ns = {}
            >>> exec("def helper(x):\n    return x\ndef f(x):\n    return helper(x)", ns)
            >>> fp = code_fingerprint(ns["f"])
            >>> fp.stale()
            False
            >>> exec("def helper(x):\n    return -x", ns)
            >>> fp.stale()
            True
        """
        for where, name, obj in self.watch:
            if name is None:
                try:
                    current = where.cell_contents
                except ValueError:
                    return True
            else:
                current = where.get(name, _GONE)
            if current is not obj:
                return True
        return False

    def diff(self, other: CodeFingerprint) -> list[str]:
        """Names whose digest changed, or that only one side has, sorted.

        Example:
            >>> old = CodeFingerprint(digest="1", parts={"m:f": "a", "m:g": "b"})
            >>> new = CodeFingerprint(digest="2", parts={"m:f": "a", "m:h": "c"})
            >>> old.diff(new)
            ['m:g', 'm:h']
        """
        names = set(self.parts) | set(other.parts)
        return sorted(n for n in names if self.parts.get(n) != other.parts.get(n))


_GONE = object()


def _rebuild_fingerprint(digest: str, parts: dict[str, str]) -> CodeFingerprint:
    return CodeFingerprint(digest=digest, parts=parts)


def code_fingerprint(
    func: Callable[..., object], *, depends_on: Sequence[object] = ()
) -> CodeFingerprint:
    """Fingerprint a function's code and the user code it calls, ignoring trivia.

    The function is hashed from a normalised AST of its source (comments, blank lines,
    docstrings, formatting, decorators and its position in the file do not count), or
    from its code object when there is no source. Globals, closure variables and
    ``module.attribute`` chains that lead to functions, classes or simple constants of the
    user's own code are followed recursively; installed packages and the stdlib count
    only by name. ``depends_on`` items are added as ``"depends_on[i]"`` parts.

    Raises:
        FingerprintError: a ``depends_on`` item cannot be fingerprinted.

    Example:
        >>> def double(x):
        ...     return 2 * x
        >>> code_fingerprint(double).parts.keys() == {f"{__name__}:double"}
        True
    """
    tracer = _CodeTracer()
    root = tracer.root(func)
    parts = tracer.run()
    for i, dependency in enumerate(depends_on):
        parts[f"depends_on[{i}]"] = _dependency_digest(dependency, f"depends_on[{i}]")
    digest = fingerprint(("code", root, tuple(sorted(parts.items()))))
    return CodeFingerprint(digest=digest, parts=parts, watch=tuple(tracer.watch))


def _dependency_digest(dependency: object, label: str) -> str:
    if isinstance(dependency, types.ModuleType):
        source = _module_source(dependency)
        return fingerprint(("module", dependency.__name__, source))
    if isinstance(
        dependency,
        type
        | types.FunctionType
        | types.MethodType
        | types.BuiltinFunctionType
        | functools.partial,
    ):
        return code_fingerprint(dependency).digest
    return _fingerprint(dependency, label)


@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """Directories whose modules are the stdlib or installed packages, not user code."""
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # some embedded interpreters lack these
        pass
    return tuple(sorted({os.path.realpath(d) + os.sep for d in dirs if d}))


@functools.lru_cache(maxsize=4096)
def _is_user_location(module: str | None, filename: str | None) -> bool:
    top = (module or "").partition(".")[0]
    # artifact_cache's own functions (decorator wrappers) are library code to its users.
    if top in ("builtins", "artifact_cache"):
        return False
    if filename and not filename.startswith("<"):
        path = os.path.realpath(filename)
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not path.startswith(_library_dirs())
    if filename and filename.startswith("<frozen "):
        return False
    if top in ("", "__main__"):
        return True
    mod_file = getattr(sys.modules.get(module or ""), "__file__", None)
    if isinstance(mod_file, str):
        return _is_user_location(module, mod_file)
    return top not in sys.stdlib_module_names and top not in sys.builtin_module_names


def _is_user_function(func: types.FunctionType) -> bool:
    return _is_user_location(func.__module__, func.__code__.co_filename)


def _is_user_class(cls: type) -> bool:
    module = cls.__module__
    mod_file = getattr(sys.modules.get(module), "__file__", None)
    if module in ("__main__", "builtins") or not isinstance(mod_file, str):
        return _is_user_location(module, None)
    return _is_user_location(module, mod_file)


def _is_user_module(module: types.ModuleType) -> bool:
    mod_file = getattr(module, "__file__", None)
    return _is_user_location(module.__name__, mod_file if isinstance(mod_file, str) else None)


_SIMPLE_SCALARS = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        decimal.Decimal,
        fractions.Fraction,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
        range,
        type(...),
    }
)


def _is_simple(value: object, depth: int = 0) -> bool:
    """Plain data that reads as a constant in code: scalars and small containers of them."""
    kind = type(value)
    if kind in _SIMPLE_SCALARS or isinstance(value, enum.Enum | pathlib.PurePath):
        return True
    if depth > 8:
        return False
    if kind in (tuple, list, set, frozenset):
        items: Any = value
        return len(items) <= _MAX_CONSTANT_ITEMS and all(_is_simple(x, depth + 1) for x in items)
    if kind is dict:
        mapping: Any = value
        return len(mapping) <= _MAX_CONSTANT_ITEMS and all(
            _is_simple(k, depth + 1) and _is_simple(v, depth + 1) for k, v in mapping.items()
        )
    return False


def _code_names(code: types.CodeType, names: set[str]) -> None:
    """Global and attribute names used by ``code`` and the code nested in it."""
    names.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_names(const, names)


def _stored_globals(code: types.CodeType, names: set[str]) -> None:
    """Globals that ``code`` (or code nested in it) assigns: state it keeps, not code."""
    names.update(
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL")
    )
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _stored_globals(const, names)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:]


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(source))
    except SyntaxError:
        pass
    # dedent gives up when a multi-line string is less indented than the code around it.
    try:
        return ast.parse("if True:\n" + source) if source[:1].isspace() else None
    except SyntaxError:
        return None


def _function_source(func: types.FunctionType) -> str | None:
    """Normalised AST of a function's source, or None if it has none we can trust."""
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return None
    tree = _parse(source)
    if tree is None:
        return None
    node: ast.AST | None = None
    if func.__name__ == "<lambda>":
        # A line may hold several lambdas: pick the one whose parameters match.
        code = func.__code__
        params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        lambdas = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Lambda)
            and tuple(a.arg for a in (*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs))
            == params
        ]
        node = lambdas[0] if len(lambdas) == 1 else None
    else:
        first: ast.stmt | None = tree.body[0] if tree.body else None
        if isinstance(first, ast.If):  # the wrapper added by _parse
            first = first.body[0]
        # A file edited since import can put another function at the recorded line.
        if (
            isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef)
            and first.name == func.__name__
        ):
            node = first
    if node is None:
        return None
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node.decorator_list = []
    _strip_docstrings(node)
    return ast.dump(node, annotate_fields=True, include_attributes=False)


def _code_digest(code: types.CodeType) -> str:
    """Digest of a code object without line numbers, file names or its docstring."""
    consts: list[object] = list(code.co_consts)
    if consts and _has_docstring(code):
        consts = consts[1:]
    consts = [("code", _code_digest(c)) if isinstance(c, types.CodeType) else c for c in consts]
    return fingerprint(
        (
            code.co_name,
            code.co_argcount,
            code.co_posonlyargcount,
            code.co_kwonlyargcount,
            code.co_flags,
            code.co_code,
            getattr(code, "co_exceptiontable", b""),
            code.co_names,
            code.co_varnames,
            code.co_freevars,
            code.co_cellvars,
            tuple(consts),
        )
    )


def _has_docstring(code: types.CodeType) -> bool:
    if sys.version_info >= (3, 14):
        return bool(code.co_flags & _CO_HAS_DOCSTRING)
    # Before 3.14 a def function reserves co_consts[0] for its docstring, None if it has
    # none; drop the slot either way so that adding a docstring changes nothing.
    return (
        bool(code.co_flags & inspect.CO_NEWLOCALS)
        and not code.co_name.startswith("<")
        and (code.co_consts[0] is None or isinstance(code.co_consts[0], str))
    )


def _module_source(module: types.ModuleType) -> str | None:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return None
    _strip_docstrings(tree)
    return ast.dump(tree, annotate_fields=True, include_attributes=False)


# Class attributes that are bookkeeping, not behaviour (or that carry line numbers).
_IGNORED_CLASS_ATTRIBUTES = frozenset(
    {
        "__doc__",
        "__module__",
        "__qualname__",
        "__dict__",
        "__weakref__",
        "__annotations__",
        "__firstlineno__",
        "__static_attributes__",
        "__orig_bases__",
        "__parameters__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__attrs_attrs__",
        "__attrs_own_setattr__",
        "_abc_impl",
    }
)


class _CodeTracer:
    """Walks from a function to the user functions, classes and constants it reaches."""

    def __init__(self) -> None:
        self.parts: dict[str, str] = {}
        self._keys: dict[int, str] = {}  # id(object) -> its part name
        self._alive: list[object] = []  # keeps ids in _keys valid
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self.watch: list[tuple[Any, str | None, object]] = []  # see CodeFingerprint.stale

    def root(self, func: Callable[..., object]) -> str:
        target: Any = func
        if isinstance(target, types.MethodType):
            target = target.__func__
        if isinstance(target, functools.partial):
            target = target.func
        target = inspect.unwrap(target)
        if isinstance(target, types.FunctionType) and _is_user_function(target):
            return self._follow(target)
        if isinstance(target, type) and _is_user_class(target):
            return self._follow(target)
        if not isinstance(target, type | types.FunctionType | types.BuiltinFunctionType):
            cls = type(target)
            if _is_user_class(cls):  # a callable instance: its class holds the code
                return self._follow(cls)
            target = cls
        name = _qualified(target)
        self.parts[name] = fingerprint(("external", name))
        return name

    def run(self) -> dict[str, str]:
        while self._queue:
            key, obj = self._queue.popleft()
            if isinstance(obj, type):
                self.parts[key] = self._class_digest(obj)
            else:
                self.parts[key] = self._function_digest(obj)
        return self.parts

    def _follow(self, obj: Any) -> str:
        """The part name of a user function or class, queueing it the first time."""
        key = self._keys.get(id(obj))
        if key is not None:
            return key
        base = _qualified(obj)
        key, n = base, 2
        while key in self.parts or key in self._keys.values():
            key, n = f"{base}#{n}", n + 1
        self._keys[id(obj)] = key
        self._alive.append(obj)
        self._queue.append((key, obj))
        return key

    def _constant(self, base: str, value: object) -> str:
        digest = fingerprint(value)
        key, n = base, 2
        while self.parts.get(key, digest) != digest or key in self._keys.values():
            key, n = f"{base}#{n}", n + 1
        self.parts[key] = digest
        return key

    def _function_digest(self, func: types.FunctionType) -> str:
        source = _function_source(func)
        body = ("source", source) if source is not None else ("code", _code_digest(func.__code__))
        names: set[str] = set()
        _code_names(func.__code__, names)
        state: set[str] = set()
        _stored_globals(func.__code__, state)
        names -= state
        return fingerprint(
            (
                "function",
                body,
                self._bindings(func, frozenset(names)),
                tuple(self._bind(v, None, frozenset()) for v in func.__defaults__ or ()),
                tuple(
                    sorted(
                        (k, self._bind(v, None, frozenset()))
                        for k, v in (func.__kwdefaults__ or {}).items()
                    )
                ),
            )
        )

    def _bindings(
        self, func: types.FunctionType, names: frozenset[str]
    ) -> tuple[tuple[str, str], ...]:
        """What each global and closure name of ``func`` is bound to, as identities."""
        namespace = func.__globals__
        module = namespace.get("__name__")
        bound = []
        for name in sorted(names):
            if name in namespace:
                value = namespace[name]
                self.watch.append((namespace, name, value))
                bound.append((name, self._bind(value, f"{module}:{name}", names)))
        for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # not assigned yet
                bound.append((f"<closure>{name}", "empty"))
                continue
            self.watch.append((cell, None, value))
            bound.append((f"<closure>{name}", self._bind(value, None, names)))
        return tuple(bound)

    def _bind(
        self,
        value: object,
        constant_key: str | None,
        names: frozenset[str],
        modules_seen: frozenset[int] = frozenset(),
    ) -> str:
        """Identity of what a name is bound to; follows user code as a side effect."""
        if isinstance(value, types.ModuleType):
            if not _is_user_module(value) or id(value) in modules_seen:
                return f"module {value.__name__}"
            # mod.helper: bytecode names attributes in co_names like globals, so every
            # co_name that the module has is followed (rarely one too many).
            seen = modules_seen | {id(value)}
            members = vars(value)
            self.watch.extend((members, a, members[a]) for a in sorted(names) if a in members)
            inner = ", ".join(
                f"{attr}={self._bind(members[attr], f'{value.__name__}:{attr}', names, seen)}"
                for attr in sorted(names)
                if attr in members
            )
            return f"module {value.__name__} {{{inner}}}"
        if isinstance(value, types.FunctionType):
            if _is_user_function(value):
                return "function " + self._follow(value)
            wrapped = inspect.getattr_static(value, "__wrapped__", None)
            if wrapped is not None:
                return f"{_qualified(value)} wrapping {self._bind(wrapped, None, names)}"
            return "external " + _qualified(value)
        if isinstance(value, types.MethodType):
            return f"method {self._bind(value.__func__, None, names)}"
        if isinstance(value, type):
            if _is_user_class(value):
                return "class " + self._follow(value)
            return "external " + _qualified(value)
        if isinstance(value, functools.partial):
            return f"partial of {self._bind(value.func, None, names)}"
        if _is_simple(value):
            if constant_key is None:
                return "value " + fingerprint(value)
            return "constant " + self._constant(constant_key, value)
        wrapped = inspect.getattr_static(value, "__wrapped__", None)
        if wrapped is not None:
            return f"{_qualified(type(value))} wrapping {self._bind(wrapped, None, names)}"
        if isinstance(value, types.BuiltinFunctionType):
            return "external " + _qualified(value)
        cls = type(value)
        if _is_user_class(cls):
            return "instance of class " + self._follow(cls)
        name = inspect.getattr_static(value, "__name__", None)
        if callable(value) and isinstance(name, str):  # ufuncs and other named callables
            return f"external {_qualified(cls)} {name}"
        return "instance of " + _qualified(cls)

    def _class_digest(self, cls: type) -> str:
        """A class is its name, its bases and its members; methods become parts."""
        members = []
        for name, member in sorted(vars(cls).items()):
            if name in _IGNORED_CLASS_ATTRIBUTES:
                continue
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property):
                accessors = (member.fget, member.fset, member.fdel)
                identity = ", ".join(self._bind(f, None, frozenset()) for f in accessors)
            else:
                identity = self._bind(member, None, frozenset())
            members.append((name, identity))
        bases = tuple(self._bind(base, None, frozenset()) for base in cls.__bases__)
        return fingerprint(("class", cls.__qualname__, bases, tuple(members)))
