"""Why a memoised call would hit or miss: [`Explanation`][], made by ``StepFunction.explain``.

Compares a call's key recipe (argument fingerprints, code parts, version) with the one
stored in the newest record of the function, without computing anything. May import
errors, fingerprint and info; the decorator imports this module.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ArtifactNotFoundError
from .fingerprint import CodeFingerprint
from .info import ArtifactInfo

if TYPE_CHECKING:
    from .decorators import StepFunction
    from .step_spec import _Prepared

__all__ = ["Explanation"]


@attrs.frozen(kw_only=True)
class Explanation:
    """Why a call would hit or miss; ``str()`` gives a sentence.

    On a miss, the fields say what differs from the newest artifact of the step
    (``compared_with``): ``changed_arguments`` (parameter names),
    ``changed_code`` (``module:qualname`` parts of the code fingerprint: the function
    or the helpers it reaches) and ``version_change`` (old, new), if any. ``expired``:
    the artifact for these arguments (``compared_with``) is older than the step's
    ``max_age``.
    """

    step_id: str
    key: str
    hit: bool
    store: str
    function: str
    compared_with: ArtifactInfo | None = None
    changed_arguments: tuple[str, ...] = ()
    changed_code: tuple[str, ...] = ()
    version_change: tuple[str | None, str | None] | None = None
    expired: bool = False

    def __str__(self) -> str:
        where = f"step {self.step_id!r} in store {self.store}"
        if self.expired and self.compared_with is not None:
            when = self.compared_with.created.strftime("%Y-%m-%d %H:%M:%S UTC")
            return (
                f"miss: {where} has an artifact for these arguments (key {self.key}), "
                f"saved {when}: older than the step's max_age"
            )
        if self.hit:
            return f"hit: {where} has an artifact for these arguments (key {self.key})"
        old = self.compared_with
        if old is None:
            return f"miss: {where} has no artifact yet"
        reasons = []
        if self.version_change is not None:
            before, after = self.version_change
            reasons.append(f"version changed from {before!r} to {after!r}")
        if self.changed_code:
            own = [p for p in self.changed_code if p == self.function]
            helpers = [p for p in self.changed_code if p != self.function]
            if own:
                reasons.append(f"code of the function {self.function} changed")
            if helpers:
                word = "helper" if len(helpers) == 1 else "helpers"
                reasons.append(f"code changed in {word} {', '.join(helpers)}")
        if self.changed_arguments:
            names = ", ".join(repr(n) for n in self.changed_arguments)
            word = "argument" if len(self.changed_arguments) == 1 else "arguments"
            reasons.append(f"{word} {names} changed")
        if not reasons:
            reasons.append("nothing the decorator recorded differs (was it saved another way?)")
        when = old.created.strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            f"miss: {where} has no artifact for key {self.key}; against the newest one "
            f"(key {old.key}, saved {when}): {'; '.join(reasons)}"
        )


def explain_call(func: StepFunction[Any], prepared: _Prepared) -> Explanation:
    """The [`Explanation`][] of a call of ``func`` keyed as ``prepared``; reads records only."""
    spec = func._spec
    common = functools.partial(
        Explanation,
        step_id=spec.step_id,
        key=prepared.key,
        store=func.store.location,
        function=spec.part,
    )
    if func.store.exists(spec.step_id, key=prepared.key):
        if spec.options.max_age is not None:
            with contextlib.suppress(ArtifactNotFoundError):
                stored = func.store.info(spec.step_id, key=prepared.key)
                if func._expired(stored):
                    return common(hit=False, compared_with=stored, expired=True)
        return common(hit=True)
    mine = func.artifacts()
    if not mine:
        return common(hit=False)
    newest = mine[0]
    old = newest.recipe
    assert old is not None  # artifacts() lists only records with a recipe
    new_args = prepared.fingerprints
    names = [*new_args, *(n for n in old.arguments if n not in new_args)]
    changed_args = [n for n in names if old.arguments.get(n) != new_args.get(n)]
    version = spec.options.version
    version_change = None if old.version == version else (old.version, version)
    changed_code: list[str] = []
    if version is None and old.version is None:
        current = spec.code_fingerprint()
        if newest.code_fingerprint not in (None, current.digest):
            before = CodeFingerprint(digest=newest.code_fingerprint or "", parts=old.code_parts)
            changed_code = before.diff(current) or [spec.part]
    return common(
        hit=False,
        compared_with=newest,
        changed_arguments=tuple(changed_args),
        changed_code=tuple(changed_code),
        version_change=version_change,
    )
