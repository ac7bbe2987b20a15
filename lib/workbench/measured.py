"""Chapter 07's analysis of our own benchmark runs: accuracy, latency, cost, JSON, needle, gaps.

The runs themselves are made and stored by :mod:`workbench.evals` (one row per item and attempt in
``results/evals.sqlite``).  This module validates the chapter's parameters, runs the suite through
:func:`workbench.evals.run` under a run id derived from those parameters (so a re-run reuses the
store and asks no model again for finished items), and turns the stored rows into the chapter's
tables and figures:

* :func:`accuracy_table` and :func:`published_for`: accuracy with Wilson intervals per task and
  model, next to the published score of the same benchmark and model from ``data/scores.csv``;
* :func:`latency_table`: TTFT, inter-token latency and total latency, median and p90;
* :func:`cost_table`: what the run cost (or, on the local backend, what the same token usage would
  cost at the named model's list price), per item and per correct answer;
* :func:`json_table`, :func:`needle_table`: JSON-only compliance (strict vs lenient) and needle
  retrieval by context length and depth;
* :func:`failures`, :func:`paired_table`, :func:`gap_table`: finally failed items, McNemar tests
  of two models on the same items, and the items needed to resolve each gap seen;
* ``plot_*``: the figures.

On the local backend every catalog model id is answered by the same small local model through its
provider's SDK and wire protocol: the numbers describe that model, never the frontier model whose id
was sent.  :func:`backend_label` gives the label every table and figure carries.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import json
import math
import numbers
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy import stats as scipy_stats
from statsmodels.stats.power import NormalIndPower

from . import catalog, clients, costs, evals, plots, stats

__all__ = [
    "PROTOCOLS",
    "TASK_BENCHMARK",
    "Settings",
    "SuiteRun",
    "accuracy_table",
    "backend_label",
    "check_settings",
    "cost_table",
    "default_run_id",
    "detectable_rise",
    "failures",
    "gap_table",
    "json_table",
    "latency_table",
    "needle_table",
    "paired_table",
    "plot_accuracy",
    "plot_latency",
    "plot_needle",
    "prompts_by_protocol",
    "published_for",
    "repeat_check",
    "run_identity",
    "run_suite",
]

#: The benchmark in ``data/benchmarks.csv`` / ``data/scores.csv`` that each task measures.
TASK_BENCHMARK: dict[str, str] = {
    "mmlu": "MMLU",
    "arc_challenge": "ARC-Challenge",
    "hellaswag": "HellaSwag",
    "gsm8k": "GSM8K",
    "math500": "MATH",
    "humaneval": "HumanEval",
}
#: Where our task and the published benchmark differ.
TASK_NOTES: dict[str, str] = {
    "math500": "published on the full MATH test (5,000 items); ours draws from the MATH-500 subset",
}
#: The SDK call each provider's model ids go through (the runner streams every request).
PROTOCOLS: dict[str, str] = {
    "openai": "OpenAI SDK, chat.completions (stream)",
    "anthropic": "Anthropic SDK, messages (stream)",
    "google": "google-genai SDK, generate_content_stream",
}
_LATENCY = {"ttft_s": "TTFT", "itl_s": "ITL", "latency_s": "total"}


# --------------------------------------------------------------------------------------------
# Parameters and the run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The chapter's validated parameters (see :func:`check_settings`)."""

    backend: str
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    limit: int
    seed: int
    concurrency: int
    needle_lengths: tuple[int, ...]
    needle_depths: tuple[float, ...]
    needle_per_cell: int
    needle_models: tuple[str, ...]
    run_id: str


def _int(value: Any, param: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, else ValueError naming ``param``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{param} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _names(value: Any, param: str) -> list[str]:
    """A list of names from a list/tuple or one string (``"a,b"`` accepted, as the report CLI sends)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{param} must be a non-empty list of names, got {value!r}")
    return list(value)


def default_run_id(backend: str, models: Sequence[str], tasks: Sequence[str], limit: int, seed: int,
                   needle: Sequence[object] = ()) -> str:
    """``ch07-{backend}-{limit}-{seed}-{digest}``: the same parameters give the same run id.

    The digest covers the models, tasks and needle grid, so a run id never mixes two plans (the
    store keeps every item a run id was asked for).
    """
    blob = json.dumps({"models": list(models), "tasks": list(tasks), "needle": list(needle)},
                      sort_keys=True, default=str)
    return f"ch07-{backend}-{limit}-{seed}-{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


def check_settings(backend: Any, models: Any, tasks: Any, limit: Any, seed: Any, concurrency: Any,
                   needle_lengths: Any = (500, 1000), needle_depths: Any = (0.0, 0.5, 1.0),
                   needle_per_cell: Any = 1, run_id: Any = None, needle_models: Any = None) -> Settings:
    """Validate every chapter parameter; raise ONE clear error naming the bad one.

    Args:
        backend: ``"local"`` or ``"live"``.
        models: catalog model ids (``data/models.csv``) of the openai, anthropic or google providers.
        tasks: task names (``workbench.evals.TASK_NAMES``); ``"needle"`` runs the needle grid below.
        limit: items per task (a reproducible, stratified subset), >= 1.
        seed: seed of the subset.
        concurrency: requests in flight per provider, >= 1.
        needle_lengths: haystack lengths in o200k tokens (100-1,000,000).
        needle_depths: needle depths, fractions in [0, 1].
        needle_per_cell: needle items per (length, depth) cell.
        needle_models: the model ids (among ``models``) that run the needle grid; None: the first.
            Its long prompts dominate a local run's time, and on the local backend every id is the
            same model.
        run_id: the store's run id; None derives one from the other parameters.

    Raises:
        catalog.UnknownNameError: an unknown backend, model or task (naming the parameter).
        ValueError: a bad number or list (naming the parameter).
    """
    backend = clients.check_backend(backend, param="backend")
    model_list = catalog.check_models(_names(models, "models"), param="models")
    if len(set(model_list)) != len(model_list):
        raise ValueError(f"models must not repeat an id, got {model_list!r}")
    for m in model_list:
        if catalog.provider_of(m) not in PROTOCOLS:
            raise ValueError(f"models: {m!r} is a {catalog.provider_of(m)} model; the suite calls "
                             f"the {', '.join(PROTOCOLS)} APIs only")
    task_list = evals.check_tasks(_names(tasks, "tasks"), param="tasks")
    if len(set(task_list)) != len(task_list):
        raise ValueError(f"tasks must not repeat a name, got {task_list!r}")
    limit = _int(limit, "limit", 1)
    seed = _int(seed, "seed", -(2**63))
    concurrency = _int(concurrency, "concurrency", 1)
    needle_lengths = [int(v) if v.strip().lstrip("-").isdigit() else v for v in _names(needle_lengths, "needle_lengths")] \
        if isinstance(needle_lengths, str) else needle_lengths
    if isinstance(needle_depths, str):
        try:
            needle_depths = [float(v) for v in _names(needle_depths, "needle_depths")]
        except ValueError as exc:
            raise ValueError(f"needle_depths must be fractions in [0, 1], got {needle_depths!r}") from exc
    if not isinstance(needle_lengths, (list, tuple)) or not needle_lengths:
        raise ValueError(f"needle_lengths must be a non-empty list of token counts, got {needle_lengths!r}")
    lengths = tuple(_int(n, "needle_lengths", 100) for n in needle_lengths)
    if not isinstance(needle_depths, (list, tuple)) or not needle_depths or any(
            isinstance(d, bool) or not isinstance(d, numbers.Real) or not 0 <= d <= 1 for d in needle_depths):
        raise ValueError(f"needle_depths must be a non-empty list of fractions in [0, 1], got {needle_depths!r}")
    depths = tuple(float(d) for d in needle_depths)
    per_cell = _int(needle_per_cell, "needle_per_cell", 1)
    evals.needle_task(lengths, depths, per_cell)  # the task's own checks (e.g. lengths <= 1,000,000)
    if needle_models is None:
        needle_list = model_list[:1]
    else:
        needle_list = catalog.check_models(_names(needle_models, "needle_models"), param="needle_models")
        outside = [m for m in needle_list if m not in model_list]
        if outside:
            raise ValueError(f"needle_models: {outside[0]!r} is not one of models {model_list!r}")
    needle = (lengths, depths, per_cell, needle_list) if "needle" in task_list else ()
    if run_id is None:
        run_id = default_run_id(backend, model_list, task_list, limit, seed, needle)
    elif not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise ValueError(f"run_id must be a non-empty string of at most 200 characters (or None), got {run_id!r}")
    return Settings(backend, tuple(model_list), tuple(task_list), limit, seed, concurrency, lengths, depths,
                    per_cell, tuple(needle_list), run_id)


def backend_label(backend: str) -> str:
    """What answered: ``"local backend: <real model> answers every model id"`` or the live APIs."""
    backend = clients.check_backend(backend)
    if backend == "local":
        return f"local backend: {clients.local_model_name()} answers every model id"
    return "live backend: each provider's own API"


@dataclass
class SuiteRun:
    """One execution of the chapter's suite.

    Attributes:
        settings: the validated parameters.
        store_path: the SQLite store.
        results: one row per planned item (``evals.load_results``), restricted to the settings.
        attempts: every attempt row of the run (retries and errors included).
        requests: requests sent by THIS execution (0 when everything came from the store).
        skipped: items reused from the store.
        elapsed_s: wall time of this execution (the calls run side by side).
        notes: the runner's notes (tokenizer, cost basis, local model).
    """

    settings: Settings
    store_path: Path
    results: pd.DataFrame
    attempts: pd.DataFrame
    requests: int
    skipped: int
    elapsed_s: float
    notes: list[str] = field(default_factory=list)


def run_suite(settings: Settings, *, store: str | Path | None = None, progress: bool = True,
              client_factory: Any = None) -> SuiteRun:
    """Run the settings' tasks x models (resuming ``settings.run_id``) and load the stored results.

    The needle task, when chosen, runs every (length, depth) cell of ``settings.needle_models``
    (``limit`` does not apply to it), alongside the other tasks (``limit`` items each, every model).  Items already scored under the run id are not asked
    again.  ``client_factory`` is passed to :func:`workbench.evals.run` (tests).
    """
    started = time.perf_counter()
    s = settings
    plain = [t for t in s.tasks if t != "needle"]
    common = {"run_id": s.run_id, "store": store, "concurrency": s.concurrency, "progress": progress,
              "seed": s.seed, "client_factory": client_factory}
    calls = []
    if plain:
        calls.append(lambda: evals.run(plain, list(s.models), s.backend, limit=s.limit, **common))
    if "needle" in s.tasks:
        needle = evals.needle_task(s.needle_lengths, s.needle_depths, s.needle_per_cell)
        calls.append(lambda: evals.run([needle], list(s.needle_models), s.backend, limit=None, **common))
    if s.backend == "local" and client_factory is None:
        clients.local_base_url()  # start the one local provider before the two calls share it
    # The two calls run side by side: the needle's long prompts fill the engine slots that the other
    # tasks' last long replies leave idle (each call keeps its own per-provider concurrency).
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        summaries = [f.result() for f in [pool.submit(call) for call in calls]]
    path = summaries[0].store_path
    results = evals.load_results(s.run_id, path)
    results = results[results["task"].isin(s.tasks) & results["model"].isin(s.models)
                      & (results["backend"] == s.backend)]
    order = results["task"].map(s.tasks.index) * len(s.models) + results["model"].map(s.models.index)
    results = results.assign(_order=order).sort_values(["_order", "item_id"], kind="stable")
    results = results.drop(columns="_order").reset_index(drop=True)
    attempts = evals.load_attempts(s.run_id, path)
    attempts = attempts[attempts["task"].isin(s.tasks) & attempts["model"].isin(s.models)].reset_index(drop=True)
    notes = list(dict.fromkeys(n for sm in summaries for n in sm.notes))
    return SuiteRun(s, path, results, attempts, sum(sm.requests for sm in summaries),
                    sum(sm.skipped for sm in summaries), time.perf_counter() - started, notes)


def _run_date(results: pd.DataFrame) -> date:
    """The day the run's scored rows were made (the latest), else today."""
    stamps = pd.to_datetime(results.get("started_at", pd.Series(dtype=str)), errors="coerce", utc=True).dropna()
    return stamps.max().date() if len(stamps) else date.today()


def run_identity(run: SuiteRun) -> pd.DataFrame:
    """A two-column table naming the run: id, backend, real model, dates, store, counts, tokenizer."""
    s, r = run.settings, run.results
    stamps = pd.to_datetime(r["started_at"], errors="coerce", utc=True).dropna()
    when = (f"{stamps.min():%Y-%m-%d %H:%M} to {stamps.max():%Y-%m-%d %H:%M} UTC" if len(stamps)
            else "no item scored yet")
    real = clients.local_model_name() if s.backend == "local" else "each provider's own model (live APIs)"
    rows = [
        ("run id", s.run_id),
        ("backend", s.backend),
        ("real model behind it", real),
        ("model ids sent", ", ".join(s.models)),
        ("tasks", ", ".join(s.tasks)),
        ("items per task", f"{s.limit} (seed {s.seed})"),
        ("needle grid", (f"lengths {', '.join(map(str, s.needle_lengths))} tokens x depths "
                         f"{', '.join(f'{d:g}' for d in s.needle_depths)} x {s.needle_per_cell} per cell, "
                         f"asked of {', '.join(s.needle_models)}") if "needle" in s.tasks else "not run"),
        ("requests made", when),
        ("store", str(run.store_path)),
        ("items planned / scored / finally failed / pending",
         (f"{len(r)} / {int((r['outcome'] == 'scored').sum())} / {int((r['outcome'] == 'failed').sum())} / "
          f"{int((r['outcome'] == 'pending').sum())}")),
        ("this execution", (f"{run.requests} requests sent, {run.skipped} items reused from the store, "
                            f"{run.elapsed_s:.1f} s")),
        ("output tokens counted with", evals.TOKENIZER + " (the same tokenizer for every provider)"),
    ]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


# --------------------------------------------------------------------------------------------
# Accuracy next to the published scores
# --------------------------------------------------------------------------------------------


def published_for(tasks: Iterable[str], models: Iterable[str]) -> pd.DataFrame:
    """Published accuracy (percent) of the same benchmark and model id, one row per source.

    Columns: task, model, benchmark, source_id, published_pct, n_items (the benchmark's size, <NA>
    if unknown), note (how our task differs from the published benchmark).
    """
    task_list, model_list = list(tasks), list(models)
    scores = catalog.scores()
    scores = scores[(scores["metric"] == "accuracy") & (scores["unit"] == "percent")]
    sizes = catalog.benchmarks().set_index("benchmark")["n_items"]
    rows = []
    for task in task_list:
        bench = TASK_BENCHMARK.get(task)
        if bench is None:
            continue
        hits = scores[(scores["benchmark"] == bench) & scores["model_id"].isin(model_list)]
        for r in hits.itertuples():
            rows.append({"task": task, "model": r.model_id, "benchmark": bench, "source_id": r.source_id,
                         "published_pct": float(r.value), "n_items": sizes.get(bench, pd.NA),
                         "note": TASK_NOTES.get(task, "")})
    out = pd.DataFrame(rows, columns=["task", "model", "benchmark", "source_id", "published_pct", "n_items",
                                      "note"])
    out["n_items"] = out["n_items"].astype("Int64")
    return out


def accuracy_table(results: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Accuracy per task x model with its Wilson interval, and the published score where one exists.

    Accuracy is over *scored* items (finally failed ones are counted apart, never as wrong).

    Returns:
        Columns: task, title, metric, model, provider, requested, scored, failed, pending, correct,
        accuracy_pct, ci_low_pct, ci_high_pct, benchmark, published (text: value and source per
        source, "" when none), note.  Order: the tasks and models as they appear in ``results``.
    """
    if results.empty:
        raise ValueError("results: no rows (did the run plan any item?)")
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
            "benchmark": TASK_BENCHMARK.get(r.task, ""),
            "published": ", ".join(f"{v:g} ({s})" for v, s in zip(pub["published_pct"], pub["source_id"])),
            "note": TASK_NOTES.get(r.task, "") if len(pub) else "",
        })
    frame = pd.DataFrame(out)
    frame["_t"] = frame["task"].map(task_order.index)
    frame["_m"] = frame["model"].map(model_order.index)
    return frame.sort_values(["_t", "_m"]).drop(columns=["_t", "_m"]).reset_index(drop=True)


def plot_accuracy(acc: pd.DataFrame, published: pd.DataFrame, label: str) -> plt.Figure:
    """Measured accuracy (points with interval bars) per task and model; published scores as markers.

    Args:
        acc: :func:`accuracy_table`.
        published: :func:`published_for` for the same tasks and models.
        label: what answered (:func:`backend_label`), printed in the title.
    """
    tasks = list(dict.fromkeys(acc["task"]))
    models = list(dict.fromkeys(acc["model"]))
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.3 * len(tasks) * max(1, len(models))))
    step = 0.7 / max(1, len(models))
    for j, model in enumerate(models):
        color = plots.provider_color(catalog.provider_of(model))
        rows = acc[acc["model"] == model]
        y = np.array([tasks.index(t) for t in rows["task"]]) + (j - (len(models) - 1) / 2) * step
        x = rows["accuracy_pct"].to_numpy(float)
        err = np.vstack([x - rows["ci_low_pct"].to_numpy(float), rows["ci_high_pct"].to_numpy(float) - x])
        ax.errorbar(x, y, xerr=err, fmt="o", color=color, capsize=3, label=f"{model} (measured)")
        pub = published[published["model"] == model]
        if len(pub):
            yp = np.array([tasks.index(t) for t in pub["task"]]) + (j - (len(models) - 1) / 2) * step
            ax.scatter(pub["published_pct"], yp, marker="D", s=55, facecolor="white", edgecolor=color,
                       linewidth=1.8, zorder=3, label=f"{model} (published, {', '.join(sorted(set(pub['source_id'])))})")
    titles = dict(zip(acc["task"], acc["title"]))
    ax.set_yticks(range(len(tasks)), [titles[t] for t in tasks])
    ax.invert_yaxis()
    ax.set_xlim(-2, 102)
    ax.set_xlabel("score (%) with 95 % Wilson interval")
    ax.set_title(f"Measured scores vs published\n{label}", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Latency
# --------------------------------------------------------------------------------------------


def _scored(results: pd.DataFrame) -> pd.DataFrame:
    """The rows with a final ``ok`` attempt."""
    return results[results["outcome"] == "scored"]


def _tpot(rows: pd.DataFrame) -> pd.Series:
    """Time per output token AFTER the first (seconds): (last text chunk - TTFT) / (tokens - 1).

    The store keeps llmperf's ITL (time to the last text chunk / output tokens, TTFT included), so the
    time to the last chunk is ``itl_s * output_tokens_counted``.  NaN for replies of one token.
    """
    n = rows["output_tokens_counted"].astype(float)
    content = rows["itl_s"].astype(float) * n
    return ((content - rows["ttft_s"].astype(float)) / (n - 1)).where(n > 1)


def latency_table(results: pd.DataFrame, by_task: bool = True) -> pd.DataFrame:
    """Median and p90 of TTFT, inter-token latency, time per output token and total latency.

    ITL is llmperf's (time to the last text chunk / output tokens, so the TTFT is included: short
    replies have a large ITL); TPOT is the decode pace after the first token (see ``_tpot``).

    Args:
        results: ``evals.load_results`` rows (only scored items are used).
        by_task: one row per task x model (True) or per model over every task (False).

    Returns:
        Columns: [task,] model, n, TTFT median s, TTFT p90 s, ITL median ms, ITL p90 ms,
        total median s, total p90 s, TPOT median ms, TPOT p90 ms, output tokens median (counted
        with ``evals.TOKENIZER``).
    """
    ok = _scored(results)
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
            vals = g[col].dropna().astype(float) * (1000 if col == "itl_s" else 1)
            unit = "ms" if col == "itl_s" else "s"
            row[f"{name} median {unit}"] = float(vals.median()) if len(vals) else np.nan
            row[f"{name} p90 {unit}"] = float(vals.quantile(0.9)) if len(vals) else np.nan
        tpot = _tpot(g).dropna() * 1000
        row["TPOT median ms"] = float(tpot.median()) if len(tpot) else np.nan
        row["TPOT p90 ms"] = float(tpot.quantile(0.9)) if len(tpot) else np.nan
        row["output tokens median"] = float(g["output_tokens_counted"].median())
        rows.append(row)
    out = pd.DataFrame(rows)
    for k in keys:
        out[f"_{k}"] = out[k].map(order[k].index)
    return out.sort_values([f"_{k}" for k in keys]).drop(columns=[f"_{k}" for k in keys]).reset_index(drop=True)


def plot_latency(results: pd.DataFrame, label: str) -> plt.Figure:
    """Three panels (TTFT, ITL, total latency): every scored item as a dot, a box per task and model."""
    ok = _scored(results)
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


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------


def cost_table(results: pd.DataFrame, on: date | str | None = None) -> pd.DataFrame:
    """Cost per task x model, per item and per correct answer, with the price used and its source.

    ``cost_usd`` is the runner's: provider-reported usage x the list price of the model id on the
    run date.  On the local backend that is the local model's usage priced as if the named model had
    produced it: a "what it would cost" figure, not a bill.  A row with no correct answer has no
    cost per correct answer (NaN).  One extra row per model (task ``all``) sums its tasks.

    Args:
        results: ``evals.load_results`` rows.
        on: the price date (default: the day of the run's requests).
    """
    ok = _scored(results)
    if ok.empty:
        raise ValueError("results: no scored item, so no cost to compute")
    day = costs.as_date(on) if on is not None else _run_date(ok)
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


# --------------------------------------------------------------------------------------------
# JSON compliance and needle
# --------------------------------------------------------------------------------------------


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
    ok = _scored(results)
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
    ok = _scored(results)
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
    """Heatmaps of needle retrieval (percent found) by haystack length x depth, one per model."""
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


# --------------------------------------------------------------------------------------------
# Failures, paired comparisons, gaps
# --------------------------------------------------------------------------------------------


def failures(results: pd.DataFrame) -> pd.DataFrame:
    """Every planned item without a score: finally failed (all attempts errored) or still pending."""
    bad = results[results["outcome"] != "scored"]
    out = bad[["task", "model", "item_id", "outcome", "attempts", "error_kind", "error"]].copy()
    out["error"] = out["error"].fillna("").str.slice(0, 160)
    return out.reset_index(drop=True)


def paired_table(results: pd.DataFrame) -> pd.DataFrame:
    """McNemar test for every pair of models on every task, over the items both scored.

    Returns:
        Columns: task, model_a, model_b, n (items both scored), both, a_only, b_only, neither,
        accuracy_a_pct, accuracy_b_pct, gap_pts (a - b), p_value, exact, same_reply (items where
        the two reply texts are identical).  Tasks with scores other than 0/1 are skipped.
    """
    ok = _scored(results)
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


def detectable_rise(p: float, n: int, confidence: float = 0.95, power: float = 0.8) -> float:
    """Smallest gap ABOVE accuracy ``p`` (fraction) that ``n`` items per model resolve (fraction).

    Cohen's arcsine effect size ``h`` that ``n`` items per group detect (statsmodels' normal power
    solver, two-sided test at ``alpha = 1 - confidence``), added to ``p`` on the arcsine scale: the
    same model as :func:`workbench.stats.sample_size_for_gap`.  NaN when even 100 % would not be
    told apart from ``p`` with ``n`` items.
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"p must be a fraction in [0, 1], got {p!r}")
    n = _int(n, "n", 2)
    for value, name in ((confidence, "confidence"), (power, "power")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
            raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    with warnings.catch_warnings():  # statsmodels warns while bracketing the root
        warnings.simplefilter("ignore")
        h = float(NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=1 - confidence, power=power,
                                               ratio=1.0, alternative="two-sided"))
    phi = 2 * math.asin(math.sqrt(p)) + h
    if phi > math.pi:
        return float("nan")
    return math.sin(phi / 2) ** 2 - p


def _needed(p: float, gap: float, confidence: float, power: float) -> float:
    """Items per model to resolve ``gap`` from ``p`` (fractions); NaN for no gap."""
    if gap == 0 or not 0 <= p + gap <= 1:
        return np.nan
    try:
        with warnings.catch_warnings():  # statsmodels warns before giving up on the largest effects
            warnings.simplefilter("ignore")
            return float(stats.sample_size_for_gap(p, gap, alpha=1 - confidence, power=power))
    except ValueError:
        # statsmodels' root finder fails for the largest effects (e.g. 0 % vs 100 %, h = pi); the
        # normal approximation it solves is then closed-form: n = ((z_(1-alpha/2) + z_power) / h)^2.
        h = abs(2 * math.asin(math.sqrt(p + gap)) - 2 * math.asin(math.sqrt(p)))
        z = scipy_stats.norm.ppf(1 - (1 - confidence) / 2) + scipy_stats.norm.ppf(power)
        return float(math.ceil((z / h) ** 2))


def gap_table(acc: pd.DataFrame, paired: pd.DataFrame, published: pd.DataFrame, confidence: float = 0.95,
              power: float = 0.8) -> pd.DataFrame:
    """Each gap seen, whether it is resolved, and the items per model needed to resolve it.

    Two kinds of gap: between two models on the same items (McNemar p-value from ``paired``), and
    between a measured score and the published score of the same model id (two-proportion test,
    the published score taken over the benchmark's size).  Items needed: per model, independent
    samples (:func:`workbench.stats.sample_size_for_gap`); a paired design needs fewer.  When no gap
    is seen, ``smallest resolvable`` says what the run's size could have detected.

    Returns:
        Columns: kind, task, a, b, a_pct, b_pct, gap_pts, n, p_value, resolved, items_needed,
        smallest_resolvable_pts.
    """
    alpha = 1 - confidence
    rows = []
    for r in paired.itertuples():
        pa, pb = r.accuracy_a_pct / 100, r.accuracy_b_pct / 100
        low = min(pa, pb)
        rows.append({"kind": "two model ids, same items", "task": r.task, "a": r.model_a, "b": r.model_b,
                     "a_pct": r.accuracy_a_pct, "b_pct": r.accuracy_b_pct, "gap_pts": r.gap_pts, "n": r.n,
                     "p_value": r.p_value, "resolved": r.p_value < alpha,
                     "items_needed": _needed(low, abs(pa - pb), confidence, power),
                     "smallest_resolvable_pts": 100 * detectable_rise(low, r.n, confidence, power) if r.n > 1 else np.nan})
    for r in published.itertuples():
        m = acc[(acc["task"] == r.task) & (acc["model"] == r.model)]
        if m.empty or not m["scored"].iloc[0]:
            continue
        mine, n = float(m["accuracy_pct"].iloc[0]) / 100, int(m["scored"].iloc[0])
        theirs = r.published_pct / 100
        p_value = (stats.two_proportion_test(mine, n, theirs, int(r.n_items)) if not pd.isna(r.n_items)
                   else np.nan)
        low = min(mine, theirs)
        rows.append({"kind": f"measured vs published ({r.source_id})", "task": r.task, "a": f"{r.model} (measured)",
                     "b": f"{r.model} ({r.source_id})", "a_pct": 100 * mine, "b_pct": r.published_pct,
                     "gap_pts": 100 * (mine - theirs), "n": n, "p_value": p_value,
                     "resolved": bool(p_value < alpha) if not pd.isna(p_value) else pd.NA,
                     "items_needed": _needed(low, abs(mine - theirs), confidence, power),
                     "smallest_resolvable_pts": 100 * detectable_rise(low, n, confidence, power) if n > 1 else np.nan})
    return pd.DataFrame(rows, columns=["kind", "task", "a", "b", "a_pct", "b_pct", "gap_pts", "n", "p_value",
                                       "resolved", "items_needed", "smallest_resolvable_pts"])


# --------------------------------------------------------------------------------------------
# Protocol paths and repeatability (is a difference between ids the protocol, or the engine?)
# --------------------------------------------------------------------------------------------


def prompts_by_protocol(task: str, models: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """The exact prompt the local model reads for one item of ``task``, through each model id's protocol.

    Asks the local gateway's ``/_workbench/prompt`` (no generation: the chat template and token
    count only) with each provider's request body for the same user message.

    Returns:
        Columns: model, protocol, input_tokens, prompt_sha256 (first 12 hex digits), same_as_first.
    """
    import httpx

    item = evals.get_task(task).sample(1, seed)[0]
    prompt = evals.get_task(task).prompt(item)
    base = clients.local_base_url()
    rows = []
    for model in catalog.check_models(list(models), param="models"):
        provider = catalog.provider_of(model)
        api, body = {
            "openai": ("openai-chat", {"model": model, "messages": [{"role": "user", "content": prompt}]}),
            "anthropic": ("anthropic", {"model": model, "max_tokens": 16,
                                        "messages": [{"role": "user", "content": prompt}]}),
            "google": ("gemini", {"model": model, "contents": [{"role": "user", "parts": [{"text": prompt}]}]}),
        }[provider]
        resp = httpx.post(f"{base}/_workbench/prompt", params={"api": api}, json=body, timeout=60.0)
        resp.raise_for_status()
        data = resp.json()
        rows.append({"model": model, "protocol": PROTOCOLS[provider], "input_tokens": data["input_tokens"],
                     "prompt_sha256": hashlib.sha256(data["prompt"].encode()).hexdigest()[:12]})
    out = pd.DataFrame(rows)
    out["same_as_first"] = out["prompt_sha256"] == out["prompt_sha256"].iloc[0]
    return out


def repeat_check(settings: Settings, repeats: int = 3, *, store: str | Path | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """Ask one item of the first (non-needle) task ``repeats`` times through the first model id.

    Each repeat is its own stored run (``<run_id>-repeat<k>``), so a re-run of the chapter reuses
    them.  Identical requests at temperature 0 that still differ show run-to-run variation of the
    serving engine, which then also explains differences between model ids on the local backend.

    Returns:
        Columns: run_id, task, item_id, outcome, score, output_tokens_counted, reply_sha256 (first 12 hex digits),
        same_as_first.
    """
    repeats = _int(repeats, "repeats", 2)
    plain = [t for t in settings.tasks if t != "needle"]
    if not plain:
        raise ValueError("settings: repeat_check needs a task other than the needle")
    rows = []
    for k in range(1, repeats + 1):
        rid = f"{settings.run_id}-repeat{k}"
        summary = evals.run([plain[0]], [settings.models[0]], settings.backend, limit=1, seed=settings.seed,
                            run_id=rid, store=store, progress=progress)
        res = evals.load_results(rid, summary.store_path)
        res = res[(res["task"] == plain[0]) & (res["model"] == settings.models[0])]
        for r in res.itertuples():
            rows.append({"run_id": rid, "task": r.task, "item_id": r.item_id, "outcome": r.outcome, "score": r.score,
                         "output_tokens_counted": r.output_tokens_counted,
                         "reply_sha256": hashlib.sha256((r.response or "").encode()).hexdigest()[:12]})
    out = pd.DataFrame(rows)
    out["same_as_first"] = out["reply_sha256"] == out["reply_sha256"].iloc[0]
    return out
