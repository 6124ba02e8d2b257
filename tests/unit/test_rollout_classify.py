"""classify(): one DescribeServices snapshot -> verdict about OUR deployment (pure)."""

from __future__ import annotations

import datetime as dt

from envpromote.rollout import (
    WatchTarget,
    classify,
    describe_stopped_tasks,
    events_since,
    find_deployment_for,
)
from envpromote.rollout.reasons import our_service_deployment

OLD, NEW = "arn:aws:ecs:us-east-1:1:task-definition/web:1", "arn:aws:ecs:us-east-1:1:task-definition/web:2"
OTHER = "arn:aws:ecs:us-east-1:1:task-definition/web:9"
BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
START = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
OURS = WatchTarget("ours", NEW, OLD, START, frozenset({"old"}))


def dep(
    dep_id: str, status: str, state: str, taskdef: str, running: int = 0, desired: int = 2, **kw: object
) -> dict:
    return {
        "id": dep_id,
        "status": status,
        "rolloutState": state,
        "taskDefinition": taskdef,
        "runningCount": running,
        "desiredCount": desired,
        **kw,
    }


def test_in_progress_is_undecided() -> None:
    service = {
        "deployments": [dep("ours", "PRIMARY", "IN_PROGRESS", NEW), dep("old", "ACTIVE", "COMPLETED", OLD, 2)]
    }
    assert classify(service, OURS).verdict is None


def test_completed_at_desired_count_is_success() -> None:
    service = {"deployments": [dep("ours", "PRIMARY", "COMPLETED", NEW, running=2)]}
    assert classify(service, OURS).verdict == "success"


def test_completed_below_desired_count_is_not_yet_success() -> None:
    service = {"deployments": [dep("ours", "PRIMARY", "COMPLETED", NEW, running=1)]}
    assert classify(service, OURS).verdict is None


def test_failed_with_breaker_is_rolled_back_immediately() -> None:
    service = {
        "deploymentConfiguration": BREAKER,
        "deployments": [
            dep(
                "ours",
                "PRIMARY",
                "FAILED",
                NEW,
                rolloutStateReason="ECS deployment circuit breaker: tasks failed",
            ),
            dep("old", "ACTIVE", "COMPLETED", OLD, 2),
        ],
    }
    observation = classify(service, OURS)
    assert observation.verdict == "rolled_back"
    assert "circuit breaker" in observation.reasons[0]


def test_rollback_deployment_becoming_primary_is_rolled_back() -> None:
    service = {
        "deployments": [dep("rb", "PRIMARY", "IN_PROGRESS", OLD), dep("ours", "ACTIVE", "IN_PROGRESS", NEW)]
    }
    assert classify(service, OURS).verdict == "rolled_back"


def test_completed_rollback_is_never_success() -> None:
    # What the ServicesStable waiter calls success: one deployment, running == desired. It is OLD, not ours.
    service = {"deployments": [dep("rb", "PRIMARY", "COMPLETED", OLD, running=2)]}
    assert classify(service, OURS).verdict == "rolled_back"


def test_out_of_band_replacement_is_failed_and_says_what_runs() -> None:
    service = {
        "deployments": [dep("x", "PRIMARY", "IN_PROGRESS", OTHER), dep("ours", "ACTIVE", "IN_PROGRESS", NEW)]
    }
    observation = classify(service, OURS)
    assert observation.verdict == "failed"
    assert f"ECS now runs {OTHER} (deployment x), not our {NEW}" in observation.reasons[0]


def test_stale_read_without_our_deployment_is_undecided() -> None:
    service = {"deployments": [dep("old", "PRIMARY", "COMPLETED", OLD, running=2)]}
    assert classify(service, OURS).verdict is None
    assert "stale read" in classify(service, OURS).summary


# ---- issue 12: a forced new deployment of OUR task definition during the watch -----------------------------


def test_forced_deployment_of_our_task_definition_in_progress_is_followed_not_failed() -> None:
    service = {
        "deployments": [
            dep("forced", "PRIMARY", "IN_PROGRESS", NEW, running=1),
            dep("ours", "ACTIVE", "IN_PROGRESS", NEW),
        ]
    }
    observation = classify(service, OURS)
    assert observation.verdict is None
    assert observation.took_over_by == "forced"
    assert observation.deployment is not None
    assert observation.deployment["id"] == "forced"


def test_forced_deployment_of_our_task_definition_completed_is_success_with_a_note() -> None:
    service = {"deployments": [dep("forced", "PRIMARY", "COMPLETED", NEW, running=2)]}
    observation = classify(service, OURS)
    assert observation.verdict == "success"
    assert observation.took_over_by == "forced"
    assert "took over from ours" in observation.reasons[0]
    assert "ECS runs our task definition, COMPLETED" in observation.reasons[0]


def test_forced_deployment_of_our_task_definition_that_fails_is_not_success() -> None:
    failed = dep("forced", "PRIMARY", "FAILED", NEW, rolloutStateReason="circuit breaker: tasks failed")
    assert classify({"deployments": [failed]}, OURS).verdict == "failed"
    with_breaker = {"deploymentConfiguration": BREAKER, "deployments": [failed]}
    assert classify(with_breaker, OURS).verdict == "rolled_back"


def test_forced_deployment_then_rollback_to_previous_is_rolled_back() -> None:
    service = {
        "deployments": [dep("rb", "PRIMARY", "IN_PROGRESS", OLD), dep("forced", "ACTIVE", "FAILED", NEW)]
    }
    assert classify(service, OURS).verdict == "rolled_back"


def test_find_deployment_for_our_task_definition() -> None:
    service = {
        "deployments": [dep("ours", "PRIMARY", "IN_PROGRESS", NEW), dep("old", "ACTIVE", "COMPLETED", OLD)]
    }
    assert find_deployment_for(service, NEW) == "ours"
    assert find_deployment_for(service, OLD) is None


def test_events_since_start_oldest_first() -> None:
    start = START
    service = {
        "events": [
            {"createdAt": start + dt.timedelta(seconds=9), "message": "second"},
            {"createdAt": start + dt.timedelta(seconds=2), "message": "first"},
            {"createdAt": start - dt.timedelta(minutes=5), "message": "old"},
        ]
    }
    assert events_since(service, start) == ["first", "second"]


def test_stopped_task_reasons_of_our_deployment_only() -> None:
    tasks = [
        {
            "taskArn": "arn:.../t1",
            "startedBy": "ours",
            "taskDefinitionArn": NEW,
            "stoppedReason": "Essential container in task exited",
            "containers": [{"name": "web", "exitCode": 1}],
        },
        {"taskArn": "arn:.../t2", "startedBy": "other", "taskDefinitionArn": OLD, "stoppedReason": "Scaling"},
    ]
    lines = describe_stopped_tasks(tasks, "ours", NEW)
    assert lines == ["task t1 stopped: Essential container in task exited; container web exit 1"]


# ---- issue 13: reasons limited to OUR deployment --------------------------------------------------------------


def test_events_naming_an_earlier_deployment_are_not_ours() -> None:
    service = {
        "events": [
            {
                "createdAt": START + dt.timedelta(seconds=3),
                "message": "(deployment ecs-svc/111) rollback completed",
            },
            {
                "createdAt": START + dt.timedelta(seconds=4),
                "message": "(deployment ecs-svc/222) deployment failed",
            },
        ]
    }
    kept = events_since(service, START, exclude=frozenset({"ecs-svc/111"}))
    assert kept == ["(deployment ecs-svc/222) deployment failed"]


def test_our_service_deployment_is_the_one_created_with_our_deployment() -> None:
    ours_created = START + dt.timedelta(seconds=1)
    service = {"deployments": [dep("ecs-svc/2", "PRIMARY", "FAILED", NEW, createdAt=ours_created)]}
    briefs = [
        {
            "serviceDeploymentArn": "a/older",
            "createdAt": START - dt.timedelta(seconds=3),
            "status": "ROLLBACK_SUCCESSFUL",
        },
        {"serviceDeploymentArn": "a/ours", "createdAt": ours_created, "status": "ROLLBACK_IN_PROGRESS"},
    ]
    target = WatchTarget("ecs-svc/2", NEW, OLD, START)
    chosen = our_service_deployment(briefs, service, target)
    assert chosen is not None
    assert chosen["serviceDeploymentArn"] == "a/ours"


def test_our_service_deployment_by_revision_name_when_ecs_names_it_after_the_deployment() -> None:
    briefs = [
        {"serviceDeploymentArn": "a/x", "targetServiceRevisionArn": "rev/c/s/111", "createdAt": START},
        {"serviceDeploymentArn": "a/y", "targetServiceRevisionArn": "rev/c/s/222", "createdAt": START},
    ]
    chosen = our_service_deployment(briefs, {"deployments": []}, WatchTarget("ecs-svc/222", NEW, OLD, START))
    assert chosen is not None
    assert chosen["serviceDeploymentArn"] == "a/y"


def test_no_service_deployment_is_ours_when_none_was_created_with_it() -> None:
    service = {"deployments": [dep("ecs-svc/2", "PRIMARY", "FAILED", NEW, createdAt=START)]}
    briefs = [{"serviceDeploymentArn": "a/older", "createdAt": START - dt.timedelta(seconds=30)}]
    assert our_service_deployment(briefs, service, WatchTarget("ecs-svc/2", NEW, OLD, START)) is None
