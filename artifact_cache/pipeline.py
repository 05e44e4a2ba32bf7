"""Pipelines: steps wired by ``input_from``, run in dependency order on one store.

A pipeline is built on the decorator ([`ArtifactStore.step`][]): each saved step is
``store.step(step.id)(step.func)`` called as ``func(*inputs, **params)``, so keys, cache
hits and lineage come from the one mechanism the decorator owns. A step's inputs are the
artifacts its upstream steps saved, read back from the store. Runbooks describe the same
wiring in YAML (read by ``runbook.py``, imported by [`Pipeline.from_runbook`][]). May import
errors, stepid, info, store, config, progress and decorators.
"""

from __future__ import annotations

import copy
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import attrs

from . import progress as _progress
from .decorators import StepFunction
from .errors import (
    ArtifactNotFoundError,
    ArtifactStoreError,
    IntegrityError,
    PayloadMissingError,
)
from .info import ArtifactInfo
from .run_result import RunResult, StepResult, _Printer
from .run_result import _format_table as _format_table  # the command line's tables
from .step_inputs import Deferred, output_fingerprint, step_inputs
from .stepid import validate_step_id
from .store import ArtifactStore

__all__ = [
    "Pipeline",
    "PipelineError",
    "RunResult",
    "RunbookError",
    "Step",
    "StepFailedError",
    "StepResult",
]

Progress = Callable[[str, "StepResult | None"], None]
"""``progress(step_id, None)`` before a step runs, ``progress(step_id, result)`` after."""


class PipelineError(ArtifactStoreError):
    """The pipeline cannot run as wired: a bad graph or a missing input artifact."""


class StepFailedError(PipelineError):
    """A step raised; the original exception is chained as ``__cause__``.

    ``result`` holds the steps that finished before it; their artifacts stay stored, so
    the next run resumes from them.
    """

    def __init__(self, message: str, *, step_id: str, result: RunResult | None = None) -> None:
        super().__init__(message)
        self.step_id = step_id
        self.result = result


class RunbookError(ArtifactStoreError, ValueError):
    """A runbook is malformed; the message names the file, the step and the field."""


def _missing_input(step_id: str, upstream: str) -> PipelineError:
    return PipelineError(
        f"Step {step_id!r} depends on {upstream!r} but artifact not found. "
        "Ensure previous step has 'save_output: true'."
    )


# --------------------------------------------------------------------------- Step
def _input_from(value: object) -> str | tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    msg = f"input_from must be a step id or a list of step ids, not {value!r}"
    raise TypeError(msg)


def _params(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def _check_id(_: object, __: attrs.Attribute[str], value: str) -> None:
    validate_step_id(value)


def _check_callable(instance: Step, _: attrs.Attribute[Any], value: object) -> None:
    if not callable(value):
        msg = f"step {instance.id!r}: func must be callable, not {type(value).__name__}"
        raise TypeError(msg)


@attrs.frozen
class Step:
    """One step of a [`Pipeline`][]: a function, where its inputs come from, its params.

    Args:
        id: the step id its artifacts are saved under (e.g. ``"extract"``).
        func: called as ``func(*inputs, **params)``.
        input_from: the id of the step whose artifact is passed as the first positional
            argument, or a list of ids passed as positional arguments in that order.
        save_output: save the result (and take it from the cache on a re-run). A step
            with ``False`` always runs, and no step can take its output as input.
        params: keyword arguments for ``func``; they are part of the cache key.

    Examples:
        >>> step = Step("classify", len, input_from="extract")
        >>> step.inputs
        ('extract',)
    """

    id: str = attrs.field(validator=_check_id)
    func: Callable[..., Any] = attrs.field(validator=_check_callable)
    input_from: str | tuple[str, ...] | None = attrs.field(
        default=None, kw_only=True, converter=_input_from
    )
    save_output: bool = attrs.field(default=True, kw_only=True)
    params: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, converter=_params)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The ids of the steps this one takes its inputs from, in argument order."""
        if self.input_from is None:
            return ()
        if isinstance(self.input_from, str):
            return (self.input_from,)
        return self.input_from


# --------------------------------------------------------------------------- run state
_UNSET: Any = object()


@attrs.define
class _Output:
    """What a run knows of one step's output: its record, the fingerprint of its value,
    and the value itself while later steps of the run may still need a copy of it."""

    info: ArtifactInfo | None
    fingerprint: str | None = None
    value: Any = _UNSET
    ran: bool = True  # False: an earlier run's artifact (a step left out by only=)

    def remember(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint


# --------------------------------------------------------------------------- graph
def _ordered(steps: Sequence[Step], name: str) -> list[Step]:
    """Validate the graph and return the steps in dependency order.

    Among the steps that are ready, the one listed first runs first, so a pipeline
    listed in a valid order runs in exactly that order.
    """
    by_id: dict[str, Step] = {}
    for step in steps:
        given: object = step  # a list built by hand or from YAML may hold anything
        if not isinstance(given, Step):
            msg = f"pipeline {name}: steps must be Step objects, not {type(given).__name__}"
            raise TypeError(msg)
        if step.id in by_id:
            raise PipelineError(f"pipeline {name}: duplicate step id {step.id!r}")
        by_id[step.id] = step
    for step in steps:
        for dep in step.inputs:
            if dep not in by_id:
                known = ", ".join(repr(s.id) for s in steps)
                msg = (
                    f"pipeline {name}: step {step.id!r} takes input_from {dep!r}, which is "
                    f"not a step of this pipeline (steps: {known})"
                )
                raise PipelineError(msg)
    done: set[str] = set()
    order: list[Step] = []
    pending = list(steps)
    while pending:
        ready = next((s for s in pending if all(d in done for d in s.inputs)), None)
        if ready is None:
            cycle = _find_cycle(pending, by_id)
            raise PipelineError(f"pipeline {name}: steps form a cycle: {' -> '.join(cycle)}")
        pending.remove(ready)
        done.add(ready.id)
        order.append(ready)
    return order


def _find_cycle(pending: Sequence[Step], by_id: Mapping[str, Step]) -> list[str]:
    """One cycle among steps that can never become ready, as ``[a, b, ..., a]``."""
    left = {s.id for s in pending}
    path: list[str] = []
    current = pending[0].id
    # Every pending step waits on a pending step, so following the first such input
    # from anywhere must come back to a step already on the path.
    while current not in path:
        path.append(current)
        current = next(d for d in by_id[current].inputs if d in left)
    return [*path[path.index(current) :], current]


# --------------------------------------------------------------------------- Pipeline
class Pipeline:
    """Steps run in dependency order on one store, each cached by the decorator.

    The graph is checked when the pipeline is built: duplicate ids, an unknown
    ``input_from`` and cycles raise [`PipelineError`][] naming the steps.

    Examples:
        >>> from artifact_cache import open_store
        >>> store = open_store("memory://doc-pipeline")
        >>> def extract(n):
        ...     return list(range(n))
        >>> def total(rows):
        ...     return sum(rows)
        >>> pipe = Pipeline(store, [Step("extract", extract, params={"n": 4}),
        ...                         Step("total", total, input_from="extract")])
        >>> pipe.run().load("total")
        6
        >>> pipe.run().cached
        ['extract', 'total']
    """

    def __init__(
        self, store: ArtifactStore, steps: Sequence[Step], *, name: str | None = None
    ) -> None:
        self.store = store
        self.name = name or "pipeline"
        self.steps: tuple[Step, ...] = tuple(steps)
        self._order = _ordered(self.steps, self.name)
        self._by_id = {s.id: s for s in self.steps}
        self._wrapped: dict[str, StepFunction[Any]] = {}
        # Steps some step takes as input: their records keep the fingerprint of the value.
        self._feeding = {dep for s in self.steps for dep in s.inputs}

    def __repr__(self) -> str:
        ids = ", ".join(s.id for s in self._order)
        return f"Pipeline({self.name!r}, store={self.store.location!r}, steps=[{ids}])"

    def _function(self, step: Step) -> StepFunction[Any]:
        # Wrapped on first use: decorating fingerprints nothing yet, but a pipeline built
        # only to be validated or listed need not import the decorator at all.
        wrapped = self._wrapped.get(step.id)
        if wrapped is None:
            wrapped = self.store.step(step.id)(step.func)
            self._wrapped[step.id] = wrapped
        return wrapped

    # ------------------------------------------------------------------ planning
    def _check_ids(self, ids: Sequence[str], option: str) -> None:
        for step_id in ids:
            if step_id not in self._by_id:
                known = ", ".join(repr(s.id) for s in self._order)
                msg = (
                    f"pipeline {self.name}: {option} names unknown step {step_id!r} "
                    f"(steps: {known})"
                )
                raise PipelineError(msg)

    def plan(
        self, *, only: str | Sequence[str] | None = None, until: str | None = None
    ) -> list[Step]:
        """The steps a [`run`][] with these options would run, in order.

        Examples:
            >>> from artifact_cache import open_store
            >>> store = open_store("memory://doc-plan")
            >>> pipe = Pipeline(store, [Step("a", list), Step("b", list, input_from="a"),
            ...                         Step("c", list, input_from="a")])
            >>> [s.id for s in pipe.plan(until="b")]
            ['a', 'b']
        """
        if only is not None and until is not None:
            raise PipelineError(f"pipeline {self.name}: give only= or until=, not both")
        if only is not None:
            chosen = [only] if isinstance(only, str) else list(only)
            self._check_ids(chosen, "only")
            return [s for s in self._order if s.id in chosen]
        if until is not None:
            self._check_ids([until], "until")
            needed = {until}
            for step in reversed(self._order):
                if step.id in needed:
                    needed.update(step.inputs)
            return [s for s in self._order if s.id in needed]
        return list(self._order)

    def _preflight(self, steps: Sequence[Step]) -> None:
        """Fail before running anything when an input can never be found."""
        running = {s.id for s in steps}
        for step in steps:
            for dep in step.inputs:
                upstream = self._by_id[dep]
                if not upstream.save_output:
                    raise _missing_input(step.id, dep)
                if dep not in running and not self.store.exists(dep):
                    raise _missing_input(step.id, dep)

    # ------------------------------------------------------------------ running
    def run(
        self,
        *,
        fresh: bool = False,
        only: str | Sequence[str] | None = None,
        until: str | None = None,
        progress: Progress | bool | None = None,
        verbose: bool = False,
    ) -> RunResult:
        """Run the steps in dependency order; cached steps are not executed.

        Args:
            fresh: delete the stored artifacts of the steps about to run first.
            only: run just these steps; each input from a step not run is the newest
                artifact of that step in the store (from an earlier run).
            until: run this step and every step it depends on.
            progress: a progress bar over the steps (tqdm's, if installed) unless
                ``False``; by default one is drawn when the store draws bars and
                ``verbose`` is off, once the run has taken half a second. A callable
                is called instead, as ``progress(step_id, None)`` before each step and
                ``progress(step_id, result)`` after it.
            verbose: print a line per step to stdout.

        Raises:
            PipelineError: an input cannot be found (``save_output=False`` upstream, or
                not in the store), or ``only``/``until`` name unknown steps.
            StepFailedError: a step raised; earlier steps' artifacts stay stored.
        """
        steps = self.plan(only=only, until=until)
        if fresh:
            for step in steps:
                if step.save_output:
                    self.store.delete(step.id)
        self._preflight(steps)
        printer = _Printer(sys.stdout, len(steps)) if verbose else None
        callback = progress if callable(progress) else None
        if isinstance(progress, bool):
            show = progress
        else:
            show = progress is None and self.store.progress and not verbose
        with _progress.bar(len(steps), self.name, show=show, unit="step", collect=False) as bar:
            return self._run_steps(steps, printer, callback, bar)

    def _run_steps(
        self,
        steps: list[Step],
        printer: _Printer | None,
        progress: Progress | None,
        bar: _progress.Bar,
    ) -> RunResult:
        started = time.perf_counter()
        done: list[StepResult] = []
        outputs: dict[str, _Output] = {}
        # How many steps of this run still take each output: a loaded value is kept
        # (and copied for each) until the last of them has run.
        waiting = Counter(dep for step in steps for dep in step.inputs)
        for step in steps:
            bar.note(step.id)
            if progress is not None:
                progress(step.id, None)
            if printer is not None:
                printer.start(step.id)
            try:
                result = self._run_step(step, outputs, waiting)
            except BaseException as exc:
                if printer is not None:
                    printer.failed()
                if isinstance(exc, PipelineError) or not isinstance(exc, Exception):
                    raise
                partial_result = self._result(done, outputs, started)
                msg = (
                    f"step {step.id!r} of pipeline {self.name} failed "
                    f"(store {self.store.location}): {type(exc).__name__}: {exc}"
                )
                raise StepFailedError(msg, step_id=step.id, result=partial_result) from exc
            finally:
                for dep in step.inputs:
                    waiting[dep] -= 1
                    if not waiting[dep] and dep in outputs and outputs[dep].info is not None:
                        outputs[dep].value = _UNSET  # no step of this run needs it any more
            done.append(result)
            if step.save_output:
                info = result.info
                fp = None if info is None else output_fingerprint(info)
                # Computed on a read-only store (no record): passed on in memory.
                outputs[step.id] = _Output(info, fp, _UNSET if info is not None else result.value)
            bar.update(1)
            if progress is not None:
                progress(step.id, result)
            if printer is not None:
                printer.done(result)
        return self._result(done, outputs, started)

    def _result(
        self, done: list[StepResult], outputs: dict[str, _Output], started: float
    ) -> RunResult:
        return RunResult(
            self.store,
            done,
            name=self.name,
            duration=time.perf_counter() - started,
            recompute=partial(self._recompute, outputs),
        )

    def _input(
        self, step: Step, dep: str, outputs: dict[str, _Output], *, last: bool | None
    ) -> Any:
        """The argument ``dep`` gives ``step``: a `Deferred` read only if ``step`` computes.

        Its fingerprint comes from the record when the record holds it, so that a step
        whose inputs did not change is a hit without reading them.
        """
        output = outputs.get(dep)
        if output is None:
            # A step this run left out (only=): its newest artifact in the store.
            try:
                info = self.store.info(dep)
            except ArtifactNotFoundError:
                raise _missing_input(step.id, dep) from None
            output = outputs[dep] = _Output(info, output_fingerprint(info), ran=False)
        if output.info is None:
            return output.value
        return Deferred(
            partial(self._take, step, dep, outputs, last), output.fingerprint, output.remember
        )

    def _take(self, step: Step, dep: str, outputs: dict[str, _Output], last: bool | None) -> Any:
        """The value of ``dep`` for ``step``, read from the store at most once per run.

        Every step gets its own copy: while later steps of the run still take the
        output (``last`` false), the value read is kept and ``step`` gets a deep copy of
        it; the last one gets the value itself. ``last=None`` (a step computed again
        after the run found its payload damaged) copies a kept value, keeps none.
        """
        output = outputs[dep]
        value = output.value
        if value is _UNSET:
            value = self._load(step, dep, outputs)
            if last is not False:
                return value
            output.value = value
        elif last:
            output.value = _UNSET
            return value
        try:
            return copy.deepcopy(value)
        except Exception:  # an object deepcopy cannot copy: read it again instead
            return self._load(step, dep, outputs)

    def _load(self, step: Step, dep: str, outputs: dict[str, _Output]) -> Any:
        output = outputs[dep]
        info = output.info
        assert info is not None
        try:
            return self.store.load(info)
        except (PayloadMissingError, IntegrityError) as exc:
            if not output.ran:
                raise _missing_input(step.id, dep) from exc
            # Its record was a hit, its payload is gone or damaged: compute it again.
            msg = f"{exc}; computing step {dep!r} again for step {step.id!r}"
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            return self._recompute(outputs, dep)
        except ArtifactNotFoundError as exc:
            raise _missing_input(step.id, dep) from exc

    def _recompute(self, outputs: dict[str, _Output], step_id: str) -> Any:
        """Compute a step of a finished (or running) run again, save it, return its value."""
        step = self._by_id[step_id]
        args = tuple(self._input(step, dep, outputs, last=None) for dep in step.inputs)
        infos = [outputs[dep].info for dep in step.inputs]
        function = self._function(step)
        with step_inputs(function._spec, (info.ref for info in infos if info is not None)):
            call = function._execute(
                args,
                dict(step.params),
                refresh=True,
                load=False,
                fingerprint_output=step.id in self._feeding,
            )
        if call.info is not None:
            outputs[step_id].info = call.info
        return call.value

    def _run_step(
        self, step: Step, outputs: dict[str, _Output], waiting: Mapping[str, int]
    ) -> StepResult:
        started = time.perf_counter()
        args = tuple(self._input(step, dep, outputs, last=waiting[dep] == 1) for dep in step.inputs)
        if not step.save_output:
            values = [a.value() if isinstance(a, Deferred) else a for a in args]
            value = step.func(*values, **step.params)
            return StepResult(
                step_id=step.id,
                status="computed",
                duration=time.perf_counter() - started,
                info=None,
                value=value,
            )
        # Lineage from where the inputs were read, not from recognising the objects.
        refs = [outputs[dep].info for dep in step.inputs]
        function = self._function(step)
        # Recorded for this step's own save only, not for memoised calls in its body.
        with step_inputs(function._spec, (info.ref for info in refs if info is not None)):
            # A hit is found by its record alone: inputs and output are read only if
            # this step, or a later one, must compute.
            call = function._execute(
                args, dict(step.params), load=False, fingerprint_output=step.id in self._feeding
            )
        return StepResult(
            step_id=step.id,
            status="cached" if call.cached else "computed",
            duration=time.perf_counter() - started,
            info=call.info,
            value=call.value if call.info is None else None,
        )

    # ------------------------------------------------------------------ runbooks
    @classmethod
    def from_runbook(
        cls,
        source: str | os.PathLike[str] | Mapping[str, Any],
        store: ArtifactStore | str | None = None,
    ) -> Pipeline:
        """Build a pipeline from a YAML runbook (a path) or its parsed form (a mapping).

        ``store`` overrides the runbook's ``store:``; without either, the default store
        of [`open_store`][]. A relative local ``store:`` path is relative to the
        runbook's folder. See ``docs/pipelines.md`` for the format.

        Raises:
            RunbookError: the runbook is malformed (names the file, the step and the field).
            FileNotFoundError: the runbook file does not exist.

        Examples:
            >>> pipe = Pipeline.from_runbook({"store": "memory://doc-runbook", "execution": [
            ...     {"id": "words", "run": "string:capwords", "params": {"s": "a b"}}]})
            >>> pipe.run().load("words")
            'A B'
        """
        from .runbook import _Runbook  # it builds Pipelines: imported when used

        return _Runbook.read(source).build(store)
