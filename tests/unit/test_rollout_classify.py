"""classify(): one DescribeServices snapshot -> verdict about OUR deployment (pure)."""

from __future__ import annotations

import datetime as dt

from envpromote.rollout import classify, describe_stopped_tasks, events_since, find_deployment_for

OLD, NEW = "arn:aws:ecs:us-east-1:1:task-definition/web:1", "arn:aws:ecs:us-east-1:1:task-definition/web:2"
BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}


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
    assert classify(service, "ours", OLD).verdict is None


def test_completed_at_desired_count_is_success() -> None:
    service = {"deployments": [dep("ours", "PRIMARY", "COMPLETED", NEW, running=2)]}
    assert classify(service, "ours", OLD).verdict == "success"


def test_completed_below_desired_count_is_not_yet_success() -> None:
    service = {"deployments": [dep("ours", "PRIMARY", "COMPLETED", NEW, running=1)]}
    assert classify(service, "ours", OLD).verdict is None


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
    observation = classify(service, "ours", OLD)
    assert observation.verdict == "rolled_back"
    assert "circuit breaker" in observation.reasons[0]


def test_rollback_deployment_becoming_primary_is_rolled_back() -> None:
    service = {
        "deployments": [dep("rb", "PRIMARY", "IN_PROGRESS", OLD), dep("ours", "ACTIVE", "IN_PROGRESS", NEW)]
    }
    assert classify(service, "ours", OLD).verdict == "rolled_back"


def test_completed_rollback_is_never_success() -> None:
    # What the ServicesStable waiter calls success: one deployment, running == desired. It is OLD, not ours.
    service = {"deployments": [dep("rb", "PRIMARY", "COMPLETED", OLD, running=2)]}
    assert classify(service, "ours", OLD).verdict == "rolled_back"


def test_out_of_band_replacement_is_failed() -> None:
    other = "arn:aws:ecs:us-east-1:1:task-definition/web:9"
    service = {"deployments": [dep("x", "PRIMARY", "IN_PROGRESS", other)]}
    assert classify(service, "ours", OLD).verdict == "failed"


def test_find_deployment_for_our_task_definition() -> None:
    service = {
        "deployments": [dep("ours", "PRIMARY", "IN_PROGRESS", NEW), dep("old", "ACTIVE", "COMPLETED", OLD)]
    }
    assert find_deployment_for(service, NEW) == "ours"
    assert find_deployment_for(service, OLD) is None


def test_events_since_start_oldest_first() -> None:
    start = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
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
