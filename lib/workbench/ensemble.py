"""Extract → write → check: three models, one answer, a verdict, every intermediate with its timing.

The ensemble the articles recommend for answers that must stay true to a source: one model **extracts** the
facts the question needs from the source (structured output: a JSON object ``{"facts": [...]}`` constrained by a
schema), a second **writes** the answer from those facts alone, and a third **checks** the answer against the
source and returns a verdict (``{"verdict": "supported" | "unsupported", "reason": ...}``). Each step's model is a
parameter, and each goes through its provider's official SDK (:func:`workbench.model_call.ask`), so a cheap
extractor, a flagship writer and an independent checker from another provider are one call::

    from workbench import ensemble
    result = ensemble.run(source, "When was the invoice paid?",
                          extractor="qwen2.5-coder-0.5b-instruct", writer="qwen2.5-coder-1.5b-instruct",
                          checker="qwen2.5-coder-0.5b-instruct", max_tokens=200)
    result.answer, result.verdict, result.table()      # every step: model, who answered, output, seconds

A step that fails (an API error, or a reply that is not the JSON asked for) ends the chain there: the result's
verdict is ``"no verdict"`` and that step's ``error`` says why; the steps before it are kept.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import catalog, clients, model_call, params
from .evals.streams import redact

__all__ = ["CHECK_SCHEMA", "VERDICTS", "EnsembleResult", "Step", "facts_schema", "run"]

#: The checker's verdicts; ``"no verdict"`` when the chain stopped before the check.
VERDICTS = ("supported", "unsupported")
NO_VERDICT = "no verdict"

#: What the checker must return.
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": list(VERDICTS)},
                   "reason": {"type": "string", "maxLength": 200}},
    "required": ["verdict", "reason"], "additionalProperties": False}

EXTRACT_SYSTEM = ("Extract from the source the facts needed to answer the question, as short sentences copied "
                  "from the source. Add nothing that the source does not say.")
WRITE_SYSTEM = "Answer the question using only the facts given, in one or two sentences."
CHECK_SYSTEM = ("You check an answer against its source. The verdict is 'supported' if everything the answer "
                "states is stated in the source, otherwise 'unsupported'. Give a short reason.")

ClientFor = Callable[[str], tuple[str, Any]]


def facts_schema(max_facts: int) -> dict[str, Any]:
    """The extractor's JSON schema: 1 to ``max_facts`` short facts."""
    return {"type": "object",
            "properties": {"facts": {"type": "array", "minItems": 1, "maxItems": max_facts,
                                     "items": {"type": "string", "maxLength": 160}}},
            "required": ["facts"], "additionalProperties": False}


@dataclass(frozen=True)
class Step:
    """One step of the chain: which model ran it, who answered, its raw output and its measured time."""

    step: str                 #: extract, write or check
    model: str
    answered_by: str
    output: str
    seconds: float
    input_tokens: int | None
    output_tokens: int | None
    error: str = ""


@dataclass(frozen=True)
class EnsembleResult:
    """The chain's answer and verdict, with every intermediate."""

    question: str
    source: str
    facts: tuple[str, ...]
    answer: str
    verdict: str              #: supported, unsupported, or "no verdict" (a step failed)
    reason: str
    steps: tuple[Step, ...]

    @property
    def seconds(self) -> float:
        """The chain's time: the sum of its steps' measured call times (they run one after another)."""
        return sum(s.seconds for s in self.steps)

    def table(self) -> pd.DataFrame:
        """One row per step that ran: step, model, answered_by, output, seconds, tokens, error."""
        return pd.DataFrame([s.__dict__ for s in self.steps],
                            columns=["step", "model", "answered_by", "output", "seconds", "input_tokens",
                                     "output_tokens", "error"])


def _call(step: str, model: str, target: tuple[str, Any], prompt: str, system: str, request: dict[str, Any],
          schema: dict[str, Any] | None) -> tuple[Step, Any]:
    """Run one step; return it and its parsed JSON (None for text, or on failure: then ``error`` is set)."""
    try:
        answer = model_call.ask(target[1], model, prompt, system=system, json_schema=schema, **request)
    except Exception as exc:  # noqa: BLE001 -- a failed step ends the chain, kept with its reason
        return Step(step, model, "", "", 0.0, None, None, redact(f"{type(exc).__name__}: {exc}")[:500]), None
    made = Step(step, model, answer.answered_by, answer.text, answer.seconds, answer.input_tokens,
                answer.output_tokens)
    if schema is None:
        return made, None
    try:
        return made, answer.json()
    except ValueError as exc:
        return Step(**{**made.__dict__, "error": str(exc)}), None


def run(source: str, question: str, *, extractor: str, writer: str, checker: str, backend: str = "local",
        max_tokens: int = 300, max_facts: int = 5, temperature: float | None = 0.0, seed: int | None = None,
        client_for: ClientFor | None = None) -> EnsembleResult:
    """Extract the facts from ``source``, write the answer to ``question`` from them, check it against ``source``.

    Args:
        source: the text the answer must be true to.
        question: what to answer.
        extractor, writer, checker: catalog model ids for the three steps (may be the same model).
        backend: ``"local"`` (default) or ``"live"``.
        max_tokens: each step's output cap (the JSON steps need room for their whole object).
        max_facts: most facts the extractor may return (1-20).
        temperature, seed: sampling, as in :func:`workbench.model_call.ask`.
        client_for: ``model -> (provider, client)`` (default :func:`workbench.clients.for_model` on ``backend``).

    Raises:
        UnknownNameError: a step's model id the catalog does not know (the error names the step).
        ParameterError: an empty source or question, or a bad cap, count or sampling value.
    """
    for name, text in (("source", source), ("question", question)):
        if not isinstance(text, str) or not text.strip():
            raise params.ParameterError(name, "a non-empty text", text)
    models = {"extractor": extractor, "writer": writer, "checker": checker}
    for param, model in models.items():
        catalog.check_models([model], param=param)
    backend = clients.check_backend(backend)
    request = {"max_tokens": params.count(max_tokens, "max_tokens"), "temperature": temperature, "seed": seed}
    schema = facts_schema(params.count(max_facts, "max_facts", maximum=20))
    if client_for is None:
        def client_for(model: str) -> tuple[str, Any]:
            return clients.for_model(model, backend)
    targets = {m: client_for(m) for m in dict.fromkeys(models.values())}
    steps: list[Step] = []

    def stopped(facts: tuple[str, ...] = (), answer: str = "") -> EnsembleResult:
        return EnsembleResult(question, source, facts, answer, NO_VERDICT, steps[-1].error, tuple(steps))

    step, parsed = _call("extract", extractor, targets[extractor], f"Source:\n{source}\n\nQuestion: {question}",
                         EXTRACT_SYSTEM, request, schema)
    steps.append(step)
    if step.error:
        return stopped()
    facts = tuple(str(f).strip() for f in parsed.get("facts", []) if str(f).strip()) if isinstance(parsed, dict) else ()
    if not facts:
        steps[-1] = Step(**{**step.__dict__, "error": "the extractor returned no facts"})
        return stopped()
    listed = "\n".join(f"- {f}" for f in facts)
    step, _ = _call("write", writer, targets[writer], f"Facts:\n{listed}\n\nQuestion: {question}", WRITE_SYSTEM,
                    request, None)
    steps.append(step)
    if step.error or not step.output.strip():
        if not step.error:
            steps[-1] = Step(**{**step.__dict__, "error": "the writer returned an empty answer"})
        return stopped(facts)
    answer = step.output.strip()
    step, parsed = _call("check", checker, targets[checker],
                         f"Source:\n{source}\n\nQuestion: {question}\n\nAnswer: {answer}", CHECK_SYSTEM, request,
                         CHECK_SCHEMA)
    steps.append(step)
    verdict = parsed.get("verdict") if isinstance(parsed, dict) else None
    if step.error or verdict not in VERDICTS:
        if not step.error:
            steps[-1] = Step(**{**step.__dict__, "error": f"the checker gave no verdict: {json.dumps(parsed)[:200]}"})
        return stopped(facts, answer)
    return EnsembleResult(question, source, facts, answer, str(verdict), str(parsed.get("reason", "")), tuple(steps))
