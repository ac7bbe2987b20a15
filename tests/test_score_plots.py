"""workbench.score_plots: the figures of published and measured scores, checked by what they draw."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from known_rows import known_results, published
from workbench import catalog, comparisons, plots, score_plots, scoreboard, suite


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return published()


def test_source_colors_are_stable_whatever_the_selection() -> None:
    every = score_plots.source_colors()
    assert set(every) == set(catalog.sources()["source_id"])
    assert score_plots.source_colors(["S4"]) == {"S4": every["S4"]}
    with pytest.raises(catalog.UnknownNameError, match="S9"):
        score_plots.source_colors(["S9"])


def test_family_figures_have_a_panel_per_benchmark(scores) -> None:
    for family, grp in scores.groupby("family"):
        fig = score_plots.plot_family(scores, family)
        used = [ax for ax in fig.axes if ax.axison]
        assert len(used) == grp["benchmark"].nunique()
        titles = " ".join(ax.get_title() for ax in used)
        for bench in grp["benchmark"].unique():
            assert bench in titles
        assert "95% Wilson interval" in fig._suptitle.get_text()
        plt.close(fig)
    with pytest.raises(ValueError, match="family: no scores for family 'poetry'"):
        score_plots.plot_family(scores, "poetry")


def test_comparison_figures(scores) -> None:
    dis = comparisons.source_disagreements(scores)
    fig = score_plots.plot_disagreements(scores, dis)
    labels = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "S1: 91" in labels and "S4: 90.2" in labels and "S1: 65" in labels and "S4: 59.4" in labels
    wins = comparisons.claimed_wins(scores)
    fig = score_plots.plot_wins(wins)
    assert len(fig.axes[0].get_yticklabels()) == int((wins["gap"] > 0).sum())
    table = comparisons.sample_size_table(scores)
    fig = score_plots.plot_resolvable_gaps(table, wins)
    assert fig.axes[0].get_xlabel().startswith("gap")
    assert [round(p.get_width(), 2) for p in fig.axes[0].patches] == list(table["detectable_gap"])
    with pytest.raises(ValueError, match="disagreements"):
        score_plots.plot_disagreements(scores, dis.iloc[0:0])
    with pytest.raises(ValueError, match="wins"):
        score_plots.plot_wins(wins.drop(columns="verdict"))


def test_accuracy_figure_draws_measured_and_published_scores(tmp_path: Path) -> None:
    results = known_results(tmp_path / "r.sqlite")
    label = suite.backend_label("local")
    acc = scoreboard.accuracy_table(results, 0.9)
    pub = scoreboard.published_for(acc["task"].unique(), acc["model"].unique())
    fig = score_plots.plot_accuracy(acc, pub, label)
    ax = fig.axes[0]
    assert label in ax.get_title() and "90 % Wilson interval" in ax.get_xlabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "gpt-4o (published, S1, S4)" in legend and "claude-sonnet-4-6 (measured)" in legend
    assert [t.get_text() for t in ax.get_yticklabels()] == list(dict.fromkeys(acc["title"]))


def test_model_colors_keep_providers_apart_and_tell_a_ladder_apart() -> None:
    by_provider = score_plots.model_colors(["gpt-4o", "claude-sonnet-4-6"])
    assert by_provider == {"gpt-4o": plots.provider_color("openai"),
                           "claude-sonnet-4-6": plots.provider_color("anthropic")}
    ladder = ["qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"]
    colors = score_plots.model_colors(ladder)
    assert list(colors) == ladder and len(set(colors.values())) == 3  # two alibaba models, two colours
    assert score_plots.model_colors(ladder) == colors


def test_figures_name_their_source(tmp_path: Path) -> None:
    results = known_results(tmp_path / "r.sqlite")
    acc = scoreboard.accuracy_table(results)
    pub = scoreboard.published_for(acc["task"].unique(), acc["model"].unique())
    fig = score_plots.plot_accuracy(acc, pub, "label", "archive ladder-x (model file sha256 abc, recorded 2026-12-01)")
    assert [t.get_text() for t in fig.texts] == ["From archive ladder-x (model file sha256 abc, recorded 2026-12-01)."]
    assert not score_plots.plot_accuracy(acc, pub, "label").texts
    with pytest.raises(ValueError, match="source"):
        score_plots.add_source(fig, " ")
