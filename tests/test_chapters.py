"""The chapter registry (notebooks/chapters.toml): it matches the notebooks, and every list renders from it."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import nbformat
import pytest
from workbench import chapters, paths, report
from workbench.params import ParameterError
from workbench.report.secrets import LIVE_KEYS

CHAPTERS = chapters.load()


def test_the_registry_lists_every_notebook_and_only_those_in_order() -> None:
    on_disk = sorted(p.stem for p in paths.NOTEBOOKS.glob(report.plan.NOTEBOOK_GLOB))
    assert [c.stem for c in CHAPTERS] == on_disk
    assert [c.number for c in CHAPTERS] == [s[:2] for s in on_disk]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_parameters_are_the_names_of_the_parameters_cell(chapter: chapters.Chapter) -> None:
    assert list(chapter.parameters) == list(report.declared_parameters(chapter.notebook)), (
        f"update 'parameters' of chapter {chapter.number} in notebooks/chapters.toml")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_title_is_the_start_of_the_notebooks_heading(chapter: chapters.Chapter) -> None:
    first = nbformat.read(chapter.notebook, as_version=4).cells[0].source.splitlines()[0]
    assert first.startswith(f"# {chapter.heading}"), f"{first!r} does not start with '# {chapter.heading}'"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_keys_only_where_there_are_live_cells(chapter: chapters.Chapter) -> None:
    """A chapter has live cells exactly when it declares ``backend``; its keys are ones the clients read."""
    assert chapter.live == ("backend" in chapter.parameters)
    assert set(chapter.keys) <= set(LIVE_KEYS)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_every_chapter_has_a_measured_offline_time(chapter: chapters.Chapter) -> None:
    assert chapter.timing is not None, (
        "run `make report`, then `python -m workbench.teaching times` to record its time")
    assert chapter.timing.seconds > 0 and chapter.timing.measured_on <= date.today()


def test_readme_chapter_table_is_the_registrys() -> None:
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    assert chapters.embedded(readme, "readme") == chapters.readme_table(), (
        "README's chapter table differs from the registry: paste the output of `python -m workbench.chapters readme`")


def test_teaching_guide_time_table_is_the_registrys() -> None:
    guide = (paths.ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    assert chapters.embedded(guide, "times") == chapters.times_table(), (
        "docs/teaching.md differs from the registry: run `python -m workbench.teaching times`")


def test_where_next_links_every_other_chapter() -> None:
    text = chapters.where_next("01")
    lines = text.splitlines()
    assert len(lines) == len(CHAPTERS) - 1
    for c, line in zip(CHAPTERS[1:], lines, strict=True):
        assert line == f"- [{c.heading}]({c.filename}): {c.teaches}."
        assert (paths.NOTEBOOKS / c.filename).exists()
    assert "01_architecture.ipynb" not in text
    assert len(chapters.where_next().splitlines()) == len(CHAPTERS)


def test_readme_table_has_a_row_per_chapter_with_its_link_and_keys() -> None:
    rows = [r for r in chapters.readme_table().splitlines() if r.startswith("| [")]
    assert len(rows) == len(CHAPTERS)
    for c, row in zip(CHAPTERS, rows, strict=True):
        assert f"](notebooks/{c.filename})" in row
        assert all(f"`{k}`" in row for k in c.keys) and (c.keys or "no live cells" in row)


def test_make_help_lists_the_chapters() -> None:
    out = subprocess.run(["make", "-s", "help"], cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout
    for c in CHAPTERS:
        assert f"  {c.number}  {c.title}" in out


def test_command_line_prints_the_renderings(capsys: pytest.CaptureFixture[str]) -> None:
    assert chapters.main(["readme"]) == 0
    assert capsys.readouterr().out.strip() == chapters.readme_table()
    assert chapters.main(["where-next", "01"]) == 0
    assert capsys.readouterr().out.strip() == chapters.where_next("01")
    assert chapters.main(["where-next", "77"]) == 1
    assert "chapter: expected one of 01" in capsys.readouterr().err


def test_get_by_number_or_stem() -> None:
    assert chapters.get(1).stem == chapters.get("01").stem == CHAPTERS[0].stem
    assert chapters.get(CHAPTERS[-1].stem) == CHAPTERS[-1]
    with pytest.raises(ParameterError, match="chapter"):
        chapters.get("99")


def test_times_table_formats_minutes_and_marks_unmeasured(tmp_path: Path) -> None:
    reg = tmp_path / "chapters.toml"
    reg.write_text(_ENTRY.format(n="01", extra='seconds = 119.6\nmeasured_on = "2026-12-01"\nmachine = "m"\n')
                   + _ENTRY.format(n="02", extra="")
                   + _ENTRY.format(n="03", extra='seconds = 8.4\nmeasured_on = "2026-12-02"\nmachine = "m"\n'))
    table = chapters.times_table(reg)
    assert "| 01 · T01 | 2 min 00 s | 2026-12-01, m |" in table
    assert "| 02 · T02 | ? | not measured yet |" in table
    assert "| 03 · T03 | 8 s | 2026-12-02, m |" in table
    assert "| all chapters | 2 min 08 s (2 of 3 measured) |" in table


def test_embed_replaces_only_its_block() -> None:
    block = chapters.times_table()
    stale = block.replace("| all chapters |", "| every chapter |")
    text = f"intro\n\n{stale}\n\nafter\n"
    assert chapters.embedded(text, "times") == stale
    assert chapters.embed(text, block) == f"intro\n\n{block}\n\nafter\n"
    with pytest.raises(chapters.RegistryError, match="no block 'readme'"):
        chapters.embed(text, chapters.readme_table())


_ENTRY = """
[[chapter]]
number = "{n}"
stem = "{n}_x"
title = "T{n}"
teaches = "what"
parameters = ["a"]
keys = []
{extra}"""


@pytest.mark.parametrize(("text", "message"), [
    (_ENTRY.format(n="01", extra="") * 2, "unique and in order"),
    (_ENTRY.format(n="1", extra=""), "chapter 1: 'number' must be two digits"),
    (_ENTRY.format(n="01", extra="").replace('"01_x"', '"02_x"'), "chapter 01: 'stem' must be '01_'"),
    (_ENTRY.format(n="01", extra="seconds = 3.0\n"), "chapter 01: give all of seconds, measured_on, machine"),
    (_ENTRY.format(n="01", extra='seconds = -3.0\nmeasured_on = "2026-12-01"\nmachine = "m"\n'),
     "'seconds' must be a positive number"),
    (_ENTRY.format(n="01", extra='seconds = 3.0\nmeasured_on = "yesterday"\nmachine = "m"\n'), "measured_on"),
    (_ENTRY.format(n="01", extra="colour = 1\n"), "unknown field(s) ['colour']"),
    (_ENTRY.format(n="01", extra="").replace('["a"]', '["a b"]'), "'parameters' must be a list of names"),
    (_ENTRY.format(n="01", extra="").replace("keys = []", 'keys = ["openai"]'), "'keys' must be a list"),
    (_ENTRY.format(n="01", extra="").replace('title = "T01"', 'title = ""'), "'title' must be non-empty text"),
    ("[chapter]\nnumber = 1\n", "expected only [[chapter]] tables"),
    ("[[chapter]\n", "not valid TOML"),
])
def test_a_malformed_registry_is_one_error_naming_file_chapter_and_field(tmp_path: Path, text: str,
                                                                         message: str) -> None:
    reg = tmp_path / "chapters.toml"
    reg.write_text(text)
    with pytest.raises(chapters.RegistryError) as info:
        chapters.load(reg)
    assert str(reg) in str(info.value) and message in str(info.value)


def test_write_times_keeps_comments_and_other_fields(tmp_path: Path) -> None:
    reg = tmp_path / "chapters.toml"
    shutil.copy(chapters.REGISTRY, reg)
    before = chapters.load(reg)
    stem = before[1].stem
    after = chapters.write_times({stem: chapters.Timing(12.345, date(2026, 12, 1), "test machine")}, reg)
    assert after[1].timing == chapters.Timing(12.3, date(2026, 12, 1), "test machine")
    assert [c.timing for i, c in enumerate(after) if i != 1] == [c.timing for i, c in enumerate(before) if i != 1]
    assert [(c.stem, c.title, c.parameters, c.keys) for c in after] == [
        (c.stem, c.title, c.parameters, c.keys) for c in before]
    text = reg.read_text()
    assert text.startswith("# The chapter registry") and "#   parameters  the names" in text
    with pytest.raises(ParameterError, match="timings"):
        chapters.write_times({"99_nothing": after[1].timing}, reg)  # type: ignore[dict-item]


def test_content_digest_ignores_the_times_only(tmp_path: Path) -> None:
    reg = tmp_path / "chapters.toml"
    shutil.copy(chapters.REGISTRY, reg)
    before = chapters.content_digest(reg)
    chapters.write_times({CHAPTERS[0].stem: chapters.Timing(99.0, date(2026, 1, 2), "elsewhere")}, reg)
    assert chapters.content_digest(reg) == before
    reg.write_text(reg.read_text().replace(f'title = "{CHAPTERS[0].title}"', 'title = "Renamed"'))
    assert chapters.content_digest(reg) != before
