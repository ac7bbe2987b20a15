"""workbench.host: the run stamp of every measurement, and this machine's facts."""
from __future__ import annotations

import re

import pytest
from workbench import host
from workbench.params import ParameterError


def test_run_stamp() -> None:
    run = host.new_run("some model")
    assert re.fullmatch(r"selfhost-\d{8}-\d{6}-[0-9a-f]{4}", run.run_id)
    assert run.stamp() == {"run_id": run.run_id, "model": "some model", "measured_at": run.measured_at}
    assert run.measured_at.endswith("+00:00") and "cores" in run.host
    assert host.new_run("m").run_id != host.new_run("m").run_id
    with pytest.raises(ParameterError, match="model"):
        host.new_run("  ")


def test_machine_facts() -> None:
    assert host.usable_cores() >= 1
    assert host.total_memory_bytes() > 2**28  # more than 256 MB
