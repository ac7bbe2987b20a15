"""The API tour: one task list that chapters 02 (OpenAI), 03 (Anthropic) and 04 (Gemini) all walk.

The three chapters differ only in their SDK code. Everything they share lives here, once:

* :data:`TASKS` - the task list (a first call, system prompt and multi-turn, streaming, one image,
  several images, audio, video, tools, structured output, token counting, concurrency, errors and
  fallback), each with its prompt, its sample media (:mod:`workbench.samples`, known contents) and a
  checker that scores an answer against the truth;
* helpers the SDK code calls: :func:`b64`, :func:`video_frames` (frame sampling for providers without
  native video), :func:`transcribe` (the speech-to-text step of a transcript pipeline),
  :func:`compute_vat` (the real local function behind the tool-calling task), :class:`InvoiceFacts`
  (the structured-output model), :func:`arithmetic_items` (the concurrency batch), :func:`timed`;
* :class:`Recorder` - times each call (latency, time to first token), collects token usage and the
  check of the answer, shows a one-line result card, and builds the closing table, the latency figure
  and the "What we found" numbers;
* local fault injection for the retry/fallback demonstration (:func:`inject_rate_limits`), which talks
  to the offline provider only.

Nothing here calls an SDK: the calls are the content of the chapters, written out in their cells.
"""
from __future__ import annotations

import base64
import io
import math
import random
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, TypeVar

import pandas as pd
from pydantic import BaseModel, Field

from . import catalog, clients, samples

__all__ = [
    "IMAGE_URL",
    "IMAGE_URL_PROMPT",
    "IMAGE_URL_TRUTH",
    "LIVE_MIN_TOKENS",
    "PROVIDERS",
    "TASKS",
    "VAT_TOOL",
    "Call",
    "Check",
    "Frame",
    "InvoiceFacts",
    "Record",
    "Recorder",
    "Task",
    "arithmetic_items",
    "b64",
    "check_params",
    "clear_local_faults",
    "compute_vat",
    "inject_rate_limits",
    "local_fault_state",
    "task",
    "timed",
    "token_limit",
    "tokens_of",
    "transcribe",
    "video_frames",
]

#: The providers with an official SDK chapter.
PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google")
_SDK_NAME = {"openai": "OpenAI", "anthropic": "Anthropic", "google": "Gemini"}

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
# Checks
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """The verdict on one answer: ``ok`` (None when it cannot be checked), a 0-1 ``score``, and why."""

    ok: bool | None
    score: float | None
    detail: str

    @property
    def mark(self) -> str:
        """✓, ✗ or – (not checkable)."""
        return "–" if self.ok is None else ("✓" if self.ok else "✗")




def _has_number(text: str, value: float) -> bool:
    return any(abs(x - value) < 0.005 for x in samples.numbers_in(text))


def _has_word(text: str, word: str) -> bool:
    return f" {' '.join(samples.words_of(word))} " in f" {' '.join(samples.words_of(text))} "


def _facts_check(found: Sequence[str], missing: Sequence[str], what: str) -> Check:
    n = len(found) + len(missing)
    detail = f"{len(found)}/{n} {what} found" + (f"; missing: {', '.join(map(str, missing))}" if missing else "")
    return Check(not missing, len(found) / n if n else None, detail)


def _check_words(expected: Sequence[str | tuple[str, ...]], what: str) -> Callable[[str, Mapping[str, Any]], Check]:
    """Right when every expected word is in the answer (a tuple lists accepted spellings)."""
    def has(item: str | tuple[str, ...], answer: str) -> bool:
        return any(_has_word(answer, w) for w in ((item,) if isinstance(item, str) else item))

    def name(item: str | tuple[str, ...]) -> str:
        return item if isinstance(item, str) else item[0]

    def check(answer: str, facts: Mapping[str, Any]) -> Check:
        return _facts_check([name(w) for w in expected if has(w, answer)],
                            [name(w) for w in expected if not has(w, answer)], what)
    return check


def _check_in_order(expected: Sequence[str] | Callable[[], Sequence[str]]) -> Callable[[str, Mapping[str, Any]], Check]:
    def check(answer: str, facts: Mapping[str, Any]) -> Check:
        nonlocal expected
        if callable(expected):
            expected = list(expected())
        words = f" {' '.join(samples.words_of(answer))} "
        positions = [words.find(f" {' '.join(samples.words_of(str(e)))} ") for e in expected]
        found = [e for e, p in zip(expected, positions) if p >= 0]
        in_order = all(p >= 0 for p in positions) and positions == sorted(positions)
        base = _facts_check(found, [e for e in expected if e not in found], "expected items")
        return Check(in_order, base.score, base.detail + ("; in order" if in_order else "; not all in order"))
    return check


@cache
def _sample(name: str) -> samples.Sample:
    """A sample made once per process (they are deterministic)."""
    return samples.get(name)


def _truth(name: str) -> dict[str, Any]:
    return _sample(name).truth


def _check_invoice_total(answer: str, facts: Mapping[str, Any]) -> Check:
    """Right when the invoice's true total is in the answer (:func:`samples.check_answer`)."""
    res = samples.check_answer(_sample("invoice"), answer)
    ok = bool(res["total_found"])
    total = _truth("invoice")["total"]
    return Check(ok, 1.0 if ok else 0.0, f"true total {total:.2f} {'found' if ok else 'not found'}")


def _check_q4(answer: str, facts: Mapping[str, Any]) -> Check:
    want = {f"Q4 {year}": samples.CHART_VALUES[year][3] for year in sorted(samples.CHART_VALUES)}
    found = [f"{k} = {v}" for k, v in want.items() if _has_number(answer, v)]
    missing = [f"{k} = {v}" for k, v in want.items() if not _has_number(answer, v)]
    return _facts_check(found, missing, "Q4 values")


def _check_tools(answer: str, facts: Mapping[str, Any]) -> Check:
    truth = _truth("invoice")
    total_ok = _has_number(answer, truth["total"])
    args = facts.get("arguments")
    if args is None:
        how = "no tool call was made"
    else:
        right = (isinstance(args, Mapping) and _close(args.get("subtotal"), truth["subtotal"])
                 and _close(args.get("rate_pct"), truth["tax_rate_pct"]))
        how = (f"called compute_vat({_fmt_args(args)}) -> {facts.get('result')}; arguments "
               f"{'right' if right else 'wrong (truth: subtotal=' + str(truth['subtotal']) + ', rate_pct=' + str(truth['tax_rate_pct']) + ')'}")
    return Check(total_ok, 1.0 if total_ok else 0.0,
                 f"true total {truth['total']:.2f} {'in' if total_ok else 'not in'} the final answer; {how}")


def _close(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and abs(float(a) - b) < 0.005


def _fmt_args(args: Any) -> str:
    if isinstance(args, Mapping):
        return ", ".join(f"{k}={v!r}" for k, v in args.items())
    return repr(args)


def _check_structured(answer: str, facts: Mapping[str, Any]) -> Check:
    parsed = facts.get("parsed")
    truth = _truth("invoice")
    if parsed is None:
        return Check(False, 0.0, "no parsed object (the answer did not validate against InvoiceFacts)")
    if isinstance(parsed, Mapping):
        parsed = InvoiceFacts.model_validate(parsed)
    if not isinstance(parsed, InvoiceFacts):
        raise TypeError(f"parsed: expected an InvoiceFacts, got {type(parsed).__name__}")
    want = {"invoice_number": truth["number"], "total": truth["total"], "currency": truth["currency"]}
    fields = {
        "invoice_number": parsed.invoice_number.strip().upper() == want["invoice_number"],
        "total": abs(parsed.total - want["total"]) < 0.005,
        "currency": parsed.currency.strip().upper() == want["currency"],
    }
    found = [k for k, ok in fields.items() if ok]
    wrong = [f"{k} (got {getattr(parsed, k)!r}, truth {want[k]!r})" for k, ok in fields.items() if not ok]
    n = len(fields)
    detail = f"valid InvoiceFacts; {len(found)}/{n} fields right" + (f"; wrong: {', '.join(wrong)}" if wrong else "")
    return Check(not wrong, len(found) / n, detail)


def _check_count(answer: str, facts: Mapping[str, Any]) -> Check:
    counted, used = facts.get("counted"), facts.get("used")
    if counted is None or used is None:
        return Check(None, None, "no count to compare")
    if not facts.get("comparable", True):
        return Check(None, None, f"counted {counted} with {facts.get('counter', 'a tokenizer')}; the response reported "
                                 f"{used} input tokens, counted another way: not comparable")
    same = counted == used
    return Check(same, 1.0 if same else 0.0,
                 f"counted {counted} before sending, usage reported {used}" + ("" if same else f" (off by {used - counted:+d})"))


def _check_batch(answer: str, facts: Mapping[str, Any]) -> Check:
    """Each answer is right when its last number is the sum (so "12 + 26 = 38" counts, "12 + 26 = 40" not)."""
    answers, expected = facts.get("answers"), facts.get("expected")
    if answers is None or expected is None or len(answers) != len(expected):
        raise ValueError("facts: the concurrency task needs 'answers' and 'expected' of the same length")
    right = [bool(samples.numbers_in(a or "")) and abs(samples.numbers_in(a or "")[-1] - e) < 0.005 for a, e in zip(answers, expected)]
    seconds, wall = facts.get("call_seconds"), facts.get("wall")
    extra = ""
    if seconds and wall:
        extra = (f"; the calls took {sum(seconds):.1f} s added up, the batch {wall:.1f} s "
                 f"({sum(seconds) / wall:.1f} calls in flight on average)")
    return Check(all(right), sum(right) / len(right), f"{sum(right)}/{len(right)} sums right{extra}")


def _check_fallback(answer: str, facts: Mapping[str, Any]) -> Check:
    by = facts.get("answered_by")
    failures = facts.get("failures") or []
    if by is None:
        return Check(False, 0.0, "no model answered: " + "; ".join(failures))
    fails = f"{'; '.join(failures)}; " if failures else "the primary answered at once; "
    return Check(bool(answer.strip()), 1.0 if answer.strip() else 0.0, f"{fails}answered by {by}")


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
        sample_names: names of the :mod:`workbench.samples` media sent with the prompt.
        system: the system prompt, when the task has one.
        history: earlier user turns (multi-turn: sent, answered, then :attr:`prompt` follows).
        shapes: per provider, the request shape the chapter uses (shown in the closing table).
        checker: ``(answer, facts) -> Check``; ``facts`` carries what the answer text cannot show.
    """

    key: str
    title: str
    prompt: str
    checker: Callable[[str, Mapping[str, Any]], Check] = field(repr=False)
    sample_names: tuple[str, ...] = ()
    system: str | None = None
    history: tuple[str, ...] = ()
    shapes: Mapping[str, str] = field(default_factory=dict)

    def media(self) -> list[samples.Sample]:
        """The task's sample media (bytes + truth), in order."""
        return [_sample(n) for n in self.sample_names]

    def check(self, answer: str, **facts: Any) -> Check:
        """Check ``answer`` (text) against the truth; ``facts`` are task-specific (see the checkers)."""
        if not isinstance(answer, str):
            raise TypeError(f"answer: expected the answer text (str), got {type(answer).__name__}")
        return self.checker(answer, facts)

    def shape(self, provider: str) -> str:
        """The request shape used for ``provider`` (empty if none is recorded)."""
        return self.shapes.get(provider, "")


_SPEECH_FACTS = ("invoice", "finance", "friday")

_TASK_LIST: tuple[Task, ...] = (
    Task("first_call", "A first call", "What is the capital of France? Answer in one word.",
         _check_words(["paris"], "expected words"),
         shapes={"openai": "responses.create (and chat.completions.create)", "anthropic": "messages.create",
                 "google": "models.generate_content"}),
    Task("multi_turn", "System prompt and multi-turn", "What is my name, and what do I look after?",
         _check_words(["ada", ("invoices", "invoice")], "remembered facts"),
         system="You are a concise assistant for an accounts team. Answer in one short sentence.",
         history=("Hi, my name is Ada and I look after supplier invoices.",),
         shapes={"openai": "instructions + input list (Responses)", "anthropic": "system + messages list",
                 "google": "chats.create + send_message (system_instruction)"}),
    Task("streaming", "Streaming (time to first token)", "Count from 1 to 5, separated by commas.",
         _check_in_order(["1", "2", "3", "4", "5"]),
         shapes={"openai": "responses.stream (text deltas)", "anthropic": "messages.stream (text_stream)",
                 "google": "models.generate_content_stream"}),
    Task("image", "One image", "What is the total amount due on this invoice? Answer with the amount only.",
         _check_invoice_total, sample_names=("invoice",),
         shapes={"openai": "input_image part, base64 data URL", "anthropic": "image block, base64 source",
                 "google": "Part.from_bytes (inline bytes)"}),
    Task("image_url", "One image by URL", IMAGE_URL_PROMPT, _check_words([IMAGE_URL_TRUTH], "expected words"),
         shapes={"openai": "input_image part with an https URL", "anthropic": "image block, url source",
                 "google": "bytes fetched with httpx, then Part.from_bytes"}),
    Task("images", "Several images",
         "The first chart shows 2024, the second 2025. What was the Q4 revenue in each year?",
         _check_q4, sample_names=("chart_2024", "chart_2025"),
         shapes={"openai": "two input_image parts", "anthropic": "two image blocks",
                 "google": "two Part.from_bytes"}),
    Task("audio", "Audio", "What does the speaker ask for, and by when? Answer in one sentence.",
         _check_words(list(_SPEECH_FACTS), "key facts"), sample_names=("speech",),
         shapes={"openai": "input_audio part (chat.completions, audio model)",
                 "anthropic": "transcript pipeline: Whisper speech-to-text, then text",
                 "google": "Part.from_bytes audio/wav (native)"}),
    Task("video", "Video", "This video shows one word per second. List the words in the order they appear.",
         _check_in_order(lambda: _truth("clip")["expected"]),
         sample_names=("clip",),
         shapes={"openai": "frames sampled every 1 s, sent as images", "anthropic": "frames sampled every 1 s, sent as images",
                 "google": "Part.from_bytes video/mp4 (native); Files upload-and-poll live"}),
    Task("tools", "Tools (function calling)",
         "An invoice has a subtotal of 127.13 USD and 20% VAT. Use the compute_vat tool to get the VAT "
         "and the total, then state the total.",
         _check_tools,
         shapes={"openai": "function tool; function_call_output sent back", "anthropic": "tool; tool_result sent back",
                 "google": "FunctionDeclaration; Part.from_function_response sent back"}),
    Task("structured", "Structured output (pydantic)",
         "Extract the invoice number, the total amount due and the currency from this invoice.",
         _check_structured, sample_names=("invoice",),
         shapes={"openai": "responses.parse(text_format=InvoiceFacts)",
                 "anthropic": "messages.parse(output_format=InvoiceFacts)",
                 "google": "response_schema=InvoiceFacts, response.parsed"}),
    Task("count_tokens", "Token counting before sending",
         "Summarise in one sentence: the invoice INV-2024-0042 from ACME Office Supplies Ltd. lists printer "
         "paper, ink cartridges, a stapler and a desk lamp, and is due within 30 days.",
         _check_count,
         shapes={"openai": "tiktoken offline; responses.input_tokens.count live", "anthropic": "messages.count_tokens",
                 "google": "models.count_tokens"}),
    Task("concurrency", "Concurrency (async client)", "What is {a} + {b}? Answer with the number only.",
         _check_batch,
         shapes={"openai": "AsyncOpenAI + asyncio.gather", "anthropic": "AsyncAnthropic + asyncio.gather",
                 "google": "client.aio + asyncio.gather"}),
    Task("errors", "Errors, retries and fallback", "Reply with the single word OK.", _check_fallback,
         shapes={"openai": "max_retries, RateLimitError, fallback model", "anthropic": "max_retries, RateLimitError, fallback model",
                 "google": "HttpRetryOptions, errors.APIError, fallback model"}),
)

#: The tour, in chapter order, by key.
TASKS: dict[str, Task] = {t.key: t for t in _TASK_LIST}


def task(key: str) -> Task:
    """The task called ``key`` (one of :data:`TASKS`); an unknown key raises ``UnknownNameError``."""
    catalog.check_names([key], TASKS, param="key", kind="tour task")
    return TASKS[key]


# ------------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------------
def check_params(provider: str, *, backend: str, model: str, fallback_model: str, concurrency: int,
                 max_tokens: int, seed: int, audio_model: str | None = None) -> dict[str, Any]:
    """Validate a chapter's parameters; return them normalised (plus the provider's SDK name).

    Raises ``UnknownNameError`` (a ValueError naming the parameter, the bad value and the choices)
    for an unknown backend or a model id of another provider, and ``ValueError`` naming the parameter
    for a bad number, a fallback equal to the model, or an ``audio_model`` without audio input.
    """
    catalog.check_providers([provider], param="provider")
    if provider not in PROVIDERS:
        raise ValueError(f"provider: {provider!r} has no SDK chapter; choose one of {', '.join(PROVIDERS)}")
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
    for name, value, low in (("concurrency", concurrency, 1), ("max_tokens", max_tokens, 16), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected a whole number >= {low}, got {value!r}")
    if concurrency > 16:
        raise ValueError(f"concurrency: {concurrency} is more than 16 parallel calls; keep it small")
    return {"provider": provider, "sdk": _SDK_NAME[provider], "backend": backend, "model": model,
            "fallback_model": fallback_model, "audio_model": audio_model, "concurrency": concurrency,
            "max_tokens": max_tokens, "seed": seed}


def token_limit(backend: str, max_tokens: int) -> int:
    """The answer cap to send: ``max_tokens`` offline, at least :data:`LIVE_MIN_TOKENS` live."""
    clients.check_backend(backend)
    return max_tokens if backend == "local" else max(max_tokens, LIVE_MIN_TOKENS)


# ------------------------------------------------------------------------------------------------
# Helpers the SDK code calls
# ------------------------------------------------------------------------------------------------
def b64(sample: samples.Sample) -> str:
    """The sample's bytes as base64 text (what the JSON APIs carry; never raw bytes)."""
    if not isinstance(sample, samples.Sample):
        raise TypeError(f"sample: expected a workbench.samples.Sample, got {type(sample).__name__}")
    return base64.b64encode(sample.data).decode("ascii")


@dataclass(frozen=True)
class Frame:
    """One frame sampled from a video: its time in seconds and the picture as PNG bytes."""

    t: float
    png: bytes = field(repr=False)
    mime: str = "image/png"

    def b64(self) -> str:
        """The PNG as base64 text."""
        return base64.b64encode(self.png).decode("ascii")


def video_frames(sample: samples.Sample, every_s: float = 1.0, max_frames: int = 10) -> list[Frame]:
    """Sample frames from a video every ``every_s`` seconds (mid-interval), at most ``max_frames``.

    This is the frame-sampling pipeline for models without native video input (the sources suggest a
    frame every N seconds, at most ten). Frames are decoded by the ffmpeg bundled in ``imageio-ffmpeg``.
    """
    import imageio_ffmpeg
    import numpy as np
    from PIL import Image

    if not isinstance(sample, samples.Sample) or not sample.mime.startswith("video/"):
        raise ValueError(f"sample: expected a video Sample, got {getattr(sample, 'mime', type(sample).__name__)!r}")
    if not (isinstance(every_s, (int, float)) and every_s > 0):
        raise ValueError(f"every_s: expected a positive number of seconds, got {every_s!r}")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames: expected a whole number >= 1, got {max_frames!r}")
    gen = imageio_ffmpeg.read_frames(str(sample.path))
    try:
        meta = next(gen)
        w, h = meta["size"]
        fps = float(meta["fps"])
        raw = [np.frombuffer(f, dtype=np.uint8).reshape(h, w, 3) for f in gen]
    finally:
        gen.close()
    duration = len(raw) / fps
    frames: list[Frame] = []
    t = every_s / 2
    while t < duration and len(frames) < max_frames:
        buf = io.BytesIO()
        Image.fromarray(raw[min(len(raw) - 1, int(t * fps))]).save(buf, format="PNG")
        frames.append(Frame(round(t, 3), buf.getvalue()))
        t += every_s
    return frames


def transcribe(sample: samples.Sample) -> str:
    """Speech to text with Whisper tiny.en, run locally (the first step of a transcript pipeline).

    The same local step serves both backends: a model without audio input (Claude) then reads the text.
    """
    from .local import media

    if not isinstance(sample, samples.Sample) or not sample.mime.startswith("audio/"):
        raise ValueError(f"sample: expected an audio Sample, got {getattr(sample, 'mime', type(sample).__name__)!r}")
    text = media.audio_to_text(sample.data, sample.mime)
    m = re.search(r"Transcript \([^)]*\): (.*)", text, re.DOTALL)
    if m is None:
        raise RuntimeError(f"transcribe: unexpected output of workbench.local.media.audio_to_text: {text[:120]!r}")
    return m.group(1).strip()


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
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
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


def arithmetic_items(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """``n`` two-number sums for the concurrency task: (question, right answer), drawn from ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a whole number >= 1, got {n!r}")
    rng = random.Random(seed)
    template = TASKS["concurrency"].prompt
    out = []
    for _ in range(n):
        a, b = rng.randint(10, 49), rng.randint(10, 49)
        out.append((template.format(a=a, b=b), a + b))
    return out


T = TypeVar("T")


async def timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    """Await ``awaitable`` and return ``(result, seconds it took)``."""
    start = time.perf_counter()
    result = await awaitable
    return result, time.perf_counter() - start


def tokens_of(usage: Any) -> tuple[int | None, int | None]:
    """``(input, output)`` tokens from any of the three SDKs' usage objects (or a dict, or None).

    OpenAI chat: ``prompt_tokens``/``completion_tokens``; OpenAI Responses and Anthropic:
    ``input_tokens``/``output_tokens``; Gemini: ``prompt_token_count``/``candidates_token_count`` plus
    ``thoughts_token_count`` (billed as output).
    """
    if usage is None:
        return None, None

    def get(name: str) -> Any:
        return usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)

    for inp, out in (("input_tokens", "output_tokens"), ("prompt_tokens", "completion_tokens")):
        if get(inp) is not None or get(out) is not None:
            return get(inp), get(out)
    if get("prompt_token_count") is not None or get("candidates_token_count") is not None:
        out_n = (get("candidates_token_count") or 0) + (get("thoughts_token_count") or 0)
        return get("prompt_token_count"), out_n
    raise TypeError(f"usage: no token counts found in a {type(usage).__name__}")


# ------------------------------------------------------------------------------------------------
# Local fault injection (the offline provider only)
# ------------------------------------------------------------------------------------------------
def _faults_url() -> str:
    return clients.local_base_url() + "/_workbench/faults"


def local_fault_state() -> dict[str, Any]:
    """The local provider's fault settings and counts (requests seen, faults injected)."""
    import httpx

    return httpx.get(_faults_url(), timeout=10.0).json()


def inject_rate_limits(failures: int, *, retry_after: float = 0.5, rate: float = 0.5) -> dict[str, Any]:
    """Make the local provider answer the next ``failures`` generation requests with 429, then none.

    The provider's fault injector draws one number per request from a seeded sequence; this picks the
    first seed whose sequence (checked with the injector's own class) gives exactly ``failures`` rate
    limits followed by a success, and sets it. It works for requests made one after another; a
    parallel client of the same provider would take draws too. Returns the settings applied.
    """
    import httpx

    from .local.faults import FaultConfig, FaultInjector

    if isinstance(failures, bool) or not isinstance(failures, int) or not 1 <= failures <= 10:
        raise ValueError(f"failures: expected a whole number from 1 to 10, got {failures!r}")
    if not 0 < rate < 1:
        raise ValueError(f"rate: expected a share strictly between 0 and 1, got {rate!r}")
    for seed in range(100_000):
        inj = FaultInjector(FaultConfig(rate_429=rate, seed=seed))
        if [inj.draw() for _ in range(failures + 1)] == ["429"] * failures + [None]:
            break
    else:  # pragma: no cover - with rate 0.5 a seed turns up within a few thousand
        raise RuntimeError(f"failures: no seed gives {failures} rate limits in a row at rate {rate}")
    settings = {"rate_429": rate, "rate_500": 0.0, "rate_timeout": 0.0, "rate_cut": 0.0,
                "retry_after": retry_after, "seed": seed}
    resp = httpx.patch(_faults_url(), json=settings, timeout=10.0)
    if resp.status_code != 200:
        raise RuntimeError(f"inject_rate_limits: the local provider refused the settings: {resp.text[:300]}")
    return resp.json()


def clear_local_faults() -> dict[str, Any]:
    """Turn every local fault off; return the counts seen before (``counts``: requests and 429s)."""
    import httpx

    before = local_fault_state()
    httpx.delete(_faults_url(), timeout=10.0).raise_for_status()
    return before


# ------------------------------------------------------------------------------------------------
# Recording calls
# ------------------------------------------------------------------------------------------------
@dataclass
class Record:
    """One recorded step: a task (and variant) with its outcome, timing and token usage."""

    task: str
    title: str
    variant: str
    shape: str
    ran: str
    model: str | None = None
    answer: str = ""
    seconds: float | None = None
    ttft: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    check: Check | None = None
    error: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


class Call:
    """Timing and usage of one step; made by :meth:`Recorder.task`.

    Call :meth:`first_token` when the first streamed text arrives, :meth:`usage` for each response's
    usage, and :meth:`done` with the answer text (and task facts) when the step is finished.
    """

    def __init__(self, recorder: Recorder, record: Record) -> None:
        self._recorder = recorder
        self.record = record
        self.start = time.perf_counter()
        self._in: int | None = None
        self._out: int | None = None
        self.finished = False

    def first_token(self) -> None:
        """Mark the time to first token (only the first call counts)."""
        if self.record.ttft is None:
            self.record.ttft = time.perf_counter() - self.start

    def usage(self, usage: Any) -> None:
        """Add one response's token usage (any SDK's usage object; see :func:`tokens_of`)."""
        i, o = tokens_of(usage)
        if i is not None:
            self._in = (self._in or 0) + int(i)
        if o is not None:
            self._out = (self._out or 0) + int(o)

    def done(self, answer: str, usage: Any = None, *, model: str | None = None, **facts: Any) -> Check:
        """Finish the step: stop the clock, add ``usage``, check ``answer`` and show the result."""
        if self.finished:
            raise RuntimeError(f"done: the step {self.record.task!r} is already finished")
        elapsed = time.perf_counter() - self.start
        if usage is not None:
            self.usage(usage)
        rec = self.record
        rec.seconds = elapsed
        rec.answer = answer if isinstance(answer, str) else str(answer)
        rec.input_tokens, rec.output_tokens = self._in, self._out
        if model is not None:
            rec.model = model
        rec.facts = dict(facts)
        rec.check = TASKS[rec.task].check(rec.answer, **facts)
        self.finished = True
        self._recorder._show(rec)
        return rec.check


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """Exception classes meaning "the API call failed" in the three SDKs (and httpx)."""
    import anthropic
    import httpx
    import openai
    from google.genai import errors as genai_errors

    return (openai.APIError, anthropic.APIError, genai_errors.APIError, httpx.HTTPError)


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


class Recorder:
    """Collects each step of a chapter's tour: outcome, latency, time to first token and token usage.

    Args:
        provider: ``openai``, ``anthropic`` or ``google``.
        backend: ``local`` or ``live``.
        model: the chapter's model id (the default "answered by" of every step).
        show: display a one-line Markdown result after each step (in a notebook).

    A live run keeps going when an API call fails (the error is recorded and shown); offline, every
    failure is raised, since the local provider is expected to serve every offline step.
    """

    def __init__(self, provider: str, backend: str, model: str, *, show: bool = True) -> None:
        catalog.check_providers([provider], param="provider")
        if provider not in PROVIDERS:
            raise ValueError(f"provider: {provider!r} has no SDK chapter; choose one of {', '.join(PROVIDERS)}")
        self.provider = provider
        self.backend = clients.check_backend(backend)
        self.model = model
        self.show = show
        self.records: list[Record] = []

    @property
    def ran_label(self) -> str:
        """How a step that ran is labelled: ``offline`` or ``live``."""
        return "offline" if self.backend == "local" else "live"

    def _new(self, key: str, variant: str, ran: str) -> Record:
        t = task(key)
        return Record(task=key, title=t.title, variant=variant, shape=t.shape(self.provider), ran=ran,
                      model=self.model)

    @contextmanager
    def task(self, key: str, variant: str = "") -> Iterator[Call]:
        """Time one step of task ``key``; yields a :class:`Call` whose :meth:`Call.done` records it.

        If the block raises an SDK error on a live run, the error is recorded and the chapter goes on.
        """
        rec = self._new(key, variant, self.ran_label)
        call = Call(self, rec)
        self.records.append(rec)
        try:
            yield call
        except _sdk_errors() as exc:
            rec.seconds = time.perf_counter() - call.start
            rec.error = f"{type(exc).__name__}: {_clip(str(exc), 200)}"
            self._show(rec)
            if self.backend == "local":
                raise
            return
        if not call.finished:
            self.records.remove(rec)
            raise RuntimeError(f"task {key!r}: the step ended without call.done(answer, ...)")

    def live_only(self, key: str, variant: str, instead: str) -> Record:
        """Record a step that only a live run makes, saying what ran offline ``instead``; show it."""
        rec = self._new(key, variant, "live only")
        rec.facts = {"instead": instead}
        self.records.append(rec)
        self._show(rec)
        return rec

    # -- display ----------------------------------------------------------------------------------
    def card(self, rec: Record) -> str:
        """The one-line Markdown summary of a record."""
        name = f"**{rec.title}**" + (f" · {rec.variant}" if rec.variant else "")
        if rec.ran == "live only":
            return f"{name} — *live only, not run offline.* Offline instead: {rec.facts.get('instead', '')}"
        if rec.error:
            return f"{name} — **failed** after {rec.seconds:.1f} s: `{rec.error}`"
        tok = ""
        if rec.input_tokens is not None or rec.output_tokens is not None:
            tok = f" · {rec.input_tokens if rec.input_tokens is not None else '?'} → " \
                  f"{rec.output_tokens if rec.output_tokens is not None else '?'} tokens"
        ttft = f" · first token {rec.ttft:.2f} s" if rec.ttft is not None else ""
        check = rec.check
        verdict = f"{check.mark} {check.detail}" if check else ""
        answer = _clip(rec.answer, 300).replace("|", "\\|")
        return (f"{name} · `{rec.model}` answered: “{answer}”  \n"
                f"check: {verdict} · {rec.seconds:.2f} s{ttft}{tok}")

    def _show(self, rec: Record) -> None:
        if not self.show:
            return
        md = self.card(rec)
        try:
            from IPython.display import Markdown, display

            display(Markdown(md))
        except ImportError:  # pragma: no cover - IPython ships with the notebook stack
            print(md)

    # -- results ------------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """The closing table: one row per step, with how it ran, its check, latency and token usage."""
        rows = []
        for r in self.records:
            check = r.check
            rows.append({
                "task": r.title + (f" · {r.variant}" if r.variant else ""),
                "request shape": r.shape,
                "ran": r.ran,
                "check": "error" if r.error else (check.mark if check else "not run"),
                "score": None if check is None or check.score is None else round(check.score, 2),
                "latency s": None if r.seconds is None else round(r.seconds, 2),
                "first token s": None if r.ttft is None else round(r.ttft, 2),
                "input tokens": r.input_tokens,
                "output tokens": r.output_tokens,
                "note": r.error or (check.detail if check else r.facts.get("instead", "")),
            })
        df = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="step"))
        for col in ("input tokens", "output tokens"):
            df[col] = df[col].astype("Int64")
        return df

    def summary(self) -> dict[str, Any]:
        """Numbers for the closing prose: counts of steps run / passed / failed / live only, latencies, tokens."""
        ran = [r for r in self.records if r.ran != "live only"]
        checked = [r for r in ran if r.check is not None and r.check.ok is not None]
        passed = [r for r in checked if r.check and r.check.ok]
        lat = [r.seconds for r in ran if r.seconds is not None and not r.error]
        ttft = [r.ttft for r in ran if r.ttft is not None]

        def label(r: Record) -> str:
            return r.title + (f" · {r.variant}" if r.variant else "")

        return {
            "steps": len(self.records), "ran": len(ran), "checked": len(checked), "passed": len(passed),
            "passed_titles": [label(r) for r in passed],
            "failed_titles": [label(r) for r in checked if not (r.check and r.check.ok)],
            "unchecked_titles": [label(r) for r in ran if r.check is not None and r.check.ok is None],
            "errors": [f"{label(r)}: {r.error}" for r in ran if r.error],
            "live_only": [label(r) for r in self.records if r.ran == "live only"],
            "median_s": statistics.median(lat) if lat else None,
            "max_s": max(lat) if lat else None,
            "slowest": label(max((r for r in ran if r.seconds is not None and not r.error), key=lambda r: r.seconds))
            if lat else None,
            "ttft_s": ttft[0] if ttft else None,
            "input_tokens": sum(r.input_tokens or 0 for r in ran),
            "output_tokens": sum(r.output_tokens or 0 for r in ran),
            "total_s": sum(lat),
        }

    def findings(self) -> str:
        """The shared part of a chapter's "What we found", formatted from the recorded values."""
        s = self.summary()
        where = "the local stand-in" if self.backend == "local" else "the live API"
        lines = [
            f"- **{s['ran']} of {s['steps']} steps ran** against {where} with the official {_SDK_NAME[self.provider]} "
            f"SDK; {len(s['live_only'])} {'is' if len(s['live_only']) == 1 else 'are'} live only"
            + (f" ({', '.join(s['live_only'])})." if s["live_only"] else "."),
            f"- **{s['passed']} of {s['checked']} checked answers were right** against the samples' known truth"
            + (f": {', '.join(s['passed_titles'])}." if s["passed_titles"] else ".")
            + (f" Wrong or incomplete: {', '.join(s['failed_titles'])}." if s["failed_titles"] else ""),
        ]
        if s["unchecked_titles"]:
            lines.append(f"- Not checkable here: {', '.join(s['unchecked_titles'])}.")
        if s["errors"]:
            lines.append(f"- API errors: {'; '.join(s['errors'])}.")
        if s["median_s"] is not None:
            lines.append(f"- Median latency {s['median_s']:.1f} s per step (slowest: {s['slowest']}, {s['max_s']:.1f} s); "
                         f"{s['input_tokens']:,} input and {s['output_tokens']:,} output tokens in all"
                         + (f"; the first streamed token came after {s['ttft_s']:.2f} s." if s["ttft_s"] is not None else "."))
        return "\n".join(lines)

    def plot(self) -> Any:
        """A horizontal bar chart of latency per step (time to first token marked); returns the figure."""
        import matplotlib.pyplot as plt

        from . import plots

        ran = [r for r in self.records if r.ran != "live only" and r.seconds is not None]
        if not ran:
            raise ValueError("plot: no step has run yet")
        labels = [f"{r.title}{' · ' + r.variant if r.variant else ''}  {('error' if r.error else r.check.mark if r.check else '')}"
                  for r in ran]
        fig, ax = plt.subplots(figsize=(9, 0.42 * len(ran) + 1.6))
        y = list(range(len(ran)))[::-1]
        colour = plots.provider_color(self.provider)
        ax.barh(y, [r.seconds for r in ran], color=[colour if not r.error else "#bbbbbb" for r in ran],
                alpha=0.9, label="latency (whole step)")
        tt = [(yy, r.ttft) for yy, r in zip(y, ran) if r.ttft is not None]
        if tt:
            ax.scatter([t for _, t in tt], [yy for yy, _ in tt], marker="|", s=300, color="black", zorder=3,
                       label="first token")
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        ax.set_xlabel("seconds (✓ right, ✗ wrong, – not checkable)")
        where = (f"offline: {clients.local_model_name().split(' (')[0]} answers for {self.model}"
                 if self.backend == "local" else f"live API, {self.model}")
        ax.set_title(f"{_SDK_NAME[self.provider]} SDK tour: latency per step\n{where}")
        ax.legend(loc="lower right", fontsize=9)
        fig.tight_layout()
        return fig
