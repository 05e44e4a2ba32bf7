"""The gc lock: removing payloads and a save naming a stored payload never overlap.

``gc`` and ``prune`` read every record a last time and then remove the payloads none
names; a save makes its payload file visible (or finds it stored), writes its record,
and checks the payload is still there. Either of those two may run first, never both
at once, so that either the last read sees the save's record, or the save's check
runs after the removal (and writes the payload again).

* **Local disks**: ``<root>/gc.lock``, an empty file locked with ``flock``: shared by
  saves whose payload is a file (several saves at once), exclusive by a removal. The
  kernel releases it when a process dies, so a killed save or ``gc`` never blocks
  others. Where there is no ``fcntl`` (Windows), or the filesystem refuses ``flock``,
  nothing is locked (see docs/format.md, "Garbage").
* **memory://**: one process; a shared/exclusive lock per store root.
* **Object stores** have no lock: a removal narrows the window instead (see
  ``lifecycle/garbage``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import weakref
from collections.abc import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "FileLock", "Hold", "MemoryLock", "NoLock"]

LOCK_NAME = "gc.lock"
"""The lock file of a local store, at its root (never removed, never a record)."""

_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
"""What ``flock`` raises where the filesystem cannot lock: then nothing is locked."""

_O_LOCK = os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class NoLock:
    """Object stores, and local disks without ``flock``: nothing is locked."""

    locks = False
    """True if holders exclude each other (else removals take their other measures)."""

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        yield

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        yield


class FileLock(NoLock):
    """``flock`` on a file: one open file per holder, so that threads of one process
    exclude each other too; a forked child closes its copies of them at once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.locks = True

    def __repr__(self) -> str:
        return f"FileLock({self.path!r})"

    def _open(self) -> int:
        try:
            return os.open(self.path, _O_LOCK, 0o666)
        except FileNotFoundError:  # no store folder yet (or a clear removed it)
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            return os.open(self.path, _O_LOCK, 0o666)

    @contextlib.contextmanager
    def _held(self, how: int) -> Iterator[None]:
        fd = self._open()
        _open_fds.add(fd)
        try:
            try:
                fcntl.flock(fd, how)
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
                self.locks = False  # a filesystem without flock (some network mounts)
            yield
        finally:
            # Closing the last descriptor of the open file releases the lock (a forked
            # child closed its copies already, and no longer knows them).
            if fd in _open_fds:
                _open_fds.discard(fd)
                os.close(fd)

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._held(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._held(fcntl.LOCK_EX):
            yield


class MemoryLock(NoLock):
    """A shared/exclusive lock between the threads of one process."""

    locks = True

    def __init__(self) -> None:
        self._reset()
        _memory_locks.add(self)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers = max(0, self._readers - 1)
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._readers)
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


_open_fds: set[int] = set()
"""The descriptors of file locks this process holds or is waiting for."""
_memory_locks: weakref.WeakSet[MemoryLock] = weakref.WeakSet()


def _forget_in_child() -> None:
    """A forked child holds none of its parent's locks: it would keep a save's shared
    lock for as long as it lives (its copy of the descriptor), and inherit the state
    of memory locks held by threads it does not have."""
    for fd in list(_open_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _open_fds.clear()
    for lock in list(_memory_locks):
        lock._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def file_lock(root: str) -> NoLock:
    """The lock of the local store at ``root`` (nothing where there is no ``flock``)."""
    return NoLock() if fcntl is None else FileLock(f"{root.rstrip('/')}/{LOCK_NAME}")


class Hold:
    """A save's shared hold of its store's lock: taken by the first `take`, kept until
    the ``with`` block ends (a save that stores its payload inside its record never
    takes it)."""

    def __init__(self, lock: NoLock) -> None:
        self._lock = lock
        self._held: contextlib.AbstractContextManager[None] | None = None

    def take(self) -> None:
        """Hold the lock from now on (again: nothing)."""
        if self._held is None:
            held = self._lock.shared()
            held.__enter__()
            self._held = held

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)


Ready = Callable[[], None]
"""Called just before a payload file becomes visible under its name."""
