"""workbench.comparisons: are gaps between published or measured scores real, and how many items resolve them."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from known_rows import known_results, one, published
from workbench import catalog, comparisons, params, scoreboard, stats


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return published()


# --------------------------------------------------------------------------------------------
# Published scores
# --------------------------------------------------------------------------------------------


def test_the_two_named_disagreements_are_found_and_tested(scores) -> None:
    dis = comparisons.source_disagreements(scores)
    he = one(dis, benchmark="HumanEval", model="GPT-4o")
    assert {he["source_a"], he["source_b"]} == {"S1", "S4"}
    assert abs(he["difference"]) == pytest.approx(0.8)
    assert he["p_value"] == pytest.approx(stats.two_proportion_test(0.91, 164, 0.902, 164))
    assert not he["distinguishable"]
    gp = one(dis, benchmark="GPQA", model="Claude 3.5 Sonnet")
    assert abs(gp["difference"]) == pytest.approx(5.6)
    assert 0.05 < gp["p_value"] < 0.1
    assert gp["n_needed"] == stats.sample_size_for_gap(0.594, 0.056)
    # identical reports are listed as agreements, with nothing to resolve
    mmlu = one(dis, benchmark="MMLU", model="GPT-4o")
    assert mmlu["agree"] and pd.isna(mmlu["n_needed"])
    # sorted by the size of the disagreement
    assert dis["difference"].abs().is_monotonic_decreasing


def test_claimed_wins(scores) -> None:
    wins = comparisons.claimed_wins(scores)
    tie = one(wins, source_id="S4", benchmark="MMLU")
    assert tie["verdict"] == "tie" and pd.isna(tie["n_needed"])
    math_ = one(wins, source_id="S4", benchmark="MATH")
    assert math_["leader"] == "GPT-4o" and math_["gap"] == pytest.approx(5.5)
    assert math_["verdict"] == "distinguishable" and math_["resolvable"]
    he = one(wins, source_id="S4", benchmark="HumanEval")
    assert he["verdict"] == "within noise"
    assert he["n_needed"] == stats.sample_size_for_gap(0.902, 0.018) > 164
    arc = wins[(wins["benchmark"] == "ARC-AGI-2")]
    assert (arc["verdict"] == "size unknown").all() and arc["p_value"].isna().all()
    assert (wins["gap"] >= 0).all()
    # a stricter level can only turn verdicts from distinguishable to within noise
    strict = comparisons.claimed_wins(scores, confidence=0.999)
    assert (strict["distinguishable"].fillna(False) <= wins["distinguishable"].fillna(False)).all()


@pytest.mark.parametrize(("call", "name"), [
    (lambda s: comparisons.claimed_wins(s, power=1.5), "power"),
    (lambda s: comparisons.source_disagreements(s, confidence=95), "confidence"),
    (lambda s: comparisons.sample_size_table(s, power=0), "power"),
    (lambda s: comparisons.claimed_wins(s.drop(columns="n_items")), "scores"),
])
def test_bad_parameters_name_themselves(scores, call, name) -> None:
    with pytest.raises(params.ParameterError, match=rf"^{name}: expected"):
        call(scores)


def test_sample_size_table_uses_the_one_power_model(scores) -> None:
    table = comparisons.sample_size_table(scores)
    bench = catalog.benchmarks().set_index("benchmark")
    assert set(table["benchmark"]) == {b for b in set(scores["benchmark"]) if not pd.isna(bench.loc[b, "n_items"])}
    assert table["n_items"].is_monotonic_increasing
    he = one(table, benchmark="HumanEval")
    assert he["detectable_gap"] == round(100 * stats.detectable_gap(he["median_score"] / 100, 164,
                                                                     direction="below"), 2)
    # a gap of that size below the median needs about 164 items per model
    assert abs(stats.sample_size_for_gap(he["median_score"] / 100, -he["detectable_gap"] / 100) - 164) <= 2
    assert one(table, benchmark="MMLU")["detectable_gap"] < 1.5 < he["detectable_gap"]
    assert table.attrs == {"confidence": 0.95, "power": 0.8}


# --------------------------------------------------------------------------------------------
# Measured results
# --------------------------------------------------------------------------------------------


def test_paired_table_is_mcnemar_on_the_common_items(tmp_path: Path) -> None:
    paired = comparisons.paired_table(known_results(tmp_path / "r.sqlite"))
    mmlu = paired[paired["task"] == "mmlu"].iloc[0]
    assert (mmlu["model_a"], mmlu["model_b"]) == ("claude-sonnet-4-6", "gpt-4o")
    assert (mmlu["n"], mmlu["both"], mmlu["a_only"], mmlu["b_only"], mmlu["neither"]) == (4, 1, 0, 2, 1)
    assert mmlu["gap_pts"] == pytest.approx(-50.0)
    assert mmlu["p_value"] == pytest.approx(stats.paired_comparison([1, 0, 0, 0], [1, 1, 1, 0]).p_value)
    assert mmlu["same_reply"] == 2  # items 0 and 3: the same text
    js = paired[paired["task"] == "json_only"].iloc[0]
    assert js["n"] == 1  # only the item both scored
    assert "needle" not in set(paired["task"])  # one model id ran it


def test_gap_table_items_needed_and_smallest_resolvable(tmp_path: Path) -> None:
    results = known_results(tmp_path / "r.sqlite")
    acc = scoreboard.accuracy_table(results)
    paired = comparisons.paired_table(results)
    pub = scoreboard.published_for(acc["task"].unique(), acc["model"].unique())
    gaps = comparisons.gap_table(acc, paired, pub)
    between = one(gaps, kind="two models, same items", task="mmlu")
    assert between["items_needed"] == stats.sample_size_for_gap(0.25, 0.5)
    assert between["smallest_resolvable_pts"] == pytest.approx(100 * stats.detectable_gap(0.25, 4))
    assert not between["resolved"]
    published = gaps[gaps["kind"].str.startswith("measured vs published") & (gaps["task"] == "mmlu")]
    assert set(published["kind"]) == {"measured vs published (S1)", "measured vs published (S4)"}
    row = published.iloc[0]
    assert row["gap_pts"] == pytest.approx(75.0 - 88.7)
    assert row["p_value"] == pytest.approx(stats.two_proportion_test(0.75, 4, 0.887, 14042))
    assert row["items_needed"] == stats.sample_size_for_gap(0.75, 0.137)
    # an extreme gap (0 % vs 100 %) still gets a number of items; the json_only pair (one item) no smallest gap
    extreme = comparisons.gap_table(acc, paired.assign(accuracy_a_pct=0.0, accuracy_b_pct=100.0, gap_pts=-100.0),
                                    pub.iloc[0:0])
    assert (extreme["items_needed"] == stats.sample_size_for_gap(0.0, 1.0)).all()
    assert math.isnan(one(gaps, kind="two models, same items", task="json_only")["smallest_resolvable_pts"])
    with pytest.raises(params.ParameterError, match="paired"):
        comparisons.gap_table(acc, paired.drop(columns="p_value"), pub)


def test_paired_with_intervals_says_which_test_separates_a_pair(tmp_path: Path) -> None:
    results = known_results(tmp_path / "r.sqlite")
    acc = scoreboard.accuracy_table(results)
    both = comparisons.paired_with_intervals(comparisons.paired_table(results), acc)
    mmlu = one(both, task="mmlu")
    assert (mmlu["a_low_pct"], mmlu["b_high_pct"]) == (  # claude 1/4 against gpt-4o 3/4: overlapping
        pytest.approx(100 * stats.wilson_interval(1, 4)[0]), pytest.approx(100 * stats.wilson_interval(3, 4)[1]))
    assert not mmlu["intervals_separate"] and not mmlu["resolved"]
    # hand-made: a (83-95 %) vs b (5-17 %) separate by both criteria; c (50-69 %) vs d (38-57 %) by the test only
    acc = pd.DataFrame({"task": ["t"] * 4, "model": ["a", "b", "c", "d"], "ci_low_pct": [83.0, 5.0, 50.0, 38.0],
                        "ci_high_pct": [95.0, 17.0, 69.0, 57.0]})
    paired = pd.DataFrame({"task": ["t", "t"], "model_a": ["a", "c"], "model_b": ["b", "d"], "p_value": [1e-9, 0.01]})
    out = comparisons.paired_with_intervals(paired, acc)
    assert list(out["intervals_separate"]) == [True, False] and list(out["resolved"]) == [True, True]
    assert list(out["b_high_pct"]) == [17.0, 57.0]
    assert list(comparisons.paired_with_intervals(paired, acc, 0.999)["resolved"]) == [True, False]  # alpha 0.001
    with pytest.raises(params.ParameterError, match="acc"):
        comparisons.paired_with_intervals(paired, acc.drop(columns="ci_low_pct"))
