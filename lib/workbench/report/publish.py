"""Publishing the article: one self-contained HTML page and an A4 PDF, with contents, sources and stamp.

:func:`to_html` writes ``build/report.html``: title, table of contents, the rendered chapters in order
with their figures numbered per chapter (:mod:`.figures`), a Sources section (``data/sources.csv``), the chapters' run facts and an
Environment stamp (date, git commit, Python, key package versions, backend). Styles are inlined from
``assets/report.css`` and the page from ``assets/report.html.j2``; nothing loads from the network.
:func:`to_pdf` writes ``build/report.pdf`` from the same article: pandoc 3 (``pypandoc-binary``) turns
it into typst with ``assets/report.typ`` and ``typst`` (PyPI) compiles it, all offline; tables are laid
out for the page first (:mod:`.print_layout`: legible size, wrapped or turned, never scaled down).
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import math
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import jinja2
import typst
from bs4 import BeautifulSoup

from .. import catalog, clients, paths
from .cache import read_record
from .errors import ReportError
from .print_layout import FONT_DIR, layout_figures, layout_tables
from .render import Chapter, pandoc, render_chapters

__all__ = ["ASSETS", "DEFAULT_TITLE", "KEY_PACKAGES", "environment_stamp", "to_html", "to_pdf"]

#: Packages whose versions the Environment stamp lists.
KEY_PACKAGES: tuple[str, ...] = (
    "openai", "anthropic", "google-genai", "xllamacpp", "pandas", "matplotlib", "papermill", "nbconvert",
)
#: The article's title.
DEFAULT_TITLE = "Multimodal LLMs compared: GPT, Claude, Gemini and open weights"
#: The page template, stylesheet and typst template, shipped inside this package.
ASSETS = Path(__file__).with_name("assets")


def _git(args: list[str], root: Path) -> str | None:
    """Output of ``git ARGS`` in ``root``, or None when git is missing or ``root`` is no checkout."""
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], check=False, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def environment_stamp(backend: str | None = None, root: Path | None = None) -> list[tuple[str, str]]:
    """Rows for the Environment section: build date, git commit (+ dirty), Python, packages, backend
    (and the real model behind the local backend)."""
    root = Path(root) if root is not None else paths.ROOT
    commit = _git(["rev-parse", "HEAD"], root)
    status = _git(["status", "--porcelain"], root)
    if commit is None:
        git = "not a git checkout"
    else:
        git = commit[:12] + (" (dirty: uncommitted changes)" if status else " (clean)")
    rows = [
        ("Built", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Git commit", git),
        ("Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})"),
    ]
    for pkg in KEY_PACKAGES:
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    rows.append(("Backend", backend or "unknown"))
    if backend and "local" in backend:
        rows.append(("Local model", clients.local_model_name()))
    return rows


def _sources_rows(data_dir: Path | None = None) -> list[dict[str, str]]:
    """The rows of the Sources section (``data/sources.csv``), missing values as empty text."""
    frame = catalog.load("sources", data_dir=data_dir)
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
                     for k, v in rec.items()})
    return rows


def _run_rows(executed: Sequence[Path]) -> tuple[list[dict[str, str]], str]:
    """Per-chapter run facts from the cache records, and the backend(s) used."""
    rows, backends = [], set()
    for p in executed:
        info = read_record(Path(p))
        if info.get("backend"):
            backends.add(info["backend"])
        rows.append({"chapter": Path(p).stem, "executed_at": info.get("executed_at", "unknown"),
                     "seconds": f"{info['seconds']:.1f}" if "seconds" in info else "",
                     "parameters": ", ".join(f"{k}={v}" for k, v in info.get("parameters", {}).items())})
    return rows, ", ".join(sorted(backends)) or "unknown"


def _template(name: str) -> jinja2.Template:
    """A page template from :data:`ASSETS` (HTML autoescaped)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=jinja2.select_autoescape(
        enabled_extensions=("html", "j2")), keep_trailing_newline=True)
    return env.get_template(name)


def _as_chapters(executed: Sequence[Path] | Sequence[Chapter]) -> tuple[list[Chapter], list[Path]]:
    """Chapters as given, or rendered from executed notebook paths (then also those paths)."""
    items = list(executed)
    if items and isinstance(items[0], Chapter):
        return items, []  # type: ignore[return-value]
    paths_ = [Path(p) for p in items]  # type: ignore[arg-type]
    return render_chapters(paths_), paths_


def _article(chapters: Sequence[Chapter], executed: Sequence[Path], title: str, backend: str | None,
             data_dir: Path | None, media_dir: Path | None = None) -> tuple[str, dict[str, str]]:
    """The article HTML and its environment stamp. With ``media_dir``: the print version for pandoc
    (no navigation, no styles, no wrappers, images as files in ``media_dir``)."""
    soup = BeautifulSoup("", "html.parser")
    chapters = [Chapter(c.stem, c.title, copy.copy(c.body), c.headings, c.figures) for c in chapters]
    run_rows, run_backend = _run_rows(executed)
    stamp = environment_stamp(backend or run_backend)
    if media_dir is not None:
        _flatten_for_print(chapters, media_dir)
        for ch in chapters:
            layout_tables(ch.body, soup)
            layout_figures(ch.body, media_dir.parent, soup)
    page = _template("report.html.j2").render(
        title=title,
        chapters=[{"stem": c.stem, "title": c.title,
                   "html": c.body.decode_contents() if media_dir is not None else str(c.body),
                   "sections": [(i, t) for lvl, i, t in c.headings if lvl == 2]} for c in chapters],
        sources=_sources_rows(data_dir),
        environment=stamp,
        runs=run_rows,
        css=(ASSETS / "report.css").read_text(),
        print_version=media_dir is not None,
    )
    return page, dict(stamp)


def _flatten_for_print(chapters: Sequence[Chapter], media_dir: Path) -> None:
    """Prepare chapters for pandoc -> typst: unwrap nbconvert's nested divs (typst cannot break pages
    inside blocks), point chapter links at each chapter's first heading and write embedded images to
    ``media_dir`` (pandoc is slow on megabytes of data URIs). Figures keep their ids and captions
    ("Figure 7.2. ..."; typst's own numbering is off), so references land on them in the PDF too."""
    first = {ch.stem: ch.headings[0][1] for ch in chapters if ch.headings}
    labels = {h_id for ch in chapters for _, h_id, _ in ch.headings} | {f.anchor for ch in chapters for f in ch.figures}
    media_dir.mkdir(parents=True, exist_ok=True)
    for old in media_dir.glob("*"):
        old.unlink()
    for ch in chapters:
        for a in ch.body.find_all("a", href=True):
            if not a["href"].startswith("#"):
                continue
            target = first.get(a["href"][1:], a["href"][1:])
            if target in labels:
                a["href"] = f"#{target}"
            else:  # typst refuses a link to a label that does not exist
                a.unwrap()
        for img in ch.body.find_all("img", src=True):
            if m := re.match(r"data:image/([a-z+]+);base64,(.*)", img["src"], re.DOTALL):
                data = base64.b64decode(m.group(2))
                ext = {"svg+xml": "svg", "jpeg": "jpg"}.get(m.group(1), m.group(1))
                name = f"{hashlib.sha1(data).hexdigest()[:16]}.{ext}"
                (media_dir / name).write_bytes(data)
                img["src"] = f"{media_dir.name}/{name}"
        for div in ch.body.find_all(["div", "section"]):
            div.unwrap()


def to_html(executed: Sequence[Path] | Sequence[Chapter], output: Path | None = None, *,
            title: str = DEFAULT_TITLE, backend: str | None = None, data_dir: Path | None = None,
            run_records: Sequence[Path] | None = None) -> Path:
    """Write the self-contained article (default ``build/report.html``) from executed notebooks.

    ``executed`` are executed notebook paths (their ``NAME.run.json`` records feed the Environment
    section) or chapters from :func:`render_chapters` (then pass ``run_records`` = the executed paths).
    """
    output = Path(output) if output is not None else paths.BUILD / "report.html"
    chapters, executed_paths = _as_chapters(executed)
    page, _ = _article(chapters, run_records or executed_paths, title, backend, data_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output


def to_pdf(executed: Sequence[Path] | Sequence[Chapter], output: Path | None = None, *,
           title: str = DEFAULT_TITLE, backend: str | None = None, data_dir: Path | None = None,
           run_records: Sequence[Path] | None = None) -> Path:
    """Write the A4 article as PDF (default ``build/report.pdf``): HTML -> pandoc -> typst, offline.

    The intermediate typst source and the images stay in ``pdf/`` next to the PDF.
    """
    output = Path(output) if output is not None else paths.BUILD / "report.pdf"
    chapters, executed_paths = _as_chapters(executed)
    work = output.parent / "pdf"
    page, stamp = _article(chapters, run_records or executed_paths, title, backend, data_dir,
                           media_dir=work / "media")
    pandoc(page, "-f", "html", "-t", "typst", "--wrap=preserve",
            f"--template={ASSETS / 'report.typ'}", "--metadata", f"title={title}",
            "--metadata", f"date={stamp['Built']}", "--metadata", f"subtitle={_subtitle(stamp)}",
            "-o", "report.typ", cwd=work)
    try:
        typst.compile(str(work / "report.typ"), output=str(output), root=str(work), font_paths=[str(FONT_DIR)])
    except Exception as err:  # noqa: BLE001  typst raises its own error type with the source location
        raise ReportError(f"typst could not compile {work / 'report.typ'}: {err}") from None
    return output


def _subtitle(stamp: Mapping[str, str]) -> str:
    """The PDF title page's subtitle: backend and commit."""
    return f"Backend {stamp['Backend']} · commit {stamp['Git commit']}"
