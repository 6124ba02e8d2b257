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
        return process.timeline(self.url, cluster, service)
