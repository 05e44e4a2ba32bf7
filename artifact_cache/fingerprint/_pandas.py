"""pandas frames, series, indexes, extension arrays and scalars, by content.

Imported by the registry only once a pandas value is fingerprinted, so pandas is loaded.
``pandas.util.hash_pandas_object`` is not used: it stringifies mixed object columns, so
``1`` and ``"1"`` would collide.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._numpy import array_value
from .values import Elements, register_builtin


def _frame(frame: Any) -> object:
    # iloc, not frame[name]: column names may repeat.
    columns = tuple(_values(frame.iloc[:, i]) for i in range(frame.shape[1]))
    return ("frame", frame.columns, frame.index, columns)


def _series(series: Any) -> object:
    return ("series", series.name, series.index, _values(series))


def _index(index: Any) -> object:
    if isinstance(index, pd.MultiIndex):
        # Level values, not levels and codes: those differ for equal indexes.
        levels = tuple(_values(index.get_level_values(i)) for i in range(index.nlevels))
        return ("multi", list(index.names), levels)
    if isinstance(index, pd.RangeIndex):
        return ("range", index.name, index.start, index.stop, index.step)
    return ("index", index.name, _values(index))


def _values(values: Any) -> object:
    """The values of a Series or Index, with their dtype."""
    if isinstance(values.dtype, np.dtype):
        return array_value(values.to_numpy(copy=False))
    return _extension(values.array)


def _extension(values: Any) -> object:
    dtype = values.dtype
    head = (type(dtype).__qualname__, str(dtype))
    if isinstance(dtype, pd.CategoricalDtype):
        return (head, dtype.ordered, dtype.categories, array_value(values.codes))
    if isinstance(dtype, pd.DatetimeTZDtype):
        return (head, array_value(values.asi8))  # a view; str(dtype) has the unit and zone
    if isinstance(
        values, pd.arrays.IntegerArray | pd.arrays.FloatingArray | pd.arrays.BooleanArray
    ):
        numpy_dtype = dtype.numpy_dtype
        data = values.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0))
        return (head, array_value(np.asarray(values.isna())), array_value(data))
    # Strings (pandas' str dtype), periods, intervals, ...: element by element.
    return (head, Elements(np.asarray(values, dtype=object).tolist()))


def _timestamp(value: Any) -> object:
    return (value.isoformat(), None if value.tz is None else str(value.tz), value.unit)


def _timedelta(value: Any) -> object:
    return (str(value), value.unit)


def _singleton(value: Any) -> object:
    return ()


register_builtin(pd.DataFrame, _frame)
register_builtin(pd.Series, _series)
register_builtin(pd.Index, _index)
register_builtin(pd.api.extensions.ExtensionArray, _extension)
register_builtin(pd.Timestamp, _timestamp, immutable=True)
register_builtin(pd.Timedelta, _timedelta, immutable=True)
register_builtin(type(pd.NA), _singleton, immutable=True)
register_builtin(type(pd.NaT), _singleton, immutable=True)
