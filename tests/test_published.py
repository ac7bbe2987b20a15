"""Published scores: selection, intervals, cross-source disagreements, wins and sample sizes."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from workbench import catalog, published, stats


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return published.with_intervals(published.published_scores(), 0.95)


def _row(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, value in where.items():
        mask &= frame[col] == value
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


def test_published_scores_are_the_accuracy_rows_of_scores_csv():
    raw = catalog.scores()
    acc = raw[(raw["metric"] == "accuracy") & (raw["unit"] == "percent")]
    table = published.published_scores()
    assert len(table) == len(acc)
    assert table["n_items"].dtype == "Int64"
    assert _row(table, benchmark="HumanEval", model_id="gpt-4o", source_id="S4")["score"] == 90.2
    assert _row(table, benchmark="HumanEval", model_id="gpt-4o", source_id="S4")["n_items"] == 164
    assert pd.isna(_row(table, benchmark="ARC-AGI-2", model_id="gpt-5.5", source_id="S2")["n_items"])


def test_filters_and_errors_name_the_parameter():
    only = published.published_scores(sources=["S4"], benchmarks="GPQA")
    assert set(only["source_id"]) == {"S4"} and set(only["benchmark"]) == {"GPQA"}
    with pytest.raises(catalog.UnknownNameError, match=r"sources: unknown source id 'S9'"):
        published.published_scores(sources=["S9"])
    with pytest.raises(catalog.UnknownNameError, match=r"benchmarks: unknown benchmark 'HumanEvil'"):
        published.published_scores(benchmarks=["HumanEvil"])
    with pytest.raises(catalog.UnknownNameError, match=r"models: unknown model 'gpt-9'"):
        published.published_scores(models=["gpt-9"])
    with pytest.raises(ValueError, match="no published accuracy score"):
        published.published_scores(sources=["S3"])  # S3 is qualitative: no scores


def test_other_measures_hold_the_latencies():
    other = published.other_measures()
    assert set(other["unit"]) == {"ms"}
    assert _row(other, benchmark="time to first token", model="Gemini 3.1 Pro")["value"] == 320


def test_score_table_has_one_column_per_source(scores):
    wide = published.score_table(scores)
    assert wide.loc[("coding", "HumanEval", "GPT-4o"), "S1"] == 91
    assert wide.loc[("coding", "HumanEval", "GPT-4o"), "S4"] == 90.2


def test_whole_item_arithmetic():
    assert published.implied_correct(90.2, 164) == 148
    assert published.whole_items_consistent(59.4, 448)  # 266 / 448 = 59.375 %
    assert not published.whole_items_consistent(59.4, 198)  # no k / 198 rounds to 59.4 %
    assert published.whole_items_consistent(65, 198)
    with pytest.raises(ValueError, match="score_pct"):
        published.implied_correct(101, 164)
    with pytest.raises(ValueError, match="n must"):
        published.implied_correct(50, 0)


def test_intervals_match_stats_and_are_missing_without_a_size(scores):
    he = _row(scores, benchmark="HumanEval", model_id="gpt-4o", source_id="S4")
    lo, hi = stats.score_interval(90.2, 164, 0.95)
    assert (he["ci_low"], he["ci_high"]) == (round(lo, 2), round(hi, 2))
    assert he["correct"] == 148 and he["half_width"] > 4
    mmlu = _row(scores, benchmark="MMLU", model_id="gpt-4o", source_id="S1")
    assert mmlu["half_width"] < 0.6  # 14,042 items: a narrow interval
    arc = _row(scores, benchmark="ARC-AGI-2", model_id="gpt-5.5", source_id="S2")
    assert math.isnan(arc["ci_low"]) and pd.isna(arc["correct"])
    wider = published.with_intervals(published.published_scores(benchmarks="HumanEval"), 0.99)
    assert _row(wider, model_id="gpt-4o", source_id="S4")["half_width"] > he["half_width"]
    with pytest.raises(ValueError, match="confidence"):
        published.with_intervals(published.published_scores(benchmarks="HumanEval"), 95)


def test_the_two_named_disagreements_are_found_and_tested(scores):
    dis = published.source_disagreements(scores)
    he = _row(dis, benchmark="HumanEval", model="GPT-4o")
    assert {he["source_a"], he["source_b"]} == {"S1", "S4"}
    assert abs(he["difference"]) == pytest.approx(0.8)
    assert he["p_value"] == pytest.approx(stats.two_proportion_test(0.91, 164, 0.902, 164))
    assert not he["distinguishable"]
    gp = _row(dis, benchmark="GPQA", model="Claude 3.5 Sonnet")
    assert abs(gp["difference"]) == pytest.approx(5.6)
    assert 0.05 < gp["p_value"] < 0.1
    assert gp["n_needed"] == stats.sample_size_for_gap(0.594, 0.056)
    # identical reports are listed as agreements
    assert _row(dis, benchmark="MMLU", model="GPT-4o")["agree"]
    # sorted by the size of the disagreement
    assert dis["difference"].abs().is_monotonic_decreasing


def test_claimed_wins(scores):
    wins = published.claimed_wins(scores)
    tie = _row(wins, source_id="S4", benchmark="MMLU")
    assert tie["verdict"] == "tie" and pd.isna(tie["n_needed"])
    math_ = _row(wins, source_id="S4", benchmark="MATH")
    assert math_["leader"] == "GPT-4o" and math_["gap"] == pytest.approx(5.5)
    assert math_["verdict"] == "distinguishable" and math_["resolvable"]
    he = _row(wins, source_id="S4", benchmark="HumanEval")
    assert he["verdict"] == "within noise"
    assert he["n_needed"] == stats.sample_size_for_gap(0.902, 0.018) > 164
    arc = wins[(wins["benchmark"] == "ARC-AGI-2")]
    assert (arc["verdict"] == "size unknown").all() and arc["p_value"].isna().all()
    assert (wins["gap"] >= 0).all()
    # a stricter level can only turn verdicts from distinguishable to within noise
    strict = published.claimed_wins(scores, confidence=0.999)
    assert (strict["distinguishable"].fillna(False) <= wins["distinguishable"].fillna(False)).all()
    with pytest.raises(ValueError, match="power"):
        published.claimed_wins(scores, power=1.5)


@pytest.mark.parametrize("score, n", [(91.0, 164), (59.0, 448), (88.7, 14_042), (50.0, 30)])
def test_detectable_gap_inverts_sample_size_for_gap(score, n):
    gap = published.detectable_gap(score, n)
    # the gap (rounded to 0.01 points) needs about n items, and a gap 0.05 points smaller needs more
    assert abs(stats.sample_size_for_gap(score / 100, -gap / 100) - n) <= max(2, n // 500)
    assert stats.sample_size_for_gap(score / 100, -(gap - 0.05) / 100) > n


def test_detectable_gap_shrinks_with_more_items_and_rejects_bad_input():
    assert published.detectable_gap(85, 164) > published.detectable_gap(85, 1_000) > published.detectable_gap(85, 14_042)
    assert math.isnan(published.detectable_gap(5, 3))  # even 0 % cannot be told apart
    with pytest.raises(ValueError, match="score_pct"):
        published.detectable_gap(0, 100)
    with pytest.raises(ValueError, match="n must"):
        published.detectable_gap(80, 1)


def test_sample_size_table_and_unsized_benchmarks(scores):
    table = published.sample_size_table(scores)
    bench = catalog.benchmarks().set_index("benchmark")
    sized = {b for b in set(scores["benchmark"]) if not pd.isna(bench.loc[b, "n_items"])}
    assert set(table["benchmark"]) == sized
    assert table["n_items"].is_monotonic_increasing
    he = _row(table, benchmark="HumanEval")
    assert he["detectable_gap"] == published.detectable_gap(he["median_score"], 164)
    assert _row(table, benchmark="MMLU")["detectable_gap"] < 1.5 < he["detectable_gap"]
    unsized = published.unsized_benchmarks(scores)
    assert set(unsized["benchmark"]) == set(scores["benchmark"]) - sized
    assert (unsized["sources"] == "S2").all()


def test_family_figures_have_a_panel_per_benchmark(scores):
    for family, grp in scores.groupby("family"):
        fig = published.plot_family(scores, family)
        used = [ax for ax in fig.axes if ax.axison]
        assert len(used) == grp["benchmark"].nunique()
        titles = " ".join(ax.get_title() for ax in used)
        for bench in grp["benchmark"].unique():
            assert bench in titles
        plt.close(fig)
    with pytest.raises(ValueError, match="family: no scores for family 'poetry'"):
        published.plot_family(scores, "poetry")


def test_comparison_figures(scores):
    dis = published.source_disagreements(scores)
    fig = published.plot_disagreements(scores, dis)
    labels = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "S1: 91" in labels and "S4: 90.2" in labels and "S1: 65" in labels and "S4: 59.4" in labels
    wins = published.claimed_wins(scores)
    fig = published.plot_wins(wins)
    assert len(fig.axes[0].get_yticklabels()) == int((wins["gap"] > 0).sum())
    fig = published.plot_resolvable_gaps(published.sample_size_table(scores), wins)
    assert fig.axes[0].get_xlabel().startswith("gap")
    with pytest.raises(ValueError, match="disagreements"):
        published.plot_disagreements(scores, dis.iloc[0:0])
