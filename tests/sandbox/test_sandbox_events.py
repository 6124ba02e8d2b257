"""ECS-shaped events reach each environment's SQS queue through the sandbox's EventBridge rule.

EventBridge -> SQS delivery is synchronous in the sandbox: an event published is in the queue at once, so
"nothing arrived" is checked with one immediate receive. Delayed events wait for the sandbox clock, which
the delay tests freeze and advance.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from envpromote.sandbox.testing import Sandbox

CLUSTER = "envpromote-dev"
SERVICE = "envpromote-dev-web"


def update_to(ecs: Any, scenario: str) -> tuple[str, str]:
    """Register a task definition tagged with `scenario`, roll it out; returns (task def, deployment id)."""
    current = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    base = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    td = ecs.register_task_definition(
        family=base["family"],
        containerDefinitions=base["containerDefinitions"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu=base["cpu"],
        memory=base["memory"],
        tags=[{"key": "sandbox-scenario", "value": scenario}],
    )["taskDefinition"]["taskDefinitionArn"]
    service = ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)["service"]
    return td, service["deployments"][0]["id"]


def drain(sqs: Any, queue_url: str, *, until: Any = None, limit_s: float = 20.0) -> list[dict[str, Any]]:
    """Receive (long-poll, 1 s) until `until(events)` holds or nothing arrives for a poll after `limit_s`."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in batch.get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if until is not None and until(received):
            break
    return received


def receive_now(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """What is in the queue right now (no long poll)."""
    batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(message["Body"]) for message in batch.get("Messages", [])]


def deployment_events(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["detail"]["eventName"], e["detail"]["deploymentId"])
        for e in events
        if e["detail-type"] == "ECS Deployment State Change"
    ]


def queue(sqs: Any, service: str) -> str:
    return str(sqs.get_queue_url(QueueName=f"{service}-ecs-events")["QueueUrl"])


@pytest.mark.sandbox_time_scale(0)
def test_circuit_breaker_events_reach_the_queue(sandbox: Sandbox) -> None:
    ecs, sqs = boto3.client("ecs"), boto3.client("sqs")
    url = queue(sqs, SERVICE)
    _, failed_id = update_to(ecs, "circuit-breaker:0.5:1.5")
    sandbox.settle()  # failure, rollback and steady state: every event is in the queue now

    def finished(events: list[dict[str, Any]]) -> bool:
        completed = [name for name, _ in deployment_events(events)][-1:] == ["SERVICE_DEPLOYMENT_COMPLETED"]
        steady = any(e["detail"].get("eventName") == "SERVICE_STEADY_STATE" for e in events)
        return completed and steady

    events = drain(sqs, url, until=finished)
    deployments = deployment_events(events)
    names = [name for name, _ in deployments]
    assert names == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    assert deployments[0][1] == deployments[1][1] == failed_id
    rollback_id = deployments[2][1]
    assert rollback_id != failed_id
    assert deployments[3][1] == rollback_id

    failed = next(e for e in events if e["detail"].get("eventName") == "SERVICE_DEPLOYMENT_FAILED")
    assert failed["source"] == "aws.ecs"
    assert failed["time"].endswith("Z")
    assert failed["resources"] == [f"arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}"]
    assert failed["detail"]["eventType"] == "ERROR"
    assert failed["detail"]["reason"] == "ECS deployment circuit breaker: tasks failed to start."
    rolling = next(e for e in events if e["detail"].get("deploymentId") == rollback_id)
    assert rolling["detail"]["reason"].startswith(
        "ECS deployment circuit breaker: rolling back to deploymentId"
    )

    crashed = [
        e
        for e in events
        if e["detail-type"] == "ECS Task State Change" and e["detail"]["startedBy"] == failed_id
    ]
    assert len(crashed) == 3
    for event in crashed:
        task = event["detail"]
        assert task["lastStatus"] == "STOPPED"
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["group"] == f"service:{SERVICE}"
        assert [c["exitCode"] for c in task["containers"]] == [1]
        assert event["resources"] == [task["taskArn"]]
    actions = [e["detail"]["eventName"] for e in events if e["detail-type"] == "ECS Service Action"]
    assert actions == ["SERVICE_STEADY_STATE"]


def test_other_services_events_stay_out_of_the_queue(sandbox: Sandbox) -> None:
    ecs, sqs = boto3.client("ecs"), boto3.client("sqs")
    update_to(ecs, "healthy:0.2")
    dev_events = drain(sqs, queue(sqs, SERVICE), until=lambda ev: len(deployment_events(ev)) >= 2)
    assert len(deployment_events(dev_events)) == 2
    assert receive_now(sqs, queue(sqs, "envpromote-staging-web")) == []


def test_event_loss_drops_events_and_counts_them(sandbox: Sandbox) -> None:
    ecs, sqs = boto3.client("ecs"), boto3.client("sqs")
    sandbox.set_faults(event_loss=1.0)
    update_to(ecs, "healthy:0.2")
    ecs.get_waiter("services_stable").wait(
        cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    assert receive_now(sqs, queue(sqs, SERVICE)) == []
    counters = sandbox.faults()["counters"]
    assert counters["events.lost"] == counters["events.published"] >= 3


@pytest.mark.parametrize("loss", [0.5])
def test_partial_event_loss_is_random_but_counted(sandbox: Sandbox, loss: float) -> None:
    ecs, sqs = boto3.client("ecs"), boto3.client("sqs")
    sandbox.set_faults(event_loss=loss, seed=3)
    update_to(ecs, "circuit-breaker:0.2:0.4")
    ecs.get_waiter("services_stable").wait(
        cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    counters = sandbox.faults()["counters"]
    delivered = drain(
        sqs, queue(sqs, SERVICE), until=lambda ev: len(ev) >= counters.get("events.delivered", 0)
    )
    assert counters["events.lost"] > 0
    assert (
        len(delivered)
        == counters["events.delivered"]
        == counters["events.published"] - counters["events.lost"]
    )


@pytest.mark.sandbox_time_scale(0)
def test_event_delay_holds_events_back(sandbox: Sandbox) -> None:
    ecs, sqs = boto3.client("ecs"), boto3.client("sqs")
    sandbox.set_faults(event_delay_s=2.0)
    update_to(ecs, "healthy:0")
    ecs.describe_services(cluster=CLUSTER, services=[SERVICE])  # the rollout has completed by now
    sandbox.advance(1.9)
    assert sandbox.faults()["counters"].get("events.delivered", 0) == 0
    assert receive_now(sqs, queue(sqs, SERVICE)) == []
    sandbox.advance(0.2)
    events = drain(sqs, queue(sqs, SERVICE), until=lambda ev: len(deployment_events(ev)) >= 2)
    assert [name for name, _ in deployment_events(events)] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    assert sandbox.faults()["counters"]["events.delayed"] >= 2


@pytest.mark.sandbox_time_scale(0)
def test_reset_drops_delayed_events_of_the_old_state(sandbox: Sandbox) -> None:
    ecs, sqs = boto3.client("ecs"), boto3.client("sqs")
    sandbox.set_faults(event_delay_s=1.0)
    update_to(ecs, "healthy:0")
    ecs.describe_services(cluster=CLUSTER, services=[SERVICE])
    assert sandbox.faults()["counters"]["events.delayed"] >= 2
    sandbox.reset()
    sandbox.provision()
    sandbox.advance(60)  # far past the old events' due time
    assert receive_now(sqs, queue(sqs, SERVICE)) == []
    assert sandbox.faults()["counters"].get("events.delivered", 0) == 0
