"""One timed, non-streamed call to any model through its official SDK client: text, JSON, usage, who answered.

The call-level patterns (:mod:`workbench.response_cache`, :mod:`workbench.comparator`,
:mod:`workbench.ensemble`, :mod:`workbench.safety_guard`) send their requests through :func:`ask`, which speaks
each client's own protocol with the SDK's documented call:

* OpenAI: ``client.chat.completions.create`` (``max_completion_tokens``; a JSON schema as
  ``response_format={"type": "json_schema", ...}``; ``logprobs``/``top_logprobs``);
* Anthropic: ``client.messages.create`` (a JSON schema as ``output_config={"format": {"type": "json_schema",
  ...}}``; temperature in the body);
* Gemini: ``client.models.generate_content`` (``GenerateContentConfig`` with ``response_json_schema``).

The reply is an :class:`Answer` with the measured wall time of the call (``time.perf_counter`` around the SDK
call), the provider-reported token counts, the SDK usage object (for :mod:`workbench.pricing`) and the model that
really answered: on the local provider the ``x-workbench-backend-model`` response header (a frontier id is
answered by a stand-in), live the ``model`` the provider reports.

Example::

    from workbench import clients, model_call
    provider, client = clients.for_model("smollm2-135m-instruct")
    answer = model_call.ask(client, "smollm2-135m-instruct", "Name a colour.", max_tokens=8)
    answer.text, answer.seconds, answer.answered_by
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import params
from .evals.streams import protocol_of  # one reading of which SDK a client is, shared with the harness

__all__ = ["Answer", "Messages", "ask", "messages_of", "protocol_of"]

#: The response header naming the model that answered on the local provider.
ANSWERED_BY_HEADER = "x-workbench-backend-model"
#: A conversation: a prompt, or user/assistant turns ``{"role": ..., "content": text}``.
Messages = str | Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class Answer:
    """One model's reply to one request, timed on this machine.

    Attributes:
        model: the model id asked.
        provider: the protocol spoken (``openai``, ``anthropic``, ``google``).
        text: the reply's text.
        seconds: wall time of the SDK call (request sent to reply parsed).
        input_tokens, output_tokens: the provider-reported counts (None if not reported).
        answered_by: the model that produced the reply (local: the gateway's header; live: the reply's model).
        finish_reason: the provider's stop reason.
        usage: the SDK's usage object (price it with :mod:`workbench.pricing`).
        logprobs: per generated token, OpenAI's shape ``{"token", "logprob", "top_logprobs": [{"token",
            "logprob"}, ...]}`` (OpenAI protocol, when asked; what :mod:`workbench.evals.scorers` reads).
    """

    model: str
    provider: str
    text: str
    seconds: float
    input_tokens: int | None
    output_tokens: int | None
    answered_by: str
    finish_reason: str | None = None
    usage: Any = field(default=None, repr=False, compare=False)
    logprobs: tuple[dict[str, Any], ...] | None = field(default=None, repr=False)

    def json(self) -> Any:
        """The reply parsed as JSON; ``ValueError`` saying what came back when it is not JSON."""
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.model}: the reply is not JSON ({exc.msg}): {self.text[:200]!r}") from None


def messages_of(prompt: Messages, param: str = "prompt") -> list[dict[str, str]]:
    """``prompt`` as user/assistant turns; ``ParameterError`` naming ``param`` unless it is text or such turns."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise params.ParameterError(param, "a non-empty prompt", prompt)
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, Sequence) and prompt and all(
            isinstance(m, Mapping) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
            for m in prompt):
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]
    raise params.ParameterError(param, "a prompt or a list of {'role': 'user'|'assistant', 'content': text}", prompt)


def _header(raw: Any) -> str | None:
    headers = getattr(raw, "headers", None)
    return headers.get(ANSWERED_BY_HEADER) if headers is not None else None


def _openai(client: Any, model: str, turns: list[dict[str, str]], system: str | None, max_tokens: int,
            temperature: float | None, seed: int | None, schema: Mapping[str, Any] | None,
            top_logprobs: int | None, timeout: float | None) -> tuple[Any, str | None, dict[str, Any]]:
    kwargs: dict[str, Any] = {"model": model, "max_completion_tokens": max_tokens,
                              "messages": ([{"role": "system", "content": system}] if system else []) + turns}
    kwargs.update({k: v for k, v in (("temperature", temperature), ("seed", seed), ("timeout", timeout))
                   if v is not None})
    if schema is not None:
        kwargs["response_format"] = {"type": "json_schema",
                                     "json_schema": {"name": "answer", "strict": True, "schema": dict(schema)}}
    if top_logprobs is not None:
        kwargs.update(logprobs=True, top_logprobs=top_logprobs)
    raw = client.chat.completions.with_raw_response.create(**kwargs)
    reply = raw.parse()
    choice = reply.choices[0]
    probs = None
    if top_logprobs is not None and choice.logprobs is not None and choice.logprobs.content is not None:
        probs = tuple({"token": tok.token, "logprob": tok.logprob,
                       "top_logprobs": [{"token": alt.token, "logprob": alt.logprob} for alt in tok.top_logprobs]}
                      for tok in choice.logprobs.content)
    usage = reply.usage
    return reply, _header(raw) or reply.model, {
        "text": choice.message.content or "", "finish_reason": choice.finish_reason, "usage": usage,
        "input_tokens": getattr(usage, "prompt_tokens", None), "output_tokens": getattr(usage, "completion_tokens", None),
        "logprobs": probs}


def _anthropic(client: Any, model: str, turns: list[dict[str, str]], system: str | None, max_tokens: int,
               temperature: float | None, seed: int | None, schema: Mapping[str, Any] | None,
               top_logprobs: int | None, timeout: float | None) -> tuple[Any, str | None, dict[str, Any]]:
    kwargs: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": turns}
    if system:
        kwargs["system"] = system
    if timeout is not None:
        kwargs["timeout"] = timeout
    if temperature is not None:
        kwargs["extra_body"] = {"temperature": temperature}
    if schema is not None:
        kwargs["output_config"] = {"format": {"type": "json_schema", "schema": dict(schema)}}
    raw = client.messages.with_raw_response.create(**kwargs)
    reply = raw.parse()
    text = "".join(block.text for block in reply.content if getattr(block, "type", "") == "text")
    usage = reply.usage
    return reply, _header(raw) or reply.model, {
        "text": text, "finish_reason": reply.stop_reason, "usage": usage,
        "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "logprobs": None}


def _gemini(client: Any, model: str, turns: list[dict[str, str]], system: str | None, max_tokens: int,
            temperature: float | None, seed: int | None, schema: Mapping[str, Any] | None,
            top_logprobs: int | None, timeout: float | None) -> tuple[Any, str | None, dict[str, Any]]:
    from google.genai import types

    config: dict[str, Any] = {"max_output_tokens": max_tokens}
    config.update({k: v for k, v in (("temperature", temperature), ("seed", seed), ("system_instruction", system))
                   if v is not None})
    if timeout is not None:
        config["http_options"] = types.HttpOptions(timeout=int(timeout * 1000))
    if schema is not None:
        config.update(response_mime_type="application/json", response_json_schema=dict(schema))
    contents = [types.Content(role="model" if t["role"] == "assistant" else "user",
                              parts=[types.Part(text=t["content"])]) for t in turns]
    reply = client.models.generate_content(model=model, contents=contents,
                                           config=types.GenerateContentConfig(**config))
    http = getattr(reply, "sdk_http_response", None)
    by = (http.headers or {}).get(ANSWERED_BY_HEADER) if http is not None else None
    cand = reply.candidates[0] if reply.candidates else None
    parts = cand.content.parts if cand is not None and cand.content and cand.content.parts else []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    meta = reply.usage_metadata
    out = None
    if meta is not None and meta.candidates_token_count is not None:
        out = meta.candidates_token_count + (meta.thoughts_token_count or 0)
    finish = getattr(cand.finish_reason, "value", cand.finish_reason) if cand is not None else None
    return reply, by or reply.model_version or model, {
        "text": text, "finish_reason": None if finish is None else str(finish), "usage": meta,
        "input_tokens": meta.prompt_token_count if meta is not None else None, "output_tokens": out,
        "logprobs": None}


_CALLS = {"openai": _openai, "anthropic": _anthropic, "google": _gemini}


def ask(client: Any, model: str, prompt: Messages, *, max_tokens: int, system: str | None = None,
        temperature: float | None = 0.0, seed: int | None = None, json_schema: Mapping[str, Any] | None = None,
        top_logprobs: int | None = None, timeout: float | None = None) -> Answer:
    """Send one request to ``model`` through ``client`` (a sync SDK client) and time it.

    Args:
        client: ``openai.OpenAI``, ``anthropic.Anthropic`` or ``google.genai.Client`` (e.g. from
            :func:`workbench.clients.for_model`).
        model: the model id sent to the API.
        prompt: the user's text, or user/assistant turns.
        max_tokens: the output cap.
        system: a system instruction (None: none).
        temperature: sampling temperature (None: left out, the API's default).
        seed: sampling seed where the API takes one (OpenAI, Gemini; None: left out).
        json_schema: a JSON schema the reply must follow (structured output), or None for text.
        top_logprobs: alternatives per token (0-20) with their log-probabilities; OpenAI protocol only.
        timeout: seconds allowed for the request (None: the SDK's default).

    Raises:
        ParameterError: a parameter out of range (names it); ``top_logprobs`` on a protocol without them.
        TypeError: ``client`` is not one of the three SDK clients.
    """
    provider = protocol_of(client)
    turns = messages_of(prompt)
    max_tokens = params.count(max_tokens, "max_tokens")
    if temperature is not None:
        params.number(temperature, "temperature")
    if seed is not None:
        params.count(seed, "seed", minimum=0)
    if top_logprobs is not None:
        params.count(top_logprobs, "top_logprobs", minimum=0, maximum=20)
        if provider != "openai":
            raise params.ParameterError("top_logprobs", "None: only the OpenAI protocol returns log-probabilities",
                                        top_logprobs)
    if json_schema is not None and not isinstance(json_schema, Mapping):
        raise params.ParameterError("json_schema", "a JSON schema (a dict)", json_schema)
    if timeout is not None:
        params.positive(timeout, "timeout")
    start = time.perf_counter()
    _, by, got = _CALLS[provider](client, model, turns, system, max_tokens, temperature, seed, json_schema,
                                  top_logprobs, timeout)
    seconds = time.perf_counter() - start
    return Answer(model=model, provider=provider, seconds=seconds, answered_by=str(by), **got)
