"""The lock and signals: whatever interrupts a release, its record is written and the lock released."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_support import REPO_ROOT, push_test_image, record_clean_build
from release_support import cli_environment

from envpromote import release
from envpromote.errors import EnvironmentLocked
from envpromote.lock import EnvironmentLock, Holder


class FakeClock:
    """The lock's monotonic clock and sleep for one Context: sleeping advances time at once (no real wait)."""

    def __init__(self, on_sleep: Callable[[], None] | None = None) -> None:
        self.now = 1000.0
        self.slept = 0.0
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def _other_runner(ctx: release.Context, *, heartbeat: bool = False) -> EnvironmentLock:
    """Another machine's lock client (its own clock; no heartbeat thread: the test beats for it, or not)."""
    dynamodb = ctx.clients(ctx.config.lock.region).client("dynamodb")
    return EnvironmentLock(dynamodb, ctx.config.lock, heartbeat=heartbeat)


def test_expired_lease_is_taken_over(make_context, config) -> None:
    clock = FakeClock()
    lines: list[str] = []
    ctx = make_context(lock_monotonic=clock.monotonic, lock_sleep=clock.sleep)
    ctx.out = lines.append
    digest = push_test_image("healthy:0.5")
    record_clean_build(ctx, digest)
    plan = release.plan_deploy(ctx, "dev", digest)
    crashed_lock = _other_runner(ctx)
    crashed = crashed_lock.acquire("dev", Holder("crashed-runner", "deploy", run="41"), lease_seconds=60)
    # waits one lease on its own (fake) clock, then takes over
    result = release.execute(ctx, plan, timeout=60)
    assert result.record is not None
    assert result.record["status"] == "success"
    assert 60 <= clock.slept < 70, "taken over after exactly one lease without a heartbeat, not earlier"
    assert any("took over the dev lock from crashed-runner" in line for line in lines)
    assert not crashed_lock.heartbeat(crashed), "the crashed holder's version is gone: it cannot renew"
    assert crashed.lost
    assert ctx.lock().holder("dev") is None


def test_lock_contention_names_the_holder(make_context, config, aws_state) -> None:
    other = [None]  # the live holder's (lock, lease), beating whenever the waiter looks again

    def beat() -> None:
        lock, lease = other[0]  # type: ignore[misc]
        assert lock.heartbeat(lease)

    clock = FakeClock(on_sleep=beat)
    ctx = make_context(lock_monotonic=clock.monotonic, lock_sleep=clock.sleep)
    digest = push_test_image("healthy:0.5")
    record_clean_build(ctx, digest)
    plan = release.plan_deploy(ctx, "dev", digest)
    bob_lock = _other_runner(ctx)
    bob = bob_lock.acquire("dev", Holder("bob", "promote", pid=4242))
    other[0] = (bob_lock, bob)  # type: ignore[call-overload]
    before = aws_state.snapshot()
    with pytest.raises(EnvironmentLocked, match="locked by bob") as info:
        release.execute(ctx, plan, timeout=30)
    assert info.value.exit_code == 8
    assert info.value.fix
    assert "its heartbeat is alive" in info.value.message
    assert clock.slept < 60, "a live holder is recognised at its first heartbeat, not after a lease"
    assert aws_state.snapshot() == before, "no intent, no registration, the lock still bob's"
    assert bob_lock.release(bob)
    assert release.execute(ctx, plan, timeout=60).record["status"] == "success"  # type: ignore[index]


def _clock_jumps_at(prefix: str) -> tuple[FakeClock, Callable[[str], None]]:
    """A lock clock that jumps a whole lease ahead when the engine prints a line starting with `prefix`: as if
    no heartbeat had succeeded for a lease (DynamoDB unreachable, a frozen VM)."""
    clock = FakeClock()

    def out(line: str) -> None:
        if line.startswith(prefix):
            clock.now += 61

    return clock, out


def test_lease_lost_before_registering_stops_the_run(make_context, config) -> None:
    clock, out = _clock_jumps_at("intent recorded")
    ctx = make_context(lock_monotonic=clock.monotonic, lock_sleep=clock.sleep)
    ctx.out = out
    digest = push_test_image("healthy:0.5")
    record_clean_build(ctx, digest)
    plan = release.plan_deploy(ctx, "dev", digest)
    env = config.env("dev")
    ecs = ctx.env_client(env, "ecs")
    revisions = ecs.list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"]
    with pytest.raises(EnvironmentLocked, match="no longer ours") as info:
        release.execute(ctx, plan, timeout=60)
    assert info.value.exit_code == 8
    assert ecs.list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"] == revisions
    intent, final = ctx.ledger().history("dev")[-2:]
    assert intent["status"] == "in_progress"
    assert final["resolves"] == intent["record_id"]
    assert final["status"] == "aborted"
    assert "no longer ours" in final["reasons"][-1]
    assert ctx.ledger().unresolved_intents("dev") == []


def test_lease_lost_after_the_update_is_in_the_record(make_context, config) -> None:
    clock, out = _clock_jumps_at("watching deployment")
    ctx = make_context(lock_monotonic=clock.monotonic, lock_sleep=clock.sleep)
    ctx.out = out
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    result = release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)
    assert result.record is not None
    assert result.record["status"] == "success", "ECS decided; that stands"
    assert "the dev lock was lost during the run" in result.record["reasons"][-1]


def _wait_for(condition: object, limit_s: float, what: str) -> None:
    """Wait on observable state (not on time): poll `condition` until it holds or the limit passes."""
    deadline = time.monotonic() + limit_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_second_signal_while_recording_still_records_and_unlocks(
    ctx: release.Context, sandbox, tmp_path: Path
) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "invoke",
            "deploy",
            "--env",
            "dev",
            "--digest",
            digest,
            "--records-dir",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        env=cli_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "watching deployment" not in proc.stderr.readline():
        pass
    sandbox.set_faults(latency_s={"s3": 1.5})  # the ledger write now takes seconds
    proc.send_signal(signal.SIGINT)
    # The draft is kept locally first, inside the deferred-signal block, then sent (slowly) to the ledger:
    # once it is on disk the second signal lands while the record is being written.
    pending = tmp_path / "pending"
    _wait_for(lambda: pending.is_dir() and any(pending.glob("*.json")), 60, "the kept draft")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=90)
    sandbox.clear_faults()
    assert proc.returncode == 130
    assert ctx.ledger().history("dev")[-1]["status"] == "aborted"
    assert ctx.lock().holder("dev") is None
    assert not any(pending.glob("*.json")), "the record reached the ledger"
