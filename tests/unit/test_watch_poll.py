"""The polling watch loop, driven by a fake clock and a scripted DescribeServices: no real time passes."""

from __future__ import annotations

import random

import botocore.exceptions
from watch_fakes import (
    BREAKER,
    COMPLETED,
    HALF,
    IN_PROGRESS,
    NEW,
    OLD,
    OTHER,
    TARGET,
    FakeClock,
    ScriptedEcs,
    client_error,
    dep,
    service,
)

from envpromote.rollout import PollPolicy, Progress, RolloutWatcher

STEADY = PollPolicy(interval=5.0, first_poll_min=5.0)  # no jitter: every poll 5 s after the previous


def _watcher(ecs: ScriptedEcs, clock: FakeClock, policy: PollPolicy = STEADY, **kw: object) -> RolloutWatcher:
    return RolloutWatcher(ecs, "c", "web", policy=policy, clock=clock, rng=random.Random(7), **kw)  # type: ignore[arg-type]


def test_success_after_the_deployment_completes() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [IN_PROGRESS, HALF, COMPLETED])
    outcome = _watcher(ecs, clock).watch(TARGET, timeout=600)
    assert outcome.status == "success"
    assert outcome.source == "poll"
    assert outcome.reasons == []
    assert outcome.seconds == 15.0
    assert len(ecs.calls) == 3


def test_failed_deployment_with_breaker_is_rolled_back_with_our_task_reasons() -> None:
    clock = FakeClock()
    failed = service(
        dep("ecs-svc/2", "PRIMARY", "FAILED", NEW, rolloutStateReason="circuit breaker: tasks failed"),
        dep("ecs-svc/3", "ACTIVE", "IN_PROGRESS", OLD),
        deploymentConfiguration=BREAKER,
    )
    tasks = [
        {"taskArn": "t/ours", "startedBy": "ecs-svc/2", "taskDefinitionArn": NEW, "stoppedReason": "exited"},
        {
            "taskArn": "t/old",
            "startedBy": "ecs-svc/1",
            "taskDefinitionArn": OLD,
            "stoppedReason": "scaled in",
        },
    ]
    ecs = ScriptedEcs(clock, [IN_PROGRESS, failed], stopped_tasks=tasks)
    outcome = _watcher(ecs, clock).watch(TARGET, timeout=600)
    assert outcome.status == "rolled_back"
    assert outcome.reasons[0] == "circuit breaker: tasks failed"
    assert "task ours stopped: exited" in outcome.reasons
    assert not any("t/old" in r or "scaled in" in r for r in outcome.reasons)


def test_rollback_deployment_becoming_primary_is_rolled_back() -> None:
    clock = FakeClock()
    rollback = service(
        dep("ecs-svc/3", "PRIMARY", "IN_PROGRESS", OLD), dep("ecs-svc/2", "ACTIVE", "IN_PROGRESS", NEW)
    )
    outcome = _watcher(ScriptedEcs(clock, [IN_PROGRESS, rollback]), clock).watch(TARGET, timeout=600)
    assert outcome.status == "rolled_back"
    assert any("rollback deployment ecs-svc/3" in r for r in outcome.reasons)


def test_timeout_when_the_deployment_never_settles() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [IN_PROGRESS])
    outcome = _watcher(ecs, clock).watch(TARGET, timeout=60)
    assert outcome.status == "timed_out"
    assert outcome.summary.startswith("still undecided after 60s")
    assert outcome.seconds == 60.0
    assert len(ecs.calls) == 12  # one per interval, no extra poll at the deadline


def test_only_read_errors_time_out_as_unknown_never_success() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1")])
    outcome = _watcher(ecs, clock).watch(TARGET, timeout=30)
    assert outcome.status == "timed_out"
    assert "outcome unknown" in outcome.summary
    assert outcome.errors == len(ecs.calls) > 0


def test_throttling_stretches_the_interval_then_it_resets() -> None:
    clock = FakeClock()
    throttle = client_error("ThrottlingException")
    ecs = ScriptedEcs(clock, [throttle, throttle, throttle, throttle, IN_PROGRESS, IN_PROGRESS, COMPLETED])
    outcome = _watcher(ecs, clock).watch(TARGET, timeout=600)
    gaps = [b - a for a, b in zip(ecs.calls, ecs.calls[1:], strict=False)]
    assert gaps == [10.0, 20.0, 30.0, 30.0, 5.0, 5.0]  # doubled up to max_interval, back to 5 s after a read
    assert outcome.status == "success"
    assert outcome.errors == 4


def test_the_call_budget_holds_in_every_minute() -> None:
    clock = FakeClock()
    policy = PollPolicy()  # the defaults: 5 s cadence, jittered first poll in [2, 5]
    ecs = ScriptedEcs(clock, [IN_PROGRESS])
    _watcher(ecs, clock, policy).watch(TARGET, timeout=600)
    assert 2.0 <= ecs.calls[0] - 1000.0 <= 5.0
    for first in ecs.calls:
        in_window = [t for t in ecs.calls if first <= t < first + 60]
        assert len(in_window) <= 60 / policy.interval


def test_first_poll_is_jittered_per_watch() -> None:
    firsts = set()
    for seed in range(5):
        clock = FakeClock()
        ecs = ScriptedEcs(clock, [COMPLETED])
        RolloutWatcher(ecs, "c", "web", clock=clock, rng=random.Random(seed)).watch(TARGET, timeout=60)
        firsts.add(ecs.calls[0])
    assert len(firsts) == 5


def test_forced_new_deployment_of_our_task_definition_is_followed_to_success() -> None:
    clock = FakeClock()
    forced = service(
        dep("ecs-svc/9", "PRIMARY", "IN_PROGRESS", NEW, 1), dep("ecs-svc/2", "ACTIVE", "IN_PROGRESS", NEW)
    )
    done = service(dep("ecs-svc/9", "PRIMARY", "COMPLETED", NEW, 2))
    outcome = _watcher(ScriptedEcs(clock, [IN_PROGRESS, forced, forced, done]), clock).watch(
        TARGET, timeout=600
    )
    assert outcome.status == "success"
    assert outcome.took_over_by == "ecs-svc/9"
    assert outcome.deployment_id == "ecs-svc/2"
    assert any("took over from ecs-svc/2" in r for r in outcome.reasons)


def test_out_of_band_deployment_of_another_task_definition_says_what_runs() -> None:
    clock = FakeClock()
    other = service(
        dep("ecs-svc/9", "PRIMARY", "IN_PROGRESS", OTHER), dep("ecs-svc/2", "ACTIVE", "IN_PROGRESS", NEW)
    )
    outcome = _watcher(ScriptedEcs(clock, [IN_PROGRESS, other]), clock).watch(TARGET, timeout=600)
    assert outcome.status == "failed"
    assert f"ECS now runs {OTHER}" in outcome.reasons[0]


def test_progress_is_reported_at_each_observation_and_read_errors_as_notes() -> None:
    clock = FakeClock()
    seen: list[Progress] = []
    ecs = ScriptedEcs(clock, [IN_PROGRESS, client_error("ThrottlingException"), HALF, COMPLETED])
    _watcher(ecs, clock, on_progress=seen.append).watch(TARGET, timeout=600)
    assert [(p.state, p.running, p.pending, bool(p.note)) for p in seen] == [
        ("IN_PROGRESS", 0, 2, False),
        ("IN_PROGRESS", 0, 2, True),  # the note repeats the last known state
        ("IN_PROGRESS", 1, 1, False),
        ("COMPLETED", 2, 0, False),
    ]
    assert [p.elapsed for p in seen] == [5.0, 10.0, 20.0, 25.0]
    assert "ThrottlingException" in seen[1].note
    assert seen[2].last_event == "(service web) has started 1 tasks"
