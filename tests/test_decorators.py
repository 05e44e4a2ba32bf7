"""store.step: caching, keys, code invalidation, explain, single flight, lineage, processes."""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import linecache
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from conftest import make_url

import artifact_cache as ac

_cells = itertools.count(1)


def run_cell(source: str, namespace: dict[str, Any], *, register: bool = True) -> None:
    """Execute ``source`` as a notebook cell does: a fresh file name, in ``__main__``.

    IPython registers each cell's source with ``linecache`` (so ``inspect.getsource``
    works); ``register=False`` is a bare ``exec`` with no source to find.
    """
    source = textwrap.dedent(source)
    filename = f"<ipython-input-{next(_cells)}-{uuid.uuid4().hex[:12]}>"
    if register:
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def notebook(store: ac.ArtifactStore) -> dict[str, Any]:
    """A fresh notebook namespace with ``store`` defined."""
    return {"__name__": "__main__", "store": store}


def run_python(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``script`` in a fresh interpreter; return its stdout (fail with its stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class TestCaching:
    """Hits and misses on every backend."""

    def test_second_call_hits(self, store: ac.ArtifactStore) -> None:
        """The first call computes; the second returns an equal value without running the body."""
        calls: list[int] = []

        @store.step
        def square(x: int) -> dict[str, int]:
            calls.append(x)
            return {"x": x, "square": x * x}

        first = square.call(3)
        second = square.call(3)
        assert (first.cached, second.cached) == (False, True)
        assert second.value == first.value == {"x": 3, "square": 9}
        assert square(3) == {"x": 3, "square": 9}
        assert calls == [3]
        assert second.duration == 0.0 and first.duration >= 0.0
        assert second.info == first.info

    def test_different_arguments_different_artifacts(self, store: ac.ArtifactStore) -> None:
        """Different arguments are stored as different artifacts of one step."""
        calls: list[int] = []

        @store.step("power")
        def power(x: int, n: int = 2) -> int:
            calls.append(x)
            return int(x**n)

        assert [power(2), power(3), power(2, n=3), power(2)] == [4, 9, 8, 4]
        assert calls == [2, 3, 2]
        assert len({i.key for i in power.artifacts()}) == 3

    def test_ignored_arguments_do_not_change_key(self, store: ac.ArtifactStore) -> None:
        """An ``ignore``d argument neither changes the key nor causes a recompute."""
        calls: list[bool] = []

        @store.step("features", ignore=["verbose"], version="2", tags={"team": "ml"})
        def featurise(rows: list[int], verbose: bool = False) -> list[int]:
            calls.append(verbose)
            return [r * 10 for r in rows]

        assert featurise([1, 2]) == featurise([1, 2], verbose=True) == [10, 20]
        assert featurise.key([1, 2]) == featurise.key([1, 2], True)
        assert calls == [False]
        assert featurise.artifacts()[0].tags == {"team": "ml"}

    def test_keyword_positional_default_same_key(self, store: ac.ArtifactStore) -> None:
        """Calls that bind the same values by position, keyword or default share a key."""
        calls: list[int] = []

        @store.step
        def scale(x: int, factor: int = 2, *, offset: int = 0) -> int:
            calls.append(x)
            return x * factor + offset

        keys = {
            scale.key(3),
            scale.key(3, 2),
            scale.key(x=3),
            scale.key(factor=2, x=3),
            scale.key(3, offset=0),
        }
        assert len(keys) == 1
        assert scale(3) == scale(x=3, factor=2) == scale(3, 2, offset=0) == 6
        assert calls == [3]


class TestKeys:
    """Deterministic keys: processes, hash seeds, ordering, types, errors."""

    def test_equal_keys_across_hash_seeds(self, tmp_path: Path) -> None:
        """Two processes with different PYTHONHASHSEED compute equal keys for sets, dicts,
        arrays and frames (and the dict insertion order differs between them)."""
        (tmp_path / "keymod.py").write_text(
            textwrap.dedent(
                """
                import artifact_cache as ac

                store = ac.open_store("memory://keymod")

                @store.step
                def summarise(value, flag=True):
                    return None
                """
            )
        )
        script = """
            import json, sys
            import numpy as np
            import pandas as pd
            sys.path.insert(0, sys.argv[1])
            import keymod

            words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
            # Insertion order follows the seeded str hash: it differs between the runs.
            shuffled = dict(sorted(((w, len(w)) for w in words), key=lambda kv: hash(kv[0])))
            frame = pd.DataFrame({"a": np.arange(5), "b": list("vwxyz")}, index=list("pqrst"))
            values = {
                "dict": shuffled,
                "set": set(words),
                "nested": {"arr": np.linspace(0, 1, 50), "df": frame, "tags": set(words),
                           "items": [1, (2.5, "x"), {"k": None}]},
            }
            print(json.dumps({
                "keys": {name: keymod.summarise.key(v) for name, v in values.items()},
                "order": list(shuffled),
            }))
        """
        runs = [
            json.loads(run_python(script, str(tmp_path), env={"PYTHONHASHSEED": seed}))
            for seed in ("1", "2")
        ]
        assert runs[0]["keys"] == runs[1]["keys"]
        assert len(set(runs[0]["keys"].values())) == 3
        assert runs[0]["order"] != runs[1]["order"]  # the test really reorders the dict

    def test_reordered_dicts_match(self, mem_store: ac.ArtifactStore) -> None:
        """Equal dicts built in a different order give the same key."""

        @mem_store.step
        def f(config: dict[str, Any]) -> None:
            return None

        assert f.key({"a": 1, "b": {"x": 1, "y": 2}}) == f.key({"b": {"y": 2, "x": 1}, "a": 1})

    def test_one_float_true_differ(self, mem_store: ac.ArtifactStore) -> None:
        """1, 1.0 and True give three different keys (and three computations)."""
        calls: list[object] = []

        @mem_store.step
        def f(x: object) -> str:
            calls.append(x)
            return type(x).__name__

        assert len({f.key(1), f.key(1.0), f.key(True)}) == 3
        assert [f(1), f(1.0), f(True)] == ["int", "float", "bool"]
        assert len(calls) == 3

    def test_var_positional_and_keyword_arguments(self, mem_store: ac.ArtifactStore) -> None:
        """*args count by position, **kwargs by name regardless of order."""

        @mem_store.step
        def f(*args: int, **kwargs: int) -> int:
            return sum(args) + sum(kwargs.values())

        assert f.key(1, 2, a=1, b=2) == f.key(1, 2, b=2, a=1)
        assert f.key(1, 2) != f.key(2, 1)
        assert f.key(a=1) != f.key(b=1)
        assert f(1, 2, a=3) == 6

    def test_unfingerprintable_argument_is_named(self, mem_store: ac.ArtifactStore) -> None:
        """An argument that cannot be fingerprinted raises FingerprintError naming it."""

        @mem_store.step
        def f(x: int, resource: object) -> int:
            return x

        with pytest.raises(ac.FingerprintError, match="arg 'resource'") as caught:
            f(1, {"lock": threading.Lock()})
        assert "resource" in caught.value.path
        assert mem_store.list() == []

    def test_unknown_ignore_name_fails_at_decoration(self, mem_store: ac.ArtifactStore) -> None:
        """``ignore`` naming a parameter the function lacks fails when decorating."""
        with pytest.raises(ValueError, match=r"'verbos'.*parameters are \['rows', 'verbose'\]"):

            @mem_store.step(ignore=["verbos"])
            def f(rows: list[int], verbose: bool = False) -> None:
                return None

    def test_explicit_step_id_validated(self, mem_store: ac.ArtifactStore) -> None:
        """A malformed explicit step id is rejected when decorating."""
        with pytest.raises(ac.InvalidStepIdError):
            mem_store.step("../escape")(len)

    def test_default_step_id_is_sanitised_qualname(self, mem_store: ac.ArtifactStore) -> None:
        """The default step id is the sanitised ``__qualname__`` (``<locals>`` dropped)."""

        def outer() -> Any:
            @mem_store.step
            def inner(x: int) -> int:
                return x

            return inner

        inner = outer()
        assert inner.step_id == ("TestKeys.test_default_step_id_is_sanitised_qualname.outer.inner")
        assert inner(5) == 5


class TestWrapper:
    """The wrapper looks like the function and offers the documented methods."""

    def test_keeps_name_docstring_and_signature(self, mem_store: ac.ArtifactStore) -> None:
        """Name, docstring, signature and ``__wrapped__`` are the function's."""

        def load(path: str, limit: int = 10) -> list[str]:
            """Read lines."""
            return [path] * limit

        wrapped = mem_store.step(load)
        assert wrapped.__name__ == "load" and wrapped.__doc__ == "Read lines."
        assert wrapped.__wrapped__ is load
        assert inspect.signature(wrapped) == inspect.signature(load)
        assert wrapped.store is mem_store

    def test_decorator_forms(self, mem_store: ac.ArtifactStore) -> None:
        """``@store.step``, ``@store.step()`` and ``@store.step("id", ...)`` all work."""

        @mem_store.step
        def a(x: int) -> int:
            return x

        @mem_store.step()
        def b(x: int) -> int:
            return x

        @mem_store.step("named/step", version="1")
        def c(x: int) -> int:
            return x

        assert (a(1), b(2), c(3)) == (1, 2, 3)
        assert sorted(i.step_id for i in mem_store.list()) == [
            "TestWrapper.test_decorator_forms.a",
            "TestWrapper.test_decorator_forms.b",
            "named/step",
        ]

    def test_is_cached_load_refresh(self, store: ac.ArtifactStore) -> None:
        """is_cached and load never compute; refresh recomputes and overwrites."""
        counter = itertools.count()

        @store.step("ticks")
        def tick(x: int) -> tuple[int, int]:
            return x, next(counter)

        assert not tick.is_cached(1)
        with pytest.raises(ac.ArtifactNotFoundError, match="'ticks'"):
            tick.load(1)
        assert tick(1) == (1, 0)
        assert tick.is_cached(1) and tick.load(1) == (1, 0)
        assert tick.refresh(1) == (1, 1)
        assert tick(1) == tick.load(1) == (1, 1)
        assert len(tick.artifacts()) == 1

    def test_clear_and_artifacts_are_this_step_only(self, mem_store: ac.ArtifactStore) -> None:
        """clear() and artifacts() touch this step id only, not others or its children."""

        @mem_store.step("report")
        def report(x: int) -> int:
            return x

        mem_store.save("report/child", 1)
        mem_store.save("other", 2)
        report(1), report(2)
        assert {i.step_id for i in report.artifacts()} == {"report"}
        assert len(report.artifacts()) == 2
        assert report.clear() == 2
        assert report.artifacts() == []
        assert sorted(i.step_id for i in mem_store.list()) == ["other", "report/child"]

    def test_call_result_fields(self, mem_store: ac.ArtifactStore) -> None:
        """call() returns a frozen StepCall with value, info, cached and duration."""

        @mem_store.step
        def slow(x: int) -> int:
            time.sleep(0.02)
            return x

        call = slow.call(1)
        assert isinstance(call, ac.StepCall)
        assert call.value == 1 and not call.cached and call.duration >= 0.02
        assert call.info.duration == call.duration
        with pytest.raises(AttributeError):
            call.value = 2  # type: ignore[misc]


class TestCodeInvalidation:
    """Re-definitions (notebook re-runs), trivial edits, version pins, helpers, explain."""

    V1 = """
        @store.step
        def clean(x):
            return x + 1
    """
    V2 = """
        @store.step
        def clean(x):
            return x + 2
    """
    TRIVIAL = '''


        # A comment above, a docstring, blank lines and trailing comments.
        @store.step
        def clean(x):
            """Add one."""

            return x + 1  # the same as before
    '''

    @pytest.mark.parametrize("register", [True, False], ids=["linecache", "bare-exec"])
    def test_redefinition_misses(self, mem_store: ac.ArtifactStore, register: bool) -> None:
        """Re-running a cell with a changed body gives a miss, with or without source."""
        ns = notebook(mem_store)
        run_cell(self.V1, ns, register=register)
        assert ns["clean"].call(1).value == 2
        run_cell(self.V2, ns, register=register)
        explanation = ns["clean"].explain(1)
        assert explanation.changed_code == ("__main__:clean",)
        assert "code of the function __main__:clean changed" in str(explanation)
        call = ns["clean"].call(1)
        assert (call.cached, call.value) == (False, 3)

    @pytest.mark.parametrize("register", [True, False], ids=["linecache", "bare-exec"])
    def test_trivial_edits_keep_hit(self, mem_store: ac.ArtifactStore, register: bool) -> None:
        """Comments, a docstring and blank lines do not invalidate the cache."""
        ns = notebook(mem_store)
        run_cell(self.V1, ns, register=register)
        ns["clean"](1)
        run_cell(self.TRIVIAL, ns, register=register)
        assert ns["clean"].call(1).cached

    def test_helper_cell_rerun_alone_misses(self, mem_store: ac.ArtifactStore) -> None:
        """Re-running only a helper's cell invalidates the step defined in another cell."""
        ns = notebook(mem_store)
        run_cell("def scale(x):\n    return x * 10\n", ns)
        run_cell("@store.step\ndef clean(x):\n    return scale(x) + 1\n", ns)
        assert ns["clean"].call(1).value == 11
        run_cell("def scale(x):\n    # same code, re-run\n    return x * 10\n", ns)
        assert ns["clean"].call(1).cached  # rebound to equal code: still a hit
        run_cell("def scale(x):\n    return x * 100\n", ns)
        explanation = ns["clean"].explain(1)
        assert explanation.changed_code == ("__main__:scale",)
        call = ns["clean"].call(1)
        assert (call.cached, call.value) == (False, 101)

    def test_global_the_function_assigns_is_state(self, mem_store: ac.ArtifactStore) -> None:
        """A global the function itself assigns (a counter) does not change its key."""
        ns = notebook(mem_store)
        run_cell(
            "calls = 0\n@store.step\ndef clean(x):\n    global calls\n    calls += 1\n"
            "    return x + 1\n",
            ns,
        )
        assert [ns["clean"].call(1).cached for _ in range(3)] == [False, True, True]
        assert ns["calls"] == 1

    def test_version_pin_hits_after_redefinition(self, mem_store: ac.ArtifactStore) -> None:
        """With ``version=`` pinned a changed body still hits; a new version misses."""
        ns = notebook(mem_store)
        pinned = '@store.step(version="1")\ndef clean(x):\n    return x + {n}\n'
        run_cell(pinned.format(n=1), ns)
        assert ns["clean"](1) == 2
        run_cell(pinned.format(n=2), ns)
        assert ns["clean"].call(1).cached
        run_cell(pinned.format(n=2).replace('"1"', '"2"'), ns)
        explanation = ns["clean"].explain(1)
        assert explanation.version_change == ("1", "2")
        assert "version changed from '1' to '2'" in str(explanation)
        assert ns["clean"].call(1).value == 3

    def test_helper_two_levels_down_misses(
        self, mem_store: ac.ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Changing a helper two calls down misses, and explain names that helper."""
        name = f"mymod_{uuid.uuid4().hex[:8]}"
        path = tmp_path / f"{name}.py"
        source = textwrap.dedent(
            """
            def normalise(x):
                return x / {scale}

            def prepare(x):
                return normalise(x) + 1

            def featurise(x):
                return prepare(x) * 2
            """
        )
        path.write_text(source.format(scale=10))
        monkeypatch.syspath_prepend(str(tmp_path))
        module = importlib.import_module(name)
        try:
            assert mem_store.step(module.featurise)(10) == 4.0
            path.write_text(source.format(scale=100))
            module = importlib.reload(module)
            featurise = mem_store.step(module.featurise)
            explanation = featurise.explain(10)
            assert not explanation.hit
            assert explanation.changed_code == (f"{name}:normalise",)
            assert explanation.changed_arguments == ()
            assert f"code changed in helper {name}:normalise" in str(explanation)
            call = featurise.call(10)
            assert (call.cached, call.value) == (False, 2.2)
        finally:
            sys.modules.pop(name, None)

    def test_depends_on_invalidates(self, mem_store: ac.ArtifactStore) -> None:
        """A ``depends_on`` value with different contents gives different keys."""

        def make(table: dict[str, int]) -> Any:
            return mem_store.step("lookup", depends_on=[table])(lambda x: x)

        assert make({"a": 1}).key(1) == make({"a": 1}).key(1)
        assert make({"a": 1}).key(1) != make({"a": 2}).key(1)


class TestExplain:
    """explain() says hit or miss and what differs, computing nothing."""

    def test_names_changed_argument(self, mem_store: ac.ArtifactStore) -> None:
        """On a miss, explain names the argument that differs from the newest artifact."""
        calls: list[int] = []

        @mem_store.step
        def fit(data: list[int], alpha: float = 0.5, seed: int = 0) -> float:
            calls.append(seed)
            return sum(data) * alpha

        fit([1, 2, 3], alpha=0.5)
        explanation = fit.explain([1, 2, 3], alpha=0.7)
        assert not explanation.hit and explanation.changed_arguments == ("alpha",)
        assert explanation.compared_with is not None and explanation.changed_code == ()
        assert "argument 'alpha' changed" in str(explanation)
        assert calls == [0]

    def test_hit_and_no_artifact(self, mem_store: ac.ArtifactStore) -> None:
        """Before any call explain says there is no artifact; after, it says hit."""

        @mem_store.step("thing")
        def thing(x: int) -> int:
            return x

        assert str(thing.explain(1)).startswith("miss: step 'thing'")
        assert "has no artifact yet" in str(thing.explain(1))
        thing(1)
        explanation = thing.explain(1)
        assert explanation.hit and explanation.key == thing.key(1)
        assert str(explanation).startswith("hit: ")


class TestSingleFlight:
    """Concurrent calls with one key compute once; different keys do not wait."""

    def test_eight_threads_compute_once(self, store: ac.ArtifactStore) -> None:
        """8 threads calling the same uncached step at once run the body once."""
        runs: list[int] = []
        barrier = threading.Barrier(8)

        @store.step("slow")
        def slow(x: int) -> list[int]:
            runs.append(x)
            time.sleep(0.3)
            return [x] * 3

        results: list[Any] = [None] * 8

        def worker(i: int) -> None:
            barrier.wait()
            results[i] = slow.call(7)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert runs == [7]
        assert all(r.value == [7, 7, 7] for r in results)
        assert sum(not r.cached for r in results) == 1

    def test_different_keys_run_concurrently(self, mem_store: ac.ArtifactStore) -> None:
        """Two different keys compute at the same time (no lock shared between keys)."""
        inside = threading.Barrier(2, timeout=10)

        @mem_store.step
        def meet(x: int) -> int:
            inside.wait()  # breaks (and raises) if the other key were blocked
            return x

        with_errors: list[BaseException] = []

        def worker(x: int) -> None:
            try:
                meet(x)
            except BaseException as exc:
                with_errors.append(exc)

        threads = [threading.Thread(target=worker, args=(x,)) for x in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert with_errors == []


class TestLineage:
    """Inputs recorded from arguments that came from other steps."""

    def test_classify_of_extract(self, store: ac.ArtifactStore) -> None:
        """classify(extract()) records extract's artifact in classify's inputs, hit or miss."""

        @store.step
        def extract() -> list[dict[str, int]]:
            return [{"id": 1, "score": 7}, {"id": 2, "score": 2}]

        @store.step
        def classify(rows: list[dict[str, int]], threshold: int = 5) -> list[bool]:
            return [r["score"] > threshold for r in rows]

        assert classify(extract()) == [True, False]
        info = classify.artifacts()[0]
        assert info.inputs == (extract.artifacts()[0].ref,)
        assert classify.call(extract()).cached  # extract() now loads; same key, same inputs

    def test_items_of_list_arguments(self, mem_store: ac.ArtifactStore) -> None:
        """Step outputs inside a list or dict argument (one level down) are inputs too."""

        @mem_store.step
        def part(i: int) -> list[int]:
            return [i]

        @mem_store.step
        def combine(parts: list[list[int]], named: dict[str, list[int]]) -> int:
            return len(parts) + len(named)

        a, b, c = part(1), part(2), part(3)
        call = combine.call([a, b], {"c": c})
        assert {r.key for r in call.info.inputs} == {part.key(1), part.key(2), part.key(3)}

    def test_record_metadata(self, mem_store: ac.ArtifactStore) -> None:
        """A record holds the code fingerprint, duration, a short args repr and tags."""
        pd = pytest.importorskip("pandas")
        np = pytest.importorskip("numpy")

        @mem_store.step(tags={"stage": "train"})
        def train(df: Any, n: int = 3, text: str = "x" * 500) -> int:
            return n

        frame = pd.DataFrame(np.zeros((1000, 5)))
        info = train.call(frame).info
        assert info.args_repr is not None
        assert info.args_repr.startswith("df=<DataFrame 1000x5>, n=3, text='xxx")
        assert len(info.args_repr) <= 200
        assert info.code_fingerprint and len(info.code_fingerprint) == 32
        assert info.duration is not None and info.duration >= 0
        assert info.tags == {"stage": "train"}
        assert info.recipe is not None
        assert set(info.recipe.arguments) == {"df", "n", "text"}


class TestMethods:
    """Methods through the descriptor protocol."""

    def test_self_excluded_by_default(self, mem_store: ac.ArtifactStore) -> None:
        """A method's key leaves the instance out (so unpicklable instances work)."""

        class Model:
            def __init__(self) -> None:
                self.lock = threading.Lock()  # cannot be fingerprinted
                self.calls = 0

            @mem_store.step
            def fit(self, x: int) -> int:
                self.calls += 1
                return x * 2

        a, b = Model(), Model()
        assert a.fit(2) == b.fit(2) == 4
        assert (a.calls, b.calls) == (1, 0)
        assert list(inspect.signature(a.fit).parameters) == ["x"]
        assert a.fit.key(2) == b.fit.key(2)
        assert a.fit.step_id == "TestMethods.test_self_excluded_by_default.Model.fit"

    def test_include_self_fingerprints_instance(self, mem_store: ac.ArtifactStore) -> None:
        """With include_self=True, instances with different state have different keys."""

        class Scaler:
            def __init__(self, factor: int) -> None:
                self.factor = factor

            @mem_store.step(include_self=True)
            def scale(self, x: int) -> int:
                return self.factor * x

        assert Scaler(2).scale(5) == 10 and Scaler(3).scale(5) == 15
        assert Scaler(2).scale.key(5) == Scaler(2).scale.key(5)

    def test_module_level_step_pickles_by_reference(self) -> None:
        """A step defined at module level pickles by reference, methods bound or not."""
        from userhelpers import stepmod

        assert pickle.loads(pickle.dumps(stepmod.double)) is stepmod.double
        bound = pickle.loads(pickle.dumps(stepmod.Scaler(3).scale))
        assert bound(4) == 12 and bound.step_id == "Scaler.scale"


class TestFailures:
    """Exceptions, unserialisable results, missing and corrupt payloads."""

    def test_exception_propagates_nothing_stored(self, store: ac.ArtifactStore) -> None:
        """An exception in the body propagates and nothing is stored."""

        @store.step("boom")
        def boom(x: int) -> int:
            raise ZeroDivisionError(x)

        with pytest.raises(ZeroDivisionError):
            boom(1)
        assert store.list() == [] and not boom.is_cached(1)

    def test_unserialisable_result_raises(self, mem_store: ac.ArtifactStore) -> None:
        """A result that cannot be serialised raises SerializationError; nothing is stored."""

        @mem_store.step("locked")
        def locked() -> Any:
            return threading.Lock()

        with pytest.raises(ac.SerializationError, match="'locked'"):
            locked()
        assert mem_store.list() == []

    @pytest.mark.payload_files
    def test_missing_payload_recomputed_with_warning(self, store: ac.ArtifactStore) -> None:
        """A record whose payload is gone is recomputed with a warning, not an error."""
        calls: list[int] = []

        @store.step("fragile")
        def fragile(x: int) -> list[int]:
            calls.append(x)
            return [x] * 10

        info = fragile.call(1).info
        store.fs.rm(info.uri)
        with pytest.warns(RuntimeWarning, match="payload of step 'fragile'.*recomputing"):
            assert fragile(1) == [1] * 10
        assert calls == [1, 1]
        assert fragile.call(1).cached

    @pytest.mark.payload_files
    def test_corrupt_payload_recomputed_with_warning(self, mem_store: ac.ArtifactStore) -> None:
        """A payload that fails its digest check is recomputed with a warning."""

        @mem_store.step("corrupt")
        def corrupt(x: int) -> bytes:
            return b"payload" * 10

        info = corrupt.call(1).info
        mem_store.fs.pipe_file(info.uri, b"\0" * info.size)
        with pytest.warns(RuntimeWarning, match="does not match its digest"):
            assert corrupt(1) == b"payload" * 10


class TestProcesses:
    """A decorated function sent to another process keeps working on the same store."""

    WORKER = """
        import json, sys
        import cloudpickle
        with open(sys.argv[1], "rb") as f:
            step = cloudpickle.load(f)
        first, second = step.call(1), step.call(2)
        print(json.dumps([first.cached, first.value, second.cached, step.key(1)]))
    """

    @pytest.mark.parametrize("backend", ["local", "s3"])
    def test_cloudpickled_step_hits_in_worker(
        self, backend: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """A closure step computed here hits in a worker process, and the worker's
        results hit here."""
        store = ac.open_store(make_url(backend, tmp_path, request))
        offset = 10

        @store.step("worker/add")
        def add(x: int) -> int:
            return x + offset

        assert add.call(1).cached is False
        path = tmp_path / "step.pkl"
        path.write_bytes(cloudpickle.dumps(add))
        cached, value, second_cached, key = json.loads(run_python(self.WORKER, str(path)))
        assert (cached, value, second_cached, key) == (True, 11, False, add.key(1))
        assert add.call(2).cached


def test_misspelt_option_fails_at_decoration(mem_store: ac.ArtifactStore) -> None:
    """A misspelt decorator option is refused at once, naming it and the valid ones."""
    with pytest.raises(TypeError, match=r"\['ignor'\].*'ignore'"):
        mem_store.step("x", ignor=["a"])  # type: ignore[call-overload]
