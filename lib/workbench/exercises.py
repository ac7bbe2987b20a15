"""Exercises at the end of a chapter: a student's answer checked, offline, against a value computed by code.

Every exercise ends with one check cell::

    exercises.check("08.1", answer, expected, relative=0.01, hint="the batch tier halves both prices")

which prints one line and never stops the notebook:

- ``Exercise 08.1: not answered yet`` while ``answer`` is still ``...`` (the gap in the starter code),
- ``Exercise 08.1: correct``,
- ``Exercise 08.1: not yet — <what differs>; hint: <hint>``.

In **strict mode** (``WORKBENCH_EXERCISES=strict`` in the environment, used by the teacher-copy test and by
the report build) a wrong or unanswered check raises :class:`ExerciseError` naming the exercise instead, so a
solution that stops matching its chapter's data fails loudly.

What counts as equal depends on ``expected``: numbers within ``tolerance`` (absolute) or ``relative`` (a
share of ``expected``), exact up to float rounding when neither is given; text ignoring case and runs of
spaces (a choice such as ``"b"`` is text; ``options`` names the valid choices); sets ignoring order; lists,
tuples and dicts element by element (with the same rules); numpy arrays, pandas Series and DataFrames by
shape, labels and values (numbers with the tolerances). :func:`verdict` gives the result without printing.
"""
from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.params import ParameterError

__all__ = ["STRICT_ENV", "ExerciseError", "Verdict", "check", "is_strict", "verdict"]

STRICT_ENV = "WORKBENCH_EXERCISES"
"""Environment variable; the value ``strict`` turns a wrong or unanswered check into an error."""

_ID = re.compile(r"^\d{2}\.\d+$")
_DEFAULT_RELATIVE = 1e-9  # "the same number up to float rounding" when no tolerance is given
_DEFAULT_ABSOLUTE = 1e-12


class ExerciseError(AssertionError):
    """Strict mode: an exercise's check failed or was not answered; the message names the exercise."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: ``status`` and the line shown to the student."""

    exercise_id: str
    status: Literal["correct", "wrong", "unanswered"]
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def is_strict() -> bool:
    """True when ``WORKBENCH_EXERCISES=strict`` is set (teacher test, report build)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() == "strict"


def _text(value: str) -> str:
    return " ".join(value.split()).casefold()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _close(answer: float, expected: float, tolerance: float | None, relative: float | None) -> bool:
    if tolerance is None and relative is None:
        return math.isclose(answer, expected, rel_tol=_DEFAULT_RELATIVE, abs_tol=_DEFAULT_ABSOLUTE)
    return math.isclose(answer, expected, rel_tol=relative or 0.0, abs_tol=tolerance or 0.0)


def _describe(value: Any) -> str:
    return type(value).__name__


def _difference(answer: Any, expected: Any, tol: float | None, rel: float | None) -> str | None:
    """None when ``answer`` matches ``expected``; else a short description of what differs (no spoiler)."""
    if isinstance(expected, (pd.DataFrame, pd.Series)):
        return _frame_difference(answer, expected, tol, rel)
    if isinstance(expected, np.ndarray):
        if not isinstance(answer, (np.ndarray, list, tuple)):
            return f"expected an array, got a {_describe(answer)}"
        answer = np.asarray(answer)
        if answer.shape != expected.shape:
            return f"the shape is {answer.shape}, it should be {expected.shape}"
        if expected.dtype.kind in "fiu" and answer.dtype.kind in "fiu":
            ok = np.isclose(answer, expected, rtol=rel if rel is not None else _DEFAULT_RELATIVE,
                            atol=tol if tol is not None else _DEFAULT_ABSOLUTE)
            return None if bool(ok.all()) else f"{int((~ok).sum())} of {ok.size} values differ"
        return None if bool((answer == expected).all()) else "some values differ"
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(answer, (bool, np.bool_)):
            return f"expected True or False, got a {_describe(answer)}"
        return None if bool(answer) == bool(expected) else "the other one"
    if _is_number(expected):
        if not _is_number(answer):
            return f"expected a number, got a {_describe(answer)}"
        if math.isnan(float(answer)):
            return "the answer is NaN"
        if _close(float(answer), float(expected), tol, rel):
            return None
        return "too high" if float(answer) > float(expected) else "too low"
    if isinstance(expected, str):
        if not isinstance(answer, str):
            return f"expected text, got a {_describe(answer)}"
        return None if _text(answer) == _text(expected) else "not this one"
    if isinstance(expected, (set, frozenset)):
        if isinstance(answer, (str, bytes, Mapping)) or not isinstance(answer, Iterable):
            return f"expected a collection, got a {_describe(answer)}"
        def norm(items: Iterable[Any]) -> set[Any]:
            return {_text(i) if isinstance(i, str) else i for i in items}
        got, want = norm(answer), norm(expected)
        missing, extra = len(want - got), len(got - want)
        if not missing and not extra:
            return None
        parts = [f"{missing} missing" if missing else "", f"{extra} that should not be there" if extra else ""]
        return ", ".join(p for p in parts if p)
    if isinstance(expected, Mapping):
        if not isinstance(answer, Mapping):
            return f"expected a dict, got a {_describe(answer)}"
        if set(answer) != set(expected):
            return f"the keys should be {sorted(map(str, expected))}"
        for key in expected:
            problem = _difference(answer[key], expected[key], tol, rel)
            if problem:
                return f"at {key!r}: {problem}"
        return None
    if isinstance(expected, (list, tuple)):
        if isinstance(answer, (str, bytes, Mapping, set, frozenset)) or not isinstance(answer, Iterable):
            return f"expected a list, got a {_describe(answer)}"
        answer = list(answer)
        if len(answer) != len(expected):
            return f"{len(answer)} items, there should be {len(expected)}"
        for i, (a, e) in enumerate(zip(answer, expected)):
            problem = _difference(a, e, tol, rel)
            if problem:
                return f"item {i + 1}: {problem}"
        return None
    try:
        return None if bool(answer == expected) else "not this one"
    except (TypeError, ValueError):
        return f"expected a {_describe(expected)}, got a {_describe(answer)}"


def _frame_difference(answer: Any, expected: Any, tol: float | None, rel: float | None) -> str | None:
    kind = "table" if isinstance(expected, pd.DataFrame) else "series"
    if not isinstance(answer, type(expected)):
        return f"expected a pandas {type(expected).__name__}, got a {_describe(answer)}"
    if answer.shape != expected.shape:
        return f"the {kind} has shape {answer.shape}, it should have {expected.shape}"
    if isinstance(expected, pd.DataFrame) and list(answer.columns) != list(expected.columns):
        return f"the columns should be {list(map(str, expected.columns))}"
    exact = tol is None and rel is None
    assert_equal = pd.testing.assert_frame_equal if kind == "table" else pd.testing.assert_series_equal
    kwargs: dict[str, Any] = {"check_dtype": False, "check_index_type": False}
    if kind == "series":
        kwargs["check_names"] = False
    try:
        assert_equal(answer, expected, check_exact=False,
                     rtol=_DEFAULT_RELATIVE if exact else (rel or 0.0),
                     atol=_DEFAULT_ABSOLUTE if exact else (tol or 0.0), **kwargs)
    except AssertionError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "values differ"
        return f"the {kind} differs ({first.rstrip(':')})"
    return None


def verdict(exercise_id: str, answer: Any, expected: Any, *, tolerance: float | None = None,
            relative: float | None = None, hint: str | None = None,
            options: Iterable[str] | None = None) -> Verdict:
    """The outcome of checking ``answer`` against ``expected`` (see the module docstring), printing nothing.

    ``exercise_id`` is ``"NN.k"`` (chapter number, exercise number). ``tolerance`` is absolute,
    ``relative`` a share of ``expected`` (either suffices when both are given). ``options``, for a choice,
    lists the valid answers: an answer outside them is told so. A malformed id, tolerance or option list
    is an authoring mistake and raises :class:`~workbench.params.ParameterError` in every mode.
    """
    if not isinstance(exercise_id, str) or not _ID.match(exercise_id):
        raise ParameterError("exercise_id", "'NN.k' such as '08.1'", exercise_id)
    for name, value in (("tolerance", tolerance), ("relative", relative)):
        if value is not None and (not _is_number(value) or not value >= 0 or math.isinf(value)):
            raise ParameterError(name, "a finite number >= 0", value)
    label = f"Exercise {exercise_id}"
    if answer is ...:
        return Verdict(exercise_id, "unanswered", f"{label}: not answered yet (replace the ... and run the cell)")
    valid = None if options is None else [str(o) for o in options]
    if valid is not None and not isinstance(expected, str):
        raise ParameterError("options", "used with a text answer (a choice)", expected)
    if valid is not None and _text(expected) not in {_text(o) for o in valid}:
        raise ParameterError("options", f"a list that includes the expected answer {expected!r}", valid)
    if valid is not None and (not isinstance(answer, str) or _text(answer) not in {_text(o) for o in valid}):
        problem: str | None = "answer one of " + ", ".join(repr(o) for o in valid)
    else:
        problem = _difference(answer, expected, tolerance, relative)
    if problem is None:
        return Verdict(exercise_id, "correct", f"{label}: correct")
    tail = f"; hint: {hint}" if hint else ""
    return Verdict(exercise_id, "wrong", f"{label}: not yet — {problem}{tail}")


def check(exercise_id: str, answer: Any, expected: Any, *, tolerance: float | None = None,
          relative: float | None = None, hint: str | None = None,
          options: Iterable[str] | None = None) -> None:
    """Print whether ``answer`` is right; in strict mode raise :class:`ExerciseError` unless it is.

    Returns nothing, so a check cell shows exactly one line. Arguments as in :func:`verdict`.
    """
    result = verdict(exercise_id, answer, expected, tolerance=tolerance, relative=relative, hint=hint,
                     options=options)
    if not result.correct and is_strict():
        raise ExerciseError(f"{result.message} ({STRICT_ENV}=strict)")
    print(result.message)
