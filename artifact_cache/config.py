"""open_store(): the one way in, from a URL, the environment, or the default folder.

Storage options go to fsspec untouched; credentials and endpoints for S3 come from
botocore's usual configuration (``AWS_*`` variables, profiles, ``AWS_ENDPOINT_URL``) or
fsspec's own (``FSSPEC_S3_*``), which this module does not re-invent.
"""

from __future__ import annotations

import os
from typing import Any

from .store import ArtifactStore

__all__ = ["DEFAULT_URL", "ENV_URL", "default_url", "open_store"]

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
    signing_key: str | bytes | None = None,
    read_only: bool = False,
    **storage_options: Any,
) -> ArtifactStore:
    """Open the artifact store at ``url`` (any fsspec URL or a local folder).

    Args:
        url: ``memory://name``, ``/a/folder``, ``s3://bucket/prefix``, ``gcs://...``;
            default ``$ARTIFACT_CACHE_URL``, else ``./.artifact_cache``.
        signing_key: sign every saved record and load only artifacts signed with this
            key (default ``$ARTIFACT_CACHE_SIGNING_KEY``; ``""`` for no key). See
            ``docs/security.md``.
        read_only: refuse ``save``, ``delete``, ``clear`` and ``gc`` with
            :class:`ReadOnlyStoreError`; a memoised function computes without saving.
        **storage_options: passed to the fsspec filesystem as they are
            (e.g. ``anon=True`` or ``endpoint_url=...`` for s3fs).

    Raises:
        UnknownSchemeError: the scheme is not one fsspec knows (the message lists them).
        ArtifactStoreError: the backend's package is not installed (the message names it),
            or the URL is one a store cannot work on (the message says why).

    Examples:
        >>> store = open_store("memory://doc-open-store")
        >>> store.location
        'memory://doc-open-store'
    """
    return ArtifactStore(
        url or default_url(), signing_key=signing_key, read_only=read_only, **storage_options
    )
