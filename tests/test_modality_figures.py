"""workbench.modality_figures: the matrix grid, the limits bars and the pipeline diagram, drawn from data/."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from workbench import fmt, modalities, modality_figures


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("n, text", [(8192, "8.19K"), (128_000, "128K"), (1_050_000, "1.05M"), (999_999, "1M"),
                                     (2_000_000, "2M"), (65_000, "65K"), (512, "512"), (2.6e9, "2.6B")])
def test_token_counts_read_as_people_say_them(n, text):
    assert fmt.tokens(n) == text


def test_a_missing_token_count_says_so_and_a_negative_one_is_refused():
    assert fmt.tokens(None, na="not stated") == "not stated"
    with pytest.raises(ValueError, match="token count"):
        fmt.tokens(-1)


def test_matrix_figure_writes_every_cell_in_words():
    matrix = modalities.modality_matrix(["gpt-4o", "qwen2.5-vl-72b"])
    fig = modality_figures.plot_modality_matrix(matrix)
    texts = [t.get_text() for t in fig.axes[0].texts]
    # gpt-4o: yes yes yes no; qwen: yes yes ? ?
    assert texts[:8] == ["yes", "yes", "yes", "no", "yes", "yes", "?", "?"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["GPT-4o", "Qwen2.5-VL 72B"]


def test_limits_figure_is_log_scale_and_labels_values():
    table = modalities.limits_table(["gpt-4o", "gemini-3.1-pro-preview", "llama-3.1-8b"])
    fig = modality_figures.plot_limits(table)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    texts = {t.get_text() for t in ax.texts}
    assert {"2M", "65K", "128K", "16K", "max output not stated"} <= texts


def test_pipelines_line_up_column_by_column():
    common = modality_figures.common_pipeline()
    local = modality_figures.local_pipeline("TinyLM", whisper_model="Whisper tiny.en", ocr_engine="RapidOCR",
                                      max_frames=7)
    assert len(common) == len(local) == 6
    assert [len(s.boxes) for s in common] == [len(s.boxes) for s in local]
    assert "≤ 7 frames" in local[1].boxes[3] and "Whisper tiny.en" in local[1].boxes[2]
    with pytest.raises(ValueError, match="model_name"):
        modality_figures.local_pipeline("  ")
    with pytest.raises(ValueError, match="max_frames"):
        modality_figures.local_pipeline("TinyLM", max_frames=0)


def test_pipeline_diagram_draws_both_rows():
    fig = modality_figures.draw_pipeline("SmolLM2-135M-Instruct (Q4_1 GGUF, llama.cpp)", whisper_model="Whisper tiny.en")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "cross-attention" in texts and "Whisper tiny.en" in texts and "SmolLM2" in texts
    assert "stand-in" in texts
    assert len(fig.axes[0].patches) >= 2 * 12  # 4 inputs + 4 encoders/adapters + 4 shared per row
