"""Executing the chapters: papermill runs each planned notebook (or the cache reuses it) into ``build/notebooks/``.

Each notebook runs in kernel ``python3`` with its working directory set to the notebooks folder, as in
JupyterLab, and with the environment scrubbed of secrets (:mod:`.secrets`). With backend ``local`` one
local provider serves every kernel of the build. A failing notebook raises
:class:`NotebookExecutionError` naming the notebook and the cell; the partial executed copy stays for
reading, with any secret value redacted. Progress: one line per notebook plus papermill's cell bar.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from .. import params as checks
from .. import exercises, paths
from . import cache
from .errors import (
    NotebookExecutionError,
    ReportError,
    SecretLeakError,
    UnknownParameterError,
    say,
)
from .plan import NOTEBOOK_GLOB, find_notebooks, parameters_for
from .secrets import kernel_environment, redact

__all__ = ["KERNEL", "NotebookRun", "execute"]

#: The Jupyter kernel every chapter runs in.
KERNEL = "python3"


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


def execute(notebooks_dir: Path | None = None, build_dir: Path | None = None, *, backend: str = "local",
            only: str | Iterable[str] | None = None, params: Mapping[str, Any] | None = None,
            force: bool = False, progress: bool = True, cell_timeout: int | None = None,
            cli_strings: bool = False, strict_exercises: bool = True) -> list[NotebookRun]:
    """Execute the chapter notebooks in order into ``build_dir/notebooks/``, reusing unchanged runs.

    ``params`` go only to the notebooks that declare them (``cli_strings=True`` converts string values to
    the type of each notebook's default, as the command line needs). With ``strict_exercises`` (the default:
    the article's build) the kernels run with ``WORKBENCH_EXERCISES=strict``, so a wrong or missing solution
    fails its notebook; without it (a student's copy) they run with it unset. Raises
    :class:`UnknownParameterError` before anything runs, and :class:`NotebookExecutionError` at the first
    failing notebook.
    """
    build_dir = Path(build_dir) if build_dir is not None else paths.BUILD
    notebooks = find_notebooks(notebooks_dir, only)
    if not notebooks:
        raise ReportError(f"notebooks_dir: no notebooks matching {NOTEBOOK_GLOB} in "
                          f"{notebooks_dir or paths.NOTEBOOKS}")
    plan = parameters_for(notebooks, backend, params, cli_strings=cli_strings)
    if cell_timeout is not None:
        try:
            cell_timeout = checks.count(cell_timeout, "cell_timeout")
        except checks.ParameterError as err:
            raise UnknownParameterError(str(err)) from None
    out_dir = build_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = cache.tree_files(cache.LIB_DIR, paths.DATA)
    runs: list[NotebookRun] = []
    with contextlib.ExitStack() as shared:
        for n, nb in enumerate(notebooks, start=1):
            runs.append(_execute_one(n, len(notebooks), nb, out_dir, plan[nb], backend, files, force, progress,
                                     cell_timeout, shared, strict_exercises))
    return runs


@contextlib.contextmanager
def _exercises_strict(strict: bool) -> Iterator[None]:
    """Kernels started inside see ``WORKBENCH_EXERCISES=strict`` (:mod:`workbench.exercises`), or no such
    variable when ``strict`` is false."""
    before = os.environ.get(exercises.STRICT_ENV)
    if strict:
        os.environ[exercises.STRICT_ENV] = "strict"
    else:
        os.environ.pop(exercises.STRICT_ENV, None)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(exercises.STRICT_ENV, None)
        else:
            os.environ[exercises.STRICT_ENV] = before


def _share_local_provider(shared: contextlib.ExitStack) -> None:
    """Start one local provider for all the kernels of this build (``WORKBENCH_LOCAL_URL``), once.

    Without it every kernel would start its own engine, and two cores would be shared among several.
    A provider already named by ``WORKBENCH_LOCAL_URL`` (``make serve``, the test session) is reused.
    """
    if os.environ.get("WORKBENCH_LOCAL_URL"):
        return
    from ..local import LocalProvider

    provider = shared.enter_context(LocalProvider())
    os.environ["WORKBENCH_LOCAL_URL"] = provider.base_url or ""
    shared.callback(os.environ.pop, "WORKBENCH_LOCAL_URL", None)
    say(f"local provider for this build: {provider.base_url} ({provider.model_name})")


def _execute_one(n: int, total: int, nb: Path, out_dir: Path, params: dict[str, Any], backend: str,
                 files: Mapping[str, str], force: bool, progress: bool, cell_timeout: int | None,
                 shared: contextlib.ExitStack, strict_exercises: bool = True) -> NotebookRun:
    """Execute one notebook (or reuse its unchanged run) and record it."""
    executed = out_dir / nb.name
    inputs = cache.run_inputs(nb, params, backend, files)
    prior = cache.read_record(executed)
    if not force and prior.get("key") == cache.key_of(inputs) and executed.exists():
        say(f"[{n}/{total}] {nb.stem}: unchanged, reusing the run of {prior['executed_at']}")
        return NotebookRun(nb.stem, nb, executed, prior["seconds"], True, prior["executed_at"], params)
    cache.record_path(executed).unlink(missing_ok=True)
    why = "forced" if force else cache.changes(prior.get("inputs", {}), inputs)
    say(f"[{n}/{total}] {nb.stem}: executing ({why})"
        + (f" with {', '.join(f'{k}={v!r}' for k, v in params.items())}" if params else ""))
    if backend == "local":
        _share_local_provider(shared)
    start = time.perf_counter()
    try:
        # the article's build is also the exercises' check: a wrong solution stops it, naming the exercise
        with kernel_environment(backend), _exercises_strict(strict_exercises):
            pm.execute_notebook(str(nb), str(executed), parameters=params, kernel_name=KERNEL,
                                cwd=str(nb.parent), progress_bar=progress, log_output=False,
                                execution_timeout=cell_timeout)
    except pm.PapermillExecutionError as err:
        redact([executed])
        cell, first = _failing_cell(nb, err.source, err.cell_index)
        raise NotebookExecutionError(
            nb.stem, cell,
            f"notebook {nb.name} failed in cell {cell} ({first!r}): {err.ename}: {err.evalue}\n"
            f"  partial executed copy: {executed}", executed) from None
    except Exception as err:  # noqa: BLE001  the kernel died, a cell timed out, the kernel could not start
        redact([executed])
        cell, first = _running_cell(nb, executed)
        raise NotebookExecutionError(
            nb.stem, cell,
            f"notebook {nb.name} failed in cell {cell} ({first!r}): {type(err).__name__}: {err}\n"
            f"  partial executed copy: {executed}", executed) from None
    seconds = time.perf_counter() - start
    leaks = redact([executed])
    if leaks:
        raise SecretLeakError(f"notebook {nb.name} printed the value of {', '.join(sorted(leaks))} "
                              f"(redacted in {executed}); never display keys")
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    cache.write_record(executed, inputs, seconds=seconds, executed_at=when, backend=backend, parameters=params)
    say(f"[{n}/{total}] {nb.stem}: done in {seconds:.1f} s")
    return NotebookRun(nb.stem, nb, executed, seconds, False, when, params)


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
