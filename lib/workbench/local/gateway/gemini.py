"""Gemini Developer API (what ``google-genai`` speaks): parse ``generateContent`` bodies, serialise answers.

``:generateContent``, ``:streamGenerateContent?alt=sse`` and ``:countTokens`` under ``/v1beta`` and
``/v1``, plus the model objects of ``GET .../models``. Shapes follow the installed ``google-genai``
SDK's converters (camelCase JSON: ``candidates``, ``usageMetadata``, ``modelVersion``); requests are
read in camelCase or snake_case. Errors use Google's ``{"error": {"code", "message", "status"}}`` shape.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

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
from .fields import check_tools_unique, checked_schema, opt_number, stop_list
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

__all__ = ["GenerateExchange", "error_body", "error_status", "get", "model_object", "parse_generate",
           "to_json_schema"]

_STATUS = {"invalid_request": "INVALID_ARGUMENT", "not_found": "NOT_FOUND", "rate_limit": "RESOURCE_EXHAUSTED",
           "server": "INTERNAL", "timeout": "DEADLINE_EXCEEDED", "unavailable": "UNAVAILABLE"}


def error_body(exc: GatewayError) -> dict[str, Any]:
    """Google's error object for ``exc``."""
    return {"error": {"code": exc.status, "message": exc.message, "status": _STATUS[exc.kind]}}


def error_status(exc: GatewayError) -> int:
    """Google's HTTP status for ``exc``."""
    return exc.status


def get(obj: dict[str, Any], camel: str, snake: str | None = None, default: Any = None) -> Any:
    """A field by its camelCase or snake_case name (the REST API accepts both)."""
    if camel in obj:
        return obj[camel]
    if snake is not None and snake in obj:
        return obj[snake]
    return default


def to_json_schema(schema: Any, param: str) -> dict[str, Any]:
    """Convert Gemini's OpenAPI-style ``Schema`` (``type: "OBJECT"``, ``nullable``...) to JSON Schema."""
    if not isinstance(schema, dict):
        raise bad(param, "expected a schema object")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            if not isinstance(value, str):
                raise bad(f"{param}.type", f"expected a type name, got {value!r}")
            t = value.lower()
            if t == "type_unspecified":
                continue
            out["type"] = t
        elif key in ("properties",):
            out["properties"] = {k: to_json_schema(v, f"{param}.properties.{k}") for k, v in value.items()}
        elif key == "items":
            out["items"] = to_json_schema(value, f"{param}.items")
        elif key in ("anyOf", "any_of"):
            out["anyOf"] = [to_json_schema(v, f"{param}.anyOf") for v in value]
        elif key in ("propertyOrdering", "property_ordering", "example", "nullable", "title"):
            continue
        else:
            camel = {"min_items": "minItems", "max_items": "maxItems", "min_length": "minLength",
                     "max_length": "maxLength", "min_properties": "minProperties",
                     "max_properties": "maxProperties"}.get(key, key)
            if camel in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
                value = int(value)  # int64 fields arrive as strings in proto JSON
            out[camel] = value
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


# ------------------------------------------------------------------------------------------------
# Parts
# ------------------------------------------------------------------------------------------------
_PART_FIELDS = (("inlineData", "inline_data"), ("fileData", "file_data"), ("functionCall", "function_call"),
                ("functionResponse", "function_response"))


def _kind_of(part: dict[str, Any]) -> str | None:
    """A Gemini part's kind is the field it sets (``text``, ``inlineData``...); thoughts are skipped."""
    if get(part, "thought", default=False):
        return "thought"
    if "text" in part:
        return "text"
    return next((camel for camel, snake in _PART_FIELDS if get(part, camel, snake) is not None), None)


async def _read_inline(walk: ContentWalk, part: dict[str, Any], p: str) -> str:
    blob = get(part, "inlineData", "inline_data")
    mime = get(blob, "mimeType", "mime_type") if isinstance(blob, dict) else None
    if not isinstance(mime, str):
        raise bad(f"{p}.inlineData.mimeType", "expected a media type such as image/png")
    data = decode_base64(blob.get("data"), f"{p}.inlineData.data")
    if mime.startswith("text/"):
        return f"[document: {data.decode('utf-8', 'replace')}]"
    return await walk.media(media_kind(mime, f"{p}.inlineData.mimeType"), data, mime, p)


async def _read_file(walk: ContentWalk, part: dict[str, Any], p: str) -> str:
    uri = get(get(part, "fileData", "file_data"), "fileUri", "file_uri")
    raise bad(f"{p}.fileData.fileUri", f"the offline local provider cannot fetch files or URLs ({str(uri)[:80]}); "
                                       "send the media inline (inline_data with base64 bytes)")


async def _read_call(walk: ContentWalk, part: dict[str, Any], p: str) -> str:
    fc = get(part, "functionCall", "function_call")
    return call_text(fc.get("name"), json.dumps(fc.get("args", {})))


async def _read_result(walk: ContentWalk, part: dict[str, Any], p: str) -> str:
    fr = get(part, "functionResponse", "function_response")
    return result_text(fr.get("name"), json.dumps(fr.get("response", {})))


PARTS = PartTable(
    readers={"thought": skip, "text": read_text, "inlineData": _read_inline, "fileData": _read_file,
             "functionCall": _read_call, "functionResponse": _read_result},
    kind_of=_kind_of, unknown=lambda kind, part, p: bad(p, f"unsupported part with fields {sorted(part)}"),
    what="part", strings=False)


# ------------------------------------------------------------------------------------------------
# Tools
# ------------------------------------------------------------------------------------------------
def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("tools", "expected a list of tools")
    tools: list[Tool] = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            raise bad(f"tools[{i}]", "a tool must be an object")
        decls = get(t, "functionDeclarations", "function_declarations")
        others = [k for k in t if k not in ("functionDeclarations", "function_declarations")]
        if others:
            raise bad(f"tools[{i}].{others[0]}", "only function declarations are available in the local provider")
        for j, d in enumerate(decls or []):
            p = f"tools[{i}].functionDeclarations[{j}]"
            if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"]:
                raise bad(f"{p}.name", "a function declaration needs a name")
            if get(d, "parametersJsonSchema", "parameters_json_schema") is not None:
                schema = checked_schema(get(d, "parametersJsonSchema", "parameters_json_schema"),
                                        f"{p}.parametersJsonSchema")
            elif d.get("parameters") is not None:
                schema = checked_schema(to_json_schema(d["parameters"], f"{p}.parameters"), f"{p}.parameters")
            else:
                schema = {}
            tools.append(Tool(name=d["name"], description=str(d.get("description") or ""), parameters=schema))
    check_tools_unique(tools, "tools")
    return tools


def _tool_choice(raw: Any, tools: list[Tool]) -> tuple[ToolChoice, list[Tool]]:
    if not tools:
        return ToolChoice("none"), tools
    cfg = get(raw or {}, "functionCallingConfig", "function_calling_config") or {}
    mode = str(cfg.get("mode", "AUTO")).upper()
    allowed = get(cfg, "allowedFunctionNames", "allowed_function_names")
    if mode in ("AUTO", "MODE_UNSPECIFIED"):
        return ToolChoice("auto"), tools
    if mode == "NONE":
        return ToolChoice("none"), tools
    if mode not in ("ANY", "VALIDATED"):
        raise bad("toolConfig.functionCallingConfig.mode", f"expected AUTO, ANY, NONE or VALIDATED, got {mode!r}")
    if allowed:
        unknown = [n for n in allowed if n not in [t.name for t in tools]]
        if unknown:
            raise bad("toolConfig.functionCallingConfig.allowedFunctionNames",
                      f"names {unknown[0]!r}, which is not declared in 'tools'")
        tools = [t for t in tools if t.name in allowed]
    if len(tools) == 1:
        return ToolChoice("named", tools[0].name), tools
    return ToolChoice("required" if mode == "ANY" else "auto"), tools


# ------------------------------------------------------------------------------------------------
# The request
# ------------------------------------------------------------------------------------------------
async def parse_generate(core: Core, model: str, body: dict[str, Any], *, stream: bool) -> GenerateExchange:
    """Validate a generateContent body into a :class:`GenerateExchange`."""
    model = core.check_model(model, "google")
    walk = ContentWalk(PARTS)
    messages: list[dict[str, str]] = []
    system = get(body, "systemInstruction", "system_instruction")
    if system is not None:
        if isinstance(system, str):
            messages.append({"role": "system", "content": system})
        elif isinstance(system, dict):
            messages.append({"role": "system", "content": await walk.text(
                system.get("parts", []), "systemInstruction.parts")})
        else:
            raise bad("systemInstruction", "expected a content object with parts")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise bad("contents", "expected a non-empty list of contents")
    for i, c in enumerate(contents):
        p = f"contents[{i}]"
        if not isinstance(c, dict):
            raise bad(p, "a content must be an object with role and parts")
        role = c.get("role", "user")
        if role not in ("user", "model", "function", "tool"):
            raise bad(f"{p}.role", f"expected 'user' or 'model', got {role!r}")
        text = await walk.text(c.get("parts"), f"{p}.parts")
        messages.append({"role": "assistant" if role == "model" else "user", "content": text})
    cfg = get(body, "generationConfig", "generation_config") or {}
    if not isinstance(cfg, dict):
        raise bad("generationConfig", "expected an object")
    gp = "generationConfig."
    count = opt_number(cfg, "candidateCount", param=gp + "candidateCount", integer=True)
    if count not in (None, 1):
        raise bad(gp + "candidateCount", "the local provider returns one candidate; candidateCount must be 1")
    max_tokens = opt_number(cfg, "maxOutputTokens", param=gp + "maxOutputTokens", lo=1, integer=True)
    if max_tokens is None:
        max_tokens = opt_number(cfg, "max_output_tokens", param=gp + "maxOutputTokens", lo=1, integer=True)
    choice, choice_tools = _tool_choice(get(body, "toolConfig", "tool_config"), _tools(body.get("tools")))
    req = GenRequest(
        model=model, messages=messages, max_tokens=max_tokens,
        temperature=opt_number(cfg, "temperature", param=gp + "temperature", lo=0, hi=2),
        top_p=opt_number(cfg, "topP", param=gp + "topP", lo=0, hi=1),
        top_k=opt_number(cfg, "topK", param=gp + "topK", lo=0),
        stop=stop_list(get(cfg, "stopSequences", "stop_sequences"), gp + "stopSequences"),
        seed=opt_number(cfg, "seed", param=gp + "seed", integer=True),
        tools=choice_tools, tool_choice=choice, stream=stream,
    )
    if req.top_k is not None:
        req.top_k = int(req.top_k)
    mime = get(cfg, "responseMimeType", "response_mime_type")
    json_schema = get(cfg, "responseJsonSchema", "response_json_schema")
    schema = get(cfg, "responseSchema", "response_schema")
    if mime not in (None, "text/plain", "application/json", "text/x.enum"):
        raise bad(gp + "responseMimeType", f"expected text/plain or application/json, got {mime!r}")
    if json_schema is not None:
        req.json_schema = checked_schema(json_schema, gp + "responseJsonSchema")
        req.json_param = gp + "responseJsonSchema"
    elif schema is not None:
        req.json_schema = checked_schema(to_json_schema(schema, gp + "responseSchema"), gp + "responseSchema")
        req.json_param = gp + "responseSchema"
    elif mime == "application/json":
        req.json_schema, req.json_param = {}, gp + "responseMimeType"
    if (json_schema is not None or schema is not None) and mime != "application/json":
        raise bad(gp + "responseMimeType", "a response schema needs responseMimeType 'application/json'")
    return GenerateExchange(req, backend=core.backend_name(model))


# ------------------------------------------------------------------------------------------------
# The answer
# ------------------------------------------------------------------------------------------------
def finish_reason(gen: Generation) -> str:
    """Gemini finishReason."""
    return "MAX_TOKENS" if gen.finish == "length" else "STOP"


def usage_metadata(prompt: int, completion: int | None) -> dict[str, Any]:
    """Gemini ``usageMetadata``."""
    out: dict[str, Any] = {"promptTokenCount": prompt,
                           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if completion is not None:
        out["candidatesTokenCount"] = completion
        out["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": completion}]
        out["totalTokenCount"] = prompt + completion
    else:
        out["totalTokenCount"] = prompt
    return out


class GenerateExchange:
    """A parsed generateContent request and its answers (a response, or ``data:`` chunks of them)."""

    def __init__(self, req: GenRequest, *, backend: str) -> None:
        self.req = req
        self.backend = backend

    def _response(self, parts: list[dict[str, Any]], usage: dict[str, Any], response_id: str,
                  finish: str | None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        return {"candidates": [cand], "usageMetadata": usage, "modelVersion": self.backend,
                "responseId": response_id}

    @staticmethod
    def _final_parts(gen: Generation, text: str) -> list[dict[str, Any]]:
        if gen.tool_call:
            return [{"functionCall": {"id": gen.tool_call.id, "name": gen.tool_call.name, "args": gen.tool_call.args}}]
        return [{"text": text}]

    def response(self, gen: Generation) -> dict[str, Any]:
        """A ``GenerateContentResponse``; ``modelVersion`` names the real model."""
        return self._response(self._final_parts(gen, gen.text),
                              usage_metadata(gen.prompt_tokens, gen.completion_tokens), new_id("", 22),
                              finish_reason(gen))

    async def stream(self, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
        """``data:`` chunks, each a GenerateContentResponse; the last has finishReason and full usage."""
        rid = new_id("", 22)
        prompt = 0

        def chunk(data: dict[str, Any]) -> bytes:
            return f"data: {json.dumps(data, ensure_ascii=False)}\r\n\r\n".encode()

        try:
            async for ev in events:
                if isinstance(ev, Started):
                    prompt = ev.prompt_tokens
                elif isinstance(ev, TextDelta):
                    yield chunk(self._response([{"text": ev.text}], usage_metadata(prompt, None), rid, None))
                elif isinstance(ev, (ToolCallStart, ArgumentsDelta)):
                    continue  # Gemini sends a function call whole, in the final chunk
                elif isinstance(ev, Done):
                    gen = ev.generation
                    yield chunk(self._response(self._final_parts(gen, ""),
                                               usage_metadata(gen.prompt_tokens, gen.completion_tokens),
                                               rid, finish_reason(gen)))
        except GatewayError as exc:
            yield chunk(error_body(exc))


def model_object(model: str, backend: str) -> dict[str, Any]:
    """An entry of ``GET /v1beta/models``."""
    return {"name": f"models/{model}", "baseModelId": model, "version": "local", "displayName": model,
            "description": f"Answered offline by {backend}",
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]}
