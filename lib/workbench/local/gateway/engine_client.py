"""The gateway's HTTP client of one llama.cpp engine: its endpoints and its errors.

:class:`EngineClient` knows llama.cpp's server API (``/apply-template``, ``/tokenize``, ``/completion``
streamed or not, ``/health``, ``/props``, ``/slots``) and turns its failures into
:class:`~.errors.GatewayError` (a prompt longer than a slot's context is a 400 on ``messages``; a
busy or unreachable engine is a 503). It knows nothing of tools, protocols or faults.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .errors import GatewayError

__all__ = ["EngineClient"]


class EngineClient:
    """Async client of the llama.cpp engine at ``url`` serving the model called ``model_name``."""

    def __init__(self, url: str, *, model_name: str) -> None:
        self.url = url.rstrip("/")
        self.model_name = model_name
        # No keep-alive: llama.cpp's HTTP server closes a kept-alive connection after a few requests or
        # seconds, and reusing one it has just closed fails with "Server disconnected". Local TCP
        # connections cost well under a millisecond.
        self.http = httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(None, connect=10.0),
                                      limits=httpx.Limits(max_keepalive_connections=0))
        self._slot_context: int | None = None

    # -- errors ----------------------------------------------------------------------------------
    @staticmethod
    def error(status: int, text: str, param: str | None) -> GatewayError:
        """The gateway error for an engine answer with HTTP ``status`` and body ``text``."""
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text[:500]
        if status == 400:
            if "context size" in message:
                param = "messages"
            return GatewayError("invalid_request", f"{param + ': ' if param else ''}{message}", param=param)
        if status == 503:
            return GatewayError("unavailable", f"the local engine is busy or loading: {message}")
        return GatewayError("server", f"the local engine failed (HTTP {status}): {message}")

    # -- calls -----------------------------------------------------------------------------------
    async def post(self, path: str, payload: dict[str, Any], param: str | None = None) -> dict[str, Any]:
        """POST ``payload`` as JSON and return the JSON answer; errors as :class:`GatewayError`."""
        try:
            resp = await self.http.post(path, json=payload)
        except httpx.HTTPError as exc:
            raise GatewayError("unavailable", f"the local engine is not reachable: {exc!r}") from None
        if resp.status_code != 200:
            raise self.error(resp.status_code, resp.text, param)
        return resp.json()

    async def get(self, path: str, timeout: float = 10.0) -> Any:
        """GET ``path`` (``/props``, ``/slots``) and return its JSON."""
        return (await self.http.get(path, timeout=timeout)).json()

    async def healthy(self) -> bool:
        """True when ``/health`` answers 200."""
        try:
            return (await self.http.get("/health", timeout=5.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text the engine sees for ``messages`` (the model's chat template)."""
        data = await self.post("/apply-template", {"messages": messages}, param="messages")
        return str(data["prompt"])

    async def tokenize(self, text: str) -> int:
        """Number of tokens the engine counts for ``text`` (special tokens parsed, as in a prompt)."""
        data = await self.post("/tokenize", {"content": text, "add_special": True, "parse_special": True})
        return len(data["tokens"])

    async def slot_context(self) -> int:
        """Context tokens of one slot (from ``/slots``; read once)."""
        if self._slot_context is None:
            slots = await self.get("/slots")
            self._slot_context = int(slots[0]["n_ctx"])
        return self._slot_context

    async def complete(self, payload: dict[str, Any], param: str | None = None) -> tuple[str, dict[str, Any]]:
        """One non-streamed ``/completion``: its text and its final chunk."""
        data = await self.post("/completion", {**payload, "stream": False}, param=param)
        return str(data.get("content", "")), data

    async def stream(self, payload: dict[str, Any], param: str | None) -> AsyncIterator[dict[str, Any]]:
        """Stream the engine's native ``/completion``; yields its JSON chunks."""
        payload = {**payload, "stream": True}
        try:
            async with self.http.stream("POST", "/completion", json=payload) as resp:
                if resp.status_code != 200:
                    raise self.error(resp.status_code, (await resp.aread()).decode(errors="replace"), param)
                async for line in resp.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        raise GatewayError("server", f"the local engine failed: {chunk['error']}")
                    yield chunk
        except httpx.HTTPError as exc:
            raise GatewayError("unavailable", f"the local engine is not reachable: {exc!r}") from None

    async def close(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
