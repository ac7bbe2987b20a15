"""Figures in the article: numbered per chapter ("Figure 7.2"), captioned, and referred to from the prose.

A figure saved with :func:`workbench.plots.save` carries its name and caption in its output metadata.
:func:`mark_figure_outputs` turns that metadata into a token in the image's ``alt`` text before nbconvert
exports the notebook; :func:`number_figures` then wraps every output image of a chapter in a
``<figure id="fig-NAME">`` with the caption ``Figure C.N. caption`` (C the chapter number, N the figure's
place in the chapter; an image not saved by name gets ``id="figure-C-N"``), and :func:`resolve_references`
turns prose links to a figure, ``[the accuracy figure](#fig-07_accuracy)``, into ``Figure 7.2`` pointing
at it. In Jupyter such a link keeps its words ("the accuracy figure"). A link to a figure that is not in
this build keeps its words and loses the link.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import nbformat
from bs4 import BeautifulSoup, Tag

__all__ = ["FIGURE_PREFIX", "Figure", "figure_target", "mark_figure_outputs", "number_figures",
           "resolve_references"]

#: Key of the output metadata written by :func:`workbench.plots.save` (and :mod:`workbench.tables`).
FIGURE_KEY = "workbench"
#: Anchor prefix of a named figure: ``#fig-07_accuracy``.
FIGURE_PREFIX = "fig-"
_TOKEN = "wb-figure:"
_REFERENCE = re.compile(r"^(?:(?:.*/)?\d\d_[^/#?]*\.ipynb)?#(fig-[a-z0-9][a-z0-9_-]*)$")


@dataclass(frozen=True)
class Figure:
    """One numbered figure of the article."""

    anchor: str  # the element id: fig-NAME, or figure-C-N for an unnamed image
    label: str  # "Figure 7.2"
    caption: str  # the caption's text after the label (may be empty)


def mark_figure_outputs(nb: nbformat.NotebookNode) -> None:
    """Put each named figure's name and caption into its image's ``alt`` text (nbconvert writes it)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = (out.get("metadata") or {}).get(FIGURE_KEY) or {}
            if isinstance(meta, dict) and meta.get("figure"):
                out.setdefault("metadata", {})["alt"] = f"{_TOKEN}{meta['figure']}|{meta.get('caption') or ''}"


def chapter_number(stem: str, position: int) -> str:
    """The chapter's number for figure labels: ``07_x`` -> ``7``; else its position in the article."""
    m = re.match(r"^(\d+)_", stem)
    return str(int(m.group(1))) if m else str(position)


def number_figures(section: Tag, stem: str, position: int) -> list[Figure]:
    """Wrap each output image of a chapter in a numbered, captioned ``<figure>``; return the figures."""
    soup = BeautifulSoup("", "html.parser")
    number = chapter_number(stem, position)
    figures: list[Figure] = []
    for div in section.select("div.output_png, div.output_jpeg, div.output_svg"):
        n = len(figures) + 1
        img = div.find("img")
        alt = img.get("alt", "") if img else ""
        name, caption = "", ""
        if alt.startswith(_TOKEN):
            name, _, caption = alt[len(_TOKEN):].partition("|")
        anchor = f"{FIGURE_PREFIX}{name}" if name else f"figure-{number}-{n}"
        label = f"Figure {number}.{n}"
        if img is not None:
            img["alt"] = f"{label}. {caption}" if caption else label
        fig = soup.new_tag("figure", attrs={"class": "output-figure", "id": anchor})
        for child in list(div.contents):
            fig.append(child)
        cap = soup.new_tag("figcaption")
        strong = soup.new_tag("span", attrs={"class": "figure-label"})
        strong.string = label + ("." if caption else "")
        cap.append(strong)
        if caption:
            cap.append(" " + caption)
        fig.append(cap)
        div.append(fig)
        figures.append(Figure(anchor, label, caption))
    return figures


def figure_target(href: str) -> str | None:
    """The figure anchor a link points at (``#fig-NAME`` or ``NN_chapter.ipynb#fig-NAME``), else None."""
    m = _REFERENCE.match(href)
    return m.group(1) if m else None


def resolve_references(sections: Sequence[Tag], figures: dict[str, Figure]) -> list[tuple[str, str]]:
    """Turn links to figures into their labels (``Figure 7.2``) pointing at the figure's anchor.

    A link to a figure missing from ``figures`` keeps its words and loses the link; these are returned
    as (link text, anchor) pairs.
    """
    missing: list[tuple[str, str]] = []
    for section in sections:
        for a in section.find_all("a", href=True):
            anchor = figure_target(a["href"])
            if anchor is None:
                continue
            fig = figures.get(anchor)
            if fig is None:
                missing.append((a.get_text(), anchor))
                a.unwrap()
                continue
            a["href"] = f"#{anchor}"
            a["class"] = [*a.get("class", []), "figure-ref"]
            a.string = fig.label
    return missing

