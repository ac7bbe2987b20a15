"""Routers: send each item to one model, by its task or by a classifier on its prompt, measured per item.

A router is judged on per-item outcomes of a recorded (or live) run (:func:`workbench.cost_quality.item_outcomes`):
every model answered every item, so a router's choice can be scored after the fact, at the cost of the
model it picked.  Each router returns a policy frame (:data:`workbench.cost_quality.POLICY_COLUMNS`), the
same as "always one model", so :func:`workbench.cost_quality.summary`, ``frontier`` and ``savings`` put
them side by side.

* :func:`split_items` splits the items into train and test **by item id**, deterministically (a hash of
  seed, task and id, ranked within each task), so every model is judged on the same test items and the
  split never depends on the outcomes; :class:`Split` refuses to exist with an item on both sides.
* :func:`route_by_task` is the table router (task -> model); :func:`fit_task_table` learns that table on
  the train items (per task, the cheapest model within a tolerance of the best train accuracy).
* :func:`fit_router` trains a small classifier (scikit-learn's ``LogisticRegression`` on
  :func:`prompt_features` -- length, lines, digits, code markers, the task -- and TF-IDF words of the
  prompt) to predict whether the CHEAP model answers an item right, on the train items only;
  :func:`route_learned` sends an item to the cheap model when that probability reaches a threshold,
  else to the strong one, on the test items; :func:`choose_threshold` picks that threshold by
  cross-validation on the train items.  :meth:`LearnedRouter.quality` says how well it predicts.
* :func:`oracle` is the ceiling no router can pass: the cheap model exactly when it is right.
* :func:`standard_policies` builds all of them at once on the test items, beside every single model.

Typical use::

    items = cost_quality.item_outcomes(results, cost="compute", cpu_cost_per_hour=0.05)
    split = routing.split_items(cost_quality.paired_keys(items, [cheap, strong]), test_share=0.5, seed=0)
    router = routing.fit_router(items, routing.item_prompts(items), split, cheap, strong)
    policy = routing.route_learned(items, router, threshold=0.5)
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from . import params
from .cost_quality import (
    ITEM_KEYS,
    check_models,
    paired_keys,
    pick,
    policy_frame,
    single,
    wide_outcomes,
)
from .evals import tasks as eval_tasks
from .params import ParameterError

__all__ = [
    "FEATURES",
    "LearnedRouter",
    "Split",
    "choose_threshold",
    "fit_router",
    "fit_task_table",
    "item_prompts",
    "oracle",
    "prompt_features",
    "route_by_task",
    "route_learned",
    "split_items",
    "standard_policies",
]

#: The numeric prompt features of :func:`prompt_features` (the task is added as a category).
FEATURES: tuple[str, ...] = ("log_chars", "log_words", "lines", "digit_share", "upper_share", "code_marks",
                             "math_marks", "questions", "mean_word_len")
_CODE = re.compile(r"```|\bdef |\breturn\b|\bimport\b|>>>|\bclass |\w+\(.*?\)|==|!=|\[\]")
_MATH = re.compile(r"[=+*/^<>√∑∫π]|\\frac|\bsqrt\b|\d+\.\d+")


# --------------------------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Train and test items, disjoint by construction (an item on both sides is an error).

    Attributes:
        train, test: (task, item_id) frames.
        test_share: the share of each task's items put in ``test``.
        seed: the seed of the hash.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    test_share: float
    seed: int

    def __post_init__(self) -> None:
        both = set(map(tuple, self.train[ITEM_KEYS].to_numpy())) & set(map(tuple, self.test[ITEM_KEYS].to_numpy()))
        if both:
            raise ParameterError("split", "train and test without a common item", min(both))

    def test_mask(self, frame: pd.DataFrame) -> np.ndarray:
        """True for the rows of ``frame`` whose (task, item_id) is a test item."""
        test = pd.MultiIndex.from_frame(self.test[ITEM_KEYS])
        return pd.MultiIndex.from_frame(frame[ITEM_KEYS].astype(str)).isin(test)


def _rank(seed: int, task: str, item_id: str) -> str:
    return hashlib.sha256(f"{seed}\x1f{task}\x1f{item_id}".encode()).hexdigest()


def split_items(keys: pd.DataFrame, test_share: float = 0.5, seed: int = 0) -> Split:
    """Split items into train and test by item id: the same items give the same split, for any outcomes.

    Within each task the items are ordered by ``sha256(seed, task, item_id)`` and the first
    ``round(test_share x n)`` go to test, so each task keeps the share exactly.

    Args:
        keys: a frame with ``task`` and ``item_id`` (e.g. :func:`workbench.cost_quality.paired_keys`;
            duplicates are dropped).
        test_share: share of each task's items judged (test), strictly between 0 and 1.
        seed: seed of the hash (a whole number >= 0).

    Raises:
        params.ParameterError: no items, or a share that leaves a task's train or test side empty.
    """
    params.columns(keys, ITEM_KEYS, "keys")
    share = params.probability(test_share, "test_share")
    seed = params.count(seed, "seed", minimum=0)
    keys = keys[ITEM_KEYS].astype(str).drop_duplicates()
    if keys.empty:
        raise ParameterError("keys", "at least one item", "an empty table")
    train, test = [], []
    for task, g in keys.groupby("task", sort=False):
        ranked = g.assign(_r=[_rank(seed, task, i) for i in g["item_id"]]).sort_values("_r")
        k = round(share * len(ranked))
        if k == 0 or k == len(ranked):
            raise ParameterError("test_share", f"a share leaving train and test items of task {task!r} "
                                 f"({len(ranked)} items)", test_share)
        test.append(ranked.iloc[:k][ITEM_KEYS])
        train.append(ranked.iloc[k:][ITEM_KEYS])

    def order(parts: list[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat(parts).sort_values(ITEM_KEYS, kind="stable").reset_index(drop=True)

    return Split(order(train), order(test), share, seed)


# --------------------------------------------------------------------------------------------
# Routing by task
# --------------------------------------------------------------------------------------------


def _check_table(items: pd.DataFrame, table: Any, tasks: Sequence[str]) -> dict[str, str]:
    if not isinstance(table, Mapping) or not table:
        raise ParameterError("table", "a mapping task -> model", table)
    known = list(dict.fromkeys(items["model"]))
    for task, model in table.items():
        if model not in known:
            raise ParameterError("table", "models of the results (" + ", ".join(known) + f") for task {task!r}", model)
    for task in tasks:
        if task not in table:
            raise ParameterError("table", f"a model for every task ({', '.join(tasks)})", f"none for {task!r}")
    return dict(table)


def route_by_task(items: pd.DataFrame, table: Mapping[str, str], *, keys: pd.DataFrame | None = None,
                  name: str = "route by task") -> pd.DataFrame:
    """The table router: every item of a task goes to ``table[task]``; a policy frame, kind ``router``.

    Args:
        items: :func:`workbench.cost_quality.item_outcomes` rows.
        table: task -> model (models of ``items``; every task of the items routed needs one).
        keys: the (task, item_id) items to route (e.g. ``split.test``, or the items every model answered,
            :func:`workbench.cost_quality.paired_keys`); default every item the routed model of its task
            answered, for the tasks of the table.
        name: the policy's name.
    """
    table = _check_table(items, table, [])
    if keys is None:
        mine = items[items["task"].map(table) == items["model"]]
        keys = mine[ITEM_KEYS].drop_duplicates().sort_values(ITEM_KEYS, kind="stable")
    params.columns(keys, ITEM_KEYS, "keys")
    keys = keys[ITEM_KEYS].astype(str).reset_index(drop=True)
    if keys.empty:
        raise ParameterError("keys", "at least one item to route", "an empty table")
    table = _check_table(items, table, list(dict.fromkeys(keys["task"])))
    models = list(dict.fromkeys(table.values()))
    wide = wide_outcomes(items, models, keys)
    chosen = wide["task"].map(table).to_numpy()
    correct = pick(wide, chosen, "correct")
    if np.isnan(correct).any():
        bad = wide[np.isnan(correct)].iloc[0]
        raise ParameterError("keys", "items that the routed models answered",
                             f"{bad['task']} item {bad['item_id']}, not answered by {table[bad['task']]}")
    return policy_frame(name, "router", wide, chosen, correct, pick(wide, chosen, "seconds"),
                   pick(wide, chosen, "usd"), [1] * len(wide))


def fit_task_table(items: pd.DataFrame, split: Split, models: Sequence[str], tolerance_pts: float = 0.0) -> dict[str, str]:
    """Learn the task table on the TRAIN items: per task, the cheapest of ``models`` (mean USD per item)
    whose train accuracy is within ``tolerance_pts`` points of the best train accuracy.

    Args:
        items: :func:`workbench.cost_quality.item_outcomes` rows.
        split: the :class:`Split` (only ``split.train`` is read).
        models: the candidate models.
        tolerance_pts: accuracy points given up for a cheaper model (>= 0; 0 keeps the most accurate).
    """
    models = check_models(items, models, "models")
    tol = params.number(tolerance_pts, "tolerance_pts") / 100
    train = items[items["model"].isin(models)].merge(split.train, on=ITEM_KEYS)
    table = {}
    for task, g in train.groupby("task", sort=False):
        per = g.groupby("model").agg(acc=("correct", "mean"), usd=("usd", "mean")).reindex(models).dropna()
        ok = per[per["acc"] >= per["acc"].max() - tol - 1e-12]
        table[str(task)] = str(ok.sort_values(["usd", "acc"], ascending=[True, False]).index[0])
    if not table:
        raise ParameterError("split", "train items that the models answered", "none")
    return table


# --------------------------------------------------------------------------------------------
# The learned router
# --------------------------------------------------------------------------------------------


def item_prompts(items: pd.DataFrame) -> pd.DataFrame:
    """The user message of each (task, item_id) of ``items``, rebuilt from the task registry
    (:func:`workbench.evals.tasks.get_task`: the same prompt the run sent).

    Returns:
        Columns: task, item_id, prompt.

    Raises:
        catalog.UnknownNameError: a task the registry does not have; params.ParameterError: an item id
        the task does not have.
    """
    params.columns(items, ITEM_KEYS, "items")
    keys = items[ITEM_KEYS].astype(str).drop_duplicates()
    rows = []
    for task, g in keys.groupby("task", sort=False):
        t = eval_tasks.get_task(task)
        by_id = {it.id: it for it in t.items()}
        for item_id in g["item_id"]:
            if item_id not in by_id:
                raise ParameterError("items", f"item ids of task {task!r}", item_id)
            rows.append({"task": task, "item_id": item_id, "prompt": t.prompt(by_id[item_id])})
    return pd.DataFrame(rows, columns=["task", "item_id", "prompt"])


def prompt_features(prompts: pd.DataFrame) -> pd.DataFrame:
    """Numeric features of each prompt (:data:`FEATURES`): size, digits, capitals, code and maths markers.

    Returns:
        ``prompts`` with the :data:`FEATURES` columns added.
    """
    params.columns(prompts, ["task", "item_id", "prompt"], "prompts")
    text = prompts["prompt"].astype(str)
    chars = text.str.len().clip(lower=1)
    words = text.str.split()
    out = prompts.copy()
    out["log_chars"] = np.log1p(chars)
    out["log_words"] = np.log1p(words.str.len())
    out["lines"] = text.str.count("\n") + 1
    out["digit_share"] = text.str.count(r"\d") / chars
    out["upper_share"] = text.str.count(r"[A-Z]") / chars
    out["code_marks"] = text.map(lambda s: len(_CODE.findall(s)))
    out["math_marks"] = text.map(lambda s: len(_MATH.findall(s)))
    out["questions"] = text.str.count(r"\?")
    out["mean_word_len"] = words.map(lambda w: float(np.mean([len(x) for x in w])) if w else 0.0)
    return out


@dataclass
class LearnedRouter:
    """A classifier predicting whether ``cheap`` answers an item right, trained on ``split.train`` only.

    Attributes:
        cheap, strong: the two models routed between.
        split: the split it was trained on (its test items are the ones to judge it on).
        model: the fitted scikit-learn pipeline (features -> logistic regression).
        train_items: (task, item_id) rows it was trained on (never a test item).
        train_rate: the cheap model's accuracy on those items.
    """

    cheap: str
    strong: str
    split: Split
    model: Pipeline
    train_items: pd.DataFrame
    train_rate: float

    def predict(self, prompts: pd.DataFrame) -> pd.Series:
        """P(cheap model right) for each row of ``prompts`` (:func:`item_prompts`), indexed like it."""
        feats = prompt_features(prompts)
        return pd.Series(self.model.predict_proba(feats)[:, 1], index=prompts.index, name="p_cheap_right")

    def quality(self, items: pd.DataFrame, prompts: pd.DataFrame) -> pd.DataFrame:
        """How well it predicts on the TEST items, per task and overall: items, the cheap model's accuracy,
        ROC AUC (0.5 = no better than chance; NaN when one class is absent) and Brier score (with the Brier
        score of always predicting the train rate beside it)."""
        test = self._test_rows(items, prompts)
        rows = []
        for task, g in [*test.groupby("task", sort=False), ("all", test)]:
            y, p = g["correct"].astype(int).to_numpy(), g["p"].to_numpy()
            rows.append({"task": task, "items": len(g), "cheap_accuracy": y.mean(),
                         "auc": roc_auc_score(y, p) if 0 < y.sum() < len(y) else np.nan,
                         "brier": brier_score_loss(y, p),
                         "brier_constant": brier_score_loss(y, np.full(len(y), self.train_rate))})
        return pd.DataFrame(rows)

    def _test_rows(self, items: pd.DataFrame, prompts: pd.DataFrame) -> pd.DataFrame:
        keys = paired_keys(items, [self.cheap, self.strong]).merge(self.split.test, on=ITEM_KEYS)
        if keys.empty:
            raise ParameterError("items", f"test items that both {self.cheap} and {self.strong} answered", "none")
        rows = _labelled(items, prompts, keys, self.cheap, "test")
        rows["p"] = self.predict(rows).to_numpy()
        return rows


def fit_router(items: pd.DataFrame, prompts: pd.DataFrame, split: Split, cheap: str, strong: str, *,
               words: int = 200, c: float = 1.0) -> LearnedRouter:
    """Train the learned router on the TRAIN items of ``split`` (a test item never reaches the fit).

    Features: :data:`FEATURES` (standardised), the task (one-hot) and up to ``words`` TF-IDF words of the
    prompt (fitted on the train prompts); a logistic regression with L2 penalty ``1/c`` predicts
    whether ``cheap`` was right.

    Args:
        items: :func:`workbench.cost_quality.item_outcomes` rows.
        prompts: :func:`item_prompts` rows.
        split: the :class:`Split`; only items both models answered are used.
        cheap, strong: the models routed between (different models of ``items``).
        words: TF-IDF vocabulary size (0 for none).
        c: inverse regularisation strength (> 0).

    Raises:
        params.ParameterError: an unknown model, the same model twice, too few train items, or train
        items on which the cheap model was always right or always wrong (nothing to learn).
    """
    cheap, strong = check_models(items, [cheap, strong], "models")
    words = params.count(words, "words", minimum=0)
    c = params.positive(c, "c")
    params.columns(prompts, ["task", "item_id", "prompt"], "prompts")
    keys = paired_keys(items, [cheap, strong]).merge(split.train, on=ITEM_KEYS)
    if split.test_mask(keys).any():  # the guarantee: Split is disjoint, and the fit reads train only
        raise ParameterError("split", "train items only", "a test item among the train items")
    if len(keys) < 10:
        raise ParameterError("split", "at least 10 train items both models answered", len(keys))
    rows = _labelled(items, prompts, keys, cheap, "train")
    y = rows["correct"].astype(int).to_numpy()
    if y.min() == y.max():
        raise ParameterError("split", f"train items on which {cheap} is sometimes right and sometimes wrong",
                             f"{len(y)} items, all {'right' if y[0] else 'wrong'}")
    parts: list[tuple[str, Any, Any]] = [("numbers", StandardScaler(), list(FEATURES)),
                                         ("task", OneHotEncoder(handle_unknown="ignore"), ["task"])]
    if words:
        parts.append(("words", TfidfVectorizer(max_features=words, min_df=2, sublinear_tf=True), "prompt"))
    model = Pipeline([("features", ColumnTransformer(parts)),
                      ("classifier", LogisticRegression(C=c, max_iter=5000))])
    model.fit(prompt_features(rows), y)
    return LearnedRouter(cheap, strong, split, model, rows[ITEM_KEYS].copy(), float(y.mean()))


def _labelled(items: pd.DataFrame, prompts: pd.DataFrame, keys: pd.DataFrame, cheap: str, side: str) -> pd.DataFrame:
    """``keys`` with their prompts and whether ``cheap`` was right (``correct``)."""
    rows = keys[ITEM_KEYS].merge(prompts, on=ITEM_KEYS, how="left")
    if rows["prompt"].isna().any():
        raise ParameterError("prompts", f"a prompt for every {side} item", rows[rows["prompt"].isna()].iloc[0]["item_id"])
    return rows.merge(items[items["model"] == cheap][ITEM_KEYS + ["correct"]], on=ITEM_KEYS)


def choose_threshold(router: LearnedRouter, items: pd.DataFrame, prompts: pd.DataFrame, *, max_loss_pts: float = 0.0,
                     cost: str = "usd", folds: int = 5, seed: int = 0) -> tuple[float, pd.DataFrame]:
    """A threshold for :func:`route_learned` chosen on the TRAIN items only, by cross-validation.

    The router's pipeline is refitted ``folds`` times on the train items (stratified folds), so every train
    item gets a probability from a model that did not see it; at each threshold 0, 0.05, ..., 1 the items
    are routed and scored. The chosen threshold saves the most cost while the routed accuracy stays within
    ``max_loss_pts`` points of the strong model's own on those items (1, everything to the strong model,
    when none does).  The test items are never read.

    Returns:
        ``(threshold, table)``: the table has threshold, to_cheap (share), accuracy, strong_accuracy,
        saving (share of the strong model's cost) and allowed (within the loss) per candidate.
    """
    loss = params.number(max_loss_pts, "max_loss_pts") / 100
    basis = params.choice(cost, "cost", ["usd", "seconds"])
    folds = params.count(folds, "folds", minimum=2)
    seed = params.count(seed, "seed", minimum=0)
    rows = _labelled(items, prompts, router.train_items, router.cheap, "train")
    y = rows["correct"].astype(int).to_numpy()
    if min(np.bincount(y, minlength=2)) < folds:
        raise ParameterError("folds", f"at most the number of train items of the rarer outcome ({min(np.bincount(y))})", folds)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    p = cross_val_predict(clone(router.model), prompt_features(rows), y, cv=cv, method="predict_proba")[:, 1]
    wide = wide_outcomes(items, [router.cheap, router.strong], rows[ITEM_KEYS])
    cheap_ok, strong_ok = wide[f"correct|{router.cheap}"].astype(float), wide[f"correct|{router.strong}"].astype(float)
    cheap_cost, strong_cost = wide[f"{basis}|{router.cheap}"].astype(float), wide[f"{basis}|{router.strong}"].astype(float)
    table = []
    for t in np.round(np.linspace(0, 1, 21), 2):
        to_cheap = p >= t
        acc = float(np.where(to_cheap, cheap_ok, strong_ok).mean())
        saving = 1 - float(np.where(to_cheap, cheap_cost, strong_cost).sum() / strong_cost.sum())
        table.append({"threshold": float(t), "to_cheap": float(to_cheap.mean()), "accuracy": acc,
                      "strong_accuracy": float(strong_ok.mean()), "saving": saving,
                      "allowed": acc >= strong_ok.mean() - loss - 1e-12})
    frame = pd.DataFrame(table)
    ok = frame[frame["allowed"] & (frame["saving"] > 0)]
    chosen = float(ok.sort_values(["saving", "threshold"], ascending=[False, False]).iloc[0]["threshold"]) if len(ok) else 1.0
    return chosen, frame


def route_learned(items: pd.DataFrame, router: LearnedRouter, prompts: pd.DataFrame, threshold: float = 0.5, *,
                  name: str | None = None) -> pd.DataFrame:
    """Route the router's TEST items: to the cheap model when P(cheap right) >= ``threshold``, else to
    the strong one.  A policy frame, kind ``router``.

    Args:
        threshold: in [0, 1]; 0 sends everything to the cheap model, above every prediction everything to
            the strong one.
        name: the policy's name (default ``"learned router (p >= threshold)"``).
    """
    t = params.unit_interval(threshold, "threshold")
    rows = router._test_rows(items, prompts)
    to_cheap = (rows["p"] >= t).to_numpy()
    wide = wide_outcomes(items, [router.cheap, router.strong], rows[ITEM_KEYS])
    chosen = np.where(to_cheap, router.cheap, router.strong)
    return policy_frame(name or f"learned router (p >= {t:g})", "router", wide, chosen, pick(wide, chosen, "correct"),
                   pick(wide, chosen, "seconds"), pick(wide, chosen, "usd"), [1] * len(wide))


def oracle(items: pd.DataFrame, cheap: str, strong: str, *, keys: pd.DataFrame | None = None,
           name: str = "oracle router") -> pd.DataFrame:
    """The ceiling of any cheap/strong router: the cheap model exactly on the items it got right (it knows
    the outcome, so it is a bound, never a policy to deploy).  A policy frame, kind ``oracle``."""
    cheap, strong = check_models(items, [cheap, strong], "models")
    wide = wide_outcomes(items, [cheap, strong], keys[ITEM_KEYS].astype(str) if keys is not None else None)
    chosen = np.where(wide[f"correct|{cheap}"].astype(bool).to_numpy(), cheap, strong)
    return policy_frame(name, "oracle", wide, chosen, pick(wide, chosen, "correct"), pick(wide, chosen, "seconds"),
                   pick(wide, chosen, "usd"), [1] * len(wide))



def standard_policies(items: pd.DataFrame, prompts: pd.DataFrame, split: Split, cheap: str, strong: str, *,
                      singles: Sequence[str] | None = None, tolerance_pts: float = 0.0,
                      thresholds: Sequence[float] = (0.5,), words: int = 200) -> pd.DataFrame:
    """Every router of this module on the TEST items of ``split``, beside each single model.

    Policies: ``always <model>`` for each of ``singles`` (default every model of ``items``; each on the
    test items it answered), ``route by task`` (:func:`fit_task_table` over ``singles`` on the train
    items, with ``tolerance_pts``), ``learned router (p >= t)`` for each threshold (:func:`fit_router`
    between ``cheap`` and ``strong``) and ``oracle router``.

    Returns:
        A policy frame (:data:`workbench.cost_quality.POLICY_COLUMNS`).
    """
    singles = check_models(items, list(dict.fromkeys(items["model"])) if singles is None else singles, "singles")
    test = split.test[ITEM_KEYS]
    frames = []
    for m in singles:
        answered = test.merge(paired_keys(items, [m]), on=ITEM_KEYS)
        if len(answered):
            frames.append(single(items, m, keys=answered))
    table = fit_task_table(items, split, singles, tolerance_pts)
    frames.append(route_by_task(items, table, keys=test[test["task"].isin(list(table))]))
    router = fit_router(items, prompts, split, cheap, strong, words=words)
    values = params.as_list(thresholds)
    values = [params.unit_interval(t, "thresholds") for t in ([values] if isinstance(values, (int, float)) else values)]
    frames += [route_learned(items, router, prompts, t) for t in sorted(set(values))]
    frames.append(oracle(items, cheap, strong, keys=test.merge(paired_keys(items, [cheap, strong]), on=ITEM_KEYS)))
    return pd.concat(frames, ignore_index=True)
