"""numpy arrays, scalars and dtypes, hashed on their buffers.

Imported by the registry only once a numpy value is fingerprinted, so numpy is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .values import Elements, RawBytes, register_builtin

# Float arrays are checked for NaN in slices this size, small enough to stay in cache
# while xxh3 reads them again.
_CHUNK_BYTES = 256 * 1024


def dtype_value(dtype: Any) -> object:
    # dtype.str is "|V16" for every 16-byte record: add the fields when there are any.
    complex_layout = dtype.names is not None or dtype.subdtype is not None
    return ("dtype", dtype.str, repr(dtype) if complex_layout else "")


def array_value(array: Any) -> object:
    """An array's dtype, shape and content in C order (object arrays element by element)."""
    dtype = array.dtype
    if dtype.kind == "O":
        content: object = Elements(array.reshape(-1).tolist())
    elif dtype.hasobject:
        content = array.reshape(-1).tolist()
    else:
        content = buffer(array)
    return (dtype_value(dtype), array.shape, content)


def buffer(array: Any) -> RawBytes:
    """An array's bytes in C order; copied only when it is not C-contiguous.

    Every NaN of a float or complex array is hashed as the same NaN.
    """
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    return RawBytes(array.nbytes, _chunks(array) if array.nbytes else ())


def _chunks(array: Any) -> Iterator[Any]:
    flat = array.reshape(-1)
    kind = flat.dtype.kind
    if kind not in "fc":
        yield flat.view(np.uint8)
        return
    if kind == "c":
        flat = flat.view(flat.real.dtype)
    step = max(1, _CHUNK_BYTES // flat.dtype.itemsize)
    nan = flat.dtype.type("nan")
    largest = np.maximum.reduce
    for start in range(0, flat.size, step):
        chunk = flat[start : start + step]
        # max() is NaN if any element is: one vectorised pass that allocates nothing
        # (isnan().any() writes a mask first), the exact mask only when needed.
        top = largest(chunk)
        if top != top:
            chunk = chunk.copy()
            chunk[np.isnan(chunk)] = nan
        yield chunk.view(np.uint8)


def _scalar_value(value: Any) -> object:
    return (dtype_value(value.dtype), buffer(np.asarray(value)))


def _masked_value(value: Any) -> object:
    data, mask = array_value(np.asarray(value.data)), array_value(np.ma.getmaskarray(value))
    # filled() and arithmetic read the fill value; a hard mask changes what assigning
    # does. Both are left out only at their defaults, which keeps those keys as they were.
    fill = np.asarray(value.fill_value)
    default = np.asarray(np.ma.default_fill_value(value), dtype=fill.dtype)
    if not value.hardmask and fill.tobytes() == default.tobytes():
        return ("masked", data, mask)
    return ("masked", data, mask, array_value(fill), bool(value.hardmask))


register_builtin("numpy.ndarray", array_value)
register_builtin("numpy.ma.MaskedArray", _masked_value)
register_builtin("numpy.generic", _scalar_value, immutable=True)
register_builtin("numpy.dtype", dtype_value, immutable=True)
