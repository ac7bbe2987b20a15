"""Figures of benchmark scores: published scores with their intervals, their gaps, and measured accuracy.

One figure style for the scores of :mod:`workbench.scoreboard` and the comparisons of
:mod:`workbench.comparisons`:

* :func:`plot_family`: a panel per benchmark of one family, a row per model, a dot per source with
  its Wilson interval (one stable colour and marker per source, :func:`source_colors`);
* :func:`plot_disagreements`: the same model and benchmark reported by two sources, side by side;
* :func:`plot_wins`: items needed to resolve each reported gap against the items the benchmark has;
* :func:`plot_resolvable_gaps`: the smallest gap each benchmark resolves, with the gaps reported on it;
* :func:`plot_accuracy`: measured accuracy with intervals per task and model, published scores as markers;
* :func:`model_colors`: one colour per model, the same in every figure of a chapter;
  :func:`add_source`: the run or archives a figure came from, printed under it.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import catalog, fmt, params, plots

__all__ = [
    "add_source",
    "model_colors",
    "plot_accuracy",
    "plot_disagreements",
    "plot_family",
    "plot_resolvable_gaps",
    "plot_wins",
    "source_colors",
]

_MARKERS = ("o", "s", "D", "^", "v", "P", "X")
_MIN_SPAN = 20.0  # percentage points: the narrowest x range of a score figure


def source_colors(sources: Sequence[str] | None = None) -> dict[str, str]:
    """One stable colour per source id (S0, S1, ... keep their colour whatever the selection)."""
    every = list(catalog.sources()["source_id"])
    palette = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442"]
    colors = {s: palette[i % len(palette)] for i, s in enumerate(every)}
    if sources is None:
        return colors
    return {s: colors[s] for s in catalog.check_sources(sources, param="sources")}


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """One colour per model: its provider's colour when it is the only model of its provider shown, else
    (two models of one provider, e.g. a ladder of open models) one colour-blind palette colour per model
    in the order given, so every figure drawn for the same models agrees."""
    models = list(dict.fromkeys(models))
    providers = [catalog.provider_of(m) for m in models]
    if len(set(providers)) == len(providers):
        return {m: plots.provider_color(p) for m, p in zip(models, providers)}
    palette = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"]
    return {m: palette[i % len(palette)] for i, m in enumerate(models)}


def add_source(fig: plt.Figure, source: str, width: int = 130) -> plt.Figure:
    """Print where a figure's numbers came from (e.g. ``RecordedRuns.source()``) under it, wrapped."""
    if not isinstance(source, str) or not source.strip():
        raise params.ParameterError("source", "a non-empty text naming the run or archives", source)
    fig.text(0.01, 0.0, textwrap.fill(f"From {source}.", width), ha="left", va="top", fontsize=7.5,
             color="#444444", transform=fig.transFigure)
    return fig


def _marker(source: str) -> str:
    every = list(catalog.sources()["source_id"])
    return _MARKERS[every.index(source) % len(_MARKERS)] if source in every else "o"


def _source_handles(sources: Sequence[str]) -> list[Line2D]:
    colors = source_colors()
    return [Line2D([], [], marker=_marker(s), color=colors[s], linestyle="", markersize=7, label=s)
            for s in sorted(set(sources))]


def _dots(ax: plt.Axes, rows: pd.DataFrame, y_center: float, *, label_source: bool = False,
          spacing: float = 0.32) -> None:
    """One dot per source around ``y_center``, with its Wilson bar and its value to the right."""
    colors = source_colors()
    k = len(rows)
    for j, (_, r) in enumerate(rows.sort_values("source_id").iterrows()):
        y = y_center + (j - (k - 1) / 2) * spacing
        c = colors.get(str(r["source_id"]), "#555555")
        right = float(r["score"])
        if "ci_low" in r and not pd.isna(r["ci_low"]):
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=c, lw=2.2, alpha=0.55,
                    solid_capstyle="butt")
            right = float(r["ci_high"])
        ax.plot(r["score"], y, marker=_marker(str(r["source_id"])), color=c, markersize=7,
                linestyle="")
        text = f"{r['source_id']}: {r['score']:g}" if label_source else f"{r['score']:g}"
        ax.annotate(text, (right, y), xytext=(4 if right > float(r["score"]) else 7, 0),
                    textcoords="offset points", ha="left",
                    va="center", fontsize=7.5, color="#333333")


def _panel_title(bench: str, n: object) -> str:
    return f"{bench}\n(n = {int(n):,} items)" if not pd.isna(n) else f"{bench}\n(size not stated)"


def _level_text(data: pd.DataFrame) -> str:
    level = data.attrs.get("confidence")
    return f"{level:.0%}" if level else "confidence"


def _x_span(data: pd.DataFrame, room: float) -> tuple[float, float]:
    """An x range covering every score and interval, with ``room`` points on the right for labels."""
    lows = data["ci_low"].fillna(data["score"]) if "ci_low" in data else data["score"]
    highs = data["ci_high"].fillna(data["score"]) if "ci_high" in data else data["score"]
    lo, hi = max(0.0, float(lows.min()) - 3), float(highs.max())
    if hi - lo < _MIN_SPAN:  # never zoom so far that a few points look like a chasm
        lo = max(0.0, min(lo, hi - _MIN_SPAN + (_MIN_SPAN - (hi - lo)) / 2))
        hi = max(hi, lo + _MIN_SPAN)
    return lo, hi + room


def plot_family(scores: pd.DataFrame, family: str) -> plt.Figure:
    """One figure for one benchmark family: a panel per benchmark, a row per model, a dot per source.

    ``scores`` should come from :func:`with_intervals` so each dot carries its Wilson interval
    (drawn as a bar) where the benchmark size is known.
    """
    params.columns(scores, ["family", "benchmark", "model", "source_id", "score", "n_items"], "scores")
    data = scores[scores["family"] == family]
    if data.empty:
        raise ValueError(f"family: no scores for family {family!r}; "
                         f"known: {sorted(set(scores['family']))}")
    benches = list(dict.fromkeys(data.sort_values(["n_items", "benchmark"])["benchmark"]))
    rows_per_panel = max(
        sum(max(1, 0.7 * len(g)) for _, g in data[data["benchmark"] == b].groupby("model"))
        for b in benches)
    ncols = min(3, len(benches))
    nrows = math.ceil(len(benches) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(4.6 * ncols + 1.4, (0.5 * rows_per_panel + 1.5) * nrows + 0.6))
    span = _x_span(data, room=5)
    for ax, bench in zip(axes.flat, benches):
        sub = data[data["benchmark"] == bench]
        models = list(sub.groupby("model")["score"].max().sort_values(ascending=False).index)
        for i, model in enumerate(models):
            _dots(ax, sub[sub["model"] == model], i)
        ax.set_yticks(range(len(models)), models)
        ax.set_ylim(len(models) - 0.45, -0.55)
        ax.set_title(_panel_title(bench, sub["n_items"].iloc[0]), fontsize=10)
        ax.grid(axis="y", visible=False)
        ax.set_xlim(*span)
        ax.set_xlabel("score (%)")
    for ax in list(axes.flat)[len(benches):]:
        ax.axis("off")
    fig.suptitle(f"Published scores: {family}\n(bars: {_level_text(data)} Wilson interval where the "
                 f"size is known)", fontweight="bold", fontsize=11)
    fig.legend(handles=_source_handles(data["source_id"]), title="source", loc="lower center",
               ncol=len(set(data["source_id"])), fontsize=8, title_fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.09 if nrows == 1 else 0.05, 1, 1))
    return fig


def plot_disagreements(scores: pd.DataFrame, disagreements: pd.DataFrame) -> plt.Figure:
    """The (benchmark, model) pairs that two sources report, side by side with their intervals."""
    params.columns(disagreements, ["benchmark", "model"], "disagreements")
    params.columns(scores, ["benchmark", "model", "source_id", "score", "n_items"], "scores")
    if disagreements.empty:
        raise ValueError("disagreements: no benchmark and model is reported by two sources")
    pairs = list(dict.fromkeys(zip(disagreements["benchmark"], disagreements["model"])))
    fig, ax = plt.subplots(figsize=(9, 0.8 * len(pairs) + 1.6))
    labels, shown = [], []
    for i, (bench, model) in enumerate(pairs):
        rows = scores[(scores["benchmark"] == bench) & (scores["model"] == model)]
        n = rows["n_items"].iloc[0]
        labels.append(f"{bench} · {model}\n" + (f"(n = {int(n):,})" if not pd.isna(n) else "(size not stated)"))
        _dots(ax, rows, i, label_source=True, spacing=0.3)
        shown.append(rows)
    data = pd.concat(shown)
    ax.set_yticks(range(len(pairs)), labels, fontsize=9)
    ax.set_ylim(len(pairs) - 0.5, -0.5)
    ax.set_xlim(*_x_span(data, room=7))
    ax.set_xlabel("published score (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(handles=_source_handles(data["source_id"]), title="source", loc="lower left",
              fontsize=8, title_fontsize=8, framealpha=0.9)
    ax.set_title(f"Same model, same benchmark, different sources (bars: {_level_text(scores)} "
                 f"Wilson interval)")
    fig.tight_layout()
    return fig


_VERDICT_COLORS = {"distinguishable": "#009e73", "within noise": "#d55e00", "size unknown": "#777777"}


def plot_wins(wins: pd.DataFrame) -> plt.Figure:
    """For each non-tied gap a source reports: items needed to resolve it vs items the benchmark has.

    A row whose filled dot (the benchmark's size) sits right of its open dot (items needed) is a
    gap the benchmark can resolve; gaps on benchmarks of unknown size show only the items needed.
    """
    params.columns(wins, ["source_id", "benchmark", "leader", "other", "gap", "n_needed", "n_items",
                    "verdict"], "wins")
    data = wins[wins["gap"] > 0].sort_values(["benchmark", "source_id", "gap"]).reset_index(drop=True)
    if data.empty:
        raise ValueError("wins: no non-zero gap to draw")
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(data) + 1.8))
    for i, r in data.iterrows():
        c = _VERDICT_COLORS.get(r["verdict"], "#333333")
        need = float(r["n_needed"])
        if not pd.isna(r["n_items"]):
            n = float(r["n_items"])
            ax.plot([min(n, need), max(n, need)], [i, i], color=c, lw=1.2, alpha=0.7)
            ax.plot(n, i, marker="o", color=c, markersize=6, linestyle="")
        ax.plot(need, i, marker="o", markerfacecolor="white", markeredgecolor=c, markersize=7,
                linestyle="")
    labels = [f"{r.benchmark} [{r.source_id}]: {r.leader} vs {r.other} (+{r.gap:g})"
              for r in data.itertuples()]
    ax.set_yticks(range(len(data)), labels, fontsize=8)
    ax.set_ylim(len(data) - 0.5, -0.5)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("items per model (log scale)")
    handles = [Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor="#333333",
                      linestyle="", label="items needed to resolve the gap"),
               Line2D([], [], marker="o", color="#333333", linestyle="", label="items in the benchmark")]
    handles += [Line2D([], [], color=c, lw=3, label=v) for v, c in _VERDICT_COLORS.items()
                if v in set(data["verdict"])]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    ax.set_title("Reported gaps between two models: can the benchmark resolve them?")
    ax.grid(axis="y", visible=False)
    fig.tight_layout(rect=(0, 0.55 / (0.3 * len(data) + 1.8), 1, 1))
    return fig


def plot_resolvable_gaps(table: pd.DataFrame, wins: pd.DataFrame) -> plt.Figure:
    """Per benchmark of known size: the smallest gap it can resolve (bar) and the gaps reported on it (dots).

    ``table`` comes from :func:`sample_size_table`, ``wins`` from :func:`claimed_wins`. Dots are
    coloured by the two-proportion test's verdict; ties are left out.
    """
    params.columns(table, ["benchmark", "n_items", "detectable_gap"], "table")
    params.columns(wins, ["benchmark", "gap", "verdict"], "wins")
    if table.empty:
        raise ValueError("table: no benchmark with a known size")
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(table) + 1.8))
    y = np.arange(len(table))
    ax.barh(y, table["detectable_gap"], color="#d9d9d9", height=0.6)
    for i, r in enumerate(table.itertuples()):
        ax.annotate(f"{r.detectable_gap:g}", (r.detectable_gap, i), xytext=(-4, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=8, color="#555555")
        gaps = wins[(wins["benchmark"] == r.benchmark) & (wins["gap"] > 0)]
        for k, g in enumerate(gaps.itertuples()):
            ax.plot(g.gap, i + 0.12 * ((k % 3) - 1), "o", color=_VERDICT_COLORS.get(g.verdict, "#333"),
                    markersize=6, alpha=0.9)
    ax.set_yticks(y, [f"{r.benchmark} (n = {r.n_items:,})" for r in table.itertuples()], fontsize=9)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel("gap between two models (percentage points)")
    power = table.attrs.get("power")
    what = f"{power:.0%} power" if power else "the chosen power"
    handles = [Patch(facecolor="#d9d9d9", label=f"smallest resolvable gap at the median score ({what})")]
    handles += [Line2D([], [], marker="o", linestyle="", color=c, label=f"reported gap: {v}")
                for v, c in _VERDICT_COLORS.items() if v in set(wins.loc[wins["gap"] > 0, "verdict"])
                and v != "size unknown"]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.grid(axis="y", visible=False)
    ax.set_title("Reported gaps against what each benchmark's size can resolve")
    fig.tight_layout()
    return fig


def plot_accuracy(acc: pd.DataFrame, published: pd.DataFrame, label: str, source: str | None = None) -> plt.Figure:
    """Measured accuracy (points with interval bars) per task and model; published scores as markers.

    Args:
        acc: :func:`workbench.scoreboard.accuracy_table` (its interval level is in ``acc.attrs``).
        published: :func:`workbench.scoreboard.published_for` for the same tasks and models.
        label: what answered (:func:`workbench.suite.backend_label`), printed in the title.
        source: the run or archives the numbers came from, printed under the figure (:func:`add_source`).
    """
    params.columns(acc, ["task", "title", "model", "accuracy_pct", "ci_low_pct", "ci_high_pct"], "acc")
    params.columns(published, ["task", "model", "source_id", "published_pct"], "published")
    tasks = list(dict.fromkeys(acc["task"]))
    models = list(dict.fromkeys(acc["model"]))
    colors = model_colors(models)
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.3 * len(tasks) * max(1, len(models))))
    step = 0.7 / max(1, len(models))
    for j, model in enumerate(models):
        color = colors[model]
        rows = acc[acc["model"] == model]
        y = np.array([tasks.index(t) for t in rows["task"]]) + (j - (len(models) - 1) / 2) * step
        x = rows["accuracy_pct"].to_numpy(float)
        err = np.vstack([x - rows["ci_low_pct"].to_numpy(float), rows["ci_high_pct"].to_numpy(float) - x])
        ax.errorbar(x, y, xerr=err, fmt="o", color=color, capsize=3, label=f"{model} (measured)")
        pub = published[published["model"] == model]
        if len(pub):
            yp = np.array([tasks.index(t) for t in pub["task"]]) + (j - (len(models) - 1) / 2) * step
            ax.scatter(pub["published_pct"], yp, marker="D", s=55, facecolor="white", edgecolor=color,
                       linewidth=1.8, zorder=3, label=f"{model} (published, {', '.join(sorted(set(pub['source_id'])))})")
    titles = dict(zip(acc["task"], acc["title"]))
    ax.set_yticks(range(len(tasks)), [titles[t] for t in tasks])
    ax.invert_yaxis()
    ax.set_xlim(-2, 102)
    ax.set_xlabel(f"score (%) with {fmt.pct(acc.attrs.get('confidence', 0.95), share=True)} Wilson interval")
    ax.set_title(f"Measured scores vs published\n{label}", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return add_source(fig, source) if source is not None else fig
