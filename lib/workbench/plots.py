"""One figure style for the whole workbook, and one way to save figures.

Importing this module applies the style (seaborn's whitegrid theme, readable sizes). Figures are saved
with :func:`save` under ``figures/`` with a stable name, as PNG (for the PDF) and SVG (for the HTML).
"""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from . import paths

__all__ = ["PROVIDER_COLORS", "provider_color", "save", "use_style"]

#: One colour per provider, used by every chapter so a provider looks the same everywhere.
PROVIDER_COLORS: dict[str, str] = {
    "openai": "#10a37f",
    "anthropic": "#d97757",
    "google": "#4285f4",
    "meta": "#7f58c9",
    "alibaba": "#ff9f1c",
    "huggingface": "#8c8c8c",
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def use_style() -> None:
    """Apply the workbook's figure style (called on import)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({
        "figure.figsize": (8, 4.5),
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "svg.fonttype": "none",
    })


def provider_color(provider: str) -> str:
    """The colour of a provider (grey for an unknown one)."""
    return PROVIDER_COLORS.get(provider, "#555555")


def save(fig: plt.Figure, name: str, *, folder: Path | None = None) -> Path:
    """Save ``fig`` as ``figures/NAME.png`` and ``figures/NAME.svg``; return the PNG path.

    ``name`` must be a lowercase slug (letters, digits, ``_`` and ``-``), conventionally prefixed with the
    chapter number, e.g. ``"08_price_history"``.
    """
    if not _NAME.match(name):
        raise ValueError(f"name: {name!r} is not a lowercase slug like '08_price_history'")
    out = Path(folder) if folder is not None else paths.FIGURES
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png)
    fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    return png


use_style()
