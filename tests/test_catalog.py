"""The data tables load, validate, and fail loudly (file, line, reason) when broken."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from workbench import catalog, paths


@pytest.mark.parametrize("name", [t for t in catalog.TABLES if (paths.DATA / f"{t}.csv").exists()])
def test_every_table_loads_with_a_source_on_every_row(name: str) -> None:
    frame = catalog.load(name)
    assert len(frame) > 0
    if "source_id" in frame:
        assert frame["source_id"].notna().all()


def test_typed_columns() -> None:
    prices = catalog.prices()
    assert pd.api.types.is_datetime64_any_dtype(prices["observed"])
    assert (prices["input_per_mtok"] > 0).all() and (prices["output_per_mtok"].dropna() > 0).all()
    assert prices["batch_multiplier"].dropna().between(0, 1).all()
    models = catalog.models()
    assert models.loc[models["model_id"] == "gpt-4o", "context_window"].iloc[0] == 128_000


def test_the_seed_rows_are_kept_and_the_line_up_is_dated() -> None:
    p = catalog.prices()
    seeds = p[~p["source_id"].str.startswith("http")]
    assert len(seeds) == 16 and seeds[["read_on", "third_party", "cached_input_per_mtok"]].isna().all().all()
    pages = p[p["source_id"].str.startswith("http")]
    assert pages["read_on"].notna().all() and pages["third_party"].notna().all()
    m = catalog.models().set_index("model_id")
    today = m[m["read_on"].notna()]
    assert {"anthropic", "openai", "google"} <= set(today["provider"])
    assert {"claude-3-opus-20240229", "whisper-1", "dall-e-3", "glm-4.5v", "molmo2-o-7b", "internvl2.5-78b",
            "stable-diffusion-xl-base-1.0"} <= set(today.index)
    assert m.at["dall-e-3", "output"] == "image" and m.at["gemini-3-pro-image", "output"] == "text+image"
    assert m.at["gemini-3.1-pro-preview", "context_window"] == 2_000_000        # S2's row, kept as S2 states it
    r = catalog.retirements()
    assert r["source_id"].str.startswith("http").all() and (r["observed"] <= r["read_on"]).all()
    u = catalog.unit_prices().set_index(["model_id", "variant"])
    assert u.at[("whisper-1", "transcription"), "usd"] == 0.006 and not u.at[("whisper-1", "transcription"), "third_party"]


def test_disagreements_are_kept_as_separate_rows() -> None:
    p = catalog.prices()
    nov = p[(p["model_id"] == "gpt-4o") & (p["observed_as_published"] == "November 2024")]
    assert set(nov["source_id"]) == {"S0", "S1"}
    assert sorted(nov["input_per_mtok"]) == [2.5, 5.0]
    s = catalog.scores()
    he = s[(s["benchmark"] == "HumanEval") & (s["model_id"] == "gpt-4o")]
    assert dict(zip(he["source_id"], he["value"])) == {"S1": 91.0, "S4": 90.2}


def test_every_source_of_sources_md_is_listed_then_the_score_reports() -> None:
    src = catalog.sources().set_index("source_id")
    assert list(src.index) == ["S0", "S1", "S2", "S3", "S4", "S5", "S6"]
    assert src.loc["S5", "url"] == "https://arxiv.org/abs/2409.12186"
    assert src.loc[["S5", "S6"], "url"].notna().all()


def test_the_local_ladder_and_its_facts() -> None:
    assert catalog.local_models() == ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                                      "qwen2.5-coder-1.5b-instruct"]
    local = catalog.models().set_index("model_id").loc[catalog.local_models()]
    assert (local["license"] == "Apache-2.0").all() and local["open_weights"].all()
    assert local["upstream_url"].str.startswith("https://huggingface.co/").all()
    assert list(local["quantization"]) == ["Q4_1", "Q4_K_M", "Q4_K_M"]
    assert local["parameters"].is_monotonic_increasing and (local["local_threads"] >= 1).all()
    assert local.loc["qwen2.5-coder-1.5b-instruct", "gguf_sha256"].startswith("cc324af070c2")
    assert local.loc["qwen2.5-coder-0.5b-instruct", "file_bytes"] == 491_400_064
    assert local.loc["qwen2.5-coder-1.5b-instruct", "context_window"] == 32_768


def test_published_scores_of_the_ladder_carry_source_and_date() -> None:
    s = catalog.scores()
    qwen = s[s["model_id"] == "qwen2.5-coder-1.5b-instruct"].set_index("benchmark")
    assert qwen.loc["HumanEval", "value"] == 70.7 and qwen.loc["HumanEval+", "value"] == 66.5
    assert (qwen["source_id"] == "S5").all() and qwen["checked"].notna().all()
    assert "greedy" in qwen.loc["HumanEval", "notes"]
    small = s[s["model_id"] == "qwen2.5-coder-0.5b-instruct"].set_index("benchmark")
    assert small.loc["HumanEval", "value"] == 61.6
    sized = catalog.benchmarks().set_index("benchmark")["n_items"]
    ladder = s[s["model_id"].isin(catalog.local_models())]
    assert ladder["benchmark"].map(sized).notna().all()  # every ladder score has a known n


def test_rejected_params() -> None:
    assert catalog.rejected_params("claude-opus-4-7") == frozenset({"temperature", "top_p", "top_k"})
    assert catalog.rejected_params("gpt-4o") == frozenset()
    opus = catalog.models().set_index("model_id").loc["claude-opus-4-7"]
    assert opus["params_source"].startswith("https://platform.claude.com/")
    with pytest.raises(catalog.UnknownNameError, match=r"model_id: unknown model 'opus'"):
        catalog.rejected_params("opus")


def test_check_functions_name_the_parameter_and_value() -> None:
    assert catalog.check_models("gpt-4o") == ["gpt-4o"]
    with pytest.raises(catalog.UnknownNameError, match=r"models: unknown model 'gpt4o'.*Did you mean 'gpt-4o'"):
        catalog.check_models(["gpt4o"])
    with pytest.raises(catalog.UnknownNameError, match=r"model: unknown openai model 'claude-opus-4-7'"):
        catalog.check_models(["claude-opus-4-7"], provider="openai", param="model")
    with pytest.raises(catalog.UnknownNameError, match=r"sources: unknown source id 'S9'"):
        catalog.check_sources(["S0", "S9"])
    with pytest.raises(catalog.UnknownNameError, match=r"providers: unknown provider 'azure'"):
        catalog.check_providers("azure")
    with pytest.raises(TypeError, match="models"):
        catalog.check_models([3])  # type: ignore[list-item]
    assert catalog.provider_of("claude-opus-4-7") == "anthropic"
    assert catalog.claim("s2_route_total") == pytest.approx(17.10)
    assert catalog.cite("S2").startswith("S2 (Larry Qu")


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    for name in ("sources", "models", "prices", "scores", "benchmarks", "retirements", "unit_prices"):
        shutil.copy(paths.DATA / f"{name}.csv", tmp_path / f"{name}.csv")
    return tmp_path


def _corrupt(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / f"{name}.csv"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("table", "old", "new", "message"),
    [
        ("prices", "gpt-4o,2024-07-01,2024 (mid),5.00", "gpt-4o,2024-07-01,2024 (mid),-5.00",
         r"prices\.csv, line 2: column 'input_per_mtok' must be positive"),
        ("prices", "gpt-4o,2024-07-01,2024 (mid),5.00", "gpt-4o,2024-07-01,2024 (mid),five",
         r"prices\.csv, line 2: column 'input_per_mtok': 'five' is not a valid float"),
        ("prices", "gpt-4o,2024-07-01", "gpt-4o,2024-13-01", r"line 2: column 'observed': '2024-13-01' is not a valid date"),
        ("prices", ",S4,,,\n", ",S7,,,\n", r"line 2: source_id 'S7' is not in sources\.csv"),
        ("prices", ",S4,,,\n", ",blog,,,\n", r"line 2: source_id 'blog' is neither a source id"),
        ("prices", ",0.5,272000,4,15,", ",1.5,272000,4,15,", r"column 'batch_multiplier' must be at most 1"),
        ("prices", ",0.5,272000,4,15,", ",0.5,272000,1,15,", r"long_input_per_mtok 1.0 is below input_per_mtok 2.0"),
        ("prices", ",0.5,272000,4,15,", ",0.5,,4,15,",
         r"column 'long_context_above' is empty but required when 'long_input_per_mtok' is given"),
        ("prices", ",2.5,5,30m;12h,", ",2.5,5,,", r"column 'cache_ttls' is empty but required"),
        ("prices", "30m;12h", "30 minutes", r"column 'cache_ttls': '30 minutes' is not a ttls"),
        ("prices", ',2026-12-01,false,"Model page: input $2,', ',,false,"Model page: input $2,',
         r"column 'read_on' is empty but required when 'third_party' is given"),
        ("prices", ',2026-12-01,false,"Model page: input $2,', ',,,"Model page: input $2,',
         r"column 'read_on' is empty but required for a row citing a web page"),
        ("prices", "gpt-4o,2024-07-01", "gpt-4z,2024-07-01", r"line 2: model_id 'gpt-4z' is not in models\.csv"),
        ("prices", "model_id,observed", "model,observed", r"prices\.csv, line 1: header does not match"),
        ("scores", "MMLU,gpt-4o,accuracy,88.7,percent,S4,,", "MMLU,gpt-4o,accuracy,88.7,percent,S4,", r"scores\.csv, line 3: expected 8 fields, found 7"),
        ("scores", "MMLU,gpt-4o,accuracy,88.7,percent,S4,", "MMLU,gpt-4o,accuracy,88.7,points,S4,", r"line 3: column 'unit': 'points' is not one of"),
        ("scores", "qwen2.5-coder-1.5b-instruct,accuracy,70.7,percent,S5,2026-12-01",
         "qwen2.5-coder-1.5b-instruct,accuracy,70.7,percent,S5,2026-12-32", r"column 'checked': '2026-12-32' is not a valid date"),
        ("models", "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "cc324af070c2",
         r"models\.csv, line 19: column 'gguf_sha256': 'cc324af070c2' is not a sha256"),
        ("models", "Q4_K_M,1117320768,", "Q4_K_M,,", r"line 19: column 'file_bytes' is empty but required when 'gguf_sha256' is given"),
        ("models", "Apache-2.0,https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct,1,",
         "Apache-2.0,huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct,1,", r"column 'upstream_url': 'huggingface\.co/.*' is not a url"),
        ("models", ",temperature;top_p;top_k,", ",temperature;top-p,", r"column 'rejects_params': 'top-p' is not one of temperature, top_p"),
        ("models", "top_k,https://platform.claude.com/docs/en/about-claude/models/migration-guide#migrating-to-claude-opus-4-7,S2",
         "top_k,,S2", r"column 'params_source' is empty but required when 'rejects_params' is given"),
        ("benchmarks", "HumanEval+,coding,164,", "HumanEval+,coding,0,", r"benchmarks\.csv, line \d+: column 'n_items' must be positive"),
        ("models", "gpt-4o,openai,", "gpt-4o,openia,", r"models\.csv, line 2: column 'provider': 'openia'"),
        ("models", "GPT-4o,2024,128000", "GPT-4o,mid-2024,128000", r"column 'release': 'mid-2024' is not a partial date"),
        ("models", ",text+audio,", ",text and audio,", r"column 'output': 'text and audio' is not a modalities"),
        ("retirements", ",2027-01-14,gpt-6-luna,", ",2027-01-14,gpt-6-lunar,",
         r"retirements\.csv, line 2: replacement: 'gpt-6-lunar' is not in models\.csv"),
        ("retirements", ",2027-01-14,gpt-6-luna,", ",2027-01-14,gpt-4o,", r"'gpt-4o' names itself as its replacement"),
        ("retirements", "gpt-4o,deprecated,", "gpt-4o,sunset,", r"column 'status': 'sunset' is not one of active"),
        ("retirements", ",2026-06-11,2026-12-11,", ",2026-12-12,2026-12-11,",
         r"deprecated_on 2026-12-12 is after retired_on 2026-12-11"),
        ("unit_prices", ",image,1024x1024 standard,0.04,", ",frame,1024x1024 standard,0.04,",
         r"unit_prices\.csv, line 2: column 'unit': 'frame' is not one of image"),
        ("models", "gpt-4o-mini,openai,GPT,GPT-4o mini", "gpt-4o,openai,GPT,GPT-4o mini", r"models\.csv, line 3: duplicate key \{'model_id': 'gpt-4o'\} \(first seen on line 2\)"),
    ],
)
def test_a_broken_file_names_file_line_and_reason(data_copy: Path, table: str, old: str, new: str, message: str) -> None:
    _corrupt(data_copy, table, old, new)
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.load(table, data_dir=data_copy)


def test_duplicate_price_observation_is_refused(data_copy: Path) -> None:
    _corrupt(data_copy, "prices", "gpt-4o,2024-11-15,November 2024,5.00,15.00,,,,,,,,,,,,,,,,S1",
             "gpt-4o,2024-11-15,November 2024,5.00,15.00,,,,,,,,,,,,,,,,S0")
    with pytest.raises(catalog.CatalogError, match=r"line 4: duplicate key .*first seen on line 3"):
        catalog.load("prices", data_dir=data_copy)


def test_missing_file_and_unknown_table(tmp_path: Path) -> None:
    with pytest.raises(catalog.CatalogError, match=r"sources\.csv: file not found"):
        catalog.load("sources", data_dir=tmp_path)
    with pytest.raises(catalog.UnknownNameError, match="name: unknown table 'price'"):
        catalog.load("price")


def test_load_returns_a_copy() -> None:
    a = catalog.prices()
    a.loc[0, "input_per_mtok"] = 999.0
    assert catalog.prices().loc[0, "input_per_mtok"] != 999.0
