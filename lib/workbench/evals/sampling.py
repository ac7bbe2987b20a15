"""What each request asks for: the output cap and the sampling parameters, per task, model and backend.

Two facts decide them beyond the run's own arguments:

* **output caps.**  A task's cap (``Task.max_tokens``) is sized for answers, not for thinking.  A live
  reasoning model spends hidden reasoning tokens against the same cap (OpenAI's
  ``max_completion_tokens``, Gemini's ``maxOutputTokens``), so with the task's cap many of its replies
  end cut, empty or half-written.  On the live backend a model whose catalog row says ``reasoning``
  (or, while the catalog has no such column, whose output limit is above :data:`LARGE_OUTPUT`) gets
  :data:`LIVE_REASONING_CAP` (at most its own output limit); every other request uses the task's cap.
  An explicit ``max_tokens`` always wins.
* **rejected parameters.**  Several 2026 models answer a non-default ``temperature`` (or ``seed``)
  with a 400.  ``catalog.rejected_params(model)`` says which; on the live backend those parameters are
  left out of that model's requests.  On the local backend they are sent (the local stand-in accepts
  them, and temperature 0 with a fixed seed keeps local runs reproducible).  Either way the run's
  notes and its archive manifest say so: never silently.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from .. import catalog
from .streams import DEFAULT_SEED, LOGPROB_PROTOCOLS
from .tasks import Task

__all__ = [
    "LARGE_OUTPUT",
    "LIVE_REASONING_CAP",
    "RequestSettings",
    "is_reasoning",
    "protocol",
    "rejected_params",
    "request_settings",
    "settings_notes",
]

#: Output cap on the live backend for reasoning models (bounded by the model's own output limit).
LIVE_REASONING_CAP = 32_768
#: Without a ``reasoning`` column in the catalog, a model whose output limit exceeds this is treated as
#: a reasoning model (every such row in ``data/models.csv`` is a 2025-26 thinking model).
LARGE_OUTPUT = 32_000
#: The request parameters the runner sends that a model may reject.
_OMITTABLE = ("temperature", "seed")


@dataclass(frozen=True)
class RequestSettings:
    """What one model is sent for one task.

    Attributes:
        max_tokens: the output cap.
        cap_source: ``"given"`` (the run's ``max_tokens``), ``"task"`` (the task's own cap) or
            ``"reasoning"`` (the live reasoning cap).
        temperature: sent temperature (None: left out).
        seed: sent seed (None: left out).
        omitted: parameters left out because the model rejects them.
        rejected: parameters the catalog says the model rejects (omitted on the live backend only).
        top_logprobs: token alternatives asked per generated token (None: no log-probabilities).
    """

    max_tokens: int
    cap_source: str
    temperature: float | None
    seed: int | None
    omitted: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    top_logprobs: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for the run config and the archive manifest)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def rejected_params(model: str) -> frozenset[str]:
    """Parameters ``model`` rejects, from ``catalog.rejected_params`` (empty while the catalog has none)."""
    lookup = getattr(catalog, "rejected_params", None)
    return frozenset(lookup(model)) if lookup is not None else frozenset()


def protocol(model: str) -> str:
    """The API protocol the harness uses for ``model``: its provider's (``openai``, ``anthropic``,
    ``google``), and ``openai`` for the open models of the local ladder (as ``workbench.clients`` does)."""
    if model in catalog.local_models():
        return "openai"
    return catalog.provider_of(model)


def _row(model: str) -> pd.Series:
    table = catalog.models()
    return table.loc[table["model_id"] == model].iloc[0]


def _max_output(model: str) -> int | None:
    value = _row(model).get("max_output")
    return None if value is None or pd.isna(value) else int(value)


def is_reasoning(model: str) -> bool:
    """True when the catalog marks ``model`` as a reasoning model (or, without that column, its output
    limit is above :data:`LARGE_OUTPUT`)."""
    row = _row(model)
    flag = row.get("reasoning")
    if flag is not None and not pd.isna(flag):
        return bool(flag)
    limit = _max_output(model)
    return limit is not None and limit > LARGE_OUTPUT


def request_settings(task: Task, model: str, backend: str, *, max_tokens: int | Mapping[str, int] | None,
                     temperature: float | None, logprobs: bool = True) -> RequestSettings:
    """The output cap and sampling parameters ``model`` gets for ``task`` on ``backend``.

    Args:
        task: the task (its ``max_tokens`` is the default cap).
        model: catalog model id.
        backend: ``"local"`` or ``"live"``.
        max_tokens: the run's cap (an int for every task, ``{task: cap}``, or None for the defaults).
        temperature: the run's temperature (None: the provider's default).
        logprobs: False to ask no token log-probabilities even where the task reads them.
    """
    given = max_tokens.get(task.name) if isinstance(max_tokens, Mapping) else max_tokens
    if given is not None:
        cap, source = int(given), "given"
    elif backend == "live" and is_reasoning(model):
        limit = _max_output(model)
        cap, source = (min(LIVE_REASONING_CAP, limit) if limit else LIVE_REASONING_CAP), "reasoning"
        cap = max(cap, task.max_tokens)
    else:
        cap, source = task.max_tokens, "task"
    seed = DEFAULT_SEED if backend == "local" else None
    rejected = tuple(sorted(p for p in rejected_params(model) if p in _OMITTABLE))
    omitted: tuple[str, ...] = ()
    if backend == "live":
        omitted = tuple(p for p in rejected if (p == "temperature" and temperature is not None)
                        or (p == "seed" and seed is not None))
        temperature = None if "temperature" in rejected else temperature
        seed = None if "seed" in rejected else seed
    top = task.top_logprobs if logprobs else None
    if top is not None and (protocol(model) not in LOGPROB_PROTOCOLS or "logprobs" in rejected_params(model)
                            or (backend == "live" and is_reasoning(model))):
        omitted, top = (*omitted, "logprobs"), None
    return RequestSettings(cap, source, temperature, seed, omitted, rejected, top)


def _join(values: Iterable[str]) -> str:
    return ", ".join(sorted(set(values)))


def settings_notes(settings: Mapping[tuple[str, str], RequestSettings], backend: str) -> list[str]:
    """Sentences for the run notes: which caps were used, and which parameters were left out (or kept).

    Args:
        settings: ``{(task, model): RequestSettings}`` of the run.
        backend: the run's backend.
    """
    notes = []
    by_source: dict[str, dict[str, set[int]]] = {}
    for (task, _model), s in settings.items():
        by_source.setdefault(s.cap_source, {}).setdefault(task, set()).add(s.max_tokens)
    models_by_source: dict[str, set[str]] = {}
    for (_task, model), s in settings.items():
        models_by_source.setdefault(s.cap_source, set()).add(model)
    caps = []
    for source, label in (("given", "as given"), ("task", "each task's own"),
                          ("reasoning", "the live reasoning cap")):
        if source not in by_source:
            continue
        per_task = ", ".join(f"{t} {'/'.join(f'{c:,}' for c in sorted(v))}" for t, v in by_source[source].items())
        who = _join(models_by_source[source])
        extra = (f" (reasoning models or an output limit above {LARGE_OUTPUT:,} tokens: their thinking "
                 "counts against the cap)") if source == "reasoning" else ""
        caps.append(f"{label} ({per_task}) for {who}{extra}")
    if caps:
        notes.append("output cap: " + "; ".join(caps))
    rejected: dict[str, set[str]] = {}
    for (_task, model), s in settings.items():
        for p in s.rejected:
            rejected.setdefault(model, set()).add(p)
    no_logprobs = sorted({m for (_t, m), s in settings.items() if "logprobs" in s.omitted})
    if no_logprobs:
        notes.append(f"token log-probabilities not asked of {', '.join(no_logprobs)} (its protocol gives none in a "
                     "stream here, or it rejects them): their confidence is empty")
    asked = sorted({f"{t} (top {s.top_logprobs})" for (t, _m), s in settings.items() if s.top_logprobs is not None})
    if asked:
        notes.append(f"token log-probabilities asked for {', '.join(asked)}: each reply's confidence is the "
                     "probability of its answer at the answer token")
    for model, params in sorted(rejected.items()):
        if backend == "live":
            notes.append(f"{model} rejects {_join(params)} (catalog): left out of its requests, so it "
                         "samples with its provider's defaults")
        else:
            notes.append(f"{model} rejects {_join(params)} on its live API (catalog); sent here anyway: the "
                         "local stand-in accepts them, and temperature 0 with a fixed seed keeps local runs "
                         "reproducible")
    return notes
