"""Memory bandwidth of this machine, and the decode speed limit it sets (the roofline).

To write one token a language model multiplies the current vector by every weight matrix once; for a
single stream there is almost no arithmetic per weight byte, so decoding is bounded by memory bandwidth:
**decode tokens/s <= bandwidth / bytes read per token** (:func:`decode_roofline`; the bytes come from
:meth:`workbench.gguf_facts.ModelFacts.bytes_per_token`). :func:`measure_bandwidth` times numpy kernels
over arrays far larger than the CPU caches, on one thread and on every core, and :func:`bandwidth_gbs`
condenses the measurements into the sustained figure the roofline uses (:func:`bandwidth_summary` into a
table). :func:`against_roofline` sets measured decode speeds beside the limit at their context length.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import params
from .gguf_facts import ModelFacts
from .host import Run, usable_cores

__all__ = ["BANDWIDTH_KERNELS", "against_roofline", "bandwidth_gbs", "bandwidth_summary", "decode_roofline",
           "measure_bandwidth"]

#: The numpy kernels :func:`measure_bandwidth` times, with the bytes each moves per array byte.
#: ``copy``: read one array and write another (STREAM's convention: 2 bytes moved per byte copied);
#: ``read``: a vectorised reduction (max) that only reads.
BANDWIDTH_KERNELS: dict[str, int] = {"copy": 2, "read": 1}


def measure_bandwidth(size_mb: int = 256, repeats: int = 5, threads: Sequence[int] | None = None, *,
                      run: Run | None = None, progress: bool = True) -> pd.DataFrame:
    """Time numpy kernels over arrays much larger than the CPU caches; one row per kernel, thread count, repeat.

    Each array of ``size_mb`` MB is split among ``threads`` worker threads (numpy releases the GIL in
    these kernels). Columns: ``kernel`` (see :data:`BANDWIDTH_KERNELS`), ``threads``, ``repeat``,
    ``bytes_moved``, ``seconds``, ``gb_per_s`` (1 GB = 1e9 bytes), plus the run stamp when ``run`` is given.
    The first pass of each kernel is an untimed warm-up.

    Raises:
        ParameterError: ``size_mb`` below 64 (too close to cache sizes), ``repeats`` or ``threads`` invalid.
    """
    size = params.count(size_mb, "size_mb", minimum=64)  # smaller arrays would sit in the CPU caches
    reps = params.count(repeats, "repeats")
    counts = sorted(set(params.counts(threads if threads is not None else [1, usable_cores()], "threads",
                                      maximum=4 * usable_cores())))
    n = size * 2**20 // 8
    src = np.random.default_rng(0).random(n)
    dst = np.ones(n)  # written once so its pages exist before timing
    rows: list[dict[str, Any]] = []
    stamp = run.stamp() if run else {}
    jobs = [(k, t) for k in BANDWIDTH_KERNELS for t in counts]
    for kernel, nthreads in tqdm(jobs, desc="memory bandwidth", disable=not progress):
        parts_src, parts_dst = np.array_split(src, nthreads), np.array_split(dst, nthreads)

        def work(i: int, kernel: str = kernel, parts_src: list = parts_src, parts_dst: list = parts_dst) -> None:
            if kernel == "copy":
                np.copyto(parts_dst[i], parts_src[i])
            else:
                parts_src[i].max()

        with ThreadPoolExecutor(nthreads) as pool:
            list(pool.map(work, range(nthreads)))  # warm-up
            for r in range(reps):
                t0 = time.perf_counter()
                list(pool.map(work, range(nthreads)))
                dt = time.perf_counter() - t0
                moved = BANDWIDTH_KERNELS[kernel] * src.nbytes
                rows.append({**stamp, "kernel": kernel, "threads": nthreads, "repeat": r, "bytes_moved": moved,
                             "seconds": dt, "gb_per_s": moved / dt / 1e9})
    return pd.DataFrame(rows)


def bandwidth_gbs(measurements: pd.DataFrame, kernel: str | None = "read") -> float:
    """The sustained bandwidth (GB/s) from :func:`measure_bandwidth`: the best median over thread counts.

    The default ``kernel="read"`` suits the decode roofline: decoding reads the weights and writes almost
    nothing. ``kernel=None`` takes the best over every kernel. The median of the repeats resists a single
    lucky or disturbed pass; the best thread count gives what the memory system can deliver.
    """
    data = params.columns(measurements, ["kernel", "threads", "gb_per_s"], "measurements")
    if kernel is not None:
        data = data[data["kernel"] == params.choice(kernel, "kernel", BANDWIDTH_KERNELS)]
    if data.empty:
        raise params.ParameterError("measurements", "rows of measure_bandwidth() to summarise", "an empty table")
    return float(data.groupby(["kernel", "threads"])["gb_per_s"].median().max())


def decode_roofline(bandwidth_gb_per_s: float, bytes_per_token: float) -> float:
    """Upper limit of single-stream decode speed (tokens/s) when every token reads ``bytes_per_token`` bytes."""
    bw = params.positive(bandwidth_gb_per_s, "bandwidth_gb_per_s")
    per_token = params.positive(bytes_per_token, "bytes_per_token")
    return bw * 1e9 / per_token


def bandwidth_summary(measurements: pd.DataFrame) -> pd.DataFrame:
    """Per kernel and thread count: median, min and max GB/s over the repeats, and how many repeats."""
    data = params.columns(measurements, ["kernel", "threads", "gb_per_s"], "measurements")
    return (data.groupby(["kernel", "threads"])["gb_per_s"].agg(["median", "min", "max", "count"])
                .rename(columns={"median": "median GB/s", "min": "min GB/s", "max": "max GB/s", "count": "repeats"})
                .reset_index())


def against_roofline(speed: pd.DataFrame, facts: ModelFacts, bandwidth_gb_per_s: float) -> pd.DataFrame:
    """``speed`` (from :func:`workbench.engine_speed.measure_engine_speed`) with the roofline beside it.

    Adds ``context at mid-decode`` (prompt plus half the decoded tokens), ``roofline tps`` (the decode limit
    at that context) and ``share of roofline`` (measured decode speed over the limit).
    """
    params.columns(speed, ["prompt_tokens", "decoded_tokens", "decode_tps"], "speed")
    out = speed.copy()
    out["context at mid-decode"] = out["prompt_tokens"] + out["decoded_tokens"] // 2
    out["roofline tps"] = [decode_roofline(bandwidth_gb_per_s, facts.bytes_per_token(int(c)))
                           for c in out["context at mid-decode"]]
    out["share of roofline"] = out["decode_tps"] / out["roofline tps"]
    return out
