"""Figures of routers and escalation: what they draw, and their parameter checks."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from routing_frames import CHEAP, TOP, results_frame
from workbench import cost_quality as cq
from workbench import escalation as esc
from workbench import plots, routing
from workbench import routing_figures as rf
from workbench.params import ParameterError


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return cq.item_outcomes(results_frame(), cost="compute", cpu_cost_per_hour=1.0)


@pytest.fixture(scope="module")
def table(items: pd.DataFrame) -> pd.DataFrame:
    policies = pd.concat([cq.single(items, CHEAP), cq.single(items, TOP), routing.oracle(items, CHEAP, TOP),
                          esc.escalate(items, [CHEAP, TOP], 0.5, name="escalate at 0.5"),
                          routing.route_by_task(items, {"mmlu_direct": CHEAP, "arc_direct": TOP}, name="by task")])
    return cq.frontier(cq.summary(policies))


def test_frontier_figure_has_a_panel_per_task_with_every_policy_and_its_interval(table: pd.DataFrame,
                                                                                 tmp_path: Path) -> None:
    fig = rf.plot_frontier(table, title="t", source="synthetic rows")
    axes = [ax for ax in fig.axes if ax.get_title()]
    tasks = list(dict.fromkeys(table["task"]))
    assert sorted(tasks) == ["arc_direct", "mmlu_direct"] and [ax.get_title() for ax in axes] == tasks
    for ax, task in zip(axes, tasks):
        rows = table[table["task"] == task]
        kinds = {m for m, _, _ in rf.KIND_STYLE.values()}
        points = np.vstack([line.get_xydata() for line in ax.lines if line.get_marker() in kinds])
        expected = np.c_[rows["usd_per_1k"], 100 * rows["accuracy"]]
        assert sorted(map(tuple, np.round(points, 9))) == sorted(map(tuple, np.round(expected, 9)))
        caps = np.concatenate([line.get_ydata() for line in ax.lines if line.get_marker() == "_"])
        bounds = np.r_[100 * rows["ci_low"], 100 * rows["ci_high"]]
        assert sorted(np.round(caps, 9)) == sorted(np.round(bounds, 9))  # the interval, drawn
        labels = " ".join(t.get_text() for t in ax.texts)
        assert all(p in labels for p in rows["policy"])
        assert ax.get_xlabel() == "USD per 1,000 items"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[:4] == ["single model", "router", "escalation", "oracle router (ceiling)"]
    assert any("From synthetic rows" in t.get_text() for t in fig.texts)
    assert plots.save(fig, "test_frontier", folder=tmp_path).is_file()
    plt.close(fig)
    seconds = rf.plot_frontier(cq.summary(cq.single(cq.item_outcomes(results_frame(), cpu_cost_per_hour=1),
                                                    TOP), by_task=False),
                               title="t", source="s", cost="seconds_per_1k")
    assert [ax.get_title() for ax in seconds.axes] == ["all items"]
    assert seconds.axes[0].get_xlabel() == "compute seconds per 1,000 items"
    plt.close(seconds)


def test_frontier_figure_bad_parameters_name_themselves(table: pd.DataFrame) -> None:
    for kwargs, param in [({"cost": "euro"}, "cost"), ({"title": ""}, "title"), ({"source": None}, "source"),
                          ({"table": table.drop(columns="ci_low")}, "table"), ({"table": table.iloc[:0]}, "table"),
                          ({"table": table.assign(kind="magic")}, "table")]:
        args = {"table": table, "title": "t", "source": "s", **kwargs}
        with pytest.raises(ParameterError) as err:
            rf.plot_frontier(**args)
        assert err.value.param == param
    plt.close("all")


def test_escalation_figure_draws_accuracy_cost_and_person_share_per_threshold(items: pd.DataFrame) -> None:
    swept = esc.sweep_table(esc.sweep(items, [CHEAP, TOP], [0, 0.25, 0.5, 0.75, 1], person_threshold="same"))
    fig = rf.plot_escalation(swept, title="t", source="synthetic rows")
    acc, cost, person = fig.axes
    mmlu = swept[swept["task"] == swept["task"].iloc[0]]
    assert np.allclose(acc.lines[0].get_ydata(), 100 * mmlu["accuracy"], equal_nan=True)  # all to a person at 1
    assert np.allclose(cost.lines[0].get_ydata(), mmlu["usd_per_1k"])
    assert np.allclose(person.lines[0].get_ydata(), 100 * mmlu["person_share"])
    assert np.allclose(person.lines[0].get_xdata(), [0, 0.25, 0.5, 0.75, 1])
    assert len(acc.collections) == 2  # an interval band per task
    plt.close(fig)
    with pytest.raises(ParameterError) as err:
        rf.plot_escalation(swept.drop(columns="threshold"), title="t", source="s")
    assert err.value.param == "table"
    singles = cq.summary(pd.concat([cq.single(items, CHEAP), cq.single(items, TOP)]))
    fig = rf.plot_escalation(swept, title="t", source="s", singles=singles)
    first = swept["task"].iloc[0]
    levels = sorted(line.get_ydata()[0] for line in fig.axes[0].lines[1:3])  # the task's two single-model levels
    assert np.allclose(levels, sorted(100 * singles[singles["task"] == first]["accuracy"]))
    plt.close(fig)
    with pytest.raises(ParameterError) as err:
        rf.plot_escalation(swept, title="t", source="s", singles=singles.drop(columns="accuracy"))
    assert err.value.param == "singles"
