"""Rollback returns to the ledger's known-good digests, goes further back each time, and fails with exit 6."""

from __future__ import annotations

import pytest
from engine_support import push_test_image
from release_support import NO_APPROVAL, deployed

from envpromote import release
from envpromote.errors import RollbackFailed
from envpromote.ledger import new_record, utc_now


def test_rollback_returns_to_the_last_known_good(ctx: release.Context) -> None:
    first, second = deployed(ctx, "healthy:1"), deployed(ctx, "healthy:1")
    result = release.execute(ctx, release.plan_rollback(ctx, "dev", None, approval=NO_APPROVAL), timeout=60)
    assert result.record is not None
    assert result.record["kind"] == "rollback"
    assert result.record["digest"] == first
    assert result.record["previous_digest"] == second
    assert release.drift(ctx, "dev").running_digest == first


def test_second_rollback_goes_further_back(ctx: release.Context) -> None:
    first, second, third = (deployed(ctx) for _ in range(3))
    back = release.execute(ctx, release.plan_rollback(ctx, "dev", None, approval=NO_APPROVAL), timeout=60)
    assert back.record is not None
    assert back.record["digest"] == second
    again = release.execute(ctx, release.plan_rollback(ctx, "dev", None, approval=NO_APPROVAL), timeout=60)
    assert again.record is not None
    assert again.record["digest"] == first, "not forward to the release just rolled away from"
    assert third not in {back.record["digest"], again.record["digest"]}


def test_a_rollback_that_ecs_rolls_back_is_exit_6(ctx: release.Context) -> None:
    deployed(ctx)
    # A digest the ledger knows as good whose rollout now trips the circuit breaker (say, a dependency died):
    good_then_broken = push_test_image("circuit-breaker:0.5:2")
    now = utc_now()
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
    deployed(ctx)
    plan = release.plan_rollback(ctx, "dev", good_then_broken, approval=NO_APPROVAL)
    with pytest.raises(RollbackFailed) as info:
        release.execute(ctx, plan, timeout=30)
    assert info.value.exit_code == 6
    assert ctx.ledger().history("dev")[-1]["kind"] == "rollback"


def test_rollback_to_accepts_what_the_tool_prints(ctx: release.Context) -> None:
    """`history` shows 12 characters; messages print full image references: both are accepted back."""
    first, second = deployed(ctx), deployed(ctx)
    short = first.removeprefix("sha256:")[:12]
    plan = release.plan_rollback(ctx, "dev", short, approval=NO_APPROVAL, dry_run=True)
    assert plan.image.digest == first
    reference = ctx.image(first).uri
    assert (
        release.plan_rollback(ctx, "dev", reference, approval=NO_APPROVAL, dry_run=True).image.digest == first
    )
    assert second != first
