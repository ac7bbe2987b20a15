"""The benchmark harness: tasks (real data + prompt + scorer), a sandbox, a results store, a runner.

Typical use in a notebook::

    from workbench import evals
    summary = evals.run(["mmlu", "gsm8k"], ["gpt-4o", "claude-sonnet-4-6"], backend="local", limit=20)
    summary.table                       # accuracy with Wilson intervals, timing, cost per task x model
    results = evals.load_results(summary.run_id)   # one row per item: its final outcome

Recorded runs (one archive format for every backend, see :mod:`workbench.evals.archive`)::

    summary = evals.run(["gsm8k"], ["gpt-4o"], limit=20, archive="my-run")   # data/runs/my-run/
    run_id = evals.archive.to_store("my-run")      # re-scored into the store, no engine needed
    evals.archive.replay("my-run", sample=5).table  # re-sent through the local provider

Tasks that ask token log-probabilities (``mmlu_direct``, ``arc_direct``, ``safety_guard``) give each item a
``confidence`` column (the probability of the answer given; NaN where not recorded) and the options'
probabilities in ``details["option_probs"]``; :mod:`workbench.evals.safety_data` is the labelled safety set
behind ``safety_guard`` and ``safety_data.guard_frame(results)`` its results as label / verdict / p_unsafe.

From a shell: ``python -m workbench.evals run --tasks mmlu gsm8k --models gpt-4o --limit 20``
(``record``, ``replay ID``, ``import ID`` for archives).
"""
from __future__ import annotations

from . import archive, safety_data
from .data import DataError, Item
from .runner import Reply, RunSummary, arun, classify_error, run, stream_reply
from .sandbox import SandboxResult, run_python
from .scorers import Score
from .store import DEFAULT_PATH, Store, load_attempts, load_results, summarize
from .tasks import (
    TASK_NAMES,
    TOKENIZER,
    Task,
    check_tasks,
    count_tokens,
    get_task,
    needle_task,
)

__all__ = [
    "DEFAULT_PATH",
    "TASK_NAMES",
    "TOKENIZER",
    "DataError",
    "Item",
    "Reply",
    "RunSummary",
    "SandboxResult",
    "Score",
    "Store",
    "Task",
    "archive",
    "arun",
    "check_tasks",
    "classify_error",
    "count_tokens",
    "get_task",
    "load_attempts",
    "load_results",
    "needle_task",
    "run",
    "run_python",
    "safety_data",
    "stream_reply",
    "summarize",
]
