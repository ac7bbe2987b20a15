"""Tables from a measured run: latency (workbench.latency), cost (workbench.run_costs), behaviour (workbench.behaviour).

Every table is read from a real results store with known rows (``known_rows.known_results``) and
checked against hand-computed numbers.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from known_rows import known_results
from workbench import behaviour, costs, latency, params, run_costs, suite


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture()
def results(tmp_path: Path) -> pd.DataFrame:
    return known_results(tmp_path / "r.sqlite")


def test_latency_table_medians_p90_and_tpot(results) -> None:
    lat = latency.latency_table(results).set_index(["task", "model"])
    g = lat.loc[("mmlu", "gpt-4o")]
    ttft = pd.Series([0.1, 0.2, 0.3, 0.4])
    assert g["n"] == 4
    assert g["TTFT median s"] == pytest.approx(ttft.median()) and g["TTFT p90 s"] == pytest.approx(ttft.quantile(0.9))
    assert g["total median s"] == pytest.approx(2.5)
    assert g["ITL median ms"] == pytest.approx(1500 / 11)
    # TPOT: (1.5 s to the last chunk - TTFT) / (11 - 1 tokens)
    assert g["TPOT median ms"] == pytest.approx(1000 * (1.5 - 0.25) / 10)
    # one-token needle replies have no TPOT
    assert math.isnan(lat.loc[("needle", "gpt-4o"), "TPOT median ms"])
    overall = latency.latency_table(results, by_task=False)
    assert list(overall["model"]) == list(dict.fromkeys(results["model"]))  # the order the results name them
    assert overall["n"].sum() == 4 + 4 + 2 + 1 + 4
    with pytest.raises(ValueError, match="results"):
        latency.latency_table(results.iloc[0:0])


def test_cost_table_per_item_and_per_correct_with_the_price_used(results) -> None:
    cost = run_costs.cost_table(results).set_index(["task", "model"])
    g = cost.loc[("mmlu", "gpt-4o")]
    assert g["cost USD"] == pytest.approx(0.004) and g["USD per item"] == pytest.approx(0.001)
    assert g["USD per correct"] == pytest.approx(0.004 / 3)
    price = costs.price_on("gpt-4o", "2026-06-01")
    assert g["price date"] == price.observed.isoformat() and g["price source"] == ", ".join(price.source_ids)
    assert math.isnan(cost.loc[("json_only", "claude-sonnet-4-6"), "USD per correct"])  # no correct answer
    total = cost.loc[("all", "gpt-4o")]
    assert total["scored"] == 4 + 1 + 4 and total["correct"] == 3 + 1 + 3
    assert str(run_costs.run_date(results)) == "2026-06-01"
    with pytest.raises(ValueError, match="results"):
        run_costs.cost_table(results.iloc[0:0])


def test_json_and_needle_tables(results) -> None:
    js = behaviour.json_table(results).set_index("model")
    assert js.loc["claude-sonnet-4-6", "strict %"] == 0 and js.loc["claude-sonnet-4-6", "lenient %"] == 50
    assert js.loc["gpt-4o", "n"] == 1  # the finally failed item is not in the rate
    with pytest.raises(params.ParameterError, match="confidence"):
        behaviour.json_table(results, 0)
    nd = behaviour.needle_table(results)
    assert list(nd["length"]) == [500, 500, 1000, 1000] and list(nd["rate %"]) == [100, 100, 0, 100]
    assert behaviour.needle_table(results[results["task"] != "needle"]).empty


def test_figures_carry_the_backend_label(results) -> None:
    label = suite.backend_label("local")
    for fig in (latency.plot_latency(results, label), behaviour.plot_needle(behaviour.needle_table(results), label)):
        assert label in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="needle"):
        behaviour.plot_needle(behaviour.needle_table(results.iloc[0:0]), label)
