"""What a measured run cost: per item and per correct answer, with the price used and its source.

The runner of :mod:`workbench.evals` stores each request's ``cost_usd`` (provider-reported usage x
the model id's list price on the run date, from :mod:`workbench.costs`). :func:`cost_table` sums it
per task and model and divides by items and by correct answers. On the local backend that cost is
the local model's usage priced as if the named model had produced it: a "what it would cost"
figure, not a bill.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from . import costs
from .suite import scored

__all__ = ["cost_table", "run_date"]


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
