"""open_store(): the one way in, from a URL, the environment, or the default folder.

Storage options go to fsspec untouched; credentials and endpoints for S3 come from
botocore's usual configuration (``AWS_*`` variables, profiles, ``AWS_ENDPOINT_URL``) or
fsspec's own (``FSSPEC_S3_*``), which this module does not re-invent.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

from .errors import UnknownSchemeError
from .signing import redact_url
from .store import ArtifactStore

__all__ = ["DEFAULT_URL", "ENV_URL", "check_url", "default_url", "open_store"]

ENV_URL = "ARTIFACT_CACHE_URL"
"""The environment variable naming the store to use when no URL is given."""

DEFAULT_URL = "./.artifact_cache"
"""The store used when neither a URL nor ``$ARTIFACT_CACHE_URL`` is given."""


def default_url() -> str:
    """``$ARTIFACT_CACHE_URL`` if set and not empty, else ``./.artifact_cache``."""
    return os.environ.get(ENV_URL) or DEFAULT_URL


def open_store(
    url: str | None = None,
    *,
    progress: bool | None = None,
    signing_key: str | bytes | None = None,
    read_only: bool = False,
    keep_versions: int | None = None,
    max_size: int | str | None = None,
    max_count: int | None = None,
    max_age: float | dt.timedelta | str | None = None,
    prune_every: int | None = None,
    **storage_options: Any,
) -> ArtifactStore:
    """Open the artifact store at ``url`` (any fsspec URL or a local folder).

    Args:
        url: ``memory://name``, ``/a/folder``, ``s3://bucket/prefix``, ``gcs://...``;
            default ``$ARTIFACT_CACHE_URL``, else ``./.artifact_cache``.
        progress: ``False`` switches off the progress bars of long saves, loads and
            listings (they need tqdm); default: on, unless ``$ARTIFACT_CACHE_PROGRESS=0``.
        signing_key: sign every saved record and load only artifacts signed with this
            key (default ``$ARTIFACT_CACHE_SIGNING_KEY``; ``""`` for no key). See
            ``docs/security.md``.
        read_only: refuse ``save``, ``delete``, ``clear`` and ``gc`` with
            `ReadOnlyStoreError`; a memoised function computes without saving.
        keep_versions: keep at most this many versions of each step and key (default
            None: every one); ``prune`` (run by saves every ``prune_every``) removes
            the oldest beyond it, never the active one. See ``docs/lifecycle.md``.
        max_size: bytes of payloads the store keeps (an int, or ``"500MiB"``, ``"10GB"``);
            the least recently used artifacts go first. See ``docs/lifecycle.md``.
        max_count: number of artifacts the store keeps (least recently used go first).
        max_age: seconds (or a ``timedelta``, or ``"7d"``) after its creation an
            artifact is removed.
        prune_every: saves between the prunes that saves run by themselves (default: 16
            on ``memory://``, 64 on a local disk, 256 on object stores and at most every
            5 minutes there, more as the store grows; 0: only ``store.prune()``
            enforces the limits).
        **storage_options: passed to the fsspec filesystem as they are
            (e.g. ``anon=True`` or ``endpoint_url=...`` for s3fs).

    Raises:
        UnknownSchemeError: the scheme is not one fsspec knows (the message lists them).
        InvalidOptionError: a limit is negative or of the wrong type.
        ArtifactStoreError: the backend's package is not installed (the message names it),
            or the URL is one a store cannot work on (the message says why).

    Examples:
        >>> store = open_store("memory://doc-open-store")
        >>> store.location
        'memory://doc-open-store'
    """
    url = url or default_url()
    check_url(url)
    return ArtifactStore(
        url,
        progress=progress,
        signing_key=signing_key,
        read_only=read_only,
        keep_versions=keep_versions,
        max_size=max_size,
        max_count=max_count,
        max_age=max_age,
        prune_every=prune_every,
        **storage_options,
    )


# "s3:/bucket" or "s3:bucket": a scheme, a colon, and not the "//" (or "::" chaining) after it.
_SCHEME_WITHOUT_SLASHES = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]+):(?!//|:)/*(.*)", re.DOTALL)


def check_url(url: str) -> None:
    """Refuse a URL whose scheme lacks its ``//``, which fsspec reads as a local folder.

    ``s3:/bucket/x`` would otherwise create a folder named ``s3:`` in the current
    directory. ``file:/path`` is a valid file URL and a one-letter scheme is a Windows
    drive; both pass. A local folder whose name has a colon can be written ``./name:x``.

    Raises:
        UnknownSchemeError: the URL looks like ``scheme:/...``; the message says
            ``did you mean scheme://...``.

    Examples:
        >>> check_url("s3://bucket/x"), check_url("./runs:old"), check_url("file:/tmp/x")
        (None, None, None)
        >>> check_url("s3:/bucket/x")
        Traceback (most recent call last):
        ...
        artifact_cache.errors.UnknownSchemeError: cannot open store 's3:/bucket/x': ...
    """
    match = _SCHEME_WITHOUT_SLASHES.fullmatch(url)
    if match is None or match.group(1).lower() == "file":
        return
    scheme, rest = match.groups()
    # A password written into the URL is shown as *** in both the URL and the fix.
    fixed = redact_url(f"{scheme}://{rest}")
    shown = url if fixed == f"{scheme}://{rest}" else f"{scheme}:/{fixed.split('://', 1)[1]}"
    msg = (
        f"cannot open store {shown!r}: a URL needs '//' after '{scheme}:' (without it, this "
        f"would be a local folder named '{scheme}:'); did you mean {fixed}?"
    )
    if "/" not in url:
        msg += f" (for a local folder with a colon in its name, write ./{url})"
    raise UnknownSchemeError(msg)
