"""The report build's errors and its progress line: the bottom layer every other report module uses.

Every failure of a build is a :class:`ReportError` whose message names the notebook, the parameter or the
file; the subclasses say which kind, so a caller can tell a bad request from a failing chapter or a leak.
"""
from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["NotebookExecutionError", "ReportError", "SecretLeakError", "UnknownParameterError", "say"]


class ReportError(RuntimeError):
    """The report could not be built; the message says which notebook, parameter or file."""


class UnknownParameterError(ReportError, ValueError):
    """A parameter that no selected notebook declares, a bad backend, ``only`` or ``cell_timeout`` value,
    or a secret."""


class NotebookExecutionError(ReportError):
    """A notebook failed; names the notebook and the cell, and where the partial executed copy is."""

    def __init__(self, notebook: str, cell: int, message: str, executed: Path) -> None:
        self.notebook = notebook
        self.cell = cell
        self.executed = executed
        super().__init__(message)


class SecretLeakError(ReportError):
    """The value of a secret environment variable was found in a build file (it has been redacted)."""


def say(message: str) -> None:
    """Progress line on stderr (stdout stays free for the final summary)."""
    print(message, file=sys.stderr, flush=True)
