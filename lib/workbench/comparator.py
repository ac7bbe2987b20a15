"""One prompt to several models at once: a table of their answers, latency, tokens and cost.

The comparator the articles recommend for choosing a model on your own prompts. :func:`compare` checks every
model id against the catalog first (an unknown id stops the whole comparison with one error naming it), then
sends the same request to each model through its provider's official SDK client
(:func:`workbench.clients.for_model`, :func:`workbench.model_call.ask`), several at a time in a bounded thread
pool. A model that fails gets its error in its row; the others still answer.

Cost, by backend:

* ``live``: the provider-reported usage priced at the model's list price on ``on`` (default: today) by
  :func:`workbench.pricing.request_cost` (``cost_basis`` names the price date); no price recorded → NaN and the
  reason.
* ``local``: the machine time the answer took (``compute_s``); with ``cpu_cost_per_hour`` also that time in USD
  (the self-hosting view of :mod:`workbench.run_costs`). A frontier id on the local backend is answered by the
  stand-in, and ``answered_by`` says so: its row is never a measurement of that provider.

Example::

    from workbench import comparator
    table = comparator.compare("Name three primary colours.",
                               ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"], max_tokens=24)
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pandas as pd

from . import catalog, clients, model_call, params, pricing
from .dated_prices import NoPriceError, as_date
from .evals.streams import redact

__all__ = ["COLUMNS", "compare"]

#: The comparison table's columns, in order.
COLUMNS = ["model", "provider", "answered_by", "answer", "latency_s", "input_tokens", "output_tokens",
           "compute_s", "cost_usd", "cost_basis", "error"]

ClientFor = Callable[[str], tuple[str, Any]]

_USAGE = {"openai": pricing.Usage.from_openai, "anthropic": pricing.Usage.from_anthropic,
          "google": pricing.Usage.from_gemini}


def _cost(answer: model_call.Answer, backend: str, day: date, cpu_cost_per_hour: float | None) -> tuple[float, str]:
    if backend == "local":
        if cpu_cost_per_hour is None:
            return math.nan, "machine time (no hourly price given)"
        return answer.seconds / 3600 * cpu_cost_per_hour, f"machine time at {cpu_cost_per_hour:g} USD/h"
    try:
        usage = _USAGE[answer.provider](answer.usage)
        return pricing.request_cost(answer.model, usage, day), f"list price on {day.isoformat()}"
    except NoPriceError as exc:
        return math.nan, f"no price: {exc}"


def _one(model: str, provider: str, client: Any, prompt: model_call.Messages, backend: str, day: date,
         cpu_cost_per_hour: float | None, request: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(model=model, provider=provider, answer="", error="")
    start = time.perf_counter()
    try:
        answer = model_call.ask(client, model, prompt, **request)
    except Exception as exc:  # noqa: BLE001 -- one model failing must not lose the others' answers
        row.update(latency_s=time.perf_counter() - start, error=redact(f"{type(exc).__name__}: {exc}")[:500])
        return row
    cost, basis = _cost(answer, backend, day, cpu_cost_per_hour)
    row.update(provider=answer.provider, answered_by=answer.answered_by, answer=answer.text,
               latency_s=answer.seconds, input_tokens=answer.input_tokens, output_tokens=answer.output_tokens,
               compute_s=answer.seconds if backend == "local" else math.nan, cost_usd=cost, cost_basis=basis)
    return row


def compare(prompt: model_call.Messages, models: Sequence[str] | str, *, backend: str = "local",
            max_tokens: int = 256, system: str | None = None, temperature: float | None = 0.0,
            seed: int | None = None, concurrency: int = 4, on: date | str | None = None,
            cpu_cost_per_hour: float | None = None, client_for: ClientFor | None = None) -> pd.DataFrame:
    """Send ``prompt`` to every model in ``models`` (at most ``concurrency`` at a time) and tabulate the replies.

    Args:
        prompt: the user's text (or user/assistant turns), the same for every model.
        models: catalog model ids (JSON text accepted, as papermill delivers lists).
        backend: ``"local"`` (default) or ``"live"``.
        max_tokens, system, temperature, seed: the request (:func:`workbench.model_call.ask`); temperature and
            seed are left out for a model whose provider rejects them on ``live`` (``catalog.rejected_params``).
        concurrency: requests in flight at once (1-32).
        on: the price date for live costs (default: the latest price date in data/prices.csv).
        cpu_cost_per_hour: USD per hour of this machine, to price local compute time (None: time only).
        client_for: ``model -> (provider, client)`` (default :func:`workbench.clients.for_model` on ``backend``).

    Returns:
        One row per model, in the order given, with :data:`COLUMNS`: ``latency_s`` is the measured wall time of
        its call; ``error`` is empty unless the call failed (then the answer is empty).

    Raises:
        UnknownNameError: a model id the catalog does not know, or one with no SDK client on ``backend`` (named),
            or a backend other than local/live.
        RetiredModelError, MissingKeyError: from :func:`workbench.clients.for_model` on ``live``.
        ParameterError: a bad ``max_tokens``, ``concurrency``, ``temperature``, ``seed`` or ``cpu_cost_per_hour``.
    """
    models = catalog.check_models(params.names(models, "models"), param="models")
    backend = clients.check_backend(backend)
    model_call.messages_of(prompt)
    max_tokens = params.count(max_tokens, "max_tokens")
    workers = params.count(concurrency, "concurrency", maximum=32)
    rate = None if cpu_cost_per_hour is None else params.positive(cpu_cost_per_hour, "cpu_cost_per_hour")
    if temperature is not None:
        params.number(temperature, "temperature")
    if seed is not None:
        params.count(seed, "seed", minimum=0)
    day = as_date(on)
    if client_for is None:
        def client_for(model: str) -> tuple[str, Any]:
            return clients.for_model(model, backend)

    def request(model: str) -> dict[str, Any]:
        rejected = catalog.rejected_params(model) if backend == "live" else frozenset()
        return {"max_tokens": max_tokens, "system": system,
                "temperature": None if "temperature" in rejected else temperature,
                "seed": None if "seed" in rejected else seed}

    targets = {m: client_for(m) for m in dict.fromkeys(models)}   # a model with no client stops here, named
    with ThreadPoolExecutor(max_workers=min(workers, len(models))) as pool:
        rows = list(pool.map(lambda m: _one(m, *targets[m], prompt, backend, day, rate, request(m)), models))
    return pd.DataFrame(rows, columns=COLUMNS)
