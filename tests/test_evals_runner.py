"""The runner against the real local provider through the three official SDKs.

Requests are kept tiny (a few output tokens) so the tests stay fast on 2 shared cores; they check
the plumbing (protocols, timing, retries, failure records, resume after kill -9, the CLI), not the
local model's accuracy.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workbench import catalog, evals
from workbench.catalog import UnknownNameError
from workbench.evals.__main__ import main as cli_main
from workbench.evals.sampling import (
    LIVE_REASONING_CAP,
    is_reasoning,
    request_settings,
    settings_notes,
)

FAST = {"max_tokens": 3, "progress": False, "backoff": 0.05, "max_backoff": 0.5}


@pytest.fixture()
def no_faults(local_provider):
    """The shared provider, with every fault switched off again afterwards."""
    local_provider.clear_faults()
    yield local_provider
    local_provider.clear_faults()


def test_three_protocols_timing_and_cli_resume(no_faults, tmp_path: Path, capsys) -> None:
    store = tmp_path / "r.sqlite"
    models = ["gpt-4o", "claude-sonnet-4-6", "gemini-2.5-flash"]
    summary = evals.run(["arc_challenge"], models, "local", limit=1, store=store, run_id="proto", **FAST)
    table = summary.table.set_index("model")
    assert list(table["scored"]) == [1, 1, 1] and summary.requests == 3
    rows = evals.load_attempts("proto", store)
    assert set(rows["provider"]) == {"openai", "anthropic", "google"}
    assert rows["prompt_hash"].nunique() == 1  # the same prompt to every model
    for r in rows.itertuples():
        assert r.status == "ok" and r.response
        assert 0 < r.ttft_s <= r.latency_s
        assert r.input_tokens > 0 and 0 < r.output_tokens <= 3
        assert r.output_tokens_counted > 0 and r.itl_s > 0 and r.tokens_per_s > 0
        assert r.tokenizer == "o200k_base"
        assert r.cost_usd is not None and r.cost_usd > 0  # list prices of these ids exist
    assert json.loads(rows["details"].iloc[0])["finish_reason"]
    # a 3-token cap cuts every reply, and the summary says so in each protocol's words
    assert {json.loads(d)["finish_reason"] for d in rows["details"]} == {"length", "max_tokens", "MAX_TOKENS"}
    assert list(table["cut_by_cap"]) == [1.0, 1.0, 1.0]
    assert "cut by cap %" in summary.format_table()
    assert any(n.startswith("output cap: as given (arc_challenge 3)") for n in summary.notes)

    # the CLI resumes the same run: nothing is asked again, the JSON summary says so
    code = cli_main(["run", "--tasks", "arc_challenge", "--models", *models, "--limit", "1",
                     "--max-tokens", "3", "--run-id", "proto", "--store", str(store), "--json",
                     "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["requests"] == 0 and out["skipped"] == 3 and out["run_id"] == "proto"
    assert out["store"] == str(store)
    first = out["results"][0]
    for key in ("task", "model", "requested", "scored", "failed", "accuracy", "ci_low", "ci_high"):
        assert key in first
    assert cli_main(["summary", "--run-id", "proto", "--store", str(store), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 3

    # from a notebook (a running event loop) the same call works, in a worker thread
    async def in_a_notebook() -> evals.RunSummary:
        return evals.run(["arc_challenge"], models, "local", limit=1, store=store, run_id="proto", **FAST)

    again = asyncio.run(in_a_notebook())
    assert again.requests == 0 and again.skipped == 3


@pytest.mark.slow
def test_retries_record_every_attempt_and_lose_nothing(no_faults, tmp_path: Path) -> None:
    no_faults.set_faults(rate_429=0.25, rate_500=0.15, rate_cut=0.15, retry_after=0.0, seed=3)
    store = tmp_path / "f.sqlite"
    summary = evals.run(["gsm8k"], ["gpt-4o"], "local", limit=6, store=store, max_attempts=10,
                        concurrency=2, **FAST)
    row = summary.table.iloc[0]
    assert (row.requested, row.scored, row.failed, row.pending) == (6, 6, 0, 0)
    attempts = evals.load_attempts(summary.run_id, store)
    errors = attempts[attempts["status"] == "error"]
    assert len(errors) > 0 and set(errors["error_kind"]) <= {"rate_limit", "server", "cut_stream"}
    assert summary.requests == len(attempts)
    ok = attempts[attempts["status"] == "ok"]
    assert ok["item_id"].is_unique and len(ok) == 6  # no duplicates


def test_final_failures_are_reported_not_scored(no_faults, tmp_path: Path) -> None:
    store = tmp_path / "e.sqlite"
    # a request the API rejects (temperature above 2): a 400, not retried
    bad = evals.run(["gsm8k"], ["gpt-4o"], "local", limit=2, store=store, temperature=5.0, **FAST)
    row = bad.table.iloc[0]
    assert (row.scored, row.failed) == (0, 2) and bad.requests == 2
    results = evals.load_results(bad.run_id, store)
    assert set(results["outcome"]) == {"failed"} and set(results["error_kind"]) == {"client"}
    assert results["score"].isna().all()
    # listed by name next to the accuracy, with the bounds they put on it (all wrong: 0, all right: 1)
    assert row.failed_items == tuple(sorted(results["item_id"]))
    assert (row.acc_failed_wrong, row.acc_failed_right) == (0.0, 1.0)
    assert f"finally failed, gsm8k x gpt-4o: {', '.join(row.failed_items)}" in bad.format_table()
    # a provider that never answers in time: timed out, retried, then given up
    no_faults.set_faults(rate_timeout=1.0, timeout_seconds=20)
    slow = evals.run(["gsm8k"], ["gpt-4o"], "local", limit=1, store=store, timeout=0.5, max_attempts=2,
                     **FAST)
    attempts = evals.load_attempts(slow.run_id, store)
    assert list(attempts["error_kind"]) == ["timeout", "timeout"]
    assert slow.table.iloc[0].failed == 1


def test_bad_arguments_name_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="models"):
        evals.run(["gsm8k"], ["gpt-5o"], "local", store=tmp_path / "x.sqlite")
    with pytest.raises(UnknownNameError, match="backend"):
        evals.run(["gsm8k"], ["gpt-4o"], "cloud", store=tmp_path / "x.sqlite")
    with pytest.raises(UnknownNameError, match="task"):
        evals.run(["gsm9k"], ["gpt-4o"], "local", store=tmp_path / "x.sqlite")
    with pytest.raises(ValueError, match="limit"):
        evals.run(["gsm8k"], ["gpt-4o"], "local", limit=0, store=tmp_path / "x.sqlite")
    assert cli_main(["run", "--tasks", "gsm8k", "--models", "nope", "--store",
                     str(tmp_path / "x.sqlite")]) == 2


@pytest.mark.slow
def test_resume_after_kill_9(no_faults, tmp_path: Path) -> None:
    store = tmp_path / "k.sqlite"
    cmd = [sys.executable, "-m", "workbench.evals", "run", "--tasks", "arc_challenge", "--models",
           "gpt-4o", "--limit", "4", "--max-tokens", "3", "--concurrency", "1", "--run-id", "killed",
           "--store", str(store), "--no-progress"]
    proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    ok_before = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if store.exists():
            try:
                with sqlite3.connect(store) as db:
                    ok_before = db.execute("SELECT COUNT(*) FROM results WHERE status='ok'").fetchone()[0]
            except sqlite3.OperationalError:  # tables not created yet
                ok_before = 0
            if ok_before >= 1:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ok_before = db.execute("SELECT COUNT(*) FROM results WHERE status='ok'").fetchone()[0]
    assert ok_before >= 1
    resumed = evals.run(["arc_challenge"], ["gpt-4o"], "local", limit=4, run_id="killed", store=store,
                        concurrency=1, **FAST)
    assert resumed.skipped == ok_before
    assert resumed.requests == 4 - ok_before  # finished items are not asked again
    row = resumed.table.iloc[0]
    assert (row.requested, row.scored, row.failed) == (4, 4, 0)
    ok = evals.load_attempts("killed", store).query("status == 'ok'")
    assert ok["item_id"].is_unique


def test_error_classification() -> None:
    import httpx
    import openai

    req = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")

    def status_error(code: int) -> openai.APIStatusError:
        return openai.APIStatusError("x", response=httpx.Response(code, request=req), body=None)

    assert evals.classify_error(status_error(429)) == ("rate_limit", True)
    assert evals.classify_error(status_error(503)) == ("server", True)
    assert evals.classify_error(status_error(504)) == ("timeout", True)
    assert evals.classify_error(status_error(400)) == ("client", False)
    assert evals.classify_error(status_error(401)) == ("client", False)
    assert evals.classify_error(status_error(200)) == ("server", True)  # an error event mid-stream
    assert evals.classify_error(TimeoutError()) == ("timeout", True)
    assert evals.classify_error(openai.APIConnectionError(request=req)) == ("connection", True)
    assert evals.classify_error(httpx.RemoteProtocolError("cut")) == ("connection", True)
    assert evals.classify_error(KeyError("bug")) == ("other", False)


def test_request_settings_caps_and_rejected_parameters(monkeypatch) -> None:
    """Caps per backend from the catalog's rows, and parameters a model rejects: left out on live, said."""
    mmlu = evals.get_task("mmlu")
    # gemini-2.5-flash: output limit 65,000 (a thinking model); gpt-4o: 16,000
    live = request_settings(mmlu, "gemini-2.5-flash", "live", max_tokens=None, temperature=0.0)
    assert (live.max_tokens, live.cap_source) == (LIVE_REASONING_CAP, "reasoning") and is_reasoning("gemini-2.5-flash")
    assert request_settings(mmlu, "gpt-4o", "live", max_tokens=None, temperature=0.0).max_tokens == mmlu.max_tokens
    assert request_settings(mmlu, "gemini-2.5-flash", "local", max_tokens=None, temperature=0.0).max_tokens == 256
    given = request_settings(mmlu, "gemini-2.5-flash", "live", max_tokens={"mmlu": 99}, temperature=0.0)
    assert (given.max_tokens, given.cap_source) == (99, "given")

    monkeypatch.setattr(catalog, "rejected_params", lambda m: frozenset({"temperature", "top_p"}) if m == "gpt-5.5"
                        else frozenset(), raising=False)
    on_live = request_settings(mmlu, "gpt-5.5", "live", max_tokens=None, temperature=0.0)
    assert (on_live.temperature, on_live.omitted, on_live.rejected) == (None, ("temperature",), ("temperature",))
    on_local = request_settings(mmlu, "gpt-5.5", "local", max_tokens=None, temperature=0.0)
    assert (on_local.temperature, on_local.seed, on_local.omitted) == (0.0, 1234, ())
    live_notes = settings_notes({("mmlu", "gpt-5.5"): on_live, ("mmlu", "gpt-4o"): request_settings(
        mmlu, "gpt-4o", "live", max_tokens=None, temperature=0.0)}, "live")
    assert live_notes[0] == ("output cap: each task's own (mmlu 256) for gpt-4o; the live reasoning cap (mmlu "
                             "32,768) for gpt-5.5 (reasoning models or an output limit above 32,000 tokens: their "
                             "thinking counts against the cap)")
    assert "gpt-5.5 rejects temperature (catalog): left out of its requests" in live_notes[1]
    assert "sent here anyway" in settings_notes({("mmlu", "gpt-5.5"): on_local}, "local")[1]
