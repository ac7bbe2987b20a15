"""What a measured run cost: per item and per correct answer, with the price used and its source.

The runner of :mod:`workbench.evals` stores each request's ``cost_usd`` (provider-reported usage x
the model id's list price on the run date, from :mod:`workbench.costs`). :func:`cost_table` sums it
per task and model and divides by items and by correct answers. On the local backend that cost is
the local model's usage priced as if the named model had produced it: a "what it would cost"
figure, not a bill.

A model served on this machine has no list price: :func:`compute_cost_table` gives its cost as the
machine time its replies took (seconds per correct answer) and that time at an hourly price of the
machine, the self-hosting model of chapter 08 (:func:`workbench.costs.self_host_cost_per_mtok`).
"""
from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from . import costs, params
from .suite import groups, scored

__all__ = ["compute_cost_table", "cost_table", "run_date"]


def run_date(results: pd.DataFrame) -> date:
    """The day the run's rows were made (the latest ``started_at``), else today."""
    stamps = pd.to_datetime(results.get("started_at", pd.Series(dtype=str)), errors="coerce", utc=True).dropna()
    return stamps.max().date() if len(stamps) else date.today()


def cost_table(results: pd.DataFrame, on: date | str | None = None) -> pd.DataFrame:
    """Cost per task x model, per item and per correct answer, with the price used and its source.

    A row with no correct answer has no cost per correct answer (NaN).  One extra row per model
    (task ``all``) sums its tasks.

    Args:
        results: ``evals.load_results`` rows (only scored items are used).
        on: the price date (default: the day of the run's requests, :func:`run_date`).

    Returns:
        Columns: task, model, scored, correct, input tokens, output tokens, cost USD, USD per item,
        USD per correct, USD per 1M in / out, price date, price source.
    """
    ok = scored(results)
    if ok.empty:
        raise ValueError("results: no scored item, so no cost to compute")
    day = costs.as_date(on) if on is not None else run_date(ok)
    prices: dict[str, Any] = {}
    for model in dict.fromkeys(ok["model"]):
        try:
            prices[model] = costs.price_on(model, day)
        except costs.NoPriceError:
            prices[model] = None
    rows = []
    groups = list(ok.groupby(["task", "model"], sort=False)) + [(("all", m), g) for m, g in ok.groupby("model", sort=False)]
    for (task, model), g in groups:
        price = prices[model]
        correct = round(float(g["score"].sum()))
        total = float(g["cost_usd"].sum()) if g["cost_usd"].notna().any() else np.nan
        rows.append({
            "task": task, "model": model, "scored": len(g), "correct": correct,
            "input tokens": int(g["input_tokens"].fillna(0).sum()),
            "output tokens": int(g["output_tokens"].fillna(0).sum()),
            "cost USD": total, "USD per item": total / len(g),
            "USD per correct": total / correct if correct else np.nan,
            "USD per 1M in / out": f"{price.input_per_mtok:g} / {price.output_per_mtok:g}" if price else "no price",
            "price date": price.observed.isoformat() if price else "",
            "price source": ", ".join(price.source_ids) if price else "",
        })
    return pd.DataFrame(rows)


def compute_cost_table(results: pd.DataFrame, cpu_cost_per_hour: float, by_task: bool = True) -> pd.DataFrame:
    """Cost of the replies of models served on this machine (backend ``local``), in machine time and USD.

    Compute time is the summed total time of the scored replies (each asked alone: the machine time it
    took); USD is that time at ``cpu_cost_per_hour``.  The cost per 1M output tokens is chapter 08's
    self-hosting model (:func:`workbench.costs.self_host_cost_per_mtok`) at the output rate the replies
    achieved over that time, fully used.

    Args:
        results: ``evals.load_results`` rows (scored items of the local backend are used).
        cpu_cost_per_hour: USD per hour of the machine.
        by_task: one row per task x model (True) or per model over its tasks (False).

    Returns:
        Columns: [task,] model, scored, correct, compute s, s per item, s per correct (NaN without a
        correct answer), USD, USD per correct, output tokens/s (over the compute time; the model's own
        tokens where reported), USD per 1M output tokens.
    """
    rate = params.positive(cpu_cost_per_hour, "cpu_cost_per_hour")
    ok = scored(results)
    ok = ok[ok["backend"] == "local"]
    if ok.empty:
        raise ValueError("results: no scored item of a model served on this machine (backend local)")
    rows = []
    for key, g in groups(ok, by_task):
        seconds = float(g["latency_s"].sum())
        correct = round(float(g["score"].sum()))
        tokens = float(g["output_tokens"].astype(float).fillna(g["output_tokens_counted"].astype(float)).sum())
        tps = tokens / seconds if seconds > 0 else np.nan
        rows.append({**key, "scored": len(g), "correct": correct, "compute s": seconds,
                     "s per item": seconds / len(g), "s per correct": seconds / correct if correct else np.nan,
                     "USD": seconds / 3600 * rate,
                     "USD per correct": seconds / 3600 * rate / correct if correct else np.nan,
                     "output tokens/s": tps,
                     "USD per 1M output tokens": (costs.self_host_cost_per_mtok(rate, tps, 1.0) if tps > 0
                                                  else np.nan)})
    return pd.DataFrame(rows)
