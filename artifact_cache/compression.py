"""Payload compression by codec name, through fsspec's registry of compression codecs.

``gzip``, ``bz2`` and ``lzma`` (also ``xz``) come with Python; ``zstd`` needs the
zstandard package (the ``zstd`` extra); fsspec also offers ``lz4`` and ``snappy`` where
their packages are installed. A codec compresses the whole payload as one stream, at
its library's default level (zstd 3, gzip 6, bz2 9, lzma 6): on numeric data zstd 10
(fsspec's choice) and gzip 9 took 15 and 8 times as long for the same size. This module
uses fsspec's codec registry only, never a filesystem; it imports nothing of the package
but its errors.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, Any

from fsspec.compression import available_compressions, compr

from .errors import MissingDependencyError, install_hint

__all__ = ["check_codec", "codecs", "compress", "decompress", "reader"]

_PACKAGES: dict[str, tuple[str | None, str]] = {
    "zstd": ("zstd", "zstandard"),
    "lz4": (None, "lz4"),
    "snappy": (None, "python-snappy"),
}
"""Codecs fsspec registers only when a package is installed: (extra, package)."""

_NOT_STREAMS = frozenset({"zip"})
"""Registered with fsspec but an archive of named files, not a compressed stream."""

_WRITE_OPTIONS: dict[str, dict[str, Any]] = {
    "gzip": {"mtime": 0, "compresslevel": 6},
    "zstd": {"level": 3},
}
"""Passed to the codec when compressing. gzip's header holds no time, so that equal
payloads compress to equal bytes (and digests)."""

_READ_CHUNK = 2**20


def codecs() -> list[str]:
    """The codec names this installation can compress and decompress with.

    Examples:
        >>> {"gzip", "bz2", "lzma"} <= set(codecs())
        True
    """
    return sorted(n for n in available_compressions() if n and n not in _NOT_STREAMS)


def check_codec(name: object) -> str:
    """Return ``name`` if it is a codec usable here.

    Raises:
        MissingDependencyError: a codec whose package is not installed (names it, and the
            extra that brings it).
        ValueError: any other name (lists the usable ones).

    Examples:
        >>> check_codec("gzip")
        'gzip'
        >>> check_codec("rar")
        Traceback (most recent call last):
        ...
        ValueError: unknown compression 'rar'; available here: bz2, gzip, ...
    """
    if isinstance(name, str) and name in compr and name not in _NOT_STREAMS:
        return name
    if isinstance(name, str) and name in _PACKAGES:
        extra, package = _PACKAGES[name]
        how = install_hint(extra, package) if extra else f"install {package}"
        raise MissingDependencyError(f"compression {name!r} needs {package}: {how}", name=package)
    if not isinstance(name, str):
        raise ValueError(f"a compression is named by a string, not {type(name).__name__}")
    raise ValueError(f"unknown compression {name!r}; available here: {', '.join(codecs())}")


class _Sink(io.BytesIO):
    """Where a codec writes; some close their file when they close (zstandard does)."""

    def close(self) -> None:
        pass


def compress(chunks: Iterable[bytes | bytearray | memoryview], name: str) -> bytes:
    """The chunks' concatenation compressed with codec ``name``, as one stream.

    Examples:
        >>> data = b"abc" * 1000
        >>> packed = compress([data[:10], data[10:]], "gzip")
        >>> len(packed) < len(data), bytes(decompress(packed, "gzip")) == data
        (True, True)
    """
    sink = _Sink()
    with _writer(check_codec(name), sink) as f:
        for chunk in chunks:
            f.write(chunk)
    return sink.getvalue()


def _writer(name: str, sink: IO[bytes]) -> Any:
    opener = compr[name]
    options = _WRITE_OPTIONS.get(name, {})
    if name == "zstd" and getattr(opener, "__name__", "") == "zstandard_file":
        # fsspec's wrapper of the zstandard package takes no level (it fixes 10); the
        # standard library's ZstdFile, which fsspec prefers where it exists, takes one.
        import zstandard

        return zstandard.ZstdCompressor(**options).stream_writer(sink, closefd=False)
    return opener(sink, mode="wb", **options)


def decompress(data: bytes | bytearray | memoryview, name: str) -> memoryview:
    """The stream ``data`` decompressed with codec ``name``, in a writable buffer.

    Arrays loaded from it wrap it, and are writable as those of an uncompressed payload.
    """
    opener = compr[check_codec(name)]
    out = bytearray()
    with opener(io.BytesIO(data), mode="rb") as f:
        while chunk := f.read(_READ_CHUNK):
            out += chunk
    return memoryview(out)


class _Reader(io.RawIOBase):
    """A decompressing stream that closes the stored file when it is closed."""

    def __init__(self, inner: Any, source: IO[bytes]) -> None:
        self._inner = inner
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return int(self._inner.readinto(buffer))

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                self._source.close()
                super().close()


def reader(source: IO[bytes], name: str) -> IO[bytes]:
    """A binary file object reading ``source`` decompressed with codec ``name``.

    Closing it closes ``source``.

    Examples:
        >>> with reader(io.BytesIO(compress([b"hello"], "bz2")), "bz2") as f:
        ...     f.read()
        b'hello'
    """
    opener = compr[check_codec(name)]
    return io.BufferedReader(_Reader(opener(source, mode="rb"), source))
