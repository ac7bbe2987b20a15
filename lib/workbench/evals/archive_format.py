"""The run-archive format on disk: one folder per recorded run, the same for every backend.

``data/runs/<archive_id>/`` (or any folder) holds two files:

* ``manifest.json``: format version, archive id, creation date (UTC), the code commit (``git rev-parse
  HEAD``) and whether the tree was dirty (one entry per recording session: a resumed run adds one),
  backend, SDK and HTTP-stack versions, the run's parameters and notes, the settings each model was
  sent per task (output cap, temperature, seed, parameters left out: :mod:`workbench.evals.sampling`),
  the plan (item ids per task), per model its provider and, on the local backend, the GGUF file (name,
  bytes, sha256) and the engine (xllamacpp version, threads, slots, context per slot) read from the
  local provider's admin ``info()``, and counts of attempts and items;
* ``exchanges.jsonl.gz``: one compact JSON line per attempt (:func:`workbench.evals.recording.exchange_line`):
  task, item id, model, attempt, protocol, prompt hash, start time, the HTTP request and streamed
  response, timings, usage, finish reason, reassembled text, error.  Gzip at level 9, no pretty printing;
  each recording session appends one gzip member, flushed after every line, so a killed run loses at
  most the line being written (the unfinished tail is cut off when the archive is resumed or read).

:class:`ArchiveWriter` writes an archive for the runner; :func:`read_lines` and :func:`archive_folder`
read one (:mod:`workbench.evals.archive` builds tables, the results store and replays on them).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import catalog, paths
from .recording import RecordingTransport, scrub

__all__ = [
    "EXCHANGES",
    "FORMAT",
    "MANIFEST",
    "RUNS_DIR",
    "ArchiveWriter",
    "archive_folder",
    "code_version",
    "file_sha256",
    "local_facts",
    "read_lines",
    "sdk_versions",
    "served_by",
]

#: Where archives live (committed with the repository): ``data/runs/<archive_id>/``.
RUNS_DIR: Path = paths.DATA / "runs"
MANIFEST = "manifest.json"
EXCHANGES = "exchanges.jsonl.gz"
#: Archive format version (in every manifest).
FORMAT = 1
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
#: Manifest entries that must match for a recording to resume an existing archive.
_RESUME_KEYS = ("backend", "plan", "request_settings")


# --------------------------------------------------------------------------------------------
# Facts for the manifest
# --------------------------------------------------------------------------------------------


def code_version(root: Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the repository at ``root``."""
    root = root or paths.ROOT
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": bool(status.strip())}


def sdk_versions() -> dict[str, str | None]:
    """Versions of the SDKs and HTTP stacks that made the requests, and of Python."""
    out: dict[str, str | None] = {}
    for dist in ("openai", "anthropic", "google-genai", "httpx", "httpx2", "xllamacpp"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    out["python"] = sys.version.split()[0]
    return out


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (hashed once per process for a given size and modification time)."""
    st = Path(path).stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def _engine_entry(info: dict[str, Any], model: str) -> dict[str, Any]:
    """The part of the admin ``info()`` that describes the engine answering ``model``.

    The provider reports either one engine (top-level ``props``/``slots``) or several under
    ``engines`` (a mapping by model id, or a list whose entries name their ``model_id``/``models``).
    """
    engines = info.get("engines")
    if isinstance(engines, dict):
        entry = engines.get(model) or next((e for e in engines.values() if isinstance(e, dict) and
                                            model in (e.get("models") or ())), None)
        if entry is None and info.get("stand_in") in engines:
            entry = engines[info["stand_in"]]
        if entry is not None:
            return entry
    if isinstance(engines, list):
        for e in engines:
            if isinstance(e, dict) and (e.get("model_id") == model or model in (e.get("models") or ())):
                return e
    return info


def _answerer(info: dict[str, Any], entry: dict[str, Any]) -> str | None:
    return entry.get("model") or entry.get("model_name") or info.get("model")


def served_by(base_url: str, models: list[str]) -> dict[str, str | None]:
    """Per model id: the name of the real model the local provider answers it with (its admin ``info()``)."""
    from ..local.admin import Admin

    info = Admin(base_url).info()
    return {m: _answerer(info, _engine_entry(info, m)) for m in models}


def local_facts(base_url: str, models: list[str]) -> dict[str, dict[str, Any]]:
    """Per model id: the GGUF file (name, bytes, sha256) and engine settings the local provider uses.

    Read from the provider's admin ``info()`` (:class:`workbench.local.admin.Admin`); the file is hashed
    here (it must be readable from this machine).  Settings the provider does not report are None.
    """
    from ..local.admin import Admin

    info = Admin(base_url).info()
    out: dict[str, dict[str, Any]] = {}
    for model in models:
        entry = _engine_entry(info, model)
        props = entry.get("props") or {}
        slots = entry.get("slots") or []
        path = entry.get("model_path") or props.get("model_path")
        threads = entry.get("threads") or info.get("threads") or _in_process_threads(base_url)
        gguf = None
        if path and Path(path).is_file():
            gguf = {"file": Path(path).name, "bytes": Path(path).stat().st_size, "sha256": file_sha256(path)}
        out[model] = {
            "answered_by": _answerer(info, entry),
            "gguf": gguf,
            "engine": {"xllamacpp": entry.get("xllamacpp") or sdk_versions()["xllamacpp"],
                       "threads": threads,
                       "slots": entry.get("n_parallel") or props.get("total_slots") or len(slots) or None,
                       "ctx_per_slot": entry.get("ctx_per_slot") or (slots[0].get("n_ctx") if slots else None)},
        }
    return out


def _in_process_threads(base_url: str) -> int | None:
    """Threads of the provider this process started, when it is the one at ``base_url``."""
    from .. import local

    provider = getattr(local, "_default", None)
    if provider is not None and getattr(provider, "base_url", None) == base_url.rstrip("/"):
        return getattr(provider, "threads", None)
    return None



# --------------------------------------------------------------------------------------------
# Writing and reading archive files
# --------------------------------------------------------------------------------------------


def archive_folder(archive: str | Path) -> Path:
    """The folder of an archive: a path (absolute, or with a separator), or an id under :data:`RUNS_DIR`.

    Raises:
        ValueError: an id with characters other than letters, digits, ``.``, ``_`` and ``-``.
    """
    text = str(archive)
    if isinstance(archive, Path) or "/" in text or "\\" in text:
        return Path(archive)
    if not _ID.match(text):
        raise ValueError(f"archive: {text!r} is not a valid archive id (letters, digits, '.', '_', '-'; "
                         "at most 120 characters)")
    return RUNS_DIR / text


def read_lines(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The JSON lines of an ``exchanges.jsonl.gz`` and whether the file ended cleanly.

    A run killed mid-write leaves a last line or gzip member unfinished: the complete lines are
    returned with ``False``.
    """
    lines: list[dict[str, Any]] = []
    if not path.exists():
        return lines, True
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for text in fh:
                if not text.endswith("\n"):
                    return lines, False
                lines.append(json.loads(text))
    except (EOFError, gzip.BadGzipFile, zlib.error, json.JSONDecodeError):
        return lines, False
    return lines, True


class ArchiveWriter:
    """Appends attempt lines to an archive and keeps its manifest (one writer per recorded run).

    Opening an existing archive resumes it: its backend, plan and request settings must be the same
    (else ValueError naming the archive), a tail left unfinished by a killed run is cut off, and new
    lines go to a new gzip member of the same file.  Use :meth:`for_run` from the runner.

    Args:
        folder: the archive folder (created).
        manifest: the manifest to write now (:meth:`finish` adds the local facts and the counts).
    """

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest_path = folder / MANIFEST
        self.path = folder / EXCHANGES
        folder.mkdir(parents=True, exist_ok=True)
        if self.manifest_path.exists():
            old = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            for key in _RESUME_KEYS:
                if json.dumps(old.get(key), sort_keys=True) != json.dumps(manifest.get(key), sort_keys=True):
                    raise ValueError(f"archive: {folder} holds a run with another {key}; record into another "
                                     "archive id (or delete that folder)")
            manifest = {**manifest, **{k: old[k] for k in ("created", "code", "sdk") if k in old},
                        "sessions": old.get("sessions", []) + manifest.get("sessions", [])}
        lines, clean = read_lines(self.path)
        #: ``{(task, model): {item_id: prompt_hash}}`` of the items the archive already has an answer for.
        self.answered: dict[tuple[str, str], dict[str, str]] = {}
        for line in lines:
            if line["status"] == "ok":
                self.answered.setdefault((line["task"], line["model"]), {})[line["item_id"]] = line["prompt_hash"]
        if not clean:  # a killed run: keep the complete lines, drop the unfinished tail
            tmp = self.path.with_suffix(".tmp")
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as fh:
                for line in lines:
                    fh.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
            tmp.replace(self.path)
        self.manifest = manifest
        self._write_manifest()
        self._fh = gzip.open(self.path, "ab", compresslevel=9)  # noqa: SIM115 (closed by finish())

    @classmethod
    def for_run(cls, folder: Path, config: dict[str, Any], plans: dict[str, list[Any]]) -> ArchiveWriter:
        """The writer of a run: ``config`` is the runner's run config, ``plans`` its items per task."""
        code, sdk = code_version(), sdk_versions()
        params = ("tasks", "task_options", "models", "limit", "seed", "max_tokens", "temperature",
                  "request_seed", "concurrency", "max_attempts", "timeout", "tokenizer")
        settings = config["request_settings"]
        omitted: dict[str, set[str]] = {}
        for key, s in settings.items():
            omitted.setdefault(key.split("|", 1)[1], set()).update(s["omitted"])
        manifest = {
            "format": FORMAT, "archive_id": folder.name, "created": now_utc(), "backend": config["backend"],
            "code": code, "sdk": sdk, "sessions": [{"started": now_utc(), "code": code, "sdk": sdk}],
            "parameters": {k: config.get(k) for k in params}, "request_settings": settings,
            "omitted_params": {m: sorted(p) for m, p in omitted.items() if p}, "notes": config.get("notes", []),
            "plan": {task: [[it.id, it.stratum] for it in items] for task, items in plans.items()},
            "models": {m: {"provider": catalog.provider_of(m)} for m in config["models"]},
        }
        return cls(folder, manifest)

    def transport(self) -> RecordingTransport:
        """A new recording transport for one SDK client (each client owns and closes its own)."""
        return RecordingTransport()

    def write(self, line: dict[str, Any]) -> None:
        """Append one line (scrubbed of secrets) and flush it to disk."""
        text = scrub(json.dumps(line, separators=(",", ":"), ensure_ascii=False, default=str))
        self._fh.write(text.encode("utf-8") + b"\n")
        self._fh.flush()

    def _write_manifest(self) -> None:
        text = scrub(json.dumps(self.manifest, indent=1, sort_keys=True, ensure_ascii=False, default=str))
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(self.manifest_path)

    def finish(self, local_url: str | None = None) -> None:
        """Close the file; write the manifest with the counts of every line and, given the local
        provider's URL, the GGUF file and engine settings of each model that answered at least once
        (a model the provider never answered gets none: no file can be vouched for)."""
        self._fh.close()
        lines, _ = read_lines(self.path)
        if local_url is not None:
            answered = sorted({line["model"] for line in lines if line["status"] == "ok"})
            try:
                facts = local_facts(local_url, answered) if answered else {}
            except (RuntimeError, OSError, ValueError, KeyError) as exc:  # the manifest says what is missing
                facts = {}
                self.manifest.setdefault("notes", []).append(f"local model facts unavailable: {exc}")
            for model, extra in facts.items():
                self.manifest["models"][model].update(extra)
        self.manifest["counts"] = _counts(lines, self.manifest.get("plan", {}), self.manifest.get("models", {}))
        self.manifest["sessions"][-1]["finished"] = now_utc()
        self._write_manifest()


def now_utc() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _counts(lines: list[dict[str, Any]], plan: dict[str, list[Any]], models: dict[str, Any]) -> dict[str, Any]:
    """Attempts, ok and error lines, and per task and model the items answered / only failed / not tried."""
    answered: dict[tuple[str, str], set[str]] = {}
    tried: dict[tuple[str, str], set[str]] = {}
    for line in lines:
        key = (line["task"], line["model"])
        tried.setdefault(key, set()).add(line["item_id"])
        if line["status"] == "ok":
            answered.setdefault(key, set()).add(line["item_id"])
    per: dict[str, dict[str, dict[str, int]]] = {}
    for task, items in plan.items():
        for model in models:
            ok, seen = answered.get((task, model), set()), tried.get((task, model), set())
            per.setdefault(task, {})[model] = {"planned": len(items), "answered": len(ok),
                                               "failed": len(seen - ok), "not_tried": len(items) - len(seen)}
    return {"attempts": len(lines), "ok": sum(line["status"] == "ok" for line in lines),
            "error": sum(line["status"] != "ok" for line in lines), "items": per}
