"""What things cost: one request, a workload, a routing split, self-hosting break-even, and claims re-derived.

Prices come from ``data/prices.csv`` through :mod:`workbench.dated_prices` (re-exported here: :func:`price_on`,
:class:`PriceRow`, :func:`price_history` ...): the price of a model *on* a date is its latest observation on or
before that date, with disagreements between sources flagged and resolved by a stated rule (``on_conflict``).
The functions here price plain input and output tokens (and images, as tokens or at a source's per-image
price); :mod:`workbench.pricing` prices a request's full usage with every tier (cache reads and writes, batch,
long context, audio, video, images generated).

Self-hosting (:func:`breakeven`): a GPU deployment rented for the whole month costs
``gpu_cost_per_hour x hours_per_month`` whether busy or not and serves at most
``tokens_per_second x 3600 x hours_per_month x utilisation`` tokens. Its cost per 1M tokens at that volume
is the first divided by the second; it beats an API price ``p`` (USD per 1M tokens) from the monthly
volume ``fixed / p`` upwards, which is within the deployment's capacity exactly when its cost per 1M
tokens is below ``p``. One throughput figure for prompt and generated tokens is a simplification (prompt
tokens are processed much faster than tokens are generated): pass the throughput of your own mix.
:func:`s2_self_hosting` re-derives S2's self-hosting claims (cost per 1M tokens, break-even volume) from
those three inputs; chapters 05 (with a measured throughput) and 08 (with an assumed one) both call it.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from . import catalog, params, tokens
from .dated_prices import (
    NoPriceError,
    OnConflict,
    PriceConflictWarning,
    PriceCut,
    PriceQuote,
    PriceRow,
    as_date,
    largest_price_cut,
    latest_price_date,
    price_disputes,
    price_history,
    price_on,
    price_quotes,
    quoted_models,
)

__all__ = [
    "HOURS_PER_MONTH",
    "Breakeven",
    "ClaimCheck",
    "NoPriceError",
    "PriceConflictWarning",
    "PriceCut",
    "PriceQuote",
    "PriceRow",
    "SelfHostingClaims",
    "as_date",
    "blended_price",
    "breakeven",
    "check_claim",
    "largest_price_cut",
    "latest_price_date",
    "mix_table",
    "output_share",
    "price_disputes",
    "price_history",
    "price_on",
    "price_quotes",
    "quoted_models",
    "request_cost",
    "routing_cost",
    "s2_self_hosting",
    "self_host_cost_per_mtok",
    "workload_cost",
]

#: Average hours in a month (24 x 365 / 12).
HOURS_PER_MONTH: float = 24 * 365 / 12


@dataclass(frozen=True)
class Breakeven:
    """Self-hosting economics for one deployment against one API price (see the module docstring)."""

    gpu_cost_per_hour: float
    tokens_per_second: float
    utilisation: float
    hours_per_month: float
    api_price_per_mtok: float
    monthly_fixed_cost: float          #: USD per month for the rented deployment
    monthly_capacity_tokens: float     #: tokens it can serve per month at this utilisation
    cost_per_mtok: float               #: USD per 1M tokens when serving its capacity
    breakeven_tokens_per_month: float | None  #: volume from which it beats the API; None: never

    @property
    def beats_api(self) -> bool:
        """Whether some monthly volume within capacity makes self-hosting cheaper than the API."""
        return self.breakeven_tokens_per_month is not None


@dataclass(frozen=True)
class ClaimCheck:
    """A source's claim next to the value re-derived here, and whether they agree within a tolerance."""

    claim_id: str
    source_id: str
    quantity: str
    claimed: float
    derived: float
    unit: str
    difference: float          #: derived - claimed
    relative: float            #: difference / claimed
    agrees: bool

    def as_dict(self) -> dict[str, object]:
        """The check as a flat dict (one table row)."""
        return {"claim": self.claim_id, "source": self.source_id, "quantity": self.quantity,
                "claimed": self.claimed, "re-derived": self.derived, "unit": self.unit,
                "difference": self.difference, "relative": self.relative,
                "verdict": "agrees" if self.agrees else "disagrees"}


@dataclass(frozen=True)
class SelfHostingClaims:
    """S2's self-hosting claims (Qwen2.5-VL-72B) re-derived for one deployment and a set of API prices.

    Pairs follow S2's low and high claim: ``claimed_cost`` (USD per 1M tokens) and ``claimed_breakeven``
    (tokens a month); ``needed_tps`` is the throughput at which this GPU price gives each claimed cost;
    ``api_price_needed`` the API price at which each claimed volume pays the monthly rent;
    ``hourly_needed`` the GPU price per hour at which each claimed volume breaks even against the dearest
    API. ``checks`` hold the cost claims and, when the deployment beats some API, the break-even claims
    against the one it beats soonest (``first_beaten``).
    """

    cost_per_mtok: float
    breakevens: Mapping[str, Breakeven]
    claimed_cost: tuple[float, float]
    claimed_breakeven: tuple[float, float]
    needed_tps: tuple[float, float]
    monthly_rent: float
    first_beaten: str | None
    dearest_api: str
    api_price_needed: tuple[float, float]
    hourly_needed: tuple[float, float]
    checks: tuple[ClaimCheck, ...]


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------
def _count(value: object, param: str) -> int:
    """A non-negative whole number (tokens, documents, images), or ParameterError naming the parameter."""
    return params.count(value, param, minimum=0)


# --------------------------------------------------------------------------------------------
# Costs of requests and workloads
# --------------------------------------------------------------------------------------------
def _image_cost(model_id: str, price: PriceRow, images: int,
                image_size: tuple[int, int] | None) -> tuple[float, int]:
    """(USD for per-image prices, extra input tokens for token-priced images)."""
    if images == 0:
        return 0.0, 0
    if price.per_image_usd is not None:
        return images * price.per_image_usd, 0
    if image_size is None:
        raise ValueError(f"image_size: {model_id!r} prices images as tokens on {price.observed.isoformat()}; "
                         "give image_size=(width, height) so the provider's rule can count them")
    width, height = image_size
    return 0.0, images * tokens.image_tokens(model_id, width, height).tokens


def request_cost(model_id: str, input_tokens: int, output_tokens: int, on: date | str | None = None,
                 images: int = 0, *, image_size: tuple[int, int] | None = None, source: str | None = None,
                 on_conflict: OnConflict = "lowest") -> float:
    """USD cost of one request: ``input_tokens`` and ``output_tokens`` at the price on ``on``.

    ``images`` are charged at the source's per-image price when it quotes one, otherwise as input tokens
    counted by the provider's documented rule for an image of ``image_size`` = (width, height).
    """
    n_in, n_out, n_img = _count(input_tokens, "input_tokens"), _count(output_tokens, "output_tokens"), \
        _count(images, "images")
    price = price_on(model_id, on, source, on_conflict=on_conflict)
    image_usd, image_tokens = _image_cost(model_id, price, n_img, image_size)
    return ((n_in + image_tokens) * price.input_per_mtok + n_out * price.output_per_mtok) / 1e6 + image_usd


def output_share(input_tokens: int, output_tokens: int) -> float:
    """The share of a request's tokens that are output tokens, ``output / (input + output)``."""
    n_in = _count(input_tokens, "input_tokens")
    n_out = params.count(output_tokens, "output_tokens", minimum=0 if n_in else 1)
    return n_out / (n_in + n_out)


def blended_price(model_id: str, output_share: float, on: date | str | None = None, *,
                  source: str | None = None, on_conflict: OnConflict = "lowest") -> float:
    """USD per 1M tokens when a fraction ``output_share`` (0-1) of all tokens are output tokens."""
    if isinstance(output_share, bool) or not isinstance(output_share, numbers.Real) or not 0 <= output_share <= 1:
        raise ValueError(f"output_share: expected a fraction between 0 and 1, got {output_share!r}")
    price = price_on(model_id, on, source, on_conflict=on_conflict)
    return (1 - output_share) * price.input_per_mtok + output_share * price.output_per_mtok


def mix_table(models: Sequence[str], on: date | str | None = None,
              shares: Sequence[float] | np.ndarray | None = None, *,
              on_conflict: OnConflict = "lowest") -> pd.DataFrame:
    """Cost per 1M tokens against the output share of the tokens, for each model on ``on``.

    Columns: model_id, name, provider, output_share, usd_per_mtok. ``shares`` defaults to 0, 0.05, ..., 1.
    """
    models = catalog.check_models(list(models), param="models")
    grid = np.linspace(0, 1, 21) if shares is None else np.asarray(shares, dtype=float)
    info = catalog.models().set_index("model_id")
    rows = []
    for m in models:
        price = price_on(m, on, on_conflict=on_conflict)
        for s in grid:
            rows.append({"model_id": m, "name": info.at[m, "name"], "provider": info.at[m, "provider"],
                         "output_share": float(s),
                         "usd_per_mtok": (1 - s) * price.input_per_mtok + s * price.output_per_mtok})
    return pd.DataFrame(rows)


def workload_cost(models: Sequence[str], *, documents: int, input_tokens: int, output_tokens: int,
                  on: date | str | None = None, images_per_document: int = 0,
                  image_size: tuple[int, int] | None = None, source: str | None = None,
                  on_conflict: OnConflict = "lowest") -> pd.DataFrame:
    """Cost of ``documents`` requests of ``input_tokens`` in and ``output_tokens`` out, per model.

    One row per model: the price used (observation date, sources, conflict flag), and USD for input,
    output, images and in total. ``source`` restricts the prices to one source's quotes.
    """
    models = catalog.check_models(list(models), param="models")
    n_docs = _count(documents, "documents")
    n_in, n_out = _count(input_tokens, "input_tokens"), _count(output_tokens, "output_tokens")
    n_img = _count(images_per_document, "images_per_document")
    info = catalog.models().set_index("model_id")
    rows = []
    for m in models:
        price = price_on(m, on, source, on_conflict=on_conflict)
        image_usd, image_tok = _image_cost(m, price, n_img, image_size)
        rows.append({
            "model_id": m, "name": info.at[m, "name"], "provider": info.at[m, "provider"],
            "price_observed": price.observed, "sources": ", ".join(price.source_ids),
            "conflict": price.conflict, "input_per_mtok": price.input_per_mtok,
            "output_per_mtok": price.output_per_mtok, "documents": n_docs,
            "input_usd": n_docs * (n_in + image_tok) * price.input_per_mtok / 1e6,
            "output_usd": n_docs * n_out * price.output_per_mtok / 1e6,
            "image_usd": n_docs * image_usd,
        })
    out = pd.DataFrame(rows)
    out["total_usd"] = out["input_usd"] + out["output_usd"] + out["image_usd"]
    return out


def routing_cost(routes: Mapping[str, int], *, input_tokens: int, output_tokens: int,
                 on: date | str | None = None, baseline: str | None = None, source: str | None = None,
                 on_conflict: OnConflict = "lowest") -> pd.DataFrame:
    """Cost of sending ``routes[model]`` documents to each model, and of sending them all to ``baseline``.

    Returns one row per route plus a ``"routed total"`` row and, with ``baseline``, an ``"all to <model>"``
    row and the routed total's saving against it (column ``saving_vs_baseline``, a fraction).
    ``source`` restricts the prices to one source's quotes.
    """
    if not isinstance(routes, Mapping) or not routes:
        raise ValueError("routes: expected a non-empty mapping of model id -> number of documents")
    catalog.check_models(list(routes), param="routes")
    counts = {m: _count(n, f"routes[{m!r}]") for m, n in routes.items()}
    parts = [workload_cost([m], documents=n, input_tokens=input_tokens, output_tokens=output_tokens,
                           on=on, source=source, on_conflict=on_conflict) for m, n in counts.items()]
    table = pd.concat(parts, ignore_index=True)
    table["route"] = table["model_id"]
    total = {"route": "routed total", "documents": sum(counts.values())}
    for col in ("input_usd", "output_usd", "image_usd", "total_usd"):
        total[col] = table[col].sum()
    rows = [table, pd.DataFrame([total])]
    if baseline is not None:
        catalog.check_models([baseline], param="baseline")
        base = workload_cost([baseline], documents=total["documents"], input_tokens=input_tokens,
                             output_tokens=output_tokens, on=on, source=source, on_conflict=on_conflict)
        base["route"] = f"all to {baseline}"
        rows.append(base)
    out = pd.concat(rows, ignore_index=True)
    if baseline is not None:
        base_total = float(out.loc[out["route"] == f"all to {baseline}", "total_usd"].iloc[0])
        out["saving_vs_baseline"] = np.where(out["route"] == "routed total",
                                             1 - total["total_usd"] / base_total if base_total else np.nan,
                                             np.nan)
    front = ["route", "documents", "input_usd", "output_usd", "image_usd", "total_usd"]
    return out[front + [c for c in out.columns if c not in front]]


# --------------------------------------------------------------------------------------------
# Self-hosting
# --------------------------------------------------------------------------------------------
def self_host_cost_per_mtok(gpu_cost_per_hour: float, tokens_per_second: float, utilisation: float) -> float:
    """USD per 1M tokens of a deployment costing ``gpu_cost_per_hour`` that serves ``tokens_per_second``
    at full load and is busy a fraction ``utilisation`` (0-1] of the time."""
    cost = params.positive(gpu_cost_per_hour, "gpu_cost_per_hour")
    tps = params.positive(tokens_per_second, "tokens_per_second")
    util = params.fraction(utilisation, "utilisation")
    return cost / (tps * 3600 * util) * 1e6


def breakeven(gpu_cost_per_hour: float, tokens_per_second: float, utilisation: float, *,
              api_price_per_mtok: float, hours_per_month: float = HOURS_PER_MONTH) -> Breakeven:
    """Self-hosting against an API price: cost per 1M tokens, monthly fixed cost and capacity, and the
    monthly token volume from which self-hosting is cheaper (None when it never is within capacity)."""
    per_mtok = self_host_cost_per_mtok(gpu_cost_per_hour, tokens_per_second, utilisation)
    api = params.positive(api_price_per_mtok, "api_price_per_mtok")
    hours = params.positive(hours_per_month, "hours_per_month")
    fixed = float(gpu_cost_per_hour) * hours
    capacity = float(tokens_per_second) * 3600 * hours * float(utilisation)
    volume = fixed / api * 1e6
    return Breakeven(
        gpu_cost_per_hour=float(gpu_cost_per_hour), tokens_per_second=float(tokens_per_second),
        utilisation=float(utilisation), hours_per_month=hours, api_price_per_mtok=api,
        monthly_fixed_cost=fixed, monthly_capacity_tokens=capacity, cost_per_mtok=per_mtok,
        breakeven_tokens_per_month=volume if per_mtok < api else None,
    )


def s2_self_hosting(gpu_cost_per_hour: float, tokens_per_second: float, utilisation: float,
                    api_prices: Mapping[str, float], *, rel_tol: float = 0.05,
                    hours_per_month: float = HOURS_PER_MONTH) -> SelfHostingClaims:
    """S2's self-hosting arithmetic for one rented deployment against ``api_prices`` (model -> USD per 1M).

    S2 says self-hosting Qwen2.5-VL-72B costs $0.50-1.00 per 1M tokens and breaks even at 5-10M tokens a
    month (``claims.csv``); both follow from the GPU's hourly price, its throughput and its utilisation.
    See :class:`SelfHostingClaims` for what is derived; ``rel_tol`` is the agreement tolerance of the checks.
    """
    if not isinstance(api_prices, Mapping) or not api_prices:
        raise params.ParameterError("api_prices", "a mapping of model id -> API USD per 1M tokens", api_prices)
    be = {m: breakeven(gpu_cost_per_hour, tokens_per_second, utilisation, api_price_per_mtok=p,
                       hours_per_month=hours_per_month) for m, p in api_prices.items()}
    cost = self_host_cost_per_mtok(gpu_cost_per_hour, tokens_per_second, utilisation)
    claimed_cost = (catalog.claim("s2_selfhost_low"), catalog.claim("s2_selfhost_high"))
    claimed_be = (catalog.claim("s2_breakeven_low"), catalog.claim("s2_breakeven_high"))
    per_tps = self_host_cost_per_mtok(gpu_cost_per_hour, 1.0, utilisation)
    rent = float(gpu_cost_per_hour) * hours_per_month
    first = min((m for m in be if be[m].beats_api), key=lambda m: be[m].breakeven_tokens_per_month or 0.0,
                default=None)
    dearest = max(api_prices, key=lambda m: api_prices[m])
    checks = [check_claim(c, cost, rel_tol=rel_tol) for c in ("s2_selfhost_low", "s2_selfhost_high")]
    if first is not None:
        checks += [check_claim(c, float(be[first].breakeven_tokens_per_month or 0.0), rel_tol=rel_tol)
                   for c in ("s2_breakeven_low", "s2_breakeven_high")]
    return SelfHostingClaims(
        cost_per_mtok=cost, breakevens=be, claimed_cost=claimed_cost, claimed_breakeven=claimed_be,
        needed_tps=(per_tps / claimed_cost[0], per_tps / claimed_cost[1]), monthly_rent=rent,
        first_beaten=first, dearest_api=dearest,
        api_price_needed=(rent / claimed_be[0] * 1e6, rent / claimed_be[1] * 1e6),
        hourly_needed=(claimed_be[0] * api_prices[dearest] / 1e6 / hours_per_month,
                       claimed_be[1] * api_prices[dearest] / 1e6 / hours_per_month),
        checks=tuple(checks),
    )


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------
def check_claim(claim_id: str, derived: float, *, rel_tol: float = 0.05) -> ClaimCheck:
    """Compare a claim in ``claims.csv`` with a re-derived value: agree when within ``rel_tol`` (relative)."""
    value = catalog.claim(claim_id)
    if isinstance(derived, bool) or not isinstance(derived, numbers.Real) or not math.isfinite(derived):
        raise ValueError(f"derived: expected a finite number for {claim_id!r}, got {derived!r}")
    params.tolerance(rel_tol, "rel_tol")
    row = catalog.claims().set_index("claim_id").loc[claim_id]
    diff = float(derived) - value
    rel = diff / value
    return ClaimCheck(claim_id, str(row["source_id"]), str(row["quantity"]), value, float(derived),
                      str(row["unit"]), diff, rel, abs(rel) <= rel_tol + 1e-12)
