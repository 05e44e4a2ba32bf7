"""serializer="parquet": DataFrames and arrow Tables as plain Parquet files, on every backend."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_bad_input import _corrupt

import artifact_cache as ac


def _frame(rows: int) -> pd.DataFrame:
    """Dtypes and an index that Parquet keeps only with pandas' metadata."""
    return pd.DataFrame(
        {
            "units": np.arange(rows, dtype=np.int32),
            "price": np.linspace(0.5, 99.5, rows),
            "region": pd.Categorical(
                ["north", "south", "east"] * (rows // 3) + ["west"] * (rows % 3)
            ),
            "when": pd.date_range("2026-01-01", periods=rows, freq="h", tz="UTC"),
            "sold": pd.array([True, False, None] * (rows // 3) + [True] * (rows % 3), "boolean"),
            "note": [f"row {i}" for i in range(rows)],
        },
        index=pd.Index([f"id-{i:06d}" for i in range(rows)], name="row_id"),
    )


def _pandas_round_trip(df: pd.DataFrame) -> pd.DataFrame:
    """What pandas' own to_parquet/read_parquet give back."""
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow")
    return pd.read_parquet(io.BytesIO(buf.getvalue()), engine="pyarrow")


# Small frames travel inside their record, large ones in objects/: both are checked.
SIZES = pytest.mark.parametrize("rows", [20, 5_000], ids=["inline", "file"])


class TestRoundTrip:
    @SIZES
    def test_dataframe(self, store: ac.ArtifactStore, rows: int) -> None:
        """A DataFrame comes back a DataFrame, index and dtypes as pandas' round trip."""
        df = _frame(rows)
        info = store.save("sales", df, serializer="parquet")
        assert (info.inline is not None) == (rows == 20)
        assert info.serializer == "parquet" and info.python_type == "pandas.DataFrame"
        assert info.mime_type == "application/vnd.apache.parquet"
        out = store.get("sales")
        assert type(out) is pd.DataFrame
        pd.testing.assert_frame_equal(out, _pandas_round_trip(df))
        pd.testing.assert_frame_equal(out, df)  # and so, for these dtypes, the frame saved
        assert out.index.name == "row_id" and out["region"].dtype == "category"

    @SIZES
    def test_any_tool_reads_the_payload(self, store: ac.ArtifactStore, rows: int) -> None:
        """pd.read_parquet and pyarrow read store.open(...) as any Parquet file."""
        df = _frame(rows)
        store.save("sales", df, serializer="parquet")
        with store.open("sales") as f:
            pd.testing.assert_frame_equal(pd.read_parquet(f), df)
        with store.open("sales") as f:
            table = pq.read_table(f)
        assert table.num_rows == rows and "row_id" in table.column_names
        with store.open("sales") as f:
            data = f.read()
        assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"

    def test_arrow_table(self, store: ac.ArtifactStore) -> None:
        """A pyarrow Table comes back a Table, schema metadata included."""
        table = pa.table(
            {"x": pa.array(np.arange(10_000)), "y": pa.array(["a", "b"] * 5_000)}
        ).replace_schema_metadata({"source": "crm"})
        info = store.save("table", table, serializer="parquet")
        assert info.python_type == "pyarrow.lib.Table"
        out = store.get("table")
        assert type(out) is pa.Table
        assert out.equals(table) and out.schema.metadata == {b"source": b"crm"}

    def test_a_table_made_from_pandas_stays_a_table(self, store: ac.ArtifactStore) -> None:
        """The record's type decides, not the pandas metadata inside the file."""
        table = pa.Table.from_pandas(_frame(30))
        store.save("table", table, serializer="parquet")
        out = store.get("table")
        buf = io.BytesIO()
        pq.write_table(table, buf)  # what pyarrow's own round trip gives
        assert type(out) is pa.Table and out.equals(pq.read_table(io.BytesIO(buf.getvalue())))

    def test_polars(self, store: ac.ArtifactStore) -> None:
        """A polars DataFrame comes back a polars DataFrame."""
        frame = pl.DataFrame({"a": list(range(3_000)), "b": ["x", "y", "z"] * 1_000})
        store.save("frame", frame, serializer="parquet")
        out = store.get("frame")
        assert type(out) is pl.DataFrame and out.equals(frame)
        with store.open("frame") as f:
            assert pl.read_parquet(f).equals(frame)

    def test_pickle_is_still_the_default(self, store: ac.ArtifactStore) -> None:
        """Without serializer=, a DataFrame is pickled as before (not Parquet)."""
        df = _frame(5_000)
        info = store.save("sales", df)
        assert info.serializer == "pickle" and info.compression is None
        pd.testing.assert_frame_equal(store.get("sales"), df)
        with store.open("sales") as f:
            assert f.read(4) == b"ACP1"

    def test_equal_frames_share_one_payload(self, store: ac.ArtifactStore) -> None:
        """Parquet bytes are deterministic: saving an equal frame stores no new payload."""
        first = store.save("a", _frame(5_000), serializer="parquet")
        second = store.save("b", _frame(5_000), serializer="parquet")
        assert first.digest == second.digest

    def test_memoised_step(self, store: ac.ArtifactStore) -> None:
        """@store.step(serializer="parquet") saves and serves a DataFrame as Parquet."""
        calls = []

        @store.step("frame", serializer="parquet")
        def make(rows: int) -> pd.DataFrame:
            calls.append(rows)
            return _frame(rows)

        pd.testing.assert_frame_equal(make(40), _frame(40))
        pd.testing.assert_frame_equal(make(40), _frame(40))
        assert calls == [40]
        assert store.info("frame").serializer == "parquet"


class TestRefused:
    def test_other_objects(self, store: ac.ArtifactStore) -> None:
        """A dict is refused naming the step, the store and what parquet takes; nothing
        is written and the previous artifact stays."""
        store.save("cfg", _frame(5), serializer="parquet")
        with pytest.raises(ac.SerializationError) as err:
            store.save("cfg", {"a": [1, 2]}, serializer="parquet")
        text = str(err.value)
        assert "'cfg'" in text and store.location in text
        assert "builtins.dict" in text and "pandas DataFrames" in text
        assert type(store.get("cfg")) is pd.DataFrame

    def test_subclasses(self, mem_store: ac.ArtifactStore) -> None:
        """A DataFrame subclass would not come back as itself: refused."""

        class Frame(pd.DataFrame):
            pass

        with pytest.raises(ac.SerializationError, match="pickle it instead"):
            mem_store.save("sub", Frame({"a": [1]}), serializer="parquet")
        assert not mem_store.exists("sub")

    def test_compress(self, mem_store: ac.ArtifactStore) -> None:
        """compress= does not apply: Parquet compresses its column chunks itself."""
        with pytest.raises(ac.SerializationError, match="column chunks") as err:
            mem_store.save("sales", _frame(5), serializer="parquet", compress="gzip")
        assert "'sales'" in str(err.value) and mem_store.location in str(err.value)
        assert not mem_store.exists("sales")

    @pytest.mark.parametrize("how", ["flip", "truncate"])
    def test_damaged_payload(self, store: ac.ArtifactStore, how: str) -> None:
        """A truncated or altered Parquet payload raises IntegrityError (the digest is
        checked before Parquet is read)."""
        info = store.save("sales", _frame(5_000), serializer="parquet")
        _corrupt(store, info.digest, how)
        with pytest.raises(ac.IntegrityError) as err:
            store.get("sales")
        assert "'sales'" in str(err.value) and store.location in str(err.value)


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_without_pyarrow(tmp_path: Path) -> None:
    """Where pyarrow is missing, saving and loading a DataFrame as Parquet name the
    parquet extra, the step and the store; the record, the raw bytes and polars still work."""
    url = str(tmp_path / "store")
    store = ac.open_store(url)
    store.save("sales", _frame(3_000), serializer="parquet")
    code = f"""
import sys
sys.modules["pyarrow"] = None
import artifact_cache as ac
store = ac.open_store({url!r})
for call in (lambda: store.get("sales"),
             lambda: store.save("again", __import__("pandas").DataFrame({{"a": [1]}}),
                                serializer="parquet")):
    try:
        call()
    except ac.MissingDependencyError as exc:
        print("MISSING:", exc)
print("TYPE:", store.info("sales").python_type)
with store.open("sales") as f:
    print("HEAD:", f.read(4))
import polars as pl
store.save("pl", pl.DataFrame({{"a": [1, 2]}}), serializer="parquet")
print("POLARS:", store.get("pl")["a"].to_list())
"""
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    missing = [line for line in proc.stdout.splitlines() if line.startswith("MISSING:")]
    assert len(missing) == 2, proc.stdout
    for line, step in zip(missing, ("sales", "again"), strict=True):
        assert "artifact-cache[parquet]" in line and "pyarrow" in line
        assert f"'{step}'" in line and url in line
    assert "TYPE: pandas.DataFrame" in proc.stdout
    assert "HEAD: b'PAR1'" in proc.stdout
    assert "POLARS: [1, 2]" in proc.stdout
    assert not store.exists("again")


def test_import_loads_no_dataframe_library() -> None:
    """import artifact_cache (and opening a store) imports no pyarrow, pandas or polars."""
    code = (
        "import sys, artifact_cache as ac; ac.open_store('memory://light-parquet');"
        "print(sorted({'pyarrow', 'pandas', 'polars', 'numpy'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_cli_and_widget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ls, info and the browser's details and preview handle Parquet and compressed
    artifacts: the record says how the payload is stored, the preview shows the value."""
    from artifact_cache.cli import main

    url = str(tmp_path / "store")
    store = ac.open_store(url)
    store.save("sales", _frame(5_000), serializer="parquet")
    store.save("rows", [f"row {i}" for i in range(5_000)], compress="zstd")
    assert main(["--store", url, "ls"]) == 0
    listing = capsys.readouterr().out
    assert "pandas.DataFrame" in listing and "builtins.list" in listing
    assert main(["--store", url, "info", "rows"]) == 0
    assert "compression: zstd" in capsys.readouterr().out
    assert main(["--store", url, "info", "sales"]) == 0
    assert "parquet (application/vnd.apache.parquet)" in capsys.readouterr().out

    browser = store.browse()
    browser.select("sales")
    assert "parquet" in browser.detail.value
    browser.preview_button.click()
    assert "(5000, 6)" in browser.preview.value and "id-000009" in browser.preview.value
    browser.select("rows")
    assert "zstd-compressed" in browser.detail.value
    browser.preview_button.click()
    assert "row 0" in browser.preview.value and not browser.error.value
