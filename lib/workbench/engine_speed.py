"""Speed of the local llama.cpp engine: prefill and decode, threads, and throughput under concurrency.

Three measurements of the engine that serves the offline backend (see :mod:`workbench.local`):

* :func:`measure_engine_speed` - prompt processing (prefill) and decoding at several prompt lengths,
  single stream, from the engine's own timings; prompts are real text of an exact token length
  (:func:`prompt_token_pool`), prompt cache off;
* :func:`measure_threads` - the same on a fresh one-slot engine per CPU thread count;
* :func:`measure_concurrency` - streamed chat requests through the official OpenAI SDK (async) at several
  concurrency levels; :func:`throughput_summary` condenses them per level (aggregate and per-stream
  tokens/s, latency, time to first token).

:func:`mixed_throughput` turns prefill and decode speeds into one tokens/s figure for a request mix, the
number :func:`workbench.costs.breakeven` takes. :func:`engine_info` asks the running provider for the
engine's ``props`` and ``slots``. Every row carries the :class:`workbench.host.Run` stamp it is given.
"""
from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd
from tqdm import tqdm

from . import params, paths
from .host import MeasurementError, Run, usable_cores

__all__ = [
    "engine_info",
    "measure_concurrency",
    "measure_engine_speed",
    "measure_threads",
    "mixed_throughput",
    "prompt_token_pool",
    "throughput_summary",
]

#: Prompts for the concurrency measurement: each asks for a long text so answers run to ``max_tokens``.
_STORY_TOPICS = ("a lighthouse keeper", "a lost map", "a river town", "a clockmaker", "a winter market",
                 "a mountain railway", "a library at night", "a sailing race")

T = TypeVar("T")


def engine_info(base_url: str | None = None) -> dict[str, Any]:
    """The local provider's information: ``model``, ``engine_url``, the engine's ``props`` and ``slots``.

    ``base_url`` is the gateway (``http://127.0.0.1:PORT``); None uses the one :mod:`workbench.clients`
    talks to (``WORKBENCH_LOCAL_URL`` or the process's own provider, started on demand). Asked through
    :class:`workbench.local.admin.Admin`; raises its ``AdminError`` when the provider does not answer.
    """
    from . import clients
    from .local.admin import Admin

    return Admin(base_url or clients.local_base_url()).info()


def prompt_token_pool(engine_url: str, texts: Iterable[Path] | None = None) -> list[int]:
    """Token ids of real text (the repository's Markdown and CSV files by default), by the engine's tokenizer.

    Used to build prompts of an exact length without any cache-friendly repetition at their start.
    """
    files = list(texts) if texts is not None else sorted(paths.ROOT.glob("*.md")) + sorted(paths.DATA.glob("*.csv"))
    text = "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    if not text.strip():
        raise params.ParameterError("texts", "files that hold text to build prompts from", [str(p) for p in files])
    resp = httpx.post(engine_url.rstrip("/") + "/tokenize", json={"content": text}, timeout=60.0)
    resp.raise_for_status()
    return [int(t) for t in resp.json()["tokens"]]


def _prompt(pool: list[int], length: int, rng: random.Random) -> list[int]:
    start = rng.randrange(len(pool))
    out: list[int] = []
    while len(out) < length:
        out.extend(pool[start:start + length - len(out)])
        start = 0
    return out


def measure_engine_speed(prompt_lengths: Sequence[int], *, n_predict: int = 32, repeats: int = 1, seed: int = 0,
                         info: dict[str, Any] | None = None, run: Run | None = None,
                         progress: bool = True) -> pd.DataFrame:
    """Prefill and decode speed at each prompt length, from the engine's own timings; one row per request.

    Each request sends ``length`` tokens of real text (a seeded random starting point in
    :func:`prompt_token_pool`, prompt cache off) to the engine's ``/completion`` and decodes exactly
    ``n_predict`` tokens (end-of-sequence ignored). Requests run one at a time: these are single-stream
    numbers. Columns: the run stamp, ``prompt_tokens``, ``repeat``, ``cached_tokens``, ``prefill_ms``,
    ``prefill_tps``, ``decoded_tokens``, ``decode_ms``, ``decode_tps``, ``wall_s``.

    Raises:
        ParameterError: a length or count is invalid, or a prompt plus ``n_predict`` does not fit a slot's
            context (naming ``prompt_lengths``).
        MeasurementError: the engine refused a prompt or its answer carries no timings.
    """
    info = info if info is not None else engine_info()
    slot_ctx = int(info["props"]["default_generation_settings"]["n_ctx"])
    n_predict = params.count(n_predict, "n_predict")
    lengths = sorted(set(params.counts(prompt_lengths, "prompt_lengths", maximum=slot_ctx - n_predict)))
    reps = params.count(repeats, "repeats")
    seed = params.count(seed, "seed", minimum=0)
    engine_url = str(info["engine_url"]).rstrip("/")
    pool = prompt_token_pool(engine_url)
    rng = random.Random(int(seed))
    stamp = run.stamp() if run else {}
    rows: list[dict[str, Any]] = []
    jobs = [(length, r) for r in range(reps) for length in lengths]
    with httpx.Client(base_url=engine_url, timeout=httpx.Timeout(600.0, connect=10.0)) as http:
        for length, r in tqdm(jobs, desc="prefill and decode", disable=not progress):
            body = {"prompt": _prompt(pool, length, rng), "n_predict": n_predict, "ignore_eos": True,
                    "cache_prompt": False, "temperature": 0.0, "seed": int(seed)}
            t0 = time.perf_counter()
            resp = http.post("/completion", json=body)
            wall = time.perf_counter() - t0
            if resp.status_code != 200:
                raise MeasurementError(f"prompt_lengths: the engine refused a {length}-token prompt "
                                    f"(HTTP {resp.status_code}: {resp.text[:200]})")
            t = resp.json().get("timings")
            if not t:
                raise MeasurementError("engine: the /completion answer carries no timings")
            rows.append({**stamp, "prompt_tokens": length, "repeat": r, "cached_tokens": int(t.get("cache_n", 0)),
                         "prefill_tokens": int(t["prompt_n"]), "prefill_ms": float(t["prompt_ms"]),
                         "prefill_tps": float(t["prompt_per_second"]), "decoded_tokens": int(t["predicted_n"]),
                         "decode_ms": float(t["predicted_ms"]), "decode_tps": float(t["predicted_per_second"]),
                         "wall_s": wall})
    return pd.DataFrame(rows)


def measure_threads(thread_counts: Sequence[int], *, prompt_tokens: int = 128, n_predict: int = 32,
                    repeats: int = 2, seed: int = 0, run: Run | None = None, progress: bool = True) -> pd.DataFrame:
    """Prefill and decode speed of a fresh engine per CPU thread count (one slot each, started and stopped here).

    Each thread count gets its own short-lived local provider (``threads=t``, one parallel slot), so the
    shared provider is untouched. Columns: ``threads`` plus those of :func:`measure_engine_speed`.

    Raises:
        ParameterError: invalid counts (``thread_counts`` above twice the usable cores is refused).
    """
    from .local import LocalProvider

    counts = sorted(set(params.counts(thread_counts, "thread_counts", maximum=2 * usable_cores())))
    prompt_tokens = params.count(prompt_tokens, "prompt_tokens")
    n_predict = params.count(n_predict, "n_predict")
    ctx = max(256, prompt_tokens + n_predict + 16)
    frames = []
    for t in tqdm(counts, desc="engine threads", disable=not progress):
        with LocalProvider(threads=t, n_parallel=1, ctx_per_slot=ctx) as provider:
            speed = measure_engine_speed([prompt_tokens], n_predict=n_predict, repeats=repeats, seed=seed,
                                         info=provider.info(), run=run, progress=False)
        frames.append(speed.assign(threads=t))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Concurrency through the official SDK
# --------------------------------------------------------------------------------------------
def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also from inside a running event loop (Jupyter) via a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="workbench-engine-speed", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _one_request(client: Any, model: str, index: int, max_tokens: int, seed: int, origin: float,
                       gate: asyncio.Semaphore) -> dict[str, Any]:
    topic = _STORY_TOPICS[(seed + index) % len(_STORY_TOPICS)]
    async with gate:
        start = time.perf_counter()
        first: float | None = None
        usage = None
        stream = await client.chat.completions.create(
            model=model, max_tokens=max_tokens, seed=seed + index, stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": f"Write a long, detailed story about {topic}."}])
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
            if chunk.usage is not None:
                usage = chunk.usage
        end = time.perf_counter()
    if usage is None:
        raise MeasurementError("engine: the streamed answer carried no usage (stream_options.include_usage)")
    return {"request": index, "started_s": start - origin, "finished_s": end - origin,
            "ttft_s": (first or end) - start, "latency_s": end - start,
            "prompt_tokens": int(usage.prompt_tokens), "completion_tokens": int(usage.completion_tokens)}


async def _level(level: int, n_requests: int, max_tokens: int, seed: int, model: str,
                 bar: Any) -> list[dict[str, Any]]:
    from . import clients

    client = clients.openai("local", async_=True, max_retries=0, timeout=600.0)
    gate = asyncio.Semaphore(level)
    origin = time.perf_counter()

    async def tracked(i: int) -> dict[str, Any]:
        row = await _one_request(client, model, i, max_tokens, seed, origin, gate)
        bar.update(1)
        return row

    try:
        rows = await asyncio.gather(*(tracked(i) for i in range(n_requests)))
    finally:
        await client.close()
    wall = max(r["finished_s"] for r in rows) - min(r["started_s"] for r in rows)
    return [{"concurrency": level, **r, "level_wall_s": wall} for r in rows]


def measure_concurrency(levels: Sequence[int], n_requests: int, *, max_tokens: int = 64, seed: int = 0,
                        model: str | None = None, run: Run | None = None, progress: bool = True) -> pd.DataFrame:
    """Send ``n_requests`` streamed chat requests at each concurrency level through the async OpenAI SDK.

    At level ``c`` at most ``c`` requests are in flight (the others wait their turn), so the level's
    wall time is from the first request sent to the last answer finished. The requests go through the
    local gateway like any notebook's; ``model`` is a catalog id the gateway accepts (None: the local
    model's own id). One row per request: the run stamp, ``concurrency``, ``request``, ``started_s``,
    ``finished_s`` (from the level's start), ``ttft_s``, ``latency_s``, ``prompt_tokens``,
    ``completion_tokens`` (the SDK's usage), ``level_wall_s``.

    Raises:
        ParameterError: invalid levels or counts; ``n_requests`` smaller than the highest level (that
            level could never be reached).
    """
    from . import catalog
    from .local.gateway import LOCAL_MODEL_ID

    levels = sorted(set(params.counts(levels, "concurrency_levels", maximum=64)))
    n = params.count(n_requests, "n_requests")
    if n < max(levels):
        raise params.ParameterError("n_requests", f"at least {max(levels)} requests to keep {max(levels)} in flight "
                                    "(the highest concurrency level)", n)
    max_tokens = params.count(max_tokens, "max_tokens")
    seed = params.count(seed, "seed", minimum=0)
    model = catalog.check_models([model or LOCAL_MODEL_ID], param="model")[0]
    stamp = run.stamp() if run else {}
    rows: list[dict[str, Any]] = []
    with tqdm(total=n * len(levels), desc="concurrent requests", disable=not progress) as bar:
        for level in levels:
            bar.set_postfix(concurrency=level)
            rows += _run_coroutine(_level(level, n, max_tokens, int(seed), model, bar))
    return pd.DataFrame([{**stamp, **r} for r in rows])


def throughput_summary(requests: pd.DataFrame) -> pd.DataFrame:
    """One row per concurrency level from :func:`measure_concurrency`.

    Columns: ``concurrency``, ``requests``, ``completion_tokens``, ``wall_s``, ``aggregate_tps`` (all
    generated tokens over the level's wall time), ``per_stream_tps`` (median over requests of tokens
    over the time after the first token), ``ttft_median_s``, ``latency_median_s``, ``latency_p95_s``.
    """
    params.columns(requests, ["concurrency", "completion_tokens", "ttft_s", "latency_s", "level_wall_s"], "requests")
    stream_time = (requests["latency_s"] - requests["ttft_s"]).clip(lower=1e-9)
    per_stream = (requests["completion_tokens"] - 1).clip(lower=0) / stream_time
    g = requests.assign(per_stream=per_stream).groupby("concurrency")
    out = pd.DataFrame({
        "requests": g.size(),
        "completion_tokens": g["completion_tokens"].sum(),
        "wall_s": g["level_wall_s"].first(),
        "per_stream_tps": g["per_stream"].median(),
        "ttft_median_s": g["ttft_s"].median(),
        "latency_median_s": g["latency_s"].median(),
        "latency_p95_s": g["latency_s"].quantile(0.95),
    })
    out.insert(3, "aggregate_tps", out["completion_tokens"] / out["wall_s"])
    return out.reset_index()


def mixed_throughput(prefill_tps: float, decode_tps: float, input_tokens: int, output_tokens: int) -> float:
    """Tokens/s (input + output) for requests of ``input_tokens`` in and ``output_tokens`` out.

    A request spends ``input/prefill_tps + output/decode_tps`` seconds; the mixed rate is all its tokens
    over that time. This is the one-number throughput :func:`workbench.costs.breakeven` takes.
    """
    pre = params.positive(prefill_tps, "prefill_tps")
    dec = params.positive(decode_tps, "decode_tps")
    input_tokens = params.count(input_tokens, "input_tokens", minimum=0)
    output_tokens = params.count(output_tokens, "output_tokens", minimum=0 if input_tokens else 1)
    return (input_tokens + output_tokens) / (input_tokens / pre + output_tokens / dec)
