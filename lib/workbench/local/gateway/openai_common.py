"""What the two OpenAI wire protocols (chat completions and Responses) share.

OpenAI's error body ``{"error": {"message", "type", "param", "code"}}``, its server-sent events,
function tools and ``tool_choice`` (nested under ``function`` in chat, flat in Responses), the content
parts both accept (text, images as data URLs, ``input_audio``), and the model objects of
``/v1/models``. Parse and serialise only: no HTTP, no engine.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .content import ContentWalk, Reader, decode_base64
from .errors import GatewayError, bad
from .fields import check_tools_unique, checked_schema
from .types import TokenLogprob, Tool, ToolChoice

__all__ = [
    "AUDIO_READER",
    "IGNORED",
    "REASONS",
    "error_body",
    "error_code",
    "error_status",
    "logprob_entries",
    "model_object",
    "parse_function_tools",
    "parse_tool_choice",
    "read_refusal",
    "refuse_files",
    "sse",
    "sse_event",
    "too_many_tokens",
    "unknown_argument",
    "unknown_part",
]

#: Fields of both OpenAI APIs accepted without effect, and why nothing here depends on them.
IGNORED = {
    "metadata": "tags kept with a stored request; the local provider stores nothing",
    "user": "an end-user id for abuse monitoring",
    "safety_identifier": "an end-user id for abuse monitoring",
    "store": "the local provider stores nothing",
    "service_tier": "the local provider has one tier",
    "prompt_cache_key": "a caching hint; the engine caches prompt prefixes by itself",
    "prompt_cache_retention": "a caching hint; the engine caches prompt prefixes by itself",
    "prompt_cache_options": "a caching hint; the engine caches prompt prefixes by itself",
    "parallel_tool_calls": "the local provider makes at most one tool call per answer",
}
#: Why some real OpenAI fields are refused by the local provider.
REASONS = {
    "reasoning_effort": "the local model does not reason before answering",
    "reasoning": "the local model does not reason before answering",
    "logit_bias": "its token ids are OpenAI's tokenizer's, not the local model's",
    "audio": "the local model answers in text only",
    "functions": "the deprecated functions API; declare 'tools' instead",
    "function_call": "the deprecated functions API; use 'tool_choice' instead",
    "web_search_options": "the offline local provider has no web search",
    "prediction": "predicted outputs",
    "background": "the local provider stores no responses to run or fetch later; send the request without it",
    "prompt": "the local provider has no stored prompts; send the instructions and input",
}


def unknown_argument(name: str) -> GatewayError:
    """Chat completions' 400 for a field the API does not define."""
    return GatewayError("invalid_request", f"Unrecognized request argument supplied: {name}", param=name,
                        code="unknown_parameter")


def too_many_tokens(param: str) -> Callable[[int, int], GatewayError]:
    """OpenAI's 400 for a token limit above the model's output limit."""

    def error(value: int, limit: int) -> GatewayError:
        return GatewayError("invalid_request", f"{param} is too large: {value}. This model supports at most "
                                               f"{limit} completion tokens, whereas you provided {value}.",
                            param=param, code="invalid_value")

    return error


def logprob_entries(tokens: list[TokenLogprob]) -> list[dict[str, Any]]:
    """OpenAI's log-probability entries (``token``, ``logprob``, ``bytes``, ``top_logprobs``)."""
    return [{"token": t.token, "logprob": t.logprob, "bytes": t.bytes,
             "top_logprobs": [{"token": a.token, "logprob": a.logprob, "bytes": a.bytes} for a in t.top]}
            for t in tokens]


_ERROR_TYPES = {
    "invalid_request": ("invalid_request_error", None),
    "not_found": ("invalid_request_error", "model_not_found"),
    "not_allowed": ("invalid_request_error", "method_not_allowed"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "server": ("server_error", None),
    "timeout": ("timeout", "timeout"),
    "unavailable": ("server_error", "service_unavailable"),
}


def error_body(exc: GatewayError) -> dict[str, Any]:
    """OpenAI's error object for ``exc``."""
    etype, code = _ERROR_TYPES[exc.kind]
    return {"error": {"message": exc.message, "type": etype, "param": exc.param, "code": exc.code or code}}


def error_status(exc: GatewayError) -> int:
    """OpenAI's HTTP status for ``exc``."""
    return exc.status


def error_code(exc: GatewayError) -> str:
    """The ``code`` of an error event inside a stream."""
    etype, code = _ERROR_TYPES[exc.kind]
    return exc.code or code or etype


def sse(data: Any) -> bytes:
    """One ``data:`` server-sent event."""
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def sse_event(event: str, data: Any) -> bytes:
    """One server-sent event with an ``event:`` line (the Responses API sends both)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


# ------------------------------------------------------------------------------------------------
# Content parts both protocols accept
# ------------------------------------------------------------------------------------------------
async def _read_audio(walk: ContentWalk, part: dict[str, Any], param: str) -> str:
    audio = part.get("input_audio")
    if not isinstance(audio, dict):
        raise bad(f"{param}.input_audio", "expected an object with 'data' (base64) and 'format'")
    fmt = audio.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise bad(f"{param}.input_audio.format", "expected an audio format such as 'wav' or 'mp3'")
    data = decode_base64(audio.get("data"), f"{param}.input_audio.data")
    return await walk.media("audio", data, f"audio/{fmt}", param)


async def read_refusal(walk: ContentWalk, part: dict[str, Any], param: str) -> str:
    """Reader of an earlier refusal part."""
    return str(part.get("refusal", ""))


#: Reader of an ``input_audio`` part (base64 data and a format name).
AUDIO_READER: Reader = _read_audio


def unknown_part(kind: str | None, part: dict[str, Any], param: str) -> GatewayError:
    """The 400 for a content part of a type OpenAI does not define."""
    return bad(f"{param}.type", f"unknown content part type {kind!r}")


def refuse_files(kind: str) -> Reader:
    """Reader refusing ``kind`` parts (files): the local provider reads images and audio only."""

    async def refuse(walk: ContentWalk, part: dict[str, Any], param: str) -> str:
        raise bad(f"{param}.type", f"{kind} parts are not supported by the local provider (images and audio are)")

    return refuse


# ------------------------------------------------------------------------------------------------
# Tools
# ------------------------------------------------------------------------------------------------
def parse_function_tools(raw: Any, param: str, *, nested: bool) -> list[Tool]:
    """OpenAI function tools: chat's ``{"type":"function","function":{...}}`` or Responses' flat form."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad(param, "expected a list of tools")
    tools: list[Tool] = []
    for i, item in enumerate(raw):
        p = f"{param}[{i}]"
        if not isinstance(item, dict) or item.get("type") != "function":
            kind = item.get("type") if isinstance(item, dict) else item
            raise bad(f"{p}.type", f"only function tools are supported by the local provider, got {kind!r}")
        fn = item.get("function") if nested else item
        fp = f"{p}.function" if nested else p
        if not isinstance(fn, dict):
            raise bad(fp, "expected an object with name, description and parameters")
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise bad(f"{fp}.name", "a function tool needs a name")
        params = fn.get("parameters") or {}
        checked_schema(params, f"{fp}.parameters")
        tools.append(Tool(name=name, description=str(fn.get("description") or ""), parameters=params))
    check_tools_unique(tools, param)
    return tools


def parse_tool_choice(raw: Any, tools: list[Tool], param: str, *, nested: bool) -> ToolChoice:
    """``none``/``auto``/``required`` or a named function."""
    if raw is None:
        return ToolChoice("auto" if tools else "none")
    if raw in ("none", "auto", "required"):
        if raw == "required" and not tools:
            raise bad(param, "'required' needs at least one tool in 'tools'")
        return ToolChoice(raw)
    if isinstance(raw, dict) and raw.get("type") == "function":
        name = (raw.get("function") or {}).get("name") if nested else raw.get("name")
        if name not in [t.name for t in tools]:
            raise bad(param, f"names the function {name!r}, which is not declared in 'tools'")
        return ToolChoice("named", name)
    raise bad(param, f"expected 'none', 'auto', 'required' or a named function, got {raw!r}")


def model_object(model_id: str, *, created: int, backend: str) -> dict[str, Any]:
    """An entry of ``GET /v1/models``."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": "openai", "backend_model": backend}
