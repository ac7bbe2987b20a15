"""Anthropic Messages API (``/v1/messages``, ``/v1/messages/count_tokens``): parse and serialise.

Shapes follow the installed ``anthropic`` SDK's types (``Message``, the raw stream events
``message_start`` … ``message_stop``, ``MessageTokensCount``) so that ``messages.create``,
``messages.stream()`` and ``messages.count_tokens`` read every answer. Errors use Anthropic's
``{"type": "error", "error": {"type", "message"}}`` shape. The SDK's ``x-api-key`` or
``Authorization: Bearer`` header is accepted and ignored (no key is checked, none is logged).

The fields the API defines are the SDK's own ``MessageCreateParams`` (its beta ones for a beta request,
``?beta=true`` or an ``anthropic-beta`` header) plus the documented sampling fields ``temperature``,
``top_p`` and ``top_k``; an unknown field is Anthropic's "Extra inputs are not permitted". Structured
output is honoured as ``output_config.format`` and as the older beta ``output_format`` (with the
``structured-outputs-2025-11-13`` beta header). Tool-use ids start with ``toolu_``, as Anthropic's do.
"""
from __future__ import annotations

import datetime
import functools
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

from .content import (
    ContentWalk,
    PartTable,
    call_text,
    decode_base64,
    media_kind,
    read_text,
    result_text,
    skip,
)
from .core import Core
from .errors import GatewayError, bad
from .fields import (
    FieldPolicy,
    check_limit,
    check_tools_unique,
    checked_schema,
    opt_bool,
    opt_number,
    stop_list,
    unsupported,
)
from .types import (
    ArgumentsDelta,
    Done,
    Event,
    Generation,
    GenRequest,
    Started,
    TextDelta,
    Tool,
    ToolCallStart,
    ToolChoice,
    new_id,
)

__all__ = ["STRUCTURED_OUTPUTS_BETA", "MessageExchange", "error_body", "error_status", "model_object",
           "parse_messages"]

#: The beta header value under which the Messages API takes structured output as ``output_format``.
STRUCTURED_OUTPUTS_BETA = "structured-outputs-2025-11-13"

_ERROR_TYPES = {
    "invalid_request": (400, "invalid_request_error"),
    "not_found": (404, "not_found_error"),
    "not_allowed": (405, "invalid_request_error"),
    "rate_limit": (429, "rate_limit_error"),
    "server": (500, "api_error"),
    "timeout": (504, "timeout_error"),
    "unavailable": (529, "overloaded_error"),
}


def error_body(exc: GatewayError) -> dict[str, Any]:
    """Anthropic's error object for ``exc``."""
    return {"type": "error", "error": {"type": _ERROR_TYPES[exc.kind][1], "message": exc.message},
            "request_id": new_id("req_")}


def error_status(exc: GatewayError) -> int:
    """Anthropic's HTTP status for ``exc`` (an overloaded engine is 529)."""
    return _ERROR_TYPES[exc.kind][0]


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One named server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


# ------------------------------------------------------------------------------------------------
# Request parsing
# ------------------------------------------------------------------------------------------------
async def _read_image(walk: ContentWalk, block: dict[str, Any], p: str) -> str:
    src = block.get("source")
    if not isinstance(src, dict):
        raise bad(f"{p}.source", "expected an object with type 'base64', media_type and data")
    if src.get("type") == "url":
        raise bad(f"{p}.source.url", f"the offline local provider cannot fetch remote URLs "
                                     f"({str(src.get('url'))[:80]}); send the image as base64")
    if src.get("type") != "base64":
        raise bad(f"{p}.source.type", f"only base64 image sources are supported, got {src.get('type')!r}")
    mime = src.get("media_type")
    if not isinstance(mime, str):
        raise bad(f"{p}.source.media_type", "expected an image media type such as image/png")
    media_kind(mime, f"{p}.source.media_type")
    data = decode_base64(src.get("data"), f"{p}.source.data")
    return await walk.media("image", data, mime, p)


async def _read_document(walk: ContentWalk, block: dict[str, Any], p: str) -> str:
    src = block.get("source") or {}
    if src.get("type") == "text" and isinstance(src.get("data"), str):
        return f"[document: {src['data']}]"
    raise bad(f"{p}.source", "the local provider reads plain-text documents only (source type 'text')")


async def _read_tool_use(walk: ContentWalk, block: dict[str, Any], p: str) -> str:
    name = block.get("name")
    if not isinstance(name, str):
        raise bad(f"{p}.name", "a tool_use block needs the tool name")
    walk.names[str(block.get("id"))] = name
    return call_text(name, json.dumps(block.get("input", {})))


async def _read_tool_result(walk: ContentWalk, block: dict[str, Any], p: str) -> str:
    tid = block.get("tool_use_id")
    if not isinstance(tid, str):
        raise bad(f"{p}.tool_use_id", "a tool_result block needs the id of the tool_use it answers")
    inner = block.get("content", "")
    text = await walk.text(inner, f"{p}.content") if inner else ""
    return result_text(walk.names.get(tid, tid), text, error=bool(block.get("is_error")))


PARTS = PartTable(
    readers={"text": read_text, "image": _read_image, "document": _read_document, "tool_use": _read_tool_use,
             "tool_result": _read_tool_result, "thinking": skip, "redacted_thinking": skip},
    kind_of=lambda block: block.get("type"),
    unknown=lambda kind, block, p: bad(f"{p}.type", f"unsupported content block type {kind!r}"),
    what="content block", index=lambda param, i: f"{param}.{i}")


def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("tools", "expected a list of tools")
    tools: list[Tool] = []
    for i, t in enumerate(raw):
        p = f"tools.{i}"
        if not isinstance(t, dict):
            raise bad(p, "a tool must be an object")
        if t.get("type") not in (None, "custom"):
            raise bad(f"{p}.type", f"server tools ({t.get('type')!r}) are not available in the local provider; "
                                   "declare custom tools with name and input_schema")
        if not isinstance(t.get("name"), str) or not t["name"]:
            raise bad(f"{p}.name", "a tool needs a name")
        schema = t.get("input_schema")
        if schema is None:
            raise bad(f"{p}.input_schema", "a tool needs an input_schema (a JSON schema of type object)")
        checked_schema(schema, f"{p}.input_schema")
        tools.append(Tool(name=t["name"], description=str(t.get("description") or ""), parameters=schema))
    check_tools_unique(tools, "tools")
    return tools


def _tool_choice(raw: Any, tools: list[Tool]) -> ToolChoice:
    if raw is None:
        return ToolChoice("auto" if tools else "none")
    if not isinstance(raw, dict) or raw.get("type") not in ("auto", "any", "tool", "none"):
        raise bad("tool_choice", f"expected {{'type': 'auto'|'any'|'tool'|'none'}}, got {raw!r}")
    kind = raw["type"]
    if kind in ("any", "tool") and not tools:
        raise bad("tool_choice", f"'{kind}' needs at least one tool in 'tools'")
    if kind == "tool":
        if raw.get("name") not in [t.name for t in tools]:
            raise bad("tool_choice.name", f"names the tool {raw.get('name')!r}, which is not declared in 'tools'")
        return ToolChoice("named", raw["name"])
    return ToolChoice({"auto": "auto", "any": "required", "none": "none"}[kind])  # type: ignore[arg-type]


def extra_input(name: str) -> GatewayError:
    """Anthropic's 400 for a field the API does not define."""
    return bad(name, "Extra inputs are not permitted")


@functools.lru_cache(maxsize=32)
def fields(endpoint: Literal["messages", "count_tokens"], beta: bool, betas: frozenset[str]) -> FieldPolicy:
    """The fields of a Messages (or count_tokens) body: the SDK's request types for that endpoint."""
    if beta:
        from anthropic.types.beta import (
            message_count_tokens_params,
            message_create_params,
        )
    else:
        from anthropic.types import message_count_tokens_params, message_create_params
    params = (message_create_params.MessageCreateParamsBase if endpoint == "messages"
              else message_count_tokens_params.MessageCountTokensParams)
    # The documented sampling fields, which this SDK version no longer takes as arguments.
    sampling = {"temperature", "top_p", "top_k"} if endpoint == "messages" else set()
    known = frozenset(params.__annotations__) | sampling | ({"stream"} if endpoint == "messages" else set())
    read = frozenset({"model", "messages", "max_tokens", "system", "stop_sequences", "stream", "tools",
                      "tool_choice", "output_config", "thinking", *sampling})
    ignored = {"metadata": "a user id for abuse monitoring",
               "service_tier": "the local provider has one tier",
               "cache_control": "prompt caching; the engine caches prompt prefixes by itself",
               "inference_geo": "where the model runs: here, on this machine",
               "speed": "one speed: the local engine's",
               "user_profile_id": "account scoping; the local provider has no accounts",
               "workspace_id": "account scoping; the local provider has no accounts"}
    policy = FieldPolicy(known, read, extra_input, ignored,
                         reasons={"container": "no code-execution containers offline",
                                  "mcp_servers": "no MCP servers offline"})
    return policy.with_known({"output_format"}) if STRUCTURED_OUTPUTS_BETA in betas else policy


def _structured_output(body: dict[str, Any], req: GenRequest) -> None:
    """Honour ``output_config.format`` (or the beta ``output_format``): a JSON schema for the answer."""
    out_cfg = body.get("output_config")
    if out_cfg is not None:
        if not isinstance(out_cfg, dict):
            raise bad("output_config", "expected an object")
        FieldPolicy(frozenset({"format", "effort"}), frozenset({"format"}), extra_input, prefix="output_config.",
                    reasons={"effort": "the local model has one effort level"}).check(out_cfg)
    for name, fmt in (("output_config.format", (out_cfg or {}).get("format")), ("output_format", body.get("output_format"))):
        if fmt is None:
            continue
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            raise bad(f"{name}.type", "expected 'json_schema'")
        req.json_schema = checked_schema(fmt.get("schema"), f"{name}.schema")
        req.json_param = f"{name}.schema"


async def parse_messages(core: Core, body: dict[str, Any], *, counting: bool = False,
                         endpoint: Literal["messages", "count_tokens"] = "messages", beta: bool = False,
                         betas: Iterable[str] = ()) -> MessageExchange:
    """Validate a Messages API body (or a count_tokens body) into a :class:`MessageExchange`.

    ``counting``: the body is only counted (``max_tokens`` is not required); ``endpoint`` picks the
    API's field set; ``beta`` and ``betas`` (the ``anthropic-beta`` header's values) pick the beta one.
    """
    fields(endpoint, beta or bool(betas), frozenset(betas)).check(body)
    model = core.check_model(body.get("model"), "anthropic")
    max_tokens = opt_number(body, "max_tokens", lo=1, integer=True)
    if max_tokens is None and not counting:
        raise bad("max_tokens", "field required")
    limit = core.output_limit(model)
    check_limit(max_tokens, limit, lambda value, cap: bad(
        "max_tokens", f"{value} > {cap}, which is the maximum allowed number of output tokens for {model}"))
    thinking = body.get("thinking")
    if thinking is not None and (not isinstance(thinking, dict) or thinking.get("type") != "disabled"):
        raise unsupported("thinking", "the local model does not think before answering; send "
                                      "{'type': 'disabled'} or leave it out")
    walk = ContentWalk(PARTS)
    messages: list[dict[str, str]] = []
    system = body.get("system")
    if system is not None:
        if isinstance(system, list):
            text = "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
        elif isinstance(system, str):
            text = system
        else:
            raise bad("system", "expected a string or a list of text blocks")
        messages.append({"role": "system", "content": text})
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise bad("messages", "expected a non-empty list of messages")
    for i, m in enumerate(raw):
        p = f"messages.{i}"
        if not isinstance(m, dict):
            raise bad(p, "a message must be an object")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise bad(f"{p}.role", f"expected 'user' or 'assistant', got {role!r}")
        if "content" not in m:
            raise bad(f"{p}.content", "field required")
        messages.append({"role": role, "content": await walk.text(m["content"], f"{p}.content")})
    tools = _tools(body.get("tools"))
    req = GenRequest(
        model=model, messages=messages, max_tokens=max_tokens,
        temperature=opt_number(body, "temperature", lo=0, hi=1),
        top_p=opt_number(body, "top_p", lo=0, hi=1),
        top_k=opt_number(body, "top_k", lo=0, integer=True),
        stop=stop_list(body.get("stop_sequences"), "stop_sequences"),
        tools=tools, tool_choice=_tool_choice(body.get("tool_choice"), tools),
        call_id_prefix="toolu_", stream=opt_bool(body, "stream"),
    )
    _structured_output(body, req)
    return MessageExchange(req, backend=core.backend_name(model))


# ------------------------------------------------------------------------------------------------
# Responses
# ------------------------------------------------------------------------------------------------
def stop_reason(gen: Generation) -> str:
    """Anthropic stop_reason."""
    return {"length": "max_tokens", "tool_call": "tool_use", "stop_sequence": "stop_sequence"}.get(gen.finish, "end_turn")


def usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """Anthropic ``Usage``."""
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "service_tier": "standard"}


class MessageExchange:
    """A parsed Messages request and its two answers (a ``Message`` or its raw stream events)."""

    def __init__(self, req: GenRequest, *, backend: str) -> None:
        self.req = req
        self.backend = backend

    def response(self, gen: Generation) -> dict[str, Any]:
        """An Anthropic ``Message``."""
        if gen.tool_call:
            content = [{"type": "tool_use", "id": gen.tool_call.id, "name": gen.tool_call.name,
                        "input": gen.tool_call.args}]
        else:
            content = [{"type": "text", "text": gen.text}]
        return {"id": new_id("msg_"), "type": "message", "role": "assistant", "model": self.req.model,
                "content": content, "stop_reason": stop_reason(gen), "stop_sequence": gen.stop_sequence,
                "usage": usage(gen.prompt_tokens, gen.completion_tokens), "backend_model": self.backend}

    async def stream(self, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
        """message_start, content_block_start/delta/stop, message_delta, message_stop."""
        msg_id = new_id("msg_")
        open_block = False
        try:
            async for ev in events:
                if isinstance(ev, Started):
                    start = {"id": msg_id, "type": "message", "role": "assistant", "model": self.req.model,
                             "content": [], "stop_reason": None, "stop_sequence": None,
                             "usage": usage(ev.prompt_tokens, 1), "backend_model": self.backend}
                    yield sse("message_start", {"type": "message_start", "message": start})
                    yield sse("ping", {"type": "ping"})
                elif isinstance(ev, TextDelta):
                    if not open_block:
                        open_block = True
                        yield sse("content_block_start", {"type": "content_block_start", "index": 0,
                                                          "content_block": {"type": "text", "text": ""}})
                    yield sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                      "delta": {"type": "text_delta", "text": ev.text}})
                elif isinstance(ev, ToolCallStart):
                    open_block = True
                    yield sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                        "type": "tool_use", "id": ev.id, "name": ev.name, "input": {}}})
                elif isinstance(ev, ArgumentsDelta):
                    yield sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                      "delta": {"type": "input_json_delta", "partial_json": ev.text}})
                elif isinstance(ev, Done):
                    gen = ev.generation
                    if not open_block:
                        yield sse("content_block_start", {"type": "content_block_start", "index": 0,
                                                          "content_block": {"type": "text", "text": ""}})
                    yield sse("content_block_stop", {"type": "content_block_stop", "index": 0})
                    yield sse("message_delta", {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason(gen), "stop_sequence": gen.stop_sequence},
                        "usage": {"input_tokens": gen.prompt_tokens, "output_tokens": gen.completion_tokens,
                                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})
                    yield sse("message_stop", {"type": "message_stop"})
        except GatewayError as exc:
            yield sse("error", error_body(exc))


def model_object(model: str, *, created: float, backend: str, limit: int | None) -> dict[str, Any]:
    """An entry of ``GET /v1/models`` as the Anthropic SDK reads it (``ModelInfo``)."""
    stamp = datetime.datetime.fromtimestamp(created, tz=datetime.UTC).isoformat().replace("+00:00", "Z")
    return {"id": model, "type": "model", "display_name": model, "created_at": stamp, "lifecycle": "active",
            "max_tokens": limit, "backend_model": backend}
