"""The sandbox clock: scaled, frozen and advanced sandbox time, ECS timestamps that follow it, settling.

The unit tests drive ``SandboxClock`` with a fake real-time source; the server tests use the control API.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from envpromote.errors import PreflightFailed
from envpromote.sandbox import process
from envpromote.sandbox.clock import ClockError, SandboxClock, parse_scale
from envpromote.sandbox.testing import Sandbox

CLUSTER = "envpromote-dev"
SERVICE = "envpromote-dev-web"


class FakeReal:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def test_scaled_time_runs_at_its_scale() -> None:
    real = FakeReal()
    clock = SandboxClock(10, real=real, epoch=EPOCH)
    assert clock.now() == 0.0
    real.t += 0.5
    assert clock.now() == pytest.approx(5.0)
    assert clock.wall() == EPOCH + timedelta(seconds=5)


def test_frozen_time_moves_only_when_advanced() -> None:
    real = FakeReal()
    clock = SandboxClock(0, real=real, epoch=EPOCH)
    real.t += 100
    assert clock.now() == 0.0
    assert clock.advance(7.5) == 7.5
    real.t += 100
    assert clock.now() == 7.5
    assert clock.to_json()["advanced"] == 7.5


def test_a_scale_change_keeps_the_time_reached() -> None:
    real = FakeReal()
    clock = SandboxClock(1, real=real, epoch=EPOCH)
    real.t += 2
    clock.set_scale(10)
    assert clock.now() == pytest.approx(2.0)
    real.t += 1
    assert clock.now() == pytest.approx(12.0)
    clock.reset_scale()
    assert clock.scale == 1
    real.t += 1
    assert clock.now() == pytest.approx(13.0)


@pytest.mark.parametrize("bad", [-1, "fast", float("nan"), float("inf"), 10_000, True, None])
def test_bad_scales_are_refused(bad: Any) -> None:
    with pytest.raises(ClockError, match="from 0 to"):
        parse_scale(bad)


@pytest.mark.parametrize("bad", [-0.1, "soon", float("inf"), True])
def test_time_never_runs_backwards(bad: Any) -> None:
    clock = SandboxClock(0, real=FakeReal(), epoch=EPOCH)
    with pytest.raises(ClockError):
        clock.advance(bad)
    assert clock.now() == 0.0


# ------------------------------------------------------------------------------------------- the server
def register(ecs: Any, scenario: str) -> str:
    current = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    base = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    return str(
        ecs.register_task_definition(
            family=base["family"],
            containerDefinitions=base["containerDefinitions"],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu=base["cpu"],
            memory=base["memory"],
            tags=[{"key": "sandbox-scenario", "value": scenario}],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def wall(clock: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(clock["wall"])


def close(a: datetime, b: datetime) -> bool:
    """Equal to the millisecond (the API carries epoch seconds as floats)."""
    return abs(a - b) < timedelta(milliseconds=1)


@pytest.mark.sandbox_time_scale(0)
def test_ecs_timestamps_follow_the_sandbox_clock(sandbox: Sandbox) -> None:
    ecs = boto3.client("ecs")
    td = register(ecs, "healthy:300")  # five minutes of rollout, in no time
    start = wall(sandbox.clock())
    new = ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)["service"]["deployments"][0]
    assert close(new["createdAt"], start)
    moved = sandbox.advance(300.5)
    assert close(wall(moved), start + timedelta(seconds=300.5))
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    [done] = service["deployments"]
    assert (done["id"], done["rolloutState"]) == (new["id"], "COMPLETED")
    assert close(done["updatedAt"], start + timedelta(seconds=300))
    assert close(service["events"][0]["createdAt"], start + timedelta(seconds=300))
    running = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]
    started = sorted(t["startedAt"] for t in ecs.describe_tasks(cluster=CLUSTER, tasks=running)["tasks"])
    assert len(started) == 2
    assert close(started[0], start + timedelta(seconds=150))
    assert close(started[1], start + timedelta(seconds=300))


@pytest.mark.sandbox_time_scale(0)
def test_settle_concludes_every_rollout_in_progress(sandbox: Sandbox) -> None:
    ecs = boto3.client("ecs")
    previous = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    ecs.update_service(
        cluster=CLUSTER, service=SERVICE, taskDefinition=register(ecs, "circuit-breaker:60:600")
    )
    [timeline] = sandbox.timeline(CLUSTER, SERVICE)
    assert len(timeline["in_progress"]) == 1
    before = sandbox.clock()["now"]
    settled_at = sandbox.settle()
    assert settled_at == pytest.approx(before + 600)
    [timeline] = sandbox.timeline(CLUSTER, SERVICE)
    assert timeline["in_progress"] == []
    assert [e["state"] for e in timeline["entries"] if e["state"] != "TASK_STOPPED"][-1] == "COMPLETED"
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert service["taskDefinition"] == previous
    assert len(service["deployments"]) == 1
    assert sandbox.settle() == pytest.approx(settled_at)  # nothing left to wait for


def test_scale_runs_a_rollout_faster_than_real_time(sandbox: Sandbox) -> None:
    """A 5 s rollout at 50x: the services_stable waiter (polling every 0.1 s) sees it finish."""
    sandbox.set_time_scale(50)
    ecs = boto3.client("ecs")
    td = register(ecs, "healthy:5")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    ecs.get_waiter("services_stable").wait(
        cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 0.1, "MaxAttempts": 3000}
    )
    [timeline] = sandbox.timeline(CLUSTER, SERVICE)
    assert [(e["state"], e["t"]) for e in timeline["entries"]] == [("IN_PROGRESS", 0.0), ("COMPLETED", 5.0)]


def test_reset_restores_the_speed_but_never_rewinds(sandbox: Sandbox) -> None:
    frozen = sandbox.freeze()
    assert frozen["scale"] == 0
    ahead = sandbox.advance(3600)["now"]
    sandbox.reset()
    after = sandbox.clock()
    assert after["scale"] == after["default_scale"]
    assert after["now"] >= ahead


@pytest.mark.parametrize(
    "payload", [{"advance": -1}, {"scale": "fast"}, {"rewind": 5}, [1, 2], {"advance": "soon"}]
)
def test_bad_clock_requests_are_refused_with_the_reason(sandbox: Sandbox, payload: Any) -> None:
    before = sandbox.clock()
    with pytest.raises(PreflightFailed, match="400"):
        process.control(sandbox.url, "clock", payload, method="POST")
    after = sandbox.clock()
    assert (after["scale"], after["advanced"]) == (before["scale"], before["advanced"])


def test_requests_in_flight_during_resets_are_answered_whole(sandbox: Sandbox) -> None:
    """A reset waits for the requests being served (and they for it): never a half-reset backend, an HTML
    500 page and botocore's 'invalid XML'. No retries here, so any such answer would surface."""
    config = Config(retries={"max_attempts": 1})
    clients = [boto3.client(name, config=config) for name in ("sts", "s3", "iam")]
    calls = [clients[0].get_caller_identity, clients[1].list_buckets, clients[2].list_roles]
    errors: list[str] = []
    stop = threading.Event()

    def hammer(call: Any) -> None:
        while not stop.is_set():
            try:
                call()
            except Exception as exc:  # every failure is the finding, whatever its type
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=hammer, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    try:
        for _ in range(10):
            process.reset(sandbox.url)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
