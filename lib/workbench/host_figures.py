"""Figures of the open-weight host measurements (chapter 05): bandwidth, prefill and decode, threads, concurrency.

Each function takes the tables the measurement modules return (:mod:`workbench.bandwidth`,
:mod:`workbench.engine_speed`) and returns a matplotlib figure in the workbook's style; the chapter saves
it with :func:`workbench.plots.save`. The open-weight model's colour is the one :mod:`workbench.plots`
gives its provider (Hugging Face).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from . import params, plots
from .bandwidth import bandwidth_summary, decode_roofline
from .gguf_facts import ModelFacts
from .host import Run

__all__ = ["bandwidth_figure", "concurrency_figure", "prefill_decode_figure", "threads_figure"]

_LOCAL = plots.provider_color("huggingface")


def bandwidth_figure(measurements: pd.DataFrame, used_gb_per_s: float, host: str) -> plt.Figure:
    """Median GB/s per kernel and thread count (bars), every repeat (dots) and the figure the roofline uses."""
    summary = bandwidth_summary(measurements)
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"{r.kernel}\n{r.threads} thread{'s' if r.threads > 1 else ''}" for r in summary.itertuples()]
    ax.bar(range(len(summary)), summary["median GB/s"], color="#8c8c8c", alpha=0.6, label="median")
    for i, r in enumerate(summary.itertuples()):
        pts = measurements[(measurements["kernel"] == r.kernel) & (measurements["threads"] == r.threads)]["gb_per_s"]
        ax.scatter(np.full(len(pts), i), pts, color="black", s=14, zorder=3, label="each repeat" if i == 0 else None)
    ax.axhline(used_gb_per_s, color="#d62728", ls="--", lw=1.2, label=f"used for the roofline: {used_gb_per_s:.1f} GB/s")
    ax.set_xticks(range(len(summary)), labels)
    ax.set_ylabel("GB/s")
    ax.set_title(f"Memory bandwidth measured with numpy (256 MB arrays)\n{host}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def prefill_decode_figure(speed: pd.DataFrame, facts: ModelFacts, bandwidth_gb_per_s: float, slot_ctx: int,
                          run: Run) -> plt.Figure:
    """Left: prefill tokens/s against prompt length. Right: decode tokens/s against the context, with the
    memory-bandwidth limit. ``speed`` comes from :func:`workbench.bandwidth.against_roofline`."""
    params.columns(speed, ["prompt_tokens", "prefill_tps", "decode_tps", "context at mid-decode"], "speed")
    fig, (axp, axd) = plt.subplots(1, 2, figsize=(11, 4.2))
    axp.plot(speed["prompt_tokens"], speed["prefill_tps"], "o-", color=_LOCAL)
    axp.set_xscale("log", base=2)
    axp.xaxis.set_major_formatter(mticker.ScalarFormatter())
    axp.set_xlabel("prompt length (tokens)")
    axp.set_ylabel("tokens per second")
    axp.set_title("Prefill: prompt tokens read per second")
    axp.set_ylim(0, None)
    ctx = np.linspace(0, max(slot_ctx, speed["context at mid-decode"].max()), 200)
    axd.plot(ctx, [decode_roofline(bandwidth_gb_per_s, facts.bytes_per_token(int(c))) for c in ctx], color="#d62728",
             ls="--", label=f"memory-bandwidth limit ({bandwidth_gb_per_s:.1f} GB/s)")
    axd.plot(speed["context at mid-decode"], speed["decode_tps"], "o-", color=_LOCAL, label="measured, single stream")
    axd.set_yscale("log")
    axd.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axd.set_xlabel("tokens in the context")
    axd.set_ylabel("tokens per second (log)")
    axd.set_title("Decode: answer tokens written per second")
    axd.legend(fontsize=8)
    fig.suptitle(f"{run.model}: {run.run_id}", fontsize=9, y=0.99)
    fig.tight_layout()
    return fig


def threads_figure(threads: pd.DataFrame, prompt_tokens: int, host: str) -> plt.Figure:
    """Prefill and decode tokens/s per engine thread count (median bars, every request as a dot)."""
    params.columns(threads, ["threads", "prefill_tps", "decode_tps"], "threads")
    by_threads = threads.groupby("threads")[["prefill_tps", "decode_tps"]].median()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, col, title in zip(axes, ("prefill_tps", "decode_tps"), ("prefill", "decode")):
        ax.bar([str(t) for t in by_threads.index], by_threads[col], color=_LOCAL, alpha=0.7)
        for t, g in threads.groupby("threads"):
            ax.scatter([str(t)] * len(g), g[col], color="black", s=14, zorder=3)
        ax.set_xlabel("engine threads")
        ax.set_ylabel("tokens per second")
        ax.set_title(f"{title} ({prompt_tokens}-token prompt)")
    fig.suptitle(f"Engine threads on {host}", fontsize=10)
    fig.tight_layout()
    return fig


def concurrency_figure(summary: pd.DataFrame, slots: int, subtitle: str) -> plt.Figure:
    """Left: aggregate and per-stream tokens/s per concurrency level. Right: latency and time to first token.

    ``summary`` comes from :func:`workbench.engine_speed.throughput_summary`; the engine's slot count is marked.
    """
    params.columns(summary, ["concurrency", "aggregate_tps", "per_stream_tps", "latency_median_s",
                             "latency_p95_s", "ttft_median_s"], "summary")
    fig, (axt, axl) = plt.subplots(1, 2, figsize=(11, 4.2))
    axt.plot(summary["concurrency"], summary["aggregate_tps"], "o-", color=_LOCAL, lw=2, label="aggregate (all streams)")
    axt.plot(summary["concurrency"], summary["per_stream_tps"], "s--", color="black", lw=1.2, label="per stream (median)")
    axl.plot(summary["concurrency"], summary["latency_median_s"], "o-", color=_LOCAL, lw=2, label="latency, median")
    axl.plot(summary["concurrency"], summary["latency_p95_s"], "^:", color=_LOCAL, lw=1.2, label="latency, 95th percentile")
    axl.plot(summary["concurrency"], summary["ttft_median_s"], "s--", color="black", lw=1.2,
             label="time to first token, median")
    for ax in (axt, axl):
        ax.axvline(slots, color="grey", ls=":", lw=1)
        ax.annotate(f"{slots} slots", (slots, 1), xycoords=("data", "axes fraction"), xytext=(4, -14),
                    textcoords="offset points", fontsize=8, color="grey")
        ax.set_xscale("log", base=2)
        ax.set_xticks(summary["concurrency"], [str(c) for c in summary["concurrency"]])
        ax.set_xlabel("requests in flight")
        ax.set_ylim(0, None)
        ax.legend(fontsize=8, loc="best")
    axt.set_ylabel("generated tokens per second")
    axt.set_title("Throughput")
    axl.set_ylabel("seconds")
    axl.set_title("Latency per request")
    fig.suptitle(subtitle, fontsize=9)
    fig.tight_layout()
    return fig
