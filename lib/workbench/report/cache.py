"""The run cache: when an executed chapter can be reused instead of executed again.

A run's inputs are the hash of the notebook's cells (type, source, tags; not outputs), of every library
source under ``lib/workbench`` except this report package, of every file under ``data/``, its parameters
and the backend. The cache key is the hash of those inputs. After a successful run the key, the inputs
and the run's facts (seconds, time, backend, parameters) are stored next to the executed copy as
``NAME.run.json``; a later build reuses the run when the key matches, and otherwise says what changed.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from .. import chapters, paths

__all__ = [
    "LIB_DIR",
    "PACKAGE_DIR",
    "cache_key",
    "changes",
    "key_of",
    "notebook_digest",
    "read_record",
    "record_path",
    "run_inputs",
    "tree_files",
    "write_record",
]

#: This report package: its own sources do not invalidate the chapters' runs.
PACKAGE_DIR = Path(__file__).resolve().parent
#: The library whose sources every chapter depends on (``lib/workbench``).
LIB_DIR = PACKAGE_DIR.parent


def tree_files(lib_dir: Path, data_dir: Path) -> dict[str, str]:
    """SHA-256 of every library source (except this report package), every data file and the chapter registry."""
    files = [(f"lib/{p.relative_to(lib_dir)}", p) for p in sorted(lib_dir.rglob("*.py"))
             if PACKAGE_DIR not in p.resolve().parents and "__pycache__" not in p.parts]
    if data_dir.is_dir():
        files += [(f"data/{p.relative_to(data_dir)}", p) for p in sorted(data_dir.rglob("*"))
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts)]
    digests = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in files}
    # chapter 01 renders the registry; its measured times are left out, so recording them runs nothing again
    digests["notebooks/chapters.toml"] = chapters.content_digest()
    return digests


def notebook_digest(notebook: Path) -> str:
    """Hash of a notebook's cells (type, source, tags); outputs and execution counts do not count."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [(c.cell_type, c.source, sorted(c.get("metadata", {}).get("tags", []))) for c in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def run_inputs(notebook: Path, params: Mapping[str, Any], backend: str,
               files: Mapping[str, str]) -> dict[str, Any]:
    """Everything a run depends on, as stored in its record (``files`` from :func:`tree_files`)."""
    return {"notebook": notebook_digest(notebook), "files": dict(files), "backend": backend,
            "params": json.loads(json.dumps(params, sort_keys=True, default=str))}


def key_of(inputs: Mapping[str, Any]) -> str:
    """The cache key of a run's inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def cache_key(notebook: Path, params: Mapping[str, Any], backend: str, *, lib_dir: Path | None = None,
              data_dir: Path | None = None) -> str:
    """The cache key of one notebook run: hash of notebook source, library, data, parameters, backend."""
    files = tree_files(lib_dir or LIB_DIR, data_dir or paths.DATA)
    return key_of(run_inputs(notebook, params, backend, files))


def changes(prior: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """Why a notebook runs again, in words (``prior`` and ``now`` from :func:`run_inputs`)."""
    if not prior:
        return "no earlier successful run"
    reasons = [what for what in ("notebook", "backend", "params") if prior.get(what) != now[what]]
    before, after = prior.get("files", {}), now["files"]
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    if changed:
        reasons.append("changed " + ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else ""))
    return "; ".join(reasons) or "forced"


def record_path(executed: Path) -> Path:
    """Where the record of an executed notebook is kept: ``NAME.run.json`` beside it."""
    return executed.with_name(executed.stem + ".run.json")


def read_record(executed: Path) -> dict[str, Any]:
    """The record of the last successful run of ``executed``; empty if there is none or it is unreadable."""
    record = record_path(Path(executed))
    try:
        return json.loads(record.read_text()) if record.exists() else {}
    except json.JSONDecodeError:
        return {}


def write_record(executed: Path, inputs: Mapping[str, Any], *, seconds: float, executed_at: str,
                 backend: str, parameters: Mapping[str, Any]) -> None:
    """Store a successful run: its key, facts and inputs (so a later run can say what changed)."""
    record_path(executed).write_text(json.dumps(
        {"key": key_of(inputs), "seconds": round(seconds, 2), "executed_at": executed_at, "backend": backend,
         "parameters": dict(parameters), "inputs": dict(inputs)}, indent=1, default=str))
