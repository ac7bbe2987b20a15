"""The whole report build: plan and execute the chapters, render them, publish HTML and PDF, check for leaks.

:func:`build` is what ``python -m workbench.report`` (``make report``) runs; :class:`ReportResult` says
what it wrote, which chapters came from the cache and how long each took.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from .errors import say
from .execution import NotebookRun, execute
from .plan import check_backend
from .publish import DEFAULT_TITLE, to_html, to_pdf
from .render import render_chapters
from .secrets import check_build_files

__all__ = ["ReportResult", "build"]


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build` produced: the output paths and one :class:`NotebookRun` per chapter."""

    html: Path | None
    pdf: Path | None
    backend: str
    runs: tuple[NotebookRun, ...]
    seconds: float

    @property
    def cache_hits(self) -> list[str]:
        """Names of the notebooks reused from the cache."""
        return [r.name for r in self.runs if r.cached]

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per notebook (for a cache hit: the seconds of the run that is reused)."""
        return {r.name: r.seconds for r in self.runs}


def build(backend: str = "local", only: str | Iterable[str] | None = None,
          params: Mapping[str, Any] | None = None, force: bool = False, *,
          notebooks_dir: Path | None = None, build_dir: Path | None = None, pdf: bool = True,
          title: str = DEFAULT_TITLE, progress: bool = True, cli_strings: bool = False,
          cell_timeout: int | None = None) -> ReportResult:
    """Execute the notebooks (cached), then write ``report.html`` and ``report.pdf`` into ``build_dir``.

    Raises :class:`UnknownParameterError`, :class:`NotebookExecutionError` or :class:`SecretLeakError`.
    """
    start = time.perf_counter()
    build_dir = Path(build_dir) if build_dir is not None else paths.BUILD
    check_backend(backend)
    runs = execute(notebooks_dir, build_dir, backend=backend, only=only, params=params, force=force,
                   progress=progress, cli_strings=cli_strings, cell_timeout=cell_timeout)
    executed = [r.executed for r in runs]
    say("rendering the article")
    chapters = render_chapters(executed, source_dir=Path(notebooks_dir) if notebooks_dir else None)
    html_path = to_html(chapters, build_dir / "report.html", title=title, backend=backend, run_records=executed)
    pdf_path = None
    if pdf:
        say("writing the PDF (pandoc + typst)")
        pdf_path = to_pdf(chapters, build_dir / "report.pdf", title=title, backend=backend,
                          run_records=executed)
    # only what the report wrote: build/ also holds other tools' caches
    check_build_files([build_dir / "notebooks", build_dir / "pdf", html_path, pdf_path])
    return ReportResult(html_path, pdf_path, backend, tuple(runs), time.perf_counter() - start)
