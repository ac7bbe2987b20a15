"""One figure style for the whole workbook, and one way to save figures.

Importing this module applies the style (seaborn's whitegrid theme, readable sizes). Figures are saved
with :func:`save` under ``figures/`` with a stable name, as PNG (for the PDF) and SVG (for the HTML).
In a notebook, :func:`save` also shows the figure at once with its name and caption in the output's
metadata (``{"workbench": {"figure": NAME, "caption": ...}}``): the article numbers it per chapter
("Figure 7.2"), captions it, and gives it the anchor ``#fig-NAME`` that prose links to.
"""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from . import paths

__all__ = ["FIGURE_KEY", "PROVIDER_COLORS", "caption_of", "provider_color", "save", "use_style"]

#: Key of the output metadata that names a saved figure for the article's renderer.
FIGURE_KEY = "workbench"

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


def caption_of(fig: plt.Figure) -> str:
    """A figure's caption by default: the first line of its suptitle, else of its first axes title."""
    titles = [fig._suptitle.get_text() if fig._suptitle is not None else ""]
    titles += [ax.get_title(loc) for ax in fig.axes for loc in ("center", "left")]
    return next((t.strip().splitlines()[0] for t in titles if t and t.strip()), "")


def _show_in_notebook(fig: plt.Figure, name: str, caption: str) -> None:
    """In a notebook (inline backend): display ``fig`` now, its name and caption in the output metadata,
    and close it, so the ``plt.show()`` that follows in the chapters has nothing left to show twice."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return
    if get_ipython() is None or "inline" not in matplotlib.get_backend():
        return
    display(fig, metadata={FIGURE_KEY: {"figure": name, "caption": caption}})
    plt.close(fig)


def save(fig: plt.Figure, name: str, *, folder: Path | None = None, caption: str | None = None) -> Path:
    """Save ``fig`` as ``figures/NAME.png`` and ``figures/NAME.svg``; return the PNG path.

    ``name`` must be a lowercase slug (letters, digits, ``_`` and ``-``), conventionally prefixed with the
    chapter number, e.g. ``"08_price_history"``. In a notebook the figure is also displayed here, with
    ``name`` and ``caption`` (default: :func:`caption_of`) in the output metadata for the article.
    """
    if not _NAME.match(name):
        raise ValueError(f"name: {name!r} is not a lowercase slug like '08_price_history'")
    out = Path(folder) if folder is not None else paths.FIGURES
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png)
    fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    _show_in_notebook(fig, name, caption_of(fig) if caption is None else caption)
    return png


use_style()
