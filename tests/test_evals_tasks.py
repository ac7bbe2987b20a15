"""Benchmark data read offline, prompts in simple-evals' wording, reproducible stratified subsets."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from workbench import catalog
from workbench.catalog import UnknownNameError
from workbench.evals import tasks
from workbench.evals.data import Item
from workbench.evals.tasks import check_tasks, get_task, needle_task, stratified_sample

SIZES = {"mmlu": 14042, "arc_challenge": 1172, "hellaswag": 10042, "gsm8k": 1319, "math500": 500,
         "humaneval": 164, "humaneval_evalplus": 164, "humaneval_qwen": 164, "mbpp": 500, "json_only": 1172,
         "mmlu_direct": 14042, "arc_direct": 1172}


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


# -- the benchmark each task measures ------------------------------------------------------------

#: Benchmarks our tasks measure that data/benchmarks.csv does not list yet (no published score uses them).
NOT_IN_CATALOG_YET = {"ARC-Challenge", "HellaSwag", "MBPP"}


def test_every_task_names_the_benchmark_it_measures() -> None:
    known = set(catalog.benchmarks()["benchmark"])
    expected = {"mmlu": "MMLU", "arc_challenge": "ARC-Challenge", "hellaswag": "HellaSwag", "gsm8k": "GSM8K",
                "math500": "MATH", "humaneval": "HumanEval", "humaneval_evalplus": "HumanEval", "humaneval_qwen": "HumanEval",
                "mbpp": "MBPP", "mmlu_direct": "MMLU", "arc_direct": "ARC-Challenge", "json_only": None, "needle": None,
                "safety_guard": None}
    assert {name: get_task(name).benchmark for name in tasks.TASK_NAMES} == expected
    for name, bench in expected.items():
        assert bench is None or bench in known or bench in NOT_IN_CATALOG_YET, (name, bench)
    assert "MATH-500" in get_task("math500").benchmark_note and get_task("mmlu").benchmark_note == ""
    assert needle_task([300], [0.5], 1).benchmark is None


def test_code_tasks_name_their_prompt_format() -> None:
    assert get_task("humaneval").options["prompt_format"] == "simple-evals"
    for name in ("humaneval_evalplus", "mbpp"):
        options = get_task(name).options
        assert options["prompt_format"] == "evalplus"
        assert "github.com/evalplus/evalplus" in options["documented_at"]
        assert options["instruction"] == tasks.EVALPLUS_INSTRUCTION


def test_qwen_humaneval_prompt_is_qwens_eval_prompt_and_scores_the_canonical_solution() -> None:
    task = get_task("humaneval_qwen")
    item = task.items()[0]
    assert task.prompt(item) == (
        "You are an intelligent programming assistant to produce Python algorithmic solutions.\n"
        "Can you complete the following Python function?\n```python\n" + item.fields["prompt"].strip() + "\n```")
    assert task.options["prompt_format"] == "qwen2.5-coder" and "QwenLM/Qwen2.5-Coder" in task.options["documented_at"]
    whole = "Here it is:\n```python\n" + item.fields["prompt"] + item.fields["canonical_solution"] + "\n```\nDone."
    assert task.score(item, whole).value == 1.0
    wrong = "```python\n" + item.fields["prompt"] + "    return None\n```"
    assert task.score(item, wrong).value == 0.0


# -- EvalPlus's instruct prompt: HumanEval and MBPP -------------------------------------------------

def test_evalplus_prompts_are_evalplus_chat_messages() -> None:
    he = get_task("humaneval_evalplus")
    item = he.items()[0]
    assert he.prompt(item) == (
        "Please provide a self-contained Python script that solves the following problem in a markdown "
        "code block:\n```python\n" + item.fields["prompt"].strip() + "\n```")
    assert get_task("humaneval").prompt(item).startswith("Read the following function signature")
    mbpp = get_task("mbpp")
    first = mbpp.items()[0]
    assert first.id == "Mbpp/11" and first.fields["entry_point"] == "remove_Occ"
    assert mbpp.prompt(first) == (
        tasks.EVALPLUS_INSTRUCTION + '\n```python\n"""\nWrite a python function to remove first and last '
        'occurrence of a given character from the string.\nassert remove_Occ("hello","l") == "heo"\n"""\n```')


#: Recorded replies of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, llama.cpp, temperature 0) to the EvalPlus
#: prompt: it restates the whole function with its docstring in one fenced block.
QWEN_EVALPLUS_REPLIES = {
    "HumanEval/0": (
        "```python\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) "
        "-> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n"
        "    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    >>> "
        "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n    for i in "
        "range(len(numbers)):\n        for j in range(i + 1, len(numbers)):\n            if abs(numbers[i] - "
        "numbers[j]) < threshold:\n                return True\n    return False\n```"),
    "HumanEval/2": (
        "```python\ndef truncate_number(number: float) -> float:\n    \"\"\" Given a positive floating point "
        "number, it can be decomposed into\n    and integer part (largest integer smaller than given number) "
        "and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal part of the "
        "number.\n    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n    return number - int(number)\n```"),
}


def test_humaneval_evalplus_scores_recorded_qwen_replies() -> None:
    he = {i.id: i for i in get_task("humaneval_evalplus").items()}
    task = get_task("humaneval_evalplus")
    for item_id, reply in QWEN_EVALPLUS_REPLIES.items():
        score = task.score(he[item_id], reply)
        assert score.value == 1.0, (item_id, score.details)
        assert "def " in score.extracted
    # the same reply for the wrong problem fails its tests
    assert task.score(he["HumanEval/2"], QWEN_EVALPLUS_REPLIES["HumanEval/0"]).value == 0.0


def test_mbpp_reference_solutions_pass_and_wrong_code_fails() -> None:
    task = get_task("mbpp")
    for item in task.sample(5, seed=0) + [i for i in task.items() if i.fields["setup"]]:
        reply = ("Here is the function:\n\n```python\n" + item.fields["canonical_solution"].replace("\r\n", "\n")
                 + "\n```\n\nIt passes the example test.")
        score = task.score(item, reply)
        assert score.value == 1.0, (item.id, score.details)
    first = task.items()[0]
    wrong = "```python\ndef remove_Occ(s, ch):\n    return s.replace(ch, '', 1)\n```"  # only the first one
    score = task.score(first, wrong)
    assert score.value == 0.0 and score.details["status"] == "failed"


@pytest.mark.parametrize("name", ["mmlu_direct", "arc_direct"])
def test_direct_choice_tasks_ask_for_the_letter_only_and_read_a_leading_letter(name: str) -> None:
    task = get_task(name)
    item = task.sample(1, 0)[0]
    assert "letter of the correct option only" in task.prompt(item) and task.max_tokens <= 16
    right, wrong = item.target, next(c for c in "ABCD" if c != item.target)
    for reply in (right, f"({right})", f"{right}) because", f"The answer is {right}.", f"Answer: {right}"):
        assert task.score(item, reply).value == 1.0, reply
    assert task.score(item, wrong).value == 0.0
    assert task.score(item, "I am not sure.").extracted is None
