"""The gateway's core: which model ids it serves, and generation against the engine behind each.

What all three protocols share, done once:

* model ids: the catalog's ids per provider and the local models' own ids are accepted. Each local
  id is answered by its own engine, every other id by the stand-in's (:meth:`Core.answerer`); the
  engines come from one table (:class:`Engines`, :attr:`Core.engines`), which starts an engine on
  first use and counts it busy while a request holds it (:meth:`Core.using`);
* tools: the engine's chat template has none, so a tool call is decided and written under grammar
  constraints (:meth:`Core.events`): ``tool_choice`` required/named always yields a call to a
  declared tool with schema-valid arguments; ``auto`` lets the model choose between answering and
  each tool through a constrained choice. Never a canned call;
* token counts are the engine's own; ``count_tokens`` tokenizes the very prompt generation would send;
* sampling defaults: when a request has no seed the gateway sends :data:`.types.DEFAULT_SEED`, so the
  same request gives the same answer; when it has no token limit the answer may run to the model's
  output limit (the catalog's, as the real APIs do), at most to the end of the engine slot's context;
* output limits: :meth:`Core.output_limit` is the catalog's limit of a model id, which the protocol
  parsers hold a requested ``max_tokens`` against;
* log-probabilities: the engine's own (``n_probs``), per generated token with its top alternatives;
* the first-token delay of fault injection (:mod:`workbench.local.faults`).
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, Protocol

from .. import grammar
from ..faults import FaultInjector
from .engine_client import EngineClient
from .errors import GatewayError, bad
from .types import (
    DEFAULT_SEED,
    DEFAULT_TEMPERATURE,
    TOOL_ARGS_MAX_TOKENS,
    ArgumentsDelta,
    Done,
    Event,
    Generation,
    GenRequest,
    Provider,
    Started,
    TextDelta,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolCallStart,
    new_id,
)

__all__ = ["Core", "Engines", "tool_note", "with_system_note"]

#: A dated snapshot of a model id: ``gpt-4o-2024-08-06``, ``claude-3-7-sonnet-20250219``.
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


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


def _logprobs(chunk: dict[str, Any], top: int | None) -> list[TokenLogprob]:
    """The engine's ``completion_probabilities`` of a chunk, with ``top`` alternatives per token."""
    if top is None:
        return []

    def one(p: dict[str, Any]) -> TokenLogprob:
        return TokenLogprob(str(p.get("token", "")), float(p.get("logprob", 0.0)), list(p.get("bytes") or []),
                            int(p.get("id", -1)))

    out = []
    for p in chunk.get("completion_probabilities") or []:
        tok = one(p)
        tok.top = [one(alt) for alt in (p.get("top_logprobs") or [])[:top]]
        out.append(tok)
    return out


class Engines(Protocol):
    """The table of engines the core answers with: one per local model id, the stand-in's for the rest.

    Implemented by :class:`workbench.local.engines.EnginePool` (engines started on first use).
    """

    #: The local model id whose engine answers every frontier id.
    stand_in: str
    #: Bytes of model files the running engines may take together.
    memory_budget: int

    @property
    def ids(self) -> list[str]:
        """The local model ids, each answered by its own engine."""
        ...

    def name(self, model_id: str) -> str:
        """The readable name of the model behind local id ``model_id``."""
        ...

    def client(self, model_id: str) -> EngineClient | None:
        """The running engine of ``model_id`` (None when it is not running; never starts it)."""
        ...

    async def acquire(self, model_id: str) -> EngineClient:
        """The engine of ``model_id``, started if needed and counted busy until :meth:`release`."""
        ...

    def release(self, model_id: str) -> None:
        """A request on ``model_id``'s engine is done."""
        ...

    async def healthy(self) -> bool:
        """Every running engine answers its health check."""
        ...

    async def describe(self) -> dict[str, dict[str, Any]]:
        """Every engine by model id, running or not."""
        ...

    async def close(self) -> None:
        """Close the connections to the engines."""
        ...


class Core:
    """Model ids, engines, tools and faults: what all three protocols share.

    Args:
        engines: the engines (one per local model id; the stand-in answers the frontier ids).
        faults: the fault injector (off by default).
        known_models: catalog model ids accepted per provider.
        limits: output-token limit per model id (the catalog's ``max_output``, else its context window).
    """

    def __init__(self, engines: Engines, *, faults: FaultInjector,
                 known_models: dict[str, list[str]], limits: dict[str, int] | None = None) -> None:
        self.engines = engines
        self.faults = faults
        self.known_models = known_models
        self.limits = limits or {}
        self._served = {m for ids in known_models.values() for m in ids} | set(engines.ids)
        self.started = time.time()

    @property
    def model_name(self) -> str:
        """Readable name of the stand-in (the model answering every frontier id)."""
        return self.engines.name(self.engines.stand_in)

    # -- model ids -------------------------------------------------------------------------------
    def canonical(self, model: str) -> str:
        """The catalog id of ``model``: itself, or the id a dated snapshot of it belongs to."""
        if model in self._served:
            return model
        match = _SNAPSHOT.match(model)
        return match["base"] if match and match["base"] in self._served else model

    def check_model(self, model: Any, provider: Provider, param: str = "model") -> str:
        """Accept a catalog model id of ``provider`` (or a local model's id), or a dated snapshot
        of one (``gpt-4o-2024-08-06``, as the real APIs do); else 404/400."""
        if not isinstance(model, str) or not model:
            raise bad(param, "a model id (string) is required")
        base = self.canonical(model)
        if base in self.known_models.get(provider, []) or base in self.engines.ids:
            return model
        known = ", ".join(self.known_models.get(provider, []))
        raise GatewayError(
            "not_found",
            f"The model '{model}' does not exist or is not served by the local provider. "
            f"Known {provider} models (answered by the stand-in {self.model_name}): {known}; "
            f"local models (each answered by its own engine): {', '.join(self.engines.ids)}",
            param=param,
        )

    def answerer(self, model: str) -> str:
        """The local model id whose engine answers ``model`` (a checked id): itself, or the stand-in."""
        base = self.canonical(model)
        return base if base in self.engines.ids else self.engines.stand_in

    @asynccontextmanager
    async def using(self, model: str) -> AsyncIterator[EngineClient]:
        """The engine answering ``model``, started if needed and held busy for the block."""
        local = self.answerer(model)
        engine = await self.engines.acquire(local)
        try:
            yield engine
        finally:
            self.engines.release(local)

    def backend_name(self, model: str) -> str:
        """Human-readable name of the real model answering ``model``."""
        return self.engines.name(self.answerer(model))

    def output_limit(self, model: str) -> int | None:
        """The most output tokens ``model`` may be asked for (None: the catalog gives no limit)."""
        return self.limits.get(self.canonical(model))

    async def answer_cap(self, model: str, engine: EngineClient) -> int:
        """Output tokens allowed when a request sets no limit: the model's own limit (as the real APIs
        do), at most the engine slot's context (generation stops there anyway)."""
        slot = await engine.slot_context()
        limit = self.output_limit(model)
        return min(limit, slot) if limit else slot

    # -- prompts -----------------------------------------------------------------------------------
    def prompt_messages(self, req: GenRequest) -> list[dict[str, str]]:
        """The messages of the answering step (tools described in the system prompt)."""
        if req.tools and req.tool_choice.mode != "none":
            return with_system_note(req.messages, tool_note(req.tools))
        return req.messages

    def check_messages(self, req: GenRequest) -> None:
        """A request needs at least one non-system message."""
        if not any(m["role"] != "system" for m in req.messages):
            raise bad("messages", "at least one user message is required")

    async def prompt(self, req: GenRequest) -> tuple[str, int]:
        """The exact prompt text generation would send for ``req``, and its tokens by the engine's tokenizer."""
        self.check_messages(req)
        async with self.using(req.model) as engine:
            text = await engine.render(self.prompt_messages(req))
            return text, await engine.tokenize(text)

    async def count_tokens(self, req: GenRequest) -> int:
        """Input tokens of ``req``: the engine's tokenizer on the exact prompt generation would send."""
        return (await self.prompt(req))[1]

    # -- generation --------------------------------------------------------------------------------
    def _sampling(self, req: GenRequest, max_tokens: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "n_predict": max_tokens,
            "temperature": DEFAULT_TEMPERATURE if req.temperature is None else req.temperature,
            "seed": DEFAULT_SEED if req.seed is None else req.seed,
            # no prompt cache: a cached prompt re-evaluates only its last token, whose logits then differ
            # in the last bits from a cold run and flip greedy answers (measured: 3 of 9 repeats); replayed
            # archives (workbench.evals.archive) must give the recorded text
            "cache_prompt": False,
        }
        if req.top_p is not None:
            params["top_p"] = req.top_p
        if req.top_k is not None:
            params["top_k"] = req.top_k
        if req.frequency_penalty is not None:
            params["frequency_penalty"] = req.frequency_penalty
        if req.presence_penalty is not None:
            params["presence_penalty"] = req.presence_penalty
        return params

    async def delay_first_token(self) -> None:
        """Sleep the configured first-token delay (fault injection), if any."""
        delay = self.faults.config.first_token_delay
        if delay > 0:
            await asyncio.sleep(delay)

    async def _choose_tool(self, engine: EngineClient, req: GenRequest,
                           messages: list[dict[str, str]]) -> tuple[str | None, int, int]:
        """The tool to call (None: answer in text) and the prompt/completion tokens the choice used.

        Named: that tool. Required with one tool: it. Otherwise the model picks under a grammar among
        the tool names (and, for auto, a "reply in text" option).
        """
        names = [t.name for t in req.tools]
        if req.tool_choice.mode == "named":
            return req.tool_choice.name, 0, 0
        reply = next(o for o in ("reply", "answer", "respond", "text_reply") if o not in names)
        options = names + ([reply] if req.tool_choice.mode == "auto" else [])
        if len(options) == 1:
            return options[0], 0, 0
        instruction = (
            "Decide how to handle the last message: answer with the name of the tool to call"
            + (f", or '{reply}' to reply in text without a tool." if req.tool_choice.mode == "auto" else ".")
        )
        prompt = await engine.render(messages + [{"role": "user", "content": instruction}])
        text, final = await engine.complete(
            {"prompt": prompt, "grammar": grammar.choice_grammar(options), **self._sampling(req, 32)}, param="tools")
        chosen = text.strip() if text.strip() in names else None
        return chosen, int(final.get("tokens_evaluated", 0)), int(final.get("tokens_predicted", 0))

    async def events(self, req: GenRequest) -> AsyncIterator[Event]:
        """Generate the answer to ``req`` as events.

        :class:`Started` (with the prompt token count) when the first token is ready, then text
        deltas, or a :class:`ToolCallStart` and argument deltas, then :class:`Done`.
        Token counts add up every engine step. The answering engine is held busy until the last event.
        """
        self.check_messages(req)
        async with self.using(req.model) as engine:
            async for event in self._answer(engine, req):
                yield event

    async def _answer(self, engine: EngineClient, req: GenRequest) -> AsyncIterator[Event]:
        """The events of :meth:`events`, from ``engine``."""
        max_tokens = await self.answer_cap(req.model, engine) if req.max_tokens is None else req.max_tokens
        await self.delay_first_token()
        messages = self.prompt_messages(req)
        chosen: str | None = None
        used_prompt = used_completion = 0
        if req.tools and req.tool_choice.mode != "none":
            chosen, used_prompt, used_completion = await self._choose_tool(engine, req, messages)
        if chosen is not None:
            tool = next(t for t in req.tools if t.name == chosen)
            prompt = await engine.render(messages + [{
                "role": "user", "content": f"Call the tool {tool.name} now: write only its arguments as a JSON object."}])
            schema = grammar.object_schema(tool.parameters)
            payload = {"prompt": prompt, "json_schema": grammar.bounded_schema(schema),
                       **self._sampling(req, TOOL_ARGS_MAX_TOKENS)}
            call = ToolCall(id=new_id(req.call_id_prefix), name=tool.name, arguments="")
            async for event in self._decode(engine, payload, "tools", used_prompt, used_completion, call, schema):
                yield event
            return
        prompt = await engine.render(messages)
        payload = {"prompt": prompt, **self._sampling(req, max_tokens)}
        if req.stop:
            payload["stop"] = req.stop
        if req.json_schema is not None and req.max_tokens is None:  # the JSON must end before the slot is full
            room = min(max_tokens, await engine.slot_context() - await engine.tokenize(prompt))
            payload["json_schema"] = grammar.fitted_schema(req.json_schema, room)
        elif req.json_schema is not None:
            payload["json_schema"] = grammar.bounded_schema(req.json_schema, max_string=1000, max_items=20)
        if req.logprobs is not None:
            payload["n_probs"] = max(1, req.logprobs)  # the engine sends the chosen token's only with n_probs >= 1
        param = req.json_param if req.json_schema is not None else None
        async for event in self._decode(engine, payload, param, used_prompt, used_completion,
                                        top=req.logprobs):
            yield event

    async def _decode(self, engine: EngineClient, payload: dict[str, Any], param: str | None,
                      used_prompt: int, used_completion: int, call: ToolCall | None = None,
                      call_schema: dict[str, Any] | None = None, top: int | None = None) -> AsyncIterator[Event]:
        """Stream one engine completion as events: text, or the arguments of ``call`` (checked
        against ``call_schema``); with ``top`` set, text deltas carry log-probabilities with ``top``
        alternatives per token."""
        parts: list[str] = []
        logprobs: list[TokenLogprob] = []
        final: dict[str, Any] = {}
        started = False
        async for chunk in engine.stream(payload, param=param):
            if not started:
                started = True
                yield Started(used_prompt + int(chunk.get("tokens_evaluated", 0)))
                if call is not None:
                    yield ToolCallStart(call.id, call.name)
            if chunk.get("content"):
                parts.append(chunk["content"])
                if call is not None:
                    yield ArgumentsDelta(chunk["content"])
                else:
                    probs = _logprobs(chunk, top)
                    logprobs.extend(probs)
                    yield TextDelta(chunk["content"], probs)
            if chunk.get("stop"):
                final = chunk
        prompt_tokens = used_prompt + int(final.get("tokens_evaluated", 0))
        completion_tokens = used_completion + int(final.get("tokens_predicted", 0))
        if call is not None:
            call.arguments = "".join(parts)
            try:
                grammar.validate(call.arguments, call_schema or {})
            except ValueError as exc:
                raise GatewayError("server", f"the constrained tool call for {call.name} did not produce "
                                             f"schema-valid arguments within {TOOL_ARGS_MAX_TOKENS} tokens ({exc})") from None
            yield Done(Generation(tool_call=call, finish="tool_call", prompt_tokens=prompt_tokens,
                                  completion_tokens=completion_tokens))
            return
        stop_type = final.get("stop_type", "eos")
        finish: Literal["stop", "length", "stop_sequence"] = (
            "length" if stop_type == "limit" else "stop_sequence" if stop_type == "word" else "stop")
        yield Done(Generation(
            text="".join(parts), finish=finish,
            stop_sequence=final.get("stopping_word") or None if finish == "stop_sequence" else None,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            logprobs=logprobs if top is not None else None))

    async def generate(self, req: GenRequest) -> Generation:
        """Generate the whole answer (the events collected)."""
        async for event in self.events(req):
            if isinstance(event, Done):
                return event.generation
        raise GatewayError("server", "the generation ended without a result")  # pragma: no cover

    async def close(self) -> None:
        """Close every engine connection pool."""
        await self.engines.close()
