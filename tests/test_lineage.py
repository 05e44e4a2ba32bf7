"""Lineage queries (store.lineage, store.downstream) on every backend, lineage through
tuple unpacking of a step's result, and the ``lineage``/``downstream`` commands."""

from __future__ import annotations

import enum
import json
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from procs import run_cli as run
from procs import run_threads

import artifact_cache as ac
from artifact_cache.info import ArtifactInfo, ArtifactRef
from artifact_cache.provenance import Provenance


def steps(infos: list[ArtifactInfo]) -> list[str]:
    return [i.step_id for i in infos]


def chain(store: ac.ArtifactStore) -> dict[str, ac.StepFunction[Any, Any]]:
    """a -> b -> c as memoised functions: lineage recorded by the decorator itself."""

    @store.step("a")
    def a(n: int) -> list[int]:
        return list(range(n))

    @store.step("b")
    def b(rows: list[int]) -> list[int]:
        return [r * 2 for r in rows]

    @store.step("c")
    def c(rows: list[int]) -> int:
        return sum(rows)

    c(b(a(5)))
    return {"a": a, "b": b, "c": c}


class TestChain:
    def test_lineage_and_downstream_of_a_three_step_chain(self, store: ac.ArtifactStore) -> None:
        chain(store)
        assert steps(store.lineage("c")) == ["b", "a"]
        assert steps(store.lineage("b")) == ["a"]
        assert store.lineage("a") == []
        assert steps(store.downstream("a")) == ["b", "c"]
        assert steps(store.downstream("b")) == ["c"]
        assert store.downstream("c") == []
        # The records are the stored ones, whole.
        assert store.lineage("c")[1] == store.info("a")
        assert isinstance(store.lineage("c"), ac.ArtifactList)
        assert isinstance(store.downstream("a"), ac.ArtifactList)

    def test_depth_limits_the_walk_up(self, store: ac.ArtifactStore) -> None:
        chain(store)
        assert steps(store.lineage("c", depth=1)) == ["b"]
        assert steps(store.lineage("c", depth=2)) == ["b", "a"]
        assert steps(store.lineage("c", depth=5)) == ["b", "a"]
        assert store.lineage("c", depth=0) == []

    def test_a_diamond_is_walked_breadth_first_each_artifact_once(
        self, store: ac.ArtifactStore
    ) -> None:
        """a -> b, a -> c, (b, c) -> d: a appears once, after both of d's inputs."""
        a = store.save("a", [1, 2])
        b = store.save("b", [2, 4], inputs=[a.ref])
        c = store.save("c", [3, 6], inputs=[a.ref])
        store.save("d", 15, inputs=[b.ref, c.ref])
        store.save("unrelated", 0)
        assert steps(store.lineage("d")) == ["b", "c", "a"]
        assert steps(store.lineage("d", depth=1)) == ["b", "c"]
        assert steps(store.downstream("a")) == ["b", "c", "d"]  # one level, oldest first
        assert steps(store.downstream("b")) == ["d"]

    def test_keys_choose_the_artifact(self, mem_store: ac.ArtifactStore) -> None:
        """With key=, the artifact of that key; without, the newest of the step."""
        fns = chain(mem_store)
        fns["c"](fns["b"](fns["a"](3)))  # a second chain: new keys of a, b and c
        a_keys = [i.key for i in mem_store.artifacts("a")]  # newest first
        newest, older = a_keys
        assert len(mem_store.downstream("a", key=older)) == 2
        down = mem_store.downstream("a", key=newest)
        assert steps(down) == ["b", "c"]
        assert down[0].inputs[0].key == newest
        up = mem_store.lineage("c", key=mem_store.artifacts("c")[-1].key)
        assert up[-1].key == older

    def test_a_cycle_in_hand_made_records_ends(self, mem_store: ac.ArtifactStore) -> None:
        """Records that name each other (written by hand) are walked once each."""
        y0 = mem_store.save("y", "same payload")
        x = mem_store.save("x", "x", inputs=[y0.ref])
        mem_store.save("y", "same payload", inputs=[x.ref])  # same digest as y0
        assert steps(mem_store.lineage("x")) == ["y"]
        assert steps(mem_store.lineage("y")) == ["x"]
        assert steps(mem_store.downstream("x")) == ["y"]

    def test_downstream_reads_one_listing(
        self, store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """downstream lists the store once, and reads no record one by one but its own."""
        chain(store)
        calls: dict[str, int] = {"list": 0, "info": 0}
        for name in calls:
            original = getattr(store, name)

            def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
                calls[_name] += 1
                return _original(*args, **kw)

            monkeypatch.setattr(store, name, counted)
        assert steps(store.downstream("a")) == ["b", "c"]
        assert calls == {"list": 1, "info": 1}


class TestUnfollowable:
    def test_a_deleted_input_is_left_out_with_a_warning(self, store: ac.ArtifactStore) -> None:
        chain(store)
        a_key = store.info("a").key
        store.delete("a")  # the history stays: a is found as its tombstoned version
        assert [(i.step_id, i.status) for i in store.lineage("c")] == [
            ("b", "active"),
            ("a", "tombstoned"),
        ]
        store.delete("a", purge=True)
        with pytest.warns(UserWarning, match="not in the store any more") as caught:
            up = store.lineage("c")
        assert steps(up) == ["b"]
        message = str(caught[0].message)
        assert "'a'" in message and a_key in message and store.location in message

    def test_an_earlier_input_is_found_in_the_history(self, mem_store: ac.ArtifactStore) -> None:
        """An input whose step and key hold a later artifact now is an earlier version of
        them: lineage gives that version (superseded), and follows it further up."""
        raw = mem_store.save("raw", [1])
        clean = mem_store.save("clean", [1], inputs=[raw.ref])
        mem_store.save("model", 1, inputs=[clean.ref])
        mem_store.save("clean", [2])  # a new artifact under clean's step and key
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            up = mem_store.lineage("model")
        assert steps(up) == ["clean", "raw"]
        assert [i.status for i in up] == ["superseded", "active"]
        assert up[0].digest == clean.digest and mem_store.load(up[0]) == [1]
        # Downstream of the new clean: model was computed from the earlier one.
        assert mem_store.downstream("clean") == []
        assert steps(mem_store.downstream("raw")) == []  # the new clean has no inputs

    def test_a_replaced_input_without_history_is_not_followed(self) -> None:
        """With its version trimmed, an earlier input is left out with a warning, and
        nothing above it is followed (the later artifact is not what it came from)."""
        store = ac.ArtifactStore(
            f"memory://lineage-trimmed-{uuid.uuid4().hex}", keep_versions=1, prune_every=1
        )
        raw = store.save("raw", [1])
        clean = store.save("clean", [1], inputs=[raw.ref])
        store.save("model", 1, inputs=[clean.ref])
        store.save("clean", [2])  # keeps one version of clean: the earlier one goes
        with pytest.warns(UserWarning, match="replaced since"):
            assert store.lineage("model") == []
        store.delete("clean", purge=True)
        with pytest.warns(UserWarning, match="not in the store any more"):
            assert store.lineage("model") == []

    def test_no_warning_when_everything_resolves(self, mem_store: ac.ArtifactStore) -> None:
        chain(mem_store)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert steps(mem_store.lineage("c")) == ["b", "a"]

    @pytest.mark.parametrize("depth", [-1, 1.5, "2", True])
    def test_bad_depth(self, mem_store: ac.ArtifactStore, depth: Any) -> None:
        mem_store.save("a", 1)
        with pytest.raises(ac.InvalidQueryError, match="depth") as exc:
            mem_store.lineage("a", depth=depth)
        assert "'a'" in str(exc.value) and mem_store.location in str(exc.value)

    def test_missing_artifact_and_bad_step_id(self, mem_store: ac.ArtifactStore) -> None:
        with pytest.raises(ac.ArtifactNotFoundError, match="'nothing'"):
            mem_store.lineage("nothing")
        with pytest.raises(ac.ArtifactNotFoundError, match="'nothing'"):
            mem_store.downstream("nothing")
        with pytest.raises(ac.InvalidStepIdError):
            mem_store.downstream("../etc")


class Color(enum.Enum):
    RED = 1


class TestTupleUnpacking:
    def test_unpacked_arrays_and_frames_keep_their_lineage(self, store: ac.ArtifactStore) -> None:
        """X, y = features(): train(X, y) records features as its input, on a miss and on
        a hit (where the parts were loaded, not computed)."""

        @store.step("features")
        def features(n: int) -> tuple[np.ndarray, pd.DataFrame]:
            return np.arange(n * 2.0).reshape(n, 2), pd.DataFrame({"y": range(n)})

        @store.step("train")
        def train(X: np.ndarray, y: pd.DataFrame) -> float:
            return float(X.sum() + y["y"].sum())

        X, y = features(4)
        assert ac.lineage_of(X) == store.info("features").ref
        assert ac.lineage_of(y) == store.info("features").ref
        trained = train.call(X, y)
        assert [r.step_id for r in trained.info.inputs] == ["features"]  # type: ignore[union-attr]
        assert steps(store.lineage("train")) == ["features"]
        assert steps(store.downstream("features")) == ["train"]

        # A hit: the parts are loaded from the store and remember it all the same.
        again = ac.open_store(store.location)
        X2, y2 = again.step("features")(features.__wrapped__)(4)
        assert X2 is not X and ac.lineage_of(X2) == store.info("features").ref
        assert ac.lineage_of(y2) == store.info("features").ref

    def test_dict_values_and_nested_tuples(self, mem_store: ac.ArtifactStore) -> None:
        @mem_store.step("split")
        def split() -> tuple[tuple[np.ndarray, np.ndarray], dict[str, pd.DataFrame]]:
            frame = pd.DataFrame({"a": [1, 2, 3, 4]})
            return (np.zeros(2), np.ones(2)), {"train": frame[:2], "test": frame[2:]}

        @mem_store.step("fit")
        def fit(x: np.ndarray, frame: pd.DataFrame) -> int:
            return len(x) + len(frame)

        (x_train, _x_test), frames = split()
        ref = mem_store.info("split").ref
        assert ac.lineage_of(x_train) == ref
        assert ac.lineage_of(frames["test"]) == ref
        assert ac.lineage_of(frames) == ref  # a dict part, a mutable container
        info = fit.call(x_train, frames["train"]).info
        assert info is not None and [r.step_id for r in info.inputs] == ["split"]

    def test_shared_values_are_not_tagged(self, mem_store: ac.ArtifactStore) -> None:
        """Small ints, None, strings, tuples, classes, functions, enum members: values
        other code shares are never tagged."""
        word = "".join(["sha", "red"])  # equal to an interned constant, but its own object
        shared = (1, None, "shared", word, (2, 3), 2.5, b"x", [9])
        by_reference = (np.ndarray, np.mean, json.dumps, json, Color.RED, int)
        mem_store.save("mixed", shared + by_reference)
        _, loaded = mem_store.save("again", (0, by_reference)), mem_store.get("again")
        assert loaded[1][0] is np.ndarray and loaded[1][4] is Color.RED  # the same objects
        for value in by_reference:
            assert ac.lineage_of(value) is None, value
        assert ac.lineage_of(1) is None
        assert ac.lineage_of(None) is None
        assert ac.lineage_of("shared") is None
        assert ac.lineage_of(word) is None
        assert ac.lineage_of((2, 3)) is None

        @mem_store.step("uses")
        def uses(n: int, s: str) -> str:
            return s * n

        info = uses.call(1, "shared").info
        assert info is not None and info.inputs == ()

    def test_pipeline_output_parts_keep_their_lineage(self, mem_store: ac.ArtifactStore) -> None:
        """A pipeline step's tuple output, read back from a run, gives parts that a
        memoised function then records as coming from that step."""

        def make() -> tuple[np.ndarray, np.ndarray]:
            return np.arange(3.0), np.arange(3.0) * 2

        result = ac.Pipeline(mem_store, [ac.Step("pairs", make)]).run()
        left, right = result.load("pairs")

        @mem_store.step("dot")
        def dot(a: np.ndarray, b: np.ndarray) -> float:
            return float(a @ b)

        info = dot.call(left, right).info
        assert info is not None and [r.step_id for r in info.inputs] == ["pairs"]


class Tagged:
    """An object of a class of its own: it takes weak references."""


class Listed(list[Any]):
    """A list subclass: looked into, and it takes weak references."""


_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=3) | st.binary(max_size=3)
_plain_data = st.recursive(
    _leaves | st.sets(st.integers(), max_size=3).map(lambda s: s or {0}) | st.just(bytearray(b"x")),
    lambda inner: (
        st.lists(inner, max_size=40)
        | st.dictionaries(st.text(max_size=2), inner, max_size=12)
        | st.lists(inner, max_size=4).map(tuple)
        | st.lists(inner, max_size=4).map(Listed)
        | st.builds(Tagged)
    ),
    max_leaves=120,
)
_SOURCE = ArtifactRef(step_id="plain", key="k", digest="ab" * 16)


class TestPlainData:
    def test_parts_of_a_loaded_dict_keep_their_lineage(self, store: ac.ArtifactStore) -> None:
        """A small dict of lists, sets and nested containers: its mutable parts (two levels
        down) are tagged as loaded, and a part replaced afterwards is not."""
        value = {"rows": [1, 2], "meta": {"a": 1}, "pair": ([3], {4}), "n": 5, "s": "x"}
        store.save("plain", value, key="k")
        loaded = store.get("plain", key="k")
        ref = store.info("plain", key="k").ref
        parts = [loaded, loaded["rows"], loaded["meta"], loaded["pair"][0], loaded["pair"][1]]
        assert [ac.lineage_of(p) for p in parts] == [ref] * 5
        assert ac.lineage_of(loaded["pair"]) is None  # a tuple: looked into, not tagged
        replaced = loaded["rows"] = [1, 2]
        assert ac.lineage_of(replaced) is None

    def test_the_strong_part_budget_counts_every_mutable_part(
        self, store: ac.ArtifactStore
    ) -> None:
        """The first `STRONG_PARTS` mutable parts are all a small artifact tags by identity:
        sets (tracked weakly) count towards them as lists do, so the ninth part here, a
        list, is not tagged."""
        budget = Provenance.STRONG_PARTS
        store.save("parts", [*({i} for i in range(budget)), [1]], key="k")
        loaded = store.get("parts", key="k")
        ref = store.info("parts", key="k").ref
        assert [ac.lineage_of(p) for p in loaded[:budget]] == [ref] * budget
        assert ac.lineage_of(loaded[budget]) is None

    @settings(derandomize=True, max_examples=150, deadline=None)
    @given(value=_plain_data, size=st.sampled_from([10, 2**21]))
    @example(value=[[i] for i in range(20)], size=10)  # more mutable parts than are held
    @example(value=[[[1]], *range(70)], size=10)  # more items than the part budget
    @example(value=[[*range(63), [1]]], size=10)  # the budget ends just before a part
    @example(value=[[[j] for j in range(30)] for _ in range(3)], size=10)  # it ends below
    @example(value={"a": [[1]] * 40, "b": [[2]] * 30}, size=10)  # one part, seen twice
    @example(value=([bytearray(1), Tagged()], {"s": {1}}), size=10)  # the general way
    @example(value=[bytearray(b"x") for _ in range(12)], size=10)  # held parts, none below
    def test_plain_data_is_tagged_as_the_general_walk_tags_it(self, value: Any, size: int) -> None:
        """The shortcut for small artifacts of builtin containers holds exactly what the
        general walk holds (the same objects, in the same order), whatever the nesting,
        the part budget and the strong part budget; weakly tracked ones the same."""
        quick, general = Provenance(strong_limit=1000), Provenance(strong_limit=1000)
        quick.remember_result(value, _SOURCE, size)
        general.remember(value, _SOURCE, size)
        assert list(quick._strong) == list(general._strong)
        assert set(quick._weak) == set(general._weak)

    def test_the_strong_lru_keeps_the_newest_loads_as_the_general_walk_does(self) -> None:
        """Loads fill the LRU of held objects in order and evict the oldest beyond
        ``strong_limit``; an object loaded again (a serializer may hand back one it keeps)
        moves to the newest end with its parts: the shortcut and the general walk agree
        after every load."""
        quick, general = Provenance(strong_limit=5), Provenance(strong_limit=5)
        values: list[Any] = [{"n": i, "xs": [i], "m": {"a": i}} for i in range(4)]
        values += [values[1], [[9], [9]], {"a": values[2]["xs"]}, values[3]]
        for value in values:
            quick.remember_result(value, _SOURCE, 10)
            general.remember(value, _SOURCE, 10)
            assert list(quick._strong) == list(general._strong)
            assert quick._strong[id(value)][0] is value
        last = values[-1]
        assert list(quick._strong)[-3:] == [id(last), id(last["xs"]), id(last["m"])]
        assert len(quick._strong) == 5 and quick.lookup(values[0]) is None

    def test_loads_in_threads_keep_the_strong_lru_bounded_and_true(self) -> None:
        """Threads tagging what they load at once: the LRU ends at its limit, each entry
        under the id of the object it holds, and each of those found by `lookup`."""
        tracker, limit = Provenance(strong_limit=32), 32
        start = threading.Barrier(4, timeout=30)
        loaded: list[list[Any]] = [[] for _ in range(4)]

        def work(n: int) -> None:
            start.wait()
            for i in range(300):
                value = {"n": i, "xs": [n, i]}
                loaded[n].append(value)  # (kept alive: no id is reused meanwhile)
                tracker.remember_result(value, _SOURCE, 10)

        run_threads(work)
        assert len(tracker._strong) == limit
        for oid, (obj, _) in tracker._strong.items():
            assert id(obj) == oid and tracker.lookup(obj) == _SOURCE
        assert all(len(values) == 300 for values in loaded)


class TestCommandLine:
    @pytest.fixture(params=["local", "s3"])
    def url(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        if request.param == "local":
            url = str(tmp_path / f"store-{uuid.uuid4().hex[:6]}")
        else:
            url = str(request.getfixturevalue("s3_url"))
        chain(ac.open_store(url))
        return url

    def test_lineage_and_downstream_commands(self, url: str) -> None:
        proc = run("lineage", "c", "--store", url, "--json")
        assert proc.returncode == 0, proc.stderr
        assert [r["step_id"] for r in json.loads(proc.stdout)] == ["b", "a"]
        proc = run("lineage", "c", "--depth", "1", "--store", url, "--json")
        assert [r["step_id"] for r in json.loads(proc.stdout)] == ["b"]
        proc = run("downstream", "a", "--store", url)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].startswith("STEP ID") and [ln.split()[0] for ln in lines[1:]] == ["b", "c"]
        key = ac.open_store(url).info("a").key
        proc = run("downstream", "a", "--key", key, "--store", url, "--json")
        assert [r["step_id"] for r in json.loads(proc.stdout)] == ["b", "c"]

    def test_nothing_related_and_errors(self, url: str) -> None:
        proc = run("downstream", "c", "--store", url)
        assert proc.returncode == 0 and proc.stdout == ""
        assert "no artifacts computed from it" in proc.stderr
        proc = run("lineage", "nothing", "--store", url)
        assert proc.returncode == 1 and "'nothing'" in proc.stderr
        assert "Traceback" not in proc.stderr
        proc = run("lineage", "c", "--depth", "-1", "--store", url)
        assert proc.returncode == 2 and "depth" in proc.stderr

    def test_an_input_that_cannot_be_followed_is_a_note(self, url: str) -> None:
        ac.open_store(url).delete("a", purge=True)
        proc = run("lineage", "c", "--store", url, "--json")
        assert proc.returncode == 0, proc.stderr
        assert [r["step_id"] for r in json.loads(proc.stdout)] == ["b"]
        assert proc.stderr.startswith("artifact-cache: note: ")
        assert "not in the store any more" in proc.stderr and "Warning" not in proc.stderr
