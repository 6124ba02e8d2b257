"""Policy tests over infra/: the security properties hold in the real modules, and each rule catches
its regression. A regression fixture is the real file with one bad edit (so it never drifts from the
code it guards)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from iac_policy import (
    BOARD_ACTIONS,
    ECS_HOOK_STAGES,
    ECS_STRATEGIES,
    Config,
    is_write_action,
    load,
    rule_alarms,
    rule_backend,
    rule_board_environment_reserved,
    rule_board_role,
    rule_build_policy,
    rule_deploy_policy,
    rule_ecr,
    rule_ecs_service,
    rule_environment_uses_deploy_role,
    rule_events_queue,
    rule_fast_rollout_defaults,
    rule_hygiene,
    rule_image_writers,
    rule_ledger_write_once,
    rule_oidc_trust,
    rule_only_build_pushes,
    rule_private_bucket,
    rule_shared_ledger_locked,
    rule_strategy_variables,
    rule_tagger,
    rule_test_listener_not_public,
    rule_traffic_shift_wiring,
    rule_wiring,
)

INFRA = Path(__file__).resolve().parents[2] / "infra"
MODULES = sorted(p for p in (INFRA / "modules").iterdir() if p.is_dir())
ROOTS = sorted(p for p in (INFRA / "envs").iterdir() if p.is_dir()) + sorted(
    p for p in (INFRA / "bootstrap").iterdir() if p.is_dir()
)
ENV_ROOTS = [INFRA / "envs" / name for name in ("shared", "dev", "staging", "production")]


def module(name: str) -> Path:
    return INFRA / "modules" / name


def mutated(directory: Path, filename: str, old: str, new: str) -> Config:
    """The real configuration with one edit; the edit must apply (else the fixture is stale)."""
    text = (directory / filename).read_text(encoding="utf-8")
    assert old in text, f"regression fixture is stale: {old!r} not found in {directory.name}/{filename}"
    return load(directory, {filename: text.replace(old, new, 1)})


# The real infrastructure complies -------------------------------------------------------------------

REAL_RULES: list[tuple[str, Callable[[Config], list[str]], Path]] = [
    ("oidc-trust", rule_oidc_trust, module("github-oidc-role")),
    ("deploy-policy", rule_deploy_policy, module("github-oidc-role")),
    ("only-build-pushes", rule_only_build_pushes, module("github-oidc-role")),
    ("build-policy", rule_build_policy, module("github-oidc-role")),
    ("environment-deploy-role", rule_environment_uses_deploy_role, module("environment")),
    ("ecr", rule_ecr, module("ecr")),
    ("ecs-service", rule_ecs_service, module("ecs-fargate-service")),
    ("alarms", rule_alarms, module("ecs-fargate-service")),
    ("fast-rollout", rule_fast_rollout_defaults, module("ecs-fargate-service")),
    ("strategy-variables", rule_strategy_variables, module("ecs-fargate-service")),
    ("traffic-shift-wiring", rule_traffic_shift_wiring, module("ecs-fargate-service")),
    ("test-listener-not-public", rule_test_listener_not_public, module("ecs-fargate-service")),
    ("events-queue", rule_events_queue, module("ecs-events-queue")),
    ("ledger-bucket", lambda c: rule_private_bucket(c, "ledger"), module("ledger")),
    ("ledger-write-once", rule_ledger_write_once, module("ledger")),
    ("shared-ledger-locked", rule_shared_ledger_locked, INFRA / "envs" / "shared"),
    ("promotion-tagger", rule_tagger, module("promotion-tagger")),
    ("board-role", rule_board_role, module("board-role")),
    ("board-environment-reserved", rule_board_environment_reserved, module("github-oidc-role")),
    ("state-bucket", lambda c: rule_private_bucket(c, "state"), INFRA / "bootstrap" / "state"),
]


@pytest.mark.parametrize(
    ("rule", "directory"), [(r, d) for _, r, d in REAL_RULES], ids=[n for n, _, _ in REAL_RULES]
)
def test_real_infrastructure_complies(rule: Callable[[Config], list[str]], directory: Path) -> None:
    assert rule(load(directory)) == []


def test_only_the_build_role_and_the_tagger_write_images() -> None:
    assert rule_image_writers([load(path) for path in MODULES]) == []


def test_image_writers_rule_catches_a_deploy_role_that_tags_images() -> None:
    configs = [load(path) for path in MODULES if path.name != "github-oidc-role"]
    configs.append(
        mutated(
            ROLE,
            "main.tf",
            '"ecr:DescribeRepositories",',
            '"ecr:DescribeRepositories",\n      "ecr:PutImage",',
        )
    )
    assert any("deploy/EcrReadOnly: writes images (ecr:putimage)" in p for p in rule_image_writers(configs))


def oidc_role_calls() -> list[tuple[str, str, dict[str, object]]]:
    """Every call of modules/github-oidc-role in infra/ (modules and roots): (where, call name, arguments)."""
    calls = []
    for directory in [*MODULES, *ROOTS]:
        for name, call in load(directory).modules.items():
            if str(call.get("source", "")).endswith("/github-oidc-role"):
                calls.append((f"{directory.parent.name}/{directory.name}", name, call))
    return calls


def test_every_deploy_role_trusts_exactly_one_github_environment() -> None:
    """Deploy roles: kind deploy, bound to the environment (no branch, no wildcard); one build role only."""
    calls = oidc_role_calls()
    deploy = [(where, name, call) for where, name, call in calls if call.get("kind") == "deploy"]
    build = [(where, name) for where, name, call in calls if call.get("kind") == "build"]
    assert [(where, name) for where, name, _ in deploy] == [("modules/environment", "deploy_role")]
    assert build == [("envs/shared", "build_role")]
    for _, _, call in deploy:
        assert call["environment"] == "${var.environment}"
        assert "branch" not in call
    # and the role module turns that environment into an exact, environment-scoped subject
    assert rule_oidc_trust(load(ROLE)) == []
    subject = str(load(ROLE).locals["subject"])
    assert (
        'local.deploy ? "repo:${var.github_repository}:environment:${coalesce(var.environment, "-")}"'
        in subject
    )


def test_only_the_shared_root_creates_the_board_role() -> None:
    """One board role, in envs/shared, over the chain's environments; its ARN is an output of that root."""
    calls = [
        (f"{directory.parent.name}/{directory.name}", name, call)
        for directory in [*MODULES, *ROOTS]
        for name, call in load(directory).modules.items()
        if str(call.get("source", "")).endswith("/board-role")
    ]
    assert [(where, name) for where, name, _ in calls] == [("envs/shared", "board_role")]
    call = calls[0][2]
    assert call["lock_ids"] == "${var.environments}"
    assert call["service_arns"] == "${local.board_service_arns}"
    assert call["assume_role_arns"] == "${var.board_assume_role_arns}"
    shared = load(INFRA / "envs" / "shared")
    assert shared.outputs["board_role_arn"]["value"] == "${module.board_role.role_arn}"


def test_board_service_arns_name_the_services_modules_environment_creates() -> None:
    """Cluster <project>-<env>, service <project>-<env>-web: what the board may describe is what exists."""
    environment = load(module("environment"))
    assert environment.locals["name"] == "${var.project}-${var.environment}"
    service_call = environment.modules["service"]
    assert service_call["name"] == "${local.name}"  # the cluster's name (modules/ecs-fargate-service)
    assert service_call["service_name"] == "${local.name}-web"
    service = load(module("ecs-fargate-service"))
    assert service.resources[("aws_ecs_cluster", "this")]["name"] == "${var.name}"
    assert service.resources[("aws_ecs_service", "this")]["name"] == "${var.service_name}"
    arns = str(load(INFRA / "envs" / "shared").locals["board_service_arns"])
    assert "for env in var.environments" in arns
    assert ":service/${var.project}-${env}/${var.project}-${env}-web" in arns


def test_no_other_role_trusts_the_board_environment() -> None:
    """Only modules/board-role names environment:board in a trust; no deploy role is made for `board`."""
    for directory in MODULES:
        if directory.name == "board-role":
            continue
        text = load(directory).text
        assert "environment:board" not in text, directory.name
    for _, _, call in oidc_role_calls():
        assert call.get("environment") != "board"


def test_board_actions_are_reads_and_write_verbs_are_caught() -> None:
    assert not [action for action in BOARD_ACTIONS if is_write_action(action)]
    for action in (
        "s3:PutObject",
        "s3:DeleteObjectVersion",
        "ecs:UpdateService",
        "ecs:TagResource",
        "ecs:RegisterTaskDefinition",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "kms:GenerateDataKey",
        "iam:CreateRole",
        "iam:PassRole",
        "s3:Get*",
        "*",
    ):
        assert is_write_action(action), action


def test_board_role_and_environment_are_documented() -> None:
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    assert "board_role_arn" in readme
    assert "ENVPROMOTE_BOARD_ROLE_ARN" in readme
    assert "repo:<owner>/<repo>:environment:board" in readme
    table = readme.split("## GitHub settings the deploy roles rely on", 1)[1].split("\n## ", 1)[0]
    header = next(line for line in table.splitlines() if line.startswith("| setting |"))
    assert "| board |" in header
    branches = next(line for line in table.splitlines() if line.startswith("| Deployment branches"))
    assert branches.count("**Selected: `main`**") == 3  # staging, production and board


def test_github_settings_the_trust_relies_on_are_documented() -> None:
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    section = readme.split("## GitHub settings the deploy roles rely on", 1)[1].split("\n## ", 1)[0]
    for setting in (
        "Required reviewers",
        "Prevent self-review",
        "Deployment branches",
        "Allow administrators to bypass",
        "environment:<env>",
        "Deployment protection rules",
    ):
        assert setting in section, setting


@pytest.mark.parametrize("directory", MODULES, ids=[p.name for p in MODULES])
def test_module_hygiene(directory: Path) -> None:
    assert rule_hygiene(load(directory), module=True) == []


@pytest.mark.parametrize("directory", ROOTS, ids=[f"{p.parent.name}/{p.name}" for p in ROOTS])
def test_root_hygiene(directory: Path) -> None:
    assert rule_hygiene(load(directory), module=False) == []
    assert (directory / "README.md").is_file() or (directory.parent / "README.md").is_file()


def test_module_wiring() -> None:
    configs = {path.resolve(): load(path) for path in MODULES}
    problems = {p.name: rule_wiring(c, configs) for p, c in configs.items()}
    for root in ROOTS:
        problems[f"{root.parent.name}/{root.name}"] = rule_wiring(load(root), configs)
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize("directory", [*ENV_ROOTS, INFRA / "bootstrap" / "oidc"], ids=lambda p: p.name)
def test_backends_are_partial_with_lockfile(directory: Path) -> None:
    assert rule_backend(directory) == []


def test_each_module_has_a_mock_provider_test() -> None:
    for directory in MODULES:
        tests = list((directory / "tests").glob("*.tftest.hcl"))
        assert tests, f"{directory.name} has no terraform test file"
        assert all('mock_provider "aws"' in t.read_text(encoding="utf-8") for t in tests)


@pytest.mark.parametrize("name", ["dev", "staging", "production"])
def test_each_environment_root_is_one_environment_module_call_named_after_it(name: str) -> None:
    """So each deploy role trusts exactly the GitHub environment of the same name."""
    root = load(INFRA / "envs" / name)
    assert set(root.modules) == {"environment"}
    call = root.modules["environment"]
    assert call["source"] == "../../modules/environment"
    assert call["environment"] == name
    assert not root.resources  # everything goes through the module


def test_oidc_provider_has_no_pinned_thumbprint() -> None:
    provider = load(INFRA / "bootstrap" / "oidc").resources[("aws_iam_openid_connect_provider", "github")]
    assert "thumbprint_list" not in provider
    assert provider["client_id_list"] == ["sts.amazonaws.com"]


def test_rollout_floor_stated_in_readme_matches_defaults() -> None:
    service = load(module("ecs-fargate-service"))
    defaults = {
        name: int(service.variables[name]["default"])
        for name in ("healthy_threshold", "health_check_interval", "deregistration_delay")
    }
    floor = (
        defaults["healthy_threshold"] * defaults["health_check_interval"] + defaults["deregistration_delay"]
    )
    readme = (module("ecs-fargate-service") / "README.md").read_text(encoding="utf-8")
    assert f"{floor} s" in readme
    assert "450 s" in readme  # AWS defaults: 5 x 30 s + 300 s


def test_strategies_and_hook_stages_are_ecs_own() -> None:
    """The policy's lists are botocore's ECS model, so the module's validations track what ECS accepts."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    assert set(model.shape_for("DeploymentStrategy").enum) == set(ECS_STRATEGIES)
    assert tuple(model.shape_for("DeploymentLifecycleHookStage").enum) == ECS_HOOK_STAGES
    assert set(model.shape_for("DeploymentLifecycleHookTargetType").enum) == {"AWS_LAMBDA", "PAUSE"}


def strategy_floors() -> dict[str, int]:
    """rollout_floor_seconds of modules/ecs-fargate-service for each strategy, with the module's defaults."""
    service = load(module("ecs-fargate-service"))

    def default(name: str) -> float:
        return float(service.variables[name]["default"])

    base = default("healthy_threshold") * default("health_check_interval") + default("deregistration_delay")
    bake = 60 * default("bake_time_minutes")
    steps = -(-100 // default("linear_step_percent"))  # ceil
    return {
        "ROLLING": int(base),
        "BLUE_GREEN": int(base + bake),
        "CANARY": int(base + 60 * default("canary_bake_time_minutes") + bake),
        "LINEAR": int(base + (steps - 1) * 60 * default("linear_step_bake_time_minutes") + bake),
    }


def test_strategy_floors_stated_in_readme_match_defaults() -> None:
    readme = (module("ecs-fargate-service") / "README.md").read_text(encoding="utf-8")
    floors = strategy_floors()
    assert floors == {"ROLLING": 25, "BLUE_GREEN": 325, "CANARY": 625, "LINEAR": 685}
    for strategy, floor in floors.items():
        rows = [line for line in readme.splitlines() if line.startswith(f"| `{strategy}`")]
        assert any(f"**{floor} s**" in row for row in rows), (strategy, floor, rows)
    # and the output computes the same thing: its LINEAR term is (ceil(100 / step) - 1) x step bake
    outputs = (module("ecs-fargate-service") / "outputs.tf").read_text(encoding="utf-8")
    assert "(ceil(100 / var.linear_step_percent) - 1) * var.linear_step_bake_time_minutes" in outputs


STRATEGY_INPUTS = {
    "deployment_strategy",
    "bake_time_minutes",
    "canary_percent",
    "canary_bake_time_minutes",
    "linear_step_percent",
    "linear_step_bake_time_minutes",
    "lifecycle_hooks",
    "test_listener_port",
    "test_listener_cidrs",
    "test_listener_source_security_group_ids",
}


def test_environment_roots_expose_the_strategy() -> None:
    """Each root names its strategy in <env>.tfvars; modules/environment passes every strategy setting."""
    assert set(load(module("ecs-fargate-service")).variables) >= STRATEGY_INPUTS
    call = load(module("environment")).modules["service"]
    for name in STRATEGY_INPUTS:
        assert call[name] == f"${{var.service.{name}}}", name
    for env in ("dev", "staging", "production"):
        tfvars = (INFRA / "envs" / env / f"{env}.tfvars").read_text(encoding="utf-8")
        assert 'deployment_strategy = "ROLLING"' in tfvars, env
        assert "deployment_strategy" in load(INFRA / "envs" / env).outputs


# Each rule catches its regression -------------------------------------------------------------------

ROLE = module("github-oidc-role")

REGRESSIONS: list[tuple[str, Callable[[], Config], Callable[[Config], list[str]], str]] = [
    (
        "deploy-role-trusts-a-branch",
        lambda: mutated(
            ROLE, "main.tf", ':environment:${coalesce(var.environment, "-")}', ":ref:refs/heads/main"
        ),
        rule_oidc_trust,
        "must be one GitHub environment",
    ),
    (
        "deploy-role-trusts-any-ref-with-stringlike",
        lambda: mutated(
            ROLE,
            "main.tf",
            'test     = "StringEquals"\n      variable = "token.actions.githubusercontent.com:sub"',
            'test     = "StringLike"\n      variable = "token.actions.githubusercontent.com:sub"',
        ),
        rule_oidc_trust,
        "not StringEquals",
    ),
    (
        "trust-without-audience",
        lambda: mutated(
            ROLE,
            "main.tf",
            '"token.actions.githubusercontent.com:aud"',
            '"token.actions.githubusercontent.com:azp"',
        ),
        rule_oidc_trust,
        "aud is not StringEquals",
    ),
    (
        "passrole-on-star",
        lambda: mutated(ROLE, "main.tf", "resources = var.pass_role_arns", 'resources = ["*"]'),
        rule_deploy_policy,
        "iam:PassRole on a wildcard",
    ),
    (
        "passrole-to-any-service",
        lambda: mutated(
            ROLE, "main.tf", 'variable = "iam:PassedToService"', 'variable = "aws:RequestedRegion"'
        ),
        rule_deploy_policy,
        "without iam:PassedToService",
    ),
    (
        "deploy-role-can-push",
        lambda: mutated(
            ROLE,
            "main.tf",
            '"ecr:DescribeRepositories",',
            '"ecr:DescribeRepositories",\n      "ecr:UploadLayerPart",',
        ),
        rule_deploy_policy,
        "can push images",
    ),
    (
        "deploy-role-updates-any-service",
        lambda: mutated(ROLE, "main.tf", "resources = [var.service_arn]", 'resources = ["*"]'),
        rule_deploy_policy,
        "Resource *",
    ),
    (
        "deploy-role-reads-any-queue",
        lambda: mutated(
            ROLE, "main.tf", '"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"', '"sqs:*"'
        ),
        rule_deploy_policy,
        "wildcard action",
    ),
    (
        "deploy-role-reads-whole-bucket",
        lambda: mutated(
            ROLE,
            "main.tf",
            'ledger_objects       = local.deploy ? "${var.ledger_bucket_arn}/${var.ledger_prefix}/*"',
            'ledger_objects       = local.deploy ? "${var.ledger_bucket_arn}/*"',
        ),
        rule_deploy_policy,
        "reads outside the ledger prefix",
    ),
    (
        "deploy-role-writes-other-environments-or-build-records",
        lambda: mutated(
            ROLE, "main.tf", "resources = [local.ledger_own_records]", "resources = [local.ledger_objects]"
        ),
        rule_deploy_policy,
        "writes outside <prefix>/envs/<its environment>/",
    ),
    (
        "deploy-role-can-unlock-records",
        lambda: mutated(
            ROLE,
            "main.tf",
            'actions   = ["s3:PutObject"]\n    resources = [local.ledger_own_records]',
            'actions   = ["s3:PutObject", "s3:BypassGovernanceRetention"]\n    resources = [local.ledger_own_records]',
        ),
        rule_deploy_policy,
        "must not delete or unlock",
    ),
    (
        "build-role-writes-release-records",
        lambda: mutated(
            ROLE,
            "main.tf",
            '"${var.ledger_bucket_arn}/${var.ledger_prefix}/builds/*"',
            '"${var.ledger_bucket_arn}/${var.ledger_prefix}/*"',
        ),
        rule_build_policy,
        "beyond adding <prefix>/builds/ records",
    ),
    (
        "build-role-deploys",
        lambda: mutated(
            ROLE,
            "main.tf",
            '      "ecr:UploadLayerPart",\n    ]',
            '      "ecr:UploadLayerPart",\n      "ecs:UpdateService",\n    ]',
        ),
        rule_build_policy,
        "beyond ECR and the ledger",
    ),
    (
        "deploy-role-any-lock-item",
        lambda: mutated(
            ROLE, "main.tf", 'variable = "dynamodb:LeadingKeys"', 'variable = "aws:RequestedRegion"'
        ),
        rule_deploy_policy,
        "dynamodb:LeadingKeys",
    ),
    (
        "deploy-role-can-tag-images",
        lambda: mutated(
            ROLE,
            "main.tf",
            '"ecr:DescribeRepositories",',
            '"ecr:DescribeRepositories",\n      "ecr:PutImage",',
        ),
        rule_deploy_policy,
        "can create, re-point or remove images (ecr:putimage)",
    ),
    (
        "builds-tagged-git-never-expire",
        lambda: mutated(
            module("ecr"), "variables.tf", 'default     = ["git-"]', 'default     = ["sha-", "build-"]'
        ),
        rule_ecr,
        "build tag git-0123456789ab matches no build_tag_prefixes",
    ),
    (
        "ledger-records-overwritable",
        lambda: mutated(
            module("ledger"),
            "main.tf",
            '      test     = "Null"\n      variable = "s3:if-none-match"\n      values   = ["true"]\n    }\n  }\n\n  statement {\n    sid       = "HeadMovesOnlyConditionally"',
            '      test     = "Null"\n      variable = "s3:if-none-match"\n      values   = ["false"]\n    }\n  }\n\n  statement {\n    sid       = "HeadMovesOnlyConditionally"',
        ),
        rule_ledger_write_once,
        "no deny of record writes without If-None-Match",
    ),
    (
        "ledger-head-overwritable",
        lambda: mutated(
            module("ledger"),
            "main.tf",
            '    condition {\n      test     = "Null"\n      variable = "s3:if-match"\n      values   = ["true"]\n    }\n',
            "",
        ),
        rule_ledger_write_once,
        "no deny of head.json writes",
    ),
    (
        "ledger-every-key-is-a-head",
        lambda: mutated(
            module("ledger"),
            "main.tf",
            'head_objects = "${aws_s3_bucket.ledger.arn}/${var.prefix}/envs/*/head.json"',
            'head_objects = "${aws_s3_bucket.ledger.arn}/${var.prefix}/envs/*"',
        ),
        rule_ledger_write_once,
        "not <bucket>/<prefix>/envs/*/head.json",
    ),
    (
        "ledger-records-deletable",
        lambda: mutated(
            module("ledger"),
            "main.tf",
            'actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]',
            'actions   = ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]',
        ),
        rule_ledger_write_once,
        "no unconditional deny of ['s3:deleteobject']",
    ),
    (
        "ledger-roles-write-any-environment",
        lambda: mutated(
            module("ledger"),
            "main.tf",
            'not_resources = ["${aws_s3_bucket.ledger.arn}/${var.prefix}/envs/${statement.key}/*"]',
            'not_resources = ["${aws_s3_bucket.ledger.arn}/${var.prefix}/envs/*"]',
        ),
        rule_ledger_write_once,
        "does not confine each environment's role",
    ),
    (
        "ledger-without-object-lock",
        lambda: mutated(
            module("ledger"), "main.tf", "      mode = var.object_lock_mode\n", '      mode = "GOVERNANCE"\n'
        ),
        rule_ledger_write_once,
        "no Object Lock configuration",
    ),
    (
        "production-ledger-lock-optional",
        lambda: mutated(
            INFRA / "envs" / "shared",
            "variables.tf",
            'contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)',
            'contains(["NONE", "GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)',
        ),
        rule_shared_ledger_locked,
        "without Object Lock",
    ),
    (
        "production-ledger-short-retention",
        lambda: mutated(
            INFRA / "envs" / "shared", "variables.tf", "var.retention_days >= 365", "var.retention_days >= 1"
        ),
        rule_shared_ledger_locked,
        "at least 365 days",
    ),
    (
        "shared-ledger-roles-unconfined",
        lambda: mutated(
            INFRA / "envs" / "shared", "main.tf", "  environment_writers = local.environment_writers\n", ""
        ),
        rule_shared_ledger_locked,
        "does not confine",
    ),
    (
        "tagger-writes-the-ledger",
        lambda: mutated(
            module("promotion-tagger"),
            "main.tf",
            'actions   = ["s3:GetObject", "s3:GetObjectVersion"]',
            'actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]',
        ),
        rule_tagger,
        "beyond reading records and tagging",
    ),
    (
        "tagger-can-push-layers",
        lambda: mutated(
            module("promotion-tagger"),
            "main.tf",
            '"ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"',
            '"ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage", "ecr:UploadLayerPart"',
        ),
        rule_tagger,
        "ecr:uploadlayerpart",
    ),
    (
        "tagger-tags-any-repository",
        lambda: mutated(
            module("promotion-tagger"), "main.tf", "resources = [var.repository_arn]", 'resources = ["*"]'
        ),
        rule_tagger,
        "beyond the one repository",
    ),
    (
        "tagger-reads-the-whole-bucket",
        lambda: mutated(
            module("promotion-tagger"),
            "main.tf",
            'record_objects = "${var.ledger_bucket_arn}/${var.ledger_prefix}/envs/*"',
            'record_objects = "${var.ledger_bucket_arn}/*"',
        ),
        rule_tagger,
        "S3 reads outside <prefix>/envs/",
    ),
    (
        "tagger-hears-build-records",
        lambda: mutated(
            module("promotion-tagger"),
            "main.tf",
            'filter_prefix       = "${var.ledger_prefix}/envs/${lambda_function.value}/${var.record_dir}/"',
            'filter_prefix       = "${var.ledger_prefix}/"',
        ),
        rule_tagger,
        "keys outside <prefix>/envs/<env>/",
    ),
    (
        "tagger-invocable-by-any-bucket",
        lambda: mutated(
            module("promotion-tagger"), "main.tf", "  source_arn     = var.ledger_bucket_arn\n", ""
        ),
        rule_tagger,
        "not limited to the ledger bucket",
    ),
    (
        "production-role-able-to-push",
        lambda: mutated(
            module("environment"), "main.tf", 'kind               = "deploy"', 'kind               = "build"'
        ),
        rule_environment_uses_deploy_role,
        "must get deploy roles",
    ),
    (
        "mutable-tags",
        lambda: mutated(module("ecr"), "main.tf", '"IMMUTABLE"', '"MUTABLE"'),
        rule_ecr,
        "not IMMUTABLE",
    ),
    (
        "promoted-images-can-expire",
        lambda: mutated(module("ecr"), "main.tf", "rulePriority = 1\n", "rulePriority = 50\n"),
        rule_ecr,
        "not priority 1",
    ),
    (
        "missing-circuit-breaker-rollback",
        lambda: mutated(
            module("ecs-fargate-service"),
            "main.tf",
            "    enable   = true\n    rollback = true",
            "    enable   = true\n    rollback = false",
        ),
        rule_ecs_service,
        "circuit breaker with rollback is missing",
    ),
    (
        "missing-alarm-rollback",
        lambda: mutated(
            module("ecs-fargate-service"),
            "main.tf",
            "    enable   = true\n    rollback = true\n  }\n\n  network_configuration",
            "    enable   = true\n    rollback = false\n  }\n\n  network_configuration",
        ),
        rule_ecs_service,
        "alarm-based rollback is missing",
    ),
    (
        "terraform-fights-envpromote-over-the-task-definition",
        lambda: mutated(
            module("ecs-fargate-service"),
            "main.tf",
            "ignore_changes = [task_definition, desired_count]",
            "ignore_changes = [desired_count]",
        ),
        rule_ecs_service,
        "ignore_changes",
    ),
    (
        "alarm-without-ok-actions",
        lambda: mutated(
            module("ecs-fargate-service"), "main.tf", "  ok_actions          = local.alarm_to\n", ""
        ),
        rule_alarms,
        "ok_actions",
    ),
    (
        "aws-default-deregistration-delay",
        lambda: mutated(
            module("ecs-fargate-service"), "variables.tf", "default     = 15\n", "default     = 300\n"
        ),
        rule_fast_rollout_defaults,
        "well below",
    ),
    (
        "ledger-without-versioning",
        lambda: mutated(module("ledger"), "main.tf", 'status = "Enabled"', 'status = "Suspended"'),
        lambda c: rule_private_bucket(c, "ledger"),
        "versioning",
    ),
    (
        "ledger-public",
        lambda: mutated(
            module("ledger"), "main.tf", "restrict_public_buckets = true", "restrict_public_buckets = false"
        ),
        lambda c: rule_private_bucket(c, "ledger"),
        "restrict_public_buckets",
    ),
    (
        "queue-open-to-anyone",
        lambda: mutated(
            module("ecs-events-queue"),
            "main.tf",
            'identifiers = ["events.amazonaws.com"]',
            'identifiers = ["*"]',
        ),
        rule_events_queue,
        "not only events.amazonaws.com",
    ),
    (
        "queue-hears-every-service",
        lambda: mutated(module("ecs-events-queue"), "main.tf", "    resources     = [var.service_arn]\n", ""),
        rule_events_queue,
        "not limited to the service",
    ),
    (
        "queue-hears-running-tasks",
        lambda: mutated(
            module("ecs-events-queue"), "main.tf", 'lastStatus = ["STOPPED"]', 'lastStatus = ["RUNNING"]'
        ),
        rule_events_queue,
        "STOPPED tasks",
    ),
    (
        "queue-unencrypted",
        lambda: mutated(module("ecs-events-queue"), "main.tf", "  sqs_managed_sse_enabled    = true\n", ""),
        rule_events_queue,
        "not encrypted",
    ),
]


SERVICE = module("ecs-fargate-service")
SHIFT = "traffic_shift.tf"
ALT_TG_COUNT = '  count = local.traffic_shift ? 1 : 0\n\n  name                 = "${var.name}-tg2"'
ALT_TG_WEIGHT = "      target_group {\n        arn    = aws_lb_target_group.alternate[0].arn\n        weight = 0\n      }\n"
TEST_CIDRS_DEFAULT = (
    "  type        = list(string)\n  default     = []\n\n  validation {\n"
    "    condition     = alltrue([for cidr in var.test_listener_cidrs"
)

REGRESSIONS += [
    (
        "strategy-accepts-an-unknown-value",
        lambda: mutated(
            SERVICE,
            "variables.tf",
            '"CANARY", "LINEAR"], var.deployment_strategy',
            '"CANARY", "LINEAR", "RECREATE"], var.deployment_strategy',
        ),
        rule_strategy_variables,
        "not validated as one of",
    ),
    (
        "strategy-default-is-not-rolling",
        lambda: mutated(SERVICE, "variables.tf", 'default     = "ROLLING"', 'default     = "BLUE_GREEN"'),
        rule_strategy_variables,
        "default to ROLLING",
    ),
    (
        "hook-stage-ecs-takes-no-hook-at",
        lambda: mutated(
            SERVICE,
            "variables.tf",
            '"POST_PRODUCTION_TRAFFIC_SHIFT"], stage)',
            '"POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"], stage)',
        ),
        rule_strategy_variables,
        "not validated against ECS's list",
    ),
    (
        "canary-percent-unvalidated",
        lambda: mutated(
            SERVICE,
            "variables.tf",
            "  validation {\n    condition     = var.canary_percent >= 0.1",
            '  dynamic "unvalidated" {\n    condition     = var.canary_percent >= 0.1',
        ),
        rule_strategy_variables,
        "canary_percent is not validated",
    ),
    (
        "blue-green-without-advanced-configuration",
        lambda: mutated(
            SERVICE, "main.tf", 'dynamic "advanced_configuration"', 'dynamic "advanced_configuration_off"'
        ),
        rule_traffic_shift_wiring,
        "no advanced_configuration",
    ),
    (
        "advanced-configuration-on-the-wrong-target-group",
        lambda: mutated(
            SERVICE,
            "main.tf",
            "alternate_target_group_arn = aws_lb_target_group.alternate[0].arn",
            "alternate_target_group_arn = aws_lb_target_group.this.arn",
        ),
        rule_traffic_shift_wiring,
        "advanced_configuration wires",
    ),
    (
        "no-second-target-group-when-blue-green-is-chosen",
        lambda: mutated(
            SERVICE, SHIFT, ALT_TG_COUNT, ALT_TG_COUNT.replace("local.traffic_shift ? 1 : 0", "0")
        ),
        rule_traffic_shift_wiring,
        "aws_lb_target_group.alternate: count",
    ),
    (
        "terraform-resets-the-weights-ecs-moved",
        lambda: mutated(SERVICE, SHIFT, "  lifecycle {\n    ignore_changes = [action]\n  }\n", ""),
        rule_traffic_shift_wiring,
        "ignore_changes",
    ),
    (
        "production-rule-forwards-to-one-target-group",
        lambda: mutated(SERVICE, SHIFT, ALT_TG_WEIGHT, ""),
        rule_traffic_shift_wiring,
        "listener rule production does not forward over both target groups",
    ),
    (
        "load-balancer-role-trusts-tasks",
        lambda: mutated(
            SERVICE, SHIFT, 'identifiers = ["ecs.amazonaws.com"]', 'identifiers = ["ecs-tasks.amazonaws.com"]'
        ),
        rule_traffic_shift_wiring,
        "not ecs.amazonaws.com only",
    ),
    (
        "new-revision-in-the-alternate-group-unwatched",
        lambda: mutated(
            SERVICE, "main.tf", "      aws_cloudwatch_metric_alarm.target_5xx_alternate[*].alarm_name,\n", ""
        ),
        rule_traffic_shift_wiring,
        "does not roll back on target_5xx_alternate",
    ),
    (
        "test-listener-open-to-every-client",
        lambda: mutated(SERVICE, SHIFT, "toset(var.test_listener_cidrs)", "toset(var.ingress_cidrs)"),
        rule_test_listener_not_public,
        "the test port is opened to",
    ),
    (
        "test-listener-cidrs-accept-0.0.0.0/0",
        lambda: mutated(SERVICE, "variables.tf", ' && !endswith(cidr, "/0")', ""),
        rule_test_listener_not_public,
        "does not refuse /0",
    ),
    (
        "test-listener-public-by-default",
        lambda: mutated(
            SERVICE, "variables.tf", TEST_CIDRS_DEFAULT, TEST_CIDRS_DEFAULT.replace("[]", '["0.0.0.0/0"]', 1)
        ),
        rule_test_listener_not_public,
        "defaults to a /0 block",
    ),
    (
        "deploy-role-stops-any-services-deployments",
        lambda: mutated(
            ROLE,
            "main.tf",
            "resources = [local.service_deployment_arn]",
            'resources = ["arn:${local.partition}:ecs:${local.region}:'
            '${data.aws_caller_identity.current.account_id}:service-deployment/*"]',
        ),
        rule_deploy_policy,
        "not scoped to its service's deployments",
    ),
    (
        "deploy-role-deployment-arn-of-another-service",
        lambda: mutated(
            ROLE,
            "main.tf",
            'replace(var.service_arn, ":service/", ":service-deployment/")}/*"',
            'replace(var.cluster_arn, ":cluster/", ":service-deployment/")}/*"',
        ),
        rule_deploy_policy,
        "local.service_deployment_arn is not",
    ),
    (
        "deploy-role-lists-deployments-of-every-service",
        lambda: mutated(
            ROLE,
            "main.tf",
            '"ecs:ListServiceDeployments"]\n    resources = [var.service_arn]',
            '"ecs:ListServiceDeployments"]\n    resources = [var.service_arn, "${var.cluster_arn}/*"]',
        ),
        rule_deploy_policy,
        "ListServiceDeployments not scoped",
    ),
    (
        "deploy-role-cannot-continue-a-paused-deployment",
        lambda: mutated(ROLE, "main.tf", ', "ecs:ContinueServiceDeployment"', ""),
        rule_deploy_policy,
        "lacks ['ecs:continueservicedeployment']",
    ),
    (
        "deploy-role-gains-more-ecs",
        lambda: mutated(
            ROLE,
            "main.tf",
            '"ecs:StopServiceDeployment"]',
            '"ecs:StopServiceDeployment", "ecs:DeleteService"]',
        ),
        rule_deploy_policy,
        "ECS actions beyond deploying its own service (ecs:deleteservice)",
    ),
]


BOARD = module("board-role")
BOARD_ATTACHMENT = (
    'resource "aws_iam_role_policy_attachment" "read_only" {\n  role       = aws_iam_role.this.name\n'
    '  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"\n}\n\nresource "aws_iam_role_policy" "this" {'
)

REGRESSIONS += [
    (
        "board-role-trusts-a-branch",
        lambda: mutated(BOARD, "main.tf", ":environment:board", ":ref:refs/heads/main"),
        rule_board_role,
        "the board role trusts",
    ),
    (
        "board-role-trusts-a-deploy-environment",
        lambda: mutated(BOARD, "main.tf", ":environment:board", ":environment:production"),
        rule_board_role,
        "the board role trusts",
    ),
    (
        "board-role-trusts-any-subject-with-stringlike",
        lambda: mutated(
            BOARD,
            "main.tf",
            'test     = "StringEquals"\n      variable = "token.actions.githubusercontent.com:sub"',
            'test     = "StringLike"\n      variable = "token.actions.githubusercontent.com:sub"',
        ),
        rule_board_role,
        "sub is not StringEquals",
    ),
    (
        "board-role-trust-without-audience",
        lambda: mutated(
            BOARD,
            "main.tf",
            '"token.actions.githubusercontent.com:aud"',
            '"token.actions.githubusercontent.com:azp"',
        ),
        rule_board_role,
        "aud is not StringEquals",
    ),
    (
        "board-role-trusts-the-account",
        lambda: mutated(
            BOARD,
            "main.tf",
            "identifiers = [var.oidc_provider_arn]",
            'identifiers = [var.oidc_provider_arn, "arn:aws:iam::123456789012:root"]',
        ),
        rule_board_role,
        "principals other than the GitHub OIDC provider",
    ),
    (
        "board-role-puts-ledger-objects",
        lambda: mutated(
            BOARD, "main.tf", 'actions   = ["s3:GetObject"]', 'actions   = ["s3:GetObject", "s3:PutObject"]'
        ),
        rule_board_role,
        "must not write (s3:putobject)",
    ),
    (
        "board-role-deletes-ledger-objects",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["s3:GetObject"]',
            'actions   = ["s3:GetObject", "s3:DeleteObject"]',
        ),
        rule_board_role,
        "must not write (s3:deleteobject)",
    ),
    (
        "board-role-updates-services",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["ecs:DescribeServices"]',
            'actions   = ["ecs:DescribeServices", "ecs:UpdateService"]',
        ),
        rule_board_role,
        "must not write (ecs:updateservice)",
    ),
    (
        "board-role-creates-task-definitions",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["ecs:DescribeTaskDefinition"]',
            'actions   = ["ecs:DescribeTaskDefinition", "ecs:CreateService"]',
        ),
        rule_board_role,
        "must not write (ecs:createservice)",
    ),
    (
        "board-role-tags-resources",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["ecs:DescribeTaskDefinition"]',
            'actions   = ["ecs:DescribeTaskDefinition", "ecs:TagResource"]',
        ),
        rule_board_role,
        "must not write (ecs:tagresource)",
    ),
    (
        "board-role-takes-locks",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["dynamodb:GetItem"]',
            'actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]',
        ),
        rule_board_role,
        "must not write (dynamodb:updateitem)",
    ),
    (
        "board-role-wildcard-action",
        lambda: mutated(BOARD, "main.tf", 'actions   = ["s3:GetObject"]', 'actions   = ["s3:Get*"]'),
        rule_board_role,
        "must not write (s3:get*)",
    ),
    (
        "board-role-reads-secrets",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["ecs:DescribeServices"]',
            'actions   = ["ecs:DescribeServices", "secretsmanager:GetSecretValue"]',
        ),
        rule_board_role,
        "beyond what the board reads (secretsmanager:getsecretvalue)",
    ),
    (
        "board-role-reads-whole-bucket",
        lambda: mutated(
            BOARD,
            "main.tf",
            'ledger_objects = "${var.ledger_bucket_arn}/${var.ledger_prefix}/*"',
            'ledger_objects = "${var.ledger_bucket_arn}/*"',
        ),
        rule_board_role,
        "ledger reads outside <bucket>/<prefix>/*",
    ),
    (
        "board-role-lists-whole-bucket",
        lambda: mutated(BOARD, "main.tf", 'variable = "s3:prefix"', 'variable = "s3:delimiter"'),
        rule_board_role,
        "ListBucket not limited to the ledger prefix",
    ),
    (
        "board-role-decrypts-outside-s3",
        lambda: mutated(BOARD, "main.tf", 'variable = "kms:ViaService"', 'variable = "kms:CallerAccount"'),
        rule_board_role,
        "kms:Decrypt not limited to the ledger key through S3/DynamoDB",
    ),
    (
        "board-role-decrypts-through-any-service",
        lambda: mutated(
            BOARD,
            "main.tf",
            '"dynamodb.${var.region}.amazonaws.com"]',
            '"dynamodb.${var.region}.amazonaws.com", "lambda.${var.region}.amazonaws.com"]',
        ),
        rule_board_role,
        "kms:Decrypt not limited to the ledger key through S3/DynamoDB",
    ),
    (
        "board-role-generates-data-keys",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["kms:Decrypt"]',
            'actions   = ["kms:Decrypt", "kms:GenerateDataKey"]',
        ),
        rule_board_role,
        "must not write (kms:generatedatakey)",
    ),
    (
        "board-role-describes-any-service",
        lambda: mutated(BOARD, "main.tf", "resources = var.service_arns", 'resources = ["*"]'),
        rule_board_role,
        "Resource * for ['ecs:describeservices']",
    ),
    (
        "board-role-task-definitions-in-any-region",
        lambda: mutated(
            BOARD, "main.tf", 'variable = "aws:RequestedRegion"', 'variable = "aws:SourceAccount"'
        ),
        rule_board_role,
        "DescribeTaskDefinition without aws:RequestedRegion",
    ),
    (
        "board-role-reads-any-lock-item",
        lambda: mutated(
            BOARD, "main.tf", 'variable = "dynamodb:LeadingKeys"', 'variable = "dynamodb:Select"'
        ),
        rule_board_role,
        "lock table reads not limited to the chain's items",
    ),
    (
        "board-role-assumes-any-role",
        lambda: mutated(
            BOARD,
            "main.tf",
            'actions   = ["sts:AssumeRole"]\n      resources = statement.value',
            'actions   = ["sts:AssumeRole"]\n      resources = ["*"]',
        ),
        rule_board_role,
        "sts:AssumeRole beyond the named read roles",
    ),
    (
        "board-role-may-assume-deploy-roles",
        lambda: mutated(BOARD, "variables.tf", ' && !can(regex("-(deploy|build)$", arn))', ""),
        rule_board_role,
        "sts:AssumeRole beyond the named read roles",
    ),
    (
        "board-role-gets-a-managed-policy",
        lambda: mutated(BOARD, "main.tf", 'resource "aws_iam_role_policy" "this" {', BOARD_ATTACHMENT),
        rule_board_role,
        "beyond its inline one (aws_iam_role_policy_attachment)",
    ),
    (
        "board-role-loses-the-lock-read",
        lambda: mutated(
            BOARD, "main.tf", 'actions   = ["dynamodb:GetItem"]', 'actions   = ["dynamodb:DescribeTable"]'
        ),
        rule_board_role,
        "the board role lacks ['dynamodb:getitem']",
    ),
    (
        "deploy-role-for-the-board-environment",
        lambda: mutated(
            ROLE, "variables.tf", 'condition     = var.environment != "board"', "condition     = true"
        ),
        rule_board_environment_reserved,
        "accepts environment = board",
    ),
]


@pytest.mark.parametrize(
    ("build", "rule", "expected"),
    [(b, r, e) for _, b, r, e in REGRESSIONS],
    ids=[n for n, _, _, _ in REGRESSIONS],
)
def test_rule_catches_regression(
    build: Callable[[], Config], rule: Callable[[Config], list[str]], expected: str
) -> None:
    problems = rule(build())
    assert any(expected in problem for problem in problems), problems


def test_hygiene_catches_undocumented_variable(tmp_path: Path) -> None:
    for name in ("main.tf", "outputs.tf", "versions.tf", "README.md"):
        (tmp_path / name).write_text("", encoding="utf-8")
    (tmp_path / "versions.tf").write_text('terraform {\n  required_version = ">= 1.7"\n}\n', encoding="utf-8")
    (tmp_path / "variables.tf").write_text(
        'variable "x" {\n  default = 1\n}\n\nvariable "role_arn" {\n  type        = string\n  description = "r"\n}\n',
        encoding="utf-8",
    )
    (tmp_path / "outputs.tf").write_text('output "y" {\n  value = 1\n}\n', encoding="utf-8")
    problems = rule_hygiene(load(tmp_path), module=True)
    assert "variable x has no description" in problems
    assert "variable x has no type" in problems
    assert "output y has no description" in problems
    assert "variable role_arn takes an ARN but is not validated" in problems


def test_wiring_catches_a_misspelt_module_input() -> None:
    configs = {path.resolve(): load(path) for path in MODULES}
    bad = mutated(
        module("environment"),
        "main.tf",
        "  alarm_topic_arn = module.alarms.topic_arn",
        "  alarm_topic     = module.alarms.topic_arn",
    )
    problems = rule_wiring(bad, configs)
    assert "module service: passes undeclared input alarm_topic" in problems
    assert "module service: required input alarm_topic_arn not passed" in problems


def test_backend_rule_catches_a_hard_coded_account(tmp_path: Path) -> None:
    (tmp_path / "versions.tf").write_text('terraform {\n  backend "s3" {}\n}\n', encoding="utf-8")
    (tmp_path / "backend.hcl").write_text(
        'bucket = "state-123456789012"\nkey = "k"\nuse_lockfile = true\n', encoding="utf-8"
    )
    problems = rule_backend(tmp_path)
    assert any("hard-codes bucket" in p for p in problems)
    assert any("account id is hard-coded" in p for p in problems)


# The strategy variables' validations and the floor output, evaluated by a real terraform (offline) ----------
# modules/ecs-fargate-service's variables.tf and rollout_floor_seconds output, verbatim, in a configuration
# without resources: `terraform plan` runs every validation and computes the output with no provider.

REQUIRED_INPUTS = {
    "name": "envpromote-dev",
    "service_name": "envpromote-dev-web",
    "family": "envpromote-dev-web",
    "alarm_topic_arn": "arn:aws:sns:us-east-1:123456789012:envpromote-dev-alarms",
}
VERIFY_GREEN = "arn:aws:lambda:us-east-1:123456789012:function:verify-green"


@pytest.fixture(scope="module")
def strategy_harness(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[dict[str, object]], tuple[int, str]]:
    from envpromote.errors import PreflightFailed
    from envpromote.terraform import find_engine

    try:
        engine = find_engine(tmp_path_factory.mktemp("terraform-shim"))
    except PreflightFailed as exc:
        pytest.skip(f"NO TERRAFORM ENGINE: the validation tests did not run. {exc.one_line()}")
    root = tmp_path_factory.mktemp("strategy-harness")
    source = module("ecs-fargate-service")
    (root / "variables.tf").write_text(
        (source / "variables.tf").read_text(encoding="utf-8"), encoding="utf-8"
    )
    outputs = (source / "outputs.tf").read_text(encoding="utf-8")
    start = outputs.index('output "rollout_floor_seconds" {')
    floor = outputs[start : outputs.index("\n}\n", start) + 3]
    (root / "main.tf").write_text(
        'terraform {\n  required_version = ">= 1.7"\n}\n\n' + floor, encoding="utf-8"
    )
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    init = subprocess.run(
        [engine.path, "init", "-input=false", "-no-color"], cwd=root, env=env, capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr

    def plan(values: dict[str, object]) -> tuple[int, str]:
        """(rollout_floor_seconds or -1 if the plan failed, terraform's error text)."""
        var_file = root / "case.tfvars.json"
        var_file.write_text(json.dumps({**REQUIRED_INPUTS, **values}), encoding="utf-8")
        result = subprocess.run(
            [
                engine.path,
                "plan",
                "-input=false",
                "-no-color",
                "-out=case.plan",
                f"-var-file={var_file.name}",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            return -1, " ".join(result.stderr.split())
        shown = subprocess.run(
            [engine.path, "show", "-json", "case.plan"], cwd=root, env=env, capture_output=True, text=True
        )
        return int(
            json.loads(shown.stdout)["planned_values"]["outputs"]["rollout_floor_seconds"]["value"]
        ), ""

    return plan


@pytest.mark.parametrize(
    ("values", "floor"),
    [
        ({}, 25),
        ({"deployment_strategy": "BLUE_GREEN"}, 325),
        ({"deployment_strategy": "CANARY"}, 625),
        ({"deployment_strategy": "LINEAR"}, 685),
        ({"deployment_strategy": "LINEAR", "linear_step_percent": 30}, 685),  # 30, 60, 90, 100: 3 waits
        ({"deployment_strategy": "LINEAR", "linear_step_percent": 100}, 325),  # one step: no step bake
        ({"deployment_strategy": "CANARY", "canary_percent": 12.5, "canary_bake_time_minutes": 0}, 325),
        (
            {
                "deployment_strategy": "BLUE_GREEN",
                "test_listener_cidrs": ["10.20.0.0/16"],
                "test_listener_port": 9443,
                "lifecycle_hooks": [
                    {"hook_target_arn": VERIFY_GREEN, "lifecycle_stages": ["POST_TEST_TRAFFIC_SHIFT"]}
                ],
            },
            325,
        ),
    ],
    ids=[
        "rolling",
        "blue-green",
        "canary",
        "linear",
        "linear-30",
        "linear-100",
        "canary-12.5",
        "lambda-hook",
    ],
)
def test_strategy_values_terraform_accepts_and_their_floor(
    strategy_harness: Callable[[dict[str, object]], tuple[int, str]], values: dict[str, object], floor: int
) -> None:
    assert strategy_harness(values) == (floor, "")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"deployment_strategy": "RECREATE"},
            "deployment_strategy must be ROLLING, BLUE_GREEN, CANARY or LINEAR",
        ),
        (
            {"deployment_strategy": "blue_green"},
            "deployment_strategy must be ROLLING, BLUE_GREEN, CANARY or LINEAR",
        ),
        ({"test_listener_cidrs": ["0.0.0.0/0"]}, "none may be /0"),
        ({"test_listener_cidrs": ["10.0.0.0/8", "1.2.3.4/0"]}, "none may be /0"),
        ({"test_listener_port": 443}, "other than 80 and 443"),
        ({"canary_percent": 12.55}, "canary_percent must be a multiple of 0.1"),
        ({"linear_step_percent": 2}, "linear_step_percent must be a multiple of 0.1 between 3 and 100"),
        ({"bake_time_minutes": 1441}, "bake_time_minutes must be a whole number"),
        (
            {"lifecycle_hooks": [{"target_type": "PAUSE", "lifecycle_stages": ["POST_TEST_TRAFFIC_SHIFT"]}]},
            "PAUSE hooks cannot be declared yet",
        ),
        (
            {"lifecycle_hooks": [{"hook_target_arn": VERIFY_GREEN, "lifecycle_stages": ["BAKE_TIME"]}]},
            "must be distinct stages from RECONCILE_SERVICE",
        ),
        (
            {
                "lifecycle_hooks": [
                    {
                        "hook_target_arn": "arn:aws:lambda:us-east-1:123456789012:function:*",
                        "lifecycle_stages": ["PRE_SCALE_UP"],
                    }
                ]
            },
            "needs hook_target_arn = a Lambda function ARN",
        ),
        (
            {
                "lifecycle_hooks": [
                    {
                        "hook_target_arn": VERIFY_GREEN,
                        "lifecycle_stages": ["PRE_SCALE_UP"],
                        "hook_details": "{not json",
                    }
                ]
            },
            "hook_details, if given, JSON",
        ),
    ],
    ids=[
        "unknown-strategy",
        "lower-case-strategy",
        "public-test-listener",
        "one-public-block",
        "test-port-443",
        "canary-not-tenths",
        "linear-step-below-3",
        "bake-over-a-day",
        "pause-hook",
        "stage-without-hooks",
        "wildcard-function",
        "hook-details-not-json",
    ],
)
def test_strategy_values_terraform_refuses(
    strategy_harness: Callable[[dict[str, object]], tuple[int, str]], values: dict[str, object], message: str
) -> None:
    floor, error = strategy_harness(values)
    assert floor == -1
    assert message in error, error
    assert "Invalid value for variable" in error


def test_environment_service_defaults_are_the_service_modules() -> None:
    """`service = {}` in an environment gives the service module's own defaults (strategy included), and
    the lifecycle hook type is the module's, so a root cannot pass what the module would refuse to parse."""
    service_type = str(load(module("environment")).variables["service"]["type"])
    service = load(module("ecs-fargate-service")).variables
    scalars = dict(re.findall(r"(\w+) = optional\((?:string|number|bool), ([^()]+?)\)", service_type))
    assert {"deployment_strategy", "bake_time_minutes", "canary_percent", "linear_step_percent"} <= set(
        scalars
    )
    for name, text in scalars.items():
        if name != "target_type":  # lifecycle_hooks' own attribute, compared with the type below
            assert json.loads(text) == service[name]["default"], name
    hooks = re.search(r"lifecycle_hooks = optional\((list\(object\(\{.*?\}\)\)), \[\]\)", service_type)
    assert hooks is not None
    assert f"${{{hooks.group(1)}}}" == service["lifecycle_hooks"]["type"]
