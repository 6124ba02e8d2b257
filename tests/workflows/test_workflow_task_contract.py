"""Every invoke command in the workflows names a task and options that exist in tasks.py.

actionlint cannot see inside `run:`; this test can: it reads each command from the YAML and checks it against
the real invoke namespace, so a renamed task or option fails here instead of on a runner.
"""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path
from typing import Any

from tools.ci_plan import command_lines, command_tool

ROOT = Path(__file__).parents[2]


def _namespace() -> Any:
    spec = importlib.util.spec_from_file_location("envpromote_tasks_namespace", ROOT / "tasks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ns


def _invoke_commands(workflows: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for name, workflow in workflows.items():
        for job in (workflow.get("jobs") or {}).values():
            for step in job.get("steps", []):
                for command in command_lines(str(step.get("run", ""))):
                    if command_tool(command) == "invoke":
                        words = shlex.split(command)
                        start = next(i for i, w in enumerate(words) if w in {"invoke", "inv"})
                        found.append((name, words[start + 1 :]))
    return found


def _mismatches(workflows: dict[str, Any]) -> dict[tuple[str, str | None], str]:
    ns = _namespace()
    names = set(ns.task_names)
    missing: dict[tuple[str, str | None], str] = {}
    for workflow, argv in _invoke_commands(workflows):
        task_name = argv[0]
        if task_name not in names:
            missing[(task_name, None)] = workflow
            continue
        flags = set()
        for argument in ns[task_name].get_arguments():
            for alias in argument.names:
                flags.add(f"--{alias}" if len(alias) > 1 else f"-{alias}")
                if argument.kind is bool and argument.default is True and len(alias) > 1:
                    flags.add(f"--no-{alias}")  # invoke's negation of a default-true flag
        for word in argv[1:]:
            if word.startswith("-") and word.split("=", 1)[0] not in flags:
                missing[(task_name, word.split("=", 1)[0])] = workflow
    return missing


def test_workflows_call_only_existing_tasks_and_options(workflows: dict[str, Any]) -> None:
    unknown = _mismatches(workflows)
    assert unknown == {}, f"workflows call tasks/options that do not exist: {unknown}"
