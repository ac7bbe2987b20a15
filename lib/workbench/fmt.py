"""Numbers formatted for prose and tables: money, percentages, SI magnitudes, p-values and ranges.

Every number in the article's prose is formatted in by these functions (never typed), so one chapter
writes "$2.50", "41 %" and "< 0.001" the same way as the next. Missing values (None, NaN) read "n/a".
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["count", "interval", "missing", "p_value", "pct", "si", "span", "tokens", "usd", "yes_no"]


def missing(value: Any) -> bool:
    """True for None and NaN (pandas' NA included)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and pd.NA  # noqa: PLR0124
    except TypeError:
        return True


def usd(value: Any, digits: int | None = None) -> str:
    """Dollars: ``$2.50``, ``$0.0042``, ``$1,234``; ``digits`` fixes the decimals."""
    if missing(value):
        return "n/a"
    v = float(value)
    sign = "-" if v < 0 else ""
    a = abs(v)
    if digits is not None:
        return f"{sign}${a:,.{digits}f}"
    if a >= 1000:
        return f"{sign}${a:,.0f}"
    if a >= 0.995 or a == 0:
        return f"{sign}${a:,.2f}"
    text = f"{a:.{max(2, 1 - math.floor(math.log10(a)) + 1)}f}"  # three significant figures below a dollar
    whole, dec = text.split(".")
    return f"{sign}${whole}.{dec.rstrip('0').ljust(2, '0')}"


def pct(value: Any, digits: int = 0, *, share: bool = False) -> str:
    """A percentage: ``pct(41.2)`` is ``41 %``; with ``share=True`` the value is a fraction (0.412)."""
    if missing(value):
        return "n/a"
    v = float(value) * (100 if share else 1)
    return f"{v:.{digits}f} %"


def si(value: Any, digits: int = 3) -> str:
    """A magnitude with an SI prefix and ``digits`` significant figures: ``1.2 k``, ``3.4 M``, ``560 m``."""
    if missing(value):
        return "n/a"
    v = float(value)
    if v == 0:
        return "0"
    prefixes = {-4: "p", -3: "n", -2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T"}
    k = max(-4, min(4, math.floor(math.log10(abs(v)) / 3)))
    scaled = v / 1000 ** k
    text = f"{scaled:.{digits}g}"
    return f"{text} {prefixes[k]}".rstrip()


def count(value: Any, na: str = "unknown") -> str:
    """A whole number with thousands separators, ``na`` (``unknown``) when missing."""
    return na if missing(value) else f"{int(value):,}"


def p_value(p: Any) -> str:
    """A p-value: ``< 0.001`` below a thousandth, else three decimals."""
    if missing(p):
        return "n/a"
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def span(lo: Any, hi: Any, template: str = "{:,.0f}") -> str:
    """A range ``lo to hi``, or one value when both print the same."""
    a, b = template.format(lo), template.format(hi)
    return a if a == b else f"{a} to {b}"


def yes_no(value: Any) -> str:
    """A flag for a table: ``yes``, ``no``, or ``n/a`` when missing (a test that could not be made)."""
    return "n/a" if missing(value) else ("yes" if value else "no")


def interval(lo: Any, hi: Any, digits: int = 0, na: str = "") -> str:
    """An interval for a table cell, ``88.7 - 92.1`` (``digits`` decimals); ``na`` when missing."""
    if missing(lo) or missing(hi):
        return na
    return f"{float(lo):.{digits}f} - {float(hi):.{digits}f}"


def tokens(value: Any, na: str = "n/a") -> str:
    """A token count the way people say it: ``950``, ``8.19K``, ``128K``, ``1.05M``, ``2.6B`` (at most two
    decimals, trailing zeros dropped); ``na`` when missing."""
    if missing(value):
        return na
    v = float(value)
    if v < 0:
        raise ValueError(f"value: expected a non-negative token count, got {value!r}")
    steps = ((1.0, ""), (1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"))
    i = max(k for k, (div, _) in enumerate(steps) if k == 0 or v >= div)
    if i + 1 < len(steps) and round(v / steps[i][0], 0 if i == 0 else 2) >= 1000:
        i += 1  # 999,999 reads 1M, not 1000K
    div, suffix = steps[i]
    return (f"{v:.0f}" if i == 0 else f"{v / div:.2f}".rstrip("0").rstrip(".")) + suffix
