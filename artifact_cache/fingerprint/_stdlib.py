"""Canonical encodings of the stdlib's value types that are not builtins.

Decimals, fractions, datetimes, dates, times, timedeltas, UUIDs, ranges and slices, each
as a tag plus its defining fields. ``values.py`` looks these functions up by exact type
(`STDLIB_ENCODERS`), as it does its own builtin encoders; they write through its encoder.
Imports only the stdlib.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .values import _Encoder

_T_DECIMAL = b"D"
_T_FRACTION = b"Q"
_T_DATETIME = b"@"
_T_DATE = b"a"
_T_TIME = b"h"
_T_TIMEDELTA = b"r"
_T_UUID = b"u"
_T_RANGE = b"R"
_T_SLICE = b":"


def encode_decimal(enc: _Encoder, value: decimal.Decimal) -> None:
    # str() keeps the exponent: Decimal("1.0") and Decimal("1.00") differ, as in pickle.
    enc._text(_T_DECIMAL, str(value))


def encode_fraction(enc: _Encoder, value: fractions.Fraction) -> None:
    enc._h.update(_T_FRACTION)
    enc._int(value.numerator)
    enc._int(value.denominator)


def encode_datetime(enc: _Encoder, value: datetime.datetime) -> None:
    enc._h.update(_T_DATETIME)
    enc._tuple(
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
    enc.encode(value.tzinfo)


def encode_date(enc: _Encoder, value: datetime.date) -> None:
    enc._h.update(_T_DATE)
    enc._tuple((value.year, value.month, value.day))


def encode_time(enc: _Encoder, value: datetime.time) -> None:
    enc._h.update(_T_TIME)
    enc._tuple((value.hour, value.minute, value.second, value.microsecond, value.fold))
    enc.encode(value.tzinfo)


def encode_timedelta(enc: _Encoder, value: datetime.timedelta) -> None:
    enc._h.update(_T_TIMEDELTA)
    enc._tuple((value.days, value.seconds, value.microseconds))


def encode_uuid(enc: _Encoder, value: uuid.UUID) -> None:
    enc._blob(_T_UUID, value.bytes)


def encode_range(enc: _Encoder, value: range) -> None:
    enc._h.update(_T_RANGE)
    enc._tuple((value.start, value.stop, value.step))


def encode_slice(enc: _Encoder, value: slice) -> None:
    enc._h.update(_T_SLICE)
    enc._tuple((value.start, value.stop, value.step))


# Exact types only: a subclass of one of these is encoded as any other object.
STDLIB_ENCODERS: dict[type, Callable[[_Encoder, Any], None]] = {
    decimal.Decimal: encode_decimal,
    fractions.Fraction: encode_fraction,
    datetime.datetime: encode_datetime,
    datetime.date: encode_date,
    datetime.time: encode_time,
    datetime.timedelta: encode_timedelta,
    uuid.UUID: encode_uuid,
    range: encode_range,
    slice: encode_slice,
}
