"""Keys of argument values hold all the state a call can see.

Regression tests for values that used to share a key though a function could tell them
apart: masked arrays' fill values, enum members of redefined classes, state set outside
a dataclass's fields, subclasses of numpy and pandas types, and shared references.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import artifact_cache as ac
from artifact_cache.fingerprint import fingerprint


class TestMaskedArrays:
    def test_the_fill_value_and_a_hard_mask_are_keyed(self, mem_store: ac.ArtifactStore) -> None:
        """filled() gives each array's own fill value, not the first call's."""

        @mem_store.step
        def filled(m: Any) -> list[int]:
            return list(m.filled().tolist())

        a = np.ma.array([1, 2, 3], mask=[0, 1, 0], fill_value=-1)
        b = np.ma.array([1, 2, 3], mask=[0, 1, 0], fill_value=99)
        assert filled(a) == [1, -1, 3]
        assert filled(b) == [1, 99, 3]
        assert filled.call(np.ma.array([1, 2, 3], mask=[0, 1, 0], fill_value=99)).cached
        soft = np.ma.array([1.0, 2.0], mask=[0, 1])
        hard = np.ma.array([1.0, 2.0], mask=[0, 1], hard_mask=True)
        assert fingerprint(soft) != fingerprint(hard)
        # The default fill value is the one nobody set: equal to an unset one.
        default = np.ma.array([1.0, 2.0], mask=[0, 1], fill_value=1e20)
        assert fingerprint(soft) == fingerprint(default)
