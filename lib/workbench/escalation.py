"""Escalation by confidence: ask the cheap model first, go up a chain of models when its answer is not
trusted, and hand the item to a person when even the top model is not sure.

Measured on per-item outcomes of a run in which every model of the chain answered every item
(:func:`workbench.cost_quality.item_outcomes`), with each answer's ``confidence``: the probability the
model gave to the answer it gave, read from the token log-probabilities of a run recorded with them
(the ``ladder-*-choice-lp`` archives; NaN where the reply gave no answer).  A cascade is scored after the
fact: an item escalated from the cheap model to the next costs BOTH calls (the cheap answer was paid for
before it was judged).

The rule, for a threshold ``t`` in [0, 1]: a model's answer is **trusted when its confidence is above
t** (``confidence > t``); otherwise the item goes to the next model of the chain.  The last model's
answer is kept, unless ``person_threshold`` is set: then it goes to a person when its confidence is not
above that threshold (``handled_by == "person"``, ``correct`` NaN).  So ``t = 0`` keeps every answered
item with the first model (the cheap model alone) and ``t = 1`` sends every item to the end of the chain.
An answer without a confidence (no answer, or a run without log-probabilities) follows ``missing``:
``"escalate"`` (default: never trusted, even at ``t = 0``), ``"keep"`` (trusted like a sure answer) or
``"error"``.  A model whose answers carry no confidence at all is an error naming it.

* :func:`escalate` gives one policy (a policy frame, kind ``escalation``);
* :func:`confidence_thresholds` gives thresholds spread over where a model's confidences actually lie
  (a small model's may all sit between 0.27 and 0.44, where a grid of 0, 0.05, ..., 1 has three points);
* :func:`sweep` gives one policy per threshold (with a ``threshold`` column), and :func:`sweep_table` its
  accuracy, cost per 1,000 items and the share each model and a person handled, per threshold.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import params
from .cost_quality import (
    PERSON,
    check_models,
    paired_keys,
    policy_frame,
    shares,
    summary,
    wide_outcomes,
)
from .params import ParameterError

__all__ = ["MISSING", "confidence_thresholds", "escalate", "sweep", "sweep_table"]

#: What an answer without a confidence does: escalate (never trusted), keep (trusted), or error.
MISSING: tuple[str, ...] = ("escalate", "keep", "error")


def _check_chain(items: pd.DataFrame, chain: Any) -> list[str]:
    return check_models(items, chain, "chain")


def _person(value: Any, threshold: float) -> float | None:
    if value is None:
        return None
    if value == "same":
        return threshold
    return params.unit_interval(value, "person_threshold")


def escalate(items: pd.DataFrame, chain: Sequence[str], threshold: float, *, person_threshold: Any = None,
             missing: str = "escalate", keys: pd.DataFrame | None = None, name: str | None = None) -> pd.DataFrame:
    """Escalate along ``chain`` (cheapest first) by confidence; a policy frame, kind ``escalation``.

    Args:
        items: :func:`workbench.cost_quality.item_outcomes` rows with confidences.
        chain: model ids, cheapest first (one model is allowed: then only the person hand-off acts).
        threshold: in [0, 1]: an answer is trusted when its confidence is above it.
        person_threshold: None (the last model's answer is always kept), a number in [0, 1], or ``"same"``
            (= ``threshold``): the last model's answer goes to a person when its confidence is not above it.
        missing: ``"escalate"``, ``"keep"`` or ``"error"`` for an answer without a confidence.
        keys: the (task, item_id) items to run (default: every item all models of the chain answered).
        name: the policy's name (default ``"escalate <a> > <b> at t"``).

    Raises:
        params.ParameterError: an unknown or repeated model in ``chain``, a threshold outside [0, 1], a
        bad ``missing``, a model whose answers carry no confidence, or (``missing="error"``) one answer
        without a confidence.
    """
    chain = _check_chain(items, chain)
    t = params.unit_interval(threshold, "threshold")
    person = _person(person_threshold, t)
    how = params.choice(missing, "missing", MISSING)
    if keys is None:
        keys = paired_keys(items, chain)
    else:
        params.columns(keys, ["task", "item_id"], "keys")
        keys = keys[["task", "item_id"]].astype(str).reset_index(drop=True)
    if keys.empty:
        raise ParameterError("keys", f"items every model of the chain ({', '.join(chain)}) answered", "none")
    wide = wide_outcomes(items, chain, keys)
    if wide[[f"correct|{m}" for m in chain]].isna().any().any():
        raise ParameterError("keys", f"items every model of the chain ({', '.join(chain)}) answered",
                             "an item one of them did not answer")
    read = chain[:-1] + ([chain[-1]] if person is not None else [])
    for m in read:
        conf = wide[f"confidence|{m}"].astype(float)
        if conf.isna().all():
            raise ParameterError("items", f"a confidence for the answers of {m} (a run recorded with token "
                                 "log-probabilities, e.g. the ladder-*-choice-lp archives)", "none recorded")
        if how == "error" and conf.isna().any():
            bad = wide[conf.isna()].iloc[0]
            raise ParameterError("missing", f"'escalate' or 'keep' (answers without a confidence: "
                                 f"{int(conf.isna().sum())} of {m}, e.g. {bad['task']} item {bad['item_id']})", how)

    def trusted(m: str, level: float) -> np.ndarray:
        conf = wide[f"confidence|{m}"].astype(float).to_numpy()
        return np.where(np.isnan(conf), how == "keep", conf > level)

    n = len(wide)
    handled = np.full(n, chain[-1], dtype=object)
    correct = wide[f"correct|{chain[-1]}"].astype(float).to_numpy().copy()
    seconds, usd, calls = np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)
    open_ = np.ones(n, dtype=bool)  # still looking for a trusted answer
    for i, m in enumerate(chain):
        seconds += np.where(open_, wide[f"seconds|{m}"].astype(float), 0.0)
        usd += np.where(open_, wide[f"usd|{m}"].astype(float), 0.0)
        calls += open_.astype(int)
        if i == len(chain) - 1:
            break
        keep = open_ & trusted(m, t)
        handled[keep] = m
        correct[keep] = wide[f"correct|{m}"].astype(float).to_numpy()[keep]
        open_ &= ~keep
    if person is not None:
        to_person = open_ & ~trusted(chain[-1], person)
        handled[to_person] = PERSON
        correct[to_person] = np.nan
    label = name or (f"escalate {' > '.join(chain)} at {t:g}"
                     + (f", person at {person:g}" if person is not None else ""))
    return policy_frame(label, "escalation", wide, handled, correct, seconds, usd, calls)


def confidence_thresholds(items: pd.DataFrame, model: str, n: int = 11) -> list[float]:
    """``n`` thresholds from 0 to 1 that spread the items of ``model`` evenly: 0, the quantiles of its recorded
    confidences (rounded to 3 decimals, repeats dropped) and 1.  They depend on the confidences only, never
    on the outcomes.

    Raises:
        params.ParameterError: an unknown model, ``n`` < 3, or a model without any recorded confidence.
    """
    (model,) = check_models(items, [model], "model")
    n = params.count(n, "n", minimum=3)
    conf = items.loc[items["model"] == model, "confidence"].dropna().to_numpy(float)
    if not len(conf):
        raise ParameterError("items", f"a confidence for the answers of {model} (a run recorded with token "
                             "log-probabilities)", "none recorded")
    inner = np.round(np.quantile(conf, np.linspace(0, 1, n - 1)[:-1]), 3) if n > 2 else []
    return sorted({0.0, 1.0, *(float(v) for v in inner)})


def sweep(items: pd.DataFrame, chain: Sequence[str], thresholds: Sequence[float] | None = None, *,
          person_threshold: Any = None, missing: str = "escalate", keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """One :func:`escalate` policy per threshold (default 0, 0.05, ..., 1), concatenated, with a
    ``threshold`` column; ``person_threshold="same"`` moves the hand-off with the threshold."""
    values = list(np.round(np.linspace(0, 1, 21), 2)) if thresholds is None else params.as_list(thresholds)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ParameterError("thresholds", "a list of numbers in [0, 1]", thresholds)
    values = [params.unit_interval(v, "thresholds") for v in values]
    if not values:
        raise ParameterError("thresholds", "at least one number in [0, 1]", thresholds)
    frames = [escalate(items, chain, t, person_threshold=person_threshold, missing=missing, keys=keys).assign(threshold=t)
              for t in values]
    return pd.concat(frames, ignore_index=True)


def sweep_table(swept: pd.DataFrame, confidence: float = 0.95, by_task: bool = True) -> pd.DataFrame:
    """Per threshold (and task): :func:`workbench.cost_quality.summary` columns and the share of items each
    model and a person handled (one ``share <model>`` column each, and ``share person``)."""
    params.columns(swept, ["threshold"], "swept")
    table = summary(swept, confidence, by_task)
    who = shares(swept, by_task)
    who = who.rename(columns={c: f"share {c}" for c in who.columns if c not in ("policy", "task")})
    if "share person" not in who:
        who["share person"] = 0.0
    keys = ["policy", "task"] if by_task else ["policy"]
    thresholds = swept.drop_duplicates("policy").set_index("policy")["threshold"]
    out = table.merge(who, on=keys)
    out.insert(1, "threshold", out["policy"].map(thresholds))
    return out
