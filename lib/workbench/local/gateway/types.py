"""The gateway's shared vocabulary: the normalised request, the events of an answer, and constants.

Every wire-protocol module parses its body into one :class:`GenRequest` and serialises the
:data:`Event` stream (or the finished :class:`Generation`) back into its own shapes; the core
(:mod:`.core`) only ever sees these types. An :class:`Exchange` is what a protocol parser returns: the
request plus the two ways of answering it (one JSON body, or a stream of server-sent events).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "BACKEND_HEADER", "DEFAULT_SEED", "DEFAULT_TEMPERATURE", "LOCAL_MODEL_ID", "TOOL_ARGS_MAX_TOKENS",
    "ArgumentsDelta", "Done", "Event", "Exchange", "GenRequest", "Generation", "Provider", "Started",
    "TextDelta", "TokenLogprob", "Tool", "ToolCall", "ToolCallStart", "ToolChoice", "new_id",
]

#: Seed sent to the engine when a request carries none (so answers are reproducible).
DEFAULT_SEED = 1234
#: Default temperature when a request sets none: 1.0, the documented default of all three APIs.
DEFAULT_TEMPERATURE = 1.0
#: Response header naming the real model behind every answer.
BACKEND_HEADER = "x-workbench-backend-model"
#: The catalog id of SmolLM2-135M-Instruct, the first local model (and the default stand-in,
#: :data:`workbench.local.models.DEFAULT_STAND_IN`).
LOCAL_MODEL_ID = "smollm2-135m-instruct"
#: Token budget of a tool-arguments generation, independent of the request's limit so that a call is
#: never cut short (the schema is bounded, see grammar.bounded_schema).
TOOL_ARGS_MAX_TOKENS = 512

Provider = Literal["openai", "anthropic", "google"]


def new_id(prefix: str, n: int = 24) -> str:
    """A random id such as ``chatcmpl-3f2a...`` (prefix plus ``n`` hex digits)."""
    return prefix + uuid.uuid4().hex[:n]


# ------------------------------------------------------------------------------------------------
# The normalised request
# ------------------------------------------------------------------------------------------------
@dataclass
class Tool:
    """A function the model may call: its name, description and JSON Schema for arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolChoice:
    """none | auto | required | named (then ``name`` is the tool to call)."""

    mode: Literal["none", "auto", "required", "named"] = "auto"
    name: str | None = None


@dataclass
class GenRequest:
    """One generation request, whatever protocol it came in.

    ``max_tokens`` None means "the model's own limit" (see :meth:`.core.Core.answer_cap`);
    ``logprobs`` None means no log-probabilities, an integer the number of alternatives per token;
    ``call_id_prefix`` is how the protocol names tool calls (``call_`` for OpenAI, ``toolu_`` for
    Anthropic).
    """

    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    json_schema: dict[str, Any] | None = None
    json_param: str = "response_format"
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    logprobs: int | None = None
    call_id_prefix: str = "call_"
    stream: bool = False


# ------------------------------------------------------------------------------------------------
# The answer
# ------------------------------------------------------------------------------------------------
@dataclass
class TokenLogprob:
    """One token with its id and log-probability; for a generated token, ``top`` holds the most
    likely alternatives at that position (most likely first)."""

    token: str
    logprob: float
    bytes: list[int]
    id: int = -1
    top: list[TokenLogprob] = field(default_factory=list)


@dataclass
class ToolCall:
    """A call the model made: id, tool name, and the arguments as a JSON text."""

    id: str
    name: str
    arguments: str

    @property
    def args(self) -> Any:
        """The arguments parsed from JSON."""
        return json.loads(self.arguments)


@dataclass
class Generation:
    """A finished answer with the engine's real token counts (and log-probabilities when asked)."""

    text: str = ""
    tool_call: ToolCall | None = None
    finish: Literal["stop", "length", "stop_sequence", "tool_call"] = "stop"
    stop_sequence: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: list[TokenLogprob] | None = None


@dataclass
class Started:
    """Generation has begun: the first token is ready; ``prompt_tokens`` counts every prompt so far."""

    prompt_tokens: int


@dataclass
class TextDelta:
    """A piece of answer text (with its tokens' log-probabilities when the request asked for them)."""

    text: str
    logprobs: list[TokenLogprob] = field(default_factory=list)


@dataclass
class ToolCallStart:
    """The model decided to call ``name``; argument deltas follow."""

    id: str
    name: str


@dataclass
class ArgumentsDelta:
    """A piece of the tool call's JSON arguments."""

    text: str


@dataclass
class Done:
    """The answer is complete."""

    generation: Generation


Event = Started | TextDelta | ToolCallStart | ArgumentsDelta | Done


class Exchange(Protocol):
    """A parsed request of one wire protocol and the two ways of answering it."""

    req: GenRequest

    def response(self, gen: Generation) -> dict[str, Any]:
        """The protocol's JSON body for a finished answer."""
        ...

    def stream(self, events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
        """The protocol's server-sent events for an answer as it is generated."""
        ...
