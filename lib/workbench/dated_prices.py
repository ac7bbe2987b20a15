"""A model's price on a date, every tier of it, from the dated observations in ``data/prices.csv``.

Each row of ``prices.csv`` is one page's quote for one model at one date: the input price always, and whichever
other tiers the page states (output, cached-input reads, cache writes for a short and a long retention, the
batch multiplier, a long-context tier above a prompt size, audio and video rates, a per-image input price).

The price of a model *on* a date is built from its observations on or before that date:

- input and output come from the latest date that quotes the input price (the output from the latest row that
  states one, if that date's rows do not). When several sources quote that date and disagree (S0 and S1 on GPT-4o
  in November 2024), no winner is picked silently: the :class:`PriceRow` has ``conflict=True``, lists every quote
  in ``quotes``, says which rule chose its numbers in ``rule``, and a :class:`PriceConflictWarning` is issued. The
  rule is ``on_conflict``: ``"lowest"`` (the default; after a price cut, stale quotes lag behind, so the lowest
  quote is the likelier list price), ``"highest"`` (a conservative budget) or ``"raise"``.
- every other tier is its own latest observation (a page that states only the batch discount updates only that);
  ``tier_sources`` says which page and date each tier comes from, ``third_party`` which tiers rest only on a
  third party's page (no provider page or article states the same value on or before the date).

Pass ``source=`` to use one source's quotes only (how each article's claims are checked against its own date).
The latest price date is the newest observation on or before today: a scheduled price (``$1.50 starting
January 1, 2027``) counts from its date. History: :func:`price_history`, :func:`price_disputes`,
:func:`largest_price_cut`, :func:`quoted_models` (the models priced, and not retired, on a date) and
:func:`price_range_models` (each provider's cheapest and dearest of them).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import pandas as pd

from . import catalog, params

__all__ = [
    "TIERS",
    "NoPriceError",
    "OnConflict",
    "PriceConflictWarning",
    "PriceCut",
    "PriceQuote",
    "PriceRow",
    "as_date",
    "check_on_conflict",
    "largest_price_cut",
    "latest_price_date",
    "price_disputes",
    "price_history",
    "price_on",
    "price_quotes",
    "price_range_models",
    "quoted_models",
]

_ON_CONFLICT = ("lowest", "highest", "raise")
OnConflict = Literal["lowest", "highest", "raise"]
#: The tier columns of ``prices.csv`` beyond input, output and the per-image input price.
TIERS = ("cached_input_per_mtok", "cache_write_per_mtok", "cache_write_long_per_mtok", "cache_ttls",
         "batch_multiplier", "long_context_above", "long_input_per_mtok", "long_output_per_mtok",
         "long_cached_input_per_mtok", "long_cache_write_per_mtok", "long_cache_write_long_per_mtok",
         "audio_input_per_mtok", "audio_output_per_mtok", "video_input_per_mtok")


class PriceConflictWarning(UserWarning):
    """Sources disagree on a model's price for the date used; the PriceRow says which rule chose."""


class NoPriceError(ValueError):
    """No price observation exists for the model on or before the date (or for the chosen source)."""


@dataclass(frozen=True)
class PriceQuote:
    """One row of ``prices.csv``: a source's input / output quote for a model on a date (USD per 1M tokens)."""

    model_id: str
    observed: date
    input_per_mtok: float
    output_per_mtok: float | None
    per_image_usd: float | None
    source_id: str
    notes: str
    third_party: bool = False


@dataclass(frozen=True)
class PriceRow:
    """The price used for a model on a date, every tier known then, and where each number came from."""

    model_id: str
    on: date                      #: the date asked for
    observed: date                #: the date of the input/output observation used (latest on or before ``on``)
    input_per_mtok: float
    output_per_mtok: float
    per_image_usd: float | None
    source_ids: tuple[str, ...]   #: the sources whose quotes match the input/output used
    conflict: bool                #: True when the quotes for ``observed`` disagree
    quotes: tuple[PriceQuote, ...] = field(repr=False)  #: every quote for ``observed``
    rule: str = "single quote"    #: how the numbers were chosen
    cached_input_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None       #: write for the short retention (``cache_ttls``' first)
    cache_write_long_per_mtok: float | None = None  #: write for the long retention (``cache_ttls``' second)
    cache_ttls: str | None = None                   #: e.g. "5m;1h" (Anthropic) or "30m;12h" (OpenAI)
    batch_multiplier: float | None = None           #: share of the standard rates a batch request pays
    long_context_above: int | None = None           #: prompt tokens above which the whole request pays the long tier
    long_input_per_mtok: float | None = None
    long_output_per_mtok: float | None = None
    long_cached_input_per_mtok: float | None = None
    long_cache_write_per_mtok: float | None = None
    long_cache_write_long_per_mtok: float | None = None
    audio_input_per_mtok: float | None = None
    audio_output_per_mtok: float | None = None
    video_input_per_mtok: float | None = None
    #: tier column -> (source, observation date) for every tier known, input and output included
    tier_sources: dict[str, tuple[str, date]] = field(default_factory=dict, repr=False)
    #: the tiers (columns) whose value no provider page or article states (only third parties' pages do)
    third_party: tuple[str, ...] = ()

    def tier(self, name: str) -> float | str | None:
        """The value of one tier column (see :data:`TIERS`), ``input_per_mtok`` or ``output_per_mtok``."""
        if name not in (*TIERS, "input_per_mtok", "output_per_mtok", "per_image_usd"):
            raise ValueError(f"name: {name!r} is not a price tier; tiers: {', '.join(TIERS)}")
        return getattr(self, name)


@dataclass(frozen=True)
class PriceCut:
    """A model's largest recorded price fall: its first input price and the lowest quoted after it."""

    model_id: str
    from_usd: float            #: input USD per 1M on the first observation date (highest quote that day)
    from_date: date
    to_usd: float              #: the lowest input price quoted after that date
    to_date: date

    @property
    def fall(self) -> float:
        """The cut as a fraction of the first price."""
        return 1 - self.to_usd / self.from_usd


# --------------------------------------------------------------------------------------------
# Dates and checks
# --------------------------------------------------------------------------------------------
def as_date(on: date | datetime | str | None, param: str = "on") -> date:
    """A date from a date, datetime, pandas Timestamp or ISO string; None means the latest price date."""
    return latest_price_date() if on is None else params.iso_date(on, param)


def check_on_conflict(on_conflict: str) -> None:
    """Raise ValueError naming ``on_conflict`` unless it is one of lowest, highest, raise."""
    if on_conflict not in _ON_CONFLICT:
        raise ValueError(f"on_conflict: {on_conflict!r} is not one of {', '.join(_ON_CONFLICT)}")


def latest_price_date() -> date:
    """The most recent observation date in ``prices.csv`` on or before today (a scheduled price waits its day)."""
    observed = catalog.prices()["observed"].dt.date
    past = observed[observed <= date.today()]
    return (past if not past.empty else observed).max()


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------
def quoted_models(on: date | str | None = None, *, param: str = "on") -> list[str]:
    """The model ids with a price on ``on`` (an observation on or before it; None: the latest price date) that
    are not retired on that date, sorted.

    Raises :class:`NoPriceError` naming ``param`` when no quote is that old.
    """
    day = as_date(on, param=param)
    table = catalog.prices()
    seen = table[table["observed"].dt.date <= day]
    if seen.empty:
        raise NoPriceError(f"{param}: no price in data/prices.csv is dated on or before {day.isoformat()}")
    return sorted(m for m in seen["model_id"].unique() if catalog.retirement(str(m), day).usable)


def price_range_models(on: date | str | None = None, providers: tuple[str, ...] = ("openai", "anthropic", "google"),
                       *, param: str = "on") -> list[str]:
    """Each provider's cheapest and dearest model (by input price, then output) among :func:`quoted_models` on
    ``on``: the span of prices a buyer chooses from on that date, in provider order."""
    day = as_date(on, param=param)
    catalog.check_providers(list(providers), param="providers")
    info = catalog.models().set_index("model_id")["provider"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PriceConflictWarning)
        priced = {m: price_on(m, day) for m in quoted_models(day, param=param) if info[m] in providers}
    out: list[str] = []
    for provider in providers:
        mine = sorted((m for m in priced if info[m] == provider),
                      key=lambda m: (priced[m].input_per_mtok, priced[m].output_per_mtok, m))
        out += list(dict.fromkeys(mine[:1] + mine[-1:]))
    return out


def price_history(models: list[str] | None = None) -> pd.DataFrame:
    """Every price observation (optionally of some models), with each model's provider and name."""
    table = catalog.prices()
    if models is not None:
        table = table[table["model_id"].isin(catalog.check_models(list(models), param="models"))]
    info = catalog.models()[["model_id", "provider", "name"]]
    out = table.merge(info, on="model_id", how="left")
    out["observed"] = pd.to_datetime(out["observed"])
    return out.sort_values(["provider", "model_id", "observed", "source_id"]).reset_index(drop=True)


def price_disputes(history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows of :func:`price_history` (or of ``history``) on model-dates whose sources quote different input
    prices, or different output prices where both state one."""
    hist = price_history() if history is None else history

    def disagree(g: pd.DataFrame) -> bool:
        return g["input_per_mtok"].nunique() > 1 or g["output_per_mtok"].dropna().nunique() > 1

    return hist.groupby(["model_id", "observed"]).filter(disagree)


def largest_price_cut(history: pd.DataFrame | None = None) -> PriceCut:
    """The model whose input price fell the most (first observation against the lowest quote after it)."""
    hist = price_history() if history is None else history

    def fall(group: pd.DataFrame) -> float:
        by_date = group.groupby("observed")["input_per_mtok"].min().sort_index()
        return float(by_date.iloc[0] / by_date.min()) if len(by_date) > 1 else 1.0

    model = str(hist.groupby("model_id")[["observed", "input_per_mtok"]].apply(fall).idxmax())
    rows = hist[hist["model_id"] == model]
    first = rows[rows["observed"] == rows["observed"].min()]
    later = rows[rows["observed"] > rows["observed"].min()].sort_values(["input_per_mtok", "observed"])
    if later.empty:
        raise NoPriceError("history: no model has a second observation date, so no price has fallen")
    low = later.iloc[0]
    return PriceCut(model, float(first["input_per_mtok"].max()), first["observed"].max().date(),
                    float(low["input_per_mtok"]), low["observed"].date())


# --------------------------------------------------------------------------------------------
# A price on a date
# --------------------------------------------------------------------------------------------
def _known_rows(model_id: str, day: date, source: str | None) -> pd.DataFrame:
    """The model's observations on or before ``day`` (of ``source`` only, when given), or NoPriceError."""
    catalog.check_models([model_id], param="model_id")
    table = catalog.prices()
    rows = table[(table["model_id"] == model_id) & (table["observed"].dt.date <= day)]
    if source is not None:
        if not source.startswith("http"):
            catalog.check_sources([source], param="source")
        rows = rows[rows["source_id"] == source]
    if rows.empty:
        every = table[table["model_id"] == model_id]
        first = every["observed"].min().date() if not every.empty else None
        who = f" from source {source}" if source else ""
        raise NoPriceError(
            f"model_id: no price for {model_id!r}{who} on or before {day.isoformat()}"
            + (f" (its first observation is {first.isoformat()})" if first else " (prices.csv has none)")
        )
    return rows


def _opt(value: object) -> float | None:
    return None if pd.isna(value) else float(value)  # type: ignore[arg-type]


def price_quotes(model_id: str, on: date | str | None = None, source: str | None = None) -> list[PriceQuote]:
    """All quotes for ``model_id`` on its latest observation date on or before ``on`` (None: latest date).

    With ``source``, only that source's quotes count. Raises :class:`NoPriceError` when there are none.
    """
    rows = _known_rows(model_id, as_date(on), source)
    rows = rows[rows["observed"] == rows["observed"].max()]
    return [PriceQuote(model_id, r.observed.date(), float(r.input_per_mtok), _opt(r.output_per_mtok),
                       _opt(r.per_image_usd), str(r.source_id), "" if pd.isna(r.notes) else str(r.notes),
                       bool(r.third_party) if not pd.isna(r.third_party) else False)
            for r in rows.itertuples()]


def _stated_by_provider(rows: pd.DataFrame, col: str, value: object) -> bool:
    """Whether a provider's own page (an article, or a page not marked third-party) states ``value`` for ``col``."""
    same = rows[rows[col] == value]
    return bool((~same["third_party"].fillna(False).astype(bool)).any())


def _tiers(rows: pd.DataFrame, on_conflict: OnConflict) -> tuple[dict[str, object], dict[str, tuple[str, date]],
                                                                  list[str], list[str]]:
    """Each tier's latest observation: (values, their source and date, tiers from third parties only, disputes)."""
    values: dict[str, object] = {}
    where: dict[str, tuple[str, date]] = {}
    third: list[str] = []
    disputes: list[str] = []
    for col in TIERS:
        stating = rows[rows[col].notna()]
        if stating.empty:
            continue
        last = stating[stating["observed"] == stating["observed"].max()]
        distinct = sorted(set(last[col]), key=str)
        if len(distinct) > 1:
            pick = (max if on_conflict == "highest" else min)(distinct)
            disputes.append(f"{col}: " + " vs ".join(f"{v} ({s})" for v, s in zip(last[col], last["source_id"])))
        else:
            pick = distinct[0]
        chosen = last[last[col] == pick]
        own = chosen[~chosen["third_party"].fillna(False).astype(bool)]
        values[col] = pick if col == "cache_ttls" else (int(pick) if col == "long_context_above" else float(pick))
        where[col] = (str((own if not own.empty else chosen).iloc[0]["source_id"]), chosen.iloc[0]["observed"].date())
        if not _stated_by_provider(rows, col, pick):
            third.append(col)
    return values, where, third, disputes


def price_on(model_id: str, on: date | str | None = None, source: str | None = None, *,
             on_conflict: OnConflict = "lowest") -> PriceRow:
    """The price of ``model_id`` on ``on`` with every tier known then (see the module docstring).

    When the quotes for the input/output date disagree, the row is flagged (``conflict=True``, every quote in
    ``quotes``), a :class:`PriceConflictWarning` is issued, and ``on_conflict`` decides: ``"lowest"`` (default) or
    ``"highest"`` input price, or ``"raise"`` a ValueError. Raises :class:`NoPriceError` when no row on or
    before ``on`` states an output price.
    """
    check_on_conflict(on_conflict)
    day = as_date(on)
    rows = _known_rows(model_id, day, source)
    quotes = price_quotes(model_id, day, source)
    pairs = {(q.input_per_mtok, q.output_per_mtok) for q in quotes}
    stated = {p for p in pairs if p[1] is not None} or pairs
    images = {q.per_image_usd for q in quotes if q.per_image_usd is not None}
    conflict = len({p[0] for p in pairs}) > 1 or len({p[1] for p in stated}) > 1 or len(images) > 1
    pick = max if on_conflict == "highest" else min
    if not conflict:
        chosen, rule = quotes, "single quote" if len(quotes) == 1 else "sources agree"
    else:
        listing = "; ".join(
            f"{q.source_id}: {q.input_per_mtok:g} / " + (f"{q.output_per_mtok:g}" if q.output_per_mtok else "-")
            + (f" + {q.per_image_usd:g} per image" if q.per_image_usd is not None else "") for q in quotes)
        if on_conflict == "raise":
            raise ValueError(f"model_id: sources disagree on the price of {model_id!r} on "
                             f"{quotes[0].observed.isoformat()} ({listing}); pass source= to choose one")
        best = pick(stated, key=lambda p: (p[0], p[1] or 0.0))
        chosen = [q for q in quotes if (q.input_per_mtok, q.output_per_mtok) == best]
        rule = (f"sources disagree ({listing}); on_conflict={on_conflict!r} chose {best[0]:g} / "
                + (f"{best[1]:g}" if best[1] else "-"))
        warnings.warn(f"{model_id} on {quotes[0].observed.isoformat()}: {rule}", PriceConflictWarning, stacklevel=2)
    output = next((q.output_per_mtok for q in chosen if q.output_per_mtok is not None), None)
    out_where = (chosen[0].source_id, chosen[0].observed)
    if output is None:  # the input date's rows state no output: the latest row that does
        with_out = rows[rows["output_per_mtok"].notna()].sort_values("observed")
        if with_out.empty:
            raise NoPriceError(f"model_id: no output price for {model_id!r} on or before {day.isoformat()}")
        last = with_out.iloc[-1]
        output, out_where = float(last["output_per_mtok"]), (str(last["source_id"]), last["observed"].date())
    tiers, where, third, disputes = _tiers(rows, on_conflict)
    if disputes:
        rule += "; tiers disputed on their latest date: " + "; ".join(disputes)
        warnings.warn(f"{model_id}: {'; '.join(disputes)} (on_conflict={on_conflict!r})", PriceConflictWarning,
                      stacklevel=2)
    where = {"input_per_mtok": (chosen[0].source_id, chosen[0].observed), "output_per_mtok": out_where, **where}
    if not _stated_by_provider(rows, "input_per_mtok", chosen[0].input_per_mtok):
        third = ["input_per_mtok", *third]
    # A source that quotes no per-image price is silent on it, not in disagreement: use the quoted one.
    candidates = [q.per_image_usd for q in chosen if q.per_image_usd is not None] or sorted(images)
    return PriceRow(
        model_id=model_id, on=day, observed=quotes[0].observed,
        input_per_mtok=chosen[0].input_per_mtok, output_per_mtok=output,
        per_image_usd=pick(candidates) if candidates else None,
        source_ids=tuple(sorted({q.source_id for q in chosen})), conflict=conflict,
        quotes=tuple(quotes), rule=rule, tier_sources=where, third_party=tuple(third),
        **tiers,  # type: ignore[arg-type]
    )
