"""A content-safety layer before and after a model call, and the measured error rates of a guard.

**Two guards**, one interface (``guard.check(text) -> Verdict``):

* :class:`ModerationGuard`: OpenAI's moderation endpoint through the official SDK,
  ``client.moderations.create(model="omni-moderation-latest", input=text)``; a result is ``flagged`` with a
  score per category (https://developers.openai.com/api/docs/guides/moderation and
  https://developers.openai.com/api/reference/resources/moderations, read 2026-12-01: omni-moderation-latest
  takes text and images, is free to use). Anthropic and Google publish no moderation endpoint; their models can
  be used as a :class:`ModelGuard`. The local provider answers the same call offline with a ladder model as the
  guard (``POST /v1/moderations``, :mod:`workbench.local.gateway.openai_moderations`); its score is then that
  model's P(unsafe), which the result carries as ``workbench_guard``.
* :class:`ModelGuard` (offline or live): a model asked Llama Guard 3's question (the prompt of the
  ``safety_guard`` task, :data:`workbench.evals.tasks.GUARD_TEMPLATE`): its verdict is the first ``safe`` or
  ``unsafe`` it writes, and on the OpenAI protocol its score is the probability of ``unsafe`` at the verdict
  token (:func:`workbench.evals.scorers.verdict_confidence`, through
  :func:`workbench.local.gateway.openai_moderations.read_verdict`, the local ``/v1/moderations``' own reading),
  read exactly as the recorded ``guard-*`` runs read it, so a threshold chosen on a recorded run applies unchanged.

:func:`guarded` puts a guard before and after a call: an unsafe prompt never reaches the model, an unsafe reply
never reaches the user, and the result says which happened.

**Measured rates.** :func:`guard_rates` takes a recorded guard run (one row per item and model with the true
``label``, the guard's ``p_unsafe`` and ``verdict``: :func:`workbench.evals.safety_data.guard_frame`), splits the
items in two (:func:`split_items`: by item, stratified by label, seeded), chooses the decision threshold on the
**tuning** items only (:func:`choose_threshold`) and reports the false-positive rate (safe items flagged) and the
false-negative rate (unsafe items let through) on the **held-out** items only, with Wilson intervals
(:func:`workbench.stats.wilson_interval`). :func:`rate_curve` gives both rates at every threshold, for the figure
(:mod:`workbench.safety_figures`).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import clients, model_call, params, stats

__all__ = ["DEFAULT_GUARD_MODEL", "MODERATION_MODEL", "GuardedReply", "ModelGuard", "ModerationGuard", "Verdict",
           "choose_threshold", "guard_rates", "guarded", "rate_curve", "shared_items", "split_items"]

#: OpenAI's current moderation model.
MODERATION_MODEL = "omni-moderation-latest"
#: The ladder model used as a guard by default offline.
DEFAULT_GUARD_MODEL = "qwen2.5-coder-0.5b-instruct"
#: Alternatives asked per token by the model guard (as the recorded ``safety_guard`` task does).
GUARD_TOP_LOGPROBS = 10
LABELS = ("safe", "unsafe")


@dataclass(frozen=True)
class Verdict:
    """A guard's decision on one text.

    Attributes:
        unsafe: the decision (block when True).
        score: how unsafe, 0-1 (moderation: the highest category score, or the local guard's P(unsafe); model
            guard: P(unsafe) at the verdict token; NaN when the guard gave none).
        guard: the moderation model or guard model id.
        answered_by: the model that really classified (local: the gateway's header).
        categories: flagged categories (moderation) or the hazards (``S1``-``S14``) the guard model named.
        seconds: measured time of the guard's call.
        said: the guard's raw verdict word (model guard), or "flagged"/"not flagged" (moderation).
    """

    unsafe: bool
    score: float
    guard: str
    answered_by: str
    categories: tuple[str, ...]
    seconds: float
    said: str


class ModerationGuard:
    """OpenAI's moderation endpoint as a guard (``client.moderations.create``).

    Args:
        client: an ``openai.OpenAI`` client (default: ``clients.openai(backend)``).
        backend: used when ``client`` is None: ``"live"`` (OpenAI) or ``"local"`` (a ladder model judges).
        model: the moderation model.
        threshold: None to use the endpoint's own ``flagged``; a number in [0, 1] to flag when the highest
            category score reaches it.
    """

    def __init__(self, client: Any = None, *, backend: str = "live", model: str = MODERATION_MODEL,
                 threshold: float | None = None) -> None:
        self.client = client if client is not None else clients.openai(backend)
        if not type(self.client).__module__.startswith("openai"):
            raise params.ParameterError("client", "an openai.OpenAI client", type(self.client).__name__)
        self.model = model
        self.threshold = None if threshold is None else params.unit_interval(threshold, "threshold")

    def check(self, text: str) -> Verdict:
        """Classify ``text``."""
        start = time.perf_counter()
        raw = self.client.moderations.with_raw_response.create(model=self.model, input=text)
        seconds = time.perf_counter() - start
        response = raw.parse()
        answered_by = raw.headers.get(model_call.ANSWERED_BY_HEADER) or str(response.model)
        result = response.results[0]
        # by_alias: the API's names ("illicit/violent"); the SDK also keeps them as extras beside its field names
        scores = {k: float(v) for k, v in result.category_scores.model_dump(by_alias=True).items() if v is not None}
        score = max(scores.values(), default=math.nan)
        local = (result.model_extra or {}).get("workbench_guard")   # the local provider's guard: its P(unsafe)
        if isinstance(local, dict) and local.get("p_unsafe") is not None:
            score = float(local["p_unsafe"])
        unsafe = bool(result.flagged) if self.threshold is None else score >= self.threshold
        flagged = tuple(k for k, v in result.categories.model_dump(by_alias=True).items() if v)
        return Verdict(unsafe, score, self.model, answered_by, flagged, seconds,
                       "flagged" if result.flagged else "not flagged")


class ModelGuard:
    """A model asked Llama Guard 3's question, through its SDK client.

    Args:
        model: the guard model (catalog id; default :data:`DEFAULT_GUARD_MODEL`).
        backend: ``"local"`` (default) or ``"live"``.
        threshold: flag when P(unsafe) at the verdict token reaches it (0-1); where the protocol gives no
            log-probabilities (Anthropic, Gemini) or the reply gives no verdict, the written verdict decides.
        missing: the decision when the reply gives no verdict at all: ``"unsafe"`` (fail closed, default) or
            ``"safe"``.
        max_tokens: the guard's output cap (the verdict and a category list).
        client: an SDK client to use instead of ``clients.for_model(model, backend)``.
    """

    def __init__(self, model: str = DEFAULT_GUARD_MODEL, *, backend: str = "local", threshold: float = 0.5,
                 missing: str = "unsafe", max_tokens: int = 8, client: Any = None) -> None:
        self.model = model
        self.threshold = params.unit_interval(threshold, "threshold")
        self.missing = params.choice(missing, "missing", LABELS[::-1])
        self.max_tokens = params.count(max_tokens, "max_tokens")
        self.client = client if client is not None else clients.for_model(model, backend)[1]

    def check(self, text: str) -> Verdict:
        """Classify ``text`` (as the last user message of a conversation)."""
        if not isinstance(text, str):
            raise params.ParameterError("text", "a text", text)
        # imported here: the harness's task module and the gateway are heavy, and only a guard's call needs them
        from .evals.streams import DEFAULT_SEED
        from .evals.tasks import GUARD_TEMPLATE
        from .local.gateway.openai_moderations import read_verdict

        logprobs = GUARD_TOP_LOGPROBS if model_call.protocol_of(self.client) == "openai" else None
        answer = model_call.ask(self.client, self.model, GUARD_TEMPLATE.format(prompt=text),
                                max_tokens=self.max_tokens, temperature=0.0, seed=DEFAULT_SEED,
                                top_logprobs=logprobs)
        p_unsafe, said, hazards = read_verdict(answer.text, list(answer.logprobs or []))
        unsafe = p_unsafe >= self.threshold if not math.isnan(p_unsafe) else self.missing == "unsafe"
        return Verdict(unsafe, p_unsafe, self.model, answer.answered_by, hazards, answer.seconds, said or "")


@dataclass(frozen=True)
class GuardedReply:
    """One guarded call: what the user gets and why."""

    outcome: str                    #: answered, blocked (the prompt), or withheld (the reply)
    text: str                       #: the reply, or the refusal
    prompt_verdict: Verdict
    reply: str | None               #: the model's reply (None when the prompt was blocked)
    reply_verdict: Verdict | None
    call_seconds: float             #: measured time of the model call (0 when blocked)

    @property
    def guard_seconds(self) -> float:
        """Time the guard added (both checks)."""
        return self.prompt_verdict.seconds + (self.reply_verdict.seconds if self.reply_verdict else 0.0)


REFUSAL = "Sorry, I can't help with that."


def guarded(guard: Any, prompt: str, call: Callable[[str], str], *, output_guard: Any = None,
            refusal: str = REFUSAL) -> GuardedReply:
    """``call(prompt)`` with ``guard`` before it and ``output_guard`` (default: ``guard``) after it.

    Example::

        guard = safety_guard.ModelGuard("qwen2.5-coder-0.5b-instruct")
        _, client = clients.for_model("gpt-4o")
        reply = safety_guard.guarded(guard, user_text,
                                     lambda p: model_call.ask(client, "gpt-4o", p, max_tokens=200).text)
        reply.outcome, reply.text
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise params.ParameterError("prompt", "a non-empty text", prompt)
    before = guard.check(prompt)
    if before.unsafe:
        return GuardedReply("blocked", refusal, before, None, None, 0.0)
    start = time.perf_counter()
    reply = call(prompt)
    seconds = time.perf_counter() - start
    after = (output_guard or guard).check(reply)
    if after.unsafe:
        return GuardedReply("withheld", refusal, before, reply, after, seconds)
    return GuardedReply("answered", reply, before, reply, after, seconds)


# --------------------------------------------------------------------------------------------
# Measured rates on a labelled set
# --------------------------------------------------------------------------------------------
GUARD_COLUMNS = ("model", "item_id", "label", "p_unsafe")


def _checked(frame: pd.DataFrame) -> pd.DataFrame:
    params.columns(frame, GUARD_COLUMNS, "frame")
    bad = sorted(set(frame["label"]) - set(LABELS))
    if bad:
        raise params.ParameterError("frame", "labels 'safe' or 'unsafe'", bad)
    if frame.empty:
        raise params.ParameterError("frame", "at least one guard row", "an empty table")
    return frame


def guard_scores(frame: pd.DataFrame) -> pd.Series:
    """Each row's score: ``p_unsafe``; where it is NaN, the written verdict (1 unsafe, 0 safe); else NaN."""
    score = frame["p_unsafe"].astype(float)
    if "verdict" in frame:
        said = frame["verdict"].map({"unsafe": 1.0, "safe": 0.0}).astype(float)
        score = score.fillna(said)
    return score


def shared_items(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the items every model in ``frame`` judged (to compare guards on the same items)."""
    frame = _checked(frame)
    per_model = frame.groupby("model")["item_id"].agg(set)
    common = set.intersection(*per_model) if len(per_model) else set()
    if not common:
        raise params.ParameterError("frame", "items judged by every model", "no item shared by all models")
    return frame[frame["item_id"].isin(common)].reset_index(drop=True)


def split_items(frame: pd.DataFrame, *, tune_share: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Each item in ``tune`` or ``test``: by item (every model's row of an item on the same side), stratified by
    label (both sides keep the set's safe/unsafe mix), seeded (scikit-learn's ``train_test_split``).

    Returns:
        Columns item_id, label, split.
    """
    from sklearn.model_selection import train_test_split

    frame = _checked(frame)
    share = params.probability(tune_share, "tune_share")
    items = frame[["item_id", "label"]].drop_duplicates()
    clash = items["item_id"][items["item_id"].duplicated()]
    if len(clash):
        raise params.ParameterError("frame", "one label per item", f"items with two labels: {list(clash)[:5]}")
    items = items.sort_values("item_id").reset_index(drop=True)
    tune, _ = train_test_split(items["item_id"], train_size=share, random_state=params.count(seed, "seed", minimum=0),
                               stratify=items["label"])
    items["split"] = np.where(items["item_id"].isin(set(tune)), "tune", "test")
    return items


def _rates(scores: np.ndarray, unsafe: np.ndarray, threshold: float, missing: str) -> tuple[int, int, int, int]:
    """(false positives, negatives, false negatives, positives) at ``threshold``."""
    flagged = np.where(np.isnan(scores), missing == "unsafe", scores >= threshold)
    return (int((flagged & ~unsafe).sum()), int((~unsafe).sum()), int((~flagged & unsafe).sum()), int(unsafe.sum()))


def choose_threshold(scores: Sequence[float], labels: Sequence[str], *, max_fn_rate: float | None = None,
                     missing: str = "unsafe") -> float:
    """The decision threshold (flag when score >= threshold) chosen on the given items.

    Every threshold in the range (previous distinct score, next distinct score] makes the same decisions, so the
    rule picks a range and returns its middle (farthest from the scores on either side). Default rule: the lowest
    balanced error (mean of the false-positive and false-negative rates), ties to the higher range (fewer safe
    items flagged); with ``max_fn_rate``, the highest range whose false-negative rate stays at or under that
    budget (a miss budget; if none does, the lowest: every scored item flagged). NaN when no item has a score.
    """
    s = np.asarray(scores, dtype=float)
    unsafe = np.asarray(labels) == "unsafe"
    if len(s) == 0 or unsafe.all() or not unsafe.any():
        raise params.ParameterError("labels", "both safe and unsafe items to choose a threshold on", list(labels)[:5])
    budget = None if max_fn_rate is None else params.tolerance(max_fn_rate, "max_fn_rate")
    cuts = sorted({float(v) for v in s if not math.isnan(v)})   # ascending distinct scores
    if not cuts:  # nothing scored: no threshold to choose (every item counts as ``missing`` says)
        return math.nan
    errors = []
    for t in cuts:
        fp, neg, fn, pos = _rates(s, unsafe, t, missing)
        errors.append((fp / neg + fn / pos) / 2 if budget is None else (0.0 if fn / pos <= budget else 1.0))
    best = min(errors)
    hi = max(i for i, e in enumerate(errors) if e <= best + 1e-12) if best < 1.0 or budget is None else 0
    return ((cuts[hi - 1] if hi > 0 else 0.0) + cuts[hi]) / 2


def guard_rates(frame: pd.DataFrame, *, split: pd.DataFrame | None = None, tune_share: float = 0.5, seed: int = 0,
                threshold: float | None = None, max_fn_rate: float | None = None, missing: str = "unsafe",
                confidence: float = 0.95) -> pd.DataFrame:
    """Per guard model: the threshold chosen on the tuning items and its error rates on the held-out items.

    Args:
        frame: one row per item and model: ``model``, ``item_id``, ``label`` (safe/unsafe), ``p_unsafe``
            (and optionally ``verdict``, used where ``p_unsafe`` is NaN): :func:`evals.safety_data.guard_frame`.
        split: item_id -> ``tune``/``test`` (:func:`split_items`'s table); default :func:`split_items` with
            ``tune_share`` and ``seed``.
        threshold: a fixed threshold in [0, 1] (no tuning); None: chosen on the tuning items.
        max_fn_rate: the miss budget for :func:`choose_threshold` (None: lowest balanced error).
        missing: how an item with no score counts: ``"unsafe"`` (flagged: fail closed) or ``"safe"``.
        confidence: the Wilson intervals' level.

    Returns:
        One row per model: model, threshold, rule, tune_items, test_items, negatives, false_positives, fp_rate,
        fp_low, fp_high, positives, false_negatives, fn_rate, fn_low, fn_high, unscored (held-out items with no
        score). Every count and rate is over the held-out items only.
    """
    frame = _checked(frame)
    missing = params.choice(missing, "missing", LABELS[::-1])
    fixed = None if threshold is None else params.unit_interval(threshold, "threshold")
    level = params.probability(confidence, "confidence")
    sides = split if split is not None else split_items(frame, tune_share=tune_share, seed=seed)
    params.columns(sides, ("item_id", "split"), "split")
    side = frame["item_id"].map(dict(zip(sides["item_id"], sides["split"], strict=True)))
    if side.isna().any():
        raise params.ParameterError("split", "a side for every item", list(frame["item_id"][side.isna()])[:5])
    scores = guard_scores(frame)
    rows = []
    for model in dict.fromkeys(frame["model"]):
        mine = (frame["model"] == model).to_numpy()
        tune = mine & (side == "tune").to_numpy()
        test = mine & (side == "test").to_numpy()
        if fixed is None:
            t = choose_threshold(scores[tune].to_numpy(), frame["label"][tune].to_numpy(), max_fn_rate=max_fn_rate,
                                 missing=missing)
            rule = "lowest balanced error" if max_fn_rate is None else f"false negatives <= {max_fn_rate:g}"
            if math.isnan(t):
                rule = f"no scored tuning item: every unscored item counted {missing}"
        else:
            t, rule = fixed, "given"
        held = scores[test].to_numpy()
        fp, neg, fn, pos = _rates(held, frame["label"][test].to_numpy() == "unsafe", t, missing)
        fp_ci = stats.wilson_interval(fp, neg, level) if neg else (math.nan, math.nan)
        fn_ci = stats.wilson_interval(fn, pos, level) if pos else (math.nan, math.nan)
        rows.append({"model": model, "threshold": t, "rule": rule, "tune_items": int(tune.sum()),
                     "test_items": int(test.sum()), "negatives": neg, "false_positives": fp,
                     "fp_rate": fp / neg if neg else math.nan, "fp_low": fp_ci[0], "fp_high": fp_ci[1],
                     "positives": pos, "false_negatives": fn, "fn_rate": fn / pos if pos else math.nan,
                     "fn_low": fn_ci[0], "fn_high": fn_ci[1], "unscored": int(np.isnan(held).sum())})
    return pd.DataFrame(rows)


def rate_curve(frame: pd.DataFrame, *, split: pd.DataFrame | None = None, thresholds: Sequence[float] | None = None,
               missing: str = "unsafe") -> pd.DataFrame:
    """False-positive and false-negative rates at each threshold, per model and per side of the split.

    Returns:
        Columns model, split (``tune``/``test``, or ``all`` without a split), threshold, fp_rate, fn_rate.
    """
    frame = _checked(frame)
    missing = params.choice(missing, "missing", LABELS[::-1])
    grid = np.linspace(0, 1, 101) if thresholds is None else [params.unit_interval(t, "thresholds") for t in thresholds]
    side = (frame["item_id"].map(dict(zip(split["item_id"], split["split"], strict=True))) if split is not None
            else pd.Series("all", index=frame.index))
    scores = guard_scores(frame)
    rows = []
    for (model, part), idx in frame.groupby([frame["model"], side], sort=False).groups.items():
        s = scores[idx].to_numpy()
        unsafe = frame.loc[idx, "label"].to_numpy() == "unsafe"
        for t in grid:
            fp, neg, fn, pos = _rates(s, unsafe, float(t), missing)
            rows.append({"model": model, "split": part, "threshold": float(t),
                         "fp_rate": fp / neg if neg else math.nan, "fn_rate": fn / pos if pos else math.nan})
    return pd.DataFrame(rows)
