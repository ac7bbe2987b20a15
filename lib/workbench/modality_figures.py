"""Figures of the modality facts: the input matrix, the context and output limits, and the pipeline diagram.

* :func:`plot_modality_matrix` - accepted inputs per model as a yes / no / not-stated grid (from
  :func:`workbench.modalities.modality_matrix`);
* :func:`plot_limits` - context window and maximum output per model, log scale (from
  :func:`workbench.modalities.limits_table`);
* :func:`draw_pipeline` - the common multimodal pattern (S2) above this workbook's local stand-in, drawn
  with matplotlib patches (no image files); :func:`common_pipeline` and :func:`local_pipeline` give the
  columns of each row as :class:`Stage` objects.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

from . import fmt, params, plots
from .modalities import MODALITIES

__all__ = ["Stage", "common_pipeline", "draw_pipeline", "local_pipeline", "plot_limits", "plot_modality_matrix"]

_STATE_LABELS = ("not stated", "no", "yes")  # codes -1, 0, 1 -> 0, 1, 2 after shifting
_STATE_COLORS = ("#ffffff", "#e6e6e6", "#2b8a6e")


def _short_source(source: str) -> str:
    """'S1' stays 'S1'; a URL becomes its host (e.g. 'huggingface.co')."""
    source = str(source)
    if source.startswith("http"):
        return source.split("/")[2]
    return source


def plot_modality_matrix(matrix: pd.DataFrame) -> plt.Figure:
    """Draw ``matrix`` (from :func:`modality_matrix`) as a yes / no / not-stated grid.

    Each row is a model, labelled with its name and coloured by provider; each cell says its state
    in words, so the figure reads without colour too. The source of each row is printed at the
    right.
    """
    if matrix.empty:
        raise ValueError("matrix: no models to draw")
    codes = np.stack([
        matrix[m].map(lambda v: -1 if pd.isna(v) else int(bool(v))).to_numpy(dtype=int)
        for m in MODALITIES
    ], axis=1) + 1
    n_rows = len(matrix)
    fig, ax = plt.subplots(figsize=(7.8, 0.42 * n_rows + 1.6))
    ax.imshow(codes, cmap=ListedColormap(_STATE_COLORS), vmin=0, vmax=2, aspect="auto")
    for i in range(n_rows):
        for j in range(len(MODALITIES)):
            code = codes[i, j]
            ax.text(j, i, "?" if code == 0 else _STATE_LABELS[code], ha="center", va="center",
                    fontsize=9, color="white" if code == 2 else "#444444")
    ax.set_xticks(range(len(MODALITIES)), [m.capitalize() for m in MODALITIES])
    ax.xaxis.tick_top()
    ax.set_yticks(range(n_rows), list(matrix["name"].astype(str)))
    for label, provider in zip(ax.get_yticklabels(), matrix["provider"]):
        label.set_color(plots.provider_color(str(provider)))
        label.set_fontweight("bold")
    ax.set_xticks(np.arange(-0.5, len(MODALITIES)), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
    ax.grid(False)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="both", length=0)
    for i, src in enumerate(matrix["source_id"]):
        ax.text(len(MODALITIES) - 0.4, i, _short_source(src), ha="left", va="center", fontsize=8,
                color="#666666")
    ax.text(len(MODALITIES) - 0.4, -0.75, "source", ha="left", va="center", fontsize=8,
            color="#666666", style="italic")
    handles = [Patch(facecolor=c, edgecolor="#999999", label=lab)
               for c, lab in zip(_STATE_COLORS[::-1], ("accepted", "not accepted", "not stated (?)"))]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3,
              frameon=False, fontsize=9)
    ax.set_title("Inputs each model accepts, as the sources state them", pad=28)
    fig.tight_layout()
    return fig


def plot_limits(table: pd.DataFrame) -> plt.Figure:
    """Context window and maximum output per model as paired horizontal bars on a log axis.

    ``table`` comes from :func:`limits_table`. Bars are coloured by provider (context solid,
    output hatched); every bar carries its value, and a missing maximum output is labelled
    "max output not stated".
    """
    if table.empty:
        raise ValueError("table: no model states a context window or maximum output")
    n = len(table)
    fig, ax = plt.subplots(figsize=(9, 0.55 * n + 1.4))
    y = np.arange(n)
    h = 0.38
    top = float(np.nanmax(table[["context_window", "max_output"]].astype("Float64").to_numpy(
        dtype=float, na_value=np.nan)))
    for i, (_, row) in enumerate(table.iterrows()):
        color = plots.provider_color(str(row["provider"]))
        for offset, col, hatch in ((-h / 2, "context_window", None), (h / 2, "max_output", "///")):
            value = row[col]
            if pd.isna(value):
                ax.text(1.2e3, y[i] + offset, f"{col.replace('_', ' ')} not stated", va="center",
                        fontsize=8, color="#777777", style="italic")
                continue
            ax.barh(y[i] + offset, float(value), height=h, color=color if hatch is None else "white",
                    edgecolor=color, hatch=hatch, linewidth=1.2)
            ax.text(float(value) * 1.08, y[i] + offset, fmt.tokens(value, na="not stated"), va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(1e3, top * 4)
    ax.set_yticks(y, list(table["name"].astype(str)))
    for label, provider in zip(ax.get_yticklabels(), table["provider"]):
        label.set_color(plots.provider_color(str(provider)))
    ax.invert_yaxis()
    ax.set_xlabel("tokens (log scale)")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt.tokens(v)))
    ax.legend(handles=[Patch(facecolor="#777777", label="context window"),
                       Patch(facecolor="white", edgecolor="#777777", hatch="///",
                             label="maximum output")],
              loc="lower right", fontsize=9, frameon=True)
    ax.set_title("Context window and maximum output (tokens)")
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Stage:
    """One column of a pipeline diagram: a title and either one box per input or one shared box."""

    title: str
    boxes: tuple[str, ...]

    @property
    def shared(self) -> bool:
        """True when every input flows into one box at this stage."""
        return len(self.boxes) == 1


def common_pipeline() -> list[Stage]:
    """The common multimodal pattern described by S2, one :class:`Stage` per column."""
    return [
        Stage("input", ("text", "image", "audio", "video")),
        Stage("modality encoder", ("text\ntransformer", "vision encoder\n(ViT / ConvNeXt)",
                                   "audio encoder\n(Whisper / Conformer)",
                                   "video encoder\n(3D-CNN + temporal)")),
        Stage("projection", ("projection into\na shared\nembedding\nspace",)),
        Stage("fusion", ("fusion\n(cross-attention)",)),
        Stage("language model", ("language\nmodel",)),
        Stage("output", ("text /\nJSON /\ncode",)),
    ]


def local_pipeline(model_name: str, *, whisper_model: str = "Whisper", ocr_engine: str = "OCR",
                   max_frames: int = 10) -> list[Stage]:
    """This workbook's offline stand-in, laid out in the same columns as :func:`common_pipeline`.

    Args:
        model_name: the text-only model behind the local backend (e.g. from the catalog).
        whisper_model: the speech-to-text model that turns audio into a transcript.
        ocr_engine: the OCR engine that reads images and video frames.
        max_frames: how many frames are sampled from a video.
    """
    if not isinstance(model_name, str) or not model_name.strip():
        raise params.ParameterError("model_name", "the name of the local model", model_name)
    max_frames = params.count(max_frames, "max_frames")
    return [
        Stage("input", ("text", "image", "audio", "video")),
        Stage("media adapter (gateway)", ("passed\nthrough", f"{ocr_engine}\ntext + image size",
                                          f"{whisper_model}\ntranscript",
                                          f"≤ {max_frames} frames\nsampled, each\nread by {ocr_engine}")),
        Stage("instead of projection", ("everything\nis now\nplain text",)),
        Stage("instead of fusion", ("one prompt\n(text blocks\nconcatenated)",)),
        Stage("language model", (f"{_wrap_name(model_name)}\n\ntext only,\nsmall, local",)),
        Stage("output", ("text",)),
    ]


def _wrap_name(name: str, width: int = 16) -> str:
    """Break a long model name (after hyphens or spaces) so it fits a diagram box."""
    return textwrap.fill(name, width=width, break_on_hyphens=True)


def _draw_row(ax: plt.Axes, stages: list[Stage], y0: float, height: float, color: str,
              title: str) -> None:
    """Draw one pipeline (columns of boxes joined by arrows) in the band [y0, y0 + height]."""
    n_cols = len(stages)
    col_w = 1.0 / n_cols
    box_w = col_w * 0.78
    n_in = max(len(s.boxes) for s in stages)
    lane_h = height / n_in
    ax.text(0.0, y0 + height + 0.035, title, fontsize=12, fontweight="bold", ha="left", va="bottom")
    centers: list[list[tuple[float, float]]] = []
    for c, stage in enumerate(stages):
        x = c * col_w + (col_w - box_w) / 2
        ax.text(x + box_w / 2, y0 + height + 0.005, stage.title, ha="center", va="bottom",
                fontsize=8, color="#666666", style="italic")
        col: list[tuple[float, float]] = []
        if stage.shared:
            ax.add_patch(FancyBboxPatch((x, y0 + 0.01), box_w, height - 0.02,
                                        boxstyle="round,pad=0.004,rounding_size=0.012",
                                        facecolor=to_rgba(color, 0.16 + 0.12 * c / n_cols),
                                        edgecolor=color, linewidth=1.4))
            ax.text(x + box_w / 2, y0 + height / 2, stage.boxes[0], ha="center", va="center",
                    fontsize=9)
            col = [(x, y0 + height / 2)] * n_in
        else:
            for r, label in enumerate(stage.boxes):
                yb = y0 + height - (r + 1) * lane_h
                ax.add_patch(FancyBboxPatch((x, yb + 0.012), box_w, lane_h - 0.024,
                                            boxstyle="round,pad=0.004,rounding_size=0.012",
                                            facecolor="white" if c == 0 else to_rgba(color, 0.14),
                                            edgecolor=color, linewidth=1.2))
                ax.text(x + box_w / 2, yb + lane_h / 2, label, ha="center", va="center",
                        fontsize=8.5 if c else 9.5, fontweight="bold" if c == 0 else "normal")
                col.append((x, yb + lane_h / 2))
        centers.append(col)
    for c in range(n_cols - 1):
        left, right = centers[c], centers[c + 1]
        pairs = set(zip(left, right)) if len(set(left)) > 1 else {(left[0], right[0])}
        for (xl, yl), (xr, yr) in pairs:
            ax.annotate("", xy=(xr, yr), xytext=(xl + box_w, yl),
                        arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.0,
                                    "shrinkA": 1, "shrinkB": 1})


def draw_pipeline(local_model: str, *, whisper_model: str = "Whisper", ocr_engine: str = "OCR",
                  max_frames: int = 10) -> plt.Figure:
    """Draw the common multimodal pipeline (top) above this workbook's local stand-in (bottom).

    Both rows share the same columns, so each step of a native multimodal model sits above what
    the offline stand-in does instead. Arguments as in :func:`local_pipeline`.
    """
    common = common_pipeline()
    local = local_pipeline(local_model, whisper_model=whisper_model, ocr_engine=ocr_engine,
                           max_frames=max_frames)
    fig, ax = plt.subplots(figsize=(12, 8.2))
    ax.set_xlim(-0.005, 1.005)
    ax.set_ylim(0, 1.0)
    ax.axis("off")
    _draw_row(ax, common, 0.55, 0.36, "#3b6fb6",
              "The common pattern of native multimodal models (S2)")
    _draw_row(ax, local, 0.05, 0.36, "#8c8c8c",
              "This workbook's offline stand-in (a small local substitute, not a multimodal model)")
    ax.add_patch(Rectangle((0, 0.495), 1, 0.002, color="#cccccc"))
    fig.tight_layout()
    return fig
