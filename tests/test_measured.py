"""Chapter 07's analysis (workbench.measured): parameters, tables, statistics, figures, and one real run.

Most tests write known rows into a real results store (``evals.Store``) and read them back with
``evals.load_results``, so the tables are checked against hand-computed numbers.  One test runs the
suite for real through the local provider (a tiny needle grid) and re-runs it to check that the
store is reused and no model is asked again.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from workbench import costs, evals, measured, stats
from workbench.catalog import UnknownNameError

MODELS = ["gpt-4o", "claude-sonnet-4-6", "gemini-2.5-flash"]
ALL_TASKS = list(evals.TASK_NAMES)


def _settings(**overrides):
    args = {"backend": "local", "models": MODELS, "tasks": ALL_TASKS, "limit": 2, "seed": 0, "concurrency": 4}
    args.update(overrides)
    return measured.check_settings(**args)


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def test_settings_and_run_id_follow_the_parameters() -> None:
    s = _settings()
    assert s.models == tuple(MODELS) and s.tasks == tuple(ALL_TASKS) and s.needle_models == ("gpt-4o",)
    assert s.run_id == _settings().run_id  # same parameters, same run id: a re-run resumes
    assert s.run_id.startswith("ch07-local-2-0-")
    others = {_settings(limit=3).run_id, _settings(seed=1).run_id, _settings(models=MODELS[:2]).run_id,
              _settings(needle_lengths=[500]).run_id, _settings(needle_models=MODELS[1:2]).run_id}
    assert s.run_id not in others and len(others) == 5
    # the needle grid does not change the id of a run without the needle
    assert _settings(tasks=["mmlu"]).run_id == _settings(tasks=["mmlu"], needle_lengths=[500]).run_id
    assert _settings(run_id="mine").run_id == "mine"
    # the report CLI sends lists as "a,b"
    assert _settings(models="gpt-4o,gemini-2.5-flash", needle_depths="0,0.5").models == ("gpt-4o", "gemini-2.5-flash")


@pytest.mark.parametrize(("override", "name", "bad"), [
    ({"backend": "cloud"}, "backend", "cloud"),
    ({"models": ["gpt-9"]}, "models", "gpt-9"),
    ({"models": ["llama-3.1-8b"]}, "models", "llama-3.1-8b"),
    ({"models": ["gpt-4o", "gpt-4o"]}, "models", "gpt-4o"),
    ({"tasks": ["mmlu", "gpqa"]}, "tasks", "gpqa"),
    ({"limit": 0}, "limit", "0"),
    ({"limit": True}, "limit", "True"),
    ({"concurrency": 0}, "concurrency", "0"),
    ({"seed": 1.5}, "seed", "1.5"),
    ({"needle_lengths": [50]}, "needle_lengths", "50"),
    ({"needle_depths": [1.5]}, "needle_depths", "1.5"),
    ({"needle_per_cell": 0}, "needle_per_cell", "0"),
    ({"needle_models": ["gpt-4o-mini"]}, "needle_models", "gpt-4o-mini"),
    ({"run_id": ""}, "run_id", "''"),
])
def test_a_bad_parameter_raises_one_error_naming_it(override, name, bad) -> None:
    with pytest.raises(ValueError) as info:
        _settings(**override)
    assert name in str(info.value) and bad in str(info.value)


def test_unknown_ids_are_unknown_name_errors() -> None:
    with pytest.raises(UnknownNameError):
        _settings(models=["gpt-9"])
    with pytest.raises(UnknownNameError):
        _settings(tasks=["gpqa"])


def test_backend_label_names_the_real_model() -> None:
    from workbench import clients
    assert clients.local_model_name() in measured.backend_label("local")
    assert "live" in measured.backend_label("live")


# --------------------------------------------------------------------------------------------
# Tables from a store with known rows
# --------------------------------------------------------------------------------------------


def _row(task: str, item: str, model: str, score: float | None, *, attempt: int = 1, status: str = "ok",
         response: str = "Answer: A", details: dict | None = None, ttft: float = 0.5, n_out: int = 11,
         content: float = 1.5, latency: float = 2.0, tokens: tuple[int, int] = (100, 20),
         cost: float | None = 0.001, error_kind: str | None = None) -> dict:
    return {"run_id": "t", "task": task, "item_id": item, "model": model, "backend": "local", "attempt": attempt,
            "provider": {"gpt-4o": "openai", "claude-sonnet-4-6": "anthropic"}.get(model, "google"),
            "prompt_hash": "h", "status": status, "response": response if status == "ok" else None,
            "score": score, "details": details or {}, "input_tokens": tokens[0] if status == "ok" else None,
            "output_tokens": tokens[1] if status == "ok" else None,
            "output_tokens_counted": n_out if status == "ok" else None, "tokenizer": "o200k_base",
            "ttft_s": ttft if status == "ok" else None, "itl_s": content / n_out if status == "ok" else None,
            "latency_s": latency if status == "ok" else None, "cost_usd": cost if status == "ok" else None,
            "started_at": "2026-06-01T10:00:00.000+00:00", "finished_at": "2026-06-01T10:00:02.000+00:00",
            "error_kind": error_kind, "error": "APITimeoutError: timed out" if status == "error" else None}


@pytest.fixture()
def results(tmp_path: Path) -> pd.DataFrame:
    """mmlu: gpt-4o 3/4, claude 1/4 on the same 4 items; one gpt-4o item of json_only failed finally."""
    store = evals.Store(tmp_path / "r.sqlite")
    store.start_run("t", "local", {})
    a = ["gpt-4o", "claude-sonnet-4-6"]
    for m in a:
        store.add_plan("t", "mmlu", m, "local", [(f"s/{i}", "s") for i in range(4)])
        store.add_plan("t", "json_only", m, "local", [("arc/1", None), ("arc/2", None)])
    store.add_plan("t", "needle", "gpt-4o", "local", [("L500/D0/r0", "L500/D0"), ("L500/D1/r0", "L500/D1"),
                                                      ("L1000/D0/r0", "L1000/D0"), ("L1000/D1/r0", "L1000/D1")])
    for i, (x, y) in enumerate([(1, 1), (1, 0), (1, 0), (0, 0)]):
        store.record(_row("mmlu", f"s/{i}", "gpt-4o", x, ttft=0.1 * (i + 1), latency=1.0 * (i + 1),
                          response=f"Answer: {i}"))
        store.record(_row("mmlu", f"s/{i}", "claude-sonnet-4-6", y, ttft=0.2, response=f"Answer: {i}" if x == y else "x",
                          cost=0.003))
    store.record(_row("json_only", "arc/1", "gpt-4o", 1.0, details={"strict": 1.0, "lenient": 1.0, "answer_correct": 1.0}))
    for attempt in (1, 2):
        store.record(_row("json_only", "arc/2", "gpt-4o", None, attempt=attempt, status="error", error_kind="timeout"))
    store.record(_row("json_only", "arc/1", "claude-sonnet-4-6", 0.0,
                      details={"strict": 0.0, "lenient": 1.0, "answer_correct": 1.0}))
    store.record(_row("json_only", "arc/2", "claude-sonnet-4-6", 0.0,
                      details={"strict": 0.0, "lenient": 0.0, "answer_correct": 0.0}))
    for item, found in (("L500/D0/r0", 1), ("L500/D1/r0", 1), ("L1000/D0/r0", 0), ("L1000/D1/r0", 1)):
        store.record(_row("needle", item, "gpt-4o", float(found), n_out=1))
    store.close()
    return evals.load_results("t", tmp_path / "r.sqlite")


def test_accuracy_table_counts_intervals_and_published_scores(results) -> None:
    acc = measured.accuracy_table(results).set_index(["task", "model"])
    g = acc.loc[("mmlu", "gpt-4o")]
    assert (g["scored"], g["correct"], g["accuracy_pct"]) == (4, 3, 75.0)
    low, high = stats.wilson_interval(3, 4)
    assert g["ci_low_pct"] == pytest.approx(100 * low) and g["ci_high_pct"] == pytest.approx(100 * high)
    assert "88.7 (S1)" in g["published"] and "88.7 (S4)" in g["published"]  # data/scores.csv
    assert acc.loc[("mmlu", "claude-sonnet-4-6"), "published"] == ""  # no published MMLU for this id
    j = acc.loc[("json_only", "gpt-4o")]
    assert (j["requested"], j["scored"], j["failed"], j["accuracy_pct"]) == (2, 1, 1, 100.0)  # failed is not wrong


def test_published_for_maps_tasks_to_benchmarks() -> None:
    pub = measured.published_for(["mmlu", "math500", "json_only"], ["gpt-4o", "gemini-2.5-flash"])
    assert set(pub["benchmark"]) == {"MMLU", "MATH"} and set(pub["model"]) == {"gpt-4o"}
    assert (pub.loc[pub["task"] == "math500", "n_items"] == 5000).all()
    assert pub.loc[pub["task"] == "math500", "note"].str.contains("MATH-500").all()


def test_latency_table_medians_p90_and_tpot(results) -> None:
    lat = measured.latency_table(results).set_index(["task", "model"])
    g = lat.loc[("mmlu", "gpt-4o")]
    ttft = pd.Series([0.1, 0.2, 0.3, 0.4])
    assert g["n"] == 4
    assert g["TTFT median s"] == pytest.approx(ttft.median()) and g["TTFT p90 s"] == pytest.approx(ttft.quantile(0.9))
    assert g["total median s"] == pytest.approx(2.5)
    assert g["ITL median ms"] == pytest.approx(1500 / 11)
    # TPOT: (1.5 s to the last chunk - TTFT) / (11 - 1 tokens)
    assert g["TPOT median ms"] == pytest.approx(1000 * (1.5 - 0.25) / 10)
    # one-token needle replies have no TPOT
    assert math.isnan(lat.loc[("needle", "gpt-4o"), "TPOT median ms"])
    overall = measured.latency_table(results, by_task=False)
    assert list(overall["model"]) == ["claude-sonnet-4-6", "gpt-4o"] and overall["n"].sum() == 4 + 4 + 2 + 1 + 4


def test_cost_table_per_item_and_per_correct_with_the_price_used(results) -> None:
    cost = measured.cost_table(results).set_index(["task", "model"])
    g = cost.loc[("mmlu", "gpt-4o")]
    assert g["cost USD"] == pytest.approx(0.004) and g["USD per item"] == pytest.approx(0.001)
    assert g["USD per correct"] == pytest.approx(0.004 / 3)
    price = costs.price_on("gpt-4o", "2026-06-01")
    assert g["price date"] == price.observed.isoformat() and g["price source"] == ", ".join(price.source_ids)
    assert math.isnan(cost.loc[("json_only", "claude-sonnet-4-6"), "USD per correct"])  # no correct answer
    total = cost.loc[("all", "gpt-4o")]
    assert total["scored"] == 4 + 1 + 4 and total["correct"] == 3 + 1 + 3


def test_json_and_needle_tables(results) -> None:
    js = measured.json_table(results).set_index("model")
    assert js.loc["claude-sonnet-4-6", "strict %"] == 0 and js.loc["claude-sonnet-4-6", "lenient %"] == 50
    assert js.loc["gpt-4o", "n"] == 1  # the finally failed item is not in the rate
    nd = measured.needle_table(results)
    assert list(nd["length"]) == [500, 500, 1000, 1000] and list(nd["rate %"]) == [100, 100, 0, 100]


def test_failures_list_every_unscored_item(results) -> None:
    f = measured.failures(results)
    assert len(f) == 1
    r = f.iloc[0]
    assert (r["task"], r["model"], r["item_id"], r["outcome"], r["attempts"], r["error_kind"]) == (
        "json_only", "gpt-4o", "arc/2", "failed", 2, "timeout")


def test_paired_table_is_mcnemar_on_the_common_items(results) -> None:
    paired = measured.paired_table(results)
    mmlu = paired[paired["task"] == "mmlu"].iloc[0]
    assert (mmlu["model_a"], mmlu["model_b"]) == ("claude-sonnet-4-6", "gpt-4o")
    assert (mmlu["n"], mmlu["both"], mmlu["a_only"], mmlu["b_only"], mmlu["neither"]) == (4, 1, 0, 2, 1)
    assert mmlu["gap_pts"] == pytest.approx(-50.0)
    assert mmlu["p_value"] == pytest.approx(stats.paired_comparison([1, 0, 0, 0], [1, 1, 1, 0]).p_value)
    assert mmlu["same_reply"] == 2  # items 0 and 3: the same text
    js = paired[paired["task"] == "json_only"].iloc[0]
    assert js["n"] == 1  # only the item both scored


def test_gap_table_items_needed_and_detectable_rise(results) -> None:
    acc = measured.accuracy_table(results)
    paired = measured.paired_table(results)
    pub = measured.published_for(acc["task"].unique(), acc["model"].unique())
    gaps = measured.gap_table(acc, paired, pub)
    between = gaps[(gaps["kind"] == "two model ids, same items") & (gaps["task"] == "mmlu")].iloc[0]
    assert between["items_needed"] == stats.sample_size_for_gap(0.25, 0.5)
    published = gaps[gaps["kind"].str.startswith("measured vs published") & (gaps["task"] == "mmlu")]
    assert set(published["kind"]) == {"measured vs published (S1)", "measured vs published (S4)"}
    row = published.iloc[0]
    assert row["gap_pts"] == pytest.approx(75.0 - 88.7)
    assert row["p_value"] == pytest.approx(stats.two_proportion_test(0.75, 4, 0.887, 14042))
    # an extreme gap (0 % vs 100 %) still gets a number of items
    assert measured.gap_table(acc, paired.assign(accuracy_a_pct=0.0, accuracy_b_pct=100.0, gap_pts=-100.0),
                              pub.iloc[0:0])["items_needed"].notna().all()
    # detectable_rise inverts sample_size_for_gap
    rise = measured.detectable_rise(0.5, 388)
    assert stats.sample_size_for_gap(0.5, round(rise, 4)) in range(385, 392)
    assert measured.detectable_rise(0.0, 2) == pytest.approx(0.97, abs=0.01)  # h = 2.8 on 2 items
    assert math.isnan(measured.detectable_rise(0.5, 2))  # beyond 100 %
    with pytest.raises(ValueError, match="p must be"):
        measured.detectable_rise(50, 10)


def test_figures_carry_the_backend_label(results) -> None:
    label = measured.backend_label("local")
    acc = measured.accuracy_table(results)
    pub = measured.published_for(acc["task"].unique(), acc["model"].unique())
    for fig in (measured.plot_accuracy(acc, pub, label), measured.plot_latency(results, label),
                measured.plot_needle(measured.needle_table(results), label)):
        text = " ".join([fig._suptitle.get_text() if fig._suptitle else ""] + [ax.get_title() for ax in fig.axes])
        assert label in text
        plt.close(fig)
    with pytest.raises(ValueError, match="needle"):
        measured.plot_needle(measured.needle_table(results.iloc[0:0]), label)


def test_empty_results_raise_a_clear_error(results) -> None:
    with pytest.raises(ValueError, match="results"):
        measured.accuracy_table(results.iloc[0:0])
    with pytest.raises(ValueError, match="results"):
        measured.latency_table(results.iloc[0:0])


# --------------------------------------------------------------------------------------------
# A real run through the local provider, then a re-run that asks no model
# --------------------------------------------------------------------------------------------


def test_run_suite_on_the_local_provider_then_resumes(local_provider, tmp_path: Path) -> None:
    s = measured.check_settings("local", MODELS[:2], ["needle"], 1, 0, 2, needle_lengths=[100],
                                needle_depths=[0.5], needle_models=MODELS[:2])
    store = tmp_path / "run.sqlite"
    first = measured.run_suite(s, store=store, progress=False)
    assert first.requests >= 2 and first.skipped == 0
    assert len(first.results) == 2 and (first.results["outcome"] == "scored").all()
    assert list(first.results["model"].drop_duplicates()) == MODELS[:2]  # the parameters' order
    ident = measured.run_identity(first)["value"]
    assert ident["run id"] == s.run_id and ident["real model behind it"] == local_provider.model_name
    again = measured.run_suite(s, store=store, progress=False)
    assert again.requests == 0 and again.skipped == 2
    pd.testing.assert_frame_equal(first.results, again.results)


def test_prompts_by_protocol_shows_what_the_local_model_reads(local_provider) -> None:
    table = measured.prompts_by_protocol("arc_challenge", MODELS)
    assert list(table["model"]) == MODELS and table["same_as_first"].all()  # one template for all protocols
    assert (table["input_tokens"] > 50).all()
    with pytest.raises(ValueError, match="needle"):
        measured.repeat_check(_settings(tasks=["needle"]))
