"""The EventBridge rules of modules/ecs-events-queue, fed to a local EventBridge (moto server on
127.0.0.1) with SQS as target, against ECS-shaped events from the sandbox's own builders: the rules
deliver exactly the events the rollout watcher needs, and nothing from other services or live tasks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from iac_policy import load

from envpromote.sandbox import events as ecs_events

MODULE = Path(__file__).resolve().parents[2] / "infra" / "modules" / "ecs-events-queue"
ACCOUNT = "123456789012"
CLUSTER_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/envpromote-dev"
SERVICE = "envpromote-dev-web"
SERVICE_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/envpromote-dev/{SERVICE}"
OTHER_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/envpromote-dev/another-service"


def _substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in variables.items():
            value = value.replace("${var." + name + "}", replacement)
        assert "${" not in value, f"unresolved expression in event pattern: {value}"
        return value
    if isinstance(value, list):
        return [_substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, variables) for key, item in value.items()}
    return value


def module_patterns() -> dict[str, dict[str, Any]]:
    """The module's two event patterns, with this test's variables filled in."""
    config = load(MODULE)
    variables = {"service_arn": SERVICE_ARN, "cluster_arn": CLUSTER_ARN, "service_name": SERVICE}
    return {
        name: _substitute(config.locals[local], variables)
        for name, local in (
            ("deployments", "deployment_events_pattern"),
            ("stopped-tasks", "stopped_tasks_pattern"),
        )
    }


def task(status: str, group: str, reason: str = "") -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/envpromote-dev/0123456789abcdef",
        "clusterArn": CLUSTER_ARN,
        "group": group,
        "lastStatus": status,
        "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
        "stoppedReason": reason,
        "taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{SERVICE}:7",
        "containers": [{"name": "web", "exitCode": 1, "lastStatus": status}],
    }


@pytest.fixture
def delivered(aws_env: str) -> list[dict[str, Any]]:
    """Put the module's rules on a local EventBridge bus -> SQS, send a mix of events, return what arrived."""
    events = boto3.client("events", endpoint_url=aws_env, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="rules-under-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for name, pattern in module_patterns().items():
        events.put_rule(Name=f"under-test-{name}", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"under-test-{name}", Targets=[{"Id": "queue", "Arn": queue_arn}])

    now = datetime.now(UTC)
    sent = [
        ecs_events.deployment_state_change(
            service_arn=SERVICE_ARN,
            event_name="SERVICE_DEPLOYMENT_FAILED",
            deployment_id="ecs-svc/1",
            reason="x",
            when=now,
        ),
        ecs_events.service_action(
            service_arn=SERVICE_ARN, cluster_arn=CLUSTER_ARN, event_name="SERVICE_STEADY_STATE", when=now
        ),
        ecs_events.task_state_change(
            task("STOPPED", f"service:{SERVICE}", "Essential container exited"), now
        ),
        # Not for this watcher: another service, a task still running, another service's stopped task.
        ecs_events.deployment_state_change(
            service_arn=OTHER_ARN,
            event_name="SERVICE_DEPLOYMENT_COMPLETED",
            deployment_id="ecs-svc/2",
            reason="",
            when=now,
        ),
        ecs_events.task_state_change(task("RUNNING", f"service:{SERVICE}"), now),
        ecs_events.task_state_change(task("STOPPED", "service:another-service", "Scaling activity"), now),
    ]
    assert events.put_events(Entries=sent)["FailedEntryCount"] == 0

    received: list[dict[str, Any]] = []
    for _ in range(5):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        received += [json.loads(message["Body"]) for message in batch]
        if not batch and received:
            break
    return received


def test_rules_deliver_exactly_what_the_watcher_needs(delivered: list[dict[str, Any]]) -> None:
    summary = sorted(
        (event["detail-type"], event["detail"].get("eventName") or event["detail"].get("lastStatus"))
        for event in delivered
    )
    assert summary == [
        ("ECS Deployment State Change", "SERVICE_DEPLOYMENT_FAILED"),
        ("ECS Service Action", "SERVICE_STEADY_STATE"),
        ("ECS Task State Change", "STOPPED"),
    ]
    stopped = next(event for event in delivered if event["detail-type"] == "ECS Task State Change")
    assert stopped["detail"]["stoppedReason"] == "Essential container exited"
    assert stopped["detail"]["group"] == f"service:{SERVICE}"
