"""Run the real ``invoke`` CLI (the repository's tasks) in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.paths import REPO_ROOT

# Set by CI or a developer's shell; a test run must not inherit them.
ALWAYS_DROPPED = ("ENVPROMOTE_DIGEST", "GITHUB_ACTIONS")


def run_invoke(
    *args: str,
    cwd: Path = REPO_ROOT,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    drop_env: tuple[str, ...] = (),
    drop_prefixes: tuple[str, ...] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m invoke --search-root REPO_ROOT *args`` in `cwd`; never raises on a non-zero exit.

    `config` sets ENVPROMOTE_CONFIG; `env` adds variables; `drop_env` / `drop_prefixes` remove inherited ones
    (e.g. ``drop_prefixes=("AWS_",)`` so the CLI does not reach the test session's sandbox).
    """
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in drop_env and k not in ALWAYS_DROPPED and not k.startswith(drop_prefixes)
    }
    if config is not None:
        environ["ENVPROMOTE_CONFIG"] = str(config)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def spawn_invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m invoke *args`` from the repository root, started and not waited for (signals, kills): text
    stdout and stderr piped, stdin closed, the test session's environment minus ALWAYS_DROPPED, plus `env`."""
    environ = {k: v for k, v in os.environ.items() if k not in ALWAYS_DROPPED}
    environ.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
