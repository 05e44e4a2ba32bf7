"""Runbooks: a [`Pipeline`][artifact_cache.pipeline.Pipeline] described in YAML.

Reads a runbook (a YAML file, or its parsed form as a mapping), checks it field by
field and builds the pipeline it describes, importing each step's ``module:function``.
[`Pipeline.from_runbook`][artifact_cache.pipeline.Pipeline.from_runbook] is the public
entry point. May import errors, stepid, store, config and pipeline; PyYAML is imported
only when a runbook file is read.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .config import open_store
from .errors import InvalidStepIdError, MissingDependencyError, install_hint
from .pipeline import Pipeline, PipelineError, RunbookError, Step, _input_from
from .stepid import validate_step_id
from .store import ArtifactStore

_TOP_FIELDS = ("name", "store", "execution")
_STEP_FIELDS = ("id", "run", "params", "input_from", "save_output")


@attrs.frozen
class _Runbook:
    data: Any
    where: str
    folder: Path | None

    @classmethod
    def read(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> _Runbook:
        if isinstance(source, Mapping):
            return cls(source, "<mapping>", None)
        path = Path(source)
        text = path.read_text(encoding="utf-8")
        try:
            import yaml
        except ImportError:
            msg = f"reading runbook {path} needs PyYAML: {install_hint('yaml', 'PyYAML')}"
            raise MissingDependencyError(msg, name="yaml") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or exc
            raise RunbookError(f"runbook {path}: not valid YAML{at}: {problem}") from None
        return cls(data, str(path), path.resolve().parent)

    def error(
        self, problem: str, *, step: str | None = None, field: str | None = None
    ) -> RunbookError:
        parts = [f"runbook {self.where}"]
        if step is not None:
            parts.append(step)
        if field is not None:
            parts.append(f"field {field!r}")
        return RunbookError(", ".join(parts) + f": {problem}")

    def build(self, store: ArtifactStore | str | None) -> Pipeline:
        data = self.data
        if not isinstance(data, Mapping):
            kind = "empty" if data is None else f"a {type(data).__name__}"
            raise self.error(f"must be a mapping with an 'execution' list of steps, not {kind}")
        self._unknown(data, _TOP_FIELDS, None)
        if "execution" not in data:
            raise self.error("missing; it lists the steps", field="execution")
        execution = data["execution"]
        if not isinstance(execution, list) or not execution:
            raise self.error(
                f"must be a non-empty list of steps, not {execution!r}", field="execution"
            )
        steps = [self._step(i, entry) for i, entry in enumerate(execution)]
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise self.error(f"must be a string, not {type(name).__name__}", field="name")
        if name is None:
            name = Path(self.where).stem if self.folder is not None else "runbook"
        try:
            return Pipeline(self._store(data, store), steps, name=name)
        except PipelineError as exc:
            raise self.error(str(exc)) from None

    def _store(self, data: Mapping[str, Any], given: ArtifactStore | str | None) -> ArtifactStore:
        if isinstance(given, ArtifactStore):
            return given
        if given is not None:
            return open_store(given)
        url = data.get("store")
        if url is None:
            return open_store()
        if not isinstance(url, str) or not url:
            raise self.error(f"must be a URL or a folder, not {url!r}", field="store")
        # A relative folder means the one beside the runbook, so that the runbook works
        # from any current directory.
        if "://" not in url and self.folder is not None:
            path = Path(url).expanduser()
            url = str(path if path.is_absolute() else self.folder / path)
        return open_store(url)

    def _unknown(self, entry: Mapping[str, Any], allowed: Sequence[str], step: str | None) -> None:
        for field in entry:
            if field not in allowed:
                raise self.error(
                    f"unknown field; expected one of {', '.join(allowed)}",
                    step=step,
                    field=str(field),
                )

    def _step(self, index: int, entry: object) -> Step:
        where = f"execution[{index}]"
        if not isinstance(entry, Mapping):
            msg = f"a step must be a mapping with 'id' and 'run', not {type(entry).__name__}"
            raise self.error(msg, step=where)
        step_id = entry.get("id")
        if "id" not in entry:
            raise self.error("missing", step=where, field="id")
        if not isinstance(step_id, str):
            raise self.error(f"must be a string, not {step_id!r}", step=where, field="id")
        try:
            validate_step_id(step_id)
        except InvalidStepIdError as exc:
            raise self.error(str(exc), step=where, field="id") from None
        where = f"step {step_id!r} ({where})"
        self._unknown(entry, _STEP_FIELDS, where)
        if "run" not in entry:
            raise self.error("missing; give 'module:function'", step=where, field="run")
        func = self._target(entry["run"], where)
        params = entry.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
            msg = f"must be a mapping of argument names to values, not {params!r}"
            raise self.error(msg, step=where, field="params")
        input_from = entry.get("input_from")
        try:
            input_from = _input_from(input_from)
        except TypeError:
            msg = f"must be a step id or a list of step ids, not {input_from!r}"
            raise self.error(msg, step=where, field="input_from") from None
        save_output = entry.get("save_output", True)
        if not isinstance(save_output, bool):
            msg = f"must be true or false, not {save_output!r}"
            raise self.error(msg, step=where, field="save_output")
        return Step(step_id, func, input_from=input_from, save_output=save_output, params=params)

    def _folders(self) -> list[str]:
        """Where a runbook file's step modules are looked for after ``sys.path``."""
        if self.folder is None:
            return []
        return [str(self.folder), os.getcwd()]

    def _import(self, module_name: str) -> Any:
        # The runbook's folder and the current folder go at the END of sys.path: a step
        # module beside the runbook imports, but a yaml.py or pandas.py there never takes
        # the place of an installed package (nor of the standard library).
        for folder in self._folders():
            if folder not in sys.path:
                sys.path.append(folder)
        return importlib.import_module(module_name)

    def _shadowed(self, module: Any) -> str:
        """A hint when a file beside the runbook lost to an installed module of its name."""
        if not isinstance(module, type(sys)):
            return ""
        name = module.__name__
        origin = getattr(module, "__file__", None) or ""
        for folder in self._folders():
            beside = Path(folder, *name.split(".")).with_suffix(".py")
            if name and beside.is_file() and Path(origin).resolve() != beside.resolve():
                return (
                    f" ({beside} is not used: an installed module of the same name comes "
                    "first; rename the file)"
                )
        return ""

    def _target(self, target: object, where: str) -> Callable[..., Any]:
        if not isinstance(target, str) or target.count(":") != 1:
            msg = f"must be 'module:function' (e.g. 'mypkg.steps:extract'), not {target!r}"
            raise self.error(msg, step=where, field="run")
        module_name, _, attr = target.partition(":")
        if not module_name or not attr:
            msg = f"must be 'module:function' (e.g. 'mypkg.steps:extract'), not {target!r}"
            raise self.error(msg, step=where, field="run")
        try:
            obj: Any = self._import(module_name)
        except Exception as exc:
            msg = f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
            raise self.error(msg, step=where, field="run") from exc
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                msg = f"module {module_name!r} has no attribute {attr!r}{self._shadowed(obj)}"
                raise self.error(msg, step=where, field="run") from None
        if not callable(obj):
            msg = f"{target!r} is a {type(obj).__name__}, not a function"
            raise self.error(msg, step=where, field="run")
        return obj  # type: ignore[no-any-return]
