"""Regressions for the engine review: each test pins one way the tool could have lied, lost a record or
changed state it should not have."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_support import REPO_ROOT, push_test_image, record_clean_build

from envpromote import release as usecases
from envpromote.errors import PreflightFailed, RollbackFailed
from envpromote.ledger import new_record
from envpromote.rollout import WatchTarget, classify

YES = usecases.Approval(approver="alice", assume_yes=True)


def _deploy(ctx: usecases.Context, scenario: str = "healthy:0.3") -> str:
    digest = push_test_image(scenario)
    record_clean_build(ctx, digest)
    usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    return digest


def test_service_changed_since_the_plan_is_refused_under_the_lock(
    ctx: usecases.Context, config, aws_state
) -> None:
    _deploy(ctx)
    planned = push_test_image("healthy:0.3")
    record_clean_build(ctx, planned)
    plan = usecases.plan_deploy(ctx, "dev", planned)
    _deploy(ctx)  # someone else released in between
    env = config.env("dev")
    revisions = ctx.env_client(env, "ecs").list_task_definitions(familyPrefix=env.family)[
        "taskDefinitionArns"
    ]
    with pytest.raises(PreflightFailed, match=r"not .* as planned"):
        usecases.execute(ctx, plan, timeout=30)
    after = ctx.env_client(env, "ecs").list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"]
    assert after == revisions, "nothing was registered"
    assert ctx.ledger().history("dev")[-1]["status"] == "aborted"
    assert ctx.lock().holder("dev") is None


def test_append_is_idempotent_per_record(ctx: usecases.Context) -> None:
    now = usecases.utc_now()
    draft = new_record(
        environment="dev",
        kind="deploy",
        status="success",
        digest="sha256:" + "a" * 64,
        image_uri="r/app@sha256:" + "a" * 64,
        started_at=now,
        finished_at=now,
    )
    first = ctx.ledger().append(draft)
    again = ctx.ledger().append(draft)  # as if the first PUT's answer had been lost and the write retried
    assert again == first
    assert len(ctx.ledger().history("dev")) == 1


def test_a_deleted_record_does_not_block_later_writes(ctx: usecases.Context, config) -> None:
    for _ in range(3):
        _deploy(ctx)
    s3 = ctx.clients("us-east-1").client("s3")
    s3.delete_object(Bucket=config.ledger.bucket, Key="releases/envs/dev/0000000002.json")
    ctx_ledger_fresh = ctx.ledger()
    _deploy(ctx)
    sequences = [r["sequence"] for r in ctx_ledger_fresh.history("dev")]
    assert sequences == [1, 3, 4]
    _, problems = ctx.ledger().verify(["dev"])
    assert any("records 2 are missing" in str(p) for p in problems), "the gap is still reported"


def test_records_not_yet_in_the_ledger_block_planning(ctx: usecases.Context, aws_state) -> None:
    digest = _deploy(ctx)
    usecases.execute(
        ctx, usecases.plan_promote(ctx, "staging", digest, approval=usecases.Approval()), timeout=60
    )
    now = usecases.utc_now()
    kept = new_record(
        environment="staging",
        kind="rollback",
        status="success",
        digest="sha256:" + "b" * 64,
        image_uri="r/app@sha256:" + "b" * 64,
        previous_digest=digest,
        started_at=now,
        finished_at=now,
    )
    kept["schema_version"] = "broken"  # a draft the ledger refuses, so it stays pending
    ctx.local_records().keep_pending(kept)
    before = aws_state.snapshot()
    with pytest.raises(PreflightFailed, match="not yet in the ledger"):
        usecases.plan_promote(ctx, "production", digest, approval=YES)
    assert aws_state.snapshot() == before


def test_a_rollback_that_ecs_rolls_back_is_exit_6(ctx: usecases.Context) -> None:
    _deploy(ctx)
    # A digest the ledger knows as good whose rollout now trips the circuit breaker (say, a dependency died):
    good_then_broken = push_test_image("circuit-breaker:0.5:2")
    now = usecases.utc_now()
    ctx.ledger().append(
        new_record(
            environment="dev",
            kind="deploy",
            status="success",
            digest=good_then_broken,
            image_uri=f"r/envpromote-app@{good_then_broken}",
            started_at=now,
            finished_at=now,
        )
    )
    _deploy(ctx)
    plan = usecases.plan_rollback(ctx, "dev", good_then_broken, approval=usecases.Approval())
    with pytest.raises(RollbackFailed) as info:
        usecases.execute(ctx, plan, timeout=30)
    assert info.value.exit_code == 6


def test_second_rollback_goes_further_back(ctx: usecases.Context) -> None:
    first, second, third = (_deploy(ctx) for _ in range(3))
    back = usecases.execute(
        ctx, usecases.plan_rollback(ctx, "dev", None, approval=usecases.Approval()), timeout=60
    )
    assert back.record["digest"] == second
    again = usecases.execute(
        ctx, usecases.plan_rollback(ctx, "dev", None, approval=usecases.Approval()), timeout=60
    )
    assert again.record["digest"] == first, "not forward to the release just rolled away from"
    assert third not in {back.record["digest"], again.record["digest"]}


def test_stale_read_right_after_update_is_not_a_rollback() -> None:
    old = {"id": "ecs-svc/old", "status": "PRIMARY", "rolloutState": "COMPLETED", "taskDefinition": "td:1"}
    target = WatchTarget("ecs-svc/ours", "td:2", "td:1", usecases.utc_now(), frozenset({"ecs-svc/old"}))
    observation = classify({"deployments": [old]}, target)
    assert observation.verdict is None
    rollback = {**old, "id": "ecs-svc/rollback"}
    assert classify({"deployments": [rollback]}, target).verdict == "rolled_back"


def test_malformed_event_time_does_not_break_the_watch(ctx: usecases.Context, config) -> None:
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
    assert _deploy(ctx)
    assert ctx.ledger().history("dev")[-1]["status"] == "success"


def _invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"GITHUB_ACTIONS", "ENVPROMOTE_DIGEST"}}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_dry_run_of_an_approval_environment_asks_nothing_and_changes_nothing(
    ctx: usecases.Context, aws_state
) -> None:
    digest = _deploy(ctx)
    usecases.execute(
        ctx, usecases.plan_promote(ctx, "staging", digest, approval=usecases.Approval()), timeout=60
    )
    before = aws_state.snapshot()
    result = _invoke("promote", "--env", "production", "--digest", digest, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)["plan"]
    assert plan["approver"] is None
    assert any("not asked in a dry run" in line for line in plan["evidence"])
    assert aws_state.snapshot() == before
    bad = _invoke("promote", "--env", "production", "--digest", digest, "--dry-run", "--timeout", "soon")
    assert bad.returncode == 2
    assert "not a number" in bad.stderr


def test_step_summary_is_written_in_actions(ctx: usecases.Context, tmp_path: Path) -> None:
    digest = push_test_image("healthy:0.3")
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    result = _invoke(
        "deploy",
        "--env",
        "dev",
        "--digest",
        digest,
        "--records-dir",
        str(tmp_path / "records"),
        env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)},
    )
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert "deploy to dev: success" in text
    assert digest in text
    assert "record_path<<" in outputs.read_text()


def test_second_signal_while_recording_still_records_and_unlocks(
    ctx: usecases.Context, sandbox, tmp_path: Path
) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "invoke",
            "deploy",
            "--env",
            "dev",
            "--digest",
            digest,
            "--records-dir",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "watching deployment" not in proc.stderr.readline():
        pass
    sandbox.set_faults(
        latency_s={"s3": 1.5}
    )  # recording now takes seconds: the second signal lands inside it
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=90)
    sandbox.clear_faults()
    assert proc.returncode == 130
    assert ctx.ledger().history("dev")[-1]["status"] == "aborted"
    assert ctx.lock().holder("dev") is None
