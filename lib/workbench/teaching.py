"""Teaching with the workbook: student and teacher copies of the chapters, their exercises, measured times.

``make student`` (``python -m workbench.teaching copies``) writes, for every chapter of the registry
(:mod:`workbench.chapters`):

- ``build/student/NN_name.ipynb``: cells tagged ``solution`` removed, every output and execution count
  cleared; the exercise and check cells kept, so each check prints "not answered yet" until the student
  fills the ``...`` gap;
- ``build/teacher/NN_name.ipynb``: every cell kept (solutions included), outputs cleared.

The copies hold no data: they run in the project's kernel ("Python 3 (workbench)", the ``.venv`` with the
workbench installed in editable mode), which finds ``data/``, the recorded runs, the models and the registry
through :mod:`workbench.paths`, wherever the notebook file sits (``.venv/bin/jupyter lab build/student``
once ``make lab`` has installed JupyterLab).
Figures a copy saves go to the repository's ``figures/``, as the chapters' own do.

An exercise is four cells in order (see ``docs/teaching.md``): markdown tagged ``exercise`` headed
``### Exercise NN.k · title``; code tagged ``exercise`` with a ``...`` gap; code tagged ``solution``
assigning the same names; code tagged ``check`` calling ``exercises.check("NN.k", ...)``.
:func:`exercises_in` reads them and refuses any other arrangement with one :class:`TeachingError`
naming the chapter and the cell, so ``make student`` never writes a copy whose exercises are broken.

:func:`record_times` (``python -m workbench.teaching times``) rewrites the registry's offline run times
from the last ``make report``'s own run records and the table in ``docs/teaching.md``.
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat

from . import chapters, host, paths
from .report import cache

__all__ = [
    "GUIDE",
    "Exercise",
    "TeachingError",
    "check_cells",
    "exercises_in",
    "main",
    "record_times",
    "student_copy",
    "teacher_copy",
    "write_copies",
]

#: The teaching guide (its run-time table is generated from the registry).
GUIDE: Path = paths.ROOT / "docs" / "teaching.md"

_TAGS = ("exercise", "solution", "check")
_TITLE = re.compile(r"^###\s+Exercise\s+(\d{2}\.\d+)\s+·\s+\S")
_STUDENT_README = """# Student copies of the workbook's chapters

Written by `make student` from `notebooks/`: the solutions are removed and every output is cleared.
Open them with the project's kernel, which finds the data, models and library in the repository:

    make lab                                  # once: installs JupyterLab and the kernel (Ctrl-C to stop it)
    .venv/bin/jupyter lab build/student       # add --allow-root when running as root

Run a chapter top to bottom: it runs offline, with no API key. At its end, each exercise has a cell with a
`...` gap: fill it in, run it, then run the check cell below it, which says `correct` or gives a hint.
The teacher copies (solutions kept) are in `build/teacher/`. The guide: `docs/teaching.md`.
"""


class TeachingError(ValueError):
    """A chapter's exercises do not follow the format; the message names the chapter and the cell."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: its id (``"08.1"``), title and the positions of its four cells."""

    exercise_id: str
    title: str
    cells: tuple[int, int, int, int]  #: task (markdown), starter code, solution, check (0-based)


def _tags(cell: nbformat.NotebookNode) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _assigned(source: str, *, gaps_only: bool = False) -> set[str]:
    """Names a code cell assigns at top level; with ``gaps_only``, only those assigned ``...`` (the gaps)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            if gaps_only and not (isinstance(node.value, ast.Constant) and node.value.value is Ellipsis):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def exercises_in(book: nbformat.NotebookNode, number: str, name: str = "") -> list[Exercise]:
    """The exercises of chapter ``number`` in ``book``, checked against the format; [] when it has none.

    Raises :class:`TeachingError` (naming ``name`` and the 1-based cell) when a cell tagged exercise,
    solution or check is out of place, a heading or check names another id, an id repeats, the starter
    code has no ``...`` gap or the solution does not assign the names the starter code leaves open.
    """
    where = name or f"chapter {number}"
    cells = book.cells
    tagged = [i for i, c in enumerate(cells) if _tags(c) & set(_TAGS)]
    if not tagged:
        return []

    def fail(i: int, message: str) -> TeachingError:
        return TeachingError(f"{where}, cell {i + 1}: {message}")

    first = cells[tagged[0]]
    if not (first.cell_type == "markdown" and "exercise" in _tags(first)
            and first.source.lstrip().startswith("## Exercises")):
        raise fail(tagged[0], "the exercises start with a markdown cell tagged 'exercise' headed '## Exercises'")
    found: list[Exercise] = []
    i = tagged[0] + 1
    while i < len(cells):
        if not _tags(cells[i]) & set(_TAGS):
            later = [j for j in tagged if j > i]
            if later:
                raise fail(i, "an untagged cell inside the exercises (keep the exercise cells together)")
            break
        group = cells[i:i + 4]
        shape = [(c.cell_type, sorted(_tags(c) & set(_TAGS))) for c in group]
        want = [("markdown", ["exercise"]), ("code", ["exercise"]), ("code", ["solution"]), ("code", ["check"])]
        if shape != want:
            raise fail(i, "an exercise is four cells: markdown [exercise], code [exercise], code [solution], "
                          f"code [check]; found {shape}")
        task, starter, solution, check = group
        heading = _TITLE.match(task.source.lstrip())
        if not heading:
            raise fail(i, "the task starts with '### Exercise NN.k · title'")
        ex_id = heading.group(1)
        if not ex_id.startswith(f"{number}."):
            raise fail(i, f"exercise {ex_id} in chapter {number}: the id starts with the chapter's number")
        if any(e.exercise_id == ex_id for e in found):
            raise fail(i, f"exercise {ex_id} appears twice")
        if "..." not in starter.source:
            raise fail(i + 1, f"exercise {ex_id}: the starter code leaves its gap as '...'")
        missing = _assigned(starter.source, gaps_only=True) - _assigned(solution.source)
        if missing:
            raise fail(i + 2, f"exercise {ex_id}: the solution does not assign {sorted(missing)}")
        if not re.search(rf"""exercises\.check\(\s*["']{re.escape(ex_id)}["']""", check.source):
            raise fail(i + 3, f"exercise {ex_id}: the check cell calls exercises.check(\"{ex_id}\", ...)")
        title = task.source.lstrip().splitlines()[0].split("·", 1)[1].strip()
        found.append(Exercise(ex_id, title, (i, i + 1, i + 2, i + 3)))
        i += 4
    if not found:
        raise fail(tagged[0], "'## Exercises' is followed by no exercise")
    return found


def _cleared(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    out = copy.deepcopy(book)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    out.metadata.pop("papermill", None)
    return out


def teacher_copy(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter with every cell kept and every output and execution count cleared."""
    return _cleared(book)


def student_copy(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The teacher copy without the cells tagged ``solution``."""
    out = _cleared(book)
    out.cells = [c for c in out.cells if "solution" not in _tags(c)]
    return out


def write_copies(out_dir: Path | None = None, *, notebooks_dir: Path | None = None,
                 registry: Path | None = None) -> dict[str, list[Path]]:
    """Write ``OUT/student/`` and ``OUT/teacher/`` (default ``build/``) for every registered chapter.

    Both folders are emptied first (a chapter taken out of the registry leaves no stale copy). Returns
    ``{"student": [...], "teacher": [...]}``; raises :class:`TeachingError` for a chapter whose exercises
    break the format (nothing is written then).
    """
    out_dir = Path(out_dir) if out_dir is not None else paths.BUILD
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else paths.NOTEBOOKS
    books = {}
    for chapter in chapters.load(registry):
        source = notebooks_dir / chapter.filename
        if not source.exists():
            raise TeachingError(f"{chapter.stem}: registered in the chapter registry but {source} is missing")
        book = nbformat.read(source, as_version=4)
        exercises_in(book, chapter.number, chapter.stem)
        books[chapter.filename] = book
    written: dict[str, list[Path]] = {}
    for kind, make in (("student", student_copy), ("teacher", teacher_copy)):
        folder = out_dir / kind
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        written[kind] = []
        for filename, book in books.items():
            target = folder / filename
            nbformat.write(make(book), target)
            written[kind].append(target)
    (out_dir / "student" / "README.md").write_text(_STUDENT_README, encoding="utf-8")
    return written


def check_cells(executed: nbformat.NotebookNode, number: str, name: str = "") -> dict[str, str]:
    """What each check cell of an executed chapter printed: exercise id -> its line (``Exercise 08.1: correct``)."""
    lines: dict[str, str] = {}
    for exercise in exercises_in(executed, number, name):
        cell = executed.cells[exercise.cells[3]]
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        errors = [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        lines[exercise.exercise_id] = (errors[0] if errors else text.strip())
    return lines


def record_times(build_dir: Path | None = None, *, registry: Path | None = None,
                 guide: Path | None = None) -> tuple[dict[str, chapters.Timing], dict[str, str]]:
    """Rewrite the registry's offline run times from the report build in ``build_dir`` (default ``build/``).

    A chapter's time is the ``seconds`` its last successful run took, as the report pipeline recorded it
    (``build/notebooks/NAME.run.json``), with that run's date and this machine (run this command on the
    machine that built the report). Only offline runs at the default parameters of the chapter as it is now
    count (backend ``local``, no ``-p``, the run's cache key equal to the current sources' key); others are
    skipped with the reason. The time table in ``guide`` (``docs/teaching.md``) is
    rewritten to match. Returns (times written by stem, reasons for the chapters skipped).
    """
    build_dir = Path(build_dir) if build_dir is not None else paths.BUILD
    machine = f"{host.new_run('chapter timing', prefix='timing').host}, {host.total_memory_bytes() / 2**30:.0f} GiB"
    files = cache.tree_files(cache.LIB_DIR, paths.DATA)
    timings: dict[str, chapters.Timing] = {}
    skipped: dict[str, str] = {}
    for chapter in chapters.load(registry):
        record = cache.read_record(build_dir / "notebooks" / chapter.filename)
        extra = {k: v for k, v in record.get("parameters", {}).items() if k != "backend"}
        if not record:
            skipped[chapter.stem] = f"no run record in {build_dir / 'notebooks'}"
        elif record.get("backend") != "local":
            skipped[chapter.stem] = f"run with backend {record.get('backend')!r}, not offline"
        elif extra:
            skipped[chapter.stem] = f"run with parameters {extra}, not the defaults"
        elif not chapter.notebook.exists() or record.get("key") != cache.key_of(
                cache.run_inputs(chapter.notebook, record["parameters"], "local", files)):
            skipped[chapter.stem] = "its last run was of an older chapter, library or data (run make report)"
        else:
            day = datetime.strptime(record["executed_at"][:10], "%Y-%m-%d").date()
            timings[chapter.stem] = chapters.Timing(float(record["seconds"]), day, machine)
    if timings:
        chapters.write_times(timings, registry)
    guide = Path(guide) if guide is not None else GUIDE
    if guide.exists():
        guide.write_text(chapters.embed(guide.read_text(encoding="utf-8"), chapters.times_table(registry)),
                         encoding="utf-8")
    return timings, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.teaching copies|times``."""
    parser = argparse.ArgumentParser(prog="python -m workbench.teaching", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    copies = sub.add_parser("copies", help="write build/student/ and build/teacher/ (make student)")
    copies.add_argument("--out", type=Path, default=None, help="default: build/")
    times = sub.add_parser("times", help="rewrite the registry's run times from the last make report")
    times.add_argument("--build-dir", type=Path, default=None, help="default: build/")
    args = parser.parse_args(argv)
    try:
        if args.command == "copies":
            written = write_copies(args.out)
            for kind, files in written.items():
                print(f"{kind}: {len(files)} chapters in {files[0].parent if files else args.out}")
        else:
            timings, skipped = record_times(args.build_dir)
            for stem, t in timings.items():
                print(f"{stem}: {t.seconds:.1f} s ({t.measured_on}, {t.machine})")
            for stem, why in skipped.items():
                print(f"{stem}: kept as it was ({why})")
    except (TeachingError, chapters.RegistryError) as err:
        print(f"teaching: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
