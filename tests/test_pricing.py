"""workbench.pricing: each tier of a bill against a hand-computed bill, the SDKs' usage objects read into the
buckets, prompt caching's break-even, and a workload on each article's date against today."""
from __future__ import annotations

import warnings

import pytest
from workbench import catalog, params, pricing
from workbench.dated_prices import NoPriceError, PriceConflictWarning

TODAY = "2026-12-01"


def bill(model: str, on: str = TODAY, batch: bool = False, **counts: int) -> pricing.Bill:
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no price conflict hides behind these numbers
        return pricing.request_bill(model, pricing.Usage(**counts), on, batch)


def lines(b: pricing.Bill) -> dict[str, float]:
    return {i.component: i.usd for i in b.items}


# ------------------------------------------------------------------------------------------ every tier by hand
def test_standard_input_and_output() -> None:
    # Claude Opus 5.5 (model page): $4 in, $20 out per 1M tokens
    b = bill("claude-opus-5-5", input_tokens=10_000, output_tokens=2_000)
    assert lines(b) == pytest.approx({"input": 10_000 * 4 / 1e6, "output": 2_000 * 20 / 1e6})
    assert b.total == pytest.approx(0.08) and not b.long_context and not b.batch


def test_cache_reads_and_writes_for_each_retention() -> None:
    # Opus 5.5: reads $0.20, 5-minute writes $5, 1-hour writes $8
    b = bill("claude-opus-5-5", input_tokens=1_000, cache_read_input_tokens=100_000,
             cache_creation_input_tokens=50_000, cache_creation_long_input_tokens=20_000, output_tokens=500)
    assert lines(b) == pytest.approx({"input": 0.004, "cache read": 0.02, "cache write (5m)": 0.25,
                                      "cache write (1h)": 0.16, "output": 0.01})
    assert b.total == pytest.approx(0.444)
    # GPT-6.2 Sol: retentions of 30 minutes ($2.50) and 12 hours ($5), reads $0.10
    o = bill("gpt-6.2-sol", cache_read_input_tokens=40_000, cache_creation_input_tokens=10_000,
             cache_creation_long_input_tokens=10_000)
    assert lines(o) == pytest.approx({"cache read": 0.004, "cache write (30m)": 0.025, "cache write (12h)": 0.05})


def test_batch_halves_every_token_line() -> None:
    usage = {"input_tokens": 10_000, "cache_read_input_tokens": 100_000, "output_tokens": 2_000}
    full, half = bill("claude-opus-5-5", **usage), bill("claude-opus-5-5", batch=True, **usage)
    assert half.total == pytest.approx(full.total * 0.5) == pytest.approx((0.04 + 0.02 + 0.04) / 2)
    assert all("batch × 0.5" in i.basis for i in half.items)
    with pytest.raises(NoPriceError, match=r"batch: no batch price for 'gpt-6.1-terra'"):
        bill("gpt-6.1-terra", batch=True, input_tokens=1)


def test_long_context_prices_the_whole_request_above_the_threshold() -> None:
    # GPT-6.2 Sol: above 272,000 prompt tokens input $4 and output $15 for the full request
    at = bill("gpt-6.2-sol", input_tokens=272_000, output_tokens=1_000)
    above = bill("gpt-6.2-sol", input_tokens=272_001, output_tokens=1_000)
    assert not at.long_context and at.total == pytest.approx(272_000 * 2 / 1e6 + 1_000 * 10 / 1e6)
    assert above.long_context and above.total == pytest.approx(272_001 * 4 / 1e6 + 1_000 * 15 / 1e6)
    # cache reads count towards the prompt: Haiku 5.5 above 100,000 pays $0.50 / $2.50 and hits at $0.05
    h = bill("claude-haiku-5-5", input_tokens=95_000, cache_read_input_tokens=10_000, output_tokens=1_000)
    assert h.long_context and h.prompt_tokens == 105_000
    assert lines(h) == pytest.approx({"input": 95_000 * 0.5 / 1e6, "cache read": 10_000 * 0.05 / 1e6,
                                      "output": 1_000 * 2.5 / 1e6})
    # a long rate no page states is the short rate times the stated input ratio: GPT-6 Astra 10 -> 20, cached 1 -> 2
    a = bill("gpt-6-astra", input_tokens=300_000, cache_read_input_tokens=1_000)
    assert lines(a)["cache read"] == pytest.approx(1_000 * 2 / 1e6)
    assert "× 2 (the stated input ratio)" in next(i.basis for i in a.items if i.component == "cache read")


def test_audio_video_and_image_input() -> None:
    # Gemini 2.5 Flash (pricing page, 2026-10-07): video at $0.30 like text, audio $1.00; output $2.50 (S2)
    g = bill("gemini-2.5-flash", "2026-11-01", video_input_tokens=15_480, audio_input_tokens=1_920,
             image_input_tokens=258, output_tokens=300)
    assert lines(g) == pytest.approx({"image input": 258 * 0.3 / 1e6, "video input": 15_480 * 0.3 / 1e6,
                                      "audio input": 1_920 * 1.0 / 1e6, "output": 300 * 2.5 / 1e6})
    # GPT-4o audio (model page): text $2.50 / $10, audio $40 in and $80 out
    o = bill("gpt-4o-audio-preview", input_tokens=100, audio_input_tokens=1_000, audio_output_tokens=500)
    assert lines(o) == pytest.approx({"input": 0.00025, "audio input": 0.04, "audio output": 0.04})
    with pytest.raises(ValueError, match=r"usage: 'claude-opus-5-5' takes no audio input"):
        bill("claude-opus-5-5", audio_input_tokens=10)
    with pytest.raises(NoPriceError, match=r"audio_input_per_mtok.*1,000 audio input tokens"):
        bill("gemini-3.8-flash", audio_input_tokens=1_000)


def test_images_generated_and_minutes_transcribed() -> None:
    hd = pricing.request_bill("dall-e-3", pricing.Usage(images_generated=3), TODAY, image_variant="1024x1024 hd")
    assert hd.total == pytest.approx(0.24) and hd.price is None and "third party" in hd.items[0].basis
    cheapest = pricing.unit_price("dall-e-3")
    assert cheapest.usd == 0.04 and cheapest.variant == "1024x1024 standard" and "cheapest of 4" in cheapest.rule
    assert pricing.request_cost("whisper-1", pricing.Usage(transcribed_minutes=2.5)) == pytest.approx(0.015)
    with pytest.raises(catalog.UnknownNameError, match="variant: unknown dall-e-3 image variant '8k'"):
        pricing.unit_price("dall-e-3", variant="8k")
    with pytest.raises(NoPriceError, match="no price per image for 'gpt-6.2-sol'"):
        pricing.unit_price("gpt-6.2-sol")


def test_bad_usage_names_the_field() -> None:
    with pytest.raises(params.ParameterError, match="output_tokens"):
        pricing.Usage(output_tokens=-1)
    with pytest.raises(params.ParameterError, match="transcribed_minutes"):
        pricing.Usage(transcribed_minutes=float("nan"))
    with pytest.raises(TypeError, match="usage"):
        pricing.request_bill("gpt-6.2-sol", {"input_tokens": 1})  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ the SDKs' usage
def test_usage_from_the_three_sdks() -> None:
    from anthropic.types import Usage as AnthropicUsage
    from google.genai import types as gtypes
    from openai.types import CompletionUsage
    from openai.types.responses import ResponseUsage

    chat = CompletionUsage(prompt_tokens=1_000, completion_tokens=300, total_tokens=1_300,
                           prompt_tokens_details={"cached_tokens": 600, "audio_tokens": 100, "image_tokens": 50},
                           completion_tokens_details={"audio_tokens": 20})
    assert pricing.Usage.from_openai(chat) == pricing.Usage(input_tokens=250, output_tokens=280,
                                                            cache_read_input_tokens=600, image_input_tokens=50,
                                                            audio_input_tokens=100, audio_output_tokens=20)
    resp = ResponseUsage(input_tokens=5_000, output_tokens=100, total_tokens=5_100,
                         input_tokens_details={"cached_tokens": 1_000, "cache_write_tokens": 3_000,
                                               "cache_write_tokens_details": {"ttl_30m_tokens": 2_000,
                                                                              "ttl_12h_tokens": 1_000}},
                         output_tokens_details={"reasoning_tokens": 40})
    u = pricing.Usage.from_openai(resp)
    assert (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens,
            u.cache_creation_long_input_tokens, u.output_tokens) == (1_000, 1_000, 2_000, 1_000, 100)
    claude = AnthropicUsage(input_tokens=20, output_tokens=7, cache_read_input_tokens=900,
                            cache_creation_input_tokens=300,
                            cache_creation={"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200})
    assert pricing.Usage.from_anthropic(claude) == pricing.Usage(input_tokens=20, output_tokens=7,
                                                                  cache_read_input_tokens=900,
                                                                  cache_creation_input_tokens=100,
                                                                  cache_creation_long_input_tokens=200)
    meta = gtypes.GenerateContentResponseUsageMetadata(
        prompt_token_count=2_000, cached_content_token_count=500, candidates_token_count=100, thoughts_token_count=60,
        prompt_tokens_details=[gtypes.ModalityTokenCount(modality="TEXT", token_count=200),
                               gtypes.ModalityTokenCount(modality="VIDEO", token_count=1_500),
                               gtypes.ModalityTokenCount(modality="AUDIO", token_count=300)],
        cache_tokens_details=[gtypes.ModalityTokenCount(modality="VIDEO", token_count=500)])
    assert pricing.Usage.from_gemini(meta) == pricing.Usage(input_tokens=200, output_tokens=160,
                                                             cache_read_input_tokens=500, video_input_tokens=1_000,
                                                             audio_input_tokens=300)
    assert pricing.Usage.from_gemini({"prompt_token_count": 5, "candidates_token_count": 2}).prompt_tokens == 5


# ------------------------------------------------------------------------------------------ caching, tables
def test_cache_breakeven_by_hand() -> None:
    five = pricing.cache_breakeven("claude-opus-5-5", TODAY)
    # write 5, read 0.2, input 4: n > (5 - 0.2) / (4 - 0.2) = 1.26, so 2 requests
    assert (five.write_rate, five.read_rate, five.input_rate, five.requests, five.reuses) == (5, 0.2, 4, 2, 1)
    assert five.cost(2, 1_000) == pytest.approx(((5 + 0.2) * 1_000 / 1e6, 2 * 4 * 1_000 / 1e6))
    hour = pricing.cache_breakeven("claude-opus-5-5", TODAY, long_retention=True)
    assert hour.retention == "1h" and hour.requests == 3          # (8 - 0.2) / 3.8 = 2.05
    implicit = pricing.cache_breakeven("gpt-6-luna", TODAY)      # no write price: the write pays the input rate
    assert implicit.write_rate == implicit.input_rate == 0.1 and implicit.requests == 2
    with pytest.raises(NoPriceError, match="cached-input price for 'gemini-3.1-pro-preview'"):
        pricing.cache_breakeven("gemini-3.1-pro-preview", TODAY)


def test_price_tiers_say_where_each_number_comes_from() -> None:
    t = pricing.price_tiers(["gpt-6.2-sol", "claude-sonnet-5-5"], TODAY).set_index("model_id")
    assert t.at["gpt-6.2-sol", "long_context_above"] == 272_000 and t.at["gpt-6.2-sol", "cache_ttls"] == "30m;12h"
    assert t.at["gpt-6.2-sol", "third_party_tiers"] == ""
    # Sonnet 5.5's cache-read cut of 2026-10-07 rests on a third party's reading of the pricing page
    assert t.at["claude-sonnet-5-5", "cached_input_per_mtok"] == 0.1
    assert "cached_input" in t.at["claude-sonnet-5-5", "third_party_tiers"]


def test_a_workload_on_each_articles_date_and_today() -> None:
    t = pricing.then_and_now(pricing.Usage(input_tokens=1_000, output_tokens=300), documents=10_000,
                             sources=["S1", "S2"], today=TODAY).set_index(["source", "model_id"])
    # S2 prices GPT-5.5 at $5 / $30: 10,000 x (1,000 x 5 + 300 x 30) / 1e6
    assert t.at[("S2", "gpt-5.5"), "usd_then"] == pytest.approx(140.0)
    assert t.at[("S2", "gpt-5.5"), "model_today"] == "gpt-5.5"
    # Gemini 2.5 Flash is retired today: priced as the model its requests are routed to
    flash = t.loc[("S2", "gemini-2.5-flash")]
    assert flash["model_today"] == "gemini-3.5-flash-lite" and flash["status_today"] == "retired"
    # S1's Claude 3 Haiku ($0.25 / $1.25) against its replacement Claude Haiku 4.5 ($1 / $5): four times dearer
    assert t.at[("S1", "claude-3-haiku-20240307"), "ratio"] == pytest.approx(4.0)
    # an article dated after the date asked for is left out
    with pytest.warns(PriceConflictWarning, match="gpt-4o on 2024-11-15"):     # S0 and S1 disagree that month
        early = pricing.then_and_now(pricing.Usage(input_tokens=1, output_tokens=1), sources=["S1", "S2"],
                                     today="2025-01-01")
    assert set(early["source"]) == {"S1"} and (early["model_today"] == early["model_id"]).all()
