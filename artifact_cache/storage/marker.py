"""The store's format marker, ``STORE.json``: which format version wrote the store.

A store written in a newer format than this release reads is refused; a missing marker
is written before the first write, and an older one is raised to this release's version
by it (see docs/format.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import StoreFormatError

__all__ = ["FORMAT_VERSION", "MARKER", "marker_text", "read_marker"]

FORMAT_VERSION = 2
"""Format version written to STORE.json. Version 2 adds records that hold their payload
(``inline``); version 1 stores are read as they are, and their marker is raised to 2 by
the first save of a release that writes version 2."""
"""Version of the on-storage layout written by this release (see docs/format.md)."""

MARKER = "STORE.json"
"""The marker's name, at the store's root."""


def read_marker(
    cat: Callable[[str], bytes], path: str, url: str, check_bucket: Callable[[], None]
) -> tuple[bool, Any]:
    """(whether the marker at ``path`` is there, the version it names).

    Raises StoreFormatError if it names a version newer than `FORMAT_VERSION` (or is
    unreadable); where it is missing, ``check_bucket`` refuses a missing bucket.
    """
    marker: Any = None
    present = True
    try:
        marker = json.loads(cat(path))
    except FileNotFoundError:
        present = False
        check_bucket()
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError)
        marker = "unreadable"
    if present:
        version = marker.get("version") if isinstance(marker, dict) else None
        if type(version) is not int or version > FORMAT_VERSION:
            msg = (
                f"store {url} has format version {version!r}, newer than this "
                f"artifact_cache reads ({FORMAT_VERSION}); upgrade artifact_cache"
            )
            raise StoreFormatError(msg)
    return present, marker.get("version") if present else None


def marker_text() -> bytes:
    """The marker this release writes."""
    return json.dumps({"format": "artifact_cache", "version": FORMAT_VERSION}).encode()
