"""Batch jobs, protocol-neutral: their store on disk and their background runs.

A batch is a list of requests (items) run later, a few at a time, each to a result of its own. The
:class:`BatchStore` keeps batches, items and uploaded files in one SQLite file, every write committed
at once, so a batch outlives the provider process that took it. :class:`Batches` runs them: it holds a
new batch queued until its hold time, then answers its items through a :class:`Handlers` object (the
wire protocols' side, :mod:`.batches`), at most :data:`SLOTS` items at a time over all batches, and
ends it as completed, cancelled (a cancel stops the items not started; those in flight finish) or
expired (the window ended first: the items not run are marked expired). A provider started after
another one died adopts that one's unfinished batches (:meth:`Batches.ensure`); any provider answers
for any batch, only its owner runs it.

Job states: ``queued`` → ``running`` → ``completed``, or ``cancelling`` → ``cancelled``, or
``expired``, or ``failed`` (rejected on creation). Item statuses: ``pending``, ``succeeded``,
``errored``, ``cancelled``, ``expired``.
"""
from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import GatewayError
from .types import new_id

__all__ = ["ENDED", "KEEP_S", "SLOTS", "WINDOW_S", "BatchStore", "Batches", "Handlers", "Job"]

#: The completion window of all three providers: 24 hours.
WINDOW_S = 24 * 3600
#: Items in generation at once, over all batches (the engines have few slots).
SLOTS = 2
#: Ended batches are kept this long (OpenAI keeps batch files 30 days).
KEEP_S = 30 * 24 * 3600
#: The states of a batch that has ended.
ENDED = ("completed", "cancelled", "expired", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, filename TEXT, purpose TEXT, created_at REAL, data BLOB);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, protocol TEXT NOT NULL, model TEXT, endpoint TEXT, state TEXT NOT NULL,
    created_at REAL NOT NULL, expires_at REAL NOT NULL, hold_until REAL NOT NULL, started_at REAL,
    cancelling_at REAL, ended_at REAL, meta TEXT NOT NULL, owner INTEGER);
CREATE TABLE IF NOT EXISTS items (
    job_id TEXT NOT NULL, idx INTEGER NOT NULL, custom_id TEXT, body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', code INTEGER, result TEXT, input_tokens INTEGER,
    output_tokens INTEGER, PRIMARY KEY (job_id, idx));
"""


def _alive(pid: int | None) -> bool:
    """True when process ``pid`` is running."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Job:
    """One batch: its protocol, model, state and times (seconds since the epoch)."""

    id: str
    protocol: str
    model: str | None
    endpoint: str | None
    state: str
    created_at: float
    expires_at: float
    hold_until: float
    started_at: float | None
    cancelling_at: float | None
    ended_at: float | None
    meta: dict[str, Any]
    owner: int | None

    @property
    def ended(self) -> bool:
        return self.state in ENDED


class BatchStore:
    """The batches, their items and OpenAI's files in one SQLite file (every write committed at once)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        old = time.time() - KEEP_S
        self.db.execute("DELETE FROM items WHERE job_id IN (SELECT id FROM jobs WHERE ended_at < ?)", (old,))
        self.db.execute("DELETE FROM jobs WHERE ended_at < ?", (old,))
        self.db.execute("DELETE FROM files WHERE created_at < ?", (old,))

    # -- files ---------------------------------------------------------------------------------
    def add_file(self, data: bytes, filename: str, purpose: str, file_id: str | None = None) -> str:
        file_id = file_id or new_id("file-")
        self.db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?)", (file_id, filename, purpose, time.time(), data))
        return file_id

    def file(self, file_id: str) -> tuple[str, str, float, bytes]:
        """``(filename, purpose, created_at, data)``; a 404 when there is no such file."""
        row = self.db.execute("SELECT filename, purpose, created_at, data FROM files WHERE id=?", (file_id,)).fetchone()
        if row is None:
            raise GatewayError("not_found", f"No such File object: {file_id}", param="file_id")
        return row[0], row[1], row[2], bytes(row[3])

    def file_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM files ORDER BY created_at DESC")]

    def delete_file(self, file_id: str) -> None:
        self.file(file_id)
        self.db.execute("DELETE FROM files WHERE id=?", (file_id,))

    # -- jobs ----------------------------------------------------------------------------------
    def create(self, protocol: str, items: list[tuple[str | None, dict[str, Any]]], *, model: str | None,
               endpoint: str | None = None, meta: dict[str, Any] | None = None, expires_in: float = WINDOW_S,
               hold: float = 0.0, state: str = "queued", prefix: str = "batch_") -> Job:
        now = time.time()
        job_id = new_id(prefix)
        self.db.execute("BEGIN")
        self.db.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
                        (job_id, protocol, model, endpoint, state, now, now + expires_in, now + hold,
                         now if state in ENDED else None, json.dumps(meta or {}), os.getpid()))
        self.db.executemany("INSERT INTO items (job_id, idx, custom_id, body) VALUES (?, ?, ?, ?)",
                            [(job_id, i, cid, json.dumps(body)) for i, (cid, body) in enumerate(items)])
        self.db.execute("COMMIT")
        return self.job(job_id, protocol)

    def job(self, job_id: str, protocol: str) -> Job:
        """The batch ``job_id`` of ``protocol``; a 404 when there is none."""
        row = self.db.execute("SELECT * FROM jobs WHERE id=? AND protocol=?", (job_id, protocol)).fetchone()
        if row is None:
            raise GatewayError("not_found", f"No batch found with id '{job_id}'", param="batch_id")
        return Job(*row[:11], json.loads(row[11]), row[12])

    def jobs(self, protocol: str) -> list[Job]:
        ids = self.db.execute("SELECT id FROM jobs WHERE protocol=? ORDER BY created_at DESC, id", (protocol,))
        return [self.job(r[0], protocol) for r in ids.fetchall()]

    def update(self, job: Job, **values: Any) -> None:
        for key, value in values.items():
            setattr(job, key, value)
        cols = ", ".join(f"{k}=?" for k in values)
        data = [json.dumps(v) if k == "meta" else v for k, v in values.items()]
        self.db.execute(f"UPDATE jobs SET {cols} WHERE id=?", [*data, job.id])

    def claim(self, job: Job) -> bool:
        """Make this process the one running ``job`` unless its owner is alive; True when it is ours now."""
        if job.owner == os.getpid():
            return True
        if _alive(job.owner):
            return False
        cur = self.db.execute("UPDATE jobs SET owner=? WHERE id=? AND owner IS ?", (os.getpid(), job.id, job.owner))
        job.owner = os.getpid() if cur.rowcount == 1 else job.owner
        return cur.rowcount == 1

    def orphans(self) -> list[tuple[str, str]]:
        rows = self.db.execute(f"SELECT id, protocol, owner FROM jobs WHERE state NOT IN {ENDED}").fetchall()
        return [(i, p) for i, p, owner in rows if not _alive(owner)]

    # -- items ---------------------------------------------------------------------------------
    def pending(self, job: Job) -> list[tuple[int, str | None, dict[str, Any]]]:
        rows = self.db.execute("SELECT idx, custom_id, body FROM items WHERE job_id=? AND status='pending' "
                               "ORDER BY idx", (job.id,))
        return [(i, c, json.loads(b)) for i, c, b in rows]

    def finish_item(self, job: Job, idx: int, status: str, code: int | None, result: Any,
                    tokens: tuple[int, int] = (0, 0)) -> None:
        self.db.execute("UPDATE items SET status=?, code=?, result=?, input_tokens=?, output_tokens=? "
                        "WHERE job_id=? AND idx=? AND status='pending'",
                        (status, code, json.dumps(result), tokens[0], tokens[1], job.id, idx))

    def close_pending(self, job: Job, status: str) -> None:
        self.db.execute("UPDATE items SET status=? WHERE job_id=? AND status='pending'", (status, job.id))

    def counts(self, job: Job) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM items WHERE job_id=? GROUP BY status", (job.id,))
        out = {"pending": 0, "succeeded": 0, "errored": 0, "cancelled": 0, "expired": 0}
        out.update({s: n for s, n in rows})
        return out

    def tokens(self, job: Job) -> tuple[int, int]:
        row = self.db.execute("SELECT COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0) "
                              "FROM items WHERE job_id=?", (job.id,)).fetchone()
        return int(row[0]), int(row[1])

    def results(self, job: Job) -> list[tuple[str | None, dict[str, Any], str, int | None, Any]]:
        """``(custom_id, body, status, code, result)`` of every item, in request order."""
        rows = self.db.execute("SELECT custom_id, body, status, code, result FROM items WHERE job_id=? ORDER BY idx",
                               (job.id,))
        return [(c, json.loads(b), s, code, json.loads(r) if r else None) for c, b, s, code, r in rows]

    def delete(self, job: Job) -> None:
        self.db.execute("DELETE FROM items WHERE job_id=?", (job.id,))
        self.db.execute("DELETE FROM jobs WHERE id=?", (job.id,))


class Handlers(Protocol):
    """The wire protocols' side of a batch run."""

    async def answer(self, job: Job, body: dict[str, Any]) -> dict[str, Any]:
        """The protocol's answer body to one request of ``job`` (a :class:`GatewayError` fails the item)."""
        ...

    def error(self, job: Job, exc: GatewayError) -> tuple[int, Any]:
        """The HTTP status and protocol error body of a failed item."""
        ...

    def usage(self, job: Job, answer: dict[str, Any]) -> tuple[int, int]:
        """Input and output tokens of one answer body."""
        ...

    def ended(self, job: Job) -> None:
        """``job`` has just ended (e.g. write its result files)."""
        ...


class Batches:
    """The background runs of the batches in ``store``, their items answered by ``handlers``."""

    def __init__(self, store: BatchStore, handlers: Handlers) -> None:
        self.store = store
        self.handlers = handlers
        self.running: dict[str, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(SLOTS)
        self.adopted = False

    def ensure(self, job: Job) -> None:
        """Run ``job`` in the background unless it has ended or another live provider runs it."""
        if not self.adopted:
            self.adopted = True
            for job_id, protocol in self.store.orphans():
                if job_id != job.id:
                    self.ensure(self.store.job(job_id, protocol))
        if job.ended or job.id in self.running or not self.store.claim(job):
            return
        task = asyncio.get_running_loop().create_task(self._run(job))
        self.running[job.id] = task
        task.add_done_callback(lambda _: self.running.pop(job.id, None))

    def get(self, job_id: str, protocol: str) -> Job:
        """The batch ``job_id`` of ``protocol`` (a 404 when there is none), its run resumed if it needs one."""
        job = self.store.job(job_id, protocol)
        self.ensure(job)
        return job

    def cancel(self, job: Job) -> None:
        """Ask for ``job`` to stop: items not started are cancelled, those in flight finish."""
        if not job.ended and job.state != "cancelling":
            self.store.update(job, state="cancelling", cancelling_at=time.time())
        self.ensure(job)

    def _state(self, job: Job) -> str:
        fresh = self.store.job(job.id, job.protocol)
        job.state, job.cancelling_at = fresh.state, fresh.cancelling_at
        return "cancelled" if job.state == "cancelling" else "expired" if time.time() >= job.expires_at else ""

    async def _run(self, job: Job) -> None:
        while not self._state(job) and time.time() < job.hold_until:
            await asyncio.sleep(min(0.2, job.hold_until - time.time()))
        if job.state == "queued" and not self._state(job):
            self.store.update(job, state="running", started_at=time.time())
        flying: set[asyncio.Task[None]] = set()
        stop = ""
        for idx, custom_id, body in self.store.pending(job):
            await self.slots.acquire()
            stop = self._state(job)
            if stop:
                self.slots.release()
                break
            item = asyncio.create_task(self._item(job, idx, body))
            flying.add(item)
            item.add_done_callback(lambda t: (flying.discard(t), self.slots.release()))
        if flying:
            await asyncio.gather(*flying)
        late = self._state(job)  # a cancel always ends as cancelled; the window only matters for items not run
        stop = stop or ("" if late == "expired" and not self.store.counts(job)["pending"] else late)
        self.store.close_pending(job, stop or "cancelled")
        self.store.update(job, state=stop or "completed", ended_at=time.time())
        self.handlers.ended(job)

    async def _item(self, job: Job, idx: int, body: dict[str, Any]) -> None:
        """Answer one request of ``job`` (three tries while the engine is busy) and store the result."""
        for attempt in range(3):
            try:
                answer = await self.handlers.answer(job, body)
            except GatewayError as exc:
                if exc.kind == "unavailable" and attempt < 2:
                    await asyncio.sleep(1.0 + attempt)
                    continue
                self.store.finish_item(job, idx, "errored", *self.handlers.error(job, exc))
            except Exception as exc:  # noqa: BLE001  an engine failure fails this item, not the batch
                error = GatewayError("server", f"internal error in the local gateway: {exc!r}")
                self.store.finish_item(job, idx, "errored", *self.handlers.error(job, error))
            else:
                self.store.finish_item(job, idx, "succeeded", 200, answer, self.handlers.usage(job, answer))
            return
