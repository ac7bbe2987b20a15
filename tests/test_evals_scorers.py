"""Every scorer on known answers: multiple choice, numbers, MATH, HumanEval (sandboxed), JSON, needle."""
from __future__ import annotations

import pytest
from workbench.evals import programs, scorers
from workbench.evals.data import load_humaneval, load_mbpp
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


# -- multiple choice: full-width letters and "Answer" in other languages (simple-evals' MMLU) ----

#: Replies as models write them to simple-evals' multiple-choice prompt, in several languages.
MULTILINGUAL_REPLIES = [
    ("この問題では、酸素は生物の呼吸に必要です。選択肢を比較すると、Ｂが最も適切です。\n\n答え：Ｂ", "B"),
    ("首先分析每个选项。A 项错误，因为光合作用发生在叶绿体中；C 项和 D 项也不符合题意。\n\n答案：C", "C"),
    ("让我们逐步思考。\n1. 氢原子只有一个电子。\n2. 因此选项Ｄ正确。\n\n答案: Ｄ", "D"),
    (("Zuerst betrachten wir die Definition der Inflation. Option A beschreibt sinkende Preise.\n\n"
     "Antwort: C"), "C"),
    ("La fotosíntesis convierte la energía luminosa en energía química.\n\nRespuesta: A", "A"),
    ("Analysons les options une par une. La bonne réponse concerne la mitose.\n\nRéponse : D", "D"),
    ("الخيار الأول غير صحيح لأن الماء يغلي عند 100 درجة مئوية.\n\nالإجابة: ب", "B"),
    ("প্রথমে প্রশ্নটি বিশ্লেষণ করি।\n\nউত্তর: অ", "A"),
    ("정답을 찾기 위해 각 보기를 살펴보겠습니다.\n\n정답: C", "C"),
    ("Let me think step by step.\nThe mitochondria produce ATP.\n\nAnswer:\u200b\u200b\u200bB", "B"),  # Korean-style zero-width spaces
    ("Step 1: the derivative of x^2 is 2x.\nStep 2: at x = 3 it is 6.\n\nAnswer: Ｃ", "C"),
    ("The question asks for the capital of Australia, which is Canberra.\n\n**Answer: (B)**", "B"),
]


@pytest.mark.parametrize(("reply", "expected"), MULTILINGUAL_REPLIES)
def test_extract_choice_multilingual_and_full_width(reply: str, expected: str) -> None:
    assert extract_choice(reply) == expected
    assert score_choice(reply, expected).value == 1.0
    wrong = next(c for c in "ABCD" if c != expected)
    assert score_choice(reply, wrong).value == 0.0


def test_extract_choice_label_order_and_misreadings() -> None:
    # English label first (simple-evals tries its regexes in order), even when another label comes earlier
    assert extract_choice("Antwort: A ist falsch, dann...\nAnswer: D") == "D"
    # "Answer: Because..." is no answer (simple-evals reads it as B); the letter must stand alone
    assert extract_choice("Answer: Because the moon has no atmosphere, sound cannot travel.") is None
    assert extract_choice("Answer: Both A and C are wrong, so\nAnswer: B") == "B"
    # a full-width letter outside the question's options is no answer
    assert extract_choice("答案：Ｅ") is None and extract_choice("答案：Ｅ", "ABCDE") == "E"
    assert scorers.normalize_extracted_answer("ｂ") == "B"
    assert scorers.normalize_extracted_answer("ج") == "C"


# -- multiple choice from token log-probabilities ---------------------------------------------------

#: Recorded from llama.cpp (xllamacpp) serving Qwen2.5-Coder-0.5B-Instruct Q4_K_M, temperature 0, on
#: MMLU professional_law/198 (gold D), asked for the letter only: ``/v1/chat/completions`` with
#: ``logprobs: true, top_logprobs: 8`` (first position's alternatives; later positions trimmed).
LLAMA_CHAT_LOGPROBS = {"content": [{"id": 32, "token": "A", "bytes": [65], "logprob": -1.1256906986236572,
    "top_logprobs": [{"id": 32, "token": "A", "bytes": [65], "logprob": -1.1256906986236572},
                     {"id": 34, "token": "C", "bytes": [67], "logprob": -1.3376638889312744},
                     {"id": 33, "token": "B", "bytes": [66], "logprob": -1.6502763032913208},
                     {"id": 35, "token": "D", "bytes": [68], "logprob": -1.7129461765289307},
                     {"id": 1249, "token": "To", "bytes": [84, 111], "logprob": -3.933181047439575},
                     {"id": 785, "token": "The", "bytes": [84, 104, 101], "logprob": -4.868947982788086},
                     {"id": 16141, "token": "Answer", "bytes": [65, 110, 115, 119, 101, 114],
                      "logprob": -6.13395881652832},
                     {"id": 28715, "token": "Based", "bytes": [66, 97, 115, 101, 100],
                      "logprob": -6.9017767906188965}]},
    {"id": 151645, "token": "", "bytes": [], "logprob": -0.34327709674835205,
     "top_logprobs": [{"id": 425, "token": " B", "bytes": [32, 66], "logprob": -9.81961727142334}]}]}
#: The same prompt through the raw ``/completion`` endpoint with ``n_probs: 5``: letters after a space.
LLAMA_COMPLETION_PROBS = [{"id": 356, "token": " C", "bytes": [32, 67], "logprob": -1.1535849571228027,
    "top_logprobs": [{"id": 356, "token": " C", "bytes": [32, 67], "logprob": -1.1535849571228027},
                     {"id": 362, "token": " A", "bytes": [32, 65], "logprob": -1.3999361991882324},
                     {"id": 425, "token": " B", "bytes": [32, 66], "logprob": -1.418235421180725},
                     {"id": 422, "token": " D", "bytes": [32, 68], "logprob": -1.7216753959655762},
                     {"id": 715, "token": " \n", "bytes": [32, 10], "logprob": -5.578162670135498}]}]


def test_letter_from_recorded_llama_cpp_logprobs() -> None:
    assert scorers.letter_from_logprobs(LLAMA_CHAT_LOGPROBS["content"]) == "A"   # the generated letter
    probs = scorers.letter_probabilities(LLAMA_CHAT_LOGPROBS["content"])
    assert list(probs) == ["A", "B", "C", "D"] and abs(sum(probs.values()) - 1) < 1e-12
    assert probs["A"] > probs["C"] > probs["B"] > probs["D"]
    assert scorers.letter_from_logprobs(LLAMA_CHAT_LOGPROBS) == "A"              # the logprobs object itself
    assert scorers.letter_from_logprobs(LLAMA_COMPLETION_PROBS) == "C"           # " C": leading space
    # only the first generated token counts: the second position's " B" is ignored
    assert scorers.letter_probabilities(LLAMA_CHAT_LOGPROBS["content"])["B"] < probs["A"]


@pytest.mark.parametrize(
    ("top_logprobs", "letters", "expected"),
    [
        ({"A": -2.3, " A": -1.0, "C": -0.9}, "ABCD", "A"),      # " A" and "A" add up (0.47 > 0.41)
        ({"Ｄ": -0.1, "A": -3.0}, "ABCD", "D"),                  # full-width
        ({"\u2581B": -0.2, "C": -2.0}, "ABCD", "B"),             # sentencepiece word marker
        ({"E": -0.1, "A": -2.0}, "ABCD", "A"),                   # E is not an option of a 4-way question
        ({"E": -0.1, "A": -2.0}, "ABCDE", "E"),
        ({"The": -0.1, "I": -1.0, "a": -1.5}, "ABCD", None),     # no option letter among the alternatives
        ([{"tok_str": "C", "prob": 0.6}, {"tok_str": "A", "prob": 0.3}], "ABCD", "C"),  # older llama.cpp n_probs
        ([{" A": -0.5, " B": -1.2}, {"\n": -0.1}], "ABCD", "A"),  # legacy completions: one dict per position
        ({"B": -1.0, "C": -1.0}, "ABCD", "B"),                   # a tie goes to the earlier letter
        ([], "ABCD", None),
    ],
)
def test_letter_from_logprobs_shapes(top_logprobs, letters: str, expected: str | None) -> None:
    assert scorers.letter_from_logprobs(top_logprobs, letters) == expected


def test_letter_from_logprobs_bad_parameters() -> None:
    with pytest.raises(ValueError, match="letters"):
        scorers.letter_from_logprobs({"A": -0.1}, "abcd")
    with pytest.raises(ValueError, match="letters"):
        scorers.letter_from_logprobs({"A": -0.1}, "")
    with pytest.raises(TypeError, match="top_logprobs"):
        scorers.letter_from_logprobs("A", "ABCD")


# -- code read the way EvalPlus reads a chat model's answer ----------------------------------------

#: A chat model's full answer: the function, then demo code whose own (wrong) assert would fail.
REPLY_WITH_DEMO = '''Here is a self-contained Python script that solves the problem:

```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """Return True if any two numbers are closer to each other than the threshold."""
    sorted_numbers = sorted(numbers)
    for a, b in zip(sorted_numbers, sorted_numbers[1:]):
        if b - a < threshold:
            return True
    return False


# Example usage
print(has_close_elements([1.0, 2.0, 3.0], 0.5))  # Output: False
assert has_close_elements([1.0, 2.8, 3.0], 0.3) is False

if __name__ == "__main__":
    import doctest
    doctest.testmod()
```

The function sorts the list first, so only neighbours need to be compared: O(n log n).'''

#: A chat model that shows how to call the function before writing it.
REPLY_USAGE_FIRST = '''You can call the function like this:

```python
result = has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
print(result)  # True
```

And here is the implementation:

```python
def has_close_elements(numbers, threshold):
    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            if i != j and abs(a - b) < threshold:
                return True
    return False
```'''

#: A reply cut by the output cap in the middle of its closing remarks' code.
REPLY_CUT = '''```python
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])


print(has_close_elements([1.0, 2.0'''


def test_evalplus_reading_keeps_the_solution_and_drops_demo_code(problem: dict) -> None:
    # simple-evals' reading runs the demo's failing assert; EvalPlus's sanitised reading does not
    assert score_humaneval(REPLY_WITH_DEMO, **problem).value == 0.0
    score = score_humaneval(REPLY_WITH_DEMO, **problem, evalplus=True)
    assert score.value == 1.0, score.details
    assert "print(" not in score.extracted and "__main__" not in score.extracted
    assert score.extracted.startswith("from typing import List")
    # the first block is only a usage example: EvalPlus picks the block that defines the function
    assert score_humaneval(REPLY_USAGE_FIRST, **problem).value == 0.0
    assert score_humaneval(REPLY_USAGE_FIRST, **problem, evalplus=True).value == 1.0
    # a cut reply: the open block's longest valid run of lines is kept
    assert score_humaneval(REPLY_CUT, **problem, evalplus=True).value == 1.0
    # a body without its signature still goes under the prompt's signature
    body = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
    assert score_humaneval(body, **problem, evalplus=True).value == 1.0


def test_extract_solution_and_sanitize() -> None:
    assert programs.fenced_blocks(REPLY_USAGE_FIRST)[0].startswith("result = ")
    code = programs.extract_solution(REPLY_WITH_DEMO, "has_close_elements")
    assert "assert" not in code and "doctest" not in code and code.count("def ") == 1
    decorated = "import functools\n\n@functools.cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint(fib(10))\n"
    assert programs.sanitize(decorated) == (
        "import functools\n\n@functools.cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n")
    assert programs.sanitize("this is prose, not code") == ""      # valid Python, but no definition
    assert programs.sanitize("Sure! Here's how it works.") == ""
    assert programs.extract_solution("    return 1\n", "f") == "    return 1\n"   # a body is left as it is


#: Recorded replies of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, temperature 0) to EvalPlus's MBPP prompt.
QWEN_MBPP_REPLIES = {
    "Mbpp/11": ("```python\ndef remove_Occ(s, c):\n    # Remove the first occurrence of the character\n"
                "    s = s.replace(c, '', 1)\n    # Remove the last occurrence of the character\n"
                "    s = s.replace(c, '', 1)\n    return s\n```"),
    "Mbpp/12": ("```python\ndef sort_matrix(matrix):\n    # Sort the matrix based on the sum of its rows\n"
                "    return sorted(matrix, key=sum)\n```"),
}


def test_score_mbpp_on_recorded_replies() -> None:
    items = {i.id: i for i in load_mbpp()}
    for item_id, reply in QWEN_MBPP_REPLIES.items():
        item = items[item_id]
        score = scorers.score_mbpp(reply, item.target, item.fields["setup"], item.fields["entry_point"])
        assert score.value == 1.0, (item_id, score.details)
    # Mbpp/11's reply removes the first two occurrences, not the first and last: its challenge test shows it
    item = items["Mbpp/11"]
    score = scorers.score_mbpp(QWEN_MBPP_REPLIES["Mbpp/11"], item.fields["challenge_tests"], "", "remove_Occ")
    assert score.value == 0.0 and score.details["status"] == "failed"


@pytest.mark.parametrize(("reply", "letter"), [
    ("B", "B"), ("B) Paris", "B"), ("The answer is C.", "C"), ("Answer: D", "D"), ("(A)", "A"), ("**b**", "B"),
    ("Ｃ", "C"), ("C\n\nExplanation: the others are wrong", "C"), ("Alright, let us see", None), ("E", None),
])
def test_extract_direct_choice_reads_the_leading_letter_of_a_letter_only_reply(reply: str, letter: str | None) -> None:
    from workbench.evals.scorers import extract_direct_choice

    assert extract_direct_choice(reply, "ABCD") == letter
