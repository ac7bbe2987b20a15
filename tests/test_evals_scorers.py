"""Every scorer on known answers: multiple choice, numbers, MATH, HumanEval (sandboxed), JSON, needle."""
from __future__ import annotations

import pytest
from workbench.evals import scorers
from workbench.evals.data import load_humaneval
from workbench.evals.scorers import (
    extract_choice,
    extract_code,
    extract_math_answer,
    extract_number,
    last_boxed,
    math_equal,
    normalize_number,
    score_choice,
    score_humaneval,
    score_json,
    score_math,
    score_needle,
    score_number,
)

# -- multiple choice -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Let me think... B is wrong.\nAnswer: C", "C"),
        ("answer: d", "D"),
        ("**Answer:** B", "B"),           # markdown bold removed first
        ("Answer: $\\boxed{A}$", "A"),     # LaTeX wrapper removed first
        ("Answer:\tB", "B"),
        ("The answer is B", None),        # no "Answer:" line: no answer
        ("Answer: E", None),              # not an option of a 4-way question
        ("Answer: A\nAnswer: B", "A"),    # first match, as simple-evals
    ],
)
def test_extract_choice(reply: str, expected: str | None) -> None:
    assert extract_choice(reply) == expected


def test_score_choice_five_options() -> None:
    assert score_choice("Answer: E", "E", "ABCDE").value == 1.0
    assert score_choice("Answer: E", "A", "ABCDE").value == 0.0
    assert score_choice("nothing", "A").extracted is None


# -- numbers (GSM8K) -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("reply", "target", "value"),
    [
        ("Janet sells 9 eggs at $2.\nAnswer: 18", "18", 1.0),
        ("Answer: $18.00", "18", 1.0),
        ("Answer: 1,450,000", "1450000", 1.0),
        ("so 3 + 4 = 7 and then\nAnswer: the total is 7 dollars", "7", 1.0),
        ("Answer: 17", "18", 0.0),
        ("The answer is 18.", "18", 0.0),           # no "Answer" prefix: nothing extracted
        ("Answer: -5", "-5", 1.0),                  # sign kept (departure from MGSM, documented)
        ("Answer: 12 apples, 3 left", "3", 1.0),    # the last number after the prefix
    ],
)
def test_score_number(reply: str, target: str, value: float) -> None:
    assert score_number(reply, target).value == value


def test_number_helpers() -> None:
    assert normalize_number("2,125.50") == "2125.5"
    assert normalize_number("-0") == "0"
    assert extract_number("no prefix 12") is None
    assert extract_number("Answer: 3. Also Answer: 42.") == "42"


# -- MATH -------------------------------------------------------------------------------------

def test_last_boxed_nested() -> None:
    sol = "so $\\boxed{2}$ is wrong; the answer is $\\boxed{\\frac{\\sqrt{3}}{2}}$."
    assert last_boxed(sol) == "\\frac{\\sqrt{3}}{2}"
    assert last_boxed("no box") is None


@pytest.mark.parametrize(
    ("predicted", "target", "equal"),
    [
        ("\\dfrac{14}{3}", "\\frac{14}{3}", True),
        ("14/3", "\\frac{14}{3}", True),
        ("\\frac{1}{2}", "0.5", True),
        ("\\frac12", "\\frac{1}{2}", True),
        ("$x = 5$", "5", True),
        ("90^\\circ", "90", True),
        ("10\\%", "10", True),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("(3,\\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("\\text{Evelyn}", "\\text{Evelyn}", True),
        ("Evelyn", "\\text{Evelyn}", True),
        ("5 \\text{ cm}", "5", True),
        ("1,000", "1000", True),
        ("p-q", "p-q", True),
        ("\\frac{14}{3}", "\\frac{3}{14}", False),
        ("4", "5", False),
        (None, "5", False),
    ],
)
def test_math_equal(predicted: str | None, target: str, equal: bool) -> None:
    assert math_equal(predicted, target) is equal


def test_score_math_reads_answer_line() -> None:
    reply = "We compute r = 3 and theta = pi/2.\nANSWER: $\\left(3, \\frac{\\pi}{2}\\right)$"
    score = score_math(reply, "\\left( 3, \\frac{\\pi}{2} \\right)")
    assert score.value == 1.0
    assert extract_math_answer("so \\boxed{7}") == "7"  # falls back to the last box


# -- HumanEval (runs in the sandbox) ------------------------------------------------------------

@pytest.fixture(scope="module")
def problem() -> dict:
    item = next(i for i in load_humaneval() if i.id == "HumanEval/0")
    return {"prompt": item.fields["prompt"], "test": item.target, "entry_point": item.fields["entry_point"]}


def test_extract_code_fenced_and_bare() -> None:
    assert extract_code("Here:\n```python\nx = 1\n```\nDone") == "x = 1\n"
    assert extract_code("```\ny = 2\n```") == "y = 2\n"
    assert extract_code("    return 1\n") == "    return 1\n"


def test_humaneval_full_function_passes(problem: dict) -> None:
    reply = ("```python\nfrom typing import List\n\ndef has_close_elements(numbers: List[float], "
             "threshold: float) -> bool:\n    return any(abs(a - b) < threshold for i, a in "
             "enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n```")
    score = score_humaneval(reply, **problem)
    assert score.value == 1.0, score.details


def test_humaneval_body_only_passes(problem: dict) -> None:
    reply = ("    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
             "            if i != j and abs(a - b) < threshold:\n                return True\n"
             "    return False\n")
    assert score_humaneval(reply, **problem).value == 1.0


def test_humaneval_wrong_code_fails(problem: dict) -> None:
    score = score_humaneval("```python\ndef has_close_elements(numbers, threshold):\n    return True\n```",
                            **problem)
    assert score.value == 0.0
    assert score.details["status"] == "failed"
    assert "AssertionError" in score.details["stderr_tail"]


def test_humaneval_runaway_code_is_stopped(problem: dict) -> None:
    score = score_humaneval("```python\ndef has_close_elements(numbers, threshold):\n    while True:\n"
                            "        pass\n```", **problem, timeout=1.5)
    assert score.value == 0.0 and score.details["status"] == "timeout"


# -- JSON only ----------------------------------------------------------------------------------

REQ = {"answer": str, "reason": str}


@pytest.mark.parametrize(
    ("reply", "strict", "lenient"),
    [
        ('{"answer": "B", "reason": "Iron is magnetic."}', 1.0, 1.0),
        ('  \n{"answer": "B", "reason": "x"}\n', 1.0, 1.0),                      # whitespace is fine
        ('Sure! Here is the JSON:\n{"answer": "B", "reason": "x"}', 0.0, 1.0),   # prose before
        ('```json\n{"answer": "B", "reason": "x"}\n```', 0.0, 1.0),              # code fence
        ('{"answer": "B"}', 0.0, 0.0),                                          # missing key
        ('{"answer": 2, "reason": "x"}', 0.0, 0.0),                             # wrong type
        ("The answer is B.", 0.0, 0.0),
        ('{"answer": "B", "reason": "x"', 0.0, 0.0),                            # truncated
        ('[{"answer": "B", "reason": "x"}]', 0.0, 0.0),                         # not an object
    ],
)
def test_score_json(reply: str, strict: float, lenient: float) -> None:
    score = score_json(reply, REQ, "answer", "B")
    assert score.value == strict
    assert score.details["strict"] == strict and score.details["lenient"] == lenient
    if lenient:
        assert score.details["answer_correct"] == 1.0


def test_score_json_wrong_answer_still_compliant() -> None:
    score = score_json('{"answer": "A", "reason": "x"}', REQ, "answer", "B")
    assert score.value == 1.0 and score.details["answer_correct"] == 0.0


# -- needle -----------------------------------------------------------------------------------

def test_score_needle() -> None:
    assert score_needle("The number is 6791463.", "6791463").value == 1.0
    assert score_needle("6,791,463", "6791463").value == 1.0
    assert score_needle("67914630", "6791463").value == 0.0   # a longer number is not the needle
    assert score_needle("I don't know", "6791463").value == 0.0
    assert scorers.score_needle("1234567", "6791463").extracted == "1234567"
