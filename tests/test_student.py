"""Student and teacher copies (``make student``), the exercise format, and the teacher copies' checks all passing.

The drill chapter in ``tests/data/teaching/`` (its own small registry) exercises the mechanics quickly. The
real chapters are checked twice: their copies (format, no solution, no output, at least two exercises each),
and ``test_teacher_copies_execute_with_every_check_correct``, which executes the teacher copies and reads
every check cell's line.

How the teacher copies are executed, and why it fits the suite's budget: with the report's own executor
(:func:`workbench.report.execute`: papermill, kernel ``python3``, one shared local provider for chapters
02-04, scrubbed environment) into ``build/``, the report's build folder, with ``WORKBENCH_EXERCISES=strict``.
A teacher copy has exactly the cells of its chapter (tested below: same sources and tags; only outputs
differ), so its cache key (cells, library, data, parameters, backend) is the key of the chapter's own report
run: after a ``make report`` of the same sources, library and data the executor reuses those executed
notebooks and this test takes seconds; otherwise it executes every chapter, as ``make report`` would, and
``make report`` then reuses these runs (about two minutes on two quiet cores, see docs/teaching.md). A reused
run may come from a report built without strict mode, so the test does not rely on strict mode alone: it
reads each check cell's output and requires exactly ``Exercise NN.k: correct`` for every exercise.
"""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import nbformat
import pytest
from workbench import chapters, exercises, paths, report, teaching
from workbench.report import cache

DRILL = Path(__file__).parent / "data" / "teaching"
STRICT = {exercises.STRICT_ENV: "strict"}


def _tags(cell: nbformat.NotebookNode) -> set[str]:
    return set(cell.metadata.get("tags", []))


def _drill(tmp_path: Path, *, outputs: bool = True) -> tuple[Path, Path]:
    """A copy of the drill chapter and its registry; with ``outputs`` its code cells carry fake outputs."""
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    shutil.copy(DRILL / "chapters.toml", nbdir / "chapters.toml")
    book = nbformat.read(DRILL / "01_drill.ipynb", as_version=4)
    if outputs:
        for n, cell in enumerate(c for c in book.cells if c.cell_type == "code"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old output\n")]
            cell.execution_count = n + 1
    nbformat.write(book, nbdir / "01_drill.ipynb")
    return nbdir, nbdir / "chapters.toml"


def _assert_copies(source: nbformat.NotebookNode, student: nbformat.NotebookNode,
                   teacher: nbformat.NotebookNode) -> None:
    for book in (student, teacher):
        code = [c for c in book.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), "a copy carries an output"
    assert not any("solution" in _tags(c) for c in student.cells), "a student copy carries a solution"
    keep = [c for c in source.cells if "solution" not in _tags(c)]
    assert [(c.id, c.cell_type, c.source, _tags(c)) for c in student.cells] == [
        (c.id, c.cell_type, c.source, _tags(c)) for c in keep]
    assert [(c.id, c.cell_type, c.source, _tags(c)) for c in teacher.cells] == [
        (c.id, c.cell_type, c.source, _tags(c)) for c in source.cells]


def test_copies_of_the_drill_chapter(tmp_path: Path) -> None:
    nbdir, registry = _drill(tmp_path)
    written = teaching.write_copies(tmp_path / "build", notebooks_dir=nbdir, registry=registry)
    assert [p.name for p in written["student"]] == [p.name for p in written["teacher"]] == ["01_drill.ipynb"]
    source = nbformat.read(nbdir / "01_drill.ipynb", as_version=4)
    student = nbformat.read(written["student"][0], as_version=4)
    teacher = nbformat.read(written["teacher"][0], as_version=4)
    _assert_copies(source, student, teacher)
    nbformat.validate(student)
    assert [e.exercise_id for e in teaching.exercises_in(teacher, "01")] == ["01.1", "01.2"]
    assert cache.notebook_digest(written["teacher"][0]) == cache.notebook_digest(nbdir / "01_drill.ipynb")
    assert (tmp_path / "build" / "student" / "README.md").exists()


def test_copies_replace_stale_files(tmp_path: Path) -> None:
    nbdir, registry = _drill(tmp_path)
    stale = tmp_path / "build" / "student" / "05_removed.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    teaching.write_copies(tmp_path / "build", notebooks_dir=nbdir, registry=registry)
    assert not stale.exists()


def _mutated(change: str) -> nbformat.NotebookNode:
    book = nbformat.read(DRILL / "01_drill.ipynb", as_version=4)
    cells = book.cells
    first = next(i for i, c in enumerate(cells) if c.source.startswith("### Exercise 01.1"))
    if change == "no solution":
        del cells[first + 2]
    elif change == "check before solution":
        cells[first + 2], cells[first + 3] = cells[first + 3], cells[first + 2]
    elif change == "other chapter":
        cells[first].source = cells[first].source.replace("01.1", "02.1")
    elif change == "same id twice":
        cells[first + 4].source = cells[first + 4].source.replace("01.2", "01.1")
    elif change == "no gap":
        cells[first + 1].source = "answer = 3"
    elif change == "solution misses a name":
        cells[first + 2].source = "result = 3"
    elif change == "check names another id":
        cells[first + 3].source = 'exercises.check("01.9", answer, 1)'
    elif change == "no header":
        del cells[first - 1]
    elif change == "untagged cell inside":
        cells.insert(first + 4, nbformat.v4.new_code_cell("x = 1"))
    elif change == "bad title":
        cells[first].source = "### Exercise one"
    return book


@pytest.mark.parametrize(("change", "message"), [
    ("no solution", "cell 6: an exercise is four cells"),
    ("check before solution", "an exercise is four cells"),
    ("other chapter", "exercise 02.1 in chapter 01"),
    ("same id twice", "exercise 01.1 appears twice"),
    ("no gap", "cell 7: exercise 01.1: the starter code leaves its gap as '...'"),
    ("solution misses a name", "cell 8: exercise 01.1: the solution does not assign ['answer']"),
    ("check names another id", "cell 9: exercise 01.1: the check cell calls exercises.check(\"01.1\""),
    ("no header", "'## Exercises'"),
    ("untagged cell inside", "an untagged cell inside the exercises"),
    ("bad title", "'### Exercise NN.k · title'"),
])
def test_a_broken_exercise_is_one_error_naming_chapter_and_cell(change: str, message: str) -> None:
    with pytest.raises(teaching.TeachingError) as info:
        teaching.exercises_in(_mutated(change), "01", "01_drill")
    assert str(info.value).startswith("01_drill, cell ") and message in str(info.value)


def test_make_student_refuses_a_broken_chapter_and_writes_nothing(tmp_path: Path) -> None:
    nbdir, registry = _drill(tmp_path)
    nbformat.write(_mutated("no gap"), nbdir / "01_drill.ipynb")
    with pytest.raises(teaching.TeachingError, match="01_drill, cell 7"):
        teaching.write_copies(tmp_path / "build", notebooks_dir=nbdir, registry=registry)
    assert not (tmp_path / "build" / "student").exists()
    (nbdir / "01_drill.ipynb").unlink()
    with pytest.raises(teaching.TeachingError, match="registered in the chapter registry but"):
        teaching.write_copies(tmp_path / "build", notebooks_dir=nbdir, registry=registry)


def _execute(folder: Path, build: Path, monkeypatch: pytest.MonkeyPatch, strict: bool) -> list[report.NotebookRun]:
    monkeypatch.delenv(exercises.STRICT_ENV, raising=False)  # the executor alone decides
    return report.execute(folder, build, backend="local", progress=False, strict_exercises=strict)


def test_drill_teacher_copy_passes_in_strict_mode_and_student_copy_runs_unanswered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_provider: object) -> None:
    nbdir, registry = _drill(tmp_path, outputs=False)
    teaching.write_copies(tmp_path / "copies", notebooks_dir=nbdir, registry=registry)
    [run] = _execute(tmp_path / "copies" / "teacher", tmp_path / "teacher-run", monkeypatch, strict=True)
    lines = teaching.check_cells(nbformat.read(run.executed, as_version=4), "01", run.name)
    assert lines == {"01.1": "Exercise 01.1: correct", "01.2": "Exercise 01.2: correct"}

    [run] = _execute(tmp_path / "copies" / "student", tmp_path / "student-run", monkeypatch, strict=False)
    executed = nbformat.read(run.executed, as_version=4)
    checks = [c for c in executed.cells if "check" in _tags(c)]
    assert ["".join(o.get("text", "") for o in c.outputs).strip() for c in checks] == [
        f"Exercise 01.{k}: not answered yet (replace the ... and run the cell)" for k in (1, 2)]

    with pytest.raises(report.NotebookExecutionError, match=r"ExerciseError: Exercise 01\.1: not answered yet"):
        _execute(tmp_path / "copies" / "student", tmp_path / "strict-run", monkeypatch, strict=True)


def test_a_wrong_solution_fails_the_strict_run_naming_the_exercise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_provider: object) -> None:
    nbdir, registry = _drill(tmp_path, outputs=False)
    book = nbformat.read(nbdir / "01_drill.ipynb", as_version=4)
    solution = next(c for c in book.cells if "solution" in _tags(c) and "providers" in c.source)
    solution.source = 'providers = {"openai"}'
    nbformat.write(book, nbdir / "01_drill.ipynb")
    teaching.write_copies(tmp_path / "copies", notebooks_dir=nbdir, registry=registry)
    with pytest.raises(report.NotebookExecutionError, match=r"ExerciseError: Exercise 01\.2: not yet — \d+ missing"):
        _execute(tmp_path / "copies" / "teacher", tmp_path / "run", monkeypatch, strict=True)


def test_record_times_from_the_reports_run_records(tmp_path: Path) -> None:
    registry = tmp_path / "chapters.toml"
    shutil.copy(chapters.REGISTRY, registry)
    guide = tmp_path / "teaching.md"
    guide.write_text(f"# Guide\n\n{chapters.times_table(registry).replace('s |', 's (old) |')}\n\nend\n")
    build = tmp_path / "build"
    (build / "notebooks").mkdir(parents=True)
    before = chapters.load(registry)
    first, second, third, fourth = before[:4]
    files = cache.tree_files(cache.LIB_DIR, paths.DATA)
    params = {first: report.plan.parameters_for([first.notebook], "local", None)[first.notebook],
              second: {"backend": "local", "max_tokens": 8}, third: {"backend": "live"},
              fourth: report.plan.parameters_for([fourth.notebook], "local", None)[fourth.notebook]}
    for chapter, seconds, backend in ((first, 61.25, "local"), (second, 9.0, "local"), (third, 5.0, "live"),
                                      (fourth, 7.0, "local")):
        inputs = cache.run_inputs(chapter.notebook, params[chapter], backend, files)
        if chapter is fourth:
            inputs["notebook"] = "the digest of an older version"
        cache.write_record(build / "notebooks" / chapter.filename, inputs, seconds=seconds,
                           executed_at="2026-11-30 10:00:00 UTC", backend=backend, parameters=params[chapter])
    timings, skipped = teaching.record_times(build, registry=registry, guide=guide)
    assert list(timings) == [first.stem]
    assert timings[first.stem].seconds == 61.25 and timings[first.stem].measured_on == date(2026, 11, 30)
    assert "cores" in timings[first.stem].machine
    assert "not the defaults" in skipped[second.stem] and "not offline" in skipped[third.stem]
    assert "older chapter, library or data" in skipped[fourth.stem]
    assert all("no run record" in why for stem, why in skipped.items()
               if stem not in (second.stem, third.stem, fourth.stem))
    after = chapters.load(registry)
    assert after[0].timing is not None and after[0].timing.seconds == 61.2  # one decimal, as written
    assert [c.timing for c in after[1:]] == [c.timing for c in before[1:]]
    text = guide.read_text()
    assert chapters.embedded(text, "times") == chapters.times_table(registry) and "(old)" not in text
    assert text.startswith("# Guide\n") and text.endswith("\nend\n")


def test_command_line_writes_the_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    nbdir, registry = _drill(tmp_path)
    monkeypatch.setattr(chapters, "REGISTRY", registry)
    monkeypatch.setattr(paths, "NOTEBOOKS", nbdir)
    assert teaching.main(["copies", "--out", str(tmp_path / "out")]) == 0
    assert "student: 1 chapters" in capsys.readouterr().out
    nbformat.write(_mutated("no gap"), nbdir / "01_drill.ipynb")
    assert teaching.main(["copies", "--out", str(tmp_path / "out")]) == 1
    assert "teaching: 01_drill, cell 7" in capsys.readouterr().err


# -- the real chapters -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """``make student`` of the real chapters, into a temporary folder."""
    return teaching.write_copies(tmp_path_factory.mktemp("copies"))


def test_student_copies_carry_no_solution_and_no_output(copies: dict[str, list[Path]]) -> None:
    registered = chapters.load()
    assert [p.name for p in copies["student"]] == [c.filename for c in registered]
    for chapter, student, teacher in zip(registered, copies["student"], copies["teacher"], strict=True):
        _assert_copies(nbformat.read(chapter.notebook, as_version=4), nbformat.read(student, as_version=4),
                       nbformat.read(teacher, as_version=4))


@pytest.mark.parametrize("chapter", chapters.load(), ids=lambda c: c.stem)
def test_every_chapter_has_at_least_two_exercises(chapter: chapters.Chapter) -> None:
    found = teaching.exercises_in(nbformat.read(chapter.notebook, as_version=4), chapter.number, chapter.stem)
    assert len(found) >= 2, f"{chapter.stem} has {len(found)} exercise(s); the format asks for at least two"


@pytest.mark.notebooks
@pytest.mark.slow
def test_teacher_copies_execute_with_every_check_correct(copies: dict[str, list[Path]],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         local_provider: object) -> None:
    """Slow when the report's build is stale (every chapter executed, about two minutes); see the module docstring."""
    teacher_dir = copies["teacher"][0].parent
    runs = _execute(teacher_dir, paths.BUILD, monkeypatch, strict=True)
    failures: dict[str, str] = {}
    total = 0
    assert [r.name for r in runs] == [p.stem for p in copies["teacher"]]
    for run, teacher in zip(runs, copies["teacher"], strict=True):
        chapter = chapters.get(run.name)
        lines = teaching.check_cells(nbformat.read(run.executed, as_version=4), chapter.number, chapter.stem)
        wanted = teaching.exercises_in(nbformat.read(teacher, as_version=4), chapter.number, chapter.stem)
        assert list(lines) == [e.exercise_id for e in wanted], f"{chapter.stem}: the executed copy lacks checks"
        total += len(lines)
        failures.update({k: v for k, v in lines.items() if v != f"Exercise {k}: correct"})
    assert total > 0, "no chapter has an exercise yet"
    assert not failures, json.dumps(failures, indent=1, ensure_ascii=False)
