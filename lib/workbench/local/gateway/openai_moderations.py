"""OpenAI moderations (``POST /v1/moderations``) answered offline by a local model used as a guard.

``client.moderations.create(model="omni-moderation-latest", input=...)`` works unchanged against the local
provider: each input text is put to a local model in Llama Guard 3's prompt (the recorded ``safety_guard``
task's own prompt, :data:`workbench.evals.tasks.GUARD_TEMPLATE`), and its reply is read as the recorded runs
read it (:func:`workbench.evals.scorers.score_verdict` and :func:`~workbench.evals.scorers.verdict_confidence`):

* ``flagged``: P(unsafe) at the verdict token is at least :data:`FLAG_AT` (without log-probabilities: the
  written verdict; no verdict at all: not flagged);
* ``category_scores``: P(unsafe) for the OpenAI categories that the hazards the guard named on its second line
  map to (:data:`HAZARD_CATEGORIES`, e.g. ``S1`` violent crimes → ``violence``), 0 for the others;
  ``categories``: those of them at or above :data:`FLAG_AT`. A flagged text whose guard named no hazard with an
  OpenAI category is flagged with no category set;
* ``workbench_guard`` (an extra field, the local provider's own, kept by the SDK as an extra attribute):
  ``p_unsafe`` (NaN as null), the ``verdict`` written and the ``hazards`` named, so a caller can apply its
  own threshold to the guard's score (:class:`workbench.safety_guard.ModerationGuard` does).

The OpenAI moderation ids (:data:`MODERATION_MODELS`) are answered by the stand-in; a local model's own id
picks that model as the guard. The ``x-workbench-backend-model`` header names the model that judged. The local
guard reads text only: an image part is refused with a 400 naming it. What it measures is a small open model's
judgement, never OpenAI's classifier (``workbench.safety_guard`` reports its error rates on labelled items).
"""
from __future__ import annotations

import math
import re
from typing import Any

from .core import Core
from .errors import GatewayError, bad
from .openai_common import logprob_entries, unknown_argument
from .types import DEFAULT_SEED, GenRequest, new_id

__all__ = ["CATEGORIES", "FLAG_AT", "HAZARD_CATEGORIES", "MODERATION_MODELS", "moderate", "parse_moderation",
           "read_verdict"]

#: OpenAI's moderation model ids (the openai SDK's ``ModerationModel``), answered by the stand-in.
MODERATION_MODELS = ("omni-moderation-latest", "omni-moderation-2024-09-26", "text-moderation-latest",
                     "text-moderation-stable")
#: The categories of an OpenAI moderation result (omni-moderation), in the API's order.
CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
              "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
              "violence/graphic")
#: Llama Guard 3's hazards (MLCommons S1-S14) that have an OpenAI category; the others (defamation,
#: specialized advice, privacy, intellectual property, elections, code interpreter abuse) have none.
HAZARD_CATEGORIES: dict[str, tuple[str, ...]] = {
    "S1": ("violence", "illicit/violent"), "S2": ("illicit",), "S3": ("sexual",), "S4": ("sexual/minors",),
    "S9": ("illicit/violent",), "S10": ("hate",), "S11": ("self-harm",), "S12": ("sexual",)}
#: P(unsafe) from which a text is flagged.
FLAG_AT = 0.5
#: The guard's output cap: the verdict, and the hazards on a second line.
GUARD_MAX_TOKENS = 12
#: Alternatives per token read at the verdict (as the recorded ``safety_guard`` task asks).
GUARD_TOP_LOGPROBS = 10
FIELDS = ("input", "model")
#: A hazard code on the guard's second line (``S1`` ... ``S14``).
_HAZARD = re.compile(r"\bS(1[0-4]|[1-9])\b")


def parse_moderation(core: Core, body: dict[str, Any]) -> tuple[str, list[str]]:
    """The request's model id and its input texts; a 400 naming the field that is wrong."""
    for name in body:
        if name not in FIELDS:
            raise unknown_argument(name)
    model = body.get("model", MODERATION_MODELS[0])
    if not isinstance(model, str) or not model:
        raise bad("model", "a moderation model id (string) is expected")
    if model not in MODERATION_MODELS and model not in core.engines.ids:
        raise GatewayError("not_found", f"The model '{model}' does not exist or is not served by the local provider. "
                                        f"Moderation models (judged by the stand-in {core.model_name}): "
                                        f"{', '.join(MODERATION_MODELS)}; local models: {', '.join(core.engines.ids)}",
                           param="model")
    raw = body.get("input")
    if isinstance(raw, str):
        return model, [raw]
    if not isinstance(raw, list) or not raw:
        raise bad("input", "a text, a list of texts, or a list of content parts is required")
    texts = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif isinstance(item, dict) and item.get("type") == "image_url":
            raise bad(f"input[{i}]", "the local guard reads text only; an image cannot be moderated offline")
        else:
            raise bad(f"input[{i}]", f"expected a text or a {{'type': 'text', 'text': ...}} part, got {item!r}"[:300])
    if any(isinstance(item, dict) for item in raw):  # multimodal parts make ONE input, as the API does
        return model, ["\n".join(texts)]
    return model, texts


def read_verdict(text: str, entries: list[dict[str, Any]]) -> tuple[float, str | None, tuple[str, ...]]:
    """(P(unsafe), verdict written, hazards named) from a guard's reply and its log-probability entries.

    P(unsafe) is the probability of ``unsafe`` among the verdict token's alternatives (OpenAI-shaped ``entries``,
    as the recorded runs read it); without it, the written verdict (1 or 0); NaN when the reply has no verdict.
    The hazards are the ``S1``-``S14`` codes on the reply's second line. :class:`workbench.safety_guard.ModelGuard`
    reads its replies with this function too.
    """
    from ...evals import scorers  # the recorded guard runs' own reading of a verdict

    rated = scorers.score_verdict(text, "unsafe")
    if entries:
        rated = scorers.verdict_confidence(rated, entries)
    probs = rated.details.get("option_probs") or {}
    if "unsafe" in probs:
        p = float(probs["unsafe"])
    else:
        p = math.nan if rated.extracted is None else float(rated.extracted == "unsafe")
    lines = text.strip().split("\n")
    hazards = tuple(dict.fromkeys(f"S{n}" for n in _HAZARD.findall(lines[1]))) if len(lines) > 1 else ()
    return p, rated.extracted, hazards


def _result(p_unsafe: float, verdict: str | None, hazards: tuple[str, ...]) -> dict[str, Any]:
    """One moderation result in OpenAI's shape."""
    score = 0.0 if math.isnan(p_unsafe) else p_unsafe
    named = {c for h in hazards for c in HAZARD_CATEGORIES.get(h, ())}
    scores = {c: (score if c in named else 0.0) for c in CATEGORIES}
    return {"flagged": score >= FLAG_AT,
            "categories": {c: scores[c] >= FLAG_AT for c in CATEGORIES},
            "category_scores": scores,
            "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
            "workbench_guard": {"p_unsafe": None if math.isnan(p_unsafe) else p_unsafe, "verdict": verdict,
                                "hazards": list(hazards)}}


async def moderate(core: Core, model: str, texts: list[str]) -> dict[str, Any]:
    """Judge each text with the guard model (one generation each, greedy, seeded); OpenAI's response body."""
    from ...evals.tasks import GUARD_TEMPLATE  # the recorded safety_guard task's prompt

    results = []
    for text in texts:
        req = GenRequest(model=model, messages=[{"role": "user", "content": GUARD_TEMPLATE.format(prompt=text)}],
                         max_tokens=GUARD_MAX_TOKENS, temperature=0.0, seed=DEFAULT_SEED,
                         logprobs=GUARD_TOP_LOGPROBS)
        core.check_messages(req)
        gen = await core.generate(req)
        results.append(_result(*read_verdict(gen.text, logprob_entries(gen.logprobs or []))))
    return {"id": new_id("modr-"), "model": model, "results": results}
