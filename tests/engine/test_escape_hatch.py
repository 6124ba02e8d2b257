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
    assert plan.supersedes.how == "update-service", "the sandbox offers no StopServiceDeployment"
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


class _Ecs:
    """An ECS endpoint that offers the service deployments and revisions APIs (the sandbox does not)."""

    def __init__(self, source_digest: str) -> None:
        self.source_digest = source_digest

    def describe_task_definition(self, taskDefinition: str) -> dict:
        digest = self.source_digest if taskDefinition == "td:1" else "sha256:" + "5" * 64
        return {"taskDefinition": {"containerDefinitions": [{"name": "web", "image": f"r/app@{digest}"}]}}

    def list_service_deployments(self, **_kwargs: object) -> dict:
        return {"serviceDeployments": [{"serviceDeploymentArn": "sd/1"}]}

    def describe_service_deployments(self, serviceDeploymentArns: list) -> dict:
        return {
            "serviceDeployments": [
                {"sourceServiceRevisions": [{"arn": "rev/1"}], "targetServiceRevision": {"arn": "rev/2"}}
            ]
        }

    def describe_service_revisions(self, serviceRevisionArns: list) -> dict:
        return {"serviceRevisions": [{"taskDefinition": "td:1"}]}


class _Ctx:
    def __init__(self, ecs: _Ecs) -> None:
        self.ecs = ecs

    def env_client(self, _env: object, _service: str) -> _Ecs:
        return self.ecs


def test_stop_service_deployment_is_chosen_only_where_it_returns_to_the_target(config) -> None:
    from envpromote.release.plan import superseded_rollout

    target = "sha256:" + "4" * 64
    service = {
        "deployments": [
            {"id": "ecs-svc/2", "status": "PRIMARY", "rolloutState": "IN_PROGRESS", "taskDefinition": "td:2"}
        ]
    }
    env = config.env("dev")
    stop = superseded_rollout(_Ctx(_Ecs(source_digest=target)), env, service, target)  # type: ignore[arg-type]
    assert stop is not None
    assert stop.how == "stop-service-deployment"
    assert stop.service_deployment_arn == "sd/1"
    other = superseded_rollout(_Ctx(_Ecs(source_digest="sha256:" + "6" * 64)), env, service, target)  # type: ignore[arg-type]
    assert other is not None
    assert other.how == "update-service", "stopping would return to another digest than the rollback's target"
