"""infra/ against the AWS provider's schema (offline, from the cdktf bindings): every argument, block
and attribute reference exists. `terraform validate` does the same in CI with the real provider."""

from __future__ import annotations

from pathlib import Path

import pytest
from provider_schema import ProviderSchema, assembly_path, check_test_file

INFRA = Path(__file__).resolve().parents[2] / "infra"


@pytest.fixture(scope="module")
def schema() -> ProviderSchema:
    tarball = assembly_path()
    if tarball is None:
        pytest.skip(
            "PROVIDER SCHEMA CHECK DID NOT RUN: cdktf-cdktf-provider-aws is not installed "
            "(it is in the 'iac' dependency group; nox -s iac runs this test)."
        )
    return ProviderSchema.load(tarball)


def test_every_argument_block_and_reference_exists(schema: ProviderSchema) -> None:
    problems = []
    for path in sorted(INFRA.rglob("*.tf")):
        problems += schema.check_file(path, str(path.relative_to(INFRA)))
    assert problems == []


def test_terraform_test_files_mock_and_reference_real_attributes(schema: ProviderSchema) -> None:
    files = sorted(INFRA.rglob("*.tftest.hcl"))
    assert len(files) == 9
    problems = [p for path in files for p in check_test_file(schema, path, str(path.relative_to(INFRA)))]
    assert problems == []


def test_archive_file_is_checked_against_its_own_provider(schema: ProviderSchema, tmp_path: Path) -> None:
    bad = tmp_path / "main.tf"
    bad.write_text(
        'data "archive_file" "s" {\n  source_file = "a.py"\n  output = "a.zip"\n}\n\n'
        "locals {\n  hash = data.archive_file.s.output_sha9\n}\n",
        encoding="utf-8",
    )
    assert schema.check_file(bad, "m") == [
        "m: archive_file.s: required argument 'output_path' is missing",
        "m: archive_file.s: required argument 'type' is missing",
        "m: archive_file.s: unknown argument or block 'output'",
        "m: data.archive_file.s.output_sha9: archive_file has no attribute output_sha9",
    ]


def test_test_file_check_catches_a_wrong_mock_attribute(schema: ProviderSchema, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tftest.hcl"
    bad.write_text(
        'mock_provider "aws" {\n  mock_data "aws_caller_identity" {\n    defaults = {\n      account = "1"\n    }\n  }\n}\n',
        encoding="utf-8",
    )
    assert check_test_file(schema, bad, "bad") == [
        "bad: mock_data aws_caller_identity has no attribute account"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    kms_key         = local.kms_key_arn",
            "    kms_key_id      = local.kms_key_arn",
            "'kms_key_id'",
        ),
        (
            'resource "aws_ecr_repository" "this"',
            'resource "aws_ecr_repo" "this"',
            "aws_ecr_repo does not exist",
        ),
        ("aws_ecr_repository.this.repository_url", "aws_ecr_repository.this.url", "has no attribute url"),
        ("  repository = aws_ecr_repository.this.name\n", "", "required argument 'repository' is missing"),
    ],
)
def test_schema_check_catches_typos(
    schema: ProviderSchema, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    source = INFRA / "modules" / "ecr"
    for name in ("main.tf", "outputs.tf"):
        text = (source / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(old, new), encoding="utf-8")
    problems = [p for name in ("main.tf", "outputs.tf") for p in schema.check_file(tmp_path / name, name)]
    assert any(expected in problem for problem in problems), problems


HOOK_FQN = "@cdktf/provider-aws.ecsService.EcsServiceDeploymentConfigurationLifecycleHook"


def test_strategy_arguments_exist_in_the_pinned_provider(schema: ProviderSchema) -> None:
    """What modules/ecs-fargate-service relies on for deployment strategies is in the pinned schema."""
    config, _ = schema.fqns("resource", "aws_ecs_service") or ("", "")
    service = schema.arguments(config)
    deployment = schema.arguments(str(service["deployment_configuration"]))
    assert {"strategy", "bake_time_in_minutes", "canary_configuration", "linear_configuration"} <= set(
        deployment
    )
    assert set(schema.arguments(str(deployment["canary_configuration"]))) == {
        "canary_percent",
        "canary_bake_time_in_minutes",
    }
    assert set(schema.arguments(str(deployment["linear_configuration"]))) == {
        "step_percent",
        "step_bake_time_in_minutes",
    }
    advanced = schema.arguments(
        str(schema.arguments(str(service["load_balancer"]))["advanced_configuration"])
    )
    assert set(advanced) == {
        "alternate_target_group_arn",
        "production_listener_rule",
        "test_listener_rule",
        "role_arn",
    }


def test_pause_hooks_are_refused_exactly_while_the_provider_lacks_target_type(schema: ProviderSchema) -> None:
    """Provider 6.25.0's lifecycle_hook has no target_type (and requires hook_target_arn and role_arn), so a
    PAUSE hook cannot be declared: the module refuses it with a reason. When the pinned provider gains
    target_type this test fails, to say: pass target_type in main.tf and drop the PAUSE validation."""
    hook = schema.arguments(HOOK_FQN)
    variables = (INFRA / "modules" / "ecs-fargate-service" / "variables.tf").read_text(encoding="utf-8")
    refuses_pause = 'hook.target_type != "PAUSE"' in variables
    if "target_type" in hook:
        pytest.fail(
            f"AWS provider {schema.provider_version} has lifecycle_hook.target_type: wire PAUSE hooks "
            "(modules/ecs-fargate-service main.tf + variables.tf, README 'PAUSE hooks', production.tfvars)"
        )
    assert {"hook_target_arn", "role_arn", "lifecycle_stages"} <= schema.required(HOOK_FQN)
    assert refuses_pause
    assert "6.25.0" in (INFRA / "modules" / "ecs-fargate-service" / "README.md").read_text(encoding="utf-8")
