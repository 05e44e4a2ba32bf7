"""Single flight: concurrent calls of one memoised function with one key compute once.

One lock per (store, step id, key) being computed, for threads (`_Flights`) and
for coroutines of one event loop (`_AsyncFlights`); the others wait, then find the
saved result. Imports nothing of the package.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any


class _Flights:
    """One lock per (store, step id, key) being computed, dropped when nobody holds it.

    Different keys never wait for each other; the table lock is held only to look up.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str, str], list[Any]] = {}  # ident -> [RLock, users]
        self.finished = 0
        """How many flights have ended in this process (any key)."""

    @contextlib.contextmanager
    def hold(self, ident: tuple[str, str, str]) -> Iterator[bool]:
        """Hold the key's flight; yields whether another caller held or awaited it too
        (only then may it have computed the result meanwhile)."""
        with self._lock:
            entry = self._held.get(ident)
            shared = entry is not None
            if entry is None:
                # Reentrant: a body that calls its own step with the same key recurses as it
                # would uncached instead of deadlocking.
                entry = self._held[ident] = [threading.RLock(), 0]
            entry[1] += 1
        try:
            with entry[0]:
                yield shared
        finally:
            with self._lock:
                self.finished += 1
                entry[1] -= 1
                if entry[1] == 0:
                    del self._held[ident]


_flights = _Flights()


class _AsyncFlights:
    """Single flight for coroutines: one asyncio lock per key being computed."""

    def __init__(self) -> None:
        self._held: dict[tuple[Any, ...], list[Any]] = {}  # ident -> [Lock, users]
        self.finished = 0
        """How many flights have ended (any key, any loop)."""

    @contextlib.asynccontextmanager
    async def hold(self, ident: tuple[Any, ...]) -> AsyncIterator[bool]:
        """As `_Flights.hold`: yields whether another coroutine held or awaited the key."""
        ident = (id(asyncio.get_running_loop()), *ident)  # a lock belongs to one loop
        entry = self._held.get(ident)
        shared = entry is not None
        if entry is None:
            entry = self._held[ident] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield shared
        finally:
            self.finished += 1
            entry[1] -= 1
            if entry[1] == 0:
                del self._held[ident]


_async_flights = _AsyncFlights()
