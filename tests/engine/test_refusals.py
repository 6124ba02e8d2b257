"""Every refusal happens before the first mutating call: the exit code, a fix, and no AWS state change."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_support import push_test_image, record_clean_build
from release_support import YES, config_with, deployed, settled

from envpromote import release
from envpromote.config import Config, load_config
from envpromote.errors import BadInput, EnvPromoteError, GateRefused, PreflightFailed

ABSENT = "sha256:" + "9" * 64


def _released_to_dev(ctx: release.Context, scenario: str = "healthy:0.5") -> str:
    return deployed(ctx, scenario)


def _refused(
    aws_state, action: Callable[[], object], error: type[EnvPromoteError], match: str
) -> EnvPromoteError:
    before = aws_state.snapshot()
    with pytest.raises(error, match=match) as info:
        action()
    assert info.value.fix, "every refusal names its fix"
    assert "\n" not in info.value.one_line()
    assert aws_state.snapshot() == before, "a refusal must not change AWS state"
    return info.value


def test_tag_instead_of_digest(ctx, aws_state) -> None:
    err = _refused(
        aws_state, lambda: release.plan_deploy(ctx, "dev", "latest"), BadInput, "not an image digest"
    )
    assert err.exit_code == 2


def test_malformed_digest(ctx, aws_state) -> None:
    _refused(aws_state, lambda: release.plan_deploy(ctx, "dev", "sha256:1234"), BadInput, "64 lowercase hex")


def test_digest_absent_from_ecr(ctx, aws_state) -> None:
    err = _refused(aws_state, lambda: release.plan_deploy(ctx, "dev", ABSENT), PreflightFailed, "not in ECR")
    assert err.exit_code == 4


def test_digest_not_successful_upstream(ctx, aws_state) -> None:
    digest = push_test_image("healthy:0.5")
    record_clean_build(ctx, digest)
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", digest, approval=release.Approval()),
        GateRefused,
        "no successful release in dev",
    )
    assert err.exit_code == 3


def test_rolled_back_upstream_digest_is_refused(ctx, aws_state) -> None:
    _released_to_dev(ctx)
    bad = push_test_image("circuit-breaker:0.5:2")
    record_clean_build(ctx, bad)
    with pytest.raises(EnvPromoteError):
        release.execute(ctx, release.plan_deploy(ctx, "dev", bad), timeout=30)
    settled(ctx, "dev")  # the command returns while ECS still rolls back; compare state nothing is moving
    _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", bad, approval=release.Approval()),
        GateRefused,
        "no successful release in dev",
    )


def test_soak_time_not_met(make_context, aws_state, tmp_path: Path) -> None:
    soaking = load_config(config_with(tmp_path, "environments.staging", "soak_seconds", "3600"))
    ctx = make_context(config=soaking)
    digest = _released_to_dev(ctx)
    _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", digest, approval=release.Approval()),
        GateRefused,
        "staging needs 3600s",
    )


def test_promote_that_skips_an_environment(ctx, aws_state) -> None:
    digest = _released_to_dev(ctx)
    err = _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "production", digest, approval=YES),
        GateRefused,
        "would skip staging",
    )
    assert "--env staging" in (err.fix or "")


def test_missing_approval(ctx, aws_state) -> None:
    digest = _released_to_dev(ctx)
    release.execute(
        ctx, release.plan_promote(ctx, "staging", digest, approval=release.Approval()), timeout=60
    )
    _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "production", digest, approval=release.Approval()),
        GateRefused,
        "production requires approval",
    )
    _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "production", digest, approval=release.Approval(assume_yes=True)),
        GateRefused,
        "without --approver",
    )
    _refused(
        aws_state,
        lambda: release.plan_promote(
            ctx, "production", digest, approval=release.Approval(prompt=lambda _evidence: None)
        ),
        GateRefused,
        "was not approved",
    )


def test_unscanned_digest_refused_where_scans_are_required(ctx, aws_state) -> None:
    digest = push_test_image("healthy:0.5")
    release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)  # dev allows unscanned
    assert ctx.ledger().history("dev")[-1]["allow_unscanned"] is True
    _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "staging", digest, approval=release.Approval()),
        GateRefused,
        "no scan record",
    )
    _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "production", digest, approval=YES, allow_unscanned=True),
        BadInput,
        "not available for production",
    )


def test_entry_and_non_entry_environments(ctx, aws_state) -> None:
    digest = push_test_image("healthy:0.5")
    _refused(aws_state, lambda: release.plan_deploy(ctx, "staging", digest), BadInput, "upstream dev")
    _refused(
        aws_state,
        lambda: release.plan_promote(ctx, "dev", digest, approval=YES),
        BadInput,
        "entry environment",
    )
    _refused(aws_state, lambda: release.plan_deploy(ctx, "qa", digest), BadInput, "Unknown environment 'qa'")


def test_template_error_refuses_before_any_change(
    make_context, config: Config, aws_state, tmp_path: Path
) -> None:
    template = tmp_path / "broken.json.j2"
    template.write_text('{"family": {{ family | tojson }}, "cpu": {{ no_such_value }}}')
    ctx = make_context(config=dataclasses.replace(config, template=template))
    digest = push_test_image("healthy:0.5")
    _refused(
        aws_state, lambda: release.plan_deploy(ctx, "dev", digest), BadInput, "'no_such_value' is undefined"
    )


def test_rendered_definition_rejected_by_botocore(
    make_context, config: Config, aws_state, tmp_path: Path
) -> None:
    template = tmp_path / "wrong-type.json.j2"
    source = (Path(config.template)).read_text().replace('"cpu": {{ cpu | string | tojson }}', '"cpu": 256')
    template.write_text(source)
    ctx = make_context(config=dataclasses.replace(config, template=template))
    digest = push_test_image("healthy:0.5")
    _refused(
        aws_state, lambda: release.plan_deploy(ctx, "dev", digest), BadInput, "RegisterTaskDefinition model"
    )


def test_deployment_in_progress_fails_preflight(ctx, aws_state) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    with pytest.raises(EnvPromoteError):
        release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=1)
    other = push_test_image("healthy:0.5")
    err = _refused(aws_state, lambda: release.plan_deploy(ctx, "dev", other), PreflightFailed, "in progress")
    assert err.exit_code == 4
    assert "invoke rollback --env dev" in (err.fix or ""), "the escape hatch is named"
    assert release.drift(ctx, "dev").in_progress, "drift says so too: one rule for 'in progress'"


def test_ambiguous_digest_prefix_lists_the_candidates(ctx, aws_state) -> None:
    twins = ["sha256:" + "abcdef012345" + tail * 52 for tail in ("0", "1")]
    for digest in twins:
        ctx.ledger().put_build({"digest": digest, "scan": None})
    err = _refused(
        aws_state, lambda: release.plan_deploy(ctx, "dev", "abcdef012345"), BadInput, "ambiguous: 2 digests"
    )
    assert err.exit_code == 2
    assert all(digest in err.message for digest in twins)


def test_digest_prefix_and_reference_are_accepted_for_deploy(ctx) -> None:
    digest = push_test_image("healthy:0.5")
    record_clean_build(ctx, digest)
    assert release.plan_deploy(ctx, "dev", digest.removeprefix("sha256:")[:12]).image.digest == digest
    assert release.plan_deploy(ctx, "dev", ctx.image(digest).uri).image.digest == digest


def test_reference_of_another_repository_names_the_configured_one(ctx, aws_state) -> None:
    digest = push_test_image("healthy:0.5")
    registry = ctx.image(digest).registry
    err = _refused(
        aws_state,
        lambda: release.plan_deploy(ctx, "dev", f"{registry}/someone-else@{digest}"),
        BadInput,
        f"not in the configured repository {registry}/envpromote-app",
    )
    assert err.exit_code == 2
