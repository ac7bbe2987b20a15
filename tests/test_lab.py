"""`make lab` from a fresh clone: the Jupyter server started the way `make lab` starts it runs a chapter.

The test runs the Makefile's own ``lab`` recipe (``make -o env lab``: the environment step is what ``make
test`` has just done; the recipe installs the project's kernel with ``ipykernel install --user`` and starts
``jupyter lab`` on ``notebooks/``), with Jupyter's data, config and runtime folders in a temporary folder so
the kernel it installs lands there, not in the user's home. ``LAB_ARGS`` adds what a test needs: no browser,
loopback only, a free port, a token. Through the server's REST API it finds the project's kernel
(``/api/kernelspecs``: "Python (workbench)", running this environment's Python), starts it, executes every
code cell of chapter 06 through the kernel's websocket channels, as JupyterLab's "Run all" does, and checks
the outputs: no error, the chapter's tables and its named figures. The server is shut down at the end (its
process group is ended if it does not stop). About 40 s on a quiet machine: marked slow.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from websockets.sync.client import connect

from workbench import paths

pytestmark = pytest.mark.slow

CHAPTER = paths.NOTEBOOKS / "06_published_benchmarks.ipynb"
KERNEL_DISPLAY_NAME = "Python (workbench)"
START_TIMEOUT_S = 120
CELL_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The running server: its base URL and token, and a REST helper."""

    def __init__(self, base: str, token: str, data_dir: Path) -> None:
        self.base, self.token, self.data_dir = base, token, data_dir
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"token {token}"}, timeout=30,
                                 trust_env=False)

    def get(self, path: str) -> dict:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("jupyter")
    env = {**os.environ, "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "NO_PROXY": "127.0.0.1,localhost"}
    port, token = _free_port(), secrets.token_hex(16)
    lab_args = ("--allow-root " if os.geteuid() == 0 else "") + (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token}")
    log = home / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["make", "--no-print-directory", "-o", "env", "lab", f"LAB_ARGS={lab_args}"],
                                cwd=paths.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", token, home / "data")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                server.get("/api/status")
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not answer in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        try:
            server.http.post("/api/shutdown")
            proc.wait(timeout=30)
        except (httpx.HTTPError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        server.http.close()


def _message(code: str, session: str) -> dict:
    """An ``execute_request`` on the shell channel (Jupyter messaging protocol 5.3, JSON websocket)."""
    return {"header": {"msg_id": uuid.uuid4().hex, "username": "test", "session": session,
                       "msg_type": "execute_request", "version": "5.3", "date": dt.datetime.now(dt.UTC).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}


def _execute(ws, code: str, session: str) -> tuple[dict, list[dict]]:
    """Run ``code``; return the execute_reply content and the iopub outputs it produced."""
    request = _message(code, session)
    ws.send(json.dumps(request))
    reply, outputs, idle = None, [], False
    deadline = time.monotonic() + CELL_TIMEOUT_S
    while reply is None or not idle:
        msg = json.loads(ws.recv(timeout=max(1.0, deadline - time.monotonic())))
        if msg.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
            continue
        kind = msg["header"]["msg_type"]
        if msg["channel"] == "shell" and kind == "execute_reply":
            reply = msg["content"]
        elif kind in ("stream", "display_data", "execute_result", "error"):
            outputs.append({"type": kind, **msg["content"]})
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
    return reply, outputs


def test_project_kernel_is_found_through_the_server(lab_server):
    specs = lab_server.get("/api/kernelspecs")["kernelspecs"]
    ours = [s for s in specs.values() if s["spec"]["display_name"] == KERNEL_DISPLAY_NAME]
    assert len(ours) == 1, sorted(s["spec"]["display_name"] for s in specs.values())
    argv0 = Path(ours[0]["spec"]["argv"][0])
    assert argv0.parent.resolve() == Path(sys.executable).parent.resolve()  # this environment's Python
    assert (lab_server.data_dir / "kernels" / ours[0]["name"] / "kernel.json").is_file()  # make lab installed it
    assert lab_server.get("/api/contents")["path"] == ""  # the server's root is notebooks/
    assert CHAPTER.name in {c["name"] for c in lab_server.get("/api/contents")["content"]}


def test_a_chapter_runs_through_the_project_kernel(lab_server):
    specs = lab_server.get("/api/kernelspecs")["kernelspecs"]
    name = next(n for n, s in specs.items() if s["spec"]["display_name"] == KERNEL_DISPLAY_NAME)
    kernel = lab_server.http.post("/api/kernels", json={"name": name, "path": ""}).raise_for_status().json()
    try:
        url = f"ws://127.0.0.1:{lab_server.base.rsplit(':', 1)[1]}/api/kernels/{kernel['id']}/channels"
        nb = nbformat.read(CHAPTER, as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code"]
        session = uuid.uuid4().hex
        outputs: list[dict] = []
        with connect(url, additional_headers={"Authorization": f"token {lab_server.token}"},
                     max_size=2**26, open_timeout=30, proxy=None) as ws:
            cwd, _ = _execute(ws, "import os; print(os.getcwd())", session)
            for i, cell in enumerate(cells):
                reply, produced = _execute(ws, cell.source, session)
                errors = [o for o in produced if o["type"] == "error"]
                assert reply["status"] == "ok" and not errors, f"code cell {i + 1}: {errors or reply}"
                outputs += produced
            _, where = _execute(ws, "import os; print(os.getcwd())", session)
        assert cwd["status"] == "ok" and where[0]["text"].strip() == str(paths.NOTEBOOKS)  # as in JupyterLab
        assert len(cells) >= 5
        html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
        assert any("<table" in h for h in html), "the chapter showed no table"
        figures = [o["metadata"]["workbench"]["figure"] for o in outputs
                   if "image/png" in o.get("data", {}) and "workbench" in o.get("metadata", {})]
        assert figures and all(f.startswith("06_") for f in figures)  # plots.save named them for the article
        assert kernel["name"] == name
    finally:
        lab_server.http.delete(f"/api/kernels/{kernel['id']}")
