"""Claims about quality: published scores, rankings and "best at", and the rules that pick a model.

Scores come from ``data/scores.csv`` through :mod:`workbench.scoreboard` and are compared with the tests of
:mod:`workbench.comparisons`: two published scores are independent samples of the benchmark's size
(``data/benchmarks.csv``), so a gap is tested with a two-proportion test at the ledger's ``alpha``.
Published scores carry no per-item results; a paired test (McNemar) would need them.

* ``score_sources``: one source's scores against every other source's score of the same model;
* ``ranking``: "A is best at X" (or "A and B tie") against every source's scores on the benchmark, or
  on every benchmark of the family, that ``quantity`` names: :func:`standing` classes each rival;
* ``no_single_leader``: "each model leads somewhere" over the source's benchmarks, prices and contexts;
* ``decision_rule``: a recommendation run as a rule (:mod:`workbench.model_choice`) over the models the
  source priced on its date, and again over today's catalog.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import catalog, comparisons, costs, evals, fmt, model_choice, scoreboard
from .ledger_runs import record_command
from .ledger_verdicts import Claim, Context, Verdict, join, model_name, register

__all__ = ["Standing", "benchmarks_of", "standing"]


def _p(p: float) -> str:
    text = fmt.p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _settle_scores(models: list[str], benches: list[str]) -> str:
    """What would settle a comparison on ``benches``: per-item results from the harness tasks that measure
    them (recorded live), or published scores from one setup when no task does."""
    tasks = [t for t in evals.TASK_NAMES if evals.get_task(t).benchmark in benches]
    if tasks:
        return f"per-item results of {join(model_name(m) for m in models)} on the same items: " \
               + record_command(models, tasks)
    return (f"scores of {join(model_name(m) for m in models)} from one setup on {join(benches)} with its number of "
            "items (data/scores.csv and data/benchmarks.csv rows citing their URLs); no task of the harness "
            "(workbench.evals) measures these benchmarks")


def benchmarks_of(target: str) -> list[str]:
    """The benchmarks a ranking is about: ``target`` itself if it is a benchmark, else every benchmark of
    that family in ``data/benchmarks.csv`` (empty when neither)."""
    table = catalog.benchmarks()
    if target in set(table["benchmark"]):
        return [target]
    return list(table.loc[table["family"] == target, "benchmark"])


def _scores(benchmarks: list[str], models: list[str], sources: list[str] | None = None) -> pd.DataFrame:
    try:
        return scoreboard.published_scores(sources, benchmarks, models)
    except ValueError:  # no accuracy score for this selection
        return pd.DataFrame(columns=["benchmark", "family", "n_items", "model_id", "model", "source_id",
                                     "score", "notes"])


@dataclass(frozen=True)
class Standing:
    """How a model stands against each rival on published scores: per rival ``ahead`` / ``behind`` /
    ``mixed`` (significant gaps both ways) / ``noise`` (no gap resolved) / ``untested`` (no size known) /
    ``unscored`` (no common benchmark), with one line of evidence per comparison."""

    status: dict[str, str]
    evidence: tuple[str, ...]
    p_values: dict[str, list[float]]
    benchmarks: tuple[str, ...] = ()   #: the benchmarks that had scores for these models

    def verdict(self) -> str:
        """contradicted (behind or mixed somewhere), consistent (ahead of all), not distinguishable (some
        rival in the noise), or unverifiable offline (nothing testable)."""
        found = set(self.status.values()) - {"unscored"}
        if found & {"behind", "mixed"}:
            return "contradicted"
        if found == {"ahead"}:
            return "consistent"
        if "noise" in found:
            return "not distinguishable"
        return "unverifiable offline"


def standing(model: str, rivals: list[str], benchmarks: list[str], alpha: float) -> Standing:
    """``model`` against each of ``rivals`` on every source's scores of ``benchmarks`` (within a source only)."""
    scores = _scores(benchmarks, [model, *rivals])
    wins = comparisons.claimed_wins(scores, confidence=1 - alpha) if not scores.empty else pd.DataFrame()
    id_of = {name: mid for mid, name in zip(scores["model_id"], scores["model"])}
    status, evidence, p_values = {}, [], {}
    for rival in rivals:
        rows = [r for r in wins.itertuples() if {id_of[r.leader], id_of[r.other]} == {model, rival}]
        if not rows:
            status[rival] = "unscored"
            evidence.append(f"no source scores {model_name(model)} and {model_name(rival)} on the same benchmark")
            continue
        ahead = behind = tested = 0
        for r in rows:
            mine_first = id_of[r.leader] == model
            gap = r.gap if mine_first else -r.gap
            mine, theirs = (r.leader_score, r.other_score) if mine_first else (r.other_score, r.leader_score)
            n = "size unknown: untested" if pd.isna(r.n_items) else f"{fmt.count(r.n_items)} items"
            p = "" if pd.isna(r.p_value) else f", {_p(r.p_value)}"
            evidence.append(f"{r.source_id}, {r.benchmark} ({n}): {model_name(model)} {mine:g} % vs "
                            f"{model_name(rival)} {theirs:g} %, gap {gap:+.1f} points{p}")
            if pd.isna(r.distinguishable):
                continue
            tested += 1
            p_values.setdefault(rival, []).append(float(r.p_value))
            if bool(r.distinguishable) and gap > 0:
                ahead += 1
            elif bool(r.distinguishable) and gap < 0:
                behind += 1
        status[rival] = ("mixed" if ahead and behind else "ahead" if ahead else "behind" if behind
                         else "noise" if tested else "untested")
    return Standing(status, tuple(evidence), p_values, tuple(sorted(set(scores["benchmark"]))))


def _standing_verdict(claim: Claim, st: Standing, what: str, settle: str) -> Verdict:
    verdict = st.verdict()
    groups: dict[str, list[str]] = {}
    for rival, s in st.status.items():
        groups.setdefault(s, []).append(model_name(rival))
    words = {"ahead": "significantly ahead of", "behind": "significantly behind", "mixed": "ahead and behind",
             "noise": "not distinguishable from", "untested": "untestable (size unknown) against",
             "unscored": "never scored beside"}
    finding = f"{what}: " + "; ".join(f"{words[s]} {join(names)}" for s, names in groups.items()) + "."
    decisive = [p for s in ("behind", "mixed", "noise", "ahead") for r, st_ in st.status.items() if st_ == s
                for p in st.p_values.get(r, [])]
    p = max(decisive) if verdict in ("consistent", "not distinguishable") and decisive else (
        min(decisive) if decisive else None)
    return Verdict(verdict, finding, st.evidence or ("no published score",), p_value=p,
                   settle=settle if verdict == "unverifiable offline" else "")


@register("score_sources")
def score_sources(claim: Claim, ctx: Context) -> Verdict:
    """One source's scores on a benchmark against every other source's score of the same model."""
    bench, models = str(claim.quantity), list(claim.subjects)
    scored = scoreboard.with_intervals(_scores([bench], models), 1 - ctx.alpha)
    own = scored[scored["source_id"] == claim.source_id]
    level = fmt.pct(100 * (1 - ctx.alpha))
    evidence = [f"{claim.source_id}: {r.model} {r.score:g} %"
                + (f" on {fmt.count(r.n_items)} items ({fmt.interval(r.ci_low, r.ci_high, 1)} %, {level} Wilson"
                   f"{'' if r.whole_items else '; not a whole count of the items'})" if not pd.isna(r.n_items)
                   else " (size unknown)") for r in own.itertuples()]
    pairs = comparisons.source_disagreements(scored, confidence=1 - ctx.alpha)
    pairs = pairs[(pairs["source_a"] == claim.source_id) | (pairs["source_b"] == claim.source_id)] \
        if not pairs.empty else pairs
    for r in pairs.itertuples():
        other, theirs = ((r.source_b, r.score_b) if r.source_a == claim.source_id else (r.source_a, r.score_a))
        p = "" if pd.isna(r.p_value) else f", {_p(r.p_value)}"
        evidence.append(f"{other} reports {theirs:g} % for {r.model}: a difference of {abs(r.difference):.1f} points{p}")
    if pairs.empty:
        return Verdict("unverifiable offline", f"No other source in data/ reports {bench} for these models.",
                       tuple(evidence), settle=f"the {bench} results in the model makers' reports or the "
                                                "benchmark's leaderboard: data/scores.csv rows citing their URLs.")
    differ = pairs[~pairs["agree"]]
    sig = differ[differ["distinguishable"].fillna(False).astype(bool)]
    p_min = None if differ.empty or differ["p_value"].isna().all() else float(differ["p_value"].min())
    if not sig.empty:
        verdict, finding = "contradicted", (f"Another source reports a different {bench} score, beyond sampling "
                                            f"noise, for {join(sorted(set(sig['model'])))}.")
    elif not differ.empty:
        untested = differ["distinguishable"].isna().all()
        verdict = "unverifiable offline" if untested else "not distinguishable"
        finding = (f"Another source reports a different {bench} score for {join(sorted(set(differ['model'])))}, "
                   "within sampling noise." if not untested else f"{bench}'s size is unknown: the difference "
                                                                   "cannot be tested.")
    else:
        verdict, finding = "consistent", f"Every other source reports the same {bench} scores."
    return Verdict(verdict, finding, tuple(evidence), p_value=p_min,
                   settle=f"{bench}'s number of items (data/benchmarks.csv)" if verdict == "unverifiable offline" else "")


def _no_benchmark(claim: Claim, target: str) -> Verdict:
    return Verdict("unverifiable offline", f"No benchmark in data/benchmarks.csv measures {target}.",
                   (f"benchmark families in data/: {join(sorted(set(catalog.benchmarks()['family'])))}",),
                   settle=f"a graded {target} test (items with known answers or a rubric) added to the harness "
                          f"(workbench.evals), then a recorded live run on {join(model_name(m) for m in claim.subjects)} "
                          "(make record BACKEND=live with the providers' keys).")


@register("ranking")
def ranking(claim: Claim, ctx: Context) -> Verdict:
    """"``model_id`` is best at ``quantity``" against the other ``models``; with no ``model_id`` the claim
    is a tie among ``models`` (consistent when no gap is resolved)."""
    target, models = str(claim.quantity), list(claim.subjects)
    benches = benchmarks_of(target)
    if not benches:
        return _no_benchmark(claim, target)
    settle = _settle_scores(models, benches)
    if claim.model_id is None:  # a tie
        st = standing(models[0], models[1:], benches, ctx.alpha)
        resolved = [r for r, s in st.status.items() if s in ("ahead", "behind", "mixed")]
        tested = [r for r, s in st.status.items() if s != "unscored" and s != "untested"]
        verdict = "contradicted" if resolved else "consistent" if tested else "unverifiable offline"
        pv = [p for ps in st.p_values.values() for p in ps]
        return Verdict(verdict, ("A gap is resolved between " + join(model_name(m) for m in [models[0], *resolved])
                                 if resolved else "No gap between them is resolved on " + join(benches)) + ".",
                       st.evidence or ("no published score",), p_value=min(pv) if pv else None,  # the smallest
                       settle=settle if verdict == "unverifiable offline" else "")
    winner = str(claim.model_id)
    st = standing(winner, [m for m in models if m != winner], benches, ctx.alpha)
    return _standing_verdict(claim, st, f"{model_name(winner)} on {join(st.benchmarks) or join(benches)}", settle)


@register("no_single_leader")
def no_single_leader(claim: Claim, ctx: Context) -> Verdict:
    """Each of ``models`` leads at least one lane of the source's own tables: a benchmark it scores, the
    lowest input price on its date, or the largest context window."""
    models, src = list(claim.subjects), claim.source_id
    scores = _scores(list(catalog.benchmarks()["benchmark"]), models, [src])
    lanes: dict[str, list[str]] = {m: [] for m in models}
    for bench, grp in scores.groupby("benchmark"):
        lanes[str(grp.loc[grp["score"].idxmax(), "model_id"])].append(str(bench))
    day = ctx.price_date(src)
    lanes[model_choice.cheapest(models, day, src)].append(f"lowest price ({src}, {day.isoformat()})")
    windows = catalog.models().set_index("model_id")["context_window"]
    lanes[max(models, key=lambda m: windows.get(m, 0) or 0)].append("largest context window")
    idle = [m for m, lane in lanes.items() if not lane]
    evidence = tuple(f"{model_name(m)} leads: {join(lane) or 'nothing'}" for m, lane in lanes.items())
    finding = ("Each model leads somewhere: " + "; ".join(f"{model_name(m)} {len(lane)} lane(s)"
                                                           for m, lane in lanes.items()) + "."
               if not idle else f"{join(model_name(m) for m in idle)} leads no lane of {src}'s own tables.")
    return Verdict("contradicted" if idle else "consistent", finding, evidence)


def _leader(models: list[str], family: str) -> tuple[str | None, list[str]]:
    """The model that leads most of ``family``'s benchmarks among ``models`` (a lead counts where a source
    scores two of them or more), or None when no model leads more than every other; and the models that
    have any such score."""
    scores = _scores(benchmarks_of(family), models)
    if scores.empty:
        return None, []
    scored = sorted(set(scores["model_id"]), key=models.index)
    shared = scores.groupby(["source_id", "benchmark"]).filter(lambda g: len(g) > 1)
    if len(scored) == 1:
        return scored[0], scored
    if shared.empty:
        return None, scored
    leads = shared.loc[shared.groupby(["source_id", "benchmark"])["score"].idxmax(), "model_id"].value_counts()
    if len(leads) > 1 and leads.iloc[0] == leads.iloc[1]:
        return None, scored
    return str(leads.index[0]), scored


def _pick_by_rule(rule: model_choice.Rule, pool: list[str], on: object, source: str | None,
                  alpha: float) -> tuple[str | None, str]:
    """The rule's choice among ``pool`` (None when none qualifies) and how it was made, in words."""
    met = model_choice.screen(pool, rule.requirement)
    if not met.meets:
        return None, "no candidate meets the requirement"
    if rule.criterion == "cheapest":
        return model_choice.cheapest(list(met.meets), on, source), "the cheapest that meets it"
    best, scored = _leader(list(met.meets), str(rule.family))
    if not scored:
        return None, f"no published {rule.family} score for {join(model_name(m) for m in met.meets)}"
    if best is None:
        return None, (f"no clear choice: no model leads more {rule.family} benchmarks than the others among "
                      f"{join(model_name(m) for m in scored)}")
    if len(scored) == 1:
        return best, f"the only candidate with a published {rule.family} score"
    verdict = standing(best, [m for m in scored if m != best], benchmarks_of(str(rule.family)), alpha).verdict()
    return best, (f"the most {rule.family} leads among {join(model_name(m) for m in scored)}"
                  + ("" if verdict == "consistent" else f", {verdict} from the others"))


@register("decision_rule")
def decision_rule(claim: Claim, ctx: Context) -> Verdict:
    """The recommendation as a rule (``quantity``: ``requirement; criterion``) over the models the source
    priced on its date; the same rule over today's catalog is reported beside it."""
    rule = model_choice.parse_rule(str(claim.quantity))
    pick, src = str(claim.model_id), claim.source_id
    day = ctx.price_date(src)
    pool = model_choice.candidates(day, src)
    met = model_choice.screen(pool, rule.requirement)
    evidence = [f"{src}'s priced models ({day.isoformat()}): {join(model_name(m) for m in pool)}",
                f"meet '{rule.requirement}' per data/models.csv: {join(model_name(m) for m in met.meets) or 'none'}"
                + (f"; not stated: {join(model_name(m) for m in met.unknown)}" if met.unknown else "")]
    latest = costs.latest_price_date()
    today_note = ""
    if latest != day:
        today, how = _pick_by_rule(rule, model_choice.candidates(latest), latest, None, ctx.alpha)
        evidence.append(f"today's catalog (prices of {latest.isoformat()}): "
                        + (f"would choose {model_name(today)}, {how}" if today else how))
        today_note = f" Today's catalog would choose {model_name(today)} ({how})." if today and today != pick else ""
    if pick not in met.meets:
        return Verdict("contradicted", f"{model_name(pick)} does not meet '{rule.requirement}' in data/models.csv."
                       + today_note, tuple(evidence))
    others = [m for m in met.meets if m != pick]
    if not others:
        return Verdict("consistent", f"{model_name(pick)} is the only model {src} prices that meets "
                       f"'{rule.requirement}'.{today_note}", tuple(evidence))
    shared = (f"{join(model_name(m) for m in met.meets)} meet '{rule.requirement}'. "
              if rule.requirement != "any" else "")
    if rule.criterion == "cheapest":
        best = model_choice.cheapest(list(met.meets), day, src)
        among = "of them" if shared else f"of the models {src} prices"
        return Verdict("consistent" if best == pick else "contradicted",
                       f"{shared}{model_name(best)} is the cheapest {among}, on {src}'s prices.{today_note}",
                       tuple(evidence))
    st = standing(pick, others, benchmarks_of(str(rule.family)), ctx.alpha)
    out = _standing_verdict(claim, st, f"{model_name(pick)} on {rule.family} benchmarks",
                            _settle_scores([pick, *others], benchmarks_of(str(rule.family))))
    return Verdict(out.verdict, shared + out.finding + today_note, (*evidence, *out.evidence), settle=out.settle,
                   p_value=out.p_value)
