"""Read the GitHub Actions workflows and say, for one event, which jobs run and which commands they run.

The workflows only call ``invoke`` and ``nox``, so the pipeline can be read without GitHub: ``invoke ci.plan
--event workflow_dispatch`` lists each job (calls to this repository's reusable workflows expanded, with the
caller's inputs substituted) and its commands. Everything here is a pure function over parsed YAML except
``load_workflows``; the policy tests in ``tests/workflows/`` reuse the same helpers.

(Over 400 lines for a reason: one model of GitHub Actions' semantics (triggers, reusable-workflow expansion,
input substitution, job commands) that the plan and the policy tests must read the same way; repository
tooling, not shipped.)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from envpromote.errors import BadInput, PreflightFailed

WORKFLOWS_DIR = Path(".github") / "workflows"

# The commands a workflow step may run, and the launchers allowed in front of them.
TOOLS = frozenset({"invoke", "inv", "nox"})
_LAUNCHERS: dict[tuple[str, ...], frozenset[str]] = {
    # launcher words -> its options that take a value (their value is skipped too)
    ("uv", "run"): frozenset({"--with", "--group", "--extra", "--python", "-p", "--project", "--directory"}),
    ("uvx",): frozenset({"--from", "--with", "--python", "-p"}),
}

# GitHub's workflow trigger events (a typo in --event is bad input, an unused event is an empty plan).
KNOWN_EVENTS = frozenset(
    {
        "branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment",
        "deployment_status", "discussion", "discussion_comment", "fork", "gollum", "issue_comment", "issues",
        "label", "merge_group", "milestone", "page_build", "public", "pull_request", "pull_request_review",
        "pull_request_review_comment", "pull_request_target", "push", "registry_package", "release",
        "repository_dispatch", "schedule", "status", "watch", "workflow_call", "workflow_dispatch",
        "workflow_run",
    }
)  # fmt: skip

_INPUT_EXPR = re.compile(r"\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")
_INPUT_REF = re.compile(r"\binputs\.([A-Za-z_][A-Za-z0-9_-]*)\b")
_LOCAL_WORKFLOW = re.compile(r"^(?:\./|\$/)\.github/workflows/(?P<file>[^/@]+\.ya?ml)$")
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


# --- parsing ---------------------------------------------------------------------------------------------


def parse_workflow(text: str, name: str) -> dict[str, Any]:
    """Parse one workflow file. YAML 1.1 reads the ``on:`` key as boolean True; give it back its name."""
    try:
        import yaml  # needed by ci.plan only; installed with envpromote[sandbox] and the test group
    except ImportError:
        raise PreflightFailed(
            "reading workflows needs PyYAML, which is not installed.",
            fix="pip install pyyaml (or install envpromote[sandbox]).",
        ) from None

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput(
            f"{name} is not valid YAML: {' '.join(str(exc).split())}.",
            fix="fix the YAML (yamllint -c .github/yamllint.yml .github shows where).",
        ) from None
    if not isinstance(doc, dict):
        raise BadInput(f"{name} is not a workflow (a YAML mapping).", fix="give it `on:` and `jobs:` keys.")
    if True in doc and "on" not in doc:
        doc["on"] = doc.pop(True)
    return doc


def load_workflows(directory: Path) -> dict[str, dict[str, Any]]:
    """Every ``*.yml``/``*.yaml`` in ``directory``, parsed, keyed by file name."""
    if not directory.is_dir():
        raise BadInput(
            f"no workflows directory at {directory}.",
            fix="run from the repository root or pass --directory .github/workflows.",
        )
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    return {path.name: parse_workflow(path.read_text(encoding="utf-8"), path.name) for path in files}


def find_workflows_dir(start: Path) -> Path:
    """The nearest ``.github/workflows`` at or above ``start`` (invoke may run from a subdirectory)."""
    for candidate in (start, *start.parents):
        if (candidate / WORKFLOWS_DIR).is_dir():
            return candidate / WORKFLOWS_DIR
    return start / WORKFLOWS_DIR


def triggers(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's events as a mapping event -> its filter (``on: push`` and ``on: [a, b]`` included)."""
    on = workflow.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(event): None for event in on}
    if isinstance(on, dict):
        return {str(event): config for event, config in on.items()}
    return {}


def command_lines(run: str) -> list[str]:
    """The commands of a ``run:`` script: continuation lines joined, blank lines and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in run.splitlines():
        line = raw.strip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line and not line.startswith("#"):
            logical.append(line)
    if pending.strip():
        logical.append(pending.strip())
    return logical


def command_tool(command: str) -> str | None:
    """The program a command runs after an allowed launcher (``uv run``, ``uvx``), if it is invoke or nox.

    ``None`` for anything else, including shell syntax that chains a second program (``;``, ``&&``, ``|``).
    """
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or any(word in {";", "&&", "||", "|", "&"} for word in words):
        return None
    if re.search(r"[;&|`]|\$\(", command):
        return None
    for launcher, valued in _LAUNCHERS.items():
        if tuple(words[: len(launcher)]) == launcher:
            rest = words[len(launcher) :]
            index = 0
            while index < len(rest) and rest[index].startswith("-"):
                option = rest[index].split("=", 1)[0]
                index += 2 if option in valued and "=" not in rest[index] else 1
            words = rest[index:]
            break
    if not words:
        return None
    program = words[0]
    return "invoke" if program == "inv" else program if program in TOOLS else None


def local_workflow_target(uses: str) -> str | None:
    """``./.github/workflows/x.yml`` (or ``$/...``) -> ``x.yml``; ``None`` for actions and remote calls."""
    match = _LOCAL_WORKFLOW.match(uses.strip())
    return match.group("file") if match else None


def environment_name(job: Mapping[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        name = env.get("name")
        return None if name is None else str(name)
    return None if env is None else str(env)


# --- the plan --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedStep:
    """One step: a command (``run:``) or an action (``uses:``), with what every step states: its condition
    (None once decided), whether it is skipped, and its environment."""

    name: str
    condition: str | None
    skipped: bool
    env: dict[str, str]
    command: str | None = None
    uses: str | None = None

    @property
    def tool(self) -> str | None:
        """The tool the command runs (:func:`command_tool`); None for an action or any other command."""
        return command_tool(self.command) if self.command is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The fields (``condition`` under the workflow's own key, ``if``) and the tool the command runs."""
        step = asdict(self)
        step["if"] = step.pop("condition")
        return {**step, "tool": self.tool}


@dataclass(frozen=True)
class PlannedJob:
    """One job as it would run: ``path`` is the chain of workflow:job through reusable-workflow calls."""

    workflow: str
    path: tuple[str, ...]
    name: str
    environment: str | None
    needs: tuple[str, ...]
    condition: str | None
    steps: tuple[PlannedStep, ...]

    @property
    def commands(self) -> list[str]:
        return [step.command for step in self.steps if step.command and not step.skipped]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "path": list(self.path),
            "name": self.name,
            "environment": self.environment,
            "needs": list(self.needs),
            "if": self.condition,
            "commands": self.commands,
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass(frozen=True)
class Plan:
    event: str
    workflows: tuple[str, ...]
    jobs: tuple[PlannedJob, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "workflows": list(self.workflows),
            "jobs": [j.to_dict() for j in self.jobs],
        }


def plan(workflows: Mapping[str, Mapping[str, Any]], event: str, only: str = "") -> Plan:
    """The jobs and commands that ``event`` starts, optionally for one workflow (file name, stem or name)."""
    if event not in KNOWN_EVENTS:
        used = sorted({e for wf in workflows.values() for e in triggers(wf)})
        raise BadInput(
            f"--event {event!r} is not a GitHub Actions event.",
            fix=f"use one that the workflows listen to: {', '.join(used) or 'none found'}.",
        )
    selected = _select(workflows, only) if only else sorted(workflows)
    started = [name for name in selected if event in triggers(workflows[name])]
    jobs: list[PlannedJob] = []
    for name in started:
        jobs.extend(expand_jobs(workflows, name, _defaults(workflows[name], event)))
    return Plan(event=event, workflows=tuple(started), jobs=tuple(jobs))


def expand_jobs(
    workflows: Mapping[str, Mapping[str, Any]],
    name: str,
    inputs: Mapping[str, Any],
    path: tuple[str, ...] = (),
    needs_prefix: str = "",
) -> list[PlannedJob]:
    """Jobs of workflow ``name`` with ``inputs`` substituted; calls to local reusable workflows expanded."""
    workflow = workflows[name]
    jobs = workflow.get("jobs") or {}
    result: list[PlannedJob] = []
    for job_id, job in jobs.items():
        if not isinstance(job, dict):
            continue
        here = (*path, f"{name}:{job_id}")
        needs = job.get("needs") or []
        needs_list = [needs] if isinstance(needs, str) else list(needs)
        needs_ids = tuple(f"{needs_prefix}{need}" for need in needs_list)
        condition = _substitute_condition(job.get("if"), inputs)
        target = local_workflow_target(str(job.get("uses", "")))
        if target is not None:
            if target not in workflows:
                raise BadInput(
                    f"{name}: job {job_id} calls {job['uses']}, which does not exist.",
                    fix="fix the path or add the reusable workflow.",
                )
            called_inputs = _call_inputs(workflows[target], job.get("with") or {}, inputs)
            for called in expand_jobs(workflows, target, called_inputs, here, needs_prefix=f"{job_id}/"):
                result.append(
                    PlannedJob(
                        workflow=called.workflow,
                        path=called.path,
                        name=called.name,
                        environment=called.environment,
                        needs=needs_ids + called.needs,
                        condition=_join_conditions(condition, called.condition),
                        steps=called.steps,
                    )
                )
            continue
        env_name = environment_name(job)
        result.append(
            PlannedJob(
                workflow=name,
                path=here,
                name=_substitute(str(job.get("name", job_id)), inputs),
                environment=None if env_name is None else _substitute(env_name, inputs),
                needs=needs_ids,
                condition=condition,
                steps=tuple(_plan_steps(job, workflow, inputs)),
            )
        )
    return result


def render_text(result: Plan) -> str:
    """A readable plan: per workflow, each job with its environment and commands (skipped steps left out)."""
    if not result.workflows:
        return f"No workflow runs on {result.event}."
    lines = [f"event: {result.event}"]
    for workflow in result.workflows:
        lines.append("")
        lines.append(f"{workflow}")
        for job in (j for j in result.jobs if j.path[0].split(":", 1)[0] == workflow):
            chain = " -> ".join(job.path)
            extras = []
            if job.environment:
                extras.append(f"environment: {job.environment}")
            if job.needs:
                extras.append(f"needs: {', '.join(job.needs)}")
            if job.condition:
                extras.append(f"if: {job.condition}")
            lines.append(f"  {chain}" + (f"  [{'; '.join(extras)}]" if extras else ""))
            commands = [step for step in job.steps if step.command and not step.skipped]
            if not commands:
                lines.append("    (no invoke/nox commands)")
            for step in commands:
                suffix = f"  (if: {step.condition})" if step.condition else ""
                lines.append(f"    $ {step.command}{suffix}")
                used = _referenced_env(step)
                if used:
                    lines.append("        " + "  ".join(f"{k}={v}" for k, v in used.items()))
    return "\n".join(lines)


# --- helpers ---------------------------------------------------------------------------------------------


def _select(workflows: Mapping[str, Mapping[str, Any]], only: str) -> list[str]:
    for file_name, workflow in workflows.items():
        if only in {file_name, Path(file_name).stem, str(workflow.get("name", ""))}:
            return [file_name]
    raise BadInput(
        f"--workflow {only!r} matches no workflow.",
        fix=f"use one of: {', '.join(sorted(workflows)) or 'none found'}.",
    )


def _defaults(workflow: Mapping[str, Any], event: str) -> dict[str, Any]:
    """Inputs of a dispatched workflow stay symbolic (``${{ inputs.x }}``): their values come at run time."""
    config = triggers(workflow).get(event)
    declared = (config or {}).get("inputs") if isinstance(config, dict) else None
    return {key: f"${{{{ inputs.{key} }}}}" for key in (declared or {})}


def _call_inputs(
    called: Mapping[str, Any], given: Mapping[str, Any], caller_inputs: Mapping[str, Any]
) -> dict[str, Any]:
    declared = (triggers(called).get("workflow_call") or {}).get("inputs") or {}
    values: dict[str, Any] = {}
    for key, spec in declared.items():
        if key in given:
            value = given[key]
            values[key] = _substitute(value, caller_inputs) if isinstance(value, str) else value
        elif isinstance(spec, dict) and "default" in spec:
            values[key] = spec["default"]
    return values


def _substitute(text: str, inputs: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in inputs:
            return match.group(0)
        value = inputs[key]
        return str(value).lower() if isinstance(value, bool) else str(value)

    return _INPUT_EXPR.sub(replace, text)


def _substitute_condition(condition: Any, inputs: Mapping[str, Any]) -> str | None:
    if condition is None:
        return None
    text = str(condition).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2].strip()

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        value = inputs.get(key)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and "${{" not in value:
            return repr(value)
        return match.group(0)

    return _INPUT_REF.sub(replace, text)


def _decided(condition: str | None) -> bool | None:
    """True/False when the condition is a constant after substitution, else None (decided at run time)."""
    if condition is None:
        return True
    compact = condition.replace(" ", "")
    constants = {"true": True, "false": False, "!true": False, "!false": True}
    return constants.get(compact)


def _join_conditions(outer: str | None, inner: str | None) -> str | None:
    parts = [c for c in (outer, inner) if c]
    return " && ".join(f"({c})" if len(parts) > 1 else c for c in parts) or None


def _plan_steps(
    job: Mapping[str, Any], workflow: Mapping[str, Any], inputs: Mapping[str, Any]
) -> list[PlannedStep]:
    base_env = {**_str_map(workflow.get("env")), **_str_map(job.get("env"))}
    steps: list[PlannedStep] = []
    for index, step in enumerate(job.get("steps") or [], start=1):
        if not isinstance(step, dict):
            continue
        env = {k: _substitute(v, inputs) for k, v in {**base_env, **_str_map(step.get("env"))}.items()}
        condition = _substitute_condition(step.get("if"), inputs)
        decided = _decided(condition)
        common: dict[str, Any] = {
            "condition": None if decided is not None else condition,
            "skipped": decided is False,
            "env": env,
        }
        if "run" in step:
            for command in command_lines(str(step["run"])):
                steps.append(
                    PlannedStep(
                        name=str(step.get("name", f"step {index}")),
                        command=command,
                        **common,
                    )
                )
        elif "uses" in step:
            uses = str(step["uses"])
            steps.append(PlannedStep(name=str(step.get("name", uses)), uses=uses, **common))
    return steps


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


def _referenced_env(step: PlannedStep) -> dict[str, str]:
    """The step's environment variables its command reads (what the reader needs to see), in order."""
    if not step.command:
        return {}
    names = _SHELL_VAR.findall(step.command)
    used = {name: step.env[name] for name in names if name in step.env}
    # Variables the task reads by itself (ENVPROMOTE_*) matter even when the command does not name them.
    used.update({k: v for k, v in step.env.items() if k.startswith("ENVPROMOTE_") and k not in used})
    return used
