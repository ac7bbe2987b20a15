"""Measuring the open-weight path on this machine: the local engine, its speed, and its limits.

Chapter 05 uses these functions to answer four questions about the local engine (llama.cpp's server
from the ``xllamacpp`` wheel serving SmolLM2-135M-Instruct, see :mod:`workbench.local`):

* **What is it?** :func:`model_facts` reads the GGUF file itself (quantisation per tensor, parameter
  count, bytes, context length, layers, attention shape) with the ``gguf`` package; :func:`engine_info`
  asks the running server for its ``/props`` and ``/slots``.
* **How fast can decoding be?** Generating one token reads every weight once (plus the KV cache of the
  context so far), so decode speed is bounded by memory bandwidth / bytes read per token
  (:func:`decode_roofline`). :func:`measure_bandwidth` measures the bandwidth with numpy.
* **How fast is it?** :func:`measure_engine_speed` reads the engine's own timings for prompt processing
  (prefill) and decoding at several prompt lengths; :func:`measure_concurrency` sends requests through
  the official OpenAI SDK (async) at several concurrency levels and measures aggregate throughput;
  :func:`throughput_summary` condenses it.
* **When does it pay?** :func:`mixed_throughput` turns prefill and decode speeds into one tokens/s figure
  for a request mix, the number :func:`workbench.costs.breakeven` needs.

Every measurement carries a :class:`Run` (run id, model, UTC time, host) in its rows.
"""
from __future__ import annotations

import asyncio
import functools
import math
import numbers
import os
import platform
import random
import threading
import time
import uuid
from collections.abc import Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
from tqdm import tqdm

from . import paths

__all__ = [
    "BANDWIDTH_KERNELS",
    "ModelFacts",
    "Run",
    "SelfHostError",
    "bandwidth_gbs",
    "check_count",
    "check_fraction",
    "check_positive",
    "check_positive_ints",
    "decode_roofline",
    "engine_info",
    "measure_bandwidth",
    "measure_concurrency",
    "measure_engine_speed",
    "measure_threads",
    "mixed_throughput",
    "model_facts",
    "new_run",
    "prompt_token_pool",
    "throughput_summary",
    "total_memory_bytes",
    "usable_cores",
]

#: The numpy kernels :func:`measure_bandwidth` times, with the bytes each moves per array byte.
#: ``copy``: read one array and write another (STREAM's convention: 2 bytes moved per byte copied);
#: ``read``: a vectorised reduction (max) that only reads.
BANDWIDTH_KERNELS: dict[str, int] = {"copy": 2, "read": 1}

#: Prompts for the concurrency measurement: each asks for a long text so answers run to ``max_tokens``.
_STORY_TOPICS = ("a lighthouse keeper", "a lost map", "a river town", "a clockmaker", "a winter market",
                 "a mountain railway", "a library at night", "a sailing race")

T = TypeVar("T")


class SelfHostError(ValueError):
    """A measurement parameter is invalid, or the engine answered something unusable (the message says which)."""


# --------------------------------------------------------------------------------------------
# Runs and parameter checks
# --------------------------------------------------------------------------------------------
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


def new_run(model: str, *, prefix: str = "selfhost") -> Run:
    """A new :class:`Run` for ``model``: id ``PREFIX-YYYYmmdd-HHMMSS-xxxx`` stamped now (UTC)."""
    if not isinstance(model, str) or not model.strip():
        raise SelfHostError(f"model: expected the name of the model measured, got {model!r}")
    now = datetime.now(UTC).replace(microsecond=0)
    return Run(run_id=f"{prefix}-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}", model=model,
               measured_at=now.isoformat(), host=f"{_cpu_name()}, {usable_cores()} cores")


def check_positive_ints(values: Any, param: str, *, at_most: int | None = None) -> list[int]:
    """``values`` as a sorted list of distinct positive whole numbers, else :class:`SelfHostError` naming ``param``.

    A single number is accepted as a one-element list. ``at_most`` bounds every value.
    """
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise SelfHostError(f"{param}: expected a list of positive whole numbers, got {values!r}")
    out: list[int] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise SelfHostError(f"{param}: {v!r} is not a positive whole number")
        if at_most is not None and v > at_most:
            raise SelfHostError(f"{param}: {v!r} is more than the limit of {at_most}")
        out.append(int(v))
    if not out:
        raise SelfHostError(f"{param}: expected at least one value, got an empty list")
    return sorted(set(out))


def check_count(value: Any, param: str, *, minimum: int = 1) -> int:
    """``value`` as a whole number >= ``minimum``, else :class:`SelfHostError` naming ``param``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise SelfHostError(f"{param}: expected a whole number >= {minimum}, got {value!r}")
    return int(value)


def check_positive(value: Any, param: str) -> float:
    """``value`` as a finite number > 0, else :class:`SelfHostError` naming ``param``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise SelfHostError(f"{param}: expected a positive number, got {value!r}")
    return float(value)


def check_fraction(value: Any, param: str) -> float:
    """``value`` as a fraction in (0, 1], else :class:`SelfHostError` naming ``param``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise SelfHostError(f"{param}: expected a fraction in (0, 1], got {value!r}")
    return float(value)


_positive_int = check_count
_positive_number = check_positive


def total_memory_bytes() -> int:
    """Physical memory of this machine, in bytes."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


# --------------------------------------------------------------------------------------------
# The model file
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelFacts:
    """What the GGUF file says about the model (read by :func:`model_facts`)."""

    path: Path
    file_bytes: int
    name: str                         #: ``general.name``
    architecture: str                 #: ``general.architecture``
    size_label: str                   #: ``general.size_label`` ("" when absent)
    file_type: str                    #: the file's declared quantisation (``general.file_type``), e.g. Q4_1
    parameters: int                   #: number of weights over all tensors
    weight_bytes: int                 #: bytes of all tensors
    context_length: int               #: trained context length
    layers: int                       #: transformer blocks
    embedding_length: int
    feed_forward_length: int
    heads: int
    kv_heads: int
    vocab_size: int
    tied_embeddings: bool             #: no separate output matrix: the token embedding is reused
    embedding_bytes: int              #: bytes of ``token_embd.weight``
    by_type: pd.DataFrame = field(repr=False, compare=False)  #: tensors, parameters, bytes per tensor type

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.embedding_length // self.heads

    @property
    def bits_per_weight(self) -> float:
        """Average stored bits per weight (quantisation blocks include their scales)."""
        return 8 * self.weight_bytes / self.parameters

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        """KV-cache bytes one context token occupies (K and V, every layer; f16 cache: 2 bytes a value)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * _positive_number(bytes_per_value, "bytes_per_value")

    def bytes_per_token(self, context_tokens: int = 0, bytes_per_value: float = 2.0) -> float:
        """Bytes read from memory to decode one token with ``context_tokens`` already in the context.

        Every weight matrix is read once; the token embedding is only looked up (one row) unless it is
        tied to the output layer, in which case the whole matrix is read by the final projection. The
        attention reads the KV cache of the whole context.
        """
        if isinstance(context_tokens, bool) or not isinstance(context_tokens, numbers.Integral) or context_tokens < 0:
            raise SelfHostError(f"context_tokens: expected a whole number >= 0, got {context_tokens!r}")
        weights = self.weight_bytes
        if not self.tied_embeddings:
            weights -= self.embedding_bytes - self.embedding_bytes // self.vocab_size
        return weights + context_tokens * self.kv_bytes_per_token(bytes_per_value)

    def table(self) -> pd.DataFrame:
        """The facts as a two-column table (fact, value) for display."""
        rows = [
            ("file", self.path.name), ("file size (MB)", round(self.file_bytes / 1e6, 1)),
            ("model name (general.name)", self.name), ("architecture", self.architecture),
            ("size label", self.size_label or "-"), ("quantisation (file type)", self.file_type),
            ("parameters", f"{self.parameters:,}"), ("weight bytes (MB)", round(self.weight_bytes / 1e6, 1)),
            ("average bits per weight", round(self.bits_per_weight, 2)),
            ("trained context length", f"{self.context_length:,}"), ("layers", self.layers),
            ("embedding width", self.embedding_length), ("feed-forward width", self.feed_forward_length),
            ("attention heads (query / key-value)", f"{self.heads} / {self.kv_heads}"),
            ("head size", self.head_dim), ("vocabulary", f"{self.vocab_size:,}"),
            ("output layer tied to the embedding", "yes" if self.tied_embeddings else "no"),
            ("KV cache per context token (f16, KB)", round(self.kv_bytes_per_token() / 1e3, 1)),
        ]
        return pd.DataFrame(rows, columns=["fact", "value"]).astype({"value": str})


def _field(reader: Any, key: str, default: Any = None) -> Any:
    f = reader.fields.get(key)
    return default if f is None else f.contents()


@functools.lru_cache(maxsize=4)
def _read_facts(path: str, _mtime_ns: int) -> ModelFacts:
    import gguf

    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:  # noqa: BLE001 - the reader raises several kinds; one message names the file
        raise SelfHostError(f"model_path: {path} is not a readable GGUF file ({exc})") from None
    arch = str(_field(reader, "general.architecture", ""))
    if not arch:
        raise SelfHostError(f"model_path: {path} has no general.architecture key; not a model GGUF")

    def need(key: str) -> int:
        value = _field(reader, f"{arch}.{key}")
        if value is None:
            raise SelfHostError(f"model_path: {path} lacks the key {arch}.{key}")
        return int(value)

    rows = [{"type": t.tensor_type.name, "parameters": int(t.n_elements), "bytes": int(t.n_bytes)}
            for t in reader.tensors]
    by_type = (pd.DataFrame(rows).groupby("type").agg(tensors=("type", "size"), parameters=("parameters", "sum"),
                                                      bytes=("bytes", "sum"))
               .sort_values("bytes", ascending=False).reset_index())
    by_type["bits per weight"] = 8 * by_type["bytes"] / by_type["parameters"]
    names = {t.name: t for t in reader.tensors}
    embd = names.get("token_embd.weight")
    file_type_id = _field(reader, "general.file_type")
    try:
        file_type = gguf.LlamaFileType(int(file_type_id)).name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        file_type = "unknown"
    vocab = _field(reader, f"{arch}.vocab_size")
    if vocab is None and embd is not None:
        vocab = int(max(embd.shape))
    return ModelFacts(
        path=Path(path), file_bytes=Path(path).stat().st_size, name=str(_field(reader, "general.name", "")),
        architecture=arch, size_label=str(_field(reader, "general.size_label", "")), file_type=file_type,
        parameters=int(by_type["parameters"].sum()), weight_bytes=int(by_type["bytes"].sum()),
        context_length=need("context_length"), layers=need("block_count"),
        embedding_length=need("embedding_length"), feed_forward_length=need("feed_forward_length"),
        heads=need("attention.head_count"),
        kv_heads=int(_field(reader, f"{arch}.attention.head_count_kv", need("attention.head_count"))),
        vocab_size=int(vocab or 0), tied_embeddings="output.weight" not in names,
        embedding_bytes=int(embd.n_bytes) if embd is not None else 0, by_type=by_type,
    )


def model_facts(model_path: str | Path | None = None) -> ModelFacts:
    """Read :class:`ModelFacts` from a GGUF file (None: the local engine's SmolLM2 file).

    Reading is cached per file (the tokenizer arrays make the first read take a few seconds).

    Raises:
        SelfHostError: the file is missing, not GGUF, or lacks a needed key (naming ``model_path``).
    """
    from .local.engine import EngineError, check_model_path

    try:
        path = check_model_path(model_path)
    except EngineError as exc:
        raise SelfHostError(str(exc)) from None
    return _read_facts(str(path), path.stat().st_mtime_ns)


# --------------------------------------------------------------------------------------------
# Memory bandwidth and the decode roofline
# --------------------------------------------------------------------------------------------
def measure_bandwidth(size_mb: int = 256, repeats: int = 5, threads: Sequence[int] | None = None, *,
                      run: Run | None = None, progress: bool = True) -> pd.DataFrame:
    """Time numpy kernels over arrays much larger than the CPU caches; one row per kernel, thread count, repeat.

    Each array of ``size_mb`` MB is split among ``threads`` worker threads (numpy releases the GIL in
    these kernels). Columns: ``kernel`` (see :data:`BANDWIDTH_KERNELS`), ``threads``, ``repeat``,
    ``bytes_moved``, ``seconds``, ``gb_per_s`` (1 GB = 1e9 bytes), plus the run stamp when ``run`` is given.
    The first pass of each kernel is an untimed warm-up.

    Raises:
        SelfHostError: ``size_mb`` below 64 (too close to cache sizes), ``repeats`` or ``threads`` invalid.
    """
    size = _positive_int(size_mb, "size_mb")
    if size < 64:
        raise SelfHostError(f"size_mb: {size_mb!r} is too small; use >= 64 MB so the arrays do not fit in cache")
    reps = _positive_int(repeats, "repeats")
    counts = check_positive_ints(threads if threads is not None else sorted({1, usable_cores()}), "threads",
                                 at_most=4 * usable_cores())
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
    if not isinstance(measurements, pd.DataFrame) or not {"kernel", "threads", "gb_per_s"} <= set(measurements):
        raise SelfHostError("measurements: expected the table returned by measure_bandwidth()")
    data = measurements
    if kernel is not None:
        if kernel not in BANDWIDTH_KERNELS:
            raise SelfHostError(f"kernel: {kernel!r} is not one of {', '.join(BANDWIDTH_KERNELS)}")
        data = data[data["kernel"] == kernel]
    if data.empty:
        raise SelfHostError("measurements: no rows to summarise")
    return float(data.groupby(["kernel", "threads"])["gb_per_s"].median().max())


def decode_roofline(bandwidth_gb_per_s: float, bytes_per_token: float) -> float:
    """Upper limit of single-stream decode speed (tokens/s) when every token reads ``bytes_per_token`` bytes."""
    bw = _positive_number(bandwidth_gb_per_s, "bandwidth_gb_per_s")
    per_token = _positive_number(bytes_per_token, "bytes_per_token")
    return bw * 1e9 / per_token


def mixed_throughput(prefill_tps: float, decode_tps: float, input_tokens: int, output_tokens: int) -> float:
    """Tokens/s (input + output) for requests of ``input_tokens`` in and ``output_tokens`` out.

    A request spends ``input/prefill_tps + output/decode_tps`` seconds; the mixed rate is all its tokens
    over that time. This is the one-number throughput :func:`workbench.costs.breakeven` takes.
    """
    pre = _positive_number(prefill_tps, "prefill_tps")
    dec = _positive_number(decode_tps, "decode_tps")
    for name, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise SelfHostError(f"{name}: expected a whole number >= 0, got {v!r}")
    if input_tokens + output_tokens == 0:
        raise SelfHostError("input_tokens / output_tokens: a request needs at least one token")
    return (input_tokens + output_tokens) / (input_tokens / pre + output_tokens / dec)


# --------------------------------------------------------------------------------------------
# The running engine
# --------------------------------------------------------------------------------------------
def engine_info(base_url: str | None = None) -> dict[str, Any]:
    """The local provider's information: ``model``, ``engine_url``, the engine's ``props`` and ``slots``.

    ``base_url`` is the gateway (``http://127.0.0.1:PORT``); None uses the one :mod:`workbench.clients`
    talks to (``WORKBENCH_LOCAL_URL`` or the process's own provider, started on demand).
    """
    if base_url is None:
        from . import clients

        base_url = clients.local_base_url()
    try:
        resp = httpx.get(base_url.rstrip("/") + "/_workbench/info", timeout=30.0)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise SelfHostError(f"base_url: the local provider at {base_url} did not answer /_workbench/info ({exc})") from None
    return resp.json()


def prompt_token_pool(engine_url: str, texts: Iterable[Path] | None = None) -> list[int]:
    """Token ids of real text (the repository's Markdown and CSV files by default), by the engine's tokenizer.

    Used to build prompts of an exact length without any cache-friendly repetition at their start.
    """
    files = list(texts) if texts is not None else sorted(paths.ROOT.glob("*.md")) + sorted(paths.DATA.glob("*.csv"))
    text = "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    if not text.strip():
        raise SelfHostError("texts: the files hold no text to build prompts from")
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
        SelfHostError: a length or count is invalid, a prompt plus ``n_predict`` does not fit a slot's
            context (naming ``prompt_lengths``), or the engine's timings are missing.
    """
    info = info if info is not None else engine_info()
    slot_ctx = int(info["props"]["default_generation_settings"]["n_ctx"])
    n_predict = _positive_int(n_predict, "n_predict")
    lengths = check_positive_ints(prompt_lengths, "prompt_lengths", at_most=slot_ctx - n_predict)
    reps = _positive_int(repeats, "repeats")
    seed = check_count(seed, "seed", minimum=0)
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
                raise SelfHostError(f"prompt_lengths: the engine refused a {length}-token prompt "
                                    f"(HTTP {resp.status_code}: {resp.text[:200]})")
            t = resp.json().get("timings")
            if not t:
                raise SelfHostError("engine: the /completion answer carries no timings")
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
        SelfHostError: invalid counts (``thread_counts`` above twice the usable cores is refused).
    """
    from .local import LocalProvider

    counts = check_positive_ints(thread_counts, "thread_counts", at_most=2 * usable_cores())
    prompt_tokens = check_count(prompt_tokens, "prompt_tokens")
    n_predict = check_count(n_predict, "n_predict")
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

    thread = threading.Thread(target=target, name="workbench-selfhost", daemon=True)
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
        raise SelfHostError("engine: the streamed answer carried no usage (stream_options.include_usage)")
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
        SelfHostError: invalid levels or counts; ``n_requests`` smaller than the highest level (that
            level could never be reached).
    """
    from . import catalog
    from .local.gateway import LOCAL_MODEL_ID

    levels = check_positive_ints(levels, "concurrency_levels", at_most=64)
    n = _positive_int(n_requests, "n_requests")
    if n < max(levels):
        raise SelfHostError(f"n_requests: {n} requests cannot keep {max(levels)} in flight; "
                            f"use n_requests >= {max(levels)} (the highest concurrency level)")
    max_tokens = _positive_int(max_tokens, "max_tokens")
    seed = check_count(seed, "seed", minimum=0)
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
    need = {"concurrency", "completion_tokens", "ttft_s", "latency_s", "level_wall_s"}
    if not isinstance(requests, pd.DataFrame) or not need <= set(requests):
        raise SelfHostError("requests: expected the table returned by measure_concurrency()")
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
