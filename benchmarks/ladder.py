"""Benchmarks of the open-model ladder: decode against the memory-bandwidth limit, throughput per slot count, recording time.

For each local model (``workbench.catalog.local_models()``, choose with ``--models``) three measurements,
printed as tables and saved to ``build/bench/ladder-<date>.json`` (``-quick`` added with ``--quick``,
the sections' names with ``--only``, so a partial run never overwrites a full one):

1. ``decode``: single-stream greedy decode tokens/s from the engine's own timings (a fixed prompt of
   ``--prompt-tokens`` tokens of real text, exactly ``--decode-tokens`` tokens decoded, end-of-sequence
   ignored, prompt cache off; :func:`workbench.engine_speed.measure_engine_speed`) on a one-slot engine per
   CPU thread count (``--threads``, default 1 and 2). The engines of one model run side by side and the
   repetitions alternate between them, so a burst of load from other jobs hits every thread count alike.
   Each median is set against the model's memory-bandwidth limit, bandwidth / bytes read per decoded
   token (:func:`workbench.bandwidth.decode_roofline`; the bytes from the GGUF file through
   :mod:`workbench.gguf_facts`, at the context of mid-decode; the bandwidth measured here by
   :func:`workbench.bandwidth.measure_bandwidth`), as a share of the limit: against the sustained
   bandwidth (best over thread counts) and against the bandwidth the same number of threads reached.
2. ``throughput``: aggregate generation throughput of an engine with 1, 2 and 4 slots (``--slots``):
   as many concurrent streamed chat requests as slots, ``--rounds`` rounds, through the official
   OpenAI SDK (async) and the local gateway (:func:`workbench.engine_speed.measure_concurrency`); total
   generated tokens (the SDK's usage) over the wall time from first request to last answer. The engine
   runs with the thread count the catalog gives the model (``local_threads``), or ``--slot-threads``.
3. ``record-time``: how long ``make record`` took for each run archive under ``data/runs/ladder-*``
   (``--archives`` to choose): first request start to last answer end of its exchanges, the time
   actually spent recording (the union of the exchanges' intervals, which leaves out pauses between
   resumed sessions) and that time per item, per task and in total. No new recording; no engine.

Numbers on the shared 2-core machine depend on what else runs: the load average is saved with each
section. Usage::

    python benchmarks/ladder.py                                    # everything, all three models
    python benchmarks/ladder.py --models smollm2-135m-instruct --quick   # smoke test (1 repetition, short outputs)
    python benchmarks/ladder.py --only decode --threads 1 2 --repeats 7
    python benchmarks/ladder.py --record-time                      # only the archives (same as --only record-time)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from workbench import assets, catalog, paths
from workbench.bandwidth import bandwidth_summary, decode_roofline, measure_bandwidth
from workbench.engine_speed import (
    measure_concurrency,
    measure_engine_speed,
    throughput_summary,
)
from workbench.evals import archive
from workbench.gguf_facts import ModelFacts, model_facts
from workbench.host import new_run, usable_cores
from workbench.local import LocalProvider

OUT_DIR = paths.BUILD / "bench"
SECTIONS = ("decode", "throughput", "record-time")
#: What ``--quick`` changes: one repetition, short outputs, one round per slot count.
QUICK = {"repeats": 1, "decode_tokens": 16, "max_tokens": 16, "rounds": 1, "bandwidth_repeats": 2}
FULL = {"repeats": 5, "decode_tokens": 128, "max_tokens": 128, "rounds": 3, "bandwidth_repeats": 5}


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: saved with every section)."""
    return [round(x, 2) for x in os.getloadavg()]


@contextlib.contextmanager
def serving(url: str) -> Iterator[None]:
    """Point :mod:`workbench.clients` (hence the SDK requests of ``engine_speed``) at the provider at ``url``."""
    old = os.environ.get("WORKBENCH_LOCAL_URL")
    os.environ["WORKBENCH_LOCAL_URL"] = url
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_LOCAL_URL", None)
        else:
            os.environ["WORKBENCH_LOCAL_URL"] = old


def catalog_threads(model_id: str) -> int:
    """The engine thread count the catalog gives ``model_id`` (``local_threads``; half the cores if blank)."""
    table = catalog.models().set_index("model_id")
    value = table.at[model_id, "local_threads"]
    return max(1, usable_cores() // 2) if pd.isna(value) else int(value)


# --------------------------------------------------------------------------------------------
# 0. the memory-bandwidth limit
# --------------------------------------------------------------------------------------------
def bench_bandwidth(threads: list[int], repeats: int) -> dict[str, Any]:
    """Measure the read bandwidth on each thread count; the sustained figure is the best median."""
    counts = sorted({*threads, usable_cores()})
    print(f"\n[bandwidth] numpy read/copy over 256 MB arrays, threads {counts}, {repeats} repeats")
    rows = measure_bandwidth(256, repeats, counts, progress=False)
    summary = bandwidth_summary(rows)
    reads = summary[summary["kernel"] == "read"].set_index("threads")["median GB/s"]
    result = {"load": load(), "summary": summary.to_dict("records"),
              "read_gbs_by_threads": {int(t): float(v) for t, v in reads.items()},
              "sustained_read_gbs": float(reads.max())}
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"  sustained read bandwidth {result['sustained_read_gbs']:.2f} GB/s  (load {result['load']})")
    return result


# --------------------------------------------------------------------------------------------
# 1. decode against the roofline
# --------------------------------------------------------------------------------------------
def bench_decode(model_id: str, path: Path, facts: ModelFacts, bandwidth: dict[str, Any], threads: list[int],
                 repeats: int, prompt_tokens: int, decode_tokens: int) -> dict[str, Any]:
    """Greedy single-stream decode on a one-slot engine per thread count, repetitions alternated."""
    run = new_run(model_id, prefix="ladder")
    ctx = max(256, prompt_tokens + decode_tokens + 16)
    start_load = load()
    frames = []
    with contextlib.ExitStack() as stack:
        providers = {t: stack.enter_context(LocalProvider(model_path=path, threads=t, n_parallel=1, ctx_per_slot=ctx))
                     for t in threads}
        infos = {t: p.info() for t, p in providers.items()}
        for info in infos.values():  # warm-up: the first request of an engine allocates its buffers
            measure_engine_speed([prompt_tokens], n_predict=4, info=info, progress=False)
        for r in range(repeats):
            order = threads if r % 2 == 0 else threads[::-1]
            for t in order:  # same seed every time: the same prompt for every repetition and thread count
                speed = measure_engine_speed([prompt_tokens], n_predict=decode_tokens, info=infos[t], run=run,
                                             progress=False)
                frames.append(speed.assign(threads=t, repeat=r))
    raw = pd.concat(frames, ignore_index=True)
    context = prompt_tokens + decode_tokens // 2
    per_token = facts.bytes_per_token(context)
    limit = decode_roofline(bandwidth["sustained_read_gbs"], per_token)
    rows = []
    for t, group in raw.groupby("threads"):
        tps = group["decode_tps"].tolist()
        med = statistics.median(tps)
        same = bandwidth["read_gbs_by_threads"].get(int(t))
        limit_same = decode_roofline(same, per_token) if same else float("nan")
        rows.append({"model": model_id, "threads": int(t), "repeats": len(tps), "decode_tps_median": med,
                     "decode_tps_min": min(tps), "decode_tps_max": max(tps),
                     "spread_pct": 100 * (max(tps) - min(tps)) / med,
                     "prefill_tps_median": float(group["prefill_tps"].median()),
                     "bytes_per_token": per_token, "limit_tps": limit, "share_of_limit": med / limit,
                     "limit_same_threads_tps": limit_same, "share_of_same_threads_limit": med / limit_same})
    return {"load_before": start_load, "load_after": load(), "context_at_mid_decode": context,
            "summary": rows, "raw": raw.to_dict("records")}


# --------------------------------------------------------------------------------------------
# 2. aggregate throughput per slot count
# --------------------------------------------------------------------------------------------
def bench_throughput(model_id: str, path: Path, slots: list[int], rounds: int, max_tokens: int,
                     threads: int) -> dict[str, Any]:
    """``s`` concurrent SDK streams on an engine of ``s`` slots, for each ``s``; tokens over wall time."""
    run = new_run(model_id, prefix="ladder")
    ctx = max(512, max_tokens + 256)  # the chat template and story prompt take well under 256 tokens
    start_load = load()
    frames = []
    for s in slots:
        with LocalProvider(model_path=path, threads=threads, n_parallel=s, ctx_per_slot=ctx) as provider:
            assert provider.base_url is not None
            with serving(provider.base_url):
                measure_concurrency([1], 1, max_tokens=4, model=model_id, progress=False)  # warm-up
                frames.append(measure_concurrency([s], s * rounds, max_tokens=max_tokens, model=model_id,
                                                  run=run, progress=False).assign(slots=s))
    raw = pd.concat(frames, ignore_index=True)
    summary = throughput_summary(raw).rename(columns={"concurrency": "slots"})
    summary.insert(0, "model", model_id)
    summary.insert(2, "threads", threads)
    single = float(summary.loc[summary["slots"] == min(slots), "aggregate_tps"].iloc[0])
    summary["vs_fewest_slots"] = summary["aggregate_tps"] / single
    return {"load_before": start_load, "load_after": load(), "summary": summary.to_dict("records"),
            "raw": raw.to_dict("records")}


# --------------------------------------------------------------------------------------------
# 3. how long the recordings took
# --------------------------------------------------------------------------------------------
def timeline(exchanges: pd.DataFrame, lanes: int) -> pd.DataFrame:
    """When each exchange really ran: ``start`` and ``end`` columns (UTC) rebuilt from the archive.

    An exchange's ``started_at`` is when the runner began waiting for a free request slot, and ``latency_s``
    the request's own duration; the lines are written as requests finish. So, in file order, a request
    started at ``max(started_at, the moment one of the recording's `lanes` slots came free)`` (its
    ``concurrency``): exact for a recording made one request at a time, the ladder's way; a greedy estimate
    otherwise. :func:`clock_check` holds the result against the gateway's own clock.
    """
    queued = pd.to_datetime(exchanges["started_at"], utc=True, format="ISO8601")
    took = pd.to_timedelta(exchanges["latency_s"].fillna(0.0), unit="s")  # failed attempts carry no timings
    free = [queued.min()] * lanes
    starts, ends = [], []
    for q, dt in zip(queued, took, strict=True):
        lane = min(range(lanes), key=free.__getitem__)
        start = max(q, free[lane])
        free[lane] = start + dt
        starts.append(start)
        ends.append(free[lane])
    return exchanges.assign(start=starts, end=ends)


def clock_check(frame: pd.DataFrame) -> float | None:
    """How far (s) the rebuilt first-chunk times fall outside the gateway's own stamps of them.

    OpenAI-protocol answers of the local gateway carry ``created``, the Unix second in which their first
    chunk was made, so a right :func:`timeline` puts ``start + ttft_s`` inside ``[created, created + 1)``;
    the result is the largest distance outside that window (0: every exchange agrees), None when no
    exchange carries ``created``.
    """
    worst: float | None = None
    for row in frame.itertuples():
        first = next((t for _, t in (row.events or []) if isinstance(t, str) and t.startswith("data: {")), None)
        created = json.loads(first[6:]).get("created") if first else None
        if isinstance(created, int) and pd.notna(row.ttft_s):
            first_chunk = row.start + pd.Timedelta(seconds=float(row.ttft_s))
            offset = (first_chunk - pd.Timestamp(created, unit="s", tz="UTC")).total_seconds()
            worst = max(worst or 0.0, -offset, offset - 1.0)
    return worst


def busy_seconds(frame: pd.DataFrame) -> float:
    """Length of the union of the intervals [start, end] (seconds): time with at least one request open."""
    total, cur_start, cur_end = 0.0, None, None
    for s, e in sorted(zip(frame["start"], frame["end"], strict=True)):
        if cur_end is None or s > cur_end:
            if cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total


def timing_row(archive_id: str, task: str, frame: pd.DataFrame) -> dict[str, Any]:
    """Wall time, time recording and seconds per item of the exchanges in ``frame`` (with :func:`timeline`)."""
    items = frame[["task", "item_id", "model"]].drop_duplicates().shape[0]
    busy = busy_seconds(frame)
    return {"archive": archive_id, "task": task, "items": items, "attempts": len(frame),
            "failed_attempts": int((frame["status"] != "ok").sum()),
            "first_start": frame["start"].min().isoformat(), "last_end": frame["end"].max().isoformat(),
            "wall_s": (frame["end"].max() - frame["start"].min()).total_seconds(), "recording_s": busy,
            "s_per_item": busy / items, "output_tokens": int(frame["output_tokens"].fillna(0).sum())}


def record_times(archive_ids: list[str]) -> dict[str, Any]:
    """Per archive (and per task inside it): how long its recording took, from its exchanges."""
    rows, archives = [], []
    for archive_id in archive_ids:
        a = archive.load(archive_id)
        lanes = int(a.manifest.get("parameters", {}).get("concurrency") or 1)
        x = timeline(a.exchanges, lanes) if not a.exchanges.empty else a.exchanges
        planned = sum(len(v) for v in a.manifest.get("plan", {}).values()) * len(a.manifest.get("models", {}))
        archives.append({"archive": a.id, "models": list(a.manifest.get("models", {})), "concurrency": lanes,
                         "sessions": len(a.manifest.get("sessions", [])), "complete": a.complete,
                         "planned_items": planned, "created": a.manifest.get("created"),
                         "recorded_items": x[["task", "item_id", "model"]].drop_duplicates().shape[0],
                         "clock_check_s": clock_check(x) if not x.empty else None})
        if x.empty:
            continue
        if x["task"].nunique() > 1:
            rows += [timing_row(a.id, str(task), group) for task, group in x.groupby("task", sort=False)]
        rows.append(timing_row(a.id, "(all)", x))
    return {"archives": archives, "timings": rows}


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------
def clock(gap: float | None) -> str:
    """The :func:`clock_check` result in words."""
    if gap is None:
        return ", no gateway stamps to check the rebuilt times against"
    return f", rebuilt times within {gap:.2f} s of the gateway's one-second stamps"


def show(title: str, rows: list[dict[str, Any]], columns: dict[str, str], note: str = "") -> None:
    """Print ``rows`` as a table of ``columns`` (key: format spec), under ``title``."""
    print(f"\n{title}")
    if not rows:
        print("  (nothing measured)")
        return
    table = pd.DataFrame(rows)[list(columns)]
    for col, spec in columns.items():
        if spec:
            table[col] = table[col].map(lambda v, spec=spec: format(v, spec))
    print(table.to_string(index=False))
    if note:
        print(f"  {note}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options (``--quick`` fills the defaults of :data:`QUICK`, else :data:`FULL`)."""
    local = catalog.local_models()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=local, choices=local, help="local models (default: all)")
    ap.add_argument("--only", nargs="+", default=list(SECTIONS), choices=SECTIONS, help="sections to run")
    ap.add_argument("--record-time", action="store_true", help="only the archives' recording times (no engine)")
    ap.add_argument("--quick", action="store_true", help="smoke test: " + ", ".join(f"{k} {v}" for k, v in QUICK.items()))
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="decode thread counts (default 1 2)")
    ap.add_argument("--repeats", type=int, help=f"decode repetitions per thread count (default {FULL['repeats']})")
    ap.add_argument("--prompt-tokens", type=int, default=64, help="decode prompt length in tokens (default 64)")
    ap.add_argument("--decode-tokens", type=int, help=f"tokens decoded per repetition (default {FULL['decode_tokens']})")
    ap.add_argument("--slots", nargs="+", type=int, default=[1, 2, 4], help="engine slot counts (default 1 2 4)")
    ap.add_argument("--rounds", type=int, help=f"requests per slot at each slot count (default {FULL['rounds']})")
    ap.add_argument("--max-tokens", type=int, help=f"output cap of a throughput request (default {FULL['max_tokens']})")
    ap.add_argument("--slot-threads", type=int, help="engine threads for throughput (default: the catalog's local_threads)")
    ap.add_argument("--archives", nargs="+", help="archive ids for record-time (default: every data/runs/ladder-*)")
    ap.add_argument("--out", type=Path, help="JSON output (default build/bench/ladder-<date>[-quick][-sections].json)")
    args = ap.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.record_time:
        args.only = ["record-time"]
    cores = usable_cores()
    for name, values, top in (("--threads", args.threads, 2 * cores), ("--slots", args.slots, 16)):
        if any(v < 1 or v > top for v in values):
            ap.error(f"{name}: each value must be between 1 and {top}, got {values}")
    for name in ("repeats", "prompt_tokens", "decode_tokens", "rounds", "max_tokens", "slot_threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            ap.error(f"--{name.replace('_', '-')}: must be a positive integer, got {value}")
    args.threads, args.slots = sorted(set(args.threads)), sorted(set(args.slots))
    known = [i for i in archive.available() if i.startswith("ladder-")]
    if args.archives is None:
        args.archives = known
    elif unknown := [a for a in args.archives if a not in archive.available()]:
        ap.error(f"--archives: no archive {', '.join(unknown)} under data/runs/ (there: {', '.join(known) or 'none'})")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections; print the tables and save JSON."""
    args = parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0)
    tags = ("-quick" if args.quick else "") + ("" if set(args.only) == set(SECTIONS) else "-" + "-".join(args.only))
    out = args.out or OUT_DIR / f"ladder-{now:%Y-%m-%d}{tags}.json"
    host = new_run("ladder", prefix="ladder")
    result: dict[str, Any] = {"measured_at": now.isoformat(), "host": host.host, "quick": args.quick,
                              "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "load_at_start": load(), "models": {}}
    print(f"ladder benchmarks on {host.host}; models {', '.join(args.models)}; sections {', '.join(args.only)}"
          f"{' (quick)' if args.quick else ''}; load {result['load_at_start']}")
    engine = [s for s in ("decode", "throughput") if s in args.only]
    if engine:
        if "decode" in engine:
            result["bandwidth"] = bench_bandwidth(args.threads, args.bandwidth_repeats)
        for model_id in args.models:
            path = assets.model_file(model_id)
            facts = model_facts(path)
            entry = result["models"][model_id] = {
                "file": path.name, "quantisation": facts.file_type, "parameters": facts.parameters,
                "weight_bytes": facts.weight_bytes, "kv_bytes_per_token": facts.kv_bytes_per_token(),
                "catalog_threads": catalog_threads(model_id)}
            if "decode" in engine:
                print(f"\n[decode] {model_id}: threads {args.threads}, {args.repeats} repetitions, "
                      f"{args.prompt_tokens}-token prompt, {args.decode_tokens} tokens decoded")
                entry["decode"] = bench_decode(model_id, path, facts, result["bandwidth"], args.threads,
                                               args.repeats, args.prompt_tokens, args.decode_tokens)
            if "throughput" in engine:
                threads = args.slot_threads or entry["catalog_threads"]
                print(f"\n[throughput] {model_id}: slots {args.slots}, {args.rounds} request(s) per slot, "
                      f"{args.max_tokens} output tokens, {threads} engine thread(s)")
                entry["throughput"] = bench_throughput(model_id, path, args.slots, args.rounds, args.max_tokens,
                                                       threads)
        decode = [r for m in result["models"].values() for r in m.get("decode", {}).get("summary", [])]
        show("decode tokens/s against the memory-bandwidth limit (limit = bandwidth / bytes read per token)",
             decode, {"model": "", "threads": "d", "repeats": "d", "decode_tps_median": ".1f", "decode_tps_min": ".1f",
                      "decode_tps_max": ".1f", "bytes_per_token": ",.0f", "limit_tps": ".0f", "share_of_limit": ".0%",
                      "share_of_same_threads_limit": ".0%"},
             f"sustained read bandwidth {result.get('bandwidth', {}).get('sustained_read_gbs', float('nan')):.2f} GB/s")
        thru = [r for m in result["models"].values() for r in m.get("throughput", {}).get("summary", [])]
        show("aggregate generation throughput (all generated tokens / wall time)", thru,
             {"model": "", "slots": "d", "threads": "d", "requests": "d", "completion_tokens": "d",
              "wall_s": ".1f", "aggregate_tps": ".1f", "vs_fewest_slots": ".2f", "per_stream_tps": ".1f",
              "ttft_median_s": ".2f"})
    if "record-time" in args.only:
        result["record_time"] = record_times(args.archives)
        show("make record: time per archive and per item (recording = time with a request open)",
             result["record_time"]["timings"],
             {"archive": "", "task": "", "items": "d", "failed_attempts": "d", "wall_s": ",.0f",
              "recording_s": ",.0f", "s_per_item": ".1f"},
             "\n  ".join(f"{a['archive']}: {a['recorded_items']} of {a['planned_items']} planned items, "
                         f"{a['sessions']} session(s), {a['concurrency']} request(s) at a time{clock(a['clock_check_s'])}"
                         f"{'' if a['complete'] else '; last line cut (being written?)'}"
                         for a in result["record_time"]["archives"]))
    result["load_at_end"] = load()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nsaved {out}  (load at end {result['load_at_end']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
