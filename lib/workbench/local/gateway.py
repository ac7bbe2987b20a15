"""The local provider's gateway: one ASGI app that speaks the OpenAI, Anthropic and Gemini protocols.

Every protocol module (:mod:`.gateway_openai`, :mod:`.gateway_anthropic`, :mod:`.gateway_gemini`)
turns its wire format into one :class:`GenRequest` and turns :class:`Event` objects back into its own
responses and stream events. This module holds what they share, so it is done once:

* media parts become text (:func:`media_part`, via :mod:`workbench.local.media`), marked in place
  as ``[image 1: ...]``, ``[audio 1: ...]``, ``[video 1: ...]``;
* tools: the engine's chat template has none, so a tool call is decided and written under
  grammar constraints (:meth:`Core.events`): ``tool_choice`` required/named always yields a call to a
  declared tool with schema-valid arguments; ``auto`` lets the model choose between answering and
  each tool through a constrained choice. Never a canned call;
* token counts are the engine's own (SmolLM2 tokenizer); ``count_tokens`` tokenizes the very prompt
  that generation would send;
* sampling defaults: when a request has no seed the gateway sends :data:`DEFAULT_SEED`, so
  ``temperature=0`` (or any temperature) with the same request gives the same answer; when it has no
  token limit the gateway caps the answer at :data:`DEFAULT_MAX_TOKENS`;
* fault injection (:mod:`.faults`) and the admin endpoint ``/_workbench/faults``;
* the ``x-workbench-backend-model`` header on every response, naming the real model.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import grammar
from .faults import (
    FaultConfig,
    FaultInjector,
    FaultKind,
    FaultSettingError,
    parse_faults,
)

log = logging.getLogger("workbench.local.gateway")

#: Seed sent to the engine when a request carries none (so answers are reproducible).
DEFAULT_SEED = 1234
#: Answer length cap (tokens) when a request sets none (OpenAI and Gemini allow that).
DEFAULT_MAX_TOKENS = 512
#: Default temperature when a request sets none: 1.0, the documented default of all three APIs.
DEFAULT_TEMPERATURE = 1.0
#: Response header naming the real model behind every answer.
BACKEND_HEADER = "x-workbench-backend-model"
#: The catalog id of the local model itself, accepted by all three protocols.
LOCAL_MODEL_ID = "smollm2-135m-instruct"
#: Token budget of a tool-arguments generation, independent of the request's limit so that a call is
#: never cut short (the schema is bounded, see grammar.bounded_schema).
TOOL_ARGS_MAX_TOKENS = 512

Provider = Literal["openai", "anthropic", "google"]


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------
class GatewayError(Exception):
    """An error answered in the caller's protocol shape.

    ``kind`` is one of invalid_request, not_found, rate_limit, server, timeout, unavailable;
    ``param`` names the offending request field when there is one.
    """

    STATUS: ClassVar[dict[str, int]] = {"invalid_request": 400, "not_found": 404, "rate_limit": 429, "server": 500,
              "timeout": 504, "unavailable": 503}

    def __init__(self, kind: str, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = self.STATUS[kind]
        self.message = message
        self.param = param
        self.headers = headers or {}


def bad(param: str, message: str) -> GatewayError:
    """A 400 error whose message starts with the bad field's name."""
    return GatewayError("invalid_request", f"{param}: {message}", param=param)


# ------------------------------------------------------------------------------------------------
# The normalized request and the events of an answer
# ------------------------------------------------------------------------------------------------
@dataclass
class Tool:
    """A function the model may call: its name, description and JSON Schema for arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolChoice:
    """none | auto | required | named (then ``name`` is the tool to call)."""

    mode: Literal["none", "auto", "required", "named"] = "auto"
    name: str | None = None


@dataclass
class GenRequest:
    """One generation request, whatever protocol it came in."""

    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    json_schema: dict[str, Any] | None = None
    json_param: str = "response_format"
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    stream: bool = False


@dataclass
class ToolCall:
    """A call the model made: id, tool name, and the arguments as a JSON text."""

    id: str
    name: str
    arguments: str

    @property
    def args(self) -> Any:
        """The arguments parsed from JSON."""
        return json.loads(self.arguments)


@dataclass
class Generation:
    """A finished answer with the engine's real token counts."""

    text: str = ""
    tool_call: ToolCall | None = None
    finish: Literal["stop", "length", "stop_sequence", "tool_call"] = "stop"
    stop_sequence: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Started:
    """Generation has begun: the first token is ready; ``prompt_tokens`` counts every prompt so far."""

    prompt_tokens: int


@dataclass
class TextDelta:
    """A piece of answer text."""

    text: str


@dataclass
class ToolCallStart:
    """The model decided to call ``name``; argument deltas follow."""

    id: str
    name: str


@dataclass
class ArgumentsDelta:
    """A piece of the tool call's JSON arguments."""

    text: str


@dataclass
class Done:
    """The answer is complete."""

    generation: Generation


Event = Started | TextDelta | ToolCallStart | ArgumentsDelta | Done


def new_id(prefix: str, n: int = 24) -> str:
    """A random id such as ``chatcmpl-3f2a...`` (prefix plus ``n`` hex digits)."""
    return prefix + uuid.uuid4().hex[:n]


# ------------------------------------------------------------------------------------------------
# Media: data → text marked in place
# ------------------------------------------------------------------------------------------------
MediaKind = Literal["image", "audio", "video"]


def decode_base64(data: Any, param: str) -> bytes:
    """Decode base64 text (standard or URL-safe alphabet); a 400 naming ``param`` when it is not base64."""
    if not isinstance(data, str) or not data:
        raise bad(param, "expected non-empty base64 text")
    text = data.strip().replace("-", "+").replace("_", "/")  # also the URL-safe alphabet (protobuf JSON)
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad(param, "is not valid base64") from None


def parse_data_url(url: Any, param: str, what: str = "image") -> tuple[bytes, str]:
    """Split a ``data:MIME;base64,...`` URL into bytes and MIME type.

    An http(s) URL gets a clear 400: the offline provider cannot fetch it.
    """
    if not isinstance(url, str) or not url:
        raise bad(param, f"expected a data URL string for the {what}")
    if url.startswith(("http://", "https://")):
        raise bad(param, f"the offline local provider cannot fetch remote URLs ({url[:80]}); "
                         f"send the {what} inline as a base64 data URL (data:MIME;base64,...)")
    if not url.startswith("data:") or "," not in url:
        raise bad(param, f"expected a data URL (data:MIME;base64,...), got {url[:40]!r}")
    head, payload = url[5:].split(",", 1)
    parts = head.split(";")
    mime = parts[0] or "application/octet-stream"
    if "base64" not in parts[1:]:
        raise bad(param, "only base64 data URLs are supported (data:MIME;base64,...)")
    return decode_base64(payload, param), mime


def _media_module() -> Any:
    try:
        from . import media
    except ImportError as exc:
        raise GatewayError("server", f"media adapters are not available: {exc}") from None
    return media


class MediaCounter:
    """Numbers media parts per kind within one request (image 1, image 2, audio 1, ...)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def next(self, kind: str) -> int:
        """The next number for ``kind``."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return self.counts[kind]


async def media_part(kind: MediaKind, data: bytes, mime: str, counter: MediaCounter, param: str) -> str:
    """Turn one media part into marked text: ``[image 1: <what the adapter read>]``.

    Images go through OCR (plus size facts), audio through speech recognition, video through
    sampled frames; each adapter runs in a worker thread.
    """
    media = _media_module()
    fn: Callable[..., str] = {"image": media.image_to_text, "audio": media.audio_to_text,
                              "video": media.video_to_text}[kind]
    try:
        text = await asyncio.to_thread(fn, data, mime)
    except ValueError as exc:
        raise bad(param, f"cannot read the {kind} ({mime}): {exc}") from None
    return f"[{kind} {counter.next(kind)}: {text}]"


def media_kind(mime: str, param: str) -> MediaKind:
    """image/*, audio/*, video/* → the media kind; anything else is a 400 naming ``param``."""
    major = mime.split("/", 1)[0].lower()
    if major in ("image", "audio", "video"):
        return major  # type: ignore[return-value]
    raise bad(param, f"unsupported media type {mime!r}: the local provider reads image/*, audio/* and video/*")


# ------------------------------------------------------------------------------------------------
# The engine client and the generation logic
# ------------------------------------------------------------------------------------------------
def tool_note(tools: list[Tool]) -> str:
    """The system-prompt paragraph that describes the declared tools to the model."""
    lines = ["You can call these tools (functions):"]
    for t in tools:
        desc = f": {t.description}" if t.description else ""
        lines.append(f"- {t.name}{desc}. Arguments (JSON schema): {json.dumps(t.parameters, separators=(',', ':'))}")
    return "\n".join(lines)


def with_system_note(messages: list[dict[str, str]], note: str) -> list[dict[str, str]]:
    """Append ``note`` to the system message (adding one at the start if there is none)."""
    out = [dict(m) for m in messages]
    if out and out[0]["role"] == "system":
        out[0]["content"] = f"{out[0]['content']}\n\n{note}" if out[0]["content"] else note
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


class Core:
    """What all three protocols share: engine access, tools, media, faults, model ids.

    Args:
        engine_url: base URL of the llama.cpp engine.
        model_name: human-readable name of the real model (sent in every response).
        faults: the fault injector (off by default).
        known_models: catalog model ids accepted per provider.
    """

    def __init__(self, engine_url: str, *, model_name: str, faults: FaultInjector,
                 known_models: dict[str, list[str]]) -> None:
        self.engine_url = engine_url.rstrip("/")
        self.model_name = model_name
        self.faults = faults
        self.known_models = known_models
        # No keep-alive: llama.cpp's HTTP server closes a kept-alive connection after a few requests or
        # seconds, and reusing one it has just closed fails with "Server disconnected". Local TCP
        # connections cost well under a millisecond.
        self.http = httpx.AsyncClient(base_url=self.engine_url, timeout=httpx.Timeout(None, connect=10.0),
                                      limits=httpx.Limits(max_keepalive_connections=0))
        self.started = time.time()

    # -- model ids -----------------------------------------------------------------------------
    def check_model(self, model: Any, provider: Provider, param: str = "model") -> str:
        """Accept a catalog model id of ``provider`` (or the local model's id); else 404/400."""
        if not isinstance(model, str) or not model:
            raise bad(param, "a model id (string) is required")
        if model in self.known_models.get(provider, []) or model == LOCAL_MODEL_ID:
            return model
        known = ", ".join(self.known_models.get(provider, []) + [LOCAL_MODEL_ID])
        raise GatewayError(
            "not_found",
            f"The model '{model}' does not exist or is not served by the local provider. "
            f"Known {provider} models (all answered by {self.model_name}): {known}",
            param=param,
        )

    # -- engine calls ----------------------------------------------------------------------------
    async def _post(self, path: str, payload: dict[str, Any], param: str | None = None) -> dict[str, Any]:
        try:
            resp = await self.http.post(path, json=payload)
        except httpx.HTTPError as exc:
            raise GatewayError("unavailable", f"the local engine is not reachable: {exc!r}") from None
        if resp.status_code != 200:
            raise self._engine_error(resp.status_code, resp.text, param)
        return resp.json()

    def _engine_error(self, status: int, text: str, param: str | None) -> GatewayError:
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

    async def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text the engine sees for ``messages`` (SmolLM2's chat template)."""
        data = await self._post("/apply-template", {"messages": messages}, param="messages")
        return str(data["prompt"])

    async def tokenize(self, text: str) -> int:
        """Number of tokens the engine counts for ``text`` (special tokens parsed, as in a prompt)."""
        data = await self._post("/tokenize", {"content": text, "add_special": True, "parse_special": True})
        return len(data["tokens"])

    def prompt_messages(self, req: GenRequest) -> list[dict[str, str]]:
        """The messages of the answering step (tools described in the system prompt)."""
        if req.tools and req.tool_choice.mode != "none":
            return with_system_note(req.messages, tool_note(req.tools))
        return req.messages

    async def count_tokens(self, req: GenRequest) -> int:
        """Input tokens of ``req``: the engine's tokenizer on the exact prompt generation would send."""
        self.check_messages(req)
        return await self.tokenize(await self.render(self.prompt_messages(req)))

    def check_messages(self, req: GenRequest) -> None:
        """A request needs at least one non-system message."""
        if not any(m["role"] != "system" for m in req.messages):
            raise bad("messages", "at least one user message is required")

    def _sampling(self, req: GenRequest, max_tokens: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "n_predict": max_tokens,
            "temperature": DEFAULT_TEMPERATURE if req.temperature is None else req.temperature,
            "seed": DEFAULT_SEED if req.seed is None else req.seed,
            "cache_prompt": True,
        }
        if req.top_p is not None:
            params["top_p"] = req.top_p
        if req.top_k is not None:
            params["top_k"] = req.top_k
        return params

    async def _stream_engine(self, payload: dict[str, Any], param: str | None) -> AsyncIterator[dict[str, Any]]:
        """Stream the engine's native ``/completion``; yields its JSON chunks."""
        payload = {**payload, "stream": True}
        try:
            async with self.http.stream("POST", "/completion", json=payload) as resp:
                if resp.status_code != 200:
                    raise self._engine_error(resp.status_code, (await resp.aread()).decode(errors="replace"), param)
                async for line in resp.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        raise GatewayError("server", f"the local engine failed: {chunk['error']}")
                    yield chunk
        except httpx.HTTPError as exc:
            raise GatewayError("unavailable", f"the local engine is not reachable: {exc!r}") from None

    async def _run_engine(self, payload: dict[str, Any], param: str | None = None) -> tuple[str, dict[str, Any]]:
        """One non-streamed engine completion: its text and final chunk."""
        data = await self._post("/completion", {**payload, "stream": False}, param=param)
        return str(data.get("content", "")), data

    # -- generation ------------------------------------------------------------------------------
    async def delay_first_token(self) -> None:
        """Sleep the configured first-token delay (fault injection), if any."""
        delay = self.faults.config.first_token_delay
        if delay > 0:
            await asyncio.sleep(delay)

    async def events(self, req: GenRequest) -> AsyncIterator[Event]:
        """Generate the answer to ``req`` as events.

        :class:`Started` (with the prompt token count) when the first token is ready, then text
        deltas, or a :class:`ToolCallStart` and argument deltas, then :class:`Done`.

        Tools: with ``tool_choice`` named the call is written directly; with required (several
        tools) or auto, the model first picks under a grammar among the tool names (and, for auto,
        a "reply in text" option); the arguments are then decoded under the tool's JSON schema.
        Token counts add up every engine step.
        """
        self.check_messages(req)
        max_tokens = DEFAULT_MAX_TOKENS if req.max_tokens is None else req.max_tokens
        await self.delay_first_token()
        used_prompt = used_completion = 0
        started = False
        messages = self.prompt_messages(req)
        chosen: str | None = None
        if req.tools and req.tool_choice.mode != "none":
            names = [t.name for t in req.tools]
            if req.tool_choice.mode == "named":
                chosen = req.tool_choice.name
            else:
                reply = next(o for o in ("reply", "answer", "respond", "text_reply") if o not in names)
                options = names + ([reply] if req.tool_choice.mode == "auto" else [])
                if len(options) == 1:
                    chosen = options[0]
                else:
                    instruction = (
                        "Decide how to handle the last message: answer with the name of the tool to call"
                        + (f", or '{reply}' to reply in text without a tool." if req.tool_choice.mode == "auto" else ".")
                    )
                    prompt = await self.render(messages + [{"role": "user", "content": instruction}])
                    text, final = await self._run_engine(
                        {"prompt": prompt, "grammar": grammar.choice_grammar(options),
                         **self._sampling(req, 32)}, param="tools")
                    used_prompt += int(final.get("tokens_evaluated", 0))
                    used_completion += int(final.get("tokens_predicted", 0))
                    chosen = text.strip() if text.strip() in names else None
        if chosen is not None:
            tool = next(t for t in req.tools if t.name == chosen)
            call = ToolCall(id=new_id("call_"), name=tool.name, arguments="")
            prompt = await self.render(messages + [{
                "role": "user", "content": f"Call the tool {tool.name} now: write only its arguments as a JSON object."}])
            schema = grammar.object_schema(tool.parameters)
            payload = {"prompt": prompt, "json_schema": grammar.bounded_schema(schema),
                       **self._sampling(req, TOOL_ARGS_MAX_TOKENS)}
            parts: list[str] = []
            final: dict[str, Any] = {}
            async for chunk in self._stream_engine(payload, param="tools"):
                if not started:
                    started = True
                    yield Started(used_prompt + int(chunk.get("tokens_evaluated", 0)))
                    yield ToolCallStart(call.id, tool.name)
                if chunk.get("content"):
                    parts.append(chunk["content"])
                    yield ArgumentsDelta(chunk["content"])
                if chunk.get("stop"):
                    final = chunk
            call.arguments = "".join(parts)
            try:
                grammar.validate(call.arguments, schema)
            except ValueError as exc:
                raise GatewayError("server", f"the constrained tool call for {tool.name} did not produce "
                                             f"schema-valid arguments within {TOOL_ARGS_MAX_TOKENS} tokens ({exc})") from None
            yield Done(Generation(
                tool_call=call, finish="tool_call",
                prompt_tokens=used_prompt + int(final.get("tokens_evaluated", 0)),
                completion_tokens=used_completion + int(final.get("tokens_predicted", 0))))
            return
        prompt = await self.render(messages)
        payload = {"prompt": prompt, **self._sampling(req, max_tokens)}
        if req.stop:
            payload["stop"] = req.stop
        if req.json_schema is not None:
            payload["json_schema"] = grammar.bounded_schema(req.json_schema, max_string=1000, max_items=20)
        parts = []
        final = {}
        async for chunk in self._stream_engine(payload, param=req.json_param if req.json_schema else None):
            if not started:
                started = True
                yield Started(used_prompt + int(chunk.get("tokens_evaluated", 0)))
            if chunk.get("content"):
                parts.append(chunk["content"])
                yield TextDelta(chunk["content"])
            if chunk.get("stop"):
                final = chunk
        stop_type = final.get("stop_type", "eos")
        finish: Literal["stop", "length", "stop_sequence"] = (
            "length" if stop_type == "limit" else "stop_sequence" if stop_type == "word" else "stop")
        yield Done(Generation(
            text="".join(parts), finish=finish,
            stop_sequence=final.get("stopping_word") or None if finish == "stop_sequence" else None,
            prompt_tokens=used_prompt + int(final.get("tokens_evaluated", 0)),
            completion_tokens=used_completion + int(final.get("tokens_predicted", 0))))

    async def generate(self, req: GenRequest) -> Generation:
        """Generate the whole answer (the events collected)."""
        async for event in self.events(req):
            if isinstance(event, Done):
                return event.generation
        raise GatewayError("server", "the generation ended without a result")  # pragma: no cover

    async def close(self) -> None:
        """Close the engine connection pool."""
        await self.http.aclose()


# ------------------------------------------------------------------------------------------------
# Faults applied to a response
# ------------------------------------------------------------------------------------------------
class CutConnection(Exception):
    """Raised inside a response body to drop the connection (fault injection)."""


async def apply_fault(core: Core, fault: FaultKind | None, request: Request) -> None:
    """Raise the injected error for 429/500/timeout (a timeout is held first); cut is handled later."""
    cfg = core.faults.config
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


async def cut_after(chunks: AsyncIterator[bytes], n: int) -> AsyncIterator[bytes]:
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
    body = cut_after(chunks, 2) if cut else chunks
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


# ------------------------------------------------------------------------------------------------
# Field helpers for the protocol parsers
# ------------------------------------------------------------------------------------------------
_MISSING = object()


def opt_number(body: dict[str, Any], key: str, *, param: str | None = None, lo: float | None = None,
               hi: float | None = None, integer: bool = False) -> Any:
    """An optional number field (None when absent or null), range-checked; 400 naming the field."""
    value = body.get(key)
    name = param or key
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise bad(name, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    if lo is not None and value < lo:
        raise bad(name, f"must be >= {lo:g}, got {value!r}")
    if hi is not None and value > hi:
        raise bad(name, f"must be <= {hi:g}, got {value!r}")
    return value


def opt_bool(body: dict[str, Any], key: str, param: str | None = None) -> bool:
    """An optional boolean field (False when absent)."""
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(param or key, f"expected true or false, got {value!r}")
    return value


def stop_list(value: Any, param: str) -> list[str]:
    """A stop sequence or list of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise bad(param, "expected a string or a list of strings")


def check_tools_unique(tools: list[Tool], param: str) -> None:
    """Tool names must be unique and non-empty."""
    seen: set[str] = set()
    for i, t in enumerate(tools):
        if not t.name:
            raise bad(f"{param}[{i}]", "a tool needs a non-empty name")
        if t.name in seen:
            raise bad(f"{param}[{i}]", f"duplicate tool name {t.name!r}")
        seen.add(t.name)


def checked_schema(schema: Any, param: str) -> dict[str, Any]:
    """A client JSON schema checked to be valid; 400 naming ``param`` otherwise."""
    try:
        return grammar.check_schema(schema, param)
    except grammar.SchemaError as exc:
        raise GatewayError("invalid_request", str(exc), param=param) from None


# ------------------------------------------------------------------------------------------------
# The app
# ------------------------------------------------------------------------------------------------
class BackendHeaderMiddleware:
    """ASGI middleware adding ``x-workbench-backend-model`` (and a request id) to every HTTP response.

    It also turns the fault injector's :class:`CutConnection` into a dropped connection.
    """

    def __init__(self, app: Any, model_name: str) -> None:
        self.app = app
        self.value = model_name.encode("latin-1", "replace")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = new_id("req_").encode()

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (BACKEND_HEADER.encode(), self.value),
                                                  (b"x-request-id", request_id), (b"request-id", request_id)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        except CutConnection:
            # Returning without finishing the body makes the server drop the connection.
            log.warning("fault injection: connection cut mid-response (%s)", scope.get("path"))


def _known_models() -> dict[str, list[str]]:
    from workbench import catalog

    table = catalog.models()
    return {p: sorted(table.loc[table["provider"] == p, "model_id"]) for p in ("openai", "anthropic", "google")}


def create_app(engine_url: str, *, model_name: str, faults: FaultInjector | None = None) -> Any:
    """Build the gateway ASGI app in front of the engine at ``engine_url``.

    Routes: the OpenAI, Anthropic and Gemini endpoints (see the protocol modules) plus
    ``GET /_workbench/health``, ``GET /_workbench/info``, ``GET|PUT|PATCH|DELETE /_workbench/faults``
    and ``POST /_workbench/prompt?api=openai-chat|openai-responses|anthropic|gemini``, which returns
    the exact prompt text (media already turned into text) and its token count for a request body
    (for Gemini, put the model id in the body as ``"model"``).
    """
    from . import gateway_anthropic, gateway_gemini, gateway_openai

    core = Core(engine_url, model_name=model_name, faults=faults or FaultInjector(),
                known_models=_known_models())

    async def health(request: Request) -> Response:
        try:
            resp = await core.http.get("/health", timeout=5.0)
            ok = resp.status_code == 200
        except httpx.HTTPError:
            ok = False
        return JSONResponse({"status": "ok" if ok else "engine unavailable", "engine": core.engine_url,
                             "model": core.model_name}, status_code=200 if ok else 503)

    async def info(request: Request) -> Response:
        props = (await core.http.get("/props", timeout=10.0)).json()
        slots = (await core.http.get("/slots", timeout=10.0)).json()
        return JSONResponse({"model": core.model_name, "engine_url": core.engine_url, "props": props,
                             "slots": slots, "faults": core.faults.state(),
                             "default_seed": DEFAULT_SEED, "default_max_tokens": DEFAULT_MAX_TOKENS,
                             "known_models": core.known_models, "uptime_s": time.time() - core.started})

    async def faults_endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            core.faults.configure(FaultConfig())
        elif request.method in ("PUT", "POST", "PATCH"):
            try:
                body = await read_json(request)
                if request.method == "PUT":
                    core.faults.configure(parse_faults(body))
                else:
                    core.faults.update(**body)
            except GatewayError as exc:
                return JSONResponse({"error": exc.message}, status_code=400)
            except FaultSettingError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(core.faults.state())

    parsers: dict[str, Callable[[dict[str, Any]], Awaitable[GenRequest]]] = {
        "openai-chat": lambda body: gateway_openai.parse_chat(core, body),
        "openai-responses": lambda body: gateway_openai.parse_responses(core, body),
        "anthropic": lambda body: gateway_anthropic.parse_messages(core, body, counting=True),
        "gemini": lambda body: gateway_gemini.parse_generate(core, str(body.get("model", "")), body, stream=False),
    }

    async def prompt_endpoint(request: Request) -> Response:
        api = request.query_params.get("api", "openai-chat")
        if api not in parsers:
            return JSONResponse({"error": f"api: expected one of {', '.join(parsers)}, got {api!r}"}, status_code=400)
        try:
            req = await parsers[api](await read_json(request))
            if isinstance(req, tuple):
                req = req[0]
            core.check_messages(req)
            prompt = await core.render(core.prompt_messages(req))
            return JSONResponse({"prompt": prompt, "input_tokens": await core.tokenize(prompt)})
        except GatewayError as exc:
            return JSONResponse({"error": exc.message, "param": exc.param}, status_code=exc.status)

    routes = [
        Route("/_workbench/health", health, methods=["GET"]),
        Route("/_workbench/info", info, methods=["GET"]),
        Route("/_workbench/faults", faults_endpoint, methods=["GET", "PUT", "POST", "PATCH", "DELETE"]),
        Route("/_workbench/prompt", prompt_endpoint, methods=["POST"]),
        *gateway_openai.routes(core),
        *gateway_anthropic.routes(core),
        *gateway_gemini.routes(core),
    ]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await core.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.core = core
    return BackendHeaderMiddleware(app, model_name)


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


def protocol_endpoint(error_response: Callable[[GatewayError], Response]) -> Callable[
        [Callable[[Request], Awaitable[Response]]], Callable[[Request], Awaitable[Response]]]:
    """Decorator: turn GatewayError (and any unexpected exception) into the protocol's error shape."""

    def wrap(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except GatewayError as exc:
                if exc.status >= 500:
                    log.warning("%s %s -> %s %s", request.method, request.url.path, exc.status, exc.message)
                return error_response(exc)
            except Exception as exc:
                log.exception("unexpected error in %s %s", request.method, request.url.path)
                return error_response(GatewayError("server", f"internal error in the local gateway: {exc!r}"))

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap
