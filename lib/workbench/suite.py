"""One run of the measured benchmark suite: its validated settings, its run id, the run, and what ran.

The runs themselves are made and stored by :mod:`workbench.evals` (one row per item and attempt in
``results/evals.sqlite``). This module owns the suite as one reproducible run:

* :func:`check_settings` validates every parameter (one error naming the bad one) into
  :class:`Settings`, with a run id derived from them (:func:`default_run_id`), so a re-run resumes
  the store and asks no model again for finished items;
* :func:`run_suite` runs the tasks x models (and the needle grid) through :func:`workbench.evals.run`
  and loads the stored rows into a :class:`SuiteRun`;
* :func:`run_identity` names the run (id, backend, real model, dates, store, counts);
  :func:`failures` lists the items that never finished; :func:`scored` keeps the scored rows;
* :func:`backend_label` says what answered, for every table and figure.

Recorded runs (run archives, :mod:`workbench.evals.archive`) are the offline path: no engine starts.

* :func:`check_archives` validates archive ids (under ``data/runs/``) or folders (one error naming a
  missing one and listing those present); :func:`live_archives` lists the recorded live runs;
* :func:`load_recorded` imports each archive into a build-local store, re-scored with the current
  scorers (an archive whose files and scorers did not change since its last import is reused), and
  loads the rows into a :class:`RecordedRuns`;
* :func:`archive_table` says what ran, from the manifests (model file hash, engine, date, prompt
  format); :meth:`RecordedRuns.source` names the archives behind a table or figure.

On the local backend of :func:`run_suite` every catalog model id is answered by the same small local
model through its provider's SDK and wire protocol: the numbers describe that model, never the frontier
model whose id was sent. The tables built from a run live with their concept: :mod:`workbench.scoreboard`
(accuracy), :mod:`workbench.latency`, :mod:`workbench.run_costs`, :mod:`workbench.behaviour`
(JSON-only, needle) and :mod:`workbench.comparisons` (paired tests, gaps).
"""
from __future__ import annotations

import concurrent.futures
import fcntl
import hashlib
import json
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import catalog, clients, evals, fmt, params, paths
from .evals import archive as archives_io
from .evals.archive_format import EXCHANGES, MANIFEST, RUNS_DIR, archive_folder
from .params import ParameterError

__all__ = [
    "PROTOCOLS",
    "RECORDED_STORE",
    "RecordedRuns",
    "Settings",
    "SuiteRun",
    "archive_table",
    "backend_label",
    "check_archives",
    "check_settings",
    "default_run_id",
    "failures",
    "groups",
    "live_archives",
    "load_recorded",
    "recording_table",
    "run_identity",
    "run_suite",
    "scored",
]

#: The SDK call each provider's model ids go through (the runner streams every request).
PROTOCOLS: dict[str, str] = {
    "openai": "OpenAI SDK, chat.completions (stream)",
    "anthropic": "Anthropic SDK, messages (stream)",
    "google": "google-genai SDK, generate_content_stream",
}


@dataclass(frozen=True)
class Settings:
    """The suite's validated parameters (see :func:`check_settings`)."""

    backend: str
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    limit: int
    seed: int
    concurrency: int
    needle_lengths: tuple[int, ...]
    needle_depths: tuple[float, ...]
    needle_per_cell: int
    needle_models: tuple[str, ...]
    run_id: str


def _listed(value: Any, cast: type | None = None) -> Any:
    """A list from a list, JSON text or ``"a,b"`` (the form a command line sends); numbers cast."""
    value = params.as_list(value)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if cast is not None and isinstance(value, list):
        out = []
        for v in value:
            try:
                out.append(cast(v) if isinstance(v, str) else v)
            except ValueError:
                out.append(v)
        value = out
    return value


def _unique(values: list[str], param: str) -> list[str]:
    if len(set(values)) != len(values):
        raise ParameterError(param, "no repeated name", values)
    return values


def default_run_id(backend: str, models: Sequence[str], tasks: Sequence[str], limit: int, seed: int,
                   needle: Sequence[object] = ()) -> str:
    """``ch07-{backend}-{limit}-{seed}-{digest}``: the same parameters give the same run id.

    The digest covers the models, tasks and needle grid, so a run id never mixes two plans (the
    store keeps every item a run id was asked for).
    """
    blob = json.dumps({"models": list(models), "tasks": list(tasks), "needle": list(needle)},
                      sort_keys=True, default=str)
    return f"ch07-{backend}-{limit}-{seed}-{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


def check_settings(backend: Any, models: Any, tasks: Any, limit: Any, seed: Any, concurrency: Any,
                   needle_lengths: Any = (500, 1000), needle_depths: Any = (0.0, 0.5, 1.0),
                   needle_per_cell: Any = 1, run_id: Any = None, needle_models: Any = None) -> Settings:
    """Validate every suite parameter; raise ONE clear error naming the bad one.

    Lists may be given as lists, as JSON text (papermill's ``-p models '["a"]'``) or as ``"a,b"``.

    Args:
        backend: ``"local"`` or ``"live"``.
        models: catalog model ids (``data/models.csv``) of the openai, anthropic or google providers.
        tasks: task names (``workbench.evals.TASK_NAMES``); ``"needle"`` runs the needle grid below.
        limit: items per task (a reproducible, stratified subset), >= 1.
        seed: seed of the subset.
        concurrency: requests in flight per provider, >= 1.
        needle_lengths: haystack lengths in o200k tokens (100-1,000,000).
        needle_depths: needle depths, fractions in [0, 1].
        needle_per_cell: needle items per (length, depth) cell.
        needle_models: the model ids (among ``models``) that run the needle grid; None: the first.
            Its long prompts dominate a local run's time, and on the local backend every id is the
            same model.
        run_id: the store's run id; None derives one from the other parameters.

    Raises:
        catalog.UnknownNameError: an unknown backend, model or task (naming the parameter).
        params.ParameterError: a bad number or list (a ValueError naming the parameter).
    """
    backend = clients.check_backend(backend, param="backend")
    model_list = _unique(catalog.check_models(params.names(_listed(models), "models"), param="models"), "models")
    for m in model_list:
        if catalog.provider_of(m) not in PROTOCOLS:
            raise ParameterError("models", f"ids of the {', '.join(PROTOCOLS)} APIs (the suite calls only "
                                 f"those), not a {catalog.provider_of(m)} model", m)
    task_list = _unique(evals.check_tasks(params.names(_listed(tasks), "tasks"), param="tasks"), "tasks")
    limit = params.count(limit, "limit", minimum=1)
    seed = params.count(seed, "seed", minimum=-(2**63))
    concurrency = params.count(concurrency, "concurrency", minimum=1)
    lengths = tuple(params.counts(_listed(needle_lengths, int), "needle_lengths", minimum=100))
    depth_list = _listed(needle_depths, float)
    if not isinstance(depth_list, (list, tuple)) or not depth_list or any(
            isinstance(d, bool) or not isinstance(d, numbers.Real) or not 0 <= d <= 1 for d in depth_list):
        raise ParameterError("needle_depths", "a non-empty list of fractions in [0, 1]", needle_depths)
    depths = tuple(float(d) for d in depth_list)
    per_cell = params.count(needle_per_cell, "needle_per_cell", minimum=1)
    evals.needle_task(lengths, depths, per_cell)  # the task's own checks (e.g. lengths <= 1,000,000)
    if needle_models is None:
        needle_list = model_list[:1]
    else:
        needle_list = catalog.check_models(params.names(_listed(needle_models), "needle_models"),
                                           param="needle_models")
        outside = [m for m in needle_list if m not in model_list]
        if outside:
            raise ParameterError("needle_models", f"ids among models {model_list!r}", outside[0])
    needle = (lengths, depths, per_cell, needle_list) if "needle" in task_list else ()
    if run_id is None:
        run_id = default_run_id(backend, model_list, task_list, limit, seed, needle)
    elif not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200:
        raise ParameterError("run_id", "a non-empty text of at most 200 characters (or None)", run_id)
    return Settings(backend, tuple(model_list), tuple(task_list), limit, seed, concurrency, lengths, depths,
                    per_cell, tuple(needle_list), run_id)


def backend_label(backend: str) -> str:
    """What answered: ``"local backend: <real model> answers every model id"`` or the live APIs."""
    backend = clients.check_backend(backend)
    if backend == "local":
        return f"local backend: {clients.local_model_name()} answers every model id"
    return "live backend: each provider's own API"


@dataclass
class SuiteRun:
    """One execution of the suite.

    Attributes:
        settings: the validated parameters.
        store_path: the SQLite store.
        results: one row per planned item (``evals.load_results``), restricted to the settings.
        attempts: every attempt row of the run (retries and errors included).
        requests: requests sent by THIS execution (0 when everything came from the store).
        skipped: items reused from the store.
        elapsed_s: wall time of this execution (the calls run side by side).
        notes: the runner's notes (tokenizer, cost basis, local model).
    """

    settings: Settings
    store_path: Path
    results: pd.DataFrame
    attempts: pd.DataFrame
    requests: int
    skipped: int
    elapsed_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """What answered, for figure titles (:func:`backend_label`)."""
        return backend_label(self.settings.backend)

    def source(self, models: Sequence[str] | None = None, tasks: Sequence[str] | None = None) -> str:
        """The run behind a table or figure: its id, backend and the days its requests were made
        (``models`` and ``tasks`` are accepted for symmetry with :meth:`RecordedRuns.source`)."""
        stamps = pd.to_datetime(self.results["started_at"], errors="coerce", utc=True).dropna()
        days = fmt.span(f"{stamps.min():%Y-%m-%d}", f"{stamps.max():%Y-%m-%d}", "{}") if len(stamps) else "not yet"
        return f"run {self.settings.run_id} ({self.settings.backend} backend, requests made {days})"


def run_suite(settings: Settings, *, store: str | Path | None = None, progress: bool = True,
              client_factory: Any = None) -> SuiteRun:
    """Run the settings' tasks x models (resuming ``settings.run_id``) and load the stored results.

    The needle task, when chosen, runs every (length, depth) cell of ``settings.needle_models``
    (``limit`` does not apply to it), alongside the other tasks (``limit`` items each, every model).
    Items already scored under the run id are not asked again.  ``client_factory`` is passed to
    :func:`workbench.evals.run` (tests).
    """
    started = time.perf_counter()
    s = settings
    plain = [t for t in s.tasks if t != "needle"]
    common = {"run_id": s.run_id, "store": store, "concurrency": s.concurrency, "progress": progress,
              "seed": s.seed, "client_factory": client_factory}
    calls = []
    if plain:
        calls.append(lambda: evals.run(plain, list(s.models), s.backend, limit=s.limit, **common))
    if "needle" in s.tasks:
        needle = evals.needle_task(s.needle_lengths, s.needle_depths, s.needle_per_cell)
        calls.append(lambda: evals.run([needle], list(s.needle_models), s.backend, limit=None, **common))
    if s.backend == "local" and client_factory is None:
        clients.local_base_url()  # start the one local provider before the two calls share it
    # The two calls run side by side: the needle's long prompts fill the engine slots that the other
    # tasks' last long replies leave idle (each call keeps its own per-provider concurrency).
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        summaries = [f.result() for f in [pool.submit(call) for call in calls]]
    path = summaries[0].store_path
    results = evals.load_results(s.run_id, path)
    results = results[results["task"].isin(s.tasks) & results["model"].isin(s.models)
                      & (results["backend"] == s.backend)]
    order = results["task"].map(s.tasks.index) * len(s.models) + results["model"].map(s.models.index)
    results = results.assign(_order=order).sort_values(["_order", "item_id"], kind="stable")
    results = results.drop(columns="_order").reset_index(drop=True)
    attempts = evals.load_attempts(s.run_id, path)
    attempts = attempts[attempts["task"].isin(s.tasks) & attempts["model"].isin(s.models)].reset_index(drop=True)
    notes = list(dict.fromkeys(n for sm in summaries for n in sm.notes))
    return SuiteRun(s, path, results, attempts, sum(sm.requests for sm in summaries),
                    sum(sm.skipped for sm in summaries), time.perf_counter() - started, notes)


def run_identity(run: SuiteRun) -> pd.DataFrame:
    """A two-column table naming the run: id, backend, real model, dates, store, counts, tokenizer."""
    s, r = run.settings, run.results
    stamps = pd.to_datetime(r["started_at"], errors="coerce", utc=True).dropna()
    when = (f"{stamps.min():%Y-%m-%d %H:%M} to {stamps.max():%Y-%m-%d %H:%M} UTC" if len(stamps)
            else "no item scored yet")
    real = clients.local_model_name() if s.backend == "local" else "each provider's own model (live APIs)"
    rows = [
        ("run id", s.run_id),
        ("backend", s.backend),
        ("real model behind it", real),
        ("model ids sent", ", ".join(s.models)),
        ("tasks", ", ".join(s.tasks)),
        ("items per task", f"{s.limit} (seed {s.seed})"),
        ("needle grid", (f"lengths {', '.join(map(str, s.needle_lengths))} tokens x depths "
                         f"{', '.join(f'{d:g}' for d in s.needle_depths)} x {s.needle_per_cell} per cell, "
                         f"asked of {', '.join(s.needle_models)}") if "needle" in s.tasks else "not run"),
        ("requests made", when),
        ("store", str(run.store_path)),
        ("items planned / scored / finally failed / pending",
         (f"{len(r)} / {int((r['outcome'] == 'scored').sum())} / {int((r['outcome'] == 'failed').sum())} / "
          f"{int((r['outcome'] == 'pending').sum())}")),
        ("this execution", (f"{run.requests} requests sent, {run.skipped} items reused from the store, "
                            f"{run.elapsed_s:.1f} s")),
        ("output tokens counted with", evals.TOKENIZER + " (the same tokenizer for every provider)"),
    ]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def scored(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``results`` (``evals.load_results``) whose final attempt was scored."""
    return results[results["outcome"] == "scored"]


def groups(rows: pd.DataFrame, by_task: bool = True) -> list[tuple[dict[str, str], pd.DataFrame]]:
    """``rows`` split per task and model (or per model), in the order they appear: ``({"task": t, "model": m},
    rows)`` pairs, the keys ready to start a table row."""
    keys = ["task", "model"] if by_task else ["model"]
    return [(dict(zip(keys, key if isinstance(key, tuple) else (key,))), g)
            for key, g in rows.groupby(keys, sort=False)]


def failures(results: pd.DataFrame) -> pd.DataFrame:
    """Every planned item without a score: finally failed (all attempts errored) or still pending."""
    bad = results[results["outcome"] != "scored"]
    out = bad[["task", "model", "item_id", "outcome", "attempts", "error_kind", "error"]].copy()
    out["error"] = out["error"].fillna("").str.slice(0, 160)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Recorded runs (run archives): the offline path, no engine
# --------------------------------------------------------------------------------------------

#: The build-local store that recorded runs are imported into (never ``results/``).
RECORDED_STORE: Path = paths.BUILD / "ch07" / "recorded.sqlite"


def check_archives(archives: Any, param: str = "archives") -> list[str]:
    """Archive ids under ``data/runs/`` or folders (a text with a ``/``), each holding a manifest.

    Lists may be given as lists, as JSON text or as ``"a,b"``.

    Raises:
        catalog.UnknownNameError: an archive that is not there (naming ``param`` and the archive, and
            listing the ids present under ``data/runs/``).
        params.ParameterError: no archive, or one given twice.
    """
    values = _unique(params.names(_listed(archives), param), param)
    present = archives_io.available()
    for value in values:
        try:
            folder: Path | None = archive_folder(value)
        except ValueError:  # not a valid id
            folder = None
        if folder is None or not (folder / MANIFEST).is_file():
            raise catalog.UnknownNameError(param, value, "archive", present or [f"none under {RUNS_DIR}"])
    return values


def live_archives(folder: Path | None = None) -> list[str]:
    """Ids of the recorded LIVE runs (manifest backend ``"live"``) under ``folder`` (``data/runs/``)."""
    root = folder or RUNS_DIR
    out = []
    for archive_id in archives_io.available(root):
        manifest = json.loads((root / archive_id / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("backend") == "live":
            out.append(archive_id)
    return out


def _fingerprint(folder: Path) -> str:
    """SHA-256 over an archive's files and the harness code that re-scores them (``evals/*.py``)."""
    digest = hashlib.sha256()
    code = sorted(Path(evals.__file__).parent.glob("*.py"))
    for f in [folder / MANIFEST, folder / EXCHANGES, *code]:
        digest.update(f.name.encode())
        digest.update(f.read_bytes() if f.is_file() else b"")
    return digest.hexdigest()


def _listed_in(manifest: dict[str, Any], parameter: str, key: str) -> list[str]:
    """The tasks or models of a recording in the order it was asked for (its parameters), else the
    manifest's keys (written sorted)."""
    return list((manifest.get("parameters") or {}).get(parameter) or manifest[key])


def _recorded_on(manifest: dict[str, Any]) -> str:
    """The day(s) a recording ran, UTC: ``2026-12-01`` or ``2026-11-30 to 2026-12-01``."""
    stamps = [manifest.get("created")] + [s.get(k) for s in manifest.get("sessions") or () for k in
                                          ("started", "finished")]
    days = sorted({str(t)[:10] for t in stamps if t})
    return fmt.span(days[0], days[-1], "{}") if days else "unknown"


def _file_sha(manifest: dict[str, Any], model: str) -> str:
    """The sha256 of the model file that answered ``model`` in a recording ("" when none: a live API)."""
    return str(((manifest.get("models") or {}).get(model) or {}).get("gguf", {}).get("sha256") or "")


@dataclass
class RecordedRuns:
    """Recorded runs read back from their archives (no engine).

    Attributes:
        archives: the loaded archives (manifest and exchanges), in the order given.
        store_path: the build-local SQLite store they were imported into.
        results: one row per planned item (``evals.load_results``), every reply re-scored.
        attempts: every attempt row (retries and errors included).
        rescored: ids of the archives re-scored by this call (the others were reused from the store:
            same files, same scorers).
        elapsed_s: wall time of the import.
    """

    archives: list[archives_io.Archive]
    store_path: Path
    results: pd.DataFrame
    attempts: pd.DataFrame
    rescored: list[str]
    elapsed_s: float

    @property
    def label(self) -> str:
        """What answered, for figure titles: each open model on this machine, and the live APIs if any."""
        parts = []
        if "local" in self.backends:
            parts.append("recorded runs: each open model answered by its own GGUF file (llama.cpp, this machine's CPU)")
        if "live" in self.backends:
            parts.append("recorded live runs: each provider's own API")
        return "; ".join(parts)

    @property
    def backends(self) -> list[str]:
        """The backends the archives were recorded on (``local``, ``live``)."""
        return list(dict.fromkeys(a.backend for a in self.archives))

    @property
    def models(self) -> list[str]:
        """Every model id of the archives, in the order they were given."""
        return list(dict.fromkeys(m for a in self.archives for m in _listed_in(a.manifest, "models", "models")))

    def source(self, models: Sequence[str] | None = None, tasks: Sequence[str] | None = None) -> str:
        """Which archives a table or figure came from: id, model file sha256 prefix, recorded date.

        Only the archives holding one of ``models`` on one of ``tasks`` (all when None) are named.
        """
        parts = []
        for a in self.archives:
            ms = [m for m in a.manifest["models"] if models is None or m in models]
            if not ms or not any(tasks is None or t in tasks for t in a.manifest["plan"]):
                continue
            shas = [_file_sha(a.manifest, m)[:12] for m in ms]
            what = ("model file sha256 " + ", ".join(s for s in shas if s)) if any(shas) else f"{a.backend} API"
            parts.append((a.id, what, _recorded_on(a.manifest)))
        if not parts:
            return "no archive"
        days = {day for _, _, day in parts}
        if len(days) == 1:  # one recording day: said once, so a table's source line stays short
            named = [f"{i} ({w})" for i, w, _ in parts]
            return ("archive " if len(parts) == 1 else "archives ") + "; ".join(named) + f", recorded {days.pop()}"
        named = [f"{i} ({w}, recorded {d})" for i, w, d in parts]
        return ("archive " if len(parts) == 1 else "archives ") + "; ".join(named)


def load_recorded(archives: Sequence[str | Path], store: str | Path | None = None, *,
                  progress: bool = False) -> RecordedRuns:
    """Import recorded runs into a build-local store, re-scored with the current scorers, and load them.

    An archive is re-scored (:func:`workbench.evals.archive.to_store`) unless the store already holds
    it from files and harness code with the same fingerprint (a sidecar ``<store>.imports.json`` keeps
    them), so a second build reads the store at once; a lock file next to the store keeps two processes (a
    test and a build) from importing into it at the same time.  Rows are ordered by task, then model, in
    the order the archives name them.

    Args:
        archives: ids or folders (:func:`check_archives` first for a parameter's error).
        store: the SQLite store (default :data:`RECORDED_STORE`, under ``build/``).
        progress: show the re-scoring progress bars.

    Raises:
        params.ParameterError: two archives with the same id.
    """
    started = time.perf_counter()
    path = Path(store) if store is not None else RECORDED_STORE
    path.parent.mkdir(parents=True, exist_ok=True)
    ledger = path.with_name(path.name + ".imports.json")
    loaded: list[archives_io.Archive] = []
    rescored = []
    with open(path.with_name(path.name + ".lock"), "w") as lock:  # one importer at a time (a test and a build)
        fcntl.flock(lock, fcntl.LOCK_EX)
        imported = json.loads(ledger.read_text(encoding="utf-8")) if ledger.is_file() else {}
        with evals.Store(path) as db:
            have = set(db.runs()["run_id"])
        for value in archives:
            a = archives_io.load(value)
            if a.id in {b.id for b in loaded}:
                raise ParameterError("archives", "archives with different ids", str(value))
            stamp = _fingerprint(a.path)
            if imported.get(a.id) != stamp or a.id not in have:
                archives_io.to_store(a, path, progress=progress)
                imported[a.id] = stamp
                ledger.write_text(json.dumps(imported, indent=1, sort_keys=True) + "\n", encoding="utf-8")
                rescored.append(a.id)
            loaded.append(a)
    ids = [a.id for a in loaded]
    tasks = list(dict.fromkeys(t for a in loaded for t in _listed_in(a.manifest, "tasks", "plan")))
    models = list(dict.fromkeys(m for a in loaded for m in _listed_in(a.manifest, "models", "models")))
    results = evals.load_results(ids, path)
    order = results["task"].map(tasks.index) * len(models) + results["model"].map(models.index)
    results = (results.assign(_order=order).sort_values(["_order", "item_id"], kind="stable")
               .drop(columns="_order").reset_index(drop=True))
    return RecordedRuns(loaded, path, results, evals.load_attempts(ids, path), rescored,
                        time.perf_counter() - started)


def archive_table(runs: RecordedRuns) -> pd.DataFrame:
    """What ran, from the manifests: one row per archive and model.

    Columns: archive, backend, model, answered by (the real model the provider named), model file
    (name and sha256 prefix; "live API" for a live run), recorded (UTC days), tasks (items planned),
    answered / failed / not tried (items, over its tasks).
    """
    rows = []
    for a in runs.archives:
        m = a.manifest
        counts = (m.get("counts") or {}).get("items") or {}
        for model, facts in m["models"].items():
            gguf = facts.get("gguf") or {}
            per = [counts.get(t, {}).get(model, {}) for t in m["plan"]]
            done = [sum(c.get(k, 0) for c in per) for k in ("answered", "failed", "not_tried")]
            rows.append({
                "archive": a.id, "backend": a.backend, "model": model,
                "answered by": facts.get("answered_by") or ("the provider's API" if a.backend == "live" else "n/a"),
                "model file": f"{gguf['file']} (sha256 {gguf['sha256'][:12]}…)" if gguf else f"{a.backend} API",
                "recorded (UTC)": _recorded_on(m),
                "tasks (items)": ", ".join(f"{t} ({len(items)})" for t, items in m["plan"].items()),
                "answered / failed / not tried": " / ".join(map(str, done)) if counts else "no counts (unfinished)",
            })
    return pd.DataFrame(rows)


def recording_table(runs: RecordedRuns) -> pd.DataFrame:
    """How each archive was recorded: prompt formats, output caps, temperature, engine, code and SDK.

    Columns: archive, prompt format (per task, from the task's recorded ``options``), output cap (tokens,
    per task), temperature, engine (xllamacpp version, threads, slots; "" for a live run), code (commit
    prefix, and whether the tree had uncommitted changes), SDK (the versions that made the requests).
    """
    rows = []
    for a in runs.archives:
        m = a.manifest
        p = m.get("parameters") or {}
        options = p.get("task_options") or {}
        caps = {key.split("|")[0]: s.get("max_tokens") for key, s in (m.get("request_settings") or {}).items()}
        engines = {json.dumps(f.get("engine"), sort_keys=True): f.get("engine") for f in m["models"].values()
                   if f.get("engine")}
        code = m.get("code") or {}
        sdk = m.get("sdk") or {}
        rows.append({
            "archive": a.id,
            "prompt format": "; ".join(f"{t}: {(options.get(t) or {}).get('prompt_format', 'default')}"
                                       for t in m["plan"]),
            "output cap": "; ".join(f"{t}: {caps.get(t, 'n/a')}" for t in m["plan"]),
            "temperature": p.get("temperature"),
            "engine": "; ".join(f"xllamacpp {e.get('xllamacpp')}, threads {e.get('threads') or 'n/a'}, "
                                f"slots {e.get('slots') or 'n/a'}" for e in engines.values()),
            "code": f"{str(code.get('commit') or 'unknown')[:10]}" + (" (uncommitted changes)" if code.get("dirty")
                                                                      else ""),
            "SDK": ", ".join(f"{k} {v}" for k, v in sdk.items() if v and k in ("openai", "anthropic",
                                                                               "google-genai", "python")),
        })
    return pd.DataFrame(rows)
