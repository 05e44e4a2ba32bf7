"""store.list's filters (type, created_after/before, limit, with tags and prefix) on every
backend, their checks, and ``artifact-cache ls`` with the same filters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from procs import run_cli as run

import artifact_cache as ac
from artifact_cache.info import ArtifactInfo

UTC = dt.UTC
DAY1 = dt.datetime(2026, 1, 1, tzinfo=UTC)


def at(store: ac.ArtifactStore, info: ArtifactInfo, created: dt.datetime) -> ArtifactInfo:
    """Rewrite a saved artifact's record with another creation time (as an earlier save
    would have written it)."""
    moved = ArtifactInfo.from_dict(dict(info.to_dict(), created=created.isoformat()))
    store._storage.put_record(info.step_id, info.key, moved.to_json())
    return moved


def steps(infos: list[ArtifactInfo]) -> list[str]:
    return [i.step_id for i in infos]


@pytest.fixture
def dated(store: ac.ArtifactStore) -> ac.ArtifactStore:
    """Five artifacts of four types, created one day apart (Jan 1 to Jan 5, 2026)."""
    values: list[tuple[str, Any, dict[str, str]]] = [
        ("raw/orders", pd.DataFrame({"a": [1, 2, 3]}), {"stage": "raw"}),
        ("raw/customers", pd.DataFrame({"b": [4.0]}), {"stage": "raw"}),
        ("features", np.arange(4.0), {"stage": "prep"}),
        ("model", {"w": [0.5]}, {"stage": "final"}),
        ("report", {"rows": 3}, {"stage": "final"}),
    ]
    for n, (step, value, tags) in enumerate(values):
        at(store, store.save(step, value, tags=tags), DAY1 + dt.timedelta(days=n))
    return store


class TestFilters:
    def test_no_filter_lists_everything_newest_first(self, dated: ac.ArtifactStore) -> None:
        assert steps(dated.list()) == [
            "report",
            "model",
            "features",
            "raw/customers",
            "raw/orders",
        ]

    def test_type_by_public_name_full_name_bare_name_and_class(
        self, dated: ac.ArtifactStore
    ) -> None:
        """A type matches its recorded name, its public name, its class name or the class."""
        frames = ["raw/customers", "raw/orders"]
        recorded = dated.info("raw/orders").python_type
        assert recorded == f"{pd.DataFrame.__module__}.{pd.DataFrame.__qualname__}"
        assert steps(dated.list(type=recorded)) == frames
        assert steps(dated.list(type="pandas.DataFrame")) == frames
        assert steps(dated.list(type="pandas.core.frame.DataFrame")) == frames
        assert steps(dated.list(type="DataFrame")) == frames
        assert steps(dated.list(type=pd.DataFrame)) == frames
        assert steps(dated.list(type=np.ndarray)) == ["features"]
        assert steps(dated.list(type="builtins.dict")) == ["report", "model"]
        assert steps(dated.list(type=dict)) == ["report", "model"]
        assert dated.list(type="polars.DataFrame") == []
        assert dated.list(type="pandas.Series") == []

    def test_created_range_is_half_open(self, dated: ac.ArtifactStore) -> None:
        """created_after is inclusive, created_before exclusive: days add up without overlap."""
        jan2, jan4 = DAY1 + dt.timedelta(days=1), DAY1 + dt.timedelta(days=3)
        assert steps(dated.list(created_after=jan4)) == ["report", "model"]
        assert steps(dated.list(created_before=jan2)) == ["raw/orders"]
        between = dated.list(created_after=jan2, created_before=jan4)
        assert steps(between) == ["features", "raw/customers"]

    def test_times_as_text_naive_and_dates_are_utc(self, dated: ac.ArtifactStore) -> None:
        """ISO text, naive datetimes and dates all mean UTC; an offset is converted."""
        expected = ["report", "model"]
        assert steps(dated.list(created_after="2026-01-04")) == expected
        assert steps(dated.list(created_after="2026-01-04T00:00:00")) == expected
        assert steps(dated.list(created_after=dt.datetime(2026, 1, 4))) == expected
        assert steps(dated.list(created_after=dt.date(2026, 1, 4))) == expected
        # 01:00 at +01:00 is midnight UTC.
        assert steps(dated.list(created_after="2026-01-04T01:00:00+01:00")) == expected
        assert steps(dated.list(created_after="2026-01-04T00:00:01")) == ["report"]

    def test_limit_keeps_the_newest(self, dated: ac.ArtifactStore) -> None:
        assert steps(dated.list(limit=2)) == ["report", "model"]
        assert dated.list(limit=0) == []
        assert len(dated.list(limit=100)) == 5

    def test_filters_combine(self, dated: ac.ArtifactStore) -> None:
        """Every filter narrows the others' answer; limit counts what passes them all."""
        assert steps(dated.list("raw/", type="DataFrame", limit=1)) == ["raw/customers"]
        assert steps(dated.list(type=dict, tags={"stage": "final"}, limit=1)) == ["report"]
        assert steps(dated.list(type=dict, created_before="2026-01-05")) == ["model"]
        early = dated.list(tags={"stage": "raw"}, created_after="2026-01-02", type="DataFrame")
        assert steps(early) == ["raw/customers"]
        assert steps(dated.list(tags={"stage": "prep"}, type=np.ndarray, limit=5)) == ["features"]
        assert dated.list("raw/", type=dict) == []
        # limit after a type filter: the newest of that type, not of all.
        assert steps(dated.list(type="DataFrame", limit=1)) == ["raw/customers"]
        everything = dict(
            tags={"stage": "final"},
            type="builtins.dict",
            created_after="2026-01-04",
            created_before="2026-01-06",
            limit=1,
        )
        assert steps(dated.list(**everything)) == ["report"]  # type: ignore[arg-type]

    def test_a_filtered_listing_sees_a_later_save(self, dated: ac.ArtifactStore) -> None:
        """Filters answer from fresh records (the listing memo is per query)."""
        assert steps(dated.list(type=dict, limit=1)) == ["report"]
        dated.save("summary", {"n": 1})
        assert steps(dated.list(type=dict, limit=1)) == ["summary"]
        assert steps(dated.list(created_before="2026-01-02")) == ["raw/orders"]


class TestBadFilters:
    @pytest.mark.parametrize(
        ("options", "words"),
        [
            ({"created_after": "last tuesday"}, "created_after"),
            ({"created_before": 12345}, "created_before"),
            ({"limit": -1}, "limit"),
            ({"limit": 2.5}, "limit"),
            ({"limit": True}, "limit"),
            ({"type": 3}, "type"),
            ({"type": "  "}, "type"),
        ],
    )
    def test_refused_before_any_io(
        self, mem_store: ac.ArtifactStore, options: dict[str, Any], words: str
    ) -> None:
        """A bad filter is an InvalidQueryError (a ValueError) naming it and the store."""
        mem_store.save("x", 1)
        with pytest.raises(ac.InvalidQueryError, match=words) as exc:
            mem_store.list(**options)
        assert isinstance(exc.value, ValueError)
        assert mem_store.location in str(exc.value)
        assert steps(mem_store.list()) == ["x"]  # nothing changed


class TestIndexedFilters:
    def test_limit_and_time_parse_only_the_records_they_keep(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """On an indexed store, time and limit filters pick index rows before parsing."""
        store = ac.open_store(str(tmp_path / "s"))
        for n in range(20):
            at(store, store.save(f"s{n:02d}", n + 1000), DAY1 + dt.timedelta(hours=n))
        store.list()  # the index is up to date
        parsed: list[str] = []
        original = ac.ArtifactStore._record

        def counting(self: ac.ArtifactStore, step_id: str, key: str, data: bytes) -> Any:
            parsed.append(step_id)
            return original(self, step_id, key, data)

        monkeypatch.setattr(ac.ArtifactStore, "_record", counting)
        import artifact_cache.listing as listing_module

        monkeypatch.setattr(listing_module, "_parsed", {})  # nothing parsed before counts
        # The index builds the records it kept checked (none parsed at all), or parses
        # only those the filters keep: never one they drop.
        assert steps(store.list(limit=3)) == ["s19", "s18", "s17"]
        assert set(parsed) <= {"s17", "s18", "s19"}
        parsed.clear()
        assert steps(store.list(created_before=DAY1 + dt.timedelta(hours=2))) == ["s01", "s00"]
        assert set(parsed) <= {"s00", "s01"}


class TestCommandLine:
    @pytest.fixture(params=["local", "s3"])
    def url(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        url = (
            str(tmp_path / "store")
            if request.param == "local"
            else request.getfixturevalue("s3_url")
        )
        store = ac.open_store(url)
        for n, (step, value) in enumerate(
            [("a", [1]), ("b", {"x": 1}), ("c", {"y": 2}), ("d", "text")]
        ):
            at(store, store.save(step, value), DAY1 + dt.timedelta(days=n))
        return str(url)

    def ls(self, url: str, *options: str) -> list[str]:
        proc = run("ls", "--store", url, "--json", *options)
        assert proc.returncode == 0, proc.stderr
        return [r["step_id"] for r in json.loads(proc.stdout)]

    def test_ls_filters(self, url: str) -> None:
        assert self.ls(url) == ["d", "c", "b", "a"]
        assert self.ls(url, "--type", "builtins.dict") == ["c", "b"]
        assert self.ls(url, "--type", "dict", "--limit", "1") == ["c"]
        assert self.ls(url, "--after", "2026-01-02", "--before", "2026-01-04") == ["c", "b"]
        assert self.ls(url, "--before", "2026-01-02T00:00:00+00:00") == ["a"]
        assert self.ls(url, "--limit", "2") == ["d", "c"]
        table = run("ls", "--store", url, "--type", "str")
        assert table.returncode == 0, table.stderr
        rows = table.stdout.splitlines()
        assert rows[0].split()[:3] == ["STEP", "ID", "KEY"] and len(rows) == 2
        assert rows[1].split()[0] == "d"

    def test_bad_filter_values_are_usage_errors(self, url: str) -> None:
        for options in (["--after", "yesterday"], ["--limit", "-2"], ["--limit", "two"]):
            proc = run("ls", "--store", url, *options)
            assert proc.returncode == 2, (options, proc.stderr)
            assert "Traceback" not in proc.stderr
            assert "error:" in proc.stderr.strip().splitlines()[-1]
