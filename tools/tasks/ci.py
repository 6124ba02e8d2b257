"""Tasks: ``ci.plan``, the local dry run of the GitHub Actions workflows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import Task, task

from envpromote.tasks._common import handle_errors, print_json
from tools import ci_plan


@task(
    help={
        "event": "GitHub event: push, pull_request, workflow_dispatch, ... (default: push).",
        "workflow": "Only this workflow (file name, stem or `name:`), e.g. promote-production.",
        "json": "Print the plan as JSON (every step, with its condition and environment).",
        "directory": "Workflows directory (default: the nearest .github/workflows).",
    }
)
@handle_errors
def plan(
    c: Context, event: str = "push", workflow: str = "", json: bool = False, directory: str = ""
) -> None:
    """List the jobs a GitHub event starts and the invoke/nox commands each would run, read from the YAML.

    Calls to this repository's reusable workflows are expanded with the caller's inputs; steps whose
    condition is false for those inputs are left out (kept, marked skipped, in --json).
    """
    workflows_dir = Path(directory) if directory else ci_plan.find_workflows_dir(Path.cwd())
    result = ci_plan.plan(ci_plan.load_workflows(workflows_dir), event, only=workflow)
    if json:
        print_json(result.to_dict())
    else:
        print(ci_plan.render_text(result))


ROOT_TASKS: list[Task[Any]] = []
COLLECTIONS: dict[str, Collection] = {"ci": Collection("ci", plan)}
