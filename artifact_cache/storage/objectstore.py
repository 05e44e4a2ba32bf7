"""Object stores (s3, gcs, az): the S3 defaults a store opens with."""

from __future__ import annotations

from typing import Any

import fsspec

__all__ = ["EXTRAS", "S3_DEFAULTS", "S3_RETRIES", "layer_protocols", "with_defaults"]

EXTRAS = {"s3": ("s3", "s3fs"), "s3a": ("s3", "s3fs")}
"""URL schemes whose backend one of the package's extras installs: (extra, package)."""

S3_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 8,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}
"""botocore ``Config`` defaults of an ``s3://`` store (``config_kwargs`` overrides each).

With `S3_RETRIES` they bound a call to an endpoint that accepts connections and
never answers to at most 2 x (13 + 2 + 13) s (two s3fs attempts of two botocore attempts,
with botocore's back-off of up to 2 s between them), instead of the 420 s of botocore's
and s3fs's own defaults.
"""

S3_RETRIES = 2
"""Attempts s3fs makes at a call that timed out or failed transiently (s3fs's own: 5)."""


def layer_protocols(url: str) -> list[str]:
    """The protocol of each layer of a (possibly chained) URL, outermost first."""
    return [fsspec.core.split_protocol(layer)[0] or "" for layer in url.split("::")]


def with_defaults(url: str, storage_options: dict[str, Any]) -> dict[str, Any]:
    """Storage options with the store's S3 timeouts and retries under the user's own.

    Every S3 layer of a chained URL gets them too (``simplecache::s3://...``); fsspec
    gives the outermost layer the top-level options, and each inner layer the options
    under its protocol's name.
    """
    out = dict(storage_options)
    for i, protocol in enumerate(layer_protocols(url)):
        if protocol not in ("s3", "s3a"):
            continue
        layer = out if i == 0 else dict(out.get(protocol) or {})
        layer["config_kwargs"] = {**S3_DEFAULTS, **(layer.get("config_kwargs") or {})}
        if i > 0:
            out[protocol] = layer
    return out
