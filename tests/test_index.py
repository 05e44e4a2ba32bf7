"""The index of records: listings and "newest of a step" read no record file twice, and
the record files stay the source of truth (an index deleted, corrupt, or behind because a
writer never touched it is made good from them)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_record_reads import _count_checks

import artifact_cache as ac
from artifact_cache import info as info_module
from artifact_cache.info import ArtifactInfo
from artifact_cache.storage import rows
from artifact_cache.storage.index import INDEX_NAME, RACY_NS

ROOT = Path(__file__).resolve().parent.parent


def _age(folder: Path, seconds: float = 60.0) -> None:
    """Make a folder's modification time older (as if written a while ago)."""
    past = time.time() - seconds
    os.utime(folder, (past, past))


def _write_record(store: ac.ArtifactStore, template: ArtifactInfo, step_id: str, key: str) -> Path:
    """A record file written as a release without the index would: just the file."""
    path = Path(store._storage.record_path(step_id, key))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dict(template.to_dict(), step_id=step_id, key=key)
    path.write_text(json.dumps(data))
    return path


def _count_reads(store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the record files read in bulk (listings) from now on."""
    counts = [0]
    storage = store._storage
    real = storage.read_many

    def counted(paths: Any) -> Any:
        counts[0] += len(paths)
        return real(paths)

    monkeypatch.setattr(storage, "read_many", counted)
    return counts


def _keys(infos: list[ArtifactInfo]) -> set[tuple[str, str]]:
    return {(i.step_id, i.key) for i in infos}


def test_rebuilt_after_delete_and_corruption(tmp_path: Path) -> None:
    store = ac.ArtifactStore(str(tmp_path / "s"))
    saved = {(i.step_id, i.key) for i in (store.save(f"s{n}", n, key=f"k{n}") for n in range(5))}
    assert _keys(store.list()) == saved
    index = tmp_path / "s" / INDEX_NAME
    assert index.exists()
    for damage in ("delete", "truncate", "garbage"):
        fresh = ac.ArtifactStore(str(tmp_path / "s"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)
        if damage == "truncate":
            index.write_bytes(b"SQLite format 3\x00" + b"\x00" * 40)
        elif damage == "garbage":
            index.write_bytes(b"not a database at all" * 100)
        assert _keys(fresh.list()) == saved, damage
        assert fresh.get("s3") == 3
        assert index.exists()


def test_corrupted_while_open(tmp_path: Path) -> None:
    """An index damaged under a store that has it open is made again, not trusted."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save("a", 1)
    assert len(store.list()) == 1
    index = tmp_path / "s" / INDEX_NAME
    store._storage._records_index._forget_connection()
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(b"\x00" * 4096)
    store.save("b", 2)
    assert {i.step_id for i in store.list()} == {"a", "b"}


def test_record_written_without_the_index_appears(tmp_path: Path) -> None:
    """Records written by a writer that never updates the index (an older release) show
    in list, artifacts, info and get, also after the index knew the folder."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    template = store.save("step", {"v": 1}, key="first")
    assert [i.key for i in store.list()] == ["first"]
    folder = tmp_path / "s" / "refs" / "step"
    _age(folder)
    assert [i.key for i in store.artifacts("step")] == ["first"]  # indexed, not racy
    later = ArtifactInfo.from_dict(
        dict(template.to_dict(), created="2100-01-01T00:00:00+00:00", key="later")
    )
    _write_record(store, later, "step", "later")
    _write_record(store, later, "other/deep", "k")
    assert _keys(store.list()) == {("step", "first"), ("step", "later"), ("other/deep", "k")}
    assert [i.key for i in store.artifacts("step")] == ["later", "first"]
    assert store.info("step").key == "later"
    assert store.get("step") == {"v": 1}
    # Removed behind the index's back: gone from listings too.
    (folder / "@later.json").unlink()
    assert [i.key for i in store.list("step")] == ["first"]
    assert store.info("step").key == "first"


def test_change_in_the_same_clock_tick_is_seen(tmp_path: Path) -> None:
    """A folder indexed right after a write is looked at again, so a second write that
    leaves its modification time unchanged (the same clock tick) still shows."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save("step", "old", key="k", tags={"v": "1"})
    folder = tmp_path / "s" / "refs" / "step"
    stamp = folder.stat().st_mtime_ns
    assert time.time_ns() - stamp < RACY_NS
    assert store.list(tags={"v": "1"})
    store.save("step", "new", key="k", tags={"v": "2"})
    os.utime(folder, ns=(stamp, stamp))  # as if both writes fell in one tick
    assert [i.tags["v"] for i in store.list()] == ["2"]
    assert store.list(tags={"v": "1"}) == []
    assert store.get("step") == "new"


def test_listing_reads_no_record_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 records: the first listing reads each once, later listings (in this process
    or a fresh store) and "newest of a step" read none through the listing path."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    template = store.save("big", {"v": 0}, key="k0")
    for n in range(1, 10_000):
        _write_record(store, template, "big", f"k{n}")
    newest = ArtifactInfo.from_dict(
        dict(template.to_dict(), created="2100-01-01T00:00:00+00:00", key="k7")
    )
    _write_record(store, newest, "big", "k7")
    _age(tmp_path / "s" / "refs" / "big")
    counts = _count_reads(store, monkeypatch)
    assert len(store.list()) == 10_000
    assert counts[0] == 10_000
    assert len(store.list("bi")) == 10_000 and len(store.artifacts("big")) == 10_000
    assert store.info("big").key == "k7"
    assert counts[0] == 10_000
    other = ac.ArtifactStore(str(tmp_path / "s"))  # another store: reads the index only
    other_counts = _count_reads(other, monkeypatch)
    assert other.info("big").key == "k7"
    assert len(other.list(tags={"no": "such"})) == 0
    assert other_counts[0] == 0
    assert other._storage._records_index.reads == 0


def test_memory_listing_reads_each_record_once(monkeypatch: pytest.MonkeyPatch) -> None:
    store = ac.ArtifactStore("memory://index-memory-once")
    for n in range(50):
        store.save("step", n, key=f"k{n}")
    counts = _count_reads(store, monkeypatch)
    assert len(store.list()) == 50
    assert counts[0] == 50
    store.save("step", "changed", key="k3")
    assert len(store.list()) == 50 and store.info("step").key == "k3"
    assert counts[0] == 51  # only the record that changed is read again


def test_hostile_record_in_the_index(tmp_path: Path) -> None:
    """An invalid record found through the index is skipped with a warning by listings and
    by "newest of a step", and is a RecordError when asked for by key."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    good = store.save("step", 1, key="good")
    bad = _write_record(store, good, "step", "bad")
    bad.write_text(json.dumps(dict(good.to_dict(), key="bad", digest="../../etc/passwd")))
    for call in (store.list, lambda: store.artifacts("step"), lambda: [store.info("step")]):
        with pytest.warns(UserWarning, match="skipping a record"):
            assert [i.key for i in call()] == ["good"]
    with pytest.raises(ac.RecordError):
        store.info("step", key="bad")


def test_signed_store_checks_the_record_file(tmp_path: Path) -> None:
    """An unsigned record newer than a signed one, written behind the index's back, is
    what get(step) picks and refuses (the index never vouches for a record)."""
    store = ac.ArtifactStore(str(tmp_path / "s"), signing_key="k")
    signed = store.save("step", 1, key="a")
    assert store.get("step") == 1
    forged = dict(signed.to_dict(), key="b", created="2100-01-01T00:00:00+00:00")
    forged.pop("signature")
    _write_record(store, ArtifactInfo.from_dict(forged), "step", "b")
    with pytest.raises(ac.IntegrityError):
        store.get("step")
    assert store.get("step", key="a") == 1


def test_index_not_writable_falls_back_to_the_files(tmp_path: Path) -> None:
    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save("a", 1)
    index = tmp_path / "s" / INDEX_NAME
    index.parent.joinpath(INDEX_NAME).mkdir()  # a folder where the index should be
    assert [i.step_id for i in store.list()] == ["a"]
    assert store._storage.indexed_records() is None
    assert not index.is_file()


KILLED = """
import os, sys
import artifact_cache as ac
from artifact_cache.storage import sqlite_index
real = sqlite_index.examine
seen = [0]
def dying(name, data):
    seen[0] += 1
    if seen[0] == 3:
        os._exit(9)  # killed in the middle of bringing the index up to date
    return real(name, data)
sqlite_index.examine = dying
ac.ArtifactStore(sys.argv[1]).list()
"""

SAVER = """
import os, sys
import artifact_cache as ac
store = ac.ArtifactStore(sys.argv[1])
for n in range(int(sys.argv[2])):
    store.save("proc", n, key=f"k{n}")
print("saved", flush=True)
"""


def _python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_process_killed_while_indexing(tmp_path: Path) -> None:
    """A process killed while it brings the index up to date leaves nothing half-done."""
    url = str(tmp_path / "s")
    store = ac.ArtifactStore(url)
    for n in range(6):
        store.save("step", n, key=f"k{n}")
    done = _python(KILLED, url)
    assert done.returncode == 9, done.stderr
    assert len(store.list()) == 6
    assert store.get("step") == 5


def test_records_of_other_processes_appear(tmp_path: Path) -> None:
    """Saves by other processes (which never read the index) show in this one's index."""
    url = str(tmp_path / "s")
    store = ac.ArtifactStore(url)
    store.save("proc", -1, key="mine")
    assert len(store.list()) == 1
    done = _python(SAVER, url, "20")
    assert done.returncode == 0 and done.stdout == "saved\n", done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(store.list()) == 21
    assert store.get("proc") == 19


# ---------------------------------------------------------------------- schema 2
OLD_SCHEMA = """
CREATE TABLE folders (step_id TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL);
CREATE TABLE records (
    step_id TEXT NOT NULL, key TEXT NOT NULL,
    ino INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,
    ok INTEGER NOT NULL, created REAL NOT NULL, tags TEXT, data BLOB NOT NULL,
    PRIMARY KEY (step_id, key)
);
"""


def test_index_of_an_older_schema_is_made_again(tmp_path: Path) -> None:
    """An index written by a release with other tables is rebuilt from the records, not
    read as if it were of this one (here: it holds an outdated record whose file identity
    and folder time still match)."""
    import sqlite3

    store = ac.ArtifactStore(str(tmp_path / "s"))
    saved = store.save("step", 1, tags={"v": "new"})
    folder = tmp_path / "s" / "refs" / "step"
    _age(folder)
    record = folder / "@default.json"
    st, folder_time = record.stat(), folder.stat().st_mtime_ns
    outdated = dict(saved.to_dict(), tags={"v": "outdated"})
    index = tmp_path / "s" / INDEX_NAME
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(index) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO folders VALUES ('step', ?)", (folder_time,))
        row = ("step", "default", st.st_ino, st.st_mtime_ns, st.st_size, 1, 0.0)
        data = json.dumps(outdated).encode()
        conn.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*row, "{}", data))
        conn.execute("PRAGMA user_version=1")
    conn.close()
    fresh = ac.ArtifactStore(str(tmp_path / "s"))
    assert [i.tags["v"] for i in fresh.list()] == ["new"]
    assert [i.tags["v"] for i in fresh.artifacts("step")] == ["new"]
    with sqlite3.connect(index) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] > 1
    conn.close()


@pytest.mark.parametrize("swap", [True, False])
def test_listed_records_equal_their_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: bool
) -> None:
    """What a listing builds from the index (in a store that parsed nothing) equals, field
    by field, the record parsed from its file: lineage, recipes, unknown fields, times;
    built by re-classing a twin object, or field by field where the layouts differ."""
    assert info_module._SWAP  # (this interpreter and attrs lay both classes out alike)
    monkeypatch.setattr(info_module, "_SWAP", swap)
    store = ac.ArtifactStore(str(tmp_path / "s"), signing_key="k")
    first = store.save("a", [1, 2], tags={"z": "1", "a": "2"}, duration=2.5)
    store.save(
        "b/c",
        b"x" * 70_000,
        serializer="raw",
        mime_type="text/plain",
        inputs=[first.ref],
        extra={"later": {"n": [1, None, 2.5]}},
    )

    @store.step
    def double(x: int) -> int:
        return 2 * x

    double(4)
    template = store.info("a")
    odd = dict(template.to_dict(), key="odd", created="2020-01-01T05:00:00+05:00")
    odd["unknown"] = {"deep": [{"x": 1}]}
    _write_record(store, ArtifactInfo.from_dict(odd), "a", "odd")
    cold = ac.ArtifactStore(str(tmp_path / "s"), signing_key="k")
    listed = cold.list()
    assert len(listed) == 4
    for info in listed:
        text = Path(store._storage.record_path(info.step_id, info.key)).read_bytes()
        parsed = ArtifactInfo.from_json(text)
        assert info == parsed and hash(info) == hash(parsed)
        assert type(info) is ArtifactInfo  # (built without its constructor, then made one)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            info.key = "other"  # type: ignore[misc]
        assert info.to_json() == parsed.to_json()
        assert info.extra == parsed.extra and info.recipe == parsed.recipe
        assert [type(v) for v in attrs_values(info)] == [type(v) for v in attrs_values(parsed)]
        assert cold.verified(info) is (info.key != "odd")
    assert [i.key for i in cold.list("a")][-1] == "odd"  # its time read as UTC
    assert double(4) == 8 and cold.get("b/c") == b"x" * 70_000


def test_index_row_of_another_length_is_refused(tmp_path: Path) -> None:
    """A row of checked fields has exactly as many values as `pack_checked` writes: one
    more (say, a status) is not taken as a field but refused (damage: the index is made
    again)."""
    info = ac.ArtifactStore(str(tmp_path / "s")).save("a", 1)
    row = json.loads(rows.pack_checked(info))
    found: list[ArtifactInfo] = []
    rows.unpack_checked("a", json.dumps([row]), found)
    assert found == [info]
    for bad in ([*row, "tombstoned"], row[:-1]):
        with pytest.raises((TypeError, ValueError)):
            rows.unpack_checked("a", json.dumps([bad]), [])
        with pytest.raises(ValueError):  # (one row among others of the right length)
            rows.unpack_checked("a", json.dumps([row, bad]), [])


def test_listing_columns_hold_shared_values_once(tmp_path: Path) -> None:
    """A folder's listing keeps a value every record holds once (the empty tags, inputs
    and extra among them) and the others as columns; what it gives back equals the
    records (sharing the empty mappings, which cannot be changed)."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    saved = [store.save("a", n, key=f"k{n}", serializer="json") for n in range(3)]
    saved.append(store.save("a", [1], key="tagged", tags={"t": "1"}, inputs=[saved[0].ref]))
    packed = [json.loads(rows.pack_checked(i)) for i in saved]
    columns = rows.pack_columns(packed)
    # fingerprint, duration, arguments, uri, recipe, payload hash, signature,
    # compression and extra are one value each; the other fields vary
    once = [name for name, c in zip(rows._PACKED, columns, strict=True) if type(c) is dict]
    assert once == [
        "code_fingerprint", "duration", "args_repr", "uri", "recipe", "payload_hash",
        "signature", "compression", "extra",
    ]  # fmt: skip
    assert rows.pack_columns(packed[:3])[7] == {"=": {}}  # one step's untagged records
    found: list[ArtifactInfo] = []
    rows.unpack_columns("a", json.loads(json.dumps(columns)), found)
    assert found == saved and [type(i) for i in found] == [ArtifactInfo] * 4
    plain: list[ArtifactInfo] = []
    rows.unpack_columns("a", json.loads(json.dumps(rows.pack_columns(packed[:3]))), plain)
    assert plain == saved[:3]
    assert all(i.tags is i.extra is plain[0].tags for i in plain)  # one, unchangeable
    with pytest.raises(TypeError):
        plain[0].tags["a"] = "1"  # type: ignore[index]


@pytest.mark.parametrize(
    "damage",
    [
        "no key list", "a short column", "an extra column", "tags for all", "a list version",
        "a number for every record's tags", "text for every record's inputs",
        "a number for every record's extra", "text for every record's recipe",
    ],
)  # fmt: skip
def test_listing_columns_of_another_form_are_refused(tmp_path: Path, damage: str) -> None:
    """A listing's columns are as `pack_columns` writes them or refused: never more
    records than it names keys (a value held for every record is a scalar, or empty
    tags, inputs or extra), nor values a record cannot hold."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    saved = [store.save("a", n, key=f"k{n}") for n in range(3)]
    columns = rows.pack_columns([json.loads(rows.pack_checked(i)) for i in saved])
    assert columns[7] == {"=": {}} and type(columns[18]) is list
    bad = json.loads(json.dumps(columns))
    if damage == "no key list":
        bad[0] = {"=": "k"}  # (would let a few bytes claim any number of records)
    elif damage == "a short column":
        bad[1] = bad[1][:-1]
    elif damage == "an extra column":
        bad.append({"=": None})
    elif damage == "tags for all":
        bad[7] = {"=": {"big": "x" * 1000}}
    elif damage == "a list version":
        bad[18] = {"=": [1]}
    else:  # values a field cannot hold, shared (each would fail later, outside the index)
        field = {"tags": 7, "inputs": 8, "extra": 19, "recipe": 13}[damage.split("'s ")[1]]
        bad[field] = {"=": 5 if damage.startswith("a number") else "abc"}
    with pytest.raises((ValueError, TypeError)):
        rows.unpack_columns("a", bad, [])


def test_negative_zero_is_listed_as_written(tmp_path: Path) -> None:
    """Values a listing shares between records are equal and written alike: a duration
    of -0.0 beside one of 0.0 is listed as -0.0, so the signature over it holds."""
    store = ac.ArtifactStore(str(tmp_path / "s"), signing_key="k")
    store.save("a", 1, key="x", duration=0.0)
    store.save("a", 2, key="y", duration=-0.0)
    for folder in ("refs", "refs/a"):
        _age(tmp_path / "s" / folder)
    assert len(store.list()) == 2  # (the listing is made)
    fresh = ac.ArtifactStore(str(tmp_path / "s"), signing_key="k")
    listed = {i.key: i for i in fresh.list()}
    assert str(listed["y"].duration) == "-0.0" and str(listed["x"].duration) == "0.0"
    assert [fresh.load(listed[k]) for k in ("x", "y")] == [1, 2]


def test_listing_made_while_another_writer_syncs_keeps_every_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listings a listing made and those it reads are read in one transaction: a
    writer that changes another folder's listing right after they are made does not make
    that folder's records go missing."""
    from artifact_cache.storage import sqlite_index

    store = ac.ArtifactStore(str(tmp_path / "s"))
    for n in range(3):
        store.save("a", n, key=f"k{n}")
        store.save("b", n, key=f"k{n}")
    for folder in ("refs", "refs/a", "refs/b"):
        _age(tmp_path / "s" / folder)
    assert len(store.list()) == 6
    store.save("a", 99, key="new")  # "a" changed: its listing is made again
    real = sqlite_index.LocalIndex._make_listings

    def then_another_writer(*args: Any) -> Any:
        found = real(*args)
        with contextlib.closing(sqlite3.connect(tmp_path / "s" / INDEX_NAME)) as other:
            other.execute("UPDATE folders SET listing=NULL WHERE step_id='b'")
            other.commit()
        return found

    monkeypatch.setattr(
        sqlite_index.LocalIndex, "_make_listings", staticmethod(then_another_writer)
    )
    assert sorted((i.step_id, i.key) for i in store.list()) == sorted(
        [("a", f"k{n}") for n in range(3)] + [("a", "new")] + [("b", f"k{n}") for n in range(3)]
    )


def attrs_values(info: ArtifactInfo) -> list[Any]:
    import attrs

    return [getattr(info, a.name) for a in attrs.fields(ArtifactInfo)]


def test_record_replaced_after_indexing_is_read_again(tmp_path: Path) -> None:
    """A record the index checked and then replaced by a record of the same size (even
    with the old file's times) is read again, in this process and in a fresh store."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    old = store.save("step", "v", tags={"v": "1"})
    folder = tmp_path / "s" / "refs" / "step"
    _age(folder)
    assert [i.tags["v"] for i in store.list()] == ["1"]
    record = folder / "@default.json"
    before = record.stat()
    new = json.dumps(dict(old.to_dict(), tags={"v": "2"})).encode()
    assert len(new) == before.st_size
    tmp = folder / ".tmp-replace"
    tmp.write_bytes(new)
    os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(tmp, record)
    for reader in (store, ac.ArtifactStore(str(tmp_path / "s"))):
        assert [i.tags["v"] for i in reader.list()] == ["2"]
        assert [i.tags["v"] for i in reader.artifacts("step")] == ["2"]
        assert reader.info("step").tags["v"] == "2"


def test_sub_folder_made_while_indexing_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose time is the indexed one is not listed again: its sub-folders are
    those seen when it was indexed, so one made between a listing's walk and the
    indexing of its parent still appears at the next listing."""
    from artifact_cache.storage import sqlite_index

    monkeypatch.setattr(sqlite_index, "RACY_NS", 0)  # every folder time counts as settled
    store = ac.ArtifactStore(str(tmp_path / "s"))
    template = store.save("group/a", 1)
    assert len(store.list()) == 1
    real_walk = sqlite_index.LocalIndex._walk
    made = []

    def walk_then_write(self: Any, conn: Any, folder: str) -> Any:
        found = real_walk(self, conn, folder)
        if not made:
            made.append(_write_record(store, template, "group/late", "k"))
        return found

    _write_record(store, template, "group/b", "k")  # the walk sees "group" changed
    monkeypatch.setattr(sqlite_index.LocalIndex, "_walk", walk_then_write)
    first = {i.step_id for i in store.list()}
    assert {"group/a", "group/b"} <= first
    monkeypatch.setattr(sqlite_index.LocalIndex, "_walk", real_walk)
    assert {i.step_id for i in store.list()} == {"group/a", "group/b", "group/late"}
    assert {i.step_id for i in ac.ArtifactStore(str(tmp_path / "s")).list()} == {
        "group/a",
        "group/b",
        "group/late",
    }


def test_listing_longer_than_sqlites_longest_string(tmp_path: Path) -> None:
    """A step whose records, joined, exceed SQLite's longest string is listed row by row."""
    import sqlite3

    store = ac.ArtifactStore(str(tmp_path / "s"))
    for n in range(10):
        store.save("step", n, key=f"k{n}")
    conn = store._storage._records_index._connection()
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 3000)
    assert sorted(i.key for i in store.list()) == [f"k{n}" for n in range(10)]
    assert len(store.artifacts("step")) == 10


@pytest.mark.parametrize(
    "damage", ["truncated", "not columns", "an extra column", "more values than keys"]
)
def test_damaged_listing_in_the_index_is_made_again(tmp_path: Path, damage: str) -> None:
    """A folder's listing in the index that is not columns of checked fields is not
    trusted: a new process reading it makes the index again from the record files."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    saved = {(i.step_id, i.key) for i in (store.save("a/b", n, key=f"k{n}") for n in range(3))}
    for folder in ("refs", "refs/a", "refs/a/b"):
        _age(tmp_path / "s" / folder)  # settled: the index is trusted for it from now on
    assert _keys(store.list()) == saved
    conn = store._storage._records_index._connection()
    (good,) = conn.execute("SELECT listing FROM folders WHERE step_id='a/b'").fetchone()
    columns = json.loads(good)
    listing = {
        "truncated": good[: len(good) // 2],
        "not columns": '{"k0": 1}',
        "an extra column": json.dumps([*columns, {"=": "tombstoned"}]),
        "more values than keys": json.dumps([columns[0], *([[0] * 4] * 19)]),
    }[damage]
    conn.execute("UPDATE folders SET listing=? WHERE step_id='a/b'", (listing,))
    script = (
        "import json, sys, artifact_cache as ac\n"
        "s = ac.ArtifactStore(sys.argv[1])\n"
        "print(json.dumps(sorted([i.step_id, i.key, i.status] for i in s.list())))\n"
    )
    for _ in range(2):  # (the second reads the listing made again)
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "s")],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        listed = json.loads(done.stdout)
        assert {(step, key) for step, key, _ in listed} == saved
        assert {status for _, _, status in listed} == {"active"}
    with contextlib.closing(sqlite3.connect(tmp_path / "s" / INDEX_NAME)) as now:
        (kept,) = now.execute("SELECT listing FROM folders WHERE step_id='a/b'").fetchone()
    assert kept is not None and kept != listing  # made again from the records


REWRITER = """
import sys
import artifact_cache as ac
store = ac.ArtifactStore(sys.argv[1])
for n in range(5):
    store.save("proc", n * 10, key=f"k{n}", tags={"round": sys.argv[2]})
"""

LISTER = """
import json, sys
import artifact_cache as ac
store = ac.ArtifactStore(sys.argv[1])
print(json.dumps(sorted((i.key, i.tags["round"]) for i in store.list())))
print(json.dumps(store.get("proc", key="k3")))
"""


def test_new_process_lists_what_another_process_rewrote(tmp_path: Path) -> None:
    """A process started after another rewrote records (the index was brought up to date
    before, by a third) lists and loads the new ones."""
    url = str(tmp_path / "s")
    assert _python(REWRITER, url, "1").returncode == 0
    assert len(ac.ArtifactStore(url).list()) == 5  # indexes the first round
    _age(tmp_path / "s" / "refs" / "proc")
    assert len(ac.ArtifactStore(url).list()) == 5  # indexed again, at a settled time
    done = _python(REWRITER, url, "2")
    assert done.returncode == 0, done.stderr
    listed = _python(LISTER, url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert json.loads(lines[0]) == [[f"k{n}", "2"] for n in range(5)]
    assert json.loads(lines[1]) == 30


def test_cold_listing_parses_no_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that has parsed nothing lists from the fields the index checked when it read
    each file: no record is parsed or checked again (an invalid one is, for its warning)."""

    store = ac.ArtifactStore(str(tmp_path / "s"))
    for n in range(20):
        store.save(f"step{n % 3}", n, key=f"k{n}", tags={"n": str(n)})
    bad = _write_record(store, store.info("step0", key="k0"), "step0", "bad")
    bad.write_text("{not json")
    with pytest.warns(UserWarning, match="skipping a record"):
        assert len(store.list()) == 20
    checks = _count_checks(monkeypatch)
    cold = ac.ArtifactStore(str(tmp_path / "s"))
    with pytest.warns(UserWarning, match="skipping a record"):
        listed = cold.list()
    assert sorted(int(i.tags["n"]) for i in listed) == list(range(20))
    with pytest.warns(UserWarning, match="skipping a record"):
        assert len(cold.list(tags={"n": "7"})) == 1
    assert checks[0] == 0  # (the invalid record is not JSON: refused before any check)
