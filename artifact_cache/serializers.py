"""Serializers: strategy objects that turn objects into payload bytes and back.

A serializer produces a payload as a list of chunks (``bytes`` or ``memoryview``) so that
large buffers are written straight from the object's memory, and reads back from one
``memoryview`` over the payload so that arrays can wrap it without another copy. The
registry is exposed read-only; add to it with [`register_serializer`][]. This is the
only module that imports cloudpickle.
"""

from __future__ import annotations

import importlib
import io
import json
import pickle
import struct
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import cloudpickle

from .errors import MissingDependencyError, install_hint

__all__ = [
    "JsonSerializer",
    "ParquetSerializer",
    "PickleSerializer",
    "RawSerializer",
    "Serializer",
    "get_serializer",
    "register_serializer",
    "serializers",
]

Chunk = bytes | bytearray | memoryview


@runtime_checkable
class Serializer(Protocol):
    """What a serializer provides. ``name`` is recorded in every ArtifactInfo.

    Two more members are optional: ``compressible`` (default True), whether ``compress=``
    may compress its payloads (False for files other tools read as they are), and
    ``loads_as(data, python_type)``, which the store calls instead of ``loads`` with the
    record's ``python_type`` (Parquet uses it to return a DataFrame or a Table).
    """

    name: str
    mime_type: str

    def dumps(self, obj: Any) -> list[Chunk]:
        """Return the payload as chunks whose concatenation is the stored bytes."""
        ...

    def loads(self, data: memoryview) -> Any:
        """Rebuild the object from the whole payload (already verified against its digest)."""
        ...


class PickleSerializer:
    """cloudpickle with pickle protocol 5 and out-of-band buffers (the default).

    Large contiguous buffers (numpy arrays, pandas blocks, arrow buffers) are kept out of
    the pickle stream: they are written from the object's own memory and, on load, wrap the
    payload read from storage, so neither direction builds another whole-payload copy.

    Payload layout (little endian): ``b"ACP1"``, u32 buffer count, u64 pickle length, then
    per buffer u64 offset and u64 length; the pickle stream follows the header; each buffer
    starts at a 64-byte aligned offset so that arrays load aligned.
    """

    name = "pickle"
    mime_type = "application/x-python-pickle"
    MAGIC = b"ACP1"
    _HEAD = struct.Struct("<4sIQ")
    _ENTRY = struct.Struct("<QQ")
    ALIGN = 64
    INBAND_BELOW = 8192
    """Buffers smaller than this stay in the pickle stream: an entry costs more than a copy."""

    def dumps(self, obj: Any) -> list[Chunk]:
        buffers: list[memoryview] = []

        def keep(buf: pickle.PickleBuffer) -> bool:
            try:
                raw = buf.raw()
            except BufferError:  # not contiguous: pickle copies it in-band
                return True
            if raw.nbytes < self.INBAND_BELOW:
                return True
            buffers.append(raw)
            return False

        stream = io.BytesIO()
        cloudpickle.CloudPickler(stream, protocol=5, buffer_callback=keep).dump(obj)
        body = stream.getbuffer()
        head_len = self._HEAD.size + self._ENTRY.size * len(buffers)
        entries = []
        chunks: list[Chunk] = [b"", body]
        offset = head_len + body.nbytes
        for raw in buffers:
            pad = -offset % self.ALIGN
            if pad:
                chunks.append(b"\0" * pad)
                offset += pad
            entries.append(self._ENTRY.pack(offset, raw.nbytes))
            chunks.append(raw)
            offset += raw.nbytes
        chunks[0] = self._HEAD.pack(self.MAGIC, len(buffers), body.nbytes) + b"".join(entries)
        return chunks

    def loads(self, data: memoryview) -> Any:
        head = self._HEAD
        try:  # (the magic read with the header: one call on every load)
            magic, count, body_len = head.unpack_from(data)
        except struct.error:  # shorter than a header: a bare pickle stream, or damaged
            if data[:4] == self.MAGIC:
                raise
            magic = None
        if magic != self.MAGIC:
            # A bare pickle stream (written by hand or by another tool) still loads.
            return pickle.loads(data)
        pos = head.size
        if not count:  # (every small payload: all of it in the pickle stream)
            return pickle.loads(data[pos : pos + body_len])
        buffers = []
        for _ in range(count):
            start, length = self._ENTRY.unpack_from(data, pos)
            buffers.append(data[start : start + length])
            pos += self._ENTRY.size
        return pickle.loads(data[pos : pos + body_len], buffers=buffers)


class RawSerializer:
    """Bytes stored as they are, with a mime type; ``get`` returns ``bytes``.

    A raw payload is exactly the bytes given, so ``store.open`` and ``store.url`` serve
    the file itself (a CSV, a PNG, a parquet file written elsewhere).
    """

    name = "raw"
    mime_type = "application/octet-stream"
    compressible = False
    """A raw payload is the file given, so that ``store.url`` serves it as it is."""

    def dumps(self, obj: Any) -> list[Chunk]:
        if isinstance(obj, str):
            raise TypeError("the raw serializer stores bytes; encode the str first")
        return [memoryview(obj).cast("B")]

    def loads(self, data: memoryview) -> Any:
        return bytes(data)


class JsonSerializer:
    """JSON text (UTF-8), for small configuration-like values readable by any tool."""

    name = "json"
    mime_type = "application/json"

    def dumps(self, obj: Any) -> list[Chunk]:
        return [json.dumps(obj, ensure_ascii=False, allow_nan=True).encode()]

    def loads(self, data: memoryview) -> Any:
        return json.loads(bytes(data))


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        msg = f"Parquet artifacts need pyarrow: {install_hint('parquet', 'pyarrow')}"
        raise MissingDependencyError(msg, name="pyarrow") from exc
    return pq


def _library(name: str, what: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        msg = f"this Parquet artifact was saved as {what} and loads as one: install {name}"
        raise MissingDependencyError(msg, name=name) from exc


class ParquetSerializer:
    """pandas DataFrames, pyarrow Tables and polars DataFrames as a plain Parquet file.

    The payload is what ``DataFrame.to_parquet`` (pyarrow engine), ``pyarrow.parquet.
    write_table`` or polars' ``write_parquet`` writes, so any tool reads it:
    ``pd.read_parquet(store.open(step))``. ``get`` returns the type that was saved (the
    record's ``python_type``), a DataFrame's index and dtypes restored as
    ``pd.read_parquet`` restores them. pandas and pyarrow Tables need pyarrow (the
    ``parquet`` extra); polars reads and writes Parquet itself. Subclasses (a GeoDataFrame,
    say) are refused: they would not come back as themselves; pickle them.

    Examples:
        >>> import pyarrow as pa
        >>> table = pa.table({"x": [1, 2]})
        >>> [payload] = ParquetSerializer().dumps(table)
        >>> bytes(payload[:4]), ParquetSerializer().loads(payload).equals(table)
        (b'PAR1', True)
    """

    name = "parquet"
    mime_type = "application/vnd.apache.parquet"
    compressible = False
    """Parquet compresses its column chunks itself (snappy by default)."""

    @staticmethod
    def _kind(obj: Any) -> str | None:
        cls = type(obj)
        top = cls.__module__.split(".")[0]
        # Each library is imported only if it made ``obj``, so it is loaded already.
        if top == "pandas" and cls is sys.modules["pandas"].DataFrame:
            return "pandas"
        if top == "pyarrow" and cls is sys.modules["pyarrow"].Table:
            return "arrow"
        if top == "polars" and cls is sys.modules["polars"].DataFrame:
            return "polars"
        return None

    def dumps(self, obj: Any) -> list[Chunk]:
        kind = self._kind(obj)
        if kind is None:
            cls = type(obj)
            msg = (
                "the parquet serializer stores pandas DataFrames, pyarrow Tables and polars "
                f"DataFrames, not {cls.__module__}.{cls.__qualname__} (pickle it instead)"
            )
            raise TypeError(msg)
        stream = io.BytesIO()
        if kind == "polars":
            obj.write_parquet(stream)
        elif kind == "arrow":
            _pyarrow_parquet().write_table(obj, stream)
        else:
            _pyarrow_parquet()
            obj.to_parquet(stream, engine="pyarrow")
        return [stream.getbuffer()]

    def loads(self, data: memoryview) -> Any:
        """A pyarrow Table (what any Parquet file can be read as)."""
        return self.loads_as(data, "pyarrow.lib.Table")

    def loads_as(self, data: memoryview, python_type: str) -> Any:
        """The Parquet file ``data`` as the type it was saved as."""
        top = python_type.split(".")[0]
        if top == "polars":
            return _library("polars", "a polars DataFrame").read_parquet(io.BytesIO(data))
        pq = _pyarrow_parquet()
        if top == "pandas":
            pd = _library("pandas", "a pandas DataFrame")
            return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        import pyarrow as pa

        return pq.read_table(pa.BufferReader(data))


_REGISTRY: dict[str, Serializer] = {}
serializers: Mapping[str, Serializer] = MappingProxyType(_REGISTRY)
"""The registered serializers by name (read-only; see [`register_serializer`][])."""


def register_serializer(serializer: Serializer, *, replace: bool = False) -> None:
    """Make ``serializer`` available by its ``name``.

    Examples:
        >>> class Upper(RawSerializer):
        ...     name = "upper-doc"
        >>> register_serializer(Upper())
        >>> "upper-doc" in serializers
        True
    """
    if not isinstance(serializer, Serializer):
        raise TypeError(f"{serializer!r} lacks name, mime_type, dumps or loads")
    if serializer.name in _REGISTRY and not replace:
        raise ValueError(f"a serializer named {serializer.name!r} is already registered")
    _REGISTRY[serializer.name] = serializer


def get_serializer(name: str) -> Serializer:
    """Return the serializer registered as ``name``.

    Examples:
        >>> get_serializer("json").mime_type
        'application/json'
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown serializer {name!r}; registered: {known}") from None


for _s in (PickleSerializer(), RawSerializer(), JsonSerializer(), ParquetSerializer()):
    register_serializer(_s)
