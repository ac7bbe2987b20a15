"""Published benchmark scores: who says what, where the sources disagree, and what the sizes allow.

The published scores live in ``data/scores.csv`` (one row per benchmark, model, metric and source)
and the benchmark sizes in ``data/benchmarks.csv``. This module turns them into the tables and
figures of chapter 06:

* :func:`published_scores` selects accuracy scores (validated ``sources`` / ``benchmarks`` /
  ``models`` parameters) joined with benchmark family and size;
* :func:`with_intervals` adds each score's Wilson interval (where the size is known) and checks
  whether the percentage can be a whole number of items out of ``n``;
* :func:`source_disagreements`: the same model on the same benchmark, reported by two sources;
* :func:`claimed_wins`: every gap between two models within one source and benchmark, with a
  two-proportion test and the number of items needed to resolve it;
* :func:`sample_size_table` / :func:`detectable_gap`: the smallest gap each benchmark can resolve;
* ``plot_*`` functions draw the figures.

Statistics come from :mod:`workbench.stats`. Published scores carry no item-level results, so the
tests treat two scores as independent samples of ``n`` items each; models scored on the *same*
items would be compared more sharply with McNemar's test, which needs per-item data.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from statsmodels.stats.power import NormalIndPower

from . import catalog, stats

__all__ = [
    "ACCURACY",
    "check_benchmarks",
    "claimed_wins",
    "detectable_gap",
    "implied_correct",
    "other_measures",
    "plot_disagreements",
    "plot_family",
    "plot_resolvable_gaps",
    "plot_wins",
    "published_scores",
    "sample_size_table",
    "score_table",
    "source_colors",
    "source_disagreements",
    "unsized_benchmarks",
    "whole_items_consistent",
    "with_intervals",
]

#: The metric (in percent) that the accuracy tables and tests use.
ACCURACY = "accuracy"

_MARKERS = ("o", "s", "D", "^", "v", "P", "X")
_MIN_SPAN = 20.0  # percentage points: the narrowest x range of a score figure


# --------------------------------------------------------------------------------------------
# Selecting scores
# --------------------------------------------------------------------------------------------
def check_benchmarks(values: Sequence[str] | str, param: str = "benchmarks") -> list[str]:
    """Validate benchmark names against ``data/benchmarks.csv``; return them as a list.

    Raises :class:`workbench.catalog.UnknownNameError` naming ``param`` and the bad name.
    """
    return catalog.check_names(values, catalog.benchmarks()["benchmark"], param=param,
                               kind="benchmark")


def _select(sources: Sequence[str] | str | None, benchmarks: Sequence[str] | str | None,
            models: Sequence[str] | str | None) -> pd.DataFrame:
    """All score rows (any metric) filtered by the validated parameters, with model and benchmark facts."""
    table = catalog.scores()
    if sources is not None:
        table = table[table["source_id"].isin(catalog.check_sources(sources, param="sources"))]
    if benchmarks is not None:
        table = table[table["benchmark"].isin(check_benchmarks(benchmarks, param="benchmarks"))]
    if models is not None:
        table = table[table["model_id"].isin(catalog.check_models(models, param="models"))]
    bench = catalog.benchmarks().set_index("benchmark")
    names = catalog.models().set_index("model_id")
    out = table.assign(
        family=table["benchmark"].map(bench["family"]),
        n_items=table["benchmark"].map(bench["n_items"]).astype("Int64"),
        model=table["model_id"].map(names["name"]),
        provider=table["model_id"].map(names["provider"]),
    )
    return out.reset_index(drop=True)


def published_scores(sources: Sequence[str] | str | None = None,
                     benchmarks: Sequence[str] | str | None = None,
                     models: Sequence[str] | str | None = None) -> pd.DataFrame:
    """Accuracy scores (percent) as published, one row per benchmark, model and source.

    Args:
        sources: source ids (S0-S4) to keep; None keeps all.
        benchmarks: benchmark names from ``data/benchmarks.csv``; None keeps all.
        models: catalog model ids; None keeps all.

    Returns:
        Columns ``benchmark``, ``family``, ``n_items`` (Int64, <NA> when no size is known),
        ``model_id``, ``model`` (display name), ``provider``, ``source_id``, ``score`` (percent),
        ``notes``; sorted by family, benchmark, model and source.

    Raises:
        catalog.UnknownNameError: an unknown source, benchmark or model (naming the parameter).
        ValueError: the selection holds no accuracy score (naming the parameters).
    """
    rows = _select(sources, benchmarks, models)
    rows = rows[(rows["metric"] == ACCURACY) & (rows["unit"] == "percent")]
    if rows.empty:
        raise ValueError(f"sources / benchmarks / models: no published accuracy score for "
                         f"sources={sources!r}, benchmarks={benchmarks!r}, models={models!r}")
    out = rows.rename(columns={"value": "score"})[
        ["benchmark", "family", "n_items", "model_id", "model", "provider", "source_id", "score",
         "notes"]]
    return out.sort_values(["family", "benchmark", "model", "source_id"]).reset_index(drop=True)


def other_measures(sources: Sequence[str] | str | None = None,
                   benchmarks: Sequence[str] | str | None = None,
                   models: Sequence[str] | str | None = None) -> pd.DataFrame:
    """Published numbers that are not accuracies (latencies, time to first token), as a table.

    Same parameters as :func:`published_scores`; may be empty.
    """
    rows = _select(sources, benchmarks, models)
    rows = rows[~((rows["metric"] == ACCURACY) & (rows["unit"] == "percent"))]
    return rows[["benchmark", "model", "metric", "value", "unit", "source_id", "notes"]].reset_index(
        drop=True)


def score_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores by source: rows (benchmark, model), one column per source, values in percent."""
    _require(scores, ["benchmark", "model", "source_id", "score"], "scores")
    wide = scores.pivot_table(index=["family", "benchmark", "model"], columns="source_id",
                              values="score", aggfunc="first")
    wide.columns.name = "source"
    return wide


# --------------------------------------------------------------------------------------------
# Intervals and whole-item checks
# --------------------------------------------------------------------------------------------
def _require(frame: pd.DataFrame, columns: list[str], param: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{param}: missing columns {missing}")


def _decimals(value: float) -> int:
    """Decimal places a published number shows (88.7 -> 1, 92.0 and 92 -> 0), at most 3."""
    for d in range(4):
        if math.isclose(round(value, d), value, abs_tol=1e-9):
            return d
    return 3


def implied_correct(score_pct: float, n: int) -> int:
    """The whole number of items closest to ``score_pct`` percent of ``n`` (e.g. 90.2 % of 164 -> 148)."""
    if not 0 <= score_pct <= 100:
        raise ValueError(f"score_pct must be in [0, 100], got {score_pct!r}")
    if isinstance(n, bool) or int(n) != n or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return round(score_pct / 100 * int(n))


def whole_items_consistent(score_pct: float, n: int, decimals: int | None = None) -> bool:
    """Whether some whole count k out of ``n`` rounds to ``score_pct`` at its printed precision.

    A single pass over ``n`` items can only score k/n. A published 59.4 % on 448 items is 266/448
    (59.375 %), but no k/198 rounds to 59.4 %, so a 59.4 % cannot be one pass over a 198-item
    split: it was averaged over runs, or the item count differs. ``decimals`` defaults to the
    places the number shows (a float cannot tell 92.0 from 92, so that check is lenient).
    """
    k = implied_correct(score_pct, n)
    d = _decimals(score_pct) if decimals is None else int(decimals)
    return any(math.isclose(round(100 * c / int(n), d), round(score_pct, d), abs_tol=1e-9)
               for c in (k - 1, k, k + 1) if 0 <= c <= n)


def with_intervals(scores: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Add each score's Wilson interval and whole-item facts, where the benchmark size is known.

    New columns: ``correct`` (implied whole items), ``ci_low`` / ``ci_high`` (percent),
    ``half_width`` (percentage points, half the interval's width) and ``whole_items``
    (:func:`whole_items_consistent`). All are <NA> / NaN where ``n_items`` is unknown.
    """
    _require(scores, ["score", "n_items"], "scores")
    out = scores.copy()
    lows, highs, correct, whole = [], [], [], []
    for score, n in zip(out["score"], out["n_items"]):
        if pd.isna(n):
            lows.append(np.nan), highs.append(np.nan), correct.append(pd.NA), whole.append(pd.NA)
            continue
        lo, hi = stats.score_interval(float(score), int(n), confidence)
        lows.append(lo), highs.append(hi)
        correct.append(implied_correct(float(score), int(n)))
        whole.append(whole_items_consistent(float(score), int(n)))
    out["correct"] = pd.array(correct, dtype="Int64")
    out["ci_low"] = np.round(lows, 2)
    out["ci_high"] = np.round(highs, 2)
    out["half_width"] = np.round((np.asarray(highs) - np.asarray(lows)) / 2, 2)
    out["whole_items"] = pd.array(whole, dtype="boolean")
    out.attrs["confidence"] = confidence
    return out


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------
def _test(a: float, b: float, n: object, alpha: float) -> tuple[float, object]:
    """Two-proportion p-value and 'distinguishable' flag for scores a, b (percent) on n items each."""
    if pd.isna(n):
        return np.nan, pd.NA
    p = stats.two_proportion_test(a / 100, int(n), b / 100, int(n))
    return p, bool(p < alpha)


def _needed(low: float, gap: float, alpha: float, power: float) -> object:
    """Items per model needed to resolve ``gap`` points above a score of ``low`` percent (<NA> if 0)."""
    if gap <= 0:
        return pd.NA
    return stats.sample_size_for_gap(low / 100, gap / 100, alpha=alpha, power=power)


def _check_level(value: float, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"{param} must be strictly between 0 and 1, got {value!r}")
    return float(value)


def source_disagreements(scores: pd.DataFrame, confidence: float = 0.95,
                         power: float = 0.8) -> pd.DataFrame:
    """The same model on the same benchmark as reported by two sources, one row per pair of sources.

    Columns: ``benchmark``, ``model``, ``n_items``, ``source_a``, ``score_a``, ``source_b``,
    ``score_b``, ``difference`` (a - b, points), ``agree`` (identical numbers), ``p_value`` and
    ``distinguishable`` (two-proportion test at ``1 - confidence``; <NA> without a known size),
    ``n_needed`` (items per run to resolve the difference) and ``notes``. Sorted by absolute
    difference, largest first. Two runs of one model on one benchmark should agree up to
    sampling noise; a larger difference points to a different setup (split, prompt, shots).
    """
    _require(scores, ["benchmark", "model", "source_id", "score", "n_items"], "scores")
    alpha = 1 - _check_level(confidence, "confidence")
    power = _check_level(power, "power")
    rows = []
    for (bench, model), grp in scores.groupby(["benchmark", "model"], sort=True):
        grp = grp.sort_values("source_id")
        for (_, a), (_, b) in itertools.combinations(grp.iterrows(), 2):
            if a["source_id"] == b["source_id"]:
                continue
            diff = float(a["score"]) - float(b["score"])
            p, dist = _test(float(a["score"]), float(b["score"]), a["n_items"], alpha)
            notes = "; ".join(sorted({str(x) for x in (a["notes"], b["notes"]) if not pd.isna(x)}))
            rows.append({
                "benchmark": bench, "model": model, "n_items": a["n_items"],
                "source_a": a["source_id"], "score_a": float(a["score"]),
                "source_b": b["source_id"], "score_b": float(b["score"]),
                "difference": round(diff, 2), "agree": math.isclose(diff, 0.0, abs_tol=1e-9),
                "p_value": p, "distinguishable": dist,
                "n_needed": _needed(min(a["score"], b["score"]), abs(diff), alpha, power),
                "notes": notes,
            })
    out = pd.DataFrame(rows, columns=["benchmark", "model", "n_items", "source_a", "score_a",
                                      "source_b", "score_b", "difference", "agree", "p_value",
                                      "distinguishable", "n_needed", "notes"])
    if out.empty:
        return out
    out["n_items"] = out["n_items"].astype("Int64")
    out["distinguishable"] = out["distinguishable"].astype("boolean")
    out["n_needed"] = out["n_needed"].astype("Int64")
    order = out["difference"].abs().sort_values(ascending=False, kind="stable").index
    return out.loc[order].reset_index(drop=True)


def _verdict(gap: float, n: object, dist: object) -> str:
    if math.isclose(gap, 0.0, abs_tol=1e-9):
        return "tie"
    if pd.isna(n):
        return "size unknown"
    return "distinguishable" if dist else "within noise"


def claimed_wins(scores: pd.DataFrame, confidence: float = 0.95, power: float = 0.8) -> pd.DataFrame:
    """Every pair of models compared by one source on one benchmark, the higher score first.

    Columns: ``source_id``, ``benchmark``, ``n_items``, ``leader``, ``leader_score``, ``other``,
    ``other_score``, ``gap`` (points), ``p_value`` and ``distinguishable`` (two-proportion test at
    ``alpha = 1 - confidence``, <NA> without a known size), ``n_needed`` (items per model for
    ``power`` to detect the gap; <NA> for a tie), ``resolvable`` (``n_items >= n_needed``) and
    ``verdict`` (tie / size unknown / distinguishable / within noise).
    """
    _require(scores, ["benchmark", "model", "source_id", "score", "n_items"], "scores")
    alpha = 1 - _check_level(confidence, "confidence")
    power = _check_level(power, "power")
    rows = []
    for (src, bench), grp in scores.groupby(["source_id", "benchmark"], sort=True):
        grp = grp.sort_values(["score", "model"], ascending=[False, True])
        for (_, a), (_, b) in itertools.combinations(grp.iterrows(), 2):
            gap = round(float(a["score"]) - float(b["score"]), 6)
            p, dist = _test(float(a["score"]), float(b["score"]), a["n_items"], alpha)
            need = _needed(float(b["score"]), gap, alpha, power)
            n = a["n_items"]
            rows.append({
                "source_id": src, "benchmark": bench, "n_items": n,
                "leader": a["model"], "leader_score": float(a["score"]),
                "other": b["model"], "other_score": float(b["score"]), "gap": round(gap, 2),
                "p_value": p, "distinguishable": dist, "n_needed": need,
                "resolvable": pd.NA if pd.isna(n) or pd.isna(need) else bool(int(n) >= int(need)),
                "verdict": _verdict(gap, n, dist),
            })
    out = pd.DataFrame(rows, columns=["source_id", "benchmark", "n_items", "leader", "leader_score",
                                      "other", "other_score", "gap", "p_value", "distinguishable",
                                      "n_needed", "resolvable", "verdict"])
    for col, dtype in (("n_items", "Int64"), ("n_needed", "Int64"), ("distinguishable", "boolean"),
                       ("resolvable", "boolean")):
        out[col] = out[col].astype(dtype)
    return out


@lru_cache(maxsize=512)
def _effect_size(n: int, alpha: float, power: float) -> float:
    """Cohen's h that ``n`` items per group detect (two-sided, equal groups), from statsmodels."""
    return float(NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=alpha, power=power,
                                              ratio=1.0, alternative="two-sided"))


def detectable_gap(score_pct: float, n: int, confidence: float = 0.95, power: float = 0.8) -> float:
    """The smallest deficit (points) below ``score_pct`` that ``n`` items per model can resolve.

    The inverse of :func:`workbench.stats.sample_size_for_gap`, with the same model (Cohen's
    arcsine effect size ``h``, two-sided test at ``alpha = 1 - confidence``, independent samples of
    equal size): solve for the ``h`` that ``n`` items detect with the given ``power``, then find the
    score ``h`` below ``score_pct``. Returns NaN when even a model scoring 0 % could not be told
    apart with ``n`` items.
    """
    if isinstance(score_pct, bool) or not isinstance(score_pct, (int, float)) or not 0 < score_pct <= 100:
        raise ValueError(f"score_pct must be in (0, 100], got {score_pct!r}")
    if isinstance(n, bool) or int(n) != n or n <= 1:
        raise ValueError(f"n must be an integer above 1, got {n!r}")
    alpha = 1 - _check_level(confidence, "confidence")
    power = _check_level(power, "power")
    h = _effect_size(int(n), round(alpha, 12), round(power, 12))
    phi = 2 * math.asin(math.sqrt(score_pct / 100)) - h
    if phi < 0:
        return float("nan")
    return round(score_pct - 100 * math.sin(phi / 2) ** 2, 2)


def sample_size_table(scores: pd.DataFrame, confidence: float = 0.95,
                      power: float = 0.8) -> pd.DataFrame:
    """Per benchmark with a known size: what its item count lets anyone conclude.

    Columns: ``benchmark``, ``family``, ``n_items``, ``scores`` (how many published scores),
    ``median_score``, ``half_width`` (points: half the Wilson interval at the median score),
    ``detectable_gap`` (points: :func:`detectable_gap` at the median score) and
    ``largest_gap_within_source`` (the largest gap any one source reports on it).
    """
    _require(scores, ["benchmark", "family", "score", "n_items", "source_id"], "scores")
    rows = []
    for bench, grp in scores.dropna(subset=["n_items"]).groupby("benchmark", sort=False):
        n = int(grp["n_items"].iloc[0])
        med = float(grp["score"].median())
        lo, hi = stats.score_interval(med, n, confidence)
        spread = grp.groupby("source_id")["score"].agg(lambda s: s.max() - s.min())
        rows.append({
            "benchmark": bench, "family": grp["family"].iloc[0], "n_items": n,
            "scores": len(grp), "median_score": round(med, 2), "half_width": round((hi - lo) / 2, 2),
            "detectable_gap": detectable_gap(med, n, confidence, power),
            "largest_gap_within_source": round(float(spread.max()), 2),
        })
    out = pd.DataFrame(rows, columns=["benchmark", "family", "n_items", "scores", "median_score",
                                      "half_width", "detectable_gap", "largest_gap_within_source"])
    out = out.sort_values("n_items").reset_index(drop=True)
    out.attrs.update(confidence=confidence, power=power)
    return out


def unsized_benchmarks(scores: pd.DataFrame) -> pd.DataFrame:
    """Benchmarks in ``scores`` whose number of items is not known, with their notes from the catalog."""
    _require(scores, ["benchmark", "n_items"], "scores")
    names = sorted(set(scores.loc[scores["n_items"].isna(), "benchmark"]))
    bench = catalog.benchmarks().set_index("benchmark")
    return pd.DataFrame({
        "benchmark": names,
        "family": [bench.loc[b, "family"] for b in names],
        "scores": [int((scores["benchmark"] == b).sum()) for b in names],
        "sources": [", ".join(sorted(set(scores.loc[scores["benchmark"] == b, "source_id"])))
                    for b in names],
        "notes": [bench.loc[b, "notes"] for b in names],
    })


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
def source_colors(sources: Sequence[str] | None = None) -> dict[str, str]:
    """One stable colour per source id (S0, S1, ... keep their colour whatever the selection)."""
    every = list(catalog.sources()["source_id"])
    palette = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442"]
    colors = {s: palette[i % len(palette)] for i, s in enumerate(every)}
    if sources is None:
        return colors
    return {s: colors[s] for s in catalog.check_sources(sources, param="sources")}


def _marker(source: str) -> str:
    every = list(catalog.sources()["source_id"])
    return _MARKERS[every.index(source) % len(_MARKERS)] if source in every else "o"


def _source_handles(sources: Sequence[str]) -> list[Line2D]:
    colors = source_colors()
    return [Line2D([], [], marker=_marker(s), color=colors[s], linestyle="", markersize=7, label=s)
            for s in sorted(set(sources))]


def _dots(ax: plt.Axes, rows: pd.DataFrame, y_center: float, *, label_source: bool = False,
          spacing: float = 0.32) -> None:
    """One dot per source around ``y_center``, with its Wilson bar and its value to the right."""
    colors = source_colors()
    k = len(rows)
    for j, (_, r) in enumerate(rows.sort_values("source_id").iterrows()):
        y = y_center + (j - (k - 1) / 2) * spacing
        c = colors.get(str(r["source_id"]), "#555555")
        right = float(r["score"])
        if "ci_low" in r and not pd.isna(r["ci_low"]):
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=c, lw=2.2, alpha=0.55,
                    solid_capstyle="butt")
            right = float(r["ci_high"])
        ax.plot(r["score"], y, marker=_marker(str(r["source_id"])), color=c, markersize=7,
                linestyle="")
        text = f"{r['source_id']}: {r['score']:g}" if label_source else f"{r['score']:g}"
        ax.annotate(text, (right, y), xytext=(4 if right > float(r["score"]) else 7, 0),
                    textcoords="offset points", ha="left",
                    va="center", fontsize=7.5, color="#333333")


def _panel_title(bench: str, n: object) -> str:
    return f"{bench}\n(n = {int(n):,} items)" if not pd.isna(n) else f"{bench}\n(size not stated)"


def _level_text(data: pd.DataFrame) -> str:
    level = data.attrs.get("confidence")
    return f"{level:.0%}" if level else "confidence"


def _x_span(data: pd.DataFrame, room: float) -> tuple[float, float]:
    """An x range covering every score and interval, with ``room`` points on the right for labels."""
    lows = data["ci_low"].fillna(data["score"]) if "ci_low" in data else data["score"]
    highs = data["ci_high"].fillna(data["score"]) if "ci_high" in data else data["score"]
    lo, hi = max(0.0, float(lows.min()) - 3), float(highs.max())
    if hi - lo < _MIN_SPAN:  # never zoom so far that a few points look like a chasm
        lo = max(0.0, min(lo, hi - _MIN_SPAN + (_MIN_SPAN - (hi - lo)) / 2))
        hi = max(hi, lo + _MIN_SPAN)
    return lo, hi + room


def plot_family(scores: pd.DataFrame, family: str) -> plt.Figure:
    """One figure for one benchmark family: a panel per benchmark, a row per model, a dot per source.

    ``scores`` should come from :func:`with_intervals` so each dot carries its Wilson interval
    (drawn as a bar) where the benchmark size is known.
    """
    _require(scores, ["family", "benchmark", "model", "source_id", "score", "n_items"], "scores")
    data = scores[scores["family"] == family]
    if data.empty:
        raise ValueError(f"family: no scores for family {family!r}; "
                         f"known: {sorted(set(scores['family']))}")
    benches = list(dict.fromkeys(data.sort_values(["n_items", "benchmark"])["benchmark"]))
    rows_per_panel = max(
        sum(max(1, 0.7 * len(g)) for _, g in data[data["benchmark"] == b].groupby("model"))
        for b in benches)
    ncols = min(3, len(benches))
    nrows = math.ceil(len(benches) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(4.6 * ncols + 1.4, (0.5 * rows_per_panel + 1.5) * nrows + 0.6))
    span = _x_span(data, room=5)
    for ax, bench in zip(axes.flat, benches):
        sub = data[data["benchmark"] == bench]
        models = list(sub.groupby("model")["score"].max().sort_values(ascending=False).index)
        for i, model in enumerate(models):
            _dots(ax, sub[sub["model"] == model], i)
        ax.set_yticks(range(len(models)), models)
        ax.set_ylim(len(models) - 0.45, -0.55)
        ax.set_title(_panel_title(bench, sub["n_items"].iloc[0]), fontsize=10)
        ax.grid(axis="y", visible=False)
        ax.set_xlim(*span)
        ax.set_xlabel("score (%)")
    for ax in list(axes.flat)[len(benches):]:
        ax.axis("off")
    fig.suptitle(f"Published scores: {family}\n(bars: {_level_text(data)} Wilson interval where the "
                 f"size is known)", fontweight="bold", fontsize=11)
    fig.legend(handles=_source_handles(data["source_id"]), title="source", loc="lower center",
               ncol=len(set(data["source_id"])), fontsize=8, title_fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.09 if nrows == 1 else 0.05, 1, 1))
    return fig


def plot_disagreements(scores: pd.DataFrame, disagreements: pd.DataFrame) -> plt.Figure:
    """The (benchmark, model) pairs that two sources report, side by side with their intervals."""
    _require(disagreements, ["benchmark", "model"], "disagreements")
    _require(scores, ["benchmark", "model", "source_id", "score", "n_items"], "scores")
    if disagreements.empty:
        raise ValueError("disagreements: no benchmark and model is reported by two sources")
    pairs = list(dict.fromkeys(zip(disagreements["benchmark"], disagreements["model"])))
    fig, ax = plt.subplots(figsize=(9, 0.8 * len(pairs) + 1.6))
    labels, shown = [], []
    for i, (bench, model) in enumerate(pairs):
        rows = scores[(scores["benchmark"] == bench) & (scores["model"] == model)]
        n = rows["n_items"].iloc[0]
        labels.append(f"{bench} · {model}\n" + (f"(n = {int(n):,})" if not pd.isna(n) else "(size not stated)"))
        _dots(ax, rows, i, label_source=True, spacing=0.3)
        shown.append(rows)
    data = pd.concat(shown)
    ax.set_yticks(range(len(pairs)), labels, fontsize=9)
    ax.set_ylim(len(pairs) - 0.5, -0.5)
    ax.set_xlim(*_x_span(data, room=7))
    ax.set_xlabel("published score (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(handles=_source_handles(data["source_id"]), title="source", loc="lower left",
              fontsize=8, title_fontsize=8, framealpha=0.9)
    ax.set_title(f"Same model, same benchmark, different sources (bars: {_level_text(scores)} "
                 f"Wilson interval)")
    fig.tight_layout()
    return fig


_VERDICT_COLORS = {"distinguishable": "#009e73", "within noise": "#d55e00", "size unknown": "#777777"}


def plot_wins(wins: pd.DataFrame) -> plt.Figure:
    """For each non-tied gap a source reports: items needed to resolve it vs items the benchmark has.

    A row whose filled dot (the benchmark's size) sits right of its open dot (items needed) is a
    gap the benchmark can resolve; gaps on benchmarks of unknown size show only the items needed.
    """
    _require(wins, ["source_id", "benchmark", "leader", "other", "gap", "n_needed", "n_items",
                    "verdict"], "wins")
    data = wins[wins["gap"] > 0].sort_values(["benchmark", "source_id", "gap"]).reset_index(drop=True)
    if data.empty:
        raise ValueError("wins: no non-zero gap to draw")
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(data) + 1.8))
    for i, r in data.iterrows():
        c = _VERDICT_COLORS.get(r["verdict"], "#333333")
        need = float(r["n_needed"])
        if not pd.isna(r["n_items"]):
            n = float(r["n_items"])
            ax.plot([min(n, need), max(n, need)], [i, i], color=c, lw=1.2, alpha=0.7)
            ax.plot(n, i, marker="o", color=c, markersize=6, linestyle="")
        ax.plot(need, i, marker="o", markerfacecolor="white", markeredgecolor=c, markersize=7,
                linestyle="")
    labels = [f"{r.benchmark} [{r.source_id}]: {r.leader} vs {r.other} (+{r.gap:g})"
              for r in data.itertuples()]
    ax.set_yticks(range(len(data)), labels, fontsize=8)
    ax.set_ylim(len(data) - 0.5, -0.5)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("items per model (log scale)")
    handles = [Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor="#333333",
                      linestyle="", label="items needed to resolve the gap"),
               Line2D([], [], marker="o", color="#333333", linestyle="", label="items in the benchmark")]
    handles += [Line2D([], [], color=c, lw=3, label=v) for v, c in _VERDICT_COLORS.items()
                if v in set(data["verdict"])]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    ax.set_title("Reported gaps between two models: can the benchmark resolve them?")
    ax.grid(axis="y", visible=False)
    fig.tight_layout(rect=(0, 0.55 / (0.3 * len(data) + 1.8), 1, 1))
    return fig


def plot_resolvable_gaps(table: pd.DataFrame, wins: pd.DataFrame) -> plt.Figure:
    """Per benchmark of known size: the smallest gap it can resolve (bar) and the gaps reported on it (dots).

    ``table`` comes from :func:`sample_size_table`, ``wins`` from :func:`claimed_wins`. Dots are
    coloured by the two-proportion test's verdict; ties are left out.
    """
    _require(table, ["benchmark", "n_items", "detectable_gap"], "table")
    _require(wins, ["benchmark", "gap", "verdict"], "wins")
    if table.empty:
        raise ValueError("table: no benchmark with a known size")
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(table) + 1.8))
    y = np.arange(len(table))
    ax.barh(y, table["detectable_gap"], color="#d9d9d9", height=0.6)
    for i, r in enumerate(table.itertuples()):
        ax.annotate(f"{r.detectable_gap:g}", (r.detectable_gap, i), xytext=(-4, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=8, color="#555555")
        gaps = wins[(wins["benchmark"] == r.benchmark) & (wins["gap"] > 0)]
        for k, g in enumerate(gaps.itertuples()):
            ax.plot(g.gap, i + 0.12 * ((k % 3) - 1), "o", color=_VERDICT_COLORS.get(g.verdict, "#333"),
                    markersize=6, alpha=0.9)
    ax.set_yticks(y, [f"{r.benchmark} (n = {r.n_items:,})" for r in table.itertuples()], fontsize=9)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel("gap between two models (percentage points)")
    power = table.attrs.get("power")
    what = f"{power:.0%} power" if power else "the chosen power"
    handles = [Patch(facecolor="#d9d9d9", label=f"smallest resolvable gap at the median score ({what})")]
    handles += [Line2D([], [], marker="o", linestyle="", color=c, label=f"reported gap: {v}")
                for v, c in _VERDICT_COLORS.items() if v in set(wins.loc[wins["gap"] > 0, "verdict"])
                and v != "size unknown"]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.grid(axis="y", visible=False)
    ax.set_title("Reported gaps against what each benchmark's size can resolve")
    fig.tight_layout()
    return fig
