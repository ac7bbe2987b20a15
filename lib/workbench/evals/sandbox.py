"""Run untrusted, model-written Python in a separate, locked-down process.

Generated code never runs in the caller's process.  :func:`run_python` writes the program into a fresh
temporary directory and starts a new Python interpreter (isolated mode ``-I``, no ``site``) through a
small bootstrap that, before executing the program:

1. sets resource limits: address space (``memory_mb``), CPU seconds, file size, open files, no core;
2. cuts the network: a new, empty network namespace (``unshare(CLONE_NEWNET)``: no interface but a
   downed loopback) when the kernel allows it (root, or unprivileged user namespaces);
3. drops root privileges to ``nobody`` when started as root and ``nobody`` can read the Python
   standard library (not so when Python lives under ``/root``; ``isolation["user"]`` says which);
4. installs a Python audit hook (which Python code cannot remove) that refuses sockets, new
   processes (``subprocess``, ``os.system``, ``fork``, ``exec``), ``ctypes`` and any file write,
   rename or removal outside the temporary directory.

The parent enforces a wall-clock timeout and kills the whole process group when it expires.  The
environment is emptied (no API keys reach the child).  Standard output and error go to files capped
by the file-size limit, so a program printing forever cannot exhaust the parent's memory.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STATUSES", "SandboxResult", "run_python"]

#: Possible values of :attr:`SandboxResult.status`.
STATUSES = ("passed", "failed", "timeout", "memory", "error")

_MARKER = "__workbench_sandbox__ "

_BOOTSTRAP = r'''
import ctypes, json, os, resource, sys

def main():
    program, workdir, memory_bytes, cpu_seconds, fsize, use_hook = (
        sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
        sys.argv[6] == "1")
    info = {"net_namespace": False, "user": os.getuid(), "audit_hook": False, "rlimits": False}
    # 1. the network: a new empty network namespace
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
    if libc.unshare(CLONE_NEWNET) == 0:
        info["net_namespace"] = True
    elif libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        info["net_namespace"] = True
    # 2. privileges: root -> nobody, if 'nobody' can still read the standard library
    def world_readable(path):
        path = os.path.realpath(path)
        parts = path.split(os.sep)
        for i in range(2, len(parts) + 1):
            mode = os.stat(os.sep.join(parts[:i]) or os.sep).st_mode
            if not mode & 0o001:
                return False
        return bool(os.stat(path).st_mode & 0o004)
    stdlib = os.path.dirname(os.__file__)
    if os.getuid() == 0 and world_readable(stdlib) and world_readable(os.path.dirname(program)):
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        except OSError:
            pass
    info["user"] = os.getuid()
    # 3. resource limits
    limits = [(resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_CPU, cpu_seconds),
              (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 64)]
    for which, value in limits:
        resource.setrlimit(which, (value, value))
    info["rlimits"] = True
    # 4. the audit hook
    root = os.path.realpath(workdir)
    blocked_prefixes = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn",
                        "os.spawn", "os.fork", "os.forkpty", "pty.", "ctypes.", "os.kill",
                        "os.killpg", "signal.pthread_kill", "urllib.Request", "http.client.",
                        "ftplib.", "smtplib.", "imaplib.", "poplib.", "telnetlib.", "webbrowser.")
    path_events = {"os.remove", "os.rmdir", "os.rename", "os.chmod", "os.chown", "os.truncate",
                   "os.link", "os.symlink", "shutil.rmtree", "shutil.move", "os.mkdir",
                   "os.utime", "os.chdir"}

    def inside(path):
        try:
            p = os.fsdecode(path) if not isinstance(path, int) else None
        except TypeError:
            return False
        if p is None:
            return True
        return os.path.realpath(os.path.join(root, p)).startswith(root)

    def hook(event, args):
        if event.startswith(blocked_prefixes):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open" and args:
            path, mode, flags = (list(args) + [None, None, 0])[:3]
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
            if writing and path is not None and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} is not allowed")
        elif event in path_events and args:
            for a in args[:2]:
                if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                    raise PermissionError(f"sandbox: {event} on {a!r} is not allowed")

    info["audit_hook"] = use_hook
    sys.stderr.write("''' + _MARKER + r'''" + json.dumps(info) + "\n")
    sys.stderr.flush()
    with open(program, "r", encoding="utf-8") as fh:
        source = fh.read()
    code = compile(source, program, "exec")
    del libc
    if use_hook:
        sys.addaudithook(hook)
    globs = {"__name__": "__main__", "__file__": program, "__builtins__": __builtins__}
    exec(code, globs)

main()
'''


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one sandboxed program.

    Attributes:
        status: ``passed`` (exit 0), ``failed`` (non-zero exit, e.g. a failed assertion),
            ``timeout`` (killed at the wall-clock or CPU limit), ``memory`` (hit the memory limit)
            or ``error`` (the sandbox itself could not start).
        returncode: the process exit code (negative: killed by that signal).
        stdout: the program's standard output (first 64 KiB).
        stderr: its standard error (first 64 KiB), without the sandbox's own report line.
        duration_s: wall-clock seconds.
        isolation: which protections were active (``net_namespace``, ``user``, ``audit_hook``,
            ``rlimits``), as reported by the child.
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    isolation: dict[str, Any] = field(default_factory=dict)


def _check_positive(value: float, param: str) -> float:
    """Raise ValueError naming ``param`` unless ``value`` is a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{param} must be a positive number, got {value!r}")
    return float(value)


def _read_capped(path: Path, limit: int = 65536) -> str:
    """The first ``limit`` bytes of a file, decoded leniently."""
    try:
        with path.open("rb") as fh:
            return fh.read(limit).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def run_python(code: str, *, timeout: float = 10.0, memory_mb: int = 512,
               max_output_mb: int = 4, audit_hook: bool = True) -> SandboxResult:
    """Run ``code`` in a sandboxed Python process and report how it ended.

    Args:
        code: the Python source to run (its ``__name__`` is ``"__main__"``).
        timeout: wall-clock seconds before the process group is killed (CPU limit: the same,
            rounded up, plus one second).
        memory_mb: address-space limit in MiB (the interpreter itself needs ~30 MiB).
        max_output_mb: size limit of every file the program writes, standard output included.
        audit_hook: keep True; False exists only so tests can check the other layers alone.

    Returns:
        A :class:`SandboxResult`.  A failing or runaway program is a result, not an exception.
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    timeout = _check_positive(timeout, "timeout")
    memory_mb = int(_check_positive(memory_mb, "memory_mb"))
    max_output_mb = int(_check_positive(max_output_mb, "max_output_mb"))
    with tempfile.TemporaryDirectory(prefix="wb-sandbox-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o777)  # writable by 'nobody' after the privilege drop
        program = work / "program.py"
        program.write_text(code, encoding="utf-8")
        os.chmod(program, 0o644)
        bootstrap = work / "_bootstrap.py"
        bootstrap.write_text(_BOOTSTRAP, encoding="utf-8")
        out_path, err_path = work / "stdout.txt", work / "stderr.txt"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(work)}
        argv = [sys.executable, "-I", "-S", "-B", str(bootstrap), str(program), str(work),
                str(memory_mb * 1024 * 1024), str(math.ceil(timeout) + 1),
                str(max_output_mb * 1024 * 1024), "1" if audit_hook else "0"]
        start = time.perf_counter()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        cwd=work, env=env, start_new_session=True)
            except OSError as exc:
                return SandboxResult("error", None, "", f"sandbox could not start: {exc}",
                                     time.perf_counter() - start)
            timed_out = False
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                returncode = proc.wait()
        duration = time.perf_counter() - start
        stdout, raw_err = _read_capped(out_path), _read_capped(err_path)
    isolation: dict[str, Any] = {}
    lines = raw_err.splitlines(keepends=True)
    if lines and lines[0].startswith(_MARKER):
        try:
            isolation = json.loads(lines[0][len(_MARKER):])
        except ValueError:
            isolation = {}
        raw_err = "".join(lines[1:])
    if timed_out or returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        status = "timeout"
    elif returncode == 0:
        status = "passed"
    elif "MemoryError" in raw_err or returncode == -signal.SIGSEGV and "memory" in raw_err.lower():
        status = "memory"
    elif not isolation:
        status = "error"
    else:
        status = "failed"
    return SandboxResult(status, returncode, stdout, raw_err, duration, isolation)
