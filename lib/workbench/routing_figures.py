"""Figures of routers and escalation: the cost-quality frontier, and escalation against its threshold.

* :func:`plot_frontier`: accuracy with its interval against cost per 1,000 items, one panel per task;
  single models, routers, escalation policies and the oracle marked differently, the frontier (the
  non-dominated policies, :func:`workbench.cost_quality.frontier`) joined by a line;
* :func:`plot_escalation`: accuracy (with interval), cost per 1,000 items and the share of items handed
  to a person, against the escalation threshold (:func:`workbench.escalation.sweep_table`).

Both print the run or archives they came from under the figure (:func:`workbench.score_plots.add_source`)
and format their axes with :mod:`workbench.fmt`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from . import cost_quality, fmt, params
from .score_plots import add_source

__all__ = ["KIND_STYLE", "plot_escalation", "plot_frontier"]

#: How each kind of policy is drawn: marker, colour, label.
KIND_STYLE: dict[str, tuple[str, str, str]] = {
    "single": ("o", "#0072b2", "single model"),
    "router": ("s", "#d55e00", "router"),
    "escalation": ("^", "#009e73", "escalation"),
    "oracle": ("*", "#888888", "oracle router (ceiling)"),
}
_COSTS = {"usd_per_1k": "USD per 1,000 items", "seconds_per_1k": "compute seconds per 1,000 items"}


def _title(value: object, param: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise params.ParameterError(param, "a non-empty text", value)
    return value


def _cost_axis(ax: plt.Axes, cost: str) -> None:
    ax.set_xlabel(_COSTS[cost])
    if cost == "usd_per_1k":
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.usd(v)))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.si(v)))


def _label(ax: plt.Axes, rows: pd.DataFrame, cost: str, gap_pt: float = 9.0) -> None:
    """Each policy's name right of its point (policies on one point share a label), moved down just enough
    that labels near each other do not overlap."""
    ax.autoscale_view()
    points = []
    for (x, y), g in rows.groupby([rows[cost].round(12), rows["accuracy"].round(12)], sort=False):
        names = list(g["policy"].astype(str))
        px, py = ax.transData.transform((x, 100 * y))
        points.append((px, py, x, 100 * y, names))
    scale = 72.0 / ax.figure.dpi  # pixels -> points
    placed: list[tuple[float, float, int]] = []  # (x px, y px of the label's top, lines)
    for px, py, x, y, names in sorted(points, key=lambda p: -p[1]):
        top = py + len(names) * gap_pt / scale / 2
        for qx, qtop, lines in placed:
            bottom = qtop - lines * gap_pt / scale
            if abs(px - qx) < 110 / scale and top > bottom:
                top = bottom
        placed.append((px, top, len(names)))
        shift = (top - (py + len(names) * gap_pt / scale / 2)) * scale
        ax.annotate("\n".join(names), (x, y), xytext=(6, shift), textcoords="offset points", fontsize=7,
                    color="#333333", va="center", arrowprops={"arrowstyle": "-", "color": "#aaaaaa", "lw": 0.5}
                    if shift < -1 else None)


def plot_frontier(table: pd.DataFrame, *, title: str, source: str, cost: str = "usd_per_1k",
                  label_policies: bool = True) -> plt.Figure:
    """Accuracy (Wilson interval) against cost per 1,000 items, a panel per task, frontier joined.

    Args:
        table: :func:`workbench.cost_quality.summary` (per task or overall); ``on_frontier`` is added
            when missing.
        title: the figure's title (say what answered: recorded local models or a live run).
        source: where the numbers came from (``RecordedRuns.source()``), printed under the figure.
        cost: ``"usd_per_1k"`` or ``"seconds_per_1k"``.
        label_policies: write each policy's name next to its point.
    """
    params.choice(cost, "cost", list(_COSTS))
    params.columns(table, ["policy", "kind", "accuracy", "ci_low", "ci_high", cost], "table")
    if table.empty:
        raise params.ParameterError("table", "at least one policy row", "an empty table")
    unknown = sorted(set(table["kind"]) - set(KIND_STYLE))
    if unknown:
        raise params.ParameterError("table", "policy kinds " + ", ".join(KIND_STYLE), unknown[0])
    title, source = _title(title, "title"), _title(source, "source")
    if "on_frontier" not in table:
        table = cost_quality.frontier(table, cost)
    tasks = list(dict.fromkeys(table["task"])) if "task" in table else [None]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks) + 0.6, 4.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = table if task is None else table[table["task"] == task]
        for z, (kind, (marker, color, _)) in enumerate(reversed(KIND_STYLE.items())):  # singles on top
            g = rows[rows["kind"] == kind]
            if g.empty:
                continue
            acc = 100 * g["accuracy"].to_numpy(float)
            err = 100 * np.vstack([g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]]).astype(float)
            ax.errorbar(g[cost], acc, yerr=err, fmt=marker, color=color, ms=9 if marker == "*" else 7,
                        capsize=3, alpha=0.9, lw=1, zorder=2 + z)
        front = rows[rows["on_frontier"]].sort_values(cost)
        if len(front) > 1:
            ax.plot(front[cost], 100 * front["accuracy"], color="#333333", lw=1, ls="--", zorder=0)
        ax.margins(x=0.25)
        if label_policies:
            _label(ax, rows, cost)
        ax.set_title(str(task) if task is not None else "all items", fontsize=10)
        ax.set_ylabel("accuracy % (interval)")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.pct(v)))
        _cost_axis(ax, cost)
    present = [k for k in KIND_STYLE if k in set(table["kind"])]
    handles = [Line2D([], [], marker=KIND_STYLE[k][0], color=KIND_STYLE[k][1], ls="", label=KIND_STYLE[k][2])
               for k in present] + [Line2D([], [], color="#333333", ls="--", label="frontier (not dominated)")]
    axes[0][0].legend(handles=handles, loc="best", fontsize=7.5)
    fig.suptitle(title)
    fig.tight_layout()
    return add_source(fig, source)


def plot_escalation(table: pd.DataFrame, *, title: str, source: str, cost: str = "usd_per_1k",
                    singles: pd.DataFrame | None = None) -> plt.Figure:
    """Accuracy (interval), cost per 1,000 items and the share handed to a person against the threshold.

    Args:
        table: :func:`workbench.escalation.sweep_table` (per task: one line per task).
        title, source: as for :func:`plot_frontier`.
        cost: ``"usd_per_1k"`` or ``"seconds_per_1k"``.
        singles: :func:`workbench.cost_quality.summary` rows of single models on the same items (per task
            when ``table`` is), drawn as dotted levels on the accuracy and cost panels for reference.
    """
    params.choice(cost, "cost", list(_COSTS))
    params.columns(table, ["threshold", "accuracy", "ci_low", "ci_high", "person_share", cost], "table")
    if table.empty:
        raise params.ParameterError("table", "at least one threshold row", "an empty table")
    title, source = _title(title, "title"), _title(source, "source")
    if singles is not None:
        params.columns(singles, ["policy", "accuracy", cost], "singles")
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(14, 4.2))
    groups = table.groupby("task", sort=False) if "task" in table else [("all items", table)]
    palette = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"]
    for i, (task, g) in enumerate(groups):
        g = g.sort_values("threshold")
        color = palette[i % len(palette)]
        t = g["threshold"].to_numpy(float)
        a1.plot(t, 100 * g["accuracy"], color=color, marker="o", ms=3, label=str(task))
        a1.fill_between(t, 100 * g["ci_low"].astype(float), 100 * g["ci_high"].astype(float), color=color, alpha=0.15)
        a2.plot(t, g[cost], color=color, marker="o", ms=3)
        a3.plot(t, 100 * g["person_share"], color=color, marker="o", ms=3)
        if singles is not None:
            mine = singles if "task" not in singles or task == "all items" else singles[singles["task"] == task]
            for r in mine.itertuples():
                for ax, y in ((a1, 100 * r.accuracy), (a2, getattr(r, cost))):
                    ax.axhline(y, color=color, ls=":", lw=1)
                    ax.annotate(str(r.policy), (1.0, y), xytext=(-2, 2), textcoords="offset points", ha="right",
                                va="bottom", fontsize=6.5, color=color)
    a1.set_ylabel("accuracy % of answered items (interval)")
    a1.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.pct(v)))
    a2.set_ylabel(_COSTS[cost])
    a2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.usd(v) if cost == "usd_per_1k" else fmt.si(v)))
    a3.set_ylabel("share handed to a person")
    a3.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.pct(v)))
    a3.set_ylim(-2, 102)
    for ax in (a1, a2, a3):
        ax.set_xlabel("confidence threshold (escalate when not above it)")
        ax.set_xlim(-0.02, 1.02)
    a1.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return add_source(fig, source)

