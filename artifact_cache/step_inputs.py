"""What a memoised call records with a computed value, and arguments read only on a miss.

The record of a computed call: the lineage of its arguments (the artifacts they were
loaded from, or those named by [`recording_inputs`][]), their short repr for browsing,
its key recipe, and the fingerprint of the saved value ([`output_fingerprint`][]);
[`Deferred`][] arguments whose fingerprint comes from that record. May import
fingerprint, info, store and step_spec.
"""

from __future__ import annotations

import contextlib
import logging
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from .fingerprint import CodeFingerprint, fingerprint
from .fingerprint.recipe import KeyRecipe
from .fingerprint.values import _FORMAT as _FINGERPRINT_FORMAT
from .info import ArtifactInfo, ArtifactRef
from .step_spec import _KEY_FORMAT, _Prepared, _Spec
from .store import lineage_of

__all__ = ["Deferred", "output_fingerprint", "recording_inputs"]

# Items of list/tuple/dict arguments checked for lineage; bounds the cost on big lists.
_LINEAGE_ITEMS = 1000
_ARGS_REPR_CHARS = 200
_MISSING: Any = object()
_log = logging.getLogger("artifact_cache")

OUTPUT_FINGERPRINT = "output_fingerprint"
"""Record field holding the fingerprint of the saved value (what a step that takes it as
an argument puts in its key), written where a pipeline asks for it."""
_OUTPUT_FORMAT = _FINGERPRINT_FORMAT.rstrip(b"\x00").decode()
_HEX = frozenset("0123456789abcdef")


def output_fingerprint(info: ArtifactInfo) -> str | None:
    """The fingerprint of the value ``info`` describes, if its record holds one.

    Only one written by this fingerprint format counts (a newer encoding would give
    other keys).

    Examples:
        >>> import artifact_cache as ac
        >>> output_fingerprint(ac.open_store("memory://doc-output-fp").save("x", 1)) is None
        True
    """
    field = info.extra.get(OUTPUT_FINGERPRINT)
    if not isinstance(field, Mapping) or field.get("format") != _OUTPUT_FORMAT:
        return None
    digest = field.get("digest")
    if not isinstance(digest, str) or len(digest) != 32 or not set(digest) <= _HEX:
        return None
    return digest


class Deferred:
    """An argument that is read only if the function must run (a pipeline's inputs).

    The key needs the argument's fingerprint, not its value: ``fingerprint``, when the
    record of the value holds it, spares the read; otherwise the value is loaded once,
    fingerprinted, and the fingerprint handed to ``remember``. ``load`` is called at
    most once.

    Examples:
        >>> arg = Deferred(lambda: [1, 2], fingerprint=None)
        >>> arg.fingerprint("rows") == fingerprint([1, 2]), arg.value()
        (True, [1, 2])
    """

    __slots__ = ("_fingerprint", "_load", "_remember", "_value")

    def __init__(
        self,
        load: Callable[[], Any],
        fingerprint: str | None,
        remember: Callable[[str], None] | None = None,
    ) -> None:
        self._load = load
        self._fingerprint = fingerprint
        self._remember = remember
        self._value: Any = _MISSING

    def __repr__(self) -> str:
        return "<deferred argument>"

    def value(self) -> Any:
        """The argument's value, loaded on first use."""
        if self._value is _MISSING:
            self._value = self._load()
        return self._value

    def fingerprint(self, name: str) -> str:
        """The fingerprint of the value, without loading it when the record knew it."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.value(), name=name)
            if self._remember is not None:
                self._remember(self._fingerprint)
        return self._fingerprint


def _resolved(value: Any) -> Any:
    return value.value() if isinstance(value, Deferred) else value


# --------------------------------------------------------------------------- args repr
class _ArgsRepr(reprlib.Repr):
    """A short repr for browsing: arrays and frames by shape, long things truncated."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxstring = 40
        self.maxother = 40
        self.maxlong = 40
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 5
        self.maxdict = 4

    def repr_ndarray(self, x: Any, level: int) -> str:
        return f"<ndarray {x.dtype} {'x'.join(map(str, x.shape))}>"

    def repr_DataFrame(self, x: Any, level: int) -> str:
        return f"<DataFrame {x.shape[0]}x{x.shape[1]}>"

    def repr_Series(self, x: Any, level: int) -> str:
        return f"<Series {x.dtype} {len(x)}>"


_args_repr = _ArgsRepr()


def _short_args(arguments: Mapping[str, Any]) -> str:
    text = ", ".join(f"{name}={_args_repr.repr(value)}" for name, value in arguments.items())
    return text if len(text) <= _ARGS_REPR_CHARS else text[: _ARGS_REPR_CHARS - 3] + "..."


_INPUTS: ContextVar[tuple[ArtifactRef, ...]] = ContextVar("artifact_cache_inputs", default=())


@contextlib.contextmanager
def recording_inputs(refs: Iterable[ArtifactRef]) -> Iterator[None]:
    """Record ``refs`` as inputs of what memoised calls inside the block save.

    For callers that know where their arguments came from (the pipeline runner does),
    so that lineage does not depend on recognising the argument objects.

    Examples:
        >>> import artifact_cache as ac
        >>> store = ac.open_store("memory://doc-recording")
        >>> raw = store.save("raw", 41)
        >>> @store.step
        ... def inc(x):
        ...     return x + 1
        >>> with recording_inputs([raw.ref]):
        ...     info = inc.call(41).info
        >>> [r.step_id for r in info.inputs]
        ['raw']
    """
    token = _INPUTS.set(tuple(refs))
    try:
        yield
    finally:
        _INPUTS.reset(token)


# The inputs a pipeline read for one step, with the spec of the step they belong to:
# only that step's own save records them, not the memoised calls its body makes.
_STEP_INPUTS: ContextVar[tuple[object, tuple[ArtifactRef, ...]] | None] = ContextVar(
    "artifact_cache_step_inputs", default=None
)


@contextlib.contextmanager
def step_inputs(spec: object, refs: Iterable[ArtifactRef]) -> Iterator[None]:
    """Record ``refs`` as inputs of what the step of ``spec`` saves inside the block.

    Other memoised calls inside the block (made by the step's body) record neither
    ``refs`` nor the refs of an enclosing `recording_inputs`.
    """
    token = _STEP_INPUTS.set((spec, tuple(refs)))
    try:
        with recording_inputs(()):
            yield
    finally:
        _STEP_INPUTS.reset(token)


def _lineage(values: Iterable[Any], spec: object = None) -> tuple[ArtifactRef, ...]:
    """Artifacts the argument values came from: each value and items one level down."""
    step = _STEP_INPUTS.get()
    refs = step[1] if step is not None and step[0] is spec else _INPUTS.get()
    found: dict[ArtifactRef, None] = dict.fromkeys(refs)  # ordered, no duplicates

    def add(obj: Any) -> None:
        ref = lineage_of(obj)
        if ref is not None:
            found[ref] = None

    for value in values:
        add(value)
        items: Iterable[Any] = ()
        if isinstance(value, list | tuple):
            items = value[:_LINEAGE_ITEMS]
        elif isinstance(value, dict):
            items = list(value.values())[:_LINEAGE_ITEMS]
        for item in items:
            add(item)
    return tuple(found)


def _recipe(spec: _Spec, prepared: _Prepared, code: CodeFingerprint) -> KeyRecipe:
    """The key recipe a record keeps: what ``explain`` compares a later call with."""
    return KeyRecipe(
        identity=spec.function_identity(),
        version=spec.options.version,
        code_parts=code.parts,
        arguments=prepared.fingerprints,
        format=_KEY_FORMAT,
    )


def _save_record(
    spec: _Spec,
    prepared: _Prepared,
    code: CodeFingerprint,
    value: Any,
    duration: float,
    *,
    fingerprint_output: bool = False,
) -> ArtifactInfo | None:
    """Save a computed value with its record; None when the store is read-only."""
    if spec.store.read_only:
        # Computing is what the caller asked for; the store only cannot keep it.
        _log.info(
            "step %r computed but not saved: store %s is read-only",
            spec.step_id,
            spec.store.location,
        )
        return None
    arguments = {n: _resolved(v) for n, v in prepared.arguments.items()}
    extra = None
    if fingerprint_output:
        # What the next step's key will need, so that a re-run need not read the value
        # back to find it. A value that cannot be fingerprinted gets none; the step
        # that takes it fails on it as it always did.
        with contextlib.suppress(Exception):
            digest = fingerprint(value)
            extra = {OUTPUT_FINGERPRINT: {"digest": digest, "format": _OUTPUT_FORMAT}}
    info = spec.store.save(
        spec.step_id,
        value,
        key=prepared.key,
        tags=spec.options.tags,
        serializer=spec.options.serializer,
        compress=spec.options.compress,
        inputs=_lineage(arguments.values(), spec),
        code_fingerprint=code.digest,
        duration=duration,
        args_repr=_short_args(arguments),
        recipe=_recipe(spec, prepared, code),
        extra=extra,
    )
    _log.info(
        "computed: step %r key %s in %.3f s, saved to store %s",
        spec.step_id,
        prepared.key,
        duration,
        spec.store.location,
    )
    return info
