"""Figures of a safety guard's error rates (:mod:`workbench.safety_guard`).

* :func:`plot_guard_rates`: per guard model, the false-positive rate (safe items flagged) and the
  false-negative rate (unsafe items let through) against the decision threshold on the tuning items (lines),
  the threshold chosen there (dashed), and the held-out rates at that threshold with their Wilson intervals
  (points with error bars): what the guard will really do, measured on items it was not tuned on. A guard that
  gave no score at all has no threshold: its held-out points sit mid-panel and the title says so.

It prints the run or archives the numbers came from under the figure (:func:`workbench.score_plots.add_source`).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter

from . import fmt, params
from .score_plots import add_source

__all__ = ["RATE_STYLE", "plot_guard_rates"]

#: How each rate is drawn: colour and label.
RATE_STYLE: dict[str, tuple[str, str]] = {
    "fp": ("#d55e00", "false positives (safe flagged)"),
    "fn": ("#0072b2", "false negatives (unsafe let through)"),
}


def plot_guard_rates(curve: pd.DataFrame, rates: pd.DataFrame, *, title: str, source: str) -> plt.Figure:
    """FP and FN rate against the threshold per model, with the chosen threshold and its held-out rates.

    Args:
        curve: :func:`workbench.safety_guard.rate_curve` (with a split: its ``tune`` rows are drawn).
        rates: :func:`workbench.safety_guard.guard_rates` (threshold and held-out rates with intervals).
        title: the figure's title.
        source: where the numbers came from (``RecordedRuns.source()``), printed under the figure.
    """
    params.columns(curve, ("model", "split", "threshold", "fp_rate", "fn_rate"), "curve")
    params.columns(rates, ("model", "threshold", "fp_rate", "fp_low", "fp_high", "fn_rate", "fn_low", "fn_high",
                           "test_items"), "rates")
    if not isinstance(title, str) or not title.strip():
        raise params.ParameterError("title", "a non-empty text", title)
    models = list(dict.fromkeys(rates["model"]))
    if not models:
        raise params.ParameterError("rates", "at least one model", "an empty table")
    fig, axes = plt.subplots(1, len(models), figsize=(min(10.0, 3.4 * len(models)), 3.6), sharey=True, squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        lines = curve[(curve["model"] == model) & curve["split"].isin(["tune", "all"])]
        row = rates[rates["model"] == model].iloc[0]
        scored = not math.isnan(row["threshold"])   # NaN: the guard gave no score (every item counted as missing)
        at = row["threshold"] if scored else 0.5
        for nudge, (key, (color, label)) in zip((-0.012, 0.012), RATE_STYLE.items(), strict=True):
            ax.plot(lines["threshold"], lines[f"{key}_rate"], color=color, lw=1.6, label=f"{label}, tuning items")
            mid, lo, hi = row[f"{key}_rate"], row[f"{key}_low"], row[f"{key}_high"]
            ax.errorbar([at + nudge], [mid], yerr=[[max(mid - lo, 0.0)], [max(hi - mid, 0.0)]], fmt="o", color=color,
                        capsize=4, ms=6, mec="white", label=f"{label}, held-out (interval)")
        if scored:
            ax.axvline(at, color="#444444", ls="--", lw=1)
        chosen = f"threshold {at:.2f}" if scored else "no score given: no threshold"
        ax.set_title(f"{model}\n{chosen}, {int(row['test_items'])} held-out items", fontsize=8.5)
        ax.set_xlabel("threshold on P(unsafe)")
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.pct(v, share=True)))
    axes[0][0].set_ylabel("rate")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=2, fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return add_source(fig, source)
