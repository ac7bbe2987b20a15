"""Notebook and command-line parameter checks: one place, one error type naming the parameter.

Papermill delivers a list given on the command line (``-p models '["a", "b"]'``) as text; :func:`as_list`
turns that back into a list. Every check returns the value in its canonical type or raises
:class:`ParameterError` whose message starts with the parameter's name, so a notebook stops with one
clear line such as ``confidence: expected a number strictly between 0 and 1, got 1.5``.
"""
from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

__all__ = [
    "ParameterError",
    "as_list",
    "choice",
    "columns",
    "count",
    "counts",
    "fraction",
    "iso_date",
    "names",
    "number",
    "positive",
    "probability",
    "tolerance",
    "unit_interval",
]


class ParameterError(ValueError):
    """A parameter has the wrong type or is out of range; the message names the parameter."""

    def __init__(self, param: str, expected: str, value: Any) -> None:
        self.param, self.expected, self.value = param, expected, value
        super().__init__(f"{param}: expected {expected}, got {value!r}")


def as_list(value: Any) -> Any:
    """``value`` with a JSON list given as text (papermill's ``-p name '[...]'``) parsed; else unchanged."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def names(value: Any, param: str, *, allow_empty: bool = False) -> list[str]:
    """A name or a list of names (strings) as a list; JSON text is parsed first."""
    value = as_list(value)
    if isinstance(value, str):
        return [value]
    if value is None or isinstance(value, (bytes, dict)) or not isinstance(value, Iterable):
        raise ParameterError(param, "a name or a list of names", value)
    out = list(value)
    if not all(isinstance(v, str) for v in out):
        raise ParameterError(param, "names (strings)", value)
    if not out and not allow_empty:
        raise ParameterError(param, "at least one name", value)
    return out


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def _is_real(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, numbers.Real)
            and math.isfinite(float(value)))


def count(value: Any, param: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number in ``[minimum, maximum]``."""
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        top = f" and <= {maximum}" if maximum is not None else ""
        raise ParameterError(param, f"a whole number >= {minimum}{top}", value)
    return int(value)


def counts(value: Any, param: str, *, minimum: int = 1, maximum: int | None = None,
           allow_empty: bool = False) -> list[int]:
    """A list of whole numbers in ``[minimum, maximum]`` (JSON text is parsed first)."""
    value = as_list(value)
    if _is_int(value):
        value = [value]
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        raise ParameterError(param, "a list of whole numbers", value)
    out = list(value)
    if not out and not allow_empty:
        raise ParameterError(param, "at least one whole number", value)
    top = f" and <= {maximum}" if maximum is not None else ""
    for v in out:
        if not _is_int(v) or v < minimum or (maximum is not None and v > maximum):
            raise ParameterError(param, f"whole numbers >= {minimum}{top}", value)
    return [int(v) for v in out]


def number(value: Any, param: str, *, minimum: float = 0.0) -> float:
    """A number >= ``minimum`` (infinity allowed: a time-out or wait without end; NaN never)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value)
            or value < minimum):
        raise ParameterError(param, f"a number >= {minimum:g}", value)
    return float(value)


def positive(value: Any, param: str) -> float:
    """A finite number > 0."""
    if not _is_real(value) or value <= 0:
        raise ParameterError(param, "a positive number", value)
    return float(value)


def fraction(value: Any, param: str) -> float:
    """A share in (0, 1] (a utilisation, a traffic share)."""
    if not _is_real(value) or not 0 < value <= 1:
        raise ParameterError(param, "a fraction in (0, 1]", value)
    return float(value)


def unit_interval(value: Any, param: str) -> float:
    """A number in [0, 1], both ends allowed (a decision threshold on a confidence or a probability)."""
    if not _is_real(value) or not 0 <= value <= 1:
        raise ParameterError(param, "a number in [0, 1]", value)
    return float(value)


def probability(value: Any, param: str) -> float:
    """A level strictly between 0 and 1 (a confidence level, a power, a threshold)."""
    if not _is_real(value) or not 0 < value < 1:
        raise ParameterError(param, "a number strictly between 0 and 1", value)
    return float(value)


def choice(value: Any, param: str, options: Iterable[str]) -> str:
    """One of ``options``."""
    options = list(options)
    if value not in options:
        raise ParameterError(param, "one of " + ", ".join(repr(o) for o in options), value)
    return str(value)


def columns(frame: Any, required: Iterable[str], param: str) -> Any:
    """``frame`` (a pandas DataFrame) if it has every column in ``required``; else the error names them."""
    have = list(getattr(frame, "columns", []))
    lacking = [c for c in required if c not in have]
    if lacking:
        raise ParameterError(param, f"a table with the column(s) {lacking}", f"a table with {have}")
    return frame


def tolerance(value: Any, param: str) -> float:
    """A relative tolerance in [0, 1) (0: exact agreement)."""
    if not _is_real(value) or not 0 <= value < 1:
        raise ParameterError(param, "a fraction in [0, 1)", value)
    return float(value)


def iso_date(value: Any, param: str) -> date:
    """A date from a ``date``, a ``datetime`` (pandas Timestamps included) or an ISO string such as 2026-12-01."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ParameterError(param, "an ISO date like '2026-12-01'", value)
