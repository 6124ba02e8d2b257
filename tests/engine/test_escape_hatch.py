"""The escape hatch (issue 12): `rollback` works while a rollout is stuck or in progress. It shows what it will
supersede, the re-check under the lock accepts exactly that rollout, and the record says both."""

from __future__ import annotations

import pytest
from engine_support import push_test_image, record_clean_build
from release_support import NO_APPROVAL, deployed, run_cli

from envpromote import release
from envpromote.errors import PreflightFailed, RolloutTimedOut


def _stuck(ctx: release.Context) -> str:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    with pytest.raises(RolloutTimedOut):
        release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=1)
    return digest


def test_stuck_deploy_times_out_then_rollback_restores_the_previous_digest(ctx: release.Context) -> None:
    previous = push_test_image("healthy:0.3")
    stuck = push_test_image("stuck")
    assert run_cli("deploy", "--env", "dev", "--digest", previous, "--timeout", "50").returncode == 0
    timed_out = run_cli("deploy", "--env", "dev", "--digest", stuck, "--timeout", "3")
    assert timed_out.returncode == 7, timed_out.stderr
    back = run_cli("rollback", "--env", "dev", "--timeout", "50")
    assert back.returncode == 0, back.stderr
    assert "supersedes deployment" in back.stderr + back.stdout, "it shows what it stops"
    drift = release.drift(ctx, "dev")
    assert drift.running_digest == previous
    assert not drift.drifted
    record = ctx.ledger().history("dev")[-1]
    assert record["kind"] == "rollback"
    assert record["status"] == "success"
    assert record["previous_digest"] == stuck
    assert any("supersedes deployment" in reason for reason in record["reasons"])


def test_the_plan_names_the_rollout_it_supersedes(ctx: release.Context) -> None:
    previous = deployed(ctx)
    stuck = _stuck(ctx)
    plan = release.plan_rollback(ctx, "dev", None, approval=NO_APPROVAL, dry_run=True)
    assert plan.image.digest == previous
    assert plan.supersedes is not None
    assert plan.supersedes.digest == stuck
    assert plan.supersedes.rollout_state == "IN_PROGRESS"
    assert plan.supersedes.how == "update-service", "what execute does, and so what the plan says"
    assert plan.supersedes.service_deployment_arn, "the sandbox offers the service deployments API"
    # StopServiceDeployment(ROLLBACK) would return to `previous` here; execute supersedes with UpdateService,
    # and the plan never claims a stop that execute does not make.
    assert plan.supersedes.describe().endswith("by update-service")
    assert plan.supersedes.deployment_id in plan.running_deployment_ids
    assert any(line.startswith("supersedes deployment") for line in plan.evidence)


def test_the_recheck_accepts_only_the_superseded_rollout(ctx: release.Context, config) -> None:
    previous = deployed(ctx)
    _stuck(ctx)
    plan = release.plan_rollback(ctx, "dev", None, approval=NO_APPROVAL)
    env = config.env("dev")
    ecs = ctx.env_client(env, "ecs")
    ecs.update_service(cluster=env.cluster, service=env.service, forceNewDeployment=True)  # someone else
    revisions = ecs.list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"]
    with pytest.raises(PreflightFailed, match="since the plan was made"):
        release.execute(ctx, plan, timeout=30)
    assert ecs.list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"] == revisions
    again = release.execute(ctx, release.plan_rollback(ctx, "dev", None, approval=NO_APPROVAL), timeout=60)
    assert again.record is not None
    assert again.record["status"] == "success"
    assert release.drift(ctx, "dev").running_digest == previous


def test_deploy_over_a_rollout_in_progress_still_refused_naming_the_escape_hatch(
    ctx: release.Context,
) -> None:
    deployed(ctx)
    _stuck(ctx)
    other = push_test_image("healthy:0.3")
    with pytest.raises(PreflightFailed, match="in progress") as info:
        release.plan_deploy(ctx, "dev", other)
    assert "invoke rollback --env dev" in (info.value.fix or "")
