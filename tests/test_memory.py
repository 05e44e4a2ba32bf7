"""ac.Memory: joblib.Memory's surface, and scikit-learn's Pipeline(memory=...) on it."""

from __future__ import annotations

import copy
import datetime as dt
import os
import pickle
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from userhelpers.fitcount import CountingScaler, fits

import artifact_cache as ac

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def bump(log: Path) -> None:
    """Count a call in a file: the count is not part of any fingerprint."""
    with open(log, "a") as f:
        f.write("call\n")


def calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def square(x: int) -> int:
    """A module-level function, so that its memoised form pickles by reference."""
    return x * x


@pytest.fixture
def memory() -> ac.Memory:
    return ac.Memory(f"memory://memory-{uuid.uuid4().hex}")


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 4))
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)


def pipeline(log: Path, memory: ac.Memory, factor: float = 1.0) -> Pipeline:
    return Pipeline(
        [
            ("count", CountingScaler(log=str(log), factor=factor)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression()),
        ],
        memory=memory,
    )


class TestSklearnPipeline:
    @pytest.mark.parametrize("backend", ["local", "s3"])
    def test_second_fit_reuses_the_fitted_transformers(
        self, backend: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """A new Pipeline with the same steps and data takes its transformers from the cache."""
        url = str(tmp_path / "cache") if backend == "local" else request.getfixturevalue("s3_url")
        log = tmp_path / "fits.log"
        X, y = data()
        first = pipeline(log, ac.Memory(url)).fit(X, y)
        assert fits(str(log)) == 1
        second = pipeline(log, ac.Memory(url)).fit(X, y)  # new objects, new Memory
        assert fits(str(log)) == 1
        np.testing.assert_array_equal(first.predict(X), second.predict(X))
        np.testing.assert_allclose(second.named_steps["count"].mean_, X.mean(axis=0))
        stored = {i.step_id for i in ac.open_store(url).list("memory/")}
        assert stored == {"memory/sklearn.pipeline/fit_transform_one_with_callbacks"}
        # Other data, or another parameter: fitted again.
        pipeline(log, ac.Memory(url)).fit(*data(seed=1))
        assert fits(str(log)) == 2
        pipeline(log, ac.Memory(url), factor=2.0).fit(X, y)
        assert fits(str(log)) == 3

    def test_another_process_reuses_the_fits(self, tmp_path: Path) -> None:
        """The keys hold across processes: a fresh interpreter fits nothing again."""
        url = str(tmp_path / "cache")
        log = tmp_path / "fits.log"
        code = (
            "import sys, numpy as np, artifact_cache as ac\n"
            "sys.path.insert(0, sys.argv[3])\n"
            "from test_memory import data, pipeline\n"
            "from pathlib import Path\n"
            "pipeline(Path(sys.argv[2]), ac.Memory(sys.argv[1])).fit(*data())\n"
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
        for seed in ("1", "2"):  # different hash seeds: keys must not depend on them
            env["PYTHONHASHSEED"] = seed
            subprocess.run(
                [sys.executable, "-c", code, url, str(log), str(TESTS)],
                env=env,
                check=True,
                timeout=120,
            )
        assert fits(str(log)) == 1

    def test_grid_search_clones_the_memory(self, memory: ac.Memory, tmp_path: Path) -> None:
        """GridSearchCV clones the pipeline (deep-copying the Memory) and still shares it."""
        log = tmp_path / "fits.log"
        X, y = data()
        search = GridSearchCV(pipeline(log, memory), {"clf__C": [0.1, 1.0, 10.0]}, cv=2)
        search.fit(X, y)
        # 2 folds + the refit on all data; the three values of C share each fold's fits.
        assert fits(str(log)) == 3
        assert copy.deepcopy(memory).location == memory.location

    def test_grid_search_workers_reuse_the_cache(self, tmp_path: Path) -> None:
        """GridSearchCV's worker processes (n_jobs=2) unpickle the Memory and hit its cache."""
        url = str(tmp_path / "cache")
        log = tmp_path / "fits.log"
        X, y = data()
        grid = {"clf__C": [0.1, 1.0, 10.0]}
        GridSearchCV(pipeline(log, ac.Memory(url)), grid, cv=2).fit(X, y)
        assert fits(str(log)) == 3
        search = GridSearchCV(pipeline(log, ac.Memory(url)), grid, cv=2, n_jobs=2)
        search.fit(X, y)
        assert fits(str(log)) == 3  # every fold's transformers came from the store
        assert search.best_params_["clf__C"] in grid["clf__C"]


class TestCache:
    def test_decorator_forms(self, memory: ac.Memory, tmp_path: Path) -> None:
        """@cache, @cache(...) and cache(func) memoise alike."""
        log = tmp_path / "calls.log"

        @memory.cache
        def bare(x: int) -> int:
            bump(log)
            return x + 1

        @memory.cache(ignore=["verbose"])
        def with_options(x: int, verbose: bool = False) -> int:
            bump(log)
            return x + 2

        assert bare(1) == bare(1) == 2
        assert with_options(1) == with_options(1, verbose=True) == 3
        assert calls(log) == 2
        assert isinstance(bare, ac.MemorizedFunc) and bare.__name__ == "bare"
        assert memory.cache(bare).func is bare.func  # re-wrapping unwraps

    def test_bound_methods_of_two_instances(self, memory: ac.Memory) -> None:
        """cache(obj.method) keys the instance, as joblib does."""

        class Model:
            def __init__(self, weight: int) -> None:
                self.weight = weight

            def predict(self, x: int) -> int:
                return x * self.weight

        assert memory.cache(Model(2).predict)(5) == 10
        assert memory.cache(Model(10).predict)(5) == 50

    def test_call_forces_a_recompute(self, memory: ac.Memory, tmp_path: Path) -> None:
        """joblib's trap, kept: MemorizedFunc.call computes again and returns metadata."""
        log = tmp_path / "calls.log"

        @memory.cache
        def f(x: int) -> int:
            bump(log)
            return 10 * x

        assert f(2) == 20
        value, metadata = f.call(2)
        assert value == 20 and calls(log) == 2
        assert set(metadata) == {"duration", "input_args", "time"}
        assert metadata["input_args"] == "x=2"
        assert f(2) == 20 and calls(log) == 2  # the recomputed result is the cached one

    def test_check_call_in_cache(self, memory: ac.Memory) -> None:
        """check_call_in_cache says whether a call would hit, computing nothing."""
        f = memory.cache(square)
        assert not f.check_call_in_cache(3)
        f(3)
        assert f.check_call_in_cache(3) and not f.check_call_in_cache(4)

    def test_cache_validation_callback(self, memory: ac.Memory, tmp_path: Path) -> None:
        """A callback returning False recomputes; it sees joblib's metadata."""
        import joblib

        log = tmp_path / "calls.log"
        seen: list[dict[str, object]] = []

        def never_valid(metadata: dict[str, object]) -> bool:
            seen.append(metadata)
            return False

        def f(x: int) -> int:
            bump(log)
            return x

        stale = memory.cache(f, cache_validation_callback=never_valid)
        fresh = memory.cache(f, cache_validation_callback=joblib.expires_after(hours=1))
        stale(1)
        stale(1)
        assert calls(log) == 2 and len(seen) == 1
        assert isinstance(seen[0]["time"], float)
        fresh(1)
        assert calls(log) == 2
        with pytest.raises(ValueError, match="callable"):
            memory.cache(f, cache_validation_callback=42)  # type: ignore[arg-type]

    def test_no_location_caches_nothing(self, tmp_path: Path) -> None:
        """Memory(None) is transparent, as joblib's is; sklearn then does not clone."""
        memory = ac.Memory(None)
        log = tmp_path / "calls.log"

        def f(x: int) -> int:
            bump(log)
            return x

        g = memory.cache(f)
        assert g(1) == g(1) == 1 and calls(log) == 2
        assert memory.location is None and not g.check_call_in_cache(1)
        assert g.call(1) == (1, {})
        assert memory.reduce_size(items_limit=0) == 0

    def test_pickle(self, memory: ac.Memory) -> None:
        """Memory and its memoised functions pickle and keep their cache."""
        f = memory.cache(square)
        f(5)
        again = pickle.loads(pickle.dumps(f))
        assert again.check_call_in_cache(5) and again(5) == 25
        assert pickle.loads(pickle.dumps(memory)).location == memory.location

    def test_options(self, tmp_path: Path) -> None:
        """joblib's options are accepted; what cannot be honoured is said."""
        assert ac.Memory(tmp_path, verbose=0, mmap_mode="r").location == str(tmp_path)
        assert ac.Memory(tmp_path, compress=3).codec == "gzip"
        with pytest.raises(ValueError, match="fsspec URL"):
            ac.Memory(tmp_path, backend="redis")
        store = ac.open_store(f"memory://memory-{uuid.uuid4().hex}")
        assert ac.Memory(store).store is store
        with pytest.raises(ValueError, match="not parameters"):
            ac.Memory(store).cache(square, ignore=["y"])

    def test_verbose(self, memory: ac.Memory, capsys: pytest.CaptureFixture[str]) -> None:
        """verbose=1 prints a line per call, saying whether it came from the cache."""
        f = memory.cache(square, verbose=1)
        f(2)
        f(2)
        out = capsys.readouterr().out.splitlines()
        assert out[0].endswith(("computed", "s")) and "computed" in out[0]
        assert "from the cache" in out[1]


class TestClearAndReduce:
    def test_clear(self, memory: ac.Memory) -> None:
        """clear() removes this Memory's results only; a function's clear() only its own."""
        assert memory.store is not None
        memory.store.save("kept", 1)
        f, g = memory.cache(square), memory.cache(lambda x: x)
        f(1), f(2), g(1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            f.clear(warn=False)
        assert not f.check_call_in_cache(1) and g.check_call_in_cache(1)
        with pytest.warns(UserWarning, match="clearing"):
            memory.clear()
        assert [i.step_id for i in memory.store.list()] == ["kept"]

    def test_reduce_size(self, memory: ac.Memory) -> None:
        """reduce_size keeps the newest results within the count, size and age limits."""
        assert memory.store is not None
        f = memory.cache(lambda n: b"x" * n)
        for n in (1000, 2000, 3000, 4000):
            f(n)
        assert memory.reduce_size() == 0
        assert memory.reduce_size(items_limit=3) == 1
        assert not f.check_call_in_cache(1000) and f.check_call_in_cache(4000)
        removed = memory.reduce_size(bytes_limit="8K")  # 4000 + 3000 pickled bytes fit
        assert removed == 1 and not f.check_call_in_cache(2000)
        assert memory.reduce_size(age_limit=dt.timedelta(hours=1)) == 0
        assert memory.reduce_size(age_limit=dt.timedelta(0)) == 2
        assert memory.store.list() == []
        with pytest.raises(ValueError, match="bytes_limit"):
            memory.reduce_size(bytes_limit="lots")


class TestTrustedStores:
    """A Memory over a read-only or a signed store keeps joblib's surface working."""

    def test_read_only_memory_computes_without_saving(self, tmp_path: Path) -> None:
        """Hits are read, misses computed but not saved; call() on an uncached call
        returns the value with empty metadata; clear and reduce_size refuse clearly."""
        url = str(tmp_path / "cache")
        ac.Memory(url).cache(square)(3)
        memory = ac.Memory(url, read_only=True)
        f = memory.cache(square)
        assert f(3) == 9 and f.check_call_in_cache(3)
        assert f(4) == 16 and not f.check_call_in_cache(4)
        value, metadata = f.call(4)  # computed, nothing stored, no record to describe
        assert value == 16 and metadata == {"duration": None, "input_args": None, "time": None}
        value, metadata = f.call(3)  # not the older record's metadata either
        assert value == 9 and metadata["time"] is None
        again = pickle.loads(pickle.dumps(memory))
        assert again.store is not None and again.store.read_only
        with pytest.raises(ac.ReadOnlyStoreError):
            memory.clear(warn=False)
        with pytest.raises(ac.ReadOnlyStoreError):
            memory.reduce_size(items_limit=0)
        assert ac.Memory(url).cache(square).check_call_in_cache(3)

    def test_signed_memory_refuses_unsigned_results(self, tmp_path: Path) -> None:
        """A keyed Memory recomputes (and signs) a result an unkeyed one stored."""
        url = str(tmp_path / "cache")
        log = tmp_path / "calls.log"

        def counted(x: int) -> int:
            bump(log)
            return x + 1

        assert ac.Memory(url, signing_key="").cache(counted)(1) == 2
        memory = ac.Memory(url, signing_key="team-key")
        f = memory.cache(counted)
        with pytest.warns(RuntimeWarning, match="not signed"):
            assert f(1) == 2
        assert calls(log) == 2
        assert f(1) == 2 and calls(log) == 2
        assert f.step is not None
        assert all(memory.store.verified(i) for i in f.step.artifacts())  # type: ignore[union-attr]
        worker = pickle.loads(pickle.dumps(memory)).cache(counted)
        assert worker.memory.store.signing and worker.check_call_in_cache(1)
