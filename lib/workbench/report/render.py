"""Rendering executed chapters for the article: nbconvert body HTML with code hidden, markdown by pandoc.

Each executed notebook becomes a :class:`Chapter`: a ``<section>`` with the chapter's markdown and outputs
(code inputs hidden except in cells tagged ``show-input``, such as an API chapter's SDK call), cells
tagged ``remove-cell`` / outputs tagged ``remove-output`` and stderr left out, the students' cells
(tagged ``exercise``, ``solution``, ``check``) left out, markdown rendered by pandoc with math as MathML,
headings given article-wide ids, number columns right-aligned, a table's ``*From ...*`` line marked as
its source, output figures numbered per chapter and captioned (:mod:`.figures`), local images embedded
as data URIs, and links between chapters (``02_api_openai.ipynb#What-we-found``) and to figures
(``#fig-07_accuracy``) turned into anchors inside the article. Nothing may load from the network: an
output that would is a :class:`ReportError`.
"""
from __future__ import annotations

import base64
import copy
import mimetypes
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jinja2
import nbformat
import pypandoc
from bs4 import BeautifulSoup, Tag
from nbconvert import HTMLExporter

from .. import paths
from .errors import ReportError, say
from .figures import Figure, mark_figure_outputs, number_figures, resolve_references

__all__ = ["Chapter", "pandoc", "render_chapters"]

_NOTEBOOK_LINK = re.compile(r"^(?:.*/)?(\d\d_[^/#?]*)\.ipynb(?:#(.*))?$")
_HIDDEN_CELL_TAGS = {"remove-cell", "remove_cell", "hide-cell"}
#: The students' cells (issue 13's exercise format): the chapters keep them, the article leaves them out.
EXERCISE_TAGS = frozenset({"exercise", "solution", "check"})
_HIDDEN_OUTPUT_TAGS = {"remove-output", "remove_output", "hide-output"}
#: Code cells tagged so keep their code in the article (the API chapters' SDK calls); all others are hidden.
_SHOWN_INPUT_TAGS = {"show-input", "show_input"}


@dataclass
class Chapter:
    """One executed notebook rendered for the article."""

    stem: str
    title: str
    body: Tag
    headings: list[tuple[int, str, str]]  # (level, id, text)
    figures: list[Figure] = field(default_factory=list)  # in order, numbered "Figure C.N"


def pandoc(source: str, *args: str, cwd: Path | None = None) -> str:
    """Run pandoc (from pypandoc-binary) on ``source`` and return its output."""
    proc = subprocess.run([pypandoc.get_pandoc_path(), *args], input=source, check=False,
                          capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise ReportError(f"pandoc {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


_MARKDOWN_ARGS = ("-f", "gfm+tex_math_dollars", "-t", "html", "--mathml", "--wrap=none",
                  "--syntax-highlighting=none")


def _markdown_batch(sources: Iterable[str]) -> dict[str, str]:
    """Render many markdown snippets with ONE pandoc run (each wrapped in a marked div).

    If a snippet breaks the wrapping (an unclosed code fence, say), every snippet is rendered on its
    own instead, so the result never depends on the batching.
    """
    unique = [src for src in dict.fromkeys(sources) if src.strip()]
    if not unique:
        return {}
    joined = "".join(f'<div id="wb-md-{i}">\n\n{src}\n\n</div>\n\n' for i, src in enumerate(unique))
    soup = BeautifulSoup(pandoc(joined, *_MARKDOWN_ARGS), "html.parser")
    parts = soup.find_all("div", id=re.compile(r"^wb-md-\d+$"), recursive=False)
    if [p["id"] for p in parts] == [f"wb-md-{i}" for i in range(len(unique))]:
        return {src: part.decode_contents().strip() for src, part in zip(unique, parts)}
    return {src: pandoc(src, *_MARKDOWN_ARGS) for src in unique}


class _ArticleExporter(HTMLExporter):
    """nbconvert's body-only HTML with code inputs hidden and markdown rendered by pandoc (MathML)."""

    rendered: dict[str, str]  # markdown source -> HTML, set per notebook by render_chapters

    @jinja2.pass_context
    def markdown2html(self, context: Any, source: str) -> str:  # type: ignore[override]
        """Markdown to HTML with pandoc's rules (``$2 and $3`` stays text) and math as MathML."""
        if not source.strip():
            return ""
        out = self.rendered.get(source)
        if out is None:
            out = pandoc(source, *_MARKDOWN_ARGS)
        for name, bundle in context.get("cell", {}).get("attachments", {}).items():
            for mime, data in bundle.items():
                out = out.replace(f'src="attachment:{name}"', f'src="data:{mime};base64,{data}"')
        return out


def _markdown_sources(nb: nbformat.NotebookNode) -> list[str]:
    """Every markdown text the exporter will render: markdown cells and ``text/markdown`` outputs."""
    found = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/markdown")
            if text is not None:
                found.append("".join(text) if isinstance(text, list) else text)
    return found


def _exporter() -> _ArticleExporter:
    """The exporter for one build: prompts and anchor links off; inputs hidden per cell by :func:`_prepare`."""
    exporter = _ArticleExporter(template_name="basic", exclude_input=False, exclude_input_prompt=True,
                                exclude_output_prompt=True, anchor_link_text="")
    exporter.rendered = {}
    return exporter


def _prepare(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy for the reader: removes tagged cells/outputs (hidden and exercise cells), stderr (warnings,
    progress bars) and widgets; named figures get their name and caption in the image's alt text."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _HIDDEN_CELL_TAGS or tags & EXERCISE_TAGS or "papermill-error-cell-tag" in tags:
            continue
        if cell.cell_type == "code":
            if tags & _HIDDEN_OUTPUT_TAGS:
                cell.outputs = []
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")
                            and "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]
            shown = bool(tags & _SHOWN_INPUT_TAGS)
            if not shown:  # code is hidden unless the chapter asks to show it (e.g. SDK examples)
                cell.metadata["transient"] = {"remove_source": True}
            if not cell.outputs and not shown:
                continue
        cells.append(cell)
    nb.cells = cells
    mark_figure_outputs(nb)
    return nb


def _anchor(text: str) -> str:
    """A fragment made safe for HTML ids and typst labels (Jupyter style: spaces become '-')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", unquote(text).strip().replace(" ", "-"))


def _embed_local_image(img: Tag, base: Path, chapter: str) -> None:
    """Inline an image file referenced from markdown as a data URI; a network image is an error."""
    src = img.get("src", "")
    if not src or src.startswith("data:"):
        return
    if re.match(r"^([a-z]+:)?//", src, re.IGNORECASE):
        raise ReportError(f"{chapter}: image {src!r} is on the network; the report must render offline "
                          "(save it under figures/ and link the file)")
    path = (base / unquote(src)).resolve()
    if not path.is_file():
        raise ReportError(f"{chapter}: image {src!r} not found (looked for {path})")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    img["src"] = f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


_NUMBER = re.compile(r"^[-+−]?[$€£]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?\s*[%×x]?$")


def _align_numbers(table: Tag) -> None:
    """Right-align the columns whose body cells are all numbers (pandoc reads ``text-align``)."""
    rows = [r.find_all(["td", "th"], recursive=False) for r in table.find_all("tr")]
    body = [r for r in rows if any(c.name == "td" for c in r)]
    if not body:
        return
    width = max(len(r) for r in rows)
    for col in range(width):
        cells = [r[col].get_text(strip=True) for r in body if col < len(r) and r[col].name == "td"]
        values = [c for c in cells if c not in ("", "NaN", "nan", "None", "—", "-")]
        if values and all(_NUMBER.match(v) for v in values):
            for r in rows:
                if col < len(r):
                    r[col]["style"] = "text-align: right"


_SOURCE_LINE = re.compile(r"^From\s")


def _mark_table_sources(section: Tag) -> None:
    """Give the class ``table-source`` to a paragraph that is only ``*From ...*`` (a table's source line,
    as :func:`workbench.tables.show` writes it), so the page and the PDF can set it as a caption."""
    for p in section.find_all("p"):
        kids = [k for k in p.contents if not (isinstance(k, str) and not k.strip())]
        if len(kids) == 1 and getattr(kids[0], "name", None) == "em" and _SOURCE_LINE.match(kids[0].get_text()):
            p["class"] = [*p.get("class", []), "table-source"]


def render_chapters(executed: Sequence[Path], source_dir: Path | None = None) -> list[Chapter]:
    """Render executed notebooks as article chapters (inputs hidden, ids prefixed, links rewritten).

    ``source_dir`` resolves relative image links in markdown (default: the notebooks folder).
    """
    base = Path(source_dir) if source_dir is not None else paths.NOTEBOOKS
    exporter = _exporter()
    chapters: list[Chapter] = []
    for position, path in enumerate(executed, start=1):
        nb = _prepare(nbformat.read(path, as_version=4))
        exporter.rendered = _markdown_batch(_markdown_sources(nb))
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(base)}})
        soup = BeautifulSoup(body, "html.parser")
        stem = Path(path).stem
        section = soup.new_tag("section", attrs={"class": "chapter", "id": stem})
        section.extend(list(soup.contents))
        for tag in section.find_all("style"):  # pandas' default table style fights ours; Styler's stays
            if ".dataframe" in tag.get_text() or re.search(r"@import|url\(", tag.get_text()):
                tag.decompose()
        for tag in section.find_all(["link", "script"]):
            if tag.name == "link" or tag.get("src"):
                raise ReportError(f"{path.name}: an output loads {tag.get('src') or tag.get('href')!r} from "
                                  "outside the article; the report must render offline")
        for tag in section.find_all("a", class_="anchor-link"):
            tag.decompose()
        headings: list[tuple[int, str, str]] = []
        seen: set[str] = set()
        for h in section.find_all(re.compile(r"^h[1-6]$")):
            text = h.get_text(" ", strip=True)
            hid = f"{stem}--{_anchor(text)}"
            while hid in seen:
                hid += "-x"
            seen.add(hid)
            h["id"] = hid
            headings.append((int(h.name[1]), hid, text))
        for table in section.find_all("table"):
            del table["border"]
            _align_numbers(table)
        _mark_table_sources(section)
        figures = number_figures(section, stem, position)
        for img in section.find_all("img"):
            _embed_local_image(img, base, Path(path).name)
            if img.get("alt", "").startswith("No description"):
                img["alt"] = "figure"
        title = next((t for lvl, _, t in headings if lvl == 1), stem)
        chapters.append(Chapter(stem, title, section, headings, figures))
    missing = resolve_references([ch.body for ch in chapters], {f.anchor: f for ch in chapters for f in ch.figures})
    for text, anchor in missing:
        say(f"report: the link {text!r} points at figure #{anchor}, which is not in this build (words kept)")
    _link_chapters(chapters)
    return chapters


def _link_chapters(chapters: Sequence[Chapter]) -> None:
    """Point links to other chapters (``02_x.ipynb#Heading``) and in-page anchors at article ids."""
    ids = {t["id"] for ch in chapters for t in ch.body.find_all(id=True)} | {ch.stem for ch in chapters}
    lower = {i.lower(): i for i in ids}

    def resolve(stem: str, fragment: str | None) -> str | None:
        if not fragment:
            return stem if stem in ids else None
        want = f"{stem}--{_anchor(fragment)}"
        return want if want in ids else lower.get(want.lower())  # also pandoc-style lowercase ids

    for ch in chapters:
        for a in ch.body.find_all("a", href=True):
            href = a["href"]
            target: str | None | bool = False
            if m := _NOTEBOOK_LINK.match(href):
                target = resolve(m.group(1), m.group(2))
            elif href.startswith("#") and len(href) > 1:
                frag = href[1:]
                target = frag if frag in ids else resolve(ch.stem, frag)
            if target is False:
                continue
            if target:
                a["href"] = f"#{target}"
            else:  # the chapter is not in this build: keep the words, drop the dead link
                a.unwrap()
