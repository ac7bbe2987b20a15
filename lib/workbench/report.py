"""Build the report: execute the chapter notebooks, then write one offline HTML article and a PDF.

``python -m workbench.report [--backend local|live] [--only 01,06] [--force] [-p NAME VALUE ...]
[--no-pdf] [--cell-timeout SECONDS] [--notebooks-dir DIR] [--build-dir DIR]`` (``make report`` calls
this) or :func:`build` from Python. ``--only`` executes AND publishes only the chosen chapters. Steps:

1. **Execute** every ``notebooks/[0-9][0-9]_*.ipynb`` in file-name order with papermill (kernel
   ``python3``) into ``build/notebooks/``. Each notebook runs with its working directory set to the
   notebooks folder, as in JupyterLab, so relative paths in a chapter behave the same in both. ``backend``
   and every ``-p`` parameter are passed only to the notebooks that declare them in their ``parameters``
   cell (read with Python's parser); ``-p`` values take the type of each notebook's default. A parameter
   that no selected notebook declares is an :class:`UnknownParameterError`. Output on stderr (warnings,
   progress bars) and cells tagged ``remove-cell`` / outputs tagged ``remove-output`` stay out of the
   article. Progress: one line per notebook plus papermill's cell bar, timings at the end. A failing
   notebook raises :class:`NotebookExecutionError` naming the notebook and the cell; the partial executed
   copy stays in ``build/notebooks/`` for reading.
2. **Cache**: a notebook is not re-executed when the hash of (its cells' source, ``lib/workbench/**/*.py``
   except this module, ``data/**``, its parameters, the backend) matches its last successful run, stored
   next to the executed copy as ``NAME.run.json`` (with the inputs, so a re-run says what changed).
   ``force=True`` (``--force``) re-executes. A warm build of unchanged chapters only re-renders.
3. **HTML**: ``build/report.html``, one self-contained article: title, table of contents, the chapters in
   order with code inputs hidden (markdown and outputs only; a code cell tagged ``show-input``, such as
   an API chapter's SDK call, keeps its code), figures embedded as data URIs, tables, a
   Sources section (``data/sources.csv``) and an Environment stamp. Markdown is rendered by pandoc with
   math as MathML (browsers render it natively), so nothing is loaded from a CDN. Links between chapters
   (``02_api_openai.ipynb#What-we-found``) become anchors inside the article.
4. **PDF**: ``build/report.pdf`` from the same article: pandoc 3 (``pypandoc-binary``) turns it into typst
   with a local template (``report_assets/report.typ``) and ``typst`` (PyPI) compiles it, all offline.

Secrets: with backend ``local`` the kernel starts with every secret-looking environment variable removed
(``*_API_KEY``, ``*TOKEN*``, ``*SECRET*``, ...); with ``live`` it keeps only the provider keys the clients
read. Parameters that look like secrets are refused, and every file the report writes is scanned for the
values of secret environment variables: a hit is redacted and raises :class:`SecretLeakError`.
"""
from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import copy
import datetime as dt
import hashlib
import json
import mimetypes
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jinja2
import nbformat
import papermill as pm
import pypandoc
import typst
from bs4 import BeautifulSoup, Tag
from nbconvert import HTMLExporter

from . import catalog, clients, paths

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

#: Chapter notebooks: two digits, an underscore, a name.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
#: The Jupyter kernel every chapter runs in.
KERNEL = "python3"
#: Backends a report can be built with.
BACKENDS: tuple[str, ...] = tuple(clients.BACKENDS)
#: Packages whose versions the Environment stamp lists.
KEY_PACKAGES: tuple[str, ...] = (
    "openai", "anthropic", "google-genai", "xllamacpp", "pandas", "matplotlib", "papermill", "nbconvert",
)
#: The article's title.
DEFAULT_TITLE = "Multimodal LLMs compared: GPT, Claude, Gemini and open weights"
ASSETS = Path(__file__).with_name("report_assets")
#: Environment variables the live clients read; the only secrets a ``live`` kernel keeps.
LIVE_KEYS: tuple[str, ...] = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"api_?key|secret|passw|credential|(^|_)(access_|auth_)?token$", re.IGNORECASE)
_NOT_SECRET = {"PYTEST_CURRENT_TEST"}
_NOTEBOOK_LINK = re.compile(r"^(?:.*/)?(\d\d_[^/#?]*)\.ipynb(?:#(.*))?$")
_HIDDEN_CELL_TAGS = {"remove-cell", "remove_cell", "hide-cell"}
_HIDDEN_OUTPUT_TAGS = {"remove-output", "remove_output", "hide-output"}
#: Code cells tagged so keep their code in the article (the API chapters' SDK calls); all others are hidden.
_SHOWN_INPUT_TAGS = {"show-input", "show_input"}
_REDACTED = "[redacted]"
_THIS_FILE = Path(__file__).resolve()


class ReportError(RuntimeError):
    """The report could not be built; the message says which notebook, parameter or file."""


class UnknownParameterError(ReportError, ValueError):
    """A parameter that no selected notebook declares, a bad backend or ``only`` value, or a secret."""


class NotebookExecutionError(ReportError):
    """A notebook failed; names the notebook and the cell, and where the partial executed copy is."""

    def __init__(self, notebook: str, cell: int, message: str, executed: Path) -> None:
        self.notebook = notebook
        self.cell = cell
        self.executed = executed
        super().__init__(message)


class SecretLeakError(ReportError):
    """The value of a secret environment variable was found in a build file (it has been redacted)."""


@dataclass(frozen=True)
class NotebookRun:
    """One chapter of a build: where it came from, where its executed copy is, how long it took."""

    name: str
    source: Path
    executed: Path
    seconds: float
    cached: bool
    executed_at: str
    parameters: dict[str, Any] = field(default_factory=dict)


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


@dataclass
class Chapter:
    """One executed notebook rendered for the article."""

    stem: str
    title: str
    body: Tag
    headings: list[tuple[int, str, str]]  # (level, id, text)


# --------------------------------------------------------------------------------------------------
# Selecting notebooks and checking parameters


def check_backend(value: str, param: str = "backend") -> str:
    """Return ``value`` if it is a known backend, else raise :class:`UnknownParameterError`."""
    try:
        return clients.check_backend(value, param)
    except ValueError as err:
        raise UnknownParameterError(str(err)) from None


def find_notebooks(notebooks_dir: Path | None = None, only: str | Iterable[str] | None = None) -> list[Path]:
    """The chapter notebooks in order; ``only`` keeps those whose number (``"01"``) or name is listed.

    ``only`` may be a comma-separated string (``"01,06"``) or a list. An entry that matches no notebook
    raises :class:`UnknownParameterError` listing the available ones.
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else paths.NOTEBOOKS
    if not folder.is_dir():
        raise ReportError(f"notebooks_dir: {folder} is not a folder")
    found = sorted(folder.glob(NOTEBOOK_GLOB))
    if only is None:
        return found
    wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if str(w).strip()]
    if not wanted:
        raise UnknownParameterError("only: empty selection; give notebook numbers such as '01,06'")
    chosen: list[Path] = []
    for w in wanted:
        w = str(w).removesuffix(".ipynb")
        hits = [p for p in found if p.stem == w or p.stem[:2] == w.zfill(2)]
        if not hits:
            valid = ", ".join(p.stem for p in found) or "(none)"
            raise UnknownParameterError(f"only: no notebook {w!r} in {folder}; valid choices: {valid}")
        chosen.extend(h for h in hits if h not in chosen)
    return sorted(chosen)


def declared_parameters(notebook: Path) -> dict[str, str]:
    """The parameters a notebook declares in its ``parameters`` cell: name -> default (source text).

    Read with Python's own parser (papermill's line regex skips lines such as ``x = None  # None = all``);
    papermill injects the values the same way either way.
    """
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as err:
        raise ReportError(f"{notebook}: not a readable notebook: {err}") from None
    cell = next((c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])),
                None)
    if cell is None:
        return {}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:  # e.g. IPython magics: fall back to papermill's own reader
        return {name: spec["default"] for name, spec in pm.inspect_notebook(str(notebook)).items()}
    declared: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                declared[target.id] = ast.get_source_segment(cell.source, value) or ""
    return declared


def _secret_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables that look like secrets (by name), with values long enough to scan for."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items()
            if _SECRET_NAME.search(k) and k not in _NOT_SECRET and len(v.strip()) >= 8}


def _coerce(value: str, default: str) -> Any:
    """Turn a command-line string into the type of the declared default (``default`` is source text).

    A Python literal is read as such (``5``, ``0.9``, ``["a", "b"]``, ``None``); ``a,b`` becomes a list
    when the default is a list or ``None``; for a string default the text is kept as it is.
    """
    try:
        default_value = ast.literal_eval(default)
    except (ValueError, SyntaxError):
        default_value = None
    if isinstance(default_value, str):
        return value
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        if isinstance(default_value, bool) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(default_value, (list, tuple)) or (default_value is None and "," in value):
            return [v.strip() for v in value.split(",") if v.strip()]  # models=a,b (default list or None)
        return value
    if isinstance(default_value, list) and isinstance(parsed, tuple):
        return list(parsed)
    return parsed


def _plan(notebooks: Sequence[Path], backend: str, params: Mapping[str, Any] | None,
          cli_strings: bool = False) -> dict[Path, dict[str, Any]]:
    """The parameters each notebook gets; validates names, refuses secrets."""
    check_backend(backend)
    params = dict(params or {})
    if "backend" in params:
        raise UnknownParameterError("params: pass the backend with backend=... (--backend), not as a parameter")
    declared = {nb: declared_parameters(nb) for nb in notebooks}
    secrets = _secret_environment()
    for name, value in params.items():
        text = json.dumps(value, default=str)
        if _SECRET_PARAM.search(name) or any(s in text for s in secrets.values()):
            raise UnknownParameterError(
                f"params: parameter {name!r} looks like a secret; keys are read from the environment by "
                "workbench.clients, never passed as notebook parameters")
        if not any(name in d for d in declared.values()):
            known = sorted({n for d in declared.values() for n in d})
            raise UnknownParameterError(
                f"params: unknown parameter {name!r}: no selected notebook declares it in its parameters cell; "
                f"declared: {', '.join(known) or '(none)'}")
    plan: dict[Path, dict[str, Any]] = {}
    for nb, decl in declared.items():
        chosen: dict[str, Any] = {}
        if "backend" in decl:
            chosen["backend"] = backend
        for name, value in params.items():
            if name in decl:
                chosen[name] = _coerce(value, decl[name]) if cli_strings and isinstance(value, str) else value
        plan[nb] = chosen
    return plan


# --------------------------------------------------------------------------------------------------
# Cache


def _tree_files(lib_dir: Path, data_dir: Path) -> dict[str, str]:
    """SHA-256 of every library source (except this module) and every data file, by relative name."""
    files = [(f"lib/{p.relative_to(lib_dir)}", p) for p in sorted(lib_dir.rglob("*.py"))
             if p.resolve() != _THIS_FILE and "__pycache__" not in p.parts]
    if data_dir.is_dir():
        files += [(f"data/{p.relative_to(data_dir)}", p) for p in sorted(data_dir.rglob("*"))
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts)]
    return {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in files}


def _notebook_digest(notebook: Path) -> str:
    """Hash of a notebook's cells (type, source, tags); outputs and execution counts do not count."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [(c.cell_type, c.source, sorted(c.get("metadata", {}).get("tags", []))) for c in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def _inputs(notebook: Path, params: Mapping[str, Any], backend: str, files: Mapping[str, str]) -> dict[str, Any]:
    """Everything a run depends on, as stored in its record."""
    return {"notebook": _notebook_digest(notebook), "files": dict(files), "backend": backend,
            "params": json.loads(json.dumps(params, sort_keys=True, default=str))}


def _key(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def cache_key(notebook: Path, params: Mapping[str, Any], backend: str, *, lib_dir: Path | None = None,
              data_dir: Path | None = None) -> str:
    """The cache key of one notebook run: hash of notebook source, library, data, parameters, backend."""
    files = _tree_files(lib_dir or _THIS_FILE.parent, data_dir or paths.DATA)
    return _key(_inputs(notebook, params, backend, files))


def _why(prior: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """Why a notebook runs again, in words."""
    if not prior:
        return "no earlier successful run"
    reasons = [what for what in ("notebook", "backend", "params") if prior.get(what) != now[what]]
    before, after = prior.get("files", {}), now["files"]
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    if changed:
        reasons.append("changed " + ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else ""))
    return "; ".join(reasons) or "forced"


def _record_path(executed: Path) -> Path:
    return executed.with_name(executed.stem + ".run.json")


# --------------------------------------------------------------------------------------------------
# Execution


@contextlib.contextmanager
def _kernel_environment(backend: str) -> Iterator[None]:
    """Remove secrets from ``os.environ`` while kernels start (a ``live`` kernel keeps the provider keys)."""
    keep = set(LIVE_KEYS) if backend == "live" else set()
    removed = {k: os.environ.pop(k) for k in _secret_environment() if k not in keep}
    try:
        yield
    finally:
        os.environ.update(removed)


def _failing_cell(source_nb: Path, source: str, index: int) -> tuple[int, str]:
    """The 1-based position in the source notebook of the code cell with ``source``, and its first line."""
    nb = nbformat.read(source_nb, as_version=4)
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and cell.source == source:
            break
    else:
        i = index + 1
    first = next((ln for ln in (source or "").splitlines() if ln.strip()), "")
    return i, first[:80]


def _running_cell(source_nb: Path, executed: Path) -> tuple[int, str]:
    """The cell that was running when execution stopped, from a partial executed copy (0 if unknown)."""
    if executed.exists():
        book = nbformat.read(executed, as_version=4)
        status = [c.get("metadata", {}).get("papermill", {}) for c in book.cells]
        for i, meta in enumerate(status):
            if meta.get("exception") or meta.get("status") == "running":
                return _failing_cell(source_nb, book.cells[i].source, i)
        started = [i for i, meta in enumerate(status) if meta.get("status") not in (None, "pending")]
        if started:  # a timeout leaves the cell it stopped marked "completed": the last one started
            return _failing_cell(source_nb, book.cells[started[-1]].source, started[-1])
    return 0, ""


def execute(notebooks_dir: Path | None = None, build_dir: Path | None = None, *, backend: str = "local",
            only: str | Iterable[str] | None = None, params: Mapping[str, Any] | None = None,
            force: bool = False, progress: bool = True, cell_timeout: int | None = None,
            cli_strings: bool = False) -> list[NotebookRun]:
    """Execute the chapter notebooks in order into ``build_dir/notebooks/``, reusing unchanged runs.

    ``params`` go only to the notebooks that declare them (``cli_strings=True`` converts string values to
    the type of each notebook's default, as the command line needs). Raises
    :class:`UnknownParameterError` before anything runs, and :class:`NotebookExecutionError` at the first
    failing notebook.
    """
    build_dir = Path(build_dir) if build_dir is not None else paths.BUILD
    notebooks = find_notebooks(notebooks_dir, only)
    if not notebooks:
        raise ReportError(f"notebooks_dir: no notebooks matching {NOTEBOOK_GLOB} in "
                          f"{notebooks_dir or paths.NOTEBOOKS}")
    plan = _plan(notebooks, backend, params, cli_strings=cli_strings)
    out_dir = build_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = _tree_files(_THIS_FILE.parent, paths.DATA)
    runs: list[NotebookRun] = []
    with contextlib.ExitStack() as shared:
        for n, nb in enumerate(notebooks, start=1):
            runs.append(_execute_one(n, len(notebooks), nb, out_dir, plan[nb], backend, files, force, progress,
                                     cell_timeout, shared))
    return runs


def _share_local_provider(shared: contextlib.ExitStack) -> None:
    """Start one local provider for all the kernels of this build (``WORKBENCH_LOCAL_URL``), once.

    Without it every kernel would start its own engine, and two cores would be shared among several.
    A provider already named by ``WORKBENCH_LOCAL_URL`` (``make serve``, the test session) is reused.
    """
    if os.environ.get("WORKBENCH_LOCAL_URL"):
        return
    from .local import LocalProvider

    provider = shared.enter_context(LocalProvider())
    os.environ["WORKBENCH_LOCAL_URL"] = provider.base_url or ""
    shared.callback(os.environ.pop, "WORKBENCH_LOCAL_URL", None)
    _say(f"local provider for this build: {provider.base_url} ({provider.model_name})")


def _execute_one(n: int, total: int, nb: Path, out_dir: Path, params: dict[str, Any], backend: str,
                 files: Mapping[str, str], force: bool, progress: bool, cell_timeout: int | None,
                 shared: contextlib.ExitStack) -> NotebookRun:
    """Execute one notebook (or reuse its unchanged run) and record it."""
    executed = out_dir / nb.name
    record = _record_path(executed)
    inputs = _inputs(nb, params, backend, files)
    key = _key(inputs)
    try:
        prior = json.loads(record.read_text()) if record.exists() else {}
    except json.JSONDecodeError:
        prior = {}
    if not force and prior.get("key") == key and executed.exists():
        _say(f"[{n}/{total}] {nb.stem}: unchanged, reusing the run of {prior['executed_at']}")
        return NotebookRun(nb.stem, nb, executed, prior["seconds"], True, prior["executed_at"], params)
    record.unlink(missing_ok=True)
    why = "forced" if force else _why(prior.get("inputs", {}), inputs)
    _say(f"[{n}/{total}] {nb.stem}: executing ({why})"
         + (f" with {', '.join(f'{k}={v!r}' for k, v in params.items())}" if params else ""))
    if backend == "local":
        _share_local_provider(shared)
    start = time.perf_counter()
    try:
        with _kernel_environment(backend):
            pm.execute_notebook(str(nb), str(executed), parameters=params, kernel_name=KERNEL,
                                cwd=str(nb.parent), progress_bar=progress, log_output=False,
                                execution_timeout=cell_timeout)
    except pm.PapermillExecutionError as err:
        _redact_build_files([executed])
        cell, first = _failing_cell(nb, err.source, err.cell_index)
        raise NotebookExecutionError(
            nb.stem, cell,
            f"notebook {nb.name} failed in cell {cell} ({first!r}): {err.ename}: {err.evalue}\n"
            f"  partial executed copy: {executed}", executed) from None
    except Exception as err:  # the kernel died, a cell timed out, the kernel could not start
        _redact_build_files([executed])
        cell, first = _running_cell(nb, executed)
        raise NotebookExecutionError(
            nb.stem, cell,
            f"notebook {nb.name} failed in cell {cell} ({first!r}): {type(err).__name__}: {err}\n"
            f"  partial executed copy: {executed}", executed) from None
    seconds = time.perf_counter() - start
    leaks = _redact_build_files([executed])
    if leaks:
        raise SecretLeakError(f"notebook {nb.name} printed the value of {', '.join(sorted(leaks))} "
                              f"(redacted in {executed}); never display keys")
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    record.write_text(json.dumps({"key": key, "seconds": round(seconds, 2), "executed_at": when,
                                  "backend": backend, "parameters": params, "inputs": inputs},
                                 indent=1, default=str))
    _say(f"[{n}/{total}] {nb.stem}: done in {seconds:.1f} s")
    return NotebookRun(nb.stem, nb, executed, seconds, False, when, params)


def _say(message: str) -> None:
    """Progress line on stderr (stdout stays free for the final summary)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Secrets scan


def scan_for_secrets(folder: Path, environ: Mapping[str, str] | None = None) -> dict[Path, list[str]]:
    """Files under ``folder`` (or the file itself) that contain the value of a secret environment variable,
    each with the names of the variables found."""
    secrets = {k: v.encode() for k, v in _secret_environment(environ).items()}
    hits: dict[Path, list[str]] = {}
    folder = Path(folder)
    if not secrets or not folder.exists():
        return hits
    for p in [folder] if folder.is_file() else sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            names = [k for k, v in secrets.items() if v in data]
            if names:
                hits[p] = names
    return hits


def _redact_build_files(files: Iterable[Path]) -> set[str]:
    """Replace secret values in text files (delete binary ones); return the names of leaked variables."""
    secrets = _secret_environment()
    leaked: set[str] = set()
    for p in files:
        if not p.is_file():
            continue
        data = p.read_bytes()
        names = [k for k, v in secrets.items() if v.encode() in data]
        if not names:
            continue
        leaked.update(names)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            p.unlink()
            continue
        for k in names:
            text = text.replace(secrets[k], _REDACTED)
        p.write_text(text, encoding="utf-8")
    return leaked


# --------------------------------------------------------------------------------------------------
# Rendering chapters


def _pandoc(source: str, *args: str, cwd: Path | None = None) -> str:
    """Run pandoc (from pypandoc-binary) on ``source`` and return its output."""
    proc = subprocess.run([pypandoc.get_pandoc_path(), *args], input=source, capture_output=True,
                          text=True, cwd=cwd)
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
    soup = BeautifulSoup(_pandoc(joined, *_MARKDOWN_ARGS), "html.parser")
    parts = soup.find_all("div", id=re.compile(r"^wb-md-\d+$"), recursive=False)
    if [p["id"] for p in parts] == [f"wb-md-{i}" for i in range(len(unique))]:
        return {src: part.decode_contents().strip() for src, part in zip(unique, parts)}
    return {src: _pandoc(src, *_MARKDOWN_ARGS) for src in unique}


class _ArticleExporter(HTMLExporter):
    """nbconvert's body-only HTML with code inputs hidden and markdown rendered by pandoc (MathML)."""

    rendered: dict[str, str] = {}  # markdown source -> HTML, filled per notebook by render_chapters

    @jinja2.pass_context
    def markdown2html(self, context: Any, source: str) -> str:  # type: ignore[override]
        """Markdown to HTML with pandoc's rules (``$2 and $3`` stays text) and math as MathML."""
        if not source.strip():
            return ""
        out = self.rendered.get(source)
        if out is None:
            out = _pandoc(source, *_MARKDOWN_ARGS)
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
    return _ArticleExporter(template_name="basic", exclude_input=False, exclude_input_prompt=True,
                            exclude_output_prompt=True, anchor_link_text="")


def _prepare(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy for the reader: removes tagged cells/outputs, stderr (warnings, progress bars), widgets."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _HIDDEN_CELL_TAGS or "papermill-error-cell-tag" in tags:
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


def render_chapters(executed: Sequence[Path], source_dir: Path | None = None) -> list[Chapter]:
    """Render executed notebooks as article chapters (inputs hidden, ids prefixed, links rewritten).

    ``source_dir`` resolves relative image links in markdown (default: the notebooks folder).
    """
    base = Path(source_dir) if source_dir is not None else paths.NOTEBOOKS
    exporter = _exporter()
    chapters: list[Chapter] = []
    for path in executed:
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
        for img in section.find_all("img"):
            _embed_local_image(img, base, Path(path).name)
            if img.get("alt", "").startswith("No description"):
                img["alt"] = "figure"
        title = next((t for lvl, _, t in headings if lvl == 1), stem)
        chapters.append(Chapter(stem, title, section, headings))
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


def _figures(chapters: Sequence[Chapter], soup_factory: BeautifulSoup) -> None:
    """Wrap each output image in a numbered ``<figure>`` ("Figure N", numbered through the article)."""
    n = 0
    for ch in chapters:
        for div in ch.body.select("div.output_png, div.output_jpeg, div.output_svg"):
            n += 1
            fig = soup_factory.new_tag("figure", attrs={"class": "output-figure", "id": f"figure-{n}"})
            for child in list(div.contents):
                fig.append(child)
            cap = soup_factory.new_tag("figcaption")
            cap.string = f"Figure {n}"
            fig.append(cap)
            div.append(fig)


# --------------------------------------------------------------------------------------------------
# Sources and environment


def _git(args: list[str], root: Path) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
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
        ("Built", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
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
    frame = catalog.load("sources", data_dir=data_dir)
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({k: ("" if v is None or (isinstance(v, float) and v != v) else str(v))
                     for k, v in rec.items()})
    return rows


def _run_rows(executed: Sequence[Path]) -> tuple[list[dict[str, str]], str]:
    """Per-chapter run facts from the cache records, and the backend(s) used."""
    rows, backends = [], set()
    for p in executed:
        record = _record_path(Path(p))
        info = json.loads(record.read_text()) if record.exists() else {}
        if info.get("backend"):
            backends.add(info["backend"])
        rows.append({"chapter": Path(p).stem, "executed_at": info.get("executed_at", "unknown"),
                     "seconds": f"{info['seconds']:.1f}" if "seconds" in info else "",
                     "parameters": ", ".join(f"{k}={v}" for k, v in info.get("parameters", {}).items())})
    return rows, ", ".join(sorted(backends)) or "unknown"


# --------------------------------------------------------------------------------------------------
# HTML and PDF


def _template(name: str) -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=jinja2.select_autoescape(
        enabled_extensions=("html", "j2")), keep_trailing_newline=True)
    return env.get_template(name)


def _as_chapters(executed: Sequence[Path] | Sequence[Chapter]) -> tuple[list[Chapter], list[Path]]:
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
    chapters = [Chapter(c.stem, c.title, copy.copy(c.body), c.headings) for c in chapters]
    _figures(chapters, soup)
    run_rows, run_backend = _run_rows(executed)
    stamp = environment_stamp(backend or run_backend)
    if media_dir is not None:
        _flatten_for_print(chapters, media_dir)
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
    inside blocks), point chapter links at each chapter's first heading, write embedded images to
    ``media_dir`` (pandoc is slow on megabytes of data URIs) and drop figure captions (typst numbers
    figures on its own, in the same order)."""
    first = {ch.stem: ch.headings[0][1] for ch in chapters if ch.headings}
    labels = {h_id for ch in chapters for _, h_id, _ in ch.headings}
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
        for fig in ch.body.find_all("figure"):
            if fig.figcaption:
                fig.figcaption.decompose()
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
    _pandoc(page, "-f", "html", "-t", "typst", "--wrap=preserve",
            f"--template={ASSETS / 'report.typ'}", "--metadata", f"title={title}",
            "--metadata", f"date={stamp['Built']}", "--metadata", f"subtitle={_subtitle(stamp)}",
            "-o", "report.typ", cwd=work)
    try:
        typst.compile(str(work / "report.typ"), output=str(output), root=str(work))
    except Exception as err:  # typst raises its own error type with the source location
        raise ReportError(f"typst could not compile {work / 'report.typ'}: {err}") from None
    return output


def _subtitle(stamp: Mapping[str, str]) -> str:
    return f"Backend {stamp['Backend']} · commit {stamp['Git commit']}"


# --------------------------------------------------------------------------------------------------
# The whole build


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
    _say("rendering the article")
    chapters = render_chapters(executed, source_dir=Path(notebooks_dir) if notebooks_dir else None)
    html_path = to_html(chapters, build_dir / "report.html", title=title, backend=backend, run_records=executed)
    pdf_path = None
    if pdf:
        _say("writing the PDF (pandoc + typst)")
        pdf_path = to_pdf(chapters, build_dir / "report.pdf", title=title, backend=backend,
                          run_records=executed)
    hits: dict[Path, list[str]] = {}
    for product in (build_dir / "notebooks", build_dir / "pdf", html_path, pdf_path):
        if product is not None:  # only what the report wrote: build/ also holds other tools' caches
            hits.update(scan_for_secrets(product))
    if hits:
        leaked = _redact_build_files(hits)
        raise SecretLeakError(f"the value of {', '.join(sorted(leaked))} reached "
                              f"{', '.join(str(p) for p in hits)} (redacted or removed)")
    return ReportResult(html_path, pdf_path, backend, tuple(runs), time.perf_counter() - start)


def _summary(result: ReportResult) -> str:
    width = max([len(r.name) for r in result.runs] + [8])
    lines = [f"{'notebook':<{width}}  {'seconds':>8}  status"]
    for r in result.runs:
        status = f"cached (run {r.executed_at})" if r.cached else "executed"
        lines.append(f"{r.name:<{width}}  {r.seconds:>8.1f}  {status}")
    lines.append(f"total {result.seconds:.1f} s, backend {result.backend}, "
                 f"{len(result.cache_hits)}/{len(result.runs)} from cache")
    lines.append(f"HTML: {result.html}")
    if result.pdf:
        lines.append(f"PDF:  {result.pdf}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m workbench.report [--backend ...] [--only ...] [--force] [-p NAME VALUE]``."""
    parser = argparse.ArgumentParser(prog="python -m workbench.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="model backend (default: local)")
    parser.add_argument("--only", help="comma-separated notebook numbers, e.g. 01,06 (default: all)")
    parser.add_argument("--force", action="store_true", help="re-execute notebooks even if unchanged")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter, passed to the notebooks that declare it "
                             "(e.g. -p models gpt-4o,claude-3-5-sonnet-20240620 -p confidence 0.9)")
    parser.add_argument("--no-pdf", action="store_true", help="write only the HTML")
    parser.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                        help="fail a notebook whose cell runs longer than this (default: no limit)")
    parser.add_argument("--notebooks-dir", type=Path, default=None, help="default: notebooks/")
    parser.add_argument("--build-dir", type=Path, default=None, help="default: build/")
    args = parser.parse_args(argv)
    params: dict[str, str] = {}
    for name, value in args.parameter:
        params[name] = value
    try:
        result = build(args.backend, args.only, params, args.force, notebooks_dir=args.notebooks_dir,
                       build_dir=args.build_dir, pdf=not args.no_pdf, cli_strings=True,
                       cell_timeout=args.cell_timeout)
    except ReportError as err:
        print(f"report: {err}", file=sys.stderr)
        return 1
    print(_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
