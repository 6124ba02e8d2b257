"""tools.ci_plan: command parsing, reusable-workflow expansion, the plan, and `invoke ci.plan` itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envpromote.errors import BadInput, PreflightFailed
from tools import ci_plan

ROOT = Path(__file__).parents[2]


# --- command parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "tool"),
    [
        ("invoke build --tag x", "invoke"),
        ("inv build", "invoke"),
        ("nox -s test", "nox"),
        ("uvx nox -s test lint typecheck", "nox"),
        ("uvx --from nox==2025.11.12 nox -s scan", "nox"),
        ("uv run invoke promote --env production --yes", "invoke"),
        ("uv run --group test --python 3.11 nox -s test", "nox"),
        ("uv run --frozen invoke deploy --env dev", "invoke"),
        ("pip install -r requirements.txt", None),
        ("python -m invoke build", None),
        ("uv pip install invoke", None),
        ("uvx ruff check .", None),
        ("invoke build && ./deploy.sh", None),
        ("nox -s test; curl http://example.invalid", None),
        ("invoke deploy --digest $(cat digest)", None),
        ("invoke deploy --digest `cat digest`", None),
        ("nox -s test | tee log", None),
        ("invoke 'unterminated", None),
        ("", None),
    ],
)
def test_command_tool(command: str, tool: str | None) -> None:
    assert ci_plan.command_tool(command) == tool


def test_command_lines_joins_continuations_and_drops_comments() -> None:
    script = "# set up\nuvx nox -s test \\\n  -- -k policy\n\n  invoke ci.plan --json\n"
    assert ci_plan.command_lines(script) == ["uvx nox -s test -- -k policy", "invoke ci.plan --json"]


def test_local_workflow_target() -> None:
    assert ci_plan.local_workflow_target("./.github/workflows/reusable-build.yml") == "reusable-build.yml"
    assert ci_plan.local_workflow_target("$/.github/workflows/reusable-build.yml") == "reusable-build.yml"
    assert ci_plan.local_workflow_target("octo/repo/.github/workflows/x.yml@main") is None
    assert ci_plan.local_workflow_target("actions/checkout@v5") is None


@pytest.mark.parametrize(
    ("on", "events"),
    [
        ("push", {"push"}),
        (["push", "pull_request"], {"push", "pull_request"}),
        ({"workflow_dispatch": None}, {"workflow_dispatch"}),
    ],
)
def test_triggers_accepts_every_yaml_form(on: Any, events: set[str]) -> None:
    assert set(ci_plan.triggers({"on": on})) == events


def test_parse_workflow_restores_the_on_key() -> None:
    doc = ci_plan.parse_workflow("on:\n  push:\njobs: {}\n", "x.yml")
    assert "on" in doc
    assert True not in doc


@pytest.mark.parametrize("text", ["on: [push\n", "- just\n- a list\n"])
def test_parse_workflow_refuses_non_workflows(text: str) -> None:
    with pytest.raises(BadInput, match=r"x\.yml"):
        ci_plan.parse_workflow(text, "x.yml")


# --- plans over synthetic workflows ------------------------------------------------------------------------

CALLER = """
name: caller
on:
  workflow_dispatch:
    inputs:
      digest: {type: string, default: ""}
jobs:
  go:
    if: github.ref == 'refs/heads/main'
    uses: ./.github/workflows/called.yml
    with:
      target: production
      digest: ${{ inputs.digest }}
      fast: false
"""

CALLED = """
name: called
on:
  workflow_call:
    inputs:
      target: {type: string, required: true}
      digest: {type: string, default: ""}
      fast: {type: boolean, default: true}
jobs:
  work:
    runs-on: ubuntu-24.04
    environment:
      name: ${{ inputs.target }}
    env:
      TARGET: ${{ inputs.target }}
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000
      - if: ${{ inputs.fast }}
        run: invoke quick --env "$TARGET"
      - if: ${{ !inputs.fast }}
        env:
          ENVPROMOTE_DIGEST: ${{ inputs.digest }}
        run: invoke careful --env "$TARGET"
      - if: github.event_name == 'workflow_dispatch'
        run: nox -s check
"""


def _synthetic() -> dict[str, dict[str, Any]]:
    return {
        "caller.yml": ci_plan.parse_workflow(CALLER, "caller.yml"),
        "called.yml": ci_plan.parse_workflow(CALLED, "called.yml"),
    }


def test_plan_expands_calls_substitutes_inputs_and_skips_false_steps() -> None:
    result = ci_plan.plan(_synthetic(), "workflow_dispatch")
    assert result.workflows == ("caller.yml",)
    (job,) = result.jobs
    assert job.path == ("caller.yml:go", "called.yml:work")
    assert job.environment == "production"
    assert job.condition == "github.ref == 'refs/heads/main'"
    assert job.commands == ['invoke careful --env "$TARGET"', "nox -s check"]
    skipped = [step.command for step in job.steps if step.skipped]
    assert skipped == ['invoke quick --env "$TARGET"']
    careful = next(step for step in job.steps if step.command == 'invoke careful --env "$TARGET"')
    assert careful.env == {"TARGET": "production", "ENVPROMOTE_DIGEST": "${{ inputs.digest }}"}
    runtime = next(step for step in job.steps if step.command == "nox -s check")
    assert runtime.condition == "github.event_name == 'workflow_dispatch'"


def test_render_text_shows_jobs_commands_and_the_env_they_read() -> None:
    text = ci_plan.render_text(ci_plan.plan(_synthetic(), "workflow_dispatch"))
    assert "caller.yml:go -> called.yml:work" in text
    assert "environment: production" in text
    assert '$ invoke careful --env "$TARGET"' in text
    assert "TARGET=production" in text
    assert "ENVPROMOTE_DIGEST=${{ inputs.digest }}" in text
    assert "invoke quick" not in text


def test_an_event_no_workflow_uses_gives_an_empty_plan() -> None:
    result = ci_plan.plan(_synthetic(), "release")
    assert result.jobs == ()
    assert ci_plan.render_text(result) == "No workflow runs on release."


def test_unknown_event_is_bad_input_naming_the_events_in_use() -> None:
    with pytest.raises(BadInput) as info:
        ci_plan.plan(_synthetic(), "pushh")
    assert re.search(r"'pushh'.*Fix: .*workflow_call, workflow_dispatch", info.value.one_line())


def test_unknown_workflow_is_bad_input_naming_the_files() -> None:
    with pytest.raises(BadInput) as info:
        ci_plan.plan(_synthetic(), "workflow_dispatch", only="nope")
    assert re.search(r"'nope'.*Fix: .*called\.yml, caller\.yml", info.value.one_line())


def test_a_call_to_a_missing_reusable_workflow_is_bad_input() -> None:
    workflows = {"caller.yml": ci_plan.parse_workflow(CALLER, "caller.yml")}
    with pytest.raises(BadInput, match=r"does not exist"):
        ci_plan.plan(workflows, "workflow_dispatch")


def test_missing_directory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"no workflows directory"):
        ci_plan.load_workflows(tmp_path / "nowhere")


# --- plans over the real workflows -------------------------------------------------------------------------


def test_real_dispatch_plan_promotes_each_environment_in_one_job(workflows: dict[str, Any]) -> None:
    result = ci_plan.plan(workflows, "workflow_dispatch")
    assert set(result.workflows) == {"promote-staging.yml", "promote-production.yml", "board.yml"}
    promotions = [job for job in result.jobs if job.workflow == "reusable-deploy-ecs.yml"]
    by_env = {job.environment: job for job in promotions}
    assert len(by_env) == len(promotions)
    assert set(by_env) == {"staging", "production"}
    for env, job in by_env.items():
        assert job.commands == ['uv run invoke promote --env "$ENVPROMOTE_ENVIRONMENT" --yes']
        step = next(s for s in job.steps if s.command and not s.skipped)
        assert step.env["ENVPROMOTE_ENVIRONMENT"] == env
        assert step.env["ENVPROMOTE_APPROVED_VIA"] == "github-environment"


@pytest.mark.parametrize("event", ["workflow_run", "schedule", "workflow_dispatch"])
def test_real_board_plan_renders_then_publishes(workflows: dict[str, Any], event: str) -> None:
    result = ci_plan.plan(workflows, event, only="board")
    assert result.workflows == ("board.yml",)
    render, publish = result.jobs
    assert (render.environment, publish.environment) == ("board", "github-pages")
    assert render.commands == ["uv run invoke board --out site"]
    assert publish.needs == ("render",)
    assert publish.commands == []
    assert [step.uses for step in publish.steps] == [
        "actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128"
    ]


def test_real_workflow_run_plan_is_only_the_board(workflows: dict[str, Any]) -> None:
    result = ci_plan.plan(workflows, "workflow_run")
    assert result.workflows == ("board.yml",)
    assert not any(job.environment in {"dev", "staging", "production"} for job in result.jobs)


def test_real_pull_request_plan_deploys_nothing(workflows: dict[str, Any]) -> None:
    result = ci_plan.plan(workflows, "pull_request")
    assert result.workflows == ("ci.yml",)
    assert all(job.environment is None for job in result.jobs)
    assert not any("--push" in command for job in result.jobs for command in job.commands)


# --- the task, as a user runs it ---------------------------------------------------------------------------


def _invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "ci.plan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_task_prints_json_plan() -> None:
    done = _invoke("--event", "push", "--workflow", "dev", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["workflows"] == ["dev.yml"]
    assert [job["environment"] for job in plan["jobs"]] == [None, "dev"]


def test_task_plans_the_board_after_a_pipeline_run() -> None:
    done = _invoke("--event", "workflow_run")
    assert done.returncode == 0, done.stderr
    assert "board.yml:render" in done.stdout
    assert "$ uv run invoke board --out site" in done.stdout
    assert "environment: github-pages" in done.stdout


def test_task_bad_event_exits_2_with_one_line() -> None:
    done = _invoke("--event", "pushh")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("envpromote: error: --event 'pushh'")
    assert "Fix:" in lines[0]


def test_missing_pyyaml_is_a_preflight_failure_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` raise ImportError
    with pytest.raises(PreflightFailed) as info:
        ci_plan.parse_workflow("on: push\n", "x.yml")
    assert info.value.exit_code == 4
    assert "pip install pyyaml" in info.value.one_line()
