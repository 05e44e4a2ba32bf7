"""The options of ``store.step``: one attrs class, [`StepOptions`][], with their checks.

The decorator, the pickled form of a memoised function and the re-wrapping of one all
build their options here. May import compression, serializers and lifecycle.retention.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .compression import check_codec
from .lifecycle.retention import parse_age
from .serializers import get_serializer

__all__ = ["StepOptions"]


def _names(value: str | Iterable[str]) -> frozenset[str]:
    return frozenset([value] if isinstance(value, str) else value)  # a lone name, not letters


def _text_tags(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


def _age(value: Any) -> float | None:
    return None if value is None else parse_age(value, what="step option max_age")


def _known_serializer(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        get_serializer(value)  # ValueError naming the known ones


def _known_codec(options: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        check_codec(value)  # ValueError naming the usable ones; MissingDependencyError
        name = options.serializer or "pickle"
        if not getattr(get_serializer(name), "compressible", True):
            raise ValueError(f"compress= applies to pickle and json payloads, not to {name!r}")


@attrs.frozen(kw_only=True)
class StepOptions:
    """The options of `ArtifactStore.step`, with their defaults and checks.

    The one place they are listed: the decorator, the pickled form of a memoised
    function and the re-wrapping of one (as a Pipeline does) all go through it.

    Examples:
        >>> StepOptions(ignore="verbose").ignore
        frozenset({'verbose'})
        >>> StepOptions(version=2)
        Traceback (most recent call last):
        ...
        TypeError: ("'version' must be <class 'str'> (got 2 that is a <class 'int'>).", ...)
    """

    ignore: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    """Parameter names left out of the key (``verbose``, ``n_jobs``)."""
    version: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )
    """Replaces the code fingerprint in the key; change it to invalidate."""
    tags: Mapping[str, str] = attrs.field(factory=dict, converter=_text_tags, hash=False)
    """Tags saved on every artifact of the step."""
    depends_on: tuple[Any, ...] = attrs.field(default=(), converter=tuple, hash=False)
    """Extra things whose change invalidates the cache, passed to ``code_fingerprint``."""
    serializer: str | None = attrs.field(default=None, validator=_known_serializer)
    """The serializer name (default ``"pickle"``, cloudpickle)."""
    compress: str | None = attrs.field(default=None, validator=_known_codec)
    """A codec compressing the saved payloads (``"zstd"``, ``"gzip"``, ...); None: none."""
    include_self: bool = False
    """For methods, fingerprint the instance into the key too."""
    max_age: float | None = attrs.field(default=None, converter=_age)
    """Seconds (or a ``timedelta``): a stored result created longer ago is a miss, and
    is computed and saved again."""

    def merged(self, changes: Mapping[str, Any]) -> StepOptions:
        """These options with ``changes`` applied; tags are merged, not replaced."""
        if "tags" in changes:
            changes = {**changes, "tags": {**self.tags, **(changes["tags"] or {})}}
        return attrs.evolve(self, **changes)


_OPTIONS = frozenset(attrs.fields_dict(StepOptions))
