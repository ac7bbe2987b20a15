"""S3's production metrics, computed from what a run measured: task success, handling time, deflection and
policy compliance, per policy (a single model, a router, an escalation chain with a hand-off to a person).

S3 says a production assistant is judged by more than accuracy: the share of tasks it resolves, how long
handling takes, how much it deflects from people, and how often its replies keep to the policy. On per-item
outcomes (:mod:`workbench.cost_quality` policy frames, built from a recorded or live run) they are:

* **task success**: items the assistant answered *and* got right, over all items (an item handed to a
  person is not a success of the assistant; what the person then does is not measured);
* **deflection**: items the assistant kept (did not hand to a person), over all items;
* **handling time**: the machine time spent per item (every call a cascade made; median and 90th
  percentile): the person's time is not measured;
* **policy compliance**: replies the assistant kept that obey the task's stated reply format (for the
  letter-only tasks, the reply is the option letter and nothing else), over the replies it kept.
  This is the only policy the recorded items state; a content policy needs a labelled set
  (:mod:`workbench.safety_guard`).

Proportions carry Wilson intervals (:func:`workbench.stats.wilson_interval`). User satisfaction, S3's fifth
metric, needs users: no run measures it.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from . import cost_quality, params, stats
from .evals import tasks as eval_tasks

__all__ = ["METRICS", "compliance", "leader_tradeoffs", "service_metrics"]

#: The metrics, in the order S3 lists them (user satisfaction is not measurable from a run).
METRICS: tuple[str, ...] = ("task success", "handling time", "deflection", "policy compliance")
#: A reply that is an option letter and nothing else (a parenthesis or a full stop allowed).
_LETTER = re.compile(r"^\(?[A-J]\)?\.?$")
_KEYS = ["task", "item_id"]


def _format_of(task: str) -> str | None:
    try:
        return (eval_tasks.get_task(task).options or {}).get("prompt_format")
    except Exception:  # noqa: BLE001  a task the registry lacks states no format
        return None


def compliance(results: pd.DataFrame) -> pd.DataFrame:
    """Per scored reply: whether it keeps to the reply format its task states.

    Only tasks with a checkable stated format get a value (``letter only``: the reply is the letter);
    other tasks' rows are left out.

    Returns:
        Columns: task, item_id, model, compliant (bool), reply.
    """
    params.columns(results, ["task", "item_id", "model", "outcome", "response"], "results")
    ok = results[results["outcome"] == "scored"]
    letter = ok["task"].map(lambda t: _format_of(str(t)) == "letter only")
    rows = ok[letter]
    reply = rows["response"].fillna("").astype(str).str.strip()
    return pd.DataFrame({"task": rows["task"].astype(str).to_numpy(), "item_id": rows["item_id"].astype(str).to_numpy(),
                         "model": rows["model"].astype(str).to_numpy(),
                         "compliant": reply.map(lambda s: bool(_LETTER.match(s))).to_numpy(),
                         "reply": reply.to_numpy()})


def _share(k: int, n: int, level: float) -> tuple[float, float, float]:
    if n == 0:
        return np.nan, np.nan, np.nan
    lo, hi = stats.wilson_interval(k, n, level)
    return k / n, lo, hi


def service_metrics(policies: pd.DataFrame, results: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """S3's metrics for each policy of ``policies`` (see the module docstring), over its items.

    Args:
        policies: policy frames (:data:`workbench.cost_quality.POLICY_COLUMNS`).
        results: the run's results (for the replies, to check compliance).
        confidence: level of the intervals.

    Returns:
        One row per policy: policy, kind, items, task_success, success_low, success_high, deflection,
        deflection_low, deflection_high, accuracy_kept (right among the items it kept), handling_median_s,
        handling_p90_s, compliance, compliance_low, compliance_high, compliance_n (replies checked).
    """
    params.columns(policies, cost_quality.POLICY_COLUMNS, "policies")
    level = params.probability(confidence, "confidence")
    checked = compliance(results).rename(columns={"model": "handled_by"})
    rows = []
    for name, g in policies.groupby("policy", sort=False):
        kept = g[g["handled_by"] != cost_quality.PERSON]
        n, n_kept = len(g), len(kept)
        right = int(kept["correct"].sum())
        success = _share(right, n, level)
        deflect = _share(n_kept, n, level)
        c = kept[_KEYS + ["handled_by"]].merge(checked, on=_KEYS + ["handled_by"], how="inner")
        comp = _share(int(c["compliant"].sum()), len(c), level)
        rows.append({"policy": name, "kind": g["kind"].iloc[0], "items": n,
                     "task_success": success[0], "success_low": success[1], "success_high": success[2],
                     "deflection": deflect[0], "deflection_low": deflect[1], "deflection_high": deflect[2],
                     "accuracy_kept": right / n_kept if n_kept else np.nan,
                     "handling_median_s": float(g["seconds"].median()),
                     "handling_p90_s": float(g["seconds"].quantile(0.9)),
                     "compliance": comp[0], "compliance_low": comp[1], "compliance_high": comp[2],
                     "compliance_n": len(c)})
    return pd.DataFrame(rows)


def leader_tradeoffs(items: pd.DataFrame, results: pd.DataFrame, models: list[str],
                     alpha: float = 0.05) -> tuple[str, pd.DataFrame]:
    """Is the most accurate model also the best on handling time and compliance? Paired on the items all
    ``models`` answered: accuracy and compliance by McNemar, handling time by the Wilcoxon signed-rank test.

    Returns:
        The accuracy leader and one row per (rival, metric): rival, metric, leader, rival value, p,
        resolved (p < alpha), leader_worse (resolved and the leader is worse on it).
    """
    models = cost_quality.check_models(items, models, "models")
    alpha = params.probability(alpha, "alpha")
    keys = cost_quality.paired_keys(items, models)
    wide = {m: items[items["model"] == m].set_index(_KEYS).reindex(pd.MultiIndex.from_frame(keys)) for m in models}
    leader = max(models, key=lambda m: (wide[m]["correct"].mean(), -wide[m]["seconds"].mean()))
    comp = compliance(results).set_index(_KEYS + ["model"])["compliant"]
    def complied(m: str) -> pd.Series:
        idx = pd.MultiIndex.from_arrays([keys["task"], keys["item_id"], [m] * len(keys)])
        return comp.reindex(idx)
    rows = []
    for rival in (m for m in models if m != leader):
        a, b = wide[leader]["seconds"].to_numpy(float), wide[rival]["seconds"].to_numpy(float)
        p_time = float(scipy_stats.wilcoxon(a, b).pvalue) if np.any(a != b) else 1.0
        rows.append({"rival": rival, "metric": "handling time", "leader": float(np.median(a)),
                     "rival value": float(np.median(b)), "p": p_time,
                     "leader_worse": p_time < alpha and np.median(a) > np.median(b)})
        ca, cb = complied(leader), complied(rival)
        both = ca.notna().to_numpy() & cb.notna().to_numpy()
        if both.any():
            pc = stats.paired_comparison(ca[both].astype(bool).tolist(), cb[both].astype(bool).tolist())
            rows.append({"rival": rival, "metric": "policy compliance", "leader": pc.accuracy_a,
                         "rival value": pc.accuracy_b, "p": pc.p_value,
                         "leader_worse": pc.p_value < alpha and pc.accuracy_a < pc.accuracy_b})
    out = pd.DataFrame(rows, columns=["rival", "metric", "leader", "rival value", "p", "leader_worse"])
    out.insert(4, "resolved", out["p"] < alpha)
    return leader, out
