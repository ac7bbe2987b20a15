"""A published number reproduced: our measured score next to the one a model's makers published, with a verdict.

A published score is reproduced when it lies inside the interval of our own measurement of the same
benchmark (same items, the makers' prompt format where the harness can send it).  This module owns
that comparison and the account of what differs:

* :func:`reproduction_table`: per model and task with a published score of the task's benchmark, our
  accuracy with its Wilson interval, the published value and its source, and the verdict (inside our
  interval, or above / below it), with the prompt format the task used (:func:`prompt_format`);
* :func:`failure_kinds`: why the failed replies of a code task failed (cut by the output cap, no code,
  code that does not parse, a missing name, a failed test, ...), read from the sandbox's details;
* :func:`not_reproduced`: the published scores of the same models that the harness does not measure
  the way they were made, why not, and our nearest run (never a verdict).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import catalog, evals, params, scoreboard
from .evals.store import CUT_REASONS
from .suite import scored

__all__ = ["FRAMING", "WHY_NOT", "failure_kinds", "not_reproduced", "prompt_format", "reproduction_table"]

#: Why the harness does not measure a published benchmark the way it was made, by benchmark.  The
#: log-likelihood formulations (lighteval's zero-shot MMLU (cloze), HellaSwag and PIQA, the SmolLM2
#: card's S6) rank each answer's text by its probability given the question: that needs the
#: log-probabilities of prompt tokens, and the llama.cpp server's API returns ``n_probs`` only for the
#: tokens it generates.
WHY_NOT: dict[str, str] = {
    "MMLU (cloze)": "scored by the log-likelihood of each answer's text (prompt-token log-probabilities), "
                    "which the llama.cpp server's API does not return (n_probs covers generated tokens only)",
    "HellaSwag": "scored by the log-likelihood of each ending (prompt-token log-probabilities), which the "
                 "llama.cpp server's API does not return (n_probs covers generated tokens only)",
    "PIQA": "scored by the log-likelihood of each solution (prompt-token log-probabilities), which the "
            "llama.cpp server's API does not return (n_probs covers generated tokens only)",
    "GSM8K": "asked 5-shot; the harness asks zero-shot (simple-evals' wording)",
    "HumanEval+": "EvalPlus's extended tests are not in the offline packages",
    "MBPP (EvalPlus)": "EvalPlus's 399-task MBPP set is not in the offline packages (the harness has the "
                       "original 500-item test split)",
    "MBPP+": "EvalPlus's extended tests are not in the offline packages",
    "BigCodeBench-Instruct": "not in the harness",
}

#: Failure kinds that come from how the answer was framed (prefill, stop, cap) rather than from the code.
FRAMING = ("cut by the output cap", "no code in the reply", "code that does not parse")
_FAILURE_ORDER = ("cut by the output cap", "no code in the reply", "code that does not parse",
                  "a name or import missing", "a test failed", "the code raised an error", "timed out or out of memory")


def prompt_format(task: str, options: Mapping[str, Any] | None = None) -> str:
    """How ``task`` asked, in words: its prompt format, system line, instruction and answer prefill.

    ``options`` are the task options a recording stored (its manifest's ``task_options``); default the
    task's options now.
    """
    opts = dict(evals.get_task(task).options if options is None else options)
    parts = [str(opts.get("prompt_format", "the harness's default"))]
    if opts.get("system"):
        parts.append(f"system line {opts['system']!r}")
    if opts.get("instruction"):
        parts.append(f"instruction {opts['instruction']!r}")
    if opts.get("assistant_prefill"):
        parts.append(f"answer prefill: {opts['assistant_prefill']}")
    return "; ".join(parts)


def reproduction_table(acc: pd.DataFrame, published: pd.DataFrame, options: Mapping[str, Mapping[str, Any]]
                       | None = None) -> pd.DataFrame:
    """Measured vs published, per model and task with a published score, and the verdict.

    Args:
        acc: :func:`workbench.scoreboard.accuracy_table` (its level in ``acc.attrs["confidence"]``).
        published: :func:`workbench.scoreboard.published_for` of the same tasks and models.
        options: per task, the options the recording used (a manifest's ``task_options``); default the
            tasks' own.

    Returns:
        Columns: model, task, benchmark, prompt format, scored, correct, measured_pct, ci_low_pct,
        ci_high_pct, published_pct, source_id, gap_pts (measured - published), inside (the published
        value lies in our interval), verdict (``inside our interval`` / ``above our interval`` /
        ``below our interval``), cut_by_cap_pct, failed, archive.  Empty when no task has a published
        counterpart.
    """
    params.columns(acc, ["task", "model", "scored", "correct", "accuracy_pct", "ci_low_pct", "ci_high_pct"], "acc")
    params.columns(published, ["task", "model", "benchmark", "source_id", "published_pct"], "published")
    rows = []
    for _, m in acc[acc["scored"] > 0].iterrows():  # in the order of ``acc``
        for p in published[(published["task"] == m["task"]) & (published["model"] == m["model"])].itertuples():
            rows.append(_verdict_row(m, p, options))
    return pd.DataFrame(rows, columns=["model", "task", "benchmark", "prompt format", "scored", "correct",
                                       "measured_pct", "ci_low_pct", "ci_high_pct", "published_pct", "source_id",
                                       "gap_pts", "inside", "verdict", "cut_by_cap_pct", "failed", "archive"])


def _verdict_row(m: pd.Series, p: Any, options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """One row of :func:`reproduction_table`: accuracy row ``m`` against published score ``p``."""
    lo, hi, value = float(m["ci_low_pct"]), float(m["ci_high_pct"]), float(p.published_pct)
    verdict = ("inside our interval" if lo <= value <= hi else
               "above our interval" if value > hi else "below our interval")
    return {
        "model": p.model, "task": p.task, "benchmark": p.benchmark,
        "prompt format": prompt_format(p.task, (options or {}).get(p.task)),
        "scored": int(m["scored"]), "correct": int(m["correct"]), "measured_pct": float(m["accuracy_pct"]),
        "ci_low_pct": lo, "ci_high_pct": hi, "published_pct": value, "source_id": p.source_id,
        "gap_pts": float(m["accuracy_pct"]) - value, "inside": lo <= value <= hi, "verdict": verdict,
        "cut_by_cap_pct": float(m.get("cut_by_cap_pct", np.nan)), "failed": int(m.get("failed", 0)),
        "archive": m.get("archive", ""),
    }


def _failure_kind(details: Mapping[str, Any], extracted: Any) -> str:
    """The kind of one failed code reply, from the scorer's details (sandbox status and error output)."""
    err = str(details.get("stderr_tail") or "")
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if details.get("finish_reason") in CUT_REASONS:
        return "cut by the output cap"
    if details.get("status") in ("timeout", "memory"):
        return "timed out or out of memory"
    if not (isinstance(extracted, str) and extracted.strip()):
        return "no code in the reply"
    if last.startswith(("SyntaxError", "IndentationError", "TabError")):
        return "code that does not parse"
    if last.startswith(("NameError", "ImportError", "ModuleNotFoundError")):
        return "a name or import missing"
    if last.startswith("AssertionError"):
        return "a test failed"
    return "the code raised an error"


def failure_kinds(results: pd.DataFrame, task: str) -> pd.DataFrame:
    """Why the scored-but-failed replies of a code task failed, per model.

    Args:
        results: ``evals.load_results`` rows.
        task: a code task (its details carry the sandbox's ``status`` and ``stderr_tail``).

    Returns:
        Columns: model, kind (cut by the output cap, no code in the reply, code that does not parse, a
        name or import missing, a test failed, the code raised an error, timed out or out of memory), replies,
        share_pct (of that model's failed replies).  Kinds with no reply are left out.
    """
    ok = scored(results)
    ok = ok[(ok["task"] == task) & (ok["score"] < 1)]
    kinds = [_failure_kind(d, e) for d, e in zip(ok["details"], ok["extracted"])]
    frame = ok.assign(kind=kinds)
    rows = []
    for model, g in frame.groupby("model", sort=False):
        for kind in _FAILURE_ORDER:
            n = int((g["kind"] == kind).sum())
            if n:
                rows.append({"model": model, "kind": kind, "replies": n, "share_pct": 100 * n / len(g)})
    return pd.DataFrame(rows, columns=["model", "kind", "replies", "share_pct"])


def _nearest(benchmark: str, acc: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``acc`` whose task measures the benchmark ``benchmark`` is a variant of (MMLU for MMLU
    (cloze), HumanEval for HumanEval+, MBPP for MBPP (EvalPlus))."""
    root = benchmark.split(" (")[0].rstrip("+")
    return acc[acc["benchmark"] == root]


def not_reproduced(models: Iterable[str], acc: pd.DataFrame, reproduced: pd.DataFrame) -> pd.DataFrame:
    """The published accuracy scores of ``models`` that this run does not reproduce, why, and our nearest run.

    Args:
        models: catalog ids (the models of the run).
        acc: :func:`workbench.scoreboard.accuracy_table` of the run.
        reproduced: :func:`reproduction_table` (its rows are left out here).

    Returns:
        Columns: model, benchmark, published_pct, source_id, how it was made (the score's notes in
        ``data/scores.csv``), why not (:data:`WHY_NOT`; "no task measures it" otherwise), nearest run
        (our task on the benchmark it is a variant of, with its accuracy: a different format, never a
        verdict; "" when none).
    """
    model_list = catalog.check_models(params.names(list(models), "models"), param="models")
    scores = catalog.scores()
    scores = scores[scores["model_id"].isin(model_list) & (scores["metric"] == scoreboard.ACCURACY)
                    & (scores["unit"] == "percent")]
    done = set(zip(reproduced["model"], reproduced["benchmark"])) if len(reproduced) else set()
    rows = []
    for r in scores.itertuples():
        if (r.model_id, r.benchmark) in done:
            continue
        near = _nearest(r.benchmark, acc[acc["model"] == r.model_id])
        rows.append({
            "model": r.model_id, "benchmark": r.benchmark, "published_pct": float(r.value), "source_id": r.source_id,
            "how it was made": "" if r.notes is None or (isinstance(r.notes, float) and math.isnan(r.notes))
            else str(r.notes),
            "why not": WHY_NOT.get(r.benchmark, "no task of this run measures it"),
            "nearest run": "; ".join(f"{n.title}: {n.accuracy_pct:.0f} % (n = {n.scored})" for n in near.itertuples()),
        })
    return pd.DataFrame(rows, columns=["model", "benchmark", "published_pct", "source_id", "how it was made",
                                       "why not", "nearest run"])
