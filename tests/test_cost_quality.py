"""Cost against quality: per-item outcomes, policy summaries with Wilson intervals, the frontier, paired savings."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from routing_frames import CHEAP, TOP, results_frame
from workbench import cost_quality as cq
from workbench import stats, suite
from workbench.params import ParameterError

CHOICE = ["ladder-qwen1.5b-choice", "ladder-qwen0.5b-choice", "ladder-smollm2-choice"]


def _items(**kw: object) -> pd.DataFrame:
    return cq.item_outcomes(results_frame(**kw), cost="compute", cpu_cost_per_hour=0.36)


def test_item_outcomes_prices_compute_time_and_keeps_confidence() -> None:
    res = results_frame()
    items = cq.item_outcomes(res, cost="compute", cpu_cost_per_hour=0.36)
    assert len(items) == len(res)
    assert np.allclose(items["usd"], items["seconds"] * 0.36 / 3600)
    assert np.allclose(items["seconds"], res["latency_s"])
    assert items["correct"].tolist() == (res["score"] == 1).tolist()
    assert np.allclose(items["confidence"], res["confidence"])
    without = cq.item_outcomes(results_frame(confidence=False), cost="compute", cpu_cost_per_hour=1)
    assert without["confidence"].isna().all()


def test_item_outcomes_usage_basis_reads_priced_usage() -> None:
    res = results_frame().assign(cost_usd=lambda f: f["latency_s"] * 0.001)
    items = cq.item_outcomes(res, cost="usage")
    assert np.allclose(items["usd"], res["latency_s"] * 0.001)


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"cost": "compute"}, "cpu_cost_per_hour"),
    ({"cost": "compute", "cpu_cost_per_hour": -1}, "cpu_cost_per_hour"),
    ({"cost": "guess", "cpu_cost_per_hour": 1}, "cost"),
    ({"cost": "usage"}, "cost"),  # a local run stores no cost_usd
])
def test_item_outcomes_bad_cost_parameters_name_themselves(kwargs: dict, param: str) -> None:
    with pytest.raises(ParameterError) as err:
        cq.item_outcomes(results_frame(), **kwargs)
    assert err.value.param == param


def test_item_outcomes_refuses_bad_frames() -> None:
    res = results_frame()
    with pytest.raises(ParameterError, match="results"):
        cq.item_outcomes(res.drop(columns="latency_s"), cpu_cost_per_hour=1)
    with pytest.raises(ParameterError, match="scored"):
        cq.item_outcomes(res.assign(outcome="failed"), cpu_cost_per_hour=1)
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        cq.item_outcomes(res.assign(confidence=1.5), cpu_cost_per_hour=1)
    with pytest.raises(ParameterError, match="one scored row per model and item"):
        cq.item_outcomes(pd.concat([res, res.iloc[:1]]), cpu_cost_per_hour=1)


def test_single_and_summary_match_wilson_and_cost_per_thousand() -> None:
    items = _items()
    pol = cq.single(items, TOP)
    assert set(pol.columns) == set(cq.POLICY_COLUMNS) and (pol["handled_by"] == TOP).all()
    table = cq.summary(pol, confidence=0.9)
    for row in table.itertuples():
        mine = items[(items["model"] == TOP) & (items["task"] == row.task)]
        k, n = int(mine["correct"].sum()), len(mine)
        assert (row.correct, row.items, row.answered) == (k, n, n)
        assert (row.ci_low, row.ci_high) == pytest.approx(stats.wilson_interval(k, n, 0.9))
        assert row.usd_per_1k == pytest.approx(1000 * mine["usd"].mean())
        assert row.seconds_per_1k == pytest.approx(1000 * mine["seconds"].mean())
    overall = cq.summary(pol, by_task=False)
    assert len(overall) == 1 and overall["items"].iloc[0] == len(pol)


def test_unknown_model_and_bad_confidence_name_the_parameter() -> None:
    items = _items()
    with pytest.raises(ParameterError) as err:
        cq.single(items, "gpt-17")
    assert err.value.param == "model" and "gpt-17" in str(err.value)
    with pytest.raises(ParameterError, match="confidence"):
        cq.summary(cq.single(items, TOP), confidence=1.5)


def test_summary_counts_a_person_apart_from_accuracy() -> None:
    pol = cq.single(_items(), TOP)
    pol.loc[pol.index[:10], ["handled_by", "correct"]] = [cq.PERSON, np.nan]
    row = cq.summary(pol, by_task=False).iloc[0]
    assert row["answered"] == len(pol) - 10
    assert row["person_share"] == pytest.approx(10 / len(pol))
    assert row["accuracy"] == pytest.approx(pol["correct"].iloc[10:].mean())
    who = cq.shares(pol, by_task=False)
    assert who[cq.PERSON].iloc[0] == pytest.approx(10 / len(pol))
    assert who[[TOP, cq.PERSON]].sum(axis=1).iloc[0] == pytest.approx(1.0)


def test_frontier_marks_only_non_dominated_policies_and_never_the_oracle() -> None:
    table = pd.DataFrame({
        "policy": ["cheap", "dear", "dominated", "tie", "oracle", "half to a person"],
        "kind": ["single", "single", "router", "router", "oracle", "escalation"],
        "accuracy": [0.3, 0.6, 0.5, 0.6, 0.9, 0.95], "usd_per_1k": [1.0, 5.0, 6.0, 5.0, 0.5, 0.5],
        "seconds_per_1k": [1, 5, 6, 5, 1, 1], "person_share": [0, 0, 0, 0, 0, 0.5]})
    marked = cq.frontier(table).set_index("policy")["on_frontier"]
    assert marked.to_dict() == {"cheap": True, "dear": True, "dominated": False, "tie": True, "oracle": False,
                                "half to a person": False}
    with pytest.raises(ParameterError, match="cost"):
        cq.frontier(table, cost="euros")


def test_savings_are_paired_on_common_items_and_the_interval_holds_the_point() -> None:
    items = _items(n=60)
    cheap, top = cq.single(items, CHEAP), cq.single(items, TOP)
    half = top.assign(policy="half price", usd=top["usd"] / 2)  # same answers, half the cost on every item
    subset = cq.single(items, CHEAP, name="cheap subset", keys=cq.paired_keys(items, [CHEAP]).iloc[::3])
    policies = pd.concat([cheap, top, half, subset])
    s = cq.savings(policies, "half price", f"always {TOP}", by_task=False).iloc[0]
    # paired resampling: every resample halves every item, so the interval is the point; unpaired would spread
    assert s["saving"] == pytest.approx(0.5) and (s["saving_low"], s["saving_high"]) == pytest.approx((0.5, 0.5))
    assert s["accuracy_change_pts"] == 0 and (s["change_low_pts"], s["change_high_pts"]) == (0, 0)
    real = cq.savings(policies, f"always {CHEAP}", f"always {TOP}", n_boot=500)
    for r in real.itertuples():
        assert r.saving_low <= r.saving <= r.saving_high
        assert r.change_low_pts <= r.accuracy_change_pts <= r.change_high_pts
        usd = items[items["task"] == r.task].groupby("model")["usd"].sum()
        assert r.saving == pytest.approx(1 - usd[CHEAP] / usd[TOP])
    part = cq.savings(policies, "cheap subset", f"always {TOP}", by_task=False).iloc[0]
    assert part["items"] == len(subset)  # only the items both policies saw


def test_a_policy_name_used_twice_is_one_clear_error() -> None:
    pol = cq.single(_items(), TOP)
    with pytest.raises(ParameterError, match="twice"):
        cq.summary(pd.concat([pol, pol]))


def test_savings_bad_names_and_numbers_name_the_parameter() -> None:
    pol = cq.single(_items(), TOP)
    for kwargs, param in [({"policy": "nope", "baseline": f"always {TOP}"}, "policy"),
                          ({"policy": f"always {TOP}", "baseline": "nope"}, "baseline"),
                          ({"policy": f"always {TOP}", "baseline": f"always {TOP}", "n_boot": 5}, "n_boot"),
                          ({"policy": f"always {TOP}", "baseline": f"always {TOP}", "cost": "euro"}, "cost")]:
        with pytest.raises(ParameterError) as err:
            cq.savings(pol, **kwargs)
        assert err.value.param == param


@pytest.fixture(scope="module")
def ladder() -> pd.DataFrame:
    """The ladder's recorded multiple-choice runs (chapter 07's archives), as per-item outcomes."""
    rec = suite.load_recorded(CHOICE)
    return cq.item_outcomes(rec.results, cost="compute", cpu_cost_per_hour=0.05)


def test_on_the_recorded_ladder_the_1_5b_is_best_and_the_0_5b_saves_with_an_interval(ladder: pd.DataFrame) -> None:
    policies = pd.concat([cq.single(ladder, m) for m in ladder["model"].unique()])
    table = cq.frontier(cq.summary(policies))
    for task in ("mmlu_direct", "arc_direct"):
        assert cq.best_single(table, task) == f"always {TOP}"
    saved = cq.savings(policies, f"always {CHEAP}", f"always {TOP}", n_boot=500)
    assert (saved["items"] == 100).all()
    assert (saved["saving_low"] > 0.5).all()  # the 0.5B takes a fraction of the 1.5B's machine time
    assert (saved["change_high_pts"] < 0).all()  # ... and loses accuracy: the interval excludes no change
