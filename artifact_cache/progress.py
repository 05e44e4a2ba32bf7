"""Progress bars for long saves, loads, listings and pipeline runs, drawn by tqdm.

tqdm is optional (the ``notebook`` extra brings it): without it, nothing is drawn.
``tqdm.auto`` draws a widget in a notebook and text on stderr elsewhere. A bar is
opened only for work over a threshold (``MIN_BYTES``, ``MIN_RECORDS``) and appears only
once the work has taken ``DELAY`` seconds, so quick operations never flash one. They are
on unless switched off: ``open_store(..., progress=False)``,
``ARTIFACT_CACHE_PROGRESS=0``, or ``Pipeline.run(progress=False)``.

The storage layer reports bytes and records through [`advance`][] and
[`write_chunks`][], which cost one context-variable lookup when no bar is open. This
module imports only the stdlib (tqdm lazily).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

__all__ = [
    "DELAY",
    "ENV_PROGRESS",
    "MIN_BYTES",
    "MIN_RECORDS",
    "NO_BAR",
    "Bar",
    "advance",
    "bar",
    "enabled",
    "write_chunks",
]

ENV_PROGRESS = "ARTIFACT_CACHE_PROGRESS"
"""Set to ``0`` (or ``false``, ``no``, ``off``) to switch progress bars off."""

MIN_BYTES = 64 * 2**20
"""Saves and loads of payloads at least this large get a bar."""

MIN_RECORDS = 1000
"""Listings that read at least this many records get a bar."""

DELAY = 0.5
"""Seconds a bar waits before it appears (tqdm's ``delay``)."""

_SLICE = 16 * 2**20
"""Writes are cut into slices this size while a bar is open, so that it moves."""

_OFF = frozenset({"0", "false", "no", "off"})

_current: contextvars.ContextVar[Bar | None] = contextvars.ContextVar(
    "artifact_cache_progress", default=None
)


def enabled(setting: bool | None = None) -> bool:
    """Whether bars are on: ``setting`` if given, else ``$ARTIFACT_CACHE_PROGRESS``, else on.

    Examples:
        >>> enabled(False), enabled(True)
        (False, True)
    """
    if setting is not None:
        return bool(setting)
    return os.environ.get(ENV_PROGRESS, "").strip().lower() not in _OFF


class Bar:
    """An open bar (a tqdm instance), or a stand-in that draws nothing."""

    def __init__(self, tqdm: Any = None) -> None:
        self._tqdm = tqdm

    @property
    def shown(self) -> bool:
        """True if a tqdm bar is behind this one."""
        return self._tqdm is not None

    def update(self, n: int = 1) -> None:
        if self._tqdm is not None:
            self._tqdm.update(n)

    def note(self, text: str) -> None:
        """Show ``text`` after the bar (the step running, say)."""
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(text, refresh=False)

    def _finish(self) -> None:
        t = self._tqdm
        if t is not None and t.total is not None and t.n < t.total:
            # Work skipped (a payload already stored) still counts as done.
            t.update(t.total - t.n)


NO_BAR: contextlib.AbstractContextManager[Bar] = contextlib.nullcontext(Bar())
"""A reusable context that yields a bar drawing nothing (for hot paths: no generator)."""


def _make_tqdm(**options: Any) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    try:
        return tqdm(**options)
    except ImportError:
        # In a notebook without ipywidgets tqdm.auto cannot draw a widget: use text.
        from tqdm.std import tqdm as text_tqdm

        return text_tqdm(**options)


@contextlib.contextmanager
def bar(
    total: int,
    desc: str,
    *,
    show: bool,
    unit: str = "B",
    collect: bool = True,
) -> Iterator[Bar]:
    """A progress bar over ``total`` units, or a stand-in when ``show`` is false.

    With ``collect``, [`advance`][] and [`write_chunks`][] called inside the block (in
    this thread or a context copied from it) move this bar.

    Examples:
        >>> with bar(10, "nothing", show=False) as b:
        ...     b.update(10)
        >>> b.shown
        False
    """
    tqdm = None
    if show:
        tqdm = _make_tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=unit == "B",
            unit_divisor=1024,
            delay=DELAY,
            leave=False,
            dynamic_ncols=True,
        )
    handle = Bar(tqdm)
    if tqdm is None:
        yield handle
        return
    token = _current.set(handle) if collect else None
    try:
        yield handle
        handle._finish()
    finally:
        if token is not None:
            _current.reset(token)
        tqdm.close()


def active() -> bool:
    """True if a bar collecting bytes or records is open in this context."""
    return _current.get() is not None


def advance(n: int) -> None:
    """Move the open bar by ``n`` (bytes or records); nothing if there is none."""
    handle = _current.get()
    if handle is not None:
        handle.update(n)


def write_chunks(f: IO[bytes], chunks: Iterable[bytes | bytearray | memoryview]) -> None:
    """Write ``chunks`` to ``f``; with a bar open, in slices that move it."""
    handle = _current.get()
    for chunk in chunks:
        if handle is None:
            f.write(chunk)
            continue
        view = memoryview(chunk).cast("B")
        for start in range(0, view.nbytes, _SLICE):
            piece = view[start : start + _SLICE]
            f.write(piece)
            handle.update(piece.nbytes)
