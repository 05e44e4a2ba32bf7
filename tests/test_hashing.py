"""Tests for artifact_cache.fingerprint (values, code) and artifact_cache.digest."""

from __future__ import annotations

import collections
import dataclasses
import decimal
import importlib.util
import json
import linecache
import os
import pickle
import socket
import subprocess
import sys
import textwrap
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import artifact_cache
from artifact_cache.digest import hash_bytes
from artifact_cache.fingerprint import (
    CodeFingerprint,
    FingerprintError,
    code_fingerprint,
    fingerprint,
)

REPO_ROOT = Path(artifact_cache.__file__).resolve().parents[1]
# Derandomized so that the suite is deterministic; the properties still get many inputs.
PROPERTY = settings(derandomize=True, max_examples=60, deadline=None)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
KEYS = st.one_of(st.integers(), st.text(max_size=10), st.tuples(st.integers(), st.text(max_size=5)))

DETERMINISM_SCRIPT = """
import json
import numpy as np
import pandas as pd
from artifact_cache.fingerprint import fingerprint

values = {
    "dict": {"b": 2, "a": 1, "nested": {"y": [1, 2], "x": None}},
    "set": {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"},
    "nested": {"weights": np.arange(12, dtype="float64").reshape(3, 4), "tags": {"x", "y"}},
    "frame": pd.DataFrame(
        {
            "n": [1.5, float("nan"), 3.0],
            "s": ["a", None, "c"],
            "k": pd.Categorical(["u", "v", "u"]),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    ),
}
print(json.dumps({name: fingerprint(value) for name, value in values.items()}))
"""


def run_python(code: str, *, hash_seed: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
    )


def output_of(process: subprocess.Popen[str]) -> str:
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return stdout


def load_module(
    directory: Path, source: str, *, name: str = "usermod", extra: dict[str, Any] | None = None
) -> types.ModuleType:
    """Import ``source`` as module ``name`` from a file, as a user's project module is."""
    directory.mkdir(parents=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(extra or {})
    spec.loader.exec_module(module)
    return module


def run_cell(source: str, cell: str) -> dict[str, Any]:
    """Execute ``source`` the way a notebook does: a fake file name known to linecache."""
    filename = f"<notebook-cell-{cell}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


PIPELINE = '''
import json

import numpy as np

THRESHOLD = 3


def leaf(x):
    return x + THRESHOLD


def middle(x):
    return leaf(x) * 2


def top(x):
    """Score x."""
    total = middle(x)
    return total + len(json.dumps(x)) + float(np.mean([x]))


def even(n):
    return n == 0 or odd(n - 1)


def odd(n):
    return n != 0 and even(n - 1)
'''


@pytest.fixture(autouse=True)
def _forget_notebook_cells() -> Any:
    before = set(linecache.cache)
    yield
    for filename in set(linecache.cache) - before:
        if filename.startswith("<notebook-cell-"):
            del linecache.cache[filename]


class TestFingerprint:
    def test_importing_does_not_import_numpy_or_pandas(self) -> None:
        """Importing the module leaves numpy and pandas unimported."""
        code = (
            "import sys, artifact_cache.fingerprint\n"
            "print(sorted({'numpy', 'pandas'} & set(sys.modules)))"
        )
        assert output_of(run_python(code, hash_seed="0")).strip() == "[]"

    def test_same_digests_across_processes_and_hash_seeds(self) -> None:
        """A dict, a set of strings, a nested array and a DataFrame hash alike in any process."""
        processes = [run_python(DETERMINISM_SCRIPT, hash_seed=s) for s in ("1", "4242")]
        first, second = (json.loads(output_of(p)) for p in processes)
        assert first == second
        assert len(set(first.values())) == 4

    def test_dict_order_does_not_matter(self) -> None:
        """Equal dicts built in different insertion orders have one digest."""
        assert fingerprint({"a": 1, "b": [1, {2, 3}]}) == fingerprint({"b": [1, {3, 2}], "a": 1})

    @PROPERTY
    @given(st.dictionaries(KEYS, SCALARS, max_size=8), st.randoms(use_true_random=False))
    def test_dict_order_never_matters(self, mapping: dict[Any, Any], rnd: Any) -> None:
        """Any permutation of a dict's items gives the same digest."""
        items = list(mapping.items())
        rnd.shuffle(items)
        assert fingerprint(dict(items)) == fingerprint(mapping)

    @PROPERTY
    @given(st.lists(SCALARS, max_size=6, unique_by=repr), st.lists(SCALARS, max_size=6))
    def test_different_lists_differ(self, left: list[Any], right: list[Any]) -> None:
        """Lists whose canonical reprs differ get different digests."""
        if repr(left) != repr(right):
            assert fingerprint(left) != fingerprint(right)

    def test_types_are_part_of_the_digest(self) -> None:
        """1, 1.0, True, "1", b"1", a numpy scalar and a Decimal all differ."""
        values = [1, 1.0, True, "1", b"1", bytearray(b"1"), np.int64(1), decimal.Decimal(1)]
        assert len({fingerprint(v) for v in values}) == len(values)

    def test_containers_are_part_of_the_digest(self) -> None:
        """A tuple, a list, a set and a frozenset of the same items differ."""
        values = [(1, 2), [1, 2], {1, 2}, frozenset({1, 2})]
        assert len({fingerprint(v) for v in values}) == len(values)

    def test_nan_equals_nan_and_signed_zeros_differ(self) -> None:
        """Every NaN hashes alike, in scalars and arrays; -0.0 and 0.0 stay distinct."""
        with np.errstate(invalid="ignore"):
            computed = np.array([np.float64(0.0) / np.float64(0.0)])  # sign bit set
        assert fingerprint(float("nan")) == fingerprint(float("-nan"))
        assert fingerprint(np.array([np.nan])) == fingerprint(computed)
        assert fingerprint(-0.0) != fingerprint(0.0)

    def test_arrays_differing_in_dtype_shape_or_one_element_differ(self) -> None:
        """Changing an array's dtype, shape or a single element changes its digest."""
        base = np.arange(12, dtype="float64").reshape(3, 4)
        changed = base.copy()
        changed[2, 3] = 99.0
        variants = [base, base.astype("float32"), base.reshape(4, 3), changed]
        assert len({fingerprint(v) for v in variants}) == len(variants)
        assert fingerprint(base) == fingerprint(base.copy())

    def test_non_contiguous_array_hashes_like_its_contiguous_copy(self) -> None:
        """A strided view has the digest of an equal C-contiguous array."""
        view = np.arange(20).reshape(4, 5)[:, 1]
        assert fingerprint(view) == fingerprint(np.ascontiguousarray(view))

    def test_object_arrays_are_hashed_element_by_element(self) -> None:
        """Object arrays with equal elements match; 1 and "1" inside them differ."""
        left = np.array(["a", 1, None, {"k": {1, 2}}], dtype=object)
        right = np.array(["a", 1, None, {"k": {2, 1}}], dtype=object)
        other = np.array(["a", "1", None, {"k": {1, 2}}], dtype=object)
        assert fingerprint(left) == fingerprint(right) != fingerprint(other)

    def test_dataframes_differing_in_index_name_dtype_or_value_differ(self) -> None:
        """Index, column name, dtype and a single value each change a DataFrame's digest."""
        base = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
        changed_value = base.copy()
        changed_value.loc[2, "a"] = 4
        variants = [
            base,
            base.set_axis([10, 11, 12], axis=0),
            base.rename(columns={"b": "c"}),
            base.astype({"a": "float64"}),
            changed_value,
        ]
        assert len({fingerprint(v) for v in variants}) == len(variants)
        assert fingerprint(base) == fingerprint(base.copy())

    def test_pandas_extension_types_hash_stably(self) -> None:
        """MultiIndex, categorical, tz-aware and nullable columns hash equal for equal data."""

        def make() -> pd.DataFrame:
            index = pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
            return pd.DataFrame(
                {
                    "cat": pd.Categorical(["u", "v"]),
                    "when": pd.date_range("2024-01-01", periods=2, tz="Europe/Paris"),
                    "count": pd.array([1, None], dtype="Int64"),
                },
                index=index,
            )

        frame = make()
        assert fingerprint(frame) == fingerprint(make())
        utc = frame.assign(when=frame["when"].dt.tz_convert("UTC"))
        assert fingerprint(utc) != fingerprint(frame)

    def test_common_stdlib_values_are_supported(self) -> None:
        """Dataclasses, namedtuples, OrderedDicts and defaultdicts hash canonically."""

        @dataclasses.dataclass
        class Point:
            x: int
            tags: set[str]

        pair = collections.namedtuple("pair", "a b")
        assert fingerprint(Point(1, {"a", "b"})) == fingerprint(Point(1, {"b", "a"}))
        assert fingerprint(pair(1, 2)) != fingerprint((1, 2))
        ordered = collections.OrderedDict([("a", 1), ("b", 2)])
        assert fingerprint(ordered) != fingerprint(collections.OrderedDict([("b", 2), ("a", 1)]))
        default = collections.defaultdict(list, {"a": [1], "b": [2]})
        assert fingerprint(default) == fingerprint(collections.defaultdict(list, b=[2], a=[1]))

    def test_lock_raises_naming_the_argument_and_path(self) -> None:
        """A lock inside an argument raises FingerprintError with the argument and path."""
        with pytest.raises(FingerprintError) as caught:
            fingerprint({"cols": [1, 2, threading.Lock()]}, name="df")
        assert caught.value.path == "arg 'df' -> ['cols'][2]"
        assert "arg 'df'" in str(caught.value)
        assert "lock" in str(caught.value)

    def test_socket_raises_fingerprint_error(self) -> None:
        """A socket cannot be fingerprinted; the error is also a TypeError."""
        with socket.socket() as sock, pytest.raises(TypeError, match="arg 'conn'"):
            fingerprint(sock, name="conn")

    def test_self_referencing_containers_terminate(self) -> None:
        """Cycles are encoded as back-references, so equal cyclic values match."""
        left: list[Any] = [1]
        left.append(left)
        right: list[Any] = [1]
        right.append(right)
        assert fingerprint(left) == fingerprint(right) != fingerprint([1, [1]])

    def test_extension_hook_replaces_the_state(self) -> None:
        """__artifact_fingerprint__ decides what is hashed for an object."""

        class Model:
            def __init__(self, version: str) -> None:
                self.version = version
                self.lock = threading.Lock()

            def __artifact_fingerprint__(self) -> str:
                return self.version

        assert fingerprint(Model("1")) == fingerprint(Model("1")) != fingerprint(Model("2"))

    def test_functions_hash_by_their_code(self, tmp_path: Path) -> None:
        """A function argument is hashed by its code fingerprint, not its identity."""
        first = load_module(tmp_path / "a", PIPELINE)
        second = load_module(tmp_path / "b", PIPELINE.replace("x + THRESHOLD", "x - THRESHOLD"))
        assert fingerprint(first.leaf) == fingerprint(load_module(tmp_path / "c", PIPELINE).leaf)
        assert fingerprint(first.leaf) != fingerprint(second.leaf)


class TestHashBytes:
    def test_chunks_hash_like_their_concatenation(self) -> None:
        """Hashing chunks equals hashing the joined bytes."""
        data = bytes(range(256)) * 10
        assert hash_bytes(data[:100], memoryview(data)[100:]) == hash_bytes(data)

    def test_digest_is_32_hex_characters(self) -> None:
        """The digest is a 128-bit hex string."""
        digest = hash_bytes(b"abc")
        assert len(digest) == 32
        int(digest, 16)


class TestCodeFingerprint:
    def test_trivial_edits_do_not_change_it(self, tmp_path: Path) -> None:
        """Comments, docstrings, blank lines and moving the function down keep the digest."""
        edited = PIPELINE.replace('"""Score x."""', '"""Score x, better."""\n    # why\n\n')
        edited = edited.replace("THRESHOLD = 3\n", "THRESHOLD = 3\n\n\n# helpers follow\n")
        first = load_module(tmp_path / "a", PIPELINE)
        second = load_module(tmp_path / "b", edited)
        assert code_fingerprint(first.top) == code_fingerprint(second.top)

    def test_body_change_changes_it(self, tmp_path: Path) -> None:
        """Editing the function's own body changes the digest and names the function."""
        first = load_module(tmp_path / "a", PIPELINE)
        second = load_module(tmp_path / "b", PIPELINE.replace("total + len", "total - len"))
        old, new = code_fingerprint(first.top), code_fingerprint(second.top)
        assert old.digest != new.digest
        assert old.diff(new) == ["usermod:top"]

    def test_helper_two_levels_down_is_followed(self, tmp_path: Path) -> None:
        """A change in a helper of a helper changes the digest and diff names that helper."""
        first = load_module(tmp_path / "a", PIPELINE)
        second = load_module(tmp_path / "b", PIPELINE.replace("x + THRESHOLD", "x * THRESHOLD"))
        old, new = code_fingerprint(first.top), code_fingerprint(second.top)
        assert set(old.parts) == {
            "usermod:top",
            "usermod:middle",
            "usermod:leaf",
            "usermod:THRESHOLD",
        }
        assert old.digest != new.digest
        assert old.diff(new) == ["usermod:leaf"]

    def test_module_constant_is_followed(self, tmp_path: Path) -> None:
        """Changing a module-level constant a helper reads changes the digest."""
        first = load_module(tmp_path / "a", PIPELINE)
        second = load_module(tmp_path / "b", PIPELINE.replace("THRESHOLD = 3", "THRESHOLD = 4"))
        assert code_fingerprint(first.top).diff(code_fingerprint(second.top)) == [
            "usermod:THRESHOLD"
        ]

    def test_attribute_chain_into_a_user_module_is_followed(self, tmp_path: Path) -> None:
        """A helper reached as helpers.normalise is followed into the user's module."""
        source = "def step(x):\n    return helpers.normalise(x)\n"
        versions = []
        for label, body in (("a", "x / 2"), ("b", "x / 3")):
            helpers = load_module(
                tmp_path / label / "h", f"def normalise(x):\n    return {body}\n", name="helpers"
            )
            main = load_module(
                tmp_path / label / "m", source, name="main", extra={"helpers": helpers}
            )
            versions.append(code_fingerprint(main.step))
        assert versions[0].diff(versions[1]) == ["helpers:normalise"]

    def test_mutually_recursive_functions_terminate(self, tmp_path: Path) -> None:
        """Cycles between helpers are visited once each."""
        module = load_module(tmp_path / "a", PIPELINE)
        assert set(code_fingerprint(module.even).parts) == {"usermod:even", "usermod:odd"}

    def test_installed_package_functions_are_not_followed(self, tmp_path: Path) -> None:
        """json.dumps and numpy.mean count by name only, their internals are not parts."""
        module = load_module(tmp_path / "a", PIPELINE)
        assert not any(
            name.startswith(("json", "numpy")) for name in code_fingerprint(module.top).parts
        )
        assert list(code_fingerprint(json.dumps).parts) == ["json:dumps"]
        assert len(code_fingerprint(np.mean).parts) == 1

    def test_notebook_cells_are_fingerprinted_from_source(self) -> None:
        """Functions exec'd with linecache registration ignore comments but see body edits."""
        plain = run_cell("def k(x):\n    return x + 1\n", "1")["k"]
        commented = run_cell('def k(x):\n    "Doc."\n    # why\n\n    return x + 1\n', "2")["k"]
        edited = run_cell("def k(x):\n    return x + 2\n", "3")["k"]
        assert code_fingerprint(plain) == code_fingerprint(commented)
        assert code_fingerprint(plain) != code_fingerprint(edited)

    def test_source_counts_only_if_it_compiles_to_the_running_code(self) -> None:
        """A cell's source is used whatever __future__ features the cell inherited; once
        its text no longer compiles to the code that runs, the code object is hashed."""
        source = "def k(x: int) -> int:\n    return x + 1\n"
        inherited = run_cell(source, "f1")["k"]  # with this module's `annotations`
        filename = "<notebook-cell-f2>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(compile(source, filename, "exec", dont_inherit=True), namespace)
        assert code_fingerprint(inherited) == code_fingerprint(namespace["k"])
        edited = "def k(x: int) -> int:\n    return x + 2\n"
        new = code_fingerprint(run_cell(edited, "f3")["k"])
        # The first cell's text replaced, as an edited file is: its k runs the old code.
        lines = edited.splitlines(True)
        linecache.cache["<notebook-cell-f1>"] = (len(edited), None, lines, "<notebook-cell-f1>")
        old = code_fingerprint(inherited)
        assert old != new and old != code_fingerprint(namespace["k"])

    def test_functions_without_source_fall_back_to_bytecode(self) -> None:
        """Without any source, docstrings and comments still do not count."""
        namespaces: list[dict[str, Any]] = [{}, {}, {}]
        exec("def q(x):\n    'Doc.'\n    return x + 1\n", namespaces[0])
        exec("def q(x):\n\n    # why\n    return x + 1\n", namespaces[1])
        exec("def q(x):\n    return x + 2\n", namespaces[2])
        first, second, third = (code_fingerprint(ns["q"]) for ns in namespaces)
        assert first == second != third

    def test_depends_on_items_become_parts(self, tmp_path: Path) -> None:
        """depends_on values and functions are added as depends_on[i] parts."""
        module = load_module(tmp_path / "a", PIPELINE)
        small = code_fingerprint(module.leaf, depends_on=[module.middle, {"lookup": [1, 2]}])
        other = code_fingerprint(module.leaf, depends_on=[module.middle, {"lookup": [1, 3]}])
        assert {"depends_on[0]", "depends_on[1]"} <= set(small.parts)
        assert small.diff(other) == ["depends_on[1]"]

    def test_depends_on_unfingerprintable_item_raises(self, tmp_path: Path) -> None:
        """An unfingerprintable depends_on item raises FingerprintError naming its position."""
        module = load_module(tmp_path / "a", PIPELINE)
        with pytest.raises(FingerprintError, match=r"depends_on\[0\]"):
            code_fingerprint(module.leaf, depends_on=[threading.Lock()])

    def test_result_is_frozen_and_picklable(self, tmp_path: Path) -> None:
        """A CodeFingerprint survives pickling and its parts cannot be changed."""
        result = code_fingerprint(load_module(tmp_path / "a", PIPELINE).top)
        assert pickle.loads(pickle.dumps(result)) == result
        with pytest.raises(TypeError):
            result.parts["usermod:top"] = "x"  # type: ignore[index]


class TestCodeFingerprintDiff:
    def test_lists_changed_added_and_removed_names_sorted(self) -> None:
        """diff reports names whose digest changed or that only one side has."""
        old = CodeFingerprint(digest="1", parts={"m:f": "a", "m:g": "b", "m:k": "c"})
        new = CodeFingerprint(digest="2", parts={"m:f": "a", "m:g": "x", "m:h": "d"})
        assert old.diff(new) == ["m:g", "m:h", "m:k"]
        assert old.diff(old) == []
