"""A step decorated at module level, for tests that pickle it by reference."""

from __future__ import annotations

import artifact_cache as ac

__all__ = ["STORE", "Scaler", "double"]

STORE = ac.open_store("memory://userhelpers-stepmod")


@STORE.step
def double(x: int) -> int:
    """Twice ``x``."""
    return 2 * x


class Scaler:
    """A class whose method is a step (the instance is left out of the key)."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    @STORE.step
    def scale(self, x: int) -> int:
        return self.factor * x
