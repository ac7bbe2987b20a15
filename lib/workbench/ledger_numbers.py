"""Claims about money: the prices the sources quote and their cost arithmetic, re-derived from ``data/``.

Each check is registered under the name ``data/claims.csv`` gives in its ``check`` column. The numbers
come from the workbook's own functions (:mod:`workbench.costs` for prices on a date, workloads, routing
and self-hosting; :mod:`workbench.tokens` for the providers' documented image rules), always with the
source's own prices of its own date, so a claim is judged by what its author had in hand. A re-derived
number "agrees" within the ledger's relative ``tolerance`` (:func:`workbench.costs.check_claim`).
Where a check reads other claims (the documents and tokens of S2's example), their ids are the row's
``inputs``, in the order each check's docstring gives.
"""
from __future__ import annotations

import re
import warnings

import pandas as pd

from . import catalog, costs, fmt, tokens
from .ledger_runs import record_command
from .ledger_specs import doc_text, rule_row
from .ledger_verdicts import Claim, Context, Verdict, join, model_name, register

__all__: list[str] = []  # checks are reached through the registry of workbench.ledger_verdicts


def _pair(row: object) -> tuple[float, float]:
    return float(row.input_per_mtok), float(row.output_per_mtok)  # type: ignore[attr-defined]


def _quote(row: object) -> str:
    inp, out = _pair(row)
    day = pd.Timestamp(row.observed).date().isoformat()  # type: ignore[attr-defined]
    return f"{row.source_id} for {day}: {fmt.usd(inp)} / {fmt.usd(out)} per 1M tokens"  # type: ignore[attr-defined]


def _compare(claim: Claim, derived: float, ctx: Context, how: str, evidence: list[str]) -> Verdict:
    """Consistent or contradicted: ``derived`` against the claim's number, within the tolerance."""
    chk = costs.check_claim(claim.claim_id, derived, rel_tol=ctx.tolerance)
    claimed, got = _amount(chk.claimed, chk.unit), _amount(chk.derived, chk.unit)
    if chk.agrees:
        finding = f"Re-derived {how}: {got}, as claimed."
    else:
        factor = chk.derived / chk.claimed
        off = (f"off by a factor of {factor:.3g}" if factor >= 2 or factor <= 0.5 else
               f"{fmt.pct(abs(100 * chk.relative))} {'below' if chk.relative < 0 else 'above'} the claim")
        finding = f"Re-derived {how}: {got}, not {claimed} ({off})."
    return Verdict("consistent" if chk.agrees else "contradicted", finding, tuple(evidence),
                   derived=chk.derived)


def _amount(value: float, unit: str) -> str:
    """A claimed or derived number with its unit, formatted for prose."""
    if unit == "USD":
        return fmt.usd(value)
    if unit == "percent":
        return fmt.pct(value)
    if unit in ("tokens", "count"):
        text = fmt.count(value) if abs(value) < 1e6 else fmt.tokens(value)
        return f"{text} tokens" if unit == "tokens" else f"{text}"
    return f"{value:,.4g} {unit}"


def _who(rows: pd.DataFrame) -> str:
    sources = sorted(set(rows["source_id"]))
    return f"{join(sources)} {'quotes' if len(sources) == 1 else 'quote'}"


# --------------------------------------------------------------------------------------------
# Quoted prices
# --------------------------------------------------------------------------------------------
@register("price_quote")
def price_quote(claim: Claim, ctx: Context) -> Verdict:
    """The source's row of ``data/prices.csv`` against the provider's page (a URL-sourced row on or before
    that date), else against the other sources: a same-date disagreement is settled by the rule of
    :func:`workbench.costs.price_on` (after a price cut the lowest quote is the current one)."""
    model = str(claim.model_id)
    rows = catalog.prices()
    rows = rows[rows["model_id"] == model].sort_values("observed")
    own = rows[rows["source_id"] == claim.source_id]
    if own.empty:
        raise ValueError(f"{claim.claim_id}: {claim.source_id} quotes no price for {model} in data/prices.csv")
    mine = own.iloc[-1]
    day, pair, name = mine["observed"], _pair(mine), model_name(model)
    evidence = [f"quote in data/prices.csv: {_quote(mine)}"]
    third = rows["third_party"].fillna(False).astype(bool) if "third_party" in rows else False
    docs = rows[rows["source_id"].str.startswith("http") & ~third & (rows["observed"] <= day)]
    if not docs.empty:
        doc = docs.iloc[-1]
        evidence.append(f"provider page: {_quote(doc)}")
        same = _pair(doc) == pair
        return Verdict("consistent" if same else "contradicted",  # the provider's page decides
                       f"{name}: the provider's price page {'agrees' if same else 'disagrees'}.", tuple(evidence))
    others = rows[rows["source_id"] != claim.source_id]
    same_day = others[others["observed"] == day]
    evidence += [f"other source: {_quote(r)}" for r in others.itertuples()]
    if not same_day.empty:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", costs.PriceConflictWarning)
            used = costs.price_on(model, day.date())
        chosen = (used.input_per_mtok, used.output_per_mtok)
        if not used.conflict:
            return Verdict("consistent", f"{_who(same_day)} the same price for {name} on the same date.",
                           tuple(evidence))
        evidence.append(f"rule for a disputed date (costs.price_on): {used.rule}")
        rivals = join(f"{r.source_id} ({fmt.usd(r.input_per_mtok)} / {fmt.usd(r.output_per_mtok)})"
                      for r in same_day.itertuples())
        if pair == chosen:
            return Verdict("consistent", f"{rivals} quotes {name} differently for the same date; this quote is the "
                           "lower one, the price after the cut.", tuple(evidence))
        earlier = others[(others["observed"] < day) & (others.apply(_pair, axis=1) == pair)]
        stale = (f" It equals {join(earlier['source_id'])}'s earlier quote of "
                 f"{earlier['observed'].iloc[-1].date().isoformat()}: the price before the cut."
                 if not earlier.empty else "")
        return Verdict("contradicted", f"{rivals} quotes {name} lower for the same date.{stale}", tuple(evidence))
    agree = others[others.apply(_pair, axis=1) == pair] if not others.empty else others
    if not agree.empty:
        return Verdict("consistent", f"{_who(agree)} the same price for {name} at another date.",
                       tuple(evidence))
    moved = "; other sources quote other dates, and prices move" if not others.empty else ""
    return Verdict("unverifiable offline", f"No other row prices {name} on this date{moved}.", tuple(evidence),
                   settle=f"{name}'s price page as of {day.date().isoformat()}: a data/prices.csv row citing its URL "
                          "and the date it was read (an archived copy for a past date).")


@register("per_image_price")
def per_image_price(claim: Claim, ctx: Context) -> Verdict:
    """A flat per-image price against the provider's documented token rule for images, at the source's
    own token price: Anthropic caps an image's tokens, so a flat price above the cap's cost cannot hold."""
    model, claimed = str(claim.model_id), float(claim.value or 0)
    price = costs.price_on(model, ctx.price_date(claim.source_id), source=claim.source_id)
    per_token = price.input_per_mtok / 1e6
    method = tokens.image_method(model)
    if method.startswith("anthropic"):
        cap = tokens.rule_value(model, "image", "max_tokens")
        most = cap * per_token
        evidence = (f"documented cap: {doc_text(rule_row(model, 'image', 'max_tokens'))}",
                    f"{claim.source_id}'s own input price: {fmt.usd(price.input_per_mtok)} per 1M tokens")
        ok = claimed <= most * (1 + ctx.tolerance)
        finding = (f"No image can cost more than {fmt.count(cap)} tokens, {fmt.usd(most)} at "
                   f"{claim.source_id}'s own token price; the flat {fmt.usd(claimed)} is "
                   f"{claimed / most:.1f}× that." if not ok else
                   f"The flat {fmt.usd(claimed)} is within the cost of the largest image ({fmt.usd(most)}).")
        return Verdict("consistent" if ok else "contradicted", finding, evidence, derived=most)
    side = 1024
    counted = tokens.image_tokens(model, side, side)
    per_tile = tokens.rule_value(model, "image", "tokens_per_tile")
    implied = claimed / per_token
    row = rule_row(model, "image", "tokens_per_tile")
    return Verdict(
        "unverifiable offline",
        f"Today's documented rule bills images as tokens: a {side} × {side} image is {fmt.count(counted.tokens)} "
        f"tokens, {fmt.usd(counted.tokens * per_token)}; the flat {fmt.usd(claimed)} would pay for "
        f"{fmt.count(implied)} tokens ({implied / per_tile:,.0f} tiles).",
        (f"documented rule: {doc_text(row)}",
         f"{claim.source_id}'s own input price: {fmt.usd(price.input_per_mtok)} per 1M tokens"),
        settle=f"{model_name(model)}'s price page as of {price.observed.isoformat()} (an archived copy): a "
               "per-image price row in data/prices.csv with its URL, or the token rule of that date.",
        derived=counted.tokens * per_token)


@register("cheapest")
def cheapest(claim: Claim, ctx: Context) -> Verdict:
    """The claimed model has the lowest input and output price among ``models``, at the source's prices."""
    day = ctx.price_date(claim.source_id)
    rows = {m: costs.price_on(m, day, source=claim.source_id) for m in claim.models}
    low_in = min(rows, key=lambda m: rows[m].input_per_mtok)
    low_out = min(rows, key=lambda m: rows[m].output_per_mtok)
    pick = rows[str(claim.model_id)]
    evidence = tuple(f"{claim.source_id} for {day.isoformat()}: {model_name(m)} {fmt.usd(r.input_per_mtok)} / "
                     f"{fmt.usd(r.output_per_mtok)} per 1M tokens" for m, r in rows.items())
    others = [r for m, r in rows.items() if m != claim.model_id]
    ratio = min(min(r.input_per_mtok for r in others) / pick.input_per_mtok,
                min(r.output_per_mtok for r in others) / pick.output_per_mtok)
    ok = low_in == low_out == claim.model_id
    finding = (f"{model_name(str(claim.model_id))} is the cheapest on input and output; the next model costs "
               f"{ratio:.0f}× as much." if ok else
               f"The cheapest is {model_name(low_in)} on input and {model_name(low_out)} on output.")
    return Verdict("consistent" if ok else "contradicted", finding, evidence, derived=ratio)


# --------------------------------------------------------------------------------------------
# S2's worked example: documents, routing, relative prices
# --------------------------------------------------------------------------------------------
def _s2_prices(claim: Claim, ctx: Context, model: str) -> str:
    price = costs.price_on(model, ctx.price_date(claim.source_id), source=claim.source_id)
    return (f"{claim.source_id}'s price for {model_name(model)} ({price.observed.isoformat()}): "
            f"{fmt.usd(price.input_per_mtok)} per 1M input tokens")


@register("workload_cost")
def workload_cost(claim: Claim, ctx: Context) -> Verdict:
    """inputs: documents, input tokens per document. Input tokens only, as the source counts them."""
    n, per = int(ctx.value(claim.inputs[0])), int(ctx.value(claim.inputs[1]))
    model = str(claim.model_id)
    table = costs.workload_cost([model], documents=n, input_tokens=per, output_tokens=0,
                                on=ctx.price_date(claim.source_id), source=claim.source_id)
    evidence = [_s2_prices(claim, ctx, model),
                f"{fmt.count(n)} documents × {fmt.count(per)} input tokens (output left out, as the source does)"]
    return _compare(claim, float(table["total_usd"].iloc[0]), ctx, f"cost on {model_name(model)}", evidence)


@register("selfhost_total")
def selfhost_total(claim: Claim, ctx: Context) -> Verdict:
    """inputs: documents, input tokens per document, the source's own self-hosted rate per 1M tokens."""
    n, per, rate = (ctx.value(i) for i in claim.inputs[:3])
    total = n * per / 1e6
    evidence = [f"{fmt.count(n)} documents × {fmt.count(per)} tokens = {fmt.tokens(n * per)} tokens",
                f"{claim.source_id}'s own self-hosted rate ({claim.inputs[2]}): {fmt.usd(rate)} per 1M tokens"]
    return _compare(claim, total * rate, ctx, f"self-hosted total from {claim.source_id}'s own rate", evidence)


@register("sum_of")
def sum_of(claim: Claim, ctx: Context) -> Verdict:
    """The claimed number is the sum of the ``inputs`` claims' numbers."""
    parts = [ctx.value(i) for i in claim.inputs]
    evidence = [f"{i}: {ctx.value(i):,.6g} {ctx.claim(i).unit}" for i in claim.inputs]
    return _compare(claim, sum(parts), ctx, f"sum of {join(claim.inputs)}", evidence)


@register("remainder_of")
def remainder_of(claim: Claim, ctx: Context) -> Verdict:
    """The claimed number is the last input's number minus the others' (one share of a total)."""
    *others, total = claim.inputs
    evidence = [f"{i}: {ctx.value(i):,.6g} {ctx.claim(i).unit}" for i in claim.inputs]
    return _compare(claim, ctx.value(total) - sum(ctx.value(i) for i in others), ctx,
                    f"{total} minus {join(others)}", evidence)


@register("implied_tokens")
def implied_tokens(claim: Claim, ctx: Context) -> Verdict:
    """inputs: documents, then cost claims: the tokens per document each cost implies at its model's price."""
    n = ctx.value(claim.inputs[0])
    day = ctx.price_date(claim.source_id)
    implied = {}
    for cid in claim.inputs[1:]:
        cost = ctx.claim(cid)
        price = costs.price_on(str(cost.model_id), day, source=claim.source_id)
        implied[cid] = float(cost.value or 0) / (n * price.input_per_mtok / 1e6)
    checks = [costs.check_claim(claim.claim_id, v, rel_tol=ctx.tolerance) for v in implied.values()]
    evidence = tuple(f"{cid} at {claim.source_id}'s price implies {fmt.count(v)} tokens per document"
                     for cid, v in implied.items())
    ok = all(c.agrees for c in checks)
    spread = fmt.span(min(implied.values()), max(implied.values()))
    return Verdict("consistent" if ok else "contradicted",
                   f"The source's own totals imply {spread} input tokens per document"
                   + ("." if ok else f", not {fmt.count(claim.value)}."), evidence,
                   derived=sum(implied.values()) / len(implied))


@register("routing_cost")
def routing_cost(claim: Claim, ctx: Context) -> Verdict:
    """inputs: the two route claims (documents, with their model) and the tokens per document."""
    routes = {str(ctx.claim(i).model_id): int(ctx.value(i)) for i in claim.inputs[:2]}
    per = int(ctx.value(claim.inputs[2]))
    table = costs.routing_cost(routes, input_tokens=per, output_tokens=0, on=ctx.price_date(claim.source_id),
                               source=claim.source_id).set_index("route")
    key = claim.model_id or "routed total"
    evidence = [_s2_prices(claim, ctx, m) for m in routes]
    evidence.append(", ".join(f"{fmt.count(n)} documents to {model_name(m)}" for m, n in routes.items())
                    + f", {fmt.count(per)} input tokens each (output left out, as the source does)")
    what = f"cost of the {model_name(key)} share" if claim.model_id else "routed total"
    return _compare(claim, float(table.at[key, "total_usd"]), ctx, what, evidence)


@register("relative_price")
def relative_price(claim: Claim, ctx: Context) -> Verdict:
    """``models``: the cheaper model, then its rivals. Judged on input prices (the basis of the source's
    own arithmetic); the output-price saving is reported beside it."""
    day = ctx.price_date(claim.source_id)
    cheap, *rivals = claim.models
    mine = costs.price_on(cheap, day, source=claim.source_id)
    results, evidence = [], []
    for rival in rivals:
        theirs = costs.price_on(rival, day, source=claim.source_id)
        on_in = 100 * (1 - mine.input_per_mtok / theirs.input_per_mtok)
        on_out = 100 * (1 - mine.output_per_mtok / theirs.output_per_mtok)
        results.append((rival, costs.check_claim(claim.claim_id, on_in, rel_tol=ctx.tolerance), on_out))
        evidence.append(f"vs {model_name(rival)} ({claim.source_id}, {day.isoformat()}): input "
                        f"{fmt.usd(mine.input_per_mtok)} vs {fmt.usd(theirs.input_per_mtok)} ({fmt.pct(on_in)} cheaper), "
                        f"output {fmt.usd(mine.output_per_mtok)} vs {fmt.usd(theirs.output_per_mtok)} "
                        f"({fmt.pct(on_out)} cheaper)")
    ok = all(c.agrees for _, c, _ in results)
    finding = (f"On input prices {model_name(cheap)} is "
               + join(f"{fmt.pct(c.derived)} cheaper than {model_name(r)}" for r, c, _ in results)
               + "; on output prices " + join(f"{fmt.pct(o)}" for _, _, o in results) + ".")
    return Verdict("consistent" if ok else "contradicted", finding, tuple(evidence),
                   derived=min(c.derived for _, c, _ in results))


# --------------------------------------------------------------------------------------------
# Self-hosting and routing savings: what the claims would need
# --------------------------------------------------------------------------------------------
@register("selfhost_rate")
def selfhost_rate(claim: Claim, ctx: Context) -> Verdict:
    """A self-hosted price per 1M tokens: the throughput it needs per dollar-hour of GPU rent."""
    rate = float(claim.value or 0)
    tps = 1e6 / (rate * 3600)
    assert abs(costs.self_host_cost_per_mtok(1.0, tps, 1.0) - rate) < 1e-9
    return Verdict(
        "unverifiable offline",
        f"{fmt.usd(rate)} per 1M tokens needs {fmt.count(tps)} tokens/s sustained for every dollar per hour "
        "the deployment rents for, busy all the time.",
        (f"costs.self_host_cost_per_mtok(1, {tps:,.0f}, 1) = {fmt.usd(rate)} (USD per hour, tokens/s, busy share)",),
        settle=f"the hourly price of a GPU deployment that holds {model_name(str(claim.model_id))} and its measured "
               "throughput on it (rows in data/ with their URLs; chapter 05 measures throughput on this machine).",
        derived=tps)


@register("breakeven_volume")
def breakeven_volume(claim: Claim, ctx: Context) -> Verdict:
    """A break-even volume: the monthly rent it implies against the source's dearest input price
    (:func:`workbench.costs.breakeven`: the rent is fixed, the API bill grows with the volume).
    inputs: the source's self-hosted rate per 1M tokens."""
    volume = float(claim.value or 0)
    day = ctx.price_date(claim.source_id)
    prices = catalog.prices()
    own = prices[(prices["source_id"] == claim.source_id) & (prices["observed"].dt.date == day)]
    dearest = own.loc[own["input_per_mtok"].idxmax()]
    rent = volume * float(dearest["input_per_mtok"]) / 1e6
    hourly = rent / costs.HOURS_PER_MONTH
    rate = ctx.value(claim.inputs[0])
    return Verdict(
        "unverifiable offline",
        f"Breaking even at {fmt.tokens(volume)} tokens a month against {model_name(dearest['model_id'])} "
        f"({fmt.usd(dearest['input_per_mtok'])} per 1M input tokens) means renting the deployment for "
        f"{fmt.usd(rent)} a month, {fmt.usd(hourly)} per hour.",
        (f"{claim.source_id}'s dearest input price ({day.isoformat()}): {_quote(dearest)}",
         f"{claim.source_id}'s own self-hosted rate would bill that volume {fmt.usd(volume * rate / 1e6)}",
         f"hours per month: {costs.HOURS_PER_MONTH:g}"),
        settle=f"a GPU rental price per hour for a deployment that holds {model_name(str(claim.model_id))} (a "
               f"row in data/ with its URL); the claim holds only at {fmt.usd(hourly)} per hour or less.",
        derived=hourly)


@register("router_saving")
def router_saving(claim: Claim, ctx: Context) -> Verdict:
    """``models``: the small model, then the flagship. A saving s needs a share s / (1 - price ratio) of
    the traffic to go to the small model; that share is a property of the traffic, not of the prices."""
    small, flagship = claim.models[:2]
    day = ctx.price_date(claim.source_id)
    a = costs.price_on(small, day, source=claim.source_id)
    b = costs.price_on(flagship, day, source=claim.source_id)
    saving = float(claim.value or 0) / 100
    ratio_in, ratio_out = a.input_per_mtok / b.input_per_mtok, a.output_per_mtok / b.output_per_mtok
    share_in, share_out = saving / (1 - ratio_in), saving / (1 - ratio_out)
    return Verdict(
        "unverifiable offline",
        f"A {fmt.pct(100 * saving)} saving needs "
        f"{fmt.span(100 * min(share_in, share_out), 100 * max(share_in, share_out), '{:.0f} %')} of the queries "
        f"to go to {model_name(small)} "
        f"(it costs {fmt.pct(100 * ratio_in, 0)} of {model_name(flagship)}'s input price).",
        tuple(f"{claim.source_id} ({day.isoformat()}): {model_name(m)} {fmt.usd(r.input_per_mtok)} / "
              f"{fmt.usd(r.output_per_mtok)} per 1M tokens" for m, r in ((small, a), (flagship, b))),
        settle="per-item outcomes of both models on the same queries, to learn which share the small model "
               "answers as well: " + record_command([small, flagship], ["mmlu", "gsm8k"]),
        derived=min(share_in, share_out))


# --------------------------------------------------------------------------------------------
# S2's image-token arithmetic
# --------------------------------------------------------------------------------------------
@register("tile_formula")
def tile_formula(claim: Claim, ctx: Context) -> Verdict:
    """The source's stated image tokens (``tokens_WxH``) or saving (``saving_A_vs_B``) against its own
    printed formula (:func:`workbench.tokens.s2_printed_tile_formula`); the provider's documented rule
    (for the model, or GPT-4o's when the model has none) is reported beside it."""
    sides = [int(s) for s in re.findall(r"\d+", str(claim.quantity))]
    printed = {s: tokens.s2_printed_tile_formula(s, s) for s in sides}
    model = str(claim.model_id or "gpt-4o")
    try:
        documented = {s: tokens.image_tokens(model, s, s).tokens for s in sides}
        doc_model = model
    except tokens.NoDocumentedRuleError:
        doc_model = "gpt-4o"
        documented = {s: tokens.image_tokens(doc_model, s, s).tokens for s in sides}
    evidence = [f"printed formula ({join(claim.inputs)}): " + ", ".join(f"{s} × {s} → {fmt.count(t)} tokens"
                                                                      for s, t in printed.items()),
                f"documented rule for {model_name(doc_model)}: " + ", ".join(
                    f"{s} × {s} → {fmt.count(t)} tokens" for s, t in documented.items())
                + f" ({doc_text(rule_row(doc_model, 'image', 'per_tile_tokens'))})"]
    if doc_model != model:
        evidence.append(f"the providers' pages document no image rule for {model_name(model)}")
    if str(claim.quantity).startswith("saving"):
        small, large = sides
        derived = 100 * (1 - printed[small] / printed[large])
        documented_saving = 100 * (1 - documented[small] / documented[large])
        evidence.append(f"saving under the documented rule: {fmt.pct(documented_saving)}")
        return _compare(claim, derived, ctx, "saving from the printed formula", evidence)
    return _compare(claim, float(printed[sides[0]]), ctx, f"tokens from the printed formula for {sides[0]} × "
                    f"{sides[0]}", evidence)
