"""One run of the measured benchmark suite: its validated settings, its run id, the run, and what ran.

The runs themselves are made and stored by :mod:`workbench.evals` (one row per item and attempt in
``results/evals.sqlite``). This module owns the suite as one reproducible run:

* :func:`check_settings` validates every parameter (one error naming the bad one) into
  :class:`Settings`, with a run id derived from them (:func:`default_run_id`), so a re-run resumes
  the store and asks no model again for finished items;
* :func:`run_suite` runs the tasks x models (and the needle grid) through :func:`workbench.evals.run`
  and loads the stored rows into a :class:`SuiteRun`;
* :func:`run_identity` names the run (id, backend, real model, dates, store, counts);
  :func:`failures` lists the items that never finished; :func:`scored` keeps the scored rows;
* :func:`backend_label` says what answered, for every table and figure.

On the local backend every catalog model id is answered by the same small local model through its
provider's SDK and wire protocol: the numbers describe that model, never the frontier model whose
id was sent. The tables built from a run live with their concept: :mod:`workbench.scoreboard`
(accuracy), :mod:`workbench.latency`, :mod:`workbench.run_costs`, :mod:`workbench.behaviour`
(JSON-only, needle), :mod:`workbench.comparisons` (paired tests, gaps) and
:mod:`workbench.protocol_checks` (protocol vs engine).
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import catalog, clients, evals, params
from .params import ParameterError

__all__ = [
    "PROTOCOLS",
    "Settings",
    "SuiteRun",
    "backend_label",
    "check_settings",
    "default_run_id",
    "failures",
    "run_identity",
    "run_suite",
    "scored",
]

#: The SDK call each provider's model ids go through (the runner streams every request).
PROTOCOLS: dict[str, str] = {
    "openai": "OpenAI SDK, chat.completions (stream)",
    "anthropic": "Anthropic SDK, messages (stream)",
    "google": "google-genai SDK, generate_content_stream",
}


@dataclass(frozen=True)
class Settings:
    """The suite's validated parameters (see :func:`check_settings`)."""

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


def _listed(value: Any, cast: type | None = None) -> Any:
    """A list from a list, JSON text or ``"a,b"`` (the form a command line sends); numbers cast."""
    value = params.as_list(value)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if cast is not None and isinstance(value, list):
        out = []
        for v in value:
            try:
                out.append(cast(v) if isinstance(v, str) else v)
            except ValueError:
                out.append(v)
        value = out
    return value


def _unique(values: list[str], param: str) -> list[str]:
    if len(set(values)) != len(values):
        raise ParameterError(param, "no repeated name", values)
    return values


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
    """Validate every suite parameter; raise ONE clear error naming the bad one.

    Lists may be given as lists, as JSON text (papermill's ``-p models '["a"]'``) or as ``"a,b"``.

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
        params.ParameterError: a bad number or list (a ValueError naming the parameter).
    """
    backend = clients.check_backend(backend, param="backend")
    model_list = _unique(catalog.check_models(params.names(_listed(models), "models"), param="models"), "models")
    for m in model_list:
        if catalog.provider_of(m) not in PROTOCOLS:
            raise ParameterError("models", f"ids of the {', '.join(PROTOCOLS)} APIs (the suite calls only "
                                 f"those), not a {catalog.provider_of(m)} model", m)
    task_list = _unique(evals.check_tasks(params.names(_listed(tasks), "tasks"), param="tasks"), "tasks")
    limit = params.count(limit, "limit", minimum=1)
    seed = params.count(seed, "seed", minimum=-(2**63))
    concurrency = params.count(concurrency, "concurrency", minimum=1)
    lengths = tuple(params.counts(_listed(needle_lengths, int), "needle_lengths", minimum=100))
    depth_list = _listed(needle_depths, float)
    if not isinstance(depth_list, (list, tuple)) or not depth_list or any(
            isinstance(d, bool) or not isinstance(d, numbers.Real) or not 0 <= d <= 1 for d in depth_list):
        raise ParameterError("needle_depths", "a non-empty list of fractions in [0, 1]", needle_depths)
    depths = tuple(float(d) for d in depth_list)
    per_cell = params.count(needle_per_cell, "needle_per_cell", minimum=1)
    evals.needle_task(lengths, depths, per_cell)  # the task's own checks (e.g. lengths <= 1,000,000)
    if needle_models is None:
        needle_list = model_list[:1]
    else:
        needle_list = catalog.check_models(params.names(_listed(needle_models), "needle_models"),
                                           param="needle_models")
        outside = [m for m in needle_list if m not in model_list]
        if outside:
            raise ParameterError("needle_models", f"ids among models {model_list!r}", outside[0])
    needle = (lengths, depths, per_cell, needle_list) if "needle" in task_list else ()
    if run_id is None:
        run_id = default_run_id(backend, model_list, task_list, limit, seed, needle)
    elif not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise ParameterError("run_id", "a non-empty text of at most 200 characters (or None)", run_id)
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
    """One execution of the suite.

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
    (``limit`` does not apply to it), alongside the other tasks (``limit`` items each, every model).
    Items already scored under the run id are not asked again.  ``client_factory`` is passed to
    :func:`workbench.evals.run` (tests).
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


def scored(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``results`` (``evals.load_results``) whose final attempt was scored."""
    return results[results["outcome"] == "scored"]


def failures(results: pd.DataFrame) -> pd.DataFrame:
    """Every planned item without a score: finally failed (all attempts errored) or still pending."""
    bad = results[results["outcome"] != "scored"]
    out = bad[["task", "model", "item_id", "outcome", "attempts", "error_kind", "error"]].copy()
    out["error"] = out["error"].fillna("").str.slice(0, 160)
    return out.reset_index(drop=True)
