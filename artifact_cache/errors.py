"""The exception hierarchy: one root, leaves that also subclass the built-in they behave like.

Every message names the step id and the store URL it concerns and, where there is one,
the fix. This module imports nothing from the package.
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFoundError",
    "ArtifactStoreError",
    "IntegrityError",
    "InvalidStepIdError",
    "PayloadMissingError",
    "RecordError",
    "SerializationError",
    "StoreFormatError",
    "UnknownSchemeError",
]


class ArtifactStoreError(Exception):
    """Base class of every error raised by artifact_cache."""


class ArtifactNotFoundError(ArtifactStoreError, KeyError):
    """No artifact is stored under the step id (and key) asked for."""

    # KeyError.__str__ quotes its argument; a sentence reads better unquoted.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidStepIdError(ArtifactStoreError, ValueError):
    """A step id or key is not of the allowed form; raised before any I/O."""


class SerializationError(ArtifactStoreError, TypeError):
    """An object could not be serialised or deserialised; nothing was written."""


class IntegrityError(ArtifactStoreError):
    """A stored payload does not match its recorded digest or size; it was not unpickled."""


class UnknownSchemeError(ArtifactStoreError, ValueError):
    """The URL's scheme is not a protocol fsspec knows."""


class StoreFormatError(ArtifactStoreError):
    """The store was written in a format this version cannot read."""


class PayloadMissingError(ArtifactNotFoundError):
    """A record exists but the payload it points to is gone (a memoised call recomputes)."""


class RecordError(IntegrityError, ValueError):
    """A record (an artifact's JSON metadata) is not of the documented form: unreadable,
    a field of the wrong type, a digest that is not a digest. It is never used."""
