"""The event-driven watch: ECS events through EventBridge -> SQS decide fast; DescribeServices confirms.

Lost, duplicated, stale or forged events and a deleted queue must never change an outcome.
"""

from __future__ import annotations

import json
from typing import Any

from engine_support import push_test_image, record_clean_build

from envpromote import promote as usecases
from envpromote.aws import ClientFactory
from envpromote.rollout import EventWatcher, PollPolicy, RolloutWatcher, find_deployment_for


def _queue_url(ctx: usecases.Context, env_name: str = "dev") -> str:
    env = ctx.config.env(env_name)
    return ctx.env_client(env, "sqs").get_queue_url(QueueName=env.events_queue)["QueueUrl"]


def _start(ctx: usecases.Context, scenario: str) -> tuple[Any, str, str, str | None]:
    env = ctx.config.env("dev")
    plan = usecases.plan_deploy(ctx, "dev", push_test_image(scenario))
    ecs = ctx.env_client(env, "ecs")
    arn = ecs.register_task_definition(**plan.taskdef)["taskDefinition"]["taskDefinitionArn"]
    service = ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=arn)["service"]
    return env, find_deployment_for(service, arn), arn, plan.running_taskdef_arn


def _watcher(env: Any, factory: ClientFactory, safety: float = 30.0) -> EventWatcher:
    poller = RolloutWatcher(
        factory.client("ecs"), env.cluster, env.service, policy=PollPolicy(interval=0.5, first_poll_min=0.2)
    )
    return EventWatcher(poller, factory.client("sqs"), env.events_queue, safety_interval=safety)


def test_healthy_rollout_is_decided_by_events(ctx: usecases.Context) -> None:
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    result = usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    assert result.outcome.status == "success"
    assert result.outcome.source == "events"
    assert any("(decided by events)" in r for r in result.record["reasons"])


def test_circuit_breaker_is_decided_by_events_with_task_reasons(ctx: usecases.Context) -> None:
    env, deployment, arn, previous = _start(ctx, "circuit-breaker:1:6")
    outcome = _watcher(env, ClientFactory(env.region)).watch(
        deployment, arn, previous, started_at=usecases.utc_now(), timeout=60
    )
    assert outcome.status == "rolled_back"
    assert outcome.source == "events"
    assert any("stopped: " in r and "exit " in r for r in outcome.reasons)


def test_all_events_lost_the_safety_poll_still_tells_the_truth(ctx: usecases.Context, sandbox) -> None:
    sandbox.set_faults(event_loss=1.0)
    env, deployment, arn, previous = _start(ctx, "circuit-breaker:1:6")
    outcome = _watcher(env, ClientFactory(env.region), safety=2.0).watch(
        deployment, arn, previous, started_at=usecases.utc_now(), timeout=60
    )
    lost = sandbox.faults()
    sandbox.clear_faults()
    assert outcome.status == "rolled_back"
    assert outcome.source == "safety poll"
    assert lost


def test_forged_completed_event_does_not_make_a_failure_a_success(ctx: usecases.Context) -> None:
    env, deployment, arn, previous = _start(ctx, "circuit-breaker:2:8")
    forged = {
        "source": "aws.ecs",
        "detail-type": "ECS Deployment State Change",
        "time": usecases.utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [],
        "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED", "deploymentId": deployment},
    }
    sqs = ctx.env_client(env, "sqs")
    url = _queue_url(ctx)
    for _ in range(2):  # duplicated, too
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(forged))
    outcome = _watcher(env, ClientFactory(env.region)).watch(
        deployment, arn, previous, started_at=usecases.utc_now(), timeout=60
    )
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
    env, deployment, arn, previous = _start(ctx, "stuck")
    stale["detail"]["deploymentId"] = deployment  # even with our id, an event older than our start is stale
    ctx.env_client(env, "sqs").send_message(QueueUrl=_queue_url(ctx), MessageBody=json.dumps(stale))
    outcome = _watcher(env, ClientFactory(env.region)).watch(
        deployment, arn, previous, started_at=usecases.utc_now(), timeout=3
    )
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


def test_waiting_on_events_is_cheap(ctx: usecases.Context) -> None:
    env, deployment, arn, previous = _start(ctx, "stuck")
    factory = ClientFactory(env.region)
    outcome = _watcher(env, factory).watch(
        deployment, arn, previous, started_at=usecases.utc_now(), timeout=25
    )
    assert outcome.status == "timed_out"
    # 25 s of waiting: two long polls (20 s + 5 s), the queue lookup, and one DescribeServices at the end.
    waiting_calls = factory.counter.total("ecs") + factory.counter.total("sqs")
    assert waiting_calls <= 6, factory.counter.requests
