"""Latency and throughput of a measured run: time to first token, inter-token latency, decode pace, total.

Timing is measured on the client by :mod:`workbench.evals` around each streamed SDK call, following
llmperf's definitions (``ttft_s``, ``itl_s``, ``latency_s`` in the store). This module summarises
them per task and model (:func:`latency_table`: median and p90, plus the time per output token after
the first, TPOT) and draws every item (:func:`plot_latency`).  For a model served on this machine,
:func:`throughput_table` gives its decode speed in the model's own tokens (the usage the engine
reports) and the compute time its replies took; :func:`plot_throughput` draws TTFT, decode speed and
total time per item.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .score_plots import add_source, model_colors
from .suite import groups, scored

__all__ = ["MIN_DECODE_TOKENS", "decode_rate", "latency_table", "plot_latency", "plot_throughput", "throughput_table", "tpot"]

_LATENCY = {"ttft_s": "TTFT", "itl_s": "ITL", "latency_s": "total"}


def tpot(rows: pd.DataFrame) -> pd.Series:
    """Time per output token AFTER the first (seconds): (last text chunk - TTFT) / (tokens - 1).

    The store keeps llmperf's ITL (time to the last text chunk / output tokens, TTFT included), so the
    time to the last chunk is ``itl_s * output_tokens_counted``.  NaN for replies of one token.
    """
    n = rows["output_tokens_counted"].astype(float)
    content = rows["itl_s"].astype(float) * n
    return ((content - rows["ttft_s"].astype(float)) / (n - 1)).where(n > 1)


#: Replies shorter than this (in output tokens) give no decode speed: a letter-only answer of one or two
#: tokens times the stream's chunking, not the engine.
MIN_DECODE_TOKENS = 16


def decode_rate(rows: pd.DataFrame) -> pd.Series:
    """Decode speed after the first token, tokens/s: (output tokens - 1) / (last text chunk - TTFT).

    Output tokens are the model's own (the usage its server reports), else the ``evals.TOKENIZER``
    count; the time to the last chunk is ``itl_s * output_tokens_counted`` (see :func:`tpot`).  NaN
    for a reply shorter than :data:`MIN_DECODE_TOKENS` or without timings.
    """
    counted = rows["output_tokens_counted"].astype(float)
    tokens = rows["output_tokens"].astype(float).fillna(counted)
    decode_s = rows["itl_s"].astype(float) * counted - rows["ttft_s"].astype(float)
    return ((tokens - 1) / decode_s).where((tokens >= MIN_DECODE_TOKENS) & (decode_s > 0))


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
    rows = []
    for row, g in groups(ok, by_task):
        row["n"] = len(g)
        for col, name in _LATENCY.items():
            unit = "ms" if col == "itl_s" else "s"
            vals = g[col].dropna().astype(float) * (1000 if unit == "ms" else 1)
            row[f"{name} median {unit}"], row[f"{name} p90 {unit}"] = _median_p90(vals)
        row["TPOT median ms"], row["TPOT p90 ms"] = _median_p90(tpot(g).dropna() * 1000)
        row["output tokens median"] = float(g["output_tokens_counted"].median())
        rows.append(row)
    return _in_order(pd.DataFrame(rows), results, keys)


def throughput_table(results: pd.DataFrame, by_task: bool = True) -> pd.DataFrame:
    """Latency and throughput of each model: TTFT, decode speed, total time and compute time.

    Args:
        results: ``evals.load_results`` rows (only scored items are used).
        by_task: one row per task x model (True) or per model over every task (False).

    Returns:
        Columns: [task,] model, n, TTFT median s, decode tokens/s median (:func:`decode_rate`; the
        model's own tokens), total median s, output tokens median (the model's own where reported),
        compute s (the summed total time of the scored replies: the machine time they took when asked
        one at a time).
    """
    ok = scored(results)
    if ok.empty:
        raise ValueError("results: no scored item, so no throughput to summarise")
    keys = ["task", "model"] if by_task else ["model"]
    ok = ok.assign(_rate=decode_rate(ok), _out=ok["output_tokens"].astype(float).fillna(
        ok["output_tokens_counted"].astype(float)))
    rows = []
    for key, g in groups(ok, by_task):
        rows.append({**key, "n": len(g), "TTFT median s": float(g["ttft_s"].median()),
                     "decode tokens/s median": float(g["_rate"].median()),
                     "total median s": float(g["latency_s"].median()),
                     "output tokens median": float(g["_out"].median()),
                     "compute s": float(g["latency_s"].sum())})
    return _in_order(pd.DataFrame(rows), results, keys)


def _in_order(frame: pd.DataFrame, results: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame`` sorted by ``keys`` in the order ``results`` names them."""
    for k in keys:
        frame[f"_{k}"] = frame[k].map(list(dict.fromkeys(results[k])).index)
    return frame.sort_values([f"_{k}" for k in keys]).drop(columns=[f"_{k}" for k in keys]).reset_index(drop=True)


def _panels(long: pd.DataFrame, units: dict[str, str], results: pd.DataFrame, title: str,
            source: str | None) -> plt.Figure:
    """One log-scale panel per measure of ``long`` (task, model, measure, value): a box per task and
    model, every item a dot; models coloured by :func:`workbench.score_plots.model_colors`."""
    models = list(dict.fromkeys(results["model"]))
    palette = model_colors(models)
    tasks = list(dict.fromkeys(results["task"]))
    fig, axes = plt.subplots(1, len(units), figsize=(13, 0.55 * len(tasks) * max(1, len(models) / 2) + 2.2),
                             sharey=True)
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
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False, title="model")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return add_source(fig, source) if source is not None else fig


def _long(ok: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return ok.melt(id_vars=["task", "model"], value_vars=columns, var_name="measure",
                   value_name="seconds").dropna(subset=["seconds"])


def plot_latency(results: pd.DataFrame, label: str, source: str | None = None) -> plt.Figure:
    """Three panels (TTFT, ITL, total latency): every scored item as a dot, a box per task and model.

    ``label`` says what answered (:func:`workbench.suite.backend_label`) and is printed in the title;
    ``source`` (the run or archives) under the figure.
    """
    ok = scored(results)
    if ok.empty:
        raise ValueError("results: no scored item, so no latency to plot")
    long = _long(ok, list(_LATENCY))
    long.loc[long["measure"] == "itl_s", "seconds"] *= 1000
    units = {"ttft_s": "TTFT (s)", "itl_s": "inter-token latency (ms)", "latency_s": "total latency (s)"}
    return _panels(long, units, results, f"Latency per item (log scale)\n{label}", source)


def plot_throughput(results: pd.DataFrame, label: str, source: str | None = None) -> plt.Figure:
    """Three panels (TTFT, decode tokens/s, total time): every scored item as a dot, a box per task and model."""
    ok = scored(results)
    if ok.empty:
        raise ValueError("results: no scored item, so no throughput to plot")
    long = _long(ok.assign(decode=decode_rate(ok)), ["ttft_s", "decode", "latency_s"])
    units = {"ttft_s": "TTFT (s)", "decode": "decode speed (tokens/s, the model's own)",
             "latency_s": "total time per reply (s)"}
    return _panels(long, units, results, f"Time to first token, decode speed and total time per item (log scale)"
                   f"\n{label}", source)
