"""Behaviour measured beyond accuracy: JSON-only compliance and needle-in-a-haystack retrieval.

Two tasks of :mod:`workbench.evals` score a behaviour rather than a benchmark answer. ``json_only``
asks for a reply that is a JSON object and nothing else: :func:`json_table` gives strict compliance
(the raw reply parses) against lenient (an object can be extracted from it), with Wilson intervals.
``needle`` hides a sentence at a depth of a long prose context: :func:`needle_table` counts
retrieval per haystack length and depth, and :func:`plot_needle` draws it as heatmaps.
"""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import params, stats
from .suite import scored

__all__ = ["json_table", "needle_table", "plot_needle"]


def _rate(hits: int, n: int, confidence: float) -> tuple[float, float, float]:
    """(percent, low, high) with a Wilson interval; NaNs for n = 0."""
    if n == 0:
        return np.nan, np.nan, np.nan
    low, high = stats.wilson_interval(hits, n, confidence)
    return 100 * hits / n, 100 * low, 100 * high


def json_table(results: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """JSON-only compliance per model: strict (the raw reply parses) vs lenient (JSON found in it).

    Returns:
        Columns: model, n, strict %, strict interval, lenient %, lenient interval, answer correct %
        (the letter in the leniently parsed object).  Empty when no ``json_only`` item was scored.
    """
    confidence = params.probability(confidence, "confidence")
    ok = scored(results)
    ok = ok[ok["task"] == "json_only"]
    rows = []
    for model, g in ok.groupby("model", sort=False):
        d = pd.DataFrame(list(g["details"]))
        row: dict[str, Any] = {"model": model, "n": len(g)}
        for key in ("strict", "lenient"):
            hits = int(d[key].sum()) if key in d else 0
            pct, lo, hi = _rate(hits, len(g), confidence)
            row[f"{key} %"] = pct
            row[f"{key} interval"] = f"{lo:.0f}-{hi:.0f}"
        row["answer correct %"] = 100 * float(d["answer_correct"].mean()) if "answer_correct" in d else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", "n", "strict %", "strict interval", "lenient %",
                                       "lenient interval", "answer correct %"])


def needle_table(results: pd.DataFrame) -> pd.DataFrame:
    """Needle retrieval per model x haystack length x depth: items, found, rate (percent).

    Length and depth are read from the item id (``L<tokens>/D<depth>/r<rep>``).  Empty when no
    needle item was scored.
    """
    ok = scored(results)
    ok = ok[ok["task"] == "needle"]
    if ok.empty:
        return pd.DataFrame(columns=["model", "length", "depth", "n", "found", "rate %"])
    parts = ok["item_id"].str.extract(r"^L(?P<length>\d+)/D(?P<depth>[\d.]+)/r\d+$")
    if parts.isna().any().any():
        bad = ok.loc[parts.isna().any(axis=1), "item_id"].iloc[0]
        raise ValueError(f"results: needle item id {bad!r} is not of the form L<length>/D<depth>/r<rep>")
    frame = ok.assign(length=parts["length"].astype(int), depth=parts["depth"].astype(float))
    out = (frame.groupby(["model", "length", "depth"], sort=False)
           .agg(n=("score", "size"), found=("score", "sum")).reset_index())
    out["found"] = out["found"].round().astype(int)
    out["rate %"] = 100 * out["found"] / out["n"]
    return out.sort_values(["model", "length", "depth"], key=lambda s: s if s.name != "model" else
                           s.map(list(dict.fromkeys(results["model"])).index)).reset_index(drop=True)


def plot_needle(needle: pd.DataFrame, label: str) -> plt.Figure:
    """Heatmaps of needle retrieval (percent found) by haystack length x depth, one per model.

    ``needle`` comes from :func:`needle_table`; ``label`` says what answered and is printed in the title.
    """
    if needle.empty:
        raise ValueError("needle: no needle results to plot")
    models = list(dict.fromkeys(needle["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models) + 1, 3.4), squeeze=False)
    for ax, model in zip(axes[0], models):
        grid = needle[needle["model"] == model].pivot(index="length", columns="depth", values="rate %")
        counts = needle[needle["model"] == model].pivot(index="length", columns="depth", values="n")
        annot = grid.map(lambda v: "" if pd.isna(v) else f"{v:.0f}") + counts.map(
            lambda v: "" if pd.isna(v) else f"\nn={int(v)}")
        sns.heatmap(grid, vmin=0, vmax=100, cmap="viridis", annot=annot, fmt="", ax=ax, cbar=ax is axes[0][-1],
                    cbar_kws={"label": "found (%)"})
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("needle depth (0 = start, 1 = end)")
        ax.set_ylabel("haystack (o200k tokens)")
    fig.suptitle(f"Needle in a haystack\n{label}", fontsize=10)
    fig.tight_layout()
    return fig
