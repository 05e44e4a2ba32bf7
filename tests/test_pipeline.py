"""Pipelines and runbooks: order, graph checks, caching, partial runs, failures, lineage.

Step functions live in ``runbook_steps`` (importable from ``tests/``) and count their
calls, so each test can tell executed steps from cached ones.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import runbook_steps as rs

import artifact_cache as ac
from artifact_cache.pipeline import (
    Pipeline,
    PipelineError,
    RunbookError,
    Step,
    StepFailedError,
)

MISSING = (
    "Step 'classify' depends on 'extract' but artifact not found. "
    "Ensure previous step has 'save_output: true'."
)


@pytest.fixture(autouse=True)
def _reset_counters() -> Iterator[None]:
    rs.CALLS.clear()
    rs.FAIL.clear()
    yield
    rs.FAIL.clear()


@pytest.fixture(params=["memory", "local"])
def pstore(request: pytest.FixtureRequest, tmp_path: Path) -> ac.ArtifactStore:
    """An empty store on memory:// and on a local folder."""
    if request.param == "memory":
        return ac.open_store(f"memory://pipe-{uuid.uuid4().hex}")
    return ac.open_store(str(tmp_path / "store"))


def three_steps(
    store: ac.ArtifactStore, *, n: int = 6, threshold: int = 3, classify_save: bool = True
) -> Pipeline:
    """extract -> classify -> summarise, listed in the order they run."""
    return Pipeline(
        store,
        [
            Step("extract", rs.extract, params={"n": n}),
            Step(
                "classify",
                rs.classify,
                input_from="extract",
                params={"threshold": threshold},
                save_output=classify_save,
            ),
            Step("summarise", rs.summarise, input_from="classify"),
        ],
        name="three",
    )


def calls() -> dict[str, int]:
    return dict(rs.CALLS)


class TestOrder:
    def test_dependency_order(self, mem_store: ac.ArtifactStore) -> None:
        """Steps run after the steps they take input from, whatever the listed order."""
        order: list[str] = []
        pipe = Pipeline(
            mem_store,
            [
                Step("summarise", rs.summarise, input_from="classify"),
                Step("classify", rs.classify, input_from="extract"),
                Step("extract", rs.extract),
            ],
        )
        result = pipe.run(progress=lambda sid, res: order.append(sid) if res is None else None)
        assert order == ["extract", "classify", "summarise"]
        assert [r.step_id for r in result] == order
        assert result.load("summarise") == {"high": 3, "low": 3}

    def test_several_inputs_in_order(self, mem_store: ac.ArtifactStore) -> None:
        """A list input_from passes the artifacts as positional arguments in that order."""
        pipe = Pipeline(
            mem_store,
            [
                Step("extract", rs.extract, params={"n": 3}),
                Step("classify", rs.classify, input_from="extract", params={"threshold": 1}),
                Step("join", rs.join, input_from=["extract", "classify"]),
            ],
        )
        assert pipe.run().load("join") == [(0, "low"), (1, "high"), (2, "high")]

    def test_input_is_read_from_the_store(self, mem_store: ac.ArtifactStore) -> None:
        """A downstream step gets an independent copy, not the object upstream returned."""
        seen: list[Any] = []

        def produce() -> list[int]:
            value = [1, 2]
            seen.append(value)
            return value

        def consume(rows: list[int]) -> int:
            seen.append(rows)
            return len(rows)

        Pipeline(mem_store, [Step("p", produce), Step("c", consume, input_from="p")]).run()
        assert seen[0] == seen[1] and seen[0] is not seen[1]


class TestGraphValidation:
    def test_unknown_input_from(self, mem_store: ac.ArtifactStore) -> None:
        """An input_from naming no step is an error naming both steps."""
        with pytest.raises(PipelineError, match=r"step 'classify' takes input_from 'extrct'"):
            Pipeline(
                mem_store,
                [Step("extract", rs.extract), Step("classify", rs.classify, input_from="extrct")],
            )

    def test_duplicate_ids(self, mem_store: ac.ArtifactStore) -> None:
        """Two steps with one id are an error naming the id."""
        with pytest.raises(PipelineError, match="duplicate step id 'extract'"):
            Pipeline(mem_store, [Step("extract", rs.extract), Step("extract", rs.extract)])

    def test_cycle(self, mem_store: ac.ArtifactStore) -> None:
        """A cycle is an error naming the steps on it; nothing runs."""
        steps = [
            Step("extract", rs.extract),
            Step("a", rs.classify, input_from="c"),
            Step("b", rs.classify, input_from="a"),
            Step("c", rs.classify, input_from=["extract", "b"]),
        ]
        with pytest.raises(PipelineError, match=r"cycle: a -> c -> b -> a"):
            Pipeline(mem_store, steps)
        assert calls() == {}

    def test_self_cycle(self, mem_store: ac.ArtifactStore) -> None:
        """A step taking its own output is a cycle."""
        with pytest.raises(PipelineError, match=r"cycle: a -> a"):
            Pipeline(mem_store, [Step("a", rs.classify, input_from="a")])

    def test_invalid_step_id(self) -> None:
        """Step ids follow the store's rules."""
        with pytest.raises(ac.InvalidStepIdError):
            Step("../x", rs.extract)

    def test_only_and_until_name_known_steps(self, mem_store: ac.ArtifactStore) -> None:
        """only= and until= naming unknown steps fail before running anything."""
        pipe = three_steps(mem_store)
        with pytest.raises(PipelineError, match="only names unknown step 'nope'"):
            pipe.run(only=["nope"])
        with pytest.raises(PipelineError, match="until names unknown step 'nope'"):
            pipe.run(until="nope")
        assert calls() == {}


class TestMissingInput:
    def test_unsaved_upstream_exact_message(self, mem_store: ac.ArtifactStore) -> None:
        """Depending on a step with save_output=False fails with the documented message."""
        pipe = Pipeline(
            mem_store,
            [
                Step("extract", rs.extract, save_output=False),
                Step("classify", rs.classify, input_from="extract"),
            ],
        )
        with pytest.raises(PipelineError) as excinfo:
            pipe.run()
        assert str(excinfo.value) == MISSING
        assert isinstance(excinfo.value, ac.ArtifactStoreError)
        assert calls() == {}, "checked before running anything"

    def test_only_without_stored_input(self, mem_store: ac.ArtifactStore) -> None:
        """only= a step whose input was never stored fails with the same message."""
        with pytest.raises(PipelineError) as excinfo:
            three_steps(mem_store).run(only=["classify"])
        assert str(excinfo.value) == MISSING

    def test_unsaved_leaf_runs_every_time(self, mem_store: ac.ArtifactStore) -> None:
        """A step with save_output=False is not cached; its value is in the result."""
        pipe = Pipeline(
            mem_store,
            [
                Step("extract", rs.extract),
                Step("classify", rs.classify, input_from="extract"),
                Step("summarise", rs.summarise, input_from="classify"),
                Step("report", rs.report, input_from="summarise", save_output=False),
            ],
        )
        first = pipe.run()
        second = pipe.run()
        assert rs.CALLS["report"] == 2 and rs.CALLS["extract"] == 1
        assert second["report"].info is None and second["report"].computed
        assert first.load("report") == second.load("report") == "high=3, low=3"
        assert not mem_store.exists("report")


class TestCaching:
    def test_rerun_is_all_cached(self, pstore: ac.ArtifactStore) -> None:
        """A re-run with unchanged code, params and inputs executes nothing."""
        first = three_steps(pstore).run()
        assert first.computed == ["extract", "classify", "summarise"]
        second = three_steps(pstore).run()
        assert second.cached == ["extract", "classify", "summarise"]
        assert calls() == {"extract": 1, "classify": 1, "summarise": 1}
        assert [r.info for r in first] == [r.info for r in second]

    def test_param_change_reruns_step_and_downstream(self, pstore: ac.ArtifactStore) -> None:
        """Changing classify's params re-runs classify and summarise, not extract."""
        three_steps(pstore).run()
        rs.CALLS.clear()
        result = three_steps(pstore, threshold=5).run()
        assert calls() == {"classify": 1, "summarise": 1}
        assert result.cached == ["extract"]
        assert result.load("summarise") == {"high": 1, "low": 5}

    def test_upstream_change_reruns_everything_below(self, pstore: ac.ArtifactStore) -> None:
        """Changing the first step's params re-runs all three."""
        three_steps(pstore).run()
        rs.CALLS.clear()
        three_steps(pstore, n=8).run()
        assert calls() == {"extract": 1, "classify": 1, "summarise": 1}

    def test_code_change_reruns_step_and_downstream(self, mem_store: ac.ArtifactStore) -> None:
        """A different function under the same step id re-runs it and what follows."""
        three_steps(mem_store).run()
        rs.CALLS.clear()

        def classify(rows: list[int], threshold: int = 3) -> list[str]:
            return ["big" if r >= threshold else "small" for r in rows]

        pipe = Pipeline(
            mem_store,
            [
                Step("extract", rs.extract, params={"n": 6}),
                Step("classify", classify, input_from="extract", params={"threshold": 3}),
                Step("summarise", rs.summarise, input_from="classify"),
            ],
        )
        result = pipe.run()
        assert result.computed == ["classify", "summarise"]
        assert calls() == {"summarise": 1}
        assert result.load("summarise") == {"big": 3, "small": 3}

    def test_fresh_recomputes(self, pstore: ac.ArtifactStore) -> None:
        """fresh=True clears the steps' artifacts and computes everything again."""
        pipe = three_steps(pstore)
        pipe.run()
        pstore.save("unrelated", 1)
        result = pipe.run(fresh=True)
        assert result.computed == ["extract", "classify", "summarise"]
        assert calls() == {"extract": 2, "classify": 2, "summarise": 2}
        assert pstore.exists("unrelated"), "fresh clears only this pipeline's steps"
        assert len(pstore.list("extract")) == 1

    def test_until(self, pstore: ac.ArtifactStore) -> None:
        """until= runs the step and what it depends on, nothing downstream."""
        result = three_steps(pstore).run(until="classify")
        assert [r.step_id for r in result] == ["extract", "classify"]
        assert not pstore.exists("summarise")

    def test_only(self, pstore: ac.ArtifactStore) -> None:
        """only= runs just those steps, taking inputs stored by an earlier run."""
        three_steps(pstore).run(until="classify")
        rs.CALLS.clear()
        result = three_steps(pstore).run(only=["summarise"])
        assert [r.step_id for r in result] == ["summarise"]
        assert calls() == {"summarise": 1}
        assert result.load("summarise") == {"high": 3, "low": 3}

    def test_only_with_fresh_recomputes_just_those(self, mem_store: ac.ArtifactStore) -> None:
        """only= with fresh=True clears and recomputes only the chosen steps."""
        three_steps(mem_store).run()
        rs.CALLS.clear()
        result = three_steps(mem_store).run(only="classify", fresh=True)
        assert result.computed == ["classify"] and calls() == {"classify": 1}
        assert mem_store.exists("summarise")

    def test_lineage_recorded(self, pstore: ac.ArtifactStore) -> None:
        """Each step's artifact lists the artifacts it was computed from."""
        result = three_steps(pstore).run()
        extract, classify, summarise = (
            result[s].info for s in ("extract", "classify", "summarise")
        )
        assert extract is not None and classify is not None and summarise is not None
        assert extract.ref in classify.inputs
        assert classify.ref in summarise.inputs
        assert extract.inputs == ()
        assert pstore.info("classify").inputs == classify.inputs


class TestFailure:
    def test_failure_names_step_and_resumes(self, pstore: ac.ArtifactStore) -> None:
        """A failing step stops the run naming it; the next run resumes from the cache."""
        rs.FAIL.add("classify")
        with pytest.raises(StepFailedError, match=r"step 'classify' of pipeline three") as exc:
            three_steps(pstore).run()
        err = exc.value
        assert err.step_id == "classify"
        assert isinstance(err.__cause__, RuntimeError)
        assert "classifier exploded" in str(err)
        assert err.result is not None and err.result.computed == ["extract"]
        assert calls() == {"extract": 1, "classify": 1}
        assert pstore.exists("extract") and not pstore.exists("summarise")

        rs.FAIL.clear()
        rs.CALLS.clear()
        result = three_steps(pstore).run()
        assert result.cached == ["extract"]
        assert calls() == {"classify": 1, "summarise": 1}


class TestRunResult:
    def test_views(self, mem_store: ac.ArtifactStore) -> None:
        """Indexable by id and position, iterable, with a summary and JSON form."""
        result = three_steps(mem_store).run()
        assert result[0] is result["extract"] and len(result) == 3 and "classify" in result
        with pytest.raises(KeyError, match="did not run"):
            result["nope"]
        text = result.summary()
        assert text.splitlines()[0].split() == ["STEP", "STATUS", "TIME", "SIZE", "KEY"]
        assert "3 steps: 3 computed, 0 cached" in text
        data = json.loads(json.dumps(result.to_dict()))
        assert [s["status"] for s in data["steps"]] == ["computed"] * 3
        assert all(r.duration >= 0 for r in result)

    def test_html_escaped(self, mem_store: ac.ArtifactStore) -> None:
        """The notebook table escapes what it shows."""
        result = Pipeline(mem_store, [Step("x", rs.extract)], name="<b>p</b>").run()
        out = result._repr_html_()
        assert "<table" in out and "<b>p</b>" not in out and "&lt;b&gt;p&lt;/b&gt;" in out

    def test_verbose_prints_a_line_per_step(
        self, mem_store: ac.ArtifactStore, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """verbose=True prints progress per step."""
        three_steps(mem_store).run(verbose=True)
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("[1/3] extract ... computed in ")


def test_pipeline_on_s3(s3_url: str) -> None:
    """The same run, cached re-run and lineage on S3 (moto server)."""
    store = ac.open_store(s3_url)
    first = three_steps(store).run()
    second = three_steps(ac.open_store(s3_url)).run()
    assert first.computed == second.cached == ["extract", "classify", "summarise"]
    classify = second["classify"].info
    assert classify is not None and first["extract"].info is not None
    assert first["extract"].info.ref in classify.inputs


# --------------------------------------------------------------------------- runbooks
RUNBOOK = """\
store: ./cache
execution:
  - id: extract
    run: runbook_steps:extract
    params: {n: 6}
    save_output: true
  - id: classify
    run: runbook_steps:classify
    input_from: extract
    params:
      threshold: 3
  - id: summarise
    run: runbook_steps:summarise
    input_from: classify
"""


def write(tmp_path: Path, text: str, name: str = "runbook.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


class TestRunbook:
    def test_valid_runbook(self, tmp_path: Path) -> None:
        """A runbook builds the pipeline; a relative store is beside the runbook."""
        path = write(tmp_path, RUNBOOK)
        pipe = Pipeline.from_runbook(path)
        assert pipe.name == "runbook"
        assert pipe.store.location == str(tmp_path / "cache")
        assert [s.id for s in pipe.steps] == ["extract", "classify", "summarise"]
        assert pipe.steps[1].params == {"threshold": 3}
        assert pipe.run().load("summarise") == {"high": 3, "low": 3}
        assert Pipeline.from_runbook(str(path)).run().cached == ["extract", "classify", "summarise"]

    def test_store_argument_overrides(self, tmp_path: Path, mem_store: ac.ArtifactStore) -> None:
        """store= replaces the runbook's store."""
        pipe = Pipeline.from_runbook(write(tmp_path, RUNBOOK), store=mem_store)
        assert pipe.store is mem_store

    def test_mapping(self, mem_store: ac.ArtifactStore) -> None:
        """An already parsed runbook works the same, with list input_from and save_output."""
        pipe = Pipeline.from_runbook(
            {
                "execution": [
                    {"id": "extract", "run": "runbook_steps:extract", "params": {"n": 2}},
                    {"id": "classify", "run": "runbook_steps:classify", "input_from": "extract"},
                    {
                        "id": "join",
                        "run": "runbook_steps:join",
                        "input_from": ["extract", "classify"],
                        "save_output": False,
                    },
                ]
            },
            store=mem_store,
        )
        assert pipe.run().load("join") == [(0, "low"), (1, "low")]

    def test_unsaved_dependency_message(self, mem_store: ac.ArtifactStore) -> None:
        """save_output: false upstream gives the documented message."""
        pipe = Pipeline.from_runbook(
            {
                "execution": [
                    {"id": "extract", "run": "runbook_steps:extract", "save_output": False},
                    {"id": "classify", "run": "runbook_steps:classify", "input_from": "extract"},
                ]
            },
            store=mem_store,
        )
        with pytest.raises(PipelineError) as excinfo:
            pipe.run()
        assert str(excinfo.value) == MISSING

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param("- id: x\n", ["not a list", "mapping"], id="not-a-mapping"),
            pytest.param("", ["empty"], id="empty-file"),
            pytest.param("store: ./c\n", ["field 'execution'", "missing"], id="no-execution"),
            pytest.param("execution: []\n", ["field 'execution'", "non-empty"], id="empty-exec"),
            pytest.param(
                "execution:\n  - run: runbook_steps:extract\n",
                ["execution[0]", "field 'id'", "missing"],
                id="missing-id",
            ),
            pytest.param(
                "execution:\n  - id: extract\n",
                ["step 'extract' (execution[0])", "field 'run'", "missing"],
                id="missing-run",
            ),
            pytest.param(
                "execution:\n  - {id: extract, run: 'runbook_steps:extract', param: {n: 1}}\n",
                ["step 'extract'", "field 'param'", "unknown field"],
                id="unknown-step-key",
            ),
            pytest.param(
                "stores: x\nexecution:\n  - {id: e, run: 'runbook_steps:extract'}\n",
                ["field 'stores'", "unknown field"],
                id="unknown-top-key",
            ),
            pytest.param(
                "execution:\n  - {id: extract, run: 'no_such_module_xyz:extract'}\n",
                ["step 'extract'", "field 'run'", "cannot import module 'no_such_module_xyz'"],
                id="run-module-missing",
            ),
            pytest.param(
                "execution:\n  - {id: extract, run: 'runbook_steps:nope'}\n",
                ["step 'extract'", "field 'run'", "has no attribute 'nope'"],
                id="run-attribute-missing",
            ),
            pytest.param(
                "execution:\n  - {id: extract, run: 'runbook_steps.extract'}\n",
                ["step 'extract'", "field 'run'", "module:function"],
                id="run-not-module-function",
            ),
            pytest.param(
                "execution:\n  - {id: extract, run: 'runbook_steps:NOT_CALLABLE'}\n",
                ["step 'extract'", "field 'run'", "not a function"],
                id="run-not-callable",
            ),
            pytest.param(
                "execution:\n  - {id: extract, run: 'runbook_steps:extract', params: [1, 2]}\n",
                ["step 'extract'", "field 'params'", "mapping"],
                id="params-wrong-type",
            ),
            pytest.param(
                "execution:\n  - {id: e, run: 'runbook_steps:extract', save_output: 'yes'}\n",
                ["step 'e'", "field 'save_output'", "true or false"],
                id="save-output-wrong-type",
            ),
            pytest.param(
                "execution:\n  - {id: e, run: 'runbook_steps:extract', input_from: {a: 1}}\n",
                ["step 'e'", "field 'input_from'"],
                id="input-from-wrong-type",
            ),
            pytest.param(
                "execution:\n  - {id: 3, run: 'runbook_steps:extract'}\n",
                ["execution[0]", "field 'id'", "string"],
                id="id-wrong-type",
            ),
            pytest.param(
                "execution:\n  - {id: '../x', run: 'runbook_steps:extract'}\n",
                ["execution[0]", "field 'id'", "invalid step id"],
                id="id-invalid",
            ),
            pytest.param(
                "execution:\n  - {id: e, run: 'runbook_steps:extract'}\n  - just a string\n",
                ["execution[1]", "mapping"],
                id="step-not-a-mapping",
            ),
            pytest.param(
                "execution:\n  - {id: c, run: 'runbook_steps:classify', input_from: e}\n",
                ["step 'c' takes input_from 'e'"],
                id="unknown-input-from",
            ),
            pytest.param("execution: [\n", ["not valid YAML", "line"], id="yaml-syntax"),
        ],
    )
    def test_malformed(self, tmp_path: Path, text: str, expected: list[str]) -> None:
        """Each malformed runbook names the file, the step and the field."""
        path = write(tmp_path, text, name="bad.yml")
        with pytest.raises(RunbookError) as excinfo:
            Pipeline.from_runbook(path, store="memory://unused")
        message = str(excinfo.value)
        assert f"runbook {path}" in message
        for part in expected:
            assert part in message, message
        assert isinstance(excinfo.value, ValueError)
        assert isinstance(excinfo.value, ac.ArtifactStoreError)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A runbook that does not exist is a FileNotFoundError."""
        with pytest.raises(FileNotFoundError):
            Pipeline.from_runbook(tmp_path / "nope.yml")


class _CallLog:
    def __init__(self) -> None:
        self.runs: list[str] = []


class TestDecoratedFunctions:
    def test_decorated_function_as_step(self, pstore: ac.ArtifactStore) -> None:
        """A function already memoised with store.step runs under the pipeline's step id,
        keeps its options, and is served from the cache on the second run."""
        # Not a list: plain data a function refers to counts as its code (docs/keys.md).
        log = _CallLog()

        @pstore.step
        def load(path: str) -> list[int]:
            log.runs.append("load")
            return [len(path), 2, 3]

        @pstore.step("features", ignore=["verbose"])
        def featurise(rows: list[int], verbose: bool = False) -> int:
            log.runs.append("featurise")
            return sum(rows)

        def pipeline(verbose: bool) -> ac.Pipeline:
            return ac.Pipeline(
                pstore,
                [
                    ac.Step("extract", load, params={"path": "data.csv"}),
                    ac.Step(
                        "features", featurise, input_from="extract", params={"verbose": verbose}
                    ),
                ],
            )

        first = pipeline(False).run()
        assert [r.status for r in first] == ["computed", "computed"]
        again = pipeline(True).run()  # verbose is ignored: still a hit
        assert [r.status for r in again] == ["cached", "cached"]
        assert log.runs == ["load", "featurise"]
        assert pstore.get("extract") == [8, 2, 3] and not pstore.exists("load")
        assert pstore.get("features") == 13


class TestLineageOfLargeInputs:
    def test_large_dict_input_recorded(self, pstore: ac.ArtifactStore) -> None:
        """Lineage holds for inputs too large for the process to keep track of."""

        def extract() -> dict[str, bytes]:
            return {"blob": b"x" * (3 * 2**20)}

        def size(data: dict[str, bytes]) -> int:
            return len(data["blob"])

        result = ac.Pipeline(
            pstore, [ac.Step("extract", extract), ac.Step("size", size, input_from="extract")]
        ).run()
        info = result["size"].info
        assert info is not None
        assert [r.step_id for r in info.inputs] == ["extract"]
        assert info.inputs[0].digest == pstore.info("extract").digest


class TestLineageOfCallsInABody:
    def test_a_memoised_call_in_a_step_body_records_only_its_own_inputs(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        """The inputs a pipeline read for a step are that step's lineage, not the
        lineage of the memoised helpers its body calls."""

        @mem_store.step
        def tax_rate(country: str) -> float:
            return {"fr": 0.2, "de": 0.19}[country]

        def extract() -> list[int]:
            return [100, 250]

        def invoice(rows: list[int]) -> list[float]:
            return [r * (1 + tax_rate("fr")) for r in rows]

        steps = [ac.Step("extract", extract), ac.Step("invoice", invoice, input_from="extract")]
        result = ac.Pipeline(mem_store, steps).run()
        invoice_info = result["invoice"].info
        assert invoice_info is not None
        assert [r.step_id for r in invoice_info.inputs] == ["extract"]
        assert tax_rate.call("fr").info.inputs == ()
        assert sorted(i.step_id for i in mem_store.downstream("extract")) == ["invoice"]


# --------------------------------------------------------------------------- loads
RUNS: dict[str, int] = {}


def _ran(name: str) -> None:
    RUNS[name] = RUNS.get(name, 0) + 1


def p_extract(n: int) -> list[int]:
    _ran("extract")
    return list(range(n))


def p_clean(rows: list[int]) -> list[int]:
    _ran("clean")
    return [r for r in rows if r % 3]


def p_features(rows: list[int], scale: int = 2) -> list[int]:
    _ran("features")
    return [r * scale for r in rows]


def p_train(rows: list[int], features: list[int]) -> dict[str, int]:
    _ran("train")
    rows.append(-1)  # mutates its input: no other step may see it
    return {"n": len(rows), "total": sum(features)}


def p_report(model: dict[str, int], rows: list[int], title: str = "report") -> str:
    _ran("report")
    return f"{title}: {model['n']} rows, total {model['total']}, {len(rows)} clean"


def five_steps(store: ac.ArtifactStore, *, scale: int = 2, title: str = "report") -> Pipeline:
    """extract -> clean -> features -> train -> report; clean also feeds train and report."""
    return Pipeline(
        store,
        [
            Step("extract", p_extract, params={"n": 30}),
            Step("clean", p_clean, input_from="extract"),
            Step("features", p_features, input_from="clean", params={"scale": scale}),
            Step("train", p_train, input_from=["clean", "features"]),
            Step("report", p_report, input_from=["train", "clean"], params={"title": title}),
        ],
        name="five",
    )


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The step id of every payload the store reads, in order (``_load``: where ``load``,
    ``get`` and memoised hits all read one)."""
    seen: list[str] = []
    original = ac.ArtifactStore._load

    def counted(self: ac.ArtifactStore, info: ac.ArtifactInfo, mmap_mode: Any) -> Any:
        seen.append(info.step_id)
        return original(self, info, mmap_mode)

    monkeypatch.setattr(ac.ArtifactStore, "_load", counted)
    RUNS.clear()
    return seen


REPORT = "report: 21 rows, total 600, 20 clean"


class TestLoadsOnce:
    def test_cached_rerun_loads_nothing(self, pstore: ac.ArtifactStore, loads: list[str]) -> None:
        """A cached re-run of five steps finds each hit by its record and reads no payload;
        the caller's ``result.load`` reads the one it asks for, once."""
        first = five_steps(pstore).run()
        assert first.computed == ["extract", "clean", "features", "train", "report"]
        # Computing reads each input that a computing step needs, each output at most once.
        assert sorted(loads) == ["clean", "extract", "features", "train"]
        loads.clear()
        again = five_steps(pstore).run()
        assert again.cached == ["extract", "clean", "features", "train", "report"]
        assert loads == []
        assert again.load("report") == REPORT
        assert loads == ["report"]
        assert RUNS == {"extract": 1, "clean": 1, "features": 1, "train": 1, "report": 1}

    def test_rerun_loads_only_what_computing_steps_need(
        self, pstore: ac.ArtifactStore, loads: list[str]
    ) -> None:
        """A changed last step reads its two inputs once each, and nothing else."""
        five_steps(pstore).run()
        loads.clear()
        RUNS.clear()
        result = five_steps(pstore, title="final").run()
        assert result.computed == ["report"]
        assert sorted(loads) == ["clean", "train"]
        assert result.load("report") == REPORT.replace("report", "final")

    def test_shared_input_is_read_once_and_copied(
        self, pstore: ac.ArtifactStore, loads: list[str]
    ) -> None:
        """Three computing steps take ``clean``: it is read once, and train's mutation of
        its copy is not seen by report."""
        five_steps(pstore).run()
        loads.clear()
        RUNS.clear()
        result = five_steps(pstore, scale=3).run()
        assert result.computed == ["features", "train", "report"]
        assert sorted(loads) == ["clean", "features", "train"]
        assert result.load("report") == "report: 21 rows, total 900, 20 clean"
        assert pstore.get("clean") == [r for r in range(30) if r % 3]

    def test_records_keep_the_fingerprint_of_outputs_that_feed_steps(
        self, pstore: ac.ArtifactStore
    ) -> None:
        from artifact_cache.fingerprint import fingerprint
        from artifact_cache.step_inputs import output_fingerprint

        result = five_steps(pstore).run()
        clean = result["clean"].info
        assert clean is not None and output_fingerprint(clean) == fingerprint(
            [r for r in range(30) if r % 3]
        )
        report = result["report"].info
        assert report is not None and output_fingerprint(report) is None  # feeds nothing

    def test_input_without_recorded_fingerprint_read_once(
        self, pstore: ac.ArtifactStore, loads: list[str]
    ) -> None:
        """An input saved without its fingerprint (``only=``, saved by hand) is read once
        to key the steps that take it, however many do."""
        pstore.save("clean", [1, 2, 4, 5])
        pipe = five_steps(pstore)
        loads.clear()
        result = pipe.run(only=["features", "train"])
        assert result.computed == ["features", "train"]
        assert sorted(loads) == ["clean", "features"]
        loads.clear()
        assert pipe.run(only=["features", "train"]).cached == ["features", "train"]
        assert loads == ["clean"]  # for the fingerprint, once, not once per step

    @pytest.mark.payload_files
    def test_damaged_payload_of_a_hit_is_computed_again(
        self, tmp_path: Path, loads: list[str]
    ) -> None:
        """A hit whose payload has gone is computed again when a step needs it, and when
        the caller asks for it, with a warning; the store is repaired."""
        store = ac.open_store(str(tmp_path / "s"), progress=False)
        five_steps(store).run()
        for step_id in ("train", "report"):
            store.fs.rm_file(store._storage.object_path(store.info(step_id).digest))
        RUNS.clear()
        with pytest.warns(RuntimeWarning, match="'train'"):
            result = five_steps(store, title="final").run()
        assert RUNS == {"train": 1, "report": 1}
        assert result.cached == ["extract", "clean", "features", "train"]
        assert store.get("train") == {"n": 21, "total": 600}
        with pytest.warns(RuntimeWarning, match="'report'"):
            assert five_steps(store).run().load("report") == REPORT
        assert store.get("report") == REPORT

    def test_unsigned_record_is_no_hit_on_a_signing_store(
        self, tmp_path: Path, loads: list[str]
    ) -> None:
        """A hit found by its record alone still needs this store's signature."""
        url = str(tmp_path / "s")
        five_steps(ac.open_store(url, signing_key="")).run()
        RUNS.clear()
        signed = ac.open_store(url, signing_key="team-key")
        with pytest.warns(RuntimeWarning, match="not signed"):
            result = five_steps(signed).run()
        assert result.computed == ["extract", "clean", "features", "train", "report"]
        assert all(r.info is not None and signed.verified(r.info) for r in result)
        assert five_steps(signed).run().load("report") == REPORT
