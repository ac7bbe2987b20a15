"""The parts every claim check shares: a claim, a verdict with its evidence, and the registry of checks.

A row of ``data/claims.csv`` becomes a :class:`Claim`. Its ``check`` column names a function registered
here with :func:`register`; the function takes the claim and a :class:`Context` (the other claims, the
significance level, the tolerance, where run archives live) and returns a :class:`Verdict`:

* ``consistent``: the claim agrees with what the data or the SDKs show;
* ``contradicted``: the data, another source's row, the provider's documentation or the SDK says
  otherwise;
* ``not distinguishable``: the claim rests on a gap smaller than sampling noise (a "best at" whose lead
  is inside the benchmark's interval);
* ``unverifiable offline``: nothing offline settles it; ``settle`` says exactly what would (the data to
  add, or the command to run with keys);
* ``measured``: a recorded run measured it; ``archive`` names the run.

The evidence travels with the verdict: each item is one fact with its origin (a re-derived number, the
other source's row, a documentation row with its URL and date, an interval, a p-value). The check
modules (:mod:`workbench.ledger_numbers`, :mod:`workbench.ledger_scores`, :mod:`workbench.ledger_runs`)
register their checks here; :mod:`workbench.ledger` runs them over the table.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import pandas as pd

from . import catalog

__all__ = [
    "VERDICTS",
    "Check",
    "Claim",
    "Context",
    "Verdict",
    "checks",
    "claims_table",
    "join",
    "kinds",
    "model_name",
    "register",
]

#: The verdicts, in the order tables and figures show them.
VERDICTS: tuple[str, ...] = ("consistent", "contradicted", "not distinguishable", "unverifiable offline",
                             "measured")


def kinds() -> tuple[str, ...]:
    """The kinds of claim (price, spec, score, ...), as declared by the ``claims`` table's schema."""
    column = next(c for c in catalog.TABLES["claims"].columns if c.name == "kind")
    return tuple(column.choices or ())


def claims_table() -> pd.DataFrame:
    """The claims table (``data/claims.csv``), validated by the catalog."""
    return catalog.claims()


def _names(cell: object) -> tuple[str, ...]:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA:
        return ()
    return tuple(p.strip() for p in str(cell).split(";") if p.strip())


def _text(cell: object) -> str | None:
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return None
    return str(cell)


@dataclass(frozen=True)
class Claim:
    """One row of ``data/claims.csv``; ``models`` and ``inputs`` are its ``;``-lists as tuples."""

    claim_id: str
    source_id: str
    section: str
    kind: str
    statement: str
    topic: str
    model_id: str | None
    models: tuple[str, ...]
    quantity: str | None
    value: float | None
    unit: str | None
    check: str
    inputs: tuple[str, ...]
    notes: str | None

    @classmethod
    def from_row(cls, row: pd.Series) -> Claim:
        """The claim of one table row."""
        value = row["value"]
        return cls(
            claim_id=str(row["claim_id"]), source_id=str(row["source_id"]), section=str(row["section"]),
            kind=str(row["kind"]), statement=str(row["statement"]), topic=str(row["topic"]),
            model_id=_text(row["model_id"]), models=_names(row["models"]), quantity=_text(row["quantity"]),
            value=None if pd.isna(value) else float(value), unit=_text(row["unit"]),
            check=str(row["check"]), inputs=_names(row["inputs"]), notes=_text(row["notes"]),
        )

    @property
    def subjects(self) -> tuple[str, ...]:
        """The models the claim concerns: its ``models`` list, else its ``model_id``, else none."""
        if self.models:
            return self.models
        return (self.model_id,) if self.model_id else ()


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict and the evidence behind it (see the module docstring)."""

    verdict: str
    finding: str
    evidence: tuple[str, ...] = ()
    settle: str = ""
    derived: float | None = None
    p_value: float | None = None
    archive: str | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: {self.verdict!r} is not one of {', '.join(VERDICTS)}")
        if not self.finding or not self.evidence:
            raise ValueError("a verdict needs a finding and at least one piece of evidence")
        if self.verdict == "unverifiable offline" and not self.settle:
            raise ValueError("an 'unverifiable offline' verdict must say what would settle it")
        if self.verdict == "measured" and not self.archive:
            raise ValueError("a 'measured' verdict must name the run archive that measured it")


@dataclass(frozen=True)
class Context:
    """What a check may consult besides its claim: the other claims, the levels, the run archives."""

    claims: dict[str, Claim]
    alpha: float = 0.05
    tolerance: float = 0.05
    runs: Path | None = None   #: where run archives live (None: the archives' default, ``data/runs``)

    def claim(self, claim_id: str) -> Claim:
        """Another claim of the table; KeyError naming the id when it is not there."""
        if claim_id not in self.claims:
            raise KeyError(f"inputs: claim {claim_id!r} is not in data/claims.csv")
        return self.claims[claim_id]

    def value(self, claim_id: str) -> float:
        """The number another claim states (ValueError when it states none)."""
        value = self.claim(claim_id).value
        if value is None:
            raise ValueError(f"inputs: claim {claim_id!r} states no number")
        return value

    @cached_property
    def price_dates(self) -> dict[str, date]:
        """Each source's price date: its latest observation in ``data/prices.csv``."""
        prices = catalog.prices()
        return {str(s): d.date() for s, d in prices.groupby("source_id")["observed"].max().items()}

    def price_date(self, source_id: str) -> date:
        """The date a source's prices refer to (ValueError when the source quotes none)."""
        if source_id not in self.price_dates:
            raise ValueError(f"source_id: {source_id} quotes no price in data/prices.csv")
        return self.price_dates[source_id]


Check = Callable[[Claim, Context], Verdict]
_REGISTRY: dict[str, Check] = {}


def register(name: str) -> Callable[[Check], Check]:
    """Decorator: register a check under the key that ``data/claims.csv`` names in its ``check`` column."""
    def wrap(fn: Check) -> Check:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"check {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn
    return wrap


def checks() -> dict[str, Check]:
    """The registered checks by name (the check modules register on import: see :mod:`workbench.ledger`)."""
    return dict(_REGISTRY)


def model_name(model_id: str) -> str:
    """A model's display name from ``data/models.csv`` (the id itself when the catalog lacks it)."""
    names = catalog.models().set_index("model_id")["name"]
    return str(names.get(model_id, model_id))


def join(items: Iterable[str]) -> str:
    """Items as prose: ``a``, ``a and b``, ``a, b and c``."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
