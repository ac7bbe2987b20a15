"""workbench.tour: the shared task list of chapters 02-04, its checks, helpers and recorder."""
from __future__ import annotations

import base64

import anthropic
import httpx
import matplotlib
import openai
import pandas as pd
import pytest
from google.genai import types as gtypes
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage
from workbench import catalog, samples, tour

matplotlib.use("Agg")

EXPECTED_TASKS = ["first_call", "multi_turn", "streaming", "image", "image_url", "images", "audio", "video",
                  "tools", "structured", "count_tokens", "concurrency", "errors"]


# ------------------------------------------------------------------------------------------------
# The task list
# ------------------------------------------------------------------------------------------------
def test_the_task_list_follows_the_issue_and_names_a_shape_per_provider():
    assert list(tour.TASKS) == EXPECTED_TASKS
    for t in tour.TASKS.values():
        assert t.prompt and t.title
        assert set(t.shapes) == set(tour.PROVIDERS), t.key
    kinds = {k: [s.mime.split("/")[0] for s in tour.task(k).media()] for k in ("image", "images", "audio", "video")}
    assert kinds == {"image": ["image"], "images": ["image", "image"], "audio": ["audio"], "video": ["video"]}


def test_an_unknown_task_key_is_one_clear_error():
    with pytest.raises(catalog.UnknownNameError, match="key.*vidoe"):
        tour.task("vidoe")


# (task, a right answer, a wrong answer, facts for both)
CASES = [
    ("first_call", "The capital is Paris.", "It is Lyon.", {}),
    ("multi_turn", "You are Ada and you look after supplier invoices.", "You are Bob.", {}),
    ("streaming", "1, 2, 3, 4, 5", "1, 2, 3", {}),
    ("image", "The total due is $152.56.", "The total is 127.13.", {}),
    ("image_url", "An ant.", "A beetle.", {}),
    ("images", "Q4 2024: 18.6; Q4 2025: 21.3", "Q4 2024: 18.6 only", {}),
    ("audio", "Send the final invoice to the finance team by Friday.", "Send the invoice to the fine and steam.", {}),
    ("video", "APPLE, BRIDGE, CANDLE, DRAGON, EAGLE, FOREST", "APPLE, BRIDGE, FALCON", {}),
]


@pytest.mark.parametrize("key,right,wrong,facts", CASES, ids=[c[0] for c in CASES])
def test_text_checks_accept_the_truth_and_reject_a_wrong_answer(key, right, wrong, facts):
    good, bad = tour.task(key).check(right, **facts), tour.task(key).check(wrong, **facts)
    assert good.ok is True and good.score == 1.0 and good.mark == "✓"
    assert bad.ok is False and bad.score < 1.0 and bad.mark == "✗"


def test_the_video_check_wants_the_words_in_order():
    res = tour.task("video").check("BRIDGE, APPLE, CANDLE, DRAGON, EAGLE, FOREST")
    assert res.score == 1.0 and res.ok is False and "not all in order" in res.detail


def test_tool_check_reads_the_final_answer_and_reports_the_arguments():
    right_args = {"subtotal": 127.13, "rate_pct": 20}
    ok = tour.task("tools").check("The total is 152.56 USD.", arguments=right_args,
                                  result=tour.compute_vat(**right_args))
    assert ok.ok and "arguments right" in ok.detail
    wrong = tour.task("tools").check("The total is 127.38.", arguments={"subtotal": 127.13, "rate_pct": 0.2},
                                     result=tour.compute_vat(127.13, 0.2))
    assert wrong.ok is False and "arguments wrong" in wrong.detail
    assert "no tool call" in tour.task("tools").check("152.56", arguments=None, result=None).detail


def test_structured_check_compares_each_field_with_the_invoice():
    truth = samples.invoice().truth
    right = tour.InvoiceFacts(invoice_number=truth["number"], total=truth["total"], currency="usd")
    assert tour.task("structured").check("{}", parsed=right).ok
    half = tour.task("structured").check("{}", parsed={"invoice_number": "ACME", "total": truth["total"],
                                                       "currency": "USD"})
    assert half.ok is False and half.score == pytest.approx(2 / 3) and "invoice_number" in half.detail
    assert tour.task("structured").check("", parsed=None).ok is False


def test_count_check_needs_equal_counts_and_says_when_tokenizers_differ():
    t = tour.task("count_tokens")
    assert t.check("", counted=82, used=82).ok is True
    off = t.check("", counted=80, used=82)
    assert off.ok is False and "+2" in off.detail
    apart = t.check("", counted=46, used=82, comparable=False, counter="tiktoken o200k_base")
    assert apart.ok is None and apart.mark == "–" and "not comparable" in apart.detail


def test_batch_and_fallback_checks():
    items = tour.arithmetic_items(3, seed=1)
    expected = [right for _, right in items]
    answers = [str(expected[0]), f"The answer is {expected[1]}.", f"{expected[2]} is not it: {expected[2] + 1}"]
    res = tour.task("concurrency").check("", answers=answers, expected=expected, call_seconds=[1, 1, 1], wall=1.5)
    assert res.score == pytest.approx(2 / 3) and res.ok is False and "3.0 s added up" in res.detail
    with pytest.raises(ValueError, match="facts"):
        tour.task("concurrency").check("", answers=["1"], expected=[1, 2])
    fell_back = tour.task("errors").check("OK", answered_by="gpt-4o-mini", failures=["gpt-4o: RateLimitError"])
    assert fell_back.ok and "answered by gpt-4o-mini" in fell_back.detail
    assert tour.task("errors").check("", answered_by=None, failures=["a", "b"]).ok is False


def test_a_check_wants_the_answer_text():
    with pytest.raises(TypeError, match="answer"):
        tour.task("first_call").check(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------------
GOOD = {"backend": "local", "model": "gpt-4o", "fallback_model": "gpt-4o-mini", "concurrency": 4, "max_tokens": 48,
        "seed": 0}


def test_check_params_accepts_a_chapter_default():
    out = tour.check_params("openai", audio_model="gpt-4o", **GOOD)
    assert out["sdk"] == "OpenAI" and out["model"] == "gpt-4o"


@pytest.mark.parametrize("change,param,value", [
    ({"backend": "cloud"}, "backend", "cloud"),
    ({"model": "claude-opus-4-7"}, "model", "claude-opus-4-7"),
    ({"model": "gpt-9"}, "model", "gpt-9"),
    ({"fallback_model": "gpt-4o"}, "fallback_model", "gpt-4o"),
    ({"audio_model": "gpt-4o-mini"}, "audio_model", "gpt-4o-mini"),
    ({"concurrency": 0}, "concurrency", "0"),
    ({"max_tokens": 4}, "max_tokens", "4"),
    ({"seed": -1}, "seed", "-1"),
])
def test_check_params_names_the_bad_parameter_and_value(change, param, value):
    kwargs = {**GOOD, "audio_model": None, **change}
    with pytest.raises(ValueError) as info:
        tour.check_params("openai", **kwargs)
    assert param in str(info.value) and value in str(info.value)


def test_token_limit_gives_live_runs_room_to_think():
    assert tour.token_limit("local", 48) == 48
    assert tour.token_limit("live", 48) == tour.LIVE_MIN_TOKENS
    assert tour.token_limit("live", 4096) == 4096


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def test_compute_vat_matches_the_invoice_and_rejects_bad_numbers():
    truth = samples.invoice().truth
    out = tour.compute_vat(truth["subtotal"], truth["tax_rate_pct"])
    assert out == {"subtotal": truth["subtotal"], "vat": truth["tax"], "total": truth["total"]}
    assert tour.compute_vat(0.05, 50) == {"subtotal": 0.05, "vat": 0.03, "total": 0.08}  # half-up, not banker's
    with pytest.raises(ValueError, match="rate_pct"):
        tour.compute_vat(10, float("nan"))
    with pytest.raises(ValueError, match="subtotal"):
        tour.compute_vat("10", 20)  # type: ignore[arg-type]


def test_b64_round_trips_and_arithmetic_items_are_seeded():
    s = samples.sign()
    assert base64.b64decode(tour.b64(s)) == s.data
    a, b = tour.arithmetic_items(5, seed=3), tour.arithmetic_items(5, seed=3)
    assert a == b and a != tour.arithmetic_items(5, seed=4)
    for question, right in a:
        x, y = (int(n) for n in question.split("What is ")[1].split("?")[0].split(" + "))
        assert x + y == right
    with pytest.raises(ValueError, match="n"):
        tour.arithmetic_items(0)


def test_video_frames_sample_one_frame_per_second_with_the_right_picture():
    from workbench.local import media

    clip = samples.clip()
    frames = tour.video_frames(clip, every_s=1.0, max_frames=10)
    assert [f.t for f in frames] == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]
    assert all(f.png.startswith(b"\x89PNG") for f in frames)
    assert clip.truth["segments"][2]["word"] in media.image_to_text(frames[2].png, "image/png")
    assert len(tour.video_frames(clip, every_s=0.5, max_frames=3)) == 3
    with pytest.raises(ValueError, match="sample"):
        tour.video_frames(samples.sign())
    with pytest.raises(ValueError, match="every_s"):
        tour.video_frames(clip, every_s=0)


def test_transcribe_is_the_speech_to_text_step():
    speech = samples.speech()
    text = tour.transcribe(speech)
    assert not text.startswith("Audio:") and "invoice" in text.lower()
    assert samples.word_error_rate(speech.truth["text"], text) < 0.5
    with pytest.raises(ValueError, match="sample"):
        tour.transcribe(samples.sign())


def test_tokens_of_reads_every_sdk_usage_shape():
    assert tour.tokens_of(CompletionUsage(prompt_tokens=10, completion_tokens=3, total_tokens=13)) == (10, 3)
    resp = ResponseUsage(input_tokens=7, output_tokens=2, total_tokens=9,
                         input_tokens_details={"cached_tokens": 0, "cache_write_tokens": 0}, output_tokens_details={"reasoning_tokens": 0})
    assert tour.tokens_of(resp) == (7, 2)
    assert tour.tokens_of(anthropic.types.Usage(input_tokens=5, output_tokens=4)) == (5, 4)
    gem = gtypes.GenerateContentResponseUsageMetadata(prompt_token_count=8, candidates_token_count=3,
                                                      thoughts_token_count=20)
    assert tour.tokens_of(gem) == (8, 23)  # thinking is billed as output
    assert tour.tokens_of(None) == (None, None)
    with pytest.raises(TypeError, match="usage"):
        tour.tokens_of(object())


# ------------------------------------------------------------------------------------------------
# The recorder
# ------------------------------------------------------------------------------------------------
def test_recorder_collects_steps_into_table_summary_findings_and_figure():
    rec = tour.Recorder("openai", "local", "gpt-4o", show=False)
    with rec.task("first_call", "Responses API") as call:
        call.done("Paris.", CompletionUsage(prompt_tokens=40, completion_tokens=5, total_tokens=45))
    with rec.task("streaming") as call:
        call.first_token()
        call.first_token()  # only the first one counts
        call.usage({"input_tokens": 30, "output_tokens": 10})
        call.done("1, 2, 4")
    rec.live_only("image_url", "", "sent inline instead")

    table = rec.table()
    assert list(table["ran"]) == ["offline", "offline", "live only"]
    assert list(table["check"]) == ["✓", "✗", "not run"]
    assert list(table["input tokens"].astype(object)) == [40, 30, pd.NA]
    assert table.loc[2, "first token s"] <= table.loc[2, "latency s"]  # steps count from 1
    s = rec.summary()
    assert (s["steps"], s["ran"], s["checked"], s["passed"]) == (3, 2, 2, 1)
    assert s["live_only"] == ["One image by URL"] and s["input_tokens"] == 70 and s["output_tokens"] == 15
    text = rec.findings()
    assert "2 of 3 steps ran" in text and "1 of 2 checked answers were right" in text and "70 input" in text
    fig = rec.plot()
    assert len(fig.axes[0].patches) == 2
    assert "✓" in rec.card(rec.records[0]) and "live only" in rec.card(rec.records[2])


def test_a_step_must_be_finished_once():
    rec = tour.Recorder("anthropic", "local", "claude-sonnet-4-6", show=False)
    with pytest.raises(RuntimeError, match="call.done"), rec.task("first_call"):
        pass
    assert rec.records == []
    with pytest.raises(RuntimeError, match="already finished"), rec.task("first_call") as call:
        call.done("Paris")
        call.done("Paris")


def test_sdk_errors_raise_offline_and_are_recorded_live():
    error = openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1/responses"))
    offline = tour.Recorder("openai", "local", "gpt-4o", show=False)
    with pytest.raises(openai.APIConnectionError), offline.task("first_call"):
        raise error
    live = tour.Recorder("openai", "live", "gpt-4o", show=False)
    with live.task("first_call"):
        raise error
    assert live.records[0].error.startswith("APIConnectionError") and live.table().loc[1, "check"] == "error"
    assert "API errors" in live.findings()
    with pytest.raises(KeyError), live.task("first_call"):  # not an SDK error: a bug, raised on every backend
        raise KeyError("x")


def test_recorder_rejects_a_provider_without_a_chapter():
    with pytest.raises(ValueError, match="provider"):
        tour.Recorder("meta", "local", "llama-3.1-8b")


# ------------------------------------------------------------------------------------------------
# Fault injection, through the real SDK and the local provider
# ------------------------------------------------------------------------------------------------
def test_inject_rate_limits_fails_exactly_the_next_requests(local_provider):
    from workbench import clients

    client = clients.openai(max_retries=0)
    try:
        settings = tour.inject_rate_limits(2, retry_after=0.1)
        assert settings["rate_429"] == 0.5 and settings["retry_after"] == 0.1
        for _ in range(2):
            with pytest.raises(openai.RateLimitError):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}],
                                               max_completion_tokens=2)
        ok = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}],
                                            max_completion_tokens=2)
        assert ok.choices[0].message.content is not None
    finally:
        state = tour.clear_local_faults()
    assert state["counts"] == {"requests": 3, "429": 2}
    assert tour.local_fault_state()["rate_429"] == 0.0
    with pytest.raises(ValueError, match="failures"):
        tour.inject_rate_limits(0)
