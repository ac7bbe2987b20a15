"""Comparisons of scores: is a gap between two scores real, and how many items would resolve it?

Every gap the workbook shows is tested here, with the statistics of :mod:`workbench.stats` (tests,
power, items needed; one model for all of them):

* published scores (from :mod:`workbench.scoreboard`): :func:`source_disagreements` (the same model
  on the same benchmark reported by two sources), :func:`claimed_wins` (every gap between two models
  within one source and benchmark) and :func:`sample_size_table` (the smallest gap each benchmark's
  size resolves). Published scores carry no item-level results, so two of them are compared as
  independent samples of the benchmark's size (two-proportion test);
* measured results (rows of ``evals.load_results``): :func:`paired_table`, McNemar's test of two
  model ids on the items both scored, :func:`paired_with_intervals`, whether each pair's intervals
  separate, and :func:`gap_table`, every gap seen (between ids, and between a measured score and the
  published one) with the items per model needed to resolve it.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from . import params, stats
from .suite import scored

__all__ = [
    "claimed_wins",
    "gap_table",
    "paired_table",
    "paired_with_intervals",
    "sample_size_table",
    "source_disagreements",
]

_PUBLISHED = ["benchmark", "model", "source_id", "score", "n_items"]


def _levels(confidence: float, power: float) -> tuple[float, float]:
    """``(alpha, power)`` from validated ``confidence`` and ``power``."""
    return 1 - params.probability(confidence, "confidence"), params.probability(power, "power")


def _needed(p: float, gap: float, alpha: float, power: float) -> float:
    """Items per model to resolve ``gap`` from ``p`` (fractions); NaN when there is no gap."""
    if math.isclose(gap, 0.0, abs_tol=1e-12) or not 0 <= p + gap <= 1:
        return np.nan
    return float(stats.sample_size_for_gap(p, gap, alpha=alpha, power=power))


def _published_test(a: float, b: float, n: object, alpha: float) -> tuple[float, object]:
    """Two-proportion p-value and 'distinguishable' flag for scores a, b (percent) on n items each."""
    if pd.isna(n):
        return np.nan, pd.NA
    p = stats.two_proportion_test(a / 100, int(n), b / 100, int(n))
    return p, bool(p < alpha)


# --------------------------------------------------------------------------------------------
# Published scores
# --------------------------------------------------------------------------------------------
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
    params.columns(scores, _PUBLISHED, "scores")
    alpha, power = _levels(confidence, power)
    rows = []
    for (bench, model), grp in scores.groupby(["benchmark", "model"], sort=True):
        grp = grp.sort_values("source_id")
        for (_, a), (_, b) in itertools.combinations(grp.iterrows(), 2):
            if a["source_id"] == b["source_id"]:
                continue
            diff = float(a["score"]) - float(b["score"])
            p, dist = _published_test(float(a["score"]), float(b["score"]), a["n_items"], alpha)
            notes = "; ".join(sorted({str(x) for x in (a["notes"], b["notes"]) if not pd.isna(x)}))
            low = min(float(a["score"]), float(b["score"])) / 100
            rows.append({
                "benchmark": bench, "model": model, "n_items": a["n_items"],
                "source_a": a["source_id"], "score_a": float(a["score"]),
                "source_b": b["source_id"], "score_b": float(b["score"]),
                "difference": round(diff, 2), "agree": math.isclose(diff, 0.0, abs_tol=1e-9),
                "p_value": p, "distinguishable": dist,
                "n_needed": _needed(low, abs(diff) / 100, alpha, power), "notes": notes,
            })
    out = pd.DataFrame(rows, columns=["benchmark", "model", "n_items", "source_a", "score_a",
                                      "source_b", "score_b", "difference", "agree", "p_value",
                                      "distinguishable", "n_needed", "notes"])
    if out.empty:
        return out
    out = out.astype({"n_items": "Int64", "distinguishable": "boolean", "n_needed": "Int64"})
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
    params.columns(scores, _PUBLISHED, "scores")
    alpha, power = _levels(confidence, power)
    rows = []
    for (src, bench), grp in scores.groupby(["source_id", "benchmark"], sort=True):
        grp = grp.sort_values(["score", "model"], ascending=[False, True])
        for (_, a), (_, b) in itertools.combinations(grp.iterrows(), 2):
            gap = round(float(a["score"]) - float(b["score"]), 6)
            p, dist = _published_test(float(a["score"]), float(b["score"]), a["n_items"], alpha)
            need = _needed(float(b["score"]) / 100, gap / 100, alpha, power)
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
    return out.astype({"n_items": "Int64", "n_needed": "Int64", "distinguishable": "boolean",
                       "resolvable": "boolean"})


def sample_size_table(scores: pd.DataFrame, confidence: float = 0.95,
                      power: float = 0.8) -> pd.DataFrame:
    """Per benchmark with a known size: what its item count lets anyone conclude.

    Columns: ``benchmark``, ``family``, ``n_items``, ``scores`` (how many published scores),
    ``median_score``, ``half_width`` (points: half the Wilson interval at the median score),
    ``detectable_gap`` (points: the smallest deficit below the median score that a second model
    of the same size resolves, :func:`workbench.stats.detectable_gap`) and
    ``largest_gap_within_source`` (the largest gap any one source reports on it).
    """
    params.columns(scores, ["benchmark", "family", "score", "n_items", "source_id"], "scores")
    alpha, power = _levels(confidence, power)
    confidence = float(confidence)
    rows = []
    for bench, grp in scores.dropna(subset=["n_items"]).groupby("benchmark", sort=False):
        n = int(grp["n_items"].iloc[0])
        med = float(grp["score"].median())
        lo, hi = stats.score_interval(med, n, confidence)
        spread = grp.groupby("source_id")["score"].agg(lambda s: s.max() - s.min())
        rows.append({
            "benchmark": bench, "family": grp["family"].iloc[0], "n_items": n,
            "scores": len(grp), "median_score": round(med, 2), "half_width": round((hi - lo) / 2, 2),
            "detectable_gap": round(100 * stats.detectable_gap(med / 100, n, alpha, power,
                                                               direction="below"), 2),
            "largest_gap_within_source": round(float(spread.max()), 2),
        })
    out = pd.DataFrame(rows, columns=["benchmark", "family", "n_items", "scores", "median_score",
                                      "half_width", "detectable_gap", "largest_gap_within_source"])
    out = out.sort_values("n_items").reset_index(drop=True)
    out.attrs.update(confidence=confidence, power=power)
    return out


# --------------------------------------------------------------------------------------------
# Measured results
# --------------------------------------------------------------------------------------------
def paired_table(results: pd.DataFrame) -> pd.DataFrame:
    """McNemar test for every pair of models on every task, over the items both scored.

    Args:
        results: ``evals.load_results`` rows.

    Returns:
        Columns: task, model_a, model_b, n (items both scored), both, a_only, b_only, neither,
        accuracy_a_pct, accuracy_b_pct, gap_pts (a - b), p_value, exact, same_reply (items where
        the two reply texts are identical).  Tasks with scores other than 0/1 are skipped.
    """
    ok = scored(results)
    models = list(dict.fromkeys(results["model"]))
    rows = []
    for task in dict.fromkeys(ok["task"]):
        part = ok[ok["task"] == task]
        if not part["score"].isin([0.0, 1.0]).all():
            continue
        for a, b in itertools.combinations(models, 2):
            left = part[part["model"] == a].set_index("item_id")
            right = part[part["model"] == b].set_index("item_id")
            common = left.index.intersection(right.index)
            if len(common) == 0:
                continue
            pc = stats.paired_comparison(left.loc[common, "score"].tolist(), right.loc[common, "score"].tolist())
            same = int((left.loc[common, "response"] == right.loc[common, "response"]).sum())
            rows.append({"task": task, "model_a": a, "model_b": b, "n": pc.n, "both": pc.both,
                         "a_only": pc.a_only, "b_only": pc.b_only, "neither": pc.neither,
                         "accuracy_a_pct": 100 * pc.accuracy_a, "accuracy_b_pct": 100 * pc.accuracy_b,
                         "gap_pts": 100 * (pc.accuracy_a - pc.accuracy_b), "p_value": pc.p_value,
                         "exact": pc.exact, "same_reply": same})
    return pd.DataFrame(rows, columns=["task", "model_a", "model_b", "n", "both", "a_only", "b_only", "neither",
                                       "accuracy_a_pct", "accuracy_b_pct", "gap_pts", "p_value", "exact",
                                       "same_reply"])


def paired_with_intervals(paired: pd.DataFrame, acc: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Each pair of :func:`paired_table` with both models' intervals, and which test separates them.

    Two intervals that do not overlap separate a pair on their own; McNemar's test on the same items
    is sharper (it uses only the items where exactly one model was right), so a pair can be resolved
    by the test while its intervals still overlap.

    Args:
        paired: :func:`paired_table`.
        acc: :func:`workbench.scoreboard.accuracy_table` of the same results (its intervals).
        confidence: the level of the test (``alpha = 1 - confidence``; use the level of ``acc``).

    Returns:
        ``paired`` with a_low_pct, a_high_pct, b_low_pct, b_high_pct (each model's interval over all
        the items it scored), intervals_separate (no overlap) and resolved (McNemar p < alpha).
    """
    params.columns(paired, ["task", "model_a", "model_b", "p_value"], "paired")
    params.columns(acc, ["task", "model", "ci_low_pct", "ci_high_pct"], "acc")
    alpha = 1 - params.probability(confidence, "confidence")
    ci = acc.set_index(["task", "model"])[["ci_low_pct", "ci_high_pct"]]
    out = paired.copy()
    for side in ("a", "b"):
        keys = list(zip(out["task"], out[f"model_{side}"]))
        out[f"{side}_low_pct"] = [ci.loc[k, "ci_low_pct"] if k in ci.index else np.nan for k in keys]
        out[f"{side}_high_pct"] = [ci.loc[k, "ci_high_pct"] if k in ci.index else np.nan for k in keys]
    out["intervals_separate"] = (out["a_low_pct"] > out["b_high_pct"]) | (out["b_low_pct"] > out["a_high_pct"])
    out["resolved"] = out["p_value"] < alpha
    return out


def _gap_row(kind: str, task: str, a: str, b: str, pa: float, pb: float, n: int, p_value: float,
             alpha: float, power: float) -> dict[str, object]:
    """One row of :func:`gap_table`; ``pa``, ``pb`` are fractions."""
    low = min(pa, pb)
    return {"kind": kind, "task": task, "a": a, "b": b, "a_pct": 100 * pa, "b_pct": 100 * pb,
            "gap_pts": 100 * (pa - pb), "n": n, "p_value": p_value,
            "resolved": pd.NA if pd.isna(p_value) else bool(p_value < alpha),
            "items_needed": _needed(low, abs(pa - pb), alpha, power),
            "smallest_resolvable_pts": (100 * stats.detectable_gap(low, n, alpha, power) if n > 1
                                        else np.nan)}


def gap_table(acc: pd.DataFrame, paired: pd.DataFrame, published: pd.DataFrame, confidence: float = 0.95,
              power: float = 0.8) -> pd.DataFrame:
    """Each gap seen, whether it is resolved, and the items per model needed to resolve it.

    Two kinds of gap: between two models on the same items (McNemar p-value from ``paired``), and
    between a measured score and the published score of the same model id (two-proportion test,
    the published score taken over the benchmark's size).  Items needed: per model, independent
    samples (:func:`workbench.stats.sample_size_for_gap`); a paired design needs fewer.
    ``smallest_resolvable_pts`` is the gap above the lower accuracy that the run's number of items
    could have detected (:func:`workbench.stats.detectable_gap`), the answer when no gap is seen.

    Args:
        acc: :func:`workbench.scoreboard.accuracy_table`.
        paired: :func:`paired_table`.
        published: :func:`workbench.scoreboard.published_for` for the same tasks and models.

    Returns:
        Columns: kind, task, a, b, a_pct, b_pct, gap_pts, n, p_value, resolved, items_needed,
        smallest_resolvable_pts.
    """
    params.columns(acc, ["task", "model", "scored", "accuracy_pct"], "acc")
    params.columns(paired, ["task", "model_a", "model_b", "accuracy_a_pct", "accuracy_b_pct", "n", "p_value"],
                   "paired")
    params.columns(published, ["task", "model", "source_id", "published_pct", "n_items"], "published")
    alpha, power = _levels(confidence, power)
    rows = [_gap_row("two models, same items", r.task, r.model_a, r.model_b, r.accuracy_a_pct / 100,
                     r.accuracy_b_pct / 100, r.n, r.p_value, alpha, power) for r in paired.itertuples()]
    for r in published.itertuples():
        m = acc[(acc["task"] == r.task) & (acc["model"] == r.model)]
        if m.empty or not m["scored"].iloc[0]:
            continue
        mine, n = float(m["accuracy_pct"].iloc[0]) / 100, int(m["scored"].iloc[0])
        theirs = r.published_pct / 100
        p_value = (stats.two_proportion_test(mine, n, theirs, int(r.n_items)) if not pd.isna(r.n_items)
                   else np.nan)
        rows.append(_gap_row(f"measured vs published ({r.source_id})", r.task, f"{r.model} (measured)",
                             f"{r.model} ({r.source_id})", mine, theirs, n, p_value, alpha, power))
    return pd.DataFrame(rows, columns=["kind", "task", "a", "b", "a_pct", "b_pct", "gap_pts", "n", "p_value",
                                       "resolved", "items_needed", "smallest_resolvable_pts"])
