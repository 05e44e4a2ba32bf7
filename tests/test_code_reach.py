"""What a memoised function's code reaches must reach its key.

Regression tests for values that a code fingerprint used to drop: a partial's
arguments and a bound method's instance (through globals, closures and defaults), a
global mistaken for state because a local shares its name, a library factory's
closure passed as an argument, a builtin shadowed later, and a decorator's arguments
under ``@store.step``.
"""

from __future__ import annotations

import functools
import itertools
import json
import linecache
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import artifact_cache as ac
from artifact_cache.fingerprint import FingerprintError, code_fingerprint, function_identity

_cells = itertools.count(1)
REPO_ROOT = Path(ac.__file__).resolve().parents[1]


def run_cell(source: str, namespace: dict[str, Any]) -> None:
    """Execute ``source`` as a notebook cell does: a fresh file name, in ``__main__``."""
    source = textwrap.dedent(source)
    filename = f"<ipython-input-{next(_cells)}-{uuid.uuid4().hex[:12]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def notebook(store: ac.ArtifactStore) -> dict[str, Any]:
    return {"__name__": "__main__", "store": store}


def power(x: int, exp: int) -> int:
    return x**exp


class Scaler:
    def __init__(self, k: int) -> None:
        self.k = k

    def run(self, x: int) -> int:
        return x * self.k


def apply_step(store: ac.ArtifactStore, op: Any) -> Any:
    @store.step("apply")
    def apply(x: int) -> int:
        return op(x)

    return apply


class TestPartialsAndBoundMethods:
    def test_a_global_partial_rebound_in_a_cell(self, mem_store: ac.ArtifactStore) -> None:
        ns = notebook(mem_store)
        run_cell(
            """
            import functools

            def scale(x, factor):
                return x * factor

            SCALE = functools.partial(scale, factor=3)

            @store.step
            def transform(x):
                return SCALE(x)
            """,
            ns,
        )
        assert ns["transform"](2) == 6
        first = ns["transform"].key(2)
        run_cell("SCALE = functools.partial(scale, factor=5)", ns)
        assert ns["transform"].key(2) != first
        assert ns["transform"](2) == 10
        fresh = mem_store.step("transform")(ns["transform"].__wrapped__)
        assert fresh(2) == 10 and fresh.call(2).cached

    def test_partials_in_closures_differ_by_their_arguments(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        square = apply_step(mem_store, functools.partial(power, exp=2))
        cube = apply_step(mem_store, functools.partial(power, exp=3))
        assert square.key(3) != cube.key(3)
        assert (square(3), cube(3)) == (9, 27)
        again = apply_step(mem_store, functools.partial(power, exp=3))
        assert again.key(3) == cube.key(3) and again.call(3).cached

    def test_positional_partial_arguments_count(self, mem_store: ac.ArtifactStore) -> None:
        def raise_to(exp: int, x: int) -> int:
            return x**exp

        two = apply_step(mem_store, functools.partial(raise_to, 2))
        three = apply_step(mem_store, functools.partial(raise_to, 3))
        assert two.key(3) != three.key(3)
        assert (two(3), three(3)) == (9, 27)

    def test_bound_methods_in_closures_differ_by_their_instance(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        by_two = apply_step(mem_store, Scaler(2).run)
        by_seven = apply_step(mem_store, Scaler(7).run)
        assert by_two.key(3) != by_seven.key(3)
        assert (by_two(3), by_seven(3)) == (6, 21)
        assert apply_step(mem_store, Scaler(7).run).key(3) == by_seven.key(3)

    def test_an_instance_with_nothing_to_hash_is_named(self, mem_store: ac.ArtifactStore) -> None:
        class Guarded:
            def __init__(self) -> None:
                self.lock = threading.Lock()

            def run(self, x: int) -> int:
                return x

        def make(op: Any) -> Any:
            def call(x: int) -> int:
                return op(x)

            return call

        @mem_store.step
        def apply(f: Any, x: int) -> int:
            return f(x)

        with pytest.raises(FingerprintError) as caught:
            apply(make(Guarded().run), 1)
        assert "<closure op>.__self__.lock" in caught.value.path
        assert apply.artifacts() == []

    def test_a_partial_default_counts(self) -> None:
        def make(exp: int) -> Any:
            def raised(x: int, op: Any = functools.partial(power, exp=exp)) -> int:  # noqa: B008
                return op(x)

            return raised

        assert code_fingerprint(make(2)).digest != code_fingerprint(make(3)).digest
        assert code_fingerprint(make(2)).digest == code_fingerprint(make(2)).digest


class TestStateIsDecidedByScope:
    CELL = """
    config = {{"scale": {scale}}}

    def with_defaults(config):
        config.setdefault("offset", 0)
        return config

    @store.step("compute")
    def compute(x):
        cfg = with_defaults(dict(config))
        return x * cfg["scale"] + cfg["offset"]
    """

    def test_a_parameter_named_like_a_global(self, mem_store: ac.ArtifactStore) -> None:
        ns = notebook(mem_store)
        run_cell(self.CELL.format(scale=3), ns)
        assert ns["compute"](10) == 30
        first = ns["compute"].key(10)
        run_cell(self.CELL.format(scale=5), ns)
        assert ns["compute"].key(10) != first
        assert ns["compute"](10) == 50

    def test_a_local_named_like_a_global(self) -> None:
        source = """
        LIMITS = [{n}]

        def top():
            return max(LIMITS)

        def step(x):
            LIMITS = []
            LIMITS.append(x)
            return LIMITS[0] + top()
        """
        digests = []
        for n in (1, 2):
            ns: dict[str, Any] = {"__name__": "__main__"}
            run_cell(source.format(n=n), ns)
            digests.append(code_fingerprint(ns["step"]).digest)
        assert digests[0] != digests[1]

    def test_a_global_changed_in_place_is_still_state(self) -> None:
        source = """
        LOG = [{n}]

        def step(x):
            LOG.append(x)
            return x
        """
        digests = []
        for n in (1, 2):
            ns: dict[str, Any] = {"__name__": "__main__"}
            run_cell(source.format(n=n), ns)
            digests.append(code_fingerprint(ns["step"]).digest)
        assert digests[0] == digests[1]


class TestNamesDefinedLater:
    def test_a_builtin_shadowed_by_a_later_cell(self, mem_store: ac.ArtifactStore) -> None:
        ns = notebook(mem_store)
        run_cell(
            """
            @store.step("price")
            def price(x):
                return round(x * 1.2345, 2)
            """,
            ns,
        )
        assert ns["price"](10) == round(10 * 1.2345, 2)
        first = ns["price"].key(10)
        run_cell(
            """
            def round(x, n):
                return int(x)
            """,
            ns,
        )
        assert ns["price"].key(10) != first
        assert ns["price"](10) == 12
        run_cell("del round", ns)
        assert ns["price"].key(10) == first and ns["price"].call(10).cached

    def test_an_unrelated_new_global_keeps_the_fingerprint(self) -> None:
        ns: dict[str, Any] = {"__name__": "__main__"}
        run_cell(
            """
            def total(xs):
                return sum(len(x) for x in xs)
            """,
            ns,
        )
        fp = code_fingerprint(ns["total"])
        run_cell("xs = [1]\nsummary = 2", ns)
        assert not fp.stale()
        run_cell("def len(x):\n    return 1", ns)
        assert fp.stale()


class TestLibraryClosuresAsArguments:
    def test_a_library_factorys_closures_differ(self, mem_store: ac.ArtifactStore) -> None:
        @mem_store.step
        def kept(names: list[str], ignore: Any) -> list[str]:
            return sorted(set(names) - ignore("/src", names))

        names = ["a.py", "a.pyc", "notes.txt"]
        no_pyc, no_txt = shutil.ignore_patterns("*.pyc"), shutil.ignore_patterns("*.txt")
        assert kept.key(names, no_pyc) != kept.key(names, no_txt)
        assert kept(names, no_pyc) == ["a.py", "notes.txt"]
        assert kept(names, no_txt) == ["a.py", "a.pyc"]
        assert kept.call(names, shutil.ignore_patterns("*.txt")).cached

    def test_a_library_closure_held_by_a_global(self, mem_store: ac.ArtifactStore) -> None:
        ns = notebook(mem_store)
        run_cell(
            """
            import shutil

            IGNORE = shutil.ignore_patterns("*.pyc")

            @store.step
            def kept(names):
                return sorted(set(names) - IGNORE("/src", names))
            """,
            ns,
        )
        names = ["a.py", "a.pyc", "notes.txt"]
        assert ns["kept"](names) == ["a.py", "notes.txt"]
        first = ns["kept"].key(names)
        run_cell('IGNORE = shutil.ignore_patterns("*.txt")', ns)
        assert ns["kept"].key(names) != first
        assert ns["kept"](names) == ["a.py", "a.pyc"]

    def test_captured_values_count_by_content(self) -> None:
        assert ac.fingerprint(shutil.ignore_patterns("*.pyc")) == ac.fingerprint(
            shutil.ignore_patterns("*.pyc")
        )
        assert ac.fingerprint(shutil.ignore_patterns("*.pyc")) != ac.fingerprint(
            shutil.ignore_patterns("*.pyc", "*.txt")
        )


def rounded(n: int) -> Any:
    def deco(f: Any) -> Any:
        @functools.wraps(f)
        def wrapper(*args: Any) -> Any:
            return round(f(*args), n)

        return wrapper

    return deco


class TestDecoratorsUnderTheStep:
    CELL = """
    @store.step("ratio")
    @rounded({n})
    def ratio(a, b):
        return a / b
    """

    def test_a_decorators_arguments_count(self, mem_store: ac.ArtifactStore) -> None:
        ns = notebook(mem_store)
        ns["rounded"] = rounded
        run_cell(self.CELL.format(n=2), ns)
        assert ns["ratio"](2, 3) == 0.67
        first = ns["ratio"].key(2, 3)
        run_cell(self.CELL.format(n=4), ns)
        assert ns["ratio"].key(2, 3) != first
        assert ns["ratio"](2, 3) == 0.6667
        run_cell(self.CELL.format(n=2), ns)
        assert ns["ratio"].key(2, 3) == first and ns["ratio"].call(2, 3).cached

    def test_the_identity_and_the_functions_part_stay(self, mem_store: ac.ArtifactStore) -> None:
        ns = notebook(mem_store)
        ns["rounded"] = rounded
        run_cell(self.CELL.format(n=2), ns)
        parts = code_fingerprint(ns["ratio"].__wrapped__).parts
        assert "__main__:ratio" in parts
        assert f"{__name__}:rounded.<locals>.deco.<locals>.wrapper" in parts
        assert function_identity(ns["ratio"].__wrapped__) == "__main__:ratio"

    def test_editing_the_wrappers_code_counts(self) -> None:
        source = """
        import functools

        def logged(f):
            @functools.wraps(f)
            def wrapper(x):
                return f(x) {op} 1
            return wrapper

        @logged
        def double(x):
            return 2 * x
        """
        digests = []
        for op in ("+", "-"):
            ns: dict[str, Any] = {"__name__": "__main__"}
            run_cell(source.format(op=op), ns)
            digests.append(code_fingerprint(ns["double"]).digest)
        assert digests[0] != digests[1]

    def test_a_wrapped_function_passed_as_an_argument(self) -> None:
        def ratio(a: float, b: float) -> float:
            return a / b

        assert ac.fingerprint(rounded(2)(ratio)) != ac.fingerprint(rounded(4)(ratio))
        assert ac.fingerprint(rounded(2)(ratio)) == ac.fingerprint(rounded(2)(ratio))


MODULE = """
import functools

import artifact_cache as ac

store = ac.open_store({url!r})


def scale(x, factor):
    return x * factor


SCALE = functools.partial(scale, factor={factor})


def rounded(n):
    def deco(f):
        @functools.wraps(f)
        def wrapper(*args):
            return round(f(*args), n)

        return wrapper

    return deco


@store.step
def transform(x):
    return SCALE(x)


@store.step
@rounded({digits})
def ratio(a, b):
    return a / b
"""

DRIVER = """
import json

import reachmod

calls = {"transform": reachmod.transform.call(2), "ratio": reachmod.ratio.call(2, 3)}
print(json.dumps({name: [c.value, c.cached] for name, c in calls.items()}))
"""


def run_driver(tmp_path: Path, seed: str) -> dict[str, list[Any]]:
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        env=dict(
            os.environ,
            PYTHONHASHSEED=seed,
            PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO_ROOT)]),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    result: dict[str, list[Any]] = json.loads(stdout)
    return result


class TestFreshProcesses:
    def test_an_edited_module_misses_and_an_unchanged_one_hits(self, tmp_path: Path) -> None:
        url = (tmp_path / "cache").as_uri()
        module = tmp_path / "reachmod.py"
        module.write_text(MODULE.format(url=url, factor=3, digits=2))
        assert run_driver(tmp_path, "1") == {"transform": [6, False], "ratio": [0.67, False]}
        assert run_driver(tmp_path, "2") == {"transform": [6, True], "ratio": [0.67, True]}
        module.write_text(MODULE.format(url=url, factor=5, digits=4))
        assert run_driver(tmp_path, "3") == {"transform": [10, False], "ratio": [0.6667, False]}
