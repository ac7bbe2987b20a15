"""Escalation by confidence: the two ends of the threshold, the cost of a cascade, the person hand-off,
answers without a confidence, and bad parameters."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from routing_frames import CHEAP, MID, TOP, results_frame
from workbench import cost_quality as cq
from workbench import escalation as esc
from workbench import suite
from workbench.params import ParameterError


def _items(**kw: object) -> pd.DataFrame:
    return cq.item_outcomes(results_frame(**kw), cost="compute", cpu_cost_per_hour=3.6)


def test_threshold_zero_is_the_cheap_model_alone() -> None:
    items = _items()
    pol = esc.escalate(items, [CHEAP, TOP], 0)
    alone = cq.single(items, CHEAP)
    assert (pol["handled_by"] == CHEAP).all() and (pol["calls"] == 1).all()
    for col in ("task", "item_id", "correct", "seconds", "usd"):
        assert pol[col].tolist() == alone[col].tolist()


def test_threshold_one_is_the_end_of_the_chain_paying_every_call() -> None:
    items = _items(models=(CHEAP, MID, TOP))
    pol = esc.escalate(items, [CHEAP, MID, TOP], 1)
    top = cq.single(items, TOP)
    assert (pol["handled_by"] == TOP).all() and (pol["calls"] == 3).all()
    assert pol["correct"].tolist() == top["correct"].tolist()
    wide = cq.wide_outcomes(items, [CHEAP, MID, TOP])
    paid = sum(wide[f"usd|{m}"].astype(float) for m in (CHEAP, MID, TOP))
    assert np.allclose(pol["usd"], paid)  # the cheaper answers were paid for before they were judged


def test_a_middle_threshold_keeps_answers_above_it_and_escalates_the_rest() -> None:
    items = _items()
    pol = esc.escalate(items, [CHEAP, TOP], 0.6)
    wide = cq.wide_outcomes(items, [CHEAP, TOP])
    kept = wide[f"confidence|{CHEAP}"].astype(float) > 0.6
    assert 0 < kept.sum() < len(kept)
    assert (pol["handled_by"] == np.where(kept, CHEAP, TOP)).all()
    expected = np.where(kept, wide[f"correct|{CHEAP}"], wide[f"correct|{TOP}"]).astype(float)
    assert np.array_equal(pol["correct"], expected)
    assert np.allclose(pol["usd"], np.where(kept, wide[f"usd|{CHEAP}"], wide[f"usd|{CHEAP}"] + wide[f"usd|{TOP}"]))


def test_unsure_top_answers_go_to_a_person() -> None:
    items = _items()
    pol = esc.escalate(items, [CHEAP, TOP], 0.6, person_threshold=0.5)
    wide = cq.wide_outcomes(items, [CHEAP, TOP])
    escalated = ~(wide[f"confidence|{CHEAP}"].astype(float) > 0.6)
    person = escalated & ~(wide[f"confidence|{TOP}"].astype(float) > 0.5)
    assert person.any()
    assert (pol["handled_by"] == cq.PERSON).tolist() == person.tolist()
    assert pol.loc[person.to_numpy(), "correct"].isna().all()
    assert cq.summary(pol, by_task=False)["person_share"].iloc[0] == pytest.approx(person.mean())
    same = esc.escalate(items, [CHEAP, TOP], 0.6, person_threshold="same")
    assert same.equals(esc.escalate(items, [CHEAP, TOP], 0.6, person_threshold=0.6).assign(policy=same["policy"]))
    single = esc.escalate(items, [TOP], 0.0, person_threshold=0.5)  # one model: only the hand-off acts
    assert (single["handled_by"] == cq.PERSON).mean() == pytest.approx((wide[f"confidence|{TOP}"] <= 0.5).mean())


def test_answers_without_a_confidence_follow_missing() -> None:
    res = results_frame()
    res.loc[(res["model"] == CHEAP) & (res.index % 7 == 0), "confidence"] = np.nan
    items = cq.item_outcomes(res, cost="compute", cpu_cost_per_hour=1)
    holes = cq.wide_outcomes(items, [CHEAP, TOP])[f"confidence|{CHEAP}"].isna().to_numpy()
    up = esc.escalate(items, [CHEAP, TOP], 0)  # default: an answer without confidence is never trusted
    assert (up["handled_by"].to_numpy()[holes] == TOP).all() and (up["handled_by"].to_numpy()[~holes] == CHEAP).all()
    kept = esc.escalate(items, [CHEAP, TOP], 0, missing="keep")
    assert (kept["handled_by"] == CHEAP).all()
    with pytest.raises(ParameterError) as err:
        esc.escalate(items, [CHEAP, TOP], 0.5, missing="error")
    assert err.value.param == "missing" and "without a confidence" in str(err.value)


def test_a_run_without_confidence_is_one_clear_error() -> None:
    items = _items(confidence=False)
    with pytest.raises(ParameterError) as err:
        esc.escalate(items, [CHEAP, TOP], 0.5)
    assert err.value.param == "items" and CHEAP in str(err.value) and "log-probabilities" in str(err.value)
    # the recorded ladder's first runs asked no log-probabilities: the same error, naming the model
    rec = suite.load_recorded(["ladder-qwen0.5b-choice", "ladder-qwen1.5b-choice"])
    ladder = cq.item_outcomes(rec.results, cost="compute", cpu_cost_per_hour=0.05)
    with pytest.raises(ParameterError, match="confidence for the answers of qwen2.5-coder-0.5b-instruct"):
        esc.escalate(ladder, [CHEAP, TOP], 0.5)


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"threshold": -0.1}, "threshold"), ({"threshold": 1.01}, "threshold"), ({"threshold": float("nan")}, "threshold"),
    ({"threshold": "0.5"}, "threshold"), ({"threshold": 0.5, "person_threshold": 2}, "person_threshold"),
    ({"threshold": 0.5, "missing": "ignore"}, "missing"),
    ({"threshold": 0.5, "chain": [CHEAP, "gpt-99"]}, "chain"), ({"threshold": 0.5, "chain": [CHEAP, CHEAP]}, "chain"),
    ({"threshold": 0.5, "chain": []}, "chain"),
])
def test_bad_parameters_name_themselves(kwargs: dict, param: str) -> None:
    kwargs = {"chain": [CHEAP, TOP], **kwargs}
    with pytest.raises(ParameterError) as err:
        esc.escalate(_items(), **kwargs)
    assert err.value.param == param


def test_sweep_table_gives_accuracy_cost_and_shares_per_threshold() -> None:
    items = _items()
    swept = esc.sweep(items, [CHEAP, TOP], [0, 0.5, 1], person_threshold="same")
    table = esc.sweep_table(swept, by_task=False).set_index("threshold")
    assert list(table.index) == [0, 0.5, 1]
    shares = table[[f"share {CHEAP}", f"share {TOP}", "share person"]]
    assert np.allclose(shares.sum(axis=1), 1)
    assert table.loc[0, f"share {CHEAP}"] == 1 and table.loc[1, f"share {CHEAP}"] == 0
    assert table["usd_per_1k"].is_monotonic_increasing
    assert table.loc[0, "accuracy"] == pytest.approx(items[items["model"] == CHEAP]["correct"].mean())
    per_task = esc.sweep_table(esc.sweep(items, [CHEAP, TOP]))
    assert len(per_task) == 21 * 2 and per_task["share person"].eq(0).all()
    for bad in ([], [0.5, 3], "0.5"):
        with pytest.raises(ParameterError) as err:
            esc.sweep(items, [CHEAP, TOP], bad)
        assert err.value.param == "thresholds"


def test_recorded_log_probability_confidence_drives_the_hand_off() -> None:
    """The ladder's run recorded with token log-probabilities: every answer carries its confidence."""
    rec = suite.load_recorded(["ladder-smollm2-choice-lp"])
    items = cq.item_outcomes(rec.results, cost="compute", cpu_cost_per_hour=0.05)
    conf = items["confidence"].dropna()
    assert len(conf) > 0.95 * len(items) and conf.between(0, 1).all()
    small = "smollm2-135m-instruct"
    handed = esc.escalate(items, [small], 0, person_threshold=0.5)
    unsure = ~(items["confidence"] > 0.5).to_numpy()  # not above 0.5, or no answer
    assert (handed["handled_by"] == cq.PERSON).sum() == unsure.sum()
    kept = esc.escalate(items, [small], 0, missing="keep")
    assert kept["correct"].tolist() == cq.single(items, small)["correct"].tolist()


def test_confidence_thresholds_spread_the_items_of_a_model() -> None:
    items = _items(n=200)
    ts = esc.confidence_thresholds(items, CHEAP, n=6)
    assert ts[0] == 0 and ts[-1] == 1 and ts == sorted(ts) and len(ts) == 6
    conf = items.loc[items["model"] == CHEAP, "confidence"]
    escalated = [float((conf <= t).mean()) for t in ts[1:-1]]  # each step moves about a quarter of the items
    assert np.allclose(np.diff(escalated), 0.25, atol=0.05)
    for kwargs, param in [({"model": "gpt-99"}, "model"), ({"model": CHEAP, "n": 2}, "n")]:
        with pytest.raises(ParameterError) as err:
            esc.confidence_thresholds(items, **kwargs)
        assert err.value.param == param
    with pytest.raises(ParameterError, match="confidence"):
        esc.confidence_thresholds(_items(confidence=False), CHEAP)


def test_the_recorded_cascade_from_0_5b_to_1_5b_spans_the_two_models() -> None:
    """On the runs recorded with log-probabilities: threshold 0 is the 0.5B alone (its answered items), 1 the
    1.5B at the price of both calls, and a person handed the 1.5B's unsure answers leaves more accurate ones."""
    rec = suite.load_recorded(["ladder-qwen0.5b-choice-lp", "ladder-qwen1.5b-choice-lp"])
    items = cq.item_outcomes(rec.results, cost="compute", cpu_cost_per_hour=0.05)
    low = esc.escalate(items, [CHEAP, TOP], 0, missing="keep")
    assert low["correct"].tolist() == cq.single(items, CHEAP)["correct"].tolist()
    high = esc.escalate(items, [CHEAP, TOP], 1)
    top = cq.single(items, TOP)
    assert high["correct"].tolist() == top["correct"].tolist() and (high["usd"] > top["usd"]).all()
    table = esc.sweep_table(esc.sweep(items, [TOP], [0, 0.5], person_threshold="same"), by_task=False)
    kept, everything = table.set_index("threshold").loc[0.5], table.set_index("threshold").loc[0]
    assert 0 < kept["person_share"] < 1 and kept["ci_low"] > everything["accuracy"]
