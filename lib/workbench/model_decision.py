"""The decision function: a model picked from stated requirements, with the reasons written out.

S1 describes a function that chooses a model from a few requirements (cost sensitivity, task type, audio,
a context over 200K tokens, a quality bar); the other sources recommend models for similar situations.
Here a :class:`Profile` states the requirements and :func:`decide` applies them to a pool of catalog
models on a date, in a fixed order of screens:

1. **usable**: the id still answers on the date (``catalog.retirement``);
2. **priced**: a price on the date (``data/prices.csv``), or a cost given by the caller (a local model's
   compute time, say);
3. **inputs**: takes audio / images / video when the profile needs them (``data/models.csv``; a blank
   cell is *not stated*: the model is set aside and reported, never silently taken or dropped);
4. **context**: a context window of at least ``context_tokens``;
5. **budget**: at most ``budget_usd_per_1k`` for 1,000 requests of the profile's size;
6. **quality bar**: a score of at least ``quality_bar`` % on the *deciding benchmark* of the task type's
   family (the benchmark of ``data/benchmarks.csv`` that most remaining models have a score on), from the
   published scores (``data/scores.csv``; when sources disagree the lowest counts) or measured ones (an
   accuracy table of a recorded run, :func:`workbench.scoreboard.accuracy_table`), measured first.

Then the choice: cost first (``cost_sensitivity="high"``) takes the cheapest that is left; quality first
(``"low"``) takes the best score on the deciding benchmark, and among the models whose gap to the best is
within sampling noise (two-proportion test at ``alpha`` on the benchmark's items, or the run's) the
cheapest. A quality-first profile with no score among the models left gets no pick, and says why.

Typical use::

    from workbench import model_decision
    profile = model_decision.Profile("audio", task_type="multimodal", cost_sensitivity="low", audio=True)
    d = model_decision.decide(profile, on="2024-11-30", pool=model_decision.source_pool("S1"))
    print(d.explain())
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import catalog, costs, fmt, model_choice, params, paths, scoreboard, stats

__all__ = [
    "COST_SENSITIVITY",
    "PROFILES_CSV",
    "SCREENS",
    "Decision",
    "Profile",
    "Step",
    "decide",
    "decision_table",
    "load_profiles",
    "plot_screens",
    "source_date",
    "source_pool",
    "task_types",
]

#: How much cost weighs: "high" picks the cheapest that meets the requirements, "low" the best score.
COST_SENSITIVITY: tuple[str, ...] = ("high", "low")
#: The screens, in the order they are applied.
SCREENS: tuple[str, ...] = ("usable", "priced", "inputs", "context", "budget", "quality bar")
#: The requirement profiles the sources describe, with what each recommended.
PROFILES_CSV: Path = paths.DATA / "requirement_profiles.csv"
_GENERAL = "general"
_INPUTS = ("audio", "image", "video")


def task_types() -> tuple[str, ...]:
    """The task types a profile may name: ``general`` (no quality ranking) and every benchmark family of
    ``data/benchmarks.csv``."""
    families = [f for f in dict.fromkeys(catalog.benchmarks()["family"]) if isinstance(f, str)]
    return (_GENERAL, *families)


@dataclass(frozen=True)
class Profile:
    """A requirement profile; construct it and it checks itself (errors name the field)."""

    profile_id: str
    task_type: str = _GENERAL
    cost_sensitivity: str = "high"
    audio: bool = False
    image: bool = False
    video: bool = False
    context_tokens: int = 0            #: tokens the context must hold (S1's "over 200K" is 200,001)
    quality_bar: float | None = None   #: minimum score in % on the task family's deciding benchmark
    budget_usd_per_1k: float | None = None  #: most it may cost per 1,000 requests of the profile's size
    input_tokens: int = 1000           #: tokens in per request (prices the budget and the choice)
    output_tokens: int = 300           #: tokens out per request

    def __post_init__(self) -> None:
        if not isinstance(self.profile_id, str) or not self.profile_id:
            raise params.ParameterError("profile_id", "a non-empty name", self.profile_id)
        params.choice(self.task_type, "task_type", task_types())
        params.choice(self.cost_sensitivity, "cost_sensitivity", COST_SENSITIVITY)
        for name in _INPUTS:
            if not isinstance(getattr(self, name), bool):
                raise params.ParameterError(name, "True or False", getattr(self, name))
        params.count(self.context_tokens, "context_tokens", minimum=0)
        params.count(self.input_tokens, "input_tokens", minimum=0)
        params.count(self.output_tokens, "output_tokens", minimum=0 if self.input_tokens else 1)
        if self.quality_bar is not None:
            bar = params.number(self.quality_bar, "quality_bar")
            if bar > 100:
                raise params.ParameterError("quality_bar", "a score in % between 0 and 100, or None", bar)
            if self.task_type == _GENERAL:
                raise params.ParameterError("quality_bar", "None for task_type 'general' (a bar needs a "
                                            "benchmark family to be measured on)", self.quality_bar)
        if self.budget_usd_per_1k is not None:
            params.positive(self.budget_usd_per_1k, "budget_usd_per_1k")
        if self.cost_sensitivity == "low" and self.task_type == _GENERAL:
            raise params.ParameterError("task_type", "a benchmark family when cost_sensitivity is 'low' (quality "
                                        "first needs a family to rank on; 'general' has none)", self.task_type)

    @property
    def needs(self) -> tuple[str, ...]:
        """The inputs the profile needs besides text (``audio``, ``image``, ``video``)."""
        return tuple(n for n in _INPUTS if getattr(self, n))

    def describe(self) -> str:
        """The requirements in words."""
        parts = [f"task: {self.task_type}", f"cost sensitivity: {self.cost_sensitivity}"]
        parts += [f"needs {n} input" for n in self.needs]
        if self.context_tokens:
            parts.append(f"context ≥ {fmt.tokens(self.context_tokens)} tokens")
        if self.quality_bar is not None:
            parts.append(f"quality bar {fmt.pct(self.quality_bar, 1)}")
        if self.budget_usd_per_1k is not None:
            parts.append(f"budget {fmt.usd(self.budget_usd_per_1k)} per 1,000 requests")
        return "; ".join(parts)


@dataclass(frozen=True)
class Step:
    """One screen: the models it kept, the ones it dropped (with the reason) and the ones it set aside
    because the catalog does not say."""

    screen: str
    requirement: str
    kept: tuple[str, ...]
    dropped: dict[str, str] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` chose and why (see :meth:`explain`)."""

    profile: Profile
    on: date
    pool: tuple[str, ...]
    steps: tuple[Step, ...]
    pick: str | None
    reason: str
    cost_usd_per_1k: dict[str, float]
    scores: dict[str, tuple[float, int | None, str]]  #: model -> (score %, items or None, where it comes from)
    benchmark: str | None                              #: the deciding benchmark (None: no score was needed)
    tied: tuple[str, ...] = ()                         #: models within noise of the best (quality first)

    @property
    def left(self) -> tuple[str, ...]:
        """The models every screen kept."""
        return self.steps[-1].kept if self.steps else self.pool

    def explain(self) -> str:
        """The decision in prose: each screen with what it removed, then what decided."""
        name = _name
        lines = [(f"**{self.profile.profile_id}** ({self.profile.describe()}), {len(self.pool)} candidate(s) on "
                 f"{self.on.isoformat()}:")]
        for s in self.steps:
            out = [f"{name(m)} ({why})" for m, why in s.dropped.items()]
            aside = [f"{name(m)} ({why})" for m, why in s.unknown.items()]
            text = f"- *{s.screen}* ({s.requirement}): {len(s.kept)} left"
            text += f"; dropped {'; '.join(out)}" if out else ""
            text += f"; set aside, not stated: {'; '.join(aside)}" if aside else ""
            lines.append(text + ".")
        lines.append(f"- *choice*: {self.reason}")
        return "\n".join(lines)

    def row(self) -> dict[str, object]:
        """One table row: the pick, its cost and score, what decided, and the count left after each screen."""
        score = self.scores.get(self.pick) if self.pick else None
        return {"profile": self.profile.profile_id, "requirements": self.profile.describe(),
                "date": self.on.isoformat(), "candidates": len(self.pool),
                **{f"after {s.screen}": len(s.kept) for s in self.steps},
                "pick": self.pick or "", "pick name": _name(self.pick) if self.pick else "no pick",
                "USD per 1k requests": self.cost_usd_per_1k.get(self.pick) if self.pick else None,
                "score %": score[0] if score else None,
                "benchmark": self.benchmark or "", "decided by": self.reason}


# --------------------------------------------------------------------------------------------
# Pools and dates
# --------------------------------------------------------------------------------------------
def source_date(source_id: str) -> date:
    """A source's price date (its latest row in ``data/prices.csv``), else its publication date."""
    catalog.check_sources([source_id], param="source_id")
    prices = catalog.prices()
    own = prices[prices["source_id"] == source_id]
    if len(own):
        return own["observed"].max().date()
    published = str(catalog.sources().set_index("source_id").at[source_id, "published"])
    return date.fromisoformat(published if len(published) == 10 else f"{published}-15")


def source_pool(source_id: str) -> list[str]:
    """The models a source priced on its price date (:func:`workbench.model_choice.candidates`), the pool
    an article chose from; empty when the source prices none."""
    return model_choice.candidates(source_date(source_id), source_id)


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------
def _name(model_id: str) -> str:
    names = catalog.models().set_index("model_id")["name"]
    return str(names.get(model_id, model_id))


def _family_scores(family: str, models: Sequence[str], measured: pd.DataFrame | None,
                   scores_source: str | None) -> pd.DataFrame:
    """Rows (benchmark, n_items, model_id, score, origin, measured) for ``family``: measured first."""
    bench = catalog.benchmarks()
    in_family = list(bench.loc[bench["family"] == family, "benchmark"])
    rows: list[dict[str, object]] = []
    if measured is not None and len(measured):
        params.columns(measured, ["model", "benchmark", "accuracy_pct", "scored"], "measured")
        for r in measured[measured["benchmark"].isin(in_family) & measured["model"].isin(models)].itertuples():
            archive = getattr(r, "archive", "") or "a recorded run"
            rows.append({"benchmark": r.benchmark, "n_items": int(r.scored), "model_id": r.model,
                         "score": float(r.accuracy_pct), "origin": f"measured, {getattr(r, 'task', '')} in {archive}",
                         "measured": True})
    try:
        pub = scoreboard.published_scores([scores_source] if scores_source else None, in_family, list(models))
    except ValueError:  # no published accuracy for this selection
        pub = pd.DataFrame(columns=["benchmark", "n_items", "model_id", "source_id", "score"])
    for r in pub.itertuples():
        rows.append({"benchmark": r.benchmark, "n_items": None if pd.isna(r.n_items) else int(r.n_items),
                     "model_id": r.model_id, "score": float(r.score), "origin": f"published, {r.source_id}",
                     "measured": False})
    return pd.DataFrame(rows, columns=["benchmark", "n_items", "model_id", "score", "origin", "measured"])


def _deciding(table: pd.DataFrame, models: Sequence[str]) -> tuple[str | None, dict[str, tuple[float, int | None, str]]]:
    """The benchmark most of ``models`` have a score on (then the larger, then by name) and each model's
    score on it: a measured one if there is one, else the lowest published one."""
    table = table[table["model_id"].isin(models)]
    if table.empty:
        return None, {}
    cover = table.groupby("benchmark").agg(models=("model_id", "nunique"), items=("n_items", "max"))
    cover = cover.assign(items=cover["items"].fillna(0)).reset_index()
    best = cover.sort_values(["models", "items", "benchmark"], ascending=[False, False, True]).iloc[0]["benchmark"]
    out: dict[str, tuple[float, int | None, str]] = {}
    for m, g in table[table["benchmark"] == best].groupby("model_id", sort=False):
        mine = g[g["measured"]] if g["measured"].any() else g
        low = mine.loc[mine["score"].idxmin()]
        origin = str(low["origin"]) + (f" (lowest of {len(mine)} sources)" if len(mine) > 1 else "")
        n = low["n_items"]
        out[str(m)] = (float(low["score"]), None if n is None or pd.isna(n) else int(n), origin)
    return str(best), out


# --------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------
def _stamp() -> tuple[int, ...]:
    """The catalog tables' modification times: the memoised look-ups below are redone when one changes."""
    return tuple((paths.DATA / f"{t}.csv").stat().st_mtime_ns for t in ("prices", "models", "retirements"))


@lru_cache(maxsize=8192)
def _request_usd(model: str, on: date, source: str | None, n_in: int, n_out: int, stamp: tuple[int, ...]) -> float | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", costs.PriceConflictWarning)
        try:
            return 1000 * costs.request_cost(model, n_in, n_out, on, source=source)
        except costs.NoPriceError:
            return None


@lru_cache(maxsize=8192)
def _status(model: str, on: date, stamp: tuple[int, ...]) -> tuple[bool, str]:
    r = catalog.retirement(model, on)
    return r.usable, r.status


@lru_cache(maxsize=256)
def _priced(on: date, stamp: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(model_choice.candidates(on))


def _costs(models: Sequence[str], profile: Profile, on: date, source: str | None,
           given: Mapping[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """USD per 1,000 requests of the profile's size per model; and the models without a price, with why."""
    out, missing = {}, {}
    stamp = _stamp()
    for m in models:
        usd = float(given[m]) if m in given else _request_usd(m, on, source, profile.input_tokens,
                                                              profile.output_tokens, stamp)
        if usd is None:
            missing[m] = f"no price on {on.isoformat()}" + (f" from {source}" if source else "")
        else:
            out[m] = usd
    return out, missing


def decide(profile: Profile, on: date | str | None = None, pool: Iterable[str] | None = None, *,
           measured: pd.DataFrame | None = None, prices: Mapping[str, float] | None = None,
           price_source: str | None = None, scores_source: str | None = None,
           alpha: float = 0.05) -> Decision:
    """Apply ``profile`` to ``pool`` on ``on`` and pick a model (see the module docstring).

    Args:
        profile: the requirements.
        on: the date (None: the latest price date of the catalog).
        pool: catalog model ids to choose from (None: every model priced on ``on``).
        measured: an accuracy table of a recorded run (``scoreboard.accuracy_table``): measured scores,
            used before published ones.
        prices: USD per 1,000 requests for models the price table lacks (a local model's compute time).
        price_source / scores_source: use only this source's prices / scores (to replay an article).
        alpha: the level of the test that decides whether a lead over the best is within noise.

    Raises:
        params.ParameterError: a bad date, ``alpha``, or an empty pool.
        catalog.UnknownNameError: a model id (or source id) the catalog does not know.
    """
    if not isinstance(profile, Profile):
        raise params.ParameterError("profile", "a model_decision.Profile", profile)
    day = costs.latest_price_date() if on is None else params.iso_date(on, "on")
    alpha = params.probability(alpha, "alpha")
    for s, p in ((price_source, "price_source"), (scores_source, "scores_source")):
        if s is not None:
            catalog.check_sources([s], param=p)
    given = {str(m): params.positive(v, f"prices[{m!r}]") for m, v in (prices or {}).items()}
    catalog.check_models(list(given), param="prices")
    models = list(_priced(day, _stamp())) if pool is None else catalog.check_models(params.names(pool, "pool"),
                                                                                      param="pool")
    models = list(dict.fromkeys(models))
    if not models:
        raise params.ParameterError("pool", f"at least one model (none is priced on {day.isoformat()})", pool)
    steps: list[Step] = []

    def step(screen: str, requirement: str, left: list[str], dropped: dict[str, str],
             unknown: dict[str, str] | None = None) -> list[str]:
        unknown = unknown or {}
        kept = [m for m in left if m not in dropped and m not in unknown]
        steps.append(Step(screen, requirement, tuple(kept), dropped, unknown))
        return kept

    left = step("usable", f"answers on {day.isoformat()}", models,
                {m: f"{status} on {day.isoformat()}" for m in models
                 if not (state := _status(m, day, _stamp()))[0] for status in [state[1]]})
    cost, unpriced = _costs(left, profile, day, price_source, given)
    left = step("priced", "a price on the date" + (f" from {price_source}" if price_source else "")
                + (" or one given" if given else ""), left, unpriced)
    info = catalog.models().set_index("model_id")
    dropped, unknown = {}, {}
    for m in left:
        for need in profile.needs:
            cell = info.at[m, f"input_{need}"]
            if pd.isna(cell):
                unknown[m] = f"{need} input not stated"
            elif not bool(cell):
                dropped[m] = f"no {need} input"
    left = step("inputs", "takes " + (", ".join(profile.needs) if profile.needs else "text") + " input",
                left, dropped, unknown)
    dropped, unknown = {}, {}
    for m in left if profile.context_tokens else []:
        window = info.at[m, "context_window"]
        if pd.isna(window):
            unknown[m] = "context window not stated"
        elif int(window) < profile.context_tokens:
            dropped[m] = f"context {fmt.tokens(int(window))}"
    left = step("context", f"context ≥ {fmt.tokens(profile.context_tokens)} tokens" if profile.context_tokens
                else "no context requirement", left, dropped, unknown)
    budget = profile.budget_usd_per_1k
    left = step("budget", f"≤ {fmt.usd(budget)} per 1,000 requests" if budget is not None else "no budget", left,
                {m: f"{fmt.usd(cost[m])} per 1,000" for m in left if budget is not None and cost[m] > budget})
    benchmark, scores = None, {}
    if profile.task_type != _GENERAL:
        table = _family_scores(profile.task_type, left, measured, scores_source)
        benchmark, scores = _deciding(table, left)
    bar = profile.quality_bar
    if bar is None:
        left = step("quality bar", "no quality bar", left, {})
    elif benchmark is None:
        left = step("quality bar", f"≥ {fmt.pct(bar, 1)} on {profile.task_type}", left, {},
                    {m: f"no {profile.task_type} score" for m in left})
    else:
        left = step("quality bar", f"≥ {fmt.pct(bar, 1)} on {benchmark}", left,
                    {m: f"{fmt.pct(scores[m][0], 1)}" for m in left if m in scores and scores[m][0] < bar},
                    {m: f"no {benchmark} score" for m in left if m not in scores})
    pick, reason, tied = _choose(profile, left, cost, scores, benchmark, alpha)
    return Decision(profile, day, tuple(models), tuple(steps), pick, reason, cost,
                    {m: s for m, s in scores.items() if m in left}, benchmark, tied)


def _choose(profile: Profile, left: list[str], cost: dict[str, float],
            scores: dict[str, tuple[float, int | None, str]], benchmark: str | None,
            alpha: float) -> tuple[str | None, str, tuple[str, ...]]:
    """The pick among ``left`` by the profile's cost sensitivity, the reason in words, the tied models."""
    if not left:
        return None, "no model meets every requirement.", ()
    def price(m: str) -> str:
        return f"{fmt.usd(cost[m])} per 1,000 requests"
    cheapest = min(left, key=lambda m: (cost[m], m))
    if profile.cost_sensitivity == "high":
        runner = sorted((m for m in left if m != cheapest), key=lambda m: cost[m])[:1]
        return cheapest, (f"cost first: {_name(cheapest)} is the cheapest of {len(left)} at {price(cheapest)}"
                          + (f" (next: {_name(runner[0])}, {price(runner[0])})." if runner else ".")), ()
    ranked = [m for m in left if m in scores]
    if not ranked:
        return None, (f"quality first, but none of the {len(left)} model(s) left has a score in the "
                      f"{profile.task_type} family (published or measured); the cheapest of them would be {_name(cheapest)} at "
                      f"{price(cheapest)}, unranked on quality."), ()
    best = max(ranked, key=lambda m: (scores[m][0], -cost[m]))
    top, n_top, origin = scores[best]
    tied, notes = [best], []
    for m in ranked:
        if m == best:
            continue
        s, n, _ = scores[m]
        if n_top and n:
            p = stats.two_proportion_test(top / 100, n_top, s / 100, n)
            if p >= alpha:
                tied.append(m)
            notes.append(f"{_name(m)} {fmt.pct(s, 1)} (p = {fmt.p_value(p)})")
        else:
            notes.append(f"{_name(m)} {fmt.pct(s, 1)} (items unknown: untested)")
    pick = min(tied, key=lambda m: (cost[m], m))
    unranked = [m for m in left if m not in scores]
    text = (f"quality first on {benchmark}: best {_name(best)} {fmt.pct(top, 1)} ({origin}"
            + (f", {fmt.count(n_top)} items" if n_top else "") + ")"
            + (f" against {'; '.join(notes)}" if notes else ""))
    if pick != best:
        text += (f"; within noise of it at alpha {alpha:g}: {', '.join(_name(m) for m in tied if m != best)}, so "
                 f"the cheapest of those, {_name(pick)} at {price(pick)}")
    else:
        text += f"; picked at {price(pick)}"
    if unranked:
        text += f". Not ranked (no {benchmark} score): {', '.join(_name(m) for m in unranked)}"
    return pick, text + ".", tuple(tied)


# --------------------------------------------------------------------------------------------
# The sources' profiles
# --------------------------------------------------------------------------------------------
_BOOL = {"yes": True, "no": False, "": False}


def _cell(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def load_profiles(path: Path | None = None) -> pd.DataFrame:
    """The requirement profiles of the sources (``data/requirement_profiles.csv``), one row each, with a
    ``profile`` column holding the checked :class:`Profile`. A bad row stops with its line and field."""
    path = Path(path) if path is not None else PROFILES_CSV
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    params.columns(table, ["profile_id", "source_id", "section", "recommendation", "recommended", "task_type",
                           "cost_sensitivity", "audio", "image", "context_tokens", "quality_bar",
                           "budget_usd_per_1k", "pool", "not_said", "claim_id"], str(path.name))
    built = []
    for line, r in enumerate(table.to_dict("records"), start=2):
        try:
            catalog.check_sources([r["source_id"]], param="source_id")
            if r["recommended"]:
                catalog.check_models(r["recommended"].split(";"), param="recommended")
            for flag in ("audio", "image"):
                if r[flag] not in _BOOL:
                    raise params.ParameterError(flag, "yes, no or blank", r[flag])
            built.append(Profile(
                r["profile_id"], task_type=r["task_type"] or _GENERAL, cost_sensitivity=r["cost_sensitivity"],
                audio=_BOOL[r["audio"]], image=_BOOL[r["image"]],
                context_tokens=int(r["context_tokens"] or 0),
                quality_bar=float(r["quality_bar"]) if r["quality_bar"] else None,
                budget_usd_per_1k=float(r["budget_usd_per_1k"]) if r["budget_usd_per_1k"] else None))
        except ValueError as err:
            raise ValueError(f"{path.name}, line {line}: {err}") from None
    return table.assign(profile=built)


def _pool_of(row: Mapping[str, object]) -> tuple[date, list[str], str | None]:
    """A profile row's date, pool and price source: ``source`` (what the source priced), else listed ids
    at the source's publication date."""
    src = str(row["source_id"])
    pool = _cell(row["pool"])
    if pool in ("", "source"):
        return source_date(src), source_pool(src), src
    ids = catalog.check_models(pool.split(";"), param="pool")
    return source_date(src), ids, None


def decision_table(profiles: pd.DataFrame | None = None, today: date | str | None = None, *,
                   alpha: float = 0.05) -> tuple[pd.DataFrame, list[Decision]]:
    """Each source profile decided twice: among the models the source chose from, on its date (the source's
    own prices, or the catalog's where it prices none; every published score), and among today's catalog.

    Returns the table (profile, source, what it recommended, the pick then, whether they agree, the pick
    today, what decided) and the decisions (then, today, then, today, ...).
    """
    table = load_profiles() if profiles is None else profiles
    day = costs.latest_price_date() if today is None else params.iso_date(today, "today")
    rows, decisions = [], []
    for r in table.to_dict("records"):
        on, pool, source = _pool_of(r)
        then = decide(r["profile"], on, pool, price_source=source, alpha=alpha)
        now = decide(r["profile"], day, None, alpha=alpha)
        decisions += [then, now]
        recommended = [m for m in _cell(r["recommended"]).split(";") if m]
        rows.append({
            "profile": r["profile_id"], "source": r["source_id"], "requirements": r["profile"].describe(),
            "not said by the source": _cell(r["not_said"]).replace(";", ", ") or "-",
            "recommended": r["recommendation"],
            "pick on the source's date": _name(then.pick) if then.pick else "no pick",
            "agrees": fmt.yes_no(then.pick in recommended) if recommended else "n/a",
            f"pick on {day.isoformat()}": _name(now.pick) if now.pick else "no pick",
            "decided by (then)": then.reason, f"decided by ({day.isoformat()})": now.reason,
            "date then": on.isoformat(), "claim": _cell(r["claim_id"]),
        })
    return pd.DataFrame(rows), decisions


# --------------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------------
def plot_screens(decisions: Sequence[Decision], title: str, source: str) -> plt.Figure:
    """Models left after each screen, one row per decision (count written in the cell, shade = share of the
    candidates left), the pick written at the end of the row."""
    if not decisions:
        raise params.ParameterError("decisions", "at least one decision", decisions)
    labels = ["candidates", *SCREENS]
    counts = np.array([[len(d.pool), *[len(s.kept) for s in d.steps]] for d in decisions], dtype=float)
    share = counts / np.maximum(counts[:, :1], 1)
    fig, ax = plt.subplots(figsize=(10, 0.34 * len(decisions) + 1.6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1.6, aspect="auto")
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, f"{int(n)}", ha="center", va="center", fontsize=8,
                color="#c0392b" if n == 0 else "#1a1a1a")
    for i, d in enumerate(decisions):
        ax.text(len(labels) - 0.4, i, _name(d.pick) if d.pick else "no pick", va="center", fontsize=8,
                color="#1a1a1a" if d.pick else "#c0392b", fontweight="bold" if d.pick else "normal")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(decisions)), [f"{d.profile.profile_id} · {d.on.isoformat()}" for d in decisions],
                  fontsize=8)
    ax.set_xlim(-0.5, len(labels) + 2.2)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, loc="left", fontweight="bold", pad=22)
    fig.text(0.01, 0.005, source, fontsize=7, color="#555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
