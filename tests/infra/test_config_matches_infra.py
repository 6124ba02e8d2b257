"""envpromote.toml's example values are what infra/ creates: names are read from the HCL (templates
resolved with the modules' defaults), so renaming a resource in one place and not the other fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from iac_policy import Config, load, parse_text

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "infra" / "modules"


def resolve(template: str, variables: dict[str, Any], config: Config) -> str:
    """Fill ${var.x} and ${local.x} (recursively) in a string from the HCL."""

    def substitute(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "var":
            return str(variables[name])
        return resolve(str(config.locals[name]), variables, config)

    resolved = re.sub(r"\$\{(var|local)\.([A-Za-z0-9_]+)\}", substitute, template)
    assert "${" not in resolved, f"cannot resolve {template!r}"
    return resolved


def defaults(config: Config) -> dict[str, Any]:
    return {name: body["default"] for name, body in config.variables.items() if "default" in body}


def expected_names(environment: str) -> dict[str, str]:
    """What modules/environment -> modules/ecs-fargate-service name things, for this environment."""
    env_module = load(MODULES / "environment")
    env_vars = {**defaults(env_module), "environment": environment}
    call = env_module.modules["service"]
    service_vars = {
        **defaults(load(MODULES / "ecs-fargate-service")),
        **{key: resolve(str(call[key]), env_vars, env_module) for key in ("name", "service_name", "family")},
    }
    service = load(MODULES / "ecs-fargate-service")
    resources = service.resources
    return {
        "cluster": resolve(str(resources[("aws_ecs_cluster", "this")]["name"]), service_vars, service),
        "service": service_vars["service_name"],
        "family": service_vars["family"],
        "container": str(service_vars["container_name"]),
        "execution_role": resolve(
            str(resources[("aws_iam_role", "execution")]["name"]), service_vars, service
        ),
        "task_role": resolve(str(resources[("aws_iam_role", "task")]["name"]), service_vars, service),
        "log_group": resolve(
            str(resources[("aws_cloudwatch_log_group", "this")]["name"]), service_vars, service
        ),
    }


CONFIG = tomllib.loads((REPO / "envpromote.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
def test_environment_names_match(environment: str) -> None:
    names = expected_names(environment)
    env = CONFIG["environments"][environment]
    assert env["cluster"] == names["cluster"]
    assert env["service"] == names["service"]
    assert env["family"] == names["family"]
    assert env["container"] == names["container"]
    assert env["execution_role_arn"].rsplit("/", 1)[-1] == names["execution_role"]
    assert env["task_role_arn"].rsplit("/", 1)[-1] == names["task_role"]
    assert env["taskdef"]["log_group"] == names["log_group"]


def test_shared_names_match() -> None:
    shared = load(REPO / "infra" / "envs" / "shared")
    values = defaults(shared)
    assert CONFIG["registry"]["repository"] == values["repository_name"]
    assert CONFIG["lock"]["table"] == values["lock_table"]
    assert CONFIG["ledger"]["prefix"] == values["ledger_prefix"]
    bucket_template = re.sub(
        r"\$\{data\.aws_caller_identity\.current\.account_id\}",
        "{account}",
        str(shared.locals["ledger_bucket"]),
    )
    assert "${var.project}-ledger-{account}" in bucket_template
    assert re.fullmatch(rf"{values['project']}-ledger-[0-9]{{12}}", CONFIG["ledger"]["bucket"])


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
def test_strategy_matches_infra(environment: str) -> None:
    """envpromote.toml's strategy (default rolling) is what <env>.tfvars deploys with: a config that waits for
    a test listener the service does not have, or skips a pause the service takes, fails here."""
    tfvars = parse_text((REPO / "infra" / "envs" / environment / f"{environment}.tfvars").read_text("utf-8"))
    service = tfvars.get("service", {})
    service = service[0] if isinstance(service, list) else service
    infra_strategy = str(service.get("deployment_strategy", "ROLLING")).lower()
    assert CONFIG["environments"][environment].get("strategy", "rolling") == infra_strategy
