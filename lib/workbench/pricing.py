"""The cost of one request from its usage, with every tier: cache reads and writes, batch, long context, audio,
video and image input, images generated and audio transcribed.

A :class:`Usage` holds a request's counts in disjoint buckets named like the SDKs' usage objects (Anthropic's
``input_tokens``, ``cache_read_input_tokens``, ``cache_creation_input_tokens``; OpenAI's audio and image token
details; Gemini's per-modality counts): :meth:`Usage.from_openai`, :meth:`Usage.from_anthropic` and
:meth:`Usage.from_gemini` read them off a response. :func:`request_bill` prices it at the model's rates on a date
(:func:`workbench.dated_prices.price_on`, every tier its latest observation) and returns a :class:`Bill`, one line
per component with its rate and the rule that chose it:

- **long context**: when the prompt (input, image, video and audio tokens plus cache reads and writes) is above the
  model's ``long_context_above``, every token of the request pays the long-context rates (OpenAI above 272K, Google
  above 200K, Claude Haiku 5.5 above 100K); a long rate a page does not state is the short rate times the stated
  long/short input ratio (output: the output ratio), and the bill says so;
- **cache**: reads pay the cached-input rate; writes pay the write rate of their retention (5 minutes / 1 hour at
  Anthropic, 30 minutes / 12 hours at OpenAI); a model with no write price recorded (implicit caching) pays the
  input rate for written tokens;
- **media**: image tokens pay the input rate (all three providers bill them as input tokens), video tokens the
  video rate where a page states one, else the input rate; audio needs its own stated rate (Google and OpenAI
  charge more for it), otherwise :class:`~workbench.dated_prices.NoPriceError`;
- **batch**: every token line is multiplied by the model's ``batch_multiplier`` (0.5 at all three providers), or
  :class:`~workbench.dated_prices.NoPriceError` when no page states one; images and minutes are not discounted;
- **units**: images generated and minutes transcribed at ``data/unit_prices.csv`` (:func:`unit_price`).

Also here: :func:`cache_breakeven` (how many requests must share a cached prefix before caching pays),
:func:`price_tiers` (today's prices with every tier, one row per model) and :func:`then_and_now` (a workload priced
on each article's date with the article's own prices, and today).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import pandas as pd

from . import catalog, params
from .dated_prices import (
    NoPriceError,
    OnConflict,
    PriceRow,
    as_date,
    price_on,
    quoted_models,
)

__all__ = ["Bill", "CacheBreakeven", "LineItem", "UnitPrice", "Usage", "cache_breakeven", "price_tiers",
           "request_bill", "request_cost", "then_and_now", "unit_price"]


# --------------------------------------------------------------------------------------------
# Usage
# --------------------------------------------------------------------------------------------
def _get(obj: Any, name: str) -> Any:
    """An attribute of an SDK object or a key of a dict (None when absent)."""
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _n(obj: Any, name: str) -> int:
    return int(_get(obj, name) or 0)


@dataclass(frozen=True)
class Usage:
    """One request's counts, in disjoint buckets (a token is in exactly one of them)."""

    input_tokens: int = 0                      #: text (and document) input not read from or written to a cache
    output_tokens: int = 0                     #: text output, reasoning tokens included
    cache_read_input_tokens: int = 0           #: input read from a cache
    cache_creation_input_tokens: int = 0       #: input written to a cache, short retention (5 min / 30 min)
    cache_creation_long_input_tokens: int = 0  #: input written to a cache, long retention (1 h / 12 h)
    image_input_tokens: int = 0
    video_input_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    images_generated: int = 0
    transcribed_minutes: float = 0.0           #: audio sent to a per-minute transcription model

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "transcribed_minutes":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0 and math.isfinite(value)):
                    raise params.ParameterError(f.name, "a non-negative number of minutes", value)
            else:
                params.count(value, f.name, minimum=0)

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the request, cached or not: what a long-context threshold is compared with."""
        return (self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens
                + self.cache_creation_long_input_tokens + self.image_input_tokens + self.video_input_tokens
                + self.audio_input_tokens)

    @classmethod
    def from_openai(cls, usage: Any) -> Usage:
        """From an OpenAI ``CompletionUsage`` (Chat Completions) or ``ResponseUsage`` (Responses), or their dicts.

        The prompt total includes cached tokens, cache writes, audio and image tokens; each is moved to its bucket.
        """
        details = _get(usage, "prompt_tokens_details") or _get(usage, "input_tokens_details")
        out_details = _get(usage, "completion_tokens_details") or _get(usage, "output_tokens_details")
        prompt = _n(usage, "prompt_tokens") or _n(usage, "input_tokens")
        completion = _n(usage, "completion_tokens") or _n(usage, "output_tokens")
        cached, written = _n(details, "cached_tokens"), _n(details, "cache_write_tokens")
        long_written = _n(_get(details, "cache_write_tokens_details"), "ttl_12h_tokens")
        audio_in, image_in = _n(details, "audio_tokens"), _n(details, "image_tokens")
        audio_out = _n(out_details, "audio_tokens")
        return cls(input_tokens=max(prompt - cached - written - audio_in - image_in, 0),
                   output_tokens=max(completion - audio_out, 0), cache_read_input_tokens=cached,
                   cache_creation_input_tokens=written - long_written, cache_creation_long_input_tokens=long_written,
                   image_input_tokens=image_in, audio_input_tokens=audio_in, audio_output_tokens=audio_out)

    @classmethod
    def from_anthropic(cls, usage: Any) -> Usage:
        """From an Anthropic ``Usage`` (or its dict): input, cache reads, cache writes split by retention."""
        split = _get(usage, "cache_creation")
        long_written = _n(split, "ephemeral_1h_input_tokens")
        written = _n(usage, "cache_creation_input_tokens") or (_n(split, "ephemeral_5m_input_tokens") + long_written)
        return cls(input_tokens=_n(usage, "input_tokens"), output_tokens=_n(usage, "output_tokens"),
                   cache_read_input_tokens=_n(usage, "cache_read_input_tokens"),
                   cache_creation_input_tokens=written - long_written, cache_creation_long_input_tokens=long_written)

    @classmethod
    def from_gemini(cls, usage: Any) -> Usage:
        """From a google-genai ``GenerateContentResponseUsageMetadata`` (or its dict).

        The prompt count includes the cached tokens; per-modality details (TEXT, IMAGE, VIDEO, AUDIO, DOCUMENT)
        split the rest; thinking tokens bill as output. Images in the answer are billed as output tokens by
        Google, so ``images_generated`` stays 0 (price them with :func:`unit_price` when you count them).
        """
        def by_modality(name: str) -> dict[str, int]:
            out: dict[str, int] = {}
            for item in _get(usage, name) or []:
                modality = str(getattr(_get(item, "modality"), "value", _get(item, "modality")) or "TEXT").upper()
                out[modality] = out.get(modality, 0) + _n(item, "token_count")
            return out

        prompt, cached = by_modality("prompt_tokens_details"), by_modality("cache_tokens_details")
        fresh = {m: max(prompt.get(m, 0) - cached.get(m, 0), 0) for m in ("IMAGE", "VIDEO", "AUDIO")}
        total_cached = _n(usage, "cached_content_token_count")
        media = sum(fresh.values())
        answer = by_modality("candidates_tokens_details")
        audio_out = answer.get("AUDIO", 0)
        return cls(input_tokens=max(_n(usage, "prompt_token_count") - total_cached - media, 0),
                   output_tokens=max(_n(usage, "candidates_token_count") - audio_out, 0)
                   + _n(usage, "thoughts_token_count"),
                   cache_read_input_tokens=total_cached, image_input_tokens=fresh["IMAGE"],
                   video_input_tokens=fresh["VIDEO"], audio_input_tokens=fresh["AUDIO"], audio_output_tokens=audio_out)


# --------------------------------------------------------------------------------------------
# Unit prices
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitPrice:
    """A price per image, minute or second, from ``data/unit_prices.csv``."""

    model_id: str
    unit: str
    variant: str
    usd: float
    observed: date
    source_id: str
    third_party: bool
    rule: str          #: how the variant was chosen


def unit_price(model_id: str, unit: str = "image", variant: str | None = None,
               on: date | str | None = None) -> UnitPrice:
    """The latest price per ``unit`` (image, minute, second) of ``model_id`` on or before ``on``.

    ``variant`` (a size or quality as the page names it, e.g. "1024x1024 standard") picks one; None takes the
    cheapest variant of the latest date (the "from" price) and says so in ``rule``.
    """
    catalog.check_models([model_id], param="model_id")
    catalog.check_names([unit], ("image", "minute", "second"), param="unit", kind="unit")
    day = as_date(on)
    table = catalog.unit_prices()
    rows = table[(table["model_id"] == model_id) & (table["unit"] == unit) & (table["observed"].dt.date <= day)]
    if variant is not None:
        catalog.check_names([variant], rows["variant"].unique(), param="variant", kind=f"{model_id} {unit} variant")
        rows = rows[rows["variant"] == variant]
    if rows.empty:
        raise NoPriceError(f"model_id: no price per {unit} for {model_id!r} on or before {day.isoformat()} "
                           "in data/unit_prices.csv")
    last = rows[rows["observed"] == rows["observed"].max()].sort_values("usd")
    row = last.iloc[0]
    rule = (f"variant {variant!r}" if variant is not None else
            f"cheapest of {len(last)} variants" if len(last) > 1 else f"the only variant ({row['variant']})")
    return UnitPrice(model_id, unit, str(row["variant"]), float(row["usd"]), row["observed"].date(),
                     str(row["source_id"]), bool(row["third_party"]), rule)


# --------------------------------------------------------------------------------------------
# A bill
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineItem:
    """One component of a bill: how much, at what rate, for how many dollars, and why that rate."""

    component: str
    quantity: float
    unit: str          #: "tokens" (rate per 1M), "images" or "minutes" (rate per unit)
    rate: float
    usd: float
    basis: str


@dataclass(frozen=True)
class Bill:
    """A request's cost, line by line, at one model's rates on one date."""

    model_id: str
    on: date
    batch: bool
    long_context: bool
    prompt_tokens: int
    items: tuple[LineItem, ...]
    price: PriceRow | None        #: None when the usage counts no token (images or minutes only)

    @property
    def total(self) -> float:
        """USD for the whole request."""
        return sum(i.usd for i in self.items)

    def as_frame(self) -> pd.DataFrame:
        """One row per line item (no index to print) with a total row."""
        rows = [{"component": i.component, "quantity": int(i.quantity) if float(i.quantity).is_integer() else i.quantity,
                 "unit": i.unit, "rate": i.rate, "USD": i.usd, "basis": i.basis} for i in self.items]
        rows.append({"component": "total", "quantity": None, "unit": "", "rate": None, "USD": self.total,
                     "basis": f"{self.model_id}, prices of "
                              + (self.price.observed.isoformat() if self.price else self.on.isoformat())})
        return pd.DataFrame(rows)


def _short_or_long(price: PriceRow, short: str, long: str | None, ratio_of: str, is_long: bool) -> tuple[float | None, str]:
    """(rate per 1M tokens, basis) of one token component in the short or the long tier."""
    rate = getattr(price, short)
    if rate is None or not is_long:
        return (None if rate is None else float(rate)), "standard rate"
    stated = getattr(price, long) if long else None
    if stated is not None:
        return float(stated), f"long-context rate above {price.long_context_above:,} prompt tokens"
    base, scaled = ((price.input_per_mtok, price.long_input_per_mtok) if ratio_of == "input"
                    else (price.output_per_mtok, price.long_output_per_mtok or price.output_per_mtok))
    factor = float(scaled or base) / float(base)
    return float(rate) * factor, f"long-context: standard rate × {factor:g} (the stated {ratio_of} ratio)"


def _accepts(model_id: str, modality: str) -> None:
    table = catalog.models().set_index("model_id")
    value = table.at[model_id, f"input_{modality}"]
    if not pd.isna(value) and not bool(value):
        raise ValueError(f"usage: {model_id!r} takes no {modality} input (data/models.csv), but the usage counts "
                         f"{modality} tokens")


def request_bill(model_id: str, usage: Usage, on: date | str | None = None, batch: bool = False, *,
                 source: str | None = None, on_conflict: OnConflict = "lowest",
                 image_variant: str | None = None) -> Bill:
    """The bill of one request of ``usage`` to ``model_id`` at its prices on ``on`` (see the module docstring).

    Raises:
        NoPriceError: a component the usage needs has no price on that date (audio, batch, a unit price).
        ValueError: the usage counts audio or video for a model that takes none (``data/models.csv``).
    """
    if not isinstance(usage, Usage):
        raise TypeError(f"usage: expected a pricing.Usage, got {type(usage).__name__}")
    if not isinstance(batch, bool):
        raise TypeError(f"batch: expected True or False, got {batch!r}")
    catalog.check_models([model_id], param="model_id")
    if usage.prompt_tokens + usage.output_tokens + usage.audio_output_tokens == 0:  # images or minutes only
        return Bill(model_id, as_date(on), batch, False, 0, tuple(_unit_items(model_id, usage, as_date(on),
                                                                             image_variant)), None)
    price = price_on(model_id, on, source, on_conflict=on_conflict)
    day = price.on
    is_long = price.long_context_above is not None and usage.prompt_tokens > price.long_context_above
    ttls = (price.cache_ttls or "short;long").split(";")
    multiplier = 1.0
    if batch:
        if price.batch_multiplier is None:
            raise NoPriceError(f"batch: no batch price for {model_id!r} on or before {day.isoformat()} "
                               "(column batch_multiplier of data/prices.csv)")
        multiplier = price.batch_multiplier
    items: list[LineItem] = []

    def token_line(component: str, count: int, short: str, long: str | None, ratio_of: str = "input",
                   fallback: tuple[str, str] | None = None) -> None:
        if count == 0:
            return
        rate, basis = _short_or_long(price, short, long, ratio_of, is_long)
        if rate is None and fallback is not None:
            rate, basis = _short_or_long(price, fallback[0], fallback[1], ratio_of, is_long)
            basis = f"no {short} recorded: the {fallback[0]} ({basis})"
        if rate is None:
            raise NoPriceError(f"usage: {model_id!r} has no {short} on or before {day.isoformat()} in "
                               f"data/prices.csv, but the usage counts {count:,} {component} tokens")
        used = long if is_long and long and getattr(price, long) is not None else short
        source_note = price.tier_sources.get(used) or price.tier_sources.get(fallback[0] if fallback else short)
        if source_note:
            basis += f"; {_site(source_note[0])} {source_note[1].isoformat()}"
        if batch:
            basis += f"; batch × {multiplier:g}"
        items.append(LineItem(component, count, "tokens", rate * multiplier, count * rate * multiplier / 1e6, basis))

    if usage.audio_input_tokens:
        _accepts(model_id, "audio")
    if usage.video_input_tokens:
        _accepts(model_id, "video")
    token_line("input", usage.input_tokens, "input_per_mtok", "long_input_per_mtok")
    token_line("image input", usage.image_input_tokens, "input_per_mtok", "long_input_per_mtok")
    token_line("video input", usage.video_input_tokens, "video_input_per_mtok", None,
               fallback=("input_per_mtok", "long_input_per_mtok"))
    token_line("audio input", usage.audio_input_tokens, "audio_input_per_mtok", None)
    token_line("cache read", usage.cache_read_input_tokens, "cached_input_per_mtok", "long_cached_input_per_mtok")
    token_line(f"cache write ({ttls[0]})", usage.cache_creation_input_tokens, "cache_write_per_mtok",
               "long_cache_write_per_mtok", fallback=("input_per_mtok", "long_input_per_mtok"))
    token_line(f"cache write ({ttls[-1]})", usage.cache_creation_long_input_tokens, "cache_write_long_per_mtok",
               "long_cache_write_long_per_mtok", fallback=("input_per_mtok", "long_input_per_mtok"))
    token_line("output", usage.output_tokens, "output_per_mtok", "long_output_per_mtok", ratio_of="output")
    token_line("audio output", usage.audio_output_tokens, "audio_output_per_mtok", None, ratio_of="output")
    items += _unit_items(model_id, usage, day, image_variant)
    return Bill(model_id, day, batch, is_long, usage.prompt_tokens, tuple(items), price)


def _unit_items(model_id: str, usage: Usage, day: date, image_variant: str | None) -> list[LineItem]:
    """The lines priced per unit: images generated and minutes transcribed (never batch-discounted here)."""
    items = []
    for count, unit, label, variant in ((usage.images_generated, "image", "images generated", image_variant),
                                        (usage.transcribed_minutes, "minute", "audio transcribed", None)):
        if count:
            up = unit_price(model_id, unit, variant, day)
            items.append(LineItem(label, count, f"{unit}s", up.usd, count * up.usd,
                                  f"per {unit}, {up.variant} ({up.rule}); {_site(up.source_id)} {up.observed.isoformat()}"
                                  + (" (third party)" if up.third_party else "")))
    return items


def _site(source_id: str) -> str:
    return source_id.split("/")[2].removeprefix("www.") if source_id.startswith("http") else source_id


def request_cost(model_id: str, usage: Usage, on: date | str | None = None, batch: bool = False, **kw: Any) -> float:
    """USD of one request of ``usage`` (:func:`request_bill`'s total)."""
    return request_bill(model_id, usage, on, batch, **kw).total


# --------------------------------------------------------------------------------------------
# Prompt caching: when does it pay?
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CacheBreakeven:
    """Caching one shared prompt prefix: ``requests`` is the smallest number of requests sharing it (the first
    writes it, the others read it) for which caching costs less than sending it uncached every time."""

    model_id: str
    on: date
    retention: str
    input_rate: float
    write_rate: float
    read_rate: float
    requests: int | None          #: None: caching never pays (reads cost as much as fresh input)
    write_basis: str

    @property
    def reuses(self) -> int | None:
        """Reads needed after the write."""
        return None if self.requests is None else self.requests - 1

    def cost(self, requests: int, prefix_tokens: int) -> tuple[float, float]:
        """(USD with caching, USD without) for ``requests`` requests sharing ``prefix_tokens`` tokens."""
        n = params.count(requests, "requests")
        p = params.count(prefix_tokens, "prefix_tokens")
        return p * (self.write_rate + (n - 1) * self.read_rate) / 1e6, p * n * self.input_rate / 1e6


def cache_breakeven(model_id: str, on: date | str | None = None, *, long_retention: bool = False,
                    source: str | None = None) -> CacheBreakeven:
    """The break-even reuse count of prompt caching for ``model_id`` on ``on``: with input rate ``i``, write rate
    ``w`` and read rate ``r``, ``n`` requests cost ``w + (n - 1) r`` cached and ``n i`` uncached (per token of
    the prefix), so caching pays from the smallest whole ``n > (w - r) / (i - r)``. A model with no write price
    recorded pays the input rate for the write (implicit caching). Raises NoPriceError without a read price, or
    with ``long_retention`` when only the short retention's write is priced."""
    price = price_on(model_id, on, source)
    if price.cached_input_per_mtok is None:
        raise NoPriceError(f"model_id: no cached-input price for {model_id!r} on or before {price.on.isoformat()}")
    ttls = (price.cache_ttls or "short;long").split(";")
    write = price.cache_write_long_per_mtok if long_retention else price.cache_write_per_mtok
    basis = f"write for {ttls[-1] if long_retention else ttls[0]}"
    if write is None and long_retention and price.cache_write_per_mtok is not None:
        raise NoPriceError(f"long_retention: no write price for the long retention of {model_id!r} on or before "
                           f"{price.on.isoformat()} (only the short one)")
    if write is None:
        write, basis = price.input_per_mtok, "no write price recorded: the write pays the input rate"
    i, r = price.input_per_mtok, price.cached_input_per_mtok
    need = None if r >= i else math.floor((write - r) / (i - r)) + 1
    return CacheBreakeven(model_id, price.on, ttls[-1] if long_retention else ttls[0], i, float(write), r,
                          max(need, 1) if need is not None else None, basis)


# --------------------------------------------------------------------------------------------
# Tables: today's tiers, and a workload then and now
# --------------------------------------------------------------------------------------------
def price_tiers(models: Sequence[str], on: date | str | None = None) -> pd.DataFrame:
    """One row per model with every tier known on ``on``: the price row's numbers, the date of the input price,
    the pages (hosts) they come from and the tiers that rest on a third party's page only."""
    rows = []
    info = catalog.models().set_index("model_id")
    for m in catalog.check_models(list(models), param="models"):
        p = price_on(m, on)
        row: dict[str, object] = {"model_id": m, "name": info.at[m, "name"], "provider": info.at[m, "provider"],
                                  "observed": p.observed, "input_per_mtok": p.input_per_mtok,
                                  "output_per_mtok": p.output_per_mtok}
        row.update({t: p.tier(t) for t in ("cached_input_per_mtok", "cache_write_per_mtok",
                                             "cache_write_long_per_mtok", "cache_ttls", "batch_multiplier",
                                             "long_context_above", "long_input_per_mtok", "long_output_per_mtok",
                                             "audio_input_per_mtok", "audio_output_per_mtok", "video_input_per_mtok")})
        row["pages"] = ", ".join(dict.fromkeys(_site(s) for s, _ in p.tier_sources.values()))
        row["third_party_tiers"] = ", ".join(t.removesuffix("_per_mtok") for t in p.third_party)
        rows.append(row)
    return pd.DataFrame(rows)


def then_and_now(usage: Usage, *, documents: int = 1, sources: Sequence[str] | None = None,
                 today: date | str | None = None) -> pd.DataFrame:
    """A workload of ``documents`` requests of ``usage``, on each article's date at the article's own prices
    (``source=``), and ``today`` (default: the latest price date) for the same id, or for its replacement when the
    id is retired or unpriced then. Articles dated after ``today`` are left out.

    One row per (article, model it prices): source, then (date), model, USD then, today's model (and why it was
    chosen), its status, USD today and the ratio. Only the text tokens of ``usage`` are used, since the articles
    quote no other tier.
    """
    n = params.count(documents, "documents")
    sources = catalog.check_sources(list(sources) if sources is not None else list(catalog.sources()["source_id"]))
    day = as_date(today, param="today")
    plain = Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)  # one request; tiers judge each
    table = catalog.prices()
    priced_today = set(quoted_models(day))
    rows = []
    for src in sources:
        own = table[table["source_id"] == src]
        if own.empty:
            continue
        then = own["observed"].max().date()
        if then > day:
            continue                      # an article published after the date asked for
        for m in sorted(own["model_id"].unique()):
            state = catalog.retirement(str(m), day)
            if m in priced_today:
                now, why = str(m), "same id"
            else:
                now = next((c for c in state.current if c in priced_today), None)
                why = f"replacement ({state.status})" if now else f"{state.status}; no priced replacement"
            rows.append({
                "source": src, "then": then, "model_id": m, "usd_then": n * request_cost(str(m), plain, then, source=src),
                "today": day, "model_today": now, "why": why, "status_today": state.status,
                "usd_today": n * request_cost(now, plain, day) if now else None,
            })
    out = pd.DataFrame(rows)
    if not out.empty:
        out["ratio"] = out["usd_today"] / out["usd_then"]
    return out
