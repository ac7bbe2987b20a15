"""workbench.tables: the one table display (no index column, readable headers, NaN empty, source line)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from workbench import tables


def _cells(markup: str) -> tuple[list[str], list[list[str]]]:
    """Headers and body rows of the one table in ``markup``."""
    table = BeautifulSoup(markup, "html.parser").find("table")
    heads = [th.get_text() for th in table.thead.find_all("th")]
    rows = [[td.get_text() for td in tr.find_all(["td", "th"])] for tr in table.tbody.find_all("tr")]
    return heads, rows


def test_no_index_column_readable_headers_nan_empty():
    frame = pd.DataFrame({"model": ["a", "b", "c"], "ci_low_pct": [1.26, np.nan, 3.0], "gap_pts": [-0.04, 2, 3]})
    frame = frame[frame["model"] != "b"]  # a filtered frame: index 0, 2 (still row numbers)
    heads, rows = _cells(tables.html(frame))
    assert heads == ["model", "ci low %", "gap (points)"]
    assert rows == [["a", "1.3", "0.0"], ["c", "3.0", "3.0"]]  # -0.04 at one decimal is 0.0, not -0.0
    with_nan = pd.DataFrame({"x": [np.nan, 1.0], "y": [None, "t"], "z": pd.array([pd.NA, 2], dtype="Int64")})
    assert _cells(tables.html(with_nan))[1] == [["", "", ""], ["1.0", "t", "2"]]
    assert _cells(tables.html(with_nan, na="–"))[1][0] == ["–", "–", "–"]


def test_written_headers_stay_and_rename():
    frame = pd.DataFrame({"a - b (points)": [1.0], "p_value": [0.5], "USD per correct": [2.0]})
    assert _cells(tables.html(frame))[0] == ["a - b (points)", "p value", "USD per correct"]
    assert _cells(tables.html(frame, rename={"p_value": "p (McNemar)"}))[0][1] == "p (McNemar)"
    assert tables.readable("total_s") == "total s" and tables.readable("cost_usd") == "cost USD"
    assert tables.readable(("rate", "")) == "rate" and tables.readable(0.5) == "0.5"


def test_meaningful_index_kept_as_columns():
    named = pd.DataFrame({"n": [1, 2]}, index=pd.Index(["x", "y"], name="model"))
    assert _cells(tables.html(named)) == (["model", "n"], [["x", "1"], ["y", "2"]])
    labels = pd.DataFrame({"n": [1]}, index=["gpt-4o"])  # unnamed, but not row numbers
    assert _cells(tables.html(labels)) == (["", "n"], [["gpt-4o", "1"]])
    assert _cells(tables.html(labels, index=False)) == (["n"], [["1"]])
    numbered = pd.DataFrame({"n": [5]}, index=[7])
    assert _cells(tables.html(numbered)) == (["n"], [["5"]])
    assert _cells(tables.html(numbered, index=True))[1] == [["7", "5"]]


def test_pivot_table_multiindex_and_column_name():
    long = pd.DataFrame({"model": ["a", "a", "b"], "length": [100, 200, 100], "depth": [0.0, 0.5, 0.5],
                         "rate %": [100.0, 50.0, 0.0]})
    wide = long.pivot_table(index=["model", "length"], columns="depth", values="rate %")
    heads, rows = _cells(tables.html(wide, precision=0))
    assert heads == ["model", "length", "depth 0", "depth 0.5"]
    assert rows == [["a", "100", "100", ""], ["a", "200", "", "50"], ["b", "100", "", "0"]]


def test_numbers_flags_escaping_and_alignment():
    frame = pd.DataFrame({"year": [2024], "tokens": [1234567], "usd": [12345.678], "ok": [True],
                          "flag": np.array([False]), "name": ["<b>x</b>"]})
    markup = tables.html(frame, precision={"usd": 2})
    assert _cells(markup)[1] == [["2024", "1,234,567", "12,345.68", "yes", "no", "<b>x</b>"]]
    assert "&lt;b&gt;x&lt;/b&gt;" in markup  # text is escaped, not rendered
    soup = BeautifulSoup(markup, "html.parser")
    style = soup.style.get_text()
    for pos in (0, 1, 2):  # number columns right-aligned, flags and text not
        assert f"td.col{pos} {{\n  text-align: right" in style
    assert "col3 {" not in style and "col5 {" not in style
    assert soup.table["class"] == ["wb-table"]


def test_precision_mapping_by_header_and_default():
    frame = pd.DataFrame({"a_pct": [1.234], "b": [1.234]})
    assert _cells(tables.html(frame, precision={"a %": 2, None: 0}))[1] == [["1.23", "1"]]


def test_bad_frame_is_one_clear_error():
    with pytest.raises(TypeError, match="frame"):
        tables.html([[1, 2]])  # type: ignore[arg-type]


def test_show_displays_table_and_source_with_roles():
    InteractiveShell.instance()
    frame = pd.DataFrame({"model": ["a"], "accuracy_pct": [50.0]})
    with capture_output() as cap:
        tables.show(frame, "archive `x` (recorded 2026-12-01)")
        tables.show(frame, "data/prices.csv (S2).")
        tables.show(frame)
    outs = cap.outputs
    assert len(outs) == 5
    assert outs[0].metadata == {"workbench": {"role": "table", "rows": 1}}
    assert _cells(outs[0].data["text/html"]) == (["model", "accuracy %"], [["a", "50.0"]])
    assert outs[0].data["text/plain"].splitlines() == ["model  accuracy %", "    a        50.0"]
    assert outs[1].data["text/markdown"] == "*From archive `x` (recorded 2026-12-01).*"
    assert outs[1].metadata == {"workbench": {"role": "table-source"}}
    assert outs[3].data["text/markdown"] == "*From data/prices.csv (S2).*"  # no doubled period
    assert outs[4].metadata["workbench"]["role"] == "table"  # no source: no source line
