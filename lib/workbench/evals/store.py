"""The results store: one SQLite file, one row per item and attempt, keyed by run id.

Tables:

* ``runs``: one row per run id (created, backend, the run's settings as JSON);
* ``plan``: every (run, task, model, backend, item) the run was asked to do, written before the first
  request, so an item can never be dropped silently: it is scored, finally failed, or still pending;
* ``results``: one row per attempt: run id, task, item id, model, backend, attempt, provider,
  prompt hash, status (``ok`` or ``error``), response, extracted answer, score, details (JSON),
  usage tokens (provider's), output tokens counted by ``tokenizer``, TTFT, ITL, output tokens/s,
  total latency, cost, start and end times, error kind and message, the run archive the row was
  recorded into or imported from (``archive_id``; NULL for a run that was not recorded), and the
  answer's ``confidence`` (the probability the model gave the answer it gave, 0-1, from token
  log-probabilities; NULL when they were not asked for or the reply gave no answer; the options'
  probabilities are in ``details["option_probs"]``);
* ``batches``: one row per provider batch of a batch run (:mod:`workbench.evals.batch`): run id, model,
  backend, provider, batch id, the provider's last state, the items it carries (JSON: custom id ->
  task, item id, prompt hash), submitted and finished (results stored) times.

Every row is committed as soon as it is written (WAL journal), so a run killed with SIGKILL loses
only the requests in flight; the runner then skips items that already have an ``ok`` row with the
same prompt hash.  Notebooks read the store through :func:`load_results` and :func:`summarize`.
A store written before the ``archive_id`` or ``confidence`` column existed gains it when opened.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from .. import paths
from ..stats import wilson_interval

__all__ = ["CUT_REASONS", "DEFAULT_PATH", "RESULT_COLUMNS", "Store", "load_attempts", "load_results", "summarize"]

#: Default store location.
DEFAULT_PATH: Path = paths.RESULTS / "evals.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    backend     TEXT NOT NULL,
    config      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS plan (
    run_id   TEXT NOT NULL,
    task     TEXT NOT NULL,
    model    TEXT NOT NULL,
    backend  TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    stratum  TEXT,
    PRIMARY KEY (run_id, task, model, backend, item_id)
);
CREATE TABLE IF NOT EXISTS results (
    run_id                 TEXT NOT NULL,
    task                   TEXT NOT NULL,
    item_id                TEXT NOT NULL,
    model                  TEXT NOT NULL,
    backend                TEXT NOT NULL,
    attempt                INTEGER NOT NULL,
    provider               TEXT,
    prompt_hash            TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    response               TEXT,
    extracted              TEXT,
    score                  REAL,
    details                TEXT,
    input_tokens           INTEGER,
    output_tokens          INTEGER,
    output_tokens_counted  INTEGER,
    tokenizer              TEXT,
    ttft_s                 REAL,
    itl_s                  REAL,
    tokens_per_s           REAL,
    latency_s              REAL,
    cost_usd               REAL,
    started_at             TEXT,
    finished_at            TEXT,
    error_kind             TEXT,
    error                  TEXT,
    archive_id             TEXT,
    confidence             REAL,
    PRIMARY KEY (run_id, task, item_id, model, backend, attempt)
);
CREATE INDEX IF NOT EXISTS results_ok ON results (run_id, task, model, backend, status);
CREATE TABLE IF NOT EXISTS batches (
    run_id        TEXT NOT NULL,
    model         TEXT NOT NULL,
    backend       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    batch_id      TEXT NOT NULL,
    state         TEXT NOT NULL,
    items         TEXT NOT NULL,
    submitted_at  TEXT NOT NULL,
    finished_at   TEXT,
    PRIMARY KEY (run_id, batch_id)
);
"""

#: Columns of the ``results`` table, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "run_id", "task", "item_id", "model", "backend", "attempt", "provider", "prompt_hash", "status",
    "response", "extracted", "score", "details", "input_tokens", "output_tokens",
    "output_tokens_counted", "tokenizer", "ttft_s", "itl_s", "tokens_per_s", "latency_s", "cost_usd",
    "started_at", "finished_at", "error_kind", "error", "archive_id", "confidence",
)

#: Finish reasons that mean "stopped by the output cap" in the three protocols (OpenAI ``length``,
#: Anthropic ``max_tokens``, Gemini ``MAX_TOKENS``; the Responses API's ``max_output_tokens``).
CUT_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS", "max_output_tokens"})


def _now() -> str:
    """UTC time now, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _resolve(path: str | Path | None) -> Path:
    """The store path: ``path`` or the default; its folder is created."""
    p = Path(path) if path is not None else DEFAULT_PATH
    if p.exists() and p.is_dir():
        raise ValueError(f"store: {p} is a folder; give the path of a .sqlite file")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _columns_and_values(row: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """The columns of one result row, in store order, and their values (``details`` as JSON text)."""
    unknown = set(row) - set(RESULT_COLUMNS)
    if unknown:
        raise ValueError(f"row: unknown column(s) {sorted(unknown)}")
    cols = [c for c in RESULT_COLUMNS if c in row]
    values = [json.dumps(row[c], sort_keys=True, default=str) if c == "details" and isinstance(row[c], (dict, list))
              else row[c] for c in cols]
    return cols, values


class Store:
    """A handle on the SQLite results store (thread-safe; each write is committed at once).

    Args:
        path: the ``.sqlite`` file (created if missing); default ``results/evals.sqlite``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = _resolve(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"store: {self.path} is not a usable SQLite file: {exc}") from exc

    def _migrate(self) -> None:
        """Add the columns a store written by an older version lacks."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        for col, kind in (("archive_id", "TEXT"), ("confidence", "REAL")):
            if col not in have:
                try:
                    self._db.execute(f"ALTER TABLE results ADD COLUMN {col} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise

    # -- writing ---------------------------------------------------------------------------------

    def start_run(self, run_id: str, backend: str, config: Mapping[str, Any]) -> bool:
        """Record a run (once); return True if it is new, False if it resumes an existing run id."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO runs (run_id, created_at, backend, config) VALUES (?, ?, ?, ?)",
                (run_id, _now(), backend, json.dumps(dict(config), sort_keys=True, default=str)),
            )
            return cur.rowcount == 1

    def add_plan(self, run_id: str, task: str, model: str, backend: str,
                 items: Iterable[tuple[str, str | None]]) -> None:
        """Record the (item id, stratum) pairs a run must do for one task and model."""
        rows = [(run_id, task, model, backend, item_id, stratum) for item_id, stratum in items]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO plan VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def record(self, row: Mapping[str, Any]) -> None:
        """Insert one attempt row (keys from ``RESULT_COLUMNS``; ``details`` may be a dict)."""
        self.record_many([row])

    def record_many(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert attempt rows (each with its ``attempt``) in one transaction; return how many."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                n = self._insert(rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return n

    def _insert(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert attempt rows inside the caller's transaction; return how many."""
        n = 0
        for row in rows:
            cols, values = _columns_and_values(row)
            self._db.execute(f"INSERT INTO results ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                             values)
            n += 1
        return n

    def add_batch(self, run_id: str, model: str, backend: str, provider: str, batch_id: str,
                  items: Mapping[str, Any]) -> None:
        """Record a batch the provider accepted for a run (``items``: custom id -> task, item id, prompt hash)."""
        with self._lock:
            self._db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?, 'submitted', ?, ?, NULL)",
                             (run_id, model, backend, provider, batch_id, json.dumps(dict(items)), _now()))

    def update_batch(self, run_id: str, batch_id: str, state: str,
                     rows: Iterable[Mapping[str, Any]] | None = None) -> None:
        """Set a batch's state; with ``rows`` (its results) also insert them and mark it finished, in one
        transaction (an interrupted collection stores nothing, a finished one everything)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                if rows is not None:
                    self._insert(rows)
                self._db.execute("UPDATE batches SET state=?, finished_at=? WHERE run_id=? AND batch_id=?",
                                 (state, _now() if rows is not None else None, run_id, batch_id))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def batches(self, run_id: str, batch_id: str | None = None) -> list[dict[str, Any]]:
        """The batches of a run (or one of them), oldest first, as dicts of the ``batches`` columns."""
        sql = "SELECT * FROM batches WHERE run_id=?" + (" AND batch_id=?" if batch_id else "")
        with self._lock:
            cur = self._db.execute(sql + " ORDER BY submitted_at", (run_id, batch_id) if batch_id else (run_id,))
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def delete_run(self, run_id: str) -> int:
        """Remove a run (its settings, plan and every attempt); return how many attempt rows went."""
        with self._lock:
            self._db.execute("BEGIN")
            n = self._db.execute("DELETE FROM results WHERE run_id=?", (run_id,)).rowcount
            self._db.execute("DELETE FROM plan WHERE run_id=?", (run_id,))
            self._db.execute("DELETE FROM batches WHERE run_id=?", (run_id,))
            self._db.execute("DELETE FROM runs WHERE run_id=?", (run_id,))
            self._db.execute("COMMIT")
        return int(n)

    def record_attempt(self, row: Mapping[str, Any]) -> int:
        """Insert one attempt row under the next attempt number for its item; return that number.

        The number is assigned inside the INSERT itself, so two processes that run the same run id at
        once (two notebooks, a notebook and the command line) each keep their attempts instead of one of
        them failing on the (item, attempt) key. ``row`` has no ``attempt`` key.
        """
        if "attempt" in row:
            raise ValueError("row: record_attempt assigns 'attempt' itself; use record() to give one")
        cols, values = _columns_and_values(row)
        key = [row[k] for k in ("run_id", "task", "item_id", "model", "backend")]
        sql = (f"INSERT INTO results ({', '.join(cols)}, attempt) SELECT {', '.join('?' for _ in cols)}, "
               "COALESCE(MAX(attempt), 0) + 1 FROM results WHERE run_id=? AND task=? AND item_id=? "
               "AND model=? AND backend=? RETURNING attempt")
        with self._lock:
            (attempt,) = self._db.execute(sql, values + key).fetchone()
        return int(attempt)

    # -- reading ---------------------------------------------------------------------------------

    def done(self, run_id: str, task: str, model: str, backend: str) -> dict[str, str]:
        """``{item_id: prompt_hash}`` of the items that already have an ``ok`` row in this run."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id, prompt_hash FROM results WHERE run_id=? AND task=? AND model=? "
                "AND backend=? AND status='ok'", (run_id, task, model, backend)).fetchall()
        return {item_id: h for item_id, h in rows}

    def attempts_so_far(self, run_id: str, task: str, model: str, backend: str) -> dict[str, int]:
        """``{item_id: highest attempt number}`` recorded so far (any status)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id, MAX(attempt) FROM results WHERE run_id=? AND task=? AND model=? "
                "AND backend=? GROUP BY item_id", (run_id, task, model, backend)).fetchall()
        return {item_id: int(n) for item_id, n in rows}

    def query(self, sql: str, params: Iterable[Any] = ()) -> pd.DataFrame:
        """Run a read-only SQL query and return a DataFrame."""
        with self._lock:
            return pd.read_sql_query(sql, self._db, params=list(params))

    def runs(self) -> pd.DataFrame:
        """Every run: run_id, created_at, backend, config (JSON text)."""
        return self.query("SELECT * FROM runs ORDER BY created_at")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _where(run_id: str | Iterable[str] | None, alias: str = "") -> tuple[str, list[str]]:
    """SQL ``WHERE`` fragment selecting run ids (all when None); ``alias`` prefixes the column."""
    if run_id is None:
        return "1=1", []
    ids = [run_id] if isinstance(run_id, str) else list(run_id)
    return f"{alias}run_id IN ({', '.join('?' for _ in ids)})", ids


def load_attempts(run_id: str | Iterable[str] | None = None, path: str | Path | None = None) -> pd.DataFrame:
    """Every attempt row (``results`` table) of the given run(s), oldest first."""
    where, params = _where(run_id)
    with Store(path) as store:
        return store.query(f"SELECT * FROM results WHERE {where} ORDER BY started_at, attempt", params)


def load_results(run_id: str | Iterable[str] | None = None, path: str | Path | None = None) -> pd.DataFrame:
    """One row per planned item of the given run(s): its final outcome.

    For each (run, task, model, backend, item) in the plan: the last ``ok`` attempt if there is
    one (``outcome = "scored"``), else the last failed attempt (``outcome = "failed"``), else no
    attempt yet (``outcome = "pending"``).  Columns: the ``results`` columns, ``stratum``,
    ``attempts`` (how many were made) and ``outcome``; ``details`` is parsed from JSON; ``confidence``
    is a float (NaN where not recorded).
    """
    where, params = _where(run_id)
    pwhere, _ = _where(run_id, alias="p.")
    sql = f"""
        WITH ranked AS (
            SELECT r.*, ROW_NUMBER() OVER (
                PARTITION BY run_id, task, model, backend, item_id
                ORDER BY (status = 'ok') DESC, attempt DESC) AS rn,
                COUNT(*) OVER (PARTITION BY run_id, task, model, backend, item_id) AS attempts
            FROM results r WHERE {where})
        SELECT p.run_id, p.task, p.model, p.backend, p.item_id, p.stratum,
               {', '.join('r.' + c for c in RESULT_COLUMNS if c not in
                          ('run_id', 'task', 'model', 'backend', 'item_id'))},
               COALESCE(r.attempts, 0) AS attempts
        FROM plan p LEFT JOIN ranked r
          ON r.run_id = p.run_id AND r.task = p.task AND r.model = p.model
         AND r.backend = p.backend AND r.item_id = p.item_id AND r.rn = 1
        WHERE {pwhere}
        ORDER BY p.run_id, p.task, p.model, p.item_id
    """
    with Store(path) as store:
        df = store.query(sql, params + params)
    df["outcome"] = np.select([df["status"] == "ok", df["status"] == "error"],
                              ["scored", "failed"], "pending")
    df["details"] = [json.loads(d) if isinstance(d, str) and d else {} for d in df["details"]]
    df["confidence"] = pd.to_numeric(df["confidence"], errors="coerce").astype(float)
    return df


def summarize(results: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per (run, task, model, backend): counts, accuracy with a Wilson interval, timing and cost.

    Args:
        results: the output of :func:`load_results`.
        confidence: level of the accuracy interval.

    Returns:
        Columns: run_id, task, model, backend, requested, scored, failed, pending, accuracy,
        ci_low, ci_high (fractions; accuracy over *scored* items: failed items are reported,
        never counted as wrong); acc_failed_wrong and acc_failed_right (what the accuracy over scored
        plus finally-failed items would be had every failed item been wrong, or right: the bounds of
        their effect; equal to accuracy when none failed); failed_items (their ids, a tuple);
        cut_by_cap (share of scored replies whose finish reason says the output cap stopped them,
        see :data:`CUT_REASONS`); archive_id (the archive(s) the rows came from, "" when none); the
        mean of every numeric score detail (e.g. ``lenient`` for JSON); ttft_median_s, itl_median_s,
        latency_median_s, tokens_per_s_median, input_tokens, output_tokens, cost_usd (NaN when no
        cost was recorded).
    """
    keys = ["run_id", "task", "model", "backend"]
    rows = []
    if results.empty:
        return pd.DataFrame(columns=keys + ["requested", "scored", "failed", "pending", "accuracy",
                                            "ci_low", "ci_high", "acc_failed_wrong", "acc_failed_right",
                                            "failed_items", "cut_by_cap", "archive_id"])
    for key, g in results.groupby(keys, sort=True):
        ok = g[g["outcome"] == "scored"]
        failed = g[g["outcome"] == "failed"]
        n_ok, n_failed = len(ok), len(failed)
        total = float(ok["score"].sum()) if n_ok else 0.0
        correct = round(total)
        acc = total / n_ok if n_ok else float("nan")
        low, high = wilson_interval(min(correct, n_ok), n_ok, confidence) if n_ok else (np.nan, np.nan)
        finished = n_ok + n_failed
        finish = [d.get("finish_reason") for d in ok["details"]] if n_ok else []
        archives = sorted({a for a in g.get("archive_id", pd.Series(dtype=object)) if isinstance(a, str) and a})
        row: dict[str, Any] = dict(zip(keys, key))
        row.update(requested=len(g), scored=n_ok, failed=n_failed,
                   pending=int((g["outcome"] == "pending").sum()), accuracy=acc, ci_low=low, ci_high=high,
                   acc_failed_wrong=total / finished if finished else np.nan,
                   acc_failed_right=(total + n_failed) / finished if finished else np.nan,
                   failed_items=tuple(sorted(failed["item_id"])),
                   cut_by_cap=sum(f in CUT_REASONS for f in finish) / n_ok if n_ok else np.nan,
                   archive_id=",".join(archives))
        extra = pd.DataFrame([d for d in ok["details"]]) if n_ok else pd.DataFrame()
        for col in extra.columns:
            vals = pd.to_numeric(extra[col], errors="coerce")
            if vals.notna().any() and col not in ("duration_s", "chunks"):
                row[col] = float(vals.mean())
        row.update(
            ttft_median_s=ok["ttft_s"].median() if n_ok else np.nan,
            itl_median_s=ok["itl_s"].median() if n_ok else np.nan,
            latency_median_s=ok["latency_s"].median() if n_ok else np.nan,
            tokens_per_s_median=ok["tokens_per_s"].median() if n_ok else np.nan,
            input_tokens=int(ok["input_tokens"].fillna(0).sum()) if n_ok else 0,
            output_tokens=int(ok["output_tokens"].fillna(0).sum()) if n_ok else 0,
            cost_usd=float(ok["cost_usd"].sum()) if n_ok and ok["cost_usd"].notna().any() else np.nan,
        )
        rows.append(row)
    return pd.DataFrame(rows)
