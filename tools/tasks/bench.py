"""Benchmark tasks: ``invoke bench.rollout`` (the logic lives in bench/rollout/, this only runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context as InvokeContext
from invoke.exceptions import Exit
from invoke.tasks import Task, task

from envpromote.errors import BadInput
from envpromote.tasks._common import handle_errors

ROOT = Path(__file__).resolve().parents[2]
ROLLOUT_BENCH = ROOT / "bench" / "rollout" / "run_bench.py"


def rollout_command(
    *, json: bool, runs: int, scenarios: str, tools: str, timeout: float, out: str
) -> list[str]:
    """The bench/rollout/run_bench.py command line for these options (pure)."""
    command = [sys.executable, str(ROLLOUT_BENCH), "--runs", str(runs), "--timeout", f"{timeout:g}"]
    if json:
        command.append("--json")
    if scenarios:
        command += ["--scenarios", scenarios]
    if tools:
        command += ["--tools", tools]
    if out:
        command += ["--out", out]
    return command


@task(
    help={
        "json": "One JSON object per (scenario, tool) line instead of a Markdown table.",
        "runs": "Runs per (scenario, tool); the medians are reported (default 3).",
        "scenarios": "Comma-separated, e.g. healthy:5,circuit-breaker:5:20,stuck,circuit-breaker:5:20+loss:0.3.",
        "tools": "Comma-separated subset of envpromote-events,envpromote-poll,ecs-deploy,aws-wait.",
        "timeout": "Every tool's own rollout timeout in seconds (default 60).",
        "out": "Also write the JSON lines to this file.",
    }
)
@handle_errors
def rollout(
    c: InvokeContext,
    json: bool = False,
    runs: int = 3,
    scenarios: str = "",
    tools: str = "",
    timeout: str = "60",
    out: str = "",
) -> None:
    """Time rollout watching (EnvPromote, ecs-deploy, aws ecs wait) on sandbox scenarios; count API calls."""
    if not ROLLOUT_BENCH.exists():
        raise BadInput(f"{ROLLOUT_BENCH} is missing.", fix="Run from a full checkout of the repository.")
    try:
        seconds = float(timeout)
    except ValueError:
        raise BadInput(
            f"--timeout {timeout!r} is not a number of seconds.", fix="Pass --timeout 60."
        ) from None
    command = rollout_command(
        json=json, runs=runs, scenarios=scenarios, tools=tools, timeout=seconds, out=out
    )
    code = subprocess.run(command, cwd=ROOT, check=False).returncode
    if code:
        raise Exit(code=code)


ROOT_TASKS: list[Task[Any]] = []
COLLECTIONS: dict[str, Collection] = {"bench": Collection(rollout)}
