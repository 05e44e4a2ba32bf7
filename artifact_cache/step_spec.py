"""What is fixed about a memoised function when it is decorated, and its key's prefix.

A `_Spec` holds the store, the function, its step id, signature and options, shared
by a ``StepFunction`` and its bound forms; it binds a call's arguments by parameter
name and computes, once, the part of every key that does not depend on them (step id,
identity, code fingerprint or pinned version). May import fingerprint, store and
step_options.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .fingerprint import (
    CodeFingerprint,
    FingerprintError,
    code_fingerprint,
    fingerprint,
    function_identity,
)
from .fingerprint.values import _Failure, digest_or_failure, qualified
from .step_options import StepOptions
from .stepid import sanitize_step_id, validate_step_id
from .store import ArtifactStore

# Bump when the key composition changes: every key changes with it, on purpose.
_KEY_FORMAT = "artifact-cache/step-key/2"
_MISSING: Any = object()
"""A parameter without a default."""


def _function_part(func: Callable[..., Any]) -> str:
    """The part name the code fingerprint gives the function itself (``module:qualname``)."""
    target: Any = inspect.unwrap(func)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}:{qualname}"


@attrs.define(kw_only=True)
class _Spec:
    """Everything fixed at decoration time, shared by a StepFunction and its bound forms."""

    store: ArtifactStore
    func: Callable[..., Any]
    step_id: str
    signature: inspect.Signature
    options: StepOptions
    first_param: str | None
    part: str
    # For a bound method (``store.step(obj.method)``): the name its instance is keyed by.
    owner: str | None
    # For the fast binder: set when every parameter is positional-or-keyword.
    names: tuple[str, ...] | None
    defaults: dict[str, Any]
    # Lazily computed once; a re-definition (exec, notebook re-run) makes a new _Spec.
    code: CodeFingerprint | None = None
    key_prefix: bytes | None = None
    identity: str | None = None
    # What the identity was made from and may change under it: the closure cells and
    # the values they held, and a callable object's state digest (None: no such object).
    cells: tuple[tuple[Any, object], ...] = ()
    state: str | None = None

    lock: threading.Lock = attrs.field(factory=threading.Lock)
    # The class whose body defines the function (set by StepFunction.__set_name__):
    # a method's helpers called through self are part of its code.
    defining_class: type | None = None

    def code_fingerprint(self) -> CodeFingerprint:
        fp = self.code
        if fp is None:
            # Once per wrapper, under a lock: closure and global values are part of the
            # code fingerprint, so threads computing it while a first call's body mutates
            # one would otherwise see different digests, hence different keys.
            with self.lock:
                fp = self.code
                if fp is None:
                    fp = code_fingerprint(
                        self.func, depends_on=self.options.depends_on, owner=self.defining_class
                    )
                    self.code = fp
        return fp

    def function_identity(self) -> str:
        """The function's ``module:qualname`` (and closure values): never shared."""
        identity = self.identity
        if identity is None:
            # Taken first: a closure rebound meanwhile is seen at the next call.
            self.cells = _closure_cells(self.func)
            self.state = self.object_state()
            identity = self.identity = function_identity(self.func)
        return identity

    def object_state(self) -> str | None:
        """The state digest of a memoised callable object; None for anything else."""
        target: Any = inspect.unwrap(self.func)
        if isinstance(target, _NOT_OBJECTS):
            return None
        try:
            return digest_or_failure(target)
        except _Failure as failure:
            if self.state is None:
                msg = (
                    f"store.step({self.step_id!r}) in store {self.store.location}: the "
                    f"state of the {qualified(type(target))} object it memoises cannot "
                    f"be fingerprinted ({failure.reason}), so it counts by its type: "
                    "changing the object will not change the keys. Give the class an "
                    "__artifact_fingerprint__() method, or pass its parameters as "
                    "arguments."
                )
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
            return "unkeyable"

    def rebound(self) -> bool:
        """True if something the key's prefix was made from changed since: a name the
        code fingerprint followed (not with a pinned version: it replaces the code), a
        closure variable (whatever the version: it pins the code, not the values the
        function captured), or a memoised callable object's state."""
        if self.options.version is None and self.code is not None and self.code.stale():
            return True
        for cell, value in self.cells:
            try:
                current = cell.cell_contents
            except ValueError:  # still (or again) unassigned
                current = _EMPTY
            if current is not value:
                return True
        return self.state is not None and self.object_state() != self.state

    def prefix(self) -> bytes:
        """What every key of the step starts from: the step id and the code or version."""
        prefix = self.key_prefix
        version = self.options.version
        if prefix is not None and self.rebound():
            # A helper (or the function's global or closure) was rebound since: a notebook
            # cell re-run, a module reload, a callable object changed. Fingerprint again.
            with self.lock:
                self.code = self.key_prefix = self.identity = prefix = None
        if prefix is None:
            if version is not None:
                term = ("version", version)
            else:
                term = ("code", self.code_fingerprint().digest)
            # The identity stays in the key whatever replaces the code: two modules'
            # `load` pinned to one version, or two closures of one factory, never meet.
            identity = self.function_identity()
            prefix = fingerprint((_KEY_FORMAT, self.step_id, identity, term)).encode()
            self.key_prefix = prefix
        return prefix

    def instance_fingerprint(self) -> str:
        """The digest of a bound method's instance, taken on every call: its state is
        an input of the method, and it may change between calls (a refitted model)."""
        instance = self.func.__self__  # type: ignore[attr-defined]
        try:
            return digest_or_failure(instance)
        except _Failure as failure:
            inside = "".join(reversed(failure.segments))
            what = qualified(type(instance))
            msg = (
                f"store.step({self.step_id!r}) in store {self.store.location}: "
                f"{self.part} is a method bound to a {what} object, which is part of "
                f"every key, and it cannot be fingerprinted ({self.owner}{inside}: "
                f"{failure.reason}). Give the class an __artifact_fingerprint__() method "
                "returning what the method's results depend on, register its type with "
                "artifact_cache.register_fingerprint(), or memoise a plain function that "
                "takes those values as arguments."
            )
            path = f"arg {self.owner!r}" + (f" -> {inside}" if inside else "")
            raise FingerprintError(msg, path=path) from None

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments by parameter name, defaults applied, in signature order."""
        names = self.names
        if names is not None and len(args) <= len(names):
            # Signature.bind costs more than the rest of a key; plain parameters need
            # only this. Anything unusual falls through to it for its error messages.
            values = dict(zip(names, args, strict=False))
            for name, value in kwargs.items():
                if name in values or name not in self.defaults:
                    break
                values[name] = value
            else:
                for name in names[len(args) :]:
                    if name not in values:
                        value = self.defaults[name]
                        if value is _MISSING:
                            break
                        values[name] = value
                else:
                    return values if not kwargs else {n: values[n] for n in names}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.part}(): {exc}") from None
        bound.apply_defaults()
        return bound.arguments


_NOT_OBJECTS = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    functools.partial,
    type,
)


def _closure_cells(func: Callable[..., Any]) -> tuple[tuple[Any, object], ...]:
    """The closure cells the function identity reads, with the values they hold now."""
    target: Any = inspect.unwrap(func)
    while isinstance(target, types.MethodType | functools.partial):
        inner = target.__func__ if isinstance(target, types.MethodType) else target.func
        target = inspect.unwrap(inner)
    if not isinstance(target, types.FunctionType) or not target.__closure__:
        return ()
    cells = []
    for cell in target.__closure__:
        try:
            cells.append((cell, cell.cell_contents))
        except ValueError:  # not assigned yet: an assignment is a rebinding
            cells.append((cell, _EMPTY))
    return tuple(cells)


_EMPTY = object()


@attrs.frozen
class _Prepared:
    key: str
    fingerprints: dict[str, str]
    arguments: dict[str, Any]  # the bound arguments that are part of the key


def _make_spec(
    store: ArtifactStore,
    func: Callable[..., Any],
    step_id: str | None,
    options: StepOptions | Mapping[str, Any],
) -> _Spec:
    """Check the step id, the options and the ``ignore`` names against the signature."""
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    where = f"store.step({step_id!r})" if step_id else f"store.step on {name}"
    if isinstance(options, Mapping):
        try:
            options = StepOptions(**options)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
    if step_id is None:
        step_id = sanitize_step_id(name)
    else:
        validate_step_id(step_id, store=store.location)
    signature = inspect.signature(func)
    params = list(signature.parameters)
    owner = None
    if isinstance(func, types.MethodType):
        # The bound signature has no `self`: the instance is keyed under that name.
        unbound = list(inspect.signature(func.__func__).parameters)
        owner = unbound[0] if unbound and unbound[0] not in params else "self"
    elif (
        # A C method bound to an object (`table.get`, `rng.normal`); a module's builtin
        # function (`len`, `math.sqrt`) has its module as __self__, and no instance.
        isinstance(func, types.BuiltinMethodType | types.MethodWrapperType)
        and not isinstance(func.__self__, types.ModuleType | None)
        and "self" not in params
    ):
        owner = "self"
    plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(n for n in options.ignore if n not in signature.parameters)
    if unknown:
        msg = (
            f"store.step({step_id!r}): ignore names {unknown} that are not parameters of "
            f"{name}{signature}; its parameters are {params}"
        )
        raise ValueError(msg)
    return _Spec(
        store=store,
        func=func,
        step_id=step_id,
        signature=signature,
        options=options,
        first_param=params[0] if params else None,
        part=_function_part(func),
        owner=owner,
        names=tuple(params) if plain else None,
        defaults={
            n: _MISSING if p.default is p.empty else p.default
            for n, p in signature.parameters.items()
        },
    )
