"""ECS-native strategies (BLUE_GREEN, CANARY, LINEAR) in the sandbox, through plain boto3 and the listeners.

The sandbox clock is frozen (``sandbox_time_scale(0)``): a deployment moves only when a test advances sandbox
time, so each lifecycle stage is observed at a moment the test chooses. Stage timings are the sandbox's
(``strategies.STAGE_S`` per stage, the scenario's time for SCALE_UP, the configured bake times). Every
service deployment answer is checked against botocore's output shape (keys, types, enum values), raw, as
the server sent it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from envpromote.sandbox import process
from envpromote.sandbox.listeners import clear_listener_counts, listeners
from envpromote.sandbox.scenarios import FAILABLE_STAGES, LIFECYCLE_STAGES
from envpromote.sandbox.testing import Sandbox

CLUSTER = "envpromote-dev"
SERVICE = "envpromote-dev-web"
FAMILY = "envpromote-dev-web"
EPS = 0.001
BEFORE_PRODUCTION = LIFECYCLE_STAGES[: LIFECYCLE_STAGES.index("PRODUCTION_TRAFFIC_SHIFT")]

pytestmark = pytest.mark.sandbox_time_scale(0)


# ---------------------------------------------------------------------------------------------- shapes
def check_shape(shape: Any, value: Any, path: str = "$") -> None:
    """`value` (raw JSON from the server) fits botocore's `shape`: known keys, right types, enum values."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        if shape.metadata.get("document"):
            return
        for key, item in value.items():
            assert key in shape.members, f"{path}.{key} is not in {shape.name}"
            if item is not None:
                check_shape(shape.members[key], item, f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            check_shape(shape.member, item, f"{path}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), path
        if shape.enum:
            assert value in shape.enum, f"{path}={value!r} not in {shape.enum}"
    elif kind in {"integer", "long"}:
        assert isinstance(value, int), path
        assert not isinstance(value, bool), path
    elif kind in {"double", "float"}:
        assert isinstance(value, int | float), path
        assert not isinstance(value, bool), path
    elif kind == "boolean":
        assert isinstance(value, bool), path
    elif kind == "timestamp":
        assert isinstance(value, int | float | str), path


class ShapeChecked:
    """An ECS client whose service deployment answers are checked against their output shapes."""

    OPERATIONS = (
        "ListServiceDeployments",
        "DescribeServiceDeployments",
        "ContinueServiceDeployment",
        "StopServiceDeployment",
    )

    def __init__(self) -> None:
        self.client: Any = boto3.client("ecs")
        self.checked: list[str] = []
        for operation in self.OPERATIONS:
            self.client.meta.events.register(f"after-call.ecs.{operation}", self._check)

    def _check(self, http_response: Any, model: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            check_shape(model.output_shape, json.loads(http_response.content))
            self.checked.append(model.name)


@pytest.fixture
def checked() -> ShapeChecked:
    return ShapeChecked()


@pytest.fixture
def ecs(checked: ShapeChecked) -> Any:
    return checked.client


# ---------------------------------------------------------------------------------------------- helpers
def register(ecs: Any, scenario: str, *, tag: str = "green") -> str:
    current = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    base = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    container = dict(base["containerDefinitions"][0])
    repo = container["image"].split("@")[0].split(":")[0]
    container["image"] = f"{repo}@sha256:{hashlib.sha256(tag.encode()).hexdigest()}"
    return str(
        ecs.register_task_definition(
            family=FAMILY,
            containerDefinitions=[container],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu=base["cpu"],
            memory=base["memory"],
            tags=[{"key": "sandbox-scenario", "value": scenario}],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def pause_hook(stage: str = "POST_TEST_TRAFFIC_SHIFT", **timeout: Any) -> dict[str, Any]:
    hook: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": [stage]}
    if timeout:
        hook["timeoutConfiguration"] = timeout
    return hook


def deploy(ecs: Any, scenario: str, **config: Any) -> tuple[str, str]:
    """UpdateService with a new revision and this deploymentConfiguration; returns (task definition, SD ARN)."""
    td = register(ecs, scenario)
    ecs.update_service(
        cluster=CLUSTER,
        service=SERVICE,
        taskDefinition=td,
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100, **config},
    )
    found = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"]
    return td, str(found[0]["serviceDeploymentArn"])


def sd(ecs: Any, arn: str) -> dict[str, Any]:
    [found] = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    return dict(found)


def service(ecs: Any) -> dict[str, Any]:
    return dict(ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0])


def stages(sandbox: Sandbox) -> list[tuple[str, float, str]]:
    [found] = sandbox.timeline(CLUSTER, SERVICE)
    return [(e["state"], e["t"], e["detail"]) for e in found["entries"] if e["state"] != "TASK_STOPPED"]


def listener(sandbox: Sandbox) -> dict[str, Any]:
    [found] = listeners(sandbox.url, CLUSTER, SERVICE)
    return found


def get(sandbox: Sandbox, which: str, path: str = "/") -> tuple[int, dict[str, Any]]:
    url = listener(sandbox)["listeners"][which]["url"] + path
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the local sandbox
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


def served(sandbox: Sandbox, which: str, revision: str) -> int:
    counts = listener(sandbox)["requests"][which].get(revision) or {}
    return int(counts.get("served", 0))


def revisions(ecs: Any, arn: str) -> tuple[str, str]:
    """(blue, green) service revision ARNs of a service deployment."""
    found = sd(ecs, arn)
    return found["sourceServiceRevisions"][0]["arn"], found["targetServiceRevision"]["arn"]


# ---------------------------------------------------------------------------------------------- strategies
def test_blue_green_plays_every_stage_in_order_with_traffic(
    sandbox: Sandbox, ecs: Any, checked: ShapeChecked
) -> None:
    old_td = service(ecs)["taskDefinition"]
    td, arn = deploy(ecs, "healthy:2", strategy="BLUE_GREEN", bakeTimeInMinutes=1)
    blue, green = revisions(ecs, arn)
    start = sd(ecs, arn)
    assert (start["status"], start["lifecycleStage"]) == ("IN_PROGRESS", "RECONCILE_SERVICE")
    assert start["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert start["deploymentConfiguration"]["bakeTimeInMinutes"] == 1
    assert start["lifecycleHookDetails"] == []

    # RECONCILE 1 s, PRE_SCALE_UP 1 s, SCALE_UP 2 s, POST_SCALE_UP 1 s: test traffic moves at t=5
    sandbox.advance(4.5)
    scaled = service(ecs)
    assert [(d["taskDefinition"], d["runningCount"]) for d in scaled["deployments"]] == [(td, 2), (old_td, 2)]
    assert get(sandbox, "test")[1]["revision"] == blue
    sandbox.advance(1.0)
    now = sd(ecs, arn)
    assert now["lifecycleStage"] == "TEST_TRAFFIC_SHIFT"
    assert now["targetServiceRevision"]["requestedTestTrafficWeight"] == 100.0
    assert now["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert now["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 100.0
    status, body = get(sandbox, "test")
    assert (status, body["revision"], body["digest"]) == (
        200,
        green,
        f"sha256:{hashlib.sha256(b'green').hexdigest()}",
    )
    assert get(sandbox, "production")[1]["revision"] == blue

    sandbox.advance(2.0)  # POST_TEST 6..7, PRODUCTION_TRAFFIC_SHIFT 7..8
    assert sd(ecs, arn)["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert get(sandbox, "production")[1]["revision"] == green
    sandbox.advance(1.0)
    assert sd(ecs, arn)["lifecycleStage"] == "POST_PRODUCTION_TRAFFIC_SHIFT"
    sandbox.advance(1.0)
    baking = service(ecs)
    assert sd(ecs, arn)["lifecycleStage"] == "BAKE_TIME"
    assert len(baking["deployments"]) == 2  # blue keeps running through the bake
    sandbox.advance(60.0)
    assert sd(ecs, arn)["lifecycleStage"] == "CLEAN_UP"
    sandbox.advance(1.0 + EPS)
    done = sd(ecs, arn)
    assert (done["status"], done["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP")
    assert "finishedAt" in done
    assert "rollback" not in done
    final = service(ecs)
    assert [(d["taskDefinition"], d["rolloutState"]) for d in final["deployments"]] == [(td, "COMPLETED")]

    played = [s for s, _, _ in stages(sandbox) if s in LIFECYCLE_STAGES]
    assert played == list(LIFECYCLE_STAGES)
    times = {s: t for s, t, _ in stages(sandbox)}
    assert times["TEST_TRAFFIC_SHIFT"] == pytest.approx(5.0)
    assert times["BAKE_TIME"] == pytest.approx(9.0)
    assert times["COMPLETED"] == pytest.approx(70.0)
    messages = [e["message"] for e in final["events"]]
    assert (
        f"(service {SERVICE}) (deployment {final['deployments'][0]['id']}) entered lifecycle stage BAKE_TIME."
        in messages
    )
    assert served(sandbox, "production", green) == 1
    assert {"ListServiceDeployments", "DescribeServiceDeployments"} <= set(checked.checked)


def test_create_service_keeps_the_strategy(sandbox: Sandbox, ecs: Any) -> None:
    """moto drops deploymentConfiguration on CreateService; the sandbox keeps it, strategy included."""
    base = service(ecs)
    config = {
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 2},
    }
    created = ecs.create_service(
        cluster=CLUSTER,
        serviceName="bg-web",
        taskDefinition=base["taskDefinition"],
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=base["networkConfiguration"],
        deploymentConfiguration=config,
    )["service"]
    assert created["deploymentConfiguration"]["strategy"] == "CANARY"
    assert created["deploymentConfiguration"]["canaryConfiguration"]["canaryPercent"] == 20.0
    [found] = listeners(sandbox.url, CLUSTER, "bg-web")
    assert found["listeners"]["test"]["port"] != found["listeners"]["production"]["port"]


def test_canary_sends_the_canary_share_of_production_then_all(sandbox: Sandbox, ecs: Any) -> None:
    _, arn = deploy(
        ecs,
        "healthy:1",
        strategy="CANARY",
        canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
    )
    blue, green = revisions(ecs, arn)
    sandbox.advance(6.5)  # into PRODUCTION_TRAFFIC_SHIFT (t=6): the canary step, 1 s + 60 s of canary bake
    now = sd(ecs, arn)
    assert now["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert now["targetServiceRevision"]["requestedProductionTrafficWeight"] == 10.0
    clear_listener_counts(sandbox.url)
    for _ in range(20):
        assert get(sandbox, "production")[0] == 200
    assert (served(sandbox, "production", green), served(sandbox, "production", blue)) == (2, 18)
    sandbox.advance(60.0)  # the canary step ends at t = 6 + 1 + 60
    assert sd(ecs, arn)["targetServiceRevision"]["requestedProductionTrafficWeight"] == 10.0
    sandbox.advance(1.0)
    assert sd(ecs, arn)["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "SUCCESSFUL"
    shifts = [d for s, _, d in stages(sandbox) if s == "PRODUCTION_TRAFFIC_SHIFT"]
    assert [d.split(" / ")[1] for d in shifts] == [
        "production traffic 10% on the target revision",
        "production traffic 100% on the target revision",
    ]


def test_linear_moves_production_traffic_step_by_step(sandbox: Sandbox, ecs: Any) -> None:
    _, arn = deploy(
        ecs,
        "healthy:1",
        strategy="LINEAR",
        linearConfiguration={"stepPercent": 25.0, "stepBakeTimeInMinutes": 1},
    )
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "SUCCESSFUL"
    shifts = [
        (t, d.split(" / ")[1].split("%")[0]) for s, t, d in stages(sandbox) if s == "PRODUCTION_TRAFFIC_SHIFT"
    ]
    assert [p for _, p in shifts] == [
        "production traffic 25",
        "production traffic 50",
        "production traffic 75",
        "production traffic 100",
    ]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(shifts)]
    assert gaps == [pytest.approx(61.0)] * 3  # each step: 1 s shift + 1 min step bake


# ---------------------------------------------------------------------------------------------- PAUSE hooks
def test_pause_hook_holds_until_continue(sandbox: Sandbox, ecs: Any, checked: ShapeChecked) -> None:
    td, arn = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    blue, green = revisions(ecs, arn)
    sandbox.settle()  # a paused deployment is not due: settle leaves it paused
    paused = sd(ecs, arn)
    assert (paused["status"], paused["lifecycleStage"]) == ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")
    [hook] = paused["lifecycleHookDetails"]
    assert (hook["targetType"], hook["status"], hook["timeoutAction"]) == (
        "PAUSE",
        "AWAITING_ACTION",
        "ROLLBACK",
    )
    assert (hook["expiresAt"] - paused["updatedAt"]).total_seconds() == pytest.approx(1440 * 60)
    assert sandbox.timeline(CLUSTER, SERVICE)[0]["paused"] == [service(ecs)["deployments"][0]["id"]]
    sandbox.advance(600.0)
    assert sd(ecs, arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert get(sandbox, "test")[1]["revision"] == green
    assert get(sandbox, "production")[1]["revision"] == blue

    assert (
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")[
            "serviceDeploymentArn"
        ]
        == arn
    )
    assert sd(ecs, arn)["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    sandbox.settle()
    done = sd(ecs, arn)
    assert done["status"] == "SUCCESSFUL"
    assert service(ecs)["taskDefinition"] == td
    assert get(sandbox, "production")[1]["revision"] == green
    assert "ContinueServiceDeployment" in checked.checked


@pytest.mark.parametrize(
    ("hook_stage", "stage", "test", "production"),
    [
        ("RECONCILE_SERVICE", "RECONCILE_SERVICE", 0.0, 0.0),
        ("PRE_SCALE_UP", "PRE_SCALE_UP", 0.0, 0.0),
        ("POST_SCALE_UP", "POST_SCALE_UP", 0.0, 0.0),
        ("TEST_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT", 100.0, 0.0),
        ("POST_TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", 100.0, 0.0),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", 100.0, 0.0),
        ("PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", 100.0, 100.0),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", 100.0, 100.0),
    ],
)
def test_pause_at_every_hook_stage(
    sandbox: Sandbox, ecs: Any, hook_stage: str, stage: str, test: float, production: float
) -> None:
    _, arn = deploy(ecs, "healthy:1", strategy="LINEAR", lifecycleHooks=[pause_hook(hook_stage)])
    sandbox.settle()
    paused = sd(ecs, arn)
    assert paused["lifecycleStage"] == stage
    target = paused["targetServiceRevision"]
    assert (target["requestedTestTrafficWeight"], target["requestedProductionTrafficWeight"]) == (
        test,
        production,
    )
    [hook] = paused["lifecycleHookDetails"]
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "SUCCESSFUL"


def test_lambda_hooks_succeed_and_pause_hooks_queue(sandbox: Sandbox, ecs: Any) -> None:
    """The sandbox has no Lambda: an AWS_LAMBDA hook succeeds at once; two PAUSE hooks wait one after the other."""
    function = "arn:aws:lambda:us-east-1:123456789012:function:verify"
    hooks = [
        {
            "targetType": "AWS_LAMBDA",
            "hookTargetArn": function,
            "roleArn": "arn:aws:iam::123456789012:role/h",
            "lifecycleStages": ["POST_SCALE_UP"],
        },
        pause_hook("POST_TEST_TRAFFIC_SHIFT"),
        pause_hook("POST_TEST_TRAFFIC_SHIFT"),
    ]
    _, arn = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", lifecycleHooks=hooks)
    sandbox.settle()
    lam, first, second = sd(ecs, arn)["lifecycleHookDetails"]
    assert (lam["targetType"], lam["status"], lam["targetArn"]) == ("AWS_LAMBDA", "SUCCEEDED", function)
    assert (first["status"], second["status"]) == ("AWAITING_ACTION", "AWAITING_ACTION")
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=first["hookId"], action="CONTINUE")
    sandbox.settle()
    assert sd(ecs, arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=second["hookId"], action="CONTINUE")
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "SUCCESSFUL"


def test_continue_with_rollback_restores_blue_before_production_traffic(sandbox: Sandbox, ecs: Any) -> None:
    old_td = service(ecs)["taskDefinition"]
    _, arn = deploy(ecs, "healthy:1+http-fail:test", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    blue, green = revisions(ecs, arn)
    sandbox.settle()
    # what a verification sees on test traffic: the failing green; production still blue and fine
    assert get(sandbox, "test", "/health")[0] == 503
    assert get(sandbox, "test")[0] == 500
    assert get(sandbox, "production", "/health") == (
        200,
        {"status": "ok", "digest": get(sandbox, "production")[1]["digest"], "revision": blue},
    )
    hook = sd(ecs, arn)["lifecycleHookDetails"][0]["hookId"]
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="ROLLBACK")
    rolling_back = sd(ecs, arn)
    assert rolling_back["status"] == "ROLLBACK_IN_PROGRESS"
    assert rolling_back["rollback"]["serviceRevisionArn"] == blue
    assert rolling_back["lifecycleHookDetails"][0]["status"] == "FAILED"
    assert get(sandbox, "test")[1]["revision"] == blue  # every listener back on blue at once
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "ROLLBACK_SUCCESSFUL"
    final = service(ecs)
    assert final["taskDefinition"] == old_td
    assert [d["taskDefinition"] for d in final["deployments"]] == [old_td]
    counts = listener(sandbox)["requests"]
    assert green not in counts["production"]
    assert counts["test"][green] == {
        "served": 2,
        "failed": 2,
        "digest": counts["test"][green]["digest"],
        "taskDefinition": counts["test"][green]["taskDefinition"],
    }
    with pytest.raises(ClientError) as again:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="CONTINUE")
    assert again.value.response["Error"]["Code"] == "InvalidParameterException"


@pytest.mark.parametrize(
    ("action", "status"), [("ROLLBACK", "ROLLBACK_SUCCESSFUL"), ("CONTINUE", "SUCCESSFUL")]
)
def test_paused_hook_times_out_with_its_action(sandbox: Sandbox, ecs: Any, action: str, status: str) -> None:
    hook = pause_hook("PRE_PRODUCTION_TRAFFIC_SHIFT", timeoutInMinutes=2, action=action)
    _, arn = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", lifecycleHooks=[hook])
    sandbox.settle()
    paused = sd(ecs, arn)
    assert paused["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
    assert paused["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    sandbox.advance(119.0)
    assert sd(ecs, arn)["lifecycleHookDetails"][0]["status"] == "AWAITING_ACTION"
    sandbox.advance(1.0 + EPS)
    assert sd(ecs, arn)["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    sandbox.settle()
    assert sd(ecs, arn)["status"] == status


def test_hook_timeout_scenario_knob(sandbox: Sandbox, ecs: Any) -> None:
    """hook-timeout:<s> shortens a revision's PAUSE hooks (the configured 24 h default would need a day)."""
    _, arn = deploy(ecs, "healthy:1+hook-timeout:5", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    sandbox.settle()
    paused = sd(ecs, arn)
    [hook] = paused["lifecycleHookDetails"]
    assert (hook["expiresAt"] - paused["updatedAt"]).total_seconds() == pytest.approx(5.0)
    sandbox.advance(5.0 + EPS)
    timed_out = sd(ecs, arn)
    assert timed_out["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    assert timed_out["status"] == "ROLLBACK_IN_PROGRESS"
    assert timed_out["rollback"]["reason"] == f"Lifecycle hook {hook['hookId']} timed out."


def test_stuck_staged_deployment_stays_in_scale_up_and_a_newer_one_supersedes_it(
    sandbox: Sandbox, ecs: Any
) -> None:
    _, stuck = deploy(ecs, "stuck", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook("PRE_SCALE_UP")])
    sandbox.settle()
    hook = sd(ecs, stuck)["lifecycleHookDetails"][0]["hookId"]
    ecs.continue_service_deployment(serviceDeploymentArn=stuck, hookId=hook)
    sandbox.settle()
    assert sd(ecs, stuck)["lifecycleStage"] == "SCALE_UP"
    assert sandbox.timeline(CLUSTER, SERVICE)[0]["stuck"] == [service(ecs)["deployments"][0]["id"]]
    _, paused = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    assert sd(ecs, stuck)["status"] == "STOPPED"
    sandbox.settle()
    old_hook = sd(ecs, paused)["lifecycleHookDetails"][0]["hookId"]
    td, _ = deploy(ecs, "healthy:1", strategy="BLUE_GREEN")
    with pytest.raises(ClientError) as superseded:  # a stopped deployment's hook cannot be continued
        ecs.continue_service_deployment(serviceDeploymentArn=paused, hookId=old_hook)
    assert superseded.value.response["Error"]["Code"] == "InvalidParameterException"
    sandbox.settle()
    assert service(ecs)["taskDefinition"] == td
    assert [d["taskDefinition"] for d in service(ecs)["deployments"]] == [td]


# ---------------------------------------------------------------------------------------------- failures
@pytest.mark.parametrize("stage", FAILABLE_STAGES)
def test_failing_at_each_stage_rolls_back_to_blue(sandbox: Sandbox, ecs: Any, stage: str) -> None:
    old_td = service(ecs)["taskDefinition"]
    _, arn = deploy(ecs, f"healthy:1+fail-at:{stage}", strategy="BLUE_GREEN", bakeTimeInMinutes=1)
    blue, green = revisions(ecs, arn)
    for _ in range(80):  # production traffic sampled at every second of the deployment
        get(sandbox, "production")
        if sd(ecs, arn)["status"] != "IN_PROGRESS":
            break
        sandbox.advance(1.0)
    failed = sd(ecs, arn)
    assert failed["status"] == "ROLLBACK_IN_PROGRESS"
    assert failed["lifecycleStage"] == stage
    assert failed["rollback"]["serviceRevisionArn"] == blue
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "ROLLBACK_SUCCESSFUL"
    assert service(ecs)["taskDefinition"] == old_td
    if stage in BEFORE_PRODUCTION or stage == "PRODUCTION_TRAFFIC_SHIFT":  # found failing on entering it
        assert served(sandbox, "production", green) == 0
    else:
        assert served(sandbox, "production", green) > 0
    messages = [e["message"] for e in service(ecs)["events"]]
    assert any("rolling back to deployment" in m for m in messages)


def test_alarm_during_bake_rolls_back(sandbox: Sandbox, ecs: Any) -> None:
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    alarms = {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}
    _, arn = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", bakeTimeInMinutes=5, alarms=alarms)
    sandbox.advance(10.0)
    baking = sd(ecs, arn)
    assert baking["lifecycleStage"] == "BAKE_TIME"
    assert baking["alarms"] == {"status": "MONITORING", "alarmNames": ["web-5xx"], "triggeredAlarmNames": []}
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx on green")
    sandbox.advance(0.5)
    rolled = sd(ecs, arn)
    assert rolled["status"] == "ROLLBACK_IN_PROGRESS"
    assert rolled["alarms"]["status"] == "TRIGGERED"
    assert rolled["alarms"]["triggeredAlarmNames"] == ["web-5xx"]
    assert "web-5xx" in rolled["rollback"]["reason"]
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "ROLLBACK_SUCCESSFUL"


def test_alarm_in_bake_scenario_sets_the_alarm_itself(sandbox: Sandbox, ecs: Any) -> None:
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="web-latency",
        MetricName="TargetResponseTime",
        Namespace="AWS/ApplicationELB",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarms = {"alarmNames": ["web-latency"], "enable": True, "rollback": True}
    _, arn = deploy(ecs, "healthy:1+alarm-in-bake", strategy="CANARY", bakeTimeInMinutes=5, alarms=alarms)
    sandbox.settle()
    done = sd(ecs, arn)
    assert (done["status"], done["lifecycleStage"]) == ("ROLLBACK_SUCCESSFUL", "BAKE_TIME")
    state = cloudwatch.describe_alarms(AlarmNames=["web-latency"])["MetricAlarms"][0]["StateValue"]
    assert state == "ALARM"


def test_http_fail_on_test_traffic_only(sandbox: Sandbox, ecs: Any) -> None:
    """http-fail:test: a check on test traffic fails; once continued, production answers (ECS never noticed)."""
    _, arn = deploy(ecs, "healthy:1+http-fail:test", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    _, green = revisions(ecs, arn)
    sandbox.settle()
    assert get(sandbox, "test", "/health") == (503, {"status": "failing"})
    ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=sd(ecs, arn)["lifecycleHookDetails"][0]["hookId"]
    )
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "SUCCESSFUL"
    status, body = get(sandbox, "production")
    assert (status, body["revision"]) == (200, green)
    assert listener(sandbox)["requests"]["production"][green]["failed"] == 0


# ---------------------------------------------------------------------------------------------- StopServiceDeployment
def test_stop_rollback_and_abort(sandbox: Sandbox, ecs: Any, checked: ShapeChecked) -> None:
    old_td = service(ecs)["taskDefinition"]
    _, arn = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    sandbox.settle()
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert sd(ecs, arn)["status"] == "ROLLBACK_IN_PROGRESS"
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "ROLLBACK_SUCCESSFUL"
    assert service(ecs)["taskDefinition"] == old_td
    with pytest.raises(ClientError) as finished:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert finished.value.response["Error"]["Code"] == "ConflictException"

    _td, arn = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    sandbox.advance(3.0)
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    aborted = sd(ecs, arn)
    assert aborted["status"] == "STOPPED"
    assert "stoppedAt" in aborted
    assert "StopServiceDeployment" in checked.checked


def test_stop_rollback_of_a_rolling_deployment(sandbox: Sandbox, ecs: Any) -> None:
    old_td = service(ecs)["taskDefinition"]
    _, arn = deploy(ecs, "slow:30")
    sandbox.advance(5.0)
    ecs.stop_service_deployment(serviceDeploymentArn=arn)
    assert sd(ecs, arn)["status"] == "ROLLBACK_IN_PROGRESS"
    sandbox.settle()
    assert sd(ecs, arn)["status"] == "ROLLBACK_SUCCESSFUL"
    assert service(ecs)["taskDefinition"] == old_td


def test_refusals(sandbox: Sandbox, ecs: Any) -> None:
    missing = f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/{SERVICE}/nope"
    with pytest.raises(ClientError) as unknown:
        ecs.continue_service_deployment(serviceDeploymentArn=missing, hookId="x")
    assert unknown.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"
    _, arn = deploy(ecs, "healthy:1", strategy="BLUE_GREEN", lifecycleHooks=[pause_hook()])
    sandbox.settle()
    with pytest.raises(ClientError) as wrong_hook:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="not-a-hook")
    assert wrong_hook.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as bad:
        ecs.update_service(
            cluster=CLUSTER,
            service=SERVICE,
            deploymentConfiguration={"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}},
        )
    assert bad.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "canaryPercent" in bad.value.response["Error"]["Message"]


def test_listener_counts_reset_with_the_sandbox(sandbox: Sandbox, ecs: Any) -> None:
    before = listener(sandbox)
    get(sandbox, "production")
    assert sum(c["served"] for c in listener(sandbox)["requests"]["production"].values()) == 1
    process.reset(sandbox.url)
    sandbox.provision()
    after = listener(sandbox)
    assert after["listeners"] == before["listeners"]  # the ports stay for the server's life
    assert after["requests"] == {"test": {}, "production": {}}
