"""A response cache with a time-to-live, keyed by the canonical request, in front of any SDK call.

The pattern the articles recommend for repeated questions: answer a request that was already answered
recently from memory instead of calling the model again. :class:`ResponseCache` wraps any SDK method::

    from workbench import clients, response_cache
    cache = response_cache.ResponseCache(ttl=600)
    oa = clients.openai()
    reply = cache.call(oa.chat.completions.create, model="gpt-4o", max_completion_tokens=32,
                       messages=[{"role": "user", "content": "Capital of France?"}])
    cache.stats()          # hits, misses, hit rate, expired, time saved

**The key** is a SHA-256 of the canonical request: the provider (from the SDK method's package), the endpoint
(the SDK method), the server it is sent to (base URL, no credentials), and every argument that can change the
answer (model, messages or contents, sampling, output cap, tools, schema, ...), written as JSON with sorted keys
and no layout whitespace, with each text stripped of leading and trailing whitespace, line endings made
``\\n`` and whole-valued floats written as integers (``temperature=0`` and ``0.0`` are one key). Whitespace
inside a text is kept: it changes the tokens the model reads (and code's meaning). Left out of the key, because
they do not change the answer: ``timeout``, ``extra_headers``, ``user``, ``metadata``, ``store``,
``safety_identifier``, ``prompt_cache_key`` and Gemini's ``http_options``. Headers and keys are never read;
only the hash is kept. A streamed request (``stream=True``) is refused: a stream cannot be replayed.

**Time-to-live** is strict: an entry stored at time *t* is served while ``now - t < ttl`` and never at or past
``t + ttl`` (an entry whose age equals the TTL is expired and the model is called again). The clock is
injectable (``clock=``) so tests can step time exactly; the latency recorded for "time saved" is always real
wall time of the original call (``time.perf_counter``).

**Reported** (:meth:`ResponseCache.stats`): lookups, hits, misses (of which ``expired``: an entry was there but
too old), hit rate = hits / lookups, and time saved = the summed measured latency of the original calls
that the hits replaced (plus the tokens they did not spend). :meth:`ResponseCache.events` lists every lookup.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import params
from .call_recorder import tokens_of

__all__ = ["CacheStats", "ResponseCache", "canonical_request", "request_key"]

#: Arguments that never change the answer, so they are left out of the key.
NOT_IN_KEY = frozenset({"timeout", "extra_headers", "user", "metadata", "store", "safety_identifier",
                        "prompt_cache_key", "http_options", "idempotency_key"})


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: SDK/pydantic objects dumped, texts trimmed, whole floats as ints."""
    if hasattr(value, "model_dump"):  # pydantic models: SDK params and google-genai types
        value = value.model_dump(exclude_none=True, mode="json")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if str(k) not in NOT_IN_KEY and v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        return int(value) if value.is_integer() else value
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    raise TypeError(f"request: cannot put a {type(value).__name__} in a cache key")


def _target(fn: Callable[..., Any]) -> tuple[str, str, str]:
    """(provider, endpoint, base URL) of a bound SDK method such as ``client.chat.completions.create``."""
    owner = getattr(fn, "__self__", None)
    module = type(owner).__module__ if owner is not None else getattr(fn, "__module__", "") or ""
    provider = next((p for p in ("openai", "anthropic", "google") if module.startswith(p)), module.split(".")[0])
    endpoint = f"{module}.{type(owner).__qualname__ if owner is not None else ''}.{getattr(fn, '__name__', '')}"
    base = ""
    inner = getattr(owner, "_client", None)
    if inner is not None and getattr(inner, "base_url", None) is not None:
        base = str(inner.base_url)
    api = getattr(owner, "_api_client", None)
    if api is not None:
        options = getattr(api, "_http_options", None)
        base = str(getattr(options, "base_url", "") or "")
    base = base.split("?", 1)[0]
    if "@" in base:  # never key on credentials written into a URL
        scheme, _, rest = base.partition("://")
        base = f"{scheme}://{rest.split('@', 1)[1]}"
    return provider, endpoint, base.rstrip("/")


def canonical_request(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> str:
    """The canonical text of one request to ``fn`` with ``kwargs``: what the cache key is the hash of."""
    provider, endpoint, base = _target(fn)
    body = {"provider": provider, "endpoint": endpoint, "base_url": base, "request": _plain(dict(kwargs))}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> str:
    """The cache key (SHA-256 hex) of one request."""
    return hashlib.sha256(canonical_request(fn, kwargs).encode()).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    """What the cache did: every lookup is a hit or a miss; ``expired`` misses found a too-old entry."""

    lookups: int
    hits: int
    misses: int
    expired: int
    entries: int
    hit_rate: float          #: hits / lookups (NaN before the first lookup)
    time_saved_s: float      #: measured latency of the original calls the hits replaced
    time_spent_s: float      #: measured latency of the calls the misses made
    tokens_saved: int        #: input + output tokens the hits did not spend (as reported on the original call)


@dataclass
class _Entry:
    value: Any
    stored_at: float
    seconds: float
    tokens: int


class ResponseCache:
    """An in-memory response cache with a strict time-to-live (see the module docstring).

    Args:
        ttl: seconds an entry may be served (> 0).
        max_entries: most entries kept (the least recently used goes first); None: no bound.
        clock: the time source for ages (default ``time.monotonic``); inject one to test the TTL edge.
    """

    def __init__(self, ttl: float, *, max_entries: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = params.positive(ttl, "ttl")
        self.max_entries = None if max_entries is None else params.count(max_entries, "max_entries")
        if not callable(clock):
            raise params.ParameterError("clock", "a function returning seconds", clock)
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _lookup(self, key: str) -> tuple[str, _Entry | None, float | None]:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None:
            return "miss", None, None
        age = now - entry.stored_at
        if age >= self.ttl:
            del self._entries[key]
            return "expired", None, age
        self._entries.move_to_end(key)
        return "hit", entry, age

    def call(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """``fn(**kwargs)`` (an SDK method), answered from the cache while a fresh entry exists.

        An exception from ``fn`` is raised and nothing is stored (the lookup counts as a miss).

        Raises:
            ParameterError: ``stream=True`` (a stream cannot be replayed from a cache).
        """
        key, outcome, age, entry = self._before(fn, kwargs)
        if entry is not None:
            return entry.value
        start = time.perf_counter()
        try:
            value = fn(**kwargs)
        except BaseException:
            self._after(key, outcome, age, None, time.perf_counter() - start, failed=True)
            raise
        self._after(key, outcome, age, value, time.perf_counter() - start)
        return value

    async def acall(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """:meth:`call` for an async SDK method (``AsyncOpenAI().chat.completions.create`` ...)."""
        key, outcome, age, entry = self._before(fn, kwargs)
        if entry is not None:
            return entry.value
        start = time.perf_counter()
        try:
            value = await fn(**kwargs)
        except BaseException:
            self._after(key, outcome, age, None, time.perf_counter() - start, failed=True)
            raise
        self._after(key, outcome, age, value, time.perf_counter() - start)
        return value

    def _before(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> tuple[str, str, float | None,
                                                                                   _Entry | None]:
        if kwargs.get("stream"):
            raise params.ParameterError("stream", "False or absent (a stream cannot be served from a cache)",
                                        kwargs["stream"])
        key = request_key(fn, kwargs)
        with self._lock:
            outcome, entry, age = self._lookup(key)
            if entry is not None:
                self._events.append({"key": key[:12], "outcome": "hit", "age_s": age, "seconds": 0.0,
                                     "saved_s": entry.seconds, "tokens_saved": entry.tokens, "failed": False})
        return key, outcome, age, entry

    def _after(self, key: str, outcome: str, age: float | None, value: Any, seconds: float, *,
               failed: bool = False) -> None:
        with self._lock:
            if not failed:
                self._entries[key] = _Entry(value, self._clock(), seconds, _tokens(value))
                self._entries.move_to_end(key)
                while self.max_entries is not None and len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            self._events.append({"key": key[:12], "outcome": outcome, "age_s": age, "seconds": seconds,
                                 "saved_s": 0.0, "tokens_saved": 0, "failed": failed})

    def stats(self) -> CacheStats:
        """Lookups, hits, misses, expired, hit rate and the time and tokens saved so far."""
        with self._lock:
            events = list(self._events)
            entries = len(self._entries)
        hits = sum(e["outcome"] == "hit" for e in events)
        return CacheStats(
            lookups=len(events), hits=hits, misses=len(events) - hits,
            expired=sum(e["outcome"] == "expired" for e in events), entries=entries,
            hit_rate=hits / len(events) if events else math.nan,
            time_saved_s=sum(e["saved_s"] for e in events),
            time_spent_s=sum(e["seconds"] for e in events),
            tokens_saved=sum(e["tokens_saved"] for e in events))

    def events(self) -> pd.DataFrame:
        """One row per lookup: key (first 12 hex digits), outcome (hit/miss/expired), age of the entry found
        (s, by the cache's clock), seconds the call took (0 for a hit), seconds and tokens saved, and whether
        the call failed (a failed call stores nothing)."""
        with self._lock:
            return pd.DataFrame(self._events, columns=["key", "outcome", "age_s", "seconds", "saved_s",
                                                       "tokens_saved", "failed"])

    def clear(self) -> None:
        """Forget every entry (the statistics stay)."""
        with self._lock:
            self._entries.clear()


def _tokens(value: Any) -> int:
    """Input + output tokens of an SDK reply (0 when it reports none)."""
    usage = getattr(value, "usage", None) or getattr(value, "usage_metadata", None)
    try:
        inp, out = tokens_of(usage)
    except TypeError:
        return 0
    return int(inp or 0) + int(out or 0)
