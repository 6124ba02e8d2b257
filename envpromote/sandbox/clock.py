"""The sandbox's one clock: every simulated rollout and every ECS timestamp the sandbox reports reads it.

Sandbox time runs at ``scale`` x real time (``ENVPROMOTE_SANDBOX_TIME_SCALE``, ``serve(time_scale=...)``) and
can be moved forward on demand (``advance``). ``scale=0`` freezes it: then only ``advance`` moves it, which is
how a test steps a rollout through its phases deterministically. Sandbox time never runs backwards, so
timestamps stay ordered across scale changes, advances and resets.

* ``now()``  seconds on the sandbox's timeline (a monotonic clock, zero when the server started)
* ``wall()`` the UTC datetime for ``now()``: the server's start time plus sandbox seconds (createdAt, events)

The engine's own waiting (poll intervals, deadlines) keeps using real time: it must work against real AWS.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

TIME_SCALE_ENV = "ENVPROMOTE_SANDBOX_TIME_SCALE"
MAX_SCALE = 1000.0
MAX_ADVANCE_S = 7 * 24 * 3600.0


class ClockError(ValueError):
    """A bad scale or advance (negative, not a number, too large)."""


def _bounded(value: Any, maximum: float, *, not_a_number: str, out_of_range: str) -> float:
    """`value` as a finite number from 0 to `maximum` (a bool is not a number); raise ClockError otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ClockError(not_a_number) from None
    if isinstance(value, bool) or not math.isfinite(number) or not 0 <= number <= maximum:
        raise ClockError(out_of_range)
    return number


def parse_scale(value: Any, *, source: str = "time scale") -> float:
    """A time scale: a finite number from 0 (frozen) to MAX_SCALE; raise ClockError otherwise."""
    problem = f"{source} must be a number from 0 to {MAX_SCALE:g}, got {value!r}"
    return _bounded(value, MAX_SCALE, not_a_number=problem, out_of_range=problem)


def scale_from_env(default: float = 1.0) -> float:
    raw = os.environ.get(TIME_SCALE_ENV, "").strip()
    return parse_scale(raw, source=TIME_SCALE_ENV) if raw else default


class SandboxClock:
    """Scaled, advanceable, monotonic sandbox time; thread-safe."""

    def __init__(
        self,
        scale: float = 1.0,
        *,
        real: Callable[[], float] = time.monotonic,
        epoch: datetime | None = None,
    ) -> None:
        self._real = real
        self._lock = threading.Lock()
        self._default_scale = parse_scale(scale)
        self._scale = self._default_scale
        self._base_real = real()  # real time at which `_base` sandbox seconds were reached
        self._base = 0.0
        self._advanced = 0.0
        self.epoch = epoch or datetime.now(UTC)

    @property
    def scale(self) -> float:
        with self._lock:
            return self._scale

    @property
    def default_scale(self) -> float:
        return self._default_scale

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        return self._base + (self._real() - self._base_real) * self._scale

    def wall(self, at: float | None = None) -> datetime:
        return self.epoch + timedelta(seconds=self.now() if at is None else at)

    def set_scale(self, scale: float) -> None:
        """Change the speed from now on (sandbox time reached so far is kept)."""
        scale = parse_scale(scale)
        with self._lock:
            self._base = self._now_locked()
            self._base_real = self._real()
            self._scale = scale

    def advance(self, seconds: float) -> float:
        """Jump `seconds` forward; returns the new ``now()``."""
        step = _bounded(
            seconds,
            MAX_ADVANCE_S,
            not_a_number=f"advance must be a number of seconds, got {seconds!r}",
            out_of_range=f"advance must be from 0 to {MAX_ADVANCE_S:g} seconds, got {seconds!r}",
        )
        with self._lock:
            self._base += step
            self._advanced += step
            return self._now_locked()

    def reset_scale(self) -> None:
        """Back to the speed the server was started with (a reset never rewinds time)."""
        self.set_scale(self._default_scale)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            now = self._now_locked()
            scale, advanced = self._scale, self._advanced
        return {
            "now": round(now, 6),
            "wall": (self.epoch + timedelta(seconds=now)).isoformat(),
            "scale": scale,
            "default_scale": self._default_scale,
            "advanced": round(advanced, 6),
        }
