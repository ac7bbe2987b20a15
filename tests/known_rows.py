"""Known rows for the tests of the scoreboard, the comparisons and the tables built from a measured run.

``published()`` is every published accuracy score with its interval; ``one(frame, col=value, ...)``
picks the single row that matches. ``known_results(path)`` writes known results into a real ``evals.Store`` and reads them back with
``evals.load_results``, so every table is checked against hand-computed numbers:

- mmlu, 4 items: gpt-4o right on 3 (items 0-2), claude-sonnet-4-6 on 1 (item 0); the two reply
  texts are identical on items 0 and 3; gpt-4o's TTFT 0.1-0.4 s and totals 1-4 s, claude's cost 0.003;
- json_only, 2 items: gpt-4o scored 1 (strict) and finally failed the other after two time-outs;
  claude-sonnet-4-6 strict on neither, lenient on one;
- needle, 4 cells of gpt-4o (one-token replies): found at L500/D0, L500/D1, L1000/D1, missed at L1000/D0.

``known_ladder(path)`` writes HumanEval results of the two Qwen models on all 164 tasks (see there).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
from workbench import evals, scoreboard

MODELS = ["gpt-4o", "claude-sonnet-4-6", "gemini-2.5-flash"]


@lru_cache(maxsize=1)
def _published() -> pd.DataFrame:
    return scoreboard.with_intervals(scoreboard.published_scores(), 0.95)


def published() -> pd.DataFrame:
    """Every published accuracy score of ``data/scores.csv`` with its 95 % interval (a fresh copy)."""
    return _published().copy()


def one(frame: pd.DataFrame, **where: object) -> pd.Series:
    """The one row of ``frame`` whose columns have the given values (fails unless exactly one)."""
    mask = pd.Series(True, index=frame.index)
    for col, value in where.items():
        mask &= frame[col] == value
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


def row(task: str, item: str, model: str, score: float | None, *, attempt: int = 1, status: str = "ok",
        response: str = "Answer: A", details: dict | None = None, ttft: float = 0.5, n_out: int = 11,
        content: float = 1.5, latency: float = 2.0, tokens: tuple[int, int] = (100, 20),
        cost: float | None = 0.001, error_kind: str | None = None) -> dict:
    """One attempt row as the runner records it (``content``: seconds to the last text chunk)."""
    ok = status == "ok"
    return {"run_id": "t", "task": task, "item_id": item, "model": model, "backend": "local", "attempt": attempt,
            "provider": {"gpt-4o": "openai", "claude-sonnet-4-6": "anthropic"}.get(model, "google"),
            "prompt_hash": "h", "status": status, "response": response if ok else None,
            "score": score, "details": details or {}, "input_tokens": tokens[0] if ok else None,
            "output_tokens": tokens[1] if ok else None,
            "output_tokens_counted": n_out if ok else None, "tokenizer": "o200k_base",
            "ttft_s": ttft if ok else None, "itl_s": content / n_out if ok else None,
            "latency_s": latency if ok else None, "cost_usd": cost if ok else None,
            "started_at": "2026-06-01T10:00:00.000+00:00", "finished_at": "2026-06-01T10:00:02.000+00:00",
            "error_kind": error_kind, "error": "APITimeoutError: timed out" if status == "error" else None}


def known_results(path: Path) -> pd.DataFrame:
    """Write the rows described in the module docstring into a store at ``path``; load its results."""
    store = evals.Store(path)
    store.start_run("t", "local", {})
    for m in MODELS[:2]:
        store.add_plan("t", "mmlu", m, "local", [(f"s/{i}", "s") for i in range(4)])
        store.add_plan("t", "json_only", m, "local", [("arc/1", None), ("arc/2", None)])
    store.add_plan("t", "needle", "gpt-4o", "local", [("L500/D0/r0", "L500/D0"), ("L500/D1/r0", "L500/D1"),
                                                      ("L1000/D0/r0", "L1000/D0"), ("L1000/D1/r0", "L1000/D1")])
    for i, (x, y) in enumerate([(1, 1), (1, 0), (1, 0), (0, 0)]):
        store.record(row("mmlu", f"s/{i}", "gpt-4o", x, ttft=0.1 * (i + 1), latency=1.0 * (i + 1),
                         response=f"Answer: {i}"))
        store.record(row("mmlu", f"s/{i}", "claude-sonnet-4-6", y, ttft=0.2, response=f"Answer: {i}" if x == y else "x",
                         cost=0.003))
    store.record(row("json_only", "arc/1", "gpt-4o", 1.0, details={"strict": 1.0, "lenient": 1.0, "answer_correct": 1.0}))
    for attempt in (1, 2):
        store.record(row("json_only", "arc/2", "gpt-4o", None, attempt=attempt, status="error", error_kind="timeout"))
    store.record(row("json_only", "arc/1", "claude-sonnet-4-6", 0.0,
                     details={"strict": 0.0, "lenient": 1.0, "answer_correct": 1.0}))
    store.record(row("json_only", "arc/2", "claude-sonnet-4-6", 0.0,
                     details={"strict": 0.0, "lenient": 0.0, "answer_correct": 0.0}))
    for item, found in (("L500/D0/r0", 1), ("L500/D1/r0", 1), ("L1000/D0/r0", 0), ("L1000/D1/r0", 1)):
        store.record(row("needle", item, "gpt-4o", float(found), n_out=1))
    store.close()
    return evals.load_results("t", path)


#: The ladder's HumanEval rows (:func:`known_ladder`): per model, how many of the 164 tasks passed and how
#: the first failures failed (the rest failed a test).
LADDER = {"qwen2.5-coder-1.5b-instruct": 116, "qwen2.5-coder-0.5b-instruct": 80}
_FAILURES = [  # (finish reason, sandbox status, last error line, extracted code)
    ("length", "failed", "SyntaxError: '(' was never closed", "def f(:"),
    ("stop", "failed", "", ""),
    ("stop", "failed", "NameError: name 'math' is not defined", "def f(): return math.pi"),
    ("stop", "timeout", "", "while True: pass"),
    ("stop", "failed", "ValueError: bad", "def f(): raise ValueError('bad')"),
]


def known_ladder(path: Path) -> pd.DataFrame:
    """HumanEval (Qwen prompt) results of two Qwen models on all 164 tasks, written into a store at ``path``.

    Qwen2.5-Coder-1.5B passes 116 (70.7 %, the published value S5 reports) and 0.5B 80 (48.8 %, well
    below its published 61.6 %); each model's first five failures are, in order: cut by the cap with code
    that does not parse, no code, a missing name, a time-out, an error the code raised; the others failed a test.
    """
    store = evals.Store(path)
    store.start_run("ladder", "local", {})
    items = [f"HumanEval/{i}" for i in range(164)]
    for model, passed in LADDER.items():
        store.add_plan("ladder", "humaneval_qwen", model, "local", [(i, None) for i in items])
        for k, item in enumerate(items):
            if k < passed:
                store.record({**row("humaneval_qwen", item, model, 1.0, details={"status": "passed",
                                                                                  "finish_reason": "stop"}),
                              "run_id": "ladder", "extracted": "def f(): return 1"})
                continue
            finish, status, error, code = (_FAILURES[k - passed] if k - passed < len(_FAILURES)
                                           else ("stop", "failed", "AssertionError", "def f(): return 0"))
            details = {"status": status, "finish_reason": finish, "stderr_tail": f"Traceback ...\n{error}\n"}
            store.record({**row("humaneval_qwen", item, model, 0.0, details=details), "run_id": "ladder",
                          "extracted": code})
    store.close()
    return evals.load_results("ladder", path)
