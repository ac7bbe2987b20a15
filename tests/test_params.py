"""workbench.params: every check returns the canonical value or one ParameterError naming the parameter."""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from workbench import params
from workbench.params import ParameterError


def test_as_list_parses_papermill_json_text_and_leaves_the_rest() -> None:
    assert params.as_list('["gpt-4o", "gpt-5.5"]') == ["gpt-4o", "gpt-5.5"]
    assert params.as_list("gpt-4o") == "gpt-4o"
    assert params.as_list("[not json") == "[not json"
    assert params.as_list([1, 2]) == [1, 2]


@pytest.mark.parametrize(("value", "expected"), [("a", ["a"]), (["a", "b"], ["a", "b"]), ('["a"]', ["a"]),
                                                 (("a", "b"), ["a", "b"])])
def test_names_accepts_a_name_a_list_or_json_text(value: object, expected: list[str]) -> None:
    assert params.names(value, "models") == expected


@pytest.mark.parametrize("value", [None, 3, ["a", 2], [], {"a": 1}, b"a"])
def test_names_rejects_what_is_not_a_list_of_names(value: object) -> None:
    with pytest.raises(ParameterError, match=r"^models: expected"):
        params.names(value, "models")
    assert params.names([], "models", allow_empty=True) == []


def test_count_and_counts_hold_whole_numbers_to_their_range() -> None:
    assert params.count(3, "n") == 3 and params.count(np.int64(3), "n") == 3
    assert params.count(0, "seed", minimum=0) == 0
    for bad in (0, 2.5, True, "3", None):
        with pytest.raises(ParameterError, match=r"^n: expected a whole number >= 1"):
            params.count(bad, "n")
    with pytest.raises(ParameterError, match=r"<= 64"):
        params.count(65, "concurrency", maximum=64)
    assert params.counts("[1, 2, 4]", "levels") == [1, 2, 4] and params.counts(2, "levels") == [2]
    with pytest.raises(ParameterError, match=r"^levels: expected whole numbers >= 1"):
        params.counts([1, 0], "levels")
    with pytest.raises(ParameterError, match=r"^levels: expected at least one"):
        params.counts([], "levels")


@pytest.mark.parametrize(("check", "good", "bads"), [
    (params.positive, [0.1, 3, 1e9], [0, -1, float("nan"), float("inf"), True, "1"]),
    (params.fraction, [0.01, 1.0], [0, 1.01, -0.5, float("nan")]),
    (params.probability, [0.05, 0.95], [0, 1, 1.5, None]),
    (params.unit_interval, [0, 0.5, 1, np.float64(0.25)], [-0.01, 1.01, float("nan"), True, "0.5"]),
    (params.tolerance, [0, 0.05], [1, -0.1, "0.1"]),
])
def test_number_checks_accept_their_range_only(check, good: list[float], bads: list[object]) -> None:
    for v in good:
        assert check(v, "x") == float(v)
    for v in bads:
        with pytest.raises(ParameterError, match=r"^x: expected"):
            check(v, "x")


def test_choice_columns_and_iso_date_name_the_parameter() -> None:
    assert params.choice("local", "backend", ["local", "live"]) == "local"
    with pytest.raises(ParameterError, match=r"^backend: expected one of 'local', 'live', got 'cloud'"):
        params.choice("cloud", "backend", ["local", "live"])
    frame = pd.DataFrame({"a": [1], "b": [2]})
    assert params.columns(frame, ["a"], "table") is frame
    with pytest.raises(ParameterError, match=r"^table: expected a table with the column\(s\) \['c'\]"):
        params.columns(frame, ["a", "c"], "table")
    assert params.iso_date("2026-12-01", "on") == date(2026, 12, 1)
    assert params.iso_date(datetime(2026, 12, 1, 9), "on") == date(2026, 12, 1)
    assert params.iso_date(pd.Timestamp("2024-11-15"), "on") == date(2024, 11, 15)
    with pytest.raises(ParameterError, match=r"^on: expected an ISO date"):
        params.iso_date("1 Dec 2026", "on")


def test_parameter_error_is_a_value_error_with_its_parts() -> None:
    err = ParameterError("limit", "a whole number >= 1", -3)
    assert isinstance(err, ValueError) and (err.param, err.value) == ("limit", -3)
    assert str(err) == "limit: expected a whole number >= 1, got -3"


def test_number_accepts_a_bound_and_infinity_never_nan() -> None:
    assert params.number(0, "backoff") == 0.0 and params.number(float("inf"), "wait") == float("inf")
    assert params.number(0.5, "timeout", minimum=0.001) == 0.5
    for bad in (-1, float("nan"), True, "1", None):
        with pytest.raises(ParameterError, match=r"^wait: expected a number >= 0"):
            params.number(bad, "wait")
    with pytest.raises(ParameterError, match=r"^timeout: expected a number >= 0.001, got 0"):
        params.number(0, "timeout", minimum=0.001)
