"""Run the local provider (engines + gateway) in the foreground: ``python -m workbench.local --port 8787``.

Serves the OpenAI (``/v1``), Anthropic (``/v1/messages``) and Gemini (``/v1beta``) protocols on
127.0.0.1 until interrupted (Ctrl-C or SIGTERM). Every local model id of the catalog is answered by its
own llama.cpp engine, started on first use (:mod:`workbench.local.engines`); the frontier ids by the
stand-in (``--stand-in``), whose engine starts with the provider. ``--model PATH`` serves that GGUF as
the engine of its catalog id and the stand-in, as the single-engine provider did. ``--help`` lists the
options, including the fault injection settings. :class:`workbench.local.LocalProvider` runs this same
command in a child process.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .engine import (
    DEFAULT_CTX_PER_SLOT,
    DEFAULT_PARALLEL,
    EngineError,
    check_model_path,
    check_port_free,
)
from .faults import FaultInjector, FaultSettingError, parse_faults
from .models import (
    STAND_IN_ENV,
    file_spec,
    local_specs,
    memory_budget,
    stand_in_setting,
)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    ap = argparse.ArgumentParser(
        prog="python -m workbench.local",
        description="Run the offline local provider (a llama.cpp engine per local model behind an "
                    "OpenAI/Anthropic/Gemini gateway) on 127.0.0.1 until interrupted.")
    ap.add_argument("--port", type=int, default=8787, help="gateway port on 127.0.0.1 (0 picks a free one; default 8787)")
    ap.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="engine slots served concurrently")
    ap.add_argument("--ctx-per-slot", type=int, default=DEFAULT_CTX_PER_SLOT, help="context tokens per slot")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads of every engine (default: each model's measured local_threads in "
                         "data/models.csv; with --model, half the cores)")
    ap.add_argument("--stand-in", default=None,
                    help=f"local model id answering the frontier ids (default: ${STAND_IN_ENV}, else "
                         "smollm2-135m-instruct)")
    ap.add_argument("--model", default=None,
                    help="a GGUF file served as the engine of its catalog id and as the stand-in")
    ap.add_argument("--memory-budget", default=None,
                    help="bytes of model files kept loaded at once, e.g. 4GiB (default); beyond it the least "
                         "recently used idle engine is stopped")
    ap.add_argument("--startup-timeout", type=float, default=60.0, help="seconds allowed for a model to load")
    g = ap.add_argument_group("fault injection (off by default; change at run time with PUT /_workbench/faults)")
    g.add_argument("--fault-429", type=float, default=0.0, help="share of requests answered 429")
    g.add_argument("--fault-500", type=float, default=0.0, help="share of requests answered 500")
    g.add_argument("--fault-timeout", type=float, default=0.0, help="share of requests held, then answered 504")
    g.add_argument("--fault-cut", type=float, default=0.0, help="share of responses whose connection is cut")
    g.add_argument("--first-token-delay", type=float, default=0.0, help="seconds added before generation")
    g.add_argument("--timeout-seconds", type=float, default=30.0, help="how long a 'timeout' request is held")
    g.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draw sequence")
    ap.add_argument("--ready-file", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                    help="gateway log level (access log at info)")
    return ap


def _write_ready(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, path)


def _watch_parent(parent_pid: int, server: Any) -> None:
    """Stop serving when the process that started us is gone (no orphaned providers)."""
    while not server.should_exit:
        if os.getppid() != parent_pid:
            server.should_exit = True
            return
        time.sleep(1.0)


def build_pool(args: argparse.Namespace) -> Any:
    """The engine pool of the command line's settings (nothing started yet).

    Raises:
        EngineError: a bad ``--model``, ``--stand-in`` or ``--memory-budget`` (the message names it).
    """
    from .engines import EnginePool

    if args.threads is not None and args.threads < 1:
        raise EngineError(f"threads: {args.threads!r} must be a positive integer")
    specs = local_specs(args.threads)
    if args.model is not None:
        spec = file_spec(check_model_path(args.model), args.threads)
        if args.stand_in is not None and args.stand_in != spec.model_id:
            raise EngineError(f"stand_in: --model {args.model} is the stand-in ({spec.model_id}); "
                              f"leave --stand-in out or give {spec.model_id}")
        specs[spec.model_id] = spec
        stand_in = spec.model_id
    else:
        stand_in = stand_in_setting(args.stand_in)
    return EnginePool(specs, stand_in=stand_in, n_parallel=args.parallel, ctx_per_slot=args.ctx_per_slot,
                      startup_timeout=args.startup_timeout, memory_budget=memory_budget(args.memory_budget))


def serve(args: argparse.Namespace) -> int:
    """Start the stand-in's engine and the gateway and serve until interrupted; return the exit code."""
    import uvicorn

    from .gateway import create_app

    try:
        faults = parse_faults({"rate_429": args.fault_429, "rate_500": args.fault_500, "rate_timeout": args.fault_timeout,
                                   "rate_cut": args.fault_cut, "first_token_delay": args.first_token_delay,
                                   "timeout_seconds": args.timeout_seconds, "seed": args.fault_seed})
    except FaultSettingError as exc:
        msg = str(exc)
        _write_ready(args.ready_file, {"error": msg})
        print(f"error: {msg}", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        check_port_free(args.port)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", args.port))
        except OSError as exc:
            raise EngineError(f"port: 127.0.0.1:{args.port} is already in use ({exc.strerror})") from None
        sock.listen(128)
        pool = build_pool(args)
        pool.start(pool.stand_in)
    except EngineError as exc:
        sock.close()
        _write_ready(args.ready_file, {"error": str(exc)})
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    app = create_app(pool, faults=FaultInjector(faults))
    stand_in = pool.facts(pool.stand_in)
    config = uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=3, lifespan="on")
    server = uvicorn.Server(config)
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, server), daemon=True).start()
    _write_ready(args.ready_file, {"base_url": base, "engine_url": stand_in["url"], "pid": os.getpid(),
                                   "model_path": stand_in["model_path"], "model_name": stand_in["model_name"],
                                   "n_parallel": pool.n_parallel, "stand_in": pool.stand_in,
                                   "threads": stand_in["threads"], "memory_budget": pool.memory_budget})
    others = ", ".join(m for m in pool.ids if m != pool.stand_in)
    print(f"workbench local provider: {stand_in['model_name']} answers the frontier ids on {base}\n"
          f"  OpenAI    base_url={base}/v1\n  Anthropic base_url={base}\n"
          f"  Gemini    base_url={base} (api_version v1beta)\n"
          f"  engine    {stand_in['url']} ({pool.n_parallel} parallel slots, {stand_in['threads']} thread(s))\n"
          f"  on first use: {others or 'no other local model'} (memory budget "
          f"{pool.memory_budget / 2**30:.2f} GiB); Ctrl-C stops", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        pool.stop()
        sock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m workbench.local``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per engine call
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
