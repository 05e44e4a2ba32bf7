"""Records and markers of any shape: refused with the library's errors, never a way out
of the store's root.

Every field of a record is checked before use (a digest is a digest, never a path); one
bad record is skipped with a warning by listings and is an ``IntegrityError`` when asked
for directly; the CLI prints one line and the widget shows it instead of raising.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import artifact_cache as ac
from artifact_cache.cli import main
from artifact_cache.info import COMPUTED_FIELDS, RECORD_FIELDS

SENTINEL = b"SENTINEL-outside-the-store-root"


def _write(store: ac.ArtifactStore, relative: str, data: bytes) -> None:
    """Put a file into the store as another (hostile) writer would."""
    store._storage._put(store._storage.path(relative), [data], len(data))


def _good_record(store: ac.ArtifactStore, step_id: str, key: str = "default") -> dict[str, Any]:
    info = store.save("template", list(range(10)))
    return dict(info.to_dict(), step_id=step_id, key=key)


def _deep(depth: int) -> Any:
    return json.loads("[" * depth + "]" * depth)


def _nested(depth: int) -> bytes:
    return b'{"step_id": ' + b"[" * depth + b"]" * depth + b"}"


SHAPES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "null": lambda r: None,
    "list": lambda r: [1, 2],
    "number": lambda r: 5,
    "string": lambda r: "record",
    "tags list": lambda r: dict(r, tags=["a"]),
    "tags values": lambda r: dict(r, tags={"a": 1}),
    "created number": lambda r: dict(r, created=12345),
    "created text": lambda r: dict(r, created="yesterday"),
    "size text": lambda r: dict(r, size="12"),
    "size negative": lambda r: dict(r, size=-1),
    "size bool": lambda r: dict(r, size=True),
    "size huge": lambda r: dict(r, size=2**80),
    "digest path": lambda r: dict(r, digest="../../../secret.txt"),
    "digest upper": lambda r: dict(r, digest=r["digest"].upper()),
    "digest absent": lambda r: {k: v for k, v in r.items() if k != "digest"},
    "serializer number": lambda r: dict(r, serializer=3),
    "inputs dict": lambda r: dict(r, inputs={"step_id": "a"}),
    "inputs bad ref": lambda r: dict(r, inputs=[{"step_id": "../x", "key": "k", "digest": "0"}]),
    "duration text": lambda r: dict(r, duration="slow"),
    "unknown field deep": lambda r: dict(r, future=_deep(40)),
    "inputs extra deep": lambda r: dict(
        r, inputs=[{"step_id": "a", "key": "k", "digest": "0" * 32, "x": _deep(40)}]
    ),
    "other step": lambda r: dict(r, step_id="elsewhere"),
    "other key": lambda r: dict(r, key="other"),
}


@pytest.fixture
def local_store(tmp_path: Path) -> ac.ArtifactStore:
    (tmp_path / "secret.txt").write_bytes(SENTINEL)
    return ac.open_store(str(tmp_path / "store"))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _cli(store: ac.ArtifactStore, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _quiet():
        code = main(["--store", store.location, *argv])
    return code, out.getvalue(), err.getvalue()


class TestRecordShapes:
    @pytest.mark.parametrize("shape", sorted(SHAPES))
    def test_one_bad_record(self, store: ac.ArtifactStore, shape: str) -> None:
        """One bad record: listings skip it with a warning, direct lookups raise
        IntegrityError naming the step and the store, other artifacts are unaffected."""
        store.save("good", {"ok": True})
        record = SHAPES[shape](_good_record(store, "bad"))
        _write(store, "refs/bad/@default.json", json.dumps(record).encode())
        with pytest.warns(UserWarning, match="'bad'"):
            assert {i.step_id for i in store.list()} == {"good", "template"}
        with pytest.warns(UserWarning, match="'bad'"):
            assert store.artifacts("bad") == []
        for lookup in (
            lambda: store.info("bad", key="default"),
            lambda: store.info("bad"),
            lambda: store.get("bad"),
            lambda: store.open("bad"),
            lambda: store.url("bad"),
        ):
            with pytest.raises(ac.IntegrityError) as err:
                lookup()
            assert "'bad'" in str(err.value) and store.location in str(err.value)
        assert store.get("good") == {"ok": True}
        with pytest.warns(UserWarning, match="'bad'"):
            store.gc(grace=0)
        assert store.get("template") == list(range(10))
        assert store.delete("bad")
        assert store.list() and store.clear() == 2

    def test_deeply_nested_json(self, store: ac.ArtifactStore) -> None:
        """JSON nested deeper than Python's recursion limit is a bad record, not a
        RecursionError."""
        store.save("good", 1)
        _write(store, "refs/bad/@default.json", _nested(100_000))
        with pytest.warns(UserWarning, match="nested"):
            assert [i.step_id for i in store.list()] == ["good"]
        with pytest.raises(ac.IntegrityError, match="nested"):
            store.info("bad", key="default")

    @pytest.mark.parametrize("shape", ["null", "tags list", "size text", "digest path"])
    def test_cli_one_line(self, local_store: ac.ArtifactStore, shape: str) -> None:
        """The CLI lists around a bad record and reports it in one line, no traceback."""
        local_store.save("good", 1)
        record = SHAPES[shape](_good_record(local_store, "bad"))
        _write(local_store, "refs/bad/@default.json", json.dumps(record).encode())
        code, out, err = _cli(local_store, "ls")
        assert code == 0 and "good" in out and "Traceback" not in err
        for argv in (["info", "bad"], ["info", "bad", "--key", "default"]):
            code, out, err = _cli(local_store, *argv)
            assert code == 1 and "Traceback" not in err
            [line] = err.splitlines()
            assert "'bad'" in line and local_store.location in line
        for argv in (["du"], ["ls", "--json"], ["gc", "--grace", "0"], ["rm", "bad"]):
            code, out, err = _cli(local_store, *argv)
            assert code == 0 and "Traceback" not in err, (argv, err)

    def test_widget_shows_the_good_ones(self, local_store: ac.ArtifactStore) -> None:
        """The notebook browser lists the readable artifacts and does not raise."""
        pytest.importorskip("ipywidgets")
        local_store.save("good", 1)
        _write(local_store, "refs/bad/@default.json", b"[1, 2]")
        with _quiet():
            browser = local_store.browse()
            browser.refresh()
        assert [i.step_id for i in browser.matching] == ["good"]

    def test_extra_fields_survive(self, store: ac.ArtifactStore) -> None:
        """Unknown fields, at the top and inside inputs, are kept on a round trip."""
        record = _good_record(store, "future")
        record["inputs"] = [dict(store.info("template").ref.to_dict(), signed="yes")]
        record["retention"] = {"days": 3, "policy": ["a", None]}
        _write(store, "refs/future/@default.json", json.dumps(record).encode())
        info = store.info("future")
        assert info.extra == {"retention": {"days": 3, "policy": ["a", None]}}
        again = ac.ArtifactInfo.from_json(info.to_json()).to_dict()
        assert again["retention"] == record["retention"]
        assert again["inputs"][0]["signed"] == "yes"
        assert store.get("future") == list(range(10))

    def test_every_field_is_checked(self) -> None:
        """Each field of ArtifactInfo has a check in the table (a new field needs one);
        only the fields the store computes (status) are never read from a record."""
        fields = {a.name for a in attrs.fields(ac.ArtifactInfo)} - {"extra"} - COMPUTED_FIELDS
        assert fields <= set(RECORD_FIELDS)

    def test_the_format_page_lists_every_check(self) -> None:
        """docs/format.md's table of checks has a row for each field that is checked."""
        page = (Path(__file__).resolve().parents[1] / "docs" / "format.md").read_text()
        table = page.split("### Checking a record before use", 1)[1].split("\n\n|", 1)[1]
        table = table.split("\n\n", 1)[0]
        rows = {
            cell
            for line in table.splitlines()
            for cell in re.findall(r"`(\w+)`", line.split("|")[1])
        }
        assert set(RECORD_FIELDS) <= rows, set(RECORD_FIELDS) - rows


class TestOutsideTheRoot:
    def test_digest_path_never_leaves_root(self, local_store: ac.ArtifactStore) -> None:
        """A digest that is a relative path reaches nothing outside the root."""
        record = _good_record(local_store, "evil")
        for digest in ("../../../secret.txt", "../../secret.txt", "..", "/etc/passwd"):
            record["digest"] = digest
            _write(local_store, "refs/evil/@default.json", json.dumps(record).encode())
            for call in (local_store.open, local_store.url, local_store.get, local_store.info):
                with pytest.raises(ac.IntegrityError):
                    call("evil")
            with pytest.warns(UserWarning):
                local_store.gc(grace=0)
        assert (Path(local_store.location).parent / "secret.txt").read_bytes() == SENTINEL

    def test_load_of_a_forged_info(self, local_store: ac.ArtifactStore) -> None:
        """load() of an ArtifactInfo built by hand with a path for a digest refuses it."""
        info = local_store.save("x", 1)
        forged = attrs.evolve(info, digest="../../secret.txt")
        with pytest.raises(ac.IntegrityError, match="not a digest"):
            local_store.load(forged)

    def test_size_claim_checked_before_reading(self, local_store: ac.ArtifactStore) -> None:
        """A record claiming a huge size is refused without mapping that much memory."""
        record = _good_record(local_store, "huge")
        record["size"] = 2**40
        _write(local_store, "refs/huge/@default.json", json.dumps(record).encode())
        with pytest.raises(ac.IntegrityError, match="bytes"):
            local_store.get("huge")

    @pytest.mark.parametrize("marker", [b"null", b"[]", b"\xff\xfe", b'{"version": "1"}', b"{"])
    def test_bad_marker(self, local_store: ac.ArtifactStore, marker: bytes) -> None:
        """An unreadable STORE.json is a StoreFormatError, for every operation."""
        local_store.save("x", 1)
        _write(local_store, "STORE.json", marker)
        again = ac.open_store(local_store.location)
        for call in (again.list, lambda: again.get("x"), lambda: again.save("y", 2)):
            with pytest.raises(ac.StoreFormatError):
                call()


# --------------------------------------------------------------------------- hypothesis
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
HOSTILE_TEXT = st.sampled_from(
    [
        "../secret.txt",
        "../../secret.txt",
        "../../../secret.txt",
        "..",
        "",
        "/etc/passwd",
        "ab" * 16 + "/../../secret.txt",
        "AB" * 16,
        "ab" * 17,
        "objects/../../secret.txt",
        "file:///etc/passwd",
        "s3://bucket/key",
        "a\\b",
        "\x00",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
    ]
)
FIELDS = sorted(RECORD_FIELDS)
STEPS = ["bad", "good", "deep/er"]


@st.composite
def records(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    """A record: a valid one mutated field by field, random JSON, or random bytes."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    record = dict(template)
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        how = draw(st.sampled_from(["json", "text", "drop"]))
        if how == "drop":
            record.pop(field, None)
        else:
            record[field] = draw(JSON if how == "json" else HOSTILE_TEXT)
    if draw(st.booleans()):
        record[draw(st.text(max_size=6))] = draw(JSON)
    return json.dumps(record).encode()


MARKERS = st.one_of(
    st.none(),
    st.just(b'{"format": "artifact_cache", "version": 1}'),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"version": JSON | HOSTILE_TEXT}).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=16),
)

LIBRARY_ERRORS = (ac.ArtifactStoreError,)


def _operations(store: ac.ArtifactStore) -> list[tuple[str, Callable[[], Any]]]:
    def read_open(step: str) -> bytes:
        with store.open(step) as f:
            return bytes(f.read())

    ops: list[tuple[str, Callable[[], Any]]] = [
        ("list", store.list),
        ("list prefix", lambda: store.list("deep/")),
        ("list tags", lambda: store.list(tags={"a": "b"})),
    ]
    for step in STEPS:
        ops += [
            (f"artifacts {step}", lambda s=step: store.artifacts(s)),
            (f"info {step}", lambda s=step: store.info(s)),
            (f"info key {step}", lambda s=step: store.info(s, key="default")),
            (f"exists {step}", lambda s=step: store.exists(s)),
            (f"exists key {step}", lambda s=step: store.exists(s, key="default")),
            (f"get {step}", lambda s=step: store.get(s)),
            (f"open {step}", lambda s=step: read_open(s)),
            (f"url {step}", lambda s=step: store.url(s)),
        ]
    ops += [
        ("save", lambda: store.save("fresh", {"n": 1})),
        ("gc dry", lambda: store.gc(grace=0, dry_run=True)),
        ("gc", lambda: store.gc(grace=0)),
        ("delete key", lambda: store.delete("bad", key="default")),
        ("delete", lambda: store.delete("deep/er")),
        ("clear", store.clear),
    ]
    return ops


CLI_COMMANDS = [
    ["ls"],
    ["ls", "--json"],
    ["ls", "deep/"],
    ["info", "bad"],
    ["info", "good", "--key", "default", "--json"],
    ["du"],
    ["du", "--json"],
    ["gc", "--grace", "0", "--dry-run"],
    ["gc", "--grace", "0", "--json"],
    ["rm", "bad"],
    ["clear", "--yes"],
]


def _never_outside(value: Any, secret: Path) -> None:
    text = repr(value)
    assert SENTINEL.decode() not in text and str(secret) not in text


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), marker=MARKERS, with_payload=st.booleans())
def test_hostile_stores(data: st.DataObject, marker: bytes | None, with_payload: bool) -> None:
    """Random and mutated records and markers: every public operation and every CLI
    command works or raises an error of the library's hierarchy, and nothing outside
    the root is read, returned or removed."""
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "secret.txt"
        secret.write_bytes(SENTINEL)
        (Path(tmp) / "objects").mkdir()
        beside = Path(tmp) / "objects" / "secret.txt"
        beside.write_bytes(SENTINEL)
        root = Path(tmp) / "store"
        writer = ac.open_store(str(root))
        template = writer.save("good", {"value": 1}).to_dict()
        for step in STEPS:
            if data.draw(st.booleans(), label=f"hostile {step}"):
                record = data.draw(records(dict(template, step_id=step)), label=step)
                _write(writer, f"refs/{step}/@default.json", record)
        if with_payload:
            digest = data.draw(HOSTILE_TEXT | st.just("ab" * 16), label="payload name")
            if "/" not in digest and digest not in ("", "..") and "\x00" not in digest:
                _write(writer, f"objects/{digest[:2]}/{digest}", SENTINEL[:8])
        if marker is not None:
            _write(writer, "STORE.json", marker)

        store = ac.open_store(str(root))
        for name, op in _operations(store):
            try:
                with _quiet():
                    result = op()
            except LIBRARY_ERRORS:
                continue
            except Exception as exc:  # pragma: no cover - the failure report
                raise AssertionError(f"{name} raised {type(exc).__name__}: {exc}") from exc
            _never_outside(result, secret)
        # The CLI on the same hostile store, rebuilt (the operations above cleared it).
        if data.draw(st.booleans(), label="rebuild for the CLI"):
            for step in STEPS:
                _write(writer, f"refs/{step}/@default.json", data.draw(records(template)))
        for argv in CLI_COMMANDS:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _quiet():
                code = main(["--store", str(root), *argv])
            assert code in (0, 1), (argv, code, err.getvalue())
            assert "Traceback" not in err.getvalue()
            if code == 1:
                assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
            _never_outside(out.getvalue(), secret)
        assert secret.read_bytes() == SENTINEL and beside.read_bytes() == SENTINEL
