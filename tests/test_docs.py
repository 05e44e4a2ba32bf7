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
RUNNABLE_PAGES = ["index.md", "tutorial.md", "howto.md", "keys.md"]
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


class TestDocstrings:
    @pytest.mark.parametrize(
        "module",
        [
            "artifact_cache",
            "artifact_cache.config",
            "artifact_cache.decorators",
            "artifact_cache.digest",
            "artifact_cache.errors",
            "artifact_cache.fingerprint.code",
            "artifact_cache.fingerprint.recipe",
            "artifact_cache.fingerprint.values",
            "artifact_cache.info",
            "artifact_cache.pipeline",
            "artifact_cache.serializers",
            "artifact_cache.stepid",
            "artifact_cache.store",
            "artifact_cache.widget",
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
    assert (tmp_path / "site" / "api" / "index.html").exists()
