"""ArtifactBrowser through its widget objects (values set, buttons clicked), and the
HTML reprs of the store, a record and a list of records."""

from __future__ import annotations

import html
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import artifact_cache as ac
from artifact_cache.widget import ArtifactBrowser

HOSTILE = "<script>alert(1)</script>"


def visible(text: str, html_value: str) -> bool:
    """True if ``text`` is shown by the HTML (so it appears escaped in the source)."""
    return html.escape(text, quote=True) in html_value


def confirming(browser: ArtifactBrowser) -> bool:
    return browser.confirm_bar.layout.display != "none"


def fail_on_payload_reads(store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any read of a payload (through the store or its filesystem) fail the test."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"a payload was read: {args!r}")

    for name in ("load", "get", "open"):
        monkeypatch.setattr(store, name, forbidden)
    fs = store.fs
    for name in ("cat_file", "open"):
        original = getattr(fs, name)

        def guarded(path: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if "/objects/" in str(path):
                pytest.fail(f"a payload was read: {path}")
            return _original(path, *args, **kwargs)

        monkeypatch.setattr(fs, name, guarded)


@pytest.fixture
def filled(mem_store: ac.ArtifactStore) -> ac.ArtifactStore:
    """A memory store with five artifacts of different types, sizes and tags."""
    mem_store.save("extract", pd.DataFrame({"a": range(100), "b": ["x"] * 100}))
    mem_store.save("clean", np.arange(10.0), tags={"stage": "prep"})
    mem_store.save("deals/A/cim", "text " * 10, tags={"stage": "prep", "deal": "A"})
    mem_store.save("deals/B/cim", b"\x00" * 5000, tags={"deal": "B"})
    mem_store.save("report", {"rows": 3}, tags={"stage": "final"})
    return mem_store


class Cells(HTMLParser):
    """The text and alignment of every cell of the tables in some HTML, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.align: list[list[str]] = []
        self._text: list[str] | None = None

    @classmethod
    def of(cls, value: str) -> Cells:
        parser = cls()
        parser.feed(value)
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
            self.align.append([])
        elif tag in ("td", "th"):
            style = dict(attrs).get("style") or ""
            found = re.search(r"text-align:\s*(\w+)", style)
            self.align[-1].append(found.group(1) if found else "")
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._text is not None:
            self.rows[-1].append("".join(self._text).strip())
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def ids(browser: ArtifactBrowser) -> list[str]:
    return [i.step_id for i in browser.rows]


def chosen(browser: ArtifactBrowser) -> list[str]:
    return [i.step_id for i in browser.selected]


def table(browser: ArtifactBrowser) -> str:
    """The HTML the grid shows."""
    return str(browser.grid.html)


def from_frontend(browser: ArtifactBrowser, **message: Any) -> None:
    """Deliver a message as the grid's front end sends it on a click."""
    message.setdefault("generation", browser.grid.generation)
    browser.grid._handle_custom_msg(message, [])


class TestScreenshots:
    def test_the_docs_show_the_browser_tests_screenshots(self) -> None:
        """The README and the docs show the PNGs that tests/test_browser.py writes."""
        root = Path(__file__).resolve().parent.parent
        source = (root / "tests" / "test_browser.py").read_text()
        for name in ("browser.png", "browser-confirm.png"):
            assert f'"{name}"' in source  # taken by the browser test
            image = root / "docs" / "images" / name
            assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert "(docs/images/browser.png)" in (root / "README.md").read_text()
        for page in ("tutorial.md", "notebooks.md"):
            assert "(images/browser.png)" in (root / "docs" / page).read_text()


class TestImport:
    def test_import_does_not_load_ipywidgets(self) -> None:
        """Importing the package leaves ipywidgets unloaded; ArtifactBrowser loads it lazily."""
        code = (
            "import sys, artifact_cache as ac\n"
            "assert 'ipywidgets' not in sys.modules\n"
            "ac.ArtifactBrowser\n"
            "assert 'ipywidgets' in sys.modules\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_browse_returns_a_browser(self, mem_store: ac.ArtifactStore) -> None:
        """store.browse(**options) is ArtifactBrowser(store, **options), a displayable VBox."""
        browser = mem_store.browse(page_size=7)
        assert isinstance(browser, ac.ArtifactBrowser)
        assert browser.page_size == 7
        assert browser.store is mem_store
        assert "application/vnd.jupyter.widget-view+json" in browser._repr_mimebundle_()

    def test_page_size_must_be_positive(self, mem_store: ac.ArtifactStore) -> None:
        """A page size below 1 is refused."""
        with pytest.raises(ValueError, match="page_size"):
            ArtifactBrowser(mem_store, page_size=0)


class TestTable:
    def test_shows_what_is_in_the_store(self, store: ac.ArtifactStore) -> None:
        """Every artifact appears with its step id, key, type, size, created and tags."""
        store.save("extract", [1, 2, 3], tags={"source": "crm"})
        store.save("features", {"n": 3}, key="0123456789abcdef")
        browser = store.browse()
        assert ids(browser) == ["features", "extract"]  # newest first
        shown = table(browser)
        for text in ("extract", "features", "builtins.list", "builtins.dict", "source=crm"):
            assert visible(text, shown)
        assert "0123456789ab" in shown and "0123456789abcdef<" not in shown  # short key
        assert "just now" in shown
        size = ac.info.human_size(store.info("extract").size)
        assert visible(size, shown)
        assert visible(store.location, browser.header.value)
        assert "2 artifacts" in browser.header.value
        assert browser.error.value == ""

    def test_empty_store(self, mem_store: ac.ArtifactStore) -> None:
        """An empty store says so, and there is nothing to clear."""
        browser = mem_store.browse()
        assert browser.rows == []
        assert "No artifacts are stored here" in table(browser)
        assert browser.clear_button.disabled
        assert browser.page_label.value.startswith("page 1 of 1")

    def test_refresh_reads_the_store_again(self, mem_store: ac.ArtifactStore) -> None:
        """Artifacts saved after the browser was made appear on Refresh."""
        browser = mem_store.browse()
        mem_store.save("late", 1)
        assert browser.rows == []
        browser.refresh_button.click()
        assert ids(browser) == ["late"]
        assert "1 artifact " in browser.header.value

    def test_everything_shown_is_escaped(self, mem_store: ac.ArtifactStore) -> None:
        """Tags, argument reprs and type names are shown as text, never as markup."""

        def make() -> Any:
            class Local:  # its type name is "...make.<locals>.Local"
                pass

            return Local()

        mem_store.save("evil", make(), tags={"note": HOSTILE}, args_repr=f"x='{HOSTILE}'")
        browser = mem_store.browse()
        browser.select("evil")
        for value in (table(browser), browser.detail.value):
            assert "<script" not in value and "<locals>" not in value
        assert visible(HOSTILE, table(browser))
        assert visible("make.<locals>.Local", table(browser))
        assert visible(f"x='{HOSTILE}'", browser.detail.value)


class TestFilter:
    def test_typing_narrows_the_rows(self, filled: ac.ArtifactStore) -> None:
        """The step id box keeps rows containing the text, case-insensitively, as typed."""
        browser = filled.browse()
        assert len(browser.rows) == 5
        browser.filter_box.value = "deals/"
        assert sorted(ids(browser)) == ["deals/A/cim", "deals/B/cim"]
        browser.filter_box.value = "CIM"
        assert len(browser.rows) == 2
        browser.filter_box.value = "e"
        assert sorted(ids(browser)) == ["clean", "deals/A/cim", "deals/B/cim", "extract", "report"]
        browser.filter_box.value = "nothing-like-this"
        assert browser.rows == []
        assert "No artifacts match the filters" in table(browser)
        assert "0 of 5 artifacts" in browser.page_label.value

    def test_tag_filter(self, filled: ac.ArtifactStore) -> None:
        """``k=v`` keeps artifacts with that tag, ``k`` those having the tag at all."""
        browser = filled.browse()
        browser.tag_box.value = "stage=prep"
        assert sorted(ids(browser)) == ["clean", "deals/A/cim"]
        browser.tag_box.value = "stage=prep, deal=A"
        assert ids(browser) == ["deals/A/cim"]
        browser.tag_box.value = "deal"
        assert sorted(ids(browser)) == ["deals/A/cim", "deals/B/cim"]
        browser.filter_box.value = "B"
        assert ids(browser) == ["deals/B/cim"]
        browser.tag_box.value = ""
        browser.filter_box.value = ""
        assert len(browser.rows) == 5

    def test_filter_uses_the_listing_read_on_refresh(
        self, filled: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Filtering, sorting and paging never go back to the store."""
        browser = filled.browse(page_size=2)
        monkeypatch.setattr(filled, "list", lambda *a, **k: pytest.fail("store listed again"))
        browser.filter_box.value = "deals"
        browser.tag_box.value = "deal"
        browser.grid.click_header("size")
        browser.grid.click_header("size")
        browser.next_button.click()


class TestSort:
    def test_header_click_sorts_and_a_second_click_reverses(self, filled: ac.ArtifactStore) -> None:
        """A header sorts by its column (size largest first); clicking it again reverses."""
        browser = filled.browse()
        assert ids(browser) == ["report", "deals/B/cim", "deals/A/cim", "clean", "extract"]
        assert browser.sort_column == "created" and not browser.sort_ascending
        browser.grid.click_header("size")
        sizes = [i.size for i in browser.rows]
        assert sizes == sorted(sizes, reverse=True) and sizes != sorted(sizes)
        assert "data-col='size' aria-sort='descending'" in table(browser)
        browser.grid.click_header("size")
        assert [i.size for i in browser.rows] == sorted(sizes)
        assert "data-col='size' aria-sort='ascending'" in table(browser)
        assert "data-col='created' aria-sort='none'" in table(browser)
        browser.grid.click_header("step_id")  # text: A to Z first
        assert ids(browser) == ["clean", "deals/A/cim", "deals/B/cim", "extract", "report"]
        browser.grid.click_header("step_id")
        assert ids(browser) == ["report", "extract", "deals/B/cim", "deals/A/cim", "clean"]
        browser.grid.click_header("created")  # dates: newest first
        assert ids(browser) == ["report", "deals/B/cim", "deals/A/cim", "clean", "extract"]
        browser.grid.click_header("type")
        types = [i.python_type for i in browser.rows]
        assert types == sorted(types)

    def test_every_column_but_the_number_sorts(self, filled: ac.ArtifactStore) -> None:
        """Each data column has a clickable header; sort() refuses an unknown column."""
        browser = filled.browse()
        for column in browser.columns:
            assert f"data-col='{column}'" in table(browser)
            browser.sort(column, ascending=True)
            assert browser.sort_column == column and browser.sort_ascending
        assert browser.columns == ["step_id", "args", "key", "type", "size", "created", "tags"]
        with pytest.raises(ValueError, match="cannot sort by 'nope'"):
            browser.sort("nope")

    def test_sorting_goes_back_to_the_first_page(self, filled: ac.ArtifactStore) -> None:
        """A new order starts on page 1."""
        browser = filled.browse(page_size=2)
        browser.next_button.click()
        browser.grid.click_header("size")
        assert browser.page == 0
        largest = sorted(filled.list(), key=lambda i: i.size, reverse=True)[:2]
        assert browser.rows == largest

    def test_front_end_header_message(self, filled: ac.ArtifactStore) -> None:
        """The message the front end sends on a header click sorts; a bogus one is ignored."""
        browser = filled.browse()
        from_frontend(browser, event="header", column="size")
        assert browser.sort_column == "size"
        from_frontend(browser, event="header", column="<nope>")
        from_frontend(browser, event="bogus")
        assert browser.sort_column == "size" and browser.error.value == ""


class TestClicks:
    def test_click_selects_one_row(self, filled: ac.ArtifactStore) -> None:
        """A plain click selects that row alone and shows its record."""
        browser = filled.browse()
        browser.grid.click_row(1)
        assert chosen(browser) == ["deals/B/cim"]
        browser.grid.click_row(3)
        assert chosen(browser) == ["clean"]
        assert visible("clean", browser.detail.value)
        assert "data-row='3' tabindex='0' class='ac-selected'" in table(browser)

    def test_shift_click_selects_the_range(self, filled: ac.ArtifactStore) -> None:
        """Shift-click selects from the last clicked row to this one, either direction."""
        browser = filled.browse()
        browser.grid.click_row(1)
        browser.grid.click_row(3, shift=True)
        assert chosen(browser) == ["deals/B/cim", "deals/A/cim", "clean"]
        assert "3 artifacts selected" in browser.detail.value
        browser.grid.click_row(0, shift=True)  # the anchor stays on row 1
        assert chosen(browser) == ["report", "deals/B/cim"]
        assert table(browser).count("class='ac-selected'") == 2

    def test_shift_click_without_an_anchor_selects_one_row(self, filled: ac.ArtifactStore) -> None:
        """With nothing clicked yet, shift-click acts as a click."""
        browser = filled.browse()
        browser.grid.click_row(2, shift=True)
        assert chosen(browser) == ["deals/A/cim"]

    def test_ctrl_click_toggles_one_row(self, filled: ac.ArtifactStore) -> None:
        """Ctrl-click adds a row to the selection, or removes it if selected."""
        browser = filled.browse()
        browser.grid.click_row(0)
        browser.grid.click_row(2, toggle=True)
        browser.grid.click_row(4, toggle=True)
        assert chosen(browser) == ["report", "deals/A/cim", "extract"]
        browser.grid.click_row(2, toggle=True)
        assert chosen(browser) == ["report", "extract"]
        browser.grid.click_row(3, shift=True, toggle=True)  # ctrl+shift adds a range
        assert chosen(browser) == ["report", "deals/A/cim", "clean", "extract"]

    def test_front_end_row_message(self, filled: ac.ArtifactStore) -> None:
        """The front end's row message selects, with its modifier keys."""
        browser = filled.browse()
        from_frontend(browser, event="row", row=0, shift=False, toggle=False)
        from_frontend(browser, event="row", row=2, shift=True, toggle=False)
        assert chosen(browser) == ["report", "deals/B/cim", "deals/A/cim"]
        from_frontend(browser, event="row", row=1, shift=False, toggle=True)
        assert chosen(browser) == ["report", "deals/A/cim"]

    def test_click_on_an_older_drawing_is_ignored(self, filled: ac.ArtifactStore) -> None:
        """A click made before a filter redrew the rows cannot select another record."""
        browser = filled.browse()
        before = browser.grid.generation
        browser.grid.click_row(0)
        assert browser.grid.generation == before  # a new selection keeps the rows valid
        browser.filter_box.value = "deals"
        assert browser.grid.generation > before
        from_frontend(browser, event="row", row=1, generation=before, shift=False, toggle=False)
        assert browser.selected == []
        browser.grid.click_row(99)  # not a row: nothing happens
        assert browser.selected == []


class TestArguments:
    def test_rows_that_differ_by_arguments_are_told_apart(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        """Three artifacts of one step show their arguments in a column of their own."""

        @mem_store.step("fit")
        def fit(alpha: float, depth: int = 3) -> float:
            return alpha * depth

        for alpha in (0.1, 0.5, 1.0):
            fit(alpha)
        browser = mem_store.browse()
        assert ids(browser) == ["fit", "fit", "fit"]
        shown = table(browser)
        assert "<th class='ac-sortable' data-col='args'" in shown
        args = [i.args_repr for i in browser.rows]
        assert len(set(args)) == 3 and all(args)
        for text in args:
            assert visible(str(text), shown)
        browser.grid.click_header("args")
        assert [i.args_repr for i in browser.rows] == sorted(str(a) for a in args)

    def test_long_arguments_are_cut_in_the_table_only(self, mem_store: ac.ArtifactStore) -> None:
        """The table shows the start of a long argument list; its tooltip and record all."""
        long = "x=" + "9" * 500
        mem_store.save("s", 1, args_repr=long)
        browser = mem_store.browse()
        assert visible(long[:59] + "\u2026", table(browser))
        assert f"title='{long}'" in table(browser)
        browser.select(0)
        assert long in browser.detail.value


class TestPaging:
    @pytest.fixture
    def big(self, mem_store: ac.ArtifactStore) -> ac.ArtifactStore:
        for n in range(10_000):
            mem_store.save(f"batch{n % 100:02d}/item", n, key=f"k{n:05d}")
        return mem_store

    def test_ten_thousand_records_page_without_reading_payloads(
        self, big: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """10,000 artifacts list, filter and page quickly, and no payload is ever read."""
        fail_on_payload_reads(big, monkeypatch)
        started = time.perf_counter()
        browser = big.browse()
        assert "10,000 artifacts" in browser.header.value
        assert len(browser.rows) == 50
        assert browser.page_label.value.startswith("page 1 of 200")
        assert browser.prev_button.disabled and not browser.next_button.disabled
        first = browser.rows
        browser.next_button.click()
        assert browser.page == 1
        assert browser.page_label.value.startswith("page 2 of 200")
        assert not {i.key for i in first} & {i.key for i in browser.rows}
        assert "<td class='ac-right ac-muted'>51</td>" in table(browser)
        browser.prev_button.click()
        assert browser.rows == first
        for _ in range(199):
            browser.next_button.click()
        assert browser.page == 199 and browser.next_button.disabled
        browser.next_button.click()  # stays on the last page
        assert browser.page == 199
        assert len(browser.rows) == 50
        seen = {(i.step_id, i.key) for i in browser.matching}
        assert len(seen) == 10_000

        typed = time.perf_counter()
        browser.filter_box.value = "batch07"  # as typed: back to page 1
        assert time.perf_counter() - typed < 0.5
        assert browser.page == 0
        assert browser.page_label.value.startswith("page 1 of 2 · 100 of 10,000")
        browser.next_button.click()
        assert len(browser.rows) == 50 and browser.next_button.disabled
        browser.grid.click_header("key")  # text columns sort A to Z first
        assert browser.rows[0].key == "k00007"
        assert [i.key for i in browser.select(0, 1)] == ["k00007", "k00107"]
        assert time.perf_counter() - started < 10


class TestSelection:
    @pytest.mark.payload_files
    def test_select_shows_the_full_record(self, mem_store: ac.ArtifactStore) -> None:
        """Selecting one row shows every field of its record, without loading it."""
        parent = mem_store.save("extract", [1, 2])
        mem_store.save(
            "features",
            {"n": 2},
            inputs=[parent.ref],
            code_fingerprint="c0ffee1234",
            duration=1.25,
            args_repr="scale=2",
            tags={"team": "risk"},
        )
        browser = mem_store.browse()
        info = mem_store.info("features")
        assert browser.select("features") == [info]
        assert browser.selected == [info]
        detail = browser.detail.value
        for text in (
            info.digest,
            info.key,
            "pickle",
            "extract",
            parent.key,
            "scale=2",
            "c0ffee1234",
            "1.250 s",
            str(info.uri),
            "team=risk",
        ):
            assert visible(text, detail), text
        assert table(browser).count("ac-selected") == 1  # the selected row is highlighted
        assert not browser.preview_button.disabled
        assert browser.delete_button.description == "Delete selected (1)"
        assert browser.preview.value == ""

    def test_select_by_position_record_and_click(self, filled: ac.ArtifactStore) -> None:
        """select() takes positions, step ids or records, as clicks on rows do."""
        browser = filled.browse()
        rows = browser.rows
        assert browser.select(0, rows[2]) == [rows[0], rows[2]]
        assert "2 artifacts selected" in browser.detail.value
        assert browser.preview_button.disabled  # a preview is of one artifact
        browser.grid.click_row(4)
        assert browser.selected == [rows[4]]
        assert browser.select() == []
        assert browser.delete_button.disabled
        with pytest.raises(IndexError):
            browser.select(5)
        with pytest.raises(ValueError, match="not among the rows"):
            browser.select("no-such-step")

    def test_selection_covers_only_the_shown_page(self, filled: ac.ArtifactStore) -> None:
        """Turning the page clears the selection; a filter keeps only the rows it shows."""
        browser = filled.browse(page_size=2)
        browser.select(1)
        browser.next_button.click()
        assert browser.selected == []
        browser.prev_button.click()
        assert browser.selected == []  # a page turned away from is not remembered
        browser = filled.browse()
        browser.select("deals/A/cim", "report")
        browser.filter_box.value = "deals"
        assert chosen(browser) == ["deals/A/cim"]
        browser.filter_box.value = "clean"
        assert browser.selected == []
        assert "Select a row" in browser.detail.value


class TestPreview:
    def preview(self, store: ac.ArtifactStore, step_id: str, **options: Any) -> ArtifactBrowser:
        browser = store.browse(**options)
        browser.select(step_id)
        browser.preview_button.click()
        return browser

    def test_dataframe_head_and_shape(
        self, filled: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A DataFrame shows its shape and first rows, loaded only on the click."""
        loads: list[str] = []
        real_load = filled.load

        def counting_load(info: ac.ArtifactInfo) -> Any:
            loads.append(info.step_id)
            return real_load(info)

        monkeypatch.setattr(filled, "load", counting_load)
        browser = filled.browse()
        browser.select("extract")
        assert loads == [] and browser.preview.value == ""
        browser.preview_button.click()
        assert loads == ["extract"]
        value = browser.preview.value
        assert "(100, 2)" in value and "first 10 rows" in value
        grid = Cells.of(value)
        assert grid.rows[0] == ["", "a", "b"]
        assert grid.rows[1:] == [[str(n), str(n), "x"] for n in range(10)]
        # Numbers are right-aligned under a right-aligned header; text left, both.
        assert grid.align[0] == ["left", "right", "left"]
        assert all(row == ["left", "right", "left"] for row in grid.align[1:])
        browser.select("clean")  # a new selection drops the old preview
        assert browser.preview.value == ""

    def test_dataframe_preview_is_borderless_and_themed(self, mem_store: ac.ArtifactStore) -> None:
        """Not pandas' bordered grid: no border attribute, theme colours, escaped labels."""
        frame = pd.DataFrame({HOSTILE: [1.5, 2.25], "n": [1, 2]}, index=["r<1>", "r2"])
        mem_store.save("frame", frame)
        value = self.preview(mem_store, "frame").preview.value
        assert "border=" not in value and 'class="dataframe"' not in value
        assert "border:none" in value and "var(--jp-border-color1" in value
        assert "var(--jp-rendermime-table-row-background" in value  # banded rows
        assert "<script" not in value and visible(HOSTILE, value) and visible("r<1>", value)
        assert Cells.of(value).rows[1:] == [["r<1>", "1.5", "1"], ["r2", "2.25", "2"]]

    def test_wide_frames_show_twenty_columns(self, mem_store: ac.ArtifactStore) -> None:
        """A frame of 30 columns shows 20 and says how many more there are."""
        mem_store.save("wide", pd.DataFrame({f"c{n}": [n] for n in range(30)}))
        value = self.preview(mem_store, "wide").preview.value
        assert len(Cells.of(value).rows[0]) == 21
        assert "and 10 more columns" in value

    def test_series_preview(self, mem_store: ac.ArtifactStore) -> None:
        """A Series shows as a one-column table."""
        mem_store.save("series", pd.Series([3, 4], name="count"))
        value = self.preview(mem_store, "series").preview.value
        assert Cells.of(value).rows == [["", "count"], ["0", "3"], ["1", "4"]]

    def test_array_statistics(self, filled: ac.ArtifactStore) -> None:
        """An array shows its shape, dtype, min, max and mean."""
        value = self.preview(filled, "clean").preview.value
        for text in ("(10,)", "float64", "min 0", "max 9", "mean 4.5"):
            assert text in value

    def test_text_and_objects_are_truncated_reprs(self, mem_store: ac.ArtifactStore) -> None:
        """Long text is cut; other objects show an escaped, bounded repr."""
        mem_store.save("long", HOSTILE + "x" * 50_000)
        mem_store.save("obj", {"k": list(range(1000))})
        value = self.preview(mem_store, "long").preview.value
        assert "50,025 characters" in value
        assert len(value) < 5000
        assert "<script" not in value and visible("<script>", value)
        value = self.preview(mem_store, "obj").preview.value
        assert "builtins.dict" in value and "..." in value and "999" not in value

    def test_large_artifact_asks_first(
        self, filled: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Above preview_limit the widget asks; Cancel loads nothing, Yes loads it."""
        loads: list[str] = []
        real_load = filled.load
        monkeypatch.setattr(
            filled, "load", lambda info: loads.append(info.step_id) or real_load(info)
        )
        browser = self.preview(filled, "deals/B/cim", preview_limit=1000)
        assert confirming(browser)
        assert "more than the preview limit" in browser.confirm_label.value
        assert browser.confirm_yes.description.startswith("Yes, load 4.9 KiB")
        assert loads == [] and browser.preview.value == ""
        browser.confirm_no.click()
        assert not confirming(browser) and loads == [] and browser.preview.value == ""
        browser.preview_button.click()
        browser.confirm_yes.click()
        assert loads == ["deals/B/cim"]
        assert "5,000 bytes" in browser.preview.value
        assert not confirming(browser)
        browser.select("report")  # small: no question
        browser.preview_button.click()
        assert not confirming(browser) and "rows" in browser.preview.value

    @pytest.mark.payload_files
    def test_a_missing_payload_is_an_error_in_the_widget(self, filled: ac.ArtifactStore) -> None:
        """A payload that cannot be loaded is reported in the widget, not raised."""
        filled.fs.rm(filled.info("report").uri)
        browser = self.preview(filled, "report")
        assert browser.preview.value == ""
        assert "cannot preview" in browser.error.value and "missing" in browser.error.value


class TestDetailPane:
    """The detail pane never shows an artifact that is no longer selected."""

    def previewing(self, store: ac.ArtifactStore, step_id: str) -> ArtifactBrowser:
        browser = store.browse()
        browser.select(step_id)
        browser.preview_button.click()
        assert browser.previewed == store.info(step_id)
        assert visible(step_id, browser.preview.value)
        return browser

    def assert_cleared(self, browser: ArtifactBrowser) -> None:
        assert browser.preview.value == "" and browser.previewed is None

    def test_a_filter_that_hides_the_row_clears_the_preview(self, filled: ac.ArtifactStore) -> None:
        """Filtering the previewed row away empties the preview and the record."""
        browser = self.previewing(filled, "report")
        browser.filter_box.value = "deals"
        self.assert_cleared(browser)
        assert "Select a row" in browser.detail.value
        browser.filter_box.value = ""
        assert browser.selected == []  # it does not come back selected either
        self.assert_cleared(browser)

    def test_a_filter_that_keeps_the_row_keeps_the_preview(self, filled: ac.ArtifactStore) -> None:
        """A preview of a row still selected is not stale."""
        browser = self.previewing(filled, "report")
        browser.filter_box.value = "rep"
        assert chosen(browser) == ["report"]
        assert browser.previewed == filled.info("report")
        browser.tag_box.value = "stage=prep"
        self.assert_cleared(browser)

    def test_widening_the_selection_clears_the_preview(self, filled: ac.ArtifactStore) -> None:
        """A preview is of one artifact: a shift-click to a range drops it."""
        browser = self.previewing(filled, "report")
        browser.grid.click_row(2, shift=True)
        assert len(browser.selected) == 3
        self.assert_cleared(browser)

    def test_turning_the_page_or_sorting_it_away(self, filled: ac.ArtifactStore) -> None:
        """A page turn, or a sort that moves the row off the page, clears the preview."""
        browser = filled.browse(page_size=2)
        browser.select("report")
        browser.preview_button.click()
        assert browser.previewed is not None
        browser.next_button.click()
        self.assert_cleared(browser)
        browser.prev_button.click()
        browser.select("report")
        browser.preview_button.click()
        browser.grid.click_header("step_id")  # report sorts last: off the first page
        self.assert_cleared(browser)

    def test_deleting_clears_the_preview(self, filled: ac.ArtifactStore) -> None:
        """After the previewed artifact is deleted, nothing of it is shown."""
        browser = self.previewing(filled, "report")
        browser.delete_button.click()
        browser.confirm_yes.click()
        self.assert_cleared(browser)
        assert "report" not in ids(browser)
        assert not visible("report", browser.detail.value)

    def test_clearing_clears_the_preview(self, filled: ac.ArtifactStore) -> None:
        """Clear all leaves an empty table and an empty pane."""
        browser = self.previewing(filled, "report")
        browser.clear_button.click()
        browser.confirm_yes.click()
        self.assert_cleared(browser)
        assert "Select a row" in browser.detail.value

    def test_refresh_after_a_rewrite_clears_the_preview(self, filled: ac.ArtifactStore) -> None:
        """Refresh keeps an unchanged previewed record, and drops one rewritten since."""
        browser = self.previewing(filled, "report")
        browser.refresh_button.click()
        assert browser.previewed == filled.info("report")  # same record: still true
        filled.save("report", {"rows": 4})  # another writer replaces it
        browser.refresh_button.click()
        assert chosen(browser) == ["report"]  # still selected: the same step and key
        self.assert_cleared(browser)
        assert visible(filled.info("report").digest, browser.detail.value)

    def test_refresh_after_another_writer_deleted_it(self, filled: ac.ArtifactStore) -> None:
        """A record deleted by someone else leaves the selection and the pane on Refresh."""
        browser = self.previewing(filled, "report")
        filled.delete("report")
        browser.refresh_button.click()
        assert browser.selected == []
        self.assert_cleared(browser)

    def test_a_preview_that_finishes_after_the_selection_moved_is_dropped(
        self, filled: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A payload that arrives once another row is selected is not shown."""
        browser = filled.browse()
        browser.select("report")
        real_load = filled.load

        def slow_load(info: ac.ArtifactInfo) -> Any:
            browser.select("clean")  # the user clicked elsewhere meanwhile
            return real_load(info)

        monkeypatch.setattr(filled, "load", slow_load)
        browser.preview_button.click()
        assert chosen(browser) == ["clean"]
        self.assert_cleared(browser)


class TestLineage:
    def test_inputs_show_as_an_indented_tree(self, mem_store: ac.ArtifactStore) -> None:
        """The record shows its inputs, and theirs, indented, from the listing only."""
        raw = mem_store.save("raw", [1])
        clean = mem_store.save("clean", [1], inputs=[raw.ref])
        other = mem_store.save("other", [2])
        mem_store.save("features", [3], inputs=[clean.ref, other.ref])
        browser = mem_store.browse()
        browser.select("features")
        detail = browser.detail.value
        tree = re.findall(r"padding-left:([\d.]+)em'>\u2514 ([\w/]+) @", detail)
        assert tree == [("0.0", "clean"), ("1.2", "raw"), ("0.0", "other")]

    def test_replaced_and_missing_inputs_are_marked(self, mem_store: ac.ArtifactStore) -> None:
        """An input rewritten or deleted since is found in its history, marked with its
        status and followed; one whose history is gone too is marked, not followed."""
        raw = mem_store.save("raw", [1])
        clean = mem_store.save("clean", [1], inputs=[raw.ref])
        gone = mem_store.save("gone", [2])
        mem_store.save("features", [3], inputs=[clean.ref, gone.ref])
        mem_store.save("clean", [99])  # a new artifact under clean's step and key
        mem_store.delete("gone")
        browser = mem_store.browse()
        browser.select("features")
        detail = browser.detail.value
        assert "clean @" in detail and "(superseded version)" in detail
        assert "gone @" in detail and "(tombstoned version)" in detail
        assert "raw @" in detail  # followed through the earlier version of clean
        mem_store.delete("clean", purge=True)
        mem_store.delete("gone", purge=True)
        browser.refresh()
        browser.select("features")
        detail = browser.detail.value
        assert "clean @" in detail and "(not in the store any more)" in detail
        assert "gone @" in detail and "raw @" not in detail  # not followed


class TestReadOnlyAndSigned:
    def test_read_only_store_hides_delete_and_clear(
        self, filled: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With store.read_only true the destructive buttons are hidden and refuse."""
        browser = filled.browse()
        assert browser.delete_button.layout.display != "none"
        assert browser.clear_button.layout.display != "none"
        monkeypatch.setattr(type(filled), "read_only", property(lambda s: True), raising=False)
        browser = filled.browse()
        assert browser.read_only and "read-only" in browser.header.value
        assert browser.delete_button.layout.display == "none"
        assert browser.clear_button.layout.display == "none"
        browser.select("report")
        browser.delete_button.click()  # as code could, though it is hidden
        browser.clear_button.click()
        assert not confirming(browser) and "read-only" in browser.error.value
        assert len(filled.list()) == 5
        assert not browser.preview_button.disabled  # reading still works

    def test_signed_records_say_so(self, tmp_path: Any) -> None:
        """The pane says whether the selected artifact is signed (with an HMAC key)."""
        url = str(tmp_path / "store")
        ac.open_store(url, signing_key="").save("plain", 1)
        ac.open_store(url, signing_key="k" * 32).save("sealed", 2)
        browser = ac.open_store(url, signing_key="").browse()
        browser.select("plain")
        assert re.search(r">signed</th><td[^>]*>no<", browser.detail.value)
        browser.select("sealed")
        assert re.search(r">signed</th><td[^>]*>yes \(not checked", browser.detail.value)

    def test_a_keyed_store_says_which_signatures_hold(self, tmp_path: Any) -> None:
        """In a store with a signing key, the pane says whether the signature is valid
        for it, as ``artifact-cache info`` does; a refused artifact's preview is an error."""
        url = str(tmp_path / "store")
        ac.open_store(url, signing_key="").save("plain", 1)
        ac.open_store(url, signing_key="k" * 32).save("sealed", 2)
        ac.open_store(url, signing_key="other-key").save("foreign", 3)
        browser = ac.open_store(url, signing_key="k" * 32).browse()
        for step_id, shown in (
            ("sealed", r"yes \(valid"),
            ("foreign", r"yes, but not by this store"),
            ("plain", r"no \(this store refuses"),
        ):
            browser.select(step_id)
            assert re.search(rf">signed</th><td[^>]*>{shown}", browser.detail.value), step_id
        browser.preview_button.click()
        assert "not signed" in browser.error.value and browser.preview.value == ""

    def test_a_store_opened_read_only(self, tmp_path: Any) -> None:
        """A store opened with read_only=True hides the destructive buttons; forced
        clicks change nothing."""
        url = str(tmp_path / "store")
        ac.open_store(url).save("kept", 1)
        browser = ac.open_store(url, read_only=True).browse()
        assert browser.read_only and browser.delete_button.layout.display == "none"
        browser.select("kept")
        browser.delete_button.click()
        browser.clear_button.click()
        assert not confirming(browser) and "read-only" in browser.error.value
        browser.preview_button.click()
        assert "1" in browser.preview.value
        assert ac.open_store(url).get("kept") == 1


class TestDelete:
    def test_confirmed_delete_removes_exactly_the_selection(self, store: ac.ArtifactStore) -> None:
        """Delete selected asks, then removes the selected artifacts only, and refreshes."""
        store.save("a", 1)
        store.save("b", 2, key="one")
        store.save("b", 3, key="two")
        browser = store.browse()
        browser.select(store.info("a"), store.info("b", key="one"))
        browser.delete_button.click()
        assert confirming(browser)
        assert browser.confirm_yes.description == "Yes, delete 2"
        assert store.exists("a")  # nothing happens before the confirmation
        browser.confirm_yes.click()
        assert not confirming(browser)
        assert not store.exists("a")
        assert not store.exists("b", key="one")
        assert store.get("b", key="two") == 3
        assert [(i.step_id, i.key) for i in browser.rows] == [("b", "two")]
        assert browser.error.value == ""

    def test_cancel_removes_nothing(self, filled: ac.ArtifactStore) -> None:
        """Cancel on the confirmation leaves the store as it was."""
        browser = filled.browse()
        browser.select(0, 1, 2)
        browser.delete_button.click()
        browser.confirm_no.click()
        assert not confirming(browser)
        assert len(filled.list()) == 5
        assert len(browser.selected) == 3

    def test_changing_the_selection_withdraws_the_question(self, filled: ac.ArtifactStore) -> None:
        """A confirmation asked for one selection cannot delete another."""
        browser = filled.browse()
        browser.select("report")
        browser.delete_button.click()
        browser.select("clean")
        assert not confirming(browser)
        browser.confirm_yes.click()  # a stale click does nothing
        assert len(filled.list()) == 5

    def test_a_failing_delete_is_shown(
        self, filled: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error while deleting appears in the widget."""

        def broken(step_id: str, **kwargs: Any) -> bool:
            raise ac.ArtifactStoreError(f"deleting step {step_id!r} failed: read-only")

        monkeypatch.setattr(filled, "delete", broken)
        browser = filled.browse()
        browser.select("report")
        browser.delete_button.click()
        browser.confirm_yes.click()
        assert "could not delete" in browser.error.value and "read-only" in browser.error.value
        assert len(browser.matching) == 5


class TestClear:
    def test_confirmed_clear_empties_the_store(self, store: ac.ArtifactStore) -> None:
        """Clear all asks, then removes every artifact and refreshes."""
        store.save("a", 1)
        store.save("b", 2)
        browser = store.browse()
        browser.clear_button.click()
        assert confirming(browser)
        assert browser.confirm_yes.description == "Yes, delete all 2"
        assert len(store.list()) == 2
        browser.confirm_yes.click()
        assert store.list() == []
        assert browser.rows == [] and "0 artifacts" in browser.header.value

    def test_cancel_leaves_the_store_untouched(self, filled: ac.ArtifactStore) -> None:
        """Cancelling Clear all keeps every artifact."""
        before = filled.list()
        browser = filled.browse()
        browser.clear_button.click()
        browser.confirm_no.click()
        assert filled.list() == before
        assert len(browser.rows) == 5


class TestErrors:
    def test_listing_failure_is_shown_not_raised(
        self, filled: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A store whose listing fails shows the message; Refresh recovers once it works."""
        real_list = filled.list

        def down(*args: Any, **kwargs: Any) -> Any:
            raise ac.ArtifactStoreError(f"listing store {filled.location} failed: unreachable")

        monkeypatch.setattr(filled, "list", down)
        browser = filled.browse()
        assert "unreachable" in browser.error.value
        assert "unavailable" in browser.header.value
        assert browser.rows == []
        monkeypatch.setattr(filled, "list", real_list)
        browser.refresh_button.click()
        assert browser.error.value == ""
        assert len(browser.rows) == 5

    def test_unexpected_exceptions_are_shown_too(
        self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Even an exception that is not the store's own is caught and named."""
        monkeypatch.setattr(mem_store, "list", lambda *a, **k: 1 / 0)
        assert "ZeroDivisionError" in mem_store.browse().error.value

    def test_unreachable_s3_store(self, moto_endpoint: str) -> None:
        """An S3 store at a closed port shows a connection error in the widget."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        store = ac.open_store(
            "s3://nowhere/cache",
            endpoint_url=f"http://127.0.0.1:{port}",
            skip_instance_cache=True,
            config_kwargs={"connect_timeout": 1, "read_timeout": 1, "retries": {"max_attempts": 1}},
        )
        browser = store.browse()
        assert "cannot list store s3://nowhere/cache" in browser.error.value
        assert "connect" in browser.error.value.lower()


class TestReprs:
    @pytest.fixture
    def hostile(self) -> ac.ArtifactInfo:
        """A record whose every free-text field holds markup (as a foreign writer could)."""
        return ac.ArtifactInfo(
            step_id=f"s{HOSTILE}",
            key=f"k{HOSTILE}",
            digest=f"d{HOSTILE}",
            size=1,
            serializer=f"ser{HOSTILE}",
            mime_type=f"text/{HOSTILE}",
            python_type=f"t{HOSTILE}",
            tags={HOSTILE: HOSTILE},
            inputs=[ac.ArtifactRef(step_id=f"i{HOSTILE}", key=f"ik{HOSTILE}", digest="d")],
            code_fingerprint=f"c{HOSTILE}",
            args_repr=f"a{HOSTILE}",
            uri=f"memory://{HOSTILE}",
        )

    @pytest.mark.parametrize(
        "render",
        [
            lambda i: i._repr_html_(),
            lambda i: ac.ArtifactList([i, i])._repr_html_(),
        ],
        ids=["ArtifactInfo", "ArtifactList"],
    )
    def test_records_escape_every_string(
        self, hostile: ac.ArtifactInfo, render: Callable[[ac.ArtifactInfo], str]
    ) -> None:
        """No field of a record is rendered as markup."""
        out = render(hostile)
        assert "<script" not in out
        assert html.escape(HOSTILE) in out

    def test_info_repr_shows_every_field(self, hostile: ac.ArtifactInfo) -> None:
        """The record's HTML carries tags, inputs, arguments, code and uri, escaped."""
        out = hostile._repr_html_()
        for text in (f"ser{HOSTILE}", f"{HOSTILE}={HOSTILE}", f"a{HOSTILE}", f"c{HOSTILE}"):
            assert visible(text, out), text

    def test_store_repr_escapes(self, mem_store: ac.ArtifactStore) -> None:
        """The store's HTML escapes its location and its artifacts' type names."""

        def make() -> Any:
            class Local:
                pass

            return Local()

        mem_store.save("local", make(), tags={"note": HOSTILE})
        out = mem_store._repr_html_()
        assert "<locals>" not in out and "&lt;locals&gt;" in out
        odd = ac.open_store(f"memory://odd-{time.time_ns()}<b>")
        assert "<b>" not in odd._repr_html_().replace("<b>ArtifactStore</b>", "")

    @pytest.mark.parametrize("render", ["list", "store"])
    def test_headers_align_with_their_cells(self, filled: ac.ArtifactStore, render: str) -> None:
        """Each header of the store and list tables is aligned as its column's cells are."""
        out = filled._repr_html_() if render == "store" else filled.list()._repr_html_()
        table = Cells.of(out)
        assert table.rows[0] == ["step id", "key", "type", "size", "created"]
        assert table.align[0] == ["left", "left", "left", "right", "left"]
        assert len(table.rows) > 1
        for row in table.align[1:]:
            assert row == table.align[0]

    def test_empty_store_and_list_say_no_artifacts(self, mem_store: ac.ArtifactStore) -> None:
        """No artifacts reads as a line that says so, not as an empty header row."""
        for out in (mem_store._repr_html_(), mem_store.list()._repr_html_()):
            assert "no artifacts" in out
            assert "<th" not in out and "<table" not in out
        assert visible(mem_store.location, mem_store._repr_html_())

    def test_store_counts_in_words(self, mem_store: ac.ArtifactStore) -> None:
        """One artifact is "1 artifact"; more are counted with a thousands separator."""
        mem_store.save("a", 1)
        assert "1 artifact," in mem_store._repr_html_()
        for n in range(1, 1001):
            mem_store.save("b", n, key=f"k{n}")
        out = mem_store._repr_html_()
        assert "1,001 artifacts" in out and "... and 991 more" in out


def _dated(store: ac.ArtifactStore) -> ac.ArtifactStore:
    """Five artifacts of three types created one day apart, the newest two days ago."""
    import datetime as dt

    from artifact_cache.info import ArtifactInfo

    now = dt.datetime.now(dt.UTC)
    values = [
        ("orders", pd.DataFrame({"a": [1, 2]})),
        ("customers", pd.DataFrame({"b": [3]})),
        ("features", np.arange(3.0)),
        ("model", {"w": 1}),
        ("report", {"rows": 2}),
    ]
    for n, (step, value) in enumerate(values):
        info = store.save(step, value)
        created = now - dt.timedelta(days=len(values) - n + 1, hours=1)  # 6 to 2 days ago
        moved = ArtifactInfo.from_dict(dict(info.to_dict(), created=created.isoformat()))
        store._storage.put_record(step, info.key, moved.to_json())
    return store


class TestLifecycleFilters:
    def test_type_dropdown_offers_the_types_present(self, store: ac.ArtifactStore) -> None:
        """The type dropdown lists each recorded type with its count, and filters by it."""
        browser = _dated(store).browse()
        frame = f"{pd.DataFrame.__module__}.DataFrame"
        values = [v for _, v in browser.type_box.options]
        assert values == ["", "builtins.dict", "numpy.ndarray", frame]
        labels = dict((v, k) for k, v in browser.type_box.options)
        assert labels[frame] == f"{frame} (2)" and labels[""] == "any type"
        browser.type_box.value = frame
        assert ids(browser) == ["customers", "orders"]
        assert "2 of 5 artifacts" in browser.page_label.value
        browser.type_box.value = "builtins.dict"
        assert ids(browser) == ["report", "model"]
        browser.type_box.value = ""
        assert len(browser.rows) == 5

    def test_last_days_date_range_and_newest(self, mem_store: ac.ArtifactStore) -> None:
        import datetime as dt

        browser = _dated(mem_store).browse()
        browser.days_box.value = 4  # features is 4 days and an hour old
        assert ids(browser) == ["report", "model"]
        browser.days_box.value = 0
        today = dt.datetime.now(dt.UTC).date()
        created = {i.step_id: i.created.date() for i in browser.rows}
        browser.after_picker.value = created["customers"]
        browser.before_picker.value = created["features"]  # the whole day, inclusive
        assert ids(browser) == ["features", "customers"]
        browser.before_picker.value = None
        browser.after_picker.value = today
        assert browser.rows == [] and "No artifacts match the filters" in table(browser)
        browser.after_picker.value = None
        browser.limit_box.value = 2
        assert ids(browser) == ["report", "model"]
        # The newest N that pass the other filters, whatever the table is sorted by.
        browser.sort("step_id")
        assert ids(browser) == ["model", "report"]
        browser.type_box.value = "numpy.ndarray"
        assert ids(browser) == ["features"]
        browser.limit_box.value = 0
        browser.type_box.value = ""
        assert len(browser.rows) == 5

    def test_filters_use_the_listing_and_survive_a_refresh(
        self, mem_store: ac.ArtifactStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The new filters never go back to the store; a refresh keeps the chosen type."""
        browser = _dated(mem_store).browse()
        browser.type_box.value = "builtins.dict"
        mem_store.save("another", {"n": 1})
        browser.refresh()
        assert browser.type_box.value == "builtins.dict"
        assert ids(browser) == ["another", "report", "model"]
        monkeypatch.setattr(mem_store, "list", lambda *a, **k: pytest.fail("store listed again"))
        browser.days_box.value = 3
        browser.limit_box.value = 1
        browser.after_picker.value = None
        assert ids(browser) == ["another"]


class TestDownstreamPane:
    def test_detail_shows_lineage_and_downstream(self, store: ac.ArtifactStore) -> None:
        """The selected record shows what it came from and what was computed from it."""
        raw = store.save("raw", [1])
        clean = store.save("clean", [1], inputs=[raw.ref])
        store.save("features", [3], inputs=[clean.ref])
        store.save("report", [4], inputs=[clean.ref])
        store.save("unrelated", [5])
        browser = store.browse()
        browser.select("clean")
        cells = dict(row for row in Cells.of(browser.detail.value).rows if len(row) == 2)
        assert "raw @" in cells["inputs"]
        assert "features @" in cells["downstream"] and "report @" in cells["downstream"]
        assert "unrelated" not in cells["downstream"] and "raw" not in cells["downstream"]
        browser.select("raw")
        cells = dict(row for row in Cells.of(browser.detail.value).rows if len(row) == 2)
        down = re.findall(r"\u2192 ([\w/]+) @", cells["downstream"])
        assert down[0] == "clean" and sorted(down[1:]) == ["features", "report"]
        browser.select("report")
        cells = dict(row for row in Cells.of(browser.detail.value).rows if len(row) == 2)
        assert cells["downstream"] == "\u2014"  # nothing computed from it

    def test_downstream_of_a_replaced_artifact_is_not_claimed(
        self, mem_store: ac.ArtifactStore
    ) -> None:
        """A record computed from an earlier artifact of the step is not downstream of
        the one stored now."""
        raw = mem_store.save("raw", [1])
        mem_store.save("clean", [1], inputs=[raw.ref])
        mem_store.save("raw", [2])
        browser = mem_store.browse()
        browser.select("raw")
        assert "clean @" not in browser.detail.value

    def test_a_refresh_shows_what_was_computed_since(self, mem_store: ac.ArtifactStore) -> None:
        """Downstream is drawn from the listing of the last refresh, and only from it."""
        raw = mem_store.save("raw", [1])
        browser = mem_store.browse()
        browser.select("raw")
        assert "clean @" not in browser.detail.value
        mem_store.save("clean", [1], inputs=[raw.ref])
        browser.select("raw")
        assert "clean @" not in browser.detail.value  # not listed yet
        browser.refresh()
        browser.select("raw")
        assert "\u2192 clean @" in browser.detail.value


class TestStatusFilter:
    def test_versions_by_status(self, mem_store: ac.ArtifactStore) -> None:
        """The status dropdown lists earlier or deleted versions (a new listing), shows
        each one's version and status, and offers no delete beside versions."""
        for value in (1, 2, 3):
            mem_store.save("model", value)
        mem_store.save("gone", 0)
        mem_store.delete("gone")
        browser = mem_store.browse()
        assert ids(browser) == ["model"] and browser.delete_button.layout.display == ""
        browser.status_box.value = "superseded"
        assert ids(browser) == ["model", "model"]
        assert {i.status for i in browser.rows} == {"superseded"}
        assert sorted(mem_store.load(i) for i in browser.rows) == [1, 2]
        assert browser.delete_button.layout.display == "none"
        browser.select(0)
        assert len(browser.selected) == 1  # two versions of one step and key are two rows
        assert browser.rows[0].version in browser.detail.value
        assert "superseded" in browser.detail.value
        browser.status_box.value = "tombstoned"
        assert ids(browser) == ["gone"]
        browser.status_box.value = "all"
        assert sorted(ids(browser)) == ["gone", "model", "model", "model"]
        browser.status_box.value = "active"
        assert ids(browser) == ["model"] and browser.delete_button.layout.display == ""
