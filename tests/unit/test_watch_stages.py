"""Following a blue/green, canary or linear deployment through its service deployment's lifecycle stages.

A scripted ECS answers DescribeServiceDeployments in order; the FakeClock moves only when slept on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest

from envpromote.rollout import PollPolicy
from envpromote.rollout.progress import PlainProgress, Progress
from envpromote.rollout.stage_watch import StageOptions, StageWatcher
from envpromote.rollout.stages import PausedHook, classify_service_deployment, paused_hook
from tests.unit.watch_fakes import IN_PROGRESS, STARTED, TARGET, FakeClock, client_error

ARN = "arn:aws:ecs:us-east-1:1:service-deployment/c/web/sd-2"
OLD_ARN = "arn:aws:ecs:us-east-1:1:service-deployment/c/web/sd-1"
REVISION = "arn:aws:ecs:us-east-1:1:service-revision/c/web/2"


def sd(status: str, stage: str | None, *, hooks: Sequence[dict[str, Any]] = (), **kw: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "serviceDeploymentArn": ARN,
        "status": status,
        "targetServiceRevision": {
            "arn": REVISION,
            "requestedTaskCount": 2,
            "runningTaskCount": 2,
            "pendingTaskCount": 0,
            "requestedTestTrafficWeight": 100.0 if stage and "TEST" in stage else 0.0,
            "requestedProductionTrafficWeight": 0.0,
        },
        "lifecycleHookDetails": list(hooks),
        **kw,
    }
    if stage:
        answer["lifecycleStage"] = stage
    return answer


def pause_hook(status: str = "AWAITING_ACTION", hook_id: str = "hook-1") -> dict[str, Any]:
    return {
        "hookId": hook_id,
        "targetType": "PAUSE",
        "status": status,
        "expiresAt": STARTED + dt.timedelta(hours=1),
        "timeoutAction": "ROLLBACK",
    }


PAUSED = sd("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", hooks=[pause_hook()])
CONTINUED = sd("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", hooks=[pause_hook("SUCCEEDED")])
BAKING = sd("IN_PROGRESS", "BAKE_TIME")
DONE = sd("SUCCESSFUL", "CLEAN_UP")


# ---- the pure classifier ----------------------------------------------------------------------------------


def test_in_progress_is_undecided_and_shows_its_stage_and_traffic() -> None:
    observation = classify_service_deployment(sd("IN_PROGRESS", "TEST_TRAFFIC_SHIFT"))
    assert observation.verdict is None
    assert observation.stage == "TEST_TRAFFIC_SHIFT"
    assert observation.test_weight == 100.0
    assert observation.summary == (
        "service deployment sd-2 IN_PROGRESS at TEST_TRAFFIC_SHIFT: new revision 2/2 running, "
        "test traffic 100%, production traffic 0%"
    )


def test_a_pause_hook_awaiting_action_is_a_pause_not_a_verdict() -> None:
    observation = classify_service_deployment(PAUSED)
    assert observation.verdict is None
    assert observation.paused == PausedHook(
        ARN, "hook-1", "POST_TEST_TRAFFIC_SHIFT", STARTED + dt.timedelta(hours=1), "ROLLBACK"
    )
    assert (
        "paused at POST_TEST_TRAFFIC_SHIFT (hook hook-1, ECS will ROLLBACK at 13:00:00Z)"
        in observation.summary
    )


def test_a_lambda_hook_in_progress_is_not_a_pause() -> None:
    lambda_hook = {"hookId": "h", "targetType": "AWS_LAMBDA", "status": "IN_PROGRESS", "targetArn": "arn:fn"}
    assert paused_hook(sd("IN_PROGRESS", "PRE_SCALE_UP", hooks=[lambda_hook])) is None


def test_successful_is_success() -> None:
    assert classify_service_deployment(DONE).verdict == "success"


@pytest.mark.parametrize("status", ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"])
@pytest.mark.parametrize("stage", ["SCALE_UP", "TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"])
def test_rollback_at_any_stage_is_a_failure_decided_at_once_with_ecs_reasons(status: str, stage: str) -> None:
    deployment = sd(
        status,
        stage,
        statusReason="Service deployment rolled back because of alarm",
        rollback={"reason": "alarm web-5xx in ALARM", "serviceRevisionArn": REVISION.replace("/2", "/1")},
        alarms={"status": "TRIGGERED", "alarmNames": ["web-5xx"], "triggeredAlarmNames": ["web-5xx"]},
    )
    observation = classify_service_deployment(deployment)
    assert observation.verdict == "rolled_back"
    assert observation.paused is None
    assert observation.reasons == (
        f"service deployment sd-2 {status} at {stage}: Service deployment rolled back because of alarm",
        "rollback to 1: alarm web-5xx in ALARM",
        "CloudWatch alarm(s) in ALARM: web-5xx",
    )


def test_rollback_failed_and_stopped_have_their_own_verdicts() -> None:
    assert classify_service_deployment(sd("ROLLBACK_FAILED", "CLEAN_UP")).verdict == "rollback_failed"
    stopped = classify_service_deployment(sd("STOPPED", "SCALE_UP", statusReason="stopped by user"))
    assert stopped.verdict == "failed"
    assert stopped.reasons[0] == "service deployment sd-2 STOPPED at SCALE_UP: stopped by user"


def test_a_timed_out_hook_and_a_tripped_circuit_breaker_are_named() -> None:
    deployment = sd(
        "ROLLBACK_IN_PROGRESS",
        "POST_TEST_TRAFFIC_SHIFT",
        hooks=[pause_hook("TIMED_OUT")],
        deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 3, "threshold": 3},
    )
    reasons = classify_service_deployment(deployment).reasons
    assert "PAUSE hook hook-1 TIMED_OUT, timeout action ROLLBACK" in reasons
    assert "circuit breaker triggered: 3 failed tasks (threshold 3)" in reasons


# ---- the watcher --------------------------------------------------------------------------------------------


class StagedEcs:
    """DescribeServiceDeployments answers in order (the last repeats; an exception is raised); records actions."""

    def __init__(self, clock: FakeClock, answers: list[Any], *, listed: bool = True) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.listed = listed
        self.describes: list[float] = []
        self.actions: list[tuple[str, dict[str, Any]]] = []

    def _next(self) -> Any:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def describe_services(self, **_kw: Any) -> dict[str, Any]:
        service = dict(IN_PROGRESS)
        service["deployments"] = [{**d, "createdAt": STARTED} for d in service["deployments"]]
        return {"services": [service]}

    def list_service_deployments(self, **_kw: Any) -> dict[str, Any]:
        if not self.listed:
            return {"serviceDeployments": []}
        old = {"serviceDeploymentArn": OLD_ARN, "targetServiceRevisionArn": "x/1", "createdAt": STARTED}
        ours = {"serviceDeploymentArn": ARN, "targetServiceRevisionArn": "x/2", "createdAt": STARTED}
        return {"serviceDeployments": [ours, old]}

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        assert serviceDeploymentArns == [ARN]
        self.describes.append(self.clock.now())
        answer = self._next()
        return {"serviceDeployments": [answer] if answer else [], "failures": []}

    def continue_service_deployment(self, **kw: Any) -> dict[str, Any]:
        self.actions.append(("continue", kw))
        return {"serviceDeploymentArn": kw["serviceDeploymentArn"]}

    def stop_service_deployment(self, **kw: Any) -> dict[str, Any]:
        self.actions.append(("stop", kw))
        return {"serviceDeploymentArn": kw["serviceDeploymentArn"]}


def watcher(ecs: StagedEcs, clock: FakeClock, **stages: Any) -> tuple[StageWatcher, list[Progress]]:
    seen: list[Progress] = []
    return (
        StageWatcher(
            ecs,
            "c",
            "web",
            StageOptions(**stages),
            policy=PollPolicy(interval=5.0, first_poll_min=1.0),
            clock=clock,
            rng=random.Random(1),
            on_progress=seen.append,
        ),
        seen,
    )


def test_stages_are_followed_to_success_and_each_change_is_a_progress_line() -> None:
    clock = FakeClock()
    answers = [
        sd("IN_PROGRESS", "SCALE_UP"),
        sd("IN_PROGRESS", "TEST_TRAFFIC_SHIFT"),
        sd("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"),
        BAKING,
        DONE,
    ]
    ecs = StagedEcs(clock, answers)
    watch, seen = watcher(ecs, clock)
    lines: list[str] = []
    printer = PlainProgress(lines.append)
    outcome = watch.watch(TARGET, timeout=600)
    for progress in seen:
        printer(progress)
    assert outcome.status == "success"
    assert outcome.stage == "CLEAN_UP"
    assert outcome.service_deployment_arn == ARN
    assert [p.stage for p in seen] == [
        "SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
    ]
    assert lines[0].startswith("ecs-svc/2 IN_PROGRESS at SCALE_UP: running 2/2")
    assert ecs.actions == []


def test_rollback_ends_the_watch_at_the_first_look_that_shows_it() -> None:
    clock = FakeClock()
    rolled = sd("ROLLBACK_REQUESTED", "TEST_TRAFFIC_SHIFT", statusReason="health checks failed")
    ecs = StagedEcs(clock, [sd("IN_PROGRESS", "SCALE_UP"), rolled, DONE])
    watch, _ = watcher(ecs, clock)
    outcome = watch.watch(TARGET, timeout=600)
    assert outcome.status == "rolled_back"
    assert len(ecs.describes) == 2
    assert outcome.reasons == [
        "service deployment sd-2 ROLLBACK_REQUESTED at TEST_TRAFFIC_SHIFT: health checks failed"
    ]


def test_our_pause_is_verified_once_and_the_evidence_is_in_the_outcome() -> None:
    clock = FakeClock()
    ecs = StagedEcs(clock, [sd("IN_PROGRESS", "TEST_TRAFFIC_SHIFT"), PAUSED, PAUSED, CONTINUED, DONE])
    hooks: list[PausedHook] = []

    def on_pause(hook: PausedHook) -> list[dict[str, str]]:
        hooks.append(hook)
        ecs.continue_service_deployment(
            serviceDeploymentArn=hook.service_deployment_arn, hookId=hook.hook_id, action="CONTINUE"
        )
        return [{"check": "pause: http GET /", "result": "pass", "detail": "200"}]

    watch, seen = watcher(ecs, clock, pause_stage="POST_TEST_TRAFFIC_SHIFT", on_pause=on_pause)
    outcome = watch.watch(TARGET, timeout=600)
    assert outcome.status == "success"
    assert [h.hook_id for h in hooks] == ["hook-1"]  # the second look at the same pause does not verify again
    assert outcome.verification == [{"check": "pause: http GET /", "result": "pass", "detail": "200"}]
    notes = [p.note for p in seen if p.note]
    assert notes[-1] == "verification at POST_TEST_TRAFFIC_SHIFT passed"
    # after acting, the next look comes at the short delay, not a whole interval later
    assert ecs.describes[2] - ecs.describes[1] == pytest.approx(1.0)


def test_a_failed_verification_shows_in_the_reasons_of_the_rollback() -> None:
    clock = FakeClock()
    rolled = sd("ROLLBACK_REQUESTED", "POST_TEST_TRAFFIC_SHIFT", hooks=[pause_hook("FAILED")])
    ecs = StagedEcs(clock, [PAUSED, rolled])
    evidence = [
        {"check": "pause: http GET /", "result": "fail", "detail": "digest: expected sha256:a, got sha256:b"}
    ]
    watch, _ = watcher(ecs, clock, pause_stage="POST_TEST_TRAFFIC_SHIFT", on_pause=lambda _hook: evidence)
    outcome = watch.watch(TARGET, timeout=600)
    assert outcome.status == "rolled_back"
    assert outcome.stage == "POST_TEST_TRAFFIC_SHIFT"
    assert "verification pause: http GET /: digest: expected sha256:a, got sha256:b" in outcome.reasons
    assert "PAUSE hook hook-1 FAILED" in outcome.reasons


def test_a_pause_at_a_stage_envpromote_does_not_own_waits_for_continue_and_says_so() -> None:
    clock = FakeClock()
    elsewhere = sd("IN_PROGRESS", "PRE_PRODUCTION_TRAFFIC_SHIFT", hooks=[pause_hook(hook_id="theirs")])
    ecs = StagedEcs(clock, [elsewhere])
    watch, seen = watcher(
        ecs, clock, pause_stage="POST_TEST_TRAFFIC_SHIFT", on_pause=lambda _h: pytest.fail("not ours")
    )
    outcome = watch.watch(TARGET, timeout=60)
    assert outcome.status == "timed_out"
    assert "paused at PRE_PRODUCTION_TRAFFIC_SHIFT" in outcome.summary
    assert any("invoke continue" in r for r in outcome.reasons)
    assert sum(1 for p in seen if p.note and "not EnvPromote's hook" in p.note) == 1
    assert ecs.actions == []


def test_stop_at_pause_returns_paused() -> None:
    clock = FakeClock()
    ecs = StagedEcs(clock, [sd("IN_PROGRESS", "SCALE_UP"), PAUSED])
    watch, _ = watcher(ecs, clock, stop_at_pause=True)
    outcome = watch.watch(TARGET, timeout=600)
    assert outcome.status == "paused"
    assert outcome.stage == "POST_TEST_TRAFFIC_SHIFT"


def test_an_alarm_during_bake_stops_the_deployment_with_rollback() -> None:
    clock = FakeClock()
    rolled = sd("ROLLBACK_REQUESTED", "BAKE_TIME")
    ecs = StagedEcs(clock, [BAKING, BAKING, BAKING, rolled])
    rounds = [
        [{"check": "bake: alarm web-5xx", "result": "pass", "detail": "OK"}],
        [{"check": "bake: alarm web-5xx", "result": "fail", "detail": "ALARM: threshold crossed"}],
    ]
    calls: list[float] = []

    def bake_check() -> list[dict[str, str]]:
        calls.append(clock.now())
        return rounds.pop(0) if len(rounds) > 1 else rounds[0]

    watch, _ = watcher(ecs, clock, bake_check=bake_check, bake_check_interval=5.0)
    outcome = watch.watch(TARGET, timeout=600)
    assert ecs.actions == [("stop", {"serviceDeploymentArn": ARN, "stopType": "ROLLBACK"})]
    assert outcome.status == "rolled_back"
    assert (
        "EnvPromote stopped the deployment with ROLLBACK: bake check failed (bake: alarm web-5xx: ALARM: threshold crossed)"
        in outcome.reasons
    )
    assert [e["result"] for e in outcome.verification] == ["pass", "fail"]
    assert len(calls) == 2  # stopped once; no checks after the stop


def test_bake_checks_are_throttled_to_their_interval() -> None:
    clock = FakeClock()
    ecs = StagedEcs(clock, [BAKING] * 7 + [DONE])
    calls: list[float] = []

    def bake_check() -> list[dict[str, str]]:
        calls.append(clock.now())
        return [{"check": "bake: alarm a", "result": "pass", "detail": "OK"}]

    watch, _ = watcher(ecs, clock, bake_check=bake_check, bake_check_interval=15.0)
    outcome = watch.watch(TARGET, timeout=600)
    assert outcome.status == "success"
    assert [round(b - a, 6) for a, b in itertools.pairwise(calls)] == [15.0, 15.0]
    assert len(outcome.verification) == 1  # passing rounds after the first are not repeated in the record


def test_the_service_deployment_is_found_through_list_service_deployments() -> None:
    clock = FakeClock()
    ecs = StagedEcs(clock, [DONE])
    watch, _ = watcher(ecs, clock)
    assert watch.find(TARGET) == ARN  # matched by the revision number of ecs-svc/2, not the older one


def test_read_errors_never_decide_and_not_listed_yet_is_a_note() -> None:
    clock = FakeClock()
    ecs = StagedEcs(clock, [client_error("ThrottlingException"), None, DONE])
    watch, seen = watcher(ecs, clock)
    outcome = watch.watch(TARGET, timeout=600, service_deployment_arn=ARN)
    assert outcome.status == "success"
    assert outcome.errors == 1
    notes = [p.note for p in seen if p.note]
    assert notes[0].startswith("ECS read failed (ThrottlingException")
    assert notes[1] == "service deployment sd-2 not described yet"


def test_a_deadline_with_only_errors_is_unknown() -> None:
    clock = FakeClock()
    ecs = StagedEcs(clock, [client_error("ServerException")])
    watch, _ = watcher(ecs, clock)
    outcome = watch.watch(TARGET, timeout=30, service_deployment_arn=ARN)
    assert outcome.status == "timed_out"
    assert outcome.summary.startswith("outcome unknown: ECS could not be read (ServerException")


def test_no_service_deployment_listed_times_out_saying_so() -> None:
    clock = FakeClock()
    ecs = StagedEcs(clock, [DONE], listed=False)
    watch, _ = watcher(ecs, clock)
    outcome = watch.watch(TARGET, timeout=30)
    assert outcome.status == "timed_out"
    assert "no service deployment listed yet for ecs-svc/2" in outcome.summary


def test_a_service_that_is_gone_is_not_found() -> None:
    class Gone(StagedEcs):
        def describe_services(self, **_kw: Any) -> dict[str, Any]:
            return {"services": [], "failures": [{"reason": "MISSING"}]}

    clock = FakeClock()
    watch, _ = watcher(Gone(clock, [DONE]), clock)
    assert watch.find(TARGET) is None
