"""Model lifecycle: catalog.retirement merges data/retirements.csv into a model's state on a date, and
catalog.check_usable (through clients.for_model) stops a live run on a retired id and warns everywhere else."""
from __future__ import annotations

import shutil
import warnings
from datetime import date
from pathlib import Path

import pytest
from workbench import catalog, clients, paths

TODAY = "2026-12-01"


def test_a_retired_id_names_its_replacement_and_where_requests_go() -> None:
    flash = catalog.retirement("gemini-2.5-flash", TODAY)
    assert flash.status == "retired" and not flash.usable and flash.retired_on == date(2026, 12, 1)
    assert flash.replacement == flash.routed_to == ("gemini-3.5-flash-lite",) and flash.third_party
    text = flash.message()
    assert "routes its requests to gemini-3.5-flash-lite" in text and "dev.to (a third party's page)" in text
    # an older official copy said June 17, 2026: the disagreement is kept, the newest page wins
    assert any("2026-06-17 per ai.google.dev of 2025-12-17" in d for d in flash.disagreements)
    assert catalog.retirement("gemini-2.5-flash", "2026-11-30").status == "deprecated"   # announced, not yet shut
    assert catalog.retirement("gemini-2.5-flash", "2025-06-01").status == "active"


def test_a_provider_page_is_credited_when_it_agrees() -> None:
    opus = catalog.retirement("claude-3-opus-20240229", TODAY)
    assert opus.retired_on == date(2026, 1, 5) and opus.replacement == ("claude-opus-4-8",)
    assert opus.sources[0].startswith("https://docs.anthropic.com/")       # the official status table's date
    assert opus.third_party                                                # the replacement rests on a feed only
    assert catalog.retirement("claude-3-opus-20240229", "2025-07-01").status == "deprecated"


def test_states_of_the_chapters_ids_today() -> None:
    states = {m: catalog.retirement(m, TODAY).status for m in (
        "gpt-4o", "gpt-5.5", "claude-3-5-sonnet-20240620", "claude-sonnet-4-6", "gemini-2.0-flash", "claude-opus-5",
        "gemini-3.1-pro-preview", "gpt-6.2-sol", "smollm2-135m-instruct", "llama-3.1-8b", "gpt-5")}
    assert states == {"gpt-4o": "deprecated", "gpt-5.5": "active", "claude-3-5-sonnet-20240620": "retired",
                      "claude-sonnet-4-6": "active", "gemini-2.0-flash": "retired", "claude-opus-5": "legacy",
                      "gemini-3.1-pro-preview": "preview", "gpt-6.2-sol": "active",
                      "smollm2-135m-instruct": "active", "llama-3.1-8b": "active", "gpt-5": "deprecated"}
    gpt4o = catalog.retirement("gpt-4o", TODAY)
    assert gpt4o.replacement == ("gpt-6-luna",) and "gpt-6.1-sol per github.com of 2026-10-14" in gpt4o.disagreements[0]


def test_no_replacement_named_offers_current_models_of_the_same_kind() -> None:
    dalle = catalog.retirement("dall-e-3", TODAY)
    assert dalle.replacement == () and set(dalle.alternatives) == {"gpt-image-2.6-sunburst", "gpt-image-2.6-flare"}
    assert "no page names a replacement" in dalle.message()


def test_a_retired_replacement_is_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in paths.DATA.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    with (tmp_path / "retirements.csv").open("a", encoding="utf-8") as fh:
        fh.write("gpt-5.6-sol,retired,,2026-11-01,gpt-6.1-sol,,https://example.org/notice,2026-11-02,test row,"
                 "2026-12-01,true,\n")
    monkeypatch.setattr(paths, "DATA", tmp_path)
    old = catalog.retirement("gpt-4o-2024-05-13", TODAY)
    assert old.replacement == ("gpt-5.6-sol",) and old.current == ("gpt-6.1-sol",)
    assert "replacement: gpt-5.6-sol (now gpt-6.1-sol)" in old.message()


def test_unknown_ids_and_bad_dates_are_named() -> None:
    with pytest.raises(catalog.UnknownNameError, match="model_id: unknown model 'gpt-9'"):
        catalog.retirement("gpt-9")
    with pytest.raises(ValueError, match="on: expected an ISO date.*'tomorrow'"):
        catalog.retirement("gpt-4o", "tomorrow")
    # an id the providers retired that the workbook never priced is still known
    assert catalog.retirement("gpt-4o-2024-05-13", TODAY).status == "retired"


def test_check_usable_stops_live_and_warns_offline() -> None:
    with pytest.raises(catalog.RetiredModelError, match=r"model_id: claude-3-5-sonnet-20240620 was retired.*"
                                                        r"replacement: claude-sonnet-4-6.*allow_retired=True"):
        catalog.check_usable("claude-3-5-sonnet-20240620", "live", on=TODAY)
    with pytest.warns(catalog.LifecycleWarning, match="still answers for it offline"):
        catalog.check_usable("claude-3-5-sonnet-20240620", "local", on=TODAY)
    with pytest.warns(catalog.LifecycleWarning, match="retired"):
        catalog.check_usable("claude-3-5-sonnet-20240620", "live", allow_retired=True, on=TODAY)
    with pytest.warns(catalog.LifecycleWarning, match="gpt-4o is deprecated and shuts down on 2027-01-14"):
        catalog.check_usable("gpt-4o", "live", on=TODAY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for m in ("gpt-6.2-sol", "claude-opus-5", "gemini-3.1-pro-preview", "qwen2.5-coder-0.5b-instruct"):
            assert catalog.check_usable(m, "live", on=TODAY).usable
    with pytest.raises(catalog.UnknownNameError, match="backend"):
        catalog.check_usable("gpt-4o", "cloud")
    with pytest.raises(TypeError, match="allow_retired"):
        catalog.check_usable("gpt-4o", allow_retired="yes")  # type: ignore[arg-type]


def test_for_model_never_calls_a_retired_model_live_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("WORKBENCH_LOCAL_URL", "http://127.0.0.1:9")   # building a client sends nothing
    with pytest.raises(catalog.RetiredModelError, match="gemini-3.5-flash-lite"):
        clients.for_model("gemini-2.5-flash", "live")                   # stops before any key is needed
    with pytest.warns(catalog.LifecycleWarning), pytest.raises(clients.MissingKeyError):
        clients.for_model("gemini-2.5-flash", "live", allow_retired=True)
    with pytest.warns(catalog.LifecycleWarning, match="gemini-2.5-flash was retired") as seen:
        provider, _ = clients.for_model("gemini-2.5-flash")
    assert provider == "google" and seen[0].filename == __file__          # attributed to the caller's line


def test_the_api_chapters_check_their_ids() -> None:
    from workbench import api_tasks

    chapter = {"concurrency": 2, "max_tokens": 48, "seed": 0}
    with pytest.raises(catalog.RetiredModelError, match=r"^audio_model: gpt-4o-audio-preview was retired.*gpt-audio-1\.5"):
        api_tasks.check_params("openai", backend="live", model="gpt-5.5", fallback_model="gpt-6.2-sol",
                               audio_model="gpt-4o-audio-preview", **chapter)
    with pytest.warns(catalog.LifecycleWarning, match="gemini-2.5-flash was retired") as seen:
        api_tasks.check_params("google", backend="local", model="gemini-2.5-flash", fallback_model="gemini-3.8-flash",
                               **chapter)
    assert seen[0].filename == __file__
