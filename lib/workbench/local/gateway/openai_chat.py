"""OpenAI chat completions (``POST /v1/chat/completions``): parse the body, serialise the answer.

Shapes follow the installed ``openai`` SDK's types (``ChatCompletion``, ``ChatCompletionChunk``) so
that ``chat.completions.create``/``parse()``/``stream()`` read every answer. The fields the API defines
are the SDK's own ``completion_create_params``; ``logprobs``/``top_logprobs`` are the engine's.
"""
from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from typing import Any

from .content import (
    ContentWalk,
    PartTable,
    call_text,
    parse_data_url,
    read_text,
    result_text,
)
from .core import Core
from .errors import GatewayError, bad
from .fields import (
    FieldPolicy,
    check_limit,
    checked_schema,
    opt_bool,
    opt_number,
    stop_list,
    unsupported,
)
from .openai_common import (
    AUDIO_READER,
    IGNORED,
    REASONS,
    error_body,
    logprob_entries,
    parse_function_tools,
    parse_tool_choice,
    read_refusal,
    refuse_files,
    sse,
    too_many_tokens,
    unknown_argument,
    unknown_part,
)
from .types import (
    ArgumentsDelta,
    Done,
    Event,
    Generation,
    GenRequest,
    TextDelta,
    TokenLogprob,
    ToolCallStart,
    new_id,
)

__all__ = ["ChatExchange", "parse_chat"]

FINGERPRINT = "workbench-local"


async def _read_image_url(walk: ContentWalk, part: dict[str, Any], param: str) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    data, mime = parse_data_url(url, f"{param}.image_url.url", "image")
    return await walk.media("image", data, mime, param)


PARTS = PartTable(
    readers={"text": read_text, "image_url": _read_image_url, "input_audio": AUDIO_READER,
             "refusal": read_refusal, "file": refuse_files("file")},
    kind_of=lambda part: part.get("type"), unknown=unknown_part, none_is_empty=True)


@functools.cache
def fields() -> FieldPolicy:
    """The chat completions fields: the SDK's ``CompletionCreateParams`` (plus ``stream``)."""
    from openai.types.chat import completion_create_params

    known = frozenset(completion_create_params.CompletionCreateParamsBase.__annotations__) | {"stream"}
    read = frozenset({"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
                      "seed", "tools", "tool_choice", "response_format", "stream", "stream_options", "n",
                      "logprobs", "top_logprobs", "frequency_penalty", "presence_penalty", "modalities"})
    return FieldPolicy(known, read, unknown_argument, IGNORED, REASONS)


async def parse_chat(core: Core, body: dict[str, Any]) -> ChatExchange:
    """Validate a chat completions body into a :class:`ChatExchange`."""
    fields().check(body)
    model = core.check_model(body.get("model"), "openai")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise bad("messages", "expected a non-empty list of messages")
    walk = ContentWalk(PARTS)
    messages: list[dict[str, str]] = []
    for i, m in enumerate(raw):
        p = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad(p, "a message must be an object")
        role = m.get("role")
        if role in ("system", "developer", "user", "tool") and m.get("content") is None:
            raise bad(f"{p}.content", f"a {role} message needs content")
        text = await walk.text(m.get("content"), f"{p}.content")
        if role in ("system", "developer"):
            messages.append({"role": "system", "content": text})
        elif role == "user":
            messages.append({"role": "user", "content": text})
        elif role == "assistant":
            calls = m.get("tool_calls") or []
            if not isinstance(calls, list):
                raise bad(f"{p}.tool_calls", "expected a list")
            for j, c in enumerate(calls):
                fn = c.get("function") if isinstance(c, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise bad(f"{p}.tool_calls[{j}].function", "expected an object with name and arguments")
                walk.names[str(c.get("id"))] = fn["name"]
                text = "\n".join(x for x in (text, call_text(fn["name"], str(fn.get("arguments", "")))) if x)
            messages.append({"role": "assistant", "content": text})
        elif role == "tool":
            call_id = m.get("tool_call_id")
            if not isinstance(call_id, str):
                raise bad(f"{p}.tool_call_id", "a tool message needs the id of the call it answers")
            messages.append({"role": "user", "content": result_text(walk.names.get(call_id, call_id), text)})
        else:
            raise bad(f"{p}.role", f"unknown role {role!r} (system, developer, user, assistant, tool)")
    n = opt_number(body, "n", lo=1, integer=True)
    if n not in (None, 1):
        raise bad("n", "the local provider returns one choice; n must be 1")
    cap_param = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = opt_number(body, cap_param, lo=1, integer=True)
    check_limit(max_tokens, core.output_limit(model), too_many_tokens(cap_param))
    if body.get("modalities") not in (None, ["text"]):
        raise unsupported("modalities", "the local model answers in text only")
    logprobs = opt_bool(body, "logprobs")
    top_logprobs = opt_number(body, "top_logprobs", lo=0, hi=20, integer=True)
    if top_logprobs is not None and not logprobs:
        raise bad("top_logprobs", "logprobs must be set to true when top_logprobs is given", code="invalid_value")
    tools = parse_function_tools(body.get("tools"), "tools", nested=True)
    req = GenRequest(
        model=model, messages=messages, max_tokens=max_tokens,
        temperature=opt_number(body, "temperature", lo=0, hi=2),
        top_p=opt_number(body, "top_p", lo=0, hi=1),
        stop=stop_list(body.get("stop"), "stop"),
        seed=opt_number(body, "seed", integer=True),
        frequency_penalty=opt_number(body, "frequency_penalty", lo=-2, hi=2),
        presence_penalty=opt_number(body, "presence_penalty", lo=-2, hi=2),
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), tools, "tool_choice", nested=True),
        logprobs=(top_logprobs or 0) if logprobs else None,
        stream=opt_bool(body, "stream"),
    )
    fmt = body.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, dict):
            raise bad("response_format", "expected an object with a 'type'")
        ftype = fmt.get("type")
        if ftype == "json_object":
            req.json_schema = {"type": "object"}
        elif ftype == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or "schema" not in spec:
                raise bad("response_format.json_schema", "expected an object with 'name' and 'schema'")
            req.json_schema = checked_schema(spec["schema"], "response_format.json_schema.schema")
            req.json_param = "response_format.json_schema.schema"
        elif ftype != "text":
            raise bad("response_format.type", f"expected 'text', 'json_object' or 'json_schema', got {ftype!r}")
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise bad("stream_options", "expected an object")
    include_usage = bool((opts or {}).get("include_usage"))
    return ChatExchange(req, include_usage=include_usage, backend=core.backend_name(model))


def chat_usage(gen: Generation) -> dict[str, Any]:
    """OpenAI ``CompletionUsage`` from the engine's counts."""
    return {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
            "total_tokens": gen.prompt_tokens + gen.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}


def chat_finish(gen: Generation) -> str:
    """OpenAI finish_reason."""
    return {"length": "length", "tool_call": "tool_calls"}.get(gen.finish, "stop")


class ChatExchange:
    """A parsed chat completions request and its two answers (``ChatCompletion`` or chunks)."""

    def __init__(self, req: GenRequest, *, include_usage: bool, backend: str) -> None:
        self.req = req
        self.include_usage = include_usage
        self.backend = backend

    @staticmethod
    def _logprobs(tokens: list[TokenLogprob]) -> dict[str, Any]:
        return {"content": logprob_entries(tokens), "refusal": None}

    def response(self, gen: Generation) -> dict[str, Any]:
        """A ``ChatCompletion`` object."""
        message: dict[str, Any] = {"role": "assistant", "content": None if gen.tool_call else gen.text,
                                   "refusal": None}
        if gen.tool_call:
            message["tool_calls"] = [{"id": gen.tool_call.id, "type": "function",
                                      "function": {"name": gen.tool_call.name, "arguments": gen.tool_call.arguments}}]
        logprobs = self._logprobs(gen.logprobs) if gen.logprobs is not None and not gen.tool_call else None
        return {
            "id": new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
            "model": self.req.model, "system_fingerprint": FINGERPRINT, "service_tier": "default",
            "choices": [{"index": 0, "message": message, "finish_reason": chat_finish(gen), "logprobs": logprobs}],
            "usage": chat_usage(gen), "backend_model": self.backend,
        }

    async def stream(self, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
        """``ChatCompletionChunk`` events, then ``[DONE]``."""
        cid, created, model = new_id("chatcmpl-"), int(time.time()), self.req.model

        def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> bytes:
            data: dict[str, Any] = {
                "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": FINGERPRINT, "service_tier": "default",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}],
            }
            if self.include_usage:
                data["usage"] = None
            return sse(data)

        started = False
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    if not started:
                        started = True
                        yield chunk({"role": "assistant", "content": "", "refusal": None})
                    probs = self._logprobs(event.logprobs) if self.req.logprobs is not None else None
                    yield chunk({"content": event.text}, logprobs=probs)
                elif isinstance(event, ToolCallStart):
                    started = True
                    yield chunk({"role": "assistant", "content": None, "refusal": None})
                    yield chunk({"tool_calls": [{"index": 0, "id": event.id, "type": "function",
                                                 "function": {"name": event.name, "arguments": ""}}]})
                elif isinstance(event, ArgumentsDelta):
                    yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": event.text}}]})
                elif isinstance(event, Done):
                    if not started:
                        yield chunk({"role": "assistant", "content": "", "refusal": None})
                    yield chunk({}, chat_finish(event.generation))
                    if self.include_usage:
                        yield sse({"id": cid, "object": "chat.completion.chunk", "created": created,
                                   "model": model, "system_fingerprint": FINGERPRINT, "service_tier": "default",
                                   "choices": [], "usage": chat_usage(event.generation)})
        except GatewayError as exc:
            yield sse(error_body(exc))
        yield b"data: [DONE]\n\n"
