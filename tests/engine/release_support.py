"""Helpers shared by the release-engine tests: approvals, releasing a fresh image, running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from engine_support import REPO_ROOT, push_test_image, record_clean_build

from envpromote import release

YES = release.Approval(approver="alice", assume_yes=True)
NO_APPROVAL = release.Approval()


def deployed(ctx: release.Context, scenario: str = "healthy:0.3") -> str:
    """Push a fresh image with a clean scan, deploy it to dev and return its digest."""
    digest = push_test_image(scenario)
    record_clean_build(ctx, digest)
    release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)
    return digest


def promoted_to_staging(ctx: release.Context, scenario: str = "healthy:0.3") -> str:
    digest = deployed(ctx, scenario)
    release.execute(ctx, release.plan_promote(ctx, "staging", digest, approval=NO_APPROVAL), timeout=60)
    return digest


def cli_environment(**extra: str) -> dict[str, str]:
    """This process's environment (pointed at the sandbox) without the variables that change the CLI's mode."""
    dropped = {"GITHUB_ACTIONS", "ENVPROMOTE_DIGEST", "ENVPROMOTE_APPROVED_VIA"}
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` from the repository root, stdin closed, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=cli_environment(**(env or {})),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def config_with(tmp_path: Path, section: str, key: str, value: str) -> Path:
    """A copy of the shipped envpromote.toml with one key of one table changed (paths stay absolute)."""
    text = (REPO_ROOT / "envpromote.toml").read_text(encoding="utf-8")
    head, marker, tail = text.partition(f"[{section}]\n")
    assert marker, f"no [{section}] table in envpromote.toml"
    lines = tail.split("\n")
    index = next(i for i, line in enumerate(lines) if line.split("=")[0].strip() == key)
    lines[index] = f"{key} = {value}"
    text = head + marker + "\n".join(lines)
    text = text.replace('template = "templates/', f'template = "{REPO_ROOT}/templates/', 1)
    path = tmp_path / "envpromote.toml"
    path.write_text(text, encoding="utf-8")
    return path


def settled(ctx: release.Context, env_name: str, limit_s: float = 60) -> None:
    """Wait until ECS has no rollout in progress in the environment (its own rollback included), so a state
    snapshot taken next compares state that no simulation is moving."""
    env = ctx.config.env(env_name)
    ecs = ctx.env_client(env, "ecs")
    deadline = time.monotonic() + limit_s
    while True:
        service = ecs.describe_services(cluster=env.cluster, services=[env.service])["services"][0]
        if release.busy_deployment(service) is None:
            return
        assert time.monotonic() < deadline, f"{env_name} still has a rollout in progress after {limit_s:.0f}s"
        time.sleep(0.2)
