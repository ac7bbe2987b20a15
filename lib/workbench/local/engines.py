"""The provider's engines: one llama.cpp engine per local model id, started on first use, memory bounded.

:class:`EnginePool` is the table the gateway's core asks for an engine (its ``Engines`` protocol,
:mod:`workbench.local.gateway.core`). Each local model id (:mod:`workbench.local.models`) has its own
:class:`~workbench.local.engine.Engine` with the provider's slots and context and the model's own
thread count:

* the stand-in's engine starts with the provider (:meth:`EnginePool.start`); every other engine starts
  on the first request for its id, in a worker thread so the event loop keeps serving; concurrent first
  requests wait for the one start; a failed start names the model and the next request tries again;
* a started engine stays warm while the model files of the running engines fit the memory budget;
  when starting one more would exceed it, the least recently used idle engine is stopped first (the
  log says which and why); when every other engine is busy, the start waits for one to become idle;
* :meth:`EnginePool.describe` reports every engine, running or not, for the admin ``info``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Engine, EngineError
from .gateway.engine_client import EngineClient
from .gateway.errors import GatewayError
from .models import ModelSpec

__all__ = ["EnginePool"]

log = logging.getLogger("workbench.local.engines")

_MIB = 2**20


@dataclass
class _Served:
    """One local model id's engine and its bookkeeping."""

    spec: ModelSpec
    path: Path | None
    engine: Engine | None = None
    client: EngineClient | None = None
    starting: asyncio.Future[None] | None = None
    in_flight: int = 0
    last_used: float = 0.0
    starts: int = 0
    evictions: int = 0
    start_seconds: float | None = None
    error: str | None = None

    @property
    def state(self) -> str:
        if self.client is not None:
            return "running"
        if self.starting is not None and not self.starting.done():
            return "starting"
        return "failed" if self.error else "stopped"


class EnginePool:
    """Engines of the local model ids, started on first use and kept within ``memory_budget``.

    Args:
        specs: the served models by id (:func:`workbench.local.models.local_specs`).
        stand_in: the id whose engine answers every frontier model id.
        n_parallel: slots of every engine; ctx_per_slot: context tokens per slot.
        startup_timeout: seconds one engine may take to load.
        memory_budget: bytes of model files the running engines may take together.
        idle_wait: seconds a start waits for a busy engine to become idle when the budget is full.
    """

    def __init__(self, specs: dict[str, ModelSpec], *, stand_in: str, n_parallel: int, ctx_per_slot: int,
                 startup_timeout: float, memory_budget: int, idle_wait: float = 600.0) -> None:
        if stand_in not in specs:
            raise EngineError(f"stand_in: {stand_in!r} is not a served local model ({', '.join(specs)})")
        self._served = {m: _Served(spec, spec.path) for m, spec in specs.items()}
        self.stand_in = stand_in
        self.n_parallel = n_parallel
        self.ctx_per_slot = ctx_per_slot
        self.startup_timeout = startup_timeout
        self.memory_budget = memory_budget
        self.idle_wait = idle_wait
        self._admission = asyncio.Lock()  # one start (and its evictions) at a time
        self._released = asyncio.Event()

    # -- the table -------------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        """The local model ids served, each by its own engine."""
        return list(self._served)

    def name(self, model_id: str) -> str:
        """The readable name of the model that answers ``model_id`` (a served local id)."""
        return self._served[model_id].spec.model_name

    def client(self, model_id: str) -> EngineClient | None:
        """The client of ``model_id``'s engine when it is running (never starts it)."""
        return self._served[model_id].client

    def in_use(self) -> int:
        """Bytes of model files of the running engines."""
        return sum(self._need(s) for s in self._served.values() if s.client is not None)

    # -- starting and stopping -------------------------------------------------------------------
    def _need(self, served: _Served) -> int:
        if served.spec.file_bytes is not None:
            return served.spec.file_bytes
        return served.path.stat().st_size if served.path is not None else 0

    def _resolve(self, served: _Served) -> None:
        """Find the model's file (blocking: :func:`workbench.assets.model_file` may hash it)."""
        if served.path is None:
            from workbench import assets

            try:
                served.path = assets.model_file(served.spec.model_id)
            except assets.AssetError as exc:
                raise EngineError(str(exc)) from None

    def _boot(self, served: _Served) -> tuple[Engine, float]:
        """Load the model and start its engine (blocking); the engine and the seconds it took."""
        spec = served.spec
        t0 = time.monotonic()
        engine = Engine(served.path, n_parallel=self.n_parallel, ctx_per_slot=self.ctx_per_slot,
                        threads=spec.threads, startup_timeout=self.startup_timeout).start()
        return engine, time.monotonic() - t0

    def _started(self, served: _Served, engine: Engine, seconds: float) -> None:
        assert engine.base_url is not None
        served.engine, served.error = engine, None
        served.client = EngineClient(engine.base_url, model_name=served.spec.model_name)
        served.starts += 1
        served.start_seconds = seconds
        served.last_used = time.monotonic()
        log.info("engine of %s started in %.1f s: %s, %d thread(s), %d slot(s) x %d tokens, %s",
                 served.spec.model_id, seconds, served.path, served.spec.threads, self.n_parallel,
                 self.ctx_per_slot, engine.base_url)

    def _failed(self, served: _Served, exc: Exception) -> str:
        served.error = f"the engine of {served.spec.model_id!r} did not start: {exc}"
        log.error("%s", served.error)
        return served.error

    def start(self, model_id: str) -> None:
        """Start ``model_id``'s engine now, blocking (before serving: the stand-in).

        Raises:
            EngineError: naming the model (its file is missing, the engine failed, or the model alone
                exceeds ``memory_budget``).
        """
        served = self._served[model_id]
        if served.client is not None:
            return
        try:
            self._resolve(served)
            need = self._need(served)
            if self.in_use() + need > self.memory_budget:
                raise EngineError(f"memory_budget: {model_id} needs {need:,} bytes of model file, more than the "
                                  f"{self.memory_budget - self.in_use():,} bytes left of the budget")
            self._started(served, *self._boot(served))
        except EngineError as exc:
            raise EngineError(self._failed(served, exc)) from None

    async def _start(self, served: _Served) -> None:
        async with self._admission:
            if served.client is not None:
                return
            try:
                await asyncio.to_thread(self._resolve, served)
                await self._make_room(served)
                engine, seconds = await asyncio.to_thread(self._boot, served)
            except EngineError as exc:
                raise GatewayError("server", self._failed(served, exc)) from None
            except GatewayError as exc:
                self._failed(served, exc)
                raise
            self._started(served, engine, seconds)

    async def _make_room(self, served: _Served) -> None:
        """Stop least recently used idle engines until ``served`` fits the budget (waiting for busy ones)."""
        need, model = self._need(served), served.spec.model_id
        if need > self.memory_budget:
            raise GatewayError("server", f"memory_budget: {model} needs {need:,} bytes of model file, more than "
                                         f"the local provider's budget of {self.memory_budget:,} bytes")
        deadline = time.monotonic() + self.idle_wait
        while self.in_use() + need > self.memory_budget:
            running = [s for s in self._served.values() if s.client is not None]
            idle = [s for s in running if s.in_flight == 0]
            if idle:
                victim = min(idle, key=lambda s: s.last_used)
                log.warning("memory budget: stopping the idle engine of %s (%.0f MiB, last used %.0f s ago) to "
                            "start %s (%.0f MiB): %.0f MiB in use of a %.0f MiB budget", victim.spec.model_id,
                            self._need(victim) / _MIB, time.monotonic() - victim.last_used, model, need / _MIB,
                            self.in_use() / _MIB, self.memory_budget / _MIB)
                victim.evictions += 1
                await self._stop(victim)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                busy = ", ".join(s.spec.model_id for s in running)
                raise GatewayError("unavailable", f"memory_budget: starting {model} ({need:,} bytes) needs a busy "
                                                  f"engine ({busy}) to stop, and none became idle within "
                                                  f"{self.idle_wait:g} s")
            self._released.clear()
            try:
                await asyncio.wait_for(self._released.wait(), remaining)
            except TimeoutError:
                pass

    async def _stop(self, served: _Served) -> None:
        engine, client = served.engine, served.client
        served.engine = served.client = None
        if engine is not None:
            await asyncio.to_thread(engine.stop)
        if client is not None:
            await client.close()

    def stop(self) -> None:
        """Stop every engine (blocking; at shutdown, after the gateway closed its clients)."""
        for served in self._served.values():
            engine, served.engine, served.client = served.engine, None, None
            if engine is not None:
                engine.stop()

    # -- serving ---------------------------------------------------------------------------------
    async def acquire(self, model_id: str) -> EngineClient:
        """The running engine of ``model_id`` (started if needed), counted busy until :meth:`release`.

        Raises:
            GatewayError: the engine cannot start (the message names the model and the reason).
        """
        served = self._served[model_id]
        while served.client is None:
            if served.starting is None or served.starting.done():
                served.starting = asyncio.ensure_future(self._start(served))
            await asyncio.shield(served.starting)
        served.in_flight += 1
        served.last_used = time.monotonic()
        return served.client

    def release(self, model_id: str) -> None:
        """A request on ``model_id``'s engine is done."""
        served = self._served[model_id]
        served.in_flight -= 1
        served.last_used = time.monotonic()
        self._released.set()

    async def healthy(self) -> bool:
        """True when every running engine answers its health check."""
        return all([await s.client.healthy() for s in self._served.values() if s.client is not None])

    def facts(self, model_id: str) -> dict[str, Any]:
        """One engine's facts: file, sha256 (the catalog's), settings, state and start time."""
        s, now = self._served[model_id], time.monotonic()
        return {"model_id": model_id, "model_name": s.spec.model_name, "stand_in": model_id == self.stand_in,
                "model_path": str(s.path) if s.path else None, "file_bytes": s.spec.file_bytes,
                "sha256": s.spec.sha256, "threads": s.spec.threads, "n_parallel": self.n_parallel,
                "ctx_per_slot": self.ctx_per_slot, "running": s.client is not None, "state": s.state,
                "url": s.client.url if s.client else None, "in_flight": s.in_flight, "starts": s.starts,
                "evictions": s.evictions, "start_seconds": s.start_seconds,
                "idle_seconds": now - s.last_used if s.client and not s.in_flight else None, "error": s.error}

    async def describe(self) -> dict[str, dict[str, Any]]:
        """Every engine by model id, running or not (:meth:`facts`)."""
        return {m: self.facts(m) for m in self._served}

    async def close(self) -> None:
        """Close the gateway's connections to every engine."""
        for served in self._served.values():
            if served.client is not None:
                await served.client.close()
