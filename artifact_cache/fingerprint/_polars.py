"""polars data frames and series, by content (their Arrow IPC form, rechunked).

Imported by the registry only once a polars value is fingerprinted; needs no pyarrow.
"""

from __future__ import annotations

from typing import Any

from .values import RawBytes, register_builtin


def _ipc(frame: Any) -> RawBytes:
    data = frame.rechunk().write_ipc(None, compression="uncompressed").getbuffer()
    return RawBytes(data.nbytes, [data])


def _frame(frame: Any) -> object:
    return ("frame", _ipc(frame))


def _series(series: Any) -> object:
    return ("series", series.name, _ipc(series.to_frame()))


def _lazy(frame: Any) -> object:
    # The plan, not the data: a LazyFrame is a query, equal plans compute equal frames.
    return ("lazy", frame.serialize(format="json"))


register_builtin("polars.DataFrame", _frame)
register_builtin("polars.Series", _series)
register_builtin("polars.LazyFrame", _lazy)
