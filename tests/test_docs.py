"""The guide is true to the code: its examples run, and the site builds with no warning.

The ```python blocks of each page run top to bottom as one script in a fresh folder (as a
reader would paste them), except blocks whose first line is ``# not run: <reason>``. The
tutorial's ``artifact-cache`` shell lines run afterwards in the same folder. S3 examples
run against the moto server, in a bucket named as the page names it.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent
SKIP_MARK = "# not run:"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNNABLE_PAGES = ["index.md", "tutorial.md", "howto.md", "keys.md", "joblib.md", "lifecycle.md"]
DOCS_BUCKET = "team-bucket"
"""The bucket the how-tos' S3 examples use; the tests create it on the moto server."""


def blocks(page: str, language: str) -> list[tuple[int, str]]:
    """The fenced blocks of ``page`` in ``language``, with the line each starts on."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group(1) == language:
            line = text.count("\n", 0, match.start(2)) + 1
            found.append((line, match.group(2)))
    return found


def runnable(page: str) -> list[tuple[int, str]]:
    """The python blocks of ``page`` that are not marked as not run."""
    return [(n, code) for n, code in blocks(page, "python") if not code.startswith(SKIP_MARK)]


def script(page: str) -> str:
    """The runnable blocks of ``page`` as one script, each headed by where it comes from."""
    parts = [f"# ---- docs/{page}, line {n}\n{code}" for n, code in runnable(page)]
    return "\n".join(parts)


def run_script(page: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the page's examples as a script in ``cwd``; fail with its output if it fails."""
    path = cwd / f"{Path(page).stem}_examples.py"
    path.write_text(script(page), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, path.name], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        pytest.fail(f"the examples of docs/{page} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment with no store configured and a HOME of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTIFACT_CACHE", "FSSPEC"))}
    env["HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


class TestExamples:
    def test_every_page_has_runnable_examples(self) -> None:
        """Each page the tests run has at least one block, so a renamed fence cannot hide them."""
        for page in RUNNABLE_PAGES:
            assert runnable(page), page

    def test_skipped_blocks_say_why(self) -> None:
        """A block left out of the run names its reason on its first line."""
        for page in RUNNABLE_PAGES:
            for line, code in blocks(page, "python"):
                if code.startswith(SKIP_MARK):
                    reason = code.splitlines()[0][len(SKIP_MARK) :].strip()
                    assert reason, f"docs/{page}, line {line}"

    def test_index(self, tmp_path: Path, clean_env: dict[str, str]) -> None:
        """The front page's tour runs and its explain() says what its comment says."""
        proc = run_script("index.md", tmp_path, clean_env)
        assert "argument 'scale' changed" in proc.stdout

    def test_tutorial(self, tmp_path: Path, clean_env: dict[str, str]) -> None:
        """The tutorial runs top to bottom, and its shell commands run on the store it made."""
        proc = run_script("tutorial.md", tmp_path, clean_env)
        assert "second run" in proc.stdout
        commands = [
            line
            for _, code in blocks("tutorial.md", "bash")
            for line in code.splitlines()
            if line.startswith("artifact-cache ")
        ]
        assert commands
        for command in commands:
            done = subprocess.run(
                shlex.split(command),
                cwd=tmp_path,
                env=clean_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        listing = subprocess.run(
            ["artifact-cache", "--store", "tutorial-cache", "ls", "pipe/"],
            cwd=tmp_path,
            env=clean_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert "pipe/by_group" in listing

    def test_keys(self, tmp_path: Path, clean_env: dict[str, str]) -> None:
        """The key rules' examples run and print what their comments say."""
        proc = run_script("keys.md", tmp_path, clean_env)
        assert "['factor', 'x']" in proc.stdout
        assert "['__main__:CALLS', '__main__:PARAMS']" in proc.stdout
        assert "arg 'conn' -> .lock" in proc.stdout

    def test_howto(self, tmp_path: Path, clean_env: dict[str, str], moto_endpoint: str) -> None:
        """The how-tos run, their S3 examples against the moto server."""
        import boto3

        client = boto3.client("s3", endpoint_url=moto_endpoint)
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=DOCS_BUCKET)
        env = dict(clean_env, AWS_ENDPOINT_URL=moto_endpoint)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            env[name] = os.environ[name]
        run_script("howto.md", tmp_path, env)

    def test_lifecycle(self, tmp_path: Path, clean_env: dict[str, str]) -> None:
        """The lifecycle page's examples run and print what their comments say."""
        proc = run_script("lifecycle.md", tmp_path, clean_env)
        printed = proc.stdout.splitlines()
        expected = [
            line.split("# ", 1)[1].strip()
            for _, code in runnable("lifecycle.md")
            for line in code.splitlines()
            if line.startswith("print(") and "  # " in line
        ]
        # In order; "..." in a comment stands for any text.
        lines = iter(printed)
        missing = [
            want
            for want in expected
            if not any(
                re.fullmatch(re.escape(want).replace(r"\.\.\.", ".*"), line) for line in lines
            )
        ]
        assert expected and not missing, (missing, printed)

    def test_joblib(self, tmp_path: Path, clean_env: dict[str, str]) -> None:
        """The joblib migration runs, sklearn's pipeline reusing its cached transformers."""
        proc = run_script("joblib.md", tmp_path, clean_env)
        assert "['memory/main/heavy', 'memory/main/report']" in proc.stdout
        assert "argument 'scale' changed" in proc.stdout
        assert "['duration', 'input_args', 'time']" in proc.stdout
        assert proc.stdout.splitlines()[-1] == "3"


class TestLifecycle:
    def test_retention(self, tmp_path: Path, clean_env: dict[str, str]) -> None:
        """The lifecycle page's retention examples print what their comments say."""
        proc = run_script("lifecycle.md", tmp_path, clean_env)
        assert "['reports/day2', 'reports/day3', 'reports/day4']" in proc.stdout
        assert "would remove 1 artifact" in proc.stdout


class TestDocstrings:
    @pytest.mark.parametrize(
        "module",
        [
            "artifact_cache",
            "artifact_cache.compression",
            "artifact_cache.config",
            "artifact_cache.decorators",
            "artifact_cache.digest",
            "artifact_cache.errors",
            "artifact_cache.fingerprint._registry",
            "artifact_cache.fingerprint.code",
            "artifact_cache.fingerprint.recipe",
            "artifact_cache.fingerprint.values",
            "artifact_cache.info",
            "artifact_cache.lifecycle.filters",
            "artifact_cache.lifecycle.lineage",
            "artifact_cache.lifecycle.policy",
            "artifact_cache.lifecycle.report",
            "artifact_cache.lifecycle.retention",
            "artifact_cache.memory",
            "artifact_cache.pipeline",
            "artifact_cache.progress",
            "artifact_cache.readonly",
            "artifact_cache.record_values",
            "artifact_cache.render",
            "artifact_cache.run_result",
            "artifact_cache.serializers",
            "artifact_cache.step_inputs",
            "artifact_cache.step_options",
            "artifact_cache.stepid",
            "artifact_cache.store",
            "artifact_cache.widget",
            "artifact_cache.widget.browser",
            "artifact_cache.widget.grid",
        ],
    )
    def test_examples_in_docstrings(self, module: str) -> None:
        """The examples in the API reference's docstrings give the output they show."""
        mod = importlib.import_module(module)
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        result = doctest.testmod(mod, optionflags=flags, verbose=False, report=True)
        assert result.failed == 0


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict`` passes: no broken link, anchor or API reference."""
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert not re.search(r":[a-z]+:<code>", api)  # no Sphinx role shown literally
    assert 'class="autorefs autorefs-internal"' in api  # docstrings' [`name`][] links resolve


SPHINX_ROLE = re.compile(r"(?<![\w:]):(?:[a-z]+:)?[a-z]+:`")


def _public_docstrings() -> list[tuple[str, str]]:
    """(qualified name, docstring) of every module of the package and what it defines."""
    import inspect
    import pkgutil

    import artifact_cache

    found: list[tuple[str, str]] = []
    names = ["artifact_cache"] + [
        m.name
        for m in pkgutil.walk_packages(artifact_cache.__path__, "artifact_cache.")
        if not m.name.endswith("__main__")  # runs the command line on import
    ]
    for name in names:
        module = importlib.import_module(name)
        found.append((name, module.__doc__ or ""))
        for attr, obj in vars(module).items():
            if getattr(obj, "__module__", None) != name:
                continue
            found.append((f"{name}.{attr}", inspect.getdoc(obj) or ""))
            if inspect.isclass(obj):
                for member, value in vars(obj).items():
                    doc = getattr(value, "__doc__", None)
                    if isinstance(doc, str):
                        found.append((f"{name}.{attr}.{member}", doc))
    return found


class TestCrossReferences:
    def test_docstrings_have_no_sphinx_roles(self) -> None:
        """No docstring uses a Sphinx role (``:meth:`x```), which Markdown shows literally."""
        offenders = [
            f"{name}: {match.group(0)}"
            for name, doc in _public_docstrings()
            for match in SPHINX_ROLE.finditer(doc)
        ]
        assert len(_public_docstrings()) > 100  # the scan reaches methods, not just modules
        assert not offenders, "use [`name`][] or backticks instead:\n" + "\n".join(offenders)

    def test_scan_finds_a_role(self) -> None:
        """The pattern catches the roles the API page used to show (and no plain prose)."""
        assert SPHINX_ROLE.search("What :meth:`ArtifactStore.gc` removed")
        assert SPHINX_ROLE.search("see :py:func:`open_store`")
        assert not SPHINX_ROLE.search("Examples:\n    `x` and [`gc`][]; at 12:30 `t`")

    def _build(self, tmp_path: Path, docstring: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "docs").mkdir(exist_ok=True)
        (tmp_path / "docs" / "index.md").write_text("# API\n\n::: rolemod.f\n")
        (tmp_path / "rolemod.py").write_text(f'def f():\n    """{docstring}"""\n')
        config = f"""
site_name: roles
hooks: [{ROOT / "docs" / "hooks.py"}]
plugins:
  - mkdocstrings:
      handlers:
        python:
          paths: [.]
"""
        (tmp_path / "mkdocs.yml").write_text(config)
        return subprocess.run(
            [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def test_strict_build_fails_on_a_sphinx_role(self, tmp_path: Path) -> None:
        """The site's hook turns a role in a docstring into a warning, so --strict fails."""
        good = self._build(tmp_path, "Like `g`, but faster.")
        assert good.returncode == 0, good.stdout + good.stderr
        bad = self._build(tmp_path, "Like :func:`g`, but faster.")
        assert bad.returncode != 0
        assert "Sphinx role ':func:'" in bad.stderr


class TestReadme:
    """The README opens with its two commands, its tour runs, and it names every extra."""

    text = (ROOT / "README.md").read_text(encoding="utf-8")

    def test_starts_with_the_two_commands(self) -> None:
        """The first two code blocks are the demo and the test suite, before the tour."""
        first = [(match.group(1), match.group(2).strip()) for match in FENCE.finditer(self.text)][
            :2
        ]
        assert [language for language, _ in first] == ["bash", "bash"]
        assert first[0][1].endswith("artifact-cache demo")
        assert first[1][1].endswith("-m pytest") and '".[dev]"' in first[1][1]
        assert self.text.index(first[1][1]) < self.text.index("## A 30-second tour")

    def test_tour_runs(self, tmp_path: Path, clean_env: dict[str, str]) -> None:
        """The 30-second tour runs as pasted, in a fresh folder with no store configured."""
        tour = self.text.split("## A 30-second tour", 1)[1]
        code = next(m.group(2) for m in FENCE.finditer(tour) if m.group(1) == "python")
        (tmp_path / "tour.py").write_text(code, encoding="utf-8")
        env = dict(clean_env, PYTHONPATH=str(ROOT))
        proc = subprocess.run(
            [sys.executable, "tour.py"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / ".artifact_cache" / "STORE.json").exists()

    def test_names_every_extra(self) -> None:
        """Each extra of pyproject.toml is named in the README's extras line."""
        import tomllib

        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        extras_line = self.text.split("Extras:", 1)[1].split("\n\n", 1)[0]
        for extra in project["optional-dependencies"]:
            assert f"`{extra}`" in extras_line, extra


PIP_INSTALL = re.compile(r"pip install ([^\n`#&|;)]+)")
INSTALL_PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def install_commands() -> list[tuple[str, list[str]]]:
    """Every ``pip install`` in the README and the guide: (where, its requirement args)."""
    found = []
    for page in INSTALL_PAGES:
        text = page.read_text(encoding="utf-8")
        for match in PIP_INSTALL.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            args = [a for a in shlex.split(match.group(1)) if not a.startswith("-")]
            found.append((f"{page.name}:{line}", args))
    return found


def _local_spec(arg: str) -> tuple[str, set[str]] | None:
    """``(path, extras)`` for a requirement that names a folder (``.[s3]``), else None."""
    match = re.fullmatch(r"(\.|/[\w/.-]+)(?:\[([\w,-]+)\])?", arg)
    if match is None:
        return None
    return match.group(1), set(filter(None, (match.group(2) or "").split(",")))


class TestInstallCommands:
    def test_docs_install_from_the_source_folder(self) -> None:
        """The package is not on an index: every install of it is a path, with real extras."""
        import tomllib

        extras = set(
            tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        )
        commands = install_commands()
        assert len(commands) >= 5
        for where, args in commands:
            assert args, where
            for arg in args:
                local = _local_spec(arg)
                if local is None:
                    name = re.split(r"[\[<>=!~; ]", arg, maxsplit=1)[0].lower()
                    assert name.replace("_", "-") != "artifact-cache", f"{where}: {arg}"
                    continue
                assert local[1] <= extras, f"{where}: unknown extra in {arg}"

    def test_messages_do_not_install_from_an_index(self) -> None:
        """Error messages and docstrings give install commands that work too."""
        bad = re.compile(r"pip install [\"']?artifact[-_]cache")
        for path in sorted((ROOT / "artifact_cache").rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            assert not bad.search(text), path.relative_to(ROOT)

    def test_install_commands_resolve(self, tmp_path: Path) -> None:
        """Each distinct local install in the docs resolves to this project, offline."""
        # Offline means no isolated build: the environment's own setuptools builds (the
        # dev extra asks for one with bdist_wheel built in, 70.1 or newer).
        specs = {
            arg for _, args in install_commands() for arg in args if _local_spec(arg) is not None
        }
        assert "." in specs
        for spec in sorted(specs):
            _, extras = _local_spec(spec)  # type: ignore[misc]
            target = str(ROOT) + (f"[{','.join(sorted(extras))}]" if extras else "")
            report = tmp_path / "report.json"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--dry-run",
                    "--no-deps",
                    "--no-index",
                    "--no-build-isolation",
                    "--quiet",
                    "--report",
                    str(report),
                    target,
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, f"{spec}: {proc.stderr}"
            (item,) = json.loads(report.read_text())["install"]
            assert item["metadata"]["name"] == "artifact-cache"
            assert set(item.get("requested_extras", [])) == extras, spec
