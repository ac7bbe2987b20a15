"""The PDF's layout of tables and wide figures, decided on the print HTML before pandoc turns it into typst.

Tables are set at one legible size (7.5 pt DejaVu Sans, ``assets/report.typ``) and never scaled down.
For each table the width of its columns is estimated from its text at that size: a table whose text fits
the column of an A4 page is left to typst; a wider one gets column widths (a ``<colgroup>``, which pandoc
passes on) between each column's longest word and its longest cell, so its cells wrap; a table whose
longest words alone do not fit the portrait column is turned: it goes on landscape pages (a
``<div id="wb-landscape-N">``, which the typst template sets with ``page(flipped: true)``), together
with its source line and any wide table right after it. Long identifiers (``a_b_c``, paths) get break
opportunities so no cell runs into the next. Long tables break across pages with the header repeated
(typst repeats ``table.header``); a table's ``*From ...*`` line becomes ``<div id="wb-source-N">``,
which the template sets small.

Figures stay where the chapter puts them, except two kinds, which float to the top or bottom of a page
(the text goes on around them, so a figure that does not fit the rest of a page leaves no half page
empty; they are numbered, captioned and referred to by number): a tall one, printing taller than a third
of the text height (``<div id="wb-float-N">``), and one drawn so wide that the text column would shrink it
below 60 % (its text then prints at a few points), which is also turned to print along the page's height
(``<div id="wb-turn-N">``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib
from bs4 import BeautifulSoup, NavigableString, Tag
from fontTools.ttLib import TTFont
from PIL import Image

__all__ = ["FONT_DIR", "FONT_PT", "LANDSCAPE_WIDTH_PT", "PORTRAIT_WIDTH_PT", "TURNED_FIGURE_PT", "TableLayout",
           "layout_figures", "layout_tables", "measure", "text_width"]

#: The DejaVu fonts that matplotlib ships: typst is given this folder, and tables are measured with them,
#: so the PDF looks the same on a machine without system fonts.
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"

#: Table text size in the PDF (assets/report.typ sets the same).
FONT_PT = 7.5
#: Width of the text column: A4 (595.3 pt x 841.9 pt) less 2.2 cm margins left and right.
PORTRAIT_WIDTH_PT = 595.3 - 2 * 62.4
#: The same on a landscape page.
LANDSCAPE_WIDTH_PT = 841.9 - 2 * 62.4
#: Longest side of a turned figure: the A4 text height (2.4 cm margins) less room for the caption and the header.
TURNED_FIGURE_PT = 650.0
#: A figure that would print smaller than this share of its drawn size in the text column is turned.
TURN_BELOW_SCALE = 0.6
#: The A4 text height (2.4 cm margins top and bottom).
TEXT_HEIGHT_PT = 841.9 - 2 * 68.0
#: A figure printing taller than this floats.
FLOAT_ABOVE_PT = TEXT_HEIGHT_PT / 3
#: Horizontal padding of one cell (typst inset 3 pt on each side).
CELL_PAD_PT = 6.0
_ZWSP = "\u200b"
_BREAK_AFTER = re.compile(r"(?<=[A-Za-z_/])([_/.=:;,])(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])(-)(?=[A-Za-z0-9])")


@cache
def _advances(bold: bool) -> tuple[dict[int, float], float]:
    """Advance widths (em) of DejaVu Sans (Bold) by code point, and the width of a missing glyph."""
    font = TTFont(FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"), lazy=True)
    upem = font["head"].unitsPerEm
    metrics = font["hmtx"].metrics
    widths = {code: metrics[name][0] / upem for code, name in font.getBestCmap().items()}
    return widths, metrics[".notdef"][0] / upem


def text_width(text: str, bold: bool = False) -> float:
    """The width in pt of ``text`` on one line at :data:`FONT_PT` in DejaVu Sans (bold for headers)."""
    widths, missing = _advances(bold)
    return sum(widths.get(ord(ch), missing) for ch in text if ch != _ZWSP) * FONT_PT


def _segments(text: str) -> list[str]:
    """The pieces a line can break between: spaces, after a hyphen, and at inserted break points."""
    return [s for s in re.split(r"[\s\u200b]+|(?<=-)(?=[^\d\s])", text) if s]


@dataclass(frozen=True)
class TableLayout:
    """What :func:`measure` found for one table (widths in pt, cell padding included)."""

    natural: list[float]  # each column's longest body cell on one line (a header by its longest word)
    minimum: list[float]  # each column's longest unbreakable piece

    @property
    def natural_width(self) -> float:
        """The table's width with no cell wrapped."""
        return sum(self.natural)

    @property
    def minimum_width(self) -> float:
        """The narrowest the table can be without a word running out of its cell."""
        return sum(self.minimum)

    def widths(self, available: float) -> list[float]:
        """Column shares of ``available`` (fractions summing to 1). Columns whose text fits under a common
        cap (found like water filling a tank) keep their natural width; the room left goes to the wider
        ones as a browser shares it: each its minimum (its longest word) plus a part of what it lacks
        for one line, in proportion, so a column of long notes gets more room than a column of names."""
        if self.natural_width <= available or self.minimum_width >= available:
            cols = self.natural if self.natural_width <= available else self.minimum
            return [c / sum(cols) for c in cols]

        def used(cap: float) -> float:
            return sum(max(m, min(n, cap)) for n, m in zip(self.natural, self.minimum))

        lo, hi = 0.0, max(self.natural)
        for _ in range(50):  # used() grows with the cap: bisect for used(cap) == available
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if used(mid) < available else (lo, mid)
        wide = [n > lo for n in self.natural]
        room = available - sum(n for n, w in zip(self.natural, wide) if not w)
        floor = sum(m for m, w in zip(self.minimum, wide) if w)
        lacking = sum(n - m for n, m, w in zip(self.natural, self.minimum, wide) if w)
        share = (room - floor) / lacking if lacking > 0 else 0.0
        cols = [m + (n - m) * share if w else n for n, m, w in zip(self.natural, self.minimum, wide)]
        return [c / sum(cols) for c in cols]


def _rows(table: Tag) -> list[list[Tag]]:
    """The table's rows as lists of cells (``th``/``td``), header first."""
    return [row.find_all(["th", "td"], recursive=False) for row in table.find_all("tr")]


def _add_break_points(table: Tag) -> None:
    """Let long identifiers (``humaneval_qwen``, ``a/b/c.gguf``, ``smollm2-135m``) break after
    ``_ / . = : ; ,`` following a letter and after any hyphen between letters or digits."""
    for text in list(table.find_all(string=True)):
        if isinstance(text, NavigableString) and any(len(w) > 12 for w in text.split()):
            broken = " ".join(_BREAK_AFTER.sub(lambda m: m.group(0) + _ZWSP, w) if len(w) > 12 else w
                              for w in text.split(" "))
            text.replace_with(broken)


def _cut_long_words(table: Tag, chunk: int) -> None:
    """Add a break opportunity every ``chunk`` characters inside words longer than that."""
    def cut(word: str) -> str:
        pieces = word.split(_ZWSP)
        return _ZWSP.join(_ZWSP.join(p[i:i + chunk] for i in range(0, len(p), chunk)) for p in pieces)

    for text in list(table.find_all(string=True)):
        if isinstance(text, NavigableString) and any(len(w) > chunk for w in re.split(r"[\s\u200b]+", text)):
            text.replace_with(" ".join(cut(w) for w in text.split(" ")))


def measure(table: Tag) -> TableLayout:
    """Estimate each column's natural width (its longest body cell on one line; a header counts by its
    longest word, headers wrap) and minimum width (its longest word) at the PDF's table size."""
    rows = _rows(table)
    width = max((len(r) for r in rows), default=0)
    natural, minimum = [CELL_PAD_PT] * width, [CELL_PAD_PT] * width
    for row in rows:
        col = 0
        for cell in row:
            span = int(cell.get("colspan", 1) or 1)
            if span == 1 and col < width:
                text = cell.get_text(" ", strip=True)
                bold = cell.name == "th"
                longest_word = max((text_width(s, bold) for s in _segments(text)), default=0) + CELL_PAD_PT
                minimum[col] = max(minimum[col], longest_word)
                # a header may wrap onto two or three lines: its words, not its whole text, set the width
                natural[col] = max(natural[col], longest_word if bold else text_width(text) + CELL_PAD_PT)
            col += span
    return TableLayout(natural, minimum)


def _set_widths(table: Tag, shares: list[float], soup: BeautifulSoup) -> None:
    """Give the table a ``<colgroup>`` with these shares (percent, as pandoc reads them)."""
    for old in table.find_all("colgroup"):
        old.decompose()
    group = soup.new_tag("colgroup")
    for share in shares:
        group.append(soup.new_tag("col", attrs={"style": f"width: {share * 100:.1f}%"}))
    table.insert(0, group)


def _next_block(tag: Tag) -> Tag | None:
    """The next sibling element (skipping whitespace)."""
    nxt = tag.next_sibling
    while isinstance(nxt, NavigableString) and not nxt.strip():
        nxt = nxt.next_sibling
    return nxt if isinstance(nxt, Tag) else None


def layout_tables(body: Tag, soup: BeautifulSoup | None = None) -> dict[str, int]:
    """Lay out every table of a flattened print body (see the module doc); return how many tables were
    left natural, wrapped and turned."""
    soup = soup or BeautifulSoup("", "html.parser")
    counts = {"natural": 0, "wrapped": 0, "turned": 0}
    turned: list[Tag] = []
    for style in body.find_all("style"):  # the screen's styles (pandas Styler): nothing for print
        style.decompose()
    for table in body.find_all("table"):
        _add_break_points(table)
        fit = measure(table)
        if fit.natural_width <= PORTRAIT_WIDTH_PT:
            counts["natural"] += 1
            continue
        if fit.minimum_width <= PORTRAIT_WIDTH_PT:
            counts["wrapped"] += 1
            _set_widths(table, fit.widths(PORTRAIT_WIDTH_PT), soup)
            continue
        counts["turned"] += 1
        for chunk in (24, 16, 10, 6):  # words too long even for a landscape page are cut every few letters
            if fit.minimum_width <= LANDSCAPE_WIDTH_PT:
                break
            _cut_long_words(table, chunk)
            fit = measure(table)
        _set_widths(table, fit.widths(LANDSCAPE_WIDTH_PT), soup)
        turned.append(table)
    for n, p in enumerate(body.find_all("p", class_="table-source"), start=1):
        box = soup.new_tag("div", attrs={"id": f"wb-source-{n}"})
        p.wrap(box)
    groups: list[Tag] = []
    for table in turned:
        # the table's outermost block inside the body (pandoc keeps tables at the top level here)
        block = table
        while block.parent is not None and block.parent is not body:
            block = block.parent
        previous = groups[-1] if groups else None
        if previous is not None and _follows(previous, block):
            previous.append(block.extract())
        else:
            box = soup.new_tag("div", attrs={"id": f"wb-landscape-{len(groups) + 1}"})
            block.wrap(box)
            groups.append(box)
        source = _next_block(groups[-1])
        if source is not None and source.get("id", "").startswith("wb-source-"):
            groups[-1].append(source.extract())
    return counts


def _follows(group: Tag, block: Tag) -> bool:
    """True when ``block`` comes right after ``group`` (nothing but whitespace between)."""
    return _next_block(group) is block


def _image_size_pt(path: Path) -> tuple[float, float] | None:
    """An image file's drawn size in pt (from its pixels and the dpi it records; 72 when it records none)."""
    try:
        with Image.open(path) as im:
            dpi = float((im.info.get("dpi") or (72, 72))[0]) or 72.0
            return im.size[0] / dpi * 72, im.size[1] / dpi * 72
    except OSError:
        return None


def layout_figures(body: Tag, base: Path, soup: BeautifulSoup | None = None) -> dict[str, int]:
    """Float the tall figures and turn those drawn too wide for the text column (see the module doc);
    return how many stayed, floated and were turned.

    ``base`` is the folder the images' ``src`` paths are relative to (the PDF's work folder).
    """
    soup = soup or BeautifulSoup("", "html.parser")
    counts = {"in place": 0, "floated": 0, "turned": 0}
    for fig in body.find_all("figure"):
        img = fig.find("img", src=True)
        size = _image_size_pt(base / img["src"]) if img is not None else None
        if size is None:
            continue
        width, height = size
        # turned: along the page's height, no taller than the text column is wide (room for the caption)
        turned = min(TURNED_FIGURE_PT, width, (PORTRAIT_WIDTH_PT - 40) * width / height)
        # turning must gain enough to be worth turning the page
        if PORTRAIT_WIDTH_PT / width < TURN_BELOW_SCALE and turned >= 1.25 * PORTRAIT_WIDTH_PT:
            counts["turned"] += 1
            img["width"] = f"{turned:.0f}pt"
            fig.wrap(soup.new_tag("div", attrs={"id": f"wb-turn-{counts['turned']}"}))
        elif height * min(1.0, PORTRAIT_WIDTH_PT / width) > FLOAT_ABOVE_PT:
            counts["floated"] += 1
            fig.wrap(soup.new_tag("div", attrs={"id": f"wb-float-{counts['floated']}"}))
        else:
            counts["in place"] += 1
    return counts
