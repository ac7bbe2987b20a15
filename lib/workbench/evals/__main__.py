"""Command line for the benchmark harness.

    python -m workbench.evals run --tasks mmlu gsm8k --models gpt-4o claude-sonnet-4-6 \\
        --backend local --limit 20 --run-id demo [--json]
    python -m workbench.evals summary --run-id demo [--json]
    python -m workbench.evals tasks

``run`` prints a summary table at the end (or, with ``--json``, a machine-readable summary: items
requested, scored, finally failed and pending, accuracy with its interval per task and model, the run
id and the store path).  Re-running with the same ``--run-id`` resumes: finished items are skipped.
Exit status: 0 when every planned item was scored, 1 when some finally failed, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .store import DEFAULT_PATH, load_results, summarize
from .tasks import NEEDLE_DEPTHS, NEEDLE_LENGTHS, TASK_NAMES, get_task, needle_task


def _split(values: Sequence[str] | None) -> list[str]:
    """Accept ``a b``, ``a,b`` or both."""
    out: list[str] = []
    for v in values or []:
        out.extend(x for x in v.split(",") if x.strip())
    return [x.strip() for x in out]


def _parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog="python -m workbench.evals",
                                     description="Benchmark harness: run tasks x models, resume, summarize.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run tasks x models on a backend")
    run.add_argument("--tasks", nargs="+", required=True, help=f"task names: {', '.join(TASK_NAMES)}")
    run.add_argument("--models", nargs="+", required=True, help="catalog model ids (data/models.csv)")
    run.add_argument("--backend", default="local", help="local (default) or live")
    run.add_argument("--limit", type=int, default=20, help="items per task (default 20)")
    run.add_argument("--all", action="store_true", help="run every item of each task (ignores --limit)")
    run.add_argument("--seed", type=int, default=0, help="seed of the item subset (default 0)")
    run.add_argument("--run-id", default=None, help="run id; reuse one to resume (default: a new id)")
    run.add_argument("--store", type=Path, default=None, help=f"SQLite store (default {DEFAULT_PATH})")
    run.add_argument("--concurrency", type=int, default=4, help="requests in flight per provider")
    run.add_argument("--max-attempts", type=int, default=4, help="attempts per item, retries included")
    run.add_argument("--timeout", type=float, default=300.0, help="seconds per attempt")
    run.add_argument("--max-tokens", type=int, default=None,
                     help="output cap for every task (default: each task's own)")
    run.add_argument("--needle-lengths", default=None,
                     help=f"needle haystack lengths in tokens, comma-separated "
                          f"(default {','.join(map(str, NEEDLE_LENGTHS))})")
    run.add_argument("--needle-depths", default=None,
                     help=f"needle depths in [0, 1], comma-separated "
                          f"(default {','.join(f'{d:g}' for d in NEEDLE_DEPTHS)})")
    run.add_argument("--json", action="store_true", help="print a machine-readable summary")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    summ = sub.add_parser("summary", help="summarize a stored run")
    summ.add_argument("--run-id", required=True)
    summ.add_argument("--store", type=Path, default=None)
    summ.add_argument("--json", action="store_true")

    sub.add_parser("tasks", help="list the tasks")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    """``run``: execute, then print the summary."""
    from .runner import run

    names = _split(args.tasks)
    tasks: list = []
    for name in names:
        if name == "needle" and (args.needle_lengths or args.needle_depths):
            lengths = ([int(x) for x in args.needle_lengths.split(",")] if args.needle_lengths
                       else NEEDLE_LENGTHS)
            depths = ([float(x) for x in args.needle_depths.split(",")] if args.needle_depths
                      else NEEDLE_DEPTHS)
            tasks.append(needle_task(lengths, depths))
        else:
            tasks.append(get_task(name))
    summary = run(tasks, _split(args.models), args.backend, limit=None if args.all else args.limit,
                  seed=args.seed, run_id=args.run_id, store=args.store, concurrency=args.concurrency,
                  max_attempts=args.max_attempts, timeout=args.timeout, max_tokens=args.max_tokens,
                  progress=not args.no_progress)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print(f"\nrun {summary.run_id}: {summary.requests} requests, {summary.skipped} items skipped "
              f"(already scored), {summary.elapsed_s:.1f} s")
        print(summary.format_table())
        for note in summary.notes:
            print(f"note: {note}")
        print(f"store: {summary.store_path}")
    failed = int(summary.table["failed"].sum()) if not summary.table.empty else 0
    return 1 if failed else 0


def _cmd_summary(args: argparse.Namespace) -> int:
    """``summary``: read a run back from the store."""
    results = load_results(args.run_id, args.store)
    if results.empty:
        raise ValueError(f"run_id: no run {args.run_id!r} in {args.store or DEFAULT_PATH}")
    table = summarize(results)
    if args.json:
        print(json.dumps({"run_id": args.run_id, "store": str(args.store or DEFAULT_PATH),
                          "results": json.loads(table.to_json(orient="records"))}, indent=2))
    else:
        print(table.to_string(index=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "tasks":
            for name in TASK_NAMES:
                t = get_task(name)
                print(f"{name:14s} {t.title:22s} {t.metric:20s} {len(t.items()):6d} items  max_tokens "
                      f"{t.max_tokens:4d}  {t.data_source}")
            return 0
        if args.command == "summary":
            return _cmd_summary(args)
        return _cmd_run(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
