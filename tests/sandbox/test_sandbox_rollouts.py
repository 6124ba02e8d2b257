"""Every scenario's timeline, against the real sandbox server, through plain boto3 (as any ECS tool sees it).

The sandbox clock is frozen for these tests (``sandbox_time_scale(0)``): a rollout moves only when the test
advances sandbox time, so every phase is observed at a moment the test chooses, with no waiting and no race
with a machine under load. Phase timings are asserted on the simulation's own schedule (the ``t`` of each
state change, seconds after UpdateService); the two waiter tests run sandbox time at 20x real time instead,
because botocore's waiter polls on its own.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from envpromote.sandbox.testing import Sandbox

CLUSTER = "envpromote-dev"
SERVICE = "envpromote-dev-web"
FAMILY = "envpromote-dev-web"
EPS = 0.001  # a step just past a phase's scheduled time (float sums of sandbox seconds are inexact)

pytestmark = pytest.mark.sandbox_time_scale(0)


@pytest.fixture
def ecs() -> Any:
    return boto3.client("ecs")


def register(ecs: Any, scenario: str | None, *, image: str | None = None) -> str:
    current = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    base = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    container = dict(base["containerDefinitions"][0])
    if image:
        container["image"] = image
    kwargs: dict[str, Any] = {
        "family": FAMILY,
        "containerDefinitions": [container],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": base["cpu"],
        "memory": base["memory"],
    }
    if scenario:
        kwargs["tags"] = [{"key": "sandbox-scenario", "value": scenario}]
    return str(ecs.register_task_definition(**kwargs)["taskDefinition"]["taskDefinitionArn"])


def describe(ecs: Any) -> dict[str, Any]:
    service: dict[str, Any] = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    return service


def after(sandbox: Sandbox, ecs: Any, seconds: float) -> dict[str, Any]:
    """DescribeServices once sandbox time has moved `seconds` (plus EPS) further."""
    sandbox.advance(seconds + EPS)
    return describe(ecs)


def entries(sandbox: Sandbox) -> list[dict[str, Any]]:
    services = sandbox.timeline(CLUSTER, SERVICE)
    assert len(services) == 1
    result: list[dict[str, Any]] = services[0]["entries"]
    return result


def states(sandbox: Sandbox) -> list[tuple[str, float]]:
    return [(e["state"], e["t"]) for e in entries(sandbox) if e["state"] != "TASK_STOPPED"]


def test_healthy_rollout_timeline(sandbox: Sandbox, ecs: Any) -> None:
    previous = describe(ecs)
    old_id = previous["deployments"][0]["id"]
    td = register(ecs, "healthy:1")
    updated = ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)["service"]

    new = updated["deployments"][0]
    assert new["status"] == "PRIMARY"
    assert new["rolloutState"] == "IN_PROGRESS"
    assert new["runningCount"] == 0
    assert new["taskDefinition"] == td
    assert new["id"].startswith("ecs-svc/")
    assert new["id"][8:].isdigit()
    assert [(d["id"], d["status"]) for d in updated["deployments"][1:]] == [(old_id, "ACTIVE")]

    almost = after(sandbox, ecs, 0.5)
    assert almost["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert almost["deployments"][0]["runningCount"] == 1
    done = after(sandbox, ecs, 0.5)
    [final] = done["deployments"]
    assert (final["id"], final["status"], final["rolloutState"]) == (new["id"], "PRIMARY", "COMPLETED")
    assert final["runningCount"] == done["runningCount"] == done["desiredCount"] == 2
    assert final["rolloutStateReason"] == f"ECS deployment {new['id']} completed."
    assert done["taskDefinition"] == td
    assert states(sandbox) == [("IN_PROGRESS", 0.0), ("COMPLETED", 1.0)]
    for entry in entries(sandbox):
        assert entry["applied"] >= entry["t"]

    messages = [e["message"] for e in done["events"]]
    assert messages[0] == f"(service {SERVICE}) has reached a steady state."
    assert f"(service {SERVICE}) (deployment {new['id']}) deployment completed." in messages

    stopped = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=stopped)["tasks"]
    assert len(tasks) == 2
    for task in tasks:
        assert task["stoppedReason"] == f"Scaling activity initiated by (deployment {new['id']})"
        assert task["stopCode"] == "ServiceSchedulerInitiated"
        assert task["startedBy"] == old_id
    running = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]
    described = ecs.describe_tasks(cluster=CLUSTER, tasks=running)["tasks"]
    assert {t["taskDefinitionArn"] for t in described} == {td}
    assert {t["lastStatus"] for t in described} == {"RUNNING"}


def test_rollout_is_partial_midway(sandbox: Sandbox, ecs: Any) -> None:
    """slow:<n> starts tasks one by one: a phase with 1 of 2 running exists and is seen by DescribeServices."""
    td = register(ecs, "slow:2")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    assert after(sandbox, ecs, 0.9)["deployments"][0]["runningCount"] == 0
    midway = after(sandbox, ecs, 0.1)
    assert midway["deployments"][0]["runningCount"] == 1
    assert midway["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert midway["deployments"][0]["pendingCount"] == 1
    assert [d["status"] for d in midway["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert len(after(sandbox, ecs, 1.0)["deployments"]) == 1
    assert states(sandbox) == [("IN_PROGRESS", 0.0), ("COMPLETED", 2.0)]


def test_circuit_breaker_fails_then_rolls_back(sandbox: Sandbox, ecs: Any) -> None:
    before = describe(ecs)
    previous_td = before["taskDefinition"]
    previous_id = before["deployments"][0]["id"]
    td = register(ecs, "circuit-breaker:1:3")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    failed_id = describe(ecs)["deployments"][0]["id"]

    before_failure = after(sandbox, ecs, 0.9)
    assert [d["rolloutState"] for d in before_failure["deployments"]] == ["IN_PROGRESS", "COMPLETED"]
    assert before_failure["deployments"][0]["failedTasks"] == 2  # 3 crashes spread evenly up to t=1
    during = after(sandbox, ecs, 0.1)
    rollback, failed, original = during["deployments"]
    assert (failed["id"], failed["status"], failed["rolloutState"]) == (failed_id, "ACTIVE", "FAILED")
    assert failed["failedTasks"] >= 3
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert (rollback["status"], rollback["rolloutState"], rollback["taskDefinition"]) == (
        "PRIMARY",
        "IN_PROGRESS",
        previous_td,
    )
    assert rollback["rolloutStateReason"] == (
        f"ECS deployment circuit breaker: rolling back to deploymentId {previous_id}."
    )
    assert original["id"] == previous_id
    assert during["taskDefinition"] == previous_td
    messages = [e["message"] for e in during["events"]]
    assert (
        f"(service {SERVICE}) (deployment {failed_id}) deployment failed: tasks failed to start." in messages
    )
    assert f"(service {SERVICE}) rolling back to deployment {previous_id}." in messages

    assert len(after(sandbox, ecs, 1.9)["deployments"]) == 3
    done = after(sandbox, ecs, 0.1)
    [final] = done["deployments"]
    assert (final["id"], final["rolloutState"], final["taskDefinition"]) == (
        rollback["id"],
        "COMPLETED",
        previous_td,
    )
    assert done["runningCount"] == done["desiredCount"]
    assert states(sandbox) == [
        ("IN_PROGRESS", 0.0),
        ("FAILED", 1.0),
        ("ROLLBACK_IN_PROGRESS", 1.0),
        ("COMPLETED", 3.0),
    ]
    stop_times = [e["t"] for e in entries(sandbox) if e["state"] == "TASK_STOPPED"]
    assert len(stop_times) == 3
    assert stop_times == sorted(stop_times)
    assert stop_times[0] > 0
    assert stop_times[-1] <= 1.0

    stopped = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=stopped)["tasks"]
    crashed = [t for t in tasks if t["startedBy"] == failed_id]
    assert len(crashed) == 3
    for task in crashed:
        assert task["lastStatus"] == "STOPPED"
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["stopCode"] == "EssentialContainerExited"
        assert [c["exitCode"] for c in task["containers"]] == [1]
        assert task["taskDefinitionArn"] == td


def test_circuit_breaker_without_rollback_stays_failed(sandbox: Sandbox, ecs: Any) -> None:
    ecs.update_service(
        cluster=CLUSTER,
        service=SERVICE,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    )
    td = register(ecs, "circuit-breaker:0.5:1")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    failed = after(sandbox, ecs, 0.5)
    assert [(d["status"], d["rolloutState"]) for d in failed["deployments"]] == [
        ("PRIMARY", "FAILED"),
        ("ACTIVE", "COMPLETED"),
    ]
    later = after(sandbox, ecs, 60)  # far past the would-be rollback time: nothing more happens
    assert [(d["status"], d["rolloutState"]) for d in later["deployments"]] == [
        ("PRIMARY", "FAILED"),
        ("ACTIVE", "COMPLETED"),
    ]
    assert "ROLLBACK_IN_PROGRESS" not in [state for state, _ in states(sandbox)]


def test_stuck_rollout_never_concludes(sandbox: Sandbox, ecs: Any) -> None:
    td = register(ecs, "stuck")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    service = after(sandbox, ecs, 3600)
    primary = service["deployments"][0]
    assert (primary["rolloutState"], primary["runningCount"], primary["pendingCount"]) == (
        "IN_PROGRESS",
        0,
        2,
    )
    assert len(service["deployments"]) == 2
    assert states(sandbox) == [("IN_PROGRESS", 0.0)]
    [timeline] = sandbox.timeline(CLUSTER, SERVICE)
    assert (timeline["in_progress"], timeline["stuck"]) == ([], [primary["id"]])
    sandbox.settle()  # a stuck rollout is never waited for
    assert describe(ecs)["deployments"][0]["rolloutState"] == "IN_PROGRESS"


def test_new_update_supersedes_a_rollout_in_progress(sandbox: Sandbox, ecs: Any) -> None:
    first = register(ecs, "stuck")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=first)
    first_id = describe(ecs)["deployments"][0]["id"]
    second = register(ecs, "healthy:0.5")
    deployments = ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=second)["service"][
        "deployments"
    ]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE", "ACTIVE"]
    assert deployments[1]["id"] == first_id
    done = after(sandbox, ecs, 0.5)
    assert done["taskDefinition"] == second
    listed = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"]
    assert [sd["status"] for sd in listed] == ["SUCCESSFUL", "STOPPED"]


def test_force_new_deployment_starts_a_new_primary(sandbox: Sandbox, ecs: Any) -> None:
    before = describe(ecs)
    after = ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)["service"]
    assert after["deployments"][0]["id"] != before["deployments"][0]["id"]
    assert after["deployments"][0]["taskDefinition"] == before["taskDefinition"]


def test_scenario_tag_is_validated(sandbox: Sandbox, ecs: Any) -> None:
    before = describe(ecs)
    td = register(ecs, "circuit-breaker:soon")
    with pytest.raises(ClientError) as caught:
        ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "not a number of seconds" in caught.value.response["Error"]["Message"]
    after = describe(ecs)
    assert after["deployments"] == before["deployments"]
    assert after["taskDefinition"] == before["taskDefinition"]


@pytest.mark.sandbox_time_scale(20)
def test_services_stable_waiter_succeeds_on_healthy(sandbox: Sandbox, ecs: Any) -> None:
    td = register(ecs, "healthy:1")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    ecs.get_waiter("services_stable").wait(
        cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    service = describe(ecs)
    assert service["taskDefinition"] == td
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]


@pytest.mark.sandbox_time_scale(20)
def test_services_stable_waiter_reports_success_only_after_the_rollback(sandbox: Sandbox, ecs: Any) -> None:
    """ECS's real behaviour: the waiter ignores rolloutState, so a rolled-back deployment 'succeeds'."""
    previous_td = describe(ecs)["taskDefinition"]
    td = register(ecs, "circuit-breaker:1:2")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    ecs.get_waiter("services_stable").wait(
        cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    service = describe(ecs)
    assert service["taskDefinition"] == previous_td  # the waiter "succeeded" on the old revision
    assert len(service["deployments"]) == 1
    assert [state for state, _ in states(sandbox)][-1] == "COMPLETED"
    assert "FAILED" in [state for state, _ in states(sandbox)]


def test_service_deployments_api_follows_the_rollout(sandbox: Sandbox, ecs: Any) -> None:
    assert ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"] == []
    td = register(ecs, "circuit-breaker:0.5:1.5")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    [summary] = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"]
    assert summary["status"] == "IN_PROGRESS"
    arn = summary["serviceDeploymentArn"]
    assert arn.startswith(f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/{SERVICE}/")

    def status() -> str:
        [item] = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
        return str(item["status"])

    seen = [status()]
    for step in (0.25, 0.25, 0.5, 0.5):  # fails at 0.5, rollback done at 1.5
        sandbox.advance(step + EPS)
        seen.append(status())
    assert seen == [
        "IN_PROGRESS",
        "IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_SUCCESSFUL",
    ]
    [item] = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    assert item["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert item["deploymentCircuitBreaker"]["failureCount"] >= 3
    assert item["rollback"]["reason"] == "Circuit breaker: tasks failed to start"
    assert item["finishedAt"] >= item["startedAt"]
    filtered = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["SUCCESSFUL"])
    assert filtered["serviceDeployments"] == []
    missing = arn[:-5] + "zzzzz"
    result = ecs.describe_service_deployments(serviceDeploymentArns=[missing])
    assert result["failures"] == [{"arn": missing, "reason": "MISSING"}]


def test_service_revisions_name_the_task_definition_of_each_side_of_a_rollout(
    sandbox: Sandbox, ecs: Any
) -> None:
    running = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    td = register(ecs, "healthy:0.5")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    [summary] = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"]
    [sd] = ecs.describe_service_deployments(serviceDeploymentArns=[summary["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    target = sd["targetServiceRevision"]["arn"]
    [source] = [r["arn"] for r in sd["sourceServiceRevisions"]]
    sandbox.settle()  # the revisions outlive the rollout (DescribeServices no longer lists the source)
    described = ecs.describe_service_revisions(serviceRevisionArns=[target, source])
    assert described["failures"] == []
    by_arn = {r["serviceRevisionArn"]: r for r in described["serviceRevisions"]}
    assert by_arn[target]["taskDefinition"] == td
    assert by_arn[source]["taskDefinition"] == running
    assert by_arn[target]["serviceArn"].endswith(f":service/{CLUSTER}/{SERVICE}")
    [image] = by_arn[target]["containerImages"]
    assert image["imageDigest"].startswith("sha256:")
    assert image["image"].endswith(image["imageDigest"])
    missing = target[:-5] + "zzzzz"
    assert ecs.describe_service_revisions(serviceRevisionArns=[missing])["failures"] == [
        {"arn": missing, "reason": "MISSING"}
    ]


def test_reset_stops_rollouts_in_progress(sandbox: Sandbox, ecs: Any) -> None:
    td = register(ecs, "slow:30")
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    sandbox.reset()
    assert sandbox.timeline() == []
    sandbox.provision()
    service = describe(ecs)
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
    assert sandbox.timeline(CLUSTER, SERVICE)[0]["entries"] == []


def test_scale_without_new_task_definition_is_not_a_deployment(sandbox: Sandbox, ecs: Any) -> None:
    before = describe(ecs)
    after = ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=3)["service"]
    assert [d["id"] for d in after["deployments"]] == [d["id"] for d in before["deployments"]]
    assert after["runningCount"] == after["desiredCount"] == 3
