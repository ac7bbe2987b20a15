"""Which model takes which input, and how much one request can carry: the modality facts of the catalog.

Everything here reads ``data/models.csv`` and ``data/limits.csv`` through :mod:`workbench.catalog`:

* :func:`select_models` validates a notebook's ``models`` / ``providers`` parameters;
* :func:`modality_matrix` / :func:`modality_counts`: accepted inputs per model, with "not stated" kept
  apart from "no";
* :func:`limits_table`: context window and maximum output per model;
* :func:`media_limits`: stated per-request media limits (image size, images per message, ...).

The figures drawn from these tables are in :mod:`workbench.modality_figures`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import catalog

__all__ = [
    "MODALITIES",
    "PROVIDER_ORDER",
    "limits_table",
    "media_limits",
    "modality_counts",
    "modality_matrix",
    "models_with_modality_data",
    "select_models",
]

#: The input modalities the catalog records (columns ``input_<modality>`` of models.csv).
MODALITIES: tuple[str, ...] = ("text", "image", "audio", "video")

#: Display order of providers (closed APIs first, then open weights).
PROVIDER_ORDER: tuple[str, ...] = ("openai", "anthropic", "google", "meta", "alibaba", "huggingface", "zhipu", "allenai",
                                   "opengvlab", "stability")


def _modality_columns() -> list[str]:
    return [f"input_{m}" for m in MODALITIES]


def models_with_modality_data(providers: Sequence[str] | str | None = None, *,
                              articles_only: bool = False) -> list[str]:
    """Catalog model ids with at least one stated non-text input (image, audio or video: yes or no).

    Models whose only known fact is a price (no modality stated) are left out. ``articles_only`` keeps the
    models the source articles describe (rows sourced S0-S4) and the local open models, leaving out the
    rest of today's line-up (chapter 08 lists it). Order: provider (:data:`PROVIDER_ORDER`), then catalog
    order.
    """
    table = catalog.models()
    if articles_only:
        from_articles = table["source_id"].astype(str).str.fullmatch(r"S[0-4]")
        table = table[from_articles | table["model_id"].isin(catalog.local_models())]
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
        models: catalog model ids, or None for every model the articles describe with modality data, and
            the local open models (:func:`models_with_modality_data` with ``articles_only``).
        providers: provider names to keep, or None for all.

    Raises:
        catalog.UnknownNameError: an unknown model id (naming ``models``) or provider
            (naming ``providers``).
        ValueError: the two parameters together leave no model.
    """
    wanted = None if providers is None else catalog.check_providers(providers, param="providers")
    if models is None:
        ids = models_with_modality_data(articles_only=True)
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
