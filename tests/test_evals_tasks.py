"""Benchmark data read offline, prompts in simple-evals' wording, reproducible stratified subsets."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from workbench.catalog import UnknownNameError
from workbench.evals import tasks
from workbench.evals.data import Item
from workbench.evals.tasks import check_tasks, get_task, needle_task, stratified_sample

SIZES = {"mmlu": 14042, "arc_challenge": 1172, "hellaswag": 10042, "gsm8k": 1319, "math500": 500,
         "humaneval": 164, "json_only": 1172}


@pytest.mark.parametrize(("name", "size"), SIZES.items())
def test_full_sets_have_published_sizes_and_unique_ids(name: str, size: int) -> None:
    items = get_task(name).items()
    assert len(items) == size
    assert len({i.id for i in items}) == size


def test_mmlu_has_57_subjects_and_math500_seven() -> None:
    assert len({i.stratum for i in get_task("mmlu").items()}) == 57
    subjects = Counter(i.stratum for i in get_task("math500").items())
    assert len(subjects) == 7 and "unknown" not in subjects


@pytest.mark.parametrize("name", ["mmlu", "arc_challenge", "hellaswag", "json_only"])
def test_multiple_choice_gold_answer_scores_one(name: str) -> None:
    task = get_task(name)
    for item in task.sample(25, seed=3):
        prompt = task.prompt(item)
        letters = "ABCDEFGH"[: len(item.fields["choices"])]
        assert f"where LETTER is one of {letters}" in prompt or f"is one of {letters}." in prompt
        assert f"{item.target}) " in prompt
        if name == "json_only":
            reply = json.dumps({"answer": item.target, "reason": "because"})
            assert task.score(item, reply).details["answer_correct"] == 1.0
        else:
            assert task.score(item, f"Reasoning...\nAnswer: {item.target}").value == 1.0
            wrong = next(c for c in letters if c != item.target)
            assert task.score(item, f"Answer: {wrong}").value == 0.0


def test_gsm8k_and_math_gold_answers_score_one() -> None:
    gsm = get_task("gsm8k")
    for item in gsm.sample(30, seed=1):
        assert gsm.score(item, f"Step one...\nAnswer: {item.target}").value == 1.0
        assert "Do not add anything other than the integer answer" in gsm.prompt(item)
    math = get_task("math500")
    for item in math.items():
        assert math.score(item, f"Work...\nANSWER: {item.target}").value == 1.0
    assert "ANSWER: $ANSWER" in math.prompt(math.items()[0])


def test_humaneval_canonical_solutions_pass_in_sandbox() -> None:
    task = get_task("humaneval")
    for item in task.sample(4, seed=0):
        score = task.score(item, item.fields["canonical_solution"])
        assert score.value == 1.0, (item.id, score.details)
        assert task.prompt(item).startswith("Read the following function signature and docstring")


def test_sampling_is_reproducible_and_stratified() -> None:
    mmlu = get_task("mmlu")
    a, b = mmlu.sample(200, seed=7), mmlu.sample(200, seed=7)
    assert [i.id for i in a] == [i.id for i in b]
    assert [i.id for i in mmlu.sample(200, seed=8)] != [i.id for i in a]
    counts = Counter(i.stratum for i in a)
    full = Counter(i.stratum for i in mmlu.items())
    for subject, n in full.items():  # proportional allocation: within one item of the share
        assert abs(counts.get(subject, 0) - 200 * n / 14042) < 1.0 + 1e-9
    assert len({i.id for i in a}) == 200
    assert len(mmlu.sample(None, seed=0)) == 14042


def test_stratified_sample_small_and_edge_cases() -> None:
    items = [Item(f"{s}{k}", stratum=s) for s, n in (("a", 6), ("b", 3), ("c", 1)) for k in range(n)]
    picked = stratified_sample(items, 5, seed=0)
    assert Counter(i.stratum for i in picked) == Counter({"a": 3, "b": 1, "c": 1}) or \
        Counter(i.stratum for i in picked) == Counter({"a": 3, "b": 2})
    assert len(stratified_sample(items, 50, seed=0)) == 10
    with pytest.raises(ValueError, match="limit"):
        stratified_sample(items, 0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        stratified_sample(items, 2, seed="x")  # type: ignore[arg-type]


def test_needle_items() -> None:
    task = needle_task(lengths=[300, 600], depths=[0.0, 0.5, 1.0], per_cell=2)
    items = task.items()
    assert len(items) == 12 and len({i.id for i in items}) == 12
    for item in items:
        hay = item.fields["haystack"]
        needle = f"The special magic number for {item.fields['key']} is {item.target}."
        assert hay.count(needle) == 1
        n = tasks.count_tokens(hay)
        assert item.fields["length"] <= n <= item.fields["length"] + 40
        pos = hay.index(needle) / len(hay)
        assert abs(pos - item.fields["depth"]) < 0.2
        assert task.score(item, item.target).value == 1.0
    assert [i.id for i in needle_task([300, 600], [0.0, 0.5, 1.0], 2).items()] == [i.id for i in items]
    assert Counter(i.stratum for i in task.sample(6, seed=0)) == Counter(
        {f"L{n}/D{d:g}": 1 for n in (300, 600) for d in (0.0, 0.5, 1.0)})
    with pytest.raises(ValueError, match="lengths"):
        needle_task(lengths=[10])
    with pytest.raises(ValueError, match="depths"):
        needle_task(depths=[1.5])


def test_unknown_task_names_the_parameter() -> None:
    with pytest.raises(UnknownNameError, match="tasks: unknown task 'mmlu_pro'.*mmlu"):
        check_tasks(["mmlu", "mmlu_pro"])
    with pytest.raises(UnknownNameError, match="task"):
        get_task("gsm8")
