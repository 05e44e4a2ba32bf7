"""``Memory``: joblib.Memory's surface over an artifact store, for code written for joblib.

``ac.Memory(location).cache(func)`` memoises ``func`` the way ``joblib.Memory`` does, on
any fsspec URL, so that libraries that take a joblib-like ``memory`` (scikit-learn's
``Pipeline(memory=...)``, for one) cache in a shared bucket. It is a thin layer over
``store.step``: keys, lineage and code tracking are the decorator's. The one difference
to remember is joblib's own: ``MemorizedFunc.call()`` forces a recompute, whereas
``StepFunction.call()`` returns the cached result with its record.

May import errors, stepid, compression, store, config and decorators (through ``store.step``).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from .compression import check_codec
from .config import open_store
from .errors import IntegrityError, PayloadMissingError
from .stepid import sanitize_step_id
from .store import ArtifactStore

if TYPE_CHECKING:
    from .decorators import StepFunction
    from .info import ArtifactInfo

__all__ = ["MemorizedFunc", "Memory"]

R = TypeVar("R")

_MAPPED = {"r": "r", "c": "c", "r+": "c", "w+": "c"}
"""joblib's ``mmap_mode`` -> the store's: stored payloads are shared and named by their
content, so the modes that would write into them map copy-on-write instead."""

DEFAULT_PREFIX = "memory"
"""The step ids of a Memory's functions start with this (``memory/module/function``)."""

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _to_bytes(limit: int | str) -> int:
    """``10_000``, ``"10K"``, ``"1.5G"`` -> bytes (joblib's units: powers of 1024)."""
    if isinstance(limit, int):
        return limit
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(limit).upper())
    if match is None:
        raise ValueError(f"bytes_limit must be a number of bytes or like '10M', not {limit!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _metadata(info: ArtifactInfo | None) -> dict[str, Any]:
    """The record as joblib's call metadata (what ``cache_validation_callback`` gets).

    A read-only store saves nothing, so a computed result may have no record.
    """
    if info is None:
        return {"duration": None, "input_args": None, "time": None}
    return {
        "duration": info.duration,
        "input_args": info.args_repr,
        "time": info.created.timestamp(),
    }


class MemorizedFunc(Generic[R]):
    """A function memoised by [`Memory.cache`][]; joblib's ``MemorizedFunc`` surface.

    Calling it returns the stored result for these arguments, computing and saving it
    on a miss. ``call`` forces a recompute, as joblib's does. The decorated
    [`StepFunction`][artifact_cache.decorators.StepFunction] is ``.step`` (``None``
    when the Memory has no location and caches nothing).

    Examples:
        >>> import artifact_cache as ac
        >>> memory = ac.Memory("memory://doc-memorized")
        >>> square = memory.cache(lambda x: x * x)
        >>> square(3), square.check_call_in_cache(3), square.check_call_in_cache(4)
        (9, True, False)
    """

    def __init__(
        self,
        memory: Memory,
        func: Callable[..., R],
        *,
        ignore: Iterable[str] = (),
        verbose: int = 0,
        mmap_mode: str | None = None,
        cache_validation_callback: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        # First: update_wrapper copies the function's __dict__, which must not win.
        functools.update_wrapper(self, func)
        self.memory = memory
        self.func = func
        self.ignore = list(ignore)
        self.verbose = verbose
        self.mmap_mode = mmap_mode
        self.cache_validation_callback = cache_validation_callback
        self.step: StepFunction[R] | None = None
        store = memory.store
        if store is not None:
            self.step = store.step(
                memory.step_id_of(func), ignore=self.ignore, compress=memory.codec
            )(func)

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", repr(self.func))
        return f"MemorizedFunc(func={name}, location={self.memory.location})"

    def __reduce__(self) -> tuple[Any, ...]:
        options = {
            "ignore": self.ignore,
            "verbose": self.verbose,
            "mmap_mode": self.mmap_mode,
            "cache_validation_callback": self.cache_validation_callback,
        }
        return (_memorized, (self.memory, self.func, options))

    def _say(self, step: StepFunction[R], what: str, duration: float | None) -> None:
        if self.verbose > 0:
            took = f" in {duration:.2f} s" if duration is not None else ""
            print(f"[Memory] {step.step_id}: {what}{took}", flush=True)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        """The stored result for these arguments, computed and saved on a miss."""
        step = self.step
        if step is None:
            return self.func(*args, **kwargs)
        mapped = _MAPPED.get(self.mmap_mode) if self.mmap_mode else None
        # With mmap_mode, a hit is found by its record, then loaded mapped.
        outcome = step._execute(args, kwargs, load=mapped is None)
        valid = self.cache_validation_callback
        if outcome.cached and valid is not None and not valid(_metadata(outcome.info)):
            value, _ = self.call(*args, **kwargs)
            return value
        self._say(step, "from the cache" if outcome.cached else "computed", outcome.duration)
        if mapped is not None and outcome.cached and outcome.info is not None:
            try:
                return step.store.load(outcome.info, mmap_mode=mapped)  # type: ignore[no-any-return]
            except (PayloadMissingError, IntegrityError) as exc:
                warnings.warn(f"{exc}; recomputing it", RuntimeWarning, stacklevel=2)
                return step.refresh(*args, **kwargs)
        return outcome.value

    def call(self, *args: Any, **kwargs: Any) -> tuple[R, dict[str, Any]]:
        """Compute again (never from the cache), store the result; return it and metadata.

        This is joblib's ``MemorizedFunc.call``: it forces a recompute. (``call`` of
        a ``store.step`` function is different: it returns the cached result.)

        Examples:
            >>> import artifact_cache as ac
            >>> inc = ac.Memory("memory://doc-memorized-call").cache(lambda x: x + 1)
            >>> inc(1)
            2
            >>> saved = inc.step.artifacts()[0].created.timestamp()
            >>> value, metadata = inc.call(1)  # computed and saved again
            >>> value, metadata["time"] > saved
            (2, True)
        """
        step = self.step
        if step is None:
            return self.func(*args, **kwargs), {}
        # The outcome's own record: a read-only store saves nothing (None), and any
        # record already stored is not the one of this computation.
        outcome = step._execute(args, kwargs, refresh=True)
        self._say(step, "computed (forced)", outcome.duration)
        return outcome.value, _metadata(outcome.info)

    def check_call_in_cache(self, *args: Any, **kwargs: Any) -> bool:
        """True if a result is stored for these arguments; computes nothing."""
        return self.step is not None and self.step.is_cached(*args, **kwargs)

    def clear(self, warn: bool = True) -> None:
        """Delete every stored result of this function (all arguments)."""
        if self.step is None:
            return
        if warn:
            warnings.warn(f"clearing the cache of {self.step.step_id}", stacklevel=2)
        self.step.clear()


def _memorized(memory: Memory, func: Callable[..., Any], options: dict[str, Any]) -> Any:
    return memory.cache(func, **options)


def _joblib_codec(compress: Any) -> str | None:
    """The codec for joblib's ``compress`` option (levels are left to the codec)."""
    name = compress[0] if isinstance(compress, tuple) else compress
    if isinstance(name, int):  # True and False too
        if not 0 <= name <= 9:
            raise ValueError(f"Memory(compress={compress!r}): a level is from 0 to 9")
        return "gzip" if name else None
    if not isinstance(name, str):
        raise ValueError(f"Memory(compress={compress!r}): a bool, a level, a name or a pair")
    name = {"zlib": "gzip"}.get(name, name)
    check_codec(name)  # ValueError naming those there are; MissingDependencyError
    return name


class Memory:
    """joblib.Memory's surface over an artifact store on any fsspec URL.

    ``location`` is a URL or folder (as for [`open_store`][artifact_cache.config.open_store],
    storage options as keyword arguments), an open
    [`ArtifactStore`][artifact_cache.store.ArtifactStore], or ``None``: no caching at
    all, as in joblib. The functions it memoises live under step ids
    ``memory/<module>/<function>`` in that store, so ``artifact-cache ls memory/`` and
    ``store.browse()`` show them.

    ``mmap_mode`` is joblib's: on a local store, cached arrays come back backed by a
    memory map of the stored payload, read-only with ``"r"``; ``"c"``, ``"r+"`` and
    ``"w+"`` map copy-on-write (changes are never written back into the store). On other
    stores results are read into memory. ``compress`` is joblib's too: ``True`` or a
    level from 1 to 9 compresses with gzip (joblib's zlib), a name (``"gzip"``, ``"bz2"``,
    ``"lzma"``, ``"xz"``, ``"zstd"``, ``"lz4"``; ``"zlib"`` is gzip) or a ``(name, level)``
    pair with that codec, at the level fsspec uses for it (the level given is not used).
    Accepted for joblib compatibility: ``backend="local"`` (any fsspec URL works).

    Examples:
        >>> import artifact_cache as ac
        >>> memory = ac.Memory("memory://doc-memory")
        >>> @memory.cache
        ... def total(xs):
        ...     return sum(xs)
        >>> total([1, 2, 3]), total.check_call_in_cache([1, 2, 3])
        (6, True)
        >>> [i.step_id for i in memory.store.list()]
        ['memory/artifact_cache.memory/total']
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | ArtifactStore | None = None,
        *,
        backend: str = "local",
        mmap_mode: str | None = None,
        compress: bool | int | str | tuple[str, int] = False,
        verbose: int = 0,
        backend_options: dict[str, Any] | None = None,
        prefix: str = DEFAULT_PREFIX,
        **storage_options: Any,
    ) -> None:
        if backend != "local":
            msg = (
                f"Memory(backend={backend!r}): only 'local' is accepted; give any fsspec URL "
                "as the location instead (s3://bucket/prefix, gcs://..., memory://...)"
            )
            raise ValueError(msg)
        self.codec: str | None = _joblib_codec(compress)
        """The codec results are compressed with (from ``compress``); None: none."""
        options = {**(backend_options or {}), **storage_options}
        if location is None or isinstance(location, ArtifactStore):
            self.store: ArtifactStore | None = location
        else:
            self.store = open_store(os.fspath(location), **options)
        self.prefix = sanitize_step_id(prefix)
        self.mmap_mode = mmap_mode
        self.compress = compress
        self.verbose = verbose

    @property
    def location(self) -> str | None:
        """The store's location (a URL, or a local folder's absolute path); ``None``: no cache."""
        return None if self.store is None else self.store.location

    def __repr__(self) -> str:
        return f"Memory(location={self.location!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        options = {
            "mmap_mode": self.mmap_mode,
            "verbose": self.verbose,
            "prefix": self.prefix,
            "compress": self.compress,
        }
        return (_memory, (self.store, options))

    def step_id_of(self, func: Callable[..., Any]) -> str:
        """The step id the results of ``func`` are stored under.

        Examples:
            >>> import artifact_cache as ac
            >>> import statistics
            >>> ac.Memory("memory://doc-step-id").step_id_of(statistics.mean)
            'memory/statistics/mean'
        """
        module = getattr(func, "__module__", None) or "unknown"
        name = getattr(func, "__qualname__", None) or type(func).__qualname__
        return sanitize_step_id(f"{self.prefix}/{module}/{name}")

    @overload
    def cache(
        self,
        func: Callable[..., R],
        ignore: Iterable[str] | None = None,
        verbose: int | None = None,
        mmap_mode: str | bool | None = False,
        cache_validation_callback: Callable[[dict[str, Any]], bool] | None = None,
    ) -> MemorizedFunc[R]: ...
    @overload
    def cache(
        self,
        func: None = None,
        ignore: Iterable[str] | None = None,
        verbose: int | None = None,
        mmap_mode: str | bool | None = False,
        cache_validation_callback: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Callable[[Callable[..., R]], MemorizedFunc[R]]: ...
    def cache(
        self,
        func: Callable[..., R] | None = None,
        ignore: Iterable[str] | None = None,
        verbose: int | None = None,
        mmap_mode: str | bool | None = False,
        cache_validation_callback: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Any:
        """Memoise ``func``; as a decorator, with or without arguments, as in joblib.

        Parameters:
            func: the function; without it, a decorator taking the options given.
            ignore: parameter names left out of the key (``verbose``, ``n_jobs``).
            verbose: print a line per call when above 0 (default: the Memory's).
            mmap_mode: load cached arrays as memory maps on a local store, as joblib
                does (default: the Memory's; see [`Memory`][]).
            cache_validation_callback: called with a stored call's metadata
                (``duration``, ``input_args``, ``time`` in seconds since the epoch); if it
                returns false, the result is computed again. ``joblib.expires_after``
                works.

        Raises:
            ValueError: ``cache_validation_callback`` is not callable, or ``ignore``
                names a parameter the function does not have.

        Examples:
            >>> import artifact_cache as ac
            >>> memory = ac.Memory("memory://doc-memory-cache")
            >>> @memory.cache(ignore=["verbose"])
            ... def scale(x, verbose=False):
            ...     return 2 * x
            >>> scale(2), scale.check_call_in_cache(2, verbose=True)
            (4, True)
        """
        check: object = cache_validation_callback  # typed callable, but joblib checks it
        if check is not None and not callable(check):
            msg = f"cache_validation_callback must be callable, not {cache_validation_callback!r}"
            raise ValueError(msg)
        if func is None:
            return functools.partial(
                self.cache,
                ignore=ignore,
                verbose=verbose,
                mmap_mode=mmap_mode,
                cache_validation_callback=cache_validation_callback,
            )
        if isinstance(func, MemorizedFunc):
            func = func.func
        return MemorizedFunc(
            self,
            func,
            ignore=ignore or (),
            verbose=self.verbose if verbose is None else verbose,
            mmap_mode=self.mmap_mode if mmap_mode is False else mmap_mode,  # type: ignore[arg-type]
            cache_validation_callback=cache_validation_callback,
        )

    def eval(self, func: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``func(*args, **kwargs)``, from the cache when it is there.

        Examples:
            >>> import artifact_cache as ac
            >>> import statistics
            >>> ac.Memory("memory://doc-memory-eval").eval(statistics.mean, [1, 2, 6])
            3
        """
        return self.cache(func)(*args, **kwargs)

    def _infos(self) -> list[ArtifactInfo]:
        return [] if self.store is None else list(self.store.list(f"{self.prefix}/"))

    def clear(self, warn: bool = True) -> None:
        """Delete the results of every function this Memory caches (not other artifacts).

        ``warn`` warns first, as joblib does. Payloads go at the store's next ``gc``.
        """
        if self.store is None:
            return
        if warn:
            warnings.warn(f"{self!r}: clearing every cached function", stacklevel=2)
        for step_id in sorted({i.step_id for i in self._infos()}):
            self.store.delete(step_id)

    def reduce_size(
        self,
        bytes_limit: int | str | None = None,
        items_limit: int | None = None,
        age_limit: dt.timedelta | None = None,
    ) -> int:
        """Delete cached results until the limits hold, oldest first; return how many.

        ``age_limit`` removes results saved longer ago than that; then the newest are kept
        while their total size is within ``bytes_limit`` (bytes or ``"10M"``) and their
        number within ``items_limit``. Age is the time of saving (joblib uses the last
        access). Payloads go at the store's next ``gc``.

        Examples:
            >>> import artifact_cache as ac
            >>> memory = ac.Memory("memory://doc-reduce-size")
            >>> double = memory.cache(lambda x: 2 * x)
            >>> [double(x) for x in range(3)]
            [0, 2, 4]
            >>> memory.reduce_size(items_limit=1), len(memory.store.list())
            (2, 1)
        """
        if age_limit is not None and age_limit < dt.timedelta(0):
            raise ValueError(f"age_limit must not be negative, got {age_limit}")
        if items_limit is not None and items_limit < 0:
            raise ValueError(f"items_limit must not be negative, got {items_limit}")
        store = self.store
        if store is None:
            return 0
        max_bytes = None if bytes_limit is None else _to_bytes(bytes_limit)
        now = dt.datetime.now(dt.UTC)
        kept_bytes = kept = 0
        doomed = []
        for info in self._infos():  # newest first
            too_old = age_limit is not None and now - info.created > age_limit
            too_many = items_limit is not None and kept >= items_limit
            too_big = max_bytes is not None and kept_bytes + info.size > max_bytes
            if too_old or too_many or too_big:
                doomed.append(info)
            else:
                kept += 1
                kept_bytes += info.size
        for info in doomed:
            store.delete(info.step_id, key=info.key)
        return len(doomed)


def _memory(store: ArtifactStore | None, options: dict[str, Any]) -> Memory:
    return Memory(store, **options)
