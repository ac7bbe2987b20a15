"""One streamed request per protocol, timed, and what its failures mean.

:func:`stream_reply` sends one user message through the client's own SDK and protocol (OpenAI chat
completions stream, Anthropic messages stream, Gemini ``generate_content_stream``) and times it on the
client with ``time.perf_counter`` (see :mod:`workbench.evals.runner` for the definitions);
:func:`classify_error` sorts an exception into a kind and says whether a retry may help.  The runner,
the harness benchmarks and the archive replay use these, so every path parses replies one way.
"""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from .. import params

__all__ = [
    "DEFAULT_SEED",
    "LOGPROB_PROTOCOLS",
    "MAX_TOP_LOGPROBS",
    "IncompleteStreamError",
    "Reply",
    "classify_error",
    "logprob_entry",
    "protocol_of",
    "redact",
    "retry_after",
    "stream_reply",
]

#: Seed sent with every request on the local backend (and to OpenAI/Gemini when given).
DEFAULT_SEED = 1234
#: Protocols whose streamed replies carry token log-probabilities (OpenAI chat: ``logprobs`` and
#: ``top_logprobs`` on each chunk).  Anthropic's Messages API has none; Gemini's ``responseLogprobs`` is
#: not offered by every model and not streamed the same way, so the harness asks only OpenAI chat.
LOGPROB_PROTOCOLS = frozenset({"openai"})
#: The most alternatives per token the OpenAI chat API (and the local provider) give.
MAX_TOP_LOGPROBS = 20


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
        logprobs: with ``top_logprobs`` asked, one entry per generated token in OpenAI's shape
            (``{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}``); else None.
    """

    text: str
    input_tokens: int | None
    output_tokens: int | None
    ttft_s: float | None
    latency_s: float
    content_s: float | None
    chunks: int
    finish_reason: str | None
    logprobs: list[dict[str, Any]] | None = None


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


class _Collect:
    """The text chunks of one reply, timed from its creation (just before the SDK call), and its usage."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.ttft: float | None = None
        self.last: float | None = None
        self.usage_in: int | None = None
        self.usage_out: int | None = None
        self.finish: str | None = None
        self.logprobs: list[dict[str, Any]] | None = None
        self.start = time.perf_counter()

    def text(self, piece: str) -> None:
        """A chunk carrying text arrived now."""
        now = time.perf_counter() - self.start
        self.ttft = now if self.ttft is None else self.ttft
        self.last = now
        self.parts.append(piece)

    def reply(self, ended: bool, missing: str) -> Reply:
        """The reply at the end of the stream; :class:`IncompleteStreamError` (``missing``) unless ``ended``."""
        latency = time.perf_counter() - self.start
        if not ended:
            raise IncompleteStreamError(missing)
        return Reply("".join(self.parts), self.usage_in, self.usage_out, self.ttft, latency, self.last,
                     len(self.parts), self.finish, self.logprobs)


def _with_sampling(target: dict[str, Any], temperature: float | None, seed: int | None) -> dict[str, Any]:
    """``target`` with ``temperature`` and ``seed`` where given (None: left out of the request)."""
    target.update({k: v for k, v in (("temperature", temperature), ("seed", seed)) if v is not None})
    return target


def logprob_entry(entry: Any) -> dict[str, Any]:
    """One token of an OpenAI ``logprobs.content`` list (SDK object or dict) as a plain dict (bytes dropped)."""
    get = entry.get if isinstance(entry, dict) else (lambda k: getattr(entry, k, None))
    top = get("top_logprobs") or []
    return {"token": get("token"), "logprob": get("logprob"),
            "top_logprobs": [logprob_entry(t) for t in top] if top else []}


async def _stream_openai(client: Any, model: str, prompt: str, max_tokens: int,
                         temperature: float | None, seed: int | None, timeout: float,
                         top_logprobs: int | None = None) -> Reply:
    kwargs = _with_sampling({"model": model, "messages": [{"role": "user", "content": prompt}],
                             "max_completion_tokens": max_tokens, "stream": True,
                             "stream_options": {"include_usage": True}, "timeout": timeout}, temperature, seed)
    got = _Collect()
    if top_logprobs is not None:
        kwargs.update(logprobs=True, top_logprobs=top_logprobs)
        got.logprobs = []
    stream = await client.chat.completions.create(**kwargs)
    async for chunk in _guard(stream, got.parts):
        if chunk.usage is not None:
            got.usage_in, got.usage_out = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
        for choice in chunk.choices or ():
            text = choice.delta.content if choice.delta is not None else None
            if text:
                got.text(text)
            if got.logprobs is not None and choice.logprobs is not None and choice.logprobs.content:
                got.logprobs.extend(logprob_entry(t) for t in choice.logprobs.content)
            if choice.finish_reason:
                got.finish = choice.finish_reason
    return got.reply(got.finish is not None, "OpenAI stream ended without a finish_reason")


async def _stream_anthropic(client: Any, model: str, prompt: str, max_tokens: int,
                            temperature: float | None, seed: int | None, timeout: float,
                            extra_body: dict[str, Any] | None = None) -> Reply:
    kwargs: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "stream": True,
                              "messages": [{"role": "user", "content": prompt}], "timeout": timeout}
    if extra_body:
        kwargs["extra_body"] = extra_body
    stopped = False
    got = _Collect()
    stream = await client.messages.create(**kwargs)
    async for event in _guard(stream, got.parts):
        kind = event.type
        if kind == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
            if event.delta.text:
                got.text(event.delta.text)
        elif kind == "message_start":
            got.usage_in = event.message.usage.input_tokens
            got.usage_out = event.message.usage.output_tokens
        elif kind == "message_delta":
            if event.usage is not None and event.usage.output_tokens is not None:
                got.usage_out = event.usage.output_tokens
            if getattr(event.usage, "input_tokens", None):
                got.usage_in = event.usage.input_tokens
            got.finish = event.delta.stop_reason or got.finish
        elif kind == "message_stop":
            stopped = True
    return got.reply(stopped, "Anthropic stream ended without message_stop")


async def _stream_gemini(client: Any, model: str, prompt: str, max_tokens: int,
                         temperature: float | None, seed: int | None, timeout: float) -> Reply:
    from google.genai import types

    config = _with_sampling({"max_output_tokens": max_tokens,
                             "http_options": types.HttpOptions(timeout=int(timeout * 1000))}, temperature, seed)
    got = _Collect()
    stream = await client.models.generate_content_stream(
        model=model, contents=prompt, config=types.GenerateContentConfig(**config))
    async for chunk in _guard(stream, got.parts):
        for cand in chunk.candidates or ():
            for part in (cand.content.parts if cand.content and cand.content.parts else ()):
                if part.text and not part.thought:
                    got.text(part.text)
            if cand.finish_reason:
                got.finish = str(getattr(cand.finish_reason, "value", cand.finish_reason))
        meta = chunk.usage_metadata
        if meta is not None:
            got.usage_in = meta.prompt_token_count if meta.prompt_token_count is not None else got.usage_in
            out = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
            got.usage_out = out if (meta.candidates_token_count is not None) else got.usage_out
    return got.reply(got.finish is not None, "Gemini stream ended without a finish_reason")


def protocol_of(client: Any) -> str:
    """``openai``, ``anthropic`` or ``google`` from the SDK client's class."""
    module = type(client).__module__
    for name in ("openai", "anthropic", "google"):
        if module.startswith(name):
            return name
    raise TypeError(f"client: unsupported SDK client {type(client).__name__} (module {module})")


async def stream_reply(client: Any, model: str, prompt: str, *, max_tokens: int,
                       temperature: float | None = 0.0, seed: int | None = DEFAULT_SEED,
                       timeout: float = 120.0, local: bool = False, top_logprobs: int | None = None) -> Reply:
    """Send one user message through the client's own protocol, streaming, and time the reply.

    Args:
        client: an async SDK client (``AsyncOpenAI``, ``AsyncAnthropic`` or a genai ``.aio`` client).
        model: the model id sent to the API.
        prompt: the user message.
        max_tokens: output cap.
        temperature: sampling temperature (None: left out, the API's default).  The Anthropic SDK has
            no temperature field any more, so it goes in the request body (``extra_body``); leave it
            out (None) for a model that rejects it (:mod:`workbench.evals.sampling`).
        seed: sampling seed where the API has one (OpenAI, Gemini).
        timeout: seconds allowed for the whole request.
        local: True on the local backend (kept for callers; the request is the same on both backends).
        top_logprobs: ask for token log-probabilities with this many alternatives per token (0-20;
            ``logprobs=True, top_logprobs=K``), kept in ``Reply.logprobs``; only the OpenAI chat protocol
            (:data:`LOGPROB_PROTOCOLS`), None (the default) for no log-probabilities.

    Raises:
        IncompleteStreamError: the stream ended before its end marker.
        ParameterError: ``top_logprobs`` out of range, or given for a protocol without log-probabilities.
    """
    protocol = protocol_of(client)
    if top_logprobs is not None:
        params.count(top_logprobs, "top_logprobs", minimum=0, maximum=MAX_TOP_LOGPROBS)
        if protocol not in LOGPROB_PROTOCOLS:
            raise params.ParameterError("top_logprobs", f"None for the {protocol} protocol (its streamed replies "
                                        "carry no token log-probabilities here)", top_logprobs)
    if protocol == "openai":
        return await _stream_openai(client, model, prompt, max_tokens, temperature, seed, timeout, top_logprobs)
    if protocol == "anthropic":
        extra = {"temperature": temperature} if temperature is not None else None
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
    import httpx2

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
    if "Connection" in name or isinstance(exc, (httpx.TransportError, httpx2.TransportError)) or bases & {
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


def retry_after(exc: BaseException | None) -> float:
    """Seconds asked for by a ``retry-after`` header on the error's response (0 if none)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return 0.0
    try:
        return max(0.0, float(headers.get("retry-after", 0) or 0))
    except (TypeError, ValueError):
        return 0.0




#: What API keys look like (OpenAI ``sk-...``, Anthropic ``sk-ant-...``, Google ``AIza...``).
KEY_PATTERN = re.compile(r"(?<![A-Za-z0-9_\-])(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,})")


def redact(text: str) -> str:
    """Remove anything that looks like an API key from a message."""
    return KEY_PATTERN.sub("[redacted]", text)

