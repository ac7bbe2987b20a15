"""workbench.api_tasks and answer_checks: the task list of chapters 02-04, the checks of answers, parameters, staged faults."""
from __future__ import annotations

import openai
import pytest
from workbench import api_tasks, catalog, samples

EXPECTED_TASKS = ["first_call", "multi_turn", "streaming", "image", "image_url", "images", "audio", "video",
                  "tools", "structured", "count_tokens", "concurrency", "errors"]


# ------------------------------------------------------------------------------------------------
# The task list
# ------------------------------------------------------------------------------------------------
def test_the_task_list_follows_the_issue_and_names_a_shape_per_provider():
    assert list(api_tasks.TASKS) == EXPECTED_TASKS
    for t in api_tasks.TASKS.values():
        assert t.prompt and t.title
        assert set(t.shapes) == set(api_tasks.PROVIDERS), t.key
    kinds = {k: [s.mime.split("/")[0] for s in api_tasks.task(k).media()] for k in ("image", "images", "audio", "video")}
    assert kinds == {"image": ["image"], "images": ["image", "image"], "audio": ["audio"], "video": ["video"]}


def test_an_unknown_task_key_is_one_clear_error():
    with pytest.raises(catalog.UnknownNameError, match="key.*vidoe"):
        api_tasks.task("vidoe")


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
    good, bad = api_tasks.task(key).check(right, **facts), api_tasks.task(key).check(wrong, **facts)
    assert good.ok is True and good.score == 1.0 and good.mark == "✓"
    assert bad.ok is False and bad.score < 1.0 and bad.mark == "✗"


def test_the_video_check_wants_the_words_in_order():
    res = api_tasks.task("video").check("BRIDGE, APPLE, CANDLE, DRAGON, EAGLE, FOREST")
    assert res.score == 1.0 and res.ok is False and "not all in order" in res.detail


def test_tool_check_reads_the_final_answer_and_reports_the_arguments():
    right_args = {"subtotal": 127.13, "rate_pct": 20}
    ok = api_tasks.task("tools").check("The total is 152.56 USD.", arguments=right_args,
                                  result=api_tasks.compute_vat(**right_args))
    assert ok.ok and "arguments right" in ok.detail
    wrong = api_tasks.task("tools").check("The total is 127.38.", arguments={"subtotal": 127.13, "rate_pct": 0.2},
                                     result=api_tasks.compute_vat(127.13, 0.2))
    assert wrong.ok is False and "arguments wrong" in wrong.detail
    assert "no tool call" in api_tasks.task("tools").check("152.56", arguments=None, result=None).detail


def test_structured_check_compares_each_field_with_the_invoice():
    truth = samples.invoice().truth
    right = api_tasks.InvoiceFacts(invoice_number=truth["number"], total=truth["total"], currency="usd")
    assert api_tasks.task("structured").check("{}", parsed=right).ok
    half = api_tasks.task("structured").check("{}", parsed={"invoice_number": "ACME", "total": truth["total"],
                                                       "currency": "USD"})
    assert half.ok is False and half.score == pytest.approx(2 / 3) and "invoice_number" in half.detail
    assert api_tasks.task("structured").check("", parsed=None).ok is False


def test_count_check_needs_equal_counts_and_says_when_tokenizers_differ():
    t = api_tasks.task("count_tokens")
    assert t.check("", counted=82, used=82).ok is True
    off = t.check("", counted=80, used=82)
    assert off.ok is False and "+2" in off.detail
    apart = t.check("", counted=46, used=82, comparable=False, counter="tiktoken o200k_base")
    assert apart.ok is None and apart.mark == "–" and "not comparable" in apart.detail


def test_batch_and_fallback_checks():
    items = api_tasks.arithmetic_items(3, seed=1)
    expected = [right for _, right in items]
    answers = [str(expected[0]), f"The answer is {expected[1]}.", f"{expected[2]} is not it: {expected[2] + 1}"]
    res = api_tasks.task("concurrency").check("", answers=answers, expected=expected, call_seconds=[1, 1, 1], wall=1.5)
    assert res.score == pytest.approx(2 / 3) and res.ok is False and "3.0 s added up" in res.detail
    with pytest.raises(ValueError, match="facts"):
        api_tasks.task("concurrency").check("", answers=["1"], expected=[1, 2])
    fell_back = api_tasks.task("errors").check("OK", answered_by="gpt-4o-mini", failures=["gpt-4o: RateLimitError"])
    assert fell_back.ok and "answered by gpt-4o-mini" in fell_back.detail
    assert api_tasks.task("errors").check("", answered_by=None, failures=["a", "b"]).ok is False


def test_a_check_wants_the_answer_text():
    with pytest.raises(TypeError, match="answer"):
        api_tasks.task("first_call").check(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------------
GOOD = {"backend": "local", "model": "gpt-4o", "fallback_model": "gpt-4o-mini", "concurrency": 4, "max_tokens": 48,
        "seed": 0}


def test_check_params_accepts_a_chapter_default():
    out = api_tasks.check_params("openai", audio_model="gpt-4o", **GOOD)
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
        api_tasks.check_params("openai", **kwargs)
    assert param in str(info.value) and value in str(info.value)


def test_token_limit_gives_live_runs_room_to_think():
    assert api_tasks.token_limit("local", 48) == 48
    assert api_tasks.token_limit("live", 48) == api_tasks.LIVE_MIN_TOKENS
    assert api_tasks.token_limit("live", 4096) == 4096


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def test_compute_vat_matches_the_invoice_and_rejects_bad_numbers():
    truth = samples.invoice().truth
    out = api_tasks.compute_vat(truth["subtotal"], truth["tax_rate_pct"])
    assert out == {"subtotal": truth["subtotal"], "vat": truth["tax"], "total": truth["total"]}
    assert api_tasks.compute_vat(0.05, 50) == {"subtotal": 0.05, "vat": 0.03, "total": 0.08}  # half-up, not banker's
    with pytest.raises(ValueError, match="rate_pct"):
        api_tasks.compute_vat(10, float("nan"))
    with pytest.raises(ValueError, match="subtotal"):
        api_tasks.compute_vat("10", 20)  # type: ignore[arg-type]


def test_arithmetic_items_are_seeded():
    a, b = api_tasks.arithmetic_items(5, seed=3), api_tasks.arithmetic_items(5, seed=3)
    assert a == b and a != api_tasks.arithmetic_items(5, seed=4)
    for question, right in a:
        x, y = (int(n) for n in question.split("What is ")[1].split("?")[0].split(" + "))
        assert x + y == right
    with pytest.raises(ValueError, match="n"):
        api_tasks.arithmetic_items(0)


# ------------------------------------------------------------------------------------------------
# Fault injection, through the real SDK and the local provider
# ------------------------------------------------------------------------------------------------
def test_inject_rate_limits_fails_exactly_the_next_requests(local_provider):
    from workbench import clients
    from workbench.local.admin import Admin

    client = clients.openai(max_retries=0)
    try:
        settings = api_tasks.inject_rate_limits(2, retry_after=0.1)
        assert settings["rate_429"] == 0.5 and settings["retry_after"] == 0.1
        for _ in range(2):
            with pytest.raises(openai.RateLimitError):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}],
                                               max_completion_tokens=2)
        ok = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}],
                                            max_completion_tokens=2)
        assert ok.choices[0].message.content is not None
    finally:
        state = api_tasks.clear_local_faults()
    assert state["counts"] == {"requests": 3, "429": 2}
    assert Admin(local_provider.base_url).faults()["rate_429"] == 0.0
    with pytest.raises(ValueError, match="failures"):
        api_tasks.inject_rate_limits(0)
