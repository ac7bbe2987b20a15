"""The SQLite store: one row per attempt, final outcomes, summaries, and surviving kill -9."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workbench.evals.store import (
    RESULT_COLUMNS,
    Store,
    load_attempts,
    load_results,
    summarize,
)
from workbench.stats import wilson_interval


def _row(item: str, attempt: int, status: str, score: float | None = None, **extra) -> dict:
    return {"run_id": "r1", "task": "gsm8k", "item_id": item, "model": "gpt-4o", "backend": "local",
            "attempt": attempt, "prompt_hash": "h", "status": status, "score": score, **extra}


def test_outcomes_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        assert store.start_run("r1", "local", {"limit": 5}) is True
        assert store.start_run("r1", "local", {"limit": 5}) is False  # resuming
        store.add_plan("r1", "gsm8k", "gpt-4o", "local", [(f"i{k}", None) for k in range(5)])
        store.record(_row("i0", 1, "ok", 1.0, ttft_s=0.1, latency_s=1.0, cost_usd=0.01,
                          details={"lenient": 1.0}))
        store.record(_row("i1", 1, "error", error_kind="rate_limit", error="429"))
        store.record(_row("i1", 2, "ok", 0.0, ttft_s=0.3, latency_s=2.0, cost_usd=0.02,
                          details={"lenient": 0.0}))
        store.record(_row("i2", 1, "error", error_kind="server", error="500"))
        store.record(_row("i2", 2, "error", error_kind="timeout", error="timeout"))
        store.record(_row("i3", 1, "ok", 1.0, ttft_s=0.2, latency_s=3.0, details={"lenient": 1.0}))
        with pytest.raises(sqlite3.IntegrityError):  # one row per item and attempt
            store.record(_row("i3", 1, "ok", 1.0))
        with pytest.raises(ValueError, match="unknown column"):
            store.record({**_row("i4", 1, "ok"), "colour": "red"})
        assert store.done("r1", "gsm8k", "gpt-4o", "local") == {"i0": "h", "i1": "h", "i3": "h"}
        assert store.attempts_so_far("r1", "gsm8k", "gpt-4o", "local") == {"i0": 1, "i1": 2, "i2": 2, "i3": 1}

    results = load_results("r1", path)
    outcome = dict(zip(results["item_id"], results["outcome"]))
    assert outcome == {"i0": "scored", "i1": "scored", "i2": "failed", "i3": "scored", "i4": "pending"}
    assert dict(zip(results["item_id"], results["attempts"]))["i2"] == 2
    assert results.set_index("item_id").loc["i2", "error_kind"] == "timeout"  # the last attempt's error
    assert len(load_attempts("r1", path)) == 6

    table = summarize(results)
    row = table.iloc[0]
    assert (row.requested, row.scored, row.failed, row.pending) == (5, 3, 1, 1)
    assert row.accuracy == pytest.approx(2 / 3)  # failed and pending items are not counted as wrong
    low, high = wilson_interval(2, 3)
    assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
    assert row.lenient == pytest.approx(2 / 3)
    assert row.ttft_median_s == pytest.approx(0.2)
    assert row.cost_usd == pytest.approx(0.03)


def test_store_rejects_a_folder_and_a_non_database(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="folder"):
        Store(tmp_path)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a usable SQLite file"):
        Store(bad)


def test_columns_match_the_brief() -> None:
    for col in ("run_id", "task", "item_id", "model", "backend", "prompt_hash", "response", "score",
                "input_tokens", "output_tokens", "ttft_s", "itl_s", "latency_s", "cost_usd",
                "started_at", "attempt", "error"):
        assert col in RESULT_COLUMNS


_WRITER = r"""
import sys, time
from workbench.evals.store import Store
store = Store(sys.argv[1])
store.start_run("k", "local", {})
store.add_plan("k", "t", "m", "local", [(f"i{n}", None) for n in range(100000)])
n = 0
while True:
    store.record({"run_id": "k", "task": "t", "item_id": f"i{n}", "model": "m", "backend": "local",
                  "attempt": 1, "prompt_hash": "h", "status": "ok", "score": 1.0, "response": "x" * 500})
    n += 1
    if n == 50:
        print("ready", flush=True)
"""


def test_store_survives_kill_9_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    db.close()
    assert n >= 50
    with Store(path) as store:
        done = store.done("k", "t", "m", "local")
    assert len(done) == n and set(done) == {f"i{k}" for k in range(n)}  # committed rows are contiguous


def test_two_writers_on_one_run_keep_both_attempts(tmp_path: Path) -> None:
    """Two processes running the same run id at once: each attempt gets its own number, none is lost."""
    path = tmp_path / "evals.sqlite"
    row = {k: v for k, v in _row("q1", 1, "ok", score=1.0).items() if k != "attempt"}
    with Store(path) as first, Store(path) as second:
        assert first.record_attempt({**row, "status": "error", "score": None, "error_kind": "http_429"}) == 1
        assert second.record_attempt(row) == 2
        assert first.record_attempt({**row, "item_id": "q2"}) == 1
        with pytest.raises(ValueError, match="assigns 'attempt'"):
            first.record_attempt(_row("q3", 1, "ok"))
    q1 = load_attempts("r1", path).query("item_id == 'q1'").sort_values("attempt")
    assert list(q1["attempt"]) == [1, 2] and list(q1["status"]) == ["error", "ok"]


def test_summary_reports_cuts_failed_items_and_their_bounds(tmp_path: Path) -> None:
    """Known rows: 4 scored (2 right, 1 of them cut by the cap, plus one cut per protocol), 2 failed, 1 pending."""
    path = tmp_path / "b.sqlite"
    with Store(path) as store:
        store.add_plan("r1", "gsm8k", "gpt-4o", "local", [(f"i{k}", None) for k in range(7)])
        n = store.record_many([
            _row("i0", 1, "ok", 1.0, details={"finish_reason": "stop"}, archive_id="arch-1"),
            _row("i1", 1, "ok", 1.0, details={"finish_reason": "length"}, archive_id="arch-1"),
            _row("i2", 1, "ok", 0.0, details={"finish_reason": "max_tokens"}, archive_id="arch-1"),
            _row("i3", 1, "ok", 0.0, details={"finish_reason": "MAX_TOKENS"}, archive_id="arch-1"),
            _row("i4", 1, "error", error_kind="server", archive_id="arch-1"),
            _row("i5", 1, "error", error_kind="timeout", archive_id="arch-1"),
        ])
        assert n == 6
    row = summarize(load_results("r1", path)).iloc[0]
    assert (row.scored, row.failed, row.pending) == (4, 2, 1)
    assert row.accuracy == pytest.approx(2 / 4)
    assert row.cut_by_cap == pytest.approx(3 / 4)  # length, max_tokens, MAX_TOKENS: the three protocols' words
    assert row.failed_items == ("i4", "i5")
    assert row.acc_failed_wrong == pytest.approx(2 / 6)  # both failed items wrong
    assert row.acc_failed_right == pytest.approx(4 / 6)  # both right
    assert row.archive_id == "arch-1"


def test_no_failures_bounds_equal_accuracy_and_no_archive(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Store(path) as store:
        store.add_plan("r1", "gsm8k", "gpt-4o", "local", [("a", None), ("b", None)])
        store.record(_row("a", 1, "ok", 1.0, details={"finish_reason": "stop"}))
        store.record(_row("b", 1, "ok", 0.0, details={"finish_reason": "end_turn"}))
    row = summarize(load_results("r1", path)).iloc[0]
    assert row.acc_failed_wrong == row.acc_failed_right == row.accuracy == 0.5
    assert row.failed_items == () and row.cut_by_cap == 0.0 and row.archive_id == ""


def test_record_many_is_one_transaction_and_delete_run(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    with Store(path) as store:
        store.start_run("r1", "local", {})
        store.add_plan("r1", "gsm8k", "gpt-4o", "local", [("a", None)])
        with pytest.raises(sqlite3.IntegrityError):  # the second row repeats the first's key: none is kept
            store.record_many([_row("a", 1, "ok", 1.0), _row("a", 1, "ok", 0.0)])
        assert len(store.query("SELECT * FROM results")) == 0
        store.record_many([_row("a", 1, "ok", 1.0), _row("a", 2, "ok", 0.0)])
        assert store.delete_run("r1") == 2
        assert store.runs().empty and store.query("SELECT * FROM plan").empty


def test_an_older_store_gains_the_archive_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old_columns = [c for c in RESULT_COLUMNS if c != "archive_id"]
    with sqlite3.connect(path) as db:  # the results table as the previous version created it
        db.execute(f"CREATE TABLE results ({', '.join(old_columns)}, "
                   "PRIMARY KEY (run_id, task, item_id, model, backend, attempt))")
        db.execute("INSERT INTO results (run_id, task, item_id, model, backend, attempt, prompt_hash, status) "
                   "VALUES ('r0', 't', 'i', 'm', 'local', 1, 'h', 'ok')")
    with Store(path) as store, Store(path) as again:  # two handles: the second finds the column there
        store.record(_row("x", 1, "ok", 1.0, archive_id="a1"))
        rows = again.query("SELECT run_id, archive_id IS NULL AS missing, archive_id FROM results ORDER BY run_id")
    assert rows["missing"].tolist() == [1, 0] and rows["archive_id"].iloc[1] == "a1"
