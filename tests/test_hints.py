"""The hints a new user meets: missing extras, malformed URLs, missing folders, typos."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import artifact_cache as ac
from artifact_cache.cli import main

ROOT = Path(__file__).resolve().parents[1]


def python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


class TestMissingExtras:
    @pytest.mark.parametrize(
        ("missing", "call", "expected"),
        [
            (
                "ipywidgets",
                "ac.open_store('memory://no-widgets').browse()",
                [
                    "store.browse() needs ipywidgets",
                    "artifact-cache[notebook]",
                    'pip install ".[notebook]"',
                ],
            ),
            (
                "s3fs",
                "ac.open_store('s3://bucket/cache')",
                ["Install s3fs to access S3", "artifact-cache[s3]", 'pip install ".[s3]"'],
            ),
            # An S3 layer behind a cache names the s3 extra too.
            ("s3fs", "ac.open_store('simplecache::s3://bucket/cache')", ["artifact-cache[s3]"]),
            (
                "yaml",
                "ac.Pipeline.from_runbook('book.yml')",
                ["needs PyYAML", "artifact-cache[yaml]"],
            ),
        ],
    )
    def test_a_missing_package_names_its_extra(
        self, missing: str, call: str, expected: list[str], tmp_path: Path
    ) -> None:
        """Without an optional package (as if not installed), the feature that needs it
        raises MissingDependencyError naming the extra and how to install it."""
        (tmp_path / "book.yml").write_text("execution: []\n")
        code = (
            f"import sys; sys.modules[{missing!r}] = None\n"
            "import artifact_cache as ac\n"
            "try:\n"
            f"    {call}\n"
            "except ac.MissingDependencyError as exc:\n"
            "    print(exc)\n"
        )
        proc = python(code, tmp_path)
        assert proc.returncode == 0, proc.stderr
        for text in expected:
            assert text in proc.stdout, (text, proc.stdout)


class TestMalformedUrls:
    @pytest.mark.parametrize(
        ("url", "meant"),
        [
            ("s3:/bucket/x", "s3://bucket/x"),
            ("s3:bucket/x", "s3://bucket/x"),
            ("gcs:/bucket", "gcs://bucket"),
            ("memory:/scratch", "memory://scratch"),
        ],
    )
    def test_one_slash_is_refused_with_a_suggestion(
        self, url: str, meant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A scheme without its // is refused, says what was meant, and creates nothing."""
        monkeypatch.chdir(tmp_path)
        with pytest.raises(ac.UnknownSchemeError, match=f"did you mean {meant}") as caught:
            ac.open_store(url)
        assert isinstance(caught.value, ValueError)
        assert list(tmp_path.iterdir()) == []

    def test_a_password_in_the_url_is_not_repeated(self, tmp_path: Path) -> None:
        """The suggestion shows a password written into the URL as ***, as every
        other message of a store does."""
        with pytest.raises(ac.UnknownSchemeError) as caught:
            ac.open_store("sftp:/ci:hunter2@build-server/srv/cache")
        assert "hunter2" not in str(caught.value)
        assert "did you mean sftp://ci:***@build-server/srv/cache" in str(caught.value)

    def test_from_the_environment_too(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """$ARTIFACT_CACHE_URL gets the same check as an explicit URL."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ARTIFACT_CACHE_URL", "s3:/bucket/env")
        with pytest.raises(ac.UnknownSchemeError, match="did you mean s3://bucket/env"):
            ac.open_store()

    @pytest.mark.parametrize(
        "url", ["runs:old", "./runs:old", "file:{tmp}/f", "simplecache::memory://sc"]
    )
    def test_valid_forms_pass(
        self, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A ./ path with a colon, a file: URL and a chained URL open as before."""
        monkeypatch.chdir(tmp_path)
        url = url.format(tmp=tmp_path)
        if url == "runs:old":
            with pytest.raises(ac.UnknownSchemeError, match=r"write \./runs:old"):
                ac.open_store(url)
            return
        store = ac.open_store(url)
        store.save("x", 1)
        assert store.get("x") == 1

    def test_cli_prints_the_suggestion(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The command line exits 1 with the suggestion on one line and creates no folder."""
        monkeypatch.chdir(tmp_path)
        assert main(["--store", "s3:/bucket/x", "ls"]) == 1
        err = capsys.readouterr().err
        assert "did you mean s3://bucket/x" in err
        assert not (tmp_path / "s3:").exists()


class TestMissingFolder:
    def test_messages_say_the_folder_does_not_exist(self, tmp_path: Path) -> None:
        """Listing a missing local store is empty; a read says the folder is missing."""
        missing = tmp_path / "no-such-store"
        store = ac.open_store(str(missing))
        assert store.list() == []
        with pytest.raises(ac.ArtifactNotFoundError, match="does not exist") as caught:
            store.get("extract")
        assert str(missing) in str(caught.value)
        assert not missing.exists()  # reading created nothing

    def test_an_existing_store_does_not_say_so(self, tmp_path: Path) -> None:
        """Once the folder exists, a miss is a plain miss."""
        store = ac.open_store(str(tmp_path / "store"))
        store.save("other", 1)
        with pytest.raises(ac.ArtifactNotFoundError) as caught:
            store.get("extract")
        assert "does not exist" not in str(caught.value)

    def test_cli_ls(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`ls` on a missing folder says so on stderr and succeeds with no rows; `rm` says so."""
        missing = tmp_path / "typo-store"
        assert main(["--store", str(missing), "ls"]) == 0
        out, err = capsys.readouterr()
        assert out == ""
        assert f"no artifacts in {missing} (its folder {missing} does not exist)" in err
        assert main(["--store", str(missing), "rm", "extract"]) == 1
        assert f"(its folder {missing} does not exist)" in capsys.readouterr().err
        ac.open_store(str(missing)).save("x", 1)
        capsys.readouterr()
        assert main(["--store", str(missing), "ls", "nothing/"]) == 0
        assert "does not exist" not in capsys.readouterr().err


class TestDidYouMean:
    def test_step_id_typo(self) -> None:
        """A missing step id close to a stored one gets "did you mean"."""
        store = ac.open_store(f"memory://hints-{uuid.uuid4().hex}")
        store.save("features", 1)
        store.save("extract", 2)
        with pytest.raises(ac.ArtifactNotFoundError, match=r"did you mean 'features'\?"):
            store.get("featurs")
        with pytest.raises(ac.ArtifactNotFoundError, match=r"did you mean 'extract'\?"):
            store.info("extrct")

    def test_no_suggestion_for_an_unrelated_id(self) -> None:
        """Nothing close: no suggestion."""
        store = ac.open_store(f"memory://hints-{uuid.uuid4().hex}")
        store.save("features", 1)
        with pytest.raises(ac.ArtifactNotFoundError) as caught:
            store.get("model")
        assert "did you mean" not in str(caught.value)

    def test_suggestion_costs_nothing_until_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Catching the error (an existence test, explain()) lists nothing; str() lists once."""
        store = ac.open_store(f"memory://hints-{uuid.uuid4().hex}")
        store.save("features", 1)
        listings: list[str] = []
        real_list = ac.ArtifactStore.list

        def counting_list(self: ac.ArtifactStore, *args: object, **kwargs: object) -> object:
            listings.append(self.location)
            return real_list(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ac.ArtifactStore, "list", counting_list)

        @store.step
        def featurs(x: int) -> int:
            return x

        assert "has no artifact yet" in str(featurs.explain(1))
        with pytest.raises(ac.ArtifactNotFoundError) as caught:
            store.info("featurs")
        assert listings == []
        assert str(caught.value).endswith("did you mean 'features'?")
        assert str(caught.value).endswith("did you mean 'features'?")
        assert len(listings) == 1

    def test_pickled_error_keeps_the_suggestion(self) -> None:
        """An error sent to another process carries its full message."""
        store = ac.open_store(f"memory://hints-{uuid.uuid4().hex}")
        store.save("features", 1)
        with pytest.raises(ac.ArtifactNotFoundError) as caught:
            store.get("featurs")
        again = pickle.loads(pickle.dumps(caught.value))
        assert type(again) is ac.ArtifactNotFoundError
        assert str(again) == str(caught.value)
        assert "did you mean 'features'?" in str(again)

    def test_cli_info(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`info` with a typo prints the suggestion in its one error line."""
        url = str(tmp_path / "store")
        ac.open_store(url).save("deals/DEAL-001/cim", b"x")
        assert main(["--store", url, "info", "deals/DEAL-01/cim"]) == 1
        assert "did you mean 'deals/DEAL-001/cim'?" in capsys.readouterr().err
