"""Figures of the cost model: price history, price against the token mix, image tokens, self-hosting.

Each function takes what :mod:`workbench.costs` and :mod:`workbench.tokens` compute and returns a
matplotlib figure in the workbook's style (chapters 05 and 08 save them with :func:`workbench.plots.save`):

* :func:`price_history_figure` - the largest price cut as the sources recorded it, and every quote on a
  time line;
* :func:`workload_mix_figure` - USD per 1M tokens of traffic against the share of output tokens;
* :func:`image_tokens_figure` - tokens per square image under each provider's documented rule, with S2's
  printed formula and S2's stated numbers;
* :func:`breakeven_figure` - a rented deployment's cost per 1M tokens against throughput, and its monthly
  bill against per-token APIs;
* :func:`selfhost_cost_figure` - cost per 1M tokens against throughput for this machine and a GPU, with
  the measured point and S2's range;
* :func:`bill_components_figure` - requests' bills (:mod:`workbench.pricing`) split by component (input, cache,
  media, output, images generated) as shares of each total;
* :func:`cache_breakeven_figure` - what caching a shared prompt prefix costs against sending it every time, as
  more requests share it;
* :func:`then_and_now_figure` - a workload at each article's prices on its date, and the same workload today.

Sources are labelled by their id (S0 ... S6) or, for a web page, its host; a star marks a third party's page.

Models are coloured by provider (:func:`workbench.plots.provider_color`); models of one provider are told
apart by line style, assigned in the order given.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from . import catalog, costs, fmt, plots, pricing, tokens

__all__ = ["bill_components_figure", "breakeven_figure", "cache_breakeven_figure", "image_tokens_figure",
           "price_history_figure", "selfhost_cost_figure", "source_label", "then_and_now_figure",
           "workload_mix_figure"]

_STYLES = ("-", "--", ":", "-.")
_DOLLARS = mticker.FuncFormatter(lambda v, _: f"${v:,.0f}" if v >= 1 else f"${v:g}")
_TOKENS = mticker.FuncFormatter(lambda v, _: fmt.tokens(v))


def _info() -> tuple[dict[str, str], dict[str, str]]:
    table = catalog.models().set_index("model_id")
    return table["name"].to_dict(), table["provider"].to_dict()


def source_label(source_id: str, third_party: object = False) -> str:
    """A short label for a source: its id (S2), or the host of its page with a star when a third party's."""
    if not str(source_id).startswith("http"):
        return str(source_id)
    host = str(source_id).split("/")[2].removeprefix("www.")
    return host + ("*" if not pd.isna(third_party) and bool(third_party) else "")


def _line_styles(models: Sequence[str]) -> dict[str, str]:
    """One line style per model: the models of one provider take the styles in the order given."""
    _, provider_of = _info()
    return {m: _STYLES[[x for x in models if provider_of[x] == provider_of[m]].index(m) % len(_STYLES)]
            for m in models}


def price_history_figure(history: pd.DataFrame, cut: costs.PriceCut) -> plt.Figure:
    """Top: ``cut``'s model, its quotes and lowest price per date. Bottom: every quote in ``history``.

    ``history`` comes from :func:`workbench.costs.price_history`; dates where sources disagree are noted.
    """
    hist = history
    name_of = hist.groupby("model_id")["name"].first().to_dict()
    provider_of = hist.groupby("model_id")["provider"].first().to_dict()
    disputes = costs.price_disputes(hist)
    n_models = hist["model_id"].nunique()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 5 + 0.32 * n_models), height_ratios=[4, max(4, 0.4 * n_models)])
    colour = plots.provider_color(provider_of[cut.model_id])
    hist = hist.assign(label=[source_label(s, t) for s, t in zip(hist["source_id"], hist["third_party"])])
    rows = hist[hist["model_id"] == cut.model_id].sort_values("observed")
    markers = {lab: "osD^vPX*hp"[i % 10] for i, lab in enumerate(sorted(hist["label"].unique()))}
    for kind, style in (("input_per_mtok", "-"), ("output_per_mtok", "--")):
        low = rows.groupby("observed")[kind].min()
        ax1.step(low.index, low.values, where="post", color=colour, ls=style, lw=1.5,
                 label=f"{kind.split('_')[0]} price (lowest quote per date)")
    for src, g in rows.groupby("label"):
        for kind, fill in (("input_per_mtok", colour), ("output_per_mtok", "white")):
            ax1.scatter(g["observed"], g[kind], marker=markers[src], s=60, color=fill, edgecolor=colour, zorder=3,
                        label=f"{src} quote" if kind == "input_per_mtok" else None)
    for when, g in disputes[disputes["model_id"] == cut.model_id].groupby("observed"):
        text = " vs ".join(f"{source_label(r.source_id, r.third_party)} {_pair(r)}" for r in g.itertuples())
        ax1.annotate(f"sources disagree: {text}", (when, g["output_per_mtok"].max()), xytext=(10, 12),
                     textcoords="offset points", fontsize=9)
    ax1.set_title(f"{name_of[cut.model_id]}: the price cut, as the sources recorded it")
    ax1.set_ylabel("USD per 1M tokens")
    ax1.set_ylim(0, rows["output_per_mtok"].max() * 1.35)
    ax1.legend(loc="upper right", fontsize=8, ncol=3)

    order = (hist.groupby("model_id").agg(provider=("provider", "first"), first=("observed", "min"))
                 .sort_values(["provider", "first"]).index.tolist())
    for row, m in enumerate(order):
        for k, (when, q) in enumerate(hist[hist["model_id"] == m].groupby("observed")):
            label = " · ".join(f"{_pair(r)} ({r.label})" for r in q.itertuples())
            ax2.scatter([when], [row], color=plots.provider_color(provider_of[m]), s=40, zorder=3)
            ax2.annotate(label, (when, row), xytext=(6, (-10, 2)[k % 2]), textcoords="offset points", fontsize=7)
    ax2.set_yticks(range(len(order)), [name_of[m] for m in order], fontsize=9)
    ax2.invert_yaxis()
    span = hist["observed"].max() - hist["observed"].min()
    ax2.set_xlim(hist["observed"].min() - span * 0.03, hist["observed"].max() + span * 0.3)
    for ax in (ax1, ax2):
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax2.set_title("Every quote: input / output USD per 1M tokens (source; * a third party's page)")
    ax2.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def _pair(r: Any) -> str:
    out = r.output_per_mtok
    return f"{r.input_per_mtok:g}/" + ("-" if pd.isna(out) else f"{out:g}")


def workload_mix_figure(mix: pd.DataFrame, *, input_tokens: int, output_tokens: int, on: str) -> plt.Figure:
    """USD per 1M tokens against the output share, one line per model of ``mix`` (from
    :func:`workbench.costs.mix_table`); a dashed line marks the request of ``input_tokens`` / ``output_tokens``."""
    models = list(dict.fromkeys(mix["model_id"]))
    name_of, provider_of = _info()
    style_of = _line_styles(models)
    share = costs.output_share(input_tokens, output_tokens)
    fig, ax = plt.subplots(figsize=(9, 5))
    for m, g in mix.groupby("model_id", sort=False):
        ax.plot(g["output_share"], g["usd_per_mtok"], color=plots.provider_color(provider_of[m]),
                ls=style_of[m], lw=2, label=name_of[m])
    ax.axvline(share, color="black", ls="--", lw=1)
    ax.annotate(f"this request: {input_tokens:,} in / {output_tokens:,} out", (share, 1), xytext=(5, -15),
                xycoords=("data", "axes fraction"), textcoords="offset points", fontsize=9)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_DOLLARS)
    ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    ax.set_xlabel("share of the tokens that are output tokens")
    ax.set_ylabel("USD per 1M tokens of traffic")
    ax.set_title(f"Price per million tokens against the input/output mix, {on}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
    fig.tight_layout()
    return fig


def image_tokens_figure(rules: Sequence[tuple[str, str | None]], sizes: Sequence[int],
                        claimed: Sequence[float]) -> plt.Figure:
    """Tokens per square image (128-2560 px) under each documented rule in ``rules`` ((model, method) pairs;
    rules that give the same curve share a line), S2's printed formula, and S2's ``claimed`` counts at ``sizes``."""
    name_of, _ = _info()
    sides = np.arange(128, 2561, 32)
    curves: dict[tuple[int, ...], list[tuple[str, str | None]]] = {}
    for m, method in rules:
        curve = tuple(tokens.image_tokens(m, int(s), int(s), method=method).tokens for s in sides)
        curves.setdefault(curve, []).append((m, method))
    fig, ax = plt.subplots(figsize=(10, 5.5))
    seen_provider: dict[str, int] = {}
    for curve, members in curves.items():
        first_m, first_method = members[0]
        got = tokens.image_tokens(first_m, 64, 64, method=first_method)
        k = seen_provider.setdefault(got.provider, 0)
        seen_provider[got.provider] += 1
        names = ", ".join(dict.fromkeys(name_of.get(m, m) for m, _ in members))
        ax.plot(sides, curve, color=plots.provider_color(got.provider), ls=_STYLES[k % len(_STYLES)], lw=1.8,
                label=f"{names}: {tokens.METHOD_LABELS[got.method]}")
    ax.step(sides, [tokens.s2_printed_tile_formula(int(s), int(s)) for s in sides], where="post", color="black",
            ls="--", lw=1.5, label="S2's formula, as printed")
    ax.scatter(sizes, claimed, marker="*", s=250, color="black", zorder=5, label="S2's stated numbers")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_TOKENS)
    return _finish(fig, ax, xlabel="side of a square image (px)", ylabel="input tokens per image",
                   title="Tokens per square image under each provider's documented rule")


def _finish(fig: plt.Figure, ax: plt.Axes, *, xlabel: str, ylabel: str, title: str) -> plt.Figure:
    """Axis labels, title and the legend outside on the right; the figure laid out tightly."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def _loglog(ax: plt.Axes, xlabel: str, ylabel: str, *, x: mticker.Formatter = _TOKENS,
            y: mticker.Formatter = _DOLLARS) -> None:
    """Log scales on both axes, their tick formatters and labels."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(x)
    ax.yaxis.set_major_formatter(y)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _s2_band(ax: plt.Axes, claims: costs.SelfHostingClaims, *, alpha: float, suffix: str = "") -> None:
    lo, hi = claims.claimed_cost
    ax.axhspan(lo, hi, color="grey", alpha=alpha, label=f"S2: ${lo:.2f}-{hi:.2f} per 1M{suffix}")


def breakeven_figure(claims: costs.SelfHostingClaims, *, gpu_cost_per_hour: float, tokens_per_second: float,
                     utilisation: float) -> plt.Figure:
    """Left: the deployment's cost per 1M tokens against throughput (at 0.5-4× ``gpu_cost_per_hour``) with
    each API's price for the mix. Right: the monthly bill against volume, rented (stepped) and per API."""
    models = list(claims.breakevens)
    be = claims.breakevens
    name_of, provider_of = _info()
    style_of = _line_styles(models)
    fig, (axl, axr) = plt.subplots(1, 2, figsize=(12, 5.6))
    tps = np.logspace(2, math.log10(50_000), 120)
    for factor, ls in ((0.5, ":"), (1, "-"), (2, "--"), (4, "-.")):
        hourly = gpu_cost_per_hour * factor
        axl.plot(tps, [costs.self_host_cost_per_mtok(hourly, t, utilisation) for t in tps], color="black",
                 lw=2.4 if factor == 1 else 1.2, ls=ls, label=f"GPU at {fmt.usd(hourly)}/h")
    _s2_band(axl, claims, alpha=0.25)
    axl.scatter([tokens_per_second], [claims.cost_per_mtok], color="black", zorder=5, s=50,
                label="this chapter's deployment")
    for m in models:
        axl.axhline(be[m].api_price_per_mtok, color=plots.provider_color(provider_of[m]), ls=style_of[m], lw=1.4)
    _loglog(axl, "deployment throughput at full load (tokens/s)", "USD per 1M tokens")
    axl.set_title(f"Self-hosted cost per 1M tokens ({fmt.pct(utilisation, share=True)} busy)\n"
                  "against API prices for this mix (coloured)")
    axl.legend(loc="lower left", fontsize=8)

    volume = np.logspace(6, 11.5, 400)
    capacity, rent = be[models[0]].monthly_capacity_tokens, be[models[0]].monthly_fixed_cost
    axr.plot(volume, np.ceil(volume / capacity) * rent, color="black", lw=2.4, label="rented deployment (more as needed)")
    api_lines = []
    for m in models:
        (line,) = axr.plot(volume, volume * be[m].api_price_per_mtok / 1e6, color=plots.provider_color(provider_of[m]),
                           ls=style_of[m], lw=1.4, label=name_of[m])
        api_lines.append(line)
        if be[m].beats_api:
            axr.scatter([be[m].breakeven_tokens_per_month], [rent], color=plots.provider_color(provider_of[m]),
                        edgecolor="black", zorder=5, s=45)
    lo, hi = claims.claimed_breakeven
    band = axr.axvspan(lo, hi, color="grey", alpha=0.25,
                       label=f"S2: break-even at {lo / 1e6:.0f}-{hi / 1e6:.0f}M tokens/month")
    _loglog(axr, "tokens per month", "USD per month")
    axr.set_title("Monthly bill: rented deployment against per-token APIs\n(dots: break-even volumes)")
    axr.legend(handles=[axr.lines[0], band], loc="upper left", fontsize=8)
    fig.legend(handles=api_lines, loc="lower center", ncol=len(api_lines), fontsize=8, frameon=False,
               title="API prices for this mix", title_fontsize=8)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def selfhost_cost_figure(claims: costs.SelfHostingClaims, *, machine_cost_per_hour: float, gpu_cost_per_hour: float,
                         gpu_tokens_per_second: float, utilisation: float, measured_tps: float,
                         big_model: str, big_model_limit_tps: float, apis: Sequence[str]) -> plt.Figure:
    """Cost per 1M tokens against throughput for this machine (``machine_cost_per_hour``) and a GPU, with
    the throughput measured here, the GPU deployment assumed for ``big_model``, that model's decode limit on
    this machine, S2's range, and the prices of ``apis`` (from ``claims.breakevens``) for the mix."""
    name_of, provider_of = _info()
    local = plots.provider_color("huggingface")
    big = plots.provider_color("alibaba")
    tps_axis = np.logspace(-1, 5, 200)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for hourly, label, ls in ((machine_cost_per_hour, f"this machine at {fmt.usd(machine_cost_per_hour)}/h", "-"),
                              (gpu_cost_per_hour, f"GPU at {fmt.usd(gpu_cost_per_hour)}/h", "--")):
        ax.plot(tps_axis, [costs.self_host_cost_per_mtok(hourly, t, utilisation) for t in tps_axis], color="black",
                lw=2.2, ls=ls, label=label)
    _s2_band(ax, claims, alpha=0.3, suffix=" (Qwen2.5-VL-72B)")
    for m in apis:
        price = claims.breakevens[m].api_price_per_mtok
        ax.axhline(price, color=plots.provider_color(provider_of[m]), lw=1.4,
                   label=f"{name_of[m]} API, this mix: {fmt.usd(price)}")
    here = costs.self_host_cost_per_mtok(machine_cost_per_hour, measured_tps, utilisation)
    ax.scatter([measured_tps], [here], s=90, color=local, edgecolor="black", zorder=5,
               label=f"measured here: {measured_tps:,.1f} tokens/s → {fmt.usd(here)}")
    ax.scatter([gpu_tokens_per_second], [claims.cost_per_mtok], s=90, marker="D", color=big, edgecolor="black",
               zorder=5, label=f"{big_model} on a GPU, assumed {gpu_tokens_per_second:,.0f} tokens/s → "
                               f"{fmt.usd(claims.cost_per_mtok)}")
    ax.scatter([big_model_limit_tps], [costs.self_host_cost_per_mtok(machine_cost_per_hour, big_model_limit_tps,
                                                                     utilisation)],
               s=90, marker="X", color=big, edgecolor="black", zorder=5,
               label=f"{big_model} on this machine's bandwidth (upper limit): {big_model_limit_tps:.2f} tokens/s")
    _loglog(ax, "throughput at full load (tokens/s, prompt and answer for this mix)",
            f"USD per 1M tokens ({utilisation:.0%} busy)", x=mticker.FuncFormatter(lambda v, _: f"{v:g}"),
            y=mticker.FuncFormatter(lambda v, _: f"${v:g}"))
    ax.set_title("Self-hosted cost per million tokens against throughput")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


_COMPONENT_COLOURS = {"input": "#4c72b0", "image input": "#64b5cd", "video input": "#8172b2", "audio input": "#ccb974",
                      "cache read": "#55a868", "output": "#c44e52", "audio output": "#dd8452",
                      "images generated": "#937860", "audio transcribed": "#8c8c8c"}


def bill_components_figure(bills: dict[str, pricing.Bill], *, title: str) -> plt.Figure:
    """One horizontal bar per bill (label -> :class:`workbench.pricing.Bill`): the share of its total each
    component takes (bars of cheap and dear models side by side), the total in USD written at its end."""
    labels = list(bills)
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.5 * len(labels)))
    seen: set[str] = set()
    for y, label in enumerate(labels):
        bill, left = bills[label], 0.0
        for item in bill.items:
            key = "cache write" if item.component.startswith("cache write") else item.component
            share = item.usd / bill.total if bill.total else 0.0
            ax.barh(y, share, left=left, color=_COMPONENT_COLOURS.get(key, "#2f4b7c"), edgecolor="white",
                    label=key if key not in seen else None)
            seen.add(key)
            left += share
        ax.annotate(fmt.usd(bill.total), (1, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.16)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    ax.set_xlabel("share of the request's bill (the total at the right)")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def cache_breakeven_figure(breakevens: Sequence[pricing.CacheBreakeven], *, max_requests: int = 10) -> plt.Figure:
    """The cost of caching a shared prompt prefix as a share of sending it uncached, against the number of requests
    that share it (1 to ``max_requests``); below the dashed line caching pays; dots mark each break-even."""
    name_of, provider_of = _info()
    n = np.arange(1, max_requests + 1)
    fig, ax = plt.subplots(figsize=(10, 5))
    for k, b in enumerate(breakevens):   # each line of one provider takes the next line style
        share = (b.write_rate + (n - 1) * b.read_rate) / (n * b.input_rate)
        colour = plots.provider_color(provider_of[b.model_id])
        style = _STYLES[sum(provider_of[x.model_id] == provider_of[b.model_id] for x in breakevens[:k]) % len(_STYLES)]
        ax.plot(n, share, color=colour, ls=style, marker=".", lw=1.6,
                label=(f"{name_of[b.model_id]}, " + (f"{b.retention} write" if b.write_rate != b.input_rate
                                                      else "no write surcharge")
                       + (f": pays from {b.requests} requests" if b.requests else ": never pays")))
        if b.requests and b.requests <= max_requests:
            ax.scatter([b.requests], [share[b.requests - 1]], s=70, color=colour, edgecolor="black", zorder=5)
    ax.axhline(1, color="black", ls="--", lw=1)
    ax.set_xticks(n)
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    return _finish(fig, ax, xlabel="requests sharing the cached prefix (the first writes it, the others read it)",
                   ylabel="cost with caching / cost without", title="Prompt caching: when the cache write pays for itself")


def _spread(values: Sequence[float], gap: float = 0.06) -> list[float]:
    """Label heights for points at ``values`` on a log axis, nudged apart to at least ``gap`` decades."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    logs = [math.log10(values[i]) for i in order]
    for k in range(1, len(logs)):
        logs[k] = max(logs[k], logs[k - 1] + gap)
    out = [0.0] * len(values)
    for k, i in enumerate(order):
        out[i] = 10 ** logs[k]
    return out


def then_and_now_figure(table: pd.DataFrame, *, documents: int, input_tokens: int, output_tokens: int) -> plt.Figure:
    """One panel per article (from :func:`workbench.pricing.then_and_now`): each model it priced, at the article's
    prices on its date (left) and on the table's ``today`` (right, "now": the same id, or its replacement, named),
    USD on a log scale."""
    name_of, provider_of = _info()
    sources = (table.groupby("source")["then"].max().sort_values().index.tolist())
    fig, axes = plt.subplots(1, len(sources), figsize=(3.3 * len(sources) + 1, 6), sharey=True, squeeze=False)
    for ax, src in zip(axes[0], sources):
        rows = table[table["source"] == src].reset_index(drop=True)
        left = _spread(list(rows["usd_then"]))
        priced = rows[rows["usd_today"].notna()]
        right = dict(zip(priced.index, _spread(list(priced["usd_today"])))) if len(priced) else {}
        for k, r in rows.iterrows():
            colour = plots.provider_color(provider_of[r["model_id"]])
            ax.scatter([0], [r["usd_then"]], color=colour, s=40, zorder=3)
            ax.text(-0.08, left[k], name_of[r["model_id"]], ha="right", va="center", fontsize=7)
            if k not in right:
                ax.text(0.08, left[k] * 0.9, "retired, no priced replacement", fontsize=6, color="grey", va="top")
                continue
            same = r["model_today"] == r["model_id"]
            ax.plot([0, 1], [r["usd_then"], r["usd_today"]], color=colour, ls="-" if same else ":", lw=1.4)
            ax.scatter([1], [r["usd_today"]], color=colour, s=40, zorder=3, marker="o" if same else "D")
            if not same:
                ax.text(1.08, right[k], name_of[r["model_today"]], va="center", fontsize=7)
        then, now = rows["then"].iloc[0], rows["today"].iloc[0]
        ax.set_xticks([0, 1], [f"{src}\n{then:%Y-%m}", f"now\n{now:%Y-%m}"])
        ax.set_xlim(-1.1, 2.1)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_DOLLARS)
        ax.grid(axis="x", visible=False)
    axes[0][0].set_ylabel(f"USD for {documents:,} requests of {input_tokens:,} in / {output_tokens:,} out")
    fig.suptitle("The same workload at each article's prices on its date, and now "
                 "(solid: the same id; dotted: its replacement)")
    fig.tight_layout()
    return fig
