"""Keys you can trust: no two different calls share a key, on every backend.

Regression tests for the four defects of the key recipe (identity under ``version=``,
functions/classes/instances as arguments, foreign types, mutated module state), run on
memory://, a local folder and S3 (moto), plus the registry, async steps and logging.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import importlib.util
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from procs import run_python

import artifact_cache as ac
from artifact_cache.fingerprint import FingerprintError, code_fingerprint, fingerprint
from artifact_cache.fingerprint.recipe import KeyRecipe

REPO_ROOT = Path(ac.__file__).resolve().parents[1]


def load_module(directory: Path, name: str, source: str, **names: Any) -> types.ModuleType:
    """Import ``source`` from ``directory/name.py`` as a user's module, ``names`` injected."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(names)
    spec.loader.exec_module(module)
    return module


LOADER = """
RUNS = []


@store.step(version="1")
def load(n):
    RUNS.append(n)
    return (__name__, n)
"""

FACTORY = """
def make(table):
    @store.step(version="1")
    def lookup(n):
        return table[n]

    return lookup
"""


class TestIdentityUnderVersion:
    """Defect 1: version= replaces the code part of the key, never the identity."""

    def test_same_name_in_two_modules_never_shares_a_key(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """sales.load(3) and hr.load(3), both version="1", each compute their own result."""
        sales = load_module(tmp_path / "pkg", "sales", LOADER, store=store)
        hr = load_module(tmp_path / "pkg", "hr", LOADER, store=store)
        assert sales.load.step_id == hr.load.step_id == "load"
        assert sales.load(3) == ("sales", 3)
        assert hr.load(3) == ("hr", 3)
        assert hr.RUNS == [3]
        assert sales.load.key(3) != hr.load.key(3)
        assert sales.load(3) == ("sales", 3) and sales.RUNS == [3]

    def test_clear_and_artifacts_act_on_one_function_only(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """sales.load.clear() leaves HR's artifacts (and hand-saved ones) in place."""
        sales = load_module(tmp_path / "pkg", "sales", LOADER, store=store)
        hr = load_module(tmp_path / "pkg", "hr", LOADER, store=store)
        sales.load(1), sales.load(2), hr.load(1)
        store.save("load", "by hand", key="manual")
        assert sorted(i.key for i in sales.load.artifacts()) == sorted(
            [sales.load.key(1), sales.load.key(2)]
        )
        assert [i.key for i in hr.load.artifacts()] == [hr.load.key(1)]
        assert sales.load.clear() == 2
        assert hr.load.is_cached(1)
        assert store.get("load", key="manual") == "by hand"
        assert not sales.load.is_cached(1)
        assert hr.load(1) == ("hr", 1) and hr.RUNS == [1]

    def test_two_closures_of_one_factory_never_share_a_key(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """Closures with the same qualified name differ by what they captured."""
        factory = load_module(tmp_path / "pkg", "factory", FACTORY, store=store)
        english = factory.make({1: "one"})
        german = factory.make({1: "eins"})
        assert english(1) == "one"
        assert german(1) == "eins"
        assert english.clear() == 1
        assert german.is_cached(1)

    def test_explain_compares_with_this_functions_newest_artifact(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """explain() of sales.load never compares with what hr.load saved."""
        sales = load_module(tmp_path / "pkg", "sales", LOADER, store=store)
        hr = load_module(tmp_path / "pkg", "hr", LOADER, store=store)
        sales.load(1)
        hr.load(2)
        why = sales.load.explain(5)
        assert not why.hit
        assert why.compared_with is not None
        assert why.compared_with.key == sales.load.key(1)
        assert why.changed_arguments == ("n",)


APPLY = """
@store.step
def apply(f, x):
    return f(x)
"""


class TestCallablesAsArguments:
    """Defect 2: functions, closures, classes and instances are keyed by content."""

    def test_lambdas_with_different_constants(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """The example of the issue: two lambdas that differ in a constant."""
        mod = load_module(tmp_path / "m", "applymod", APPLY, store=store)
        assert mod.apply(lambda x: x * np.array([2.0]), 10).tolist() == [20.0]
        assert mod.apply(lambda x: x * np.array([3.0]), 10).tolist() == [30.0]

    def test_closures_differing_only_in_captured_arrays(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """Closures of one factory capturing different arrays give different results."""
        mod = load_module(tmp_path / "m", "applymod", APPLY, store=store)

        def scaler(factor: Any) -> Any:
            return lambda x: x * factor

        assert mod.apply(scaler(np.array([2.0])), 10).tolist() == [20.0]
        assert mod.apply(scaler(np.array([3.0])), 10).tolist() == [30.0]
        assert mod.apply.call(scaler(np.array([3.0])), 10).cached

    def test_defaults_of_a_function_argument_count(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """Two functions with the same code and different default values differ."""
        mod = load_module(tmp_path / "m", "applymod", APPLY, store=store)

        def offsets() -> list[Any]:
            found = []
            for k in (1, 2):

                def add(x: int, k: int = k) -> int:
                    return x + k

                found.append(add)
            return found

        one, two = offsets()
        assert mod.apply(one, 10) == 11
        assert mod.apply(two, 10) == 12

    def test_local_classes_with_one_qualified_name(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """Classes made by one factory (same qualname) differ by their members."""
        mod = load_module(tmp_path / "m", "applymod", APPLY, store=store)

        def make(rate: float) -> type:
            class Fee:
                RATE = rate

                def __call__(self, x: float) -> float:
                    return x * self.RATE

            return Fee

        low, high = make(0.1), make(0.2)
        assert low.__qualname__ == high.__qualname__
        assert mod.apply(lambda x: low()(x), 100) == pytest.approx(10.0)
        assert mod.apply(lambda x: high()(x), 100) == pytest.approx(20.0)
        # As values themselves, and through their instances, too.
        assert fingerprint(low) != fingerprint(high)
        assert fingerprint(low()) != fingerprint(high())

    def test_cached_property_code_counts(self, mem_store: ac.ArtifactStore) -> None:
        """Classes differing only in a functools.cached_property's code differ."""

        def make(vat: float) -> type:
            class Basket:
                def __init__(self, prices: list[int]) -> None:
                    self.prices = prices

                @functools.cached_property
                def total(self) -> float:
                    return sum(self.prices) * vat

            return Basket

        @mem_store.step
        def report(basket: Any) -> float:
            return basket.total

        plain, taxed = make(1.0), make(1.2)
        assert fingerprint(plain) != fingerprint(taxed)
        assert report(plain([10, 20])) == 30.0
        assert report(taxed([10, 20])) == pytest.approx(36.0)
        assert fingerprint(plain) == fingerprint(make(1.0))

    def test_instances_differing_in_state(self, store: ac.ArtifactStore, tmp_path: Path) -> None:
        """Instances with __dict__, __slots__, __getstate__ or __reduce__ are keyed by state."""
        mod = load_module(
            tmp_path / "m",
            "shapes",
            """
            class Plain:
                def __init__(self, v):
                    self.v = v

            class Slotted:
                __slots__ = ("v",)

                def __init__(self, v):
                    self.v = v

            class Stateful:
                def __init__(self, v):
                    self.v, self.cache = v, {}

                def __getstate__(self):
                    return {"v": self.v}

            class Reduced:
                def __init__(self, v):
                    self.v = v

                def __reduce__(self):
                    return (Reduced, (self.v,))

            @store.step
            def value_of(obj):
                return obj.v
            """,
            store=store,
        )
        for cls in (mod.Plain, mod.Slotted, mod.Stateful, mod.Reduced):
            assert mod.value_of(cls(1)) == 1, cls
            assert mod.value_of(cls(2)) == 2, cls
        noisy = mod.Stateful(1)
        noisy.cache["seen"] = True  # left out by __getstate__: still a hit
        assert mod.value_of.call(noisy).cached

    def test_unfingerprintable_closure_names_argument_and_path(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """A function argument capturing a lock fails loudly, naming where the lock is."""
        mod = load_module(tmp_path / "m", "applymod", APPLY, store=store)
        lock = threading.Lock()

        def guarded(x: int) -> int:
            with lock:
                return x

        with pytest.raises(FingerprintError) as caught:
            mod.apply(guarded, 1)
        assert caught.value.path.startswith("arg 'f'")
        assert "<closure lock>" in caught.value.path
        assert "guarded" in caught.value.path
        assert mod.apply.artifacts() == []  # nothing was run or stored

    def test_memoised_function_argument_keyed_by_its_code(self, tmp_path: Path) -> None:
        """A memoised function passed to another step counts by its code, as a plain
        function does: after its module is edited, a fresh process misses."""
        steps = textwrap.dedent(
            """
            import os
            import artifact_cache as ac

            store = ac.open_store(os.environ["STORE"])

            @store.step
            def featurise(x):
                return x * {factor}

            @store.step
            def evaluate(fn, x):
                return fn(x) + 1
            """
        )
        code = "import json, steps; c = steps.evaluate.call(steps.featurise, 10)\n"
        code += "print(json.dumps([c.value, c.cached]))"
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(tmp_path)]),
            STORE=str(tmp_path / "store"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        seen = []
        for factor in (2, 3, 3):
            (tmp_path / "steps.py").write_text(steps.format(factor=factor))
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
            )
            assert out.returncode == 0, out.stderr
            seen.append(json.loads(out.stdout))
        assert seen == [[21, False], [31, False], [31, True]]

    def test_memoised_function_argument_in_process(self, mem_store: ac.ArtifactStore) -> None:
        """In one process too: a redefined memoised argument (a re-run cell) misses, and
        the bound methods of two instances differ."""

        @mem_store.step
        def evaluate(fn: Any, x: int) -> int:
            return int(fn(x)) + 1

        def make(factor: int) -> Any:
            @mem_store.step("featurise", version="1")
            def featurise(x: int) -> int:
                return x * factor

            return featurise

        assert evaluate(make(2), 10) == 21 and evaluate(make(3), 10) == 31
        assert fingerprint(make(2)) == fingerprint(make(2))

        class Model:
            def __init__(self, weight: int) -> None:
                self.weight = weight

            def predict(self, x: int) -> int:
                return x * self.weight

        light = mem_store.step("predict")(Model(2).predict)
        heavy = mem_store.step("predict")(Model(10).predict)
        assert (evaluate(light, 1), evaluate(heavy, 1)) == (3, 11)


class TestForeignTypes:
    """Defect 3: pyarrow, torch, xarray, polars and scipy.sparse values by content."""

    def test_pyarrow_table(self, store: ac.ArtifactStore) -> None:
        """Tables are keyed by content: equal ones hit, different ones miss."""
        pa = pytest.importorskip("pyarrow")

        @store.step
        def rows(table: Any) -> int:
            return int(table.num_rows)

        table = pa.table({"a": [1, 2, 3], "b": ["x", None, "z"]})
        assert rows(table) == 3
        assert rows.call(pa.table({"a": [1, 2, 3], "b": ["x", None, "z"]})).cached
        rechunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])
        assert rows.call(rechunked).cached  # equal table, other chunks
        assert rows.key(pa.table({"a": [1, 2, 4], "b": ["x", None, "z"]})) != rows.key(table)
        assert rows.key(pa.table({"a": [1, 2, 3], "c": ["x", None, "z"]})) != rows.key(table)

    def test_xarray_dataset_and_its_deep_copy(self, store: ac.ArtifactStore) -> None:
        """A Dataset and its deep copy share a key; a changed value or attr does not."""
        xr = pytest.importorskip("xarray")

        @store.step
        def mean(ds: Any) -> float:
            return float(ds["t"].mean())

        ds = xr.Dataset(
            {"t": (("x", "y"), np.arange(6.0).reshape(2, 3))},
            coords={"x": [10, 20], "y": ["a", "b", "c"]},
            attrs={"source": "sensor"},
        )
        assert mean(ds) == 2.5
        assert mean.call(copy.deepcopy(ds)).cached
        changed = ds.copy(deep=True)
        changed["t"][0, 0] = 100.0
        assert mean.key(changed) != mean.key(ds)
        relabelled = ds.copy(deep=True)
        relabelled.attrs["source"] = "model"
        assert mean.key(relabelled) != mean.key(ds)

    def test_polars_and_scipy_sparse(self, store: ac.ArtifactStore) -> None:
        """polars frames and sparse matrices hit when equal, miss when not."""
        pl = pytest.importorskip("polars")
        sparse = pytest.importorskip("scipy.sparse")

        @store.step
        def size(obj: Any) -> int:
            return int(obj.shape[0])

        frame = pl.DataFrame({"a": [1, 2], "b": ["u", "v"]})
        assert size(frame) == 2
        assert size.call(pl.DataFrame({"a": [1, 2], "b": ["u", "v"]})).cached
        assert size.key(pl.DataFrame({"a": [1, 3], "b": ["u", "v"]})) != size.key(frame)
        matrix = sparse.csr_matrix(np.eye(3))
        assert size(matrix) == 3
        assert size.call(sparse.csr_matrix(np.eye(3))).cached
        other = sparse.csr_matrix(np.diag([1.0, 2.0, 1.0]))
        assert size.key(other) != size.key(matrix)

    def test_torch_tensors(self, store: ac.ArtifactStore) -> None:
        """Equal tensors share a key; dtype, values and requires_grad count."""
        torch = pytest.importorskip("torch")

        @store.step
        def total(t: Any) -> float:
            return float(t.sum())

        t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
        assert total(t) == 15.0
        assert total.call(t.clone()).cached
        assert total.key(t.double()) != total.key(t)
        assert total.key(t + 1) != total.key(t)
        assert total.key(t.clone().requires_grad_()) != total.key(t)
        assert total.key(t.to(torch.bfloat16)) == total.key(t.clone().to(torch.bfloat16))


CALL_LOG = """
CALLS = []
PARAMS = {"scale": SCALE}


@store.step
def scaled(x):
    CALLS.append(x)
    return x * PARAMS["scale"]


def make_counter():
    seen = {"n": 0}

    @store.step
    def counted(x):
        seen["n"] += 1
        return x

    return counted
"""


class TestModuleState:
    """Defect 4: state the function mutates never makes keys depend on how often it ran."""

    def test_fresh_and_long_lived_wrappers_agree(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """After three calls, a fresh wrapper of the same function finds the first result."""
        mod = load_module(tmp_path / "m", "calllog", CALL_LOG, store=store, SCALE=2)
        long_lived = mod.scaled
        assert [long_lived(x) for x in (1, 2, 3)] == [2, 4, 6]
        assert mod.CALLS == [1, 2, 3]
        fresh = store.step(long_lived.__wrapped__)
        assert fresh.key(1) == long_lived.key(1)
        assert fresh.call(1).cached
        assert mod.CALLS == [1, 2, 3]

    def test_closure_state_is_not_an_input(self, store: ac.ArtifactStore, tmp_path: Path) -> None:
        """A memo dict in a closure, changed by the function, leaves its keys alone."""
        mod = load_module(tmp_path / "m", "calllog", CALL_LOG, store=store, SCALE=2)
        counted = mod.make_counter()
        key = counted.key(5)
        assert counted(5) == 5
        assert counted.key(5) == key
        assert store.step(counted.__wrapped__).call(5).cached

    def test_state_changed_through_a_module_attribute(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """registry.ITEMS.append(x) in a step makes ITEMS state, as ITEMS.append would."""
        registry = load_module(tmp_path / "r", "registry", "ITEMS = []\nLIMIT = 10\n")
        mod = load_module(
            tmp_path / "r",
            "useregistry",
            """
            @store.step
            def record(x):
                registry.ITEMS.append(x)
                return min(x, registry.LIMIT)
            """,
            store=store,
            registry=registry,
        )
        first = mod.record.key(1)
        assert [mod.record(x) for x in (1, 20)] == [1, 10]
        assert store.step(mod.record.__wrapped__).key(1) == first
        registry.LIMIT = 5  # a constant it only reads, rebound: a new key
        assert store.step(mod.record.__wrapped__).key(1) != first

    def test_constants_the_function_only_reads_still_count(
        self, store: ac.ArtifactStore, tmp_path: Path
    ) -> None:
        """A module-level dict the function only reads is followed by value."""
        two = load_module(tmp_path / "a", "calllog", CALL_LOG, store=store, SCALE=2)
        three = load_module(tmp_path / "b", "calllog", CALL_LOG, store=store, SCALE=3)
        assert two.scaled(5) == 10
        assert three.scaled(5) == 15
        assert two.scaled.key(5) != three.scaled.key(5)


class TestRegistry:
    def test_register_a_class(self) -> None:
        """A registered function decides what is hashed; subclasses inherit it."""

        class Conn:
            def __init__(self, url: str) -> None:
                self.url = url
                self.lock = threading.Lock()

        class PooledConn(Conn):
            pass

        with pytest.raises(FingerprintError):
            fingerprint(Conn("db://a"))
        ac.register_fingerprint(Conn, lambda c: c.url)
        assert fingerprint(Conn("db://a")) == fingerprint(Conn("db://a"))
        assert fingerprint(Conn("db://a")) != fingerprint(Conn("db://b"))
        assert fingerprint(PooledConn("db://a")) != fingerprint(Conn("db://a"))  # type counts
        assert fingerprint(PooledConn("db://a")) == fingerprint(PooledConn("db://a"))

    def test_register_by_name_imports_nothing(self, tmp_path: Path) -> None:
        """A dotted name registers without importing; it applies once the module is used."""
        (tmp_path / "lazypkg").mkdir()
        (tmp_path / "lazypkg" / "__init__.py").write_text(
            "import threading\n"
            "class Thing:\n"
            "    def __init__(self, v):\n"
            "        self.v, self.lock = v, threading.Lock()\n"
        )
        code = textwrap.dedent(
            """
            import sys
            import artifact_cache as ac
            ac.register_fingerprint("lazypkg.Thing", lambda t: t.v)
            assert "lazypkg" not in sys.modules
            import lazypkg
            same = ac.fingerprint(lazypkg.Thing(1)) == ac.fingerprint(lazypkg.Thing(1))
            other = ac.fingerprint(lazypkg.Thing(1)) != ac.fingerprint(lazypkg.Thing(2))
            print(same, other)
            """
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(tmp_path)]))
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["True", "True"]

    def test_a_users_handler_wins_over_the_builtin_one(self) -> None:
        """Registering numpy.ndarray replaces the built-in array handler."""
        code = textwrap.dedent(
            """
            import numpy as np
            import artifact_cache as ac
            ac.register_fingerprint("numpy.ndarray", lambda a: a.shape)
            print(ac.fingerprint(np.zeros(3)) == ac.fingerprint(np.ones(3)))
            """
        )
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "True"

    def test_bad_registration_is_refused(self) -> None:
        """Neither a class nor a dotted name: TypeError."""
        with pytest.raises(TypeError, match="dotted name"):
            ac.register_fingerprint("Tensor", len)

    def test_failing_handler_is_reported_with_the_path(self) -> None:
        """A handler that raises gives a FingerprintError naming the argument."""

        class Broken:
            pass

        def explode(value: Broken) -> object:
            raise RuntimeError("no")

        ac.register_fingerprint(Broken, explode)
        with pytest.raises(FingerprintError) as caught:
            fingerprint({"b": Broken()}, name="cfg")
        assert caught.value.path == "arg 'cfg' -> ['b']"
        assert "RuntimeError: no" in str(caught.value)

    def test_foreign_packages_are_not_imported(self) -> None:
        """Fingerprinting plain values imports none of the foreign packages."""
        code = textwrap.dedent(
            """
            import sys
            import artifact_cache as ac
            ac.fingerprint({"a": [1, 2.5, "x"], "b": {1, 2}})

            @ac.open_store("memory://lazy").step
            def f(x):
                return x

            f(3)
            names = ("numpy", "pandas", "pyarrow", "polars", "xarray", "torch", "scipy")
            print(sorted(set(names) & set(sys.modules)))
            """
        )
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "[]"


class TestAsyncSteps:
    def test_coroutine_function_caches_the_awaited_result(self, store: ac.ArtifactStore) -> None:
        """The wrapper is awaitable; the stored value is the result, not a coroutine."""
        runs: list[int] = []

        @store.step
        async def fetch(n: int) -> list[int]:
            await asyncio.sleep(0)
            runs.append(n)
            return list(range(n))

        assert isinstance(fetch, ac.StepFunction)

        async def main() -> tuple[Any, Any, Any]:
            first = await fetch.call(3)
            again = await fetch.call(3)
            return first, again, await fetch(3)

        first, again, value = asyncio.run(main())
        assert (first.cached, again.cached) == (False, True)
        assert first.value == again.value == value == [0, 1, 2]
        assert runs == [3]
        assert store.get(fetch.step_id, key=fetch.key(3)) == [0, 1, 2]
        assert asyncio.run(fetch.refresh(3)) == [0, 1, 2] and runs == [3, 3]

    def test_concurrent_awaits_of_one_key_compute_once(self, mem_store: ac.ArtifactStore) -> None:
        """Two tasks awaiting the same call in one loop run the body once."""
        runs: list[int] = []

        @mem_store.step
        async def slow(n: int) -> int:
            runs.append(n)
            await asyncio.sleep(0.01)
            return n * 2

        async def main() -> list[int]:
            return list(await asyncio.gather(slow(4), slow(4), slow(5)))

        assert asyncio.run(main()) == [8, 8, 10]
        assert sorted(runs) == [4, 5]


class TestLogging:
    def test_hit_miss_and_compute_are_logged(
        self, mem_store: ac.ArtifactStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        """DEBUG says hit and miss, INFO says computed, each with the step id and key."""

        @mem_store.step
        def inc(x: int) -> int:
            return x + 1

        key = inc.key(1)
        with caplog.at_level(logging.DEBUG, logger="artifact_cache"):
            inc(1)
            inc(1)
        messages = [(r.levelno, r.getMessage()) for r in caplog.records]
        assert [m.split(":")[0] for _, m in messages] == ["miss", "computed", "hit"]
        assert all(repr(inc.step_id) in m and key in m for _, m in messages)
        assert [level for level, _ in messages] == [logging.DEBUG, logging.INFO, logging.DEBUG]
        assert " s," in messages[1][1] and " ms)" in messages[2][1]

    def test_silent_by_default(self) -> None:
        """With no logging configured, memoised calls print nothing."""
        code = (
            "import artifact_cache as ac\n"
            "f = ac.open_store('memory://quiet').step(lambda x: x)\n"
            "f(1); f(1)\n"
        )
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == out.stderr == ""


STABILITY_SCRIPT = """
import datetime as dt
import decimal
import importlib.util
import json
import sys

import numpy as np
import pandas as pd

import artifact_cache as ac


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def make_scaler(k):
    def scale(x):
        return x * k

    return scale


values = {
    "strings": {"alpha", "beta", "gamma", "delta", "epsilon"},
    "dict": {"b": [1, 2.5, None], "a": {"x": (1, "y")}, 3: b"raw"},
    "numbers": [1, 1.0, 1 + 2j, True, decimal.Decimal("1.10"), 2**100],
    "datetime": dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "array": np.arange(24, dtype="float32").reshape(2, 3, 4),
    "strings_array": np.array(["a", "bb", None], dtype=object),
    "frame": pd.DataFrame(
        {
            "n": [1.5, float("nan"), 3.0],
            "k": pd.Categorical(["u", "v", "u"]),
            "t": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
            "i": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    ),
    "function": make_scaler(np.array([2.0])),
    "class": Point,
    "instance": Point(1, [2, 3]),
}
if importlib.util.find_spec("pyarrow"):
    import pyarrow as pa

    values["arrow"] = pa.table({"a": [1, 2, None], "s": ["x", "y", "z"]})
if importlib.util.find_spec("polars"):
    import polars as pl

    values["polars"] = pl.DataFrame({"a": [1, 2], "s": ["x", None]})
if importlib.util.find_spec("xarray"):
    import xarray as xr

    values["xarray"] = xr.Dataset(
        {"t": (("x",), np.arange(3.0))}, coords={"x": [1, 2, 3]}, attrs={"u": "K"}
    )
if importlib.util.find_spec("scipy"):
    import scipy.sparse

    values["sparse"] = scipy.sparse.random(20, 20, density=0.1, random_state=1, format="csr")
if importlib.util.find_spec("torch"):
    import torch

    values["torch"] = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    values["torch_bf16"] = torch.ones(3, dtype=torch.bfloat16)

store = ac.open_store("memory://stability")


@store.step(version="1")
def step(x):
    return x


out = {name: ac.fingerprint(value) for name, value in values.items()}
out["step_key"] = step.key(values["frame"])
print(json.dumps(out, sort_keys=True))
"""


class TestCrossProcess:
    def test_keys_are_stable_across_processes_and_hash_seeds(self, tmp_path: Path) -> None:
        """Every supported type gets the same digest in processes with other hash seeds."""
        script = tmp_path / "stability.py"
        script.write_text(STABILITY_SCRIPT)
        processes = [
            subprocess.Popen(
                [sys.executable, str(script)],
                env=dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO_ROOT)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
            )
            for seed in ("0", "1", "4242")
        ]
        outputs = []
        for process in processes:
            try:
                stdout, stderr = process.communicate(timeout=120)
            finally:
                process.kill()
            assert process.returncode == 0, stderr
            outputs.append(stdout)
        assert outputs[0] == outputs[1] == outputs[2]
        names = set(json.loads(outputs[0]))
        expected = {"arrow", "polars", "xarray", "sparse", "frame", "function", "instance"}
        assert expected <= names
        if importlib.util.find_spec("torch"):
            assert {"torch", "torch_bf16"} <= names


class TestOtherCallables:
    def test_partials_and_callable_objects_keep_their_parameters(
        self, store: ac.ArtifactStore
    ) -> None:
        """Two partials of one function, or two callable objects, pinned to one version
        and one step id, never share a key."""
        import functools

        def power(x: int, exponent: int) -> int:
            return int(x**exponent)

        class Power:
            def __init__(self, exponent: int) -> None:
                self.exponent = exponent

            def __call__(self, x: int) -> int:
                return int(x**self.exponent)

        square = store.step("power", version="1")(functools.partial(power, exponent=2))
        cube = store.step("power", version="1")(functools.partial(power, exponent=3))
        assert (square(2), cube(2)) == (4, 8)
        squares = store.step("power_obj", version="1")(Power(2))
        cubes = store.step("power_obj", version="1")(Power(3))
        assert (squares(2), cubes(2)) == (4, 8)

    @pytest.mark.parametrize("version", ["1", None])
    def test_closure_rebound_after_first_call(
        self, mem_store: ac.ArtifactStore, version: str | None
    ) -> None:
        """A closure variable rebound after the first call changes the key, with or
        without a pinned version (it pins the code, not the captured values)."""
        factor = 2

        @mem_store.step("scale", version=version)
        def scale(x: int) -> int:
            return x * factor

        first = scale.key(5)
        assert scale(5) == 10 and scale.call(5).cached
        factor = 3
        call = scale.call(5)
        assert (call.cached, call.value) == (False, 15)
        assert scale.key(5) != first
        factor = 2
        assert scale.key(5) == first and scale.call(5).cached

    def test_callable_object_changed_in_place(self, mem_store: ac.ArtifactStore) -> None:
        """A memoised callable object's state is checked on every call: changed in
        place, it misses; a fresh wrapper keys it as the long-lived one does."""

        class Scaler:
            def __init__(self, k: int) -> None:
                self.k = k

            def __call__(self, x: int) -> int:
                return x * self.k

        scaler = Scaler(2)
        scaled = mem_store.step("scaled")(scaler)
        assert scaled(5) == 10 and scaled.call(5).cached
        scaler.k = 3  # refitted in place
        call = scaled.call(5)
        assert (call.cached, call.value) == (False, 15)
        assert scaled.key(5) == mem_store.step("scaled")(scaler).key(5)

    def test_callable_object_without_keyable_state_warns(self, mem_store: ac.ArtifactStore) -> None:
        """A callable object whose state cannot be fingerprinted warns that changing
        it will not change the keys, naming the step and the store."""

        class Guarded:
            def __init__(self) -> None:
                self.lock = threading.Lock()

            def __call__(self, x: int) -> int:
                return x

        guarded = mem_store.step("guarded")(Guarded())
        with pytest.warns(RuntimeWarning, match="'guarded'.*cannot be fingerprinted") as seen:
            assert guarded(1) == 1
        assert mem_store.location in str(seen[0].message)
        assert guarded.call(1).cached


class TestRecipeRecord:
    def test_recipe_round_trips_through_json(self, mem_store: ac.ArtifactStore) -> None:
        """The recipe a memoised call saves is read back, typed, from the stored record."""

        @mem_store.step(version="3")
        def area(w: int, h: int = 2) -> int:
            return w * h

        saved = area.call(5).info
        loaded = mem_store.info(area.step_id, key=saved.key)
        assert loaded.recipe == saved.recipe
        assert isinstance(loaded.recipe, KeyRecipe)
        assert loaded.recipe.version == "3"
        assert set(loaded.recipe.arguments) == {"w", "h"}
        assert loaded.recipe.identity.endswith("area")
        assert ac.ArtifactInfo.from_json(saved.to_json()) == saved

    def test_records_without_a_recipe_still_load(self) -> None:
        """A record written before the field existed loads, with recipe None."""
        old = {
            "record_version": 1,
            "step_id": "s",
            "key": "k",
            "digest": "ab" * 16,
            "size": 1,
            "serializer": "pickle",
            "python_type": "builtins.int",
            "created": "2024-01-01T00:00:00+00:00",
            "code_parts": {"m:f": "00"},
        }
        info = ac.ArtifactInfo.from_dict(old)
        assert info.recipe is None
        assert info.extra == {"code_parts": {"m:f": "00"}}
        assert "recipe" not in info.to_dict()


class TestOptions:
    def test_options_are_checked_at_decoration(self, mem_store: ac.ArtifactStore) -> None:
        """A wrong option type, an unknown option or serializer fails at once, named."""
        with pytest.raises(TypeError, match="version"):
            mem_store.step("s", version=2)(lambda x: x)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="unknown options"):
            mem_store.step("s", versoin="2")(lambda x: x)  # type: ignore[call-overload]
        with pytest.raises(ValueError, match=r"store\.step\('s'\)"):
            mem_store.step("s", serializer="nope")(lambda x: x)

    def test_rewrapping_keeps_and_merges_options(self, mem_store: ac.ArtifactStore) -> None:
        """Memoising a memoised function keeps its options; tags merge."""

        @mem_store.step("inner", version="2", tags={"a": "1"}, ignore=["verbose"])
        def f(x: int, verbose: bool = False) -> int:
            return x

        outer = mem_store.step("outer", tags={"b": "2"})(f)
        assert outer.key(1) == outer.key(1, verbose=True)
        info = outer.call(1).info
        assert info.step_id == "outer"
        assert dict(info.tags) == {"a": "1", "b": "2"}
        assert info.recipe is not None and info.recipe.version == "2"


def _key_and_hit(pickled: bytes, arg: int) -> tuple[str, bool]:
    """Run in a worker process: the key and whether the call hit."""
    import cloudpickle

    step = cloudpickle.loads(pickled)
    return step.key(arg), step.call(arg).cached


class TestOtherProcesses:
    def test_a_closure_step_keeps_its_keys_in_a_worker(self, tmp_path: Path) -> None:
        """A closure step sent by value to another process computes the same keys
        (its identity and code fingerprint travel with it) and hits."""
        import concurrent.futures
        import multiprocessing

        import cloudpickle

        store = ac.open_store(str(tmp_path / "store"))
        seen: dict[str, int] = {"n": 0}

        def make(offset: int) -> Any:
            @store.step(version="1")
            def shifted(x: int) -> int:
                seen["n"] += 1
                return x + offset

            return shifted

        step = make(10)
        assert step(1) == 11
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            key, cached = pool.submit(_key_and_hit, cloudpickle.dumps(step), 1).result(timeout=120)
        assert key == step.key(1)
        assert cached


def test_a_records_mappings_fingerprint_as_dicts(tmp_path: Path) -> None:
    """A record's tags and extra (read-only dicts) key a memoised call as the dicts of
    their items do: passing ``info.tags`` or ``dict(info.tags)`` is the same call."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    info = store.save("a", 1, tags={"b": "2", "a": "1"}, extra={"x": [1]})
    assert ac.fingerprint(info.tags) == ac.fingerprint({"a": "1", "b": "2"})
    assert ac.fingerprint(info.extra) == ac.fingerprint({"x": [1]})
    calls = []

    @store.step
    def count(tags: dict[str, str]) -> int:
        calls.append(1)
        return len(tags)

    assert count(info.tags) == count(dict(info.tags)) == 2 and len(calls) == 1


def test_records_sharing_their_empty_tags_key_as_separate_dicts(tmp_path: Path) -> None:
    """Records without tags share one read-only empty mapping, and nested parts of a
    record are read-only: meeting one twice in an argument is not sharing that a change
    could show, so the key is that of separate plain dicts and lists."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    first, second = store.save("a", 1), store.save("b", 2, extra={"x": [1]})
    assert first.tags is second.tags
    assert ac.fingerprint([first.tags, second.tags]) == ac.fingerprint([{}, {}])
    nested = second.extra["x"]
    assert ac.fingerprint([nested, nested]) == ac.fingerprint([[1], [1]])
    shared: list[int] = [1]
    assert ac.fingerprint([shared, shared]) != ac.fingerprint([[1], [1]])


RECORDS = """
import collections
import typing

import attrs

import artifact_cache as ac

store = ac.open_store("memory://pinned-records")
Point = collections.namedtuple("Point", "x y")


class Cfg(typing.NamedTuple):
    n: int = 1
    s: str = "s"


@attrs.define
class Params:
    n: int = 1


@store.step
def uses_point(a):
    return Point(a, a)


@store.step
def uses_cfg(a):
    return Cfg(a)


@store.step
def uses_params(a):
    return Params(a)


@store.step
def takes(x):
    return x
"""

RECORD_KEYS = """
import json
import artifact_cache as ac
import records as r
print(json.dumps({
    "namedtuple value": ac.fingerprint(r.Point(1, 2)),
    "NamedTuple value": ac.fingerprint(r.Cfg(1, "s")),
    "step using a namedtuple": r.uses_point.key(1),
    "step using a NamedTuple": r.uses_cfg.key(1),
    "step using an attrs class": r.uses_params.key(1),
    "step taking an attrs instance": r.takes.key(r.Params(2)),
}))
"""


def test_keys_of_namedtuple_and_attrs_code_are_pinned(tmp_path: Path) -> None:
    """Pinned: the methods namedtuple, typing.NamedTuple and attrs generate for a class
    count by name, so keys of code using such classes stay those existing caches hold
    (a library factory's closure passed as a value still counts by what it captured)."""
    (tmp_path / "records.py").write_text(RECORDS)
    out = run_python(RECORD_KEYS, path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "namedtuple value": "c651ab0fddbdc2adf1e1805a10f257bd",
        "NamedTuple value": "102818134daa4eacd7749b754f16622e",
        "step using a namedtuple": "17ce98b845fd11619109d9bd981bb07e",
        "step using a NamedTuple": "f914f4c895dc37e57e0034753b81d4f4",
        "step using an attrs class": "26d495cd684ad381be99d03b335ab1c9",
        "step taking an attrs instance": "5f89f62c9993046530bdd78ea15114aa",
    }


FROZEN = """
import attrs

import artifact_cache as ac

store = ac.open_store("memory://frozen-records")


@attrs.frozen
class Config:
    n: int = 1


@attrs.define(hash=True)
class Hashable:
    n: int = 1


@attrs.frozen(cache_hash=True)
class Cached:
    n: int = 1


@store.step
def run(x):
    return Config(x).n


@store.step
def takes(x):
    return x
"""

FROZEN_KEYS = """
import json
import frozen
print(json.dumps([
    frozen.run.key(1),
    frozen.takes.key(frozen.Config(2)),
    frozen.takes.key(frozen.Hashable(2)),
    frozen.takes.key(frozen.Cached(2)),
]))
"""


def test_frozen_attrs_classes_have_one_key_in_every_process(tmp_path: Path) -> None:
    """attrs writes hash(<a name>), which PYTHONHASHSEED changes, into the __hash__ it
    generates: a step using a frozen or hashable attrs class, or taking an instance of
    one, still has one key in every process."""
    (tmp_path / "frozen.py").write_text(FROZEN)
    results = []
    for seed in ("1", "2"):
        out = run_python(FROZEN_KEYS, seed=seed, path=tmp_path)
        assert out.returncode == 0, out.stderr
        results.append(json.loads(out.stdout))
    assert results[0] == results[1]
    assert len(set(results[0][1:])) == 3  # the classes still tell instances apart


def test_an_attrs_hash_without_source_counts_without_its_number() -> None:
    """Read from bytecode (no source to parse), an attrs __hash__ still leaves out the
    number attrs wrote into it; the same code elsewhere keeps its numbers."""

    def make(number: int, filename: str) -> Any:
        namespace: dict[str, Any] = {"__name__": "records"}
        source = f"def __hash__(self):\n    return hash(({number}, self.x))\n"
        exec(compile(source, filename, "exec"), namespace)
        return namespace["__hash__"]

    attrs_file = "<attrs generated methods records.C>"
    first, second = make(-12345, attrs_file), make(678, attrs_file)
    assert code_fingerprint(first).digest == code_fingerprint(second).digest
    first, second = make(-12345, "<generated>"), make(678, "<generated>")
    assert code_fingerprint(first).digest != code_fingerprint(second).digest


def test_an_attrs_class_stays_fingerprinted_between_calls() -> None:
    """The hooks attrs keeps in a class's data are hashed the same way when the class
    is fingerprinted and when its data is checked for changes on a later call."""
    import attrs

    from artifact_cache.fingerprint import code

    @attrs.define
    class Params:
        n: int = 1

    first = fingerprint(Params(1))
    props = [entry for entry in code._class_data[Params] if entry[0] is Params.__attrs_props__]
    assert props and not code._data_changed(props)
    assert fingerprint(Params(1)) == first
