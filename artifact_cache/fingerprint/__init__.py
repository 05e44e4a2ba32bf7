"""Fingerprints: the deterministic digests of values and code that cache keys are made of.

``values`` encodes values canonically (the stdlib's value types in ``_stdlib``) and
re-exports the type registry of ``_registry`` (`register_fingerprint`); ``code``
fingerprints functions and the user code they reach, with the static analysis of that
code in ``_analysis``; ``_numpy``, ``_pandas``, ``_arrow``, ``_polars``, ``_xarray``,
``_torch`` and ``_scipy`` register the handlers of those packages and are imported only
when a value of the package is met. The rules are in ``docs/keys.md``.
"""

from __future__ import annotations

from .code import CodeFingerprint, code_fingerprint, function_identity
from .values import Elements, FingerprintError, RawBytes, fingerprint, register_fingerprint

__all__ = [
    "CodeFingerprint",
    "Elements",
    "FingerprintError",
    "RawBytes",
    "code_fingerprint",
    "fingerprint",
    "function_identity",
    "register_fingerprint",
]
