"""The exception hierarchy: one root, leaves that also subclass the built-in they behave like.

Every message names the step id and the store URL it concerns and, where there is one,
the fix. This module imports nothing from the package.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable
from typing import Any, Self

__all__ = [
    "ArtifactNotFoundError",
    "ArtifactStoreError",
    "IntegrityError",
    "InvalidOptionError",
    "InvalidStepIdError",
    "MissingDependencyError",
    "PayloadMissingError",
    "ReadOnlyStoreError",
    "RecordError",
    "SerializationError",
    "StoreFormatError",
    "UnknownSchemeError",
]


class ArtifactStoreError(Exception):
    """Base class of every error raised by artifact_cache."""


class ArtifactNotFoundError(ArtifactStoreError, KeyError):
    """No artifact is stored under the step id (and key) asked for."""

    # A hint that costs I/O ("did you mean ...?" lists the store) is computed only when
    # the message is read: code that catches the error to test existence never pays.
    _hint: Callable[[], str] | None = None
    _hint_text: str = ""

    def with_hint(self, hint: Callable[[], str]) -> Self:
        """Append ``hint()`` to the message, computed when the message is first read."""
        self._hint = hint
        return self

    # KeyError.__str__ quotes its argument; a sentence reads better unquoted.
    def __str__(self) -> str:
        hint, self._hint = self._hint, None
        if hint is not None:
            try:
                self._hint_text = hint()
            except Exception:  # a hint must never hide the error it decorates
                self._hint_text = ""
        return (str(self.args[0]) if self.args else "") + self._hint_text

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (to another process) with the hint spelled out, not the callable.
        return (type(self), (str(self),))


class InvalidStepIdError(ArtifactStoreError, ValueError):
    """A step id or key is not of the allowed form; raised before any I/O."""


class SerializationError(ArtifactStoreError, TypeError):
    """An object could not be serialised or deserialised; nothing was written."""


class IntegrityError(ArtifactStoreError):
    """A stored payload does not match its recorded digest or size; it was not unpickled."""


class UnknownSchemeError(ArtifactStoreError, ValueError):
    """The URL's scheme is not a protocol fsspec knows, or is malformed (``s3:/bucket``)."""


class MissingDependencyError(ArtifactStoreError, ImportError):
    """A feature needs a package that is not installed; the message names the extra."""


class StoreFormatError(ArtifactStoreError):
    """The store was written in a format this version cannot read."""


class PayloadMissingError(ArtifactNotFoundError):
    """A record exists but the payload it points to is gone (a memoised call recomputes)."""


class InvalidQueryError(ArtifactStoreError, ValueError):
    """A filter or query argument (``list``'s ``type``, ``created_after``, ``limit``;
    ``lineage``'s ``depth``) is not of an accepted form; raised before any I/O."""


class ReadOnlyStoreError(ArtifactStoreError, PermissionError):
    """A save, delete, clear or gc was asked of a store opened with ``read_only=True``."""


class InvalidOptionError(ArtifactStoreError, ValueError):
    """An option of a store or a step has a wrong type or value (``max_size=-1``)."""


# --------------------------------------------------------------------------- message parts
# Shared by the modules that raise, so every hint reads the same way.


def install_hint(extra: str, package: str) -> str:
    """How to install a missing optional dependency, naming the package's extra.

    Examples:
        >>> print(install_hint("s3", "s3fs"))  # doctest: +NORMALIZE_WHITESPACE
        install the artifact-cache[s3] extra (pip install ".[s3]" in artifact_cache's
        source folder) or s3fs itself
    """
    return (
        f'install the artifact-cache[{extra}] extra (pip install ".[{extra}]" in '
        f"artifact_cache's source folder) or {package} itself"
    )


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``candidates``, else ``""``.

    Examples:
        >>> did_you_mean("featurs", ["features", "extract"])
        "; did you mean 'features'?"
    """
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.75)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def missing_folder_note(location: str) -> str:
    """``" (its folder ... does not exist)"`` for a local store whose folder is missing.

    Local stores are located by an absolute path; other locations are URLs.

    Examples:
        >>> missing_folder_note("/no/such/folder/anywhere")
        ' (its folder /no/such/folder/anywhere does not exist)'
        >>> missing_folder_note("memory://x")
        ''
    """
    if os.path.isabs(location) and not os.path.isdir(location):
        return f" (its folder {location} does not exist)"
    return ""


class RecordError(IntegrityError, ValueError):
    """A record (an artifact's JSON metadata) is not of the documented form: unreadable,
    a field of the wrong type, a digest that is not a digest. It is never used."""
