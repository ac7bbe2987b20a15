"""The local models the provider serves: one spec per catalog id, the stand-in setting, the memory budget.

Every open model of the catalog with a GGUF file (:func:`workbench.catalog.local_models`) is served by
its own llama.cpp engine (:mod:`workbench.local.engines`); a :class:`ModelSpec` says what that engine
needs to know before it starts: the catalog id, a readable name, the file's size and sha256 (from the
catalog), and its CPU threads (the catalog's measured ``local_threads`` unless overridden). The file
itself is found at start-up (:func:`workbench.assets.model_file`), or given (``--model PATH``).

The frontier model ids (GPT, Claude, Gemini) have no engine of their own: the **stand-in**, one of the
local models, answers them. Which one is a setting: ``stand_in=`` / ``--stand-in`` / the environment
variable :data:`STAND_IN_ENV`, else :data:`DEFAULT_STAND_IN`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .engine import DEFAULT_THREADS, MODEL_FILE, MODEL_NAME, EngineError

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "DEFAULT_STAND_IN",
    "STAND_IN_ENV",
    "ModelSpec",
    "catalog_id_for",
    "display_name",
    "file_spec",
    "local_specs",
    "memory_budget",
    "stand_in_setting",
]

#: The local model that answers the frontier ids unless a setting says otherwise. Chosen by measuring
#: chapter 02 (OpenAI's API tour, default parameters) with each local model as the stand-in, on this 2-core
#: machine while the ladder was being recorded (2026-12-01): SmolLM2-135M passed 3 of 12 answer checks in
#: 81 s, Qwen2.5-Coder-0.5B 10 of 12 in 242 s, Qwen2.5-Coder-1.5B 9 of 12 in 281 s. The 0.5B makes the
#: API chapters' answers right far more often at three times the time of every API chapter and every test
#: that calls a frontier id; the default stays the fastest, and a classroom that wants right answers sets
#: ``WORKBENCH_STAND_IN=qwen2.5-coder-0.5b-instruct`` (README, "Which model answers").
DEFAULT_STAND_IN = "smollm2-135m-instruct"
#: Environment variable naming the stand-in (a local model id), read when no ``stand_in`` is given.
STAND_IN_ENV = "WORKBENCH_STAND_IN"
#: Bytes of model files the provider keeps loaded at once (the three ladder files take about 1.6 GiB).
DEFAULT_MEMORY_BUDGET = 4 * 2**30

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}


@dataclass(frozen=True)
class ModelSpec:
    """What the engine of one local model id needs before it starts.

    ``path`` is None when the file is found at start-up through :func:`workbench.assets.model_file`;
    ``sha256`` is the catalog's (None for a file the catalog does not describe).
    """

    model_id: str
    model_name: str
    file_bytes: int | None
    sha256: str | None
    threads: int
    path: Path | None = None


def _local_rows() -> dict[str, dict[str, object]]:
    from workbench import catalog

    table = catalog.models().set_index("model_id")
    return {m: table.loc[m].to_dict() for m in catalog.local_models()}


def display_name(model_id: str) -> str:
    """The readable name of a local model: ``Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, llama.cpp)``.

    Raises:
        EngineError: ``model_id`` is not a local model (the message lists the local ids).
    """
    rows = _local_rows()
    if model_id not in rows:
        raise EngineError(f"model_id: {model_id!r} is not a local model; local models: {', '.join(rows)}")
    row = rows[model_id]
    return f"{str(row['name']).split(' (')[0]} ({row['quantization']} GGUF, llama.cpp)"


def local_specs(threads: int | None = None) -> dict[str, ModelSpec]:
    """A spec for every local model of the catalog, smallest first.

    ``threads`` overrides every model's thread count; None takes the catalog's measured
    ``local_threads`` (half the cores where the catalog gives none).
    """
    import pandas as pd

    out: dict[str, ModelSpec] = {}
    for model_id, row in _local_rows().items():
        measured, size, sha = row["local_threads"], row["file_bytes"], row["gguf_sha256"]
        own = DEFAULT_THREADS if pd.isna(measured) else int(measured)
        out[model_id] = ModelSpec(model_id, display_name(model_id), None if pd.isna(size) else int(size),
                                  None if pd.isna(sha) else str(sha), threads or own)
    return out


def catalog_id_for(model_name: str) -> str:
    """The catalog id of the open model in a GGUF file, from its name (``qwen2.5-coder-0.5b-instruct-
    q4_k_m`` runs ``qwen2.5-coder-0.5b-instruct``); SmolLM2's id when none matches."""
    from workbench import catalog

    name = model_name.lower()
    ids = sorted(catalog.local_models(), key=len, reverse=True)
    return next((m for m in ids if name.startswith(m)), DEFAULT_STAND_IN)


def file_spec(path: Path, threads: int | None = None) -> ModelSpec:
    """The spec of a given GGUF file (``--model PATH``), exactly as the single-engine provider served it:
    named by its file (SmolLM2's packaged file by :data:`~workbench.local.engine.MODEL_NAME`), answering
    the catalog id its name starts with, ``threads`` or half the cores. The catalog's sha256 is kept
    only for the catalog's own file (same name and size)."""
    from workbench import assets

    name = MODEL_NAME if path.name == MODEL_FILE else path.stem
    model_id = catalog_id_for(name)
    size = path.stat().st_size
    declared = assets.packaged_models().get(model_id)
    known = local_specs().get(model_id)
    same = declared is not None and declared.file == path.name and declared.size == size
    return ModelSpec(model_id, name, size, known.sha256 if (known and same) else None,
                     threads or DEFAULT_THREADS, path)


def stand_in_setting(value: str | None = None) -> str:
    """The stand-in's model id: ``value``, else ``$WORKBENCH_STAND_IN``, else :data:`DEFAULT_STAND_IN`.

    Raises:
        EngineError: naming ``stand_in`` (or the variable) when the id is not a local model.
    """
    from workbench import catalog

    where = "stand_in"
    if value is None and os.environ.get(STAND_IN_ENV):
        value, where = os.environ[STAND_IN_ENV], STAND_IN_ENV
    chosen = DEFAULT_STAND_IN if value is None else value
    local = catalog.local_models()
    if chosen not in local:
        raise EngineError(f"{where}: {chosen!r} is not a local model; the stand-in is one of {', '.join(local)}")
    return chosen


def memory_budget(value: int | str | None) -> int:
    """Bytes of model files kept loaded: an integer, or text such as ``"4GiB"``, ``"600MB"``; None: default.

    Raises:
        EngineError: naming ``memory_budget`` when the value is not a positive size.
    """
    if value is None:
        return DEFAULT_MEMORY_BUDGET
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = value, ""
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
        if match is None or match[2].lower() not in _UNITS:
            raise EngineError(f"memory_budget: {value!r} is not a size (bytes, or e.g. '4GiB', '600MB')")
        number, unit = float(match[1]), match[2].lower()
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise EngineError(f"memory_budget: {value!r} must be a positive number of bytes")
    return size
