"""workbench.reproduction: measured vs published with a verdict, why code answers failed, what is not reproduced.

Read from a real results store with known HumanEval rows of the two Qwen models (``known_rows.known_ladder``):
116/164 for the 1.5B (its published 70.7 % lies inside our interval) and 80/164 for the 0.5B (its published
61.6 % lies above it).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from known_rows import LADDER, known_ladder, one
from workbench import reproduction, scoreboard, stats
from workbench.catalog import UnknownNameError


@pytest.fixture()
def ladder(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    results = known_ladder(tmp_path / "ladder.sqlite")
    acc = scoreboard.accuracy_table(results)
    return results, acc, scoreboard.published_for(acc["task"].unique(), acc["model"].unique())


def test_prompt_format_says_how_the_task_asked() -> None:
    text = reproduction.prompt_format("humaneval_qwen")
    assert text.startswith("qwen2.5-coder; system line 'You are an intelligent programming assistant")
    assert "instruction 'Can you complete the following Python function?'" in text
    assert text.endswith("answer prefill: none (chat API)")
    assert reproduction.prompt_format("mmlu_direct") == "letter only"
    assert reproduction.prompt_format("mmlu_direct", {"prompt_format": "as recorded"}) == "as recorded"


def test_the_verdict_is_whether_the_published_value_lies_in_our_interval(ladder) -> None:
    _, acc, published = ladder
    table = reproduction.reproduction_table(acc, published)
    assert list(table["model"]) == list(acc["model"].unique())  # both have a published HumanEval score, in acc order
    assert set(table["model"]) == set(LADDER)
    big = one(table, model="qwen2.5-coder-1.5b-instruct")
    low, high = stats.wilson_interval(116, 164)
    assert (big["scored"], big["correct"], big["published_pct"], big["source_id"]) == (164, 116, 70.7, "S5")
    assert big["ci_low_pct"] == pytest.approx(100 * low) and big["ci_high_pct"] == pytest.approx(100 * high)
    assert big["inside"] and big["verdict"] == "inside our interval"
    assert big["gap_pts"] == pytest.approx(100 * 116 / 164 - 70.7)
    small = one(table, model="qwen2.5-coder-0.5b-instruct")
    assert 100 * stats.wilson_interval(80, 164)[1] < 61.6
    assert not small["inside"] and small["verdict"] == "above our interval"
    assert small["cut_by_cap_pct"] == pytest.approx(100 / 164) and small["benchmark"] == "HumanEval"
    assert small["prompt format"] == reproduction.prompt_format("humaneval_qwen")
    # a published value below the interval, and no published counterpart at all
    lower = reproduction.reproduction_table(acc, published.assign(published_pct=1.0))
    assert set(lower["verdict"]) == {"below our interval"}
    assert reproduction.reproduction_table(acc, published.iloc[0:0]).empty


def test_failure_kinds_sort_the_failed_answers(ladder) -> None:
    results, _, _ = ladder
    kinds = reproduction.failure_kinds(results, "humaneval_qwen")
    small = kinds[kinds["model"] == "qwen2.5-coder-0.5b-instruct"].set_index("kind")["replies"]
    assert small.to_dict() == {"cut by the output cap": 1, "no code in the reply": 1, "a name or import missing": 1,
                               "a test failed": 164 - 80 - 5, "the code raised an error": 1, "timed out or out of memory": 1}
    assert kinds.groupby("model")["share_pct"].sum().round(6).eq(100).all()
    assert set(reproduction.FRAMING) <= set(kinds["kind"]) | {"code that does not parse"}
    assert reproduction.failure_kinds(results, "mmlu_direct").empty


def test_not_reproduced_says_why_and_names_the_nearest_run(ladder) -> None:
    _, acc, published = ladder
    table = reproduction.reproduction_table(acc, published)
    others = reproduction.not_reproduced([*LADDER, "smollm2-135m-instruct"], acc, table)
    assert not ((others["benchmark"] == "HumanEval") & others["model"].isin(LADDER)).any()  # reproduced above
    he_plus = one(others, model="qwen2.5-coder-1.5b-instruct", benchmark="HumanEval+")
    assert he_plus["why not"] == reproduction.WHY_NOT["HumanEval+"] and he_plus["source_id"] == "S5"
    assert he_plus["nearest run"] == "HumanEval (Qwen prompt): 71 % (n = 164)"
    cloze = one(others, model="smollm2-135m-instruct", benchmark="MMLU (cloze)")
    assert "log-likelihood" in cloze["why not"] and "n_probs" in cloze["why not"] and cloze["published_pct"] == 29.3
    assert cloze["nearest run"] == "" and "cloze" in cloze["how it was made"]
    assert one(others, model="qwen2.5-coder-0.5b-instruct", benchmark="BigCodeBench-Instruct")["nearest run"] == ""
    with pytest.raises(UnknownNameError, match="models"):
        reproduction.not_reproduced(["gpt-9"], acc, table)
