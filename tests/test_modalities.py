"""The modality matrix, the limits comparison and the pipeline diagram follow data/models.csv."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from workbench import catalog, modalities


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("n, text", [(8192, "8.19K"), (128_000, "128K"), (1_050_000, "1.05M"),
                                     (2_000_000, "2M"), (65_000, "65K"), (512, "512"), (None, "not stated")])
def test_format_tokens(n, text):
    assert modalities.format_tokens(n) == text


def test_format_tokens_rejects_negative():
    with pytest.raises(ValueError, match="n must be"):
        modalities.format_tokens(-1)


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


def test_matrix_figure_writes_every_cell_in_words():
    matrix = modalities.modality_matrix(["gpt-4o", "qwen2.5-vl-72b"])
    fig = modalities.plot_modality_matrix(matrix)
    texts = [t.get_text() for t in fig.axes[0].texts]
    # gpt-4o: yes yes yes no; qwen: yes yes ? ?
    assert texts[:8] == ["yes", "yes", "yes", "no", "yes", "yes", "?", "?"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["GPT-4o", "Qwen2.5-VL 72B"]


def test_limits_table_sorted_and_derived():
    table = modalities.limits_table()
    assert "gpt-4o-mini" not in table.index  # no limits stated
    ctx = table["context_window"].dropna().astype(int).tolist()
    assert ctx == sorted(ctx, reverse=True)
    assert table.loc["gpt-4o", "output_share"] == round(16_000 / 128_000, 3)
    assert pd.isna(table.loc["claude-3-5-sonnet-20240620", "output_share"])


def test_limits_figure_is_log_scale_and_labels_values():
    table = modalities.limits_table(["gpt-4o", "gemini-3.1-pro-preview", "llama-3.1-8b"])
    fig = modalities.plot_limits(table)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    texts = {t.get_text() for t in ax.texts}
    assert {"2M", "65K", "128K", "16K", "max output not stated"} <= texts


def test_media_limits_come_from_limits_csv():
    table = modalities.media_limits()
    assert len(table) == len(catalog.limits())
    row = table[(table["model_id"] == "claude-opus-4-7") & (table["limit"] == "images per message")]
    assert row["value"].iloc[0] == 30
    assert modalities.media_limits(["gpt-4o"]).empty


def test_pipelines_line_up_column_by_column():
    common = modalities.common_pipeline()
    local = modalities.local_pipeline("TinyLM", whisper_model="Whisper tiny.en", ocr_engine="RapidOCR",
                                      max_frames=7)
    assert len(common) == len(local) == 6
    assert [len(s.boxes) for s in common] == [len(s.boxes) for s in local]
    assert "≤ 7 frames" in local[1].boxes[3] and "Whisper tiny.en" in local[1].boxes[2]
    with pytest.raises(ValueError, match="model_name"):
        modalities.local_pipeline("  ")
    with pytest.raises(ValueError, match="max_frames"):
        modalities.local_pipeline("TinyLM", max_frames=0)


def test_pipeline_diagram_draws_both_rows():
    fig = modalities.draw_pipeline("SmolLM2-135M-Instruct (Q4_1 GGUF, llama.cpp)", whisper_model="Whisper tiny.en")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "cross-attention" in texts and "Whisper tiny.en" in texts and "SmolLM2" in texts
    assert "stand-in" in texts
    assert len(fig.axes[0].patches) >= 2 * 12  # 4 inputs + 4 encoders/adapters + 4 shared per row
