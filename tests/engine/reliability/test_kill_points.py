"""SIGKILL at every step of a promotion, then the next command: nothing is lost, the release is reconciled.

Real `invoke` processes against the sandbox's server. No sleeps to hit a window: each kill is triggered by a
line the engine prints, or by state the test observes (the lock item, a kept draft), while the call after it is
held by the sandbox's latency fault. After the kill, the next command on the environment (a deploy of another
digest, by another "runner" with its own records directory unless the kill point is about a kept record) must
take over the dead run's lock after one lease, reconcile its intent from ECS and deploy. Counts go to
$ENVPROMOTE_RELIABILITY_REPORT (kill points tried, releases reconciled, records lost, locks stranded).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.cli import spawn_invoke
from support.configs import config_variant
from support.engine import push_test_image, record_clean_build
from support.paths import REPO_ROOT

from envpromote import release as usecases
from envpromote.config import load_config
from envpromote.ledger import LocalRecords

LEASE_S = 5  # the shortest lease the config allows: the next command waits it (on its own clock) for the dead holder


def _report(name: str, **numbers: Any) -> None:
    path = os.environ.get("ENVPROMOTE_RELIABILITY_REPORT")
    if path:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": name, **numbers}) + "\n")


class Invoke:
    """An `invoke` process whose stdout and stderr lines are read by threads into one queue."""

    def __init__(self, *args: str) -> None:
        # PYTHONUNBUFFERED: the plan (stdout) arrives when printed, not at exit
        self.proc = spawn_invoke(*args, env={"PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, needle: str, limit_s: float = 90) -> None:
        deadline = time.monotonic() + limit_s
        ended = 0
        while ended < 2:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                ended += 1
                continue
            self.seen.append(line)
            if needle in line:
                return
        shown = "".join(line for line in self.seen if not line.startswith((" ", "+", "-", "@")))
        raise AssertionError(f"{needle!r} never appeared: {shown[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def _until(condition: Any, what: str, limit_s: float = 60) -> None:
    """Wait on observable state (not on time)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass(frozen=True)
class KillPoint:
    name: str
    hold: str | None  # the AWS service whose calls the sandbox holds from the trigger on
    hold_from: str  # the printed line after which the hold starts (stdout or stderr)
    kill_at: str  # the printed line, or "lock" (the lock item exists) / "kept" (a draft is kept locally)
    expect: str | None  # how the killed release ends in the ledger; None = it never wrote an intent
    options: tuple[str, ...] = ()
    # The rollout cannot conclude before the hold is in place: it is slow, and settled (sandbox time jumped to
    # its end) right after the hold starts. Otherwise a busy test process could set the hold after the
    # release had already finished writing.
    concludes_after_hold: bool = False


KILL_POINTS = [
    # planning is done ("replaces:"), S3 is held: killed after taking the lock, before the intent is written
    KillPoint("before-intent", "s3", "replaces:", "lock", None),
    # ECS is held from the plan on: the intent is in the ledger, nothing registered yet
    KillPoint("after-intent", "ecs", "replaces:", "intent recorded", "aborted"),
    # UpdateService has returned (the watch is starting)
    KillPoint("after-update-service", None, "", "watching deployment", "success"),
    # the watch has printed a poll's observation of our deployment still rolling out
    KillPoint("mid-watch", None, "", " IN_PROGRESS: running", "success", ("--watch", "poll")),
    # S3 held from the start of the watch: the final record is kept locally and being sent
    KillPoint(
        "during-final-write", "s3", "watching deployment", "kept", "success", concludes_after_hold=True
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.name for p in KILL_POINTS])
def test_sigkill_at_every_step_then_the_next_command_reconciles(
    point: KillPoint, sandbox: Any, make_context: Any, tmp_path: Path
) -> None:
    path = config_variant(tmp_path, lambda d: d["lock"].__setitem__("lease_seconds", LEASE_S))
    ctx: usecases.Context = make_context(config=load_config(path))
    ledger = ctx.ledger()
    # still rolling out when killed, or when the hold starts
    slow = point.kill_at in {"watching deployment", " IN_PROGRESS: running"} or point.concludes_after_hold
    first, second = push_test_image("slow:30" if slow else "healthy:0.3"), push_test_image("healthy:0.3")
    for digest in (first, second):
        record_clean_build(ctx, digest)
    before = len(ledger.history("dev"))
    killed_dir = tmp_path / "killed-runner"
    run = Invoke(
        "deploy",
        "--env",
        "dev",
        "--digest",
        first,
        "--config",
        str(path),
        "--records-dir",
        str(killed_dir),
        *point.options,
    )
    try:
        if point.hold is not None:
            if point.hold_from:
                run.wait_for(point.hold_from)
            sandbox.set_faults(latency_s={point.hold: 6})  # held well past the kill, drained soon after
            if point.concludes_after_hold:
                sandbox.settle()
        if point.kill_at == "lock":
            _until(lambda: ctx.lock().holder("dev") is not None, "the lock item")
        elif point.kill_at == "kept":
            pending = killed_dir / "pending"
            _until(lambda: pending.is_dir() and any(pending.glob("*.json")), "the kept draft")
        else:
            run.wait_for(point.kill_at)
        run.kill()
    finally:
        if run.proc.poll() is None:
            run.kill()
        sandbox.clear_faults()
    assert run.proc.returncode == -signal.SIGKILL
    stranded = ctx.lock().holder("dev")
    assert stranded is not None, "SIGKILL left the lock behind (it is taken over, not released)"
    sandbox.settle()  # let ECS finish what the killed run started, so the next command can prove its outcome

    # The next command: another runner, unless the record to recover is kept on the killed runner's disk.
    next_dir = killed_dir if point.kill_at == "kept" else tmp_path / "next-runner"
    nxt = subprocess.run(
        [
            sys.executable,
            "-m",
            "invoke",
            "deploy",
            "--env",
            "dev",
            "--digest",
            second,
            "--config",
            str(path),
            "--records-dir",
            str(next_dir),
        ],
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if k not in {"GITHUB_ACTIONS", "ENVPROMOTE_DIGEST"}},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )
    assert nxt.returncode == 0, nxt.stderr[-3000:]
    assert "took over the dev lock" in nxt.stderr, "the dead holder's lock was taken over after one lease"

    history = ledger.history("dev")[before:]
    assert ledger.unresolved_intents("dev") == [], "every intent is resolved"
    assert ledger.verify(["dev"])[1] == [], "the chain is intact"
    killed = [r for r in history if r["digest"] == first]
    intents = [r for r in killed if r["status"] == "in_progress"]
    if point.expect is None:
        assert intents == [], "killed before the intent: nothing to reconcile"
        env = ctx.config.env("dev")
        ecs = ctx.env_client(env, "ecs")
        arns = ecs.list_task_definitions(familyPrefix=env.family, sort="DESC", maxResults=5)[
            "taskDefinitionArns"
        ]
        images = [
            c["image"]
            for arn in arns
            for c in ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"][
                "containerDefinitions"
            ]
        ]
        assert not any(first in image for image in images), "nothing was registered with the killed digest"
        reconciled = 0
    else:
        assert len(intents) == 1, killed
        resolutions = [r for r in killed if r.get("resolves") == intents[0]["record_id"]]
        assert resolutions, f"the killed {point.name} release was resolved: {killed}"
        assert resolutions[0]["status"] == point.expect, resolutions[0]["reasons"]
        if point.kill_at == "kept":
            assert resolutions[0]["kind"] == "deploy", "the kept final record was re-sent as the resolution"
        else:
            assert resolutions[0]["kind"] == "reconcile"
            assert resolutions[0]["reconciled_by"], "who reconciled it is recorded"
        reconciled = 1
    ours = [r for r in history if r["digest"] == second]
    assert [r["status"] for r in ours] == ["in_progress", "success"]
    assert ctx.lock().holder("dev") is None
    assert LocalRecords(next_dir).pending() == []
    _report(
        f"kill-{point.name}",
        kill_points=1,
        releases_reconciled=reconciled,
        records_lost=0,
        locks_stranded_beyond_one_lease=0,
    )
