"""MATH answers: read a LaTeX answer out of a reply, normalise it, and decide whether two answers agree.

openai/simple-evals asks a grader model whether the reply's answer and the reference are "equivalent
after trivial simplifications" (its ``EQUALITY_TEMPLATE``: ``3/2`` = ``1.5``, ``2/(-3)`` = ``-2/3``,
benefit of the doubt to units).  Offline and reproducibly, this module does the same job with rules:

1. :func:`normalize_math` rewrites both strings to one canonical spelling (Hendrycks-style):
   ``$``, spaces, ``\\left``/``\\right``, ``\\dfrac``/``\\tfrac``, ``\\sqrt3`` -> ``\\sqrt{3}``,
   ``\\frac12`` -> ``\\frac{1}{2}``, ``π``/``pi`` -> ``\\pi``, ``\\text{}``/``\\mbox{}`` wrappers and
   trailing units (``\\text{ cm}^2``), degrees, percent, a trailing ``.``, a leading ``x =``,
   ``\\text{(C)}``/``(C)`` -> ``C``;
2. :func:`math_equal` compares the canonical strings, then the values of both when they are plain
   arithmetic (integers, decimals, ``\\frac``, ``\\sqrt``, ``\\pi``, ``+ - * / ^``, a mixed number
   ``1\\frac{4}{5}``), element by element for tuples and intervals (same brackets) and in any order
   for a bare list of solutions (``1, -2``), and gives a number followed by plain unit words
   (``72 degrees``, ``64 square feet``) the benefit of the doubt.

It stays a little stricter than a grader model: equal values written differently count (``3245/5``
= ``649``), algebraically equal expressions with variables do not (``(x+1)^2`` vs ``x^2+2x+1``).
"""
from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from fractions import Fraction

__all__ = [
    "extract_answer_line",
    "last_boxed",
    "latex_value",
    "math_equal",
    "normalize_math",
]


# --------------------------------------------------------------------------------------------
# Reading the answer out of a reply
# --------------------------------------------------------------------------------------------

#: "Answer:" / "ANSWER:" / "Final Answer:" (simple-evals' MATH pattern is ``(?i)Answer\s*:``).
_ANSWER = re.compile(r"(?i)answer\s*:")
#: Display-math openers that put the answer on the following lines, and their closers.
_DISPLAY = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


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


def extract_answer_line(response: str) -> str | None:
    """The answer after the first ``Answer:`` in a reply (simple-evals' rule), markdown removed.

    Markdown bold or italics around the label or the answer (``**Answer:** 5``, ``**ANSWER: 5**``,
    ``*Answer*: 5``) are ignored.  When the answer starts on the next line inside display math
    (``Answer:\\n$$\\n\\boxed{5}\\n$$`` or ``\\[ ... \\]``), the whole display is taken.  ``None`` when
    the reply has no ``Answer:`` label.
    """
    text = response.replace("**", "").replace("__", "")
    text = re.sub(r"(?i)\*(answer)\*", r"\1", text)
    match = _ANSWER.search(text)
    if not match:
        return None
    body = text[match.end():].lstrip(" \t*").lstrip()
    for opener, closer in _DISPLAY:
        if body.startswith(opener):
            end = body.find(closer, len(opener))
            if end > 0 and (opener != "$" or "\n" not in body[:end]):
                return body[len(opener):end].strip() or None
    return body.split("\n", 1)[0].strip().strip("*").strip() or None


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


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


#: One argument of ``\\frac``/``\\sqrt`` written without braces: a command (``\\pi``) or one character.
_BARE_ARG = r"(\\[a-zA-Z]+|[0-9a-zA-Z])"


def _brace_arguments(s: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac\\pi2`` -> ``\\frac{\\pi}{2}``, ``\\sqrt3`` -> ``\\sqrt{3}``."""
    s = re.sub(r"\\sqrt" + _BARE_ARG, r"\\sqrt{\1}", s)
    s = re.sub(r"\\frac" + _BARE_ARG + _BARE_ARG, r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac" + _BARE_ARG + r"\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac(\{[^{}]*\})" + _BARE_ARG, r"\\frac\1{\2}", s)
    return s


#: Units written after a value, inside ``\\text{}``/``\\mbox{}``, possibly squared: dropped.
_TEXT_UNIT = re.compile(r"(?<=[\d}])\\(?:text|mbox|mathrm)\{\s*[a-zA-Z ]*\}(\^\{?\d\}?)?$")


def normalize_math(answer: str) -> str:
    """Canonical form of a MATH answer string, for exact comparison.

    Removes ``$``, spaces, ``\\left``/``\\right``, ``\\!``, ``\\,``, ``\\displaystyle``, text-mode
    units and wrappers, degrees, percent signs, a trailing period and a leading ``x =`` or
    ``x \\in``; unifies ``\\dfrac``/``\\tfrac`` to ``\\frac``, ``π`` and a bare ``pi`` to ``\\pi``,
    braces the arguments of ``\\frac12`` and ``\\sqrt3``, turns ``.5`` into ``0.5``, ``a/b`` with
    integers into ``\\frac{a}{b}`` and an option letter in parentheses (``\\text{(C)}``) into ``C``.
    """
    s = answer.strip()
    s = s.replace("\n", "").replace("\\!", "").replace("\\,", "").replace("\\;", "").replace("\\ ", "")
    s = s.replace("\\$", "").replace("$", "").replace("\\displaystyle", "")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("π", "\\pi ")
    s = re.sub(r"(?<![\\a-zA-Z])pi(?![a-zA-Z])", r"\\pi ", s)
    s = s.replace("^\\circ", "").replace("^{\\circ}", "").replace("\\circ", "").replace("°", "")
    s = s.replace("\\%", "").replace("%", "")
    for cmd in ("boxed", "textbf", "mathbf"):
        s = _strip_braced_command(s, cmd)
    s = s.replace(" ", "")
    s = _TEXT_UNIT.sub("", s)
    for cmd in ("text", "mbox", "mathrm", "textrm"):
        s = _strip_braced_command(s, cmd)
    s = s.rstrip(".")
    if re.match(r"^[a-zA-Z]=", s) and s.count("=") == 1:
        s = s.split("=", 1)[1]
    s = re.sub(r"^[a-zA-Z]\\in(?![a-zA-Z])", "", s)
    if s.startswith("."):
        s = "0" + s
    s = re.sub(r"(?<![\d.])\.(\d)", r"0.\1", s)
    s = _brace_arguments(s)
    m = re.fullmatch(r"(-?\d+)/(\d+)", s)
    if m:
        s = f"\\frac{{{m.group(1)}}}{{{m.group(2)}}}"
    m = re.fullmatch(r"\(?([A-E])\)", s) or re.fullmatch(r"\(([A-E])\)?", s)
    if m:
        s = m.group(1)
    return s


# --------------------------------------------------------------------------------------------
# Values of plain arithmetic
# --------------------------------------------------------------------------------------------

_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos,
}


def _python_expression(s: str) -> str | None:
    """Rewrite normalised LaTeX arithmetic as a Python expression, or ``None`` if it is not arithmetic."""
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    m = re.fullmatch(r"(-?)(\d+)\\frac\{(\d+)\}\{(\d+)\}", s)  # a mixed number: 1\frac{4}{5}
    if m:
        return f"{m.group(1)}({m.group(2)}+{m.group(3)}/{m.group(4)})"
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\pi", " pi ")
    s = re.sub(r"\\sqrt\[([^\]]+)\]\{", r" nroot(\1,", s)
    s = s.replace("\\sqrt{", " sqrt(").replace("\\frac{", " frac(")
    s = s.replace("}{", ",").replace("{", "(").replace("}", ")").replace("^", "**")
    words = re.sub(r"\b(pi|sqrt|frac|nroot)\b", "", s)
    if re.search(r"[^0-9a-z.+\-*/(), ]", s) or re.search(r"[a-z]", words):
        return None
    # implicit products: 2pi, 2sqrt(3), )(, 3(, pi sqrt(...), (1+2)3
    s = re.sub(r"(\d|\)|\bpi)(?=\s*(\(|\bpi\b|\bsqrt\(|\bfrac\(|\bnroot\())", r"\1*", s)
    s = re.sub(r"(\)|\bpi)(?=\s*\d)", r"\1*", s)
    return s


def _evaluate(node: ast.AST) -> float:
    """Value of a parsed expression built only from numbers, pi, sqrt, frac, nroot and + - * / **."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(
            node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id == "pi":
        return math.pi
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        args = [_evaluate(a) for a in node.args]
        if node.func.id == "sqrt" and len(args) == 1:
            return math.sqrt(args[0])
        if node.func.id == "frac" and len(args) == 2:
            return args[0] / args[1]
        if node.func.id == "nroot" and len(args) == 2:
            return args[1] ** (1 / args[0])
    raise ValueError(f"not plain arithmetic: {ast.dump(node)[:80]}")


def latex_value(answer: str) -> float | None:
    """The numeric value of a LaTeX answer that is plain arithmetic (``3\\sqrt{13}``, ``\\frac{\\pi}{2}``,
    ``18+2\\pi``, ``1\\frac{4}{5}``), else ``None`` (variables, complex numbers, bases, lists...)."""
    expr = _python_expression(normalize_math(answer))
    if not expr or not expr.strip():
        return None
    try:
        value = _evaluate(ast.parse(expr.strip(), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def _exact(s: str) -> Fraction | None:
    """An exact rational value for integers, decimals and ``\\frac{a}{b}`` (no rounding)."""
    t = s.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s) else s
    if re.fullmatch(r"-?\d+(\.\d+)?", t):
        return Fraction(t)
    m = re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", t)
    if m and int(m.group(3)) != 0:
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) else value
    return None


def _values_equal(a: str, b: str) -> bool:
    """True if both normalised answers are arithmetic with the same value."""
    x, y = _exact(a), _exact(b)
    if x is not None and y is not None:
        return x == y
    u, v = latex_value(a), latex_value(b)
    return u is not None and v is not None and math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-12)


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _split_top_level(s: str) -> list[str]:
    """Split ``s`` on commas that are not inside brackets or braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def _unit_free_number(s: str) -> str | None:
    """``72degrees`` -> ``72``, ``64squarefeet`` -> ``64`` (plain unit words after a number), else None."""
    m = re.fullmatch(r"(-?[\d.,]+)([a-zA-Z]{2,})(\^\{?\d\}?)?", s)
    return m.group(1) if m else None


def _same(a: str, b: str, depth: int = 0) -> bool:
    """Equality of two normalised answers (string, value, elements, units)."""
    if a == b or _values_equal(a, b):
        return True
    if depth > 3:
        return False
    for letter, other in ((a, b), (b, a)):  # an option letter: "(C) 12" answers "\text{(C)}"
        if re.fullmatch(r"[A-E]", letter) and re.match(rf"\(?{letter}\)", other):
            return True
    brackets = re.fullmatch(r"([(\[])(.*)([)\]])", a), re.fullmatch(r"([(\[])(.*)([)\]])", b)
    if brackets[0] and brackets[1]:
        (lo_a, in_a, hi_a), (lo_b, in_b, hi_b) = brackets[0].groups(), brackets[1].groups()
        xs, ys = _split_top_level(in_a), _split_top_level(in_b)
        return (lo_a, hi_a) == (lo_b, hi_b) and len(xs) == len(ys) > 1 and all(
            _same(x, y, depth + 1) for x, y in zip(xs, ys))
    xs, ys = _split_top_level(a), _split_top_level(b)
    if len(xs) == len(ys) > 1 and not re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", a):
        rest = list(ys)  # a bare list of solutions: any order
        for x in xs:
            hit = next((k for k, y in enumerate(rest) if _same(x, y, depth + 1)), None)
            if hit is None:
                return False
            rest.pop(hit)
        return True
    for value, other in ((_unit_free_number(a), b), (_unit_free_number(b), a)):
        if value is not None and _values_equal(value, other):
            return True
    return False


def math_equal(predicted: str | None, target: str) -> bool:
    """True if a predicted MATH answer equals the reference (see the module docstring for the rules)."""
    if predicted is None:
        return False
    return _same(normalize_math(predicted), normalize_math(target))
