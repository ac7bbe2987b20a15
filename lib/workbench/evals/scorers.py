"""Scorers: turn a model's raw reply into a score, the way openai/simple-evals does where it can.

Every scorer is a pure function of the reply and the expected answer and returns a :class:`Score`
(``value`` in [0, 1], the ``extracted`` answer, and ``details``).  Conventions follow
openai/simple-evals so our numbers are comparable with the published ones:

* multiple choice (MMLU, ARC, HellaSwag): light markdown/LaTeX clean-up of the reply, then the first
  match of ``Answer: X`` (case-insensitive, optional ``$`` around the letter);
* grade-school math (GSM8K, as simple-evals' MGSM English): the text after the last ``Answer``, commas
  removed, the last number in it; ``18.0`` equals ``18``.  Departure: a leading minus sign is kept
  (MGSM's pattern drops it; GSM8K's test set has no negative answers, so scores are unaffected);
* MATH: the first ``ANSWER: ...`` line.  Departure: simple-evals asks a grader model whether the two
  expressions are equivalent; offline and reproducible, we compare normalised LaTeX strings (the
  Hendrycks-style normalisation: ``\\left``/``\\right``, ``\\dfrac``, units, ``^\\circ``, spaces...) and
  then numeric values.  This is slightly stricter than a grader model;
* HumanEval: code from the first fenced block (or the whole reply), run against the benchmark's own
  tests in :mod:`workbench.evals.sandbox` (never in this process); pass@1 with one sample;
* JSON only: a strict parse of the raw reply and a lenient extraction, both reported;
* needle in a haystack: the needle's value appears in the reply.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

__all__ = [
    "Score",
    "extract_choice",
    "extract_code",
    "extract_math_answer",
    "extract_number",
    "humaneval_program",
    "last_boxed",
    "math_equal",
    "normalize_math",
    "normalize_number",
    "normalize_response",
    "parse_json_lenient",
    "parse_json_strict",
    "score_choice",
    "score_humaneval",
    "score_json",
    "score_math",
    "score_needle",
    "score_number",
]


@dataclass(frozen=True)
class Score:
    """The outcome of scoring one reply.

    Attributes:
        value: the item's score in [0, 1] (1 = correct / passed / compliant).
        extracted: the answer the scorer read from the reply (``None`` if none was found).
        details: extra facts (e.g. the lenient JSON result, the sandbox status).
    """

    value: float
    extracted: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Multiple choice
# --------------------------------------------------------------------------------------------

#: Replacements applied to a reply before looking for ``Answer: X`` (markdown bold, LaTeX wrappers).
_CLEANUPS = ("**", "$\\boxed{", "}$", "\\$", "$\\text{", "$", "\\mathrm{", "\\{", "\\text", "\\(",
             "\\mathbf{", "{", "\\boxed")


def normalize_response(response: str) -> str:
    """Strip markdown bold and LaTeX wrappers that hide an ``Answer: X`` line (simple-evals' clean-up)."""
    for token in _CLEANUPS:
        response = response.replace(token, "")
    return response


def _choice_pattern(letters: str) -> re.Pattern[str]:
    """The ``Answer: X`` pattern for the given option letters."""
    return re.compile(rf"(?i)Answer[ \t]*:[ \t]*\$?([{letters}])\$?")


def extract_choice(response: str, letters: str = "ABCD") -> str | None:
    """The option letter after the first ``Answer:`` in the reply, upper-cased, or ``None``."""
    match = _choice_pattern(letters).search(normalize_response(response))
    return match.group(1).upper() if match else None


def score_choice(response: str, correct: str, letters: str = "ABCD") -> Score:
    """1 if the extracted letter equals ``correct``, else 0."""
    extracted = extract_choice(response, letters)
    return Score(float(extracted == correct.upper()), extracted)


# --------------------------------------------------------------------------------------------
# Numbers (GSM8K)
# --------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+\.?\d*")


def normalize_number(text: str) -> str:
    """Canonical string of a number: commas, ``$`` and spaces removed, ``18.00`` -> ``18``, ``-0`` -> ``0``."""
    s = text.replace(",", "").replace("$", "").strip()
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0" if s == "-0" else s
    return s


def extract_number(response: str, prefix: str = "Answer") -> str | None:
    """The last number after the last ``prefix`` (e.g. ``Answer:``), commas removed; ``None`` if absent."""
    if prefix not in response:
        return None
    tail = response.split(prefix)[-1].replace(",", "")
    numbers = _NUMBER.findall(tail)
    return numbers[-1].rstrip(".") if numbers else None


def score_number(response: str, target: str, prefix: str = "Answer") -> Score:
    """1 if the number after ``Answer:`` equals ``target`` after normalisation, else 0."""
    extracted = extract_number(response, prefix)
    if extracted is None:
        return Score(0.0, None)
    return Score(float(normalize_number(extracted) == normalize_number(target)), extracted)


# --------------------------------------------------------------------------------------------
# MATH
# --------------------------------------------------------------------------------------------

_MATH_ANSWER = re.compile(r"(?i)ANSWER\s*:\s*([^\n]+)")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces balanced."""
    starts = [m.start() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)]
    if not starts:
        return None
    i = text.index("{", starts[-1])
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def extract_math_answer(response: str) -> str | None:
    """The text after the first ``ANSWER:`` (simple-evals' MATH pattern); else the last ``\\boxed{}``."""
    match = _MATH_ANSWER.search(response)
    if match:
        return match.group(1).strip()
    return last_boxed(response)


def _strip_braced_command(s: str, command: str) -> str:
    """Replace ``\\command{x}`` by ``x`` (balanced braces) everywhere in ``s``."""
    key = "\\" + command + "{"
    while key in s:
        start = s.index(key)
        depth, j = 0, start + len(key) - 1
        for j in range(start + len(key) - 1, len(s)):
            if s[j] == "{":
                depth += 1
            elif s[j] == "}":
                depth -= 1
                if depth == 0:
                    break
        else:
            return s.replace(key, "", 1)
        s = s[:start] + s[start + len(key) : j] + s[j + 1 :]
    return s


def _fix_fracs(s: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac1{2}`` -> ``\\frac{1}{2}``."""
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*(\d)\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d)", r"\\frac{\1}{\2}", s)
    return s


def normalize_math(answer: str) -> str:
    """Canonical form of a MATH answer string, for exact comparison.

    Removes ``$``, spaces, ``\\left``/``\\right``, ``\\!``, ``\\,``, text-mode units and wrappers,
    degrees, percent signs, a trailing period and a leading ``x =``; unifies ``\\dfrac``/``\\tfrac``
    to ``\\frac`` and ``.5`` to ``0.5``; ``a/b`` with integers becomes ``\\frac{a}{b}``.
    """
    s = answer.strip()
    s = s.replace("\n", "").replace("\\!", "").replace("\\,", "").replace("\\;", "").replace("\\ ", "")
    s = s.replace("\\$", "").replace("$", "")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("^\\circ", "").replace("^{\\circ}", "").replace("\\circ", "").replace("°", "")
    s = s.replace("\\%", "").replace("%", "")
    for cmd in ("boxed", "textbf", "mathrm", "mathbf"):
        s = _strip_braced_command(s, cmd)
    # units written as \text{ cm} or \mbox{inches} after a value: drop them
    s = re.sub(r"(?<=[\d}])\s*\\(?:text|mbox)\{\s*[a-zA-Z ]*\}\s*$", "", s)
    s = _strip_braced_command(s, "text")
    s = _strip_braced_command(s, "mbox")
    s = s.replace(" ", "")
    s = s.rstrip(".")
    if re.match(r"^[a-zA-Z]\s*=", s) and s.count("=") == 1:
        s = s.split("=", 1)[1]
    if s.startswith("."):
        s = "0" + s
    s = _fix_fracs(s)
    m = re.fullmatch(r"(-?\d+)/(\d+)", s)
    if m:
        s = f"\\frac{{{m.group(1)}}}{{{m.group(2)}}}"
    return s


def _as_number(s: str) -> Fraction | float | None:
    """The numeric value of a normalised answer (integers, decimals, ``\\frac{a}{b}``, ``-\\frac``)."""
    t = s.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s) else s
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", t):
            return Fraction(t)
        m = re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", t)
        if m and int(m.group(3)) != 0:
            value = Fraction(int(m.group(2)), int(m.group(3)))
            return -value if m.group(1) else value
        m = re.fullmatch(r"(-?)\\sqrt\{(\d+)\}", t)
        if m:
            value = math.sqrt(int(m.group(2)))
            return -value if m.group(1) else value
    except (ValueError, ZeroDivisionError):
        return None
    return None


def math_equal(predicted: str | None, target: str) -> bool:
    """True if two MATH answers are equal after :func:`normalize_math`, or numerically equal."""
    if predicted is None:
        return False
    a, b = normalize_math(predicted), normalize_math(target)
    if a == b:
        return True
    x, y = _as_number(a), _as_number(b)
    if x is None or y is None:
        return False
    return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9)


def score_math(response: str, target: str) -> Score:
    """1 if the reply's ``ANSWER:`` equals the boxed reference answer (see :func:`math_equal`)."""
    extracted = extract_math_answer(response)
    return Score(float(math_equal(extracted, target)), extracted)


# --------------------------------------------------------------------------------------------
# HumanEval
# --------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(response: str) -> str:
    """The code in the first fenced block of the reply (```` ```python ````), else the whole reply."""
    match = _FENCE.search(response)
    if match:
        return match.group(1)
    open_fence = re.search(r"```[ \t]*(?:python|py)?[ \t]*\n(.*)$", response, re.DOTALL)
    return open_fence.group(1) if open_fence else response


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program the sandbox runs: the prompt, the model's code, the tests and ``check(entry_point)``.

    If the model wrote the whole function (``def entry_point(``), its definition follows the prompt
    and replaces the prompt's stub (a docstring-only body is valid Python).  Otherwise the reply is
    taken as the function body, indented under the prompt's signature, as in HumanEval itself.
    """
    code = extract_code(completion)
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE):
        body = prompt + "    pass\n\n" + code
    else:
        lines = code.splitlines()
        if lines and not lines[0].startswith((" ", "\t")) and lines[0].strip():
            code = "\n".join("    " + line if line.strip() else line for line in lines)
        body = prompt + code
    return f"{body}\n\n{test}\n\ncheck({entry_point})\n"


def score_humaneval(
    response: str, prompt: str, test: str, entry_point: str, *, timeout: float = 10.0,
    memory_mb: int = 512,
) -> Score:
    """Run the reply against the HumanEval tests in the sandbox; 1 if every assertion passes."""
    from .sandbox import run_python  # local import: the sandbox spawns processes

    program = humaneval_program(prompt, response, test, entry_point)
    result = run_python(program, timeout=timeout, memory_mb=memory_mb)
    details = {"status": result.status, "duration_s": round(result.duration_s, 3)}
    if result.status != "passed":
        details["stderr_tail"] = result.stderr[-400:]
    return Score(float(result.status == "passed"), extract_code(response)[:2000], details)


# --------------------------------------------------------------------------------------------
# JSON only
# --------------------------------------------------------------------------------------------


def parse_json_strict(reply: str) -> Any:
    """``json.loads`` of the raw reply (surrounding whitespace allowed, nothing else); raises on failure."""
    return json.loads(reply)


def parse_json_lenient(reply: str) -> Any:
    """Find JSON in a reply that may wrap it in prose or a code fence; raise ``ValueError`` if none.

    Tries, in order: the raw reply, the first fenced block, then every ``{`` from the left with
    :meth:`json.JSONDecoder.raw_decode` (the first one that parses as an object wins).
    """
    try:
        return json.loads(reply)
    except ValueError:
        pass
    fence = re.search(r"```(?:json|JSON)?\s*\n?(.*?)```", reply, re.DOTALL)
    if fence:
        try:
            return json.loads(fence.group(1))
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", reply):
        try:
            obj, _ = decoder.raw_decode(reply, match.start())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    raise ValueError("no JSON object found in the reply")


def _conforms(obj: Any, required: dict[str, type]) -> bool:
    """True if ``obj`` is a dict holding every required key with a value of the required type."""
    return isinstance(obj, dict) and all(
        k in obj and isinstance(obj[k], t) for k, t in required.items()
    )


def score_json(reply: str, required: dict[str, type], answer_key: str | None = None,
               correct: str | None = None) -> Score:
    """Score "reply with JSON only" compliance.

    ``value`` is strict compliance: the raw reply parses as JSON and is an object with every
    required key (of the required type).  ``details`` adds ``lenient`` (the same check after
    extracting JSON from prose or a fence) and, when ``answer_key``/``correct`` are given,
    ``answer_correct`` (from the leniently parsed object).
    """
    strict_obj: Any = None
    try:
        strict_obj = parse_json_strict(reply)
        strict = _conforms(strict_obj, required)
    except ValueError:
        strict = False
    try:
        lenient_obj = parse_json_lenient(reply)
        lenient = _conforms(lenient_obj, required)
    except ValueError:
        lenient_obj, lenient = None, False
    details: dict[str, Any] = {"strict": float(strict), "lenient": float(lenient)}
    extracted = None
    if answer_key and isinstance(lenient_obj, dict) and answer_key in lenient_obj:
        extracted = str(lenient_obj[answer_key]).strip()
        if correct is not None:
            details["answer_correct"] = float(extracted.upper().strip("() .") == correct.upper())
    elif correct is not None:
        details["answer_correct"] = 0.0
    return Score(float(strict), extracted, details)


# --------------------------------------------------------------------------------------------
# Needle in a haystack
# --------------------------------------------------------------------------------------------


def score_needle(reply: str, value: str) -> Score:
    """1 if the needle's value (e.g. a 7-digit number) appears in the reply, digits compared as a whole."""
    digits = re.findall(r"\d[\d,]*", reply)
    found = [d.replace(",", "") for d in digits]
    ok = value in found if value.isdigit() else value.lower() in reply.lower()
    return Score(float(ok), found[0] if found else None)
