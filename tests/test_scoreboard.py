"""workbench.scoreboard: published scores (selection, intervals, whole items) and measured accuracy beside them."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from known_rows import known_results, one, published
from workbench import catalog, evals, params, scoreboard, stats


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return published()


@pytest.fixture()
def results(tmp_path: Path) -> pd.DataFrame:
    return known_results(tmp_path / "r.sqlite")


# --------------------------------------------------------------------------------------------
# Published scores
# --------------------------------------------------------------------------------------------


def test_published_scores_are_the_accuracy_rows_of_scores_csv() -> None:
    raw = catalog.scores()
    acc = raw[(raw["metric"] == "accuracy") & (raw["unit"] == "percent")]
    table = scoreboard.published_scores()
    assert len(table) == len(acc)
    assert table["n_items"].dtype == "Int64"
    assert one(table, benchmark="HumanEval", model_id="gpt-4o", source_id="S4")["score"] == 90.2
    assert one(table, benchmark="HumanEval", model_id="gpt-4o", source_id="S4")["n_items"] == 164
    assert pd.isna(one(table, benchmark="ARC-AGI-2", model_id="gpt-5.5", source_id="S2")["n_items"])


def test_filters_and_errors_name_the_parameter() -> None:
    only = scoreboard.published_scores(sources=["S4"], benchmarks="GPQA")
    assert set(only["source_id"]) == {"S4"} and set(only["benchmark"]) == {"GPQA"}
    with pytest.raises(catalog.UnknownNameError, match=r"sources: unknown source id 'S9'"):
        scoreboard.published_scores(sources=["S9"])
    with pytest.raises(catalog.UnknownNameError, match=r"benchmarks: unknown benchmark 'HumanEvil'"):
        scoreboard.published_scores(benchmarks=["HumanEvil"])
    with pytest.raises(catalog.UnknownNameError, match=r"models: unknown model 'gpt-9'"):
        scoreboard.published_scores(models=["gpt-9"])
    with pytest.raises(ValueError, match="no published accuracy score"):
        scoreboard.published_scores(sources=["S3"])  # S3 is qualitative: no scores


def test_other_measures_hold_the_latencies() -> None:
    other = scoreboard.other_measures()
    assert set(other["unit"]) == {"ms"}
    assert one(other, benchmark="time to first token", model="Gemini 3.1 Pro")["value"] == 320


def test_score_table_has_one_column_per_source(scores) -> None:
    wide = scoreboard.score_table(scores)
    assert wide.loc[("coding", "HumanEval", "GPT-4o"), "S1"] == 91
    assert wide.loc[("coding", "HumanEval", "GPT-4o"), "S4"] == 90.2
    with pytest.raises(params.ParameterError, match=r"scores: expected a table with the column\(s\) \['source_id'\]"):
        scoreboard.score_table(scores.drop(columns="source_id"))


def test_whole_item_arithmetic() -> None:
    assert scoreboard.implied_correct(90.2, 164) == 148
    assert scoreboard.whole_items_consistent(59.4, 448)  # 266 / 448 = 59.375 %
    assert not scoreboard.whole_items_consistent(59.4, 198)  # no k / 198 rounds to 59.4 %
    assert scoreboard.whole_items_consistent(65, 198)
    with pytest.raises(ValueError, match="score_pct"):
        scoreboard.implied_correct(101, 164)
    with pytest.raises(ValueError, match="n must"):
        scoreboard.implied_correct(50, 0)


def test_intervals_match_stats_and_are_missing_without_a_size(scores) -> None:
    he = one(scores, benchmark="HumanEval", model_id="gpt-4o", source_id="S4")
    lo, hi = stats.score_interval(90.2, 164, 0.95)
    assert (he["ci_low"], he["ci_high"]) == (round(lo, 2), round(hi, 2))
    assert he["correct"] == 148 and he["half_width"] > 4
    mmlu = one(scores, benchmark="MMLU", model_id="gpt-4o", source_id="S1")
    assert mmlu["half_width"] < 0.6  # 14,042 items: a narrow interval
    arc = one(scores, benchmark="ARC-AGI-2", model_id="gpt-5.5", source_id="S2")
    assert math.isnan(arc["ci_low"]) and pd.isna(arc["correct"])
    wider = scoreboard.with_intervals(scoreboard.published_scores(benchmarks="HumanEval"), 0.99)
    assert one(wider, model_id="gpt-4o", source_id="S4")["half_width"] > he["half_width"]
    with pytest.raises(ValueError, match="confidence"):
        scoreboard.with_intervals(scoreboard.published_scores(benchmarks="HumanEval"), 95)


def test_unsized_benchmarks_are_the_ones_without_n_items(scores) -> None:
    unsized = scoreboard.unsized_benchmarks(scores)
    bench = catalog.benchmarks().set_index("benchmark")
    assert set(unsized["benchmark"]) == {b for b in set(scores["benchmark"]) if pd.isna(bench.loc[b, "n_items"])}
    assert (unsized["sources"] == "S2").all()


# --------------------------------------------------------------------------------------------
# Measured accuracy next to the published scores
# --------------------------------------------------------------------------------------------


def test_each_benchmark_task_names_a_catalog_benchmark() -> None:
    named = {t: scoreboard.benchmark_of(t) for t in evals.TASK_NAMES}
    assert {t: named[t] for t in ("mmlu", "arc_challenge", "hellaswag", "gsm8k", "math500", "humaneval")} == {
        "mmlu": "MMLU", "arc_challenge": "ARC-Challenge", "hellaswag": "HellaSwag", "gsm8k": "GSM8K",
        "math500": "MATH", "humaneval": "HumanEval"}
    assert named["json_only"] is None and named["needle"] is None  # they measure behaviour, not a benchmark
    assert scoreboard.benchmark_of("not-a-task") is None
    assert "MATH-500" in scoreboard.task_note("math500") and scoreboard.task_note("mmlu") == ""


def test_published_for_is_published_scores_per_task() -> None:
    pub = scoreboard.published_for(["mmlu", "math500", "json_only"], ["gpt-4o", "gemini-2.5-flash"])
    assert set(pub["benchmark"]) == {"MMLU", "MATH"} and set(pub["model"]) == {"gpt-4o"}
    assert (pub.loc[pub["task"] == "math500", "n_items"] == 5000).all()
    assert pub.loc[pub["task"] == "math500", "note"].str.contains("MATH-500").all()
    # the same numbers as published_scores, with nothing rebuilt
    same = scoreboard.published_scores(benchmarks=["MMLU"], models=["gpt-4o"])
    mmlu = pub[pub["task"] == "mmlu"]
    assert sorted(zip(mmlu["source_id"], mmlu["published_pct"])) == sorted(zip(same["source_id"], same["score"]))
    assert scoreboard.published_for(["json_only", "needle"], ["gpt-4o"]).empty
    # a benchmark without a row in data/benchmarks.csv has no published score (and is no error)
    if "HellaSwag" not in set(catalog.benchmarks()["benchmark"]):
        assert scoreboard.published_for(["hellaswag"], ["gpt-4o"]).empty
    with pytest.raises(catalog.UnknownNameError, match="gpt-9"):
        scoreboard.published_for(["mmlu"], ["gpt-9"])


def test_accuracy_table_counts_intervals_and_published_scores(results) -> None:
    acc = scoreboard.accuracy_table(results).set_index(["task", "model"])
    g = acc.loc[("mmlu", "gpt-4o")]
    assert (g["scored"], g["correct"], g["accuracy_pct"]) == (4, 3, 75.0)
    low, high = stats.wilson_interval(3, 4)
    assert g["ci_low_pct"] == pytest.approx(100 * low) and g["ci_high_pct"] == pytest.approx(100 * high)
    assert "88.7 (S1)" in g["published"] and "88.7 (S4)" in g["published"]  # data/scores.csv
    assert g["benchmark"] == "MMLU"
    assert acc.loc[("mmlu", "claude-sonnet-4-6"), "published"] == ""  # no published MMLU for this id
    j = acc.loc[("json_only", "gpt-4o")]
    assert (j["requested"], j["scored"], j["failed"], j["accuracy_pct"]) == (2, 1, 1, 100.0)  # failed is not wrong
    assert j["benchmark"] == ""
    # the finally failed item bounds the accuracy: 1/2 if it was wrong, 2/2 if right; no cap cut, no archive
    assert (j["failed_items"], j["if_failed_wrong_pct"], j["if_failed_right_pct"]) == (("arc/2",), 50.0, 100.0)
    assert (g["failed_items"], g["if_failed_wrong_pct"], g["cut_by_cap_pct"], g["archive"]) == ((), 75.0, 0.0, "")
    cut = results.assign(details=[{**d, "finish_reason": "length"} if t == "mmlu" and i == "s/0" else d
                                  for d, t, i in zip(results["details"], results["task"], results["item_id"])])
    assert scoreboard.accuracy_table(cut).set_index(["task", "model"]).loc[("mmlu", "gpt-4o"), "cut_by_cap_pct"] == 25.0
    wider = scoreboard.accuracy_table(results, 0.99).set_index(["task", "model"])
    assert wider.loc[("mmlu", "gpt-4o"), "ci_low_pct"] < g["ci_low_pct"]
    assert wider.attrs["confidence"] == 0.99


def test_accuracy_table_rejects_empty_results_and_a_bad_level(results) -> None:
    with pytest.raises(ValueError, match="results"):
        scoreboard.accuracy_table(results.iloc[0:0])
    with pytest.raises(params.ParameterError, match="confidence"):
        scoreboard.accuracy_table(results, 1.5)


def test_chance_is_one_over_the_options_of_the_items_asked() -> None:
    items = {}
    for it in evals.get_task("arc_direct").items():
        items.setdefault(len(it.fields["choices"]), it.id)
    assert set(items) == {3, 4, 5}  # ARC-Challenge has a few items with three or five options
    rows = pd.DataFrame({"task": ["arc_direct"] * 3 + ["humaneval_qwen", "json_only"],
                         "item_id": [*items.values(), "HumanEval/0", items[4]]})
    table = scoreboard.chance_table(rows)
    assert list(table["task"]) == ["arc_direct"] and table["items"].iloc[0] == 3  # code has no options, JSON no accuracy
    assert table["chance_pct"].iloc[0] == pytest.approx(100 * (1 / 3 + 1 / 4 + 1 / 5) / 3)
    with pytest.raises(params.ParameterError, match="results"):
        scoreboard.chance_table(rows.drop(columns="item_id"))
