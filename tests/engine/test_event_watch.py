"""The watches against the sandbox: ECS events through EventBridge -> SQS decide fast; DescribeServices confirms.

Lost, duplicated, stale or forged events and a deleted queue must never change an outcome. An out-of-band
deployment during the watch is judged by what ECS ends up running (issue 12), and failure reasons are about
our deployment only (issue 13).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from engine_support import push_test_image, record_clean_build

from envpromote import release as usecases
from envpromote.aws import ClientFactory
from envpromote.rollout import (
    EventWatcher,
    PollPolicy,
    Progress,
    RolloutWatcher,
    WatchTarget,
    find_deployment_for,
)


def _queue_url(ctx: usecases.Context, env_name: str = "dev") -> str:
    env = ctx.config.env(env_name)
    return ctx.env_client(env, "sqs").get_queue_url(QueueName=env.events_queue)["QueueUrl"]


def _start(ctx: usecases.Context, scenario: str) -> tuple[Any, WatchTarget]:
    """Register and roll out an image with `scenario`; the target's start is taken before the UpdateService."""
    env = ctx.config.env("dev")
    plan = usecases.plan_deploy(ctx, "dev", push_test_image(scenario))
    ecs = ctx.env_client(env, "ecs")
    arn = ecs.register_task_definition(**plan.taskdef)["taskDefinition"]["taskDefinitionArn"]
    started = usecases.utc_now()
    service = ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=arn)["service"]
    deployment = find_deployment_for(service, arn)
    assert deployment is not None
    stale = frozenset(plan.running_deployment_ids)
    return env, WatchTarget(deployment, arn, plan.running_taskdef_arn, started, stale)


def _poller(
    env: Any, factory: ClientFactory, on_progress: Callable[[Progress], None] | None = None
) -> RolloutWatcher:
    return RolloutWatcher(
        factory.client("ecs"),
        env.cluster,
        env.service,
        policy=PollPolicy(interval=0.5, first_poll_min=0.2),
        on_progress=on_progress,
    )


def _watcher(
    env: Any,
    factory: ClientFactory,
    safety: float = 30.0,
    on_progress: Callable[[Progress], None] | None = None,
) -> EventWatcher:
    poller = _poller(env, factory, on_progress)
    return EventWatcher(poller, factory.client("sqs"), env.events_queue, safety_interval=safety)


def _once(action: Callable[[], None]) -> Callable[[Progress], None]:
    """An on_progress callback that runs `action` at the watch's first report - mid-watch, with no sleep."""
    done: list[bool] = []

    def on_progress(_progress: Progress) -> None:
        if not done:
            done.append(True)
            action()

    return on_progress


def test_healthy_rollout_is_decided_by_events(ctx: usecases.Context) -> None:
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    result = usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    assert result.outcome.status == "success"
    assert result.outcome.source == "events"
    assert any("(decided by events)" in r for r in result.record["reasons"])


def test_circuit_breaker_is_decided_by_events_with_task_reasons(ctx: usecases.Context) -> None:
    env, target = _start(ctx, "circuit-breaker:1:6")
    outcome = _watcher(env, ClientFactory(env.region)).watch(target, timeout=60)
    assert outcome.status == "rolled_back"
    assert outcome.source == "events"
    assert any("stopped: " in r and "exit " in r for r in outcome.reasons)


def test_all_events_lost_the_safety_poll_still_tells_the_truth(ctx: usecases.Context, sandbox) -> None:
    sandbox.set_faults(event_loss=1.0)
    env, target = _start(ctx, "circuit-breaker:1:6")
    outcome = _watcher(env, ClientFactory(env.region), safety=2.0).watch(target, timeout=60)
    lost = sandbox.faults()
    sandbox.clear_faults()
    assert outcome.status == "rolled_back"
    assert outcome.source == "safety poll"
    assert lost


def test_forged_completed_event_does_not_make_a_failure_a_success(ctx: usecases.Context) -> None:
    env, target = _start(ctx, "circuit-breaker:2:8")
    forged = {
        "source": "aws.ecs",
        "detail-type": "ECS Deployment State Change",
        "time": usecases.utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [],
        "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED", "deploymentId": target.deployment_id},
    }
    sqs = ctx.env_client(env, "sqs")
    url = _queue_url(ctx)
    for _ in range(2):  # duplicated, too
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(forged))
    outcome = _watcher(env, ClientFactory(env.region)).watch(target, timeout=60)
    assert outcome.status == "rolled_back"


def test_stale_events_of_an_earlier_rollout_are_ignored(ctx: usecases.Context) -> None:
    first = push_test_image("healthy:0.5")
    record_clean_build(ctx, first)
    usecases.execute(
        ctx,
        usecases.plan_deploy(ctx, "dev", first),
        timeout=60,
    )
    stale = {
        "source": "aws.ecs",
        "detail-type": "ECS Deployment State Change",
        "time": "2020-01-01T00:00:00Z",
        "resources": [],
        "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED", "deploymentId": "ecs-svc/0"},
    }
    env = ctx.config.env("dev")
    ctx.env_client(env, "sqs").send_message(QueueUrl=_queue_url(ctx), MessageBody=json.dumps(stale))
    env, target = _start(ctx, "stuck")
    stale["detail"]["deploymentId"] = target.deployment_id  # even with our id, an event older than our start
    ctx.env_client(env, "sqs").send_message(QueueUrl=_queue_url(ctx), MessageBody=json.dumps(stale))
    outcome = _watcher(env, ClientFactory(env.region)).watch(target, timeout=3)
    assert outcome.status == "timed_out"


def test_deleted_queue_falls_back_to_polling_and_says_so(ctx: usecases.Context) -> None:
    env = ctx.config.env("dev")
    ctx.env_client(env, "sqs").delete_queue(QueueUrl=_queue_url(ctx))
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    result = usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    assert result.outcome.status == "success"
    assert result.outcome.source.startswith("poll")
    assert any("event queue unavailable" in r for r in result.record["reasons"])


@pytest.mark.slow
def test_waiting_on_events_is_cheap(ctx: usecases.Context) -> None:
    env, target = _start(ctx, "stuck")
    factory = ClientFactory(env.region)
    outcome = _watcher(env, factory).watch(target, timeout=25)
    assert outcome.status == "timed_out"
    # 25 s of waiting: the queue lookup, a first long poll that returns at once with our deployment's
    # IN_PROGRESS event, then long polls of at most 10 s (10 + 10 + ~5, so progress shows every 10 s), one
    # DescribeServices at the end and one batch delete. The ECS budget is what matters: one call.
    assert factory.counter.total("ecs") == 1, factory.counter.requests
    assert factory.counter.total("sqs") <= 6, factory.counter.requests


# ---- issue 12: an out-of-band deployment during the watch is judged by what ECS ends up running -------------


def _force_new_deployment(ctx: usecases.Context, env: Any) -> Callable[[], None]:
    ecs = ctx.env_client(env, "ecs")
    return lambda: ecs.update_service(cluster=env.cluster, service=env.service, forceNewDeployment=True)


def test_forced_new_deployment_of_our_task_definition_is_success_by_polling(ctx: usecases.Context) -> None:
    env, target = _start(ctx, "healthy:6")  # the force lands at the first report, seconds before completion
    watcher = _poller(env, ClientFactory(env.region), _once(_force_new_deployment(ctx, env)))
    outcome = watcher.watch(target, timeout=60)
    assert outcome.status == "success", outcome
    assert outcome.took_over_by not in (None, target.deployment_id)
    assert any(
        "took over from" in r and "ECS runs our task definition, COMPLETED" in r for r in outcome.reasons
    )
    service = watcher.describe()
    assert service["taskDefinition"] == target.task_definition_arn
    assert service["deployments"][0]["id"] == outcome.took_over_by


def test_forced_new_deployment_of_our_task_definition_is_success_by_events(ctx: usecases.Context) -> None:
    env, target = _start(ctx, "healthy:6")  # the force lands at the first report, seconds before completion
    watcher = _watcher(env, ClientFactory(env.region), on_progress=_once(_force_new_deployment(ctx, env)))
    outcome = watcher.watch(target, timeout=60)
    assert outcome.status == "success", outcome
    assert outcome.source == "events"
    assert outcome.took_over_by not in (None, target.deployment_id)


def test_out_of_band_deployment_of_another_image_says_what_ecs_runs(ctx: usecases.Context) -> None:
    env = ctx.config.env("dev")
    other_plan = usecases.plan_deploy(
        ctx, "dev", push_test_image("healthy:1")
    )  # planned while the service is idle
    ecs = ctx.env_client(env, "ecs")
    other = ecs.register_task_definition(**other_plan.taskdef)["taskDefinition"]["taskDefinitionArn"]
    env, target = _start(ctx, "healthy:3")

    def deploy_other() -> None:
        ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=other)

    outcome = _poller(env, ClientFactory(env.region), _once(deploy_other)).watch(target, timeout=60)
    assert outcome.status == "failed"
    assert f"ECS now runs {other}" in outcome.reasons[0]


# ---- issue 13: the reasons are about our deployment only ---------------------------------------------------


def test_circuit_breaker_reasons_name_only_our_service_deployment(ctx: usecases.Context) -> None:
    env, first = _start(ctx, "circuit-breaker:1:2")
    factory = ClientFactory(env.region)
    assert _poller(env, factory).watch(first, timeout=60).status == "rolled_back"
    # Wait on the sandbox's timeline (not the wall clock) for the first rollback to finish.
    factory.client("ecs").get_waiter("services_stable").wait(
        cluster=env.cluster, services=[env.service], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    briefs = factory.client("ecs").list_service_deployments(cluster=env.cluster, service=env.service)
    assert "ROLLBACK_SUCCESSFUL" in {b["status"] for b in briefs["serviceDeployments"]}

    env, second = _start(ctx, "circuit-breaker:1:6")
    outcome = _poller(env, factory).watch(second, timeout=60)
    assert outcome.status == "rolled_back"
    service_deployments = [r for r in outcome.reasons if r.startswith("service deployment ")]
    assert len(service_deployments) == 1, outcome.reasons
    assert "ROLLBACK_SUCCESSFUL" not in service_deployments[0]
    assert not any(old in r for r in outcome.reasons for old in second.stale_ids)
