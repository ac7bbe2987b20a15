"""Build the report: execute the chapter notebooks, then write one offline HTML article and a PDF.

``python -m workbench.report [--backend local|live] [--only 01,06] [--force] [-p NAME VALUE ...]
[--no-pdf] [--cell-timeout SECONDS] [--notebooks-dir DIR] [--build-dir DIR]`` (``make report`` calls
this) or :func:`build` from Python. ``--only`` executes AND publishes only the chosen chapters. Steps:

1. **Plan** (:mod:`.plan`): every ``notebooks/[0-9][0-9]_*.ipynb`` in file-name order. ``backend`` and
   every ``-p`` parameter are passed only to the notebooks that declare them in their ``parameters``
   cell (read with Python's parser); ``-p`` values take the type of each notebook's default. A parameter
   that no selected notebook declares is an :class:`UnknownParameterError`.
2. **Execute** (:mod:`.execution`) each notebook with papermill (kernel ``python3``) into
   ``build/notebooks/``, with its working directory set to the notebooks folder, as in JupyterLab, so
   relative paths in a chapter behave the same in both. Progress: one line per notebook plus papermill's
   cell bar, timings at the end. A failing notebook raises :class:`NotebookExecutionError` naming the
   notebook and the cell; the partial executed copy stays in ``build/notebooks/`` for reading.
3. **Cache** (:mod:`.cache`): a notebook is not re-executed when the hash of (its cells' source,
   ``lib/workbench/**/*.py`` except this package, ``data/**``, its parameters, the backend) matches its
   last successful run, stored next to the executed copy as ``NAME.run.json`` (with the inputs, so a
   re-run says what changed). ``force=True`` (``--force``) re-executes. A warm build of unchanged
   chapters only re-renders.
4. **Render** (:mod:`.render`): code inputs hidden (markdown and outputs only; a code cell tagged
   ``show-input``, such as an API chapter's SDK call, keeps its code). Output on stderr (warnings,
   progress bars), cells tagged ``remove-cell`` / outputs tagged ``remove-output`` and the students'
   cells (tagged ``exercise``, ``solution``, ``check``) stay out. Output figures are numbered per chapter
   and captioned ("Figure 7.2. ..."), and prose links to ``#fig-NAME`` read "Figure 7.2" (:mod:`.figures`).
   Markdown is rendered by pandoc with math as MathML (browsers render it natively), so nothing is
   loaded from a CDN. Links between chapters (``02_api_openai.ipynb#What-we-found``) become anchors
   inside the article.
5. **Publish** (:mod:`.publish`): ``build/report.html``, one self-contained article: title, table of
   contents, the chapters in order, figures embedded as data URIs, tables, a Sources section
   (``data/sources.csv``) and an Environment stamp; ``build/report.pdf`` from the same article: pandoc 3
   (``pypandoc-binary``) turns it into typst with a local template (``assets/report.typ``) and ``typst``
   (PyPI) compiles it, all offline. Tables are set at 7.5 pt and never scaled: :mod:`.print_layout`
   wraps wide ones in measured columns and turns the widest onto landscape pages.

Secrets (:mod:`.secrets`): with backend ``local`` the kernel starts with every secret-looking environment
variable removed (``*_API_KEY``, ``*TOKEN*``, ``*SECRET*``, ...); with ``live`` it keeps only the provider
keys the clients read. Parameters that look like secrets are refused, and every file the report writes is
scanned for the values of secret environment variables: a hit is redacted and raises
:class:`SecretLeakError`.

Modules, each importing only the ones listed after it:

- ``cli``        the command line (``__main__`` runs it)
- ``pipeline``   :func:`build`: plan, execute, render, publish, check for leaks; :class:`ReportResult`
- ``publish``    HTML and PDF, table of contents, sources section, environment stamp (``assets/``)
- ``print_layout`` the PDF's tables: measured at 7.5 pt, wrapped in set columns or turned, never scaled
- ``render``     executed notebooks to article chapters (nbconvert + pandoc), code hidden, links resolved
- ``figures``    figures numbered per chapter, captioned, and referred to from the prose
- ``execution``  papermill runs, cache reuse, failing-cell messages; :class:`NotebookRun`
- ``cache``      run inputs, cache keys and the ``NAME.run.json`` records
- ``plan``       chapter selection, declared parameters, parameter types and checks
- ``secrets``    kernel environment scrubbing, secret parameters, scanning and redacting build files
- ``errors``     :class:`ReportError` and its subclasses, the progress line
"""
from __future__ import annotations

from .cache import cache_key
from .cli import main
from .errors import (
    NotebookExecutionError,
    ReportError,
    SecretLeakError,
    UnknownParameterError,
)
from .execution import NotebookRun, execute
from .pipeline import ReportResult, build
from .plan import BACKENDS, check_backend, declared_parameters, find_notebooks
from .publish import KEY_PACKAGES, environment_stamp, to_html, to_pdf
from .render import Chapter, render_chapters
from .secrets import scan_for_secrets

__all__ = [
    "BACKENDS",
    "KEY_PACKAGES",
    "Chapter",
    "NotebookExecutionError",
    "NotebookRun",
    "ReportError",
    "ReportResult",
    "SecretLeakError",
    "UnknownParameterError",
    "build",
    "cache_key",
    "check_backend",
    "declared_parameters",
    "environment_stamp",
    "execute",
    "find_notebooks",
    "main",
    "render_chapters",
    "scan_for_secrets",
    "to_html",
    "to_pdf",
]
