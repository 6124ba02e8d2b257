"""The objects the pytest fixtures in tests/conftest.py hand out (importable, for type hints and helpers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envpromote.sandbox import process


@dataclass
class SandboxServer:
    url: str
    pid: int
    state_dir: Path
    env: dict[str, str]


@dataclass
class Sandbox:
    """A clean, provisioned sandbox for one test."""

    url: str
    config_path: Path
    resources: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        """Clear everything (resources, rollouts, faults). Call provision() to get the chain back."""
        process.reset(self.url)
        self.resources = {}

    def provision(self, config_path: str | Path | None = None) -> dict[str, Any]:
        from envpromote.sandbox import provision

        if config_path is not None:
            self.config_path = Path(config_path)
        self.resources = provision(self.url, self.config_path)
        return self.resources

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace the fault settings: throttle={"ecs": 0.5}, drop_connections=0.2, event_loss=0.3, ..."""
        return process.set_faults(self.url, **settings)

    def clear_faults(self) -> dict[str, Any]:
        return process.set_faults(self.url)

    def faults(self) -> dict[str, Any]:
        """{"settings": ..., "counters": ...}: what is configured and how many faults were injected."""
        return process.get_faults(self.url)

    def requests(self, *, clear: bool = False) -> dict[str, Any]:
        """AWS requests the server received: {"total", "by_operation": {"ecs:DescribeServices": n}, "by_agent"}."""
        return process.requests(self.url, clear=clear)

    def timeline(self, cluster: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
        """Per service: {"entries": [...state changes...], "in_progress": [ids], "stuck": [ids], ...}."""
        return process.timeline(self.url, cluster, service)

    # -- the sandbox clock (reset() restores the server's default speed; time never runs backwards)
    def clock(self) -> dict[str, Any]:
        """{"now": sandbox seconds, "wall": ISO time, "scale", "default_scale", "advanced"}."""
        return process.clock(self.url)

    def freeze(self) -> dict[str, Any]:
        """Stop sandbox time: rollouts move only on advance()/settle(). For tests that talk to ECS directly;
        the engine's own waits are real-time and expect sandbox timestamps not to lag behind real time."""
        return process.move_clock(self.url, scale=0)

    def set_time_scale(self, scale: float) -> dict[str, Any]:
        """Run sandbox time at `scale` x real time (>= 1 keeps ECS timestamps at or ahead of real time)."""
        return process.move_clock(self.url, scale=scale)

    def advance(self, seconds: float) -> dict[str, Any]:
        """Jump sandbox time forward; every rollout step due by then has happened when this returns."""
        return process.move_clock(self.url, advance=seconds)

    def settle(self) -> float:
        """Jump sandbox time until no rollout is in progress (stuck ones excepted); returns that sandbox time.
        Use it before comparing AWS state that a simulated rollout could otherwise still be moving."""
        return float(process.move_clock(self.url, settle=True)["settled_at"])

    # -- the app's test and production listeners (listeners.py)
    def listeners(self, cluster: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
        """Per service: {"listeners": {"test"|"production": {"url", "port"}}, "routing", "requests"}."""
        from envpromote.sandbox.listeners import listeners

        return listeners(self.url, cluster, service)

    def listener_url(self, cluster: str, service: str, listener: str = "test") -> str:
        """``http://127.0.0.1:<port>`` of a service's "test" or "production" listener."""
        from envpromote.sandbox.listeners import listener_url

        return listener_url(self.url, cluster, service, listener)

    def clear_listener_counts(self) -> None:
        from envpromote.sandbox.listeners import clear_listener_counts

        clear_listener_counts(self.url)
