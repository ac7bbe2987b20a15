"""How long N items of each task take on the local model (sizing the report's sample sizes).

Runs every task (or ``--tasks``) with ``--limit`` items through the harness on the local backend,
at each task's default output cap, and prints per task: wall time, seconds per item, median
latency, TTFT, output tokens and the score.  Saved to ``build/bench/task_timing.json``.

    python benchmarks/task_timing.py --limit 5
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from workbench import clients, paths
from workbench.evals import TASK_NAMES, load_results, run

OUT = paths.BUILD / "bench" / "task_timing.json"


def main(argv: list[str] | None = None) -> int:
    """Time ``--limit`` items of each task; print a table and save JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASK_NAMES), choices=TASK_NAMES)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--model", default="gpt-4o", help="catalog id (the local model answers for all)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    print(f"local model: {clients.local_model_name()}; {args.limit} items per task, "
          f"concurrency {args.concurrency}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="wb-timing-") as tmp:
        store = Path(tmp) / "timing.sqlite"
        for name in args.tasks:
            start = time.perf_counter()
            summary = run([name], [args.model], "local", limit=args.limit, store=store,
                          concurrency=args.concurrency, progress=False)
            wall = time.perf_counter() - start
            res = load_results(summary.run_id, store)
            ok = res[res["outcome"] == "scored"]
            row = {"task": name, "items": args.limit, "wall_s": round(wall, 2),
                   "s_per_item": round(wall / args.limit, 2),
                   "latency_median_s": round(float(ok["latency_s"].median()), 2) if len(ok) else None,
                   "ttft_median_s": round(float(ok["ttft_s"].median()), 3) if len(ok) else None,
                   "output_tokens_mean": round(float(ok["output_tokens"].mean()), 1) if len(ok) else None,
                   "input_tokens_mean": round(float(ok["input_tokens"].mean()), 1) if len(ok) else None,
                   "scored": len(ok), "score_mean": round(float(ok["score"].mean()), 3) if len(ok) else None}
            rows.append(row)
            print(f"  {name:14s} {wall:7.1f} s  {row['s_per_item']:6.2f} s/item  latency {row['latency_median_s']} s  "
                  f"TTFT {row['ttft_median_s']} s  out {row['output_tokens_mean']} tok  in "
                  f"{row['input_tokens_mean']} tok  score {row['score_mean']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": clients.local_model_name(), "limit": args.limit,
                                    "concurrency": args.concurrency, "rows": rows}, indent=2))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
