"""Gemini wire protocol for the local gateway (the Gemini Developer API that ``google-genai`` speaks).

``POST /v1beta/models/{model}:generateContent``, ``:streamGenerateContent?alt=sse`` and
``:countTokens`` (the same under ``/v1``), plus ``GET /v1beta/models[/{model}]``. Shapes follow the
installed ``google-genai`` SDK's converters (camelCase JSON: ``candidates``, ``usageMetadata``,
``modelVersion``); requests are read in camelCase or snake_case. Errors use Google's
``{"error": {"code", "message", "status"}}`` shape.
"""
from __future__ import annotations

import json
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
    Started,
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
    media_kind,
    media_part,
    new_id,
    opt_number,
    primed,
    protocol_endpoint,
    read_json,
    sse_response,
    stop_list,
)

_STATUS = {"invalid_request": "INVALID_ARGUMENT", "not_found": "NOT_FOUND", "rate_limit": "RESOURCE_EXHAUSTED",
           "server": "INTERNAL", "timeout": "DEADLINE_EXCEEDED", "unavailable": "UNAVAILABLE"}


def error_body(exc: GatewayError) -> dict[str, Any]:
    """Google's error object for ``exc``."""
    return {"error": {"code": exc.status, "message": exc.message, "status": _STATUS[exc.kind]}}


def error_response(exc: GatewayError) -> Response:
    """Google's error response."""
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


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


async def _parts_text(parts: Any, counter: MediaCounter, param: str, role: str) -> str:
    if not isinstance(parts, list):
        raise bad(param, "expected a list of parts")
    pieces: list[str] = []
    for i, part in enumerate(parts):
        p = f"{param}[{i}]"
        if not isinstance(part, dict):
            raise bad(p, "a part must be an object")
        if get(part, "thought", default=False):
            continue
        if "text" in part:
            if not isinstance(part["text"], str):
                raise bad(f"{p}.text", "expected a string")
            pieces.append(part["text"])
        elif get(part, "inlineData", "inline_data") is not None:
            blob = get(part, "inlineData", "inline_data")
            mime = get(blob, "mimeType", "mime_type") if isinstance(blob, dict) else None
            if not isinstance(mime, str):
                raise bad(f"{p}.inlineData.mimeType", "expected a media type such as image/png")
            data = decode_base64(blob.get("data"), f"{p}.inlineData.data")
            if mime.startswith("text/"):
                pieces.append(f"[document: {data.decode('utf-8', 'replace')}]")
            else:
                pieces.append(await media_part(media_kind(mime, f"{p}.inlineData.mimeType"), data, mime, counter, p))
        elif get(part, "fileData", "file_data") is not None:
            uri = get(get(part, "fileData", "file_data"), "fileUri", "file_uri")
            raise bad(f"{p}.fileData.fileUri", f"the offline local provider cannot fetch files or URLs ({str(uri)[:80]}); "
                                               "send the media inline (inline_data with base64 bytes)")
        elif get(part, "functionCall", "function_call") is not None:
            fc = get(part, "functionCall", "function_call")
            pieces.append(f"[called tool {fc.get('name')} with arguments {json.dumps(fc.get('args', {}))}]")
        elif get(part, "functionResponse", "function_response") is not None:
            fr = get(part, "functionResponse", "function_response")
            pieces.append(f"[result of tool {fr.get('name')}: {json.dumps(fr.get('response', {}))}]")
        else:
            raise bad(p, f"unsupported part with fields {sorted(part)}")
    return "\n".join(x for x in pieces if x)


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


async def parse_generate(core: Core, model: str, body: dict[str, Any], *, stream: bool) -> GenRequest:
    """Validate a generateContent body into a :class:`GenRequest`."""
    model = core.check_model(model, "google")
    counter = MediaCounter()
    messages: list[dict[str, str]] = []
    system = get(body, "systemInstruction", "system_instruction")
    if system is not None:
        if isinstance(system, str):
            messages.append({"role": "system", "content": system})
        elif isinstance(system, dict):
            messages.append({"role": "system", "content": await _parts_text(
                system.get("parts", []), counter, "systemInstruction.parts", "system")})
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
        text = await _parts_text(c.get("parts"), counter, f"{p}.parts", role)
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
    return req


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


def _response(core: Core, parts: list[dict[str, Any]], usage: dict[str, Any], response_id: str,
              finish: str | None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "usageMetadata": usage, "modelVersion": core.model_name,
            "responseId": response_id}


def generate_response(core: Core, gen: Generation) -> dict[str, Any]:
    """A ``GenerateContentResponse``; ``modelVersion`` names the real model."""
    if gen.tool_call:
        parts = [{"functionCall": {"id": gen.tool_call.id, "name": gen.tool_call.name, "args": gen.tool_call.args}}]
    else:
        parts = [{"text": gen.text}]
    return _response(core, parts, usage_metadata(gen.prompt_tokens, gen.completion_tokens), new_id("", 22),
                     finish_reason(gen))


async def generate_stream(core: Core, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
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
                yield chunk(_response(core, [{"text": ev.text}], usage_metadata(prompt, None), rid, None))
            elif isinstance(ev, (ToolCallStart, ArgumentsDelta)):
                continue  # Gemini sends a function call whole, in the final chunk
            elif isinstance(ev, Done):
                gen = ev.generation
                if gen.tool_call:
                    parts = [{"functionCall": {"id": gen.tool_call.id, "name": gen.tool_call.name,
                                               "args": gen.tool_call.args}}]
                else:
                    parts = [{"text": ""}]
                yield chunk(_response(core, parts, usage_metadata(gen.prompt_tokens, gen.completion_tokens),
                                      rid, finish_reason(gen)))
    except GatewayError as exc:
        yield chunk(error_body(exc))


def _model_object(core: Core, model: str) -> dict[str, Any]:
    return {"name": f"models/{model}", "baseModelId": model, "version": "local", "displayName": model,
            "description": f"Answered offline by {core.model_name}",
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]}


def routes(core: Core) -> list[Route]:
    """The Gemini routes bound to ``core`` (under ``/v1beta`` and ``/v1``)."""
    endpoint = protocol_endpoint(error_response)

    @endpoint
    async def model_action(request: Request) -> Response:
        spec = request.path_params["spec"]
        if ":" not in spec:
            raise GatewayError("not_found", f"unknown method for models/{spec}; expected "
                                            "':generateContent', ':streamGenerateContent' or ':countTokens'")
        model, action = spec.rsplit(":", 1)
        model = model.removeprefix("models/")
        body = await read_json(request)
        if action == "countTokens":
            inner = get(body, "generateContentRequest", "generate_content_request")
            req = await parse_generate(core, model, inner if isinstance(inner, dict) else body, stream=False)
            return JSONResponse({"totalTokens": await core.count_tokens(req)})
        if action not in ("generateContent", "streamGenerateContent"):
            raise GatewayError("not_found", f"unknown method ':{action}'; expected ':generateContent', "
                                            "':streamGenerateContent' or ':countTokens'")
        stream = action == "streamGenerateContent"
        if stream and request.query_params.get("alt") != "sse":
            raise bad("alt", "the local provider streams as server-sent events only; add '?alt=sse'")
        req = await parse_generate(core, model, body, stream=stream)
        core.check_messages(req)  # a 400 before any injected fault
        fault = core.faults.draw()
        await apply_fault(core, fault, request)
        if stream:
            events = await primed(core.events(req))
            return sse_response(generate_stream(core, events), cut=fault == "cut")
        gen = await core.generate(req)
        return json_body_response(generate_response(core, gen), cut=fault == "cut")

    @endpoint
    async def get_model(request: Request) -> Response:
        model = request.path_params["spec"].removeprefix("models/")
        return JSONResponse(_model_object(core, core.check_model(model, "google")))

    @endpoint
    async def list_models(request: Request) -> Response:
        return JSONResponse({"models": [_model_object(core, m) for m in core.known_models.get("google", [])]})

    return [
        Route("/v1beta/models", list_models, methods=["GET"]),
        Route("/v1beta/models/{spec:path}", model_action, methods=["POST"]),
        Route("/v1beta/models/{spec:path}", get_model, methods=["GET"]),
        Route("/v1/models/{spec:path}", model_action, methods=["POST"]),
    ]
