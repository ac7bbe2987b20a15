"""Latency and throughput of a measured run: time to first token, inter-token latency, decode pace, total.

Timing is measured on the client by :mod:`workbench.evals` around each streamed SDK call, following
llmperf's definitions (``ttft_s``, ``itl_s``, ``latency_s`` in the store). This module summarises
them per task and model (:func:`latency_table`: median and p90, plus the time per output token after
the first, TPOT) and draws every item (:func:`plot_latency`).
"""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import catalog, plots
from .suite import scored

__all__ = ["latency_table", "plot_latency", "tpot"]

_LATENCY = {"ttft_s": "TTFT", "itl_s": "ITL", "latency_s": "total"}


def tpot(rows: pd.DataFrame) -> pd.Series:
    """Time per output token AFTER the first (seconds): (last text chunk - TTFT) / (tokens - 1).

    The store keeps llmperf's ITL (time to the last text chunk / output tokens, TTFT included), so the
    time to the last chunk is ``itl_s * output_tokens_counted``.  NaN for replies of one token.
    """
    n = rows["output_tokens_counted"].astype(float)
    content = rows["itl_s"].astype(float) * n
    return ((content - rows["ttft_s"].astype(float)) / (n - 1)).where(n > 1)


def _median_p90(values: pd.Series) -> tuple[float, float]:
    return (float(values.median()), float(values.quantile(0.9))) if len(values) else (np.nan, np.nan)


def latency_table(results: pd.DataFrame, by_task: bool = True) -> pd.DataFrame:
    """Median and p90 of TTFT, inter-token latency, time per output token and total latency.

    ITL is llmperf's (time to the last text chunk / output tokens, so the TTFT is included: short
    replies have a large ITL); TPOT is the decode pace after the first token (:func:`tpot`).

    Args:
        results: ``evals.load_results`` rows (only scored items are used).
        by_task: one row per task x model (True) or per model over every task (False).

    Returns:
        Columns: [task,] model, n, TTFT median s, TTFT p90 s, ITL median ms, ITL p90 ms,
        total median s, total p90 s, TPOT median ms, TPOT p90 ms, output tokens median (counted
        with ``evals.TOKENIZER``).
    """
    ok = scored(results)
    if ok.empty:
        raise ValueError("results: no scored item, so no latency to summarise")
    keys = ["task", "model"] if by_task else ["model"]
    order = {k: list(dict.fromkeys(results[k])) for k in keys}
    rows = []
    for key, g in ok.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(keys, key))
        row["n"] = len(g)
        for col, name in _LATENCY.items():
            unit = "ms" if col == "itl_s" else "s"
            vals = g[col].dropna().astype(float) * (1000 if unit == "ms" else 1)
            row[f"{name} median {unit}"], row[f"{name} p90 {unit}"] = _median_p90(vals)
        row["TPOT median ms"], row["TPOT p90 ms"] = _median_p90(tpot(g).dropna() * 1000)
        row["output tokens median"] = float(g["output_tokens_counted"].median())
        rows.append(row)
    out = pd.DataFrame(rows)
    for k in keys:
        out[f"_{k}"] = out[k].map(order[k].index)
    return out.sort_values([f"_{k}" for k in keys]).drop(columns=[f"_{k}" for k in keys]).reset_index(drop=True)


def plot_latency(results: pd.DataFrame, label: str) -> plt.Figure:
    """Three panels (TTFT, ITL, total latency): every scored item as a dot, a box per task and model.

    ``label`` says what answered (:func:`workbench.suite.backend_label`) and is printed in the title.
    """
    ok = scored(results)
    if ok.empty:
        raise ValueError("results: no scored item, so no latency to plot")
    long = ok.melt(id_vars=["task", "model"], value_vars=list(_LATENCY), var_name="measure",
                   value_name="seconds").dropna(subset=["seconds"])
    long.loc[long["measure"] == "itl_s", "seconds"] *= 1000
    models = list(dict.fromkeys(results["model"]))
    palette = {m: plots.provider_color(catalog.provider_of(m)) for m in models}
    tasks = list(dict.fromkeys(results["task"]))
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.55 * len(tasks) + 2.2), sharey=True)
    units = {"ttft_s": "TTFT (s)", "itl_s": "inter-token latency (ms)", "latency_s": "total latency (s)"}
    for ax, (col, name) in zip(axes, units.items()):
        part = long[long["measure"] == col]
        sns.boxplot(data=part, x="seconds", y="task", hue="model", order=tasks, hue_order=models, palette=palette,
                    ax=ax, fliersize=0, linewidth=0.8, boxprops={"alpha": 0.35}, legend=False)
        sns.stripplot(data=part, x="seconds", y="task", hue="model", order=tasks, hue_order=models,
                      palette=palette, dodge=True, size=3.5, ax=ax, legend=ax is axes[-1])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(name)
        ax.set_ylabel("")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False, title="model id")
    fig.suptitle(f"Latency per item (log scale)\n{label}", fontsize=10)
    fig.tight_layout()
    return fig
