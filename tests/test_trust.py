"""Trust for shared stores: signed artifacts, read-only stores, secrets kept out of sight.

Signed-mode tests tamper with stores the way someone with write access to the bucket
could: they rewrite payload bytes and records directly through fsspec, on memory://, a
local folder and S3 (the moto server).
"""

from __future__ import annotations

import doctest
import json
import logging
import multiprocessing
import os
import pickle
import subprocess
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

import blake3
import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

import artifact_cache as ac
from artifact_cache import signing
from artifact_cache.cli import main
from artifact_cache.digest import hash_bytes
from artifact_cache.signing import ENV_SIGNING_KEY, Signer

KEY = "team-signing-key"
SCRIPT = Path(sys.executable).parent / "artifact-cache"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SIGNING_KEY, raising=False)


def _root(url: str) -> tuple[Any, str]:
    fs, path = fsspec.core.url_to_fs(url)
    return fs, str(path).rstrip("/")


def _record_path(url: str, step_id: str, key: str = "default") -> tuple[Any, str]:
    fs, root = _root(url)
    return fs, f"{root}/refs/{step_id}/@{key}.json"


def _payload(url: str, digest: str) -> tuple[Any, str]:
    fs, root = _root(url)
    return fs, f"{root}/objects/{digest[:2]}/{digest}"


def _tamper(url: str, step_id: str, old: bytes, new: bytes, key: str = "default") -> None:
    """Swap bytes inside a payload (same size), store it under its new xxh3 digest and
    point the record at it: everything an attacker without the signing key can do."""
    fs, rec_path = _record_path(url, step_id, key)
    record = json.loads(fs.cat_file(rec_path))
    pfs, path = _payload(url, record["digest"])
    data = pfs.cat_file(path)
    assert data.count(old) == 1 and len(old) == len(new)
    forged = data.replace(old, new)
    digest = hash_bytes(forged)
    _, new_path = _payload(url, digest)
    pfs.makedirs(new_path.rsplit("/", 1)[0], exist_ok=True)
    pfs.pipe_file(new_path, forged)
    record.update(digest=digest, uri=record["uri"].replace(record["digest"], digest))
    fs.pipe_file(rec_path, json.dumps(record).encode())


class TestSigned:
    """A store with a signing key signs what it saves and loads only what it signed."""

    def test_saved_records_are_signed(self, store_url: str) -> None:
        """Records carry the payload's BLAKE3 hash and a valid signature; loading works."""
        store = ac.open_store(store_url, signing_key=KEY)
        info = store.save("model", {"weights": [1.0, 2.0]})
        assert info.signed and store.signing and store.verified(info)
        with store.open("model") as f:
            payload = f.read()
        assert info.payload_hash == "blake3:" + blake3.blake3(payload).hexdigest()
        assert store.info("model") == info
        assert store.get("model") == {"weights": [1.0, 2.0]}

    @pytest.mark.payload_files
    def test_tampered_payload_is_refused(self, store_url: str) -> None:
        """Same-size forged bytes with a recomputed xxh3 digest and record are refused."""
        store = ac.open_store(store_url, signing_key=KEY)
        store.save("config", {"command": "safe-thing"})
        _tamper(store_url, "config", b"safe-thing", b"evil-thing")
        # Without a key the forgery is indistinguishable from a real artifact ...
        assert ac.open_store(store_url, signing_key="").get("config") == {"command": "evil-thing"}
        # ... with one it is refused before anything is unpickled.
        with pytest.raises(ac.IntegrityError, match="signature does not match") as exc:
            ac.open_store(store_url, signing_key=KEY).get("config")
        assert "'config'" in str(exc.value) and store.location in str(exc.value)

    @pytest.mark.payload_files
    def test_unsigned_artifact_is_refused(self, store_url: str) -> None:
        """What a store without the key saved is refused by a keyed store, listed as unsigned."""
        ac.open_store(store_url).save("extract", [1, 2, 3])
        keyed = ac.open_store(store_url, signing_key=KEY)
        with pytest.raises(ac.IntegrityError, match="is not signed"):
            keyed.get("extract")
        with pytest.raises(ac.IntegrityError, match="is not signed"):
            keyed.open("extract")
        if not store_url.startswith("memory://"):  # memory:// has no URLs at all
            with pytest.raises(ac.IntegrityError, match="is not signed"):
                keyed.url("extract")
            keyed.save("sealed", [4])
            assert keyed.url("sealed")
        (info,) = keyed.list("extract")
        assert not info.signed and keyed.verified(info) is False

    def test_other_key_is_refused(self, mem_store: ac.ArtifactStore) -> None:
        """An artifact signed with another key is refused."""
        url = mem_store.location
        ac.open_store(url, signing_key="someone-else").save("extract", 1)
        with pytest.raises(ac.IntegrityError, match="does not match"):
            ac.open_store(url, signing_key=KEY).get("extract")

    def test_same_code_without_key_still_works(self, store_url: str) -> None:
        """A store without a key reads signed and unsigned artifacts, and writes unsigned."""
        ac.open_store(store_url, signing_key=KEY).save("signed", "s")
        plain = ac.open_store(store_url)
        info = plain.save("plain", "p")
        assert not plain.signing and not info.signed and info.payload_hash is None
        assert "signature" not in json.loads(info.to_json())
        assert (plain.get("signed"), plain.get("plain")) == ("s", "p")
        assert plain.verified(info) is None

    @pytest.mark.payload_files
    @pytest.mark.parametrize("algorithm", ["blake3", "sha256"])
    def test_payload_checked_against_signed_hash(
        self, mem_store: ac.ArtifactStore, algorithm: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Bytes whose xxh3 digest matches but whose cryptographic hash does not are refused.

        (A collision of the fast digest is simulated by a validly signed record whose
        digest names the forged bytes but whose payload hash is the original's.)
        """
        if algorithm == "sha256":  # as on a machine without the blake3 package
            monkeypatch.setattr(signing, "_blake3", lambda: None)
        url = mem_store.location
        store = ac.open_store(url, signing_key=KEY)
        store.save("config", {"command": "safe-thing"})
        fs, rec_path = _record_path(url, "config")
        original_sha = json.loads(fs.cat_file(rec_path))["payload_hash"]
        assert original_sha.startswith(algorithm + ":")
        _tamper(url, "config", b"safe-thing", b"evil-thing")
        record = json.loads(fs.cat_file(rec_path))
        record["payload_hash"] = original_sha
        record["signature"] = Signer(KEY.encode()).sign(record)
        fs.pipe_file(rec_path, json.dumps(record).encode())
        with pytest.raises(ac.IntegrityError, match=f"does not match the {algorithm} hash"):
            store.get("config")

    def test_hash_algorithms_interoperate(
        self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """SHA-256 records load where blake3 is installed; BLAKE3 ones are refused, with
        the fix named, where it is not (and a memoised function recomputes them)."""
        url = mem_store.location
        keyed = ac.open_store(url, signing_key=KEY)
        assert keyed.save("fast", 1).payload_hash.startswith("blake3:")  # type: ignore[union-attr]
        with monkeypatch.context() as m:
            m.setattr(signing, "_blake3", lambda: None)
            assert keyed.save("portable", 2).payload_hash.startswith("sha256:")  # type: ignore[union-attr]
            with pytest.raises(ac.IntegrityError, match=r"artifact-cache\[signing\] extra"):
                keyed.get("fast")
        assert (keyed.get("fast"), keyed.get("portable")) == (1, 2)

    @pytest.mark.payload_files
    def test_decorator_recomputes_refused_artifacts(self, store_url: str) -> None:
        """A memoised function treats an unsigned or forged artifact as a miss and re-signs."""
        first = ac.open_store(store_url).step("build")(_build).call(1)  # unsigned
        keyed = ac.open_store(store_url, signing_key=KEY)
        memo = keyed.step("build")(_build)
        assert memo.key(1) == first.info.key
        with pytest.warns(RuntimeWarning, match="not signed"):
            again = memo.call(1)
        assert again.value == {"command": "safe-thing"} and not again.cached
        assert again.info.key == first.info.key and keyed.verified(again.info)
        _tamper(store_url, "build", b"safe-thing", b"evil-thing", key=again.info.key)
        with pytest.warns(RuntimeWarning, match="signature does not match"):
            forged = memo.call(1)
        assert forged.value == {"command": "safe-thing"} and not forged.cached
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            hit = memo.call(1)
        assert hit.cached and hit.value == {"command": "safe-thing"}

    def test_recompute_warnings_point_at_the_callers_line(self, tmp_path: Path) -> None:
        """The warning about a refused artifact names the line that made the call (so
        the user sees where), whether through the step, its call() or a Memory."""
        url = str(tmp_path / "store")
        plain = ac.open_store(url, signing_key="")
        keyed = ac.open_store(url, signing_key=KEY)
        memo = keyed.step("build")(_build)
        cached = ac.Memory(keyed).cache(_build)
        for n, use in enumerate((memo, memo.call, cached)):
            plain.step("build")(_build)(n)
            ac.Memory(plain).cache(_build)(n)
            with pytest.warns(RuntimeWarning, match="not signed") as caught:
                use(n)
            assert [w.filename for w in caught] == [__file__], use

    def test_key_from_environment(
        self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """$ARTIFACT_CACHE_SIGNING_KEY signs; an explicit empty key turns signing off."""
        monkeypatch.setenv(ENV_SIGNING_KEY, KEY)
        url = mem_store.location
        assert ac.open_store(url).save("a", 1).signed
        assert ac.ArtifactStore(url, signing_key=KEY).verified(ac.open_store(url).info("a"))
        assert not ac.open_store(url, signing_key="").save("b", 2).signed

    def test_old_records_still_load(self, mem_store: ac.ArtifactStore) -> None:
        """A record written before signing existed (no new fields) reads and round-trips."""
        info = mem_store.save("old", [1])
        data = json.loads(info.to_json())
        assert "payload_hash" not in data and "signature" not in data
        again = ac.ArtifactInfo.from_json(json.dumps(data))
        assert again == info and not again.signed
        assert ac.ArtifactInfo.from_json(again.to_json()) == again

    def test_signature_survives_empty_new_fields(self, mem_store: ac.ArtifactStore) -> None:
        """A field added empty (as a later release may) keeps the signature valid; a field
        added with a value, or a changed tag, does not."""
        store = ac.open_store(mem_store.location, signing_key=KEY)
        data = json.loads(store.save("x", [1], tags={"a": "b"}).to_json())
        for extra, valid in (
            ({"future_field": None}, True),
            ({"future_list": []}, True),
            ({"future_field": "set"}, False),
            ({"tags": {"a": "c"}}, False),
        ):
            info = ac.ArtifactInfo.from_json(json.dumps({**data, **extra}))
            assert store.verified(info) is valid, extra

    def test_a_newer_recipe_part_keeps_the_signature(self, store_url: str) -> None:
        """A memoised call's signed record whose recipe holds a part this release does
        not know (as a newer one may write) verifies, hits, and keeps the part."""
        store = ac.open_store(store_url, signing_key=KEY)
        memo = store.step("build")(_build)
        key = memo.call(1).info.key  # type: ignore[union-attr]
        fs, rec_path = _record_path(store_url, "build", key)
        record = json.loads(fs.cat_file(rec_path))
        record["recipe"]["environment"] = {"python": "3.99"}
        record["signature"] = Signer(KEY.encode()).sign(record)  # the newer writer's
        fs.pipe_file(rec_path, json.dumps(record).encode())
        info = store.info("build", key=key)
        assert store.verified(info)
        assert info.to_dict()["recipe"]["environment"] == {"python": "3.99"}
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # not refused as forged
            assert memo.call(1).cached

    def test_signed_records_round_trip(self, mem_store: ac.ArtifactStore) -> None:
        """The new fields survive JSON, and the signature stays valid after a round trip."""
        store = ac.open_store(mem_store.location, signing_key=KEY)
        info = store.save("x", [1], tags={"a": "b"}, duration=0.1)
        again = ac.ArtifactInfo.from_json(info.to_json())
        assert again == info and again.signature == info.signature
        assert store.verified(again)

    def test_worker_process_signs_with_the_pickled_key(self, tmp_path: Path) -> None:
        """A keyed store sent to a spawned process signs there, without the environment."""
        store = ac.open_store(str(tmp_path / "store"), signing_key=KEY)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            info = pool.apply(_save_in_worker, (store,))
        assert info.signed and store.verified(info)
        assert store.get("from-worker") == os.getpid() + 1

    def test_cli_info_says_whether_signed(
        self, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``artifact-cache info`` prints a signed line, verified when the key is set."""
        ac.open_store(store_url).save("plain", 1)
        ac.open_store(store_url, signing_key=KEY).save("sealed", 2)
        ac.open_store(store_url, signing_key="someone-else").save("foreign", 3)

        def signed_line(step: str) -> str:
            assert main(["--store", store_url, "info", step]) == 0
            lines = capsys.readouterr().out.splitlines()
            (line,) = [ln for ln in lines if ln.startswith("signed:")]
            return line.split(":", 1)[1].strip()

        assert signed_line("plain") == "no"
        assert signed_line("sealed") == "yes (not checked: no signing key)"
        monkeypatch.setenv(ENV_SIGNING_KEY, KEY)
        assert signed_line("sealed") == "yes (valid for this store's signing key)"
        assert signed_line("plain") == "no (this store refuses to load it)"
        assert "not by this store's signing key" in signed_line("foreign")
        assert main(["--store", store_url, "info", "sealed", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["signature"]


def _double(x: int) -> int:
    return 2 * x


def _build(n: int) -> dict[str, str]:
    return {"command": "safe-thing"}


def _save_in_worker(store: ac.ArtifactStore) -> ac.ArtifactInfo:
    os.environ.pop(ENV_SIGNING_KEY, None)
    return store.save("from-worker", os.getppid() + 1)


class TestReadOnly:
    """A read-only store reads as usual and refuses every change, naming itself."""

    @pytest.mark.payload_files
    def test_changes_are_refused(self, store_url: str) -> None:
        """save, delete, clear and gc raise ReadOnlyStoreError; nothing changes."""
        ac.open_store(store_url).save("extract", [1, 2])
        ro = ac.open_store(store_url, read_only=True)
        assert ro.read_only and not ac.open_store(store_url).read_only
        for call in (
            lambda: ro.save("extract", [3]),
            lambda: ro.save("other", 1),
            lambda: ro.delete("extract"),
            lambda: ro.clear(),
            lambda: ro.gc(grace=0),
        ):
            with pytest.raises(ac.ReadOnlyStoreError, match="read-only") as exc:
                call()
            assert ro.location in str(exc.value)
            assert isinstance(exc.value, ac.ArtifactStoreError)
        assert ro.get("extract") == [1, 2]
        assert [i.step_id for i in ro.list()] == ["extract"]
        assert ro.gc(grace=0, dry_run=True).referenced == 1
        ro2 = pickle.loads(pickle.dumps(ro))
        assert ro2.read_only
        with pytest.raises(ac.ReadOnlyStoreError):
            ro2.save("x", 1)

    def test_every_option_survives_pickling(self, store_url: str) -> None:
        """A read-only, keyed store without progress bars re-opens (as in a worker) with
        all three options and its storage options, none of them lost to another."""
        ac.open_store(store_url, signing_key=KEY).save("sealed", [1])
        ac.open_store(store_url, signing_key="").save("plain", [2])
        options = {"skip_instance_cache": True} if store_url.startswith("s3://") else {}
        store = ac.open_store(store_url, read_only=True, signing_key=KEY, progress=False, **options)
        again = pickle.loads(pickle.dumps(store))
        assert (again.read_only, again.signing, again.progress) == (True, True, False)
        assert again.storage_options == options and again == store
        assert again.get("sealed") == [1]
        with pytest.raises(ac.IntegrityError, match="not signed"):
            again.get("plain")
        with pytest.raises(ac.ReadOnlyStoreError):
            again.save("x", 1)

    def test_memoised_function_computes_without_saving(
        self, mem_store: ac.ArtifactStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        """On a miss the function runs and returns; nothing is saved; a log line says so."""
        mem_store.step("double")(_double)(1)  # stored: a hit for x=1
        ro = ac.open_store(mem_store.location, read_only=True)
        double = ro.step("double")(_double)
        assert double.call(1).cached
        with caplog.at_level(logging.INFO, logger="artifact_cache"):
            call = double.call(5)
        assert (call.value, call.cached, call.info) == (10, False, None)
        assert "not saved" in caplog.text and ro.location in caplog.text
        assert len(mem_store.list()) == 1 and not double.call(5).cached

    def test_cli_read_only(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``--read-only`` (before or after the command) refuses rm, clear and gc; ls works."""
        url = str(tmp_path / "store")
        ac.open_store(url).save("extract", 1)
        assert main(["--read-only", "--store", url, "rm", "extract"]) == 1
        assert "read-only" in capsys.readouterr().err
        assert main(["--store", url, "clear", "--yes", "--read-only"]) == 1
        assert main(["--store", url, "gc", "--grace", "0", "--read-only"]) == 1
        assert main(["--read-only", "--store", url, "ls"]) == 0
        assert "extract" in capsys.readouterr().out
        assert ac.open_store(url).exists("extract")

    def test_pipeline_on_read_only_store(self, mem_store: ac.ArtifactStore) -> None:
        """A pipeline computes what is not stored, passes it on in memory, saves nothing."""
        import runbook_steps as rs

        mem_store.save("extract", [1, 5, 2])  # stored earlier; classify and summarise not
        ro = ac.open_store(mem_store.location, read_only=True)
        pipe = ac.Pipeline(
            ro,
            [
                ac.Step("extract", rs.extract),
                ac.Step("classify", rs.classify, input_from="extract"),
                ac.Step("summarise", rs.summarise, input_from="classify"),
            ],
        )
        result = pipe.run(only=["classify", "summarise"])
        assert result.computed == ["classify", "summarise"]
        assert result.load("summarise") == {"high": 1, "low": 2}
        assert [r.info for r in result] == [None, None]
        assert [i.step_id for i in mem_store.list()] == ["extract"]

    @pytest.mark.parametrize("given", ["--store", "runbook"])
    def test_cli_run_read_only(
        self, tmp_path: Path, given: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``run --read-only`` computes what is not stored, saves nothing, reuses what is."""
        runbook = tmp_path / "runbook.yml"
        runbook.write_text(
            "store: store\nexecution:\n"
            "  - id: extract\n    run: runbook_steps:extract\n    params: {n: 3}\n"
        )
        url = str(tmp_path / "store")
        store_args = ["--store", url] if given == "--store" else []
        assert main([*store_args, "--read-only", "run", str(runbook), "--json"]) == 0
        (step,) = json.loads(capsys.readouterr().out)["steps"]
        assert (step["status"], step["info"]) == ("computed", None)
        assert ac.open_store(url).list() == []
        assert main([*store_args, "run", str(runbook), "--json"]) == 0
        capsys.readouterr()
        assert main([*store_args, "run", str(runbook), "--json", "--read-only"]) == 0
        (step,) = json.loads(capsys.readouterr().out)["steps"]
        assert step["status"] == "cached"


def _widget_text(widget: Any) -> str:
    """Every string a widget tree displays: values, labels, tooltips, options."""
    out = []
    for name in ("value", "description", "tooltip", "placeholder", "options"):
        value = getattr(widget, name, None)
        if value:
            out.append(str(value))
    for child in getattr(widget, "children", None) or ():
        out.append(_widget_text(child))
    return "\n".join(out)


class _LeakyFS(MemoryFileSystem):
    """A filesystem whose errors quote its credentials, as some backends' do."""

    protocol = "leakytest"

    def __init__(self, password: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.password = password

    def cat_file(self, path: str, start: Any = None, end: Any = None, **kwargs: Any) -> bytes:
        raise PermissionError(f"login with password {self.password} refused for {path}")


class TestSecrets:
    """Credentials given to a store never show in what the store prints, raises or writes."""

    def test_nothing_shows_secrets(self, s3_url: str) -> None:
        """repr, HTML, records, listings and error messages hold no secret option value."""
        secret, token, sign = (f"{n}-{uuid.uuid4().hex}" for n in "sti")
        options: dict[str, Any] = {
            "key": "testing",
            "secret": secret,
            "config_kwargs": {"user_agent_extra": "ac-test"},
            "client_kwargs": {"aws_session_token": token},
            "skip_instance_cache": True,
        }
        # moto checks no signature: any secret is accepted, so the store really works.
        store = ac.open_store(s3_url, signing_key=sign, **options)
        info = store.save("extract", {"rows": 3}, tags={"source": "crm"})
        ac.open_store(s3_url).save("unsigned", 1)
        shown: list[str] = [repr(store), store._repr_html_(), str(store.list()), info.to_json()]
        shown += [repr(info), info._repr_html_(), str(info.describe())]
        fs, rec_path = _record_path(s3_url, "extract")
        shown.append(fs.cat_file(rec_path).decode())
        ro = ac.open_store(s3_url, read_only=True, signing_key=sign, **options)
        missing_bucket = "s3://ac-no-such-" + uuid.uuid4().hex[:12] + "/cache"
        for call in (
            lambda: store.get("missing"),
            lambda: store.get("unsigned"),
            lambda: store.save("bad id/..", 1),
            lambda: ro.save("extract", 2),
            lambda: ac.open_store(missing_bucket, signing_key=sign, **options).get("x"),
        ):
            with pytest.raises(ac.ArtifactStoreError) as exc:
                call()
            shown.append(str(exc.value))
        pickled = pickle.loads(pickle.dumps(store))
        shown.append(repr(pickled))
        text = "\n".join(shown)
        for value in (secret, token, sign):
            assert value not in text
        assert "extract" in text and "not signed" in text

    def test_browser_shows_no_secrets(self, s3_url: str) -> None:
        """Nothing the notebook browser displays, records or errors, holds a secret."""
        secret, sign = f"secret-{uuid.uuid4().hex}", f"sign-{uuid.uuid4().hex}"
        options = {"key": "testing", "secret": secret, "skip_instance_cache": True}
        store = ac.open_store(s3_url, signing_key=sign, **options)
        store.save("extract", {"rows": 3}, tags={"source": "crm"})
        browser = store.browse()
        browser.select(0)
        shown = [_widget_text(browser)]
        fsspec.register_implementation("leakytest", _LeakyFS, clobber=True)
        leaky = ac.open_store(f"leakytest://leaky-{uuid.uuid4().hex}", password=secret)
        broken = leaky.browse()
        shown.append(_widget_text(broken))
        text = "\n".join(shown)
        assert "extract" in text and "cannot list store" in text and "***" in text
        assert secret not in text and sign not in text

    def test_cli_json_shows_no_secrets(self, s3_url: str) -> None:
        """Every ``--json`` output and error of the command lacks the configured secrets."""
        secret, sign = f"secret-{uuid.uuid4().hex}", f"sign-{uuid.uuid4().hex}"
        ac.open_store(s3_url, signing_key=sign).save("extract", [1, 2])
        env = dict(os.environ)
        env["FSSPEC_S3"] = json.dumps({"key": "testing", "secret": secret})
        env[ENV_SIGNING_KEY] = sign
        outputs = []
        for args in (
            ["ls", "--json"],
            ["info", "extract", "--json"],
            ["info", "extract"],
            ["du", "--json"],
            ["gc", "--json", "--dry-run"],
            ["info", "missing", "--json"],
            ["rm", "extract", "--read-only"],
        ):
            proc = subprocess.run(
                [str(SCRIPT), "--store", s3_url, *args],
                capture_output=True,
                text=True,
                env=env,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
            outputs.append(proc.stdout + proc.stderr)
        text = "\n".join(outputs)
        assert "valid for this store's signing key" in text and "read-only" in text
        assert secret not in text and sign not in text

    def test_backend_errors_are_redacted(self) -> None:
        """A backend error quoting a password reaches the user with the password blanked."""
        fsspec.register_implementation("leakytest", _LeakyFS, clobber=True)
        secret = f"pw-{uuid.uuid4().hex}"
        store = ac.open_store(f"leakytest://leaky-{uuid.uuid4().hex}", password=secret)
        with pytest.raises(ac.ArtifactStoreError) as exc:
            store.get("extract")
        assert secret not in str(exc.value) and "***" in str(exc.value)

    def test_password_in_url_is_not_shown(self) -> None:
        """A password written into the URL is blanked in the store's location and repr."""
        store = ac.open_store("memory://user:hunter2-pw@team-cache-" + uuid.uuid4().hex)
        assert "hunter2-pw" not in repr(store) and "hunter2-pw" not in store.location
        assert "***" in store.location


class TestDocs:
    """The security page's examples run as written; the signing module's doctests pass."""

    def test_security_page_examples_run(self, tmp_path: Path) -> None:
        """docs/security.md's python blocks run top to bottom in a fresh process."""
        from test_docs import run_script

        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("ARTIFACT_CACHE", "FSSPEC"))
        }
        env["HOME"] = str(tmp_path / "home")
        proc = run_script("security.md", tmp_path, env)
        assert "True True" in proc.stdout and "is not signed" in proc.stdout
        assert "read-only: cannot delete" in proc.stdout
        assert "not saved" in proc.stderr

    def test_signing_doctests(self) -> None:
        """The examples in artifact_cache.signing's docstrings give the output they show."""
        import artifact_cache.signing

        assert doctest.testmod(artifact_cache.signing, report=True).failed == 0


def test_a_whole_number_duration_keeps_its_signature(mem_store: ac.ArtifactStore) -> None:
    """A duration given as an int is a float in the record that is signed, as reading
    makes it: the signature still holds when the record is read back."""
    store = ac.open_store(mem_store.location, signing_key=KEY)
    info = store.save("timed", 1, duration=2)
    assert info.duration == 2.0 and isinstance(info.duration, float)
    assert store.verified(store.info("timed")) and store.get("timed") == 1
