"""OpenAI wire protocol for the local gateway: ``/v1/chat/completions``, ``/v1/responses``, ``/v1/models``.

Shapes follow the installed ``openai`` SDK's types (``ChatCompletion``, ``ChatCompletionChunk``,
``Response`` and its stream events with ``sequence_number``/``output_index``) so that the SDK's own
helpers (``chat.completions.parse()``/``.stream()``, ``responses.stream()``) parse every answer.
Errors use OpenAI's ``{"error": {"message", "type", "param", "code"}}`` shape.
"""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .gateway import (
    ArgumentsDelta,
    Core,
    Done,
    Event,
    GatewayError,
    Generation,
    GenRequest,
    MediaCounter,
    TextDelta,
    Tool,
    ToolCallStart,
    ToolChoice,
    apply_fault,
    bad,
    check_tools_unique,
    checked_schema,
    decode_base64,
    json_body_response,
    media_part,
    new_id,
    opt_bool,
    opt_number,
    parse_data_url,
    primed,
    protocol_endpoint,
    read_json,
    sse_response,
    stop_list,
)

FINGERPRINT = "workbench-local"
_ERROR_TYPES = {
    "invalid_request": ("invalid_request_error", None),
    "not_found": ("invalid_request_error", "model_not_found"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "server": ("server_error", None),
    "timeout": ("timeout", "timeout"),
    "unavailable": ("server_error", "service_unavailable"),
}


def error_body(exc: GatewayError) -> dict[str, Any]:
    """OpenAI's error object for ``exc``."""
    etype, code = _ERROR_TYPES[exc.kind]
    return {"error": {"message": exc.message, "type": etype, "param": exc.param, "code": code}}


def error_response(exc: GatewayError) -> Response:
    """OpenAI's error response (status, body, headers)."""
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


def sse(data: Any) -> bytes:
    """One ``data:`` server-sent event."""
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def sse_event(event: str, data: Any) -> bytes:
    """One server-sent event with an ``event:`` line (the Responses API sends both)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


# ------------------------------------------------------------------------------------------------
# Request parsing shared by chat completions and responses
# ------------------------------------------------------------------------------------------------
async def _audio_part(part: dict[str, Any], counter: MediaCounter, param: str) -> str:
    audio = part.get("input_audio")
    if not isinstance(audio, dict):
        raise bad(f"{param}.input_audio", "expected an object with 'data' (base64) and 'format'")
    fmt = audio.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise bad(f"{param}.input_audio.format", "expected an audio format such as 'wav' or 'mp3'")
    data = decode_base64(audio.get("data"), f"{param}.input_audio.data")
    return await media_part("audio", data, f"audio/{fmt}", counter, param)


async def chat_content_text(content: Any, counter: MediaCounter, param: str) -> str:
    """Chat message content (a string or a list of parts) as text, media turned into marked text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad(param, "expected a string or a list of content parts")
    pieces: list[str] = []
    for i, part in enumerate(content):
        p = f"{param}[{i}]"
        if not isinstance(part, dict):
            raise bad(p, "a content part must be an object")
        ptype = part.get("type")
        if ptype == "text":
            if not isinstance(part.get("text"), str):
                raise bad(f"{p}.text", "expected a string")
            pieces.append(part["text"])
        elif ptype == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            data, mime = parse_data_url(url, f"{p}.image_url.url", "image")
            pieces.append(await media_part("image", data, mime, counter, p))
        elif ptype == "input_audio":
            pieces.append(await _audio_part(part, counter, p))
        elif ptype == "refusal":
            pieces.append(str(part.get("refusal", "")))
        elif ptype == "file":
            raise bad(f"{p}.type", "file parts are not supported by the local provider (images and audio are)")
        else:
            raise bad(f"{p}.type", f"unknown content part type {ptype!r}")
    return "\n".join(x for x in pieces if x)


def call_text(name: str, arguments: str) -> str:
    """How an earlier tool call appears in the prompt."""
    return f"[called tool {name} with arguments {arguments}]"


def result_text(name: str, output: str) -> str:
    """How a tool result appears in the prompt."""
    return f"[result of tool {name}: {output}]"


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


# ------------------------------------------------------------------------------------------------
# Chat completions
# ------------------------------------------------------------------------------------------------
async def parse_chat(core: Core, body: dict[str, Any]) -> tuple[GenRequest, bool]:
    """Validate a chat completions body; return the request and ``stream_options.include_usage``."""
    model = core.check_model(body.get("model"), "openai")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise bad("messages", "expected a non-empty list of messages")
    counter = MediaCounter()
    names: dict[str, str] = {}
    messages: list[dict[str, str]] = []
    for i, m in enumerate(raw):
        p = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad(p, "a message must be an object")
        role = m.get("role")
        if role in ("system", "developer", "user", "tool") and m.get("content") is None:
            raise bad(f"{p}.content", f"a {role} message needs content")
        text = await chat_content_text(m.get("content"), counter, f"{p}.content")
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
                names[str(c.get("id"))] = fn["name"]
                text = "\n".join(x for x in (text, call_text(fn["name"], str(fn.get("arguments", "")))) if x)
            messages.append({"role": "assistant", "content": text})
        elif role == "tool":
            call_id = m.get("tool_call_id")
            if not isinstance(call_id, str):
                raise bad(f"{p}.tool_call_id", "a tool message needs the id of the call it answers")
            messages.append({"role": "user", "content": result_text(names.get(call_id, call_id), text)})
        else:
            raise bad(f"{p}.role", f"unknown role {role!r} (system, developer, user, assistant, tool)")
    n = opt_number(body, "n", lo=1, integer=True)
    if n not in (None, 1):
        raise bad("n", "the local provider returns one choice; n must be 1")
    max_tokens = opt_number(body, "max_completion_tokens", lo=1, integer=True)
    if max_tokens is None:
        max_tokens = opt_number(body, "max_tokens", lo=1, integer=True)
    tools = parse_function_tools(body.get("tools"), "tools", nested=True)
    req = GenRequest(
        model=model, messages=messages, max_tokens=max_tokens,
        temperature=opt_number(body, "temperature", lo=0, hi=2),
        top_p=opt_number(body, "top_p", lo=0, hi=1),
        stop=stop_list(body.get("stop"), "stop"),
        seed=opt_number(body, "seed", integer=True),
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), tools, "tool_choice", nested=True),
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
    return req, include_usage


def chat_usage(gen: Generation) -> dict[str, Any]:
    """OpenAI ``CompletionUsage`` from the engine's counts."""
    return {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
            "total_tokens": gen.prompt_tokens + gen.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}


def chat_finish(gen: Generation) -> str:
    """OpenAI finish_reason."""
    return {"length": "length", "tool_call": "tool_calls"}.get(gen.finish, "stop")


def chat_completion(core: Core, req: GenRequest, gen: Generation) -> dict[str, Any]:
    """A ``ChatCompletion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": None if gen.tool_call else gen.text, "refusal": None}
    if gen.tool_call:
        message["tool_calls"] = [{"id": gen.tool_call.id, "type": "function",
                                  "function": {"name": gen.tool_call.name, "arguments": gen.tool_call.arguments}}]
    return {
        "id": new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
        "model": req.model, "system_fingerprint": FINGERPRINT, "service_tier": "default",
        "choices": [{"index": 0, "message": message, "finish_reason": chat_finish(gen), "logprobs": None}],
        "usage": chat_usage(gen), "backend_model": core.model_name,
    }


async def chat_stream(core: Core, req: GenRequest, events: AsyncIterator[Event],
                      include_usage: bool) -> AsyncIterator[bytes]:
    """``ChatCompletionChunk`` events, then ``[DONE]``."""
    cid, created = new_id("chatcmpl-"), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model,
            "system_fingerprint": FINGERPRINT, "service_tier": "default",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if include_usage:
            data["usage"] = None
        return sse(data)

    started = False
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                if not started:
                    started = True
                    yield chunk({"role": "assistant", "content": "", "refusal": None})
                yield chunk({"content": event.text})
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
                if include_usage:
                    yield sse({"id": cid, "object": "chat.completion.chunk", "created": created,
                               "model": req.model, "system_fingerprint": FINGERPRINT, "service_tier": "default",
                               "choices": [], "usage": chat_usage(event.generation)})
    except GatewayError as exc:
        yield sse(error_body(exc))
    yield b"data: [DONE]\n\n"


# ------------------------------------------------------------------------------------------------
# Responses API
# ------------------------------------------------------------------------------------------------
async def responses_content_text(content: Any, counter: MediaCounter, param: str) -> str:
    """Responses input content (a string or parts: input_text, input_image, output_text...) as text."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad(param, "expected a string or a list of content parts")
    pieces: list[str] = []
    for i, part in enumerate(content):
        p = f"{param}[{i}]"
        if not isinstance(part, dict):
            raise bad(p, "a content part must be an object")
        ptype = part.get("type")
        if ptype in ("input_text", "output_text", "text"):
            if not isinstance(part.get("text"), str):
                raise bad(f"{p}.text", "expected a string")
            pieces.append(part["text"])
        elif ptype == "refusal":
            pieces.append(str(part.get("refusal", "")))
        elif ptype == "input_image":
            if part.get("file_id"):
                raise bad(f"{p}.file_id", "the local provider has no file storage; send the image as a data URL")
            data, mime = parse_data_url(part.get("image_url"), f"{p}.image_url", "image")
            pieces.append(await media_part("image", data, mime, counter, p))
        elif ptype == "input_audio":
            pieces.append(await _audio_part(part, counter, p))
        elif ptype == "input_file":
            raise bad(f"{p}.type", "input_file parts are not supported by the local provider (images and audio are)")
        else:
            raise bad(f"{p}.type", f"unknown content part type {ptype!r}")
    return "\n".join(x for x in pieces if x)


async def parse_responses(core: Core, body: dict[str, Any]) -> GenRequest:
    """Validate a Responses API body into a :class:`GenRequest`."""
    model = core.check_model(body.get("model"), "openai")
    if body.get("previous_response_id"):
        raise bad("previous_response_id", "the local provider stores no responses; send the whole conversation in 'input'")
    if body.get("conversation"):
        raise bad("conversation", "the local provider stores no conversations; send the whole conversation in 'input'")
    messages: list[dict[str, str]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad("instructions", "expected a string")
        messages.append({"role": "system", "content": instructions})
    raw = body.get("input")
    counter = MediaCounter()
    names: dict[str, str] = {}
    if isinstance(raw, str):
        messages.append({"role": "user", "content": raw})
    elif isinstance(raw, list) and raw:
        for i, item in enumerate(raw):
            p = f"input[{i}]"
            if not isinstance(item, dict):
                raise bad(p, "an input item must be an object")
            itype = item.get("type", "message")
            if itype == "message":
                role = item.get("role")
                if role not in ("user", "assistant", "system", "developer"):
                    raise bad(f"{p}.role", f"unknown role {role!r} (user, assistant, system, developer)")
                text = await responses_content_text(item.get("content"), counter, f"{p}.content")
                messages.append({"role": "system" if role == "developer" else role, "content": text})
            elif itype == "function_call":
                name = item.get("name")
                if not isinstance(name, str):
                    raise bad(f"{p}.name", "a function_call item needs the function name")
                names[str(item.get("call_id"))] = name
                messages.append({"role": "assistant", "content": call_text(name, str(item.get("arguments", "")))})
            elif itype == "function_call_output":
                call_id = item.get("call_id")
                if not isinstance(call_id, str):
                    raise bad(f"{p}.call_id", "a function_call_output item needs the call_id it answers")
                output = item.get("output")
                text = output if isinstance(output, str) else await responses_content_text(output, counter, f"{p}.output")
                messages.append({"role": "user", "content": result_text(names.get(call_id, call_id), text)})
            elif itype == "reasoning":
                continue
            else:
                raise bad(f"{p}.type", f"input items of type {itype!r} are not supported by the local provider")
    else:
        raise bad("input", "expected a string or a non-empty list of input items")
    tools = parse_function_tools(body.get("tools"), "tools", nested=False)
    req = GenRequest(
        model=model, messages=messages,
        max_tokens=opt_number(body, "max_output_tokens", lo=1, integer=True),
        temperature=opt_number(body, "temperature", lo=0, hi=2),
        top_p=opt_number(body, "top_p", lo=0, hi=1),
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), tools, "tool_choice", nested=False),
        stream=opt_bool(body, "stream"),
    )
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if text is not None and not isinstance(text, dict):
        raise bad("text", "expected an object such as {'format': {'type': 'json_schema', ...}}")
    if fmt is not None:
        ftype = fmt.get("type") if isinstance(fmt, dict) else None
        if ftype == "json_object":
            req.json_schema, req.json_param = {"type": "object"}, "text.format"
        elif ftype == "json_schema":
            req.json_schema = checked_schema(fmt.get("schema"), "text.format.schema")
            req.json_param = "text.format.schema"
        elif ftype != "text":
            raise bad("text.format.type", f"expected 'text', 'json_object' or 'json_schema', got {ftype!r}")
    return req


class ResponseBuilder:
    """Builds the Response object and its stream events for one request."""

    def __init__(self, core: Core, req: GenRequest, body: dict[str, Any]) -> None:
        self.core, self.req, self.body = core, req, body
        self.id = new_id("resp_", 32)
        self.created = int(time.time())
        self.seq = 0

    def tools(self) -> list[dict[str, Any]]:
        return [{"type": "function", "name": t.name, "description": t.description or None,
                 "parameters": t.parameters, "strict": bool(raw.get("strict", False))}
                for t, raw in zip(self.req.tools, self.body.get("tools") or [])]

    def tool_choice(self) -> Any:
        choice = self.req.tool_choice
        return {"type": "function", "name": choice.name} if choice.mode == "named" else choice.mode

    def response(self, status: str, output: list[dict[str, Any]], gen: Generation | None) -> dict[str, Any]:
        text_cfg = self.body.get("text") if isinstance(self.body.get("text"), dict) else {"format": {"type": "text"}}
        usage = None
        if gen is not None:
            usage = {"input_tokens": gen.prompt_tokens,
                     "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                     "output_tokens": gen.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                     "total_tokens": gen.prompt_tokens + gen.completion_tokens}
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self.id, "object": "response", "created_at": self.created, "status": status,
            "completed_at": int(time.time()) if status in ("completed", "incomplete") else None,
            "background": False, "error": None, "incomplete_details": incomplete,
            "instructions": self.body.get("instructions"), "max_output_tokens": self.req.max_tokens,
            "max_tool_calls": None, "model": self.req.model, "output": output, "parallel_tool_calls": True,
            "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
            "service_tier": "default", "store": False, "temperature": self.body.get("temperature", 1.0),
            "text": text_cfg, "tool_choice": self.tool_choice(), "tools": self.tools(),
            "top_p": self.body.get("top_p", 1.0), "truncation": "disabled", "usage": usage, "user": None,
            "metadata": self.body.get("metadata") or {}, "backend_model": self.core.model_name,
        }

    @staticmethod
    def message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status != "in_progress" else []
        return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}

    @staticmethod
    def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
        return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
                "arguments": arguments, "status": status}

    @staticmethod
    def status_of(gen: Generation) -> str:
        return "incomplete" if gen.finish == "length" else "completed"

    def final(self, gen: Generation) -> dict[str, Any]:
        """The complete Response for a finished generation."""
        if gen.tool_call:
            output = [self.call_item(new_id("fc_", 32), gen.tool_call.id, gen.tool_call.name,
                                     gen.tool_call.arguments, "completed")]
        else:
            output = [self.message_item(new_id("msg_", 32), gen.text, self.status_of(gen))]
        return self.response(self.status_of(gen), output, gen)

    def event(self, etype: str, **fields: Any) -> bytes:
        data = {"type": etype, **fields, "sequence_number": self.seq}
        self.seq += 1
        return sse_event(etype, data)

    async def stream(self, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
        """The Responses stream: created, in_progress, item/part events with deltas, completed."""
        yield self.event("response.created", response=self.response("in_progress", [], None))
        yield self.event("response.in_progress", response=self.response("in_progress", [], None))
        item_id = ""
        kind = ""
        parts: list[str] = []
        call: tuple[str, str] | None = None
        try:
            async for ev in events:
                if isinstance(ev, TextDelta):
                    if not kind:
                        kind, item_id = "message", new_id("msg_", 32)
                        yield self.event("response.output_item.added", output_index=0,
                                         item=self.message_item(item_id, "", "in_progress"))
                        yield self.event("response.content_part.added", item_id=item_id, output_index=0,
                                         content_index=0, part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
                    parts.append(ev.text)
                    yield self.event("response.output_text.delta", item_id=item_id, output_index=0,
                                     content_index=0, delta=ev.text, logprobs=[])
                elif isinstance(ev, ToolCallStart):
                    kind, item_id, call = "call", new_id("fc_", 32), (ev.id, ev.name)
                    yield self.event("response.output_item.added", output_index=0,
                                     item=self.call_item(item_id, ev.id, ev.name, "", "in_progress"))
                elif isinstance(ev, ArgumentsDelta):
                    parts.append(ev.text)
                    yield self.event("response.function_call_arguments.delta", item_id=item_id, output_index=0,
                                     delta=ev.text)
                elif isinstance(ev, Done):
                    gen = ev.generation
                    status = self.status_of(gen)
                    text = "".join(parts)
                    if kind == "call" and call is not None:
                        yield self.event("response.function_call_arguments.done", item_id=item_id, output_index=0,
                                         name=call[1], arguments=text)
                        item = self.call_item(item_id, call[0], call[1], text, "completed")
                    else:
                        if not kind:
                            item_id = new_id("msg_", 32)
                            yield self.event("response.output_item.added", output_index=0,
                                             item=self.message_item(item_id, "", "in_progress"))
                            yield self.event("response.content_part.added", item_id=item_id, output_index=0, content_index=0,
                                             part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
                        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                        yield self.event("response.output_text.done", item_id=item_id, output_index=0,
                                         content_index=0, text=text, logprobs=[])
                        yield self.event("response.content_part.done", item_id=item_id, output_index=0,
                                         content_index=0, part=part)
                        item = self.message_item(item_id, text, status)
                    yield self.event("response.output_item.done", output_index=0, item=item)
                    final = self.response(status, [item], gen)
                    yield self.event("response.completed" if status == "completed" else "response.incomplete",
                                     response=final)
        except GatewayError as exc:
            etype, code = _ERROR_TYPES[exc.kind]
            yield self.event("error", code=code or etype, message=exc.message, param=exc.param)


def routes(core: Core) -> list[Route]:
    """The OpenAI routes bound to ``core``."""
    endpoint = protocol_endpoint(error_response)

    @endpoint
    async def chat_completions(request: Request) -> Response:
        body = await read_json(request)
        req, include_usage = await parse_chat(core, body)
        core.check_messages(req)  # a 400 before any injected fault
        fault = core.faults.draw()
        await apply_fault(core, fault, request)
        if req.stream:
            events = await primed(core.events(req))
            return sse_response(chat_stream(core, req, events, include_usage), cut=fault == "cut")
        gen = await core.generate(req)
        return json_body_response(chat_completion(core, req, gen), cut=fault == "cut")

    @endpoint
    async def responses(request: Request) -> Response:
        body = await read_json(request)
        req = await parse_responses(core, body)
        core.check_messages(req)  # a 400 before any injected fault
        fault = core.faults.draw()
        await apply_fault(core, fault, request)
        builder = ResponseBuilder(core, req, body)
        if req.stream:
            events = await primed(core.events(req))
            return sse_response(builder.stream(events), cut=fault == "cut")
        gen = await core.generate(req)
        return json_body_response(builder.final(gen), cut=fault == "cut")

    def model_object(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": int(core.started), "owned_by": "openai",
                "backend_model": core.model_name}

    @endpoint
    async def list_models(request: Request) -> Response:
        ids = core.known_models.get("openai", [])
        return JSONResponse({"object": "list", "data": [model_object(m) for m in ids]})

    @endpoint
    async def get_model(request: Request) -> Response:
        return JSONResponse(model_object(core.check_model(request.path_params["model"], "openai")))

    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
    ]
