"""The report's command line: ``python -m workbench.report`` (``make report`` calls it).

``python -m workbench.report [--backend local|live] [--only 01,06] [--force] [-p NAME VALUE ...]
[--no-pdf] [--cell-timeout SECONDS] [--notebooks-dir DIR] [--build-dir DIR]`` runs :func:`build`, prints
one line per chapter (seconds, executed or cached) and the output paths, and exits 1 with one line on
stderr when the build fails with a :class:`ReportError`.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import ReportError
from .pipeline import ReportResult, build
from .plan import BACKENDS

__all__ = ["main"]

DESCRIPTION = "Build the report: execute the chapter notebooks, then write one offline HTML article and a PDF."


def _summary(result: ReportResult) -> str:
    """The table printed at the end: seconds and status per chapter, totals, output paths."""
    width = max([len(r.name) for r in result.runs] + [8])
    lines = [f"{'notebook':<{width}}  {'seconds':>8}  status"]
    for r in result.runs:
        status = f"cached (run {r.executed_at})" if r.cached else "executed"
        lines.append(f"{r.name:<{width}}  {r.seconds:>8.1f}  {status}")
    lines.append(f"total {result.seconds:.1f} s, backend {result.backend}, "
                 f"{len(result.cache_hits)}/{len(result.runs)} from cache")
    lines.append(f"HTML: {result.html}")
    if result.pdf:
        lines.append(f"PDF:  {result.pdf}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m workbench.report [--backend ...] [--only ...] [--force] [-p NAME VALUE]``."""
    parser = argparse.ArgumentParser(prog="python -m workbench.report", description=DESCRIPTION)
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="model backend (default: local)")
    parser.add_argument("--only", help="comma-separated notebook numbers, e.g. 01,06 (default: all)")
    parser.add_argument("--force", action="store_true", help="re-execute notebooks even if unchanged")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter, passed to the notebooks that declare it "
                             "(e.g. -p models gpt-4o,claude-3-5-sonnet-20240620 -p confidence 0.9)")
    parser.add_argument("--no-pdf", action="store_true", help="write only the HTML")
    parser.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                        help="fail a notebook whose cell runs longer than this (default: no limit)")
    parser.add_argument("--notebooks-dir", type=Path, default=None, help="default: notebooks/")
    parser.add_argument("--build-dir", type=Path, default=None, help="default: build/")
    args = parser.parse_args(argv)
    params = dict(args.parameter)
    try:
        result = build(args.backend, args.only, params, args.force, notebooks_dir=args.notebooks_dir,
                       build_dir=args.build_dir, pdf=not args.no_pdf, cli_strings=True,
                       cell_timeout=args.cell_timeout)
    except ReportError as err:
        print(f"report: {err}", file=sys.stderr)
        return 1
    print(_summary(result))
    return 0
