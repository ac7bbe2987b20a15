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


def test_throughput_decode_rate_in_the_models_own_tokens(results) -> None:
    ok = suite.scored(results)
    mmlu = ok[(ok["task"] == "mmlu") & (ok["model"] == "gpt-4o")]
    # 20 output tokens (the usage the server reported), the last chunk at 1.5 s: (20 - 1) / (1.5 - TTFT)
    rates = latency.decode_rate(mmlu)
    assert list(rates) == pytest.approx([19 / (1.5 - t) for t in (0.1, 0.2, 0.3, 0.4)])
    assert latency.decode_rate(ok[ok["task"] == "needle"].assign(output_tokens=1)).isna().all()  # one token
    short = mmlu.assign(output_tokens=latency.MIN_DECODE_TOKENS - 1)
    assert latency.decode_rate(short).isna().all()  # a short reply measures the stream, not the engine
    table = latency.throughput_table(results).set_index(["task", "model"])
    g = table.loc[("mmlu", "gpt-4o")]
    assert g["n"] == 4 and g["compute s"] == pytest.approx(1 + 2 + 3 + 4)
    assert g["decode tokens/s median"] == pytest.approx(pd.Series([19 / (1.5 - t) for t in (0.1, 0.2, 0.3, 0.4)]).median())
    assert g["TTFT median s"] == pytest.approx(0.25) and g["output tokens median"] == 20
    overall = latency.throughput_table(results, by_task=False)
    assert list(overall["model"]) == ["claude-sonnet-4-6", "gpt-4o"] and overall["n"].sum() == 15
    with pytest.raises(ValueError, match="results"):
        latency.throughput_table(results.iloc[0:0])


def test_compute_cost_is_machine_time_per_correct_answer_and_its_price(results) -> None:
    table = run_costs.compute_cost_table(results, 0.36).set_index(["task", "model"])
    g = table.loc[("mmlu", "gpt-4o")]
    assert (g["scored"], g["correct"], g["compute s"]) == (4, 3, pytest.approx(10.0))
    assert g["s per item"] == pytest.approx(2.5) and g["s per correct"] == pytest.approx(10 / 3)
    assert g["USD"] == pytest.approx(0.001) and g["USD per correct"] == pytest.approx(0.001 / 3)
    assert g["output tokens/s"] == pytest.approx(80 / 10)
    assert g["USD per 1M output tokens"] == pytest.approx(costs.self_host_cost_per_mtok(0.36, 8.0, 1.0))
    assert math.isnan(table.loc[("json_only", "claude-sonnet-4-6"), "s per correct"])  # no correct answer
    per_model = run_costs.compute_cost_table(results, 0.36, by_task=False).set_index("model")
    assert per_model.loc["gpt-4o", "scored"] == 9
    with pytest.raises(params.ParameterError, match="cpu_cost_per_hour"):
        run_costs.compute_cost_table(results, 0)
    with pytest.raises(ValueError, match="backend local"):
        run_costs.compute_cost_table(results.assign(backend="live"), 0.36)


def test_throughput_figure_names_its_source(results) -> None:
    fig = latency.plot_throughput(results, "recorded", "archive x (recorded 2026-12-01)")
    assert "recorded" in fig._suptitle.get_text()
    assert any("From archive x (recorded 2026-12-01)." in t.get_text() for t in fig.texts)
    assert "decode speed" in fig.axes[1].get_xlabel()
