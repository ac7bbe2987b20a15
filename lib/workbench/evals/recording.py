"""Recording runs at the HTTP level: the transport wrapper, the attempt context, the secret filter.

The runner gives each SDK client an ``httpx2.AsyncClient`` whose transport is a
:class:`RecordingTransport` (``httpx2`` is the HTTP stack openai 3.x, anthropic 2.x and google-genai 3.x
speak natively).  Around each attempt the runner sets :data:`CURRENT` to a fresh :class:`Exchange`; the
transport, running in the same task, appends the request (method, path, kept headers, JSON body) and
the streamed response (status, kept headers, each SSE event as ``[ms since the request, "raw event"]``,
or the body) as they pass, without re-encoding anything: events are split on blank lines and kept as
text.  With no exchange set, the transport only forwards.  :func:`exchange_line` turns an attempt into
one archive line (:mod:`workbench.evals.archive_format` writes it).

Secrets never reach an archive: request headers are kept only from an allow-list (never
``authorization``, ``x-api-key``, ``x-goog-api-key``, cookies), query parameters that look like
credentials (``key=``, tokens, signatures) are dropped from paths, error bodies pass through
:func:`~workbench.evals.streams.redact`, and :func:`scrub` removes every credential value the
transports forwarded, and those of the API-key variables, from each line before it is written.
"""
from __future__ import annotations

import json
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx2

from .streams import Reply, redact

__all__ = [
    "AUTH_HEADERS",
    "CURRENT",
    "Exchange",
    "RecordingTransport",
    "SseSplitter",
    "clean_path",
    "exchange_line",
    "scrub",
]

#: Request headers that carry credentials: never recorded.
AUTH_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization",
                          "cookie", "x-goog-user-project"})
_REQUEST_HEADERS = frozenset({"content-type", "accept", "user-agent", "x-goog-api-client"})
_REQUEST_PREFIXES = ("x-stainless-", "anthropic-", "openai-")
_RESPONSE_HEADERS = frozenset({"content-type", "retry-after", "x-request-id", "request-id",
                               "openai-processing-ms", "openai-version"})
_SECRET_WORDS = re.compile(r"key|token|secret|signature|auth|password|cookie|credential", re.IGNORECASE)
_KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")

#: The attempt being recorded in this task (set by the runner around each attempt; None: not recording).
CURRENT: ContextVar[Exchange | None] = ContextVar("workbench_evals_exchange", default=None)
_seen_secrets: set[str] = set()  # credential values the transports forwarded (memory only, for scrubbing)


@dataclass
class Exchange:
    """The HTTP calls of one attempt, as the transport saw them (normally one call)."""

    calls: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# The transport
# --------------------------------------------------------------------------------------------


def _kept_request_header(name: str) -> bool:
    if name in AUTH_HEADERS or _SECRET_WORDS.search(name):
        return False
    return name in _REQUEST_HEADERS or name.startswith(_REQUEST_PREFIXES)


def clean_path(url: httpx2.URL) -> str:
    """The URL's path and query, without query parameters that look like credentials (``key=``...)."""
    query = [(k, v) for k, v in parse_qsl(url.query.decode("ascii", "replace"), keep_blank_values=True)
             if not _SECRET_WORDS.search(k)]
    return url.path + (f"?{urlencode(query)}" if query else "")


def _remember_secrets(headers: httpx2.Headers) -> None:
    for name in AUTH_HEADERS:
        value = headers.get(name)
        if value:
            _seen_secrets.add(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "basic"):
                _seen_secrets.add(token)


def _body(raw: bytes) -> Any:
    """A request body as JSON when it is JSON, else as text."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class SseSplitter:
    """Cut a byte stream into server-sent events (blocks separated by a blank line), as text."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[str]:
        """The events completed by ``chunk``."""
        self._buf += chunk
        if b"\n\n" not in self._buf and b"\r\n\r\n" not in self._buf:
            return []
        text = self._buf.replace(b"\r\n", b"\n")
        *done, self._buf = text.split(b"\n\n")
        return [block.decode("utf-8", "replace") for block in done if block.strip()]

    def tail(self) -> str | None:
        """What is left after the last blank line (a stream cut mid-event), or None."""
        rest, self._buf = self._buf, b""
        return rest.decode("utf-8", "replace") if rest.strip() else None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


class _RecordingStream(httpx2.AsyncByteStream):
    """A response body that notes each SSE event (or the body) with its time as it is read."""

    def __init__(self, inner: Any, record: dict[str, Any], start: float, sse: bool) -> None:
        self._inner, self._record, self._start, self._sse = inner, record, start, sse
        self._split = SseSplitter() if sse else None
        self._parts: list[bytes] = []
        self._done = False
        if sse:
            record["events"] = []

    async def __aiter__(self) -> Any:
        events = self._record.get("events")
        try:
            async for chunk in self._inner:
                if self._split is not None:
                    for block in self._split.feed(chunk):
                        events.append([_ms(self._start), block])
                else:
                    self._parts.append(chunk)
                yield chunk
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._record["end_ms"] = _ms(self._start)
        if self._split is not None:
            tail = self._split.tail()
            if tail is not None:
                self._record["events"].append([self._record["end_ms"], tail])
        elif self._parts:
            self._record["body"] = b"".join(self._parts).decode("utf-8", "replace")

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._finish()


class RecordingTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport that records every call made while :data:`CURRENT` holds an exchange.

    Args:
        inner: the transport that really sends (default: an ``httpx2.AsyncHTTPTransport`` with the
            SDKs' own connection limits).
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        exchange = CURRENT.get()
        if exchange is None:
            return await self._inner.handle_async_request(request)
        _remember_secrets(request.headers)
        start = time.perf_counter()
        call: dict[str, Any] = {"request": {
            "method": request.method, "path": clean_path(request.url),
            "headers": {k: v for k, v in request.headers.items() if _kept_request_header(k.lower())},
            "body": _body(await request.aread())}}
        exchange.calls.append(call)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            call["response"] = {"status": None, "error": type(exc).__name__, "end_ms": _ms(start)}
            raise
        record: dict[str, Any] = {
            "status": response.status_code, "headers_ms": _ms(start),
            "headers": {k: v for k, v in response.headers.items() if k.lower() in _RESPONSE_HEADERS}}
        call["response"] = record
        sse = "text/event-stream" in response.headers.get("content-type", "")
        return httpx2.Response(response.status_code, headers=response.headers, extensions=response.extensions,
                               stream=_RecordingStream(response.stream, record, start, sse))

    async def aclose(self) -> None:
        await self._inner.aclose()



def _secrets() -> list[str]:
    found = set(_seen_secrets)
    found.update(v for v in (os.environ.get(n) for n in _KEY_VARIABLES) if v and len(v) >= 4)
    return sorted(found, key=len, reverse=True)


def scrub(text: str) -> str:
    """``text`` without any credential value seen by a transport or set in the key variables.

    Only exact values are replaced, so a model's reply is never altered by a look-alike pattern
    (error bodies and messages are also passed through :func:`~workbench.evals.streams.redact`).
    """
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def exchange_line(exchange: Exchange | None, *, reply: Reply | None, error: tuple[str, str] | None,
                  **fields: Any) -> dict[str, Any]:
    """One archive line: ``fields`` (task, item_id, model, attempt, protocol, ...), the HTTP call, the
    reply's timings, usage, finish reason and text, or the error ``(kind, message)``."""
    calls = exchange.calls if exchange is not None else []
    line: dict[str, Any] = {**fields, "status": "ok" if reply is not None else "error"}
    if calls:
        line["request"], line["response"] = calls[-1]["request"], calls[-1].get("response")
        response = line["response"] or {}
        if response.get("status") != 200 and isinstance(response.get("body"), str):
            response["body"] = redact(response["body"])
        if len(calls) > 1:
            line["earlier_calls"] = calls[:-1]
    if reply is not None:
        line.update(text=reply.text, finish_reason=reply.finish_reason, chunks=reply.chunks,
                    usage=[reply.input_tokens, reply.output_tokens],
                    timings={"ttft_s": reply.ttft_s, "content_s": reply.content_s, "latency_s": reply.latency_s})
    if error is not None:
        line["error"] = {"kind": error[0], "message": error[1]}
    return line
