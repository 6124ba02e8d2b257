"""`invoke infra.*` use cases: refusals before terraform runs, confirmation, and outputs in
envpromote.toml's terms (checked by the project's own config parser)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import boto3
import pytest

from envpromote.config import parse_config
from envpromote.errors import BadInput, GateRefused
from envpromote.terraform import (
    Engine,
    PlanSummary,
    apply_root,
    config_tables,
    environment_root,
    environment_roots,
    init_root,
    parse_plan,
    plan_digest,
    require_confirmation,
    root_var_files,
    root_variables,
    state_backend,
    to_toml,
)

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"

ENV_OUTPUT = {
    "envpromote": {
        "environment": {
            "name": "staging",
            "region": "eu-west-1",
            "cluster": "envpromote-staging",
            "service": "envpromote-staging-web",
            "family": "envpromote-staging-web",
            "container": "web",
            "execution_role_arn": "arn:aws:iam::210987654321:role/envpromote-staging-execution",
            "task_role_arn": "arn:aws:iam::210987654321:role/envpromote-staging-task",
            "role_arn": "arn:aws:iam::210987654321:role/envpromote-staging-deploy",
            "url": "https://envpromote-staging-lb-1.eu-west-1.elb.amazonaws.com",
            "events_queue": "https://sqs.eu-west-1.amazonaws.com/210987654321/envpromote-staging-web-events",
            "log_group": "/ecs/envpromote-staging",
        }
    },
    "deploy_role_arn": "arn:aws:iam::210987654321:role/envpromote-staging-deploy",
}
SHARED_OUTPUT = {
    "envpromote": {
        "registry": {"repository": "envpromote-app", "region": "eu-west-1"},
        "ledger": {
            "bucket": "envpromote-ledger-210987654321",
            "prefix": "releases",
            "region": "eu-west-1",
            "object_lock": "governance",
            "retention_days": 400,
        },
        "lock": {"table": "envpromote-locks", "region": "eu-west-1"},
    }
}


def test_snippets_parse_as_envpromote_config() -> None:
    """Pasting both snippets over envpromote.toml gives a config the project's parser accepts."""
    data = tomllib.loads((REPO / "envpromote.toml").read_text(encoding="utf-8"))
    for snippet in (
        to_toml(config_tables("shared", SHARED_OUTPUT)),
        to_toml(config_tables("staging", ENV_OUTPUT)),
    ):
        for section, table in tomllib.loads(snippet).items():
            if section == "environments":
                for env, values in table.items():
                    taskdef = {**data[section][env].get("taskdef", {}), **values.pop("taskdef", {})}
                    data[section][env] = {**data[section][env], **values, "taskdef": taskdef}
            else:
                data[section] = {**data[section], **table}
    config = parse_config(data, REPO / "envpromote.toml")
    staging = config.env("staging")
    assert staging.role_arn == "arn:aws:iam::210987654321:role/envpromote-staging-deploy"
    assert staging.events_queue == ENV_OUTPUT["envpromote"]["environment"]["events_queue"]
    assert staging.region == "eu-west-1"
    assert staging.taskdef["log_group"] == "/ecs/envpromote-staging"


def test_environment_snippet_is_one_table() -> None:
    snippet = to_toml(config_tables("staging", ENV_OUTPUT))
    assert snippet.startswith('[environments.staging]\nregion = "eu-west-1"\n')
    assert '[environments.staging.taskdef]\nlog_group = "/ecs/envpromote-staging"' in snippet
    assert "deploy_role_arn" not in snippet  # only envpromote.toml keys
    assert set(tomllib.loads(snippet)) == {"environments"}


def test_shared_snippet_has_registry_ledger_lock() -> None:
    parsed = tomllib.loads(to_toml(config_tables("shared", SHARED_OUTPUT)))
    assert parsed == SHARED_OUTPUT["envpromote"]


def test_output_before_apply_is_bad_input() -> None:
    with pytest.raises(BadInput) as refused:
        config_tables("dev", {})
    assert "infra.apply --env dev" in refused.value.one_line()


def test_environment_roots_are_the_env_directories() -> None:
    assert set(environment_roots(INFRA)) == {"shared", "dev", "staging", "production"}
    with pytest.raises(BadInput) as unknown:
        environment_root(INFRA, "prod-eu")
    assert "Use one of: dev, production, shared, staging" in unknown.value.one_line()
    with pytest.raises(BadInput) as missing:
        environment_root(INFRA, None)
    assert "Pass --env" in missing.value.one_line()


def test_state_backend_needs_bucket_and_region() -> None:
    assert state_backend("my-state-123", "eu-west-1", {}) == {"bucket": "my-state-123", "region": "eu-west-1"}
    assert state_backend(
        None, None, {"ENVPROMOTE_TF_STATE_BUCKET": "b-state", "AWS_REGION": "us-east-2"}
    ) == {
        "bucket": "b-state",
        "region": "us-east-2",
    }
    for bucket, region, expected in [
        (None, "eu-west-1", "--state-bucket"),
        ("my-state-123", None, "--state-region"),
        ("s3://my-state", "eu-west-1", "not a URL"),
    ]:
        with pytest.raises(BadInput) as refused:
            state_backend(bucket, region, {})
        assert expected in refused.value.one_line()


def test_variables_and_var_files() -> None:
    root = INFRA / "envs" / "production"
    assert root_var_files(root) == [root / "production.tfvars"]
    with pytest.raises(BadInput, match="does not exist"):
        root_var_files(root, ["missing.tfvars"])
    assert root_variables(root, {"GITHUB_REPOSITORY": "acme/shop"}) == {"github_repository": "acme/shop"}
    assert root_variables(root, {"GITHUB_REPOSITORY": "acme/shop", "TF_VAR_github_repository": "x/y"}) == {}
    assert root_variables(root, {}, ["ledger_bucket=b-1"]) == {"ledger_bucket": "b-1"}
    with pytest.raises(BadInput) as refused:
        root_variables(root, {}, ["novalue"])
    assert "Use --var KEY=VALUE" in refused.value.one_line()


def test_only_production_asks() -> None:
    assert require_confirmation("production", yes=False)
    assert not require_confirmation("production", yes=True)
    assert not require_confirmation("staging", yes=False)
    assert not require_confirmation("shared", yes=False)


def test_production_is_the_configs_rule(tmp_path: Path) -> None:
    """An environment that requires approval is production for infra.apply too (Environment.is_production)."""
    raw = tomllib.loads((REPO / "envpromote.toml").read_text(encoding="utf-8"))
    raw["environments"]["staging"]["approval"] = True
    config = parse_config(raw, tmp_path / "envpromote.toml")
    assert require_confirmation("staging", yes=False, config=config)
    assert not require_confirmation("staging", yes=True, config=config)
    assert not require_confirmation("dev", yes=False, config=config)
    assert require_confirmation("production", yes=False, config=config)


def test_plan_digest_lists_resource_changes() -> None:
    plan = {
        "resource_changes": [
            {"address": "module.service.aws_ecs_service.this", "change": {"actions": ["update"]}},
            {"address": "aws_sqs_queue.events", "change": {"actions": ["create"]}},
            {"address": "aws_lb.this", "change": {"actions": ["delete", "create"]}},
        ]
    }
    digest = plan_digest(parse_plan(2, plan))
    assert digest.splitlines() == [
        "~ module.service.aws_ecs_service.this",
        "+ aws_sqs_queue.events",
        "-/+ aws_lb.this",
        "Plan: 2 to add, 1 to change, 1 to destroy.",
    ]


# Against a real terraform and the S3 backend on the local moto server --------------------------------


@pytest.fixture
def initialised(terraform_engine: Engine, tfdata_root: Path, aws_env: str, state_bucket: str) -> Path:
    (tfdata_root / "backend.hcl").write_text(
        'key = "ops/terraform.tfstate"\nuse_lockfile = true\nuse_path_style = true\n'
        "skip_credentials_validation = true\nskip_requesting_account_id = true\n"
        f'skip_metadata_api_check = true\nendpoints = {{ s3 = "{aws_env}" }}\n',
        encoding="utf-8",
    )
    return tfdata_root


def test_declined_apply_changes_nothing(
    initialised: Path, terraform_engine: Engine, state_bucket: str, aws_env: str
) -> None:
    runner = init_root(
        initialised, backend={"bucket": state_bucket, "region": "us-east-1"}, engine=terraform_engine
    )
    asked: list[PlanSummary] = []

    def decline(summary: PlanSummary) -> bool:
        asked.append(summary)
        return False

    with pytest.raises(GateRefused, match="nothing was changed") as refused:
        apply_root(runner, variables={"greeting": "no"}, confirm=decline)
    assert refused.value.exit_code == 3
    assert asked[0].changes == ("+ terraform_data.greeting",)
    assert runner.output() == {}
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=aws_env)
        .list_objects_v2(Bucket=state_bucket)
        .get("Contents", [])
    ]
    assert keys == []  # no state written, no lock left behind
    assert not (initialised / ".terraform" / "envpromote.tfplan").exists()


def test_confirmed_apply_applies_the_shown_plan_once(
    initialised: Path, terraform_engine: Engine, state_bucket: str
) -> None:
    runner = init_root(
        initialised, backend={"bucket": state_bucket, "region": "us-east-1"}, engine=terraform_engine
    )
    calls: list[PlanSummary] = []

    def accept(summary: PlanSummary) -> bool:
        calls.append(summary)
        return True

    first = apply_root(runner, variables={"greeting": "yes"}, confirm=accept)
    assert first.has_changes
    assert runner.output()["greeting"] == "yes"
    second = apply_root(runner, variables={"greeting": "yes"}, confirm=accept)
    assert not second.has_changes
    assert len(calls) == 1  # nothing to confirm the second time


def test_init_with_workspace(initialised: Path, terraform_engine: Engine, state_bucket: str) -> None:
    runner = init_root(
        initialised,
        backend={"bucket": state_bucket, "region": "us-east-1"},
        engine=terraform_engine,
        workspace="blue",
    )
    assert runner.current_workspace() == "blue"


# The invoke tasks themselves: refusals exit 2 before any terraform runs ------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["infra.plan", "--env", "nope"], "Unknown infrastructure environment 'nope'"),
        (["infra.output"], "No environment given"),
        (["infra.init", "--env", "dev"], "No Terraform state bucket given"),
        (
            ["infra.bootstrap", "--state-bucket", "b-state-1", "--region", "eu-west-1", "--step", "x"],
            "Unknown bootstrap step",
        ),
        (["infra.apply", "--env", "dev", "--var-file", "missing.tfvars"], "missing.tfvars does not exist"),
    ],
)
def test_task_refusals(args: list[str], message: str, tmp_path: Path) -> None:
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# End to end: the invoke tasks against a real terraform and the moto S3 backend ------------------------


def _invoke(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def infra_tree(tmp_path: Path, aws_env: str, state_bucket: str, terraform_engine: Engine) -> dict[str, str]:
    """An infra/ tree with two environment roots (dev, production) made of terraform_data."""
    import os
    import shutil

    fixture = Path(__file__).parent / "fixtures" / "envroot"
    for name in ("dev", "production"):
        root = tmp_path / "infra" / "envs" / name
        shutil.copytree(fixture, root)
        (root / "envroot.tfvars").rename(root / f"{name}.tfvars")
        (root / "versions.tf").write_text("", encoding="utf-8")
        (root / "backend.hcl").write_text(
            f'key = "envpromote/{name}/terraform.tfstate"\nuse_lockfile = true\nuse_path_style = true\n'
            "skip_credentials_validation = true\nskip_requesting_account_id = true\n"
            f'skip_metadata_api_check = true\nendpoints = {{ s3 = "{aws_env}" }}\n',
            encoding="utf-8",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        {
            "ENVPROMOTE_INFRA_DIR": str(tmp_path / "infra"),
            "ENVPROMOTE_TERRAFORM": terraform_engine.path,
            "ENVPROMOTE_TF_STATE_BUCKET": state_bucket,
            "ENVPROMOTE_TF_STATE_REGION": "us-east-1",
            "GITHUB_REPOSITORY": "acme/shop",
        }
    )
    env.pop("TF_VAR_github_repository", None)
    return env


def test_invoke_infra_end_to_end(infra_tree: dict[str, str], aws_env: str, state_bucket: str) -> None:
    init = _invoke(["infra.init", "--env", "dev"], infra_tree)
    assert init.returncode == 0, init.stderr
    assert f"state s3://{state_bucket}" in init.stdout

    before = _invoke(["infra.plan", "--env", "dev"], infra_tree)
    assert before.returncode == 2, before.stderr  # changes
    assert "+ terraform_data.service" in before.stdout
    assert "dev: Plan: 1 to add, 0 to change, 0 to destroy." in before.stdout

    applied = _invoke(["infra.apply", "--env", "dev"], infra_tree)  # dev: no confirmation
    assert applied.returncode == 0, applied.stderr
    assert "dev: applied: Plan: 1 to add" in applied.stdout

    after = _invoke(["infra.plan", "--env", "dev"], infra_tree)
    assert after.returncode == 0, after.stderr
    assert "No changes" in after.stdout

    snippet = _invoke(["infra.output", "--env", "dev"], infra_tree)
    assert snippet.returncode == 0, snippet.stderr
    tables = tomllib.loads(snippet.stdout)
    dev = tables["environments"]["dev"]
    assert dev["url"] == "http://acme/shop.example"  # GITHUB_REPOSITORY reached the variable
    assert dev["events_queue"].endswith("/events")
    assert dev["taskdef"] == {"log_group": "/ecs/envpromote"}

    as_json = _invoke(["infra.output", "--env", "dev", "--json"], infra_tree)
    assert as_json.returncode == 0
    assert '"cluster": "envpromote-dev"' in as_json.stdout

    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=aws_env).list_objects_v2(Bucket=state_bucket)["Contents"]
    ]
    assert keys == ["envpromote/dev/terraform.tfstate"]  # lockfile released


def test_production_apply_without_terminal_or_yes_is_refused(
    infra_tree: dict[str, str], aws_env: str, state_bucket: str
) -> None:
    assert _invoke(["infra.init", "--env", "production"], infra_tree).returncode == 0
    refused = _invoke(["infra.apply", "--env", "production"], infra_tree)
    assert refused.returncode == 3, refused.stderr
    assert "Apply not confirmed" in refused.stderr
    assert "--yes" in refused.stderr
    assert "Contents" not in boto3.client("s3", endpoint_url=aws_env).list_objects_v2(Bucket=state_bucket)

    confirmed = _invoke(["infra.apply", "--env", "production", "--yes"], infra_tree)
    assert confirmed.returncode == 0, confirmed.stderr
    assert _invoke(["infra.plan", "--env", "production"], infra_tree).returncode == 0


def _invoke_with_terminal(args: list[str], env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run invoke with a pseudo-terminal as stdin (so it may prompt) and type `answer`."""
    import os
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=REPO,
            env=env,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        os.write(controller, f"{answer}\n".encode())
        output, _ = proc.communicate(timeout=300)
        return proc.returncode, output
    finally:
        os.close(controller)
        os.close(terminal)


def test_production_apply_prompts_on_a_terminal(
    infra_tree: dict[str, str], aws_env: str, state_bucket: str
) -> None:
    assert _invoke(["infra.init", "--env", "production"], infra_tree).returncode == 0
    code, output = _invoke_with_terminal(["infra.apply", "--env", "production"], infra_tree, "no")
    assert code == 3, output
    assert "Apply these changes to production? Type 'yes' to continue" in output
    assert "Contents" not in boto3.client("s3", endpoint_url=aws_env).list_objects_v2(Bucket=state_bucket)

    code, output = _invoke_with_terminal(["infra.apply", "--env", "production"], infra_tree, "yes")
    assert code == 0, output
    assert "production: applied: Plan: 1 to add" in output
