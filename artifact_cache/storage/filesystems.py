"""Opening a store's filesystem: URL checks, ``dir::`` and cache layers, fresh listings.

A URL whose saves could not be read back is refused in one line; an unknown scheme or a
missing backend package gets the library's own errors. Records and listings go to the
filesystem under any ``dir::`` or caching layer, in a private copy whose fsspec listing
cache (``dircache``) never keeps anything; only payloads (immutable) may come through a
cache.
"""

from __future__ import annotations

import threading
from typing import Any

import fsspec
from fsspec.dircache import DirCache
from fsspec.implementations.cached import CachingFileSystem
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from ..errors import ArtifactStoreError, MissingDependencyError, UnknownSchemeError, install_hint
from .objectstore import EXTRAS, S3_RETRIES, layer_protocols, with_defaults

__all__ = [
    "RENAMING",
    "check_bucket",
    "open_filesystem",
    "protocols",
    "unwrap",
    "without_listing_cache",
]

_private_lock = threading.Lock()
_private: dict[str, Any] = {}


def without_listing_cache(fs: Any, *, fresh: bool = False) -> Any:
    """A filesystem like ``fs`` whose listing cache keeps nothing (one per fsspec token).

    fsspec shares one instance per set of options, and s3fs, gcsfs and adlfs answer
    ``ls``, ``info`` and ``exists`` from listings cached by earlier calls (never
    refreshed for sub-folders). A private copy with a ``DirCache`` that keeps nothing
    makes every answer fresh without changing the instance the user's own code shares.
    ``fresh``: ``fs`` was made for this store alone (``skip_instance_cache=True``), and
    is used itself.
    """
    if isinstance(fs, LocalFileSystem | MemoryFileSystem):
        return fs  # they list afresh every time
    if fresh:
        return _quiet(fs)
    token = str(getattr(fs, "_fs_token", id(fs)))
    with _private_lock:
        found = _private.get(token)
        if found is None:
            options = {**fs.storage_options, "skip_instance_cache": True}
            try:
                copy = type(fs)(*fs.storage_args, **options)
            except Exception:
                # A filesystem that cannot be made twice from its arguments: stop caching
                # on the shared one (its listings only get fresher).
                copy = fs
            found = _private[token] = _quiet(copy)
    return found


def _quiet(fs: Any) -> Any:
    """Make ``fs`` keep no listings (and, on S3, retry less than s3fs's default)."""
    fs.dircache = DirCache(use_listings_cache=False)
    if "s3" in protocols(fs):
        fs.retries = S3_RETRIES
    return fs


def protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


_REFUSED = {
    "reference": "a reference filesystem is a read-only view of other files: what is "
    "saved through it is lost; open the store at the URL of the files themselves",
}
"""Protocols a store cannot work on, anywhere in a chained URL, and why."""

_ARCHIVES = ("zip", "tar")
"""Protocols that read inside an archive: the archive is named after ``::``."""

RENAMING = frozenset({"sftp", "ssh"})
"""Protocols with folders and an atomic rename: writes go to a temporary name first."""


def _check_url(url: str, storage_options: dict[str, Any]) -> None:
    """Refuse, in one line, a URL whose saves could not be read back."""
    layers = url.split("::")
    for layer in layers:
        protocol = fsspec.core.split_protocol(layer)[0]
        if protocol in _REFUSED:
            raise ArtifactStoreError(f"cannot open store {url}: {_REFUSED[protocol]}")
    protocol = fsspec.core.split_protocol(layers[0])[0]
    if protocol in _ARCHIVES and len(layers) == 1 and "fo" not in storage_options:
        msg = (
            f"cannot open store {url}: a {protocol}:// URL needs the archive after '::', "
            f"e.g. {protocol}://folder-in-archive::path/to/archive.{protocol}"
        )
        raise ArtifactStoreError(msg)


def unwrap(fs: Any, path: str) -> tuple[Any, str, Any]:
    """(filesystem for records and writes, root path, filesystem for reading payloads).

    A ``dir::`` prefix filesystem is replaced by the one it wraps, at its folder (fsspec
    hands back the folder again as the path, which would double it). A caching layer
    (``simplecache::``, ``filecache::``, ``blockcache::``) serves payloads only: they are
    named by their digest and never change, while a record read through a cache could
    be stale.
    """
    if isinstance(fs, DirFileSystem):
        inner = fs.fs
        path = fs.path if path.rstrip("/") == str(fs.path).rstrip("/") else fs._join(path)
        return unwrap(inner, str(path))
    if isinstance(fs, CachingFileSystem):
        target, root, _ = unwrap(fs.fs, path)
        return target, root, fs
    return fs, path, fs


def open_filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    _check_url(url, storage_options)
    try:
        fs, path = fsspec.core.url_to_fs(url, **with_defaults(url, storage_options))
        return fs, str(path)
    except ValueError as exc:
        if "not known" not in str(exc) and "not available" not in str(exc):
            raise ArtifactStoreError(f"cannot open store {url}: {exc}") from exc
        known = ", ".join(sorted(fsspec.available_protocols()))
        scheme = url.split("://", 1)[0]
        msg = f"cannot open store {url}: unknown URL scheme {scheme!r}; fsspec knows: {known}"
        raise UnknownSchemeError(msg) from exc
    except ImportError as exc:
        # fsspec's message names the package to install ("Install s3fs to access S3").
        msg = f"cannot open store {url}: {exc}"
        extra = next((EXTRAS[p.lower()] for p in layer_protocols(url) if p.lower() in EXTRAS), None)
        if extra is not None:
            msg = f"{msg}: {install_hint(*extra)}"
        raise MissingDependencyError(msg, name=extra[1] if extra else None) from exc
    except Exception as exc:
        # Filesystems that connect when created (sftp) fail here: refused, bad login, ...
        raise ArtifactStoreError(f"cannot open store {url}: {type(exc).__name__}: {exc}") from exc


def check_bucket(fs: Any, root: str, url: str) -> None:
    """On object stores, a missing bucket is an error, not an empty store."""
    split = getattr(fs, "split_path", None)
    if split is None:
        return
    bucket = split(root)[0]
    if bucket and not fs.exists(bucket):
        word = "container" if set(protocols(fs)) & {"abfs", "az", "adl"} else "bucket"
        msg = (
            f"store {url}: {word} {bucket!r} does not exist (or these credentials "
            "cannot see it); create it first"
        )
        raise ArtifactStoreError(msg)
