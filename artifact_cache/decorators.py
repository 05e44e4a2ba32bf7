"""Memoised pipeline functions: ``store.step`` and the [`StepFunction`][] it returns.

A call binds its arguments to the function's signature, fingerprints them together with
the step id and the code (or a pinned ``version``) into a key, and loads the artifact
stored under that key or computes and saves it. Key rules are in ``docs/keys.md``, usage
in ``docs/decorators.md``. Its parts live beside it: the options (``step_options``), the
decoration-time spec and key prefix (``step_spec``), what a call records
(``step_inputs``), single flight (``flights``) and ``explain`` (``explain``). May import
errors, digest, fingerprint, info, lifecycle.retention, those modules and store (the
store imports this module lazily, from [`ArtifactStore.step`][]).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import logging
import os
import sys
import time
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs

from .digest import hash_bytes
from .errors import ArtifactNotFoundError, IntegrityError, PayloadMissingError
from .explain import Explanation, explain_call
from .fingerprint import CodeFingerprint, fingerprint
from .fingerprint._analysis import _uses_first_argument
from .flights import _async_flights, _flights
from .info import ArtifactInfo
from .lifecycle.retention import expired
from .step_inputs import OUTPUT_FINGERPRINT as OUTPUT_FINGERPRINT
from .step_inputs import Deferred, _resolved, _save_record, recording_inputs
from .step_inputs import output_fingerprint as output_fingerprint
from .step_options import _OPTIONS, StepOptions
from .step_spec import _make_spec, _Prepared, _Spec
from .store import ArtifactList, ArtifactStore

if TYPE_CHECKING:
    from typing import Self

    from typing_extensions import ParamSpec

    # The default lets ``StepFunction[R]`` mean "returns R, any arguments".
    P = ParamSpec("P", default=...)
else:
    from typing import ParamSpec

    P = ParamSpec("P")

__all__ = [
    "AsyncStepFunction",
    "Explanation",
    "StepCall",
    "StepFunction",
    "StepOptions",
    "recording_inputs",
    "step",
]

R = TypeVar("R")

_NO_INSTANCE: Any = object()

# Hits and misses at DEBUG, computations at INFO; silent unless the application
# configures logging.
_log = logging.getLogger("artifact_cache")
_log.addHandler(logging.NullHandler())

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _outside() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside this
    package (the user's call, whichever public method or ``Memory`` it went through)."""
    level = 1  # the function that warns
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level += 1
        frame = frame.f_back
    return level


@attrs.frozen(kw_only=True)
class StepCall(Generic[R]):
    """The outcome of [`StepFunction.call`][]: the value and how it was obtained.

    ``duration`` is the seconds the function body took in this call (``0.0`` on a hit;
    the record keeps the original compute time in ``info.duration``). ``info`` is None
    when the store is read-only and the value was computed but not saved.
    """

    value: R
    info: ArtifactInfo | None
    cached: bool
    duration: float


# --------------------------------------------------------------------------- StepFunction
class StepFunction(Generic[R, P]):
    """A function memoised in an [`ArtifactStore`][]; made by [`ArtifactStore.step`][].

    Calling it returns the stored result for these arguments, computing and saving it on
    a miss. It keeps the function's name, docstring and signature (``__wrapped__``).

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-step")
        >>> @store.step
        ... def square(x):
        ...     return x * x
        >>> square(4), square.call(4).cached, square.step_id
        (16, True, 'square')
    """

    step_id: str
    store: ArtifactStore
    __wrapped__: Callable[P, R]

    def __init__(
        self, spec: _Spec, instance: Any = _NO_INSTANCE, unbound: StepFunction[Any] | None = None
    ) -> None:
        ignore = spec.options.ignore
        if instance is _NO_INSTANCE:
            functools.update_wrapper(self, spec.func)
            self._skip = ignore
        else:
            # Bound through the descriptor protocol: the signature loses `self`.
            functools.update_wrapper(self, types.MethodType(spec.func, instance))
            first = spec.first_param
            self._skip = ignore if spec.options.include_self or first is None else ignore | {first}
        # Set after update_wrapper, which copies the function's __dict__ onto self.
        self._spec = spec
        self._instance = instance
        self._unbound = unbound  # the class attribute a bound form came from
        self.step_id = spec.step_id
        self.store = spec.store

    # ------------------------------------------------------------------ plumbing
    def __repr__(self) -> str:
        bound = "" if self._instance is _NO_INSTANCE else " (bound)"
        return (
            f"<{type(self).__name__} {self.step_id!r}{bound} of {self._spec.part} "
            f"in store {self.store.location}>"
        )

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> StepFunction[R]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> Any:
        if instance is None or self._instance is not _NO_INSTANCE:
            return self
        return type(self)(self._spec, instance, self)

    def __set_name__(self, owner: type, name: str) -> None:
        # Defined in a class body: the method's code reaches the class's other members
        # through self, so the code fingerprint follows the class (the first one only:
        # `other = Model.fit` in another class body names it again).
        spec = self._spec
        func = inspect.unwrap(spec.func)
        qualname = getattr(func, "__qualname__", "")
        code = getattr(func, "__code__", None)
        if (
            spec.defining_class is None
            and qualname.startswith(f"{owner.__qualname__}.")
            and isinstance(code, types.CodeType)
            and _uses_first_argument(code)
        ):
            spec.defining_class = owner

    def __reduce__(self) -> str | tuple[Any, ...]:
        if self._instance is not _NO_INSTANCE:
            return (_bind, (self._unbound or type(self)(self._spec), self._instance))
        spec = self._spec
        qualname: str = getattr(self, "__qualname__", "")
        if _importable(self, qualname):
            return qualname  # pickled by reference; the worker imports the module
        # By value (closures, __main__, notebooks): the worker may have no source to
        # fingerprint, so the code fingerprint and the identity travel with the function,
        # checked first: a helper rebound since they were taken (a re-run cell) must not
        # send the old code's key to a worker, which has no way to notice.
        spec.prefix()
        code = spec.code
        if code is None and spec.options.version is None:
            code = spec.code_fingerprint()
        identity = spec.function_identity()
        return (_rebuild, (spec.store, spec.func, spec.step_id, spec.options, code, identity))

    def __artifact_fingerprint__(self) -> tuple[Any, ...]:
        """What this memoised function is as a value (an argument of another step): what
        its own keys start from (step id, identity, code or version, checked for
        rebinding), plus the instance when its keys hold one. Its qualified name alone
        would let a caller's result survive an edit of this function's code."""
        spec = self._spec
        instance: tuple[str, ...] = ()
        if spec.owner is not None:
            instance = (spec.instance_fingerprint(),)
        elif self._instance is not _NO_INSTANCE and spec.options.include_self:
            instance = (fingerprint(self._instance, name=spec.first_param),)
        return ("memoised function", spec.prefix().decode(), instance)

    def _prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Prepared:
        spec = self._spec
        if self._instance is not _NO_INSTANCE:
            args = (self._instance, *args)
        arguments = spec.bind(args, kwargs)
        skip = self._skip
        if skip:
            arguments = {n: v for n, v in arguments.items() if n not in skip}
        fingerprints = {
            n: v.fingerprint(n) if isinstance(v, Deferred) else fingerprint(v, name=n)
            for n, v in arguments.items()
        }
        owner = spec.owner
        if owner is not None:
            # A bound method (`store.step(model.predict)`): its instance is an input.
            arguments = {owner: spec.func.__self__, **arguments}  # type: ignore[attr-defined]
            fingerprints = {owner: spec.instance_fingerprint(), **fingerprints}
        # Names and digests are separator-free text, so this encoding is unambiguous.
        text = "".join(f"\x00{n}\x01{d}" for n, d in fingerprints.items())
        instance, defining = self._instance, spec.defining_class
        if (
            defining is not None
            and instance is not _NO_INSTANCE
            and type(instance) is not defining
            and spec.first_param in skip
        ):
            # Bound to an instance of a subclass, which may override the helpers the
            # method calls through self: its class is keyed (\x02: no parameter name).
            digest = fingerprint(type(instance), name=spec.first_param)
            text += f"\x00\x02class of self\x01{digest}"
        return _Prepared(hash_bytes(spec.prefix(), text.encode()), fingerprints, arguments)

    def _cached(self, key: str, *, warn: bool) -> tuple[ArtifactInfo, Any] | None:
        """The stored record and value for ``key``, or None (broken payloads warn)."""
        store = self.store
        try:
            # (The step id was checked when decorating, the key is a digest made here, and
            # a record read from the store has its digest checked: what `get` skips too.)
            info = store._keyed(self.step_id, key)
            if self._expired(info):
                return None
            return info, store._load(info, None)
        except (PayloadMissingError, IntegrityError) as exc:
            if warn:
                warnings.warn(f"{exc}; recomputing it", RuntimeWarning, stacklevel=_outside())
            return None
        except ArtifactNotFoundError:
            return None

    def _lookup(self, key: str, *, warn: bool) -> ArtifactInfo | None:
        """The stored record for ``key``, or None; the payload is not read.

        A record a signing store would refuse to load counts as missing (and warns).
        """
        store = self.store
        try:
            info = store._keyed(self.step_id, key)
        except IntegrityError as exc:
            if warn:
                warnings.warn(f"{exc}; recomputing it", RuntimeWarning, stacklevel=_outside())
            return None
        except ArtifactNotFoundError:
            return None
        if self._expired(info):
            return None
        if store.verified(info) is False:
            if warn:
                msg = (
                    f"the record of step {self.step_id!r} key {key!r} in store "
                    f"{store.location} is not signed by this store's key; recomputing it"
                )
                warnings.warn(msg, RuntimeWarning, stacklevel=_outside())
            return None
        return info

    def _expired(self, info: ArtifactInfo) -> bool:
        """True if the step has a ``max_age`` and ``info`` is older: a miss."""
        if not expired(info, self._spec.options.max_age):
            return False
        _log.debug(
            "expired: step %r key %s in store %s is older than max_age=%ss",
            self.step_id,
            info.key,
            self.store.location,
            self._spec.options.max_age,
        )
        return True

    def _record_only(self, key: str, *, warn: bool) -> tuple[ArtifactInfo, Any] | None:
        info = self._lookup(key, warn=warn)
        return None if info is None else (info, None)

    def _hit(
        self, key: str, started: float, *, warn: bool, load: bool = True
    ) -> StepCall[R] | None:
        # Without loading, a hit's value is None: the caller reads the record only.
        hit = self._cached(key, warn=warn) if load else self._record_only(key, warn=warn)
        if hit is None:
            return None
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "hit: step %r key %s in store %s (%.1f ms)",
                self.step_id,
                key,
                self.store.location,
                (time.perf_counter() - started) * 1000,
            )
        return StepCall(value=hit[1], info=hit[0], cached=True, duration=0.0)

    def _miss(self, key: str, refresh: bool) -> None:
        if _log.isEnabledFor(logging.DEBUG):
            why = "refresh" if refresh else "miss"
            _log.debug(
                "%s: step %r key %s in store %s", why, self.step_id, key, self.store.location
            )

    def _first_look(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], refresh: bool, *, load: bool = True
    ) -> tuple[_Prepared, Callable[[bool], StepCall[R] | None], StepCall[R] | None]:
        """Key a call and look for its stored result (not when refreshing).

        Returns the prepared call, a second look to take once this call holds the key's
        flight (another caller may have computed it meanwhile), and the first look's hit.
        ``load=False``: a hit is its record alone (see `_execute`).
        """
        started = time.perf_counter()
        prepared = self._prepare(args, kwargs)
        key = prepared.key
        seen = _flights.finished, _async_flights.finished
        found = None if refresh else self._hit(key, started, warn=True, load=load)
        if found is None:
            self._miss(key, refresh)

        def again(shared: bool) -> StepCall[R] | None:
            # Only a caller in this process that shares the key's flight, or one that
            # finished a flight since the first look, can have computed it meanwhile: an
            # uncontended miss reads nothing twice (one request fewer on object stores).
            if refresh or not (shared or seen != (_flights.finished, _async_flights.finished)):
                return None
            return self._hit(key, started, warn=False, load=load)

        return prepared, again, found

    def _flight(self, prepared: _Prepared) -> tuple[str, str, str]:
        """What concurrent computations of one result wait on (one computes)."""
        return (self.store.location, self.step_id, prepared.key)

    def _execute(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        refresh: bool = False,
        load: bool = True,
        fingerprint_output: bool = False,
    ) -> StepCall[R]:
        """Hit or compute. ``load=False`` (pipelines): a hit is its record alone and the
        call's ``value`` is None; ``args`` may hold `Deferred` arguments, read only on a
        miss. ``fingerprint_output``: the record keeps the fingerprint of a computed
        value (see `output_fingerprint`)."""
        prepared, again, found = self._first_look(args, kwargs, refresh, load=load)
        if found is not None:
            return found
        with _flights.hold(self._flight(prepared)) as shared:
            found = again(shared)
            if found is not None:
                return found
            code = self._spec.code_fingerprint()  # before the body: no wasted work
            if not load:
                args = tuple(_resolved(a) for a in args)
                kwargs = {n: _resolved(v) for n, v in kwargs.items()}
            began = time.perf_counter()
            value: R = self._spec.func(*self._full_args(args), **kwargs)
            took = time.perf_counter() - began
            return self._save(prepared, code, value, took, fingerprint_output=fingerprint_output)

    def _full_args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return args if self._instance is _NO_INSTANCE else (self._instance, *args)

    def _save(
        self,
        prepared: _Prepared,
        code: CodeFingerprint,
        value: Any,
        duration: float,
        *,
        fingerprint_output: bool = False,
    ) -> StepCall[R]:
        info = _save_record(
            self._spec, prepared, code, value, duration, fingerprint_output=fingerprint_output
        )
        return StepCall(value=value, info=info, cached=False, duration=duration)

    # ------------------------------------------------------------------ public API
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """The stored result for these arguments, computed and saved on a miss."""
        return self._execute(args, kwargs).value

    def call(self, *args: P.args, **kwargs: P.kwargs) -> StepCall[R]:
        """Like calling the function, but also say how: the record, hit or not, duration.

        Examples:
            >>> import artifact_cache as ac
            >>> @ac.open_store("memory://doc-call").step
            ... def inc(x):
            ...     return x + 1
            >>> first, again = inc.call(1), inc.call(1)
            >>> first.cached, again.cached, again.value
            (False, True, 2)
        """
        return self._execute(args, kwargs)

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The artifact key for these arguments; reads nothing, runs nothing.

        Calls that bind the same values (positionally, by keyword or by default) have
        the same key.

        Raises:
            FingerprintError: an argument cannot be fingerprinted (the message names it).
            TypeError: the arguments do not fit the signature.

        Examples:
            >>> import artifact_cache as ac
            >>> @ac.open_store("memory://doc-key").step
            ... def scale(x, factor=2):
            ...     return x * factor
            >>> scale.key(3) == scale.key(x=3, factor=2)
            True
        """
        return self._prepare(args, kwargs).key

    def is_cached(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """True if an artifact is stored for these arguments (its record exists), and is
        not older than the step's ``max_age``."""
        key = self._prepare(args, kwargs).key
        if self._spec.options.max_age is None:
            return self.store.exists(self.step_id, key=key)
        try:
            return not self._expired(self.store.info(self.step_id, key=key))
        except ArtifactNotFoundError:
            return False

    def load(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """The stored result for these arguments; never computes.

        Raises:
            ArtifactNotFoundError: nothing is stored for these arguments.
        """
        key = self._prepare(args, kwargs).key
        return self.store.get(self.step_id, key=key)  # type: ignore[no-any-return]

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Compute the result again and overwrite the stored artifact."""
        return self._execute(args, kwargs, refresh=True).value

    def artifacts(self) -> ArtifactList:
        """Records of this function's artifacts under its step id, newest first.

        Only artifacts this function saved: another function memoised under the same
        step id (a ``load`` in another module), or an artifact saved with
        ``store.save``, is not listed.
        """
        identity = self._spec.function_identity()
        return ArtifactList(
            info
            for info in self.store.artifacts(self.step_id)
            if info.recipe is not None and info.recipe.identity == identity
        )

    def clear(self) -> int:
        """Delete this function's artifacts (those `artifacts` lists); return how many.

        Examples:
            >>> import artifact_cache as ac
            >>> store = ac.open_store("memory://doc-step-clear")
            >>> @store.step
            ... def twice(x):
            ...     return 2 * x
            >>> _ = twice(1), twice(2)
            >>> _ = store.save("twice", "saved by hand", key="manual")
            >>> twice.clear(), [i.key for i in store.artifacts("twice")]
            (2, ['manual'])
        """
        return sum(self.store.delete(self.step_id, key=i.key) for i in self.artifacts())

    def explain(self, *args: P.args, **kwargs: P.kwargs) -> Explanation:
        """Say whether this call would hit and, on a miss, what differs; computes nothing.

        On a miss the call is compared with the newest artifact of this function.

        Examples:
            >>> import artifact_cache as ac
            >>> @ac.open_store("memory://doc-explain").step
            ... def half(x):
            ...     return x / 2
            >>> _ = half(4)
            >>> print(half.explain(6))  # doctest: +ELLIPSIS
            miss: step 'half' in store memory://doc-explain ...: argument 'x' changed
        """
        return explain_call(self, self._prepare(args, kwargs))


class AsyncStepFunction(StepFunction[R, P]):
    """A memoised ``async def`` function: calling it gives an awaitable of the result.

    The awaited result is what is stored; ``call`` and ``refresh`` are coroutines too,
    the other methods (``key``, ``load``, ``explain``, ...) are as for
    `StepFunction`. Concurrent calls with one key in one event loop compute once.

    Examples:
        >>> import asyncio
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-async")
        >>> @store.step
        ... async def fetch(n):
        ...     await asyncio.sleep(0)
        ...     return list(range(n))
        >>> asyncio.run(fetch(3)), fetch.is_cached(3)
        ([0, 1, 2], True)
    """

    async def _aexecute(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, refresh: bool = False
    ) -> StepCall[Any]:
        prepared, again, found = self._first_look(args, kwargs, refresh)
        if found is not None:
            return found
        async with _async_flights.hold(self._flight(prepared)) as shared:
            found = again(shared)
            if found is not None:
                return found
            code = self._spec.code_fingerprint()
            began = time.perf_counter()
            value = await self._spec.func(*self._full_args(args), **kwargs)
            return self._save(prepared, code, value, time.perf_counter() - began)

    async def _value(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, refresh: bool = False
    ) -> Any:
        return (await self._aexecute(args, kwargs, refresh=refresh)).value

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """An awaitable of the stored result for these arguments, computed on a miss."""
        return self._value(args, kwargs)  # type: ignore[return-value]

    def call(self, *args: P.args, **kwargs: P.kwargs) -> StepCall[R]:
        """An awaitable of the `StepCall` (value, record, hit or not)."""
        return self._aexecute(args, kwargs)  # type: ignore[return-value]

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """An awaitable that computes the result again and overwrites the artifact."""
        return self._value(args, kwargs, refresh=True)  # type: ignore[return-value]


def _importable(wrapped: StepFunction[Any], qualname: str) -> bool:
    """True if ``module.qualname`` leads back to ``wrapped`` (so pickle can refer to it)."""
    module = sys.modules.get(getattr(wrapped, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or not qualname:
        return False
    obj: Any = module
    for name in qualname.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return False
    return obj is wrapped


def _rebuild(
    store: ArtifactStore,
    func: Callable[..., Any],
    step_id: str,
    options: StepOptions,
    code: CodeFingerprint | None,
    identity: str | None = None,
) -> StepFunction[Any]:
    wrapped = _decorate(store, func, step_id, options)
    wrapped._spec.code = code
    wrapped._spec.identity = identity
    return wrapped


def _bind(wrapped: StepFunction[Any], instance: Any) -> StepFunction[Any]:
    return type(wrapped)(wrapped._spec, instance, wrapped)


# --------------------------------------------------------------------------- decorating
def _decorate(
    store: ArtifactStore,
    func: Callable[P, R],
    step_id: str | None,
    options: StepOptions | Mapping[str, Any],
) -> StepFunction[R, P]:
    if not callable(func):
        raise TypeError(f"store.step decorates functions, not {type(func).__name__} objects")
    given = options if isinstance(options, Mapping) else None
    if isinstance(func, StepFunction):
        # Memoising a memoised function (e.g. a decorated function given to a Pipeline)
        # wraps the plain function once, keeping the options it was decorated with.
        inner = func._spec
        func = inner.func
        step_id = inner.step_id if step_id is None else step_id
        if given is not None:
            # Options left at their (falsy) defaults keep the inner ones.
            options = inner.options.merged({k: v for k, v in given.items() if v})
        else:
            options = inner.options
    spec = _make_spec(store, func, step_id, options)
    if inspect.iscoroutinefunction(inspect.unwrap(func)):
        return AsyncStepFunction[R, P](spec)
    return StepFunction[R, P](spec)


@overload
def step(store: ArtifactStore, func_or_id: Callable[P, R], /) -> StepFunction[R, P]: ...
@overload
def step(
    store: ArtifactStore,
    func_or_id: str | None = None,
    /,
    *,
    ignore: Sequence[str] = (),
    version: str | None = None,
    tags: Mapping[str, str] | None = None,
    depends_on: Sequence[Any] = (),
    serializer: str | None = None,
    compress: str | None = None,
    include_self: bool = False,
    max_age: float | dt.timedelta | None = None,
) -> Callable[[Callable[P, R]], StepFunction[R, P]]: ...
def step(store: ArtifactStore, func_or_id: Any = None, /, **options: Any) -> Any:
    """Memoise a function in ``store``: ``@store.step``, ``@store.step()`` or with options.

    Parameters:
        func_or_id: the function (bare ``@store.step``), or the step id; by default the
            function's ``__qualname__``, sanitised (``Model.fit``, ``outer.inner``).
        ignore: parameter names left out of the key (``verbose``, ``n_jobs``).
        version: pin the code part of the key to this string instead of the code
            fingerprint; change it to invalidate. The function's identity
            (``module:qualname``) stays in the key; every script and notebook is
            ``__main__``, so give functions pinned there a step id of their own.
        tags: tags saved on every artifact of the step.
        depends_on: extra things whose change invalidates the cache (modules, data
            files' contents, config dicts), passed to ``code_fingerprint``.
        serializer: the serializer name (default ``"pickle"``, cloudpickle).
        compress: a codec compressing the saved payloads (``"zstd"``, ``"gzip"``, ``"bz2"``,
            ``"lzma"``); it takes no part in the key.
        include_self: for methods, fingerprint the instance into the key too.
        max_age: seconds (or a ``datetime.timedelta``): a stored result created longer
            ago than that is a miss; the function runs again and its result replaces it.

    The options and their defaults are those of `StepOptions`. An ``async def``
    function gives an `AsyncStepFunction`.

    Raises:
        InvalidStepIdError: the explicit step id is malformed.
        ValueError: ``ignore`` names a parameter the function does not have, or the
            serializer or codec is unknown.
        MissingDependencyError: the codec's package is not installed (zstandard).
        TypeError: an option is unknown or of the wrong type.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-decorator")
        >>> @store.step("features", ignore=["verbose"], version="2")
        ... def featurise(rows, verbose=False):
        ...     return [r * 10 for r in rows]
        >>> featurise([1, 2]), featurise.key([1, 2]) == featurise.key([1, 2], verbose=True)
        ([10, 20], True)
    """
    # The options are typed by the overloads above; a misspelt one fails here, at once.
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise TypeError(f"store.step got unknown options {unknown}; it takes {sorted(_OPTIONS)}")
    if func_or_id is None or isinstance(func_or_id, str):
        step_id = func_or_id

        def decorator(func: Callable[P, R]) -> StepFunction[R, P]:
            return _decorate(store, func, step_id, options)

        return decorator
    if callable(func_or_id):
        return _decorate(store, func_or_id, None, options)
    msg = f"store.step takes a function or a step id, not {type(func_or_id).__name__}"
    raise TypeError(msg)
