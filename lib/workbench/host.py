"""This machine, and the measurement runs made on it.

The open-weight path is measured here rather than quoted (:mod:`workbench.bandwidth`,
:mod:`workbench.engine_speed`, :mod:`workbench.gguf_facts`). Every measurement row carries a :class:`Run`
stamp (run id, model, UTC time) and the run names the host (CPU model and usable cores). The machine's own
facts - cores this process may use, physical memory - are read here too. :class:`MeasurementError` is
the error of a measurement that cannot be made or read (a bad model file, an engine answer without
timings); a bad parameter raises :class:`workbench.params.ParameterError` instead.
"""
from __future__ import annotations

import os
import platform
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .params import ParameterError

__all__ = ["MeasurementError", "Run", "new_run", "total_memory_bytes", "usable_cores"]


class MeasurementError(ValueError):
    """A measurement cannot be made or read: the message says what (the file, the engine's answer)."""


@dataclass(frozen=True)
class Run:
    """Who measured what, when and where: stamped into every row of a measurement."""

    run_id: str
    model: str
    measured_at: str          #: UTC time, ISO 8601 to the second
    host: str                 #: CPU model and number of usable cores

    def stamp(self) -> dict[str, str]:
        """The columns every measurement row carries (``run_id``, ``model``, ``measured_at``)."""
        return {"run_id": self.run_id, "model": self.model, "measured_at": self.measured_at}

    def as_frame(self) -> pd.DataFrame:
        """The run as a one-row table (for display)."""
        return pd.DataFrame([asdict(self)])


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def total_memory_bytes() -> int:
    """Physical memory of this machine, in bytes."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def new_run(model: str, *, prefix: str = "selfhost") -> Run:
    """A new :class:`Run` for ``model``: id ``PREFIX-YYYYmmdd-HHMMSS-xxxx`` stamped now (UTC)."""
    if not isinstance(model, str) or not model.strip():
        raise ParameterError("model", "the name of the model measured", model)
    now = datetime.now(UTC).replace(microsecond=0)
    return Run(run_id=f"{prefix}-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}", model=model,
               measured_at=now.isoformat(), host=f"{_cpu_name()}, {usable_cores()} cores")
