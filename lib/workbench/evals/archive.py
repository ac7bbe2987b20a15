"""Reading run archives: a table of exchanges, the results store re-scored, and replays through the engine.

An archive (format: :mod:`workbench.evals.archive_format`) is written by ``evals.run(..., archive=ID)``
or ``python -m workbench.evals record``.  Three uses::

    from workbench.evals import archive
    a = archive.load("ladder-2026-12")            # an id under data/runs/, or a folder
    a.manifest["models"], a.exchanges             # one row per attempt
    run_id = archive.to_store(a)                  # into results/evals.sqlite, every reply re-scored
    archive.replay(a, sample=5).table             # re-sent through the local provider

* :func:`to_store` imports every attempt into a results store (:mod:`workbench.evals.store`) under the
  archive's id, re-scoring each reply with the *current* task scorers (a scorer fix applies to old
  recordings), so every summary (``store.summarize``, the chapters' tables) runs on a recorded run with
  no engine.  Each row carries the archive id.
* :func:`replay` re-sends a random sample of recorded requests, one at a time, through the local
  provider.  For a LOCAL archive the provider must serve the very model file (sha256 from the manifest,
  else a clear error) and the reassembled text must be identical; for a LIVE archive the replay checks
  protocol fidelity: each local response must parse the way the recorded one did (an end marker, a
  finish reason, usage when the recording had it, the same kinds of events), not the same text.
"""
from __future__ import annotations

import concurrent.futures
import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from tqdm import tqdm

from .archive_format import (
    EXCHANGES,
    MANIFEST,
    RUNS_DIR,
    archive_folder,
    local_facts,
    read_lines,
)
from .recording import SseSplitter
from .runner import scored_row
from .scorers import Score
from .store import Store
from .streams import Reply, logprob_entry, redact
from .tasks import TOKENIZER, Task, get_task, needle_task

__all__ = ["Archive", "Parsed", "Replay", "available", "load", "reassemble", "replay", "to_store"]

#: Output cap put on LIVE recorded requests replayed through the local stand-in (their own caps are sized
#: for reasoning models; the check is about the protocol, not the text).
LIVE_REPLAY_MAX_TOKENS = 64


@dataclass
class Archive:
    """A loaded archive.

    Attributes:
        path: its folder.
        manifest: ``manifest.json`` as a dict.
        exchanges: one row per attempt: task, item_id, model, attempt, protocol, status, prompt_hash,
            started_at, method, path, body (the request JSON), headers, http_status, events (the SSE
            events as ``[ms, text]``), response_body, text, finish_reason, chunks, input_tokens,
            output_tokens, ttft_s, content_s, latency_s, error_kind, error.
        complete: False when the exchanges file ended mid-line (a killed recording).
    """

    path: Path
    manifest: dict[str, Any]
    exchanges: pd.DataFrame
    complete: bool = True

    @property
    def id(self) -> str:
        """The archive id."""
        return str(self.manifest.get("archive_id") or self.path.name)

    @property
    def backend(self) -> str:
        """``"local"`` or ``"live"``."""
        return str(self.manifest["backend"])


_COLUMNS = ("task", "item_id", "model", "attempt", "protocol", "status", "prompt_hash", "started_at",
            "method", "path", "body", "headers", "http_status", "events", "response_body", "text",
            "finish_reason", "chunks", "input_tokens", "output_tokens", "ttft_s", "content_s", "latency_s",
            "error_kind", "error")


def _row(line: dict[str, Any]) -> dict[str, Any]:
    request = line.get("request") or {}
    response = line.get("response") or {}
    usage = line.get("usage") or [None, None]
    timings = line.get("timings") or {}
    error = line.get("error") or {}
    return {
        **{k: line.get(k) for k in ("task", "item_id", "model", "attempt", "protocol", "status", "prompt_hash",
                                    "started_at", "text", "finish_reason", "chunks")},
        "method": request.get("method"), "path": request.get("path"), "body": request.get("body"),
        "headers": request.get("headers") or {}, "http_status": response.get("status"),
        "events": response.get("events"), "response_body": response.get("body"),
        "input_tokens": usage[0], "output_tokens": usage[1],
        "ttft_s": timings.get("ttft_s"), "content_s": timings.get("content_s"),
        "latency_s": timings.get("latency_s"), "error_kind": error.get("kind"), "error": error.get("message"),
    }


def available(folder: Path | None = None) -> list[str]:
    """Ids of the archives under ``folder`` (default ``data/runs/``), sorted."""
    root = folder or RUNS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file())


def load(archive: str | Path | Archive) -> Archive:
    """Read an archive: its manifest and a DataFrame of its exchanges (see :class:`Archive`).

    Args:
        archive: an archive id under ``data/runs/``, a folder, or an :class:`Archive` (returned as is).

    Raises:
        ValueError: no archive there (the message lists the ids under ``data/runs/``).
    """
    if isinstance(archive, Archive):
        return archive
    folder = archive_folder(archive)
    if not (folder / MANIFEST).is_file():
        ids = available()
        raise ValueError(f"archive: no archive at {folder} (no {MANIFEST}); archives under {RUNS_DIR}: "
                         f"{', '.join(ids) if ids else 'none'}")
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    lines, complete = read_lines(folder / EXCHANGES)
    frame = pd.DataFrame([_row(line) for line in lines], columns=list(_COLUMNS))
    return Archive(folder, manifest, frame, complete)


# --------------------------------------------------------------------------------------------
# Into the results store, re-scored
# --------------------------------------------------------------------------------------------


def _tasks(manifest: dict[str, Any]) -> dict[str, Task]:
    """The archive's tasks as they are defined now (the needle grid rebuilt from its recorded options)."""
    params = manifest.get("parameters") or {}
    options = params.get("task_options") or {}
    out = {}
    for name in manifest["plan"]:
        opts = options.get(name) or {}
        if name == "needle" and opts:
            out[name] = needle_task(opts["lengths"], opts["depths"], opts.get("per_cell", 4))
        else:
            out[name] = get_task(name)
    return out


def _reply(r: Any) -> Reply:
    return Reply(r.text or "", _int(r.input_tokens), _int(r.output_tokens), _float(r.ttft_s),
                 _float(r.latency_s) or 0.0, _float(r.content_s), int(r.chunks or 0), r.finish_reason)


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _float(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def to_store(archive: str | Path | Archive, store: str | Path | None = None, *, run_id: str | None = None,
             progress: bool = True) -> str:
    """Import an archive into a results store, re-scoring every reply with the current task scorers.

    Replies recorded with token log-probabilities (in their stream's events) get their ``confidence``
    again from those events.  The store's copy of the run (same run id) is replaced.  Rows keep the recorded attempt numbers,
    timings, usage and finish reasons; cost is recomputed at the archive's creation date; each row's
    ``archive_id`` names the archive.  A recorded reply whose item is no longer in its task, or whose
    scoring fails, becomes an ``error`` row (``error_kind="scoring"``) that says why.

    Args:
        archive: an archive id, folder, or :class:`Archive`.
        store: the SQLite file (default ``results/evals.sqlite``).
        run_id: the run id in the store (default: the archive id).
        progress: show a tqdm progress bar while re-scoring.

    Returns:
        The run id (pass it to ``evals.load_results``).
    """
    a = load(archive)
    m = a.manifest
    run_id = run_id or a.id
    tasks = _tasks(m)
    items = {name: {it.id: it for it in task.items()} for name, task in tasks.items()}
    on = date.fromisoformat(str(m["created"])[:10])
    records = list(a.exchanges.itertuples(index=False))

    def rescore(r: Any) -> Score | str | None:
        if r.status != "ok":
            return None
        item = items.get(r.task, {}).get(r.item_id)
        if item is None:
            return f"item {r.item_id!r} is no longer in task {r.task!r}"
        task = tasks[r.task]
        logprobs = (reassemble(r.protocol, r.events).logprobs
                    if task.confidence is not None and r.protocol in _PARSERS and r.events else None)
        try:
            return task.score(item, r.text or "", logprobs)
        except Exception as exc:  # noqa: BLE001 (a scorer failure is reported on the row, never hidden)
            return redact(f"scoring failed: {type(exc).__name__}: {exc}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # sandboxes: 2 cores
        scores = list(tqdm(pool.map(rescore, records), total=len(records), desc=f"re-score {a.id}",
                           unit="reply", disable=not progress))
    rows = []
    for r, score in zip(records, scores, strict=True):
        base = {"run_id": run_id, "task": r.task, "item_id": r.item_id, "model": r.model, "backend": a.backend,
                "attempt": int(r.attempt), "provider": r.protocol,  # the SDK that asked, as the runner stores it
                "prompt_hash": r.prompt_hash, "tokenizer": TOKENIZER, "archive_id": a.id,
                "started_at": r.started_at}
        if isinstance(score, Score):
            rows.append({**base, **scored_row(r.model, _reply(r), score, on)})
        elif isinstance(score, str):
            rows.append({**base, "status": "error", "response": r.text, "error_kind": "scoring", "error": score})
        else:
            rows.append({**base, "status": "error", "error_kind": r.error_kind, "error": r.error})
    config = {**(m.get("parameters") or {}), "backend": a.backend, "archive_id": a.id,
              "imported_from": str(a.path), "notes": m.get("notes", []),
              "request_settings": m.get("request_settings", {})}
    with Store(store) as db:
        db.delete_run(run_id)
        db.start_run(run_id, a.backend, config)
        for task, plan in m["plan"].items():
            for model in m["models"]:
                db.add_plan(run_id, task, model, a.backend, [(i, s) for i, s in plan])
        db.record_many(rows)
    return run_id


# --------------------------------------------------------------------------------------------
# Parsing recorded streams
# --------------------------------------------------------------------------------------------


@dataclass
class Parsed:
    """A streamed response reassembled from its raw SSE events (the runner's rules, per protocol).

    Attributes:
        text: the reply text (Gemini thought parts excluded).
        finish_reason: the protocol's stop reason.
        input_tokens / output_tokens: usage, when reported.
        ended: the protocol's end marker came (finish reason; Anthropic ``message_stop``).
        kinds: the kinds of events seen (e.g. ``role``, ``content``, ``finish``, ``usage``, ``done``;
            Anthropic event types).
        logprobs: the token log-probabilities the events carried (OpenAI chat chunks' ``logprobs.content``,
            one entry per generated token, as :attr:`~workbench.evals.streams.Reply.logprobs`), or None.
    """

    text: str = ""
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    ended: bool = False
    kinds: set[str] = field(default_factory=set)
    logprobs: list[dict[str, Any]] | None = None


def _data(block: str) -> tuple[str | None, str]:
    """(event name, data) of one SSE block."""
    name, data = None, []
    for line in block.split("\n"):
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    return name, "\n".join(data)


def _openai(obj: dict[str, Any], out: Parsed, parts: list[str]) -> None:
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("role"):
            out.kinds.add("role")
        if delta.get("content"):
            out.kinds.add("content")
            parts.append(delta["content"])
        content = (choice.get("logprobs") or {}).get("content")
        if content:
            out.kinds.add("logprobs")
            out.logprobs = (out.logprobs or []) + [logprob_entry(t) for t in content]
        if choice.get("finish_reason"):
            out.kinds.add("finish")
            out.finish_reason = choice["finish_reason"]
    if obj.get("usage"):
        out.kinds.add("usage")
        out.input_tokens, out.output_tokens = obj["usage"].get("prompt_tokens"), obj["usage"].get("completion_tokens")
    out.ended = out.finish_reason is not None


def _anthropic(obj: dict[str, Any], out: Parsed, parts: list[str]) -> None:
    kind = obj.get("type", "")
    out.kinds.add(kind)
    if kind == "content_block_delta" and (obj.get("delta") or {}).get("type") == "text_delta":
        parts.append(obj["delta"].get("text") or "")
    elif kind == "message_start":
        usage = (obj.get("message") or {}).get("usage") or {}
        out.input_tokens, out.output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
    elif kind == "message_delta":
        usage = obj.get("usage") or {}
        out.output_tokens = usage.get("output_tokens", out.output_tokens)
        out.input_tokens = usage.get("input_tokens") or out.input_tokens
        out.finish_reason = (obj.get("delta") or {}).get("stop_reason") or out.finish_reason
    elif kind == "message_stop":
        out.ended = True


def _gemini(obj: dict[str, Any], out: Parsed, parts: list[str]) -> None:
    for cand in obj.get("candidates") or ():
        for part in (cand.get("content") or {}).get("parts") or ():
            if part.get("text") and not part.get("thought"):
                out.kinds.add("content")
                parts.append(part["text"])
        if cand.get("finishReason"):
            out.kinds.add("finish")
            out.finish_reason = cand["finishReason"]
    meta = obj.get("usageMetadata")
    if meta:
        out.kinds.add("usage")
        out.input_tokens = meta.get("promptTokenCount", out.input_tokens)
        if meta.get("candidatesTokenCount") is not None:
            out.output_tokens = meta["candidatesTokenCount"] + (meta.get("thoughtsTokenCount") or 0)
    out.ended = out.finish_reason is not None


_PARSERS = {"openai": _openai, "anthropic": _anthropic, "google": _gemini}


def reassemble(protocol: str, events: Iterable[Any]) -> Parsed:
    """Reassemble a streamed reply from raw SSE events (``[ms, text]`` pairs or texts) of ``protocol``.

    Raises:
        ValueError: an unknown protocol (one of ``openai``, ``anthropic``, ``google``).
    """
    if protocol not in _PARSERS:
        raise ValueError(f"protocol: expected one of {', '.join(_PARSERS)}, got {protocol!r}")
    out, parts = Parsed(), []
    for event in events:
        name, data = _data(event[1] if isinstance(event, list | tuple) else event)
        if data == "[DONE]":
            out.kinds.add("done")
            continue
        try:
            obj = json.loads(data)
        except ValueError:
            out.kinds.add("unparsed")
            continue
        if name == "error" or (isinstance(obj, dict) and "error" in obj and protocol != "anthropic"):
            out.kinds.add("error")
            continue
        _PARSERS[protocol](obj, out, parts)
    out.text = "".join(parts)
    return out


# --------------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------------


@dataclass
class Replay:
    """The outcome of :func:`replay`.

    Attributes:
        archive_id: the archive replayed.
        kind: ``"identity"`` (a local archive: the same model file must give the same text) or
            ``"protocol"`` (a live archive: the local responses must parse the way the recorded ones did).
        table: one row per replayed exchange: task, item_id, model, attempt, protocol, identical,
            parsed, same_events, recorded_text, replayed_text, recorded_finish, replayed_finish,
            archive_consistent (the recorded events reassemble to the recorded text), seconds.
        notes: settings that differ from the recording, caps applied, and the like.
    """

    archive_id: str
    kind: str
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Identity: every replayed text identical; protocol: every response parsed the same way."""
        if self.table.empty:
            return False
        if self.kind == "identity":
            return bool(self.table["identical"].all())
        return bool((self.table["parsed"] & self.table["same_events"]).all())


def _local_path(path: str) -> str:
    """The recorded path from its API version on (``/v1/...``, ``/v1beta/...``), dropping any proxy prefix."""
    for marker in ("/v1beta/", "/v1/"):
        at = path.find(marker)
        if at >= 0:
            return path[at:]
    return path


def _cap(protocol: str, body: dict[str, Any], cap: int) -> dict[str, Any]:
    """A copy of ``body`` with its output cap lowered to ``cap``."""
    body = json.loads(json.dumps(body))
    if protocol == "google":
        config = body.setdefault("generationConfig", {})
        config["maxOutputTokens"] = min(cap, config.get("maxOutputTokens") or cap)
    else:
        for key in ("max_completion_tokens", "max_tokens"):
            if key in body:
                body[key] = min(cap, body[key])
    return body


def _check_model_file(a: Archive, model: str, now: dict[str, Any], notes: list[str]) -> None:
    """Raise ValueError unless the provider serves ``model`` from the recorded file; note setting changes."""
    recorded = a.manifest["models"].get(model) or {}
    gguf = recorded.get("gguf") or {}
    if not gguf.get("sha256"):
        raise ValueError(f"archive {a.id}: the manifest has no model file hash for {model}; a local archive "
                         "without it cannot be replayed for identity")
    served = now.get("gguf") or {}
    if not served.get("sha256"):
        raise ValueError(f"archive {a.id}: the local provider does not report the model file it serves for "
                         f"{model}, so it cannot be checked against {gguf.get('file')}")
    if served["sha256"] != gguf["sha256"]:
        raise ValueError(f"archive {a.id}: {model} was recorded with {gguf.get('file')} (sha256 "
                         f"{gguf['sha256'][:16]}...), but the local provider serves {served.get('file')} (sha256 "
                         f"{served['sha256'][:16]}...); replay needs the same model file")
    was, is_ = recorded.get("engine") or {}, now.get("engine") or {}
    diff = [f"{k} {was.get(k)} -> {is_.get(k)}" for k in ("threads", "slots", "ctx_per_slot", "xllamacpp")
            if was.get(k) is not None and is_.get(k) is not None and was.get(k) != is_.get(k)]
    if diff:
        notes.append(f"{model}: engine settings differ from the recording ({'; '.join(diff)}); greedy output "
                     "can depend on them")


def replay(archive: str | Path | Archive, sample: int = 5, seed: int = 0, *, base_url: str | None = None,
           max_tokens: int | None = None, timeout: float = 300.0, progress: bool = True) -> Replay:
    """Re-send a random sample of an archive's answered requests through the local provider, one at a time.

    Args:
        archive: an archive id, folder, or :class:`Archive`.
        sample: how many recorded exchanges to replay (at most all answered ones).
        seed: seed of the sample.
        base_url: the local provider (default: ``workbench.clients.local_base_url()``, started if needed).
        max_tokens: output cap for LIVE archives' requests (default :data:`LIVE_REPLAY_MAX_TOKENS`);
            a local archive's requests are sent exactly as recorded.
        timeout: seconds allowed per request.
        progress: show a tqdm progress bar.

    Raises:
        ValueError: a bad ``sample``, an archive with no answered request, or (local archives) a model
            file that differs from the recorded one (the message names both files).
    """
    from .. import clients, params

    sample = params.count(sample, "sample")
    a = load(archive)
    answered = a.exchanges[a.exchanges["status"] == "ok"]
    if answered.empty:
        raise ValueError(f"archive {a.id}: no answered request to replay")
    picks = sorted(random.Random(seed).sample(range(len(answered)), min(sample, len(answered))))
    rows = answered.iloc[picks]
    base = (base_url or clients.local_base_url()).rstrip("/")
    identity = a.backend == "local"
    notes: list[str] = []
    if not identity:
        cap = max_tokens or LIVE_REPLAY_MAX_TOKENS
        notes.append(f"live archive replayed through the local stand-in with an output cap of {cap} tokens: "
                     "the check is the protocol (events and parsing), not the text")
    unchecked = sorted(set(rows["model"])) if identity else []
    if identity:
        facts = local_facts(base, unchecked)
        for model in [m for m in unchecked if (facts[m].get("gguf") or {}).get("sha256")]:
            _check_model_file(a, model, facts[model], notes)
            unchecked.remove(model)
    out = []
    with httpx.Client(timeout=timeout) as http:
        for r in tqdm(list(rows.itertuples(index=False)), desc=f"replay {a.id}", unit="request",
                      disable=not progress):
            body = r.body if identity else _cap(r.protocol, r.body, cap)
            headers = {k: v for k, v in (r.headers or {}).items() if k.lower() != "user-agent"}
            split, events, started = SseSplitter(), [], time.perf_counter()
            with http.stream(r.method, base + _local_path(r.path), json=body, headers=headers) as resp:
                for chunk in resp.iter_bytes():
                    events.extend(split.feed(chunk))
                status = resp.status_code
            tail = split.tail()
            events.extend([tail] if tail else [])
            got, was = reassemble(r.protocol, events), reassemble(r.protocol, r.events or [])
            out.append({
                "task": r.task, "item_id": r.item_id, "model": r.model, "attempt": r.attempt,
                "protocol": r.protocol, "identical": got.text == (r.text or ""),
                "parsed": status == 200 and got.ended and got.finish_reason is not None and (
                    got.output_tokens is not None or was.output_tokens is None),
                "same_events": got.kinds == was.kinds, "recorded_text": r.text, "replayed_text": got.text,
                "recorded_finish": r.finish_reason, "replayed_finish": got.finish_reason,
                "archive_consistent": was.text == (r.text or ""), "seconds": time.perf_counter() - started,
            })
    if unchecked:  # engines reported only once they have answered (started on first use)
        facts = local_facts(base, unchecked)
        for model in unchecked:
            _check_model_file(a, model, facts[model], notes)
    return Replay(a.id, "identity" if identity else "protocol", pd.DataFrame(out), notes)
