"""Fault injection for the local provider: rate limits, server errors, time-outs, cut streams, delay.

Off by default. A :class:`FaultConfig` says which share of generation requests fails and how; the
:class:`FaultInjector` draws one uniform number per request from a seeded generator, so a sequence of
requests meets the same faults on every run with the same seed. Settable when the provider starts
(``python -m workbench.local --fault-429 0.2 ...`` or ``LocalProvider(faults=...)``) and at run time
(``PUT /_workbench/faults`` on the gateway, or ``LocalProvider.set_faults(...)``).
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FaultKind = Literal["429", "500", "timeout", "cut"]


class FaultConfig(BaseModel):
    """What share of generation requests fails, and how (shares are drawn in this order).

    Attributes:
        rate_429: share answered 429 in the provider's rate-limit error shape (with ``retry-after``).
        rate_500: share answered 500 in the provider's server-error shape.
        rate_timeout: share held for ``timeout_seconds`` and then answered 504 (clients with a
            shorter time-out see their own time-out error).
        rate_cut: share whose connection is dropped mid-response (a stream after its first events,
            a plain response halfway through its body).
        first_token_delay: seconds added before generation starts (every request).
        timeout_seconds: how long a "timeout" request is held.
        retry_after: seconds sent in ``retry-after`` with a 429.
        seed: seed of the draw sequence (changing any setting restarts the sequence).
    """

    model_config = ConfigDict(extra="forbid")

    rate_429: float = Field(0.0, ge=0.0, le=1.0)
    rate_500: float = Field(0.0, ge=0.0, le=1.0)
    rate_timeout: float = Field(0.0, ge=0.0, le=1.0)
    rate_cut: float = Field(0.0, ge=0.0, le=1.0)
    first_token_delay: float = Field(0.0, ge=0.0, le=600.0)
    timeout_seconds: float = Field(30.0, gt=0.0, le=3600.0)
    retry_after: float = Field(1.0, ge=0.0, le=3600.0)
    seed: int = 0

    @model_validator(mode="after")
    def _total_at_most_one(self) -> FaultConfig:
        total = self.rate_429 + self.rate_500 + self.rate_timeout + self.rate_cut
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault rates add up to {total:g}; their sum must be at most 1")
        return self

    @property
    def active(self) -> bool:
        """True when any fault or delay is set."""
        return bool(self.rate_429 or self.rate_500 or self.rate_timeout or self.rate_cut or self.first_token_delay)


class FaultSettingError(ValueError):
    """Fault settings that are out of range, unknown, or add up to more than 1."""


def parse_faults(data: FaultConfig | dict[str, object] | None) -> FaultConfig:
    """Validate fault settings; raise :class:`FaultSettingError` naming each bad setting on one line."""
    if isinstance(data, FaultConfig):
        return data
    if data is not None and not isinstance(data, dict):
        raise FaultSettingError(f"faults: expected a dict of settings, got {type(data).__name__}")
    try:
        return FaultConfig.model_validate(data or {})
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            where = ".".join(map(str, err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"{where}: {msg}" if where else msg)
        raise FaultSettingError("faults: " + "; ".join(parts)) from None


class FaultInjector:
    """Draws faults for generation requests from a seeded sequence; thread-safe."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> FaultConfig:
        """Replace the settings, restart the draw sequence from ``config.seed`` and zero the counts."""
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self.counts: Counter[str] = Counter()
        return config

    def update(self, **changes: object) -> FaultConfig:
        """Change some settings and restart the sequence; return the new settings.

        Raises:
            FaultSettingError: a setting is unknown or out of range.
        """
        return self.configure(parse_faults({**self.config.model_dump(), **changes}))

    def draw(self) -> FaultKind | None:
        """The fault for the next generation request, or None; counts every request."""
        with self._lock:
            cfg = self.config
            self.counts["requests"] += 1
            if not (cfg.rate_429 or cfg.rate_500 or cfg.rate_timeout or cfg.rate_cut):
                return None
            r = self._rng.random()
            edge = 0.0
            for kind, rate in (("429", cfg.rate_429), ("500", cfg.rate_500),
                               ("timeout", cfg.rate_timeout), ("cut", cfg.rate_cut)):
                edge += rate
                if r < edge:
                    self.counts[kind] += 1
                    return kind  # type: ignore[return-value]
            return None

    def state(self) -> dict[str, object]:
        """Settings plus counts of requests and of each fault injected since the last change."""
        with self._lock:
            return {**self.config.model_dump(), "counts": dict(self.counts)}
