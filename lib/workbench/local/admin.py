"""The one client of the local provider's admin API (``/_workbench/*``).

The gateway serves, beside the three wire protocols, a small admin API: ``health``, ``info`` (the
stand-in and its engine's ``props`` and ``slots``, every local model's engine under ``engines``, fault
settings, defaults, known models), ``faults`` (read, change, clear the injected faults) and ``prompt``
(what the answering model reads for a request body, without generating).
Everything that talks to it (:class:`~workbench.local.LocalProvider`, the chapters, the benchmarks)
goes through :class:`Admin`, so the paths, time-outs and error handling live here only.
"""
from __future__ import annotations

from typing import Any

import httpx

from .faults import FaultSettingError

__all__ = ["PROMPT_APIS", "Admin", "AdminError"]

#: The request-body kinds ``/_workbench/prompt`` accepts.
PROMPT_APIS = ("openai-chat", "openai-responses", "anthropic", "gemini")


class AdminError(RuntimeError):
    """The local provider did not answer its admin API (not running, wrong URL, engine down)."""


class Admin:
    """Admin calls against a running local provider at ``base_url`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        url = f"{self.base_url}/_workbench/{path}"
        try:
            return httpx.request(method, url, timeout=timeout or self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise AdminError(f"the local provider at {self.base_url} did not answer /_workbench/{path} ({exc})") from None

    def _json(self, resp: httpx.Response, path: str, error: type[Exception] | None = None) -> dict[str, Any]:
        """The JSON of a 200 answer; otherwise ``error`` (the gateway's message) or :class:`AdminError`."""
        if resp.status_code == 200:
            return resp.json()
        if error is None:
            raise AdminError(f"/_workbench/{path} answered {resp.status_code}: {resp.text[:300]}")
        try:
            message = resp.json().get("error", resp.text)
        except ValueError:
            message = resp.text
        raise error(message)

    def healthy(self) -> bool:
        """True when the gateway and its engine answer ``/_workbench/health`` with 200."""
        try:
            return self._call("GET", "health", timeout=2.0).status_code == 200
        except AdminError:
            return False

    def info(self) -> dict[str, Any]:
        """The stand-in (``stand_in``, ``model``) and its engine's ``props`` and ``slots``; ``engines``: every
        local model id's engine (file, sha256, threads, slots, context, state, start seconds); the memory
        budget, fault settings, defaults, known models, uptime."""
        return self._json(self._call("GET", "info", timeout=30.0), "info")

    def faults(self) -> dict[str, Any]:
        """Current fault settings and counts of injected faults."""
        return self._json(self._call("GET", "faults"), "faults")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change fault settings (see :class:`~workbench.local.faults.FaultConfig`).

        Raises:
            FaultSettingError: a setting is unknown or out of range (the message names it).
        """
        return self._json(self._call("PATCH", "faults", json=settings), "faults", FaultSettingError)

    def clear_faults(self) -> dict[str, Any]:
        """Turn every fault and delay off."""
        return self._json(self._call("DELETE", "faults"), "faults")

    def prompt(self, body: dict[str, Any], api: str = "openai-chat") -> dict[str, Any]:
        """What the local model reads for a request: ``{"prompt": text, "input_tokens": n, "answered_by": name}``.

        ``body`` is a request body of ``api`` (one of :data:`PROMPT_APIS`; for Gemini include ``"model"``).

        Raises:
            ValueError: ``api`` is unknown or the body is malformed (the message names the field).
        """
        if api not in PROMPT_APIS:
            raise ValueError(f"api: expected one of {', '.join(PROMPT_APIS)}, got {api!r}")
        return self._json(self._call("POST", "prompt", params={"api": api}, json=body, timeout=300.0), "prompt",
                          ValueError)
