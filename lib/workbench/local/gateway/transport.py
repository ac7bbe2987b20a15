"""HTTP bodies in and out: the JSON request body, JSON and event-stream responses, injected faults.

Reading a request body (one 400 saying what is wrong with it), writing an answer as one JSON body or
as server-sent events, and the faults of :mod:`workbench.local.faults` that act on the HTTP exchange:
429/500 answered in the caller's shape, a held request answered 504, a connection cut mid-response.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..faults import FaultConfig, FaultKind
from .errors import GatewayError, bad
from .types import Event

__all__ = ["CutConnection", "apply_fault", "json_body_response", "primed", "read_json", "sse_response"]


class CutConnection(Exception):
    """Raised inside a response body to drop the connection (fault injection)."""


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    raw = await request.body()
    if not raw:
        raise bad("body", "the request body is empty; a JSON object is required")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise bad("body", f"the request body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise bad("body", f"the request body must be a JSON object, got {type(body).__name__}")
    return body


async def apply_fault(cfg: FaultConfig, fault: FaultKind | None, request: Request) -> None:
    """Raise the injected error for 429/500/timeout (a timeout is held first); cut is handled later."""
    if fault == "429":
        raise GatewayError("rate_limit", "Rate limit reached (injected by the local provider's fault settings)",
                           headers={"retry-after": f"{cfg.retry_after:g}"})
    if fault == "500":
        raise GatewayError("server", "Internal server error (injected by the local provider's fault settings)")
    if fault == "timeout":
        deadline = time.monotonic() + cfg.timeout_seconds
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                break
            await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        raise GatewayError("timeout", f"The request timed out after {cfg.timeout_seconds:g} s "
                                      "(injected by the local provider's fault settings)")


async def _cut_after(chunks: AsyncIterator[bytes], n: int) -> AsyncIterator[bytes]:
    """Pass ``n`` chunks through, then stop the generation and drop the connection."""
    i = 0
    try:
        async for chunk in chunks:
            if i >= n:
                break
            yield chunk
            i += 1
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    raise CutConnection("stream cut by fault injection")


def sse_response(chunks: AsyncIterator[bytes], *, cut: bool, headers: dict[str, str] | None = None) -> Response:
    """A ``text/event-stream`` response; with ``cut`` the connection drops after two events."""
    body = _cut_after(chunks, 2) if cut else chunks
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"cache-control": "no-cache", **(headers or {})})


def json_body_response(payload: Any, *, cut: bool = False, status: int = 200,
                       headers: dict[str, str] | None = None) -> Response:
    """A JSON response; with ``cut`` only half the body is sent before the connection drops."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    if not cut:
        return Response(data, status_code=status, media_type="application/json", headers=headers)

    async def half() -> AsyncIterator[bytes]:
        yield data[: len(data) // 2]
        raise CutConnection("response cut by fault injection")

    return StreamingResponse(half(), status_code=status, media_type="application/json",
                             headers={"content-length": str(len(data)), **(headers or {})})


async def primed(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """Run ``events`` up to its first event now, so errors before any output become HTTP errors.

    Returns an iterator that yields that first event and then the rest.
    """
    first = await events.__anext__()

    async def chain() -> AsyncIterator[Event]:
        yield first
        async for event in events:
            yield event

    return chain()
