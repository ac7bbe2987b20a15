"""S3's production metrics from per-item outcomes: success, deflection, handling time, compliance."""
from __future__ import annotations

import pandas as pd
import pytest
from workbench import cost_quality, params
from workbench import production_metrics as pm


def _results(replies: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame([{"task": "mmlu_direct", "item_id": f"x/{i}", "model": m, "outcome": "scored", "response": r}
                         for m, rs in replies.items() for i, r in enumerate(rs)])


def test_compliance_is_the_letter_alone() -> None:
    table = pm.compliance(_results({"m": ["A", " b ", "(C)", "D.", "A) 4", "The answer is A", ""]}))
    assert table["compliant"].tolist() == [True, False, True, True, False, False, False]
    other = pd.DataFrame([{"task": "humaneval_qwen", "item_id": "1", "model": "m", "outcome": "scored",
                           "response": "def f(): pass"}])
    assert pm.compliance(other).empty                       # no stated letter format: not checked
    with pytest.raises(params.ParameterError, match="^results: "):
        pm.compliance(pd.DataFrame({"task": ["x"]}))


def test_service_metrics_count_a_hand_off_against_success_not_against_accuracy() -> None:
    policy = pd.DataFrame({
        "policy": "p", "kind": "escalation", "task": "mmlu_direct", "item_id": [f"x/{i}" for i in range(4)],
        "handled_by": ["m", "m", "m", cost_quality.PERSON], "correct": [1.0, 1.0, 0.0, float("nan")],
        "seconds": [1.0, 2.0, 3.0, 10.0], "usd": 0.0, "calls": 1})
    results = _results({"m": ["A", "B) 2", "C", "D"]})
    row = pm.service_metrics(policy, results).iloc[0]
    assert row["task_success"] == pytest.approx(2 / 4)       # the handed item is no success of the assistant
    assert row["accuracy_kept"] == pytest.approx(2 / 3)
    assert row["deflection"] == pytest.approx(3 / 4)
    assert row["handling_median_s"] == pytest.approx(2.5)
    assert row["compliance"] == pytest.approx(2 / 3) and row["compliance_n"] == 3   # the person's item not checked
    assert row["success_low"] < row["task_success"] < row["success_high"]


def test_leader_tradeoffs_find_a_slower_most_accurate_model() -> None:
    n = 40
    items = pd.DataFrame(
        [{"task": "mmlu_direct", "item_id": f"x/{i}", "model": "big", "correct": i % 4 != 0, "seconds": 5.0 + i % 3,
          "usd": 0.0, "confidence": float("nan")} for i in range(n)]
        + [{"task": "mmlu_direct", "item_id": f"x/{i}", "model": "small", "correct": i % 2 == 0, "seconds": 1.0,
            "usd": 0.0, "confidence": float("nan")} for i in range(n)])
    results = _results({"big": ["A"] * n, "small": ["A"] * n})
    leader, table = pm.leader_tradeoffs(items, results, ["big", "small"])
    assert leader == "big"
    time = table.set_index("metric").loc["handling time"]
    assert time["resolved"] and time["leader_worse"] and time["leader"] > time["rival value"]
    comp = table.set_index("metric").loc["policy compliance"]
    assert not comp["resolved"] and not comp["leader_worse"]          # both always comply
    with pytest.raises(params.ParameterError, match="^models: "):
        pm.leader_tradeoffs(items, results, ["big", "nobody"])
