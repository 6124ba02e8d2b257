"""Gates check evidence, not claims (issue 12): verified upstream records, ECS's word on a success, AWS's clock,
and no judgement while an upstream release is unresolved. Every refusal changes nothing in AWS.

Cases tried (the gates fooled: 0): a forged success (a real one with only the digest swapped, correctly chained),
a forged success naming another environment's task definition and deployment, a rolled_back record overwritten as
success, a deleted success, a deleted rollback away from the digest, an unresolved intent upstream, a local clock
two hours ahead against a one-hour soak.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_support import push_test_image, record_clean_build
from release_support import NO_APPROVAL, config_with, deployed, settled

from envpromote import release
from envpromote.config import load_config
from envpromote.errors import EnvPromoteError, GateRefused, LedgerError
from envpromote.ledger import Record, canonical_bytes, layout, new_record, utc_now


def _refused(
    aws_state: Any, action: Callable[[], object], error: type[EnvPromoteError], match: str
) -> EnvPromoteError:
    before = aws_state.snapshot()
    with pytest.raises(error, match=match) as info:
        action()
    assert info.value.fix, "every refusal names its fix"
    assert aws_state.snapshot() == before, "a refusal must not change AWS state"
    return info.value


def _copy(record: Record, **changes: Any) -> Record:
    """A new draft with `record`'s facts (and `changes`): what someone with write access could append."""
    fields = {
        name: record[name]
        for name in (
            "environment",
            "kind",
            "status",
            "digest",
            "image_uri",
            "source_environment",
            "task_definition_arn",
            "previous_digest",
            "previous_task_definition_arn",
            "reasons",
            "actor",
            "approver",
            "source_commit",
            "deployment_id",
            "allow_unscanned",
            "scan",
            "service_deployment_arn",
        )
    }
    fields.update(changes)
    now = utc_now()
    return new_record(started_at=now - dt.timedelta(seconds=30), finished_at=now, **fields)


def _last(ctx: release.Context, env: str) -> Record:
    return ctx.ledger().history(env)[-1]


def test_a_real_success_passes_with_its_evidence(ctx: release.Context) -> None:
    digest = deployed(ctx)
    plan = release.plan_promote(ctx, "staging", digest, approval=NO_APPROVAL, dry_run=True)
    evidence = "\n".join(plan.evidence)
    assert "by AWS's clock" in evidence
    assert "verified (schema, one S3 version, no delete marker, chain link)" in evidence
    assert f"runs {digest.removeprefix('sha256:')[:12]}" in evidence, (
        "ECS confirmed the task definition's image"
    )
    # The record names its service deployment (write-ahead engine): DescribeServiceDeployments confirms it.
    assert ": SUCCESSFUL" in evidence, "ECS confirmed the service deployment the record names"


def test_a_superseded_deployment_is_still_confirmed_through_its_service_deployment(
    ctx: release.Context,
) -> None:
    """The service's deployments list forgets a deployment once another replaces it; the record's service
    deployment ARN still lets ECS confirm it (DescribeServiceDeployments keeps 90 days)."""
    digest = deployed(ctx)
    deployed(ctx)  # ECS's service no longer lists the first deployment
    plan = release.plan_promote(ctx, "staging", digest, approval=NO_APPROVAL, dry_run=True)
    assert any(line.endswith(": SUCCESSFUL") for line in plan.evidence), plan.evidence
    assert any("task definition" in line and "runs" in line for line in plan.evidence)


def test_a_forged_success_with_the_digest_swapped_fails_the_gate(ctx: release.Context, aws_state) -> None:
    real = deployed(ctx)
    success = _last(ctx, "dev")
    never_ran = push_test_image("healthy:0.3", label="never ran in dev")
    record_clean_build(ctx, never_ran)
    forged = ctx.ledger().append(
        _copy(success, digest=never_ran, image_uri=success["image_uri"].replace(real, never_ran))
    )
    assert forged["digest"] == never_ran
    assert forged["prev_record_sha256"], "correctly chained"
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", never_ran, approval=NO_APPROVAL),
        GateRefused,
        r"ECS does not confirm the record",
    )
    assert err.exit_code == 3
    assert "whose container" in err.message
    assert real.removeprefix("sha256:")[:12] in err.message


def test_a_forged_success_naming_another_environments_deployment_fails(
    ctx: release.Context, aws_state
) -> None:
    digest = deployed(ctx)  # really ran in dev, never in staging
    dev_success = _last(ctx, "dev")
    record_clean_build(ctx, digest)
    ctx.ledger().append(_copy(dev_success, environment="staging", kind="promote", source_environment="dev"))
    err = _refused(
        aws_state,
        lambda: release.plan_promote(
            ctx, "production", digest, approval=release.Approval(approver="a", assume_yes=True)
        ),
        GateRefused,
        "of family",
    )
    assert err.exit_code == 3


def test_a_rolled_back_record_overwritten_as_success_fails_with_exit_4(
    ctx: release.Context, aws_state
) -> None:
    deployed(ctx)
    bad = push_test_image("circuit-breaker:0.5:2")
    record_clean_build(ctx, bad)
    with pytest.raises(EnvPromoteError):
        release.execute(ctx, release.plan_deploy(ctx, "dev", bad), timeout=30)
    settled(ctx, "dev")
    rolled_back = _last(ctx, "dev")
    assert rolled_back["status"] == "rolled_back"
    s3 = ctx.ledger().s3
    bucket, prefix = ctx.config.ledger.bucket, ctx.config.ledger.prefix
    key = layout.record_key(prefix, "dev", rolled_back["sequence"])
    s3.put_object(Bucket=bucket, Key=key, Body=canonical_bytes({**rolled_back, "status": "success"}))
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", bad, approval=NO_APPROVAL),
        LedgerError,
        "versions in S3",
    )
    assert err.exit_code == 4
    assert key in err.message, "the refusal names the object"


def test_a_deleted_upstream_success_fails_with_exit_4(ctx: release.Context, aws_state) -> None:
    digest = deployed(ctx)
    success = _last(ctx, "dev")
    key = layout.record_key(ctx.config.ledger.prefix, "dev", success["sequence"])
    ctx.ledger().s3.delete_object(Bucket=ctx.config.ledger.bucket, Key=key)
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", digest, approval=NO_APPROVAL),
        LedgerError,
        "missing",
    )
    assert err.exit_code == 4
    assert key in err.message


def test_a_deleted_rollback_away_from_the_digest_fails_with_exit_4(ctx: release.Context, aws_state) -> None:
    first = deployed(ctx)
    second = deployed(ctx)
    release.execute(ctx, release.plan_rollback(ctx, "dev", None, approval=NO_APPROVAL), timeout=60)
    rollback = _last(ctx, "dev")
    assert rollback["kind"] == "rollback"
    assert rollback["previous_digest"] == second
    assert rollback["digest"] == first
    key = layout.record_key(ctx.config.ledger.prefix, "dev", rollback["sequence"])
    ctx.ledger().s3.delete_object(Bucket=ctx.config.ledger.bucket, Key=key)
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", second, approval=NO_APPROVAL),
        LedgerError,
        "missing",
    )
    assert key in err.message


def test_an_unresolved_intent_upstream_is_not_yet_proven(ctx: release.Context, aws_state) -> None:
    digest = deployed(ctx)
    success = _last(ctx, "dev")
    now = utc_now()
    ctx.ledger().append(
        new_record(
            environment="dev",
            kind="deploy",
            status="in_progress",
            digest=digest,
            image_uri=success["image_uri"],
            started_at=now,
            finished_at=now,
        )
    )
    assert ctx.ledger().unresolved_intents("dev")
    # A live run holds dev (its intent is its own, still rolling out): reconcile leaves it, the gate refuses.
    lock = ctx.lock()
    lease = lock.acquire("dev", "carol (a deploy still rolling out)")
    try:
        err = _refused(
            aws_state,
            lambda: release.plan_promote(ctx, "staging", digest, approval=NO_APPROVAL),
            GateRefused,
            "not yet proven",
        )
    finally:
        lock.release(lease)
    assert err.exit_code == 3
    assert "invoke ledger.reconcile --env dev" in (err.fix or "")


def test_soak_is_measured_with_aws_clock_not_the_local_one(
    make_context, aws_state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soaking = load_config(config_with(tmp_path, "environments.staging", "soak_seconds", "3600"))
    ctx = make_context(config=soaking)
    digest = deployed(ctx)
    ahead = dt.timedelta(hours=2)

    def skewed() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + ahead

    # Every local clock the code could read is two hours ahead: the soak (3600 s) must still not be met.
    for name, module in list(sys.modules.items()):
        if name.startswith("envpromote") and getattr(module, "utc_now", None) is not None:
            monkeypatch.setattr(module, "utc_now", skewed)
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", digest, approval=NO_APPROVAL),
        GateRefused,
        r"by AWS's clock\); staging needs 3600s",
    )
    assert err.exit_code == 3


def test_a_forged_success_reusing_a_failed_runs_task_definition_fails(
    ctx: release.Context, aws_state
) -> None:
    """The copy names a task definition that really runs the digest in dev's family - one a failed run registered."""
    deployed(ctx)
    bad = push_test_image("circuit-breaker:0.5:2")
    record_clean_build(ctx, bad)
    with pytest.raises(EnvPromoteError):
        release.execute(ctx, release.plan_deploy(ctx, "dev", bad), timeout=30)
    settled(ctx, "dev")
    rolled_back = _last(ctx, "dev")
    assert rolled_back["status"] == "rolled_back"
    ctx.ledger().append(_copy(rolled_back, status="success", reasons=["looks fine"]))
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", bad, approval=NO_APPROVAL),
        GateRefused,
        rf"record #{rolled_back['sequence']} \(rolled_back\) registered for another run",
    )
    assert err.exit_code == 3
