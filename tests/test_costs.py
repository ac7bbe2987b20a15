"""workbench.costs and workbench.dated_prices: prices on a date with every tier (disagreements flagged), request /
workload / routing costs, S2's published arithmetic re-derived from S2's own prices, and self-hosting break-even."""
from __future__ import annotations

import warnings
from datetime import date

import pytest
from workbench import catalog, costs, tokens

S2_DAY = "2026-05-24"


# ---------------------------------------------------------------------------------------------- prices
def test_latest_observation_on_or_before_the_date() -> None:
    before_cut = costs.price_on("gpt-4o", "2024-08-01")
    assert before_cut.observed == date(2024, 7, 1) and before_cut.source_ids == ("S4",)
    latest = costs.price_on("gpt-4o")
    observed = catalog.prices()["observed"].dt.date
    assert latest.on == costs.latest_price_date() == observed[observed <= date.today()].max()
    assert latest.input_per_mtok < before_cut.input_per_mtok          # the GPT-4o cut
    # a scheduled price counts from its own date: Gemini 3.8 Flash doubles on 2027-01-01
    assert costs.price_on("gemini-3.8-flash", "2026-12-31").input_per_mtok == 0.75
    assert costs.price_on("gemini-3.8-flash", "2027-01-01").input_per_mtok == 1.5


def test_each_tier_is_its_own_latest_observation() -> None:
    before = costs.price_on("claude-sonnet-5-5", "2026-10-01")
    after = costs.price_on("claude-sonnet-5-5", "2026-12-01")
    assert (before.cached_input_per_mtok, after.cached_input_per_mtok) == (0.2, 0.1)   # the cut of 2026-10-07
    assert after.cache_write_per_mtok == 2.5 and after.cache_write_long_per_mtok == 4 and after.cache_ttls == "5m;1h"
    assert after.observed == date(2026, 12, 1) and after.tier_sources["cached_input_per_mtok"][1] == date(2026, 10, 7)
    assert after.third_party == ("cached_input_per_mtok",) and after.batch_multiplier == 0.5
    # the input date's page states no output price: the latest row that does (S2's) gives it
    flash = costs.price_on("gemini-2.5-flash", "2026-12-01")
    assert flash.observed == date(2026, 10, 7) and flash.output_per_mtok == 2.5
    assert flash.tier_sources["output_per_mtok"] == ("S2", date(2026, 5, 24)) and flash.audio_input_per_mtok == 1.0
    # an article's own prices know none of the tiers
    assert costs.price_on("gemini-2.5-flash", S2_DAY, "S2").audio_input_per_mtok is None
    with pytest.raises(ValueError, match="name: 'cheap' is not a price tier"):
        flash.tier("cheap")


def test_disagreeing_sources_are_flagged_never_silently_resolved() -> None:
    with pytest.warns(costs.PriceConflictWarning, match="S0.*S1"):
        low = costs.price_on("gpt-4o", date(2024, 12, 1))
    assert low.conflict and {q.source_id for q in low.quotes} == {"S0", "S1"}
    assert low.input_per_mtok == min(q.input_per_mtok for q in low.quotes) and "lowest" in low.rule
    with pytest.warns(costs.PriceConflictWarning):
        high = costs.price_on("gpt-4o", date(2024, 12, 1), on_conflict="highest")
    assert high.input_per_mtok == max(q.input_per_mtok for q in low.quotes)
    with pytest.raises(ValueError, match="disagree"):
        costs.price_on("gpt-4o", date(2024, 12, 1), on_conflict="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s1 = costs.price_on("gpt-4o", date(2024, 12, 1), source="S1")
    assert not s1.conflict and s1.source_ids == ("S1",)


def test_agreeing_sources_merge_and_keep_a_per_image_price() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = costs.price_on("claude-3-5-sonnet-20240620", "2024-11-30")
    assert not row.conflict and row.source_ids == ("S0", "S1") and row.per_image_usd is not None


def test_price_errors_name_the_bad_value() -> None:
    with pytest.raises(costs.NoPriceError, match="gpt-4o.*2024-01-01"):
        costs.price_on("gpt-4o", "2024-01-01")
    with pytest.raises(catalog.UnknownNameError, match="gpt-9"):
        costs.price_on("gpt-9")
    with pytest.raises(ValueError, match="on: expected an ISO date like '2026-12-01', got '24 May'"):
        costs.price_on("gpt-4o", "24 May")
    with pytest.raises(catalog.UnknownNameError, match="S9"):
        costs.price_on("gpt-4o", source="S9")
    with pytest.raises(ValueError, match="on_conflict"):
        costs.price_on("gpt-4o", on_conflict="average")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- costs
def test_request_cost_is_tokens_times_price() -> None:
    p = costs.price_on("gpt-5.5")
    assert costs.request_cost("gpt-5.5", 1234, 567) == pytest.approx(
        (1234 * p.input_per_mtok + 567 * p.output_per_mtok) / 1e6)
    with pytest.raises(ValueError, match="output_tokens"):
        costs.request_cost("gpt-5.5", 10, -1)
    with pytest.raises(ValueError, match="input_tokens"):
        costs.request_cost("gpt-5.5", 1.5, 1)  # type: ignore[arg-type]


def test_images_use_a_quoted_per_image_price_or_the_providers_token_rule() -> None:
    quoted = costs.price_on("claude-3-5-sonnet-20240620", "2024-11-30")
    assert costs.request_cost("claude-3-5-sonnet-20240620", 0, 0, "2024-11-30", images=3) == \
        pytest.approx(3 * quoted.per_image_usd)
    p = costs.price_on("claude-opus-4-7")
    per_image = tokens.image_tokens("claude-opus-4-7", 1024, 768).tokens
    assert costs.request_cost("claude-opus-4-7", 100, 0, images=2, image_size=(1024, 768)) == \
        pytest.approx((100 + 2 * per_image) * p.input_per_mtok / 1e6)
    with pytest.raises(ValueError, match="image_size"):
        costs.request_cost("claude-opus-4-7", 100, 0, images=1)


def test_blended_price_and_mix_table() -> None:
    p = costs.price_on("gemini-2.5-flash", S2_DAY)
    assert costs.blended_price("gemini-2.5-flash", 0.0, S2_DAY) == p.input_per_mtok
    assert costs.blended_price("gemini-2.5-flash", 1.0, S2_DAY) == p.output_per_mtok
    table = costs.mix_table(["gemini-2.5-flash", "gpt-5.5"], S2_DAY, shares=[0, 0.5, 1])
    assert len(table) == 6
    half = table[table["output_share"] == 0.5].set_index("model_id")["usd_per_mtok"]
    for m in ("gemini-2.5-flash", "gpt-5.5"):
        q = costs.price_on(m, S2_DAY)
        assert half[m] == pytest.approx((q.input_per_mtok + q.output_per_mtok) / 2)
    with pytest.raises(ValueError, match="output_share"):
        costs.blended_price("gpt-5.5", 1.5)


def test_s2_ten_thousand_documents_reproduced_from_the_price_table() -> None:
    n, per_doc = int(catalog.claim("s2_docs_n")), int(catalog.claim("s2_docs_tokens"))
    claims = catalog.claims().set_index("claim_id")
    ids = ["s2_docs_gpt55", "s2_docs_opus47", "s2_docs_gemini31pro", "s2_docs_gemini25flash"]
    models = [claims.at[i, "model_id"] for i in ids]
    table = costs.workload_cost(models, documents=n, input_tokens=per_doc, output_tokens=0, on=S2_DAY,
                                source="S2").set_index("model_id")
    for claim_id, model in zip(ids, models):
        assert costs.check_claim(claim_id, table.at[model, "total_usd"]).agrees, claim_id
    with_output = costs.workload_cost(models, documents=n, input_tokens=per_doc, output_tokens=300, on=S2_DAY,
                                      source="S2")
    assert (with_output["total_usd"].to_numpy() > table.loc[models, "total_usd"].to_numpy()).all()


def test_routing_adds_up_and_compares_with_a_baseline() -> None:
    simple, hard = int(catalog.claim("s2_route_simple_n")), int(catalog.claim("s2_route_complex_n"))
    out = costs.routing_cost({"gemini-2.5-flash": simple, "claude-opus-4-7": hard}, input_tokens=1000,
                             output_tokens=0, on=S2_DAY, baseline="claude-opus-4-7", source="S2").set_index("route")
    assert out.at["routed total", "total_usd"] == pytest.approx(catalog.claim("s2_route_total"))
    assert out.at["routed total", "total_usd"] == pytest.approx(
        out.at["gemini-2.5-flash", "total_usd"] + out.at["claude-opus-4-7", "total_usd"])
    base = out.at["all to claude-opus-4-7", "total_usd"]
    assert out.at["routed total", "saving_vs_baseline"] == pytest.approx(1 - catalog.claim("s2_route_total") / base)
    with pytest.raises(ValueError, match="routes"):
        costs.routing_cost({}, input_tokens=1, output_tokens=1)
    with pytest.raises(catalog.UnknownNameError, match="gpt-9"):
        costs.routing_cost({"gpt-9": 1}, input_tokens=1, output_tokens=1)


# ---------------------------------------------------------------------------------------------- self-hosting
def test_breakeven_arithmetic() -> None:
    b = costs.breakeven(2.0, 1000, 0.5, api_price_per_mtok=5.0, hours_per_month=730)
    assert b.cost_per_mtok == pytest.approx(2.0 / (1000 * 3600 * 0.5) * 1e6)
    assert b.monthly_fixed_cost == pytest.approx(2.0 * 730)
    assert b.breakeven_tokens_per_month == pytest.approx(2.0 * 730 / 5.0 * 1e6)
    assert b.beats_api and b.breakeven_tokens_per_month < b.monthly_capacity_tokens
    never = costs.breakeven(2.0, 1000, 0.5, api_price_per_mtok=0.3)
    assert never.cost_per_mtok > 0.3 and never.breakeven_tokens_per_month is None and not never.beats_api


def test_breakeven_errors_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="utilisation"):
        costs.breakeven(2.0, 1000, 1.5, api_price_per_mtok=1)
    with pytest.raises(ValueError, match="tokens_per_second"):
        costs.breakeven(2.0, 0, 0.5, api_price_per_mtok=1)
    with pytest.raises(ValueError, match="gpu_cost_per_hour"):
        costs.breakeven(-1, 10, 0.5, api_price_per_mtok=1)
    with pytest.raises(ValueError, match="api_price_per_mtok"):
        costs.breakeven(1, 10, 0.5, api_price_per_mtok=0)


def test_s2_self_hosting_rederives_the_claims_from_three_inputs() -> None:
    api = {"gpt-5.5": 12.0, "gpt-4o-mini": 0.3}
    s2 = costs.s2_self_hosting(2.0, 1000, 0.5, api, hours_per_month=730)
    per_mtok = 2.0 / (1000 * 3600 * 0.5) * 1e6          # $1.11 per 1M tokens
    assert s2.cost_per_mtok == pytest.approx(per_mtok)
    assert s2.claimed_cost == (catalog.claim("s2_selfhost_low"), catalog.claim("s2_selfhost_high")) == (0.5, 1.0)
    assert s2.claimed_breakeven == (5e6, 1e7)
    # the throughput at which $2/h gives S2's $0.50 and $1.00
    assert s2.needed_tps == pytest.approx((per_mtok * 1000 / 0.5, per_mtok * 1000 / 1.0))
    assert s2.monthly_rent == pytest.approx(1460.0)
    assert s2.first_beaten == "gpt-5.5" and not s2.breakevens["gpt-4o-mini"].beats_api
    assert s2.dearest_api == "gpt-5.5"
    # S2's 5M and 10M tokens a month pay $1,460 only at $292 and $146 per 1M tokens
    assert s2.api_price_needed == pytest.approx((1460 / 5, 1460 / 10))
    assert s2.hourly_needed == pytest.approx((5 * 12 / 730, 10 * 12 / 730))
    ids = [c.claim_id for c in s2.checks]
    assert ids == ["s2_selfhost_low", "s2_selfhost_high", "s2_breakeven_low", "s2_breakeven_high"]
    assert not any(c.agrees for c in s2.checks)          # $1.11 is outside 0.50-1.00 by more than 5 %
    assert s2.checks[2].derived == pytest.approx(1460 / 12 * 1e6)
    cheap = costs.s2_self_hosting(2.0, 1000, 0.5, {"gpt-4o-mini": 0.3})
    assert cheap.first_beaten is None and len(cheap.checks) == 2
    with pytest.raises(ValueError, match="api_prices"):
        costs.s2_self_hosting(2.0, 1000, 0.5, {})
    with pytest.raises(ValueError, match="utilisation"):
        costs.s2_self_hosting(2.0, 1000, 0, api)


def test_output_share_and_quoted_models() -> None:
    assert costs.output_share(1000, 300) == pytest.approx(300 / 1300)
    assert costs.output_share(0, 5) == 1.0
    with pytest.raises(ValueError, match="output_tokens"):
        costs.output_share(0, 0)
    with pytest.raises(ValueError, match="input_tokens"):
        costs.output_share(-1, 3)
    then = costs.quoted_models("2024-11-30")
    assert then == ["claude-3-5-sonnet-20240620", "claude-3-haiku-20240307", "gemini-1.5-pro", "gemini-2.0-flash",
                    "gpt-4o", "gpt-4o-mini"]                       # S0, S1 and S4's models, none retired yet
    today = costs.quoted_models("2026-12-01")
    assert {"gpt-6.2-sol", "claude-opus-5-5", "gemini-3.8-flash", "gpt-4o"} <= set(today)   # gpt-4o: deprecated
    assert not {"claude-3-5-sonnet-20240620", "gemini-2.5-flash", "gpt-4o-audio-preview"} & set(today)  # retired
    with pytest.raises(costs.NoPriceError, match="price_date: no price .* 1999-01-01"):
        costs.quoted_models("1999-01-01", param="price_date")


def test_price_disputes_and_the_largest_cut() -> None:
    disputes = costs.price_disputes()
    gpt4o = disputes[disputes["model_id"] == "gpt-4o"]
    assert set(gpt4o["source_id"]) >= {"S0", "S1"}          # S0 and S1 disagree on GPT-4o in Nov 2024
    for _, g in disputes.groupby(["model_id", "observed"]):
        assert g["input_per_mtok"].nunique() > 1 or g["output_per_mtok"].dropna().nunique() > 1
    # S0 and S1 agree on Claude 3.5 Sonnet in Nov 2024 (S0 adds a per-image price): not a dispute
    assert disputes[disputes["model_id"] == "claude-3-5-sonnet-20240620"].empty
    cut = costs.largest_price_cut()
    rows = costs.price_history([cut.model_id])
    assert cut.from_usd == rows.loc[rows["observed"] == rows["observed"].min(), "input_per_mtok"].max()
    assert cut.to_usd == rows.loc[rows["observed"] > rows["observed"].min(), "input_per_mtok"].min()
    assert 0 < cut.fall < 1 and cut.from_date < cut.to_date


def test_check_claim_verdicts() -> None:
    claimed = catalog.claim("s2_cheaper_pct")
    assert costs.check_claim("s2_cheaper_pct", claimed * 1.04).agrees
    off = costs.check_claim("s2_cheaper_pct", claimed * 0.8)
    assert not off.agrees and off.difference == pytest.approx(-0.2 * claimed)
    with pytest.raises(catalog.UnknownNameError, match="s2_nope"):
        costs.check_claim("s2_nope", 1.0)
