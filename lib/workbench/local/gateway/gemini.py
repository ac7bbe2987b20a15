"""Gemini Developer API (what ``google-genai`` speaks): parse ``generateContent`` bodies, serialise answers.

``:generateContent``, ``:streamGenerateContent?alt=sse`` and ``:countTokens`` under ``/v1beta`` and
``/v1``, plus the model objects of ``GET .../models``. Shapes follow the installed ``google-genai``
SDK's converters (camelCase JSON: ``candidates``, ``usageMetadata``, ``modelVersion``); requests are
read in camelCase or snake_case. Errors use Google's ``{"error": {"code", "message", "status"}}`` shape.

The fields the API defines are those the SDK sends (its ``GenerationConfig`` model for
``generationConfig``; the request's top level as its converter writes it); an unknown one is Google's
"Invalid JSON payload received. Unknown name ...". Response schemas are read in either spelling of
type names (``"STRING"`` as the SDK's README writes them, or ``"string"``); ``responseLogprobs`` and
``logprobs`` give the engine's log-probabilities.
"""
from __future__ import annotations

import functools
import json
import re
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
    TokenLogprob,
    Tool,
    ToolCallStart,
    ToolChoice,
    new_id,
)

__all__ = ["GenerateExchange", "error_body", "error_status", "get", "model_object", "parse_generate",
           "to_json_schema"]

_STATUS = {"invalid_request": "INVALID_ARGUMENT", "not_found": "NOT_FOUND", "not_allowed": "UNIMPLEMENTED",
           "rate_limit": "RESOURCE_EXHAUSTED",
           "server": "INTERNAL", "timeout": "DEADLINE_EXCEEDED", "unavailable": "UNAVAILABLE"}


def error_body(exc: GatewayError) -> dict[str, Any]:
    """Google's error object for ``exc``."""
    return {"error": {"code": exc.status, "message": exc.message, "status": _STATUS[exc.kind]}}


def error_status(exc: GatewayError) -> int:
    """Google's HTTP status for ``exc``."""
    return exc.status


# ------------------------------------------------------------------------------------------------
# Fields
# ------------------------------------------------------------------------------------------------
def camel_case(name: str) -> str:
    """``response_mime_type`` -> ``responseMimeType`` (the REST API accepts both spellings)."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def unknown_name(path: str) -> GatewayError:
    """Google's 400 for a field the API does not define."""
    where, _, name = path.rpartition(".")
    at = f" at '{re.sub(r'([A-Z])', lambda m: '_' + m.group(1).lower(), where)}'" if where else ""
    return GatewayError("invalid_request", f'Invalid JSON payload received. Unknown name "{name}"{at}: '
                                           "Cannot find field.", param=path)


def _both(names: set[str]) -> frozenset[str]:
    return frozenset(names | {camel_case(n) for n in names})


#: The request's top level, as the SDK's converter (``_GenerateContentParameters_to_mldev`` and
#: ``_GenerateContentConfig_to_mldev``) writes it; ``model`` is accepted for the admin prompt endpoint.
TOP_LEVEL = _both({"model", "contents", "system_instruction", "tools", "tool_config", "safety_settings",
                   "generation_config", "cached_content", "labels", "service_tier", "store", "continuation_token"})


@functools.cache
def fields() -> tuple[FieldPolicy, FieldPolicy]:
    """The policies of the request's top level and of its ``generationConfig``."""
    from google.genai import types

    config = {name for name in types.GenerationConfig.model_fields} | {"image_config"}  # the SDK sends it too
    top = FieldPolicy(TOP_LEVEL, _both({"model", "contents", "system_instruction", "tools", "tool_config",
                                        "generation_config"}), unknown_name,
                      ignored={"safetySettings": "the local provider has no content filter to configure",
                               "safety_settings": "the local provider has no content filter to configure",
                               "labels": "billing labels", "serviceTier": "the local provider has one tier",
                               "service_tier": "the local provider has one tier",
                               "store": "the local provider stores nothing"},
                      reasons={"cachedContent": "the local provider has no context cache",
                               "cached_content": "the local provider has no context cache"})
    read = _both({"temperature", "top_p", "top_k", "candidate_count", "max_output_tokens", "stop_sequences", "seed",
                  "response_mime_type", "response_schema", "response_json_schema", "presence_penalty",
                  "frequency_penalty", "response_logprobs", "logprobs", "response_modalities", "thinking_config"})
    generation = FieldPolicy(_both(config), read, unknown_name, prefix="generationConfig.",
                             ignored={"mediaResolution": "the local provider reads media its own way",
                                      "media_resolution": "the local provider reads media its own way"},
                             reasons={"speechConfig": "the local model answers in text only",
                                      "imageConfig": "the local model answers in text only"})
    return top, generation


def upper_types_lowered(schema: Any) -> Any:
    """A JSON schema with upper-case type names (``"STRING"``, ``"OBJECT"``) written in lower case."""
    if isinstance(schema, list):
        return [upper_types_lowered(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "type" and isinstance(value, list):
            out[key] = [v.lower() if isinstance(v, str) else v for v in value]
        elif key in ("enum", "const", "default", "examples", "example"):
            out[key] = value  # data, not schema
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: upper_types_lowered(v) for name, v in value.items()}
        else:
            out[key] = upper_types_lowered(value)
    return out


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
                schema = checked_schema(upper_types_lowered(get(d, "parametersJsonSchema", "parameters_json_schema")),
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
def _logprobs(cfg: dict[str, Any], gp: str) -> int | None:
    """Alternatives per token when ``responseLogprobs`` is set (None: no log-probabilities)."""
    top = opt_number(cfg, "logprobs", param=gp + "logprobs", lo=0, hi=20, integer=True)
    if not opt_bool(cfg, "responseLogprobs", gp + "responseLogprobs"):
        if top is not None:
            raise bad(gp + "logprobs", "needs responseLogprobs to be true")
        return None
    return top or 0


async def parse_generate(core: Core, model: str, body: dict[str, Any], *, stream: bool) -> GenerateExchange:
    """Validate a generateContent body into a :class:`GenerateExchange`."""
    fields()[0].check(body)
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
    fields()[1].check(cfg)
    cfg = {camel_case(k): v for k, v in cfg.items()}
    gp = "generationConfig."
    count = opt_number(cfg, "candidateCount", param=gp + "candidateCount", integer=True)
    if count not in (None, 1):
        raise bad(gp + "candidateCount", "the local provider returns one candidate; candidateCount must be 1")
    max_tokens = opt_number(cfg, "maxOutputTokens", param=gp + "maxOutputTokens", lo=1, integer=True)
    check_limit(max_tokens, core.output_limit(model), lambda value, limit: bad(
        gp + "maxOutputTokens", f"{value} is above the output limit of {model}; the supported range is from 1 "
                                f"(inclusive) to {limit + 1} (exclusive)"))
    if [str(m).upper() for m in cfg.get("responseModalities") or ["TEXT"]] != ["TEXT"]:
        raise unsupported(gp + "responseModalities", "the local model answers in text only")
    thinking = cfg.get("thinkingConfig")
    if thinking is not None:
        think = {camel_case(k): v for k, v in thinking.items()} if isinstance(thinking, dict) else {"?": thinking}
        if think.get("thinkingBudget", 0) != 0 or any(v for k, v in think.items() if k != "thinkingBudget"):
            raise unsupported(gp + "thinkingConfig", "the local model does not think before answering; "
                                                     "thinkingBudget 0 is the only setting")
    choice, choice_tools = _tool_choice(get(body, "toolConfig", "tool_config"), _tools(body.get("tools")))
    req = GenRequest(
        model=model, messages=messages, max_tokens=max_tokens,
        temperature=opt_number(cfg, "temperature", param=gp + "temperature", lo=0, hi=2),
        top_p=opt_number(cfg, "topP", param=gp + "topP", lo=0, hi=1),
        top_k=opt_number(cfg, "topK", param=gp + "topK", lo=0),
        frequency_penalty=opt_number(cfg, "frequencyPenalty", param=gp + "frequencyPenalty", lo=-2, hi=2),
        presence_penalty=opt_number(cfg, "presencePenalty", param=gp + "presencePenalty", lo=-2, hi=2),
        stop=stop_list(cfg.get("stopSequences"), gp + "stopSequences"),
        seed=opt_number(cfg, "seed", param=gp + "seed", integer=True),
        tools=choice_tools, tool_choice=choice, logprobs=_logprobs(cfg, gp), stream=stream,
    )
    if req.top_k is not None:
        req.top_k = int(req.top_k)
    mime = cfg.get("responseMimeType")
    json_schema = cfg.get("responseJsonSchema")
    schema = cfg.get("responseSchema")
    if mime not in (None, "text/plain", "application/json", "text/x.enum"):
        raise bad(gp + "responseMimeType", f"expected text/plain or application/json, got {mime!r}")
    if json_schema is not None:
        req.json_schema = checked_schema(upper_types_lowered(json_schema), gp + "responseJsonSchema")
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


def logprobs_result(tokens: list[TokenLogprob]) -> dict[str, Any]:
    """A candidate's ``logprobsResult`` (chosen and top tokens) and ``avgLogprobs``."""

    def entry(t: TokenLogprob) -> dict[str, Any]:
        return {"token": t.token, "tokenId": t.id, "logProbability": t.logprob}

    total = sum(t.logprob for t in tokens)
    return {"logprobsResult": {"topCandidates": [{"candidates": [entry(a) for a in t.top]} for t in tokens],
                               "chosenCandidates": [entry(t) for t in tokens], "logProbabilitySum": total},
            "avgLogprobs": total / len(tokens) if tokens else 0.0}


class GenerateExchange:
    """A parsed generateContent request and its answers (a response, or ``data:`` chunks of them)."""

    def __init__(self, req: GenRequest, *, backend: str) -> None:
        self.req = req
        self.backend = backend

    def _response(self, parts: list[dict[str, Any]], usage: dict[str, Any], response_id: str,
                  finish: str | None, logprobs: list[TokenLogprob] | None = None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        if logprobs is not None and self.req.logprobs is not None:
            cand.update(logprobs_result(logprobs))
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
                              finish_reason(gen), None if gen.tool_call else gen.logprobs)

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
                    yield chunk(self._response([{"text": ev.text}], usage_metadata(prompt, None), rid, None,
                                               ev.logprobs))
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
