"""Serializers: strategy objects that turn objects into payload bytes and back.

A serializer produces a payload as a list of chunks (``bytes`` or ``memoryview``) so that
large buffers are written straight from the object's memory, and reads back from one
``memoryview`` over the payload so that arrays can wrap it without another copy. The
registry is exposed read-only; add to it with [`register_serializer`][]. This is the
only module that imports cloudpickle.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import cloudpickle

__all__ = [
    "JsonSerializer",
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
    """What a serializer provides. ``name`` is recorded in every ArtifactInfo."""

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
        if data[:4] != self.MAGIC:
            # A bare pickle stream (written by hand or by another tool) still loads.
            return pickle.loads(data)
        _, count, body_len = self._HEAD.unpack_from(data)
        pos = self._HEAD.size
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


for _s in (PickleSerializer(), RawSerializer(), JsonSerializer()):
    register_serializer(_s)
