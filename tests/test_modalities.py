"""workbench.modalities: the modality matrix, the context and output limits and the media limits follow data/."""
from __future__ import annotations

import pandas as pd
import pytest
from workbench import catalog, modalities


def test_default_models_are_those_with_a_stated_media_input():
    table = catalog.models().set_index("model_id")
    ids = modalities.models_with_modality_data()
    media = ["input_image", "input_audio", "input_video"]
    expected = set(table.index[table[media].notna().any(axis=1)])
    assert set(ids) == expected
    assert "gpt-4o" in ids and "gpt-4o-mini" not in ids  # mini: only a price is stated
    # provider order: every openai model before every anthropic one
    providers = [table.loc[m, "provider"] for m in ids]
    assert providers == sorted(providers, key=modalities.PROVIDER_ORDER.index)


def test_select_models_names_the_bad_parameter():
    with pytest.raises(catalog.UnknownNameError, match=r"models: unknown model 'gpt-9'"):
        modalities.select_models(["gpt-9"])
    with pytest.raises(catalog.UnknownNameError, match=r"providers: unknown provider 'openia'"):
        modalities.select_models(None, ["openia"])
    with pytest.raises(ValueError, match="models: no model left"):
        modalities.select_models(["gpt-4o"], ["google"])


def test_select_models_filters_by_provider_and_keeps_order():
    ids = modalities.select_models(None, ["google"])
    assert ids and all(catalog.provider_of(m) == "google" for m in ids)
    assert modalities.select_models(["gpt-5.5", "gpt-4o", "gpt-5.5"]) == ["gpt-5.5", "gpt-4o"]


def test_matrix_matches_the_catalog_and_keeps_unknown_apart_from_no():
    matrix = modalities.modality_matrix()
    table = catalog.models().set_index("model_id")
    for model_id, row in matrix.iterrows():
        for m in modalities.MODALITIES:
            stated = table.loc[model_id, f"input_{m}"]
            assert (pd.isna(row[m]) and pd.isna(stated)) or bool(row[m]) == bool(stated)
    assert matrix.loc["gpt-4o", "audio"] == True
    assert matrix.loc["claude-opus-4-7", "audio"] == False
    assert pd.isna(matrix.loc["qwen2.5-vl-72b", "audio"])


def test_modality_counts_add_up():
    matrix = modalities.modality_matrix(providers=["google", "anthropic"])
    counts = modalities.modality_counts(matrix)
    assert list(counts.index) == list(modalities.MODALITIES)
    assert (counts[["yes", "no", "not stated"]].sum(axis=1) == len(matrix)).all()
    gemini = matrix[matrix["provider"] == "google"]
    assert counts.loc["video", "yes"] == int(gemini["video"].fillna(False).astype(bool).sum()) > 0
    with pytest.raises(ValueError, match="matrix: missing modality columns"):
        modalities.modality_counts(matrix.drop(columns=["video"]))


def test_limits_table_sorted_and_derived():
    table = modalities.limits_table()
    assert "gpt-4o-mini" not in table.index  # no limits stated
    ctx = table["context_window"].dropna().astype(int).tolist()
    assert ctx == sorted(ctx, reverse=True)
    assert table.loc["gpt-4o", "output_share"] == round(16_000 / 128_000, 3)
    assert pd.isna(table.loc["claude-3-5-sonnet-20240620", "output_share"])


def test_media_limits_come_from_limits_csv():
    table = modalities.media_limits()
    assert len(table) == len(catalog.limits())
    row = table[(table["model_id"] == "claude-opus-4-7") & (table["limit"] == "images per message")]
    assert row["value"].iloc[0] == 30
    assert modalities.media_limits(["gpt-4o"]).empty
