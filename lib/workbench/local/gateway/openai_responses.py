"""OpenAI Responses API (``POST /v1/responses``): parse the body, serialise the answer.

Shapes follow the installed ``openai`` SDK's types (``Response`` and its stream events with
``sequence_number``/``output_index``) so that ``responses.create``/``parse()``/``stream()`` read every
answer. The fields the API defines are the SDK's own ``response_create_params``. The local provider
stores nothing: ``previous_response_id``, ``conversation`` and ``background`` are refused.
``include: ["message.output_text.logprobs"]`` with ``top_logprobs`` gives the engine's log-probabilities.
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
    unsupported,
)
from .openai_common import (
    AUDIO_READER,
    IGNORED,
    REASONS,
    error_code,
    logprob_entries,
    parse_function_tools,
    parse_tool_choice,
    read_refusal,
    refuse_files,
    sse_event,
    too_many_tokens,
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

__all__ = ["ResponseExchange", "parse_responses"]


async def _read_input_image(walk: ContentWalk, part: dict[str, Any], param: str) -> str:
    if part.get("file_id"):
        raise bad(f"{param}.file_id", "the local provider has no file storage; send the image as a data URL")
    data, mime = parse_data_url(part.get("image_url"), f"{param}.image_url", "image")
    return await walk.media("image", data, mime, param)


PARTS = PartTable(
    readers={"input_text": read_text, "output_text": read_text, "text": read_text, "refusal": read_refusal,
             "input_image": _read_input_image, "input_audio": AUDIO_READER, "input_file": refuse_files("input_file")},
    kind_of=lambda part: part.get("type"), unknown=unknown_part)


#: The one ``include`` value the local provider honours.
LOGPROBS_INCLUDE = "message.output_text.logprobs"


def unknown_parameter(name: str) -> GatewayError:
    """The Responses API's 400 for a field it does not define."""
    return GatewayError("invalid_request", f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


@functools.cache
def fields() -> FieldPolicy:
    """The Responses fields: the SDK's ``ResponseCreateParams`` (plus ``stream``)."""
    from openai.types.responses import response_create_params

    known = frozenset(response_create_params.ResponseCreateParamsBase.__annotations__) | {"stream"}
    read = frozenset({"model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "tools",
                      "tool_choice", "stream", "text", "include", "top_logprobs", "background", "truncation",
                      "previous_response_id", "conversation"})
    ignored = {**IGNORED, "max_tool_calls": "the local provider makes at most one tool call per answer",
               "stream_options": "stream obfuscation; the local stream goes over loopback only"}
    return FieldPolicy(known, read, unknown_parameter, ignored, REASONS)


def _logprobs(body: dict[str, Any]) -> int | None:
    """Alternatives per token when ``include`` asks for log-probabilities (None: not asked)."""
    include = body.get("include")
    if include is not None and not isinstance(include, list):
        raise bad("include", "expected a list of strings")
    for i, value in enumerate(include or []):
        if value != LOGPROBS_INCLUDE:
            raise unsupported(f"include[{i}]", f"{value!r}; the local provider can include {LOGPROBS_INCLUDE!r}")
    top = opt_number(body, "top_logprobs", lo=0, hi=20, integer=True)
    return (top or 0) if include else None


async def parse_responses(core: Core, body: dict[str, Any]) -> ResponseExchange:
    """Validate a Responses API body into a :class:`ResponseExchange`."""
    fields().check(body)
    model = core.check_model(body.get("model"), "openai")
    if opt_bool(body, "background"):
        raise unsupported("background", REASONS["background"])
    if body.get("truncation") not in (None, "disabled"):
        raise unsupported("truncation", "the local provider does not drop input items; send a shorter input")
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
    walk = ContentWalk(PARTS)
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
                text = await walk.text(item.get("content"), f"{p}.content")
                messages.append({"role": "system" if role == "developer" else role, "content": text})
            elif itype == "function_call":
                name = item.get("name")
                if not isinstance(name, str):
                    raise bad(f"{p}.name", "a function_call item needs the function name")
                walk.names[str(item.get("call_id"))] = name
                messages.append({"role": "assistant", "content": call_text(name, str(item.get("arguments", "")))})
            elif itype == "function_call_output":
                call_id = item.get("call_id")
                if not isinstance(call_id, str):
                    raise bad(f"{p}.call_id", "a function_call_output item needs the call_id it answers")
                output = item.get("output")
                text = output if isinstance(output, str) else await walk.text(output, f"{p}.output")
                messages.append({"role": "user", "content": result_text(walk.names.get(call_id, call_id), text)})
            elif itype == "reasoning":
                continue
            else:
                raise bad(f"{p}.type", f"input items of type {itype!r} are not supported by the local provider")
    else:
        raise bad("input", "expected a string or a non-empty list of input items")
    tools = parse_function_tools(body.get("tools"), "tools", nested=False)
    max_tokens = opt_number(body, "max_output_tokens", lo=1, integer=True)
    check_limit(max_tokens, core.output_limit(model), too_many_tokens("max_output_tokens"))
    req = GenRequest(
        model=model, messages=messages, max_tokens=max_tokens,
        temperature=opt_number(body, "temperature", lo=0, hi=2),
        top_p=opt_number(body, "top_p", lo=0, hi=1),
        tools=tools,
        tool_choice=parse_tool_choice(body.get("tool_choice"), tools, "tool_choice", nested=False),
        logprobs=_logprobs(body),
        stream=opt_bool(body, "stream"),
    )
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if text is not None and not isinstance(text, dict):
        raise bad("text", "expected an object such as {'format': {'type': 'json_schema', ...}}")
    if isinstance(text, dict):
        FieldPolicy(frozenset({"format", "verbosity"}), frozenset({"format"}), unknown_parameter,
                    reasons={"verbosity": "the local model has no verbosity setting"}, prefix="text.").check(text)
    if fmt is not None:
        ftype = fmt.get("type") if isinstance(fmt, dict) else None
        if ftype == "json_object":
            req.json_schema, req.json_param = {"type": "object"}, "text.format"
        elif ftype == "json_schema":
            req.json_schema = checked_schema(fmt.get("schema"), "text.format.schema")
            req.json_param = "text.format.schema"
        elif ftype != "text":
            raise bad("text.format.type", f"expected 'text', 'json_object' or 'json_schema', got {ftype!r}")
    return ResponseExchange(req, body, backend=core.backend_name(model))


class ResponseExchange:
    """A parsed Responses request: builds the ``Response`` object and its stream events."""

    def __init__(self, req: GenRequest, body: dict[str, Any], *, backend: str) -> None:
        self.req, self.body, self.backend = req, body, backend
        self.id = new_id("resp_", 32)
        self.created = int(time.time())
        self.seq = 0

    def _tools(self) -> list[dict[str, Any]]:
        return [{"type": "function", "name": t.name, "description": t.description or None,
                 "parameters": t.parameters, "strict": bool(raw.get("strict", False))}
                for t, raw in zip(self.req.tools, self.body.get("tools") or [])]

    def _tool_choice(self) -> Any:
        choice = self.req.tool_choice
        return {"type": "function", "name": choice.name} if choice.mode == "named" else choice.mode

    def _response(self, status: str, output: list[dict[str, Any]], gen: Generation | None) -> dict[str, Any]:
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
            "text": text_cfg, "tool_choice": self._tool_choice(), "tools": self._tools(),
            "top_p": self.body.get("top_p", 1.0), "truncation": "disabled", "usage": usage, "user": None,
            "metadata": self.body.get("metadata") or {}, "backend_model": self.backend,
        }

    @staticmethod
    def _text_part(text: str, logprobs: list[TokenLogprob] | None = None) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprob_entries(logprobs or [])}

    def _message_item(self, item_id: str, text: str, status: str,
                      logprobs: list[TokenLogprob] | None = None) -> dict[str, Any]:
        content = [self._text_part(text, logprobs)] if status != "in_progress" else []
        return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}

    @staticmethod
    def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
        return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
                "arguments": arguments, "status": status}

    @staticmethod
    def _status_of(gen: Generation) -> str:
        return "incomplete" if gen.finish == "length" else "completed"

    def response(self, gen: Generation) -> dict[str, Any]:
        """The complete Response for a finished generation."""
        if gen.tool_call:
            output = [self._call_item(new_id("fc_", 32), gen.tool_call.id, gen.tool_call.name,
                                      gen.tool_call.arguments, "completed")]
        else:
            output = [self._message_item(new_id("msg_", 32), gen.text, self._status_of(gen), gen.logprobs)]
        return self._response(self._status_of(gen), output, gen)

    def _event(self, etype: str, **fields: Any) -> bytes:
        data = {"type": etype, **fields, "sequence_number": self.seq}
        self.seq += 1
        return sse_event(etype, data)

    def _open_message(self, item_id: str) -> list[bytes]:
        return [self._event("response.output_item.added", output_index=0,
                            item=self._message_item(item_id, "", "in_progress")),
                self._event("response.content_part.added", item_id=item_id, output_index=0, content_index=0,
                            part=self._text_part(""))]

    async def stream(self, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
        """The Responses stream: created, in_progress, item/part events with deltas, completed."""
        yield self._event("response.created", response=self._response("in_progress", [], None))
        yield self._event("response.in_progress", response=self._response("in_progress", [], None))
        item_id = ""
        kind = ""
        parts: list[str] = []
        call: tuple[str, str] | None = None
        try:
            async for ev in events:
                if isinstance(ev, TextDelta):
                    if not kind:
                        kind, item_id = "message", new_id("msg_", 32)
                        for data in self._open_message(item_id):
                            yield data
                    parts.append(ev.text)
                    yield self._event("response.output_text.delta", item_id=item_id, output_index=0,
                                      content_index=0, delta=ev.text, logprobs=logprob_entries(ev.logprobs))
                elif isinstance(ev, ToolCallStart):
                    kind, item_id, call = "call", new_id("fc_", 32), (ev.id, ev.name)
                    yield self._event("response.output_item.added", output_index=0,
                                      item=self._call_item(item_id, ev.id, ev.name, "", "in_progress"))
                elif isinstance(ev, ArgumentsDelta):
                    parts.append(ev.text)
                    yield self._event("response.function_call_arguments.delta", item_id=item_id, output_index=0,
                                      delta=ev.text)
                elif isinstance(ev, Done):
                    gen = ev.generation
                    status = self._status_of(gen)
                    text = "".join(parts)
                    if kind == "call" and call is not None:
                        yield self._event("response.function_call_arguments.done", item_id=item_id, output_index=0,
                                          name=call[1], arguments=text)
                        item = self._call_item(item_id, call[0], call[1], text, "completed")
                    else:
                        if not kind:
                            item_id = new_id("msg_", 32)
                            for data in self._open_message(item_id):
                                yield data
                        part = self._text_part(text, gen.logprobs)
                        yield self._event("response.output_text.done", item_id=item_id, output_index=0,
                                          content_index=0, text=text, logprobs=part["logprobs"])
                        yield self._event("response.content_part.done", item_id=item_id, output_index=0,
                                          content_index=0, part=part)
                        item = self._message_item(item_id, text, status, gen.logprobs)
                    yield self._event("response.output_item.done", output_index=0, item=item)
                    final = self._response(status, [item], gen)
                    yield self._event("response.completed" if status == "completed" else "response.incomplete",
                                      response=final)
        except GatewayError as exc:
            yield self._event("error", code=error_code(exc), message=exc.message, param=exc.param)
