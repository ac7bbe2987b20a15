"""MATH answers read from whole model replies: the forms simple-evals' grader model accepts, without one.

Each case is a reply written the way chat models answer simple-evals' MATH prompt (step by step, then
``Answer:``, often in markdown bold or with ``\\boxed{}``), several per normalisation rule, each with
a wrong answer that must still score 0.  The recorded replies at the end are real: Qwen2.5-Coder-1.5B-
Instruct (Q4_K_M under llama.cpp, temperature 0) answering MATH-500 items (``data/qwen_math500_replies.json``).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from workbench.evals import latex
from workbench.evals.scorers import extract_math_answer, score_math

# (reply, target, expected score)
SQRT = [
    ("The distance is $\\sqrt{(4-1)^2 + (5-2)^2} = \\sqrt{18} = 3\\sqrt2$.\n\nAnswer: $3\\sqrt2$", "3\\sqrt{2}", 1),
    ("We have $r^2 = 51$, so $r = \\sqrt{51}$.\n\nANSWER: \\sqrt 51", "\\sqrt{51}", 0),  # \sqrt 51 is \sqrt{5}1
    ("Factor $242 = 2 \\cdot 11^2$, hence $\\sqrt{242} = 11\\sqrt{2}$.\n\nAnswer: 11\\sqrt{2}", "11\\sqrt2", 1),
    ("Rationalising, $\\frac{1}{\\sqrt3} = \\frac{\\sqrt3}{3}$.\nAnswer: $\\frac{\\sqrt3}{3}$",
     "\\frac{\\sqrt{3}}{3}", 1),
    ("So the side is $2\\sqrt{3}$.\nAnswer: $2\\sqrt{2}$", "2\\sqrt{3}", 0),
]
BOLD = [
    (("Let me solve this step by step.\n\n1. The sum of the angles is $180^\\circ$.\n2. So $x = 180 - 90 - 40 = 50$."
     "\n\n**Answer:** 50"), "50", 1),
    (("First, $f(-2) = 2$, $f(-1) = \\frac{5}{3}$ and $f(0) = 1$.\n\nAdding them gives $\\frac{14}{3}$.\n\n"
     "**ANSWER: $\\frac{14}{3}$**"), "\\frac{14}{3}", 1),
    ("### Solution\nThe remainder is 3.\n\n**Final Answer:** $\\boxed{3}$", "3", 1),
    ("The perimeter is $4 \\times 9 = 36$.\n\n*Answer*: 36", "36", 1),
    ("**Answer:**\n$$\n\\boxed{\\frac{3}{56}}\n$$", "\\frac{3}{56}", 1),
    ("Thus the probability is\n\nAnswer:\n\\[\n\\frac{3}{56}\n\\]", "\\frac{3}{56}", 1),
    ("**Answer:** 49", "50", 0),
]
UNITS = [
    (("The area of the square is $12 \\times 12 = 144$ square inches, and there are 6 faces... total "
     "$864$.\n\nAnswer: 864 square inches"), "864 \\mbox{ inches}^2", 1),
    ("Area $= \\frac12 \\cdot 5 \\cdot 6 = 15$.\n\nANSWER: $15\\text{ cm}^2$", "15\\mbox{ cm}^2", 1),
    ("Each stamp costs 5.4 cents on average.\n\nAnswer: $5.4 \\text{ cents}$", "5.4 \\text{ cents}", 1),
    ("The angle is $\\frac{270}{7}$ degrees.\nAnswer: $\\frac{270}7\\text{ degrees}$", "\\frac{270}7\\text{ degrees}",
     1),
    ("The two lines are perpendicular, so the angle between them is 90 degrees.\n\nAnswer: 90 degrees",
     "90^\\circ", 1),
    ("Area: 846 square inches.\nAnswer: $846\\mbox{ inches}^2$", "864 \\mbox{ inches}^2", 0),
]
LETTERS = [
    (("Since $r$ is constant and $\\theta$ is free, the equation $r = c$ describes a cylinder.\n\n"
     "Answer: $\\text{(E)}$"), "\\text{(E)}", 1),
    ("Checking each option, only (C) is true for every $x$.\n\nANSWER: (C)", "\\text{(C)}", 1),
    ("The graph is a plane.\n\n**Answer: C**", "\\text{(C)}", 1),
    ("Answer: $\\textbf{(C)}$", "\\text{(C)}", 1),
    ("The correct choice is (C) Plane.\n\nAnswer: (C) Plane", "\\text{(C)}", 1),
    ("A cylinder, so the answer is E.\nAnswer: (E)", "\\text{(C)}", 0),
]
PI = [
    ("The volume is $\\frac{4}{3}\\pi r^3 = 288\\pi$.\n\nAnswer: $288\\pi$", "288 \\pi", 1),
    ("V = 4/3 · π · 6³ = 288π cubic units.\n\nAnswer: 288π", "288 \\pi", 1),
    ("The volume is 288 pi.\nAnswer: 288pi", "288 \\pi", 1),
    ("$\\arcsin(-\\tfrac12) = -\\tfrac{\\pi}{6}$.\nAnswer: $-\\pi/6$", "-\\frac{\\pi}{6}", 1),
    ("So $\\theta = -\\frac\\pi6$.\n\nANSWER: $-\\frac\\pi6$", "-\\frac{\\pi}{6}", 1),
    ("Answer: $\\frac{5\\pi}{6}$", "-\\frac{\\pi}{6}", 0),
    ("Answer: $144\\pi$", "288 \\pi", 0),
]
FRACTIONS_AND_BRACKETS = [
    ("The probability is $\\dfrac{17}{50}$.\n\nAnswer: $\\dfrac{17}{50}$", "\\dfrac{17}{50}", 1),
    ("So the answer is 0.34.\nAnswer: 0.34", "\\dfrac{17}{50}", 1),
    ("Answer: $\\frac{34}{100}$", "\\dfrac{17}{50}", 1),  # the same value (simple-evals' grader might refuse)
    ("The polar coordinates are $\\left( 3, \\frac{\\pi}{2} \\right)$.\n\nAnswer: $\\left( 3, \\frac{\\pi}{2} \\right)$",
     "\\left( 3, \\frac{\\pi}{2} \\right)", 1),
    ("r = 3 and θ = π/2.\n\nAnswer: (3, π/2)", "\\left( 3, \\frac{\\pi}{2} \\right)", 1),
    ("Answer: $\\left( \\frac{3}{2}, -13 \\right)$", "\\left( \\frac{3}{2}, -13 \\right)", 1),
    ("Answer: (1.5, -13)", "\\left( \\frac{3}{2}, -13 \\right)", 1),
    ("The solutions are $x = 1$ and $x = -2$.\nAnswer: -2, 1", "1,-2", 1),
    ("Answer: $(3, \\frac{\\pi}{4})$", "\\left( 3, \\frac{\\pi}{2} \\right)", 0),
    ("Answer: [3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", 0),   # another bracket: an interval
]
SPACES_AND_PERIODS = [
    ("Completing the square gives $x = 1 \\pm \\sqrt{19}$.\n\nAnswer: $1 \\pm \\sqrt{19}$.", "1 \\pm \\sqrt{19}", 1),
    ("Answer: 1±√19", "1 \\pm \\sqrt{19}", 0),   # Unicode ± and √ are not LaTeX: no rule reads them
    ("The total is 10,080.\nAnswer: 10,080.", "10,\\!080", 1),
    ("Answer: $ 32,348 dollars.", "\\$32,\\!348", 1),
    ("Answer: x = 5.", "x=5", 1),
    ("Answer: .35625", ".35625", 1),
    ("Answer: 0.3562", ".35625", 0),
]
CASES = SQRT + BOLD + UNITS + LETTERS + PI + FRACTIONS_AND_BRACKETS + SPACES_AND_PERIODS


@pytest.mark.parametrize(("reply", "target", "expected"), CASES)
def test_math_replies(reply: str, target: str, expected: int) -> None:
    score = score_math(reply, target)
    assert score.value == expected, (score.extracted, latex.normalize_math(score.extracted or ""),
                                     latex.normalize_math(target))


def test_extraction_details() -> None:
    assert extract_math_answer("**Answer:** 5") == "5"
    assert extract_math_answer("**ANSWER: $\\frac{14}{3}$**") == "\\frac{14}{3}"
    assert extract_math_answer("Answer:\n$$\n\\boxed{7}\n$$") == "\\boxed{7}"
    assert extract_math_answer("Answer: $18.90") == "$18.90"        # a price, not inline math
    assert extract_math_answer("no label, but \\boxed{12}") == "12"
    assert extract_math_answer("nothing at all") is None


@pytest.mark.parametrize(
    ("answer", "canonical"),
    [
        ("\\sqrt3", "\\sqrt{3}"), ("\\frac12", "\\frac{1}{2}"), ("\\frac\\pi2", "\\frac{\\pi}{2}"),
        ("\\dfrac{17}{50}", "\\frac{17}{50}"), ("π", "\\pi"), ("2pi", "2\\pi"), ("\\text{(C)}", "C"),
        ("\\left( 3, 4 \\right]", "(3,4]"), ("864 \\mbox{ inches}^2", "864"), ("x \\in [-2,7]", "[-2,7]"),
        ("10\\%", "10"), ("90^\\circ", "90"), (".5", "0.5"), ("7/2", "\\frac{7}{2}"),
    ],
)
def test_normalize_math(answer: str, canonical: str) -> None:
    assert latex.normalize_math(answer) == canonical


@pytest.mark.parametrize(
    ("answer", "value"),
    [("3\\sqrt{13}", 3 * 13 ** 0.5), ("\\frac{\\pi}{2}", 3.141592653589793 / 2), ("18+2\\pi", 18 + 2 * 3.141592653589793),
     ("1\\frac{4}{5}", 1.8), ("137 \\frac{1}{2}", 137.5), ("\\sqrt[3]{8}", 2.0), ("2^{10}", 1024.0),
     ("-\\frac{24}{25}", -0.96), ("6 - 5i", None), ("52_8", None), ("x^2", None), ("2^{1000}", None),
     ("\\frac{1}{0}", None)],
)
def test_latex_value(answer: str, value: float | None) -> None:
    got = latex.latex_value(answer)
    assert got == pytest.approx(value) if value is not None else got is None


# -- recorded replies of a real model -------------------------------------------------------------

#: Qwen2.5-Coder-1.5B-Instruct's whole replies to simple-evals' MATH prompt (provenance in the file).
#: It mostly ends with ``\boxed{}`` rather than the ``Answer:`` line the prompt asks for.
QWEN_MATH = json.loads((Path(__file__).parent / "data" / "qwen_math500_replies.json").read_text("utf-8"))
#: What the scorer reads from each reply, and whether that is the reference answer.
QWEN_EXPECTED = {"0": ("(3, \\frac{\\pi}{2})", 1), "2": ("\\frac{14}{3}", 1), "7": ("135", 0), "31": ("22", 0),
                 "53": ("\\frac{5\\pi}{6}", 0), "227": ("A", 0), "228": ("Point", 0), "257": ("6", 0)}


@pytest.mark.parametrize("record", QWEN_MATH["replies"], ids=lambda r: f"MATH-500/{r['id']}")
def test_recorded_qwen_math_replies(record: dict) -> None:
    from workbench.evals.tasks import get_task

    task = get_task("math500")
    item = next(i for i in task.items() if i.id == record["id"])
    assert item.target == record["target"]
    score = task.score(item, record["reply"])
    assert (score.extracted, score.value) == QWEN_EXPECTED[record["id"]]
