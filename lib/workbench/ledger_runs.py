"""Claims that only a run can settle: latency, behaviour and production practice, and the run archives.

A recorded run (``data/runs/<id>/``, the format of :mod:`workbench.evals.archive_format`) measures what no
table can: how fast a model answers, whether it keeps to "JSON only", whether it finds a needle. For a
claim about frontier models a *live* archive covering its models is needed; then the verdict is
``measured``, computed from the archive the way the chapters compute it (every reply re-scored into a
results store by :func:`workbench.evals.archive.to_store`, then :mod:`workbench.behaviour` and
:mod:`workbench.latency`), and it names the archive. Without one the verdict is ``unverifiable offline``
and says which recording would settle it (:func:`record_command`, with the API keys it needs). Archives
of the local open-model ladder show the method on open models; they are cited as such and never
presented as the frontier models' result.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from . import behaviour, catalog, evals, fmt, latency
from .evals import archive as archives
from .evals.archive_format import MANIFEST, RUNS_DIR
from .ledger_verdicts import Claim, Context, Verdict, join, model_name, register

__all__ = ["KEY_VARIABLES", "RunIndex", "find_archives", "record_command"]

#: The environment variable each provider's live client reads its key from (see workbench.clients).
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google": "GEMINI_API_KEY"}


def record_command(models: Sequence[str], tasks: Sequence[str]) -> str:
    """The command that records a live run of ``tasks`` on ``models``, with the keys it needs."""
    providers = sorted({catalog.provider_of(m) for m in models})
    keys = " ".join(f"{KEY_VARIABLES[p]}=..." for p in providers if p in KEY_VARIABLES)
    return f'{keys} make record BACKEND=live ARGS="--tasks {" ".join(tasks)} --models {" ".join(models)}"'.strip()


@dataclass(frozen=True)
class RunIndex:
    """What an archive's manifest says: its id, backend, models and tasks, and its folder."""

    archive_id: str
    backend: str
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    folder: Path


@lru_cache(maxsize=64)
def _index(folder: str, mtime_ns: int) -> RunIndex:
    manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    return RunIndex(str(manifest.get("archive_id") or Path(folder).name), str(manifest.get("backend", "")),
                    tuple(manifest.get("models") or ()), tuple(manifest.get("plan") or ()), Path(folder))


def find_archives(runs: Path | None, models: Iterable[str], task: str | None = None,
                  backend: str | None = None) -> list[RunIndex]:
    """Archives under ``runs`` (None: ``data/runs``) that cover every one of ``models`` (and ``task``, and
    ``backend``)."""
    folder = Path(runs) if runs is not None else RUNS_DIR
    wanted, found = set(models), []
    for archive_id in archives.available(folder):
        path = folder / archive_id / MANIFEST
        run = _index(str(path.parent), path.stat().st_mtime_ns)
        if wanted <= set(run.models) and (task is None or task in run.tasks) \
                and (backend is None or run.backend == backend):
            found.append(run)
    return found


def _results(run: RunIndex, models: Iterable[str], task: str | None) -> pd.DataFrame:
    """The archive's replies re-scored with the current scorers, as ``evals.load_results`` rows."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "ledger.sqlite"
        run_id = archives.to_store(run.folder, store, progress=False)
        rows = evals.load_results(run_id, store)
    rows = rows[rows["model"].isin(list(models))]
    return rows[rows["task"] == task] if task is not None else rows


def _ladder_note(ctx: Context, task: str | None) -> list[str]:
    """Evidence from local archives: the method on open models, said to be no more than that."""
    return [f"method shown on open models only: archive {r.archive_id} (local backend, {join(r.models)}); "
            "not a result for the frontier models" for r in find_archives(ctx.runs, [], task, backend="local")]


def _measured_latency(claim: Claim, run: RunIndex, metric: str) -> Verdict:
    table = latency.latency_table(_results(run, claim.subjects, None), by_task=False)
    column = "TTFT median s" if metric == "ttft" else "total median s"
    what = "time to first token" if metric == "ttft" else "latency"
    parts = [f"{model_name(r.model)} {fmt.count(1000 * r[column])} ms" for _, r in table.iterrows()]
    evidence = tuple(f"{model_name(r.model)}: median {what} {fmt.count(1000 * r[column])} ms over {r.n} requests "
                     f"(archive {run.archive_id})" for _, r in table.iterrows())
    return Verdict("measured", f"Median {what} in archive {run.archive_id}: {join(parts)}.", evidence,
                   archive=run.archive_id)


def _measured_task(claim: Claim, run: RunIndex, task: str, alpha: float) -> Verdict:
    results = _results(run, claim.subjects, task)
    if task == "json_only":
        table = behaviour.json_table(results, 1 - alpha)
        level = fmt.pct(100 * (1 - alpha))
        rows = [(r.model, r["strict %"], f"{r.n} replies, {r['strict interval']} % ({level} Wilson interval)")
                for _, r in table.iterrows()]
        what = "replies that are JSON and nothing else"
    elif task == "needle":
        table = behaviour.needle_table(results).groupby("model", sort=False)[["n", "found"]].sum()
        rows = [(m, 100 * r["found"] / r["n"], f"{r['found']}/{r['n']} needles found") for m, r in table.iterrows()]
        what = "needles found"
    else:
        scored = results[results["outcome"] == "scored"].groupby("model", sort=False)["score"]
        rows = [(m, 100 * s.mean(), f"{len(s)} items") for m, s in scored]
        what = f"{task} score"
    evidence = tuple(f"{model_name(m)}: {fmt.pct(v)} {what}, {detail} (archive {run.archive_id})"
                     for m, v, detail in rows) or (f"archive {run.archive_id} holds no scored {task} reply",)
    return Verdict("measured", f"In archive {run.archive_id}: " + (join(f"{model_name(m)} {fmt.pct(v)}"
                   for m, v, _ in rows) or "no scored reply") + f" ({what}).", evidence, archive=run.archive_id)


@register("latency_run")
def latency_run(claim: Claim, ctx: Context) -> Verdict:
    """Latency claims: measured from a live archive of the claim's models, else what would settle it."""
    metric = "ttft" if "first token" in str(claim.quantity) else "latency"
    live = find_archives(ctx.runs, claim.subjects, backend="live")
    if live:
        return _measured_latency(claim, live[-1], metric)
    published = catalog.scores()
    rows = published[published["model_id"].isin(claim.subjects) & published["unit"].eq("ms")]
    evidence: list[Any] = [f"{r.source_id}: {model_name(r.model_id)} {r.metric} {fmt.count(r.value)} ms "
                           f"({r.benchmark})" for r in rows.itertuples()] \
        or [f"{claim.source_id} gives no number behind this claim"]
    evidence += _ladder_note(ctx, None)
    return Verdict(
        "unverifiable offline",
        "A latency depends on the network, the region, the load and the prompt; the source gives no spread and "
        "no request count, so no interval can be put on it.", tuple(evidence),
        settle="a recorded live run of the same requests, every model from the same place and time: "
               + record_command(list(claim.subjects), ["mmlu"]))


@register("behaviour_run")
def behaviour_run(claim: Claim, ctx: Context) -> Verdict:
    """Behaviour claims (JSON only, needle, multi-image, coherence): the harness task named by
    ``quantity``, measured from a live archive of the claim's models, else what would settle it."""
    task, models = str(claim.quantity), list(claim.subjects)
    known = task in evals.TASK_NAMES
    live = find_archives(ctx.runs, models, task, backend="live") if known else []
    if live:
        return _measured_task(claim, live[-1], task, ctx.alpha)
    evidence = [f"harness task {task!r} (workbench.evals) scores this behaviour" if known else
                f"no task of the harness (workbench.evals) scores {task}"]
    evidence += _ladder_note(ctx, task if known else None)
    names = join(model_name(m) for m in models)
    settle = (f"a recorded live run of the {task} task on {names}: " + record_command(models, [task]) if known
              else f"a graded test of {task} (items with known answers or a rubric) added to the harness, then a "
                   f"recorded live run on {names}")
    return Verdict("unverifiable offline", f"Only a run of {names} can show this; no recorded live run of it "
                   "exists here.", tuple(evidence), settle=settle)


@register("practice_run")
def practice_run(claim: Claim, ctx: Context) -> Verdict:
    """Production advice (metrics beyond accuracy, escalation to a person, retrieval and fallbacks)."""
    return Verdict(
        "unverifiable offline",
        f"Advice about running a service ({claim.quantity}); it is judged by outcomes on real traffic, which "
        "no published table holds.",
        (f"{claim.source_id} gives no measurement behind it",),
        settle="outcomes on the service's own traffic (task success, handling time, escalations to a person, "
               "policy-compliant replies), or a recorded run of its tasks scored for them; no task of the harness "
               "(workbench.evals) measures these yet.")
