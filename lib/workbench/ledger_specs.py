"""Claims about what a model is and takes: specs, limits, documented rules, SDK calls and architecture.

* ``spec_documented``: a context window, output cap or media limit against an independent row of
  ``data/`` (the provider's page, another source); the source's own row restated is not evidence;
* ``image_limit`` / ``video_in_context``: a limit against the documented token rules it implies;
* ``doc_rule_value``: a constant of an image rule against the provider's documentation rows;
* ``sdk``: an SDK call or request format against the pinned SDKs (:mod:`workbench.api_claims`);
* ``internals``: how a model is built inside, which no provider documents in ``data/``.
"""
from __future__ import annotations

import fnmatch
import math

import pandas as pd

from . import api_claims, catalog, fmt, tokens
from .ledger_verdicts import Claim, Context, Verdict, join, model_name, register

__all__ = ["doc_text", "rule_row"]  # and the checks, reached through the registry of ledger_verdicts


def rule_row(model: str, modality: str, parameter: str) -> pd.Series:
    """The ``data/media_token_rules.csv`` row behind a documented rule value for ``model`` (the most
    specific matching scope, as :mod:`workbench.tokens` picks it): value, page URL, date checked, notes."""
    rules = catalog.media_token_rules()
    rows = rules[(rules["modality"] == modality) & (rules["parameter"] == parameter)]
    best, best_len = None, -1
    for _, row in rows.iterrows():
        for pattern in str(row["model_scope"]).split():
            if fnmatch.fnmatchcase(model, pattern) and len(pattern.rstrip("*")) > best_len:
                best, best_len = row, len(pattern.rstrip("*"))
    if best is None:
        raise KeyError(f"model: no documented {modality} {parameter!r} rule covers {model!r}")
    return best


def doc_text(row: pd.Series) -> str:
    """A documentation row as evidence: ``parameter = value (URL, checked DATE)``."""
    return (f"{row['parameter']} = {row['value']:g} {row['unit']} for {row['model_scope']} "
            f"({row['source_id']}, checked {pd.Timestamp(row['checked']).date().isoformat()})")


def _same(a: float, b: float, tolerance: float) -> bool:
    return math.isclose(a, b, rel_tol=tolerance)


def _independent(claim: Claim, model: str, ctx: Context) -> list[tuple[str, float, str]]:
    """(where, value, source) of every row of data/ stating the claim's quantity for ``model`` that does
    not come from the claim's own source."""
    quantity, out = str(claim.quantity), []
    models = catalog.models().set_index("model_id")
    if quantity in models.columns and model in models.index:
        value, src = models.at[model, quantity], str(models.at[model, "source_id"])
        if not pd.isna(value) and src != claim.source_id:
            out.append(("data/models.csv", float(value), src))
    limits = catalog.limits()
    rows = limits[(limits["model_id"] == model) & (limits["limit"] == quantity)
                  & (limits["source_id"] != claim.source_id)]
    out += [("data/limits.csv", float(r.value), str(r.source_id)) for r in rows.itertuples()]
    out += [(f"claim {c.claim_id}", float(c.value), c.source_id) for c in ctx.claims.values()
            if c.source_id != claim.source_id and c.quantity == quantity and model in c.subjects
            and c.value is not None]
    return out


@register("spec_documented")
def spec_documented(claim: Claim, ctx: Context) -> Verdict:
    """A stated spec or limit against independent rows of data/ (another source or the provider's page)."""
    claimed, unit = float(claim.value or 0), str(claim.unit)
    rows = [(m, r) for m in claim.subjects for r in _independent(claim, m, ctx)]
    evidence = [f"{where} ({src}): {model_name(m)} {claim.quantity} = {v:,.6g} {unit}" for m, (where, v, src) in rows]
    if rows:
        off = [(m, r) for m, r in rows if not _same(r[1], claimed, ctx.tolerance)]
        return Verdict("contradicted" if off else "consistent",
                       (f"{join(sorted({r[2] for _, r in off}))} states {join(f'{r[1]:,.6g} {unit}' for _, r in off)}."
                        if off else f"{join(sorted({r[2] for _, r in rows}))} states the same."),
                       tuple(evidence))
    own = catalog.models().set_index("model_id")
    subjects = [model_name(m) for m in claim.subjects]
    restated = [f"data/models.csv restates it from {own.at[m, 'source_id']} itself (not independent evidence)"
                for m in claim.subjects if m in own.index and claim.quantity in own.columns
                and str(own.at[m, "source_id"]) == claim.source_id]
    return Verdict("unverifiable offline", f"Only {claim.source_id} states this in data/.",
                   tuple(restated) or (f"no row of data/ states {claim.quantity} for {join(subjects)}",),
                   settle=f"the provider's model page for {join(model_name(m) for m in claim.subjects)}: a row of "
                          "data/models.csv or data/limits.csv citing its URL and the date it was read.")


@register("image_limit")
def image_limit(claim: Claim, ctx: Context) -> Verdict:
    """A long-edge limit and its megapixels (``data/limits.csv``, same source) against the documented
    image-token budget times the patch area."""
    model = str(claim.model_id)
    limits = catalog.limits()
    mp_rows = limits[(limits["model_id"] == model) & (limits["limit"] == "image_megapixels")
                     & (limits["source_id"] == claim.source_id)]
    budget, patch = (rule_row(model, "image", p) for p in ("max_tokens", "patch_px"))
    derived = float(budget["value"]) * float(patch["value"]) ** 2 / 1e6
    stated = float(mp_rows["value"].iloc[0]) if not mp_rows.empty else math.nan
    short = stated * 1e6 / float(claim.value or 1)
    evidence = (f"token budget: {doc_text(budget)}; notes: {budget['notes']}",
                f"patch: {doc_text(patch)}",
                f"data/limits.csv ({claim.source_id}): {fmt.count(claim.value)} px long edge, {stated:g} MP")
    ok = _same(derived, stated, ctx.tolerance)
    third_party = not str(budget["source_id"]).startswith(("https://platform.claude.com", "https://docs.anthropic"))
    finding = (f"{fmt.count(budget['value'])} tokens of {patch['value']:g} × {patch['value']:g} px is {derived:.2f} MP, "
               f"{'matching' if ok else 'not'} the stated {stated:g} MP; at {fmt.count(claim.value)} px on the long "
               f"edge that is a {fmt.count(claim.value)} × {fmt.count(short)} image."
               + (" The token budget comes from a third-party page, not the provider's." if third_party else ""))
    return Verdict("consistent" if ok else "contradicted", finding, evidence, derived=derived)


@register("video_in_context")
def video_in_context(claim: Claim, ctx: Context) -> Verdict:
    """A video length against the documented video token rate and the model's context window."""
    model, minutes = str(claim.model_id), float(claim.value or 0)
    needed = tokens.video_tokens(model, minutes * 60)
    table = catalog.models().set_index("model_id")
    window, src = table.at[model, "context_window"], table.at[model, "source_id"]
    fits = needed <= int(window)
    evidence = (f"documented rate: {doc_text(rule_row(model, 'video', 'tokens_per_second'))}",
                f"context window of {model_name(model)}: {fmt.tokens(window)} tokens (data/models.csv, {src})")
    return Verdict("consistent" if fits else "contradicted",
                   f"{minutes:g} minutes of video is {fmt.tokens(needed)} tokens at the documented rate, "
                   f"{'inside' if fits else 'beyond'} the {fmt.tokens(window)}-token context.",
                   evidence, derived=float(needed))


_RULE_PARAMETER = {"tokens_per_tile": "per_tile_tokens", "base_tokens": "base_tokens", "tile_px": "tile_px"}


@register("doc_rule_value")
def doc_rule_value(claim: Claim, ctx: Context) -> Verdict:
    """A constant of OpenAI's image rule (tile size, tokens per tile, base tokens) against the provider's
    documentation rows, scope by scope."""
    parameter = _RULE_PARAMETER[str(claim.quantity)]
    rules = catalog.media_token_rules()
    rows = rules[(rules["provider"] == "openai") & (rules["modality"] == "image") & (rules["parameter"] == parameter)]
    claimed = float(claim.value or 0)
    match = rows[rows["value"] == claimed]
    evidence = tuple(f"documented: {doc_text(r)}" for _, r in rows.iterrows())
    if match.empty:
        return Verdict("contradicted", f"No documented OpenAI scope uses {claimed:g} for {parameter}.", evidence)
    scopes = join("every OpenAI model with a tile rule" if s == "*" else str(s) for s in match["model_scope"])
    others = rows[rows["value"] != claimed]
    rest = ("; " + join(f"{r.model_scope} uses {r.value:g}" for r in others.itertuples())) if not others.empty else ""
    return Verdict("consistent", f"OpenAI documents {claimed:g} ({parameter}) for {scopes}{rest}.", evidence)


@register("sdk")
def sdk(claim: Claim, ctx: Context) -> Verdict:
    """An SDK call or a request format, checked by introspection of the pinned SDKs."""
    results = api_claims.check(str(claim.quantity))
    evidence = [f"{r.package}: {r.seen}" + (f" ({r.hint})" if r.hint else "") for r in results]
    failed = [r for r in results if not r.holds]
    if not failed:
        what = "has this call" if claim.kind == "api" else "agrees"
        return Verdict("consistent", f"The pinned SDK {what}: {join(r.seen for r in results)}.", tuple(evidence))
    today = [api_claims.successor(r.spec) for r in failed]
    named = [t for t in today if t is not None and t.holds]
    evidence += [f"today's call, checked: {t.spec} ({t.package})" for t in named]
    finding = "Not so in the pinned SDK: " + join(
        r.seen + ("" if "not installed" in r.package else f" ({r.package})") for r in failed) + "."
    if named:
        finding += " Today's call: " + join(f"`{t.spec.split(':', 1)[1]}`" for t in named) + "."
    return Verdict("contradicted", finding, tuple(evidence))


@register("internals")
def internals(claim: Claim, ctx: Context) -> Verdict:
    """How a model is built inside: no provider documents it in data/; another source's view is shown."""
    views = [ctx.claim(i) for i in claim.inputs]
    evidence = [f"{v.source_id} ({v.claim_id}): {v.statement}" for v in views]
    evidence.append("no provider page in data/ describes the internals of "
                    + (join(model_name(m) for m in claim.subjects) or "these models"))
    seen = "".join(f" {v.source_id}'s account: {v.statement}." for v in views)
    return Verdict("unverifiable offline",
                   "Providers do not document how these models are built; the API shows only what they accept."
                   + seen, tuple(evidence),
                   settle="the provider's technical report or model card describing the architecture, added to "
                          "data/sources.csv with its URL.")
