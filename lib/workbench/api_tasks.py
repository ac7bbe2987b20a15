"""The API tour's task list: the steps chapters 02 (OpenAI), 03 (Anthropic) and 04 (Gemini) all take.

The three chapters differ only in their SDK code; what they ask lives here, once:

* :data:`TASKS` - a first call, system prompt and multi-turn, streaming, one image (inline and by URL),
  several images, audio, video, tools, structured output, token counting, concurrency, errors and
  fallback; each :class:`Task` has its prompt, its sample media (:mod:`workbench.samples`, known
  contents), the request shape each provider's chapter uses, and its checker (:mod:`workbench.answer_checks`);
* what some tasks hand the model: :data:`VAT_TOOL` and :func:`compute_vat` (the real local function behind
  the tool task), :class:`InvoiceFacts` (the structured-output target), :func:`arithmetic_items` (the
  concurrency batch), :data:`IMAGE_URL` (the live-only image by URL);
* the chapters' parameters (:func:`check_params`, :func:`token_limit`);
* the errors task offline: :func:`inject_rate_limits` / :func:`clear_local_faults` make the local
  provider answer the next requests with HTTP 429, through its admin API (:class:`workbench.local.admin.Admin`).

Nothing here calls an SDK: the calls are the content of the chapters, written out in their cells.
"""
from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from . import answer_checks as checks
from . import catalog, clients, params, samples

__all__ = [
    "IMAGE_URL",
    "IMAGE_URL_PROMPT",
    "IMAGE_URL_TRUTH",
    "LIVE_MIN_TOKENS",
    "PROVIDERS",
    "SDK_NAMES",
    "TASKS",
    "VAT_TOOL",
    "InvoiceFacts",
    "Task",
    "arithmetic_items",
    "check_params",
    "check_provider",
    "clear_local_faults",
    "compute_vat",
    "inject_rate_limits",
    "task",
    "token_limit",
]

#: The providers with an official SDK chapter, and the name of each one's SDK.
SDK_NAMES: dict[str, str] = {"openai": "OpenAI", "anthropic": "Anthropic", "google": "Gemini"}
PROVIDERS: tuple[str, ...] = tuple(SDK_NAMES)

#: A live run gives the model at least this many output tokens: reasoning models (GPT-5.5, Gemini 2.5/3.1)
#: spend part of the budget thinking and would return nothing under the small offline cap.
LIVE_MIN_TOKENS = 1024

#: A public image used by the live-only "image by URL" variant: the ant photo of Anthropic's vision guide
#: (Wikimedia Commons). The offline provider cannot fetch URLs, so only a live run uses it.
IMAGE_URL = "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"
#: What :data:`IMAGE_URL` shows (the word a correct one-word answer contains).
IMAGE_URL_TRUTH = "ant"
#: The question asked about :data:`IMAGE_URL`.
IMAGE_URL_PROMPT = "What animal is in this photo? Answer in one word."


# ------------------------------------------------------------------------------------------------
# What the tasks hand the model
# ------------------------------------------------------------------------------------------------
#: JSON Schema of the arguments of :func:`compute_vat` (each chapter wraps it in its SDK's tool shape).
VAT_TOOL: dict[str, Any] = {
    "name": "compute_vat",
    "description": "Compute the VAT and the total (rounded to cents) for an invoice subtotal and a VAT rate.",
    "parameters": {
        "type": "object",
        "properties": {
            "subtotal": {"type": "number", "description": "The invoice subtotal before VAT"},
            "rate_pct": {"type": "number", "description": "The VAT rate in percent, e.g. 20 for 20%"},
        },
        "required": ["subtotal", "rate_pct"],
        "additionalProperties": False,
    },
}


def compute_vat(subtotal: float, rate_pct: float) -> dict[str, float]:
    """The real local function behind the tool task: VAT and total, rounded half-up to cents."""
    for name, value in (("subtotal", subtotal), ("rate_pct", rate_pct)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise params.ParameterError(name, "a finite number", value)
    cent = Decimal("0.01")
    sub = Decimal(str(subtotal))
    vat = (sub * Decimal(str(rate_pct)) / 100).quantize(cent, rounding=ROUND_HALF_UP)
    return {"subtotal": float(sub.quantize(cent, rounding=ROUND_HALF_UP)), "vat": float(vat),
            "total": float((sub + vat).quantize(cent, rounding=ROUND_HALF_UP))}


class InvoiceFacts(BaseModel):
    """The structured-output target: three facts read from the invoice image."""

    invoice_number: str = Field(description="The invoice number, e.g. INV-2000-0001")
    total: float = Field(description="The total amount due, a number without the currency")
    currency: str = Field(description="The ISO currency code, e.g. EUR")


def _invoice_facts() -> dict[str, Any]:
    truth = samples.cached("invoice").truth
    return {"invoice_number": truth["number"], "total": truth["total"], "currency": truth["currency"]}


# ------------------------------------------------------------------------------------------------
# The task list
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One step of the tour: what to ask, with which sample media, and how to check the answer.

    Attributes:
        key: short id (``"image"``).
        title: heading used in the chapters and the closing table.
        prompt: the user message (the question).
        checker: ``(answer, facts) -> Check`` (see :mod:`workbench.answer_checks`).
        sample_names: names of the :mod:`workbench.samples` media sent with the prompt.
        system: the system prompt, when the task has one.
        history: earlier user turns (multi-turn: sent, answered, then :attr:`prompt` follows).
        shapes: per provider, the request shape the chapter uses (shown in the closing table).
    """

    key: str
    title: str
    prompt: str
    checker: checks.Checker = field(repr=False)
    sample_names: tuple[str, ...] = ()
    system: str | None = None
    history: tuple[str, ...] = ()
    shapes: Mapping[str, str] = field(default_factory=dict)

    def media(self) -> list[samples.Sample]:
        """The task's sample media (bytes + truth), in order."""
        return [samples.cached(n) for n in self.sample_names]

    def check(self, answer: str, **facts: Any) -> checks.Check:
        """Check ``answer`` (text) against the truth; ``facts`` are task-specific (see the checkers)."""
        if not isinstance(answer, str):
            raise TypeError(f"answer: expected the answer text (str), got {type(answer).__name__}")
        return self.checker(answer, facts)

    def shape(self, provider: str) -> str:
        """The request shape used for ``provider`` (empty if none is recorded)."""
        return self.shapes.get(provider, "")


_TASK_LIST: tuple[Task, ...] = (
    Task("first_call", "A first call", "What is the capital of France? Answer in one word.",
         checks.expected_words(["paris"], "expected words"),
         shapes={"openai": "responses.create (and chat.completions.create)", "anthropic": "messages.create",
                 "google": "models.generate_content"}),
    Task("multi_turn", "System prompt and multi-turn", "What is my name, and what do I look after?",
         checks.expected_words(["ada", ("invoices", "invoice")], "remembered facts"),
         system="You are a concise assistant for an accounts team. Answer in one short sentence.",
         history=("Hi, my name is Ada and I look after supplier invoices.",),
         shapes={"openai": "instructions + input list (Responses)", "anthropic": "system + messages list",
                 "google": "chats.create + send_message (system_instruction)"}),
    Task("streaming", "Streaming (time to first token)", "Count from 1 to 5, separated by commas.",
         checks.in_order(["1", "2", "3", "4", "5"]),
         shapes={"openai": "responses.stream (text deltas)", "anthropic": "messages.stream (text_stream)",
                 "google": "models.generate_content_stream"}),
    Task("image", "One image", "What is the total amount due on this invoice? Answer with the amount only.",
         checks.invoice_total, sample_names=("invoice",),
         shapes={"openai": "input_image part, base64 data URL", "anthropic": "image block, base64 source",
                 "google": "Part.from_bytes (inline bytes)"}),
    Task("image_url", "One image by URL", IMAGE_URL_PROMPT, checks.expected_words([IMAGE_URL_TRUTH], "expected words"),
         shapes={"openai": "input_image part with an https URL", "anthropic": "image block, url source",
                 "google": "bytes fetched with httpx, then Part.from_bytes"}),
    Task("images", "Several images",
         "The first chart shows 2024, the second 2025. What was the Q4 revenue in each year?",
         checks.q4_values, sample_names=("chart_2024", "chart_2025"),
         shapes={"openai": "two input_image parts", "anthropic": "two image blocks",
                 "google": "two Part.from_bytes"}),
    Task("audio", "Audio", "What does the speaker ask for, and by when? Answer in one sentence.",
         checks.expected_words(["invoice", "finance", "friday"], "key facts"), sample_names=("speech",),
         shapes={"openai": "input_audio part (chat.completions, audio model)",
                 "anthropic": "transcript pipeline: Whisper speech-to-text, then text",
                 "google": "Part.from_bytes audio/wav (native)"}),
    Task("video", "Video", "This video shows one word per second. List the words in the order they appear.",
         checks.in_order(lambda: samples.cached("clip").truth["expected"]),
         sample_names=("clip",),
         shapes={"openai": "frames sampled every 1 s, sent as images", "anthropic": "frames sampled every 1 s, sent as images",
                 "google": "Part.from_bytes video/mp4 (native); Files upload-and-poll live"}),
    Task("tools", "Tools (function calling)",
         "An invoice has a subtotal of 127.13 USD and 20% VAT. Use the compute_vat tool to get the VAT "
         "and the total, then state the total.",
         checks.tool_answer,
         shapes={"openai": "function tool; function_call_output sent back", "anthropic": "tool; tool_result sent back",
                 "google": "FunctionDeclaration; Part.from_function_response sent back"}),
    Task("structured", "Structured output (pydantic)",
         "Extract the invoice number, the total amount due and the currency from this invoice.",
         checks.fields(InvoiceFacts, _invoice_facts), sample_names=("invoice",),
         shapes={"openai": "responses.parse(text_format=InvoiceFacts)",
                 "anthropic": "messages.parse(output_format=InvoiceFacts)",
                 "google": "response_schema=InvoiceFacts, response.parsed"}),
    Task("count_tokens", "Token counting before sending",
         "Summarise in one sentence: the invoice INV-2024-0042 from ACME Office Supplies Ltd. lists printer "
         "paper, ink cartridges, a stapler and a desk lamp, and is due within 30 days.",
         checks.token_count,
         shapes={"openai": "tiktoken offline; responses.input_tokens.count live", "anthropic": "messages.count_tokens",
                 "google": "models.count_tokens"}),
    Task("concurrency", "Concurrency (async client)", "What is {a} + {b}? Answer with the number only.",
         checks.batch_sums,
         shapes={"openai": "AsyncOpenAI + asyncio.gather", "anthropic": "AsyncAnthropic + asyncio.gather",
                 "google": "client.aio + asyncio.gather"}),
    Task("errors", "Errors, retries and fallback", "Reply with the single word OK.", checks.fallback,
         shapes={"openai": "max_retries, RateLimitError, fallback model", "anthropic": "max_retries, RateLimitError, fallback model",
                 "google": "HttpRetryOptions, errors.APIError, fallback model"}),
)

#: The tour, in chapter order, by key.
TASKS: dict[str, Task] = {t.key: t for t in _TASK_LIST}


def task(key: str) -> Task:
    """The task called ``key`` (one of :data:`TASKS`); an unknown key raises ``UnknownNameError``."""
    catalog.check_names([key], TASKS, param="key", kind="tour task")
    return TASKS[key]


def arithmetic_items(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """``n`` two-number sums for the concurrency task: (question, right answer), drawn from ``seed``."""
    n = params.count(n, "n")
    rng = random.Random(seed)
    template = TASKS["concurrency"].prompt
    out = []
    for _ in range(n):
        a, b = rng.randint(10, 49), rng.randint(10, 49)
        out.append((template.format(a=a, b=b), a + b))
    return out


# ------------------------------------------------------------------------------------------------
# The chapters' parameters
# ------------------------------------------------------------------------------------------------
def check_provider(provider: str) -> str:
    """``provider`` if it has an SDK chapter (one of :data:`PROVIDERS`); else a ValueError naming it."""
    catalog.check_providers([provider], param="provider")
    if provider not in PROVIDERS:
        raise ValueError(f"provider: {provider!r} has no SDK chapter; choose one of {', '.join(PROVIDERS)}")
    return provider


def check_params(provider: str, *, backend: str, model: str, fallback_model: str, concurrency: int,
                 max_tokens: int, seed: int, audio_model: str | None = None) -> dict[str, Any]:
    """Validate a chapter's parameters; return them normalised (plus the provider's SDK name).

    Raises ``UnknownNameError`` (a ValueError naming the parameter, the bad value and the choices)
    for an unknown backend or a model id of another provider, and ``ValueError`` naming the parameter
    for a bad number, a fallback equal to the model, or an ``audio_model`` without audio input.
    """
    check_provider(provider)
    clients.check_backend(backend)
    catalog.check_models([model], provider=provider, param="model")
    catalog.check_models([fallback_model], provider=provider, param="fallback_model")
    if fallback_model == model:
        raise ValueError(f"fallback_model: {fallback_model!r} is the same as model; a fallback must be another model")
    if audio_model is not None:
        catalog.check_models([audio_model], provider=provider, param="audio_model")
        table = catalog.models().set_index("model_id")
        audio_in = table.loc[audio_model, "input_audio"]
        if pd.isna(audio_in) or not bool(audio_in):
            capable = sorted(table.index[(table["provider"] == provider) & (table["input_audio"].fillna(False))])
            raise ValueError(f"audio_model: {audio_model!r} does not take audio input in data/models.csv; "
                             f"choose one of {', '.join(capable)}")
    for param, value in (("model", model), ("fallback_model", fallback_model), ("audio_model", audio_model)):
        if value is not None:  # a retired id stops a live run naming its replacement; offline it warns
            catalog.check_usable(value, backend, param=param, stacklevel=2)
    return {"provider": provider, "sdk": SDK_NAMES[provider], "backend": backend, "model": model,
            "fallback_model": fallback_model, "audio_model": audio_model,
            "concurrency": params.count(concurrency, "concurrency", maximum=16),
            "max_tokens": params.count(max_tokens, "max_tokens", minimum=16),
            "seed": params.count(seed, "seed", minimum=0)}


def token_limit(backend: str, max_tokens: int) -> int:
    """The answer cap to send: ``max_tokens`` offline, at least :data:`LIVE_MIN_TOKENS` live."""
    clients.check_backend(backend)
    return max_tokens if backend == "local" else max(max_tokens, LIVE_MIN_TOKENS)


# ------------------------------------------------------------------------------------------------
# The errors task offline: rate limits staged on the local provider
# ------------------------------------------------------------------------------------------------
def _admin() -> Any:
    from .local.admin import Admin

    return Admin(clients.local_base_url())


def inject_rate_limits(failures: int, *, retry_after: float = 0.5, rate: float = 0.5) -> dict[str, Any]:
    """Make the local provider answer the next ``failures`` generation requests with 429, then none.

    The provider's fault injector draws one number per request from a seeded sequence; this picks the
    first seed whose sequence (checked with the injector's own class) gives exactly ``failures`` rate
    limits followed by a success, and sets it. It works for requests made one after another; a
    parallel client of the same provider would take draws too. Returns the settings applied.
    """
    from .local.faults import FaultConfig, FaultInjector

    failures = params.count(failures, "failures", maximum=10)
    rate = params.probability(rate, "rate")
    for seed in range(100_000):
        inj = FaultInjector(FaultConfig(rate_429=rate, seed=seed))
        if [inj.draw() for _ in range(failures + 1)] == ["429"] * failures + [None]:
            break
    else:  # pragma: no cover - with rate 0.5 a seed turns up within a few thousand
        raise RuntimeError(f"failures: no seed gives {failures} rate limits in a row at rate {rate}")
    return _admin().set_faults(rate_429=rate, rate_500=0.0, rate_timeout=0.0, rate_cut=0.0,
                               retry_after=retry_after, seed=seed)


def clear_local_faults() -> dict[str, Any]:
    """Turn every local fault off; return the state seen before (``counts``: requests and 429s)."""
    admin = _admin()
    before = admin.faults()
    admin.clear_faults()
    return before
