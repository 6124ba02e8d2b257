"""Policy rules for .github/workflows, as functions that return violations (empty list = compliant).

Each rule has an id; tests/workflows/fixtures/bad/<rule-id>*.yml holds a small workflow that breaks exactly
that rule, so a rule that stops catching its violation fails the tests.

Over the ~400-line guideline on purpose: it is one flat list of independent rules plus the RULES table,
and reading them side by side (each a docstring and a comprehension) is the point of the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tools.ci_plan import (
    command_lines,
    command_tool,
    environment_name,
    expand_jobs,
    local_workflow_target,
    triggers,
)

# Steps that may use an action instead of running invoke/nox (issue 6): nothing else.
ALLOWED_ACTIONS = frozenset(
    {
        "actions/checkout",
        "actions/setup-python",
        "astral-sh/setup-uv",
        "aws-actions/configure-aws-credentials",
        "hashicorp/setup-terraform",
        "actions/upload-artifact",
        "github/codeql-action/upload-sarif",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    }
)
OIDC_ACTION = "aws-actions/configure-aws-credentials"
PAGES_ACTION = "actions/deploy-pages"  # asks GitHub for an OIDC token too, to prove the deployment's origin
PAGES_ENVIRONMENT = "github-pages"
BUILD_ROLE_VAR = "ENVPROMOTE_BUILD_ROLE_ARN"
DEPLOY_ROLE_VAR = "ENVPROMOTE_DEPLOY_ROLE_ARN"
DEPLOY_TASKS = ("deploy", "promote", "rollback")
PROTECTED_ENVIRONMENTS = frozenset({"staging", "production"})

_SHA_PIN = re.compile(r"^(?P<action>[^@\s]+)@(?P<ref>[0-9a-f]{40})$")
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
_VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")
_GRANT_LINE = re.compile(r"^\s+(?P<scope>[a-z-]+):\s*(?P<level>read|write)\s*(?P<comment>#.*)?$")


@dataclass(frozen=True)
class Violation:
    rule: str
    workflow: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.workflow} {self.where}: {self.message}"


Workflows = Mapping[str, Mapping[str, Any]]
Texts = Mapping[str, str]


def check(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Every rule over every workflow."""
    found: list[Violation] = []
    for rule in RULES.values():
        found.extend(rule(workflows, texts))
    return found


# --- walking helpers ---------------------------------------------------------------------------------------


def _jobs(workflows: Workflows) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, workflow in workflows.items():
        for job_id, job in (workflow.get("jobs") or {}).items():
            if isinstance(job, dict):
                yield name, job_id, job


def _steps(workflows: Workflows) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    for name, job_id, job in _jobs(workflows):
        for index, step in enumerate(job.get("steps") or [], start=1):
            if isinstance(step, dict):
                yield name, job_id, index, step


def _action(uses: str) -> str:
    return uses.split("@", 1)[0]


def _is_entry(workflow: Mapping[str, Any]) -> bool:
    """A workflow that events start (not only called by others)."""
    return any(event != "workflow_call" for event in triggers(workflow))


def _job_text(job: Mapping[str, Any]) -> str:
    return repr(job)


def _tasks_run(job: Mapping[str, Any]) -> list[list[str]]:
    """The invoke task argv (after the launcher) of each command in the job."""
    found: list[list[str]] = []
    for step in job.get("steps") or []:
        if isinstance(step, dict) and "run" in step:
            for command in command_lines(str(step["run"])):
                if command_tool(command) == "invoke":
                    words = command.split()
                    start = next(i for i, w in enumerate(words) if w in {"invoke", "inv"})
                    found.append(words[start + 1 :])
    return found


def _uses_oidc(workflows: Workflows, job: Mapping[str, Any]) -> bool:
    """The job (or the reusable workflow it calls) asks GitHub for an OIDC token: an AWS role or Pages."""
    target = local_workflow_target(str(job.get("uses", "")))
    if target is not None and target in workflows:
        called_jobs = (workflows[target].get("jobs") or {}).values()
        return any(_uses_oidc(workflows, j) for j in called_jobs if isinstance(j, dict))
    return any(
        isinstance(step, dict) and _action(str(step.get("uses", ""))) in {OIDC_ACTION, PAGES_ACTION}
        for step in job.get("steps") or []
    )


def _deploys(workflows: Workflows, job: Mapping[str, Any]) -> bool:
    """The job (or the reusable workflow it calls) enters an environment or runs a deploying task."""
    target = local_workflow_target(str(job.get("uses", "")))
    if target is not None and target in workflows:
        called_jobs = (workflows[target].get("jobs") or {}).values()
        return any(_deploys(workflows, j) for j in called_jobs if isinstance(j, dict))
    return environment_name(job) is not None or any(
        argv and argv[0] in DEPLOY_TASKS for argv in _tasks_run(job)
    )


def _is_false(value: Any) -> bool:
    return value is False or str(value).strip().lower() == "false"


# --- rules -------------------------------------------------------------------------------------------------


def run_calls_invoke_or_nox(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Every command in a `run:` step is invoke or nox (optionally behind `uv run`/`uvx`)."""
    return [
        Violation("run-calls-invoke-or-nox", name, f"{job_id} step {index}", f"runs {command!r}")
        for name, job_id, index, step in _steps(workflows)
        if "run" in step
        for command in command_lines(str(step["run"])) or [""]
        if command_tool(command) is None
    ]


def no_expression_in_run(workflows: Workflows, texts: Texts) -> list[Violation]:
    """`${{ }}` never appears in `run:` (inputs reach invoke through `env:`)."""
    return [
        Violation("no-expression-in-run", name, f"{job_id} step {index}", "has ${{ }} in run:")
        for name, job_id, index, step in _steps(workflows)
        if "${{" in str(step.get("run", ""))
    ]


def actions_pinned_by_sha(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Every remote action/workflow is pinned by a full commit SHA with a `# vX.Y.Z` comment on its line."""
    found: list[Violation] = []
    for name, text in texts.items():
        for number, line in enumerate(text.splitlines(), start=1):
            match = _USES_LINE.match(line)
            if not match:
                continue
            ref = match.group("ref").strip("'\"")
            if local_workflow_target(ref) is not None or ref.startswith("./"):
                continue
            if not _SHA_PIN.match(ref):
                found.append(Violation("sha-pinned", name, f"line {number}", f"{ref} is not pinned by SHA"))
            elif not _VERSION_COMMENT.search(match.group("rest")):
                found.append(
                    Violation("sha-pinned", name, f"line {number}", f"{ref} lacks a # vX.Y.Z comment")
                )
    return found


def only_allowed_actions(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Steps use only checkout, setup-python/uv, OIDC, setup-terraform, artifact and SARIF upload."""
    return [
        Violation("allowed-actions", name, f"{job_id} step {index}", f"uses {step['uses']}")
        for name, job_id, index, step in _steps(workflows)
        if "uses" in step and _action(str(step["uses"])) not in ALLOWED_ACTIONS
    ]


def empty_top_permissions(workflows: Workflows, texts: Texts) -> list[Violation]:
    """`permissions: {}` at the top of every workflow."""
    return [
        Violation("top-permissions-empty", name, "top", f"permissions is {workflow.get('permissions')!r}")
        for name, workflow in workflows.items()
        if workflow.get("permissions") != {}
    ]


def explicit_job_permissions(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Every job states its permissions as a mapping, and every grant line says why in a comment."""
    found = [
        Violation("job-permissions", name, job_id, f"permissions is {job.get('permissions')!r}")
        for name, job_id, job in _jobs(workflows)
        if not isinstance(job.get("permissions"), dict)
    ]
    for name, text in texts.items():
        in_permissions = False
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("permissions:"):
                in_permissions = True
                continue
            if in_permissions:
                grant = _GRANT_LINE.match(line)
                if grant is None:
                    in_permissions = False
                elif not grant.group("comment"):
                    scope = f"{grant.group('scope')}: {grant.group('level')}"
                    found.append(Violation("job-permissions", name, f"line {number}", f"{scope} without why"))
    return found


def id_token_only_with_oidc(workflows: Workflows, texts: Texts) -> list[Violation]:
    """`id-token: write` only on jobs that assume an AWS role or deploy to Pages (never at the top)."""
    found = [
        Violation("id-token-only-with-oidc", name, "top", "grants id-token at workflow level")
        for name, workflow in workflows.items()
        if isinstance(workflow.get("permissions"), dict) and "id-token" in workflow["permissions"]
    ]
    found += [
        Violation("id-token-only-with-oidc", name, job_id, "grants id-token: write but assumes no role")
        for name, job_id, job in _jobs(workflows)
        if isinstance(job.get("permissions"), dict)
        and job["permissions"].get("id-token") == "write"
        and not _uses_oidc(workflows, job)
    ]
    found += [
        Violation("id-token-only-with-oidc", name, job_id, "assumes a role without id-token: write")
        for name, job_id, job in _jobs(workflows)
        if _uses_oidc(workflows, job)
        and not (isinstance(job.get("permissions"), dict) and job["permissions"].get("id-token") == "write")
    ]
    return found


def one_job_per_environment(workflows: Workflows, texts: Texts) -> list[Violation]:
    """In one run, each GitHub environment is entered by at most one job (one approval); a workflow named
    promote-<env> enters <env> exactly once."""
    found: list[Violation] = []
    for name, workflow in workflows.items():
        if not _is_entry(workflow):
            continue
        counts: dict[str, int] = {}
        for job in expand_jobs(workflows, name, {}):
            if job.environment:
                counts[job.environment] = counts.get(job.environment, 0) + 1
        for env, count in counts.items():
            if count > 1:
                found.append(Violation("one-job-per-environment", name, env, f"{count} jobs enter {env}"))
        promoted = re.fullmatch(r"promote-(?P<env>[a-z]+)\.ya?ml", name)
        if promoted and counts.get(promoted.group("env"), 0) != 1:
            env = promoted.group("env")
            found.append(
                Violation("one-job-per-environment", name, env, f"{counts.get(env, 0)} jobs enter {env}")
            )
    return found


def concurrency_groups(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Pull-request checks cancel per PR; deployments are serialised per environment and never cancelled."""
    found: list[Violation] = []
    for name, workflow in workflows.items():
        if not _is_entry(workflow):
            continue
        concurrency = workflow.get("concurrency")
        deploys = [job for job in expand_jobs(workflows, name, {}) if job.environment]
        if deploys:
            if not isinstance(concurrency, dict) or not _is_false(concurrency.get("cancel-in-progress")):
                found.append(
                    Violation(
                        "concurrency", name, "top", "a deploying workflow needs cancel-in-progress: false"
                    )
                )
        elif "pull_request" in triggers(workflow):
            group = str((concurrency or {}).get("group", "")) if isinstance(concurrency, dict) else ""
            cancel = (
                str((concurrency or {}).get("cancel-in-progress", ""))
                if isinstance(concurrency, dict)
                else ""
            )
            if "pull_request.number" not in group and "head_ref" not in group:
                found.append(Violation("concurrency", name, "top", "group is not per pull request"))
            if cancel.lower() != "true" and "pull_request" not in cancel:
                found.append(Violation("concurrency", name, "top", "does not cancel superseded PR runs"))
    for name, job_id, job in _jobs(workflows):
        env = environment_name(job)
        if env is None:
            continue
        concurrency = job.get("concurrency")
        group = str(concurrency.get("group", "")) if isinstance(concurrency, dict) else ""
        if not isinstance(concurrency, dict) or not _is_false(concurrency.get("cancel-in-progress")):
            found.append(Violation("concurrency", name, job_id, "deploy job needs cancel-in-progress: false"))
        elif env not in group:
            found.append(Violation("concurrency", name, job_id, f"group {group!r} is not per environment"))
    return found


def deploy_jobs_never_hold_build_role(workflows: Workflows, texts: Texts) -> list[Violation]:
    """A job that deploys never references the build role; the build job never references a deploy role."""
    found: list[Violation] = []
    for name, workflow in workflows.items():
        if BUILD_ROLE_VAR in repr(workflow.get("env", {})):
            found.append(
                Violation("deploy-never-build-role", name, "top", "build role in workflow-level env")
            )
    for name, job_id, job in _jobs(workflows):
        text = _job_text(job)
        deploys = _deploys(workflows, job)
        if deploys and BUILD_ROLE_VAR in text:
            found.append(
                Violation("deploy-never-build-role", name, job_id, "a deploy job references the build role")
            )
        if BUILD_ROLE_VAR in text and DEPLOY_ROLE_VAR in text:
            found.append(Violation("deploy-never-build-role", name, job_id, "one job references both roles"))
    return found


def checkout_without_credentials(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Every actions/checkout sets persist-credentials: false."""
    return [
        Violation("persist-credentials", name, f"{job_id} step {index}", "checkout keeps the token")
        for name, job_id, index, step in _steps(workflows)
        if _action(str(step.get("uses", ""))) == "actions/checkout"
        and not _is_false((step.get("with") or {}).get("persist-credentials"))
    ]


def no_secrets(workflows: Workflows, texts: Texts) -> list[Violation]:
    """No `secrets: inherit`, and no secrets context at all: configuration lives in `vars`."""
    found = [
        Violation("no-secrets", name, job_id, "secrets: inherit")
        for name, job_id, job in _jobs(workflows)
        if job.get("secrets") == "inherit"
    ]
    found += [
        Violation("no-secrets", name, f"line {number}", "reads the secrets context")
        for name, text in texts.items()
        for number, line in enumerate(text.splitlines(), start=1)
        if re.search(r"\$\{\{[^}]*\bsecrets\.", line)
    ]
    return found


def scan_before_push(workflows: Workflows, texts: Texts) -> list[Violation]:
    """A job that pushes an image scanned it first (failing on CRITICAL) and never pushes `latest`."""
    found: list[Violation] = []
    for name, job_id, job in _jobs(workflows):
        scanned = False
        for argv in _tasks_run(job):
            if argv[:1] == ["scan"]:
                joined = " ".join(argv)
                scanned = scanned or "--fail-on CRITICAL" in joined or "--fail-on=CRITICAL" in joined
            if argv[:1] == ["build"] and "--push" in argv and not scanned:
                found.append(Violation("scan-before-push", name, job_id, "pushes before a failing scan"))
        if re.search(r"\blatest\b", repr(job.get("env", {})) + repr(_tasks_run(job))):
            found.append(Violation("scan-before-push", name, job_id, "uses the mutable tag `latest`"))
    return found


def jobs_have_timeouts(workflows: Workflows, texts: Texts) -> list[Violation]:
    """Every job that runs on a runner bounds its time."""
    return [
        Violation("timeout", name, job_id, "no timeout-minutes")
        for name, job_id, job in _jobs(workflows)
        if "runs-on" in job and "timeout-minutes" not in job
    ]


def approval_only_in_protected_job(workflows: Workflows, texts: Texts) -> list[Violation]:
    """ENVPROMOTE_APPROVED_VIA is set only inside the job that runs in the GitHub environment."""
    found = [
        Violation("approval-in-protected-job", name, "top", "sets ENVPROMOTE_APPROVED_VIA for every job")
        for name, workflow in workflows.items()
        if "ENVPROMOTE_APPROVED_VIA" in repr(workflow.get("env", {}))
    ]
    found += [
        Violation(
            "approval-in-protected-job", name, job_id, "sets ENVPROMOTE_APPROVED_VIA outside an environment"
        )
        for name, job_id, job in _jobs(workflows)
        if "ENVPROMOTE_APPROVED_VIA" in _job_text(job) and environment_name(job) is None
    ]
    return found


def pages_deploy_isolated(workflows: Workflows, texts: Texts) -> list[Violation]:
    """`pages: write` only on a job in the github-pages environment whose only step is actions/deploy-pages
    (no checkout, no command: the job that can publish runs no code of ours), and deploy-pages only there."""
    found: list[Violation] = []
    for name, job_id, job in _jobs(workflows):
        grants = job.get("permissions")
        pages_write = isinstance(grants, dict) and grants.get("pages") == "write"
        steps = [step for step in job.get("steps") or [] if isinstance(step, dict)]
        deploys_pages = any(_action(str(step.get("uses", ""))) == PAGES_ACTION for step in steps)
        if not (pages_write or deploys_pages):
            continue
        if not pages_write:
            found.append(
                Violation("pages-deploy-isolated", name, job_id, "deploy-pages without pages: write")
            )
        if not deploys_pages:
            found.append(Violation("pages-deploy-isolated", name, job_id, "pages: write but no deploy-pages"))
        others = [step for step in steps if _action(str(step.get("uses", ""))) != PAGES_ACTION]
        if others:
            found.append(
                Violation("pages-deploy-isolated", name, job_id, f"{len(others)} step(s) beside deploy-pages")
            )
        if environment_name(job) != PAGES_ENVIRONMENT:
            found.append(
                Violation(
                    "pages-deploy-isolated", name, job_id, f"not in the {PAGES_ENVIRONMENT} environment"
                )
            )
    return found


def workflow_run_trusts_nothing(workflows: Workflows, texts: Texts) -> list[Violation]:
    """A workflow started by `workflow_run` (it runs with this repository's rights) takes nothing from the
    triggering run: no `github.event.workflow_run` data, no downloaded artifacts, no checkout of another ref or
    repository; and it listens only to runs on main."""
    found: list[Violation] = []
    for name, workflow in workflows.items():
        on = triggers(workflow)
        if "workflow_run" not in on:
            continue
        trigger = on["workflow_run"] if isinstance(on["workflow_run"], dict) else {}
        if trigger.get("branches") != ["main"]:
            found.append(
                Violation("workflow-run-trusts-nothing", name, "on", "workflow_run is not limited to main")
            )
        if re.search(r"github\.event\.workflow_run\b|\bevent\.workflow_run\.", texts.get(name, "")):
            found.append(
                Violation(
                    "workflow-run-trusts-nothing", name, "text", "reads the triggering run's event data"
                )
            )
        for _, job_id, index, step in _steps({name: workflow}):
            action = _action(str(step.get("uses", "")))
            if action == "actions/download-artifact":
                found.append(
                    Violation(
                        "workflow-run-trusts-nothing", name, f"{job_id} step {index}", "downloads artifacts"
                    )
                )
            if action == "actions/checkout" and {"ref", "repository"} & set(step.get("with") or {}):
                found.append(
                    Violation(
                        "workflow-run-trusts-nothing",
                        name,
                        f"{job_id} step {index}",
                        "checks out another ref or repository",
                    )
                )
    return found


RULES: dict[str, Callable[[Workflows, Texts], list[Violation]]] = {
    "run-calls-invoke-or-nox": run_calls_invoke_or_nox,
    "no-expression-in-run": no_expression_in_run,
    "sha-pinned": actions_pinned_by_sha,
    "allowed-actions": only_allowed_actions,
    "top-permissions-empty": empty_top_permissions,
    "job-permissions": explicit_job_permissions,
    "id-token-only-with-oidc": id_token_only_with_oidc,
    "one-job-per-environment": one_job_per_environment,
    "concurrency": concurrency_groups,
    "deploy-never-build-role": deploy_jobs_never_hold_build_role,
    "persist-credentials": checkout_without_credentials,
    "no-secrets": no_secrets,
    "scan-before-push": scan_before_push,
    "timeout": jobs_have_timeouts,
    "approval-in-protected-job": approval_only_in_protected_job,
    "pages-deploy-isolated": pages_deploy_isolated,
    "workflow-run-trusts-nothing": workflow_run_trusts_nothing,
}
