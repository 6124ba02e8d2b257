"""Deploy / promote / rollback against the sandbox's real server: each outcome, its record, fail-fast."""

from __future__ import annotations

import json

import pytest
from engine_support import push_test_image, record_clean_build

from envpromote import release as usecases
from envpromote.errors import DeploymentFailed, RolloutTimedOut
from envpromote.ledger import schema_errors

YES = usecases.Approval(approver="alice", assume_yes=True)


def test_deploy_success_is_recorded_everywhere(ctx: usecases.Context, config) -> None:
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    result = usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    record = result.record
    assert record["status"] == "success"
    assert record["kind"] == "deploy"
    assert record["digest"] == digest
    assert record["sequence"] == 1
    assert record["deployment_id"].startswith("ecs-svc/")
    assert record["previous_digest"]
    assert record["previous_digest"] != digest
    assert schema_errors(record) == []
    on_disk = json.loads(result.record_path.read_text())
    assert on_disk == record
    assert ctx.ledger().last_success("dev")["record_id"] == record["record_id"]
    drift = usecases.drift(ctx, "dev")
    assert drift.running_digest == digest
    assert not drift.drifted
    assert result.api_calls["ecs:UpdateService"] == 1
    assert result.api_calls["ecs:RegisterTaskDefinition"] == 1


def test_circuit_breaker_is_reported_before_ecs_finishes_rolling_back(ctx: usecases.Context, config) -> None:
    good = push_test_image("healthy:1")
    record_clean_build(ctx, good)
    usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", good), timeout=60)
    bad = push_test_image("circuit-breaker:1:8")
    record_clean_build(ctx, bad)
    with pytest.raises(DeploymentFailed) as info:
        usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", bad), timeout=60)
    assert info.value.exit_code == 5
    # Fail fast: when the command returned, ECS was still rolling back (two deployments listed).
    env = config.env("dev")
    service = ctx.env_client(env, "ecs").describe_services(cluster=env.cluster, services=[env.service])
    assert len(service["services"][0]["deployments"]) > 1
    record = ctx.ledger().history("dev")[-1]
    assert record["status"] == "rolled_back"
    text = " | ".join(record["reasons"])
    assert "circuit breaker" in text
    assert "ROLLBACK_IN_PROGRESS" in text, "the service deployments API's state is part of the reasons"
    assert "stopped: " in text
    assert "exit " in text


def test_stuck_rollout_times_out_with_a_statement(ctx: usecases.Context) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    with pytest.raises(RolloutTimedOut) as info:
        usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=3)
    assert info.value.exit_code == 7
    assert "IN_PROGRESS" in info.value.message
    record = ctx.ledger().history("dev")[-1]
    assert record["status"] == "timed_out"


def test_rollback_on_timeout_restores_the_previous_task_definition(ctx: usecases.Context, config) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    plan = usecases.plan_deploy(ctx, "dev", digest)
    with pytest.raises(RolloutTimedOut):
        usecases.execute(ctx, plan, timeout=2, rollback_on_timeout=True)
    env = config.env("dev")
    service = ctx.env_client(env, "ecs").describe_services(cluster=env.cluster, services=[env.service])
    assert service["services"][0]["taskDefinition"] == plan.running_taskdef_arn
    assert "rolled back to" in ctx.ledger().history("dev")[-1]["reasons"][-1]


def test_chain_dev_staging_production(ctx: usecases.Context) -> None:
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    staging = usecases.execute(
        ctx, usecases.plan_promote(ctx, "staging", None, approval=usecases.Approval()), timeout=60
    )
    assert staging.record["digest"] == digest
    assert staging.record["source_environment"] == "dev"
    production = usecases.execute(
        ctx, usecases.plan_promote(ctx, "production", digest, approval=YES), timeout=60
    )
    assert production.record["approver"] == "alice"
    assert production.record["status"] == "success"
    # promoted images carry an immutable tag so lifecycle rules never expire them
    tags = ctx.ecr().describe_images(repositoryName="envpromote-app", imageIds=[{"imageDigest": digest}])
    assert "promoted-production-" + digest[7:19] in tags["imageDetails"][0]["imageTags"]


def test_rollback_returns_to_the_last_known_good(ctx: usecases.Context) -> None:
    first, second = push_test_image("healthy:1"), push_test_image("healthy:1")
    for digest in (first, second):
        record_clean_build(ctx, digest)
        usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    result = usecases.execute(
        ctx, usecases.plan_rollback(ctx, "dev", None, approval=usecases.Approval()), timeout=60
    )
    assert result.record["kind"] == "rollback"
    assert result.record["digest"] == first
    assert result.record["previous_digest"] == second
    assert usecases.drift(ctx, "dev").running_digest == first


def test_dry_run_changes_nothing(ctx: usecases.Context, aws_state) -> None:
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    before = aws_state.snapshot()
    plan = usecases.plan_deploy(ctx, "dev", digest)
    assert plan.diff  # the bootstrap definition differs from the rendered one
    assert aws_state.snapshot() == before


def test_ledger_verify_names_a_deleted_record(ctx: usecases.Context, config) -> None:
    for _ in range(3):
        digest = push_test_image("healthy:0.5")
        record_clean_build(ctx, digest)
        usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    checked, problems = ctx.ledger().verify()
    assert (checked, problems) == (3, [])
    s3 = ctx.clients("us-east-1").client("s3")
    s3.delete_object(Bucket=config.ledger.bucket, Key="releases/envs/dev/0000000002.json")
    _, problems = ctx.ledger().verify()
    text = [str(p) for p in problems]
    assert "dev: releases/envs/dev/0000000003.json: records 2 are missing before it (deleted?)" in text
    assert "dev: releases/envs/dev/0000000002.json: was deleted (delete marker in S3)" in text
