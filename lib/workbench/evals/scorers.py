"""Scorers: turn a model's raw reply into a score, the way openai/simple-evals does where it can.

Every scorer is a pure function of the reply and the expected answer and returns a :class:`Score`
(``value`` in [0, 1], the ``extracted`` answer, and ``details``).  Conventions follow
openai/simple-evals (``common.py``, ``mmlu_eval.py``, ``math_eval.py``, ``humaneval_eval.py``) so our
numbers are comparable with the published ones:

* multiple choice (MMLU, ARC, HellaSwag): simple-evals' markdown/LaTeX clean-up of the reply, then the
  first ``Answer: X``, trying the English label first and then "Answer" in the other languages of
  its ``MULTILINGUAL_ANSWER_REGEXES`` (``答案：``, ``Antwort:``, ``الإجابة:``...); the letter may be
  written full-width (``Ａ``) or as the Arabic/Bengali option letters, which count as A-D
  (``normalize_extracted_answer``).  Departures, which only remove misreadings or accept an
  unambiguous form: a letter followed by more Latin letters is not an answer (simple-evals reads
  "Answer: Because..." as B), a letter in parentheses (``Answer: (B)``) is, and lower case counts;
* multiple choice scored from token probabilities (how published base-model numbers are made):
  :func:`letter_from_logprobs` picks the option letter with the highest probability among the first
  generated token's ``top_logprobs``;
* confidence from token log-probabilities (a reply streamed with ``top_logprobs``):
  :func:`choice_confidence` and :func:`verdict_confidence` find the answer token (the first generated
  token that is an option letter, or a prefix of one of the verdict words), read the options'
  probabilities there (renormalised over the options) into ``details["option_probs"]`` and set
  ``Score.confidence`` to the probability of the answer the reply gave (None when it gave none);
* grade-school math (GSM8K, as simple-evals' MGSM English): the text after the last ``Answer``, commas
  removed, the last number in it; ``18.0`` equals ``18``.  Departure: a leading minus sign is kept
  (MGSM's pattern drops it; GSM8K's test set has no negative answers, so scores are unaffected);
* MATH: the first ``Answer:`` (markdown bold ignored; display math on the next lines taken whole),
  else the last ``\\boxed{}``.  Departure: simple-evals asks a grader model whether the two
  expressions are equivalent; offline and reproducibly, :mod:`workbench.evals.latex` compares
  normalised LaTeX and values (slightly stricter than a grader model);
* HumanEval: code from the first fenced block (or the whole reply), or with ``evalplus=True`` read the
  way EvalPlus reads a chat model's answer (:mod:`workbench.evals.programs`), run against the
  benchmark's own ``check`` in :mod:`workbench.evals.sandbox` (never in this process); pass@1 with one
  greedy sample is the share of items that pass;
* MBPP: the reply's code (EvalPlus's reading) followed by the item's ``assert`` lines, sandboxed;
* JSON only: a strict parse of the raw reply and a lenient extraction, both reported;
* needle in a haystack: the needle's value appears in the reply.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .latex import extract_answer_line, last_boxed, math_equal, normalize_math
from .programs import extract_code, extract_solution, humaneval_program, mbpp_program

__all__ = [
    "ANSWER_LABELS",
    "Score",
    "answer_alternatives",
    "choice_confidence",
    "extract_choice",
    "extract_code",
    "extract_direct_choice",
    "extract_math_answer",
    "extract_number",
    "humaneval_program",
    "last_boxed",
    "letter_from_logprobs",
    "letter_probabilities",
    "math_equal",
    "normalize_extracted_answer",
    "normalize_math",
    "normalize_number",
    "normalize_response",
    "parse_json_lenient",
    "parse_json_strict",
    "score_choice",
    "score_humaneval",
    "score_json",
    "score_math",
    "score_mbpp",
    "score_needle",
    "score_number",
    "score_verdict",
    "verdict_confidence",
    "word_probabilities",
]


@dataclass(frozen=True)
class Score:
    """The outcome of scoring one reply.

    Attributes:
        value: the item's score in [0, 1] (1 = correct / passed / compliant).
        extracted: the answer the scorer read from the reply (``None`` if none was found).
        details: extra facts (e.g. the lenient JSON result, the sandbox status).
        confidence: the probability (0-1) the model gave its answer, from token log-probabilities
            (None when they were not recorded or the reply gave no answer).
    """

    value: float
    extracted: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None


# --------------------------------------------------------------------------------------------
# Multiple choice
# --------------------------------------------------------------------------------------------

#: Replacements applied to a reply before looking for ``Answer: X`` (markdown bold, LaTeX wrappers).
_CLEANUPS = ("**", "$\\boxed{", "}$", "\\$", "$\\text{", "$", "\\mathrm{", "\\{", "\\text", "\\(",
             "\\mathbf{", "{", "\\boxed")

#: The answer labels simple-evals accepts, in its order (``MULTILINGUAL_ANSWER_REGEXES``): each is a
#: regular expression for the word and its colon (ASCII ``:``, full-width ``：`` or Bengali ``ঃ``).
ANSWER_LABELS: tuple[str, ...] = (
    r"Answer\s*:", r"উত্তর\s*:", r"उत्तर\s*:", r"উত্তরঃ", r"Antwort\s*:", r"답변\s*:", r"정답\s*:",
    r"답\s*:", r"答案\s*[：:]", r"答\s*[：:]", r"答复\s*：", r"答曰\s*：", r"الإجابة:", r"الجواب:",
    r"إجابة:", r"الإجابة النهائية:", r"الإجابة الصحيحة:", r"الإجابة الصحيحة هي:", r"الإجابة هي:",
    r"الجواب النهائي:", r"Respuesta\s*:", r"Risposta\s*:", r"答え\s*[：:]", r"回答\s*[：:]", r"解答\s*:",
    r"Jawaban\s*:", r"Réponse\s*:", r"Resposta\s*:", r"Jibu\s*:", r"Idahun\s*:", r"Ìdáhùn\s*:",
    r"Idáhùn\s*:", r"Àmọ̀nà\s*:", r"Àdáhùn\s*:", r"Ànúgọ\s*:", r"Àṣàyàn\s*:",
)
#: Option letters A-D as Arabic and Bengali multiple-choice questions write them.
_LOCAL_LETTERS = {"أ": "A", "ب": "B", "ج": "C", "د": "D", "অ": "A", "ব": "B", "ড": "C", "ঢ": "D"}


def normalize_response(response: str) -> str:
    """Strip markdown bold and LaTeX wrappers that hide an ``Answer: X`` line (simple-evals' clean-up)."""
    for token in _CLEANUPS:
        response = response.replace(token, "")
    return response


def normalize_extracted_answer(letter: str) -> str:
    """An extracted option letter as ASCII upper case: ``Ｂ`` -> ``B``, ``ب`` -> ``B``, ``b`` -> ``B``."""
    letter = letter.strip()
    letter = _LOCAL_LETTERS.get(letter, letter)
    return unicodedata.normalize("NFKC", letter).upper()


@lru_cache(maxsize=16)
def _choice_patterns(letters: str) -> tuple[re.Pattern[str], ...]:
    """One ``label + letter`` pattern per answer label, for the given option letters."""
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in letters)
    local = "".join(k for k, v in _LOCAL_LETTERS.items() if v in letters)
    letter = f"[{letters}{full_width}{local}]"
    tail = rf"[ \t\u200b]*\$?[(\[]?({letter})\$?(?![A-Za-z\u0600-\u06FF\u0980-\u09FF])"
    return tuple(re.compile("(?i)" + label + tail) for label in ANSWER_LABELS)


def extract_choice(response: str, letters: str = "ABCD") -> str | None:
    """The option letter after the first ``Answer:`` (English first, then other languages), or ``None``.

    The letter comes back as ASCII upper case whether the reply wrote it full-width (``Ａ``), in
    lower case or as an Arabic/Bengali option letter.
    """
    text = normalize_response(response)
    for pattern in _choice_patterns(letters):
        match = pattern.search(text)
        if match:
            return normalize_extracted_answer(match.group(1))
    return None


def extract_direct_choice(response: str, letters: str = "ABCD") -> str | None:
    """The letter of a reply asked for the letter only: ``B``, ``(B)``, ``B) Paris``, ``B. Paris``, ``The
    answer is B`` or ``Answer: B``; ``None`` when the reply starts with anything else."""
    found = extract_choice(response, letters)
    if found is not None:
        return found
    text = unicodedata.normalize("NFKC", normalize_response(response)).strip()
    cls = "".join(sorted(set(letters.upper() + letters.lower())))
    match = re.match(rf"^(?:the\s+(?:correct\s+)?answer\s+is\s*:?\s*)?[\(\[*]*([{cls}])(?![A-Za-z])", text,
                     flags=re.IGNORECASE)
    return normalize_extracted_answer(match.group(1)).upper() if match else None


def score_choice(response: str, correct: str, letters: str = "ABCD", *, direct: bool = False) -> Score:
    """1 if the extracted letter equals ``correct``, else 0 (``direct``: the reply was asked for the letter
    only, see :func:`extract_direct_choice`)."""
    extracted = (extract_direct_choice if direct else extract_choice)(response, letters)
    return Score(float(extracted == correct.upper()), extracted)


def _alternatives(top_logprobs: Any) -> list[tuple[str, float]]:
    """(token, logprob) pairs of the first generated token, from any of the usual shapes."""
    if isinstance(top_logprobs, Mapping):
        if "top_logprobs" in top_logprobs:  # one position of OpenAI's logprobs.content
            return _alternatives(top_logprobs["top_logprobs"])
        if isinstance(top_logprobs.get("content"), list):  # a choice's whole logprobs object
            return _alternatives(top_logprobs["content"])
        return [(str(k), v) for k, v in top_logprobs.items()]
    if isinstance(top_logprobs, Sequence) and not isinstance(top_logprobs, str):
        if not top_logprobs:
            return []
        first = top_logprobs[0]
        if isinstance(first, Mapping) and ("token" in first or "tok_str" in first) and "top_logprobs" \
                not in first:  # the alternatives of one position
            pairs = []
            for alt in top_logprobs:
                token = alt.get("token", alt.get("tok_str"))
                value = alt["logprob"] if "logprob" in alt else (
                    math.log(alt["prob"]) if alt.get("prob") else None)
                pairs.append((str(token), value))
            return pairs
        return _alternatives(first)  # a list of positions: the first generated token
    raise TypeError("top_logprobs must be a mapping token -> logprob or a list of positions/alternatives, "
                    f"got {type(top_logprobs).__name__}")


def letter_probabilities(top_logprobs: Any, letters: str = "ABCD") -> dict[str, float]:
    """Probability of each option letter as the first generated token, renormalised over the letters.

    Tokens count for a letter with or without surrounding white space (``"A"``, ``" A"``,
    ``"\\u2581A"``) and written full-width (``"Ａ"``); their probabilities add up.  Accepted shapes:
    a mapping token -> logprob; a list of ``{"token", "logprob"}`` alternatives (OpenAI's
    ``top_logprobs``; llama.cpp's ``{"tok_str", "prob"}`` too); a list of positions (the first is
    used), each a mapping or an OpenAI ``logprobs.content`` entry; or a choice's ``logprobs`` object
    (``{"content": [...]}``).  Empty when no letter is among the alternatives.
    """
    if not isinstance(letters, str) or not letters or not letters.isalpha() or not letters.isupper():
        raise ValueError(f"letters must be upper-case option letters such as 'ABCD', got {letters!r}")
    mass: dict[str, float] = {}
    for token, logprob in _alternatives(top_logprobs):
        if logprob is None or not isinstance(logprob, (int, float)) or math.isnan(logprob):
            continue
        key = unicodedata.normalize("NFKC", token).strip().strip("\u2581\u0120").strip()
        if len(key) == 1 and key in letters:
            mass[key] = mass.get(key, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    return {k: mass[k] / total for k in letters if k in mass} if total > 0 else {}


def letter_from_logprobs(top_logprobs: Any, letters: str = "ABCD") -> str | None:
    """The option letter the model most likely generates first, or ``None`` if no letter is among the
    first token's alternatives (ties go to the earlier letter).  See :func:`letter_probabilities`."""
    probs = letter_probabilities(top_logprobs, letters)
    return max(probs, key=lambda k: (probs[k], -letters.index(k))) if probs else None


def _token_key(token: Any) -> str:
    """A token as its visible text: NFKC, without surrounding white space or tokenizer space marks."""
    return unicodedata.normalize("NFKC", str(token)).strip().strip("\u2581\u0120").strip()


def answer_alternatives(logprobs: Sequence[Mapping[str, Any]], is_answer: Any) -> list[tuple[str, float]] | None:
    """(token, logprob) alternatives at the answer token: the first generated token whose text
    ``is_answer(text)``; the chosen token is added when its ``top_logprobs`` leave it out.  When no
    generated token is an answer, the first token's alternatives if one of them is (what the model would
    have said first: Llama Guard's own score is the probability of ``unsafe`` as the first token); else None.

    Args:
        logprobs: one entry per generated token, OpenAI's shape (``Reply.logprobs``).
        is_answer: predicate on a token's visible text (see :func:`_token_key`).
    """
    for entry in logprobs:
        if not is_answer(_token_key(entry.get("token", ""))):
            continue
        pairs = [(str(t.get("token")), t.get("logprob")) for t in entry.get("top_logprobs") or ()]
        if entry.get("token") not in {t for t, _ in pairs}:
            pairs.append((str(entry.get("token")), entry.get("logprob")))
        return pairs
    if logprobs:
        first = [(str(t.get("token")), t.get("logprob")) for t in logprobs[0].get("top_logprobs") or ()]
        if any(is_answer(_token_key(t)) for t, _ in first):
            return first
    return None


def _with_confidence(score: Score, probs: dict[str, float], mass: float | None) -> Score:
    """``score`` with the options' probabilities in its details and the answer's as its confidence."""
    details = {**score.details, "option_probs": {k: round(v, 6) for k, v in probs.items()}}
    if mass is not None:
        details["option_mass"] = round(mass, 6)
    conf = probs.get(score.extracted, 0.0) if (score.extracted is not None and probs) else None
    return Score(score.value, score.extracted, details, conf)


def choice_confidence(score: Score, logprobs: Sequence[Mapping[str, Any]], letters: str = "ABCD") -> Score:
    """``score`` (of a letter-only reply) with its confidence: the probability of the extracted letter at the
    first generated token that is an option letter, renormalised over the letters
    (:func:`letter_probabilities`); ``details["option_probs"]`` holds every letter's, ``option_mass``
    the letters' share of the probability before renormalising."""
    pairs = answer_alternatives(logprobs, lambda t: len(t) == 1 and t in letters)
    if pairs is None:
        return _with_confidence(score, {}, None)
    probs = letter_probabilities([{"token": t, "logprob": lp} for t, lp in pairs], letters)
    mass = sum(math.exp(lp) for t, lp in pairs if isinstance(lp, (int, float)) and len(_token_key(t)) == 1 and _token_key(t) in letters)
    return _with_confidence(score, probs, mass)


def word_probabilities(alternatives: Sequence[tuple[str, float]], words: Sequence[str]) -> dict[str, float]:
    """Probability of each word as the answer, from one token's alternatives: a token of two characters or
    more counts for the word it begins (case-insensitive: ``"un"``, ``"Unsafe"``, ``" unsafe"`` for
    ``unsafe``), renormalised over the words; a token that begins several words counts for none, and a
    single letter for none (``"S"`` starts Llama Guard's category codes ``S1``...``S14`` as well as
    ``safe``).  Empty when none is there."""
    lowered = [w.lower() for w in words]
    mass: dict[str, float] = {}
    for token, logprob in alternatives:
        if logprob is None or not isinstance(logprob, (int, float)) or math.isnan(logprob):
            continue
        key = _token_key(token).lower()
        hits = [w for w, low in zip(words, lowered, strict=True) if len(key) >= 2 and low.startswith(key)]
        if len(hits) == 1:
            mass[hits[0]] = mass.get(hits[0], 0.0) + math.exp(logprob)
    total = sum(mass.values())
    return {w: mass[w] / total for w in words if w in mass} if total > 0 else {}


def _begins_one(words: Sequence[str]) -> Any:
    lowered = [w.lower() for w in words]
    return lambda t: len(t) >= 2 and sum(w.startswith(t.lower()) for w in lowered) == 1


def verdict_confidence(score: Score, logprobs: Sequence[Mapping[str, Any]],
                       words: Sequence[str] = ("safe", "unsafe")) -> Score:
    """``score`` (of a verdict reply) with its confidence: the probability of the extracted verdict at the
    first generated token of two characters or more that begins exactly one of ``words``
    (:func:`word_probabilities`);
    ``details["option_probs"]`` holds each word's."""
    pairs = answer_alternatives(logprobs, _begins_one(words))
    if pairs is None:
        return _with_confidence(score, {}, None)
    probs = word_probabilities(pairs, words)
    mass = sum(math.exp(lp) for t, lp in pairs if isinstance(lp, (int, float)) and _begins_one(words)(_token_key(t)))
    return _with_confidence(score, probs, mass)


def score_verdict(response: str, label: str, words: Sequence[str] = ("safe", "unsafe")) -> Score:
    """1 if the reply's verdict equals ``label``: the first of ``words`` the reply's first line says
    (case-insensitive, whole words; Llama Guard's format puts the verdict alone on the first line),
    else the first anywhere in the reply; no verdict scores 0 (``extracted`` None)."""
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)
    text = normalize_response(response).strip()
    first = text.split("\n", 1)[0]
    match = pattern.search(first) or pattern.search(text)
    verdict = match.group(1).lower() if match else None
    return Score(float(verdict == label.lower()), verdict)


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


def extract_math_answer(response: str) -> str | None:
    """The answer after the first ``Answer:`` (simple-evals' MATH pattern, markdown bold ignored);
    else the last ``\\boxed{}``."""
    answer = extract_answer_line(response)
    return answer if answer is not None else last_boxed(response)


def score_math(response: str, target: str) -> Score:
    """1 if the reply's ``Answer:`` equals the boxed reference answer (see :func:`math_equal`)."""
    extracted = extract_math_answer(response)
    return Score(float(math_equal(extracted, target)), extracted)


# --------------------------------------------------------------------------------------------
# Code (HumanEval, MBPP)
# --------------------------------------------------------------------------------------------


def _run_program(program: str, code: str, timeout: float, memory_mb: int) -> Score:
    """Run a test program in the sandbox; 1 if it exits cleanly (every assertion passed)."""
    from .sandbox import run_python  # local import: the sandbox spawns processes

    result = run_python(program, timeout=timeout, memory_mb=memory_mb)
    details: dict[str, Any] = {"status": result.status, "duration_s": round(result.duration_s, 3)}
    if result.status != "passed":
        details["stderr_tail"] = result.stderr[-400:]
    return Score(float(result.status == "passed"), code[:2000], details)


def score_humaneval(
    response: str, prompt: str, test: str, entry_point: str, *, timeout: float = 10.0,
    memory_mb: int = 512, evalplus: bool = False,
) -> Score:
    """Run the reply against the HumanEval tests (the item's ``check``) in the sandbox; 1 if it passes.

    Args:
        evalplus: read the code the way EvalPlus reads a chat model's answer (the fenced block that
            defines ``entry_point``, sanitised) instead of simple-evals' first fenced block.
    """
    program = humaneval_program(prompt, response, test, entry_point, evalplus=evalplus)
    code = extract_solution(response, entry_point) if evalplus else extract_code(response)
    return _run_program(program, code, timeout, memory_mb)


def score_mbpp(response: str, tests: Sequence[str], setup: str = "", entry_point: str | None = None, *,
               timeout: float = 10.0, memory_mb: int = 512) -> Score:
    """Run the reply's code (EvalPlus's reading) and the item's ``assert`` lines in the sandbox."""
    program = mbpp_program(response, list(tests), setup, entry_point)
    return _run_program(program, extract_solution(response, entry_point), timeout, memory_mb)


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
