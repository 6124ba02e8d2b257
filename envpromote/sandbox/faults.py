"""Fault injection for the sandbox server: throttling, dropped connections, lost or delayed events.

Controlled at runtime through ``POST /envpromote-sandbox/faults`` (JSON, see ``FaultSettings.parse``) and
read back with ``GET`` together with counters of what was injected. ``/moto-api/reset`` clears it.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class FaultSpecError(ValueError):
    """A fault request that does not validate; the message says which key and what is allowed."""


def _fraction(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultSpecError(f"{key} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _per_service(value: Any, key: str) -> dict[str, float]:
    """A share for every service ({"ecs": 0.5, "s3": 0.5}) or one number for all ("*")."""
    if isinstance(value, dict):
        return {str(name).lower(): _fraction(share, f"{key}.{name}") for name, share in value.items()}
    return {"*": _fraction(value, key)}


def _latencies(value: Any) -> dict[str, float]:
    """Seconds added before answering, per service ({"ecs": 35} outlasts botocore's 30 s read timeout)."""
    raw = value if isinstance(value, dict) else {"*": value}
    result = {}
    for name, seconds in raw.items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 300:
            raise FaultSpecError(
                f"latency_s.{name} must be a number of seconds from 0 to 300, got {seconds!r}"
            )
        result[str(name).lower()] = float(seconds)
    return result


@dataclass
class FaultSettings:
    throttle: dict[str, float] = field(default_factory=dict)
    drop_connections: dict[str, float] = field(default_factory=dict)
    latency_s: dict[str, float] = field(default_factory=dict)
    event_loss: float = 0.0
    event_delay_s: float = 0.0
    seed: int | None = None

    ALLOWED = frozenset({"throttle", "drop_connections", "latency_s", "event_loss", "event_delay_s", "seed"})

    @classmethod
    def parse(cls, payload: Any) -> FaultSettings:
        if not isinstance(payload, dict):
            raise FaultSpecError("the fault settings must be a JSON object")
        unknown = sorted(set(payload) - cls.ALLOWED)
        if unknown:
            raise FaultSpecError(f"unknown fault setting(s) {unknown}; allowed: {sorted(cls.ALLOWED)}")
        delay = payload.get("event_delay_s", 0.0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 300:
            raise FaultSpecError(f"event_delay_s must be a number of seconds from 0 to 300, got {delay!r}")
        seed = payload.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultSpecError(f"seed must be an integer, got {seed!r}")
        return cls(
            throttle=_per_service(payload.get("throttle", {}), "throttle"),
            drop_connections=_per_service(payload.get("drop_connections", {}), "drop_connections"),
            latency_s=_latencies(payload.get("latency_s", {})),
            event_loss=_fraction(payload.get("event_loss", 0.0), "event_loss"),
            event_delay_s=float(delay),
            seed=seed,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "throttle": dict(self.throttle),
            "drop_connections": dict(self.drop_connections),
            "latency_s": dict(self.latency_s),
            "event_loss": self.event_loss,
            "event_delay_s": self.event_delay_s,
            "seed": self.seed,
        }


class FaultState:
    """The active settings plus counters; thread-safe (werkzeug serves each request on its own thread)."""

    def __init__(self) -> None:
        self.settings = FaultSettings()
        self.counters: Counter[str] = Counter()
        self._rng = random.Random()  # noqa: S311 - fault injection, not security
        self._lock = threading.Lock()

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = settings
            if settings.seed is not None:
                self._rng.seed(settings.seed)

    def reset(self) -> None:
        with self._lock:
            self.settings = FaultSettings()
            self.counters.clear()

    def _count(self, event: str, service: str) -> None:
        """One more `event` (throttled, dropped, delayed): for `service` and in all. Called under the lock."""
        self.counters[f"{event}.{service}"] += 1
        self.counters[event] += 1

    def _roll(self, shares: dict[str, float], service: str) -> bool:
        share = shares.get(service, shares.get("*", 0.0))
        return share > 0 and self._rng.random() < share

    def should_throttle(self, service: str, scenario_share: float = 0.0) -> bool:
        """Throttle this request? `scenario_share` comes from a running ``throttle:<fraction>`` rollout."""
        with self._lock:
            hit = self._roll(self.settings.throttle, service)
            if not hit and service == "ecs" and scenario_share > 0:
                hit = self._rng.random() < scenario_share
                if hit:
                    self.counters["throttled_by_scenario"] += 1
            if hit:
                self._count("throttled", service)
            return hit

    def should_drop(self, service: str) -> bool:
        with self._lock:
            hit = self._roll(self.settings.drop_connections, service)
            if hit:
                self._count("dropped", service)
            return hit

    def latency(self, service: str) -> float:
        with self._lock:
            seconds = self.settings.latency_s.get(service, self.settings.latency_s.get("*", 0.0))
            if seconds > 0:
                self._count("delayed", service)
            return seconds

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"settings": self.settings.to_json(), "counters": dict(self.counters)}
