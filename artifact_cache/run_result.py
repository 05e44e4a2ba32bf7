"""What a pipeline run reports: a [`StepResult`][] per step, gathered in a [`RunResult`][].

Results, their plain-text table, HTML and JSON forms, and the line a verbose run prints
per step. [`Pipeline.run`][artifact_cache.pipeline.Pipeline.run] makes them; the names
stay importable from ``artifact_cache.pipeline``. May import errors, info and store.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TextIO

import attrs

from .errors import IntegrityError, PayloadMissingError
from .info import ArtifactInfo, human_size
from .store import ArtifactStore

__all__ = ["RunResult", "StepResult"]


@attrs.frozen(kw_only=True)
class StepResult:
    """What happened to one step in a run.

    ``duration`` is the wall time the step took in this run (loading its inputs,
    computing the key, computing or loading); ``info.duration`` is what computing it
    took when it was computed. ``info`` is None for a step with ``save_output=False``,
    or one computed on a read-only store, whose result is kept in ``value`` instead.
    """

    step_id: str
    status: Literal["computed", "cached"]
    duration: float
    info: ArtifactInfo | None
    value: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def cached(self) -> bool:
        """True if the step was taken from the cache, not executed."""
        return self.status == "cached"

    @property
    def computed(self) -> bool:
        """True if the step's function was executed."""
        return self.status == "computed"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form."""
        return {
            "step_id": self.step_id,
            "status": self.status,
            "duration": self.duration,
            "info": None if self.info is None else self.info.to_dict(),
        }


def _format_table(
    rows: Sequence[Sequence[str]], headers: Sequence[str], *, right: Sequence[int] = ()
) -> str:
    """Aligned plain-text columns; columns in ``right`` are right-aligned."""
    cells = [list(headers), *([str(c) for c in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


class RunResult:
    """The outcome of [`Pipeline.run`][]: a [`StepResult`][] per step, in run order.

    Iterate over it, index it by step id (or position), print [`summary`][], or let a
    notebook render it as a table.

    Examples:
        >>> from artifact_cache import Pipeline, Step, open_store
        >>> store = open_store("memory://doc-runresult")
        >>> result = Pipeline(store, [Step("numbers", lambda: [1, 2, 3])]).run()
        >>> result["numbers"].status, result.load("numbers")
        ('computed', [1, 2, 3])
    """

    def __init__(
        self,
        store: ArtifactStore,
        results: Sequence[StepResult],
        *,
        name: str,
        duration: float,
        recompute: Callable[[str], Any] | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.duration = duration
        """Wall time of the whole run in seconds."""
        self._results = {r.step_id: r for r in results}
        self._recompute = recompute

    def __iter__(self) -> Iterator[StepResult]:
        return iter(self._results.values())

    def __len__(self) -> int:
        return len(self._results)

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._results

    def __getitem__(self, step_id: str | int) -> StepResult:
        if isinstance(step_id, int):
            return list(self._results.values())[step_id]
        try:
            return self._results[step_id]
        except KeyError:
            msg = f"step {step_id!r} did not run in pipeline {self.name}"
            raise KeyError(msg) from None

    def __repr__(self) -> str:
        return (
            f"<RunResult {self.name}: {len(self.computed)} computed, "
            f"{len(self.cached)} cached, {self.duration:.2f} s>"
        )

    @property
    def computed(self) -> list[str]:
        """Ids of the steps that were executed, in run order."""
        return [r.step_id for r in self if r.computed]

    @property
    def cached(self) -> list[str]:
        """Ids of the steps taken from the cache, in run order."""
        return [r.step_id for r in self if r.cached]

    def load(self, step_id: str) -> Any:
        """The output of a step: read from the store now, or kept in memory if not saved.

        A run reads no output that no computed step needed, so this is where a cached
        step's output is first read: each call reads it again, an independent copy. If
        its payload has gone missing or is damaged since the run found its record, the
        step is computed again (with a ``RuntimeWarning``) and saved, as a run would.
        """
        result = self[step_id]
        if result.info is None:
            return result.value
        try:
            return self.store.load(result.info)
        except (PayloadMissingError, IntegrityError) as exc:
            if self._recompute is None:
                raise
            warnings.warn(f"{exc}; computing step {step_id!r} again", RuntimeWarning, stacklevel=2)
            return self._recompute(step_id)

    def _rows(self) -> list[list[str]]:
        return [
            [
                r.step_id,
                r.status,
                f"{r.duration:.2f} s",
                "-" if r.info is None else human_size(r.info.size),
                "(not saved)" if r.info is None else r.info.key[:12],
            ]
            for r in self
        ]

    _HEADERS = ("STEP", "STATUS", "TIME", "SIZE", "KEY")

    def summary(self) -> str:
        """A plain-text table of the steps, then a totals line."""
        body = _format_table(self._rows(), self._HEADERS, right=[2, 3])
        total = (
            f"{len(self)} steps: {len(self.computed)} computed, {len(self.cached)} cached, "
            f"{self.duration:.2f} s"
        )
        return f"{body}\n{total}"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h.lower()}</th>" for h in self._HEADERS)
        rows = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row)
            + "</tr>"
            for row in self._rows()
        )
        caption = html.escape(repr(self))
        return (
            f"<table class='run-result'><caption>{caption}</caption><tr>{head}</tr>{rows}</table>"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form."""
        return {
            "pipeline": self.name,
            "store": self.store.location,
            "duration": self.duration,
            "steps": [r.to_dict() for r in self],
        }


class _Printer:
    """Prints ``[i/n] step ... computed in 0.52 s`` lines for ``verbose=True``."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self.count = 0

    def start(self, step_id: str) -> None:
        self.count += 1
        print(f"[{self.count}/{self.total}] {step_id} ...", end="", file=self.out, flush=True)

    def done(self, result: StepResult) -> None:
        saved = "" if result.info is not None else " (not saved)"
        print(f" {result.status} in {result.duration:.2f} s{saved}", file=self.out, flush=True)

    def failed(self) -> None:
        print(" failed", file=self.out, flush=True)
