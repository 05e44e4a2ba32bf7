"""Differential property test of value fingerprints against an independent oracle.

Pairs of values are drawn from small domains (so that equal pairs are common); the
oracle ``same`` says whether two values are equal and of the same type all the way
down, following the documented rules (docs/keys.md): every NaN equals every NaN, ``-0.0``
and ``0.0`` differ, dtypes, shapes, index types and names count. Fingerprints must be
equal exactly when the oracle says so. Fixed seed, a few hundred examples.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import fractions
import math
import struct
from collections.abc import Callable
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from artifact_cache.fingerprint import fingerprint

DIFFERENTIAL = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- user values
class Point:
    def __init__(self, x: Any, y: Any) -> None:
        self.x, self.y = x, y


class Slotted:
    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v


def scale_by(k: Any) -> Callable[[Any], Any]:
    def scale(x: Any) -> Any:
        return x * k

    scale.made_with = ("scale", k)  # type: ignore[attr-defined]
    return scale


def shift_by(k: Any) -> Callable[[Any], Any]:
    def shift(x: Any) -> Any:
        return x + k

    shift.made_with = ("shift", k)  # type: ignore[attr-defined]
    return shift


# --------------------------------------------------------------------------- strategies
FLOATS = st.sampled_from([0.0, -0.0, 1.0, 1.5, -2.0, math.inf, math.nan, -math.nan])
ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=1))]
HASHABLE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    FLOATS,
    st.sampled_from([1 + 2j, 1 - 2j, complex(0.0, -0.0)]),
    st.sampled_from(["", "a", "b", "ab", "é"]),
    st.sampled_from([b"", b"a", b"ab"]),
    st.sampled_from([decimal.Decimal("1.0"), decimal.Decimal("1.00"), decimal.Decimal(2)]),
    st.sampled_from([fractions.Fraction(1, 2), fractions.Fraction(1, 3)]),
    st.builds(
        dt.datetime,
        st.just(2024),
        st.integers(1, 2),
        st.just(1),
        tzinfo=st.sampled_from([None, *ZONES]),
    ),
    st.sampled_from([dt.date(2024, 1, 1), dt.timedelta(seconds=1), dt.time(1, 2)]),
)
DTYPES = [
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "float32",
    "float64",
    "complex128",
    "bool",
    "U2",
    "S2",
    "datetime64[ns]",
]
SHAPES = [(0,), (1,), (2,), (1, 2), (2, 1), (2, 2)]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray[Any, Any]:
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.sampled_from(SHAPES))
    size = int(np.prod(shape))
    cells = draw(st.lists(st.integers(0, 1), min_size=size, max_size=size))
    array = np.array(cells, dtype="int64").astype(dtype).reshape(shape)
    if size and np.dtype(dtype).kind in "fc":
        array.flat[0] = draw(st.sampled_from([0.0, -0.0, math.nan, 1.0]))
    if draw(st.booleans()) and array.ndim == 2:
        array = np.asfortranarray(array)  # the layout in memory does not count
    return array


LABELS = st.sampled_from(["a", "b"])


@st.composite
def indexes(draw: st.DrawFn, n: int) -> pd.Index:
    kind = draw(st.sampled_from(["range", "int", "str", "multi"]))
    name = draw(st.sampled_from([None, "k", "j"]))
    if kind == "range":
        return pd.RangeIndex(n, name=name)
    if kind == "int":
        return pd.Index(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), name=name)
    if kind == "str":
        return pd.Index(draw(st.lists(LABELS, min_size=n, max_size=n)), name=name, dtype=object)
    first = draw(st.lists(LABELS, min_size=n, max_size=n))
    second = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    names = draw(st.sampled_from([[None, None], ["k", "j"]]))
    return pd.MultiIndex.from_arrays([first, second], names=names)


@st.composite
def columns(draw: st.DrawFn, n: int) -> Any:
    kind = draw(st.sampled_from(["int64", "float64", "object", "category", "Int64", "tz"]))
    cells = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    if kind == "int64":
        return pd.array(np.array(cells, dtype="int64"))
    if kind == "float64":
        values = np.array(cells, dtype="float64")
        if n and draw(st.booleans()):
            values[0] = math.nan
        return values
    if kind == "object":
        return np.array([["x", "y"][c] for c in cells], dtype=object)
    if kind == "category":
        ordered = draw(st.booleans())
        return pd.Categorical(
            [["x", "y"][c] for c in cells], categories=["x", "y"], ordered=ordered
        )
    if kind == "Int64":
        return pd.array([None if c == 0 and draw(st.booleans()) else c for c in cells], "Int64")
    zone = draw(st.sampled_from(["UTC", "Europe/Paris"]))
    stamps = pd.to_datetime([f"2024-01-0{c + 1}" for c in cells])
    return stamps.tz_localize(zone)


@st.composite
def series(draw: st.DrawFn) -> pd.Series:
    n = draw(st.integers(0, 2))
    return pd.Series(
        draw(columns(n)), index=draw(indexes(n)), name=draw(st.sampled_from([None, "s", "t"]))
    )


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 2))
    names = draw(st.sampled_from([["a"], ["b"], ["a", "b"], ["b", "a"]]))
    frame = pd.DataFrame({name: draw(columns(n)) for name in names})
    frame.index = draw(indexes(n))
    return frame


CALLABLES = st.one_of(
    st.builds(scale_by, st.integers(1, 2)),
    st.builds(shift_by, st.integers(1, 2)),
    st.builds(scale_by, st.sampled_from([np.array([1.0]), np.array([2.0])])),
)
INSTANCES = st.one_of(
    st.builds(Point, st.integers(0, 1), st.integers(0, 1)),
    st.builds(Slotted, st.sampled_from([0, 1, "1"])),
)
LEAVES = st.one_of(HASHABLE, arrays(), series(), frames(), CALLABLES, INSTANCES)
VALUES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=2),
        st.lists(children, max_size=2).map(tuple),
        st.dictionaries(HASHABLE, children, max_size=2),
        st.frozensets(HASHABLE, max_size=2),
        st.sets(HASHABLE, max_size=2),
    ),
    max_leaves=4,
)


# --------------------------------------------------------------------------- the oracle
def same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)  # -0.0 is not 0.0


def same_array(a: Any, b: Any) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        flat_a = a.reshape(-1).view(a.real.dtype) if a.dtype.kind == "c" else a.reshape(-1)
        flat_b = b.reshape(-1).view(b.real.dtype) if b.dtype.kind == "c" else b.reshape(-1)
        return all(same_float(float(x), float(y)) for x, y in zip(flat_a, flat_b, strict=True))
    return bool(np.array_equal(a, b))


def same_index(a: pd.Index, b: pd.Index) -> bool:
    return (
        type(a) is type(b)
        and list(a.names) == list(b.names)
        and a.dtype == b.dtype
        and bool(a.equals(b))
    )


def same_values(a: Any, b: Any) -> bool:
    if a.dtype != b.dtype:
        return False
    if isinstance(a.dtype, pd.CategoricalDtype):
        return same_index(a.dtype.categories, b.dtype.categories) and list(a.codes) == list(b.codes)
    return bool(pd.Series(a).equals(pd.Series(b)))


def same_series(a: pd.Series, b: pd.Series) -> bool:
    return same(a.name, b.name) and same_index(a.index, b.index) and same_values(a.array, b.array)


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return (
        same_index(a.columns, b.columns)
        and same_index(a.index, b.index)
        and all(same_values(a[c].array, b[c].array) for c in a.columns)
    )


def same_pairs(a: Any, b: Any) -> bool:
    """Two collections of (key, value) match one to one under ``same``."""
    rest = list(b)
    for item in a:
        for i, other in enumerate(rest):
            if same(item, other):
                del rest[i]
                break
        else:
            return False
    return not rest


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down, by the documented rules."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return same_float(a, b)
    if isinstance(a, complex):
        return same_float(a.real, b.real) and same_float(a.imag, b.imag)
    if isinstance(a, dt.datetime):
        return a == b and a.tzinfo == b.tzinfo and a.utcoffset() == b.utcoffset()
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and same_pairs(a.items(), b.items())
    if isinstance(a, set | frozenset):
        return len(a) == len(b) and same_pairs(a, b)
    if isinstance(a, np.ndarray):
        return same_array(a, b)
    if isinstance(a, pd.Series):
        return same_series(a, b)
    if isinstance(a, pd.DataFrame):
        return same_frame(a, b)
    if callable(a) and hasattr(a, "made_with"):
        return same(a.made_with, b.made_with)
    if isinstance(a, Point):
        return same((a.x, a.y), (b.x, b.y))
    if isinstance(a, Slotted):
        return same(a.v, b.v)
    return bool(a == b)


# --------------------------------------------------------------------------- properties
class TestDifferential:
    @DIFFERENTIAL
    @given(VALUES, VALUES)
    def test_keys_equal_exactly_when_values_are_the_same(self, a: Any, b: Any) -> None:
        """Two values get one key if and only if they are equal and of the same types."""
        equal = same(a, b)
        event("same" if equal else "different")
        assert (fingerprint(a) == fingerprint(b)) == equal, (a, b)

    @DIFFERENTIAL
    @given(VALUES)
    def test_a_copy_gets_the_same_key(self, value: Any) -> None:
        """A deep copy, and a pickle round trip, give the value's key.

        Functions are left out of the round trip: one rebuilt from a pickle has no
        source file, so it is fingerprinted from its bytecode (docs/keys.md).
        """
        assert fingerprint(copy.deepcopy(value)) == fingerprint(value)
        if "<function" not in repr(value):
            assert fingerprint(cloudpickle.loads(cloudpickle.dumps(value))) == fingerprint(value)

    @settings(derandomize=True, max_examples=60, deadline=None)
    @given(
        st.lists(st.integers(0, 1), min_size=4, max_size=4),
        st.sampled_from(DTYPES),
        st.sampled_from(DTYPES),
        st.sampled_from([(4,), (2, 2), (1, 4), (4, 1)]),
        st.sampled_from([(4,), (2, 2), (1, 4), (4, 1)]),
    )
    def test_arrays_differing_by_dtype_or_shape_differ(
        self,
        cells: list[int],
        dtype: str,
        other_dtype: str,
        shape: tuple[int, ...],
        other_shape: tuple[int, ...],
    ) -> None:
        """The same cells as another dtype or in another shape always get another key."""
        base = np.array(cells, dtype="int64")
        left = base.astype(dtype).reshape(shape)
        right = base.astype(other_dtype).reshape(other_shape)
        differs = dtype != other_dtype or shape != other_shape
        assert (fingerprint(left) != fingerprint(right)) == differs
