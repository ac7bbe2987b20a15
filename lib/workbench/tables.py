"""Tables for the chapters: one way to show a DataFrame, without the index, with its source under it.

:func:`show` displays a table the way every chapter should: no pandas index column (a meaningful index,
one with a name, several levels or labels that are not plain row numbers, is kept as leading columns),
readable headers (``ci_low_pct`` reads ``ci low %``), numbers to ``precision`` decimals with separators
from five digits up (years stay ``2024``), missing values as empty cells, yes/no for flags, number
columns right-aligned, and the source line ``*From ...*`` under it. The article's renderer recognises
both outputs by their display metadata (``{"workbench": {"role": "table" | "table-source"}}``).
"""
from __future__ import annotations

import hashlib
import math
import numbers
import re
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from . import fmt

__all__ = ["ROLE_KEY", "html", "prepare", "readable", "show"]

#: Key of the display metadata the renderer reads: ``metadata[ROLE_KEY]["role"]``.
ROLE_KEY = "workbench"

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]+$")
#: Suffixes of identifier-like column names and how a reader sees them.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_pct", " %"), ("_pts", " (points)"), ("_usd", " USD"), ("_ms", " ms"), ("_s", " s"),
)


def readable(label: Any) -> str:
    """A column label as a header: ``ci_low_pct`` -> ``ci low %``; written-out headers stay as they are.

    Only identifier-like names (letters, digits, ``_``) are changed: the suffixes ``_pct``, ``_pts``,
    ``_usd``, ``_ms`` and ``_s`` become `` %``, `` (points)``, `` USD``, `` ms`` and `` s``, and the
    remaining underscores spaces. A tuple (a level of MultiIndex columns) is joined with spaces.
    """
    if isinstance(label, tuple):
        return " ".join(p for p in (readable(x) for x in label) if p)
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return ""
    if isinstance(label, float):
        return f"{label:g}"
    text = str(label)
    if "_" not in text or not _IDENTIFIER.match(text):
        return text
    for suffix, shown in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)] + shown
            break
    return text.replace("_", " ").strip()


def _meaningful_index(index: pd.Index) -> bool:
    """An index a reader needs: named, several levels, or labels that are not plain row numbers."""
    if isinstance(index, pd.MultiIndex) or any(n is not None for n in index.names):
        return True
    return not (pd.api.types.is_integer_dtype(index.dtype) or len(index) == 0)


def _keeps_index(frame: pd.DataFrame, index: bool | None) -> bool:
    """Whether the index is shown: as asked, or (None) when it is meaningful."""
    return _meaningful_index(frame.index) if index is None else bool(index)


def prepare(frame: pd.DataFrame, *, index: bool | None = None,
            rename: Mapping[Any, str] | None = None) -> pd.DataFrame:
    """The frame as it is shown: a meaningful index moved into leading columns, headers made readable.

    ``index``: None decides (a named, multi-level or non-integer index is kept), True keeps it, False
    drops it. ``rename`` maps original column labels to headers (applied before :func:`readable`, which
    leaves written-out headers alone). The result has a plain row-number index and string headers.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    keep = _keeps_index(frame, index)
    columns = frame.columns
    if columns.nlevels == 1 and columns.name is not None and not all(isinstance(c, str) for c in columns):
        labels = [f"{readable(columns.name)} {readable(c)}" for c in columns]  # pivoted: "depth 0.5"
    else:
        labels = [readable((rename or {}).get(c, c)) for c in columns]
    shown = frame.copy()
    shown.columns = labels
    if keep:
        names = [readable((rename or {}).get(n, n)) if n is not None else "" for n in frame.index.names]
        levels = [frame.index.get_level_values(i) for i in range(frame.index.nlevels)]
        front = pd.DataFrame(dict(enumerate(levels)))
        front.columns = names
        shown = pd.concat([front, shown.reset_index(drop=True)], axis=1)
    else:
        shown = shown.reset_index(drop=True)
    return shown


def _cell(precision: int, na: str) -> Callable[[Any], str]:
    """The text of one cell: missing -> ``na``, flags -> yes/no, numbers with ``precision`` decimals."""

    def text(value: Any) -> str:
        if isinstance(value, (list, tuple, set, dict)):
            return str(value)
        if fmt.missing(value):
            return na
        if isinstance(value, (bool, np.bool_)):
            return fmt.yes_no(value)
        if isinstance(value, numbers.Integral):
            v = int(value)
            return f"{v:,}" if abs(v) >= 10_000 else str(v)
        if isinstance(value, numbers.Real):
            v = float(value)
            if math.isinf(v):
                return "∞" if v > 0 else "−∞"
            out = f"{v:,.{precision}f}" if abs(v) >= 10_000 else f"{v:.{precision}f}"
            return "0" + out[2:] if out.startswith("-0") and float(out.replace(",", "")) == 0 else out
        return str(value)

    return text


def _digits(precision: int | Mapping[Any, int], column: Any, label: str) -> int:
    """The decimals of one column: one number for all, or a mapping by original label or header."""
    if isinstance(precision, Mapping):
        for key in (column, label):
            if key in precision:
                return int(precision[key])
        return int(precision.get(None, 1))
    return int(precision)


def html(frame: pd.DataFrame, *, precision: int | Mapping[Any, int] = 1, na: str = "",
         index: bool | None = None, rename: Mapping[Any, str] | None = None) -> str:
    """The table as HTML (a pandas Styler, index hidden, text escaped, number columns right-aligned).

    ``precision``: decimals of float cells, one number or ``{column: digits}`` (``None`` key = the
    rest; columns named by original label or by header). Other arguments as in :func:`prepare`.
    """
    shown = prepare(frame, index=index, rename=rename)
    originals = (list(frame.index.names) if _keeps_index(frame, index) else []) + list(frame.columns)
    text = pd.DataFrame(index=shown.index)
    right = []
    for pos, label in enumerate(shown.columns):
        col = shown.iloc[:, pos]
        digits = _digits(precision, originals[pos], label)
        text[pos] = col.map(_cell(digits, na)).astype(str)
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            right.append(pos)
    uid = hashlib.sha1(text.to_json().encode() + "|".join(shown.columns).encode()).hexdigest()[:10]
    styler = (text.style.hide(axis="index").format(escape="html")
              .relabel_index([escape(c) for c in shown.columns], axis="columns")
              .set_uuid(uid).set_table_attributes('class="wb-table"'))
    if right:
        styler = styler.set_table_styles(
            {pos: [{"selector": "td", "props": "text-align: right"}, {"selector": "th", "props": "text-align: right"}]
             for pos in right}, overwrite=False)
    return styler.to_html()


def show(frame: pd.DataFrame, source: str | None = None, *, precision: int | Mapping[Any, int] = 1,
         na: str = "", index: bool | None = None, rename: Mapping[Any, str] | None = None) -> None:
    """Display ``frame`` as a table (see :func:`html`) and, under it, ``*From SOURCE.*``.

    ``source`` is markdown (a run, archive, file or source id such as ``data/prices.csv (S2)``); a final
    period is added unless it ends in one. Two outputs: the table (HTML, with a plain-text fallback) and
    the source line (markdown), tagged for the renderer with display metadata.
    """
    from IPython.display import Markdown, display

    table = html(frame, precision=precision, na=na, index=index, rename=rename)
    plain = prepare(frame, index=index, rename=rename).to_string(index=False, na_rep=na)
    display({"text/html": table, "text/plain": plain}, raw=True,
            metadata={ROLE_KEY: {"role": "table", "rows": len(frame)}})
    if source:
        line = source.strip()
        line = line if line.endswith((".", "!", "?")) else line + "."
        display(Markdown(f"*From {line}*"), metadata={ROLE_KEY: {"role": "table-source"}})
