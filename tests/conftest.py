"""Shared fixtures: ONE local provider (engine + gateway) for the whole test run.

``local_provider`` starts it on first use and stops it when the session ends. It is the same
instance :mod:`workbench.clients` uses for ``backend="local"`` in this process, and it exports
``WORKBENCH_LOCAL_URL`` so that child processes (notebook kernels run by papermill, subprocesses)
reuse it instead of starting their own.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from workbench.local import LocalProvider, default_provider


@pytest.fixture(scope="session")
def local_provider() -> Iterator[LocalProvider]:
    """The running local provider: ``.base_url`` (``http://127.0.0.1:PORT``), ``.model_name``, ..."""
    provider = default_provider()
    previous = os.environ.get("WORKBENCH_LOCAL_URL")
    os.environ["WORKBENCH_LOCAL_URL"] = provider.base_url or ""
    try:
        yield provider
    finally:
        if previous is None:
            os.environ.pop("WORKBENCH_LOCAL_URL", None)
        else:
            os.environ["WORKBENCH_LOCAL_URL"] = previous
        provider.stop()
