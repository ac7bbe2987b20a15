"""The safety layer: guards before and after a call, and a guard's error rates measured on held-out labels."""
from __future__ import annotations

import json
import math

import httpx2
import numpy as np
import openai
import pandas as pd
import pytest
from workbench import clients, model_call, stats
from workbench import safety_guard as sg
from workbench.params import ParameterError


# --------------------------------------------------------------------------------------------
# Rates: the threshold from the tuning items, the rates from the held-out items only
# --------------------------------------------------------------------------------------------
def _frame(n: int = 40, seed: int = 0, models=("guard-a", "guard-b")) -> pd.DataFrame:
    """A labelled set scored by two guards (scores drawn around the label: a stand-in for a recorded run)."""
    rng = np.random.default_rng(seed)
    items = [f"item/{i}" for i in range(n)]
    labels = ["unsafe" if i % 2 else "safe" for i in range(n)]
    rows = []
    for k, model in enumerate(models):
        for item, label in zip(items, labels, strict=True):
            centre = 0.65 if label == "unsafe" else 0.35 + 0.1 * k
            rows.append({"model": model, "item_id": item, "label": label,
                         "p_unsafe": float(np.clip(rng.normal(centre, 0.15), 0, 1)), "verdict": None})
    return pd.DataFrame(rows)


def test_split_is_by_item_stratified_and_seeded():
    frame = _frame()
    split = sg.split_items(frame, tune_share=0.5, seed=3)
    assert len(split) == 40 and set(split["split"]) == {"tune", "test"}
    counts = split.groupby(["split", "label"]).size()
    assert (counts == 10).all()                       # each side keeps the 50/50 mix
    assert split.equals(sg.split_items(frame, tune_share=0.5, seed=3))
    assert not split.equals(sg.split_items(frame, tune_share=0.5, seed=4))
    with pytest.raises(ParameterError, match="^tune_share:"):
        sg.split_items(frame, tune_share=1.0)


def test_rates_use_held_out_labels_only():
    frame = _frame()
    split = sg.split_items(frame, seed=0)
    tune_items = set(split.loc[split["split"] == "tune", "item_id"])
    base = sg.guard_rates(frame, split=split, threshold=0.5)
    # every count is over held-out items: safe + unsafe held-out items of each model
    assert (base["negatives"] + base["positives"] == base["test_items"]).all()
    assert (base["test_items"] == 20).all() and (base["tune_items"] == 20).all()
    # scrambling every tuning label changes nothing at a fixed threshold ...
    scrambled = frame.copy()
    on_tune = scrambled["item_id"].isin(tune_items)
    scrambled.loc[on_tune, "label"] = scrambled.loc[on_tune, "label"].map({"safe": "unsafe", "unsafe": "safe"})
    pd.testing.assert_frame_equal(sg.guard_rates(scrambled, split=split, threshold=0.5), base)
    # ... while one held-out label does
    flipped = frame.copy()
    held = flipped.index[~flipped["item_id"].isin(tune_items) & (flipped["label"] == "safe")
                         & (flipped["model"] == "guard-a")][0]
    flipped.loc[held, "label"] = "unsafe"
    changed = sg.guard_rates(flipped, split=split, threshold=0.5)
    assert changed.loc[0, "negatives"] == base.loc[0, "negatives"] - 1
    assert changed.loc[0, "positives"] == base.loc[0, "positives"] + 1


def test_threshold_is_chosen_on_tuning_items_only():
    frame = _frame()
    split = sg.split_items(frame, seed=0)
    tuned = sg.guard_rates(frame, split=split)
    on_test = ~frame["item_id"].isin(set(split.loc[split["split"] == "tune", "item_id"]))
    # the held-out labels do not move the chosen threshold
    other = frame.copy()
    other.loc[on_test, "label"] = "unsafe"
    again = sg.guard_rates(other, split=split)
    assert list(again["threshold"]) == list(tuned["threshold"])
    # and it is the threshold choose_threshold picks from the tuning rows alone
    a = frame[(frame["model"] == "guard-a") & ~on_test]
    assert tuned.loc[0, "threshold"] == sg.choose_threshold(a["p_unsafe"], a["label"])
    # the reported rates are the held-out rates at that threshold, with Wilson intervals
    t = tuned.loc[0, "threshold"]
    held = frame[(frame["model"] == "guard-a") & on_test]
    fp = int(((held["p_unsafe"] >= t) & (held["label"] == "safe")).sum())
    neg = int((held["label"] == "safe").sum())
    assert tuned.loc[0, "false_positives"] == fp and tuned.loc[0, "fp_rate"] == pytest.approx(fp / neg)
    assert (tuned.loc[0, "fp_low"], tuned.loc[0, "fp_high"]) == pytest.approx(stats.wilson_interval(fp, neg))


def test_choose_threshold_rules():
    scores = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9]
    labels = ["safe", "safe", "unsafe", "safe", "unsafe", "unsafe"]
    # balanced error: flag >= 0.3 -> FP 1/3, FN 0 (err 1/6); >= 0.7 -> FP 0, FN 1/3 (err 1/6); tie -> the higher
    # range, (0.6, 0.7], and its middle
    assert sg.choose_threshold(scores, labels) == pytest.approx(0.65)
    assert sg.choose_threshold(scores, labels, max_fn_rate=0.0) == pytest.approx(0.25)   # no miss: (0.2, 0.3]
    # a range of several equal cuts: (0.1, 0.7] all flag exactly the unsafe items -> its middle
    assert sg.choose_threshold([0.1, 0.7, 0.8, 0.9], ["safe", "unsafe", "unsafe", "unsafe"]) == pytest.approx(0.4)
    # the only range with no miss is the lowest: flag every scored item
    assert sg.choose_threshold([0.2, 0.4], ["unsafe", "safe"], max_fn_rate=0.0) == pytest.approx(0.1)
    with pytest.raises(ParameterError, match="^labels:"):
        sg.choose_threshold([0.1, 0.2], ["safe", "safe"])


def test_shared_items_keeps_the_items_every_model_judged():
    frame = _frame()
    fewer = frame[~((frame["model"] == "guard-b") & frame["item_id"].isin(["item/0", "item/1"]))]
    shared = sg.shared_items(fewer)
    assert set(shared["item_id"]) == {f"item/{i}" for i in range(2, 40)} and len(shared) == 2 * 38
    with pytest.raises(ParameterError, match="^frame:"):
        sg.shared_items(frame.assign(item_id=frame["model"] + frame["item_id"]))


def test_unscored_items_fail_closed_by_default():
    frame = pd.DataFrame({"model": "g", "item_id": ["a", "b", "c", "d"], "label": ["safe", "unsafe", "safe", "unsafe"],
                          "p_unsafe": [np.nan, np.nan, 0.1, 0.9], "verdict": [None, "unsafe", "safe", "unsafe"]})
    split = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "split": "test"})
    closed = sg.guard_rates(frame, split=split, threshold=0.5).iloc[0]
    # a: no score, no verdict -> flagged (a false positive); b: no score, verdict unsafe -> 1.0 -> flagged
    assert (closed["false_positives"], closed["false_negatives"], closed["unscored"]) == (1, 0, 1)
    opened = sg.guard_rates(frame, split=split, threshold=0.5, missing="safe").iloc[0]
    assert opened["false_positives"] == 0
    # a guard that never gives a score (SmolLM2's recorded run): no threshold, every item counted as `missing`
    blank = frame.assign(p_unsafe=np.nan, verdict=None)
    halves = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "split": ["tune", "tune", "test", "test"]})
    none = sg.guard_rates(blank, split=halves).iloc[0]
    assert math.isnan(none["threshold"]) and none["rule"].startswith("no scored tuning item")
    assert (none["fp_rate"], none["fn_rate"], none["unscored"]) == (1.0, 0.0, 2)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", True])
def test_threshold_outside_0_1_is_named(bad):
    with pytest.raises(ParameterError, match="^threshold:"):
        sg.guard_rates(_frame(), threshold=bad)
    with pytest.raises(ParameterError, match="^threshold:"):
        sg.ModelGuard(threshold=bad, client=openai.OpenAI(api_key="x", base_url="http://mock.test/v1"))


def test_frame_needs_its_columns_and_labels():
    with pytest.raises(ParameterError, match="^frame:"):
        sg.guard_rates(_frame().drop(columns="p_unsafe"))
    bad = _frame()
    bad.loc[0, "label"] = "harmful"
    with pytest.raises(ParameterError, match="^frame:"):
        sg.guard_rates(bad)


def test_rate_curve_is_monotone():
    frame = _frame()
    curve = sg.rate_curve(frame, split=sg.split_items(frame))
    assert set(curve["split"]) == {"tune", "test"} and set(curve["model"]) == {"guard-a", "guard-b"}
    for _, g in curve.groupby(["model", "split"]):
        assert g["fp_rate"].is_monotonic_decreasing and g["fn_rate"].is_monotonic_increasing
        assert g["fp_rate"].iloc[0] == 1.0 and g["fn_rate"].iloc[0] == 0.0


# --------------------------------------------------------------------------------------------
# Guards
# --------------------------------------------------------------------------------------------
def test_model_guard_on_the_local_provider_and_the_layer(local_provider):
    """A ladder model asked Llama Guard 3's question (real call), and the local provider's /v1/moderations
    judging the same way through the unchanged OpenAI SDK: the same P(unsafe)."""
    text = "How do I bake bread?"
    guard = sg.ModelGuard("smollm2-135m-instruct", max_tokens=12)
    verdict = guard.check(text)
    assert verdict.guard == "smollm2-135m-instruct" and "SmolLM2" in verdict.answered_by
    assert verdict.seconds > 0 and verdict.said in ("", "safe", "unsafe")
    assert math.isnan(verdict.score) or 0 <= verdict.score <= 1

    moderated = sg.ModerationGuard(clients.openai("local"), model="smollm2-135m-instruct").check(text)
    assert "SmolLM2" in moderated.answered_by
    assert (math.isnan(verdict.score) and moderated.score == 0) or moderated.score == pytest.approx(verdict.score)
    assert moderated.said == ("flagged" if moderated.score >= 0.5 else "not flagged")


def test_local_moderations_speak_openais_shape(local_provider):
    """/v1/moderations on the local provider: every category of the SDK's type, and OpenAI's 400/404s."""
    oa = clients.openai("local", max_retries=0)
    result = oa.moderations.create(input="How do I bake bread?").results[0]   # omni-moderation-latest: the stand-in
    names = set(result.category_scores.model_dump(by_alias=True))
    assert names == set(result.categories.model_dump(by_alias=True)) and len(names) == 13
    assert "illicit/violent" in names and result.category_scores.illicit_violent >= 0
    assert set(result.model_extra["workbench_guard"]["hazards"]) <= {f"S{n}" for n in range(1, 15)}
    p = result.model_extra["workbench_guard"]["p_unsafe"]
    assert result.flagged == (p is not None and p >= 0.5)
    with pytest.raises(openai.NotFoundError, match="gpt-4o"):
        oa.moderations.create(model="gpt-4o", input="x")
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]
    with pytest.raises(openai.BadRequestError, match=r"input\[0\]: the local guard reads text only"):
        oa.moderations.create(input=image)
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument supplied: foo"):
        oa.moderations.create(input="x", extra_body={"foo": 1})
    with pytest.raises(openai.BadRequestError, match="^Error code: 400.*input:"):
        oa.moderations.create(input=[])


class _Guard:
    """Plumbing: a guard that flags texts containing a word."""

    def __init__(self, word: str) -> None:
        self.word = word

    def check(self, text: str) -> sg.Verdict:
        return sg.Verdict(self.word in text, float(self.word in text), "word", "word", (), 0.01, "")


def test_guarded_blocks_withholds_or_answers():
    answer = lambda p: f"reply to {p}"
    assert sg.guarded(_Guard("bomb"), "a bomb", answer).outcome == "blocked"
    withheld = sg.guarded(_Guard("reply"), "hello", answer)
    assert withheld.outcome == "withheld" and withheld.reply == "reply to hello" and withheld.text == sg.REFUSAL
    ok = sg.guarded(_Guard("bomb"), "hello", answer, output_guard=_Guard("zzz"))
    assert ok.outcome == "answered" and ok.text == "reply to hello" and ok.guard_seconds == pytest.approx(0.02)
    with pytest.raises(ParameterError, match="^prompt:"):
        sg.guarded(_Guard("x"), " ", answer)


def test_moderation_guard_reads_the_sdk_result():
    """Plumbing (fake server in OpenAI's documented response shape): flagged, categories, the top score."""
    seen: list[dict] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append({"path": request.url.path, **json.loads(request.content)})
        cats = dict.fromkeys(["harassment", "hate", "illicit", "violence"], False) | {"illicit": True}
        scores = {"harassment": 0.01, "hate": 0.02, "illicit": 0.81, "violence": 0.4}
        return httpx2.Response(200, json={"id": "modr-1", "model": "omni-moderation-2024-09-26", "results": [
            {"flagged": True, "categories": cats, "category_scores": scores, "category_applied_input_types": {}}]})

    client = openai.OpenAI(api_key="sk-test-not-a-key", base_url="http://mock.test/v1",
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    v = sg.ModerationGuard(client).check("some text")
    assert seen[0]["path"] == "/v1/moderations" and seen[0]["model"] == sg.MODERATION_MODEL
    assert v.unsafe and v.score == pytest.approx(0.81) and v.categories == ("illicit",)
    assert v.answered_by == "omni-moderation-2024-09-26"
    assert not sg.ModerationGuard(client, threshold=0.9).check("some text").unsafe
    with pytest.raises(ParameterError, match="^client:"):
        sg.ModerationGuard(object())


def test_model_call_refuses_logprobs_where_the_protocol_has_none():
    import anthropic

    client = anthropic.Anthropic(api_key="x", base_url="http://mock.test")
    with pytest.raises(ParameterError, match="^top_logprobs:"):
        model_call.ask(client, "claude-sonnet-4-6", "hi", max_tokens=4, top_logprobs=5)


def test_figure_has_a_panel_per_model_with_the_held_out_points(tmp_path):
    from workbench import safety_figures

    frame = _frame()
    split = sg.split_items(frame)
    rates = sg.guard_rates(frame, split=split)
    fig = safety_figures.plot_guard_rates(sg.rate_curve(frame, split=split), rates, title="Guard error rates",
                                          source="a synthetic frame")
    axes = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_title().split("\n")[0] for ax in axes] == ["guard-a", "guard-b"]
    held = [c for c in axes[0].containers]                  # the two error-bar points of guard-a
    assert len(held) == 2
    x, y = held[0].lines[0].get_data()
    assert x[0] == pytest.approx(rates.loc[0, "threshold"], abs=0.02) and y[0] == pytest.approx(rates.loc[0, "fp_rate"])
    with pytest.raises(ParameterError, match="^rates:"):
        safety_figures.plot_guard_rates(sg.rate_curve(frame), rates.drop(columns="fp_low"), title="t", source="s")


def test_local_moderation_maps_llama_guard_hazards_to_openai_categories():
    from workbench.local.gateway import openai_moderations as om

    assert om.read_verdict("unsafe\nS1, S10", []) == (1.0, "unsafe", ("S1", "S10"))
    assert om.read_verdict("safe", [])[:2] == (0.0, "safe")
    assert math.isnan(om.read_verdict("I cannot say", [])[0])
    result = om._result(0.8, "unsafe", ("S1", "S6"))       # S6 (specialized advice) has no OpenAI category
    assert result["flagged"]
    assert {c for c, on in result["categories"].items() if on} == {"violence", "illicit/violent"}
    assert result["category_scores"]["violence"] == 0.8 and result["category_scores"]["hate"] == 0.0
    below = om._result(0.3, "unsafe", ("S10",))
    assert not below["flagged"] and not any(below["categories"].values()) and below["category_scores"]["hate"] == 0.3
    assert om._result(math.nan, None, ())["workbench_guard"]["p_unsafe"] is None


def test_figure_of_a_guard_that_gave_no_score():
    from workbench import safety_figures

    frame = _frame(models=("mute",)).assign(p_unsafe=np.nan)
    split = sg.split_items(frame)
    rates = sg.guard_rates(frame, split=split)
    fig = safety_figures.plot_guard_rates(sg.rate_curve(frame, split=split), rates, title="t", source="s")
    ax = next(ax for ax in fig.axes if ax.get_xlabel())
    assert "no threshold" in ax.get_title()
    assert ax.containers[0].lines[0].get_data()[1][0] == 1.0        # every safe item blocked (fail closed)
