"""A plan can be minutes old by the time it runs: what changed since is caught, and stale reads never decide."""

from __future__ import annotations

import pytest
from engine_support import push_test_image, record_clean_build
from release_support import deployed

from envpromote import release
from envpromote.errors import PreflightFailed
from envpromote.ledger import utc_now
from envpromote.rollout import WatchTarget, classify


def test_service_changed_since_the_plan_is_refused_under_the_lock(ctx: release.Context, config) -> None:
    deployed(ctx)
    planned = push_test_image("healthy:0.3")
    record_clean_build(ctx, planned)
    plan = release.plan_deploy(ctx, "dev", planned)
    deployed(ctx)  # someone else released in between
    env = config.env("dev")
    ecs = ctx.env_client(env, "ecs")
    revisions = ecs.list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"]
    with pytest.raises(PreflightFailed, match=r"not .* as planned"):
        release.execute(ctx, plan, timeout=30)
    assert ecs.list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"] == revisions, (
        "nothing was registered"
    )
    assert ctx.ledger().history("dev")[-1]["status"] == "aborted"
    assert ctx.lock().holder("dev") is None


def test_stale_read_right_after_update_is_not_a_rollback() -> None:
    old = {"id": "ecs-svc/old", "status": "PRIMARY", "rolloutState": "COMPLETED", "taskDefinition": "td:1"}
    target = WatchTarget("ecs-svc/ours", "td:2", "td:1", utc_now(), frozenset({"ecs-svc/old"}))
    assert classify({"deployments": [old]}, target).verdict is None
    rollback = {**old, "id": "ecs-svc/rollback"}
    assert classify({"deployments": [rollback]}, target).verdict == "rolled_back"


@pytest.mark.parametrize(
    ("deployments", "busy"),
    [
        ([{"id": "a", "status": "PRIMARY", "rolloutState": "COMPLETED"}], False),
        ([{"id": "a", "status": "PRIMARY", "rolloutState": "IN_PROGRESS"}], True),
        (
            [
                {"id": "b", "status": "PRIMARY", "rolloutState": "COMPLETED"},
                {"id": "a", "status": "ACTIVE", "rolloutState": "COMPLETED"},
            ],
            True,
        ),
        ([], False),
    ],
)
def test_one_rule_for_a_rollout_in_progress(deployments: list[dict[str, str]], busy: bool) -> None:
    assert (release.busy_deployment({"deployments": deployments}) is not None) is busy
