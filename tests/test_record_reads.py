"""Reading a record back: a record this process wrote, or read before with the same
bytes, is not parsed again, and what comes back is what parsing its file gives."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

import artifact_cache as ac
from artifact_cache import info as info_module
from artifact_cache.fingerprint.recipe import KeyRecipe
from artifact_cache.info import ArtifactInfo


class Text(str):
    """A str subclass: written as text, read back as a plain str."""


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    checks = [0]
    real = info_module._checked

    def counted(data: Any) -> Any:
        checks[0] += 1
        return real(data)

    monkeypatch.setattr(info_module, "_checked", counted)
    return checks


def _fields(info: ArtifactInfo) -> list[tuple[Any, type]]:
    return [
        (getattr(info, a.name), type(getattr(info, a.name))) for a in attrs.fields(ArtifactInfo)
    ]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"tags": {"b": "2", "a": "1"}, "mime_type": "text/x", "duration": 1.25},
        {"duration": 3},  # an int: read back as a float
        {"mime_type": Text("text/y"), "args_repr": Text("f(1)")},
        {"extra": {"t": (1, 2), "n": {"x": None}}},  # a tuple: read back as a list
        {"inputs": [ac.ArtifactRef(step_id="up", key="default", digest="ab" * 16)]},
        {"code_fingerprint": "c" * 32, "duration": 0.0},
    ],
)
def test_read_back_is_what_its_file_gives(tmp_path: Path, options: dict[str, Any]) -> None:
    """(A value reading would refuse, such as a NaN duration, is refused by the save
    itself: test_bad_input.py.)"""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save("step", {"v": 1}, key="k", **options)
    text = Path(store._storage.record_path("step", "k")).read_bytes()
    parsed = ArtifactInfo.from_dict(json.loads(text))
    read = store.info("step", key="k")
    assert _fields(read) == _fields(parsed)
    assert read.to_json() == parsed.to_json()
    assert store.get("step", key="k") == {"v": 1}


def test_plain_saves_read_back_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = _count_checks(monkeypatch)
    store = ac.ArtifactStore(str(tmp_path / "s"), signing_key="key")
    for n in range(20):
        store.save("step", {"n": n}, key=f"k{n}", tags={"n": str(n)})
    assert [store.get("step", key=f"k{n}") for n in range(20)] == [{"n": n} for n in range(20)]
    assert store.info("step", key="k3").tags == {"n": "3"}
    assert checks[0] == 0


def _change(mapping: Any) -> None:
    """Every way of changing a mapping in place: each is refused on a record's."""
    for change in (
        lambda m: m.__setitem__("a", "changed"),
        lambda m: m.__delitem__("a"),
        lambda m: m.update(a="changed"),
        lambda m: m.setdefault("new", "1"),
        lambda m: m.pop("a"),
        lambda m: m.popitem(),
        lambda m: m.clear(),
        lambda m: m.__ior__({"a": "changed"}),
    ):
        with pytest.raises(TypeError, match="cannot be changed"):
            change(mapping)


def test_shared_records_stay_unchanged(tmp_path: Path) -> None:
    """A record's tags and extra fields cannot be changed, as the record cannot: records
    are shared (a listing in this process returns the same ones while no folder
    changed), so a change would show in every other reader's. A copy can be changed."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save("step", 1, tags={"a": "1"}, extra={"a": 1})
    for folder in ("refs", "refs/step"):
        past = time.time() - 60  # settled: listings in this process are kept
        os.utime(tmp_path / "s" / folder, (past, past))
    store.list()  # (indexes the folders)
    listed = store.list()[0]
    assert store.list()[0] is listed  # (the same record object, kept)
    saved = store.save("other", 2, tags={"a": "1"})
    for first in (listed, store.info("step", key="default"), saved):
        _change(first.tags)
        if first.extra:
            _change(first.extra)
        mine = first.tags.copy()
        mine["a"] = "changed"
        assert dict(first.tags) | {"b": "2"} == {"a": "1", "b": "2"}
        assert first.tags == {"a": "1"} and type(mine) is dict
    listed_now = [(i.step_id, i.tags, i.extra) for i in store.list()]
    assert listed_now == [("other", {"a": "1"}, {}), ("step", {"a": "1"}, {"a": 1})]
    assert store.info("step", key="default").tags == {"a": "1"}
    assert store.get("step", key="default") == 1


def test_read_only_mappings_copy_pickle_and_dump_as_dicts(tmp_path: Path) -> None:
    """A record with its read-only mappings pickles (as Dask and multiprocessing send
    it), copies and dumps to JSON like one with plain dicts; a record made by hand keeps
    no reference to the caller's dicts."""
    import copy
    import pickle

    import cloudpickle

    tags, extra = {"b": "2", "a": "1"}, {"later": {"n": [1, 2]}}
    info = ArtifactInfo(step_id="s", key="k", digest="ab" * 16, size=1, serializer="json",
                        python_type="builtins.int", tags=tags, extra=extra)  # fmt: skip
    tags["c"] = "3"
    extra["other"] = 1
    assert info.tags == {"a": "1", "b": "2"} and list(info.tags) == ["a", "b"]
    assert info.extra == {"later": {"n": [1, 2]}}
    for again in (
        pickle.loads(pickle.dumps(info)),
        cloudpickle.loads(cloudpickle.dumps(info)),
        copy.deepcopy(info),
        copy.copy(info),
    ):
        assert again == info and type(again.tags) is type(info.tags)
        _change(again.tags)
    assert json.loads(json.dumps(info.tags)) == {"a": "1", "b": "2"}
    assert isinstance(info.tags, dict) and ArtifactInfo.from_json(info.to_json()) == info


def test_record_rewritten_elsewhere_is_read_again(tmp_path: Path) -> None:
    """A record replaced by another writer (same size) is read afresh, never from memory."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save("step", 1, key="k")
    other = ac.ArtifactStore(str(tmp_path / "s"))
    assert other.get("step", key="k") == 1
    other.save("step", 2, key="k")
    assert store.get("step", key="k") == 2
    assert store.info("step", key="k").size == other.info("step", key="k").size


def test_names_of_a_str_subclass_read_back_as_str(tmp_path: Path) -> None:
    store = ac.ArtifactStore(str(tmp_path / "s"))
    store.save(Text("step"), 1, key=Text("k"))
    read = store.info("step", key="k")
    assert type(read.step_id) is str and type(read.key) is str
    assert store.get("step", key="k") == 1


def test_parsed_records_are_bounded_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The records kept parsed are bounded in count and in bytes; the oldest go first,
    and a record that went is parsed again when read."""
    kept = info_module._ParsedRecords()
    monkeypatch.setattr(kept, "MAX_ITEMS", 3)
    monkeypatch.setattr(info_module, "_parsed", kept)
    infos = [
        ArtifactInfo(step_id="s", key=f"k{n}", digest="ab" * 16, size=n, serializer="json",
                     python_type="builtins.int")
        for n in range(5)
    ]  # fmt: skip
    raws = [i.to_json().encode() for i in infos]
    for raw, info in zip(raws, infos, strict=True):
        info_module.keep_checked(raw, info)
    assert [kept.get(r) for r in raws[:2]] == [None, None]
    assert [kept.get(r) for r in raws[2:]] == infos[2:]
    assert kept._total == sum(map(len, raws[2:]))
    monkeypatch.setattr(kept, "MAX_TOTAL", len(raws[4]))  # now bounded by bytes (and one)
    info_module.keep_checked(raws[0], infos[0])
    assert [r for r in raws if kept.get(r) is not None] == [raws[0], raws[4]]
    checks = _count_checks(monkeypatch)
    assert info_module.checked_record(raws[3]) == infos[3] and checks == [1]
    assert info_module.checked_record(raws[0]) == infos[0] and checks == [1]


def test_a_records_mappings_given_as_tags_are_made_text(tmp_path: Path) -> None:
    """Another record's read-only ``extra`` given as ``tags`` is converted as any
    mapping is (keys and values as text, sorted): every reader reads the record."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    source = store.save("src", 1, extra={"n": 1, "b": [1]})
    info = store.save("x", 2, tags=source.extra)  # type: ignore[arg-type]
    assert dict(info.tags) == {"b": "[1]", "n": "1"} and list(info.tags) == ["b", "n"]
    fresh = ac.ArtifactStore(str(tmp_path / "s"))
    assert fresh.info("x").tags == info.tags
    assert [i.tags for i in fresh.list() if i.step_id == "x"] == [info.tags]


def test_recipes_cannot_be_changed_either(tmp_path: Path) -> None:
    """A memoised record's recipe (what explain() compares) is as immutable as the
    record: a change to one reader's would show in every other's."""
    store = ac.ArtifactStore(str(tmp_path / "s"))

    @store.step
    def double(x: int) -> int:
        return 2 * x

    info = double.call(3).info
    again = store.info(info.step_id, key=info.key)
    for recipe in (info.recipe, again.recipe, ArtifactInfo.from_json(again.to_json()).recipe):
        assert recipe is not None and recipe.arguments
        for mapping in (recipe.arguments, recipe.code_parts):
            with pytest.raises(TypeError, match="cannot be changed"):
                mapping["x"] = "changed"  # type: ignore[index]
    assert store.info(info.step_id, key=info.key).recipe == info.recipe


def _change_list(items: Any) -> None:
    """Every way of changing a list in place: each is refused inside a record."""
    for change in (
        lambda x: x.__setitem__(0, "changed"),
        lambda x: x.__delitem__(0),
        lambda x: x.__iadd__([1]),
        lambda x: x.__imul__(2),
        lambda x: x.append(1),
        lambda x: x.extend([1]),
        lambda x: x.insert(0, 1),
        lambda x: x.pop(),
        lambda x: x.remove(items[0]),
        lambda x: x.clear(),
        lambda x: x.sort(),
        lambda x: x.reverse(),
    ):
        with pytest.raises(TypeError, match="cannot be changed"):
            change(items)


def test_nested_parts_of_a_record_cannot_be_changed_either(tmp_path: Path) -> None:
    """The lists and dicts inside a record's unknown fields, its recipe's and its inputs'
    are read-only too, at any depth: every reader of the same record text shares them.
    Before, a change to one (through ``to_dict()``, whose nested parts were the record's
    own) showed in every later read of the unchanged file. ``to_dict()`` gives new dicts
    and lists to change; the record's text, fingerprint and equality are unchanged."""
    store = ac.ArtifactStore(str(tmp_path / "s"))
    source = ac.ArtifactRef(step_id="raw", key="default", digest="ab" * 16)
    recipe = KeyRecipe(identity="m:f", extra={"future": {"a": [1]}})
    extra = {"meta": [1, {"deep": [2, 3]}], "pair": (4, [5])}
    saved = store.save("x", 1, inputs=[source], extra=extra, recipe=recipe)
    text = Path(store._storage.record_path("x", "default")).read_text()
    read = store.info("x")
    for info in (saved, read, ac.ArtifactStore(str(tmp_path / "s")).list()[0]):
        _change_list(info.extra["meta"])
        _change_list(info.extra["meta"][1]["deep"])
        _change(info.extra["meta"][1])
        _change(info.recipe.extra["future"])
        _change_list(info.recipe.extra["future"]["a"])
        form = info.to_dict()
        form["meta"][1]["deep"].append(9)
        form["recipe"]["future"]["a"].append(9)
        assert type(form["meta"]) is list and type(form["meta"][1]) is dict
        mine = info.recipe.to_dict()
        mine["future"]["a"].append(9)
        assert info.extra["meta"] == [1, {"deep": [2, 3]}]
        assert info.recipe.extra["future"] == {"a": [1]}
    assert Path(store._storage.record_path("x", "default")).read_text() == text
    again = store.info("x")
    assert again.extra["meta"] == [1, {"deep": [2, 3]}] and again.to_json() == read.to_json()
    assert ac.fingerprint(again.extra) == ac.fingerprint(
        {"meta": [1, {"deep": [2, 3]}], "pair": [4, [5]]}
    )
    assert extra == {"meta": [1, {"deep": [2, 3]}], "pair": (4, [5])}  # (the caller's own)
    extra["meta"].append("later")
    assert saved.extra["meta"] == [1, {"deep": [2, 3]}]


def test_a_pipeline_keys_on_what_was_saved_whatever_a_reader_changes(tmp_path: Path) -> None:
    """A pipeline keys a step on its input's output fingerprint, kept in the input's
    record: a reader changing that record's parts (here through ``to_dict()``) cannot
    make a later run take another input's result."""
    from artifact_cache.pipeline import Pipeline, Step

    store = ac.ArtifactStore(str(tmp_path / "s"))

    def run(n: int) -> Any:
        steps = [
            Step("extract", lambda n: list(range(n)), params={"n": n}),
            Step("total", sum, input_from="extract"),
        ]
        return Pipeline(store, steps).run()

    assert run(3).load("total") == 3
    old = store.info("extract").to_dict()["output_fingerprint"]["digest"]
    assert run(5).load("total") == 10
    exported = store.info("extract").to_dict()
    exported["output_fingerprint"]["digest"] = old  # (the first run's input)
    assert store.info("extract").to_dict()["output_fingerprint"]["digest"] != old
    again = run(5)
    assert again.load("total") == 10 and "total" in again.cached
