"""Routers: the split by item id (never leaking test items into training), the task table, the learned
router and the oracle."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from routing_frames import CHEAP, MID, TOP, results_frame
from workbench import cost_quality as cq
from workbench import routing, suite
from workbench.evals import tasks as eval_tasks
from workbench.params import ParameterError

CHOICE = ["ladder-qwen1.5b-choice", "ladder-qwen0.5b-choice"]


def _items(**kw: object) -> pd.DataFrame:
    return cq.item_outcomes(results_frame(**kw), cost="compute", cpu_cost_per_hour=1.0)


def _keys(items: pd.DataFrame) -> pd.DataFrame:
    return cq.paired_keys(items, [CHEAP, TOP])


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(map(tuple, frame[["task", "item_id"]].to_numpy()))


def test_split_is_by_item_id_disjoint_exact_and_deterministic() -> None:
    keys = _keys(_items(n=41))
    split = routing.split_items(keys, test_share=0.3, seed=7)
    assert not _pairs(split.train) & _pairs(split.test)
    assert _pairs(split.train) | _pairs(split.test) == _pairs(keys)
    assert (split.test.groupby("task").size() == round(0.3 * 41)).all()
    shuffled = keys.sample(frac=1, random_state=3)  # order, and the outcomes, play no part
    again = routing.split_items(shuffled, test_share=0.3, seed=7)
    assert _pairs(again.test) == _pairs(split.test)
    assert _pairs(routing.split_items(keys, 0.3, seed=8).test) != _pairs(split.test)
    assert split.test_mask(split.test).all() and not split.test_mask(split.train).any()


def test_a_split_with_an_item_on_both_sides_cannot_exist() -> None:
    keys = _keys(_items(n=10))
    with pytest.raises(ParameterError) as err:
        routing.Split(keys.iloc[:6], keys.iloc[5:], 0.5, 0)
    assert err.value.param == "split"


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"test_share": 0}, "test_share"), ({"test_share": 1}, "test_share"), ({"test_share": 0.01}, "test_share"),
    ({"seed": -1}, "seed"), ({"test_share": "half"}, "test_share"),
])
def test_split_bad_parameters_name_themselves(kwargs: dict, param: str) -> None:
    with pytest.raises(ParameterError) as err:
        routing.split_items(_keys(_items(n=10)), **kwargs)
    assert err.value.param == param


def test_an_empty_split_is_an_error() -> None:
    with pytest.raises(ParameterError) as err:
        routing.split_items(pd.DataFrame(columns=["task", "item_id"]))
    assert err.value.param == "keys"


def test_route_by_task_sends_each_task_to_its_model() -> None:
    items = _items(models=(CHEAP, MID, TOP))
    table = {"mmlu_direct": CHEAP, "arc_direct": TOP}
    pol = routing.route_by_task(items, table)
    assert (pol["handled_by"] == pol["task"].map(table)).all() and (pol["kind"] == "router").all()
    merged = pol.merge(items, left_on=["task", "item_id", "handled_by"], right_on=["task", "item_id", "model"])
    assert len(merged) == len(pol)
    assert np.allclose(merged["usd_x"], merged["usd_y"])
    assert (merged["correct_x"] == merged["correct_y"].astype(float)).all()


@pytest.mark.parametrize(("table", "needle"), [
    ({"mmlu_direct": "gpt-99", "arc_direct": TOP}, "gpt-99"),  # an unknown model in a route
    ({"mmlu_direct": CHEAP}, "arc_direct"),                      # a task without a route
    ({}, "mapping"),
    (["mmlu_direct"], "mapping"),
])
def test_route_by_task_bad_table_is_one_error_naming_it(table: object, needle: str) -> None:
    with pytest.raises(ParameterError) as err:
        routing.route_by_task(_items(), table, keys=_keys(_items()))  # type: ignore[arg-type]
    assert err.value.param == "table" and needle in str(err.value)


def test_fit_task_table_learns_the_cheapest_model_within_tolerance_on_train_only() -> None:
    items = _items(n=60)
    split = routing.split_items(_keys(items), seed=1)
    train = items.merge(split.train)
    acc = train.groupby(["task", "model"])["correct"].mean()
    strict = routing.fit_task_table(items, split, [CHEAP, TOP])
    for task, model in strict.items():
        assert acc[task][model] == acc[task].max()
    loose = routing.fit_task_table(items, split, [CHEAP, TOP], tolerance_pts=100)
    assert set(loose.values()) == {CHEAP}  # within 100 points, the cheapest always wins
    # flipping every TEST outcome leaves the table unchanged
    flipped = items.assign(correct=np.where(split.test_mask(items), ~items["correct"], items["correct"]))
    assert routing.fit_task_table(flipped, split, [CHEAP, TOP]) == strict
    with pytest.raises(ParameterError) as err:
        routing.fit_task_table(items, split, [CHEAP, "nobody"])
    assert err.value.param == "models" and "nobody" in str(err.value)


@pytest.fixture(scope="module")
def ladder() -> tuple[pd.DataFrame, pd.DataFrame, routing.Split]:
    """The recorded 0.5B and 1.5B multiple-choice runs, their prompts and a split."""
    items = cq.item_outcomes(suite.load_recorded(CHOICE).results, cost="compute", cpu_cost_per_hour=0.05)
    return items, routing.item_prompts(items), routing.split_items(_keys(items), 0.5, seed=0)


def test_item_prompts_are_the_prompts_the_run_sent(ladder: tuple) -> None:
    items, prompts, _ = ladder
    assert len(prompts) == len(items[["task", "item_id"]].drop_duplicates())
    row = prompts.iloc[0]
    task = eval_tasks.get_task(row["task"])
    assert row["prompt"] == task.prompt({it.id: it for it in task.items()}[row["item_id"]])
    with pytest.raises(ParameterError, match="no-such-item"):
        routing.item_prompts(pd.DataFrame({"task": ["mmlu_direct"], "item_id": ["no-such-item"]}))


def test_prompt_features_measure_the_text() -> None:
    frame = pd.DataFrame({"task": ["t", "t"], "item_id": ["a", "b"],
                          "prompt": ["What is 12 + 30?", "```python\ndef f(x):\n    return x\n```"]})
    f = routing.prompt_features(frame).set_index("item_id")
    assert f.loc["a", "questions"] == 1 and f.loc["b", "questions"] == 0
    assert f.loc["a", "digit_share"] > 0 and f.loc["b", "code_marks"] > f.loc["a", "code_marks"]
    assert f.loc["b", "lines"] == 4


def test_the_learned_router_never_trains_on_a_test_item(ladder: tuple) -> None:
    items, prompts, split = ladder
    router = routing.fit_router(items, prompts, split, CHEAP, TOP)
    assert not _pairs(router.train_items) & _pairs(split.test)
    assert _pairs(router.train_items) <= _pairs(split.train)
    # poison every test outcome: a router that read them would change; this one cannot
    poisoned = items.assign(correct=np.where(split.test_mask(items), ~items["correct"], items["correct"]))
    again = routing.fit_router(poisoned, prompts, split, CHEAP, TOP)
    coef = router.model.named_steps["classifier"].coef_
    assert np.array_equal(coef, again.model.named_steps["classifier"].coef_)
    # ... while poisoning the train outcomes does change it (the test above can fail)
    flipped = items.assign(correct=np.where(split.test_mask(items), items["correct"], ~items["correct"]))
    assert not np.array_equal(coef, routing.fit_router(flipped, prompts, split, CHEAP, TOP)
                              .model.named_steps["classifier"].coef_)


def test_the_learned_router_routes_test_items_by_its_threshold(ladder: tuple) -> None:
    items, prompts, split = ladder
    router = routing.fit_router(items, prompts, split, CHEAP, TOP)
    everything_cheap = routing.route_learned(items, router, prompts, threshold=0)
    assert _pairs(everything_cheap) == _pairs(split.test)
    assert (everything_cheap["handled_by"] == CHEAP).all()
    assert (routing.route_learned(items, router, prompts, threshold=1)["handled_by"] == TOP).all()
    half = routing.route_learned(items, router, prompts, threshold=0.5)
    p = router.predict(prompts.merge(half[["task", "item_id"]]))
    assert ((p >= 0.5).to_numpy() == (half["handled_by"] == CHEAP).to_numpy()).all()
    quality = router.quality(items, prompts)
    assert list(quality["task"]) == ["arc_direct", "mmlu_direct", "all"]
    assert quality["auc"].between(0, 1).all() and (quality["items"].iloc[-1] == len(split.test))
    for bad in (-0.1, 1.5, float("nan"), "high"):
        with pytest.raises(ParameterError) as err:
            routing.route_learned(items, router, prompts, threshold=bad)
        assert err.value.param == "threshold"


def test_fit_router_bad_parameters_name_themselves(ladder: tuple) -> None:
    items, prompts, split = ladder
    for kwargs, param in [({"cheap": "gpt-99", "strong": TOP}, "models"), ({"cheap": TOP, "strong": TOP}, "models"),
                          ({"cheap": CHEAP, "strong": TOP, "c": 0}, "c"),
                          ({"cheap": CHEAP, "strong": TOP, "words": -1}, "words")]:
        with pytest.raises(ParameterError) as err:
            routing.fit_router(items, prompts, split, **kwargs)
        assert err.value.param == param
    always_right = items.assign(correct=True)
    with pytest.raises(ParameterError, match="sometimes right"):
        routing.fit_router(always_right, prompts, split, CHEAP, TOP)


def test_the_oracle_takes_the_cheap_model_exactly_when_it_is_right() -> None:
    items = _items()
    pol = routing.oracle(items, CHEAP, TOP)
    wide = cq.wide_outcomes(items, [CHEAP, TOP])
    assert (pol["handled_by"] == np.where(wide[f"correct|{CHEAP}"].astype(bool), CHEAP, TOP)).all()
    either = wide[f"correct|{CHEAP}"].astype(bool) | wide[f"correct|{TOP}"].astype(bool)
    assert pol["correct"].mean() == pytest.approx(either.mean())


def test_standard_policies_put_every_router_beside_every_single_model_on_test_items(ladder: tuple) -> None:
    items, prompts, split = ladder
    pol = routing.standard_policies(items, prompts, split, CHEAP, TOP, thresholds=[0.6, 0.4, 0.6])  # once each
    assert list(dict.fromkeys(pol["policy"])) == [f"always {TOP}", f"always {CHEAP}", "route by task",
                                                  "learned router (p >= 0.4)", "learned router (p >= 0.6)",
                                                  "oracle router"]
    for _, g in pol.groupby("policy"):
        assert _pairs(g) == _pairs(split.test)  # judged on the test items only, each of them
    saved = cq.savings_against(pol, n_boot=200)
    assert set(saved["baseline"]) == {f"always {TOP}"}  # the most accurate single model
    assert f"always {TOP}" not in set(saved["policy"])


def test_a_live_run_goes_through_the_same_calls_priced_by_usage() -> None:
    """Frontier model ids and priced usage (``cost_usd``), as a recorded live run stores them."""
    live = results_frame(models=("gpt-4o-mini", "gpt-4o"), n=30).assign(backend="live")
    live["cost_usd"] = live["latency_s"] * np.where(live["model"] == "gpt-4o", 2e-4, 1e-5)
    items = cq.item_outcomes(live, cost="usage")
    split = routing.split_items(cq.paired_keys(items, ["gpt-4o-mini", "gpt-4o"]), seed=2)
    table = routing.fit_task_table(items, split, ["gpt-4o-mini", "gpt-4o"], tolerance_pts=100)
    pol = pd.concat([routing.route_by_task(items, table, keys=split.test),
                     cq.single(items, "gpt-4o", keys=split.test)])
    saved = cq.savings(pol, "route by task", "always gpt-4o", by_task=False).iloc[0]
    assert saved["saving"] == pytest.approx(1 - 1e-5 / (4 * 2e-4))  # every item to the mini (a quarter of the time)


def test_choose_threshold_reads_train_items_only_and_keeps_the_loss_bound(ladder: tuple) -> None:
    items, prompts, split = ladder
    router = routing.fit_router(items, prompts, split, CHEAP, TOP)
    t, table = routing.choose_threshold(router, items, prompts, max_loss_pts=5)
    row = table.set_index("threshold").loc[t]
    assert row["accuracy"] >= row["strong_accuracy"] - 0.05 and row["saving"] > 0
    assert row["saving"] == table[table["allowed"]]["saving"].max()
    strict, _ = routing.choose_threshold(router, items, prompts, max_loss_pts=0)
    assert strict >= t  # a tighter bound never routes more items to the cheap model
    poisoned = items.assign(correct=np.where(split.test_mask(items), ~items["correct"], items["correct"]))
    assert routing.choose_threshold(router, poisoned, prompts, max_loss_pts=5)[1].equals(table)
    with pytest.raises(ParameterError) as err:
        routing.choose_threshold(router, items, prompts, folds=1)
    assert err.value.param == "folds"
