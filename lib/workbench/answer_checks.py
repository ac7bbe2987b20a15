"""Checking a model's answer against the known truth of the sample media.

The API chapters ask questions whose right answer is known, because the sample media were drawn from
fixed inputs (:mod:`workbench.samples`). This module owns the verdict on one answer, :class:`Check`
(right, wrong or not checkable, a 0-1 score and the reason), and the checkers that produce it:

* :func:`expected_words` and :func:`in_order` - words (or numbers) that must appear, optionally in order;
* :func:`invoice_total`, :func:`q4_values` - facts read from the invoice and the two charts;
* :func:`tool_answer` - the final answer of a tool call and the arguments the model passed;
* :func:`fields` - a structured (pydantic) answer compared field by field with the truth;
* :func:`token_count`, :func:`batch_sums`, :func:`fallback` - counting before sending, a concurrent
  batch of sums, and an answer that arrived after errors and a fallback.

A checker is a function ``(answer, facts) -> Check``; ``facts`` carries what the answer text cannot show
(the parsed object, the tool-call arguments, the counts, the timings).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from . import samples

__all__ = [
    "Check",
    "Checker",
    "batch_sums",
    "expected_words",
    "fallback",
    "fields",
    "in_order",
    "invoice_total",
    "q4_values",
    "token_count",
    "tool_answer",
]


@dataclass(frozen=True)
class Check:
    """The verdict on one answer: ``ok`` (None when it cannot be checked), a 0-1 ``score``, and why."""

    ok: bool | None
    score: float | None
    detail: str

    @property
    def mark(self) -> str:
        """✓, ✗ or – (not checkable)."""
        return "–" if self.ok is None else ("✓" if self.ok else "✗")


#: A checker: ``(answer text, facts) -> Check``.
Checker = Callable[[str, Mapping[str, Any]], Check]


def _has_number(text: str, value: float) -> bool:
    return any(abs(x - value) < 0.005 for x in samples.numbers_in(text))


def _has_word(text: str, word: str) -> bool:
    return f" {' '.join(samples.words_of(word))} " in f" {' '.join(samples.words_of(text))} "


def _close(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and abs(float(a) - b) < 0.005


def _found(found: Sequence[str], missing: Sequence[str], what: str) -> Check:
    n = len(found) + len(missing)
    detail = f"{len(found)}/{n} {what} found" + (f"; missing: {', '.join(map(str, missing))}" if missing else "")
    return Check(not missing, len(found) / n if n else None, detail)


def expected_words(expected: Sequence[str | tuple[str, ...]], what: str) -> Checker:
    """Right when every expected word is in the answer (a tuple lists accepted spellings)."""
    def has(item: str | tuple[str, ...], answer: str) -> bool:
        return any(_has_word(answer, w) for w in ((item,) if isinstance(item, str) else item))

    def name(item: str | tuple[str, ...]) -> str:
        return item if isinstance(item, str) else item[0]

    def check(answer: str, facts: Mapping[str, Any]) -> Check:
        return _found([name(w) for w in expected if has(w, answer)],
                      [name(w) for w in expected if not has(w, answer)], what)
    return check


def in_order(expected: Sequence[str] | Callable[[], Sequence[str]]) -> Checker:
    """Right when every expected item is in the answer, in this order (``expected`` may be computed lazily)."""
    def check(answer: str, facts: Mapping[str, Any]) -> Check:
        want = list(expected() if callable(expected) else expected)
        words = f" {' '.join(samples.words_of(answer))} "
        positions = [words.find(f" {' '.join(samples.words_of(str(e)))} ") for e in want]
        found = [e for e, p in zip(want, positions) if p >= 0]
        ordered = all(p >= 0 for p in positions) and positions == sorted(positions)
        base = _found(found, [e for e in want if e not in found], "expected items")
        return Check(ordered, base.score, base.detail + ("; in order" if ordered else "; not all in order"))
    return check


def invoice_total(answer: str, facts: Mapping[str, Any]) -> Check:
    """Right when the invoice's true total is in the answer (:func:`workbench.samples.check_answer`)."""
    invoice = samples.cached("invoice")
    ok = bool(samples.check_answer(invoice, answer)["total_found"])
    return Check(ok, 1.0 if ok else 0.0, f"true total {invoice.truth['total']:.2f} {'found' if ok else 'not found'}")


def q4_values(answer: str, facts: Mapping[str, Any]) -> Check:
    """Right when the Q4 revenue of both charts (2024, 2025) is in the answer."""
    want = {f"Q4 {year}": samples.CHART_VALUES[year][3] for year in sorted(samples.CHART_VALUES)}
    return _found([f"{k} = {v}" for k, v in want.items() if _has_number(answer, v)],
                  [f"{k} = {v}" for k, v in want.items() if not _has_number(answer, v)], "Q4 values")


def _fmt_args(args: Any) -> str:
    if isinstance(args, Mapping):
        return ", ".join(f"{k}={v!r}" for k, v in args.items())
    return repr(args)


def tool_answer(answer: str, facts: Mapping[str, Any]) -> Check:
    """Right when the invoice's true total is in the final answer; says whether the tool's arguments were right.

    ``facts``: ``arguments`` (what the model passed to ``compute_vat``, None without a call) and ``result``.
    """
    truth = samples.cached("invoice").truth
    total_ok = _has_number(answer, truth["total"])
    args = facts.get("arguments")
    if args is None:
        how = "no tool call was made"
    else:
        right = (isinstance(args, Mapping) and _close(args.get("subtotal"), truth["subtotal"])
                 and _close(args.get("rate_pct"), truth["tax_rate_pct"]))
        how = (f"called compute_vat({_fmt_args(args)}) -> {facts.get('result')}; arguments "
               f"{'right' if right else 'wrong (truth: subtotal=' + str(truth['subtotal']) + ', rate_pct=' + str(truth['tax_rate_pct']) + ')'}")
    return Check(total_ok, 1.0 if total_ok else 0.0,
                 f"true total {truth['total']:.2f} {'in' if total_ok else 'not in'} the final answer; {how}")


def fields(schema: type[BaseModel], truth: Callable[[], Mapping[str, Any]]) -> Checker:
    """Right when the parsed answer (``facts["parsed"]``, a ``schema`` instance or a dict) matches ``truth()``.

    Text fields are compared without case or surrounding spaces, numbers to within half a cent.
    """
    def check(answer: str, facts: Mapping[str, Any]) -> Check:
        parsed = facts.get("parsed")
        if parsed is None:
            return Check(False, 0.0, f"no parsed object (the answer did not validate against {schema.__name__})")
        if isinstance(parsed, Mapping):
            parsed = schema.model_validate(parsed)
        if not isinstance(parsed, schema):
            raise TypeError(f"parsed: expected a {schema.__name__}, got {type(parsed).__name__}")
        want = truth()

        def same(got: Any, expected: Any) -> bool:
            if isinstance(expected, str):
                return str(got).strip().upper() == expected.strip().upper()
            return _close(got, float(expected))

        verdict = {k: same(getattr(parsed, k), v) for k, v in want.items()}
        wrong = [f"{k} (got {getattr(parsed, k)!r}, truth {want[k]!r})" for k, ok in verdict.items() if not ok]
        right = sum(verdict.values())
        detail = (f"valid {schema.__name__}; {right}/{len(verdict)} fields right"
                  + (f"; wrong: {', '.join(wrong)}" if wrong else ""))
        return Check(not wrong, right / len(verdict), detail)
    return check


def token_count(answer: str, facts: Mapping[str, Any]) -> Check:
    """Right when the count made before sending (``counted``) equals the usage reported (``used``).

    With ``comparable=False`` (another tokenizer counted) the two are shown but not judged.
    """
    counted, used = facts.get("counted"), facts.get("used")
    if counted is None or used is None:
        return Check(None, None, "no count to compare")
    if not facts.get("comparable", True):
        return Check(None, None, f"counted {counted} with {facts.get('counter', 'a tokenizer')}; the response reported "
                                 f"{used} input tokens, counted another way: not comparable")
    same = counted == used
    return Check(same, 1.0 if same else 0.0,
                 f"counted {counted} before sending, usage reported {used}" + ("" if same else f" (off by {used - counted:+d})"))


def batch_sums(answer: str, facts: Mapping[str, Any]) -> Check:
    """Each answer is right when its last number is the sum (so "12 + 26 = 38" counts, "12 + 26 = 40" not).

    ``facts``: ``answers`` and ``expected`` (same length); optional ``call_seconds`` and ``wall`` add how
    many calls were in flight on average.
    """
    answers, expected = facts.get("answers"), facts.get("expected")
    if answers is None or expected is None or len(answers) != len(expected):
        raise ValueError("facts: the concurrency task needs 'answers' and 'expected' of the same length")
    right = [bool(samples.numbers_in(a or "")) and abs(samples.numbers_in(a or "")[-1] - e) < 0.005
             for a, e in zip(answers, expected)]
    seconds, wall = facts.get("call_seconds"), facts.get("wall")
    extra = ""
    if seconds and wall:
        extra = (f"; the calls took {sum(seconds):.1f} s added up, the batch {wall:.1f} s "
                 f"({sum(seconds) / wall:.1f} calls in flight on average)")
    return Check(all(right), sum(right) / len(right), f"{sum(right)}/{len(right)} sums right{extra}")


def fallback(answer: str, facts: Mapping[str, Any]) -> Check:
    """Right when some model answered (``answered_by``), after the ``failures`` listed."""
    by = facts.get("answered_by")
    failures = facts.get("failures") or []
    if by is None:
        return Check(False, 0.0, "no model answered: " + "; ".join(failures))
    fails = f"{'; '.join(failures)}; " if failures else "the primary answered at once; "
    return Check(bool(answer.strip()), 1.0 if answer.strip() else 0.0, f"{fails}answered by {by}")
