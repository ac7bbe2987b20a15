"""The three providers' batch APIs on the local provider, kept on disk and run in the background.

* **OpenAI** Files + Batches: ``POST /v1/files`` (multipart, ``purpose="batch"``, a JSONL of
  ``{"custom_id", "method", "url", "body"}`` lines), ``/v1/files[/{id}[/content]]``, ``POST /v1/batches``
  (``input_file_id``, ``endpoint`` ``/v1/chat/completions`` or ``/v1/responses``, ``completion_window``
  ``24h``), ``GET /v1/batches[/{id}]``, ``POST /v1/batches/{id}/cancel``. A file that breaks the JSONL
  rules (bad JSON, missing or repeated ``custom_id``, another URL or model) fails the batch with
  ``errors``; otherwise the results are an output file (status 200 lines) and an error file (the rest).
* **Anthropic** Message Batches: ``POST /v1/messages/batches`` (``requests`` of ``custom_id`` +
  ``params``), ``GET`` one or the list, ``/cancel``, ``/results`` (JSONL: succeeded, errored, canceled,
  expired) and ``DELETE``; request counts move out of ``processing`` when the batch ends, as documented.
* **Gemini** batch jobs: ``POST /v1beta/models/{model}:batchGenerateContent`` with inlined requests,
  ``GET /v1beta/batches[/{id}]``, ``:cancel``, ``DELETE`` (also under ``/v1``); the job is a long-running
  operation whose ``metadata.output`` holds the inlined responses in request order.

States (:mod:`.batch_jobs` runs the batches): queued (OpenAI ``validating``, Gemini ``PENDING``) →
running → completed, or cancelling → cancelled, or expired when the window ends first (24 h, or
:data:`EXPIRES_HEADER` seconds sent on creation); :data:`HOLD_HEADER` keeps a new batch queued that many
seconds. Each item is parsed by its protocol's parser and answered by the same core as a streamed
request; an item that fails (a bad body, a prompt over the context, a fault of the provider's fault
settings, drawn per item) is an errored result and the others go on. Cancelled and expired items are
listed as such: nothing is dropped. Batches live in SQLite (``$WORKBENCH_BATCH_STORE``, default
``build/local-provider/batches.sqlite``), so a provider started after one died finishes its batches.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import anthropic_messages, gemini, openai_chat, openai_common, openai_responses
from .batch_jobs import WINDOW_S, Batches, BatchStore, Job
from .core import Core
from .errors import GatewayError, bad
from .transport import read_json
from .types import new_id

__all__ = ["BATCH_STORE_ENV", "EXPIRES_HEADER", "HOLD_HEADER", "batch_routes", "store_path"]

#: Environment variable naming the SQLite file of the batches.
BATCH_STORE_ENV = "WORKBENCH_BATCH_STORE"
#: Request header (on creation): seconds until the batch expires (default 24 h).
EXPIRES_HEADER = "x-workbench-batch-expires-in"
#: Request header (on creation): seconds the batch stays queued before its first item runs.
HOLD_HEADER = "x-workbench-batch-hold"
#: The OpenAI endpoints a batch may call, and their parsers.
OPENAI_ENDPOINTS = {"/v1/chat/completions": openai_chat.parse_chat, "/v1/responses": openai_responses.parse_responses}
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_PROTOCOLS: dict[str, ModuleType] = {"openai": openai_common, "anthropic": anthropic_messages, "google": gemini}

Handler = Callable[[Request], Awaitable[Response]]
Guard = Callable[[ModuleType], Callable[[Handler], Handler]]


def _rfc3339(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _int(t: float | None) -> int | None:
    return None if t is None else int(t)


class ProtocolHandlers:
    """How the three protocols answer, fail and count one batch request (:class:`.batch_jobs.Handlers`)."""

    def __init__(self, core: Core, store: BatchStore) -> None:
        self.core = core
        self.store = store

    async def answer(self, job: Job, body: dict[str, Any]) -> dict[str, Any]:
        """The protocol's answer body to one batch request, from the generation core; a 429, 500 or time-out
        drawn from the fault settings fails this item alone (a cut connection means nothing here: ignored)."""
        if not isinstance(body, dict):
            raise bad("body", "each batch request needs a JSON object body")
        if body.get("stream"):
            raise bad("stream", "a batch request cannot stream; leave 'stream' out")
        if job.protocol == "openai":
            exchange: Any = await OPENAI_ENDPOINTS[str(job.endpoint)](self.core, body)
        elif job.protocol == "anthropic":
            exchange = await anthropic_messages.parse_messages(self.core, body)
        else:
            body = {k: v for k, v in body.items() if k != "_metadata"}  # the request's metadata, echoed back
            exchange = await gemini.parse_generate(self.core, str(job.model), body, stream=False)
        self.core.check_messages(exchange.req)
        fault = self.core.faults.draw()  # a drawn fault fails this item alone, as a provider's error
        if fault in ("429", "500", "timeout"):
            kind = {"429": "rate_limit", "500": "server", "timeout": "timeout"}[fault]
            raise GatewayError(kind, f"{kind} error (injected by the local provider's fault settings)")
        return exchange.response(await self.core.generate(exchange.req))

    def error(self, job: Job, exc: GatewayError) -> tuple[int, Any]:
        protocol = _PROTOCOLS[job.protocol]
        return protocol.error_status(exc), protocol.error_body(exc)

    def usage(self, job: Job, answer: dict[str, Any]) -> tuple[int, int]:
        if job.protocol == "google":
            meta = answer.get("usageMetadata") or {}
            return int(meta.get("promptTokenCount") or 0), int(meta.get("candidatesTokenCount") or 0)
        usage = answer.get("usage") or {}
        return (int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0),
                int(usage.get("completion_tokens") or usage.get("output_tokens") or 0))

    def ended(self, job: Job) -> None:
        """OpenAI's output file (status 200 lines) and error file (the rest) of an ended batch."""
        if job.protocol != "openai":
            return
        out: list[str] = []
        err: list[str] = []
        for custom_id, _, status, code, result in self.store.results(job):
            line: dict[str, Any] = {"id": new_id("batch_req_"), "custom_id": custom_id, "response": None,
                                    "error": None}
            if status in ("succeeded", "errored"):
                line["response"] = {"status_code": code, "request_id": new_id("req_"), "body": result}
            else:
                line["error"] = {"code": f"batch_{status}", "message": f"This request was {status} before it ran."}
            (out if status == "succeeded" else err).append(json.dumps(line))
        meta = dict(job.meta)
        for key, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                data = ("\n".join(lines) + "\n").encode()
                meta[key] = self.store.add_file(data, f"{job.id}_{key[:-8]}.jsonl", "batch_output")
        self.store.update(job, meta=meta)


def _timing(request: Request) -> dict[str, float]:
    """The window and hold of a new batch, in seconds, from :data:`EXPIRES_HEADER` and :data:`HOLD_HEADER`."""
    out = {}
    for key, header, default in (("expires_in", EXPIRES_HEADER, WINDOW_S), ("hold", HOLD_HEADER, 0.0)):
        raw = request.headers.get(header)
        try:
            out[key] = default if raw is None else float(raw)
        except ValueError:
            out[key] = -1.0
        if not out[key] >= 0:
            raise bad(header, f"expected a number of seconds >= 0, got {raw!r}")
    return out


def _multipart(request: Request, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: ``{name: (filename, bytes)}``."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise bad("file", "upload the file as multipart/form-data (what the SDK's files.create sends)")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + raw)
    return {str(p.get_param("name", header="content-disposition")): (p.get_filename(), p.get_payload(decode=True))
            for p in message.iter_parts()}


# ------------------------------------------------------------------------------------------------
# OpenAI: Files and Batches
# ------------------------------------------------------------------------------------------------
_OPENAI_STATES = {"queued": "validating", "running": "in_progress"}


def _line_problem(line: Any, endpoint: str, seen: set[str]) -> tuple[str, str, str] | None:
    """What makes one line of a batch input file invalid (code, param, message), or None."""
    if not isinstance(line, dict):
        return "invalid_json_line", "body", "Each line must be a JSON object."
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return "missing_required_parameter", "custom_id", "Missing required parameter: 'custom_id'."
    if custom_id in seen:
        return "duplicate_custom_id", "custom_id", f"The custom_id '{custom_id}' is used more than once."
    if line.get("url") != endpoint or line.get("method", "POST") != "POST":
        return "mismatched_url", "url", f"Every line must POST to the batch's endpoint {endpoint}."
    if not isinstance(line.get("body"), dict):
        return "missing_required_parameter", "body", "Missing required parameter: 'body'."
    return None


def _openai_lines(data: bytes, endpoint: str) -> tuple[list[tuple[str | None, dict[str, Any]]], list[dict[str, Any]]]:
    """The requests of a batch input file, and the errors that fail the batch (OpenAI's validation)."""
    items: list[tuple[str | None, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()
    for n, text in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            errors.append({"code": "invalid_json_line", "line": n, "param": None,
                           "message": "This line is not parseable as valid JSON."})
            continue
        problem = _line_problem(line, endpoint, seen)
        if problem is not None:
            errors.append({"code": problem[0], "line": n, "param": problem[1], "message": problem[2]})
            continue
        custom_id, body = line["custom_id"], line["body"]
        seen.add(custom_id)
        models.add(str(body.get("model")))
        items.append((custom_id, body))
    if len(models) > 1:
        errors.append({"code": "mismatched_model", "line": None, "param": "model",
                       "message": f"Every request of a batch must use one model; got {sorted(models)}."})
    if not items and not errors:
        errors.append({"code": "empty_file", "line": None, "param": None, "message": "The input file has no requests."})
    return items, errors


def _openai_batch(store: BatchStore, job: Job) -> dict[str, Any]:
    counts = store.counts(job)
    total = sum(counts.values())
    tin, tout = store.tokens(job)
    ended = job.ended_at if job.ended else None
    return {"id": job.id, "object": "batch", "endpoint": job.endpoint, "model": job.model,
            "errors": {"object": "list", "data": job.meta.get("errors", [])} if job.meta.get("errors") else None,
            "input_file_id": job.meta.get("input_file_id"), "completion_window": "24h",
            "status": _OPENAI_STATES.get(job.state, job.state), "output_file_id": job.meta.get("output_file_id"),
            "error_file_id": job.meta.get("error_file_id"), "created_at": int(job.created_at),
            "in_progress_at": _int(job.started_at), "expires_at": int(job.expires_at),
            "finalizing_at": _int(ended if job.state == "completed" else None),
            "completed_at": _int(ended if job.state == "completed" else None),
            "failed_at": _int(ended if job.state == "failed" else None),
            "expired_at": _int(ended if job.state == "expired" else None),
            "cancelling_at": _int(job.cancelling_at),
            "cancelled_at": _int(ended if job.state == "cancelled" else None),
            "request_counts": {"total": total, "completed": counts["succeeded"],
                               "failed": total - counts["succeeded"] - counts["pending"]},
            "usage": {"input_tokens": tin, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": tout,
                      "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": tin + tout},
            "metadata": job.meta.get("metadata")}


def _listing(data: list[dict[str, Any]], request: Request, key: str = "id") -> dict[str, Any]:
    """OpenAI's and Anthropic's list page (``limit``, ``after``/``after_id``)."""
    after = request.query_params.get("after") or request.query_params.get("after_id")
    try:
        limit = int(request.query_params.get("limit", 20))
    except ValueError:
        raise bad("limit", "expected an integer") from None
    if after:
        ids = [d[key] for d in data]
        data = data[ids.index(after) + 1:] if after in ids else []
    page = data[:limit]
    return {"data": page, "has_more": len(data) > limit, "first_id": page[0][key] if page else None,
            "last_id": page[-1][key] if page else None}


def _openai_routes(batches: Batches, guard: Guard) -> list[Route]:
    store = batches.store
    openai_endpoint = guard(openai_common)

    @guard(anthropic_messages)
    async def anthropic_files(request: Request) -> Response:
        raise GatewayError("not_found", f"Invalid URL ({request.method} {request.url.path}): the local provider "
                                        "serves Anthropic's Message Batches, not its Files API")

    def endpoint(handler: Handler) -> Handler:
        """OpenAI's error shape; an Anthropic SDK caller (its Files API shares ``/v1/files``) gets its own 404."""
        wrapped = openai_endpoint(handler)

        async def route(request: Request) -> Response:
            if "anthropic-version" in request.headers:
                return await anthropic_files(request)
            return await wrapped(request)

        return route

    def file_object(file_id: str) -> dict[str, Any]:
        filename, purpose, created, data = store.file(file_id)
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(created),
                "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
                "status_details": None}

    @endpoint
    async def upload(request: Request) -> Response:
        form = _multipart(request, await request.body())
        purpose = form.get("purpose", (None, b""))[1].decode()
        if purpose != "batch":
            raise bad("purpose", f"the local provider stores batch input files only (purpose 'batch'), got {purpose!r}")
        if "file" not in form:
            raise bad("file", "the upload has no 'file' part")
        filename, data = form["file"]
        return JSONResponse(file_object(store.add_file(data, filename or "upload.jsonl", purpose)))

    @endpoint
    async def file_route(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        if request.method == "DELETE":
            store.delete_file(file_id)
            return JSONResponse({"id": file_id, "object": "file", "deleted": True})
        return JSONResponse(file_object(file_id))

    @endpoint
    async def content(request: Request) -> Response:
        return Response(store.file(request.path_params["file_id"])[3], media_type="application/octet-stream")

    @endpoint
    async def files(request: Request) -> Response:
        return JSONResponse({"object": "list", **_listing([file_object(f) for f in store.file_ids()], request)})

    @endpoint
    async def create(request: Request) -> Response:
        body = await read_json(request)
        if body.get("completion_window") != "24h":
            raise bad("completion_window", f"must be '24h', got {body.get('completion_window')!r}")
        url = body.get("endpoint")
        if url not in OPENAI_ENDPOINTS:
            raise bad("endpoint", f"the local provider runs batches of {sorted(OPENAI_ENDPOINTS)}, got {url!r}")
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str):
            raise bad("input_file_id", "the id of an uploaded file with purpose 'batch' is required")
        items, errors = _openai_lines(store.file(file_id)[3], url)
        meta = {"input_file_id": file_id, "metadata": body.get("metadata"), "errors": errors}
        model = str(items[0][1].get("model")) if items else None
        job = store.create("openai", [] if errors else items, model=model, endpoint=url, meta=meta,
                           **_timing(request),
                           state="failed" if errors else "queued")
        batches.ensure(job)
        return JSONResponse(_openai_batch(store, job))

    @endpoint
    async def retrieve(request: Request) -> Response:
        return JSONResponse(_openai_batch(store, batches.get(request.path_params["batch_id"], "openai")))

    @endpoint
    async def cancel(request: Request) -> Response:
        job = store.job(request.path_params["batch_id"], "openai")
        if job.ended:
            raise GatewayError("invalid_request", f"Cannot cancel a batch with status '{job.state}'.")
        batches.cancel(job)
        return JSONResponse(_openai_batch(store, job))

    @endpoint
    async def listing(request: Request) -> Response:
        return JSONResponse({"object": "list", **_listing([_openai_batch(store, j) for j in store.jobs("openai")],
                                                          request)})

    return [Route("/v1/files", upload, methods=["POST"]), Route("/v1/files", files, methods=["GET"]),
            Route("/v1/files/{file_id}/content", content, methods=["GET"]),
            Route("/v1/files/{file_id}", file_route, methods=["GET", "DELETE"]),
            Route("/v1/batches", create, methods=["POST"]), Route("/v1/batches", listing, methods=["GET"]),
            Route("/v1/batches/{batch_id}/cancel", cancel, methods=["POST"]),
            Route("/v1/batches/{batch_id}", retrieve, methods=["GET"])]


# ------------------------------------------------------------------------------------------------
# Anthropic: Message Batches
# ------------------------------------------------------------------------------------------------
def _anthropic_batch(store: BatchStore, job: Job, base_url: str) -> dict[str, Any]:
    counts = store.counts(job)
    ended = job.ended
    return {"id": job.id, "type": "message_batch",
            "processing_status": "ended" if ended else "canceling" if job.state == "cancelling" else "in_progress",
            "request_counts": {"processing": 0 if ended else sum(counts.values()),
                               "succeeded": counts["succeeded"] if ended else 0,
                               "errored": counts["errored"] if ended else 0,
                               "canceled": counts["cancelled"] if ended else 0,
                               "expired": counts["expired"] if ended else 0},
            "ended_at": _rfc3339(job.ended_at), "created_at": _rfc3339(job.created_at),
            "expires_at": _rfc3339(job.expires_at), "archived_at": None,
            "cancel_initiated_at": _rfc3339(job.cancelling_at),
            "results_url": f"{base_url.rstrip('/')}/v1/messages/batches/{job.id}/results" if ended else None}


def _anthropic_result(status: str, result: Any) -> dict[str, Any]:
    if status == "succeeded":
        return {"type": "succeeded", "message": result}
    if status == "errored":
        return {"type": "errored", "error": result}
    return {"type": "canceled" if status == "cancelled" else "expired"}


def _anthropic_routes(batches: Batches, guard: Guard) -> list[Route]:
    store = batches.store
    endpoint = guard(anthropic_messages)

    def one(request: Request) -> Job:
        return batches.get(request.path_params["batch_id"], "anthropic")

    @endpoint
    async def create(request: Request) -> Response:
        requests = (await read_json(request)).get("requests")
        if not isinstance(requests, list) or not requests or len(requests) > 100_000:
            raise bad("requests", "expected a list of 1 to 100,000 requests")
        items: list[tuple[str | None, dict[str, Any]]] = []
        for i, entry in enumerate(requests):
            custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
            if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
                raise bad(f"requests.{i}.custom_id", "1 to 64 letters, digits, '-' or '_' are required")
            if any(custom_id == c for c, _ in items):
                raise bad(f"requests.{i}.custom_id", f"'{custom_id}' is used more than once in this batch")
            if not isinstance(entry.get("params"), dict):
                raise bad(f"requests.{i}.params", "the Messages API parameters (an object) are required")
            items.append((custom_id, entry["params"]))
        job = store.create("anthropic", items, model=None, prefix="msgbatch_",
                           **_timing(request))
        batches.ensure(job)
        return JSONResponse(_anthropic_batch(store, job, str(request.base_url)))

    @endpoint
    async def retrieve(request: Request) -> Response:
        job = one(request)
        if request.method == "DELETE":
            if not job.ended:
                raise bad("message_batch_id", "a batch still processing cannot be deleted; cancel it first")
            store.delete(job)
            return JSONResponse({"id": job.id, "type": "message_batch_deleted"})
        return JSONResponse(_anthropic_batch(store, job, str(request.base_url)))

    @endpoint
    async def cancel(request: Request) -> Response:
        job = one(request)
        batches.cancel(job)
        return JSONResponse(_anthropic_batch(store, job, str(request.base_url)))

    @endpoint
    async def results(request: Request) -> Response:
        job = one(request)
        if not job.ended:
            raise bad("message_batch_id", f"the batch {job.id} is still {job.state}; results come when it has ended")
        lines = [json.dumps({"custom_id": c, "result": _anthropic_result(s, r)}) for c, _, s, _, r in store.results(job)]
        return Response(("\n".join(lines) + "\n").encode(), media_type="application/binary")

    @endpoint
    async def listing(request: Request) -> Response:
        data = [_anthropic_batch(store, j, str(request.base_url)) for j in store.jobs("anthropic")]
        return JSONResponse(_listing(data, request))

    path = "/v1/messages/batches"
    return [Route(path, create, methods=["POST"]), Route(path, listing, methods=["GET"]),
            Route(path + "/{batch_id}/cancel", cancel, methods=["POST"]),
            Route(path + "/{batch_id}/results", results, methods=["GET"]),
            Route(path + "/{batch_id}", retrieve, methods=["GET", "DELETE"])]


# ------------------------------------------------------------------------------------------------
# Gemini: batch jobs (long-running operations)
# ------------------------------------------------------------------------------------------------
_GEMINI_STATES = {"queued": "PENDING", "running": "RUNNING", "cancelling": "RUNNING", "completed": "SUCCEEDED",
                  "cancelled": "CANCELLED", "expired": "EXPIRED", "failed": "FAILED"}
_BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch"


def _gemini_operation(store: BatchStore, job: Job) -> dict[str, Any]:
    counts = store.counts(job)
    name = f"batches/{job.id}"
    meta: dict[str, Any] = {
        "@type": _BATCH_TYPE, "name": name, "model": f"models/{job.model}",
        "displayName": job.meta.get("display_name", ""), "state": f"BATCH_STATE_{_GEMINI_STATES[job.state]}",
        "createTime": _rfc3339(job.created_at), "updateTime": _rfc3339(job.ended_at or job.started_at or job.created_at),
        "batchStats": {"requestCount": str(sum(counts.values())), "pendingRequestCount": str(counts["pending"]),
                       "successfulRequestCount": str(counts["succeeded"]),
                       "failedRequestCount": str(counts["errored"] + counts["cancelled"] + counts["expired"])}}
    op: dict[str, Any] = {"name": name, "metadata": meta, "done": job.ended}
    if job.ended:
        meta["endTime"] = _rfc3339(job.ended_at)
        why = {"cancelled": ("CANCELLED", 499, "the batch was cancelled before this request ran"),
               "expired": ("DEADLINE_EXCEEDED", 504, "the batch expired before this request ran")}
        responses = []
        for custom_id, body, status, _, result in store.results(job):
            entry: dict[str, Any] = {"metadata": body.get("_metadata")} if body.get("_metadata") else {}
            if status == "succeeded":
                entry["response"] = result
            elif status == "errored":
                entry["error"] = result["error"]
            else:
                code, number, message = why[status]
                entry["error"] = {"code": number, "message": message, "status": code}
            responses.append(entry)
        meta["output"] = {"inlinedResponses": {"inlinedResponses": responses}}
        op["response"] = {"@type": _BATCH_TYPE.replace("GenerateContentBatch", "GenerateContentBatchOutput"),
                          **meta["output"]}
    return op


def _gemini_routes(batches: Batches, guard: Guard, core: Core) -> list[Route]:
    store = batches.store
    endpoint = guard(gemini)

    @endpoint
    async def create(request: Request) -> Response:
        model = core.check_model(request.path_params["model"].removeprefix("models/"), "google")
        batch = (await read_json(request)).get("batch")
        config = batch.get("inputConfig") or batch.get("input_config") if isinstance(batch, dict) else None
        if not isinstance(config, dict):
            raise bad("batch.inputConfig", "the batch's input (inlined requests) is required")
        if "fileName" in config or "file_name" in config:
            raise bad("batch.inputConfig.fileName", "the local provider runs inlined requests only; pass src as a list")
        requests = (config.get("requests") or {}).get("requests")
        if not isinstance(requests, list) or not requests:
            raise bad("batch.inputConfig.requests.requests", "expected a non-empty list of requests")
        items: list[tuple[str | None, dict[str, Any]]] = []
        for i, entry in enumerate(requests):
            if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
                raise bad(f"batch.inputConfig.requests.requests[{i}].request", "a GenerateContentRequest is required")
            body = dict(entry["request"])
            if entry.get("metadata"):
                body["_metadata"] = entry["metadata"]
            items.append((str((entry.get("metadata") or {}).get("key", i)), body))
        job = store.create("google", items, model=model, meta={"display_name": batch.get("displayName", "")},
                           **_timing(request))
        batches.ensure(job)
        return JSONResponse(_gemini_operation(store, job))

    def one(request: Request) -> Job:
        return batches.get(request.path_params["name"], "google")

    @endpoint
    async def retrieve(request: Request) -> Response:
        job = one(request)
        if request.method == "DELETE":
            store.delete(job)
            return JSONResponse({})
        return JSONResponse(_gemini_operation(store, job))

    @endpoint
    async def cancel(request: Request) -> Response:
        batches.cancel(one(request))
        return JSONResponse({})

    @endpoint
    async def listing(request: Request) -> Response:
        return JSONResponse({"operations": [_gemini_operation(store, j) for j in store.jobs("google")]})

    routes = []
    for v in ("/v1beta", "/v1"):
        routes += [Route(v + "/models/{model}:batchGenerateContent", create, methods=["POST"]),
                   Route(v + "/batches", listing, methods=["GET"]),
                   Route(v + "/batches/{name}:cancel", cancel, methods=["POST"]),
                   Route(v + "/batches/{name}", retrieve, methods=["GET", "DELETE"])]
    return routes


def store_path() -> Path:
    """Where the provider keeps its batches: ``$WORKBENCH_BATCH_STORE``, else ``build/local-provider/batches.sqlite``."""
    from workbench import paths

    return Path(os.environ.get(BATCH_STORE_ENV) or paths.BUILD / "local-provider" / "batches.sqlite")


def batch_routes(core: Core, guard: Guard, path: str | Path | None = None) -> list[Route]:
    """The batch routes of the three protocols; ``guard`` answers errors in each protocol's shape
    (the app's ``protocol_endpoint``); batches are kept in ``path`` (default :func:`store_path`). Register
    them before the ``:generateContent`` routes."""
    store = BatchStore(path or store_path())
    batches = Batches(store, ProtocolHandlers(core, store))
    return [*_openai_routes(batches, guard), *_anthropic_routes(batches, guard), *_gemini_routes(batches, guard, core)]
