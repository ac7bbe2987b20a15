"""The claims ledger: every claim has a verdict and evidence, and the verdicts we already know hold."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from workbench import api_claims, catalog, costs, ledger, model_choice, params
from workbench.ledger_verdicts import VERDICTS, Verdict, checks, kinds


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return ledger.ledger().set_index("claim_id")


# --------------------------------------------------------------------------------------------
# The verdicts we already know
# --------------------------------------------------------------------------------------------
def test_s2_printed_tile_formula_does_not_give_its_own_numbers(table: pd.DataFrame) -> None:
    for claim_id, printed in (("s2_tile_1024", 765), ("s2_tile_512", 255)):
        row = table.loc[claim_id]
        assert row["verdict"] == "contradicted", claim_id
        assert row["derived"] == printed != catalog.claim(claim_id)
        assert "documented rule" in row["evidence"] and "openai.com" in row["evidence"]
    saving = table.loc["s2_tile_saving"]
    assert saving["verdict"] == "contradicted"
    assert saving["derived"] == pytest.approx(100 * (1 - 255 / 765))


def test_s2_self_hosted_total_for_10m_tokens_is_off_by_a_factor_of_ten(table: pd.DataFrame) -> None:
    for claim_id in ("s2_docs_selfhosted_low", "s2_docs_selfhosted_high"):
        row = table.loc[claim_id]
        assert row["verdict"] == "contradicted"
        assert row["derived"] / catalog.claim(claim_id) == pytest.approx(10)
        assert "factor of 10" in row["finding"]


def test_s0_and_s1_disagree_on_gpt4o_november_2024_price(table: pd.DataFrame) -> None:
    s1, s0 = table.loc["s1_price_gpt4o"], table.loc["s0_price_gpt4o"]
    assert s1["verdict"] == "contradicted"
    assert "S0" in s1["finding"] and "$2.50" in s1["finding"]
    assert "before the cut" in s1["finding"]        # S1 repeats S4's mid-2024 price
    assert s0["verdict"] == "consistent" and "S1" in s0["finding"]
    assert "sources disagree" in s0["evidence"]     # the rule that settled the disputed date is shown


def test_gemini_part_from_image_and_generate_content_async_do_not_exist(table: pd.DataFrame) -> None:
    from_image, async_call = table.loc["s0_api_part_from_image"], table.loc["s0_api_generate_async"]
    assert from_image["verdict"] == async_call["verdict"] == "contradicted"
    assert "Part.from_bytes(data, mime_type)" in from_image["finding"]
    assert "aio.models.generate_content" in async_call["finding"]
    assert "google-genai" in from_image["evidence"]
    checked = api_claims.check("google.genai.types:Part.from_image & google.genai:Client().models.generate_content_async")
    assert [c.holds for c in checked] == [False, False]
    assert api_claims.successor("google.genai.types:Part.from_image").holds


def test_other_known_verdicts(table: pd.DataFrame) -> None:
    assert table.loc["s2_docs_gpt55", "verdict"] == "consistent"            # S2's input-only arithmetic holds
    assert table.loc["s2_route_total", "derived"] == pytest.approx(17.10)
    assert table.loc["s2_api_gemini_legacy", "verdict"] == "contradicted"  # google.generativeai is not pinned
    assert table.loc["s2_api_raw_bytes", "verdict"] == "contradicted"
    assert table.loc["s4_lead_math", "verdict"] == "consistent"            # MATH has 5,000 items
    swe = table.loc["s2_lead_swe_verified"]                                # 87.6 vs 85.2 on 500 items
    assert swe["verdict"] == "not distinguishable" and swe["p_value"] > 0.05
    assert table.loc["s1_rule_long_context", "verdict"] == "consistent"
    assert "Today's catalog would choose" in table.loc["s1_rule_long_context", "finding"]
    assert table.loc["s0_image_sonnet35", "verdict"] == "contradicted"      # above the cost of Claude's largest image
    assert table.loc["s4_json_claude", "verdict"] == "unverifiable offline"
    assert "make record" in table.loc["s4_json_claude", "settle"]
    assert "ANTHROPIC_API_KEY" in table.loc["s4_json_claude", "settle"]


# --------------------------------------------------------------------------------------------
# Every row
# --------------------------------------------------------------------------------------------
def test_every_claim_has_a_verdict_with_evidence(table: pd.DataFrame) -> None:
    claims = catalog.claims()
    assert len(table) == len(claims) >= 100
    assert set(table["source_id"]) == {"S0", "S1", "S2", "S3", "S4"}
    assert set(table["verdict"]) <= set(VERDICTS)
    assert (table["finding"].str.len() > 0).all() and (table["evidence"].str.len() > 0).all()
    unverifiable = table[table["verdict"] == "unverifiable offline"]
    assert (unverifiable["settle"].str.len() > 0).all()
    measured = table[table["verdict"] == "measured"]
    assert (measured["archive"].str.len() > 0).all()
    assert {"consistent", "contradicted", "not distinguishable", "unverifiable offline"} <= set(table["verdict"])


def test_the_claims_table_is_well_formed() -> None:
    claims = catalog.claims()
    assert set(claims["check"]) <= set(checks())
    assert set(claims["kind"]) == set(kinds())
    known = set(catalog.models()["model_id"])
    ids = set(claims["claim_id"])
    for row in claims.itertuples():
        for m in ([] if pd.isna(row.models) else str(row.models).split(";")):
            assert m in known, (row.claim_id, m)
        for i in ([] if pd.isna(row.inputs) else str(row.inputs).split(";")):
            assert i in ids, (row.claim_id, i)
        if row.check == "decision_rule":
            model_choice.parse_rule(row.quantity)
        if row.check == "sdk":
            api_claims.parse(row.quantity)


def test_the_cost_rows_chapters_05_and_08_use_keep_their_values() -> None:
    expected = {
        "s2_docs_gpt55": 50, "s2_docs_opus47": 50, "s2_docs_gemini31pro": 20, "s2_docs_gemini25flash": 3,
        "s2_docs_selfhosted_low": 0.5, "s2_docs_selfhosted_high": 1, "s2_docs_n": 10000, "s2_docs_tokens": 1000,
        "s2_route_simple_n": 7000, "s2_route_complex_n": 3000, "s2_route_simple_cost": 2.1,
        "s2_route_complex_cost": 15, "s2_route_total": 17.1, "s2_cheaper_pct": 60, "s2_selfhost_low": 0.5,
        "s2_selfhost_high": 1, "s2_breakeven_low": 5e6, "s2_breakeven_high": 1e7, "s2_tile_1024": 1400,
        "s2_tile_512": 340, "s2_tile_saving": 75, "s2_tile_per_tile": 170, "s2_tile_base": 85, "s2_tile_size": 512,
        "s1_router_saving_low": 60, "s1_router_saving_high": 80,
    }
    for claim_id, value in expected.items():
        assert catalog.claim(claim_id) == pytest.approx(value), claim_id
    assert costs.check_claim("s2_route_total", 17.1).agrees


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
def test_a_bad_source_or_kind_is_one_clear_error() -> None:
    with pytest.raises(catalog.UnknownNameError, match=r"sources: unknown source id 'S9'"):
        ledger.ledger(sources=["S9"])
    with pytest.raises(catalog.UnknownNameError, match=r"kinds: unknown claim kind 'gossip'.*price"):
        ledger.ledger(kinds=["gossip"])
    with pytest.raises(ValueError, match="no claim"):
        ledger.ledger(sources=["S3"], kinds=["api"])
    with pytest.raises(params.ParameterError, match="alpha"):
        ledger.ledger(alpha=1.5)
    with pytest.raises(params.ParameterError, match="n"):
        ledger.headline_contradictions(pd.DataFrame(columns=["kind", "verdict", "claim_id"]), n=0)


def test_selection_summary_and_figure(table: pd.DataFrame) -> None:
    part = ledger.ledger(sources='["S4"]', kinds=["ranking", "score"])
    assert set(part["source_id"]) == {"S4"} and set(part["kind"]) == {"ranking", "score"}
    counts = ledger.summary(table.reset_index())
    assert counts.loc["total", "total"] == len(table)
    assert counts.loc["S2", "total"] == (table["source_id"] == "S2").sum()
    fig = ledger.plot_verdicts(table.reset_index())
    assert len(fig.axes) == 5
    top = ledger.headline_contradictions(table.reset_index(), n=4)
    assert list(top["kind"][:2]) == ["cost", "price"] and (top["verdict"] == "contradicted").all()


def test_a_verdict_must_carry_its_evidence() -> None:
    with pytest.raises(ValueError, match="settle"):
        Verdict("unverifiable offline", "no data", ("nothing",))
    with pytest.raises(ValueError, match="archive"):
        Verdict("measured", "ran", ("a run",))
    with pytest.raises(ValueError, match="evidence"):
        Verdict("consistent", "fine", ())
    with pytest.raises(ValueError, match="verdict"):
        Verdict("plausible", "fine", ("x",))


# --------------------------------------------------------------------------------------------
# SDK introspection
# --------------------------------------------------------------------------------------------
def test_spec_forms() -> None:
    ok = api_claims.check("openai:OpenAI().chat.completions.create(model, messages, stream)")
    assert ok[0].holds and ok[0].package.startswith("openai ")
    assert not api_claims.check("openai:OpenAI().chat.completions.create(no_such_parameter)")[0].holds
    assert api_claims.check("!anthropic.types:ContentBlockParam<audio>")[0].holds
    assert not api_claims.check("anthropic.types:ContentBlockParam<audio>")[0].holds
    assert api_claims.check("anthropic.types:Base64ImageSourceParam[data: str]")[0].holds
    assert not api_claims.check("anthropic.types:Base64ImageSourceParam[data: bytes]")[0].holds
    missing = api_claims.check("no_such_sdk_module:Thing")[0]
    assert not missing.holds and "not installed" in missing.seen
    with pytest.raises(ValueError, match="spec"):
        api_claims.parse("openai.OpenAI")
    for spec, today in api_claims.SUCCESSORS.items():
        assert api_claims.check(today)[0].holds, today
        assert not all(c.holds for c in api_claims.check(spec)), spec


def test_decision_rules_parse_and_screen() -> None:
    rule = model_choice.parse_rule("context_window>200000; best:coding")
    assert rule.family == "coding"
    with pytest.raises(ValueError, match="requirement"):
        model_choice.parse_rule("telepathy; cheapest")
    with pytest.raises(ValueError, match="family"):
        model_choice.parse_rule("any; best:juggling")
    met = model_choice.screen(["gpt-4o", "gemini-1.5-pro", "claude-3-5-sonnet-20240620"], "input_audio")
    assert met.meets == ("gpt-4o", "gemini-1.5-pro") and met.fails == ("claude-3-5-sonnet-20240620",)


# --------------------------------------------------------------------------------------------
# Run archives: measured verdicts for live runs, the method only for local ones
# --------------------------------------------------------------------------------------------
def _archive(root: Path, archive_id: str, backend: str, model: str, replies: list[tuple[str, str]]) -> None:
    """An archive in the format of workbench.evals.archive_format, with the given replies to json_only."""
    folder = root / archive_id
    folder.mkdir(parents=True)
    manifest = {"format": 1, "archive_id": archive_id, "created": "2026-12-01T00:00:00Z", "backend": backend,
                "parameters": {"tasks": ["json_only"], "models": [model]},
                "plan": {"json_only": [[item, None] for item, _ in replies]},
                "models": {model: {"provider": catalog.provider_of(model)}}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with gzip.open(folder / "exchanges.jsonl.gz", "wt", encoding="utf-8") as fh:
        for item, text in replies:
            fh.write(json.dumps({"task": "json_only", "item_id": item, "model": model, "attempt": 1,
                                 "protocol": "openai_chat", "status": "ok", "prompt_hash": "0" * 16,
                                 "started_at": "2026-12-01T00:00:00Z", "text": text, "finish_reason": "stop",
                                 "chunks": 3, "usage": [50, 12],
                                 "timings": {"ttft_s": 0.2, "content_s": 0.4, "latency_s": 0.5}}) + "\n")


def test_a_live_archive_gives_a_measured_verdict_and_a_local_one_only_the_method(tmp_path: Path) -> None:
    from workbench import evals

    task = evals.get_task("json_only")
    items = task.items()[:4]
    strict = [json.dumps({"answer": item.target, "reason": "it fits"}) for item in items]
    model = "claude-3-5-sonnet-20240620"
    _archive(tmp_path, "ladder-demo", "local", "smollm2-135m-instruct",
             [(i.id, "Sure: {}") for i in items])
    before = ledger.ledger(sources=["S4"], kinds=["behaviour"], runs=tmp_path).set_index("claim_id")
    row = before.loc["s4_json_claude"]
    assert row["verdict"] == "unverifiable offline"
    assert "ladder-demo" in row["evidence"] and "not a result for the frontier models" in row["evidence"]
    _archive(tmp_path, "live-demo", "live", model, [(i.id, s) for i, s in zip(items, strict)])
    after = ledger.ledger(sources=["S4"], kinds=["behaviour"], runs=tmp_path).set_index("claim_id")
    row = after.loc["s4_json_claude"]
    assert row["verdict"] == "measured" and row["archive"] == "live-demo"
    assert "100 %" in row["finding"] and f"{len(items)} replies" in row["evidence"]


# --------------------------------------------------------------------------------------------
# Production patterns: S1's router savings and S3's metrics and hand-off, from per-item outcomes
# --------------------------------------------------------------------------------------------
def test_a_claimed_bound_is_judged_by_the_whole_interval() -> None:
    from workbench.ledger_patterns import _bound_verdict

    assert _bound_verdict(60, 61, 70, "at least") == "consistent"
    assert _bound_verdict(60, 20, 59, "at least") == "contradicted"
    assert _bound_verdict(60, 50, 65, "at least") == "not distinguishable"
    assert _bound_verdict(80, 20, 79, "at most") == "consistent"
    assert _bound_verdict(80, 81, 90, "at most") == "contradicted"
    assert _bound_verdict(80, 75, 85, "at most") == "not distinguishable"
    assert _bound_verdict(80, float("nan"), 85, "at most") == "not distinguishable"


def test_s1_router_saving_is_measured_on_the_ladder_and_says_so(table: pd.DataFrame) -> None:
    for claim_id in ("s1_router_saving_low", "s1_router_saving_high"):
        row = table.loc[claim_id]
        assert row["verdict"] in ("consistent", "contradicted", "not distinguishable"), claim_id
        assert row["archive"].startswith("ladder-") and "not the models the article names" in row["finding"]
        assert "learned router" in row["evidence"] and "oracle router" in row["evidence"]
        assert "at S1's own prices" in row["evidence"] and "GPT-4o mini" in row["evidence"]
        assert "make record BACKEND=live" in row["settle"]
    low = table.loc["s1_router_saving_low"]
    assert f"'at least {catalog.claim('s1_router_saving_low'):.0f} %'" in low["finding"]
    assert f"{low['derived']:.0f} %" in low["finding"]


def test_without_a_pattern_run_the_router_claim_keeps_the_price_arithmetic(tmp_path: Path) -> None:
    rows = ledger.ledger(sources=["S1", "S3"], kinds=["cost", "recommendation"], runs=tmp_path).set_index("claim_id")
    low = rows.loc["s1_router_saving_low"]
    assert low["verdict"] == "unverifiable offline" and "GPT-4o mini" in low["finding"]
    assert rows.loc["s3_metrics", "verdict"] == "unverifiable offline"
    handoff = rows.loc["s3_handoff"]
    assert handoff["verdict"] == "unverifiable offline" and "log-probabilities" in handoff["settle"]


def test_s3_metrics_hold_against_the_measured_ladder(table: pd.DataFrame) -> None:
    row = table.loc["s3_metrics"]
    assert row["verdict"] in ("consistent", "contradicted", "not distinguishable")
    assert "accuracy alone picks" in row["finding"] and row["archive"].startswith("ladder-")
    for metric in ("task success", "handling time", "policy compliance", "deflection", "user satisfaction"):
        assert metric in row["evidence"], metric
    handoff = table.loc["s3_handoff"]                  # the ladder recorded with log-probabilities gives a confidence
    assert handoff["verdict"] in ("consistent", "contradicted", "not distinguishable")
    assert all(a.endswith("-lp") for a in handoff["archive"].split(", ")) and "handed to a person" in handoff["evidence"]


def _pattern(monkeypatch: pytest.MonkeyPatch, confidence_right: float, confidence_wrong: float):
    """A synthetic two-model run on real MMLU items: the strong model is right on even items, with the given
    confidences; the cheap one is right on every fourth item."""
    from workbench import evals, ledger_patterns

    ids = [it.id for it in evals.get_task("mmlu_direct").items()[:80]]
    rows = []
    for i, item in enumerate(ids):
        strong_right = i % 2 == 0
        rows.append({"task": "mmlu_direct", "item_id": item, "model": "big", "backend": "local",
                     "correct": strong_right, "seconds": 5.0, "usd": 5.0,
                     "confidence": confidence_right if strong_right else confidence_wrong})
        rows.append({"task": "mmlu_direct", "item_id": item, "model": "small", "backend": "local",
                     "correct": i % 4 == 0, "seconds": 1.0, "usd": 1.0, "confidence": 0.5})
    items = pd.DataFrame(rows)
    results = items.assign(outcome="scored", response=["A", "B) 4"] * len(ids))
    run = ledger_patterns.PatternRun(("synthetic",), "local", results, items, "small", "big",
                                     ("small", "big"), True)
    monkeypatch.setattr(ledger_patterns, "pattern_run", lambda claim, ctx: run)
    return run


def test_handoff_is_consistent_only_when_confidence_finds_the_wrong_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    _pattern(monkeypatch, confidence_right=0.9, confidence_wrong=0.3)
    row = ledger.ledger(sources=["S3"], kinds=["recommendation"]).set_index("claim_id").loc["s3_handoff"]
    assert row["verdict"] == "consistent" and row["p_value"] < 0.05 and row["archive"] == "synthetic"
    assert "0/40 right" in row["evidence"] and "40/40 right" in row["evidence"]
    _pattern(monkeypatch, confidence_right=0.3, confidence_wrong=0.9)      # sure exactly when wrong
    row = ledger.ledger(sources=["S3"], kinds=["recommendation"]).set_index("claim_id").loc["s3_handoff"]
    assert row["verdict"] == "contradicted"
    _pattern(monkeypatch, confidence_right=0.6, confidence_wrong=0.6)      # the same confidence everywhere
    row = ledger.ledger(sources=["S3"], kinds=["recommendation"]).set_index("claim_id").loc["s3_handoff"]
    assert row["verdict"] == "not distinguishable"


def test_router_saving_verdict_follows_the_measured_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench import ledger_patterns

    run = _pattern(monkeypatch, 0.9, 0.3)
    rows, threshold = ledger_patterns.router_saving_verdict(run)
    saved = rows.set_index("policy")
    assert saved.loc["always the cheap model", "saving"] == pytest.approx(0.8)     # 1 s instead of 5 s
    assert saved.loc["oracle router", "accuracy_policy"] >= saved.loc["oracle router", "accuracy_baseline"]
    assert 0 <= threshold <= 1
    table = ledger.ledger(sources=["S1"], kinds=["cost"]).set_index("claim_id")
    low = table.loc["s1_router_saving_low"]
    learned = saved.loc["learned router"]
    expected = ledger_patterns._bound_verdict(60, 100 * learned["saving_low"], 100 * learned["saving_high"], "at least")
    assert low["verdict"] == expected and low["archive"] == "synthetic"
    assert low["derived"] == pytest.approx(100 * learned["saving"])


def test_an_unfinished_recording_is_never_read(tmp_path: Path) -> None:
    import shutil

    from workbench.evals.archive_format import RUNS_DIR

    for archive_id in ("ladder-smollm2-choice", "ladder-qwen0.5b-choice", "ladder-qwen1.5b-choice"):
        shutil.copytree(RUNS_DIR / archive_id, tmp_path / archive_id)
    manifest = tmp_path / "ladder-smollm2-choice" / "manifest.json"
    unfinished = json.loads(manifest.read_text(encoding="utf-8"))
    unfinished.pop("counts")                              # what a recording in progress looks like
    manifest.write_text(json.dumps(unfinished), encoding="utf-8")
    row = ledger.ledger(sources=["S1"], kinds=["cost"], runs=tmp_path).set_index("claim_id").loc["s1_router_saving_low"]
    assert row["archive"] == "ladder-qwen0.5b-choice, ladder-qwen1.5b-choice"
    assert "2 open models" in row["finding"]
