"""The decision function: screens in order, the choice by cost or by quality within noise, the reasons,
the sources' profiles, and one clear error per bad requirement."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from workbench import catalog, costs, params
from workbench import model_decision as md

S1_DAY = md.source_date("S1")


def _measured(rows: list[tuple[str, float, int]], benchmark: str = "MMLU") -> pd.DataFrame:
    return pd.DataFrame([{"task": "mmlu_direct", "model": m, "benchmark": benchmark, "accuracy_pct": a,
                          "scored": n, "archive": "test-archive"} for m, a, n in rows])


# --------------------------------------------------------------------------------------------
# Bad requirements: one error naming the field
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value"), [
    ("task_type", "poetry"), ("cost_sensitivity", "medium"), ("budget_usd_per_1k", -1.0),
    ("budget_usd_per_1k", 0), ("budget_usd_per_1k", float("nan")), ("budget_usd_per_1k", "10"),
    ("context_tokens", -5), ("quality_bar", 120.0), ("audio", "yes"),
])
def test_a_bad_requirement_names_its_field(field: str, value: object) -> None:
    kwargs = {"task_type": "coding", field: value}
    with pytest.raises(params.ParameterError, match=rf"^{field}: "):
        md.Profile("p", **kwargs)


def test_unknown_task_type_lists_the_valid_ones() -> None:
    with pytest.raises(params.ParameterError) as err:
        md.Profile("p", task_type="poetry")
    assert "'coding'" in str(err.value) and "'general'" in str(err.value)
    assert set(md.task_types()) == {"general", *catalog.benchmarks()["family"].dropna()}


def test_quality_first_and_a_quality_bar_need_a_family() -> None:
    with pytest.raises(params.ParameterError, match="^task_type: "):
        md.Profile("p", task_type="general", cost_sensitivity="low")
    with pytest.raises(params.ParameterError, match="^quality_bar: "):
        md.Profile("p", task_type="general", quality_bar=50)


def test_unknown_model_in_the_pool_or_prices_is_named() -> None:
    with pytest.raises(catalog.UnknownNameError, match="gpt-9"):
        md.decide(md.Profile("p"), S1_DAY, ["gpt-4o", "gpt-9"])
    with pytest.raises(params.ParameterError, match=r"^prices\['gpt-4o'\]: "):
        md.decide(md.Profile("p"), S1_DAY, ["gpt-4o"], prices={"gpt-4o": -1})
    with pytest.raises(params.ParameterError, match="^on: "):
        md.decide(md.Profile("p"), "yesterday", ["gpt-4o"])


# --------------------------------------------------------------------------------------------
# Screens and choices
# --------------------------------------------------------------------------------------------
def test_screens_run_in_order_and_say_what_they_removed() -> None:
    d = md.decide(md.Profile("audio", audio=True), S1_DAY, md.source_pool("S1"), price_source="S1")
    assert [s.screen for s in d.steps] == list(md.SCREENS)
    inputs = d.steps[2]
    assert inputs.dropped == {"claude-3-5-sonnet-20240620": "no audio input"}
    assert set(inputs.unknown) == {"gpt-4o-mini", "claude-3-haiku-20240307"}   # blank in models.csv: set aside
    assert set(inputs.kept) == {"gpt-4o", "gemini-1.5-pro"}
    text = d.explain()
    assert "no audio input" in text and "not stated" in text and "cost first" in text


def test_cost_first_takes_the_cheapest_left() -> None:
    profile = md.Profile("cheap", input_tokens=2000, output_tokens=10)
    d = md.decide(profile, S1_DAY, md.source_pool("S1"), price_source="S1")
    bills = {m: 1000 * costs.request_cost(m, 2000, 10, S1_DAY, source="S1") for m in d.left}
    assert d.pick == min(bills, key=bills.get)
    assert d.cost_usd_per_1k[d.pick] == pytest.approx(bills[d.pick])


def test_context_screen_drops_short_windows_and_budget_screen_drops_dear_models() -> None:
    d = md.decide(md.Profile("long", context_tokens=200_001), S1_DAY, md.source_pool("S1"), price_source="S1")
    assert "gpt-4o" in d.steps[3].dropped and d.pick == "gemini-1.5-pro"
    cheap = md.decide(md.Profile("b", budget_usd_per_1k=7.0), S1_DAY, ["gpt-4o", "gemini-1.5-pro"],
                      price_source="S1")
    assert cheap.steps[4].dropped.keys() == {"gpt-4o"} and cheap.pick == "gemini-1.5-pro"
    none = md.decide(md.Profile("b", budget_usd_per_1k=0.001), S1_DAY, ["gpt-4o"], price_source="S1")
    assert none.pick is None and "no model meets" in none.reason


def test_quality_first_takes_the_cheapest_within_noise_of_the_best() -> None:
    pool = ["gpt-4o", "gemini-1.5-pro"]          # on S1's prices Gemini 1.5 Pro is the cheaper
    profile = md.Profile("q", task_type="knowledge", cost_sensitivity="low")
    tied = md.decide(profile, S1_DAY, pool, measured=_measured([("gpt-4o", 52, 100), ("gemini-1.5-pro", 50, 100)]),
                     price_source="S1")
    assert tied.benchmark == "MMLU" and set(tied.tied) == set(pool) and tied.pick == "gemini-1.5-pro"
    assert "within noise" in tied.reason
    clear = md.decide(profile, S1_DAY, pool, measured=_measured([("gpt-4o", 90, 1000), ("gemini-1.5-pro", 50, 1000)]),
                      price_source="S1")
    assert clear.pick == "gpt-4o" and clear.tied == ("gpt-4o",)


def test_measured_scores_come_before_published_ones_and_feed_the_bar() -> None:
    profile = md.Profile("q", task_type="knowledge", cost_sensitivity="high", quality_bar=60)
    d = md.decide(profile, S1_DAY, ["gpt-4o", "gemini-1.5-pro"],
                  measured=_measured([("gpt-4o", 70, 100), ("gemini-1.5-pro", 55, 100)]), price_source="S1")
    assert d.scores["gpt-4o"][2].startswith("measured")          # not S1's published 88.7
    assert d.steps[5].dropped == {"gemini-1.5-pro": "55.0 %"} and d.pick == "gpt-4o"
    published = md.decide(profile, S1_DAY, ["gpt-4o", "gemini-1.5-pro"], price_source="S1")
    assert published.scores["gpt-4o"][0] == pytest.approx(88.7) and "published" in published.scores["gpt-4o"][2]


def test_quality_first_without_any_score_gives_no_pick_and_says_why() -> None:
    d = md.decide(md.Profile("q", task_type="agentic coding", cost_sensitivity="low"), S1_DAY,
                  md.source_pool("S1"), price_source="S1")
    assert d.pick is None and "none of the" in d.reason and "unranked" in d.reason


def test_local_models_can_be_priced_by_the_caller() -> None:
    ladder = catalog.local_models()
    d = md.decide(md.Profile("local"), "2026-12-01", ladder, prices={m: 1.0 + i for i, m in enumerate(ladder)})
    assert d.pick == ladder[0]
    with pytest.raises(params.ParameterError, match="^pool: "):
        md.decide(md.Profile("local"), "2026-12-01", [])


# --------------------------------------------------------------------------------------------
# The sources' profiles
# --------------------------------------------------------------------------------------------
def test_profiles_file_is_valid_and_quotes_the_ledger_claims() -> None:
    profiles = md.load_profiles()
    assert len(profiles) >= 5 and profiles["profile_id"].is_unique
    claims = set(catalog.claims()["claim_id"])
    assert set(profiles["claim_id"]) <= claims
    assert all(isinstance(p, md.Profile) for p in profiles["profile"])
    assert (profiles["not_said"] != "").all()           # every row says what its source did not state


def test_a_bad_profile_row_names_its_line(tmp_path: Path) -> None:
    table = pd.read_csv(md.PROFILES_CSV, dtype=str, keep_default_na=False)
    table.loc[1, "budget_usd_per_1k"] = "-3"
    bad = tmp_path / "profiles.csv"
    table.to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"profiles.csv, line 3: budget_usd_per_1k"):
        md.load_profiles(bad)


def test_decision_table_replays_the_articles_and_today() -> None:
    table, decisions = md.decision_table(today="2026-12-01")
    assert len(decisions) == 2 * len(table)
    rows = table.set_index("profile")
    assert rows.loc["s1_long_context", "agrees"] == "yes"
    assert rows.loc["s1_long_context", "pick on the source's date"] == "Gemini 1.5 Pro"
    assert rows.loc["s2_simple", "pick on the source's date"] == "Gemini 2.5 Flash"
    fig = md.plot_screens(decisions[:4], "t", "s")
    written = [t.get_text() for t in fig.axes[0].texts]
    for d in decisions[:4]:
        assert (md._name(d.pick) if d.pick else "no pick") in written
    assert len(fig.axes[0].get_yticklabels()) == 4
    plt.close(fig)
