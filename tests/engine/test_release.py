"""Deploy / promote against the sandbox's real server: each outcome, its record, fail-fast."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from engine_support import REPO_ROOT, push_test_image, record_clean_build
from release_support import NO_APPROVAL, YES, cli_environment, deployed

from envpromote import release
from envpromote.errors import BadInput, DeploymentFailed, RolloutTimedOut
from envpromote.ledger import schema_errors


def test_deploy_success_is_recorded_everywhere(ctx: release.Context) -> None:
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    result = release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)
    record = result.record
    assert record is not None
    assert record["status"] == "success"
    assert record["kind"] == "deploy"
    assert record["digest"] == digest
    # write-ahead: the intent took sequence 1 before the first change; the outcome resolves it
    intent, final = ctx.ledger().history("dev")
    assert (intent["sequence"], intent["status"], intent["kind"]) == (1, "in_progress", "deploy")
    assert intent["digest"] == digest
    assert intent["task_definition_arn"] is None
    assert intent["previous_task_definition_arn"] == record["previous_task_definition_arn"]
    assert any("rendered sha256 " in reason for reason in intent["reasons"])
    assert final == record
    assert record["sequence"] == 2
    assert (record["resolves"], record["resolves_sequence"]) == (intent["record_id"], 1)
    assert ctx.ledger().unresolved_intents("dev") == []
    assert record["task_definition_arn"].startswith("arn:aws:ecs:")
    assert record["service_deployment_arn"], "the ECS service deployment the gates cross-check"
    assert record["deployment_id"].startswith("ecs-svc/")
    assert record["previous_digest"]
    assert record["previous_digest"] != digest
    assert schema_errors(record) == []
    assert result.record_path is not None
    assert json.loads(result.record_path.read_text()) == record
    assert ctx.ledger().last_success("dev")["record_id"] == record["record_id"]
    drift = release.drift(ctx, "dev")
    assert drift.running_digest == digest
    assert not drift.drifted
    assert not drift.in_progress
    assert result.api_calls["ecs:UpdateService"] == 1
    assert result.api_calls["ecs:RegisterTaskDefinition"] == 1


def test_circuit_breaker_is_reported_before_ecs_finishes_rolling_back(ctx: release.Context, config) -> None:
    deployed(ctx, "healthy:1")
    bad = push_test_image("circuit-breaker:1:8")
    record_clean_build(ctx, bad)
    with pytest.raises(DeploymentFailed) as info:
        release.execute(ctx, release.plan_deploy(ctx, "dev", bad), timeout=60)
    assert info.value.exit_code == 5
    # Fail fast: when the command returned, ECS was still rolling back (two deployments listed).
    env = config.env("dev")
    service = ctx.env_client(env, "ecs").describe_services(cluster=env.cluster, services=[env.service])
    assert len(service["services"][0]["deployments"]) > 1
    assert release.drift(ctx, "dev").in_progress, "drift and preflight share one 'in progress' rule"
    record = ctx.ledger().history("dev")[-1]
    assert record["status"] == "rolled_back"
    text = " | ".join(record["reasons"])
    assert "circuit breaker" in text
    assert "ROLLBACK_IN_PROGRESS" in text, "the service deployments API's state is part of the reasons"
    assert "stopped: " in text
    assert "exit " in text


def test_stuck_rollout_times_out_with_a_statement(ctx: release.Context) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    with pytest.raises(RolloutTimedOut) as info:
        release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=3)
    assert info.value.exit_code == 7
    assert "IN_PROGRESS" in info.value.message
    assert ctx.ledger().history("dev")[-1]["status"] == "timed_out"


def test_rollback_on_timeout_restores_the_previous_task_definition(ctx: release.Context, config) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    plan = release.plan_deploy(ctx, "dev", digest)
    with pytest.raises(RolloutTimedOut):
        release.execute(ctx, plan, timeout=2, rollback_on_timeout=True)
    env = config.env("dev")
    service = ctx.env_client(env, "ecs").describe_services(cluster=env.cluster, services=[env.service])
    assert service["services"][0]["taskDefinition"] == plan.running_taskdef_arn
    assert "rolled back to" in ctx.ledger().history("dev")[-1]["reasons"][-1]


def test_chain_dev_staging_production(ctx: release.Context) -> None:
    digest = deployed(ctx, "healthy:1")
    staging = release.execute(
        ctx, release.plan_promote(ctx, "staging", None, approval=NO_APPROVAL), timeout=60
    )
    assert staging.record is not None
    assert staging.record["digest"] == digest
    assert staging.record["source_environment"] == "dev"
    production = release.execute(
        ctx, release.plan_promote(ctx, "production", digest, approval=YES), timeout=60
    )
    assert production.record is not None
    assert production.record["approver"] == "alice"
    assert production.record["status"] == "success"
    # the engine writes nothing to ECR (deploy roles hold no image write): the promotion tagger Lambda in
    # infra tags promoted digests from the ledger (tests/infra/test_promotion_tagger.py)
    tags = ctx.ecr().describe_images(repositoryName="envpromote-app", imageIds=[{"imageDigest": digest}])
    assert not any(t.startswith("promoted-") for t in tags["imageDetails"][0].get("imageTags", []))
    assert "ecr:PutImage" not in production.api_calls


def test_dry_run_changes_nothing(ctx: release.Context, aws_state) -> None:
    digest = push_test_image("healthy:1")
    record_clean_build(ctx, digest)
    before = aws_state.snapshot()
    plan = release.plan_deploy(ctx, "dev", digest)
    assert plan.diff  # the bootstrap definition differs from the rendered one
    assert aws_state.snapshot() == before


def test_malformed_events_do_not_break_the_watch(ctx: release.Context, config) -> None:
    env = config.env("dev")
    sqs = ctx.env_client(env, "sqs")
    url = sqs.get_queue_url(QueueName=env.events_queue)["QueueUrl"]
    naive = {
        "source": "aws.ecs",
        "detail-type": "ECS Deployment State Change",
        "time": "2026-11-26T15:00:00",
        "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED", "deploymentId": "x"},
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(naive))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({**naive, "time": ["not", "a", "time"]}))
    assert deployed(ctx)
    assert ctx.ledger().history("dev")[-1]["status"] == "success"


@pytest.mark.parametrize(
    ("approver", "message"),
    [(b"bob\xff", "not valid UTF-8"), (b"bob\x1b[31m", "control or non-printable")],
    ids=["not-utf8", "escape-sequence"],
)
def test_an_approver_that_is_not_text_changes_nothing(
    ctx: release.Context, aws_state, approver: bytes, message: str
) -> None:
    """`--approver $'bob\\xff'` once crashed after the rollout and lost the record; now it is refused (exit 2)
    before any AWS call."""
    digest = deployed(ctx)
    before = aws_state.snapshot()
    argv: list[str | bytes] = [
        sys.executable,
        "-m",
        "invoke",
        "promote",
        "--env",
        "staging",
        "--digest",
        digest,
    ]
    refused = subprocess.run(
        [*argv, "--yes", "--approver", approver],
        cwd=REPO_ROOT,
        env=cli_environment(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert message in refused.stderr
    assert aws_state.snapshot() == before, "nothing registered, deployed, recorded or locked"
    with pytest.raises(BadInput, match="--approver"):
        release.Approval(approver=approver.decode("utf-8", "surrogateescape"), assume_yes=True)
