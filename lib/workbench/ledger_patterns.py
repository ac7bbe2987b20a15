"""Claims about production patterns, settled on per-item outcomes of a recorded run: S1's router savings,
S3's production metrics and S3's hand-off to a person.

These claims are about a *pattern* (route simple queries to a small model; judge a service by more than
accuracy; hand what the assistant cannot resolve to a person), so any run in which several models answered
the same items can test them. The run used is, in order:

1. a recorded **live** run covering the claim's own models (``models`` of ``data/claims.csv``), costed at
   list prices (the usage the runner stored); the verdict is then about those models;
2. else the recorded **open-model ladder** (local archives of the letter-only multiple-choice tasks, one per
   model; the ones recorded with token log-probabilities first), costed in compute time on this machine.
   The finding says so in words: it is the pattern measured on open models, never a result for the
   frontier models the article named.

Verdicts follow the measured interval: a claimed saving of *at least* v is consistent when the whole
interval is at or above v, contradicted when it is all below, not distinguishable when it straddles v (and
the mirror for *at most*). Computation: :mod:`workbench.cost_quality`, :mod:`workbench.routing`,
:mod:`workbench.escalation`, :mod:`workbench.production_metrics`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from . import (
    cost_quality,
    fmt,
    ledger_numbers,
    production_metrics,
    routing,
    stats,
    suite,
)
from .evals.archive_format import MANIFEST
from .ledger_runs import RunIndex, find_archives, record_command
from .ledger_verdicts import Claim, Context, Verdict, join, model_name, register

__all__ = ["CHOICE_TASKS", "PatternRun", "from_results", "pattern_run", "router_saving_verdict"]

#: The tasks a pattern run is read from: letter-only multiple choice (one short reply per item).
CHOICE_TASKS: tuple[str, ...] = ("mmlu_direct", "arc_direct")
#: USD per hour of this machine, to express compute time as money (the assumption of chapters 05 and 07);
#: a saving in compute time is the same share at any hourly price.
_CPU_COST_PER_HOUR = 0.05
_SPLIT_SEED, _TEST_SHARE = 0, 0.5


@dataclass(frozen=True)
class PatternRun:
    """The per-item outcomes a pattern claim is judged on, and what they are."""

    archives: tuple[str, ...]
    backend: str                 #: "live" (the claim's own models) or "local" (the open-model ladder)
    results: pd.DataFrame
    items: pd.DataFrame          #: cost_quality.item_outcomes rows
    cheap: str                   #: the model with the lowest mean cost per item
    strong: str                  #: the most accurate model (the flagship of the comparison)
    models: tuple[str, ...]
    with_confidence: bool        #: every model's answers carry a confidence (token log-probabilities)

    @property
    def basis(self) -> str:
        """The cost basis of savings: ``usd`` for a live run, ``seconds`` (compute time) for the ladder."""
        return "usd" if self.backend == "live" else "seconds"

    def label(self) -> str:
        """What was measured, for a finding."""
        what = ("a recorded live run of " + join(model_name(m) for m in self.models) if self.backend == "live" else
                f"the open-model ladder ({len(self.models)} open models on this machine's CPU; not the models the "
                "article names)")
        return f"{what}, archive{'s' if len(self.archives) > 1 else ''} {', '.join(self.archives)}"


def _manifest(run: RunIndex) -> dict:
    return json.loads((run.folder / MANIFEST).read_text(encoding="utf-8"))


def _has_logprobs(run: RunIndex) -> bool:
    return any((s or {}).get("top_logprobs") for s in (_manifest(run).get("request_settings") or {}).values())


def _ladder(runs: Path | None) -> list[RunIndex]:
    """One finished local choice archive per model, all of one kind: recorded with token log-probabilities
    or without, whichever covers more models (with log-probabilities on a tie); per model the last by id."""
    found = [r for r in find_archives(runs, [], backend="local")
             if set(r.tasks) & set(CHOICE_TASKS) and "counts" in _manifest(r)]  # counts: the recording finished
    groups: dict[bool, dict[str, RunIndex]] = {True: {}, False: {}}
    for r in sorted(found, key=lambda r: r.archive_id):
        for m in r.models:
            groups[_has_logprobs(r)][m] = r
    best = max((True, False), key=lambda lp: (len(groups[lp]), lp))
    return list(dict.fromkeys(groups[best].values())) if len(groups[best]) >= 2 else []


def from_results(results: pd.DataFrame, archives: tuple[str, ...], backend: str = "local",
                 cpu_cost_per_hour: float = _CPU_COST_PER_HOUR) -> PatternRun:
    """A :class:`PatternRun` from a run's results (``suite.load_recorded(...).results``): a live run costed at
    its stored usage, a local one in compute time; the cheap model is the one with the lowest mean cost
    per item, the strong one the most accurate (the cheaper on a tie)."""
    results = results[results["task"].isin(CHOICE_TASKS)] if backend == "local" else results
    items = cost_quality.item_outcomes(results, cost="usage" if backend == "live" else "compute",
                                       cpu_cost_per_hour=cpu_cost_per_hour)
    per = items.groupby("model", sort=False).agg(acc=("correct", "mean"), usd=("usd", "mean"),
                                                 conf=("confidence", lambda s: s.notna().any()))
    strong = str(per.sort_values(["acc", "usd"], ascending=[False, True]).index[0])
    cheap = str(per["usd"].idxmin())
    return PatternRun(tuple(archives), backend, results, items, cheap, strong, tuple(per.index),
                      bool(per["conf"].all()))


@lru_cache(maxsize=8)
def _load(folders: tuple[str, ...], stamps: tuple[int, ...], backend: str) -> PatternRun:
    rec = suite.load_recorded([Path(f) for f in folders])
    return from_results(rec.results, tuple(Path(f).name for f in folders), backend)


def pattern_run(claim: Claim, ctx: Context) -> PatternRun | None:
    """The run a pattern claim is judged on (see the module docstring), or None when there is none."""
    live = [r for r in find_archives(ctx.runs, claim.subjects, backend="live")
            if len(r.models) >= 2 and set(r.tasks) & set(CHOICE_TASKS) and "counts" in _manifest(r)] \
        if claim.subjects else []
    for chosen, backend in ((live[-1:], "live"), (_ladder(ctx.runs), "local")):
        if not chosen:
            continue
        folders = tuple(str(r.folder) for r in chosen)
        stamps = tuple((r.folder / MANIFEST).stat().st_mtime_ns for r in chosen)
        run = _load(folders, stamps, backend)
        if backend == "live" and len(claim.subjects) >= 2:  # the claim's own cheap and flagship models
            run = PatternRun(run.archives, run.backend, run.results, run.items, claim.subjects[0],
                             claim.subjects[1], run.models, run.with_confidence)
        if run.cheap != run.strong:
            return run
    return None


def _p(p: float) -> str:
    """A p-value in prose: "p = 0.03", "p < 0.001"."""
    text = fmt.p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _direction(claim: Claim) -> str:
    return "at most" if "at most" in str(claim.quantity) else "at least"


def _bound_verdict(value: float, lo: float, hi: float, direction: str) -> str:
    """consistent / contradicted / not distinguishable for a claim of ``direction`` ``value``."""
    if np.isnan(lo) or np.isnan(hi):
        return "not distinguishable"
    if direction == "at least":
        return "consistent" if lo >= value else "contradicted" if hi < value else "not distinguishable"
    return "consistent" if hi <= value else "contradicted" if lo > value else "not distinguishable"


def router_saving_verdict(run: PatternRun, alpha: float = 0.05) -> tuple[pd.DataFrame, float]:
    """The learned router (trained on half of the items, its threshold the one that saves most while keeping
    the strong model's accuracy, chosen by cross-validation on that half: :func:`workbench.routing.choose_threshold`;
    judged on the other half), the oracle router and always
    the cheap model, each against always the strong model on the held-out items
    (:func:`workbench.cost_quality.savings` rows), and the threshold used."""
    keys = cost_quality.paired_keys(run.items, [run.cheap, run.strong])
    split = routing.split_items(keys, _TEST_SHARE, _SPLIT_SEED)
    prompts = routing.item_prompts(run.items)
    router = routing.fit_router(run.items, prompts, split, run.cheap, run.strong)
    threshold, _ = routing.choose_threshold(router, run.items, prompts, cost=run.basis)
    policies = pd.concat([
        routing.route_learned(run.items, router, prompts, threshold, name="learned router"),
        routing.oracle(run.items, run.cheap, run.strong, keys=split.test, name="oracle router"),
        cost_quality.single(run.items, run.cheap, name="always the cheap model", keys=split.test),
        cost_quality.single(run.items, run.strong, name="always the strong model", keys=split.test)])
    rows = pd.concat([cost_quality.savings(policies, p, "always the strong model", cost=run.basis,
                                           confidence=1 - alpha, by_task=False)
                      for p in ("learned router", "oracle router", "always the cheap model")], ignore_index=True)
    return rows, threshold


def _settle(claim: Claim, tasks: tuple[str, ...] = CHOICE_TASKS) -> str:
    models = list(claim.subjects) or ["gpt-4o-mini", "gpt-4o"]
    return "per-item outcomes of several models on the same items: " + record_command(models, list(tasks))


@register("router_saving_run")
def router_saving_run(claim: Claim, ctx: Context) -> Verdict:
    """A router's saving against always the flagship (``value`` %, ``quantity`` "... (at least)" or
    "(at most)"), measured with the learned router on held-out items; the price arithmetic of
    :func:`workbench.ledger_numbers.router_saving` is kept as evidence."""
    arithmetic = ledger_numbers.router_saving(claim, ctx)
    run = pattern_run(claim, ctx)
    if run is None:
        return arithmetic
    table, threshold = router_saving_verdict(run, ctx.alpha)
    row = table.set_index("policy")
    learned, ceiling, cheap = row.loc["learned router"], row.loc["oracle router"], row.loc["always the cheap model"]
    value, direction = float(claim.value or 0), _direction(claim)
    s, lo, hi = (100 * float(learned[c]) for c in ("saving", "saving_low", "saving_high"))
    verdict = _bound_verdict(value, lo, hi, direction)
    level = fmt.pct(100 * (1 - ctx.alpha))
    what = "compute time" if run.basis == "seconds" else "cost at list prices"

    def saved(r: pd.Series) -> str:
        return (f"saves {fmt.pct(100 * r['saving'])} [{fmt.interval(100 * r['saving_low'], 100 * r['saving_high'])}] %, "
                f"accuracy {fmt.pct(100 * r['accuracy_policy'])} vs {fmt.pct(100 * r['accuracy_baseline'])} "
                f"({r['accuracy_change_pts']:+.1f} points [{fmt.interval(r['change_low_pts'], r['change_high_pts'], 1)}])")

    finding = (f"Measured on {run.label()}: a learned router between {model_name(run.cheap)} and "
               f"{model_name(run.strong)} saved {fmt.pct(s)} of the {what} of always using the stronger one "
               f"({level} interval {fmt.interval(lo, hi)} %, {int(learned['items'])} held-out items, accuracy "
               f"{learned['accuracy_change_pts']:+.1f} points), against '{direction} {fmt.pct(value)}'. Always the "
               f"smaller model would save {fmt.pct(100 * cheap['saving'])} at {cheap['accuracy_change_pts']:+.1f} points; "
               f"a router that knew the answers {fmt.pct(100 * ceiling['saving'])} at "
               f"{ceiling['accuracy_change_pts']:+.1f} points.")
    evidence = (
        (f"learned router (logistic regression on prompt features, trained on {fmt.pct(100 * (1 - _TEST_SHARE))} of "
        f"the items; cheap model when P(cheap right) ≥ {threshold:g}, the threshold that kept the strong model's "
        f"accuracy on the training items): {saved(learned)}"),
        (f"oracle router (the cheap model exactly where it was right: it knows the outcome, so it is a bound, not a router to deploy): "
        f"{saved(ceiling)}"),
        f"always the cheap model: {saved(cheap)}",
        f"at {claim.source_id}'s own prices: {arithmetic.finding}",
        *arithmetic.evidence)
    return Verdict(verdict, finding, evidence, settle=_settle(claim) if run.backend == "local" else "",
                   derived=s, archive=", ".join(run.archives))


@register("production_metrics_run")
def production_metrics_run(claim: Claim, ctx: Context) -> Verdict:
    """"Judge by more than accuracy": does the most accurate model lose on handling time or policy
    compliance (paired tests at ``alpha``)? Consistent when it does on at least one, contradicted when it is
    resolved better on every one, not distinguishable otherwise."""
    run = pattern_run(claim, ctx)
    if run is None:
        return Verdict("unverifiable offline", "No recorded run in which several models answered the same items.",
                       (f"{claim.source_id} gives no measurement behind it",), settle=_settle(claim))
    leader, table = production_metrics.leader_tradeoffs(run.items, run.results, list(run.models), ctx.alpha)
    policies = pd.concat([cost_quality.single(run.items, m, keys=cost_quality.paired_keys(run.items, list(run.models)))
                          for m in run.models])
    metrics = production_metrics.service_metrics(policies, run.results, 1 - ctx.alpha)
    worse = table[table["leader_worse"]]
    better = table["resolved"] & ~table["leader_worse"]
    verdict = ("consistent" if len(worse) else "contradicted" if len(table) and better.all()
               else "not distinguishable")
    lost = join(f"{r.metric} against {model_name(r.rival)}" for r in worse.itertuples())
    finding = (f"Measured on {run.label()}: accuracy alone picks {model_name(leader)}, "
               + (f"which is worse on {lost} (p < {ctx.alpha:g})." if len(worse) else
                  "which is also at least as good on handling time and policy compliance."
                  if verdict == "contradicted" else "and no other measured metric separates it from the others."))
    evidence = [f"{model_name(r.policy.removeprefix('always '))}: task success {fmt.pct(100 * r.task_success)} "
                f"[{fmt.interval(100 * r.success_low, 100 * r.success_high)}] %, handling time median "
                f"{r.handling_median_s:.2f} s (90th percentile {r.handling_p90_s:.2f} s), policy compliance (reply is "
                f"the letter alone) {fmt.pct(100 * r.compliance)} [{fmt.interval(100 * r.compliance_low, 100 * r.compliance_high)}] %, "
                f"deflection {fmt.pct(100 * r.deflection)} (no hand-off)" for r in metrics.itertuples()]
    evidence += [f"{model_name(leader)} vs {model_name(r.rival)} on {r.metric}: "
                 + (f"{r.leader:.2f} s vs {r['rival value']:.2f} s median (Wilcoxon" if r.metric == "handling time"
                    else f"{fmt.pct(100 * r.leader)} vs {fmt.pct(100 * r['rival value'])} (McNemar")
                 + f", {_p(r.p)})" for _, r in table.iterrows()]
    evidence.append("user satisfaction: not measurable from a run (it needs users)")
    return Verdict(verdict, finding, tuple(evidence), settle=_settle(claim) if run.backend == "local" else "",
                   archive=", ".join(run.archives))


@register("handoff_run")
def handoff_run(claim: Claim, ctx: Context) -> Verdict:
    """"Hand to a person what the assistant cannot resolve": with the most accurate model as the assistant,
    the half of the items it is least sure of (confidence at or below its median) go to a person. Consistent
    when those items are resolved-less-often right than the ones it keeps (two-proportion test), contradicted
    when they are resolved-more-often right, not distinguishable otherwise."""
    run = pattern_run(claim, ctx)
    settle = ("a recorded run with token log-probabilities (the confidence of each answer), e.g. "
              "make record ARGS=\"--tasks mmlu_direct arc_direct --models ... --archive ladder-...-choice-lp\"")
    if run is None or not run.with_confidence:
        return Verdict("unverifiable offline", "No recorded run gives a confidence for each answer, so no rule can "
                       "tell which items the assistant cannot resolve.", ((f"{claim.source_id} gives no measurement "
                       "behind it"),), settle=settle)
    mine = run.items[run.items["model"] == run.strong]
    mine = mine[mine["confidence"].notna()]
    cut = float(mine["confidence"].median())
    handed, kept = mine[mine["confidence"] <= cut], mine[mine["confidence"] > cut]
    if handed.empty or kept.empty:
        return Verdict("not distinguishable", f"{model_name(run.strong)} gives every answer the same confidence.",
                       (f"median confidence {cut:.2f} over {len(mine)} answers",), archive=", ".join(run.archives))
    a_kept, a_handed = float(kept["correct"].mean()), float(handed["correct"].mean())
    p = stats.two_proportion_test(a_kept, len(kept), a_handed, len(handed))
    verdict = ("consistent" if p < ctx.alpha and a_kept > a_handed else
               "contradicted" if p < ctx.alpha else "not distinguishable")
    level = 1 - ctx.alpha
    lo_k, hi_k = stats.wilson_interval(int(kept["correct"].sum()), len(kept), level)
    lo_h, hi_h = stats.wilson_interval(int(handed["correct"].sum()), len(handed), level)
    finding = (f"Measured on {run.label()}: with {model_name(run.strong)} as the assistant, the "
               f"{fmt.pct(100 * len(handed) / len(mine))} of items it was least sure of (confidence ≤ {cut:.2f}) were "
               f"right {fmt.pct(100 * a_handed)} of the time, the ones it kept {fmt.pct(100 * a_kept)} "
               f"({_p(p)}): " + ("its confidence does find what it cannot resolve." if verdict == "consistent"
                                              else "its confidence does not single out what it gets wrong."))
    evidence = (f"kept: {int(kept['correct'].sum())}/{len(kept)} right [{fmt.interval(100 * lo_k, 100 * hi_k)}] %",
                (f"handed to a person: {int(handed['correct'].sum())}/{len(handed)} right "
                f"[{fmt.interval(100 * lo_h, 100 * hi_h)}] % (what the person then resolves is not measured)"),
                "confidence: the probability the model gave to the option it chose, from token log-probabilities")
    return Verdict(verdict, finding, evidence, settle=_settle(claim) if run.backend == "local" else "",
                   p_value=p, archive=", ".join(run.archives))
