"""Known-value tests for workbench.stats (values computed by hand or from textbook formulas)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom, norm
from workbench import stats


def test_wilson_known_value() -> None:
    # Wilson 95 % interval for 5/10 (Agresti & Coull 1998 style textbook value).
    low, high = stats.wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4)
    assert high == pytest.approx(0.7634, abs=1e-4)


def test_wilson_closed_form_and_edges() -> None:
    k, n, z = 37, 164, norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert stats.wilson_interval(k, n) == pytest.approx((centre - half, centre + half), abs=1e-9)
    low, high = stats.wilson_interval(0, 20)
    assert low == 0.0 and 0.1 < high < 0.2  # Wilson stays informative at 0 %
    assert stats.wilson_interval(20, 20)[1] == 1.0
    narrow = stats.wilson_interval(50, 100, confidence=0.8)
    wide = stats.wilson_interval(50, 100, confidence=0.99)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


@pytest.mark.parametrize(
    ("args", "param"),
    [((11, 10), "successes"), ((-1, 10), "successes"), ((1, 0), "n"), ((1, 10, 1.5), "confidence"),
     ((1.5, 10), "successes")],
)
def test_wilson_bad_input(args: tuple, param: str) -> None:
    with pytest.raises(ValueError, match=param):
        stats.wilson_interval(*args)


def test_score_interval_percent() -> None:
    # HumanEval 90.2 % of 164 -> 148 items right.
    low, high = stats.score_interval(90.2, 164)
    exp = stats.wilson_interval(148, 164)
    assert (low, high) == pytest.approx((100 * exp[0], 100 * exp[1]))
    assert low < 90.2 < high
    with pytest.raises(ValueError, match="score_pct"):
        stats.score_interval(120, 164)


def test_two_proportion_known_value() -> None:
    # 50/100 vs 60/100: pooled p=0.55, z = 0.1/sqrt(.55*.45*.02) = 1.4213, p = 0.1552.
    assert stats.two_proportion_test(0.5, 100, 0.6, 100) == pytest.approx(0.15522, abs=1e-4)
    # Identical proportions: no evidence of a difference.
    assert stats.two_proportion_test(0.887, 14042, 0.887, 14042) == pytest.approx(1.0)
    assert stats.two_proportion_test(1.0, 10, 1.0, 10) == 1.0
    # Large samples make a 3.6-point MMLU gap highly significant.
    assert stats.two_proportion_test(0.887, 14042, 0.851, 14042) < 1e-10


def test_two_proportion_rejects_percentages() -> None:
    with pytest.raises(ValueError, match="p1.*percentage"):
        stats.two_proportion_test(88.7, 164, 0.9, 164)
    with pytest.raises(ValueError, match="n2"):
        stats.two_proportion_test(0.5, 10, 0.5, 0)


def test_sample_size_known_value() -> None:
    # Classic formula for 0.5 vs 0.6: n = (za*sqrt(2 pq) + zb*sqrt(p1q1+p2q2))^2 / d^2 = 387.3;
    # the arcsine version gives 387.2 -> 388 per group.
    assert stats.sample_size_for_gap(0.5, 0.1) == 388
    assert stats.sample_size_for_gap(0.6, -0.1) == 388
    # A 2-point gap near 89 % needs thousands of items: far more than HumanEval's 164.
    assert stats.sample_size_for_gap(0.887, 0.02) > 3000
    assert stats.sample_size_for_gap(0.5, 0.1, power=0.9) > 388
    with pytest.raises(ValueError, match="gap"):
        stats.sample_size_for_gap(0.95, 0.1)
    with pytest.raises(ValueError, match="power"):
        stats.sample_size_for_gap(0.5, 0.1, power=1.2)


def test_paired_comparison_exact() -> None:
    # 5 both right, 10 only A, 2 only B, 3 neither: exact two-sided binomial p = 2*P(X<=2 | 12, .5).
    a = [1] * 5 + [1] * 10 + [0] * 2 + [0] * 3
    b = [1] * 5 + [0] * 10 + [1] * 2 + [0] * 3
    res = stats.paired_comparison(a, b)
    assert (res.n, res.both, res.a_only, res.b_only, res.neither) == (20, 5, 10, 2, 3)
    assert res.exact
    assert res.p_value == pytest.approx(2 * binom.cdf(2, 12, 0.5))
    assert res.p_value == pytest.approx(0.038574, abs=1e-6)
    assert res.accuracy_a == 0.75 and res.accuracy_b == 0.35


def test_paired_comparison_chi2_and_identical() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(400) < 0.7
    b = a.copy()
    b[:60] = ~b[:60]
    res = stats.paired_comparison(a, b)
    disc_a, disc_b = res.a_only, res.b_only
    assert not res.exact
    chi2 = (abs(disc_a - disc_b) - 1) ** 2 / (disc_a + disc_b)
    assert res.statistic == pytest.approx(chi2)
    same = stats.paired_comparison([True, False, True], [True, False, True])
    assert same.p_value == 1.0


def test_paired_comparison_bad_input() -> None:
    with pytest.raises(ValueError, match="b_correct"):
        stats.paired_comparison([1, 0], [1])
    with pytest.raises(ValueError, match=r"a_correct\[1\]"):
        stats.paired_comparison([1, 2], [1, 0])


# --------------------------------------------------------------------------------------------
# Power: items needed and the smallest resolvable gap, one model for both
# --------------------------------------------------------------------------------------------


def test_sample_size_for_the_largest_effects_is_closed_form() -> None:
    # Each arcsine-transformed score has variance 1/n, their difference 2/n: n = 2 ((z_.975 + z_.8) / h)^2.
    z = norm.ppf(0.975) + norm.ppf(0.8)
    h = 2 * math.asin(math.sqrt(0.75)) - 2 * math.asin(math.sqrt(0.25))
    assert stats.sample_size_for_gap(0.25, 0.5) == math.ceil(2 * (z / h) ** 2)  # statsmodels solves this one
    # 0 % vs 100 %: h = pi, where statsmodels' root finder gives up; the closed form answers
    assert stats.sample_size_for_gap(0.0, 1.0) == math.ceil(2 * (z / math.pi) ** 2) == 2
    assert stats.sample_size_for_gap(1.0, -1.0) == 2


def test_detectable_effect_is_cohens_h_for_n_items() -> None:
    # n = 2 ((z_.975 + z_.8) / h)^2 per group, so h = 2.8016 * sqrt(2 / n) (up to the far tail)
    z = norm.ppf(0.975) + norm.ppf(0.8)
    for n in (30, 164, 14_042):
        assert stats.detectable_effect(n) == pytest.approx(z * math.sqrt(2 / n), rel=1e-3)
    assert stats.detectable_effect(100, alpha=0.01) > stats.detectable_effect(100)
    with pytest.raises(ValueError, match="n must"):
        stats.detectable_effect(1)
    with pytest.raises(ValueError, match="power"):
        stats.detectable_effect(100, power=1.0)


@pytest.mark.parametrize(("p", "n"), [(0.91, 164), (0.59, 448), (0.887, 14_042), (0.5, 30), (0.25, 100)])
def test_detectable_gap_inverts_sample_size_for_gap(p: float, n: int) -> None:
    for direction, sign in (("above", 1), ("below", -1)):
        gap = stats.detectable_gap(p, n, direction=direction)
        if math.isnan(gap):
            continue
        # that gap needs about n items, and a gap half a point smaller needs more
        assert abs(stats.sample_size_for_gap(p, sign * gap) - n) <= max(1, n // 1000)
        assert stats.sample_size_for_gap(p, sign * (gap - 0.005)) > n


def test_detectable_gap_known_values_and_edges() -> None:
    # 388 items per model resolve 50 % vs 60 % (test_sample_size_known_value), in both directions
    assert stats.detectable_gap(0.5, 388) == pytest.approx(0.1, abs=0.001)
    assert stats.detectable_gap(0.6, 388, direction="below") == pytest.approx(0.1, abs=0.001)
    assert stats.detectable_gap(0.85, 164) > stats.detectable_gap(0.85, 1_000) > stats.detectable_gap(0.85, 14_042)
    assert stats.detectable_gap(0.0, 2) == pytest.approx(0.97, abs=0.01)  # h = 2.8 * sqrt(2 / 2) on 2 items
    assert math.isnan(stats.detectable_gap(0.5, 2))  # beyond 100 %
    assert math.isnan(stats.detectable_gap(0.05, 3, direction="below"))  # even 0 % cannot be told apart
    with pytest.raises(ValueError, match="p must"):
        stats.detectable_gap(50, 10)
    with pytest.raises(ValueError, match="direction"):
        stats.detectable_gap(0.5, 10, direction="up")
