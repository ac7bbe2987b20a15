"""Protocol or engine? Two checks that explain a difference between model ids on the local backend.

On the local backend one model answers every model id at temperature 0, so two ids can differ only
through the protocol path (how each gateway turns the request into the model's prompt) or through
the serving engine (llama.cpp need not repeat a reply bit for bit when concurrent requests share its
batches). :func:`prompts_by_protocol` shows the exact prompt the model reads for one item through
each id's protocol (the gateway's admin API, no generation); :func:`repeat_check` asks one request
several times through one protocol, each repeat a stored run of its own.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import catalog, clients, evals, params
from .local.admin import Admin
from .suite import PROTOCOLS, Settings

__all__ = ["prompts_by_protocol", "repeat_check"]


def _sha(text: str | None) -> str:
    """First 12 hex digits of the text's SHA-256 (a short fingerprint for a table)."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:12]


def _request(provider: str, model: str, prompt: str) -> tuple[str, dict[str, object]]:
    """The admin API's body kind and each provider's request body for one user message."""
    return {
        "openai": ("openai-chat", {"model": model, "messages": [{"role": "user", "content": prompt}]}),
        "anthropic": ("anthropic", {"model": model, "max_tokens": 16,
                                    "messages": [{"role": "user", "content": prompt}]}),
        "google": ("gemini", {"model": model, "contents": [{"role": "user", "parts": [{"text": prompt}]}]}),
    }[provider]


def prompts_by_protocol(task: str, models: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """The exact prompt the local model reads for one item of ``task``, through each model id's protocol.

    Asks the local provider's admin API (``Admin.prompt``: the chat template and token count, no
    generation) with each provider's request body for the same user message.

    Returns:
        Columns: model, protocol, input_tokens, prompt_sha256 (first 12 hex digits), same_as_first.
    """
    spec = evals.get_task(task)
    prompt = spec.prompt(spec.sample(1, seed)[0])
    admin = Admin(clients.local_base_url())
    rows = []
    for model in catalog.check_models(params.names(models, "models"), param="models"):
        provider = catalog.provider_of(model)
        if provider not in PROTOCOLS:
            raise params.ParameterError("models", f"ids of the {', '.join(PROTOCOLS)} APIs", model)
        api, body = _request(provider, model, prompt)
        read = admin.prompt(body, api)
        rows.append({"model": model, "protocol": PROTOCOLS[provider], "input_tokens": read["input_tokens"],
                     "prompt_sha256": _sha(read["prompt"])})
    out = pd.DataFrame(rows)
    out["same_as_first"] = out["prompt_sha256"] == out["prompt_sha256"].iloc[0]
    return out


def repeat_check(settings: Settings, repeats: int = 3, *, store: str | Path | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """Ask one item of the first (non-needle) task ``repeats`` times through the first model id.

    Each repeat is its own stored run (``<run_id>-repeat<k>``), so a re-run of the chapter reuses
    them.  Identical requests at temperature 0 that still differ show run-to-run variation of the
    serving engine, which then also explains differences between model ids on the local backend.

    Returns:
        Columns: run_id, task, item_id, outcome, score, output_tokens_counted, reply_sha256 (first 12
        hex digits), same_as_first.
    """
    repeats = params.count(repeats, "repeats", minimum=2)
    plain = [t for t in settings.tasks if t != "needle"]
    if not plain:
        raise params.ParameterError("settings", "tasks with one other than the needle (repeat_check asks "
                                    "one item of it)", list(settings.tasks))
    rows = []
    for k in range(1, repeats + 1):
        rid = f"{settings.run_id}-repeat{k}"
        summary = evals.run([plain[0]], [settings.models[0]], settings.backend, limit=1, seed=settings.seed,
                            run_id=rid, store=store, progress=progress)
        res = evals.load_results(rid, summary.store_path)
        res = res[(res["task"] == plain[0]) & (res["model"] == settings.models[0])]
        for r in res.itertuples():
            rows.append({"run_id": rid, "task": r.task, "item_id": r.item_id, "outcome": r.outcome, "score": r.score,
                         "output_tokens_counted": r.output_tokens_counted, "reply_sha256": _sha(r.response)})
    out = pd.DataFrame(rows)
    out["same_as_first"] = out["reply_sha256"] == out["reply_sha256"].iloc[0]
    return out
