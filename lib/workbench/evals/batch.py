"""Batch runs: each model's items through its provider's batch API, polled, resumable, stored like streamed ones.

:func:`run` (``python -m workbench.evals run --batch ...``) draws each task's items as the streamed runner
does (:mod:`workbench.evals.runner`: same sample, prompts, output caps and sampling settings, same prompt
hash), then submits one batch per model with the official SDK of its provider:

* OpenAI: the requests as a JSONL file (``client.files.create(purpose="batch")``), then
  ``client.batches.create(endpoint="/v1/chat/completions", completion_window="24h")``; results from the
  output and error files (``client.files.content``);
* Anthropic: ``client.messages.batches.create(requests=[{"custom_id", "params"}])``; results from
  ``client.messages.batches.results``;
* Gemini: ``client.batches.create(model=..., src=[inlined requests])``; results inlined in the ended job.

Each batch id goes into the results store (table ``batches``: run id, model, backend, provider, batch id,
the provider's last state, the items it carries, submitted and finished times) as soon as the provider has accepted it, and
polling starts only then: a run that is interrupted (Ctrl-C, a kill, a closed laptop, ``wait`` seconds
passed) and started again with the same run id polls the same batches instead of submitting them again.
Polling shows a tqdm bar of items finished (OpenAI counts as it goes; Anthropic and Gemini report at the
end). A batch's results and its finish time are written in one transaction, so an interruption while
collecting stores nothing twice.

Results are stored as the streamed runner stores them, one row per item and attempt, with what a batch
cannot measure left NULL and marked: ``ttft_s``, ``itl_s``, ``tokens_per_s`` and ``latency_s`` are NULL (a
batch item has no stream and no latency of its own); ``details`` holds ``mode: "batch"``, the batch id and
the batch's turnaround. ``cost_usd`` is the batch price (:func:`workbench.pricing.request_cost` with
``batch=True``, every tier, from the provider's usage), NULL when ``data/prices.csv`` has no batch rate
for the model on the run date (a run note names those models). An item that fails inside a batch (an
error result, cancelled, expired, or a batch the provider rejected or lost) is an error row with its kind:
nothing is dropped. Running the run id again submits a new batch with only the items not yet scored.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import catalog, params, pricing
from .data import Item
from .runner import RunSummary, prompt_hash, scored_row
from .sampling import RequestSettings, request_settings, settings_notes
from .store import Store, load_results, summarize
from .streams import Reply, classify_error, redact
from .tasks import TOKENIZER, Task, get_task

__all__ = ["POLL_S", "Outcome", "custom_id", "run"]

#: Seconds between polls per backend (the local provider answers in seconds, the live ones in hours).
POLL_S = {"local": 0.5, "live": 30.0}
#: Provider states that end a batch.
_DONE = {"completed", "failed", "expired", "cancelled", "ended", "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
         "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED", "lost"}


@dataclass
class Outcome:
    """One item's result in a batch: a reply with its usage, or an error ``(kind, message)``."""

    reply: Reply | None = None
    usage: pricing.Usage | None = None
    error: tuple[str, str] | None = None


def custom_id(task: str, item_id: str) -> str:
    """The request id of an item inside a batch (letters and digits: every provider's rule)."""
    return "i" + hashlib.sha256(f"{task}\n{item_id}".encode()).hexdigest()[:40]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _status_kind(status: int | None) -> str:
    """The runner's error kind for an HTTP status inside a batch result."""
    return {429: "rate_limit", 408: "timeout", 504: "timeout", 499: "cancelled"}.get(
        status or 0, "server" if (status or 500) >= 500 else "client")


def _sampling(s: RequestSettings) -> dict[str, Any]:
    """The temperature and seed a request carries (those that are None are left out)."""
    return {k: v for k, v in (("temperature", s.temperature), ("seed", s.seed)) if v is not None}


def _reply(text: str, finish: Any, n_in: int | None, n_out: int | None) -> Reply:
    finish = getattr(finish, "value", finish)
    return Reply(text, n_in, n_out, None, 0.0, None, 0, None if finish is None else str(finish))


# --------------------------------------------------------------------------------------------
# The three batch APIs, through the official SDKs
# --------------------------------------------------------------------------------------------
class _OpenAI:
    """OpenAI Files + Batches (chat completions)."""

    @staticmethod
    def submit(client: Any, model: str, requests: list[tuple[str, str, RequestSettings]], run_id: str,
               headers: Mapping[str, str]) -> str:
        lines = []
        for cid, prompt, s in requests:
            body = {"model": model, "messages": [{"role": "user", "content": prompt}],
                    "max_completion_tokens": s.max_tokens, **_sampling(s)}
            lines.append(json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}))
        upload = client.files.create(file=(f"{run_id}-{model}.jsonl", io.BytesIO("\n".join(lines).encode())),
                                     purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                      completion_window="24h", extra_headers=dict(headers),
                                      metadata={"workbench_run_id": run_id[:512], "model": model})
        return str(batch.id)

    @staticmethod
    def poll(client: Any, batch_id: str) -> tuple[str, int | None]:
        batch = client.batches.retrieve(batch_id)
        counts = batch.request_counts
        return batch.status, (counts.completed + counts.failed) if counts else None

    @staticmethod
    def results(client: Any, batch_id: str) -> dict[str, Outcome]:
        from openai.types.chat import ChatCompletion

        batch = client.batches.retrieve(batch_id)
        out: dict[str, Outcome] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            text = client.files.content(file_id).text if file_id else ""
            for line in filter(None, (json.loads(t) for t in text.splitlines() if t.strip())):
                response, error = line.get("response"), line.get("error")
                if response and response.get("status_code") == 200:
                    done = ChatCompletion.model_validate(response["body"])
                    choice = done.choices[0]
                    out[line["custom_id"]] = Outcome(
                        _reply(choice.message.content or "", choice.finish_reason,
                               done.usage.prompt_tokens if done.usage else None,
                               done.usage.completion_tokens if done.usage else None),
                        pricing.Usage.from_openai(done.usage) if done.usage else None)
                elif response:
                    message = (response.get("body") or {}).get("error", {}).get("message", "")
                    out[line["custom_id"]] = Outcome(error=(_status_kind(response.get("status_code")), message))
                else:
                    code = str((error or {}).get("code", ""))
                    kind = code.removeprefix("batch_") if code in ("batch_expired", "batch_cancelled") else "server"
                    out[line["custom_id"]] = Outcome(error=(kind, f"{code}: {(error or {}).get('message', '')}"))
        if batch.errors and batch.errors.data:  # the provider rejected the input file
            why = "; ".join(f"line {e.line}: {e.code}: {e.message}" for e in batch.errors.data)
            out["*"] = Outcome(error=("batch_failed", why))
        return out


class _Anthropic:
    """Anthropic Message Batches."""

    @staticmethod
    def submit(client: Any, model: str, requests: list[tuple[str, str, RequestSettings]], run_id: str,
               headers: Mapping[str, str]) -> str:
        batch = client.messages.batches.create(requests=[
            {"custom_id": cid, "params": {"model": model, "max_tokens": s.max_tokens,
                                          "messages": [{"role": "user", "content": prompt}],
                                          **({"temperature": s.temperature} if s.temperature is not None else {})}}
            for cid, prompt, s in requests], extra_headers=dict(headers))
        return str(batch.id)

    @staticmethod
    def poll(client: Any, batch_id: str) -> tuple[str, int | None]:
        batch = client.messages.batches.retrieve(batch_id)
        c = batch.request_counts
        return batch.processing_status, c.succeeded + c.errored + c.canceled + c.expired

    @staticmethod
    def results(client: Any, batch_id: str) -> dict[str, Outcome]:
        kinds = {"rate_limit_error": "rate_limit", "api_error": "server", "overloaded_error": "server",
                 "timeout_error": "timeout"}
        out: dict[str, Outcome] = {}
        for entry in client.messages.batches.results(batch_id):
            result = entry.result
            if result.type == "succeeded":
                msg = result.message
                text = "".join(getattr(b, "text", "") for b in msg.content if b.type == "text")
                out[entry.custom_id] = Outcome(_reply(text, msg.stop_reason, msg.usage.input_tokens,
                                                      msg.usage.output_tokens), pricing.Usage.from_anthropic(msg.usage))
            elif result.type == "errored":
                err = result.error.error
                out[entry.custom_id] = Outcome(error=(kinds.get(err.type, "client"), f"{err.type}: {err.message}"))
            else:
                out[entry.custom_id] = Outcome(error=("cancelled" if result.type == "canceled" else "expired",
                                                      f"the batch ended with this request {result.type}"))
        return out


class _Gemini:
    """Gemini batch jobs with inlined requests."""

    @staticmethod
    def submit(client: Any, model: str, requests: list[tuple[str, str, RequestSettings]], run_id: str,
               headers: Mapping[str, str]) -> str:
        src = [{"contents": prompt, "config": {"max_output_tokens": s.max_tokens, **_sampling(s)},
                "metadata": {"key": cid}} for cid, prompt, s in requests]
        job = client.batches.create(model=model, src=src, config={
            "display_name": f"{run_id} {model}"[:128], **({"http_options": {"headers": dict(headers)}} if headers else {})})
        return str(job.name)

    @staticmethod
    def poll(client: Any, batch_id: str) -> tuple[str, int | None]:
        job = client.batches.get(name=batch_id)
        return str(getattr(job.state, "value", job.state)), None

    @staticmethod
    def results(client: Any, batch_id: str) -> dict[str, Outcome]:
        job = client.batches.get(name=batch_id)
        status = {400: "client", 429: "rate_limit", 499: "cancelled", 504: "expired"}
        out: dict[str, Outcome] = {}
        for entry in (job.dest.inlined_responses if job.dest and job.dest.inlined_responses else []):
            key = (entry.metadata or {}).get("key", "")
            if entry.response is not None:
                r = entry.response
                finish = r.candidates[0].finish_reason if r.candidates else None
                text = "".join(p.text for c in r.candidates or [] for p in (c.content.parts if c.content else None) or []
                               if p.text and not p.thought)
                meta = r.usage_metadata
                out[key] = Outcome(_reply(text, finish, meta.prompt_token_count if meta else None,
                                          meta.candidates_token_count if meta else None),
                                   pricing.Usage.from_gemini(meta) if meta else None)
            else:
                code = entry.error.code if entry.error else None
                out[key] = Outcome(error=(status.get(code or 0, _status_kind(code)),
                                          entry.error.message if entry.error else "no response and no error"))
        return out


_APIS: dict[str, Any] = {"openai": _OpenAI, "anthropic": _Anthropic, "google": _Gemini}


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
def _check(limit: Any, seed: Any, max_tokens: Any, temperature: Any, poll_interval: Any, wait: Any) -> None:
    """One :class:`~workbench.params.ParameterError` naming the first bad argument of :func:`run`."""
    if limit is not None:
        params.count(limit, "limit")
    params.count(seed, "seed", minimum=-(2**63))
    for value in (max_tokens.values() if isinstance(max_tokens, Mapping) else [max_tokens]):
        if value is not None:
            params.count(value, "max_tokens")
    if temperature is not None:
        params.number(temperature, "temperature")
    if poll_interval is not None:
        params.positive(poll_interval, "poll_interval")
    if wait is not None:
        params.number(wait, "wait")


class _Collector:
    """Turns a batch's outcomes into store rows: scored replies, and errors for everything else."""

    def __init__(self, db: Store, run_id: str, backend: str, tasks: Mapping[str, Task],
                 plans: Mapping[str, list[Item]], run_date: date) -> None:
        self.db, self.run_id, self.backend, self.tasks, self.run_date = db, run_id, backend, tasks, run_date
        self.items = {(t, it.id): it for t, its in plans.items() for it in its}
        self.unpriced: set[str] = set()

    def item(self, task: str, item_id: str) -> Item:
        if (task, item_id) not in self.items:  # a batch submitted by an earlier call with other arguments
            self.items.update({(task, it.id): it for it in get_task(task).items()})
        return self.items[(task, item_id)]

    def cost(self, model: str, usage: pricing.Usage | None) -> float | None:
        if usage is None:
            return None
        try:
            return pricing.request_cost(model, usage, on=self.run_date, batch=True)
        except ValueError:  # no (batch) price for this model on the run date
            self.unpriced.add(model)
            return None

    def rows(self, batch: Mapping[str, Any], outcomes: Mapping[str, Outcome], state: str) -> list[dict[str, Any]]:
        model, finished = batch["model"], _now()
        turnaround = (datetime.fromisoformat(finished) - datetime.fromisoformat(batch["submitted_at"])).total_seconds()
        so_far: dict[str, dict[str, int]] = {}
        rows = []
        for cid, (task_name, item_id, phash) in json.loads(batch["items"]).items():
            if task_name not in so_far:
                so_far[task_name] = self.db.attempts_so_far(self.run_id, task_name, model, self.backend)
            base = {"run_id": self.run_id, "task": task_name, "item_id": item_id, "model": model,
                    "backend": self.backend, "attempt": so_far[task_name].get(item_id, 0) + 1,
                    "provider": batch["provider"], "prompt_hash": phash, "tokenizer": TOKENIZER,
                    "started_at": batch["submitted_at"], "finished_at": finished}
            details = {"mode": "batch", "batch_id": batch["batch_id"], "batch_state": state,
                       "batch_turnaround_s": round(turnaround, 3)}
            got = outcomes.get(cid) or outcomes.get("*") or Outcome(
                error=("missing", f"the batch ended ({state}) without a result for this request"))
            if got.reply is None:
                kind, message = got.error or ("other", "")
                rows.append({**base, "status": "error", "error_kind": kind, "error": redact(message)[:2000],
                             "details": details})
                continue
            task = self.tasks.get(task_name) or get_task(task_name)
            try:
                score = task.score(self.item(task_name, item_id), got.reply.text)
            except Exception as exc:  # noqa: BLE001  recorded as a failed item, as the streamed runner does
                rows.append({**base, "status": "error", "response": got.reply.text, "error_kind": "scoring",
                             "error": redact(f"scoring failed: {type(exc).__name__}: {exc}"), "details": details})
                continue
            row = {**base, **scored_row(model, got.reply, score, self.run_date)}
            row["details"] = {**{k: v for k, v in row["details"].items() if k != "chunks"}, **details}
            row.update(ttft_s=None, itl_s=None, tokens_per_s=None, latency_s=None,
                       cost_usd=self.cost(model, got.usage))
            rows.append(row)
        return rows


def run(
    tasks: str | Task | Iterable[str | Task],
    models: str | Iterable[str],
    backend: str = "local",
    *,
    limit: int | None = 20,
    seed: int = 0,
    run_id: str | None = None,
    store: str | Path | None = None,
    max_tokens: int | Mapping[str, int] | None = None,
    temperature: float | None = 0.0,
    poll_interval: float | None = None,
    wait: float | None = None,
    headers: Mapping[str, str] | None = None,
    progress: bool = True,
    client_factory: Any = None,
) -> RunSummary:
    """Run tasks x models through the providers' batch APIs (one batch per model) and store every item.

    Args:
        tasks, models, backend, limit, seed, store, max_tokens, temperature, progress: as in
            :func:`workbench.evals.runner.run`.
        run_id: the run's name; run it again to resume: batches in the store are polled, not resubmitted.
        poll_interval: seconds between polls (default :data:`POLL_S` of the backend).
        wait: stop polling after this many seconds and return (the batches go on; resume later with the
            run id); None polls until every batch has ended, 0 submits and returns.
        headers: extra HTTP headers sent when a batch is created (e.g. the local provider's
            ``x-workbench-batch-hold`` and ``x-workbench-batch-expires-in``, to test waiting and expiry).
        client_factory: ``model_id -> (provider, sync SDK client)``; default
            ``workbench.clients.for_model(model, backend)``.

    Returns:
        A :class:`~workbench.evals.runner.RunSummary`; ``requests`` counts the items submitted by this call.
    """
    from .. import clients

    started = time.perf_counter()
    backend = clients.check_backend(backend)
    task_list = [t if isinstance(t, Task) else get_task(t) for t in ([tasks] if isinstance(tasks, (str, Task))
                                                                      else list(tasks))]
    if not task_list:
        raise params.ParameterError("tasks", "at least one task", tasks)
    model_list = catalog.check_models(models, param="models")
    _check(limit, seed, max_tokens, temperature, poll_interval, wait)
    run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{backend}-batch"
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise params.ParameterError("run_id", "a non-empty string of at most 200 characters", run_id)
    # a batch asks no token log-probabilities (the items' confidence stays empty)
    settings = {(t.name, m): replace(request_settings(t, m, backend, max_tokens=max_tokens, temperature=temperature),
                                     top_logprobs=None)
                for t in task_list for m in model_list}
    plans = {t.name: t.sample(limit, seed) for t in task_list}
    notes = [(f"batch mode: one batch per model through its provider's batch API; no TTFT, ITL or latency per "
              f"item (stored as NULL, details.mode = 'batch'); output tokens counted with {TOKENIZER}"),
             "cost: the batch price of the model id at the run date x provider-reported usage"]
    notes.extend(settings_notes(settings, backend))
    if any(t.top_logprobs is not None for t in task_list):
        notes.append("batch mode asks no token log-probabilities: the items' confidence is empty")
    model_clients = {m: client_factory(m) if client_factory is not None else clients.for_model(m, backend)
                     for m in model_list}
    db = Store(store)
    try:
        db.start_run(run_id, backend, {
            "mode": "batch", "tasks": [t.name for t in task_list], "models": model_list, "backend": backend,
            "limit": limit, "seed": seed, "max_tokens": max_tokens, "temperature": temperature, "tokenizer": TOKENIZER,
            "notes": notes, "request_settings": {f"{t}|{m}": s.to_dict() for (t, m), s in settings.items()}})
        by_name = {t.name: t for t in task_list}
        open_batches, submitted, skipped = _submit(db, run_id, backend, by_name, settings, plans, model_clients,
                                                   headers or {})
        collector = _Collector(db, run_id, backend, by_name, plans, date.today())
        _poll(db, open_batches, model_clients, collector, poll_interval or POLL_S[backend], wait, progress, run_id)
    finally:
        db.close()
        for _, client in model_clients.values():
            close = getattr(client, "close", None)
            if callable(close):
                close()
    if collector.unpriced:
        notes.append(f"no batch price on the run date for {', '.join(sorted(collector.unpriced))}: cost left empty")
    waiting = [b for b in open_batches if b["finished_at"] is None]
    if waiting:
        notes.append(f"{len(waiting)} batch(es) still running ({', '.join(b['batch_id'] for b in waiting)}): run "
                     f"again with run id {run_id!r} to collect them")
    table = summarize(load_results(run_id, db.path))
    return RunSummary(run_id, db.path, table, submitted, skipped, time.perf_counter() - started, notes)


def _submit(db: Store, run_id: str, backend: str, tasks: Mapping[str, Task],
            settings: Mapping[tuple[str, str], RequestSettings],
            plans: Mapping[str, list[Item]], model_clients: Mapping[str, tuple[str, Any]],
            headers: Mapping[str, str]) -> tuple[list[dict[str, Any]], int, int]:
    """Plan the run and submit one batch per model for the items not yet scored, unless a batch of that
    model is still running (it is polled, not submitted again; what it leaves undone goes in the next
    call's batch). Returns the batches to poll, the items submitted and the items already scored."""
    models = list(model_clients)
    open_batches = [b for b in db.batches(run_id) if b["finished_at"] is None and b["model"] in models]
    submitted = skipped = 0
    for model, (provider, client) in model_clients.items():
        todo: list[tuple[str, str, RequestSettings]] = []
        items: dict[str, list[str]] = {}
        for task_name, planned in plans.items():
            s, task = settings[(task_name, model)], tasks[task_name]
            db.add_plan(run_id, task_name, model, backend, [(it.id, it.stratum) for it in planned])
            done = db.done(run_id, task_name, model, backend)
            for it in planned:
                prompt = task.prompt(it)
                h = prompt_hash(prompt, s.max_tokens, s.temperature, s.seed)
                if done.get(it.id) == h:
                    skipped += 1
                    continue
                todo.append((custom_id(task_name, it.id), prompt, s))
                items[todo[-1][0]] = [task_name, it.id, h]
        if todo and not any(b["model"] == model for b in open_batches):
            batch_id = _APIS[provider].submit(client, model, todo, run_id, headers)
            db.add_batch(run_id, model, backend, provider, batch_id, items)
            open_batches.extend(db.batches(run_id, batch_id))
            submitted += len(todo)
    return open_batches, submitted, skipped


def _poll(db: Store, batches: list[dict[str, Any]], model_clients: Mapping[str, tuple[str, Any]],
          collector: _Collector, interval: float, wait: float | None, progress: bool, run_id: str) -> None:
    """Poll ``batches`` until each has ended (its results then stored) or ``wait`` seconds have passed."""
    deadline = math.inf if wait is None else time.monotonic() + wait
    sizes = {b["batch_id"]: len(json.loads(b["items"])) for b in batches}
    seen = dict.fromkeys(sizes, 0)
    bar = tqdm(total=sum(sizes.values()), desc=f"batch {run_id}", unit="item", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    try:
        while True:
            for b in [b for b in batches if b["finished_at"] is None]:
                provider, client = model_clients[b["model"]]
                api = _APIS[provider]
                try:
                    state, finished = api.poll(client, b["batch_id"])
                    outcomes = api.results(client, b["batch_id"]) if state in _DONE else {}
                except Exception as exc:  # noqa: BLE001  a poll that fails is tried again, unless the batch is gone
                    kind, retryable = classify_error(exc)
                    if retryable:
                        bar.set_postfix(poll_error=kind, refresh=False)
                        continue
                    state, finished = "lost", None
                    outcomes = {"*": Outcome(error=("batch_lost", redact(f"{type(exc).__name__}: {exc}")[:2000]))}
                if state in _DONE:
                    db.update_batch(run_id, b["batch_id"], state, collector.rows(b, outcomes, state))
                    b.update(db.batches(run_id, b["batch_id"])[0])
                    finished = sizes[b["batch_id"]]
                elif state != b["state"]:
                    db.update_batch(run_id, b["batch_id"], state)
                    b["state"] = state
                if finished is not None and finished > seen[b["batch_id"]]:
                    bar.update(finished - seen[b["batch_id"]])
                    seen[b["batch_id"]] = finished
            left = [b for b in batches if b["finished_at"] is None]
            bar.set_postfix(batches_running=len(left), refresh=True)
            if not left or time.monotonic() + interval > deadline:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the batches go on at the providers; run again with run id {run_id!r} to resume "
              "polling them (nothing is submitted twice)", file=sys.stderr)
        raise
    finally:
        bar.close()
