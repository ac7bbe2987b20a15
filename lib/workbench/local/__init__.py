"""The offline local provider: a llama.cpp engine per open model behind a three-protocol gateway.

:class:`LocalProvider` starts ``python -m workbench.local`` in a child process (engines + gateway,
bound to 127.0.0.1), waits for its health check, keeps its log, and stops it on exit. Use it as a
context manager in notebooks and tests, or call :func:`default_provider` for the one shared
per-process instance that :mod:`workbench.clients` uses::

    from workbench.local import LocalProvider
    with LocalProvider() as lp:
        print(lp.base_url, lp.model_name, lp.stand_in, lp.n_parallel, lp.log_path)

Each local model id of the catalog (SmolLM2-135M-Instruct, Qwen2.5-Coder-0.5B/1.5B-Instruct) is
answered by its own engine, started on first use and kept warm within a memory budget
(:mod:`workbench.local.engines`). The frontier ids (GPT, Claude, Gemini) are answered by the
**stand-in**, one of those local models (``stand_in=``, ``$WORKBENCH_STAND_IN``, default
:data:`~workbench.local.models.DEFAULT_STAND_IN`); every response names the model that answered in its
``x-workbench-backend-model`` header. The stand-in reads media as OCR text and transcripts: useful for
exercising the official SDKs, the wire protocols, timing and failure handling offline; not a measure
of what the real multimodal models can do.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Self

from .. import paths
from .admin import Admin, AdminError
from .engine import (
    DEFAULT_CTX_PER_SLOT,
    DEFAULT_PARALLEL,
    MODEL_NAME,
    EngineError,
    check_model_path,
    check_port_free,
    find_model,
)
from .faults import FaultConfig, FaultSettingError, parse_faults
from .models import (
    DEFAULT_STAND_IN,
    STAND_IN_ENV,
    display_name,
    file_spec,
    stand_in_setting,
)
from .models import memory_budget as _memory_budget

__all__ = [
    "DEFAULT_STAND_IN",
    "LOG_DIR",
    "MODEL_NAME",
    "STAND_IN_ENV",
    "EngineError",
    "FaultConfig",
    "FaultSettingError",
    "LocalProvider",
    "default_provider",
    "find_model",
    "stand_in_name",
]

#: Where provider logs are kept (git-ignored build folder).
LOG_DIR: Path = paths.BUILD / "local-provider"
#: How many provider logs are kept in a log folder (the oldest are removed at start).
KEEP_LOGS = 30


def _prune_logs(folder: Path, keep: int) -> None:
    logs = sorted(folder.glob("provider-*.log"), key=lambda p: p.stat().st_mtime)
    for old in logs[: max(0, len(logs) - keep + 1)]:
        old.unlink(missing_ok=True)


class LocalProvider:
    """The local provider (engines + gateway) in its own process on 127.0.0.1.

    Args:
        port: gateway port; 0 (default) picks a free one.
        n_parallel: slots of every engine (requests decoded concurrently).
        ctx_per_slot: context tokens per slot.
        threads: CPU threads of every engine (None: each model's measured ``local_threads`` from the
            catalog; with ``model_path``, half the cores, see ``engine.DEFAULT_THREADS``).
        model_path: a GGUF file served as the engine of its catalog id and as the stand-in, exactly as
            the single-engine provider did (None: every local model from the catalog's files).
        stand_in: the local model id answering the frontier ids (None: ``$WORKBENCH_STAND_IN``, else
            :data:`~workbench.local.models.DEFAULT_STAND_IN`); not with ``model_path``.
        memory_budget: bytes of model files kept loaded at once (an int or e.g. ``"4GiB"``; None: 4 GiB).
        faults: initial fault settings (a :class:`FaultConfig` or a dict of its fields).
        startup_timeout: seconds allowed for start-up (the stand-in's load + health check).
        log_dir: folder for the provider log (default ``build/local-provider``).

    Attributes (after :meth:`start`): ``base_url`` (``http://127.0.0.1:PORT``), ``port``, ``pid``,
    ``stand_in`` (its model id), ``model_path``, ``model_name`` and ``threads`` (of the stand-in),
    ``n_parallel``, ``memory_budget``, ``log_path``, ``engine_url`` (the stand-in's engine).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        n_parallel: int = DEFAULT_PARALLEL,
        ctx_per_slot: int = DEFAULT_CTX_PER_SLOT,
        threads: int | None = None,
        model_path: str | Path | None = None,
        stand_in: str | None = None,
        memory_budget: int | str | None = None,
        faults: FaultConfig | dict[str, Any] | None = None,
        startup_timeout: float = 120.0,
        log_dir: str | Path | None = None,
    ) -> None:
        check_port_free(port)
        if not isinstance(n_parallel, int) or n_parallel < 1:
            raise EngineError(f"n_parallel: {n_parallel!r} must be a positive integer")
        if startup_timeout <= 0:
            raise EngineError(f"startup_timeout: {startup_timeout!r} must be positive")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise EngineError(f"threads: {threads!r} must be a positive integer or None")
        self.memory_budget = _memory_budget(memory_budget)
        self._given_path = model_path is not None
        self._given_threads = threads
        if model_path is not None:
            self.model_path: Path | None = check_model_path(model_path)
            spec = file_spec(self.model_path, threads)
            if stand_in is not None and stand_in != spec.model_id:
                raise EngineError(f"stand_in: model_path {self.model_path.name} is the stand-in ({spec.model_id}); "
                                  f"leave stand_in out or give {spec.model_id!r}")
            self.stand_in, self.model_name = spec.model_id, spec.model_name
        else:
            self.model_path = None  # found by the provider (the catalog's file of the stand-in)
            self.stand_in = stand_in_setting(stand_in)
            self.model_name = display_name(self.stand_in)
        self._faults = parse_faults(faults)
        self.requested_port = port
        self.n_parallel = n_parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads: int | None = threads
        self.startup_timeout = float(startup_timeout)
        self.log_dir = Path(log_dir) if log_dir is not None else LOG_DIR
        self.base_url: str | None = None
        self.engine_url: str | None = None
        self.port: int | None = None
        self.pid: int | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------
    def _command(self, ready_file: str) -> list[str]:
        f = self._faults
        cmd = [sys.executable, "-m", "workbench.local", "--port", str(self.requested_port),
               "--parallel", str(self.n_parallel), "--ctx-per-slot", str(self.ctx_per_slot),
               *(["--model", str(self.model_path)] if self._given_path else ["--stand-in", self.stand_in]),
               "--memory-budget", str(self.memory_budget), "--startup-timeout", str(self.startup_timeout),
               "--fault-429", str(f.rate_429), "--fault-500", str(f.rate_500),
               "--fault-timeout", str(f.rate_timeout), "--fault-cut", str(f.rate_cut),
               "--first-token-delay", str(f.first_token_delay), "--timeout-seconds", str(f.timeout_seconds),
               "--fault-seed", str(f.seed), "--ready-file", ready_file, "--parent-pid", str(os.getpid())]
        return [*cmd, "--threads", str(self._given_threads)] if self._given_threads else cmd

    def start(self) -> LocalProvider:
        """Start the provider process and wait until it answers its health check; return self.

        Raises:
            EngineError: the port is busy, the model file or engine is missing, the process exited
                (the message quotes its reason and the log path) or start-up took too long.
        """
        with self._lock:
            if self.running:
                return self
            check_port_free(self.requested_port)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            _prune_logs(self.log_dir, keep=KEEP_LOGS)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.log_path = self.log_dir / f"provider-{stamp}-{os.getpid()}-{id(self) % 10000:04d}.log"
            ready = Path(tempfile.mkdtemp(prefix="workbench-local-")) / "ready.json"
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            with self.log_path.open("wb") as log:
                self._proc = subprocess.Popen(self._command(str(ready)), stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            atexit.register(self.stop)
            try:
                info = self._wait_ready(ready)
            except BaseException:
                self._terminate()
                raise
            finally:
                shutil.rmtree(ready.parent, ignore_errors=True)
            self.base_url = info["base_url"]
            self.engine_url = info["engine_url"]
            self.model_path = Path(info["model_path"])
            self.model_name = info["model_name"]
            self.threads = info["threads"]
            self.port = int(self.base_url.rsplit(":", 1)[1])
            self.pid = self._proc.pid
            return self

    def _wait_ready(self, ready: Path) -> dict[str, Any]:
        deadline = time.monotonic() + self.startup_timeout
        info: dict[str, Any] | None = None
        assert self._proc is not None
        while time.monotonic() < deadline:
            if ready.exists() and info is None:
                info = json.loads(ready.read_text())
                if "error" in info:
                    self._proc.wait(10)
                    raise EngineError(f"{info['error']} (provider log: {self.log_path})")
            if self._proc.poll() is not None:
                raise EngineError(f"the local provider exited with code {self._proc.returncode} during start-up:\n"
                                  f"{self.log_tail(15)}\n(full log: {self.log_path})")
            if info is not None and Admin(info["base_url"]).healthy():
                return info
            time.sleep(0.1)
        raise EngineError(f"startup_timeout: the local provider was not healthy within {self.startup_timeout:g} s "
                          f"(log: {self.log_path}):\n{self.log_tail(10)}")

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop(self) -> None:
        """Stop the provider process (idempotent); the log file stays."""
        with self._lock:
            self._terminate()
            self.base_url = self.engine_url = None
            self.port = self.pid = None
        atexit.unregister(self.stop)

    @property
    def running(self) -> bool:
        """True while the provider process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- information and control (through the admin API's one client) -----------------------------
    @property
    def admin(self) -> Admin:
        """The admin-API client of this running provider (:class:`~workbench.local.admin.Admin`).

        Raises:
            EngineError: the provider is not running.
        """
        if not self.running or self.base_url is None:
            raise EngineError("the local provider is not running; call start() first")
        return Admin(self.base_url)

    def info(self) -> dict[str, Any]:
        """Gateway information: the stand-in engine's ``props`` and ``slots``, every engine (``engines``),
        fault settings, defaults, known models."""
        return self.admin.info()

    def engines(self) -> dict[str, dict[str, Any]]:
        """Every local model's engine by model id: file, sha256, threads, slots, context, state, start time."""
        return self.info()["engines"]

    def props(self) -> dict[str, Any]:
        """The stand-in engine's ``/props`` (model path, context, chat template, default sampling settings)."""
        return self.info()["props"]

    def slots(self) -> list[dict[str, Any]]:
        """The stand-in engine's ``/slots`` (one entry per parallel slot)."""
        return self.info()["slots"]

    def stats(self) -> dict[str, Any]:
        """A short summary: the stand-in's model and slots busy/total, context per slot, the engines
        running, fault counts, uptime."""
        info = self.info()
        slots = info["slots"] or []
        return {"model": info["model"], "n_parallel": len(slots),
                "slots_busy": sum(bool(s.get("is_processing")) for s in slots),
                "ctx_per_slot": slots[0]["n_ctx"] if slots else None,
                "engines_running": [m for m, e in info["engines"].items() if e["running"]],
                "fault_counts": info["faults"]["counts"], "uptime_s": round(info["uptime_s"], 1)}

    def faults(self) -> dict[str, Any]:
        """Current fault settings and counts of injected faults."""
        return self.admin.faults()

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change fault settings (see :class:`FaultConfig`); the draw sequence restarts from ``seed``.

        Raises:
            FaultSettingError: a setting is unknown or out of range (the message names it).
        """
        return self.admin.set_faults(**settings)

    def clear_faults(self) -> dict[str, Any]:
        """Turn every fault and delay off."""
        return self.admin.clear_faults()

    def prompt(self, body: dict[str, Any], api: str = "openai-chat") -> dict[str, Any]:
        """What the local model reads for a request: ``{"prompt": text, "input_tokens": n, "answered_by": name}``.

        ``body`` is a request body of ``api`` (``openai-chat``, ``openai-responses``, ``anthropic``
        or ``gemini``; for Gemini include ``"model"``). Media parts appear as the marked text the
        gateway made of them (``[image 1: ...]``).

        Raises:
            ValueError: the body is malformed (the message names the field).
        """
        return self.admin.prompt(body, api)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the provider log."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("r", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"LocalProvider(stand_in={self.stand_in!r}, n_parallel={self.n_parallel}, {where})"


_default: LocalProvider | None = None
_default_lock = threading.Lock()


def default_provider() -> LocalProvider:
    """The process-wide provider, started on first use and stopped at exit (shared by clients and tests)."""
    global _default
    with _default_lock:
        if _default is None or not _default.running:
            _default = LocalProvider().start()
        return _default


def stand_in_name(base_url: str | None = None) -> str:
    """The readable name of the model that answers the frontier ids on the local backend.

    Asked of the provider at ``base_url`` when one answers there, else of this process's running
    provider; with neither, the configured stand-in (``$WORKBENCH_STAND_IN`` or the default). Never
    starts a provider.
    """
    if base_url:
        try:
            return str(Admin(base_url).info()["model"])
        except (AdminError, KeyError):
            pass
    provider = _default
    if provider is not None and provider.running:
        return provider.model_name
    return display_name(stand_in_setting())
