"""The event watch loop, driven by a fake clock, a scripted queue and a scripted DescribeServices."""

from __future__ import annotations

import datetime as dt
import random

from watch_fakes import (
    BREAKER,
    COMPLETED,
    IN_PROGRESS,
    NEW,
    OLD,
    STARTED,
    TARGET,
    FakeClock,
    ScriptedEcs,
    ScriptedQueue,
    dep,
    deployment_event,
    service,
)

from envpromote.rollout import EventWatcher, Outcome, PlainProgress, PollPolicy, RolloutWatcher


def _watch(
    clock: FakeClock, ecs: ScriptedEcs, queue: ScriptedQueue, *, timeout: float = 600, **kw: object
) -> Outcome:
    poller = RolloutWatcher(
        ecs,
        "c",
        "web",
        policy=PollPolicy(interval=5.0, first_poll_min=5.0),
        clock=clock,
        rng=random.Random(1),
        **kw,  # type: ignore[arg-type]
    )
    return EventWatcher(poller, queue, "events").watch(TARGET, timeout=timeout)


def test_completed_event_is_confirmed_once_and_decides() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [COMPLETED])
    queue = ScriptedQueue(clock, {7.0: [deployment_event("ecs-svc/2", "SERVICE_DEPLOYMENT_COMPLETED")]})
    outcome = _watch(clock, ecs, queue)
    assert outcome.status == "success"
    assert outcome.source == "events"
    assert outcome.seconds == 7.0
    assert ecs.calls == [1007.0]
    assert queue.deleted == ["r1"]


def test_an_event_ahead_of_the_read_side_is_confirmed_again_a_moment_later() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [IN_PROGRESS, COMPLETED])
    queue = ScriptedQueue(clock, {3.0: [deployment_event("ecs-svc/2", "SERVICE_DEPLOYMENT_COMPLETED")]})
    outcome = _watch(clock, ecs, queue)
    assert outcome.status == "success"
    assert ecs.calls == [1003.0, 1004.0]


def test_without_events_the_safety_poll_decides() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [IN_PROGRESS, COMPLETED])
    queue = ScriptedQueue(clock)
    outcome = _watch(clock, ecs, queue)
    assert outcome.status == "success"
    assert outcome.source == "safety poll"
    assert ecs.calls == [1040.0, 1080.0]
    assert all(wait <= 10 for _, wait in queue.receives)


def test_a_forged_completed_event_does_not_turn_a_failure_into_success() -> None:
    clock = FakeClock()
    failed = service(
        dep("ecs-svc/2", "PRIMARY", "FAILED", NEW, rolloutStateReason="circuit breaker"),
        deploymentConfiguration=BREAKER,
    )
    ecs = ScriptedEcs(clock, [failed])
    forged = deployment_event("ecs-svc/2", "SERVICE_DEPLOYMENT_COMPLETED")
    outcome = _watch(clock, ecs, ScriptedQueue(clock, {1.0: [forged, forged]}))
    assert outcome.status == "rolled_back"


def test_stale_events_wake_nobody() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [IN_PROGRESS])
    old = STARTED - dt.timedelta(hours=1)
    queue = ScriptedQueue(clock, {2.0: [deployment_event("ecs-svc/2", "SERVICE_DEPLOYMENT_COMPLETED", old)]})
    outcome = _watch(clock, ecs, queue, timeout=30)
    assert outcome.status == "timed_out"
    assert ecs.calls == [1030.0]  # only the final look at the deadline


def test_unavailable_queue_falls_back_to_polling_within_the_same_deadline() -> None:
    clock = FakeClock()
    ecs = ScriptedEcs(clock, [IN_PROGRESS])
    outcome = _watch(clock, ecs, ScriptedQueue(clock, unavailable=True), timeout=60)
    assert outcome.status == "timed_out"
    assert outcome.source == "poll (event queue unavailable)"
    assert outcome.seconds == 60.0
    assert any("event queue unavailable" in r for r in outcome.reasons)


def test_a_forced_deployment_of_our_task_definition_completing_is_success() -> None:
    clock = FakeClock()
    done = service(dep("ecs-svc/9", "PRIMARY", "COMPLETED", NEW, 2))
    ecs = ScriptedEcs(clock, [done])
    queue = ScriptedQueue(
        clock,
        {
            4.0: [deployment_event("ecs-svc/9", "SERVICE_DEPLOYMENT_IN_PROGRESS")],
            9.0: [deployment_event("ecs-svc/9", "SERVICE_DEPLOYMENT_COMPLETED")],
        },
    )
    outcome = _watch(clock, ecs, queue)
    assert outcome.status == "success"
    assert outcome.took_over_by == "ecs-svc/9"
    assert ecs.calls == [1009.0]  # another deployment's IN_PROGRESS costs nothing; its COMPLETED is looked at


def test_a_plain_progress_line_at_least_every_ten_seconds() -> None:
    clock = FakeClock()
    printed: list[float] = []
    lines: list[str] = []

    def out(line: str) -> None:
        printed.append(clock.now() - 1000.0)
        lines.append(line)

    stuck = service(
        dep("ecs-svc/2", "PRIMARY", "IN_PROGRESS", NEW), dep("ecs-svc/1", "ACTIVE", "COMPLETED", OLD, 2)
    )
    _watch(
        clock, ScriptedEcs(clock, [stuck]), ScriptedQueue(clock), timeout=120, on_progress=PlainProgress(out)
    )
    gaps = [b - a for a, b in zip([0.0, *printed], printed, strict=False)]
    assert max(gaps) <= 10.0
    assert printed[-1] >= 110.0
    assert lines[0] == "ecs-svc/2: waiting for the first look at ECS (10s)"
    assert "ecs-svc/2 IN_PROGRESS: running 0/2, pending 2, failed 0 (40s)" in lines


def test_longer_long_polls_trade_progress_lines_for_fewer_receives() -> None:
    counts = {}
    for long_poll in (10, 20):
        clock = FakeClock()
        queue = ScriptedQueue(clock)
        poller = RolloutWatcher(
            ScriptedEcs(clock, [IN_PROGRESS]), "c", "web", clock=clock, rng=random.Random(1)
        )
        EventWatcher(poller, queue, "events", long_poll_s=long_poll).watch(TARGET, timeout=120)
        assert max(wait for _, wait in queue.receives) == long_poll
        counts[long_poll] = len(queue.receives)
    assert counts == {10: 12, 20: 6}
