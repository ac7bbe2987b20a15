"""Command line for the benchmark harness.

    python -m workbench.evals run --tasks mmlu gsm8k --models gpt-4o claude-sonnet-4-6 \\
        --backend local --limit 20 --run-id demo [--json] [--batch]
    python -m workbench.evals record --tasks gsm8k --models gpt-4o --limit 20 [--archive ID]
    python -m workbench.evals replay ID [--sample 5] [--seed 0]
    python -m workbench.evals import ID [--store PATH]
    python -m workbench.evals summary --run-id demo [--json]
    python -m workbench.evals tasks

``run`` prints a summary table at the end (or, with ``--json``, a machine-readable summary: items
requested, scored, finally failed and pending, accuracy with its interval per task and model, the run
id and the store path).  Re-running with the same ``--run-id`` resumes: finished items are skipped.
``run --batch`` sends each model's items as one batch through its provider's batch API
(:mod:`workbench.evals.batch`); re-running the run id polls the batches already submitted.
``record`` is ``run`` that also writes a run archive (``data/runs/<ID>/``, or a folder given as
``--archive``) and prints its path; recording into the same archive again resumes it.  ``replay``
re-sends a sample of an archive's requests through the local provider and compares (exit 1 when a
local archive's answers differ, or a live archive's responses do not parse the same way); ``import``
puts an archive into the results store, re-scored with the current scorers.
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
    _run_arguments(run)
    run.add_argument("--batch", action="store_true",
                     help="through the providers' batch APIs (one batch per model, half price; re-run the run id "
                          "to resume polling; --concurrency, --max-attempts and --timeout do not apply)")
    record = sub.add_parser("record", help="run tasks x models and write a run archive (data/runs/)")
    _run_arguments(record)
    record.add_argument("--archive", default=None,
                        help="archive id under data/runs/ or a folder (default: a new id); reuse one to resume")

    replay = sub.add_parser("replay", help="re-send a sample of an archive's requests through the local provider")
    replay.add_argument("archive", help="archive id under data/runs/ or a folder")
    replay.add_argument("--sample", type=int, default=5, help="requests to replay (default 5)")
    replay.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")

    imp = sub.add_parser("import", help="put an archive into the results store, re-scored with the current scorers")
    imp.add_argument("archive", help="archive id under data/runs/ or a folder")
    imp.add_argument("--store", type=Path, default=None, help=f"SQLite store (default {DEFAULT_PATH})")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")

    summ = sub.add_parser("summary", help="summarize a stored run")
    summ.add_argument("--run-id", required=True)
    summ.add_argument("--store", type=Path, default=None)
    summ.add_argument("--json", action="store_true")

    sub.add_parser("tasks", help="list the tasks")
    return parser


def _run_arguments(run: argparse.ArgumentParser) -> None:
    """The arguments ``run`` and ``record`` share."""
    run.add_argument("--tasks", nargs="+", required=True, help=f"task names: {', '.join(TASK_NAMES)}")
    run.add_argument("--models", nargs="+", required=True, help="catalog model ids (data/models.csv)")
    run.add_argument("--backend", default="local", help="local (default) or live")
    run.add_argument("--limit", type=int, default=20, help="items per task (default 20)")
    run.add_argument("--all", action="store_true", help="run every item of each task (ignores --limit)")
    run.add_argument("--seed", type=int, default=0, help="seed of the item subset (default 0)")
    run.add_argument("--run-id", default=None, help="run id; reuse one to resume (default: a new id; "
                     "for record: the archive id)")
    run.add_argument("--store", type=Path, default=None, help=f"SQLite store (default {DEFAULT_PATH})")
    run.add_argument("--concurrency", type=int, default=None,
                     help="requests in flight per provider (default 4; record on the local backend: one at a time)")
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
    run.add_argument("--no-logprobs", action="store_true",
                     help="ask no token log-probabilities (default: tasks that score a confidence from them ask "
                          "their top_logprobs where the protocol gives them)")
    run.add_argument("--json", action="store_true", help="print a machine-readable summary")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


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
    archive = None
    if args.command == "record":
        from datetime import UTC, datetime

        archive = args.archive or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{args.backend}"
    if getattr(args, "batch", False):
        from .batch import run as run_batch

        summary = run_batch(tasks, _split(args.models), args.backend, limit=None if args.all else args.limit,
                            seed=args.seed, run_id=args.run_id, store=args.store, max_tokens=args.max_tokens,
                            progress=not args.no_progress)
    else:
        summary = run(tasks, _split(args.models), args.backend, limit=None if args.all else args.limit,
                      seed=args.seed, run_id=args.run_id, store=args.store, concurrency=args.concurrency,
                      max_attempts=args.max_attempts, timeout=args.timeout, max_tokens=args.max_tokens,
                      progress=not args.no_progress, archive=archive, logprobs=not args.no_logprobs)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print(f"\nrun {summary.run_id}: {summary.requests} requests, {summary.skipped} items skipped "
              f"(already scored), {summary.elapsed_s:.1f} s")
        print(summary.format_table())
        for note in summary.notes:
            print(f"note: {note}")
        print(f"store: {summary.store_path}")
    if summary.archive_path is not None:
        print(f"archive: {summary.archive_path}")
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


def _cmd_replay(args: argparse.Namespace) -> int:
    """``replay``: re-send a sample through the local provider and print the comparison."""
    from .archive import replay

    result = replay(args.archive, sample=args.sample, seed=args.seed, progress=not args.no_progress)
    view = result.table.copy()
    for col in ("recorded_text", "replayed_text"):
        view[col] = [(t or "").replace("\n", " ")[:40] for t in view[col]]
    print(view.drop(columns=["protocol", "attempt"]).to_string(index=False))
    for note in result.notes:
        print(f"note: {note}")
    if result.kind == "identity":
        print(f"{int(result.table['identical'].sum())} of {len(result.table)} replayed answers identical "
              f"(archive {result.archive_id})")
    else:
        good = int((result.table["parsed"] & result.table["same_events"]).sum())
        print(f"{good} of {len(result.table)} responses parsed the way the recorded ones did "
              f"(archive {result.archive_id}, protocol fidelity)")
    return 0 if result.ok else 1


def _cmd_import(args: argparse.Namespace) -> int:
    """``import``: an archive into the results store, re-scored."""
    from .archive import to_store

    run_id = to_store(args.archive, args.store, progress=not args.no_progress)
    print(summarize(load_results(run_id, args.store)).drop(columns=["failed_items"]).to_string(index=False))
    print(f"run id: {run_id}\nstore: {args.store or DEFAULT_PATH}")
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
        if args.command == "replay":
            return _cmd_replay(args)
        if args.command == "import":
            return _cmd_import(args)
        return _cmd_run(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
