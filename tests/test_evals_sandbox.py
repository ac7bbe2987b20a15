"""The sandbox runs model-written code in a separate, limited process: no network, no runaway code."""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest
from workbench.evals.sandbox import run_python


@pytest.fixture()
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.1)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1], accepted
    stop.set()
    thread.join(2)
    srv.close()


def test_passing_and_failing_programs() -> None:
    ok = run_python("import math\nprint(math.factorial(5))")
    assert ok.status == "passed" and ok.stdout.strip() == "120" and ok.returncode == 0
    assert ok.isolation["audit_hook"] and ok.isolation["rlimits"]
    bad = run_python("assert 1 + 1 == 3")
    assert bad.status == "failed" and "AssertionError" in bad.stderr


def test_runs_in_another_process_with_a_clean_environment() -> None:
    os.environ["WORKBENCH_TEST_SECRET"] = "do-not-leak"
    try:
        res = run_python("import os\nprint(os.getpid())\nprint(os.environ.get('WORKBENCH_TEST_SECRET'))\n"
                         "print(os.getcwd())")
    finally:
        del os.environ["WORKBENCH_TEST_SECRET"]
    pid, secret, cwd = res.stdout.split()
    assert int(pid) != os.getpid()
    assert secret == "None"
    assert "wb-sandbox-" in cwd


def test_refuses_network(listener: tuple[int, list[object]]) -> None:
    port, accepted = listener
    for code in (f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)",
                 f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)"):
        res = run_python(code, timeout=10)
        assert res.status == "failed", res
        assert "not allowed" in res.stderr
    assert accepted == []


def test_network_namespace_alone_blocks_connections(listener: tuple[int, list[object]]) -> None:
    port, accepted = listener
    res = run_python(f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)",
                     audit_hook=False, timeout=10)
    if not res.isolation.get("net_namespace"):
        pytest.skip("this kernel allows no network namespace here; the audit hook alone blocks sockets")
    assert res.status == "failed"
    assert "unreachable" in res.stderr.lower() or "refused" in res.stderr.lower()
    assert accepted == []


def test_stops_infinite_loops() -> None:
    res = run_python("while True:\n    pass", timeout=1.5)
    assert res.status == "timeout"
    assert res.duration_s < 5
    res = run_python("import time\ntime.sleep(60)", timeout=1.0)
    assert res.status == "timeout" and res.duration_s < 4


def test_stops_memory_bombs() -> None:
    res = run_python("x = bytearray(8 * 1024**3)", memory_mb=256)
    assert res.status == "memory"
    res = run_python("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024**2))", memory_mb=256,
                     timeout=20)
    assert res.status == "memory"


def test_refuses_processes_and_writes_outside(tmp_path) -> None:
    target = tmp_path / "evil.txt"
    res = run_python(f"open({str(target)!r}, 'w').write('x')")
    assert res.status == "failed" and not target.exists()
    res = run_python("import subprocess\nsubprocess.run(['true'])")
    assert res.status == "failed" and "not allowed" in res.stderr
    res = run_python("import os\nos.system('true')")
    assert res.status == "failed"
    ok = run_python("open('scratch.txt', 'w').write('fine')\nprint(open('scratch.txt').read())")
    assert ok.status == "passed" and ok.stdout.strip() == "fine"


def test_output_flood_is_capped() -> None:
    res = run_python("while True:\n    print('x' * 10000)", timeout=10, max_output_mb=1)
    assert res.status in ("failed", "timeout")
    assert len(res.stdout) <= 65536


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="timeout"):
        run_python("pass", timeout=0)
    with pytest.raises(ValueError, match="memory_mb"):
        run_python("pass", memory_mb=-1)
    with pytest.raises(TypeError, match="code"):
        run_python(b"pass")  # type: ignore[arg-type]
