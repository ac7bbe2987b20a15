"""workbench.suite: parameters, run id, one real run that resumes, what ran;
recorded runs read back from an archive recorded here.

The real runs go through the local provider (a tiny needle grid; one item asked three times; three
letter-only MMLU items recorded as an archive).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from known_rows import MODELS, known_results
from workbench import clients, evals, suite
from workbench.catalog import UnknownNameError
from workbench.evals import archive
from workbench.params import ParameterError

ALL_TASKS = list(evals.TASK_NAMES)


def _settings(**overrides):
    args = {"backend": "local", "models": MODELS, "tasks": ALL_TASKS, "limit": 2, "seed": 0, "concurrency": 4}
    args.update(overrides)
    return suite.check_settings(**args)


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


def test_lists_arrive_as_lists_json_text_or_comma_text() -> None:
    as_list = _settings(models=["gpt-4o", "gemini-2.5-flash"], needle_lengths=[500, 1000], needle_depths=[0, 0.5])
    as_json = _settings(models='["gpt-4o", "gemini-2.5-flash"]', needle_lengths="[500, 1000]",
                        needle_depths="[0, 0.5]")  # papermill -p on the command line
    as_text = _settings(models="gpt-4o,gemini-2.5-flash", needle_lengths="500,1000", needle_depths="0,0.5")
    assert as_list == as_json == as_text
    assert as_text.models == ("gpt-4o", "gemini-2.5-flash") and as_text.needle_depths == (0.0, 0.5)
    assert _settings(models="gpt-4o").models == ("gpt-4o",)


@pytest.mark.parametrize(("override", "name", "bad"), [
    ({"backend": "cloud"}, "backend", "cloud"),
    ({"models": ["gpt-9"]}, "models", "gpt-9"),
    ({"models": ["llama-3.1-8b"]}, "models", "llama-3.1-8b"),
    ({"models": ["gpt-4o", "gpt-4o"]}, "models", "gpt-4o"),
    ({"models": []}, "models", "[]"),
    ({"tasks": ["mmlu", "gpqa"]}, "tasks", "gpqa"),
    ({"limit": 0}, "limit", "0"),
    ({"limit": True}, "limit", "True"),
    ({"concurrency": 0}, "concurrency", "0"),
    ({"seed": 1.5}, "seed", "1.5"),
    ({"needle_lengths": [50]}, "needle_lengths", "50"),
    ({"needle_lengths": "500,x"}, "needle_lengths", "x"),
    ({"needle_depths": [1.5]}, "needle_depths", "1.5"),
    ({"needle_depths": "0,half"}, "needle_depths", "half"),
    ({"needle_per_cell": 0}, "needle_per_cell", "0"),
    ({"needle_models": ["gpt-4o-mini"]}, "needle_models", "gpt-4o-mini"),
    ({"run_id": ""}, "run_id", "''"),
])
def test_a_bad_parameter_raises_one_error_naming_it(override, name, bad) -> None:
    with pytest.raises(ValueError) as info:
        _settings(**override)
    assert str(info.value).startswith(f"{name}:") and bad in str(info.value)


def test_unknown_ids_are_unknown_name_errors() -> None:
    with pytest.raises(UnknownNameError):
        _settings(models=["gpt-9"])
    with pytest.raises(UnknownNameError):
        _settings(tasks=["gpqa"])


def test_backend_label_names_the_real_model() -> None:
    assert clients.local_model_name() in suite.backend_label("local")
    assert "live" in suite.backend_label("live")


def test_failures_and_scored_rows(tmp_path: Path) -> None:
    results = known_results(tmp_path / "r.sqlite")
    f = suite.failures(results)
    assert len(f) == 1
    r = f.iloc[0]
    assert (r["task"], r["model"], r["item_id"], r["outcome"], r["attempts"], r["error_kind"]) == (
        "json_only", "gpt-4o", "arc/2", "failed", 2, "timeout")
    assert len(suite.scored(results)) == len(results) - 1


# --------------------------------------------------------------------------------------------
# Real runs through the local provider
# --------------------------------------------------------------------------------------------


def test_run_suite_on_the_local_provider_then_resumes(local_provider, tmp_path: Path) -> None:
    s = suite.check_settings("local", MODELS[:2], ["needle"], 1, 0, 2, needle_lengths=[100],
                             needle_depths=[0.5], needle_models=MODELS[:2])
    store = tmp_path / "run.sqlite"
    first = suite.run_suite(s, store=store, progress=False)
    assert first.requests >= 2 and first.skipped == 0
    assert len(first.results) == 2 and (first.results["outcome"] == "scored").all()
    assert list(first.results["model"].drop_duplicates()) == MODELS[:2]  # the parameters' order
    ident = suite.run_identity(first)["value"]
    assert ident["run id"] == s.run_id and ident["real model behind it"] == local_provider.model_name
    assert ident["items planned / scored / finally failed / pending"] == "2 / 2 / 0 / 0"
    again = suite.run_suite(s, store=store, progress=False)
    assert again.requests == 0 and again.skipped == 2
    pd.testing.assert_frame_equal(first.results, again.results)


# --------------------------------------------------------------------------------------------
# Recorded runs: archives read back with no engine
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(local_provider, tmp_path_factory) -> Path:
    """A small archive recorded through the local provider (SmolLM2, three letter-only MMLU items)."""
    folder = tmp_path_factory.mktemp("runs") / "rec-a"
    evals.run(["mmlu_direct"], ["smollm2-135m-instruct"], "local", limit=3, store=folder.parent / "rec.sqlite",
              progress=False, archive=folder)
    return folder


def test_check_archives_accepts_ids_and_folders_and_names_a_missing_one(recorded: Path) -> None:
    assert suite.check_archives([str(recorded)]) == [str(recorded)]
    assert suite.check_archives(f'["{recorded}"]') == [str(recorded)]  # papermill -p text
    with pytest.raises(UnknownNameError, match="archives: unknown archive 'no-such-run'") as info:
        suite.check_archives(["no-such-run"])
    assert info.value.valid == (sorted(archive.available()) or [f"none under {suite.RUNS_DIR}"])
    with pytest.raises(UnknownNameError, match="archives"):
        suite.check_archives([str(recorded.parent / "missing")])
    with pytest.raises(ParameterError, match="archives"):
        suite.check_archives([str(recorded), str(recorded)])
    with pytest.raises(ParameterError, match="archives"):
        suite.check_archives([])


def test_load_recorded_rescores_once_and_again_when_the_archive_changes(recorded: Path, tmp_path: Path) -> None:
    store = tmp_path / "build" / "recorded.sqlite"
    first = suite.load_recorded([str(recorded)], store)
    assert first.rescored == ["rec-a"] and first.backends == ["local"] and first.models == ["smollm2-135m-instruct"]
    r = first.results
    assert len(r) == 3 and (r["outcome"] == "scored").all() and set(r["archive_id"]) == {"rec-a"}
    again = suite.load_recorded([str(recorded)], store)
    assert again.rescored == []  # same files, same scorers: read from the store
    pd.testing.assert_frame_equal(first.results, again.results)
    copy = tmp_path / "rec-a"  # the same recording with a changed manifest is re-scored
    shutil.copytree(recorded, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["notes"].append("copied for a test")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert suite.load_recorded([str(copy)], store).rescored == ["rec-a"]
    with pytest.raises(ParameterError, match="archives"):
        suite.load_recorded([str(recorded), str(copy)], store)  # two archives with one id


def test_archive_and_recording_tables_and_the_source_come_from_the_manifest(recorded: Path, tmp_path: Path) -> None:
    runs = suite.load_recorded([str(recorded)], tmp_path / "r.sqlite")
    m = json.loads((recorded / "manifest.json").read_text())
    sha = m["models"]["smollm2-135m-instruct"]["gguf"]["sha256"]
    day = m["created"][:10]
    row = suite.archive_table(runs).iloc[0]
    assert row["archive"] == "rec-a" and row["model"] == "smollm2-135m-instruct" and sha[:12] in row["model file"]
    assert row["recorded (UTC)"] == day and row["tasks (items)"] == "mmlu_direct (3)"
    assert row["answered / failed / not tried"] == "3 / 0 / 0"
    how = suite.recording_table(runs).iloc[0]
    assert how["prompt format"] == "mmlu_direct: letter only" and how["output cap"] == "mmlu_direct: 8"
    assert how["code"].startswith(m["code"]["commit"][:10])
    assert runs.source() == f"archive rec-a (model file sha256 {sha[:12]}), recorded {day}"
    assert runs.source(models=["gpt-4o"]) == "no archive" and runs.source(tasks=["humaneval_qwen"]) == "no archive"
    assert "GGUF" in runs.label and "live" not in runs.label


def test_live_archives_are_the_ones_recorded_on_the_live_backend(recorded: Path, tmp_path: Path) -> None:
    for name, backend in (("a-local", "local"), ("b-live", "live")):
        shutil.copytree(recorded, tmp_path / name)
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        (tmp_path / name / "manifest.json").write_text(json.dumps({**manifest, "backend": backend}))
    assert suite.live_archives(tmp_path) == ["b-live"]
    assert suite.live_archives(tmp_path / "none") == []
