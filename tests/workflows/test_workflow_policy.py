"""Policy tests over .github/: the real workflows comply, and every rule catches its bad fixture."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from wf_policy import PROTECTED_ENVIRONMENTS, RULES, check

from tools.ci_plan import command_lines, environment_name, expand_jobs, parse_workflow, triggers

ROOT = Path(__file__).parents[2]
BAD = Path(__file__).parent / "fixtures" / "bad"
BAD_FIXTURES = sorted(BAD.glob("*.yml"))

EXPECTED_WORKFLOWS = {
    "ci.yml",
    "reusable-build.yml",
    "reusable-deploy-ecs.yml",
    "dev.yml",
    "promote-staging.yml",
    "promote-production.yml",
    "board.yml",
}


def _header(text: str, key: str) -> str | None:
    match = re.search(rf"^# {key}: (.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def test_the_seven_workflows_exist(workflows: dict[str, Any]) -> None:
    assert set(workflows) == EXPECTED_WORKFLOWS


def test_real_workflows_break_no_rule(workflows: dict[str, Any], texts: dict[str, str]) -> None:
    violations = check(workflows, texts)
    assert violations == [], "\n".join(map(str, violations))


@pytest.mark.parametrize("fixture", BAD_FIXTURES, ids=[p.stem for p in BAD_FIXTURES])
def test_bad_fixture_breaks_exactly_its_rule(
    fixture: Path, workflows: dict[str, Any], texts: dict[str, str]
) -> None:
    text = fixture.read_text(encoding="utf-8")
    expected = {rule.strip() for rule in (_header(text, "expect") or "").split(",") if rule.strip()}
    assert expected, f"{fixture.name} has no '# expect: <rule>' header"
    assert expected <= set(RULES), f"unknown rule in {fixture.name}: {expected - set(RULES)}"
    # Checked beside the real workflows, so calls to the reusable ones resolve; `# as:` replaces one.
    name = _header(text, "as") or f"fixture-{fixture.name}"
    all_workflows = {**workflows, name: parse_workflow(text, name)}
    all_texts = {**texts, name: text}
    found = {v.rule for v in check(all_workflows, all_texts) if v.workflow == name}
    assert found == expected


def test_every_rule_has_a_bad_fixture() -> None:
    covered = {
        rule.strip()
        for path in BAD_FIXTURES
        for rule in (_header(path.read_text(encoding="utf-8"), "expect") or "").split(",")
    }
    assert set(RULES) <= covered, f"rules without a regression fixture: {set(RULES) - covered}"


# --- behaviour the issue asks for, beyond the generic rules ------------------------------------------------


def test_promotions_are_manual_with_an_optional_digest(workflows: dict[str, Any]) -> None:
    for env in PROTECTED_ENVIRONMENTS:
        on = triggers(workflows[f"promote-{env}.yml"])
        assert set(on) == {"workflow_dispatch"}
        digest = on["workflow_dispatch"]["inputs"]["digest"]
        assert digest["required"] is False
        assert digest["default"] == ""


def test_each_promotion_enters_its_environment_once_with_url_and_main_only(workflows: dict[str, Any]) -> None:
    for env in PROTECTED_ENVIRONMENTS:
        jobs = expand_jobs(workflows, f"promote-{env}.yml", {})
        entering = [job for job in jobs if job.environment == env]
        assert len(entering) == 1
        assert entering[0].condition == "github.ref == 'refs/heads/main'"
    deploy = workflows["reusable-deploy-ecs.yml"]["jobs"]["deploy"]
    assert deploy["environment"]["url"], "environment.url must point at the service"


def test_dev_deploys_the_digest_the_build_produced(workflows: dict[str, Any]) -> None:
    jobs = expand_jobs(workflows, "dev.yml", {})
    assert [job.environment for job in jobs] == [None, "dev"]
    build, deploy = jobs
    assert deploy.needs[0] == "build"
    assert deploy.commands == [
        'uv run invoke deploy --env "$ENVPROMOTE_ENVIRONMENT" --digest "$ENVPROMOTE_DIGEST"'
    ]
    step_env = next(step.env for step in deploy.steps if step.command)
    assert step_env["ENVPROMOTE_DIGEST"] == "${{ needs.build.outputs.digest }}"
    assert step_env["ENVPROMOTE_ENVIRONMENT"] == "dev"
    assert any("--push" in command for command in build.commands)


def test_build_outputs_the_digest_read_back_after_the_push(workflows: dict[str, Any]) -> None:
    build = workflows["reusable-build.yml"]
    job = build["jobs"]["build"]
    assert job["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    push = next(step for step in job["steps"] if step.get("id") == "push")
    assert "--push" in push["run"]
    assert "github.sha" in job["env"]["IMAGE_TAG"]
    record = [step for step in job["steps"] if "ledger.record-build" in str(step.get("run", ""))]
    assert len(record) == 1
    assert job["steps"].index(record[0]) > job["steps"].index(push)


def test_credentials_come_after_the_scan_in_the_build(workflows: dict[str, Any]) -> None:
    steps = workflows["reusable-build.yml"]["jobs"]["build"]["steps"]
    scan = next(i for i, s in enumerate(steps) if "invoke scan" in str(s.get("run", "")))
    oidc = next(i for i, s in enumerate(steps) if "configure-aws-credentials" in str(s.get("uses", "")))
    assert scan < oidc


def test_release_record_uploaded_even_when_the_rollout_fails(workflows: dict[str, Any]) -> None:
    steps = workflows["reusable-deploy-ecs.yml"]["jobs"]["deploy"]["steps"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == ".envpromote/records/"
    assert upload["with"]["include-hidden-files"] is True


def test_ci_runs_the_checks_the_issue_lists(workflows: dict[str, Any]) -> None:
    commands = [c for job in expand_jobs(workflows, "ci.yml", {}) for c in job.commands]
    for expected in (
        "uvx nox -s test lint typecheck",
        "uvx nox -s iac -- --with-validate",
        "uvx nox -s workflows",
        "uvx nox -s scan",
    ):
        assert expected in commands
    sarif = [
        step
        for job in workflows["ci.yml"]["jobs"].values()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif@")
    ]
    assert sarif, "ci uploads the image scan's SARIF"


def test_configuration_comes_from_vars(texts: dict[str, str]) -> None:
    joined = "\n".join(texts.values())
    assert "${{ vars.ENVPROMOTE_BUILD_ROLE_ARN }}" in joined
    assert "${{ vars.ENVPROMOTE_DEPLOY_ROLE_ARN }}" in joined
    assert "${{ vars.ENVPROMOTE_BOARD_ROLE_ARN }}" in joined
    assert "arn:aws:" not in joined, "account-specific ARNs belong in vars"


def test_run_steps_are_single_commands(workflows: dict[str, Any]) -> None:
    for workflow in workflows.values():
        for job in (workflow.get("jobs") or {}).values():
            for step in job.get("steps", []):
                if "run" in step:
                    assert len(command_lines(step["run"])) == 1


def test_only_the_environment_job_assumes_a_deploy_role(workflows: dict[str, Any]) -> None:
    for name, workflow in workflows.items():
        for job_id, job in (workflow.get("jobs") or {}).items():
            if "ENVPROMOTE_DEPLOY_ROLE_ARN" in repr(job):
                assert environment_name(job) is not None, f"{name}:{job_id}"


# --- the release board (issue 15) -------------------------------------------------------------------------


def _step_index(steps: list[dict[str, Any]], action: str) -> int:
    return next(i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith(f"{action}@"))


def test_board_follows_every_pipeline_run_hourly_and_on_demand(workflows: dict[str, Any]) -> None:
    on = triggers(workflows["board.yml"])
    assert set(on) == {"workflow_run", "schedule", "workflow_dispatch"}
    assert on["workflow_run"]["types"] == ["completed"]
    assert on["workflow_run"]["branches"] == ["main"]
    # workflow_run matches workflows by `name:`: a renamed pipeline would silently stop refreshing the board.
    pipeline_names = {
        workflows[f]["name"] for f in ("dev.yml", "promote-staging.yml", "promote-production.yml")
    }
    assert set(on["workflow_run"]["workflows"]) == pipeline_names
    assert on["schedule"], "a schedule refreshes drift, locks and rollouts started outside the pipelines"


def test_board_renders_with_the_read_only_role_only(workflows: dict[str, Any]) -> None:
    render = workflows["board.yml"]["jobs"]["render"]
    assert render["if"] == "github.ref == 'refs/heads/main'"
    assert environment_name(render) == "board", "the board role trusts only the `board` environment's subject"
    assert render["permissions"] == {"contents": "read", "id-token": "write"}
    text = repr(render)
    assert "ENVPROMOTE_BOARD_ROLE_ARN" in text
    assert "ENVPROMOTE_BUILD_ROLE_ARN" not in text
    assert "ENVPROMOTE_DEPLOY_ROLE_ARN" not in text
    steps = render["steps"]
    board = next(i for i, step in enumerate(steps) if "run" in step)
    assert command_lines(steps[board]["run"]) == ["uv run invoke board --out site"]
    assert _step_index(steps, "aws-actions/configure-aws-credentials") < board
    upload = _step_index(steps, "actions/upload-pages-artifact")
    assert upload > board
    assert steps[upload]["with"]["path"] == "site/"


def test_board_publishes_from_a_job_that_runs_nothing_of_ours(workflows: dict[str, Any]) -> None:
    jobs = workflows["board.yml"]["jobs"]
    publish = jobs["publish"]
    assert publish["needs"] == "render"
    assert publish["if"] == "github.ref == 'refs/heads/main'"
    assert publish["permissions"] == {"pages": "write", "id-token": "write"}
    assert publish["environment"] == {
        "name": "github-pages",
        "url": "${{ steps.deployment.outputs.page_url }}",
    }
    (step,) = publish["steps"]
    assert step["id"] == "deployment"
    assert str(step["uses"]).startswith("actions/deploy-pages@")
    granted = [job_id for job_id, job in jobs.items() if "pages" in (job.get("permissions") or {})]
    assert granted == ["publish"]


def test_notifications_link_to_the_published_board(workflows: dict[str, Any]) -> None:
    from envpromote.notify.send import BOARD_URL_VAR

    env = workflows["reusable-deploy-ecs.yml"]["jobs"]["deploy"]["env"]
    assert env[BOARD_URL_VAR] == "${{ vars.ENVPROMOTE_BOARD_URL }}"
    for name in ("dev.yml", "promote-staging.yml", "promote-production.yml"):
        (job,) = [job for job in expand_jobs(workflows, name, {}) if job.environment]
        assert job.path[-1] == "reusable-deploy-ecs.yml:deploy", f"{name} notifies from the shared deploy job"


def test_zizmor_is_silenced_only_for_the_audited_workflow_run_trigger(
    workflows: dict[str, Any], texts: dict[str, str]
) -> None:
    ignores = [
        (name, line.strip())
        for name, text in texts.items()
        for line in text.splitlines()
        if "zizmor: ignore" in line
    ]
    assert ignores == [
        (
            "board.yml",
            "workflow_run:  # zizmor: ignore[dangerous-triggers] the run's data is never read; see above",
        )
    ]
    # ... and what makes that trigger safe is a policy rule over the real workflow, not the comment.
    assert RULES["workflow-run-trusts-nothing"](workflows, texts) == []


# --- dependabot --------------------------------------------------------------------------------------------


def test_dependabot_covers_actions_pip_and_terraform_grouped_with_cooldown() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert config["version"] == 2
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "pip", "terraform"}
    for ecosystem, update in updates.items():
        assert update["groups"], f"{ecosystem} is not grouped"
        assert update["cooldown"]["default-days"] >= 3, f"{ecosystem} has no cooldown"
