"""The scoreboard: published benchmark scores with their precision, and our measured accuracy beside them.

One place for "published and measured scores side by side". The published scores live in
``data/scores.csv`` (one row per benchmark, model, metric and source) and the benchmark sizes in
``data/benchmarks.csv``; measured results come from the store of :mod:`workbench.evals`.

* :func:`published_scores` selects the accuracy scores (validated ``sources`` / ``benchmarks`` /
  ``models``) joined with benchmark family and size; :func:`other_measures` the numbers that are not
  accuracies; :func:`score_table` one column per source; :func:`unsized_benchmarks` the benchmarks
  whose size no source states;
* :func:`with_intervals` adds each score's Wilson interval and checks whether the percentage can be a
  whole number of items out of ``n`` (:func:`implied_correct`, :func:`whole_items_consistent`);
* :func:`benchmark_of` names the catalog benchmark a harness task measures; :func:`published_for`
  gives the published scores of the tasks and model ids of a run, and :func:`accuracy_table` the
  measured accuracy per task and model with its interval, next to them; :func:`chance_table` the
  accuracy of guessing on the multiple-choice items a run asked.

Whether a gap between two of these scores is real is :mod:`workbench.comparisons`; their figures
are :mod:`workbench.score_plots`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from . import catalog, evals, params, stats

__all__ = [
    "ACCURACY",
    "accuracy_table",
    "benchmark_of",
    "chance_table",
    "check_benchmarks",
    "implied_correct",
    "other_measures",
    "published_for",
    "published_scores",
    "score_table",
    "task_note",
    "unsized_benchmarks",
    "whole_items_consistent",
    "with_intervals",
]

#: The metric (in percent) that the accuracy tables and tests use.
ACCURACY = "accuracy"

# Fallback until every ``evals.Task`` carries its ``benchmark`` (and ``benchmark_note``): the catalog
# benchmark (``data/benchmarks.csv``) that each harness task measures.
_TASK_BENCHMARK: dict[str, str] = {
    "mmlu": "MMLU",
    "arc_challenge": "ARC-Challenge",
    "hellaswag": "HellaSwag",
    "gsm8k": "GSM8K",
    "math500": "MATH",
    "humaneval": "HumanEval",
}
# Where a task and the published benchmark it is compared with differ.
_TASK_NOTES: dict[str, str] = {
    "math500": "published on the full MATH test (5,000 items); ours draws from the MATH-500 subset",
}


# --------------------------------------------------------------------------------------------
# Published scores
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


def _is_accuracy(rows: pd.DataFrame) -> pd.Series:
    return (rows["metric"] == ACCURACY) & (rows["unit"] == "percent")


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
    rows = rows[_is_accuracy(rows)]
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
    rows = rows[~_is_accuracy(rows)]
    return rows[["benchmark", "model", "metric", "value", "unit", "source_id", "notes"]].reset_index(
        drop=True)


def score_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores by source: rows (benchmark, model), one column per source, values in percent."""
    params.columns(scores, ["benchmark", "model", "source_id", "score"], "scores")
    wide = scores.pivot_table(index=["family", "benchmark", "model"], columns="source_id",
                              values="score", aggfunc="first")
    wide.columns.name = "source"
    return wide


def unsized_benchmarks(scores: pd.DataFrame) -> pd.DataFrame:
    """Benchmarks in ``scores`` whose number of items is not known, with their notes from the catalog."""
    params.columns(scores, ["benchmark", "n_items"], "scores")
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
# Precision of one published score
# --------------------------------------------------------------------------------------------
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
    params.columns(scores, ["score", "n_items"], "scores")
    confidence = params.probability(confidence, "confidence")
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
# Measured accuracy next to the published scores
# --------------------------------------------------------------------------------------------
def _task(name: str) -> evals.Task | None:
    return evals.get_task(name) if name in evals.TASK_NAMES else None


def benchmark_of(task: str) -> str | None:
    """The catalog benchmark (``data/benchmarks.csv``) that harness task ``task`` measures, or None.

    Read from the task itself (``evals.Task.benchmark``) where it says; None for tasks that measure
    no published benchmark (JSON-only compliance, the needle).
    """
    return getattr(_task(task), "benchmark", None) or _TASK_BENCHMARK.get(task)


def task_note(task: str) -> str:
    """How harness task ``task`` differs from the published benchmark it is compared with ("" if not)."""
    return getattr(_task(task), "benchmark_note", None) or _TASK_NOTES.get(task, "")


def published_for(tasks: Iterable[str], models: Iterable[str]) -> pd.DataFrame:
    """Published accuracy (percent) of the benchmark each task measures, for these model ids.

    One row per task, model id and source. Columns: task, model (the catalog id), benchmark,
    source_id, published_pct, n_items (the benchmark's size, <NA> if unknown), note
    (:func:`task_note`). Tasks without a benchmark and ids without a published score give no row.
    """
    catalogued = set(catalog.benchmarks()["benchmark"])  # a benchmark the catalog lacks has no score
    by_task = {t: benchmark_of(t) for t in tasks}
    by_task = {t: b for t, b in by_task.items() if b in catalogued}
    model_list = list(models)
    columns = ["task", "model", "benchmark", "source_id", "published_pct", "n_items", "note"]
    if not by_task or not model_list:
        return pd.DataFrame(columns=columns).astype({"n_items": "Int64"})
    rows = _select(None, sorted(set(by_task.values())), model_list)
    rows = rows[_is_accuracy(rows)]
    out = [{"task": task, "model": r.model_id, "benchmark": bench, "source_id": r.source_id,
            "published_pct": float(r.value), "n_items": r.n_items, "note": task_note(task)}
           for task, bench in by_task.items() for r in rows[rows["benchmark"] == bench].itertuples()]
    frame = pd.DataFrame(out, columns=columns)
    frame["n_items"] = frame["n_items"].astype("Int64")
    return frame


def accuracy_table(results: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Accuracy per task x model with its Wilson interval, and the published score where one exists.

    Accuracy is over *scored* items (finally failed ones are counted apart, never as wrong).

    Args:
        results: ``evals.load_results`` rows.
        confidence: level of the intervals.

    Returns:
        Columns: task, title, metric, model, provider, requested, scored, failed, pending, correct,
        accuracy_pct, ci_low_pct, ci_high_pct, benchmark ("" for a task without one), published
        (text: value and source per source, "" when none), note; cut_by_cap_pct (share of scored
        replies the output cap stopped), failed_items (ids), if_failed_wrong_pct / if_failed_right_pct
        (the accuracy over scored and finally failed items had every failed one been wrong / right:
        the bounds of their effect), archive (the run archive(s) the rows came from, "" when none).
        Order: the tasks and models as they appear in ``results``.
    """
    if results.empty:
        raise ValueError("results: no rows (did the run plan any item?)")
    confidence = params.probability(confidence, "confidence")
    table = evals.summarize(results, confidence)
    published = published_for(table["task"].unique(), table["model"].unique())
    task_order = list(dict.fromkeys(results["task"]))
    model_order = list(dict.fromkeys(results["model"]))
    out = []
    for r in table.itertuples():
        task = evals.get_task(r.task)
        pub = published[(published["task"] == r.task) & (published["model"] == r.model)]
        out.append({
            "task": r.task, "title": task.title, "metric": task.metric, "model": r.model,
            "provider": catalog.provider_of(r.model), "requested": r.requested, "scored": r.scored,
            "failed": r.failed, "pending": r.pending,
            "correct": round(r.accuracy * r.scored) if r.scored else 0,
            "accuracy_pct": 100 * r.accuracy, "ci_low_pct": 100 * r.ci_low, "ci_high_pct": 100 * r.ci_high,
            "benchmark": benchmark_of(r.task) or "",
            "published": ", ".join(f"{v:g} ({s})" for v, s in zip(pub["published_pct"], pub["source_id"])),
            "note": task_note(r.task) if len(pub) else "",
            "cut_by_cap_pct": 100 * r.cut_by_cap, "failed_items": r.failed_items,
            "if_failed_wrong_pct": 100 * r.acc_failed_wrong, "if_failed_right_pct": 100 * r.acc_failed_right,
            "archive": r.archive_id,
        })
    frame = pd.DataFrame(out)
    frame["_t"] = frame["task"].map(task_order.index)
    frame["_m"] = frame["model"].map(model_order.index)
    frame = frame.sort_values(["_t", "_m"]).drop(columns=["_t", "_m"]).reset_index(drop=True)
    frame.attrs["confidence"] = confidence
    return frame


def chance_table(results: pd.DataFrame) -> pd.DataFrame:
    """The accuracy of a uniform guess on the multiple-choice items a run planned, per task.

    Chance on an item is one over its number of options; a task's chance is the mean over its planned
    items (ARC-Challenge has a few items with three or five options).  Tasks whose items have no options
    (code, maths, free text) or whose metric is not an accuracy (JSON-only compliance) give no row.

    Returns:
        Columns: task, title, items, chance_pct.
    """
    params.columns(results, ["task", "item_id"], "results")
    rows = []
    for task in dict.fromkeys(results["task"]):
        if task not in evals.TASK_NAMES:
            continue
        spec = evals.get_task(task)
        if spec.metric != ACCURACY:
            continue
        wanted = set(results.loc[results["task"] == task, "item_id"])
        options = [len(it.fields["choices"]) for it in spec.items() if it.id in wanted and "choices" in it.fields]
        if options:
            rows.append({"task": task, "title": spec.title, "items": len(options),
                         "chance_pct": 100 * float(np.mean([1 / k for k in options]))})
    return pd.DataFrame(rows, columns=["task", "title", "items", "chance_pct"])
