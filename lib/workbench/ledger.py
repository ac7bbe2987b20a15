"""The claims ledger: every checkable claim of the source articles, with a verdict computed by code.

``data/claims.csv`` holds the claims of S0-S4 in our words: source, section, kind, the models concerned,
what is stated and the check that applies. :func:`ledger` runs each row's check (registered by
:mod:`workbench.ledger_numbers`, :mod:`workbench.ledger_specs`, :mod:`workbench.ledger_scores`,
:mod:`workbench.ledger_runs` and :mod:`workbench.ledger_patterns`; the verdicts and their evidence are defined in
:mod:`workbench.ledger_verdicts`) and returns one row per claim with its verdict, finding and evidence.
:func:`summary` counts verdicts per source, :func:`plot_verdicts` draws them by source and kind, and
:func:`headline_contradictions` picks the contradictions that matter most to a reader.

Typical use::

    from workbench import ledger
    table = ledger.ledger(sources=["S2"], kinds=["cost", "api"], alpha=0.05)
    ledger.summary(table)
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import (
    catalog,
    ledger_numbers,
    ledger_patterns,
    ledger_runs,
    ledger_scores,
    ledger_specs,
    params,
)
from .ledger_verdicts import VERDICTS, Claim, Context, checks, claims_table, kinds

__all__ = [
    "COLUMNS",
    "VERDICTS",
    "VERDICT_COLORS",
    "check_kinds",
    "headline_contradictions",
    "kinds",
    "ledger",
    "plot_verdicts",
    "summary",
]

# The check modules register their checks on import; naming them here keeps the import explicit.
_CHECK_MODULES = (ledger_numbers, ledger_patterns, ledger_runs, ledger_scores, ledger_specs)

#: The columns of :func:`ledger`.
COLUMNS = ["claim_id", "source_id", "section", "kind", "statement", "models", "check", "verdict", "finding",
           "evidence", "settle", "derived", "p_value", "archive"]

#: One colour per verdict, used by the chapter's figure and tables.
VERDICT_COLORS: dict[str, str] = {
    "consistent": "#4c9a5b",
    "contradicted": "#c0392b",
    "not distinguishable": "#e0a526",
    "unverifiable offline": "#9aa5b1",
    "measured": "#3b6fb6",
}

#: Kinds in the order a reader weighs a contradiction: money first, then code that fails, then quality.
_CONSEQUENCE = ("cost", "price", "api", "ranking", "recommendation", "score", "spec", "latency", "behaviour",
                "architecture")


def check_kinds(values: str | Iterable[str], param: str = "kinds") -> list[str]:
    """Validate claim kinds against the ``claims`` table's schema; return them as a list."""
    return catalog.check_names(params.names(values, param), kinds(), param=param, kind="claim kind")


def ledger(sources: str | Iterable[str] | None = None, kinds: str | Iterable[str] | None = None,
           alpha: float = 0.05, tolerance: float = 0.05, runs: Path | None = None) -> pd.DataFrame:
    """Every selected claim with its verdict and evidence, one row per claim (columns :data:`COLUMNS`).

    Args:
        sources: source ids (S0-S4); None: all.
        kinds: claim kinds (see :func:`workbench.ledger_verdicts.kinds`); None: all.
        alpha: significance level of every test (a gap is resolved when p < alpha; intervals at 1 - alpha).
        tolerance: relative difference within which a re-derived number agrees with a claim.
        runs: where run archives live (default ``data/runs``).

    Raises:
        catalog.UnknownNameError: an unknown source or kind, naming the parameter.
        ValueError: the selection holds no claim.
        params.ParameterError: ``alpha`` or ``tolerance`` out of range.
    """
    alpha = params.probability(alpha, "alpha")
    tolerance = params.tolerance(tolerance, "tolerance")
    table = claims_table()
    if sources is not None:
        table = table[table["source_id"].isin(catalog.check_sources(params.names(sources, "sources")))]
    if kinds is not None:
        table = table[table["kind"].isin(check_kinds(kinds))]
    if table.empty:
        raise ValueError(f"sources / kinds: no claim in data/claims.csv for sources={sources!r}, kinds={kinds!r}")
    every = {c.claim_id: c for c in (Claim.from_row(r) for _, r in claims_table().iterrows())}
    ctx = Context(every, alpha, tolerance, Path(runs) if runs is not None else None)
    registry = checks()
    rows = []
    for claim_id in table["claim_id"]:
        claim = every[str(claim_id)]
        if claim.check not in registry:
            raise KeyError(f"{claim.claim_id}: check {claim.check!r} is not registered "
                           f"(known: {', '.join(sorted(registry))})")
        v = registry[claim.check](claim, ctx)
        rows.append({"claim_id": claim.claim_id, "source_id": claim.source_id, "section": claim.section,
                     "kind": claim.kind, "statement": claim.statement, "models": ", ".join(claim.subjects),
                     "check": claim.check, "verdict": v.verdict, "finding": v.finding,
                     "evidence": "; ".join(v.evidence), "settle": v.settle, "derived": v.derived,
                     "p_value": v.p_value, "archive": v.archive or ""})
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs.update(alpha=alpha, tolerance=tolerance)
    return out


def summary(table: pd.DataFrame, by: str = "source_id") -> pd.DataFrame:
    """Counts of each verdict per ``by`` (``source_id`` or ``kind``), with a total row and column."""
    params.columns(table, [by, "verdict"], "table")
    counts = pd.crosstab(table[by], table["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    counts["total"] = counts.sum(axis=1)
    counts.loc["total"] = counts.sum(axis=0)
    counts.index.name, counts.columns.name = by, None
    return counts.astype(int)


def plot_verdicts(table: pd.DataFrame) -> plt.Figure:
    """Verdicts by source and kind: one panel per source, one horizontal stacked bar per kind."""
    params.columns(table, ["source_id", "kind", "verdict"], "table")
    sources = sorted(table["source_id"].unique())
    order = [k for k in kinds() if k in set(table["kind"])]
    fig, axes = plt.subplots(1, len(sources), figsize=(2.6 * len(sources) + 2.4, 0.42 * len(order) + 1.8),
                             sharey=True, squeeze=False)
    top = int(table.groupby(["source_id", "kind"]).size().max())
    for ax, src in zip(axes[0], sources):
        part = table[table["source_id"] == src]
        counts = pd.crosstab(part["kind"], part["verdict"]).reindex(index=order, columns=list(VERDICTS),
                                                                    fill_value=0)
        left = np.zeros(len(order))
        for verdict in VERDICTS:
            ax.barh(order, counts[verdict], left=left, color=VERDICT_COLORS[verdict], label=verdict,
                    edgecolor="white", linewidth=0.5)
            left += counts[verdict].to_numpy()
        ax.set_title(f"{src} ({len(part)} claims)")
        ax.set_xlim(0, top + 0.5)
        ax.set_xlabel("claims")
        ax.invert_yaxis() if ax is axes[0][0] else None
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(VERDICTS), frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("Verdicts on the sources' claims, by source and kind", fontweight="bold")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def headline_contradictions(table: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` contradictions that matter most: one per kind first, in the order money, code, quality
    (:data:`_CONSEQUENCE`), then the rest in the same order."""
    params.columns(table, ["kind", "verdict", "claim_id"], "table")
    n = params.count(n, "n")
    bad = table[table["verdict"] == "contradicted"].copy()
    bad["rank"] = bad["kind"].map({k: i for i, k in enumerate(_CONSEQUENCE)})
    bad = bad.sort_values(["rank", "claim_id"], kind="stable")
    first = bad.drop_duplicates("kind")
    rest = bad.drop(first.index)
    return pd.concat([first, rest]).head(n).drop(columns="rank").reset_index(drop=True)
