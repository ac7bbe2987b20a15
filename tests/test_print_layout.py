"""workbench.report.print_layout: tables set at a legible size in the PDF, wrapped or turned, never scaled."""
from __future__ import annotations

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from workbench import tables
from workbench.report import print_layout as pl

ZWSP = "\u200b"


def _body(*frames: tuple[pd.DataFrame, str]) -> BeautifulSoup:
    """A flattened print body: each frame's table followed by its source paragraph."""
    parts = []
    for frame, source in frames:
        parts.append(tables.html(frame))
        parts.append(f'<p class="table-source"><em>From {source}.</em></p>')
    return BeautifulSoup("<p>intro</p>" + "".join(parts) + "<p>after</p>", "html.parser")


def test_text_width_is_measured_from_the_font():
    one, two = pl.text_width("m"), pl.text_width("mm")
    assert one > 0 and two == pytest.approx(2 * one)
    assert pl.text_width("i") < one < pl.text_width("W")  # proportional glyphs, not a fixed guess
    assert pl.text_width("model", bold=True) > pl.text_width("model")
    assert pl.text_width(f"ab{ZWSP}c") == pytest.approx(pl.text_width("abc"))
    assert (pl.FONT_DIR / "DejaVuSans.ttf").is_file()


def test_measure_headers_count_by_their_longest_word():
    soup = BeautifulSoup(tables.html(pd.DataFrame({"a rather long header": ["x y"]})), "html.parser")
    fit = pl.measure(soup.table)
    longest = max(pl.text_width(w, bold=True) for w in "a rather long header".split())
    assert longest < pl.text_width("x y") + 20 < pl.text_width("a rather long header", bold=True)
    assert fit.natural == [pytest.approx(longest + pl.CELL_PAD_PT)]
    assert fit.minimum == fit.natural


def test_widths_fill_like_water_and_respect_minimums():
    fit = pl.TableLayout(natural=[30, 300, 500], minimum=[30, 60, 200])
    shares = fit.widths(400)
    assert sum(shares) == pytest.approx(1)
    cols = [s * 400 for s in shares]
    assert cols[0] == pytest.approx(30)  # a narrow column keeps its natural width
    # the wide ones get their minimum plus the same fraction of what each lacks for one line
    k = (400 - 30 - 60 - 200) / (240 + 300)
    assert cols[1:] == [pytest.approx(60 + 240 * k), pytest.approx(200 + 300 * k)]
    notes = [s * 400 for s in pl.TableLayout(natural=[30, 300, 2000], minimum=[30, 60, 60]).widths(400)]
    assert notes[2] > 3 * notes[1] > 3 * 60  # a column of long notes gets the room, not an equal share
    tight = [s * 420 for s in pl.TableLayout(natural=[100, 500], minimum=[90, 300]).widths(420)]
    assert tight == [pytest.approx(100), pytest.approx(320)]  # never below a minimum (the longest word)
    assert pl.TableLayout(natural=[10, 20], minimum=[5, 5]).widths(100) == [pytest.approx(1 / 3), pytest.approx(2 / 3)]


def test_break_points_in_long_identifiers_only():
    soup = BeautifulSoup("<table><tr><td>humaneval_qwen qwen2.5-coder-1.5b-instruct 2026-12-01 1.5</td></tr></table>",
                         "html.parser")
    pl._add_break_points(soup.table)
    text = soup.td.get_text()
    assert f"humaneval_{ZWSP}qwen" in text and f"coder-{ZWSP}1.5b-{ZWSP}instruct" in text
    assert "2026-12-01 1.5" in text and "qwen2.5" in text  # dates, numbers and short words untouched


def test_narrow_table_left_alone_wide_one_wraps_widest_one_turns():
    narrow = pd.DataFrame({"model": ["a", "b"], "score_pct": [1.0, 2.0]})
    wide = pd.DataFrame({f"column {i}": ["some words that wrap nicely in a cell"] for i in range(8)})
    widest = pd.DataFrame({f"c{i}": ["unbreakablewordnumber"] for i in range(16)})
    body = _body((narrow, "n"), (wide, "w"), (widest, "x"), (widest, "y"))
    counts = pl.layout_tables(body)
    assert counts == {"natural": 1, "wrapped": 1, "turned": 2}
    first, second, third, fourth = body.find_all("table")
    assert first.find("colgroup") is None
    cols = [c["style"] for c in second.colgroup.find_all("col")]
    assert len(cols) == 8 and all(c.startswith("width: ") for c in cols)
    turned = body.find_all("div", id=lambda i: i and i.startswith("wb-landscape-"))
    assert len(turned) == 1  # two turned tables in a row share one landscape page...
    assert turned[0].find_all("table") == [third, fourth]
    sources = [d.get_text() for d in turned[0].find_all("div", id=lambda i: i and i.startswith("wb-source-"))]
    assert sources == ["From x.", "From y."]  # ...with their source lines
    assert len(body.find_all("div", id=lambda i: i and i.startswith("wb-source-"))) == 4
    assert pl.measure(third).minimum_width <= pl.LANDSCAPE_WIDTH_PT


def test_words_too_long_for_a_landscape_page_are_cut():
    huge = pd.DataFrame({f"c{i}": ["averyveryverylongunbreakableword"] for i in range(20)})
    body = _body((huge, "z"))
    assert pl.layout_tables(body)["turned"] == 1
    assert pl.measure(body.table).minimum_width <= pl.LANDSCAPE_WIDTH_PT
    assert ZWSP in body.table.tbody.get_text()


def _figure_body(folder, *sizes_in: tuple[float, float]) -> BeautifulSoup:
    """A print body with one figure per (width, height) in inches, as PNG files drawn at 100 dpi."""
    from PIL import Image

    parts = []
    for k, (w, h) in enumerate(sizes_in):
        Image.new("RGB", (int(w * 100), int(h * 100)), "white").save(folder / f"f{k}.png", dpi=(100, 100))
        parts.append(f'<figure id="fig-{k}"><img src="f{k}.png"><figcaption>Figure 1.{k + 1}</figcaption></figure>')
    return BeautifulSoup("".join(parts), "html.parser")


def test_small_figures_stay_tall_ones_float_very_wide_ones_turn(tmp_path):
    body = _figure_body(tmp_path, (6, 3), (8, 7), (15, 4), (11, 10), (20, 1))
    counts = pl.layout_figures(body, tmp_path)
    holder = {f["id"]: f.parent.get("id", "") for f in body.find_all("figure")}
    assert holder["fig-0"] == ""  # 3 in tall: in the flow, where the chapter put it
    assert holder["fig-1"].startswith("wb-float-")  # 6.4 in tall at the column's width: floats
    assert holder["fig-2"].startswith("wb-turn-")  # 15 in wide: the column would print it at 43 %
    turned = body.find(id="fig-2").img
    assert turned["width"] == f"{pl.TURNED_FIGURE_PT:.0f}pt"  # along the page's height
    assert holder["fig-3"].startswith("wb-float-")  # wide but tall too: turning gains too little
    assert holder["fig-4"].startswith("wb-turn-")  # 20 in wide and flat: 33 % in the column, 45 % turned
    assert counts == {"in place": 1, "floated": 2, "turned": 2}
