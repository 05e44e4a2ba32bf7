"""KeyRecipe: what a memoised call's key was made of, kept in its record.

``.explain()`` reads it back to say what changed; ``.clear()`` and ``.artifacts()`` use
its ``identity`` to act on one function's artifacts only. Imports only ``attrs`` and
`artifact_cache.readonly` (its mappings cannot change, as the record holding it cannot).
"""

from __future__ import annotations

__all__ = ["KeyRecipe", "as_recipe"]

from collections.abc import Mapping
from typing import Any

import attrs

from ..readonly import EMPTY, read_only, thawed


@attrs.frozen(kw_only=True)
class KeyRecipe:
    """The parts of a memoised call's key, by name.

    ``identity`` is the function's ``module:qualname`` (plus a digest of its closure
    values when it has any); ``version`` the pinned version or None; ``code_parts`` the
    digests of the function and of the helpers it reaches (see ``CodeFingerprint``);
    ``arguments`` the digest of each argument in the key, by parameter name; ``format``
    the version of the key composition.

    Examples:
        >>> recipe = KeyRecipe(identity="m:f", version="1", arguments={"x": "ab"})
        >>> KeyRecipe.from_dict(recipe.to_dict()) == recipe
        True
    """

    identity: str
    version: str | None = None
    # Read-only, as the records holding a recipe are (a record's text is parsed once per
    # process, so the conversion is not on the hit path).
    code_parts: Mapping[str, str] = attrs.field(default=EMPTY, converter=read_only, hash=False)
    arguments: Mapping[str, str] = attrs.field(default=EMPTY, converter=read_only, hash=False)
    format: str = ""
    extra: Mapping[str, Any] = attrs.field(
        default=EMPTY, converter=read_only, repr=False, eq=False, hash=False
    )
    """Parts this version does not know, kept so that a rewrite (or a signature) keeps them."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form, including unknown parts read earlier (new dicts and
        lists throughout, to change at will)."""
        out: dict[str, Any] = thawed(self.extra)
        out.update(
            identity=self.identity,
            version=self.version,
            code_parts=dict(self.code_parts),
            arguments=dict(self.arguments),
            format=self.format,
        )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyRecipe:
        """Build from `to_dict` output; parts it does not know go to ``extra``."""
        known = {k: v for k, v in data.items() if k in _FIELDS}
        return cls(**known, extra={k: v for k, v in data.items() if k not in _FIELDS})


_FIELDS = frozenset(a.name for a in attrs.fields(KeyRecipe)) - {"extra"}


def as_recipe(value: KeyRecipe | Mapping[str, Any] | None) -> KeyRecipe | None:
    """Converter for record fields: a recipe, its dict form, or None."""
    if value is None or isinstance(value, KeyRecipe):
        return value
    return KeyRecipe.from_dict(value)
