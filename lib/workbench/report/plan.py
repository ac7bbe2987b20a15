"""The build plan: which chapter notebooks a build runs and which parameters each one gets.

Chapters are ``notebooks/[0-9][0-9]_*.ipynb`` in file-name order; ``only`` keeps some by number or name.
A notebook's parameters are the assignments in its cell tagged ``parameters`` (read with Python's own
parser). ``backend`` and every requested parameter go only to the notebooks that declare them; a
parameter no selected notebook declares, a bad backend or selection, or a secret is one
:class:`UnknownParameterError` naming it. Values from the command line take the type of each notebook's
default (:func:`coerce`).
"""
from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from .. import clients, paths
from .. import params as checks
from .errors import ReportError, UnknownParameterError
from .secrets import check_not_secret

__all__ = [
    "BACKENDS",
    "NOTEBOOK_GLOB",
    "check_backend",
    "coerce",
    "declared_parameters",
    "find_notebooks",
    "parameters_for",
    "selection",
]

#: Chapter notebooks: two digits, an underscore, a name.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
#: Backends a report can be built with.
BACKENDS: tuple[str, ...] = tuple(clients.BACKENDS)


def check_backend(value: str, param: str = "backend") -> str:
    """Return ``value`` if it is a known backend, else raise :class:`UnknownParameterError`."""
    try:
        return clients.check_backend(value, param)
    except ValueError as err:
        raise UnknownParameterError(str(err)) from None


def selection(only: str | int | Iterable[str | int]) -> list[str]:
    """The entries of an ``only`` value: a comma-separated string (``"01,06"``) or a list of numbers or
    names, stripped, empty entries dropped. Anything else is an :class:`UnknownParameterError`."""
    value = checks.as_list(only)
    if isinstance(value, str):
        value = value.split(",")
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict)):
        value = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    try:
        entries = checks.names(value, "only", allow_empty=True)
    except checks.ParameterError as err:
        raise UnknownParameterError(str(err)) from None
    return [e.strip() for e in entries if e.strip()]


def find_notebooks(notebooks_dir: Path | None = None,
                   only: str | Iterable[str | int] | None = None) -> list[Path]:
    """The chapter notebooks in order; ``only`` keeps those whose number (``"01"``) or name is listed.

    ``only`` may be a comma-separated string (``"01,06"``) or a list. An entry that matches no notebook
    raises :class:`UnknownParameterError` listing the available ones.
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else paths.NOTEBOOKS
    if not folder.is_dir():
        raise ReportError(f"notebooks_dir: {folder} is not a folder")
    found = sorted(folder.glob(NOTEBOOK_GLOB))
    if only is None:
        return found
    wanted = selection(only)
    if not wanted:
        raise UnknownParameterError("only: empty selection; give notebook numbers such as '01,06'")
    chosen: list[Path] = []
    for w in wanted:
        w = w.removesuffix(".ipynb")
        hits = [p for p in found if p.stem == w or p.stem[:2] == w.zfill(2)]
        if not hits:
            valid = ", ".join(p.stem for p in found) or "(none)"
            raise UnknownParameterError(f"only: no notebook {w!r} in {folder}; valid choices: {valid}")
        chosen.extend(h for h in hits if h not in chosen)
    return sorted(chosen)


def declared_parameters(notebook: Path) -> dict[str, str]:
    """The parameters a notebook declares in its ``parameters`` cell: name -> default (source text).

    Read with Python's own parser (papermill's line regex skips lines such as ``x = None  # None = all``);
    papermill injects the values the same way either way.
    """
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as err:  # noqa: BLE001  a missing file, bad JSON, an invalid notebook: all one message
        raise ReportError(f"{notebook}: not a readable notebook: {err}") from None
    cell = next((c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])),
                None)
    if cell is None:
        return {}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:  # e.g. IPython magics: fall back to papermill's own reader
        return {name: spec["default"] for name, spec in pm.inspect_notebook(str(notebook)).items()}
    declared: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                declared[target.id] = ast.get_source_segment(cell.source, value) or ""
    return declared


def coerce(value: str, default: str) -> Any:
    """Turn a command-line string into the type of the declared default (``default`` is source text).

    A Python literal is read as such (``5``, ``0.9``, ``["a", "b"]``, ``None``); ``a,b`` becomes a list
    when the default is a list or ``None``; for a string default the text is kept as it is.
    """
    try:
        default_value = ast.literal_eval(default)
    except (ValueError, SyntaxError):
        default_value = None
    if isinstance(default_value, str):
        return value
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        if isinstance(default_value, bool) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(default_value, (list, tuple)) or (default_value is None and "," in value):
            return [v.strip() for v in value.split(",") if v.strip()]  # models=a,b (default list or None)
        return value
    if isinstance(default_value, list) and isinstance(parsed, tuple):
        return list(parsed)
    return parsed


def parameters_for(notebooks: Sequence[Path], backend: str, params: Mapping[str, Any] | None,
                   cli_strings: bool = False) -> dict[Path, dict[str, Any]]:
    """The parameters each notebook gets; validates the backend and the names, refuses secrets.

    ``cli_strings=True`` converts string values to the type of each notebook's default (:func:`coerce`).
    """
    check_backend(backend)
    params = dict(params or {})
    if "backend" in params:
        raise UnknownParameterError("params: pass the backend with backend=... (--backend), not as a parameter")
    declared = {nb: declared_parameters(nb) for nb in notebooks}
    for name, value in params.items():
        check_not_secret(name, value)
        if not any(name in d for d in declared.values()):
            known = sorted({n for d in declared.values() for n in d})
            raise UnknownParameterError(
                f"params: unknown parameter {name!r}: no selected notebook declares it in its parameters cell; "
                f"declared: {', '.join(known) or '(none)'}")
    plan: dict[Path, dict[str, Any]] = {}
    for nb, decl in declared.items():
        chosen: dict[str, Any] = {}
        if "backend" in decl:
            chosen["backend"] = backend
        for name, value in params.items():
            if name in decl:
                chosen[name] = coerce(value, decl[name]) if cli_strings and isinstance(value, str) else value
        plan[nb] = chosen
    return plan
