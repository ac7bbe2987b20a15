"""Small-sample statistics for benchmark scores: intervals, tests, power and sample sizes.

Everything here is a thin, documented wrapper over ``statsmodels`` so the notebooks can ask
plain questions ("is a 1.8-point gap on 164 items distinguishable from noise?") and get one
number back:

* intervals: :func:`wilson_interval`, :func:`score_interval` (a published percentage);
* tests: :func:`two_proportion_test` (independent samples), :func:`paired_comparison` (McNemar,
  two models on the same items);
* power, one model for all of them (Cohen's arcsine effect size ``h``, a two-sided test,
  independent samples of equal size): :func:`sample_size_for_gap` (items needed per model for a
  gap), :func:`detectable_effect` and :func:`detectable_gap` (the smallest gap ``n`` items resolve).

Proportions are fractions in [0, 1]; functions that take or return percentages say so in their
name or docstring (``score_interval``).
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from scipy.stats import norm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

__all__ = [
    "PairedComparison",
    "detectable_effect",
    "detectable_gap",
    "paired_comparison",
    "sample_size_for_gap",
    "score_interval",
    "two_proportion_test",
    "wilson_interval",
]


def _check_n(n: int, param: str = "n") -> int:
    """Return ``n`` as an int, or raise ValueError naming ``param`` if it is not a positive integer."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
        raise ValueError(f"{param} must be a positive integer, got {n!r}")
    return int(n)


def _check_confidence(confidence: float, param: str = "confidence") -> float:
    """Raise ValueError naming ``param`` unless 0 < confidence < 1."""
    if not isinstance(confidence, numbers.Real) or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"{param} must be strictly between 0 and 1 (e.g. 0.95), got {confidence!r}")
    return float(confidence)


def _check_proportion(p: float, param: str) -> float:
    """Raise ValueError naming ``param`` unless ``p`` is a fraction in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or math.isnan(float(p)):
        raise ValueError(f"{param} must be a proportion in [0, 1], got {p!r}")
    if not 0.0 <= float(p) <= 1.0:
        hint = " (looks like a percentage: divide by 100)" if 1.0 < float(p) <= 100.0 else ""
        raise ValueError(f"{param} must be a proportion in [0, 1], got {p!r}{hint}")
    return float(p)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Args:
        successes: number of correct items (0 <= successes <= n).
        n: number of items scored.
        confidence: two-sided confidence level, e.g. 0.95.

    Returns:
        ``(low, high)`` as fractions in [0, 1].  Wilson's interval keeps good coverage at small
        ``n`` and near 0 % or 100 %, where the normal ("Wald") interval fails.
    """
    n = _check_n(n, "n")
    confidence = _check_confidence(confidence)
    if isinstance(successes, bool) or not isinstance(successes, numbers.Integral) or not (
        0 <= successes <= n
    ):
        raise ValueError(f"successes must be an integer between 0 and n={n}, got {successes!r}")
    low, high = proportion_confint(int(successes), n, alpha=1.0 - confidence, method="wilson")
    return float(max(0.0, low)), float(min(1.0, high))


def score_interval(score_pct: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval for a published score given in percent over ``n`` items.

    The number of correct items is recovered as ``round(score_pct / 100 * n)`` (a published
    score is a rounded ratio of whole items).

    Args:
        score_pct: the score in percent, 0-100 (e.g. 88.7).
        n: the benchmark's number of items (e.g. 164 for HumanEval).
        confidence: two-sided confidence level.

    Returns:
        ``(low_pct, high_pct)`` in percent.
    """
    n = _check_n(n, "n")
    if isinstance(score_pct, bool) or not isinstance(score_pct, numbers.Real) or not (
        0.0 <= float(score_pct) <= 100.0
    ):
        raise ValueError(f"score_pct must be a percentage in [0, 100], got {score_pct!r}")
    successes = round(float(score_pct) / 100.0 * n)
    low, high = wilson_interval(successes, n, confidence)
    return 100.0 * low, 100.0 * high


def two_proportion_test(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-sided z-test (pooled variance) that two independent proportions are equal.

    Use it for two models scored on *independent* samples, e.g. two published scores.  For two
    models scored on the *same* items, ``paired_comparison`` (McNemar) is the right test.

    Args:
        p1: first proportion, a fraction in [0, 1] (88.7 % -> 0.887).
        n1: items behind ``p1``.
        p2: second proportion, a fraction in [0, 1].
        n2: items behind ``p2``.

    Returns:
        The two-sided p-value.  When both proportions are 0 or both are 1 there is no variance and
        no evidence of a difference: the p-value is 1.0.
    """
    p1 = _check_proportion(p1, "p1")
    p2 = _check_proportion(p2, "p2")
    n1 = _check_n(n1, "n1")
    n2 = _check_n(n2, "n2")
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    _, p_value = proportions_ztest([p1 * n1, p2 * n2], [n1, n2], alternative="two-sided")
    return float(p_value)


def sample_size_for_gap(p: float, gap: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Items needed *per model* to detect an accuracy gap with a two-sided test.

    Uses Cohen's arcsine effect size ``h`` between ``p`` and ``p + gap`` and the normal power
    solver of statsmodels (independent samples, equal sizes).  Example: telling 50 % from 60 %
    at alpha 0.05 with 80 % power takes 388 items per model.  For the largest effects (e.g. 0 %
    vs 100 %, ``h = pi``) statsmodels' root finder gives up; the normal approximation it solves is
    then closed-form: each arcsine-transformed score has variance ``1 / n``, their difference
    ``2 / n``, so ``n = 2 ((z_(1-alpha/2) + z_power) / h)^2`` (without the far tail's tiny share).

    Args:
        p: baseline accuracy, a fraction in [0, 1].
        gap: the difference to detect, as a fraction (0.02 for two points); may be negative;
            ``p + gap`` must stay in [0, 1].
        alpha: significance level (two-sided).
        power: desired probability of detecting the gap if it is real.

    Returns:
        The smallest integer number of items per model.
    """
    p = _check_proportion(p, "p")
    if isinstance(gap, bool) or not isinstance(gap, numbers.Real) or gap == 0 or not (
        0.0 <= p + gap <= 1.0
    ):
        raise ValueError(f"gap must be non-zero with p + gap in [0, 1] (p={p}), got {gap!r}")
    alpha = _check_confidence(alpha, "alpha")
    power = _check_confidence(power, "power")
    h = abs(float(proportion_effectsize(p + gap, p)))
    with warnings.catch_warnings():  # statsmodels warns before giving up on the largest effects
        warnings.simplefilter("ignore")
        n = float(NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0,
                                               alternative="two-sided"))
    if not math.isfinite(n):
        n = 2 * ((norm.ppf(1 - alpha / 2) + norm.ppf(power)) / h) ** 2
    return math.ceil(n - 1e-9)


@lru_cache(maxsize=512)
def _effect_for(n: int, alpha: float, power: float) -> float:
    with warnings.catch_warnings():  # statsmodels warns while bracketing the root
        warnings.simplefilter("ignore")
        return float(NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=alpha, power=power,
                                                  ratio=1.0, alternative="two-sided"))


def detectable_effect(n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Cohen's ``h`` that ``n`` items per model detect with ``power`` (two-sided test at ``alpha``).

    The inverse of :func:`sample_size_for_gap`'s power model (independent samples of equal size).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (items per model), got {n!r}")
    alpha = _check_confidence(alpha, "alpha")
    power = _check_confidence(power, "power")
    return _effect_for(int(n), round(alpha, 12), round(power, 12))


def detectable_gap(p: float, n: int, alpha: float = 0.05, power: float = 0.8, *,
                   direction: str = "above") -> float:
    """The smallest gap from accuracy ``p`` that ``n`` items per model resolve, as a fraction.

    :func:`detectable_effect` on the arcsine scale, moved from ``p`` up (``direction="above"``: how
    much better a second model must be) or down (``"below"``: how much worse), and turned back
    into a difference of proportions; the answer is positive either way.  ``sample_size_for_gap(p,
    ±gap)`` is then about ``n``.  Example: 388 items per model resolve 10 points above 50 %.

    Returns:
        The gap (fraction), or NaN when even 100 % (above) or 0 % (below) could not be told
        apart from ``p`` with ``n`` items.
    """
    p = _check_proportion(p, "p")
    if direction not in ("above", "below"):
        raise ValueError(f"direction must be 'above' or 'below', got {direction!r}")
    h = detectable_effect(n, alpha, power)
    phi = 2 * math.asin(math.sqrt(p)) + (h if direction == "above" else -h)
    if not 0.0 <= phi <= math.pi:
        return float("nan")
    return abs(math.sin(phi / 2) ** 2 - p)


@dataclass(frozen=True)
class PairedComparison:
    """Result of a McNemar test of two models on the same items.

    Attributes:
        n: items compared.
        both: items both models got right.
        a_only: items only model A got right.
        b_only: items only model B got right.
        neither: items both got wrong.
        accuracy_a: A's accuracy (fraction).
        accuracy_b: B's accuracy (fraction).
        statistic: the test statistic (the smaller discordant count for the exact test,
            chi-square otherwise).
        p_value: two-sided p-value.
        exact: True when the exact binomial test was used (fewer than 25 discordant items).
    """

    n: int
    both: int
    a_only: int
    b_only: int
    neither: int
    accuracy_a: float
    accuracy_b: float
    statistic: float
    p_value: float
    exact: bool


def _as_bools(values: Iterable[object], param: str) -> list[bool]:
    """Convert an iterable of 0/1/True/False into bools; raise ValueError naming ``param``."""
    out: list[bool] = []
    for i, v in enumerate(values):
        if isinstance(v, bool):
            out.append(v)
        elif isinstance(v, (int, float)) and float(v) in (0.0, 1.0):
            out.append(bool(v))
        else:
            try:  # numpy scalars
                fv = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                fv = float("nan")
            if fv in (0.0, 1.0):
                out.append(bool(fv))
            else:
                raise ValueError(f"{param}[{i}] must be 0/1 or True/False, got {v!r}")
    return out


def paired_comparison(a_correct: Sequence[object], b_correct: Sequence[object]) -> PairedComparison:
    """McNemar test for two models scored on the same items.

    Only the discordant items (one right, the other wrong) carry information.  With fewer than 25
    discordant items the exact binomial version is used, otherwise the chi-square version with
    continuity correction.

    Args:
        a_correct: per-item correctness of model A (bools or 0/1), in item order.
        b_correct: per-item correctness of model B, same items, same order.

    Returns:
        A ``PairedComparison`` with the 2x2 counts, both accuracies and the p-value.
    """
    a = _as_bools(a_correct, "a_correct")
    b = _as_bools(b_correct, "b_correct")
    if len(a) != len(b):
        raise ValueError(
            f"b_correct must have the same length as a_correct ({len(a)} items), got {len(b)}"
        )
    if not a:
        raise ValueError("a_correct must hold at least one item, got an empty sequence")
    both = sum(x and y for x, y in zip(a, b))
    a_only = sum(x and not y for x, y in zip(a, b))
    b_only = sum(y and not x for x, y in zip(a, b))
    neither = len(a) - both - a_only - b_only
    discordant = a_only + b_only
    if discordant == 0:
        statistic, p_value, exact = 0.0, 1.0, True
    else:
        exact = discordant < 25
        res = mcnemar([[both, a_only], [b_only, neither]], exact=exact, correction=True)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return PairedComparison(
        n=len(a), both=both, a_only=a_only, b_only=b_only, neither=neither,
        accuracy_a=(both + a_only) / len(a), accuracy_b=(both + b_only) / len(a),
        statistic=statistic, p_value=min(1.0, p_value), exact=exact,
    )
