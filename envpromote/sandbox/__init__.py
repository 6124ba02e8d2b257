"""The local AWS sandbox: moto's server on 127.0.0.1 plus EnvPromote's ECS rollout simulation.

Python API (used by ``invoke sandbox.*``, ``invoke demo``, the tests and the benchmarks)::

    info = ensure_running("envpromote.toml")      # start (or find) the server and provision the chain
    os.environ.update(client_env(info.url))        # point boto3 at it
    set_faults(info.url, throttle={"ecs": 0.5})    # inject faults; reset(info.url) clears everything
    move_clock(info.url, advance=5)                # sandbox time: scale / advance / settle (clock.py)

The server itself is ``python -m envpromote.sandbox serve`` (see ``server.py``); the simulation is in
``simulation.py`` and the scenarios in ``scenarios.py``.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

from envpromote.errors import BadInput
from envpromote.sandbox.process import (
    SandboxInfo,
    client_env,
    clock,
    get_faults,
    move_clock,
    patched_env,
    requests,
    reset,
    running,
    set_faults,
    start,
    state_dir_for,
    stop,
    timeline,
)

__all__ = [
    "SandboxInfo",
    "client_env",
    "clock",
    "ensure_running",
    "get_faults",
    "move_clock",
    "provision",
    "requests",
    "reset",
    "running",
    "set_faults",
    "shutdown",
    "state_dir_for",
    "status",
    "timeline",
]


def provision(url: str, config_path: str | Path | None = None) -> dict[str, Any]:
    """Create the chain's resources in the sandbox at `url` (idempotent)."""
    from envpromote.config import load_config
    from envpromote.sandbox.provisioning import provision as _provision

    cfg = load_config(config_path)
    with patched_env(client_env(url, cfg.registry.region)):
        return _provision(cfg=cfg)


def ensure_running(
    config_path: str | Path | None = None,
    *,
    port: int = 0,
    state_dir: Path | None = None,
    provision_chain: bool = True,
) -> SandboxInfo:
    """The running sandbox for this config (started if needed), provisioned from the config."""
    from envpromote.config import config_path as resolve_config
    from envpromote.config import load_config

    path = resolve_config(config_path)
    load_config(
        path
    )  # a missing or invalid config is exit 2 here, before a server starts that could never provision
    state = state_dir or state_dir_for(path)
    state.mkdir(parents=True, exist_ok=True)
    with (state / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two concurrent 'up's start one server, not two
        info = running(state)
        if info is not None and port and info.port != port:
            raise BadInput(
                f"The sandbox is already running on port {info.port}, not {port}.",
                fix="Use it as it is, or run 'invoke sandbox.down' first.",
            )
        info = info or start(path, port=port, state_dir=state)
    if provision_chain:
        provision(info.url, path)
    return info


def shutdown(config_path: str | Path | None = None, *, state_dir: Path | None = None) -> int | None:
    """Stop the sandbox started for this config; returns the pid stopped (None if nothing ran)."""
    from envpromote.config import config_path as resolve_config

    return stop(state_dir or state_dir_for(resolve_config(config_path)))


def status(config_path: str | Path | None = None, *, state_dir: Path | None = None) -> dict[str, Any]:
    """{"running", "endpoint", "pid", "resources", "faults", "listeners"} for the sandbox of this config."""
    from envpromote.config import config_path as resolve_config
    from envpromote.config import load_config
    from envpromote.sandbox.provisioning import describe_resources

    path = resolve_config(config_path)
    info = running(state_dir or state_dir_for(path))
    if info is None:
        return {"running": False, "endpoint": None, "pid": None, "resources": {}}
    cfg = load_config(path)
    with patched_env(client_env(info.url, cfg.registry.region)):
        resources = describe_resources(path)
    faults = get_faults(info.url)
    return {
        "running": True,
        "endpoint": info.url,
        "pid": info.pid,
        "resources": resources,
        "faults": faults,
        "listeners": listener_summary(info.url),
    }


def listener_summary(url: str) -> list[dict[str, Any]]:
    """Per service its test and production listener URLs and the requests each revision served there."""
    from envpromote.sandbox.listeners import listeners

    return [
        {
            "cluster": s["cluster"],
            "service": s["service"],
            "test": s["listeners"]["test"]["url"],
            "production": s["listeners"]["production"]["url"],
            "requests": s.get("requests", {}),
        }
        for s in listeners(url)
    ]
