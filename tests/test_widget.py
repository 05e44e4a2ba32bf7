"""ArtifactBrowser through its widget objects (values set, buttons clicked), and the
HTML reprs of the store, a record and a list of records."""

from __future__ import annotations

import html
import socket
import subprocess
import sys
import time
from collections.abc import Callable
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


def ids(browser: ArtifactBrowser) -> list[str]:
    return [i.step_id for i in browser.rows]


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
        table = browser.table.value
        for text in ("extract", "features", "builtins.list", "builtins.dict", "source=crm"):
            assert visible(text, table)
        assert "0123456789ab" in table and "0123456789abcdef<" not in table  # short key
        assert "just now" in table
        size = ac.info.human_size(store.info("extract").size)
        assert visible(size, table)
        assert visible(store.location, browser.header.value)
        assert "2 artifacts" in browser.header.value
        assert browser.error.value == ""

    def test_empty_store(self, mem_store: ac.ArtifactStore) -> None:
        """An empty store says so, and there is nothing to clear."""
        browser = mem_store.browse()
        assert browser.rows == []
        assert "No artifacts are stored here" in browser.table.value
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
        for part in (browser.table, browser.detail, browser.selector):
            value = part.value if isinstance(part.value, str) else ""
            assert "<script" not in value and "<locals>" not in value
        assert visible(HOSTILE, browser.table.value)
        assert visible("make.<locals>.Local", browser.table.value)
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
        assert "No artifacts match the filters" in browser.table.value
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
        browser.sort_by.value = "size"
        browser.ascending.value = True
        browser.next_button.click()


class TestSort:
    def test_sort_by_column_and_direction(self, filled: ac.ArtifactStore) -> None:
        """The sort dropdown picks the column, the toggle the direction."""
        browser = filled.browse()
        assert ids(browser) == ["report", "deals/B/cim", "deals/A/cim", "clean", "extract"]
        browser.ascending.value = True
        assert ids(browser) == ["extract", "clean", "deals/A/cim", "deals/B/cim", "report"]
        browser.sort_by.value = "step_id"
        assert ids(browser) == sorted(ids(browser))
        browser.sort_by.value = "size"
        sizes = [i.size for i in browser.rows]
        assert sizes == sorted(sizes)
        browser.ascending.value = False
        assert [i.size for i in browser.rows] == sorted(sizes, reverse=True)
        browser.sort_by.value = "python_type"
        types = [i.python_type for i in browser.rows]
        assert types == sorted(types, reverse=True)


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
        assert "51. " in browser.selector.options[0][0]
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
        browser.sort_by.value = "key"
        browser.ascending.value = True
        assert browser.rows[0].key == "k00007"
        assert [i.key for i in browser.select(0, 1)] == ["k00007", "k00107"]
        assert time.perf_counter() - started < 10


class TestSelection:
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
        assert "cfe4fa" in browser.table.value  # the selected row is highlighted
        assert not browser.preview_button.disabled
        assert browser.delete_button.description == "Delete selected (1)"
        assert browser.preview.value == ""

    def test_select_by_position_record_and_selector(self, filled: ac.ArtifactStore) -> None:
        """select() takes positions, step ids or records, as the selector does clicks."""
        browser = filled.browse()
        rows = browser.rows
        assert browser.select(0, rows[2]) == [rows[0], rows[2]]
        assert "2 artifacts selected" in browser.detail.value
        assert browser.preview_button.disabled  # a preview is of one artifact
        browser.selector.value = (4,)
        assert browser.selected == [rows[4]]
        assert browser.select() == []
        assert browser.delete_button.disabled
        with pytest.raises(IndexError):
            browser.select(5)
        with pytest.raises(ValueError, match="not among the rows"):
            browser.select("no-such-step")

    def test_selection_covers_only_the_shown_page(self, filled: ac.ArtifactStore) -> None:
        """Turning the page or filtering clears the selection."""
        browser = filled.browse(page_size=2)
        browser.select(1)
        browser.next_button.click()
        assert browser.selected == []
        browser.select(0)
        browser.filter_box.value = "deals"
        assert browser.selected == []


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
        assert "(100, 2)" in value
        assert "<table" in value and "<th>a</th>" in value.replace(
            ' style="text-align: right;"', ""
        )
        assert ">4<" in value and ">5<" not in value  # head(): rows 0 to 4
        browser.select("clean")  # a new selection drops the old preview
        assert browser.preview.value == ""

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

    def test_a_missing_payload_is_an_error_in_the_widget(self, filled: ac.ArtifactStore) -> None:
        """A payload that cannot be loaded is reported in the widget, not raised."""
        filled.fs.rm(filled.info("report").uri)
        browser = self.preview(filled, "report")
        assert browser.preview.value == ""
        assert "cannot preview" in browser.error.value and "missing" in browser.error.value


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
