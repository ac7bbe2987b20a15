"""Which model takes which input, how big its context and output are, and how inputs flow.

Everything here reads ``data/models.csv`` and ``data/limits.csv`` through :mod:`workbench.catalog`:

* :func:`select_models` validates a notebook's ``models`` / ``providers`` parameters;
* :func:`modality_matrix` / :func:`plot_modality_matrix`: accepted inputs per model, with
  "not stated" kept apart from "no";
* :func:`limits_table` / :func:`plot_limits`: context window and maximum output, log scale;
* :func:`media_limits`: stated per-request media limits (image size, images per message, ...);
* :func:`draw_pipeline`: the common multimodal pattern next to this workbook's local stand-in,
  drawn with matplotlib patches (no image files).
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

from . import catalog, plots

__all__ = [
    "MODALITIES",
    "PROVIDER_ORDER",
    "Stage",
    "common_pipeline",
    "draw_pipeline",
    "format_tokens",
    "limits_table",
    "local_pipeline",
    "media_limits",
    "modality_counts",
    "modality_matrix",
    "models_with_modality_data",
    "plot_limits",
    "plot_modality_matrix",
    "select_models",
]

#: The input modalities the catalog records (columns ``input_<modality>`` of models.csv).
MODALITIES: tuple[str, ...] = ("text", "image", "audio", "video")

#: Display order of providers (closed APIs first, then open weights).
PROVIDER_ORDER: tuple[str, ...] = ("openai", "anthropic", "google", "meta", "alibaba", "huggingface")

_STATE_LABELS = ("not stated", "no", "yes")  # codes -1, 0, 1 -> 0, 1, 2 after shifting
_STATE_COLORS = ("#ffffff", "#e6e6e6", "#2b8a6e")


def format_tokens(n: float | None) -> str:
    """A token count the way people say it: 8192 -> '8.2K', 128000 -> '128K', 1050000 -> '1.05M'.

    Missing values (None / NaN / pandas NA) give ``"not stated"``.
    """
    if n is None or pd.isna(n):
        return "not stated"
    value = float(n)
    if value < 0:
        raise ValueError(f"n must be a non-negative token count, got {n!r}")
    for div, suffix in ((1e6, "M"), (1e3, "K")):
        if value >= div:
            text = f"{value / div:.2f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:.0f}"


def _modality_columns() -> list[str]:
    return [f"input_{m}" for m in MODALITIES]


def models_with_modality_data(providers: Sequence[str] | str | None = None) -> list[str]:
    """Catalog model ids with at least one stated non-text input (image, audio or video: yes or no).

    Models whose only known fact is a price (no modality stated) are left out. Order: provider
    (:data:`PROVIDER_ORDER`), then catalog order.
    """
    table = catalog.models()
    if providers is not None:
        table = table[table["provider"].isin(catalog.check_providers(providers, param="providers"))]
    media = [f"input_{m}" for m in MODALITIES if m != "text"]
    table = table[table[media].notna().any(axis=1)]
    return list(_ordered(table)["model_id"])


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    rank = {p: i for i, p in enumerate(PROVIDER_ORDER)}
    key = table["provider"].map(lambda p: rank.get(str(p), len(rank)))
    return table.assign(_rank=key.to_numpy(), _pos=np.arange(len(table))).sort_values(
        ["_rank", "_pos"]).drop(columns=["_rank", "_pos"])


def select_models(models: Sequence[str] | str | None = None,
                  providers: Sequence[str] | str | None = None) -> list[str]:
    """Validate a notebook's ``models`` and ``providers`` parameters and return the model ids.

    Args:
        models: catalog model ids, or None for every model with modality data
            (:func:`models_with_modality_data`).
        providers: provider names to keep, or None for all.

    Raises:
        catalog.UnknownNameError: an unknown model id (naming ``models``) or provider
            (naming ``providers``).
        ValueError: the two parameters together leave no model.
    """
    wanted = None if providers is None else catalog.check_providers(providers, param="providers")
    if models is None:
        ids = models_with_modality_data()
    else:
        ids = list(dict.fromkeys(catalog.check_models(models, param="models")))
    if wanted is not None:
        table = catalog.models().set_index("model_id")
        ids = [m for m in ids if table.loc[m, "provider"] in wanted]
    if not ids:
        raise ValueError(f"models: no model left after keeping providers={list(wanted or [])!r} "
                         f"(models={models!r})")
    return ids


def modality_matrix(models: Sequence[str] | str | None = None,
                    providers: Sequence[str] | str | None = None) -> pd.DataFrame:
    """Accepted inputs per model, one row per model (index ``model_id``).

    Columns: ``name``, ``provider``, ``family``, ``open_weights``, ``source_id``, then one nullable
    boolean column per modality in :data:`MODALITIES` (True accepted, False not accepted, <NA>
    not stated by any source). Rows in provider order. Parameters as in :func:`select_models`.
    """
    ids = select_models(models, providers)
    table = catalog.models().set_index("model_id").loc[ids]
    out = table[["name", "provider", "family", "open_weights", "source_id"]].copy()
    for m in MODALITIES:
        out[m] = table[f"input_{m}"].astype("boolean")
    return _ordered(out.reset_index()).set_index("model_id")


def modality_counts(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per modality: how many models of ``matrix`` accept it, do not, or have it not stated.

    Returns a frame indexed by modality with integer columns ``yes``, ``no``, ``not stated`` and
    a string column ``models_yes`` listing the display names that accept it.
    """
    missing = [m for m in MODALITIES if m not in matrix.columns]
    if missing:
        raise ValueError(f"matrix: missing modality columns {missing}; build it with modality_matrix()")
    rows = {}
    for m in MODALITIES:
        col = matrix[m]
        rows[m] = {
            "yes": int((col == True).sum()),
            "no": int((col == False).sum()),
            "not stated": int(col.isna().sum()),
            "models_yes": ", ".join(matrix.loc[col.fillna(False).astype(bool), "name"].astype(str)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


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


def limits_table(models: Sequence[str] | str | None = None,
                 providers: Sequence[str] | str | None = None) -> pd.DataFrame:
    """Context window and maximum output (tokens) of the selected models that state either.

    Returns one row per model (index ``model_id``) with ``name``, ``provider``, ``context_window``,
    ``max_output`` (nullable Int64), ``output_share`` (max output as a fraction of the context
    window), ``source_id`` and ``notes``; sorted by context window, largest first.
    """
    ids = select_models(models, providers)
    table = catalog.models().set_index("model_id").loc[ids]
    table = table[table["context_window"].notna() | table["max_output"].notna()]
    out = table[["name", "provider", "context_window", "max_output", "source_id", "notes"]].copy()
    out.insert(4, "output_share", (out["max_output"].astype("Float64")
                                   / out["context_window"].astype("Float64")).round(3))
    return out.sort_values(["context_window", "max_output"], ascending=False, na_position="last")


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
            ax.text(float(value) * 1.08, y[i] + offset, format_tokens(value), va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(1e3, top * 4)
    ax.set_yticks(y, list(table["name"].astype(str)))
    for label, provider in zip(ax.get_yticklabels(), table["provider"]):
        label.set_color(plots.provider_color(str(provider)))
    ax.invert_yaxis()
    ax.set_xlabel("tokens (log scale)")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: format_tokens(v)))
    ax.legend(handles=[Patch(facecolor="#777777", label="context window"),
                       Patch(facecolor="white", edgecolor="#777777", hatch="///",
                             label="maximum output")],
              loc="lower right", fontsize=9, frameon=True)
    ax.set_title("Context window and maximum output (tokens)")
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def media_limits(models: Sequence[str] | str | None = None,
                 providers: Sequence[str] | str | None = None) -> pd.DataFrame:
    """Stated per-request media limits (``data/limits.csv``) for the selected models.

    Columns: ``name``, ``provider``, ``limit`` (words instead of snake case), ``value``, ``unit``,
    ``source_id``, ``notes``. Empty when no selected model has a stated limit.
    """
    ids = select_models(models, providers)
    lim = catalog.limits()
    lim = lim[lim["model_id"].isin(ids)]
    names = catalog.models().set_index("model_id")
    out = pd.DataFrame({
        "model_id": lim["model_id"],
        "name": lim["model_id"].map(names["name"]),
        "provider": lim["model_id"].map(names["provider"]),
        "limit": lim["limit"].str.replace("_", " "),
        "value": lim["value"],
        "unit": lim["unit"],
        "source_id": lim["source_id"],
        "notes": lim["notes"],
    })
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The pipeline diagram
# --------------------------------------------------------------------------------------------
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
        raise ValueError(f"model_name must be a non-empty string, got {model_name!r}")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a positive integer, got {max_frames!r}")
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
