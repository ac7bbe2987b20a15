"""Cost against quality for single models and for policies that combine them (routers, escalation).

Everything here works on **per-item outcomes** of a recorded or live run (``evals.load_results`` rows,
e.g. ``suite.load_recorded(...).results``), so the same calls serve the local ladder and a live run:

* :func:`item_outcomes` turns the results frame into one row per model x item with ``correct`` and its
  cost, in compute seconds and in USD, on the basis the caller names (``cost="compute"``: the reply's
  total time x an assumed machine price, chapter 07's :func:`workbench.run_costs.compute_cost_table`;
  ``cost="usage"``: the priced usage the runner stored, ``cost_usd``, as for a live run), with the
  item's ``confidence`` when the run recorded one;
* :func:`single` is the policy "always this model"; :mod:`workbench.routing` and
  :mod:`workbench.escalation` build the others, all as the same **policy frame** (:data:`POLICY_COLUMNS`:
  one row per policy x item: who handled it, right or not, what it cost);
* :func:`summary` gives each policy's accuracy with a Wilson interval (:func:`workbench.stats.wilson_interval`)
  and cost per 1,000 items; :func:`frontier` marks the non-dominated policies; :func:`shares` says who
  handled what share of the items;
* :func:`savings` compares a policy with a baseline (e.g. always the best model) on the SAME items:
  the share of cost saved and the accuracy change, each with a paired bootstrap interval over items.

Typical use::

    items = cost_quality.item_outcomes(results, cost="compute", cpu_cost_per_hour=0.05)
    policies = pd.concat([cost_quality.single(items, m) for m in items["model"].unique()])
    table = cost_quality.frontier(cost_quality.summary(policies))
    cost_quality.savings(policies, "route by task", "always qwen2.5-coder-1.5b-instruct")
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from . import params, stats
from .params import ParameterError

__all__ = [
    "COST_BASES",
    "ITEM_KEYS",
    "PERSON",
    "POLICY_COLUMNS",
    "best_single",
    "check_models",
    "frontier",
    "item_outcomes",
    "paired_keys",
    "pick",
    "policy_frame",
    "savings",
    "savings_against",
    "shares",
    "single",
    "summary",
    "wide_outcomes",
]

#: How an item's cost is read from a results frame: ``compute`` (the reply's total time ``latency_s`` x
#: ``cpu_cost_per_hour``: a model served on a machine) or ``usage`` (``cost_usd``: usage at list prices,
#: what a live run stores).
COST_BASES: tuple[str, ...] = ("compute", "usage")
#: ``handled_by`` of an item handed to a person (no model answer kept; ``correct`` is NaN).
PERSON = "person"
#: The columns of a policy frame (one row per policy x item).
POLICY_COLUMNS: tuple[str, ...] = ("policy", "kind", "task", "item_id", "handled_by", "correct", "seconds",
                                   "usd", "calls")
#: The columns naming one item.
ITEM_KEYS: list[str] = ["task", "item_id"]


def item_outcomes(results: pd.DataFrame, cost: str = "compute", cpu_cost_per_hour: float | None = None) -> pd.DataFrame:
    """One row per model x scored item: whether it was right and what it cost.

    Args:
        results: ``evals.load_results`` rows (``suite.load_recorded(...).results`` or a live suite run);
            only scored rows (``outcome == "scored"``) are kept.
        cost: ``"compute"`` (seconds of the reply x ``cpu_cost_per_hour``) or ``"usage"`` (the stored
            ``cost_usd``; a row without one is an error naming it).
        cpu_cost_per_hour: USD per hour of the machine; required with ``cost="compute"``.

    Returns:
        Columns: task, item_id, model, backend, correct (bool: score 1), seconds (the reply's total time),
        usd (per ``cost``), confidence (float in [0, 1], NaN where none was recorded; all NaN when the
        frame has no ``confidence`` column).

    Raises:
        params.ParameterError: a bad ``cost``, a missing price or column, no scored row.
    """
    params.columns(results, ["task", "item_id", "model", "outcome", "score", "latency_s"], "results")
    basis = params.choice(cost, "cost", COST_BASES)
    ok = results[results["outcome"] == "scored"]
    if ok.empty:
        raise ParameterError("results", "at least one scored row (outcome 'scored')", f"{len(results)} rows, none scored")
    out = pd.DataFrame({
        "task": ok["task"].astype(str).to_numpy(), "item_id": ok["item_id"].astype(str).to_numpy(),
        "model": ok["model"].astype(str).to_numpy(),
        "backend": (ok["backend"].astype(str) if "backend" in ok else pd.Series("", index=ok.index)).to_numpy(),
        "correct": (ok["score"].astype(float) >= 1.0).to_numpy(),
        "seconds": ok["latency_s"].astype(float).to_numpy(),
    })
    if out["seconds"].isna().any():
        bad = out[out["seconds"].isna()].iloc[0]
        raise ParameterError("results", "a total time (latency_s) on every scored row",
                             f"none for {bad['model']} on {bad['task']} item {bad['item_id']}")
    if basis == "compute":
        if cpu_cost_per_hour is None:
            raise ParameterError("cpu_cost_per_hour", "a positive number (USD per hour) with cost='compute'", None)
        out["usd"] = out["seconds"] / 3600.0 * params.positive(cpu_cost_per_hour, "cpu_cost_per_hour")
    else:
        params.columns(results, ["cost_usd"], "results")
        usd = pd.to_numeric(ok["cost_usd"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(usd).any():
            bad = out[np.isnan(usd)].iloc[0]
            raise ParameterError("cost", "'compute' for rows without priced usage (cost_usd)",
                                 f"'usage', but {bad['model']} on {bad['task']} item {bad['item_id']} has no cost_usd")
        out["usd"] = usd
    conf = (pd.to_numeric(ok["confidence"], errors="coerce").to_numpy(dtype=float) if "confidence" in ok
            else np.full(len(out), np.nan))
    if np.any((conf < 0) | (conf > 1)):
        raise ParameterError("results", "confidence values in [0, 1]", float(conf[(conf < 0) | (conf > 1)][0]))
    out["confidence"] = conf
    if out.duplicated(ITEM_KEYS + ["model"]).any():
        dup = out[out.duplicated(ITEM_KEYS + ["model"])].iloc[0]
        raise ParameterError("results", "one scored row per model and item (one run per model)",
                             f"two rows for {dup['model']} on {dup['task']} item {dup['item_id']}")
    return out.reset_index(drop=True)


def check_models(items: pd.DataFrame, models: Any, param: str = "models") -> list[str]:
    """``models`` (a name or a list) checked against the models of ``items``: one error naming an unknown one."""
    names = params.names(models, param)
    known = list(dict.fromkeys(items["model"]))
    for m in names:
        if m not in known:
            raise ParameterError(param, "models of the results (" + ", ".join(known) + ")", m)
    if len(set(names)) != len(names):
        raise ParameterError(param, "no repeated model", names)
    return names


def paired_keys(items: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """The (task, item_id) pairs that EVERY one of ``models`` answered (scored), in a stable order."""
    sub = items[items["model"].isin(models)]
    counts = sub.groupby(ITEM_KEYS, sort=False)["model"].nunique()
    keys = counts[counts == len(set(models))].reset_index()[ITEM_KEYS]
    return keys.sort_values(ITEM_KEYS, kind="stable").reset_index(drop=True)


def wide_outcomes(items: pd.DataFrame, models: Sequence[str], keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per item (``keys``, default :func:`paired_keys`) with ``correct|m``, ``seconds|m``, ``usd|m`` and
    ``confidence|m`` for each model ``m`` (NaN where ``m`` did not answer the item): the table a policy
    chooses from."""
    keys = paired_keys(items, models) if keys is None else keys
    out = keys.copy()
    for m in models:
        part = items[items["model"] == m].set_index(ITEM_KEYS)[["correct", "seconds", "usd", "confidence"]]
        part = part.reindex(pd.MultiIndex.from_frame(keys))
        for col in part.columns:
            out[f"{col}|{m}"] = part[col].to_numpy()
    return out


def pick(wide: pd.DataFrame, chosen: np.ndarray, col: str) -> np.ndarray:
    """Per row of ``wide`` (:func:`wide_outcomes`), the ``col`` value (``correct``, ``seconds``, ``usd``,
    ``confidence``) of the model named in ``chosen`` (one model id per row)."""
    models = list(dict.fromkeys(chosen))
    return np.select([chosen == m for m in models], [wide[f"{col}|{m}"].astype(float) for m in models], np.nan)


def policy_frame(name: str, kind: str, keys: pd.DataFrame, handled_by: Iterable[str], correct: Iterable[float],
                 seconds: Iterable[float], usd: Iterable[float], calls: Iterable[int]) -> pd.DataFrame:
    """A policy frame (:data:`POLICY_COLUMNS`) from per-item arrays aligned with ``keys``: who handled each
    item (a model id or :data:`PERSON`), whether it was right (NaN for a person), the seconds and USD
    spent on it, and how many model calls were made."""
    frame = keys[ITEM_KEYS].reset_index(drop=True).copy()
    frame.insert(0, "kind", kind)
    frame.insert(0, "policy", name)
    frame["handled_by"] = list(handled_by)
    frame["correct"] = np.asarray(list(correct), dtype=float)
    frame["seconds"] = np.asarray(list(seconds), dtype=float)
    frame["usd"] = np.asarray(list(usd), dtype=float)
    frame["calls"] = np.asarray(list(calls), dtype=int)
    return frame[list(POLICY_COLUMNS)]


def single(items: pd.DataFrame, model: str, name: str | None = None, keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """The policy "always ``model``": a policy frame (:data:`POLICY_COLUMNS`), kind ``single``.

    Args:
        items: :func:`item_outcomes` rows.
        model: a model of ``items``.
        name: the policy's name (default ``"always <model>"``).
        keys: restrict to these (task, item_id) rows (e.g. a router's test items); default every item
            the model answered.
    """
    (model,) = check_models(items, [model], "model")
    wide = wide_outcomes(items, [model], keys)
    if wide[f"correct|{model}"].isna().any():
        raise ParameterError("keys", f"items that {model} answered", "items it did not answer")
    return policy_frame(name or f"always {model}", "single", wide, [model] * len(wide),
                        wide[f"correct|{model}"].astype(float), wide[f"seconds|{model}"], wide[f"usd|{model}"],
                        [1] * len(wide))


def _check_policies(policies: pd.DataFrame) -> pd.DataFrame:
    params.columns(policies, POLICY_COLUMNS, "policies")
    if policies.empty:
        raise ParameterError("policies", "at least one policy row", "an empty table")
    twice = policies.duplicated(["policy", *ITEM_KEYS])
    if twice.any():
        row = policies[twice].iloc[0]
        raise ParameterError("policies", "one row per policy and item (two policies with one name?)",
                             f"{row['policy']!r} twice on {row['task']} item {row['item_id']}")
    return policies


def _groups(policies: pd.DataFrame, by_task: bool) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    keys = ["policy", "task"] if by_task else ["policy"]
    return [(dict(zip(keys, k if isinstance(k, tuple) else (k,))), g) for k, g in policies.groupby(keys, sort=False)]


def summary(policies: pd.DataFrame, confidence: float = 0.95, by_task: bool = True) -> pd.DataFrame:
    """Each policy's accuracy (Wilson interval) and cost per 1,000 items, per task or over its items.

    Accuracy is over the items a model answered (``answered``); items handed to a person are counted in
    ``person_share`` and their machine cost (the calls made before the hand-off) stays in the cost.

    Returns:
        Columns: policy, kind, [task,] items, answered, correct, accuracy, ci_low, ci_high (fractions),
        person_share, seconds_per_1k, usd_per_1k (compute seconds and USD per 1,000 items), calls_per_item.
    """
    _check_policies(policies)
    level = params.probability(confidence, "confidence")
    rows = []
    for key, g in _groups(policies, by_task):
        answered = g[g["handled_by"] != PERSON]
        n, k = len(answered), int(answered["correct"].sum())
        lo, hi = stats.wilson_interval(k, n, level) if n else (np.nan, np.nan)
        rows.append({**key, "kind": g["kind"].iloc[0], "items": len(g), "answered": n, "correct": k,
                     "accuracy": k / n if n else np.nan, "ci_low": lo, "ci_high": hi,
                     "person_share": 1 - n / len(g), "seconds_per_1k": 1000 * g["seconds"].mean(),
                     "usd_per_1k": 1000 * g["usd"].mean(), "calls_per_item": g["calls"].mean()})
    cols = ["policy", "kind"] + (["task"] if by_task else [])
    frame = pd.DataFrame(rows)
    return frame[cols + [c for c in frame.columns if c not in cols]]


def frontier(table: pd.DataFrame, cost: str = "usd_per_1k") -> pd.DataFrame:
    """``table`` (:func:`summary`) with ``on_frontier``: no other policy of the same task is at least as
    accurate for at most the cost, and strictly better on one of the two (ties keep both).  The oracle
    (kind ``oracle``: it knows the outcomes) is a ceiling, and a policy that hands items to a person
    (``person_share`` > 0) answers fewer items: neither is ever on the frontier nor dominates another.

    Args:
        cost: the cost column, ``usd_per_1k`` or ``seconds_per_1k``.
    """
    params.choice(cost, "cost", ["usd_per_1k", "seconds_per_1k"])
    params.columns(table, ["policy", "accuracy", cost], "table")
    out = table.copy()
    flags = pd.Series(False, index=out.index)
    parts = out.groupby("task", sort=False) if "task" in out else [(None, out)]
    for _, g in parts:
        if "kind" in g:
            g = g[g["kind"] != "oracle"]
        if "person_share" in g:
            g = g[~(g["person_share"] > 0)]
        acc, c = g["accuracy"].to_numpy(float), g[cost].to_numpy(float)
        for i, idx in enumerate(g.index):
            dominated = np.any((acc >= acc[i]) & (c <= c[i]) & ((acc > acc[i]) | (c < c[i])))
            flags[idx] = bool(not dominated and not np.isnan(acc[i]))
    out["on_frontier"] = flags
    return out


def best_single(table: pd.DataFrame, task: str | None = None) -> str:
    """The ``single`` policy of ``table`` (:func:`summary`) with the highest accuracy (on ``task`` when the
    table is per task); ties go to the cheaper one."""
    params.columns(table, ["policy", "kind", "accuracy", "usd_per_1k"], "table")
    rows = table[table["kind"] == "single"]
    if task is not None:
        rows = rows[rows["task"] == params.choice(task, "task", list(dict.fromkeys(table.get("task", []))))]
    if rows.empty:
        raise ParameterError("table", "at least one single-model policy", "none")
    return str(rows.sort_values(["accuracy", "usd_per_1k"], ascending=[False, True]).iloc[0]["policy"])


def shares(policies: pd.DataFrame, by_task: bool = True) -> pd.DataFrame:
    """Who handled what share of each policy's items: one column per model (and ``person``), fractions."""
    _check_policies(policies)
    keys = ["policy", "task"] if by_task else ["policy"]
    counts = pd.crosstab([policies[k] for k in keys], policies["handled_by"], normalize="index")
    order = list(dict.fromkeys(policies["handled_by"]))
    order = [h for h in order if h != PERSON] + ([PERSON] if PERSON in order else [])
    counts = counts.reindex(columns=order, fill_value=0.0)
    counts.columns.name = None
    first = policies.drop_duplicates(keys).set_index(keys).index  # keep the policies' order
    return counts.reindex(first).reset_index()


def savings(policies: pd.DataFrame, policy: str, baseline: str, *, cost: str = "usd", confidence: float = 0.95,
            n_boot: int = 2000, seed: int = 0, by_task: bool = True) -> pd.DataFrame:
    """What ``policy`` saves against ``baseline`` (e.g. always the best model), paired on the same items.

    Only items both policies saw are compared (a router's test items; the items every model of a chain
    answered).  The saving is ``1 - cost(policy) / cost(baseline)`` summed over those items; the accuracy
    change is the difference of the two accuracies in points, over items a model answered under BOTH
    policies (an item handed to a person is left out of it).  Both intervals are percentile bootstrap
    intervals resampling ITEMS (the same resampled items for both policies: paired), with
    :func:`scipy.stats.bootstrap`.

    Args:
        policies: policy frames (:data:`POLICY_COLUMNS`) holding both policies.
        policy, baseline: policy names in ``policies``.
        cost: ``"usd"`` or ``"seconds"``.
        confidence: level of the intervals.
        n_boot: bootstrap resamples (>= 100).
        seed: seed of the resampling.
        by_task: one row per task (True) or over every item (False).

    Returns:
        Columns: policy, baseline, [task,] items, cost_policy_per_1k, cost_baseline_per_1k, saving (a
        share: 0.3 is 30 % cheaper; negative is dearer), saving_low, saving_high, accuracy_policy,
        accuracy_baseline, accuracy_change_pts, change_low_pts, change_high_pts, cost (the basis).
    """
    _check_policies(policies)
    names = list(dict.fromkeys(policies["policy"]))
    policy = params.choice(policy, "policy", names)
    baseline = params.choice(baseline, "baseline", names)
    basis = params.choice(cost, "cost", ["usd", "seconds"])
    level = params.probability(confidence, "confidence")
    n_boot = params.count(n_boot, "n_boot", minimum=100)
    seed = params.count(seed, "seed", minimum=0)
    a = policies[policies["policy"] == policy].set_index(ITEM_KEYS)
    b = policies[policies["policy"] == baseline].set_index(ITEM_KEYS)
    common = a.index.intersection(b.index)
    if common.empty:
        raise ParameterError("baseline", f"a policy that saw some of the items of {policy!r}", baseline)
    a, b = a.loc[common], b.loc[common]
    tasks = list(dict.fromkeys(common.get_level_values("task"))) if by_task else [None]
    rows = []
    for task in tasks:
        mask = (common.get_level_values("task") == task) if task is not None else np.ones(len(common), bool)
        ca, cb = a[basis].to_numpy(float)[mask], b[basis].to_numpy(float)[mask]
        both = ((a["handled_by"] != PERSON) & (b["handled_by"] != PERSON)).to_numpy()[mask]
        ka, kb = a["correct"].to_numpy(float)[mask], b["correct"].to_numpy(float)[mask]
        point = 1 - ca.sum() / cb.sum() if cb.sum() > 0 else np.nan
        lo, hi = _paired_interval(lambda x, y, axis=-1: 1 - x.sum(axis) / y.sum(axis), ca, cb, level, n_boot, seed)
        kab = ka[both] - kb[both]
        change = 100 * kab.mean() if both.any() else np.nan
        clo, chi = _paired_interval(lambda d, axis=-1: 100 * d.mean(axis), kab, None, level, n_boot, seed)
        rows.append({"policy": policy, "baseline": baseline, **({"task": task} if by_task else {}),
                     "items": int(mask.sum()), "cost_policy_per_1k": 1000 * ca.mean(),
                     "cost_baseline_per_1k": 1000 * cb.mean(), "saving": point, "saving_low": lo,
                     "saving_high": hi, "accuracy_policy": ka[both].mean() if both.any() else np.nan,
                     "accuracy_baseline": kb[both].mean() if both.any() else np.nan,
                     "accuracy_change_pts": change, "change_low_pts": clo, "change_high_pts": chi,
                     "cost": basis})
    return pd.DataFrame(rows)


def _paired_interval(statistic: Any, x: np.ndarray, y: np.ndarray | None, level: float, n_boot: int,
                     seed: int) -> tuple[float, float]:
    """A percentile bootstrap interval of ``statistic`` over items (x and y resampled together)."""
    data = (x,) if y is None else (x, y)
    if len(x) < 2:
        return np.nan, np.nan
    if y is not None and y.sum() <= 0:
        return np.nan, np.nan
    if np.all(x == x[0]) and (y is None or np.all(y == y[0])):  # no spread: the interval is the point
        value = float(statistic(*(d[None, :] for d in data))[0])
        return value, value
    res = scipy_stats.bootstrap(data, statistic, paired=True, vectorized=True, n_resamples=n_boot,
                                confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def savings_against(policies: pd.DataFrame, baseline: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """:func:`savings` of every other policy against ``baseline`` (default: the single-model policy with
    the highest accuracy over all its items, :func:`best_single`), one table; ``kwargs`` go to
    :func:`savings` (``cost``, ``confidence``, ``n_boot``, ``seed``, ``by_task``)."""
    _check_policies(policies)
    if baseline is None:
        baseline = best_single(summary(policies, by_task=False))
    names = [p for p in dict.fromkeys(policies["policy"]) if p != baseline]
    if not names:
        raise ParameterError("policies", f"a policy besides the baseline {baseline!r}", list(dict.fromkeys(policies["policy"])))
    return pd.concat([savings(policies, p, baseline, **kwargs) for p in names], ignore_index=True)
