"""Helpers for the lock tests: a fake monotonic clock and a direct read of the lock item."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from envpromote.config import LockSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 60


class FakeClock:
    """A monotonic clock that only moves when the lock sleeps; each sleep runs the test's callbacks first,
    so 'what the other side does while we wait' happens at an exact point, not after a real delay."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept = 0.0
        self.on_sleep: list[Callable[[FakeClock], None]] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        for callback in list(self.on_sleep):
            callback(self)
        self.now += seconds
        self.slept += seconds


def item(dynamodb: Any, settings: LockSettings, env: str = "dev") -> dict[str, Any] | None:
    found: dict[str, Any] | None = dynamodb.get_item(
        TableName=settings.table, Key={"lock_id": {"S": env}}, ConsistentRead=True
    ).get("Item")
    return found
