"""workbench.exercises: what counts as right, what a student sees, and strict mode."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from workbench import exercises
from workbench.exercises import ExerciseError, check, verdict
from workbench.params import ParameterError


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(exercises.STRICT_ENV, raising=False)


def _line(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"one line per check, got {out!r}"
    return out.strip()


def test_unanswered_correct_and_wrong_print_one_line_and_never_raise(capsys: pytest.CaptureFixture[str]) -> None:
    assert check("08.1", ..., 3.5) is None
    assert _line(capsys) == "Exercise 08.1: not answered yet (replace the ... and run the cell)"
    check("08.1", 3.5, 3.5)
    assert _line(capsys) == "Exercise 08.1: correct"
    check("08.1", 4.0, 3.5, hint="the batch tier halves both prices")
    assert _line(capsys) == "Exercise 08.1: not yet — too high; hint: the batch tier halves both prices"
    check("08.1", 3.0, 3.5)
    assert _line(capsys) == "Exercise 08.1: not yet — too low"


def test_the_expected_value_is_never_shown(capsys: pytest.CaptureFixture[str]) -> None:
    check("06.2", 0.123, 0.98765)
    check("06.2", "a", "secret-choice")
    check("06.2", {"x"}, {"hidden-item"})
    out = capsys.readouterr().out
    assert "0.98765" not in out and "secret" not in out and "hidden" not in out


@pytest.mark.parametrize("mode", ["strict", "STRICT", " strict "])
def test_strict_mode_raises_one_error_naming_the_exercise(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv(exercises.STRICT_ENV, mode)
    with pytest.raises(ExerciseError, match=r"Exercise 03\.2: not yet — too high; hint: h"):
        check("03.2", 2, 1, hint="h")
    with pytest.raises(ExerciseError, match=r"Exercise 03\.3: not answered yet"):
        check("03.3", ..., 1)
    check("03.4", 1, 1)  # a right answer passes quietly in strict mode too


def test_strict_errors_are_assertion_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(exercises.STRICT_ENV, "strict")
    with pytest.raises(AssertionError):
        check("01.1", "b", "a")


def test_other_values_of_the_variable_are_not_strict(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(exercises.STRICT_ENV, "lenient")
    check("01.1", "b", "a")
    assert "not yet" in capsys.readouterr().out


def test_numbers_default_to_float_rounding_only() -> None:
    assert verdict("01.1", 0.1 + 0.2, 0.3).correct
    assert not verdict("01.1", 0.3001, 0.3).correct
    assert verdict("01.1", np.float64(2.0), 2).correct
    assert verdict("01.1", np.int64(7), 7.0).correct


def test_numbers_with_absolute_and_relative_tolerance() -> None:
    assert verdict("08.1", 10.4, 10.0, tolerance=0.5).correct
    assert not verdict("08.1", 10.6, 10.0, tolerance=0.5).correct
    assert verdict("08.1", 101, 100, relative=0.01).correct
    assert not verdict("08.1", 102, 100, relative=0.01).correct
    assert verdict("08.1", 10.6, 10.0, tolerance=0.5, relative=0.1).correct  # either suffices


def test_a_number_is_not_text_nor_nan_nor_a_bool() -> None:
    assert verdict("08.1", "3.5", 3.5).message.endswith("expected a number, got a str")
    assert verdict("08.1", float("nan"), 3.5).message.endswith("the answer is NaN")
    assert not verdict("08.1", True, 1).correct
    assert verdict("08.1", True, True).correct
    assert not verdict("08.1", 1, True).correct


def test_text_ignores_case_and_spaces() -> None:
    assert verdict("02.1", "  Image  URL ", "image url").correct
    assert not verdict("02.1", "image", "image url").correct
    assert verdict("02.1", 3, "b").message.endswith("expected text, got a int")


def test_choices_name_the_valid_options_when_the_answer_is_outside_them() -> None:
    v = verdict("06.1", "d", "b", options=["a", "b", "c"])
    assert v.message == "Exercise 06.1: not yet — answer one of 'a', 'b', 'c'"
    assert verdict("06.1", "B", "b", options=["a", "b", "c"]).correct
    assert verdict("06.1", "c", "b", options=["a", "b", "c"]).message.endswith("not this one")
    with pytest.raises(ParameterError, match="options"):
        verdict("06.1", "a", "z", options=["a", "b"])


def test_sets_ignore_order_and_report_counts() -> None:
    assert verdict("04.1", ["Gemini", "gpt"], {"gpt", "gemini"}).correct
    assert verdict("04.1", ["gpt"], {"gpt", "gemini"}).message.endswith("1 missing")
    assert verdict("04.1", ["gpt", "x", "gemini"], {"gpt", "gemini"}).message.endswith(
        "1 that should not be there")
    assert not verdict("04.1", "gpt", {"gpt"}).correct


def test_lists_and_dicts_element_by_element_with_tolerance() -> None:
    assert verdict("05.1", (1.0, 2.01), [1, 2], tolerance=0.02).correct
    assert verdict("05.1", [1, 3], [1, 2]).message.endswith("item 2: too high")
    assert verdict("05.1", [1], [1, 2]).message.endswith("1 items, there should be 2")
    assert verdict("05.1", {"a": 1.0, "b": "X"}, {"a": 1, "b": "x"}).correct
    assert verdict("05.1", {"a": 2}, {"a": 1}).message.endswith("at 'a': too high")
    assert "keys" in verdict("05.1", {"b": 1}, {"a": 1}).message


def test_arrays_series_and_frames() -> None:
    assert verdict("07.1", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-13])).correct
    assert "1 of 2 values differ" in verdict("07.1", np.array([1.0, 2.5]), np.array([1.0, 2.0])).message
    s = pd.Series([1.0, 2.0], index=["a", "b"], name="cost")
    assert verdict("07.1", pd.Series([1.0, 2.0], index=["a", "b"]), s).correct
    assert not verdict("07.1", pd.Series([1.0, 2.5], index=["a", "b"]), s).correct
    df = pd.DataFrame({"model": ["x", "y"], "usd": [1.0, 2.0]})
    assert verdict("07.1", df.copy(), df).correct
    assert verdict("07.1", df.assign(usd=[1.0, 2.01]), df, relative=0.01).correct
    assert "the table differs" in verdict("07.1", df.assign(usd=[1.0, 2.5]), df).message
    assert "columns" in verdict("07.1", df[["usd", "model"]], df).message
    assert "shape" in verdict("07.1", df.head(1), df).message
    assert "pandas DataFrame" in verdict("07.1", [1, 2], df).message


@pytest.mark.parametrize("bad", ["8.1", "08", "08.x", 8.1, "Exercise 08.1"])
def test_a_malformed_id_is_an_authoring_error(bad: object) -> None:
    with pytest.raises(ParameterError, match="exercise_id"):
        check(bad, 1, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["tolerance", "relative"])
def test_a_bad_tolerance_is_an_authoring_error(name: str) -> None:
    with pytest.raises(ParameterError, match=name):
        verdict("01.1", 1, 1, **{name: -1})
