"""The payload digest: xxh3_128 over raw bytes, fed in slices.

Separate from the fingerprints of values and code (``artifact_cache.fingerprint``): a
payload is hashed as the bytes it is, never decoded. Imports only ``xxhash``.
"""

from __future__ import annotations

__all__ = ["hash_bytes", "hasher"]

import xxhash

# xxhash keeps the GIL while it runs: slices let a thread writing the same payload to
# disk take turns with it instead of waiting for the whole hash.
_HASH_SLICE = 8 * 2**20
_one_shot = xxhash.xxh3_128_hexdigest


def hash_bytes(*chunks: bytes | bytearray | memoryview) -> str:
    """Return the xxh3_128 hex digest of the concatenated chunks, without joining them.

    Examples:
        >>> hash_bytes(b"ab", b"c") == hash_bytes(b"abc")
        True
    """
    if len(chunks) == 1 and len(chunks[0]) <= _HASH_SLICE:
        return _one_shot(chunks[0])  # (a small payload: one call, no hasher object)
    h = xxhash.xxh3_128()
    for chunk in chunks:
        if len(chunk) <= _HASH_SLICE:  # len() counts items, so this is only a shortcut
            h.update(chunk)
            continue
        view = memoryview(chunk).cast("B")
        for start in range(0, view.nbytes, _HASH_SLICE):
            h.update(view[start : start + _HASH_SLICE])
    return h.hexdigest()


def hasher() -> xxhash.xxh3_128:
    """A new streaming hasher of the payload digest: ``update(chunk)``, then ``hexdigest()``.

    Examples:
        >>> h = hasher()
        >>> h.update(b"ab"); h.update(b"c")
        >>> h.hexdigest() == hash_bytes(b"abc")
        True
    """
    return xxhash.xxh3_128()
