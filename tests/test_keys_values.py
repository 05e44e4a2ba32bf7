"""Keys of argument values hold all the state a call can see.

Regression tests for values that used to share a key though a function could tell them
apart: masked arrays' fill values, enum members of redefined classes, state set outside
a dataclass's fields, subclasses of numpy and pandas types, and shared references.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import http
import re
import threading
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pytest
from procs import run_python

import artifact_cache as ac
from artifact_cache.fingerprint import FingerprintError, fingerprint

REPO_ROOT = Path(ac.__file__).resolve().parents[1]


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


def make_level(threshold: int) -> Any:
    class Level(enum.Enum):
        HIGH = threshold

    return Level


class TestEnums:
    def test_members_of_classes_with_one_name_differ_by_value(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        """A factory's (or a re-run cell's) enum with another value is another argument."""

        @mem_store.step
        def cutoff(level: Any) -> int:
            return int(level.value) * 2

        low, high = make_level(10).HIGH, make_level(50).HIGH
        assert cutoff(low) == 20
        assert cutoff(high) == 100
        assert cutoff.call(make_level(50).HIGH).cached
        ns: dict[str, Any] = {"__name__": "__main__"}
        exec("import enum\nclass Mode(enum.Enum):\n    FAST = 1\n", ns)
        first = ns["Mode"].FAST
        exec("import enum\nclass Mode(enum.Enum):\n    FAST = 2\n", ns)
        assert fingerprint(first) != fingerprint(ns["Mode"].FAST)

    def test_an_edited_enum_module_changes_the_key_in_a_new_process(self, tmp_path: Path) -> None:
        """A member's value (or method) edited between two processes is a new key, though
        the step's own code never names the enum."""
        (tmp_path / "levels.py").write_text(
            "import enum\n\n\nclass Level(enum.Enum):\n    HIGH = 50\n\n"
            "    def scaled(self):\n        return self.value * 2\n"
        )
        (tmp_path / "steps.py").write_text(
            "import artifact_cache as ac\n\n"
            f"store = ac.open_store({(tmp_path / 'store').as_uri()!r})\n\n\n"
            "@store.step\ndef cutoff(level):\n    return level.scaled()\n"
        )
        script = "import levels, steps; print(steps.cutoff.key(levels.Level.HIGH))"

        def key() -> str:
            out = run_python(script, path=tmp_path)
            assert out.returncode == 0, out.stderr
            return out.stdout.strip()

        original = key()
        assert key() == original  # stable across processes
        levels = tmp_path / "levels.py"
        levels.write_text(levels.read_text().replace("HIGH = 50", "HIGH = 100"))
        edited_value = key()
        levels.write_text(levels.read_text().replace("* 2", "* 3"))
        edited_method = key()
        assert len({original, edited_value, edited_method}) == 3

    def test_enums_of_the_stdlib_keep_their_keys(self) -> None:
        """Enums of the stdlib and installed packages count by name and member, as before."""
        assert fingerprint(re.IGNORECASE) != fingerprint(re.MULTILINE)
        assert fingerprint(http.HTTPStatus.OK) == fingerprint(http.HTTPStatus(200))


@dataclasses.dataclass
class Ridge:
    alpha: float = 1.0

    def fit(self, xs: list[float], ys: list[float]) -> Ridge:
        num = sum(x * y for x, y in zip(xs, ys, strict=True))
        self.coef_ = num / (sum(x * x for x in xs) + self.alpha)
        return self


@attrs.define(slots=False)
class Scaler:
    scale: float = 1.0


@dataclasses.dataclass(slots=True)
class Slotted:
    a: int = 1


class SlottedMore(Slotted):
    __slots__ = ("cache",)


class TestStateOutsideFields:
    def test_a_dataclass_attribute_set_by_a_method_is_keyed(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        """Two fitted models with equal fields but other coefficients are two calls."""

        @mem_store.step
        def predict(model: Ridge, x: float) -> float:
            return float(model.coef_ * x)

        a = Ridge().fit([1, 2, 3], [2, 4, 6])
        b = Ridge().fit([1, 2, 3], [-1, -2, -3])
        assert predict(a, 10) == pytest.approx(a.coef_ * 10)
        assert predict(b, 10) == pytest.approx(b.coef_ * 10)
        assert predict.call(Ridge().fit([1, 2, 3], [-1, -2, -3]), 10).cached
        assert fingerprint(Ridge()) != fingerprint(a)

    def test_attrs_and_slotted_instances_key_what_they_hold_besides_fields(self) -> None:
        """A non-slotted attrs instance's __dict__ and a subclass's set slots count."""
        plain, offset = Scaler(2.0), Scaler(2.0)
        offset.offset = 5  # type: ignore[attr-defined]
        assert fingerprint(plain) == fingerprint(Scaler(2.0))
        assert fingerprint(plain) != fingerprint(offset)
        empty, full = SlottedMore(), SlottedMore()
        full.cache = {"x": 1}
        assert fingerprint(empty) == fingerprint(SlottedMore())  # an unset slot: nothing
        assert fingerprint(empty) != fingerprint(full)

    def test_state_that_cannot_be_hashed_is_a_clear_error(self) -> None:
        """An unhashable attribute outside the fields fails naming it, not silently."""
        model = Ridge()
        model.lock = threading.Lock()  # type: ignore[attr-defined]
        with pytest.raises(FingerprintError) as caught:
            fingerprint(model, name="model")
        assert caught.value.path == "arg 'model' -> .lock"


class Quantity(np.ndarray):  # numpy's documented "InfoArray" pattern
    def __new__(cls, values: Any, unit: str) -> Quantity:
        obj = np.asarray(values, dtype=float).view(cls)
        obj.unit = unit
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.unit = getattr(obj, "unit", None)


class Plain(np.ndarray):
    pass


class GeoFrame(pd.DataFrame):  # pandas' documented subclassing pattern
    _metadata = ["crs"]

    @property
    def _constructor(self) -> type[GeoFrame]:
        return GeoFrame


class TestSubclassesOfRegisteredTypes:
    def test_an_array_subclass_is_keyed_by_its_own_attributes(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        """1 m and 1 km are two calls, though their buffers are equal."""

        @mem_store.step
        def in_metres(q: Quantity) -> float:
            return float(q.sum()) * {"m": 1, "km": 1000}[q.unit]

        assert in_metres(Quantity([1.0], "m")) == 1.0
        assert in_metres(Quantity([1.0], "km")) == 1000.0
        assert in_metres.call(Quantity([1.0], "km")).cached
        # A subclass without state of its own, and numpy's own subclasses, as before.
        assert fingerprint(np.arange(3).view(Plain)) == fingerprint(np.arange(3).view(Plain))
        assert fingerprint(np.arange(3).view(Plain)) != fingerprint(np.arange(3))

    def test_a_frame_subclass_is_keyed_by_its_metadata(self, mem_store: ac.ArtifactStore) -> None:
        """A DataFrame subclass's _metadata (a CRS) is part of its key."""

        @mem_store.step
        def describe(frame: GeoFrame) -> str:
            return f"{len(frame)} rows in {frame.crs}"

        a, b = GeoFrame({"x": [1]}), GeoFrame({"x": [1]})
        a.crs, b.crs = "EPSG:4326", "EPSG:3857"
        assert describe(a) == "1 rows in EPSG:4326"
        assert describe(b) == "1 rows in EPSG:3857"
        assert fingerprint(GeoFrame({"x": [1]})) == fingerprint(GeoFrame({"x": [1]}))
        assert fingerprint(GeoFrame({"x": [1]})) != fingerprint(a)

    def test_a_subclass_state_that_cannot_be_hashed_is_a_clear_error(self) -> None:
        """An attribute of a subclass that has nothing to hash fails naming it."""
        q = Quantity([1.0], "m")
        q.lock = threading.Lock()  # type: ignore[attr-defined]
        with pytest.raises(FingerprintError) as caught:
            fingerprint(q, name="q")
        assert caught.value.path == "arg 'q' -> .lock"


class Node:
    def __init__(self, n: int, items: list[int]) -> None:
        self.n, self.items = n, items


SHARED_ACROSS_PROCESSES = """
import json, random, sys
from artifact_cache import fingerprint
from keys_values_nodes import Node

shared = [1, 2]
names = ["a", "b", "c", "d"]
random.Random(int(sys.argv[1])).shuffle(names)
table = {name: shared if name in "ab" else [1, 2] for name in names}
nodes = {Node(1, shared), Node(2, [3])}
print(json.dumps([fingerprint([table, shared]), fingerprint([nodes, shared])]))
"""


class TestSharedReferences:
    def test_one_list_twice_and_two_equal_lists_are_two_calls(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        """A function that changes one item in place sees the other change or not."""

        @mem_store.step
        def grow(pair: list[list[int]]) -> int:
            pair[0].append(0)
            return len(pair[1])

        a = [1]
        assert grow([a, a]) == 2
        b = [1]
        assert grow([b, [1]]) == 1
        assert grow.key([[1], [1]]) != grow.key([c := [1], c])
        arr = np.zeros(3)
        assert fingerprint([arr, arr]) != fingerprint([arr, arr.copy()])
        assert fingerprint({"x": a, "y": a}) != fingerprint({"x": a, "y": [1]})

    def test_sharing_is_keyed_canonically(self) -> None:
        """Equal graphs give equal keys: insertion order, a deep copy, the objects' ids
        do not matter; which place an object is shared with does."""
        one, other = [1], [2]
        first = {"k1": one, "k2": other}
        second = {"k2": other, "k1": one}
        assert fingerprint([first, one]) == fingerprint([second, one])
        assert fingerprint([first, one]) != fingerprint([first, other])
        value = [one, {"z": one}, (one,)]
        assert fingerprint(value) == fingerprint(copy.deepcopy(value))
        node = Node(1, one)
        assert fingerprint([node, node]) != fingerprint([node, Node(1, one)])
        assert fingerprint([Node(1, one), one]) != fingerprint([Node(1, [1]), one])

    def test_canonical_in_processes_with_other_hash_seeds(self, tmp_path: Path) -> None:
        """Dict order and set iteration order (by hash seed and address) do not count."""
        (tmp_path / "keys_values_nodes.py").write_text(
            "class Node:\n"
            "    def __init__(self, n, items):\n"
            "        self.n, self.items = n, items\n"
        )
        results = set()
        for seed in ("1", "2", "3"):
            out = run_python(SHARED_ACROSS_PROCESSES, seed, seed=seed, path=tmp_path)
            assert out.returncode == 0, out.stderr
            results.add(out.stdout.strip())
        assert len(results) == 1

    def test_values_without_sharing_keep_their_digests(self) -> None:
        """Pinned: sharing adds to a key only where there is some; immutable values
        (tuples, strings) met twice, code met twice and cycles are as they were."""
        pinned = {
            "4a93ff2878eae4ab0e03308e3e47dcf2": [1, [2, 3], {"a": 4}],
            "b0619be6db2f6b6b58def1184ca51384": {"a": [1], "b": {1, 2}},
            "b7b6c525d7f89332a6f08a4591ea7d13": ("x", "x"),
            "294b08973d1f9d48041e48cc0cb3c6bc": {1, 2, "a"},
            "044674983d602c5ddcc2c6abd8571903": np.arange(6.0),
            "b384498d0ed1728c6d107d0ead701ef5": np.ma.array([1, 2, 3], mask=[0, 1, 0]),
            "d8652bd101a6450f166184f4e6ef0d21": bytearray(b"ab"),
        }
        for digest, value in pinned.items():
            assert fingerprint(value) == digest, value
        cycle: list[Any] = [1]
        cycle.append(cycle)
        assert fingerprint(cycle) == "5b448616e6ac5430b7f0940ec35fc9b9"
        loop: dict[str, Any] = {}
        loop["self"] = loop
        assert fingerprint(loop) == "418cd755feb31e2701d01f643fe8570d"
        pair = (1,)
        assert fingerprint((pair, pair)) == fingerprint(((1,), (1,)))
        scalar, stamp = np.float64(1.5), pd.Timestamp("2024-01-01")
        assert fingerprint([scalar, scalar]) == fingerprint([scalar, np.float64(1.5)])
        assert fingerprint([stamp, stamp]) == fingerprint([stamp, pd.Timestamp("2024-01-01")])
        assert fingerprint([len, len]) == fingerprint([len, len])
        assert fingerprint([make_level, make_level]) == fingerprint([make_level, make_level])
