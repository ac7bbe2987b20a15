"""Keeping API keys out of the report: kernel environment scrubbing, secret parameters, scanning build files.

A secret is an environment variable whose name looks like one (``*_API_KEY``, ``*TOKEN*``, ``*SECRET*``,
...) and whose value is long enough to search for. With backend ``local`` a kernel starts with every
secret removed from its environment; with ``live`` it keeps only the provider keys the clients read
(:data:`LIVE_KEYS`). A notebook parameter that looks like a secret is refused, and every file the report
writes is scanned for the secrets' values: a hit is redacted (a binary file is deleted).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import SecretLeakError, UnknownParameterError

__all__ = [
    "LIVE_KEYS",
    "REDACTED",
    "SECRET_PARAM",
    "check_build_files",
    "check_not_secret",
    "kernel_environment",
    "redact",
    "scan_for_secrets",
    "secret_environment",
]

#: Environment variables the live clients read; the only secrets a ``live`` kernel keeps.
LIVE_KEYS: tuple[str, ...] = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
#: Parameter names that look like secrets (``api_key``, ``hf_token``; not ``input_tokens``).
SECRET_PARAM = re.compile(r"api_?key|secret|passw|credential|(^|_)(access_|auth_)?token$", re.IGNORECASE)
#: What a leaked value is replaced with.
REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)
_NOT_SECRET = {"PYTEST_CURRENT_TEST"}


def secret_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables that look like secrets (by name), with values long enough to scan for."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items()
            if _SECRET_NAME.search(k) and k not in _NOT_SECRET and len(v.strip()) >= 8}


def check_not_secret(name: str, value: Any) -> None:
    """Raise :class:`UnknownParameterError` if a notebook parameter looks like a secret, by its name or
    because its value contains the value of a secret environment variable."""
    text = json.dumps(value, default=str)
    if SECRET_PARAM.search(name) or any(s in text for s in secret_environment().values()):
        raise UnknownParameterError(
            f"params: parameter {name!r} looks like a secret; keys are read from the environment by "
            "workbench.clients, never passed as notebook parameters")


@contextlib.contextmanager
def kernel_environment(backend: str) -> Iterator[None]:
    """Remove secrets from ``os.environ`` while kernels start (a ``live`` kernel keeps the provider keys)."""
    keep = set(LIVE_KEYS) if backend == "live" else set()
    removed = {k: os.environ.pop(k) for k in secret_environment() if k not in keep}
    try:
        yield
    finally:
        os.environ.update(removed)


def scan_for_secrets(folder: Path, environ: Mapping[str, str] | None = None) -> dict[Path, list[str]]:
    """Files under ``folder`` (or the file itself) that contain the value of a secret environment variable,
    each with the names of the variables found."""
    secrets = {k: v.encode() for k, v in secret_environment(environ).items()}
    hits: dict[Path, list[str]] = {}
    folder = Path(folder)
    if not secrets or not folder.exists():
        return hits
    for p in [folder] if folder.is_file() else sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            names = [k for k, v in secrets.items() if v in data]
            if names:
                hits[p] = names
    return hits


def check_build_files(products: Iterable[Path | None]) -> None:
    """Scan what a build wrote (folders or files; None is skipped) for secret values: redact every hit
    and raise :class:`SecretLeakError` naming the variables and the files."""
    hits: dict[Path, list[str]] = {}
    for product in products:
        if product is not None:
            hits.update(scan_for_secrets(product))
    if hits:
        leaked = redact(hits)
        raise SecretLeakError(f"the value of {', '.join(sorted(leaked))} reached "
                              f"{', '.join(str(p) for p in hits)} (redacted or removed)")


def redact(files: Iterable[Path]) -> set[str]:
    """Replace secret values in text files (delete binary ones); return the names of leaked variables."""
    secrets = secret_environment()
    leaked: set[str] = set()
    for p in files:
        if not p.is_file():
            continue
        data = p.read_bytes()
        names = [k for k, v in secrets.items() if v.encode() in data]
        if not names:
            continue
        leaked.update(names)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            p.unlink()
            continue
        for k in names:
            text = text.replace(secrets[k], REDACTED)
        p.write_text(text, encoding="utf-8")
    return leaked
