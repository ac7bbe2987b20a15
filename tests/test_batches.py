"""Batch runs offline: the local provider's three batch APIs through the official SDKs, and the harness's batch mode.

Requests are tiny (two output tokens, SmolLM2 answering): these tests check the plumbing (states, results,
cancel, expiry, items that fail, a provider that died, resuming a run without resubmitting), not accuracy.
"""
from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion
from workbench import clients, evals, params, pricing
from workbench.evals import batch
from workbench.evals.__main__ import main as cli_main
from workbench.local.gateway.batch_jobs import BatchStore
from workbench.local.gateway.batches import EXPIRES_HEADER, HOLD_HEADER, store_path

MODELS = ["gpt-5.5", "claude-sonnet-4-6", "gemini-3.5-flash"]  # current ids, each with a batch price
FAST = {"max_tokens": 2, "progress": False}


def until(check: Callable[[], Any], timeout: float = 240.0) -> Any:
    """Poll ``check`` until it returns something truthy (or fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not done after {timeout} s")


@pytest.fixture()
def no_faults(local_provider):
    local_provider.clear_faults()
    yield local_provider
    local_provider.clear_faults()


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "messages": [{"role": "user", "content": text}], "max_completion_tokens": 2, **extra}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode()


def line(custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


# ------------------------------------------------------------------------------------------------
# The local provider's batch APIs, through the SDKs
# ------------------------------------------------------------------------------------------------
def test_openai_files_and_batch_with_failing_items(no_faults):
    oc = clients.openai("local")
    data = jsonl([line("r0", chat("Say yes")), line("r1", chat("Say no")),
                  line("bad", chat("Hi", bogus=1)), line("big", chat("Hi", max_completion_tokens=10**7))])
    upload = oc.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")
    assert oc.files.retrieve(upload.id).bytes == len(data) and oc.files.content(upload.id).content == data
    created = oc.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
                                metadata={"case": "partial"})
    assert created.status == "validating" and created.request_counts.total == 4
    done = until(lambda: (b := oc.batches.retrieve(created.id)).status == "completed" and b)
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 2)
    assert done.in_progress_at and done.completed_at and done.metadata == {"case": "partial"}
    out = [json.loads(t) for t in oc.files.content(done.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in out) == ["r0", "r1"]
    answers = [ChatCompletion.model_validate(o["response"]["body"]) for o in out]
    assert all(a.choices[0].message.content and a.usage.completion_tokens <= 2 for a in answers)
    assert done.usage.input_tokens == sum(a.usage.prompt_tokens for a in answers)
    errors = {e["custom_id"]: e["response"] for e in map(json.loads, oc.files.content(done.error_file_id).text.splitlines())}
    assert errors["bad"]["status_code"] == 400 and errors["bad"]["body"]["error"]["param"] == "bogus"
    assert errors["big"]["status_code"] == 400 and "max_completion_tokens" in errors["big"]["body"]["error"]["message"]
    assert created.id in [b.id for b in oc.batches.list(limit=10)]


def test_openai_input_file_rules_and_bad_parameters(no_faults):
    import openai

    oc = clients.openai("local")
    data = jsonl([line("a", chat("x")), line("a", chat("y")), {**line("c", chat("z")), "url": "/v1/responses"}])
    bad_file = oc.files.create(file=("bad.jsonl", io.BytesIO(data + b"\nnot json")), purpose="batch")
    failed = oc.batches.create(input_file_id=bad_file.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert failed.status == "failed" and failed.failed_at
    assert [(e.code, e.line) for e in failed.errors.data] == [
        ("duplicate_custom_id", 2), ("mismatched_url", 3), ("invalid_json_line", 4)]
    for kwargs, param in [({"endpoint": "/v1/embeddings"}, "endpoint"), ({"completion_window": "1h"}, "completion_window"),
                          ({"input_file_id": "file-nope"}, "file_id")]:
        args = {"input_file_id": bad_file.id, "endpoint": "/v1/chat/completions", "completion_window": "24h", **kwargs}
        with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as err:
            oc.batches.create(**args)
        assert err.value.body["param"] == param
    with pytest.raises(openai.BadRequestError, match=HOLD_HEADER):
        oc.batches.create(input_file_id=bad_file.id, endpoint="/v1/chat/completions", completion_window="24h",
                          extra_headers={HOLD_HEADER: "soon"})
    with pytest.raises(openai.BadRequestError, match="purpose"):
        oc.files.create(file=("x.jsonl", io.BytesIO(b"{}")), purpose="fine-tune")


def test_anthropic_message_batch_with_an_item_over_the_context(no_faults):
    import anthropic

    ac = clients.anthropic("local")
    params_ = {"model": "claude-sonnet-4-6", "max_tokens": 2}
    requests = [{"custom_id": f"ok-{i}", "params": {**params_, "messages": [{"role": "user", "content": f"Say {i}"}]}}
                for i in range(2)]
    requests.append({"custom_id": "too-long", "params": {**params_, "messages": [
        {"role": "user", "content": "word " * 6000}]}})  # over the engine slot's 4,096 tokens
    # held queued for a few seconds, so its results are certainly not there yet when asked at once
    created = ac.messages.batches.create(requests=requests, extra_headers={HOLD_HEADER: "3"})
    assert created.processing_status == "in_progress" and created.request_counts.processing == 3
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        ac.messages.batches.results(created.id)
    done = until(lambda: (b := ac.messages.batches.retrieve(created.id)).processing_status == "ended" and b)
    counts = done.request_counts
    assert (counts.processing, counts.succeeded, counts.errored) == (0, 2, 1) and done.results_url
    results = {r.custom_id: r.result for r in ac.messages.batches.results(created.id)}
    assert results["ok-0"].type == "succeeded" and results["ok-0"].message.usage.output_tokens <= 2
    assert results["too-long"].type == "errored"
    assert results["too-long"].error.error.type == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError, match="custom_id"):
        ac.messages.batches.create(requests=[{"custom_id": "has space", "params": requests[0]["params"]}])
    assert ac.messages.batches.delete(created.id).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        ac.messages.batches.retrieve(created.id)


def test_gemini_batch_job_with_inlined_requests(no_faults):
    gc = clients.gemini("local")
    src = [{"contents": "Say hi", "config": {"max_output_tokens": 2}, "metadata": {"key": "g0"}},
           {"contents": "Say yo", "config": {"max_output_tokens": 2, "candidate_count": 3}, "metadata": {"key": "g1"}}]
    job = gc.batches.create(model="gemini-2.5-flash", src=src, config={"display_name": "inlined"})
    assert job.state.value == "JOB_STATE_PENDING" and job.name.startswith("batches/")
    done = until(lambda: (j := gc.batches.get(name=job.name)).done and j)
    assert done.state.value == "JOB_STATE_SUCCEEDED" and done.display_name == "inlined"
    first, second = done.dest.inlined_responses
    assert first.metadata == {"key": "g0"} and first.response.text and first.response.usage_metadata.prompt_token_count
    assert second.metadata == {"key": "g1"} and second.response is None and second.error.code == 400
    assert job.name in [j.name for j in gc.batches.list()]


def test_cancel_and_expiry_in_each_protocol(no_faults):
    oc, ac, gc = clients.openai("local"), clients.anthropic("local"), clients.gemini("local")
    hold = {HOLD_HEADER: "30"}
    expire = {HOLD_HEADER: "30", EXPIRES_HEADER: "0.3"}
    upload = oc.files.create(file=("in.jsonl", io.BytesIO(jsonl([line("r0", chat("x")), line("r1", chat("y"))]))),
                             purpose="batch")
    ended: dict[str, Any] = {}
    for kind, headers in (("cancelled", hold), ("expired", expire)):
        b = oc.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
                              extra_headers=headers)
        if kind == "cancelled":
            assert oc.batches.cancel(b.id).status == "cancelling"
        ended[kind] = until(lambda b=b, kind=kind: (x := oc.batches.retrieve(b.id)).status == kind and x)
        lines = [json.loads(t) for t in oc.files.content(ended[kind].error_file_id).text.splitlines()]
        assert [e["error"]["code"] for e in lines] == [f"batch_{kind}"] * 2 and ended[kind].output_file_id is None
    assert ended["cancelled"].cancelled_at and ended["expired"].expired_at

    request = {"custom_id": "a", "params": {"model": "claude-sonnet-4-6", "max_tokens": 2,
                                            "messages": [{"role": "user", "content": "hi"}]}}
    for kind, headers, word in (("cancelled", hold, "canceled"), ("expired", expire, "expired")):
        mb = ac.messages.batches.create(requests=[request], extra_headers=headers)
        if kind == "cancelled":
            assert ac.messages.batches.cancel(mb.id).processing_status == "canceling"
        done = until(lambda mb=mb: (x := ac.messages.batches.retrieve(mb.id)).processing_status == "ended" and x)
        assert getattr(done.request_counts, word) == 1
        assert [r.result.type for r in ac.messages.batches.results(mb.id)] == [word]

    src = [{"contents": "hi", "config": {"max_output_tokens": 2}}]
    for kind, headers in (("CANCELLED", hold), ("EXPIRED", expire)):
        job = gc.batches.create(model="gemini-2.5-flash", src=src, config={"http_options": {"headers": headers}})
        if kind == "CANCELLED":
            gc.batches.cancel(name=job.name)
        done = until(lambda job=job: (x := gc.batches.get(name=job.name)).done and x)
        assert done.state.value == f"JOB_STATE_{kind}"
        assert done.dest.inlined_responses[0].error.code in (499, 504)


def test_a_provider_finishes_the_batch_of_a_provider_that_died(no_faults):
    ac = clients.anthropic("local")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    store = BatchStore(store_path())  # the very file the running provider keeps its batches in
    job = store.create("anthropic", [("only", {"model": "claude-sonnet-4-6", "max_tokens": 2,
                                               "messages": [{"role": "user", "content": "hi"}]})], model=None,
                       prefix="msgbatch_")
    store.update(job, owner=int(dead.stdout))  # as if a provider took it and was killed
    done = until(lambda: (x := ac.messages.batches.retrieve(job.id)).processing_status == "ended" and x)
    assert done.request_counts.succeeded == 1
    assert store.job(job.id, "anthropic").owner == no_faults.pid  # adopted by the running provider


# ------------------------------------------------------------------------------------------------
# The harness: python -m workbench.evals run --batch
# ------------------------------------------------------------------------------------------------
def provider_creations(run_id: str, since: float) -> dict[str, list[str]]:
    """The batches the local provider took for ``run_id``, per provider."""
    oc, ac, gc = clients.openai("local"), clients.anthropic("local"), clients.gemini("local")
    return {
        "openai": [b.id for b in oc.batches.list(limit=100) if (b.metadata or {}).get("workbench_run_id") == run_id],
        "anthropic": [b.id for b in ac.messages.batches.list(limit=100) if b.created_at.timestamp() >= since],
        "google": [j.name for j in gc.batches.list() if (j.display_name or "").startswith(run_id + " ")],
    }


def stored_batches(store: Path, run_id: str) -> list[dict[str, Any]]:
    with evals.Store(store) as db:
        return db.batches(run_id)


def test_batch_run_of_three_providers_is_stored_and_priced_at_the_batch_rate(no_faults, tmp_path):
    store, run_id = tmp_path / "r.sqlite", f"b-{uuid.uuid4().hex[:8]}"
    summary = batch.run(["arc_challenge"], MODELS, "local", limit=2, store=store, run_id=run_id, **FAST)
    assert list(summary.table["scored"]) == [2, 2, 2] and summary.requests == 6 and summary.skipped == 0
    rows = evals.load_attempts(run_id, store)
    assert set(rows["provider"]) == {"openai", "anthropic", "google"} and (rows["status"] == "ok").all()
    assert rows[["ttft_s", "itl_s", "tokens_per_s", "latency_s"]].isna().all().all()  # no stream: NULL, not 0
    for r in rows.itertuples():
        details = json.loads(r.details)
        assert details["mode"] == "batch" and details["batch_id"] and details["finish_reason"]
        usage = pricing.Usage(input_tokens=r.input_tokens, output_tokens=r.output_tokens)
        assert r.cost_usd == pytest.approx(pricing.request_cost(r.model, usage, batch=True))
        assert r.cost_usd == pytest.approx(pricing.request_cost(r.model, usage) / 2)
    batches = stored_batches(store, run_id)
    assert sorted(b["provider"] for b in batches) == ["anthropic", "google", "openai"]
    assert all(b["finished_at"] and b["state"] in ("completed", "ended", "JOB_STATE_SUCCEEDED") for b in batches)
    again = batch.run(["arc_challenge"], MODELS, "local", limit=2, store=store, run_id=run_id, **FAST)
    assert again.requests == 0 and again.skipped == 6 and len(stored_batches(store, run_id)) == 3


def test_interrupted_batch_run_resumes_polling_without_resubmitting(no_faults, tmp_path):
    store, run_id, since = tmp_path / "r.sqlite", f"i-{uuid.uuid4().hex[:8]}", time.time() - 1
    first = batch.run(["arc_challenge"], MODELS, "local", limit=2, store=store, run_id=run_id, wait=0,
                      headers={HOLD_HEADER: "1"}, **FAST)  # submit, then stop polling at once
    assert first.requests == 6 and list(first.table["pending"]) == [2, 2, 2]
    assert "still running" in first.notes[-1]
    ids = sorted(b["batch_id"] for b in stored_batches(store, run_id))
    resumed = batch.run(["arc_challenge"], MODELS, "local", limit=2, store=store, run_id=run_id, **FAST)
    assert resumed.requests == 0 and list(resumed.table["scored"]) == [2, 2, 2]
    assert sorted(b["batch_id"] for b in stored_batches(store, run_id)) == ids
    creations = provider_creations(run_id, since)
    assert {p: len(v) for p, v in creations.items()} == {"openai": 1, "anthropic": 1, "google": 1}
    assert sorted(i for v in creations.values() for i in v) == ids


def test_a_partly_failed_batch_loses_nothing(no_faults, tmp_path):
    store, run_id = tmp_path / "r.sqlite", f"f-{uuid.uuid4().hex[:8]}"
    no_faults.set_faults(rate_500=0.5, seed=3)  # drawn per batch item: some items fail at the provider
    first = batch.run(["arc_challenge"], ["claude-sonnet-4-6"], "local", limit=6, store=store, run_id=run_id, **FAST)
    no_faults.clear_faults()
    row = first.table.iloc[0]
    assert row["requested"] == 6 and row["scored"] + row["failed"] == 6 and 0 < row["failed"] < 6
    failed = evals.load_results(run_id, store).query("outcome == 'failed'")
    assert set(failed["error_kind"]) == {"server"} and tuple(sorted(failed["item_id"])) == row["failed_items"]
    assert "finally failed" in first.format_table()
    second = batch.run(["arc_challenge"], ["claude-sonnet-4-6"], "local", limit=6, store=store, run_id=run_id, **FAST)
    assert second.requests == row["failed"] and second.skipped == row["scored"]
    assert second.table.iloc[0]["scored"] == 6 and len(stored_batches(store, run_id)) == 2


def test_expired_and_cancelled_batches_are_stored_as_failed_items(no_faults, tmp_path):
    store, run_id = tmp_path / "r.sqlite", f"e-{uuid.uuid4().hex[:8]}"
    expired = batch.run(["arc_challenge"], ["gpt-5.5"], "local", limit=2, store=store, run_id=run_id,
                        headers={HOLD_HEADER: "30", EXPIRES_HEADER: "0.5"}, **FAST)
    assert expired.table.iloc[0]["failed"] == 2
    assert set(evals.load_attempts(run_id, store)["error_kind"]) == {"expired"}
    waiting = batch.run(["arc_challenge"], ["gpt-5.5"], "local", limit=2, store=store, run_id=run_id, wait=0,
                        headers={HOLD_HEADER: "30"}, **FAST)
    open_batch = [b for b in stored_batches(store, run_id) if b["finished_at"] is None]
    assert waiting.requests == 2 and len(open_batch) == 1
    clients.openai("local").batches.cancel(open_batch[0]["batch_id"])  # cancelled at the provider
    after = batch.run(["arc_challenge"], ["gpt-5.5"], "local", limit=2, store=store, run_id=run_id, **FAST)
    assert after.requests == 0 and after.table.iloc[0]["failed"] == 2
    kinds = evals.load_attempts(run_id, store).groupby("error_kind").size().to_dict()
    assert kinds == {"cancelled": 2, "expired": 2}


def test_bad_batch_run_arguments_name_the_parameter(tmp_path):
    for kwargs, param in [({"poll_interval": 0}, "poll_interval"), ({"wait": -1}, "wait"), ({"limit": 0}, "limit"),
                          ({"max_tokens": 0}, "max_tokens"), ({"temperature": -1}, "temperature")]:
        with pytest.raises(params.ParameterError, match=f"^{param}:"):
            batch.run(["mmlu"], ["gpt-5.5"], "local", store=tmp_path / "r.sqlite", **kwargs)


def test_cli_batch_run_killed_mid_poll_resumes_and_completes(no_faults, tmp_path, capsys):
    store, run_id, since = tmp_path / "r.sqlite", f"c-{uuid.uuid4().hex[:8]}", time.time() - 1
    args = ["run", "--batch", "--tasks", "mmlu", "--limit", "2", "--models", "gpt-4o", "claude-sonnet-4-6",
            "gemini-2.5-flash", "--max-tokens", "2", "--store", str(store), "--run-id", run_id, "--no-progress"]
    no_faults.set_faults(first_token_delay=1.0)  # each item takes a second: the kill lands while polling
    proc = subprocess.Popen([sys.executable, "-m", "workbench.evals", *args], env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def submitted() -> bool:
        try:
            with sqlite3.connect(store) as db:
                return db.execute("SELECT COUNT(*) FROM batches WHERE run_id=?", (run_id,)).fetchone()[0] == 3
        except sqlite3.OperationalError:  # the store is not there yet
            return False

    try:
        until(submitted, timeout=300)  # a fresh interpreter imports the SDKs first: slow on a busy machine
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    no_faults.clear_faults()
    assert any(b["finished_at"] is None for b in stored_batches(store, run_id))  # killed mid-poll
    assert cli_main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["requests"] == 0 and [r["scored"] for r in out["results"]] == [2, 2, 2]
    assert {p: len(v) for p, v in provider_creations(run_id, since).items()} == {"openai": 1, "anthropic": 1,
                                                                                  "google": 1}
