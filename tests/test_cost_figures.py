"""workbench.cost_figures: the cost model's figures, drawn from what workbench.costs computes."""
from __future__ import annotations

import itertools

import matplotlib
import pytest
from workbench import catalog, cost_figures, costs, pricing

matplotlib.use("Agg")


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_price_history_marks_the_cut_and_the_disagreement() -> None:
    hist = costs.price_history()
    cut = costs.largest_price_cut(hist)
    fig = cost_figures.price_history_figure(hist, cut)
    top, bottom = fig.axes
    assert catalog.models().set_index("model_id").at[cut.model_id, "name"] in top.get_title()
    assert any("sources disagree" in t.get_text() for t in top.texts) == (cut.model_id == "gpt-4o")
    assert len(bottom.get_yticklabels()) == hist["model_id"].nunique()
    # a page is labelled by its host, a third party's with a star
    gpt4o = costs.price_history(["gpt-4o", "gpt-5.6-luna"])
    fig = cost_figures.price_history_figure(gpt4o, costs.largest_price_cut(gpt4o))
    texts = " ".join(t.get_text() for t in fig.axes[1].texts)
    assert "(S0)" in texts and "(developers.openai.com)" in texts and "(dev.to*)" in texts


def test_source_labels() -> None:
    assert cost_figures.source_label("S2") == "S2"
    assert cost_figures.source_label("https://www.aiwiki.dev/claude", True) == "aiwiki.dev*"
    assert cost_figures.source_label("https://ai.google.dev/x", False) == "ai.google.dev"


def test_workload_mix_has_one_line_per_model_and_marks_the_request() -> None:
    models = ["gpt-4o", "gpt-5.5", "gemini-2.5-flash"]
    fig = cost_figures.workload_mix_figure(costs.mix_table(models), input_tokens=1000, output_tokens=300, on="today")
    ax = fig.axes[0]
    assert len(_labels(ax)) == 3
    styles = {line.get_label(): line.get_linestyle() for line in ax.lines}
    assert styles["GPT-4o"] != styles["GPT-5.5"]        # one provider: told apart by line style
    assert ax.lines[-1].get_xdata()[0] == pytest.approx(300 / 1300)
    assert any("1,000 in / 300 out" in t.get_text() for t in ax.texts)


def test_image_tokens_share_a_line_when_rules_agree() -> None:
    fig = cost_figures.image_tokens_figure([("gpt-4o", None), ("gemini-2.0-flash", None), ("gemini-2.5-flash", None)],
                                           [512, 1024], [340, 1400])
    labels = _labels(fig.axes[0])
    assert any(lab.startswith("Gemini 2.0 Flash, Gemini 2.5 Flash: 768-px tiles") for lab in labels)  # one rule, one line
    assert len(labels) == 4
    assert "S2's formula, as printed" in labels and "S2's stated numbers" in labels


def test_breakeven_and_selfhost_cost_figures_show_s2s_range() -> None:
    s2 = costs.s2_self_hosting(2.0, 1000, 0.5, {"gpt-5.5": 10.0, "gemini-2.5-flash": 0.8})
    fig = cost_figures.breakeven_figure(s2, gpu_cost_per_hour=2.0, tokens_per_second=1000, utilisation=0.5)
    left, right = fig.axes[:2]
    assert "S2: $0.50-1.00 per 1M" in _labels(left) and "GPU at $2.00/h" in _labels(left)
    assert "S2: break-even at 5-10M tokens/month" in _labels(right)
    (dots,) = right.collections                          # one break-even dot: GPT-5.5 (Gemini Flash is cheaper)
    assert dots.get_offsets()[0][0] == pytest.approx(s2.breakevens["gpt-5.5"].breakeven_tokens_per_month)
    fig = cost_figures.selfhost_cost_figure(s2, machine_cost_per_hour=0.05, gpu_cost_per_hour=2.0,
                                            gpu_tokens_per_second=1000, utilisation=0.5, measured_tps=30.0,
                                            big_model="72B", big_model_limit_tps=0.1,
                                            apis=["gemini-2.5-flash", "gpt-5.5"])
    labels = _labels(fig.axes[0])
    assert "this machine at $0.05/h" in labels
    assert any(lab.startswith("72B on a GPU, assumed 1,000 tokens/s → $1.11") for lab in labels)
    assert any(lab.startswith("GPT-5.5 API, this mix: $10.00") for lab in labels)


def test_bill_components_cache_breakeven_and_then_and_now() -> None:
    usage = pricing.Usage(input_tokens=2_000, cache_read_input_tokens=50_000, output_tokens=500)
    bills = {m: pricing.request_bill(m, usage, "2026-12-01") for m in ("claude-opus-5-5", "gpt-6.2-sol")}
    fig = cost_figures.bill_components_figure(bills, title="one request")
    ax = fig.axes[0]
    assert {t.get_text() for t in ax.get_yticklabels()} == set(bills)
    assert sorted(_labels(ax)) == ["cache read", "input", "output"]
    assert sum(p.get_width() for p in ax.patches[:3]) == pytest.approx(1.0)      # shares of the first bill
    first = bills["claude-opus-5-5"]
    assert ax.patches[0].get_width() == pytest.approx(first.items[0].usd / first.total)
    assert any(t.get_text() == "$0.028" for t in ax.texts)      # 2,000 x $4 + 50,000 x $0.20 + 500 x $20 per 1M
    breakevens = [pricing.cache_breakeven("claude-opus-5-5", "2026-12-01"),
                  pricing.cache_breakeven("claude-opus-5-5", "2026-12-01", long_retention=True)]
    fig = cost_figures.cache_breakeven_figure(breakevens, max_requests=6)
    labels = _labels(fig.axes[0])
    assert labels == ["Claude Opus 5.5, 5m write: pays from 2 requests", "Claude Opus 5.5, 1h write: pays from 3 requests"]
    first = fig.axes[0].lines[0].get_ydata()
    assert first[0] == pytest.approx(5 / 4) and first[1] == pytest.approx((5 + 0.2) / (2 * 4))
    table = pricing.then_and_now(pricing.Usage(input_tokens=1000, output_tokens=300), documents=100,
                                 sources=["S2", "S4"], today="2026-12-01")
    fig = cost_figures.then_and_now_figure(table, documents=100, input_tokens=1000, output_tokens=300)
    assert [ax.get_xticklabels()[0].get_text() for ax in fig.axes] == ["S4\n2024-07", "S2\n2026-05"]
    assert any(t.get_text() == "Gemini 3.5 Flash-Lite" for t in fig.axes[1].texts)   # retired: its replacement
    heights = sorted(t.get_position()[1] for t in fig.axes[1].texts if t.get_position()[0] < 0)
    assert all(b / a >= 10 ** 0.059 for a, b in itertools.pairwise(heights))          # labels never overlap
