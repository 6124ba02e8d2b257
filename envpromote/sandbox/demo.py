"""The main job on the local sandbox: the whole delivery chain, run as the real `invoke` commands.

Every step is the command a user (or a workflow) would type, run as a subprocess against the sandbox's
endpoint, and checked against the exit code it should give - including the ones that must fail: a
circuit-breaker rollout (5) and a gate refusal (3). The demo fails if any step's exit code differs.

The story stays short (under 150 lines): each step shows its command, the lines that say what happened
(outcome, reasons, refusals, history rows) and a count of what was left out (task-definition diffs, progress);
``verbose`` prints every line. Part of the sandbox, not of the product: the product never imports it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envpromote.errors import EXIT_GATE_REFUSED, EXIT_OK, EXIT_ROLLED_BACK, PreflightFailed

HEALTHY = "healthy:3"
BROKEN = "circuit-breaker:3:10"


# The sandbox's lock lease is 60 s (envpromote.toml); the watch must fit inside it.
STEP_TIMEOUT_S = 50

# Lines of a step's output that tell the story; everything else is counted, and shown with --verbose.
KEY_LINE = re.compile(
    r"^\s*(success|failed|rolled_back|timed_out|aborted|no-op|reason:|envpromote: |ok: (upstream|scan)|"
    r"approver:|\s*#|\s*\d+\s+20\d\d-|records checked|[\w-]+: running |[\w-]+: ledger's last success)"
)
DIFF_LINE = re.compile(r"^(\+|-|@@|---|\+\+\+)")


def summarise(output: str, *, limit: int = 6) -> list[str]:
    """Pure: the key lines of a step's output (at most `limit`) and one line counting the rest."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    if len(lines) <= 2:  # a short answer is the story
        return lines
    key = [line for line in lines if KEY_LINE.match(line)]
    shown = key[:limit]
    diff = sum(1 for line in lines if DIFF_LINE.match(line) and line not in key)
    rest = len(lines) - len(shown) - diff
    hidden = [f"{diff} task-definition diff lines"] if diff else []
    if rest > 0:
        hidden.append(f"{rest} other lines")
    if hidden:
        shown.append(f"   ({', '.join(hidden)} not shown; --verbose shows them)")
    return shown


@dataclass
class StepResult:
    title: str
    command: list[str]
    expected: int
    exit_code: int
    seconds: float
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == self.expected


@dataclass
class Demo:
    repo_root: Path
    env: dict[str, str]
    config: str
    out: Callable[[str], None] = print
    timeout: int = STEP_TIMEOUT_S
    verbose: bool = False
    results: list[StepResult] = field(default_factory=list)

    def run(
        self,
        title: str,
        args: Sequence[str],
        *,
        expected: int = EXIT_OK,
        capture: bool = False,
        whole: bool = False,
    ) -> StepResult:
        """Run one command; `whole`: its output is the story (a table), shown in full."""
        command = [sys.executable, "-m", "invoke", *args]
        shown = "invoke " + " ".join(a if len(a) < 40 else a[:19] + "..." for a in args)
        self.out(f"\n== {title}\n$ {shown}")
        started = time.monotonic()
        completed = subprocess.run(
            command,
            cwd=self.repo_root,
            env={**self.env, "ENVPROMOTE_CONFIG": self.config},
            capture_output=True,
            text=True,
            check=False,
            timeout=self.timeout + 120,
        )
        result = StepResult(
            title,
            list(args),
            expected,
            completed.returncode,
            time.monotonic() - started,
            completed.stdout or "",
        )
        told = completed.stderr if capture else completed.stdout + completed.stderr
        if self.verbose or whole:
            self.out(told.rstrip())
        elif not result.ok:
            self.out("\n".join(told.rstrip().splitlines()[-15:]))
        else:
            for line in summarise(told):
                self.out(line)
        verdict = "as expected" if result.ok else f"UNEXPECTED (wanted {expected})"
        self.out(f"-> exit {result.exit_code} {verdict} in {result.seconds:.1f}s")
        self.results.append(result)
        return result

    def build(self, tag: str, scenario: str) -> str:
        result = self.run(
            f"Build the app once (sandbox scenario {scenario})",
            ["sandbox.build", "--tag", tag, "--scenario", scenario, "--json"],
            capture=True,
        )
        if not result.ok:
            raise PreflightFailed(
                "The build failed; see its output above.", fix="Run 'invoke build' by itself."
            )
        build = json.loads(result.stdout)
        self.out(f"   digest {build['digest']}")
        report = self.repo_root / ".envpromote" / f"scan-{tag}.json"
        scan = self.run(
            "Scan the image offline (config, secrets, SBOM; no vulnerability DB here, so PARTIAL)",
            ["scan", "--image", build["oci_layout"], "--offline", "--json"],
            capture=True,
        )
        report.write_text(scan.stdout)
        self.run(
            "Record the build and its scan in the ledger",
            ["ledger.record-build", "--digest", build["digest"], "--scan-json", str(report)],
        )
        return str(build["digest"])

    def release(self, title: str, args: Sequence[str], expected: int = EXIT_OK) -> None:
        self.run(title, [*args, "--timeout", str(self.timeout)], expected=expected)


def run_demo(
    repo_root: Path,
    config: str,
    env: dict[str, str],
    *,
    out: Callable[[str], None] = print,
    verbose: bool = False,
) -> list[StepResult]:
    demo = Demo(repo_root=repo_root, env=env, config=config, out=out, verbose=verbose)
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    first = demo.build(f"demo-{stamp}-1", HEALTHY)
    demo.release("Deploy it to dev (the entry environment)", ["deploy", "--env", "dev", "--digest", first])
    demo.release(
        "Promote dev's last success to staging (gate: success in dev, scan)", ["promote", "--env", "staging"]
    )
    demo.release(
        "Promote to production (approval required: given with --yes --approver)",
        ["promote", "--env", "production", "--yes", "--approver", "demo"],
    )
    second = demo.build(f"demo-{stamp}-2", "healthy:2")
    demo.release("Deploy a second healthy build to dev", ["deploy", "--env", "dev", "--digest", second])
    broken = demo.build(f"demo-{stamp}-3", BROKEN)
    demo.release(
        "Deploy a build whose tasks crash: the circuit breaker fails it, envpromote reports it at once",
        ["deploy", "--env", "dev", "--digest", broken],
        expected=EXIT_ROLLED_BACK,
    )
    demo.release(
        "Try to promote the broken digest to staging: the gate refuses, nothing changes",
        ["promote", "--env", "staging", "--digest", broken],
        expected=EXIT_GATE_REFUSED,
    )
    wait_until_idle(config, "dev", env, out=out)
    demo.release(
        "Roll dev back to the last known-good release before the one running (from the ledger)",
        ["rollback", "--env", "dev"],
    )
    demo.run("History of dev", ["history", "--env", "dev", "--limit", "5"], whole=True)
    demo.run("Verify the ledger's hash chain and schema", ["ledger.verify"])
    demo.run(
        "Every environment at a glance: running digests, last records, locks, drift",
        ["status", "--check"],
        whole=True,
    )
    demo.run(
        "Render the release board: open .envpromote/board/index.html in a browser",
        ["board", "--out", ".envpromote/board"],
    )
    return demo.results


def wait_until_idle(
    config: str, env_name: str, aws_env: dict[str, str], *, out: Callable[[str], None], limit_s: float = 60.0
) -> None:
    """Wait for ECS to finish its own rollback before ours (a rollout in progress fails preflight, exit 4)."""
    from envpromote.aws import ClientFactory
    from envpromote.config import load_config
    from envpromote.release import busy_deployment
    from envpromote.sandbox.process import patched_env

    env = load_config(config).env(env_name)
    out(f"\n== Waiting for ECS to finish rolling {env_name} back by itself")
    deadline = time.monotonic() + limit_s
    with patched_env({k: v for k, v in aws_env.items() if k.startswith("AWS_")}):
        ecs = ClientFactory(env.region).client("ecs")
        while time.monotonic() < deadline:
            service = ecs.describe_services(cluster=env.cluster, services=[env.service])["services"][0]
            if busy_deployment(service) is None:  # what the next command's preflight checks
                out(f"-> {env_name} is idle again")
                return
            time.sleep(2)
    out(f"-> {env_name} still busy after {limit_s:.0f}s")


def demo_environment(url: str, client_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(client_env)
    env.pop("GITHUB_ACTIONS", None)
    return env
