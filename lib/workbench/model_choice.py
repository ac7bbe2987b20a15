"""Choosing a model by a stated rule: a requirement, then a criterion, over the models priced on a date.

The sources recommend models by rules of thumb (S1's decision function: long context, audio, cost,
task type; S2's routing). Written as data, a rule is ``"<requirement>; <criterion>"``:

* requirement: ``any``, ``input_audio`` / ``input_image`` / ``input_video`` (the model takes that input,
  per ``data/models.csv``), or ``<column> > <number>`` on a numeric column (``context_window>200000``);
* criterion: ``cheapest`` (lowest input price, then output price, on that date) or ``best:<family>``
  (the best published score in a benchmark family of ``data/benchmarks.csv``; whether that lead is
  real is a question for the published-score tests, see :mod:`workbench.ledger_scores`).

The candidates are the models priced on a date (by one source, to replay an article's own choice, or by
any source, to see what today's catalog would choose). A model whose input flag is blank in the catalog
is "unknown", not "no": it is set aside and reported, never silently dropped.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date

import pandas as pd

from . import catalog, costs

__all__ = ["Rule", "Screen", "candidates", "cheapest", "parse_rule", "screen"]

_INPUTS = ("input_audio", "input_image", "input_video", "input_text")
_COMPARE = re.compile(r"^(?P<column>[a-z_]+)\s*>\s*(?P<number>\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Rule:
    """A parsed rule: the requirement and the criterion (see the module docstring)."""

    requirement: str
    criterion: str

    @property
    def family(self) -> str | None:
        """The benchmark family of a ``best:<family>`` criterion, else None."""
        return self.criterion.split(":", 1)[1] if self.criterion.startswith("best:") else None


def parse_rule(text: str) -> Rule:
    """``"<requirement>; <criterion>"`` as a :class:`Rule`; ValueError naming what is malformed."""
    parts = [p.strip() for p in str(text).split(";")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"rule: {text!r} is not '<requirement>; <criterion>'")
    requirement, criterion = parts
    numeric = catalog.TABLES["models"].columns
    if requirement != "any" and requirement not in _INPUTS:
        m = _COMPARE.match(requirement)
        if not m or m["column"] not in {c.name for c in numeric if c.type in ("int", "float")}:
            raise ValueError(f"rule: requirement {requirement!r} is not 'any', one of {', '.join(_INPUTS)}, "
                             "or '<numeric column of models.csv> > <number>'")
    if criterion != "cheapest" and not criterion.startswith("best:"):
        raise ValueError(f"rule: criterion {criterion!r} is not 'cheapest' or 'best:<benchmark family>'")
    if criterion.startswith("best:"):
        families = set(catalog.benchmarks()["family"])
        if criterion[5:] not in families:
            raise ValueError(f"rule: benchmark family {criterion[5:]!r} is not one of {', '.join(sorted(families))}")
    return Rule(requirement, criterion)


def candidates(on: date, source: str | None = None) -> list[str]:
    """The models with a price observed exactly on ``on`` (by ``source`` when given) that still answer on
    ``on`` (an id retired by then is no candidate), in catalog order."""
    prices = catalog.prices()
    rows = prices[prices["observed"].dt.date == on]
    if source is not None:
        rows = rows[rows["source_id"] == source]
    order = list(catalog.models()["model_id"])
    usable = [m for m in set(rows["model_id"]) if catalog.retirement(m, on).usable]
    return sorted(usable, key=order.index)


@dataclass(frozen=True)
class Screen:
    """Which candidates meet a requirement, which do not, and which the catalog cannot tell."""

    meets: tuple[str, ...]
    fails: tuple[str, ...]
    unknown: tuple[str, ...]


def screen(models: list[str], requirement: str) -> Screen:
    """Sort ``models`` by whether they meet ``requirement`` (per ``data/models.csv``)."""
    table = catalog.models().set_index("model_id")
    meets, fails, unknown = [], [], []
    for m in models:
        if requirement == "any":
            meets.append(m)
            continue
        m_cmp = _COMPARE.match(requirement)
        cell = table.at[m, m_cmp["column"] if m_cmp else requirement]
        if pd.isna(cell):
            unknown.append(m)
        elif (float(cell) > float(m_cmp["number"])) if m_cmp else bool(cell):
            meets.append(m)
        else:
            fails.append(m)
    return Screen(tuple(meets), tuple(fails), tuple(unknown))


def cheapest(models: list[str], on: date, source: str | None = None) -> str:
    """The model with the lowest input price (then output price) on ``on``; a disputed price uses the
    rule of :func:`workbench.costs.price_on`."""
    if not models:
        raise ValueError("models: no candidate to choose from")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", costs.PriceConflictWarning)
        rows = {m: costs.price_on(m, on, source) for m in models}
    return min(models, key=lambda m: (rows[m].input_per_mtok, rows[m].output_per_mtok))
