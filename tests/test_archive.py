"""Run archives: recorded on the local provider through the real SDKs, read back, re-scored into the store,
replayed through the engine; no secret in an archive; every committed archive replays.

Requests are tiny (a few output tokens) to keep the tests fast on 2 shared cores.
"""
from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import random
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import httpx2
import pytest
from workbench import catalog, evals, paths
from workbench.evals import archive
from workbench.evals.__main__ import main as cli_main
from workbench.evals.archive_format import (
    EXCHANGES,
    MANIFEST,
    RUNS_DIR,
    ArchiveWriter,
    read_lines,
)
from workbench.evals.recording import (
    CURRENT,
    Exchange,
    RecordingTransport,
    clean_path,
    exchange_line,
    scrub,
)
from workbench.evals.streams import Reply

FAST = {"progress": False, "backoff": 0.05, "max_backoff": 0.5}
CANARIES = {"OPENAI_API_KEY": "sk-canaryOPENAI0123456789abcdef",
            "ANTHROPIC_API_KEY": "sk-ant-canaryANTHROPIC0123456789",
            "GEMINI_API_KEY": "AIzaCanaryGEMINI0123456789abcdefghij"}


@pytest.fixture()
def provider(local_provider):
    """The shared local provider with no injected faults."""
    local_provider.clear_faults()
    yield local_provider
    local_provider.clear_faults()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def test_record_read_import_and_replay_a_local_run(provider, tmp_path: Path, capsys) -> None:
    folder, store = tmp_path / "tiny", tmp_path / "run.sqlite"
    code = cli_main(["record", "--tasks", "arc_challenge", "gsm8k", "--models", "smollm2-135m-instruct",
                     "--limit", "2", "--max-tokens", "12", "--archive", str(folder), "--store", str(store),
                     "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and f"archive: {folder}" in out and "one request at a time" in out

    a = archive.load(folder)
    m = a.manifest
    assert (m["archive_id"], m["backend"], m["format"], a.complete) == ("tiny", "local", 1, True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True,
                          check=True).stdout
    assert m["code"]["commit"] == head.strip() and isinstance(m["code"]["dirty"], bool)
    for dist in ("openai", "anthropic", "google-genai", "httpx", "httpx2"):
        assert m["sdk"][dist] == metadata.version(dist)
    assert m["parameters"]["limit"] == 2 and m["parameters"]["concurrency"] == 1
    assert m["parameters"]["tasks"] == ["arc_challenge", "gsm8k"] and m["parameters"]["max_tokens"] == 12
    facts = m["models"]["smollm2-135m-instruct"]
    assert facts["gguf"] == {"file": provider.model_path.name, "bytes": provider.model_path.stat().st_size,
                             "sha256": _sha256(provider.model_path)}
    assert facts["engine"]["slots"] == provider.n_parallel and facts["engine"]["threads"] == provider.threads
    assert facts["engine"]["ctx_per_slot"] == provider.ctx_per_slot
    assert facts["engine"]["xllamacpp"] == metadata.version("xllamacpp")
    assert m["counts"]["attempts"] == 4 and m["counts"]["ok"] == 4
    assert m["counts"]["items"]["gsm8k"]["smollm2-135m-instruct"] == {"planned": 2, "answered": 2, "failed": 0,
                                                                     "not_tried": 0}

    # every line: the request as sent, the stream as received, and what the runner made of it
    attempts = evals.load_attempts("tiny", store).set_index(["task", "item_id"])
    assert len(a.exchanges) == 4
    for r in a.exchanges.itertuples():
        task = evals.get_task(r.task)
        item = next(it for it in task.items() if it.id == r.item_id)
        assert (r.method, r.path, r.http_status, r.status, r.protocol) == (
            "POST", "/v1/chat/completions", 200, "ok", "openai")
        assert r.body["messages"] == [{"role": "user", "content": task.prompt(item)}]
        assert (r.body["temperature"], r.body["seed"], r.body["max_completion_tokens"]) == (0.0, 1234, 12)
        times = [t for t, _ in r.events]
        assert times == sorted(times) and len(r.events) >= r.chunks
        parsed = archive.reassemble(r.protocol, r.events)
        assert parsed.text == r.text and parsed.finish_reason == r.finish_reason and parsed.ended
        assert (parsed.input_tokens, parsed.output_tokens) == (r.input_tokens, r.output_tokens)
        assert 0 < r.ttft_s <= r.latency_s
        assert attempts.loc[(r.task, r.item_id), "response"] == r.text

    # into a fresh store, re-scored: the same table as the run, every row naming the archive
    imported = tmp_path / "imported.sqlite"
    assert archive.to_store(folder, imported, progress=False) == "tiny"
    assert archive.to_store(folder, imported, progress=False) == "tiny"  # importing again replaces
    cols = ["task", "model", "requested", "scored", "failed", "accuracy", "cut_by_cap", "input_tokens",
            "output_tokens", "ttft_median_s", "latency_median_s", "cost_usd"]
    ran = evals.summarize(evals.load_results("tiny", store))
    back = evals.summarize(evals.load_results("tiny", imported))
    assert back[cols].equals(ran[cols]) and set(back["archive_id"]) == {"tiny"}
    same = ["item_id", "attempt", "provider", "prompt_hash", "status", "response", "extracted", "score",
            "output_tokens_counted", "itl_s", "tokens_per_s", "started_at"]
    key = ["task", "item_id"]
    assert evals.load_attempts("tiny", imported).sort_values(key)[same].reset_index(drop=True).equals(
        evals.load_attempts("tiny", store).sort_values(key)[same].reset_index(drop=True))

    # replayed one at a time through the engine: the same model file gives the same text
    code = cli_main(["replay", str(folder), "--sample", "4", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "4 of 4 replayed answers identical" in out

    # a scorer applies to old recordings: a recorded reply rewritten to the right answer scores 1
    fixed = tmp_path / "fixed"
    shutil.copytree(folder, fixed)
    lines, _ = read_lines(fixed / EXCHANGES)
    target = next(line for line in lines if line["task"] == "gsm8k")
    item = next(it for it in evals.get_task("gsm8k").items() if it.id == target["item_id"])
    target["text"] = f"Counting carefully.\nAnswer: {item.target}"
    with gzip.open(fixed / EXCHANGES, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(line) + "\n" for line in lines)
    run_id = archive.to_store(fixed, imported, run_id="fixed", progress=False)
    scored = evals.load_results(run_id, imported).set_index(["task", "item_id"])
    assert scored.loc[("gsm8k", item.id), "score"] == 1.0

    # another model file: replay refuses and names both files
    manifest = json.loads((fixed / MANIFEST).read_text())
    manifest["models"]["smollm2-135m-instruct"]["gguf"].update(file="other.gguf", sha256="0" * 64)
    (fixed / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"recorded with other\.gguf .*serves SmolLM2"):
        archive.replay(fixed, sample=1, progress=False)


def test_live_run_keeps_no_secret_leaves_out_rejected_parameters_and_replays_offline(
        provider, tmp_path: Path, monkeypatch) -> None:
    """A live run aimed at the local provider (the SDKs' base-URL variables) with canary keys."""
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPENAI_BASE_URL", provider.base_url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", provider.base_url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", provider.base_url)
    # the catalog's word on which parameters a model rejects (gpt-4o stands in for a 2026 model)
    monkeypatch.setattr(catalog, "rejected_params", lambda m: frozenset({"temperature"} if m == "gpt-4o" else ()),
                        raising=False)
    folder, store = tmp_path / "live", tmp_path / "live.sqlite"
    models = ["gpt-4o", "claude-sonnet-4-6", "gemini-3.1-pro-preview"]
    summary = evals.run(["arc_challenge"], models, "live", limit=1, max_tokens=4, store=store, archive=folder,
                        **FAST)
    assert list(summary.table["scored"]) == [1, 1, 1]
    assert any("gpt-4o rejects temperature (catalog): left out" in n for n in summary.notes)

    blobs = [gzip.decompress((folder / EXCHANGES).read_bytes()), (folder / EXCHANGES).read_bytes(),
             (folder / MANIFEST).read_bytes(), store.read_bytes()]
    for secret in CANARIES.values():
        for part in (secret, secret[8:]):
            assert all(part.encode() not in blob for blob in blobs), f"{part!r} reached the archive or store"
    a = archive.load(folder)
    assert a.manifest["backend"] == "live" and a.manifest["omitted_params"] == {"gpt-4o": ["temperature"]}
    assert any("rejects temperature" in n for n in a.manifest["notes"])
    for r in a.exchanges.itertuples():
        assert not {"authorization", "x-api-key", "x-goog-api-key"} & {h.lower() for h in r.headers}
        assert "key=" not in r.path
    body = a.exchanges.set_index("model")["body"]
    assert "temperature" not in body["gpt-4o"] and body["gemini-3.1-pro-preview"]["generationConfig"]["temperature"] == 0
    assert body["claude-sonnet-4-6"]["temperature"] == 0  # sent in the body: the SDK has no field for it
    assert a.manifest["models"]["gpt-4o"] == {"provider": "openai"}  # no local file facts for a live run

    # offline replay of a live archive: protocol fidelity, each response parsing like the recorded one
    result = archive.replay(a, sample=3, progress=False)
    assert result.kind == "protocol" and result.ok, result.table
    assert set(result.table["protocol"]) == {"openai", "anthropic", "google"}


def test_transport_drops_credentials_and_records_the_stream() -> None:
    """The recording transport over an in-process server (httpx2's MockTransport): what is kept, what is not."""
    events = [b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n',
              b'data: {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n']

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream", "set-cookie": "s=1"},
                               stream=httpx2.ByteStream(b"".join(events)))

    async def call() -> Exchange:
        exchange = Exchange()
        token = CURRENT.set(exchange)
        try:
            async with httpx2.AsyncClient(transport=RecordingTransport(httpx2.MockTransport(handler))) as client:
                resp = await client.post(
                    "https://api.example/v1beta/models/m:streamGenerateContent?alt=sse&key=AIzaQueryKey0123456789abcd",
                    json={"contents": "hi"}, headers={"authorization": "Bearer sk-hdrcanary-0123456789",
                                                      "x-api-key": "sk-ant-xcanary-0123456789",
                                                      "x-goog-api-key": "AIzaGoogCanary0123456789abcdef",
                                                      "user-agent": "test"})
                await resp.aread()
        finally:
            CURRENT.reset(token)
        return exchange

    exchange = asyncio.run(call())
    (only,) = exchange.calls
    assert only["request"]["path"] == "/v1beta/models/m:streamGenerateContent?alt=sse"
    assert only["request"]["headers"] == {"accept": "*/*", "content-type": "application/json", "user-agent": "test"}
    assert only["request"]["body"] == {"contents": "hi"}
    assert [e[1] for e in only["response"]["events"]] == [
        'data: {"choices": [{"delta": {"content": "Hel"}}]}',
        'data: {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}', "data: [DONE]"]
    assert only["response"]["headers"] == {"content-type": "text/event-stream"}
    parsed = archive.reassemble("openai", only["response"]["events"])
    assert (parsed.text, parsed.finish_reason, parsed.kinds) == ("Hello", "stop", {"content", "finish", "done"})
    # the header values the transport forwarded are scrubbed from anything written later
    line = json.dumps(exchange_line(exchange, reply=Reply("x sk-hdrcanary-0123456789", 1, 1, 0.1, 0.2, 0.2, 1, "stop"),
                                    error=None, task="t"))
    assert "sk-hdrcanary" not in scrub(line) and "AIzaGoogCanary" not in scrub("AIzaGoogCanary0123456789abcdef")
    assert clean_path(httpx2.URL("https://x/v1/a?alt=sse&api_key=1&access_token=2")) == "/v1/a?alt=sse"


def _manifest(plan: dict) -> dict:
    return {"archive_id": "w", "backend": "local", "plan": plan, "request_settings": {"t|m": {"max_tokens": 3}},
            "models": {"m": {"provider": "openai"}}, "sessions": [{"started": "now"}]}


def test_a_killed_recording_resumes_and_other_settings_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    plan = {"t": [["a", None], ["b", None], ["c", None]]}
    writer = ArchiveWriter(folder, _manifest(plan))
    for item, status in (("a", "ok"), ("b", "error")):
        writer.write({"task": "t", "item_id": item, "model": "m", "attempt": 1, "status": status, "prompt_hash": "h"})
    writer.finish()
    torn = json.dumps({"task": "t", "item_id": "c", "model": "m", "attempt": 1, "status": "ok"}) + "\n"
    with (folder / EXCHANGES).open("ab") as fh:  # a second session killed mid-write: a torn gzip member
        fh.write(gzip.compress(torn.encode())[:24])
    lines, clean = read_lines(folder / EXCHANGES)
    assert [x["item_id"] for x in lines] == ["a", "b"] and not clean

    again = ArchiveWriter(folder, _manifest(plan))  # resumes: the torn tail is cut off
    assert again.answered == {("t", "m"): {"a": "h"}}
    again.write({"task": "t", "item_id": "b", "model": "m", "attempt": 2, "status": "ok", "prompt_hash": "h"})
    again.finish()
    lines, clean = read_lines(folder / EXCHANGES)
    assert clean and [x["item_id"] for x in lines] == ["a", "b", "b"]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert len(manifest["sessions"]) == 2 and manifest["counts"]["attempts"] == 3
    assert manifest["counts"]["items"]["t"]["m"] == {"planned": 3, "answered": 2, "failed": 0, "not_tried": 1}
    with pytest.raises(ValueError, match="another plan"):
        ArchiveWriter(folder, _manifest({"t": [["z", None]]}))
    with pytest.raises(ValueError, match="no archive at .*nowhere"):
        archive.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="archive id"):
        archive.load("no spaces allowed")


def _committed() -> list:
    """Every archive committed under data/runs/ (tracked by git: not one being recorded), with its backend;
    a skipped case when there is none.  Outside a git checkout, every archive there."""
    listed = subprocess.run(["git", "ls-files", "--", f"{RUNS_DIR.relative_to(paths.ROOT)}/*/{MANIFEST}"],
                            cwd=paths.ROOT, capture_output=True, text=True, check=False)
    ids = ({Path(f).parent.name for f in listed.stdout.split()} if listed.returncode == 0
           else set(archive.available()))
    found = [pytest.param(a, json.loads((RUNS_DIR / a / MANIFEST).read_text())["backend"], id=a)
             for a in sorted(ids) if (RUNS_DIR / a / MANIFEST).is_file()]
    return found or [pytest.param(None, None, marks=pytest.mark.skip(reason="no archive committed under data/runs/"))]


@pytest.mark.parametrize(("archive_id", "backend"), _committed())
def test_committed_archives_replay(provider, archive_id: str, backend: str) -> None:
    """A random sample of 3 exchanges of each committed archive: identical answers (local archives) or the
    same parsing (live archives, replayed offline through the local provider's protocols)."""
    seed = random.randrange(1_000_000)
    result = archive.replay(archive_id, sample=3, seed=seed, progress=False)
    assert result.kind == ("identity" if backend == "local" else "protocol")
    assert result.ok, f"archive {archive_id}, sample seed {seed}:\n{result.table.to_string()}\n{result.notes}"


def test_a_local_recording_asked_for_one_request_at_a_time_says_so(provider, tmp_path: Path, capsys) -> None:
    """``--concurrency 1`` is the default's one-at-a-time over every provider, and its note says so."""
    code = cli_main(["record", "--tasks", "arc_direct", "--models", "smollm2-135m-instruct", "--limit", "1",
                     "--max-tokens", "2", "--concurrency", "1", "--archive", str(tmp_path / "one"),
                     "--store", str(tmp_path / "s.sqlite"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "one request at a time" in out and "replay may differ" not in out
    notes = archive.load(tmp_path / "one").manifest["notes"]
    assert any("one request at a time" in n for n in notes)
