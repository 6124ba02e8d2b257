"""The verified pause against the sandbox: blue/green through the sandbox's lifecycle stages and its test listener.

Needs the sandbox's strategies and listeners (issue 14, the sandbox half); skipped on a sandbox without them.
The sandbox clock is frozen and moved by the watcher's clock, so no real time passes and nothing races.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

import boto3
import pytest

from envpromote.errors import PreflightFailed
from envpromote.rollout import Outcome, PollPolicy, WatchTarget, find_deployment_for
from envpromote.sandbox.process import control
from envpromote.sandbox.testing import Sandbox
from envpromote.strategy import merged_deployment_configuration, parse_strategy
from envpromote.verify import VerifyContext, strategy_watcher

CLUSTER, SERVICE = "envpromote-dev", "envpromote-dev-web"


class SandboxClock:
    """The watcher's clock: sleeping moves the (frozen) sandbox clock by as much."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.box.advance(seconds)


def listeners(box: Sandbox) -> dict[str, Any]:
    try:
        [found] = control(box.url, f"listeners?cluster={CLUSTER}&service={SERVICE}")["services"]
    except PreflightFailed as exc:
        if "no such control endpoint" not in exc.message:
            raise
        pytest.skip("this sandbox has no listeners endpoint: its strategies (issue 14) are not merged yet")
    return dict(found)


def client(box: Sandbox, name: str) -> Any:
    return boto3.client(
        name, endpoint_url=box.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def release(box: Sandbox, scenario: str, tag: str) -> tuple[Outcome, str]:
    """Register a revision playing `scenario`, update the service blue/green with a verified pause, watch it."""
    ecs = client(box, "ecs")
    test_url = listeners(box)["listeners"]["test"]["url"]
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    base = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    container = dict(base["containerDefinitions"][0])
    digest = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    container["image"] = container["image"].split("@")[0].split(":")[0] + "@" + digest
    new_td = ecs.register_task_definition(
        family=base["family"],
        containerDefinitions=[container],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu=base["cpu"],
        memory=base["memory"],
        tags=[{"key": "sandbox-scenario", "value": scenario}],
    )["taskDefinition"]["taskDefinitionArn"]
    strategy = parse_strategy(
        {
            "strategy": "blue_green",
            "bake_minutes": 1,
            "verify": {
                "test_url": test_url,
                "http": [{"path": "/", "json": {"digest": "{digest}"}}, {"path": "/health"}],
            },
        },
        "environments.dev",
    )
    started = dt.datetime.fromisoformat(str(box.clock()["wall"]).replace("Z", "+00:00"))
    stale = frozenset(str(d["id"]) for d in service["deployments"])
    updated = ecs.update_service(
        cluster=CLUSTER,
        service=SERVICE,
        taskDefinition=new_td,
        deploymentConfiguration=merged_deployment_configuration(
            service.get("deploymentConfiguration", {}), strategy
        ),
    )["service"]
    deployment_id = find_deployment_for(updated, new_td)
    assert deployment_id is not None
    watcher = strategy_watcher(
        ecs,
        CLUSTER,
        SERVICE,
        strategy,
        VerifyContext(env="dev", digest=digest),
        policy=PollPolicy(interval=5.0, first_poll_min=1.0),
        clock=SandboxClock(box),
        rng=random.Random(0),
    )
    target = WatchTarget(deployment_id, new_td, service["taskDefinition"], started, stale)
    return watcher.watch(target, timeout=1800), digest


def test_a_healthy_revision_is_verified_on_test_traffic_then_continued(sandbox: Sandbox) -> None:
    listeners(sandbox)  # skips on a sandbox without strategies
    sandbox.freeze()
    outcome, digest = release(sandbox, "healthy:1", "green")
    assert outcome.status == "success"
    assert outcome.service_deployment_arn is not None
    checks = [(e["check"], e["result"]) for e in outcome.verification]
    assert checks[:3] == [
        ("pause: http GET /", "pass"),
        ("pause: http GET /health", "pass"),
        ("pause: ContinueServiceDeployment CONTINUE", "pass"),
    ]
    assert digest in outcome.verification[0]["detail"]
    assert ("bake: http GET /", "pass") in checks


def test_a_revision_failing_on_test_traffic_is_rolled_back_before_production_traffic(
    sandbox: Sandbox,
) -> None:
    listeners(sandbox)
    sandbox.freeze()
    outcome, _ = release(sandbox, "healthy:1+http-fail:test", "bad-green")
    assert outcome.status == "rolled_back"
    assert outcome.stage == "POST_TEST_TRAFFIC_SHIFT"
    assert [(e["check"], e["result"]) for e in outcome.verification] == [
        ("pause: http GET /", "fail"),
        ("pause: http GET /health", "fail"),
        ("pause: ContinueServiceDeployment ROLLBACK", "pass"),
    ]
    assert outcome.service_deployment_arn is not None
    failing = outcome.service_deployment_arn.rsplit("/", 1)[-1]
    production = listeners(sandbox)["requests"]["production"]
    assert not any(revision.endswith(failing) for revision in production)  # no production request reached it
