"""workbench.fmt: the numbers in the article's prose, formatted one way."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from workbench import fmt


@pytest.mark.parametrize(("value", "text"), [(2.5, "$2.50"), (15, "$15.00"), (1234.5, "$1,234"), (0.00423, "$0.00423"),
                                             (0.015, "$0.015"), (0, "$0.00"), (-3.2, "-$3.20"), (None, "n/a")])
def test_usd(value: float | None, text: str) -> None:
    assert fmt.usd(value) == text


def test_usd_with_fixed_digits_and_pct_forms() -> None:
    assert fmt.usd(0.5, 4) == "$0.5000"
    assert fmt.pct(41.26) == "41 %" and fmt.pct(41.26, 1) == "41.3 %"
    assert fmt.pct(0.4126, 1, share=True) == "41.3 %"
    assert fmt.pct(float("nan")) == "n/a" and fmt.pct(pd.NA) == "n/a"


@pytest.mark.parametrize(("value", "text"), [(1234, "1.23 k"), (0.00056, "560 µ"), (12.9e9, "12.9 G"), (0, "0"),
                                             (999, "999"), (np.float64(2.5e6), "2.5 M")])
def test_si(value: float, text: str) -> None:
    assert fmt.si(value) == text


def test_counts_p_values_spans_flags_intervals() -> None:
    assert fmt.count(1234567) == "1,234,567" and fmt.count(None) == "unknown" and fmt.count(math.nan, na="") == ""
    assert fmt.p_value(0.0004) == "< 0.001" and fmt.p_value(0.0312) == "0.031" and fmt.p_value(None) == "n/a"
    assert fmt.span(1, 1.2) == "1" and fmt.span(1, 3) == "1 to 3" and fmt.span(0.5, 1.0, "{:.1f}") == "0.5 to 1.0"
    assert (fmt.yes_no(True), fmt.yes_no(False), fmt.yes_no(None)) == ("yes", "no", "n/a")
    assert fmt.interval(88.71, 92.1) == "89 - 92" and fmt.interval(1, None) == ""


@pytest.mark.parametrize(("value", "text"), [(950, "950"), (8192, "8.19K"), (128000, "128K"), (1048576, "1.05M"),
                                             (999_999, "1M"), (2.6e9, "2.6B"), (None, "n/a")])
def test_tokens(value: float | None, text: str) -> None:
    assert fmt.tokens(value) == text


def test_tokens_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        fmt.tokens(-1)


def test_missing() -> None:
    assert fmt.missing(None) and fmt.missing(float("nan")) and fmt.missing(pd.NA) and not fmt.missing(0)
