"""The use cases: deploy, promote, rollback, verify, diff, drift, history. Orchestration only.

Every use case first does everything that can refuse (input, gate, preflight, render, approval) with read-only
calls; only then does it take the environment's lock and make the first mutating call (RegisterTaskDefinition).
Whatever the rollout's outcome - including Ctrl-C or SIGTERM during the watch - a release record is written to
the ledger, to a local JSON file and to the GitHub step summary.
"""

from __future__ import annotations

import datetime as dt
import difflib
import getpass
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions

from envpromote import gha
from envpromote.aws import ApiCallCounter, ClientFactory
from envpromote.config import Config, Environment
from envpromote.errors import (
    BadInput,
    DeploymentFailed,
    EnvPromoteError,
    GateRefused,
    LedgerError,
    PreflightFailed,
    RollbackFailed,
    RolloutTimedOut,
)
from envpromote.gate import refuse_unscanned_override, require_upstream, scan_gate, short, upstream_success
from envpromote.image import ImageRef, parse_digest
from envpromote.ledger import Ledger, LocalRecords, Record, new_record, sync_pending, utc_now
from envpromote.lock import EnvironmentLock
from envpromote.registry import add_tag, describe_image, promotion_tag, registry_and_repository
from envpromote.render import container_image, render_task_definition, require_image, template_values
from envpromote.rollout import (
    EventWatcher,
    Outcome,
    PollPolicy,
    RolloutWatcher,
    WatchTarget,
    find_deployment_for,
    progress_printer,
)
from envpromote.scan import ScanSummary

DEFAULT_TIMEOUT_S = 900.0


class Aborted(KeyboardInterrupt):
    """Raised inside a rollout when the process gets SIGTERM (SIGINT already raises KeyboardInterrupt)."""


@dataclass(frozen=True)
class Identity:
    """Who and what is running this release (from GitHub Actions variables where present)."""

    actor: str
    run_id: str | None = None
    run_attempt: str | None = None
    workflow_ref: str | None = None
    commit: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Identity:
        env = os.environ if environ is None else environ
        try:
            local_user = getpass.getuser()
        except (KeyError, OSError):
            local_user = "unknown"
        return cls(
            actor=env.get("GITHUB_ACTOR") or local_user,
            run_id=env.get("GITHUB_RUN_ID"),
            run_attempt=env.get("GITHUB_RUN_ATTEMPT"),
            workflow_ref=env.get("GITHUB_WORKFLOW_REF"),
            commit=env.get("GITHUB_SHA"),
        )


@dataclass
class Approval:
    """How approval is given: by the GitHub environment, by --yes --approver, or by an interactive prompt."""

    approver: str | None = None
    assume_yes: bool = False
    github_environment: bool = False
    prompt: Callable[[str], str | None] | None = None  # shows the evidence, returns the approver or None


@dataclass
class Context:
    config: Config
    identity: Identity
    out: Callable[[str], None] = print
    counter: ApiCallCounter = field(default_factory=ApiCallCounter)
    poll_policy: PollPolicy = field(default_factory=PollPolicy)
    records_dir: Path | None = None
    watch_mode: str = "auto"  # auto (events when the environment has a queue) | events | poll
    _factories: dict[tuple[str, str | None], ClientFactory] = field(default_factory=dict)

    def clients(self, region: str, role_arn: str | None = None) -> ClientFactory:
        key = (region, role_arn)
        if key not in self._factories:
            self._factories[key] = ClientFactory(region, role_arn=role_arn, counter=self.counter)
        return self._factories[key]

    def env_client(self, env: Environment, service: str) -> Any:
        return self.clients(env.region, env.role_arn).client(service)

    def ledger(self) -> Ledger:
        return Ledger(self.clients(self.config.ledger.region).client("s3"), self.config.ledger)

    def local_records(self) -> LocalRecords:
        return LocalRecords(self.records_dir or self.config.ledger.local_dir)

    def lock(self) -> EnvironmentLock:
        return EnvironmentLock(self.clients(self.config.lock.region).client("dynamodb"), self.config.lock)

    def ecr(self) -> Any:
        return self.clients(self.config.registry.region).client("ecr")


@dataclass
class Plan:
    """Everything decided before the first mutating call."""

    env: Environment
    kind: str
    image: ImageRef
    source_environment: str | None
    taskdef: dict[str, Any]
    running_taskdef: dict[str, Any] | None
    running_taskdef_arn: str | None
    previous_digest: str | None
    diff: list[str]
    evidence: list[str]
    source_commit: str | None
    approver: str | None = None
    scan: Mapping[str, Any] | None = None
    allow_unscanned: bool = False
    # Deployments listed before ours: a stale read right after UpdateService must not pass for a rollback.
    running_deployment_ids: tuple[str, ...] = ()


@dataclass
class ReleaseResult:
    plan: Plan
    dry_run: bool
    record: Record | None = None
    record_path: Path | None = None
    outcome: Outcome | None = None
    ledger_warning: str | None = None
    api_calls: dict[str, int] = field(default_factory=dict)


# ---- helpers --------------------------------------------------------------------------------------


def _require_digest(digest: str | None) -> str:
    if digest is None or digest == "":
        raise BadInput("No --digest given.", fix="Pass --digest sha256:<64 hex> (printed by 'invoke build').")
    return parse_digest(digest)


def _image_for(ctx: Context, digest: str) -> ImageRef:
    registry, repository = registry_and_repository(ctx.ecr(), ctx.config.registry.repository)
    return ImageRef(registry, repository, digest)


def _digest_of_image(image: str | None) -> str | None:
    if image and "@sha256:" in image:
        return image.rsplit("@", 1)[1]
    return None


def describe_service(ctx: Context, env: Environment) -> dict[str, Any]:
    ecs = ctx.env_client(env, "ecs")
    try:
        response = ecs.describe_services(cluster=env.cluster, services=[env.service])
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise PreflightFailed(
            f"Cannot describe service {env.service} in cluster {env.cluster} ({env.region}): "
            f"{error.get('Code')}: {error.get('Message', '')}.",
            fix="Check cluster, service and region in envpromote.toml, and the role's ECS permissions.",
        ) from None
    services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        failures = response.get("failures", [])
        reason = failures[0].get("reason", "MISSING") if failures else "INACTIVE"
        raise PreflightFailed(
            f"Service {env.service} in cluster {env.cluster} ({env.region}) is {reason}.",
            fix=f"Apply the {env.name} infrastructure ('invoke infra.apply --env {env.name}') "
            "or correct cluster/service/region in envpromote.toml.",
        )
    service: dict[str, Any] = services[0]
    return service


def running_task_definition(
    ctx: Context, env: Environment, service: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    arn = str(service["taskDefinition"])
    ecs = ctx.env_client(env, "ecs")
    described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    document: dict[str, Any] = dict(described["taskDefinition"])
    if described.get("tags"):
        document["tags"] = described["tags"]
    return arn, document


def project_like(running: Any, rendered: Any) -> Any:
    """Keep only the parts of `running` that `rendered` specifies, so ECS's added defaults are not diffs."""
    if isinstance(rendered, dict) and isinstance(running, dict):
        return {key: project_like(running[key], value) for key, value in rendered.items() if key in running}
    if isinstance(rendered, list) and isinstance(running, list):
        return [
            project_like(item, rendered[i]) if i < len(rendered) else item for i, item in enumerate(running)
        ]
    return running


def taskdef_diff(running: Mapping[str, Any] | None, rendered: Mapping[str, Any], env_name: str) -> list[str]:
    """Unified diff (running -> rendered) of the fields we manage; empty when they match."""
    before = json.dumps(
        project_like(dict(running), dict(rendered)) if running else {}, indent=2, sort_keys=True
    )
    after = json.dumps(dict(rendered), indent=2, sort_keys=True)
    return list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            f"{env_name} (running)",
            f"{env_name} (rendered)",
            lineterm="",
        )
    )


def _source_commit(ctx: Context, build: Mapping[str, Any] | None) -> str | None:
    if build and build.get("source_commit"):
        return str(build["source_commit"])
    return ctx.identity.commit


def _check_roles(ctx: Context, env: Environment) -> list[str]:
    """Existence of the execution and task roles; AccessDenied is reported as 'not checked', not as a failure."""
    iam = ctx.clients(env.region, env.role_arn).client("iam")
    notes = []
    for arn in (env.execution_role_arn, env.task_role_arn):
        name = arn.rsplit("/", 1)[-1]
        try:
            iam.get_role(RoleName=name)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchEntity":
                raise PreflightFailed(
                    f"IAM role {arn} used by {env.name}'s task definition does not exist.",
                    fix=f"Apply the {env.name} infrastructure or correct the role ARN in envpromote.toml.",
                ) from None
            if code in {"AccessDenied", "AccessDeniedException"}:
                notes.append(f"role {name}: not checked (no iam:GetRole permission)")
                continue
            raise
        notes.append(f"role {name}: exists")
    return notes


def _require_image_in_ecr(ctx: Context, digest: str, *, fix: str) -> None:
    if describe_image(ctx.ecr(), ctx.config.registry.repository, digest) is None:
        raise PreflightFailed(
            f"Image {short(digest)} is not in ECR repository {ctx.config.registry.repository}.", fix=fix
        )


def busy_deployment(service: Mapping[str, Any]) -> dict[str, Any] | None:
    """A deployment besides the settled PRIMARY one (ECS lists exactly one PRIMARY), if a rollout is under way."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") != "PRIMARY" or deployment.get("rolloutState") == "IN_PROGRESS":
            return dict(deployment)
    return None


def preflight(ctx: Context, env: Environment, image: ImageRef) -> tuple[dict[str, Any], list[str]]:
    """Read-only readiness checks. Returns the service description and evidence lines."""
    lines: list[str] = []
    _require_image_in_ecr(
        ctx,
        image.digest,
        fix="Build and push it with 'invoke build', or check the digest (tags are never resolved).",
    )
    lines.append(f"image {image.uri}: present in ECR")
    ctx.lock().ensure_free(env.name)
    service = describe_service(ctx, env)
    lines.append(f"service {env.cluster}/{env.service}: ACTIVE")
    lines += _check_roles(ctx, env)
    current = busy_deployment(service)
    if current is not None:
        raise PreflightFailed(
            f"A deployment is in progress on {env.service}: {current.get('id')} {current.get('rolloutState')}.",
            fix="Wait for it to finish ('invoke drift' shows the running digest) and try again.",
        )
    lines.append("no deployment in progress")
    return service, lines


def _plan(
    ctx: Context,
    env: Environment,
    *,
    kind: str,
    digest: str,
    source_environment: str | None,
    evidence: list[str],
    build: Mapping[str, Any] | None,
) -> Plan:
    image = _image_for(ctx, digest)
    service, lines = preflight(ctx, env, image)
    running_arn, running = running_task_definition(ctx, env, service)
    source_commit = _source_commit(ctx, build)
    values = template_values(ctx.config, env, image, source_commit=source_commit or "unknown")
    rendered = render_task_definition(ctx.config.template, values)
    require_image(rendered, env.container, image.uri, ctx.config.template.name)
    return Plan(
        env=env,
        kind=kind,
        image=image,
        source_environment=source_environment,
        taskdef=rendered,
        running_taskdef=running,
        running_taskdef_arn=running_arn,
        previous_digest=_digest_of_image(container_image(running, env.container)),
        diff=taskdef_diff(running, rendered, env.name),
        evidence=evidence + lines,
        source_commit=source_commit,
        running_deployment_ids=tuple(str(d.get("id")) for d in service.get("deployments", [])),
    )


def _approve(plan: Plan, approval: Approval) -> str | None:
    """Rule 5: approval where the environment requires it. Returns the recorded approver."""
    env = plan.env
    if not env.approval_required:
        return approval.approver
    if approval.github_environment:
        return approval.approver or f"github-environment:{env.name}"
    if approval.assume_yes:
        if not approval.approver:
            raise GateRefused(
                f"{env.name} requires approval and --yes was given without --approver.",
                fix="Add --approver NAME (recorded in the release record).",
            )
        return approval.approver
    if approval.prompt is not None:
        approver = approval.prompt(approval_text(plan))
        if approver:
            return approver
        raise GateRefused(
            f"Promotion to {env.name} was not approved.", fix="Approve at the prompt, or don't."
        )
    raise GateRefused(
        f"{env.name} requires approval.",
        fix="Run in its protected GitHub environment, answer the prompt in a terminal, or pass --yes --approver NAME.",
    )


def _approve_unless_dry_run(plan: Plan, approval: Approval, dry_run: bool) -> None:
    if dry_run and plan.env.approval_required:
        plan.evidence.append(f"approval: required for {plan.env.name}; not asked in a dry run")
        return
    plan.approver = _approve(plan, approval)


def approval_text(plan: Plan) -> str:
    lines = [
        f"Promote {plan.image.uri}",
        f"  to {plan.env.name} ({plan.env.cluster}/{plan.env.service}) from {plan.source_environment}",
        f"  replacing {plan.previous_digest or 'unknown'}",
        "Evidence:",
        *(f"  - {line}" for line in plan.evidence),
        "Task-definition diff:" if plan.diff else "Task definition: no change besides the image.",
        *plan.diff,
    ]
    return "\n".join(lines)


# ---- planning use cases ---------------------------------------------------------------------------


def _ledger_ready(ctx: Context, *env_names: str) -> Ledger:
    """Kept records are re-sent before any gate reads the ledger; if they cannot be, nothing is planned."""
    ledger = ctx.ledger()
    local = ctx.local_records()
    _resend_pending(ctx, ledger, local)
    stuck = sorted(
        {str(d.get("environment")) for _, d in local.pending() if d.get("environment") in env_names}
    )
    if stuck:
        raise PreflightFailed(
            f"Release records for {', '.join(stuck)} are kept locally but not yet in the ledger.",
            fix="Run 'invoke ledger.sync' once the ledger is reachable; gates must see every record.",
        )
    return ledger


def plan_deploy(ctx: Context, env_name: str, digest: str | None) -> Plan:
    env = ctx.config.env(env_name)
    checked = _require_digest(digest)
    if env.upstream is not None:
        raise BadInput(
            f"{env.name} has upstream {env.upstream}; only the entry environment takes direct deploys.",
            fix=f"Use 'invoke promote --env {env.name}' (it checks {env.upstream}'s record first).",
        )
    ledger = _ledger_ready(ctx, env.name)
    build = ledger.latest_build(checked)
    scan, unscanned, scan_lines = scan_gate(env, checked, build, allow_unscanned=False)
    plan = _plan(
        ctx, env, kind="deploy", digest=checked, source_environment=None, evidence=scan_lines, build=build
    )
    plan.scan, plan.allow_unscanned = scan, unscanned
    return plan


def plan_promote(
    ctx: Context,
    env_name: str,
    digest: str | None,
    *,
    approval: Approval,
    allow_unscanned: bool = False,
    dry_run: bool = False,
) -> Plan:
    env = ctx.config.env(env_name)
    upstream = require_upstream(env)
    refuse_unscanned_override(env, allow_unscanned)  # before any AWS call, not only at the scan gate
    ledger = _ledger_ready(ctx, *ctx.config.chain)
    if digest:
        checked = parse_digest(digest)
    else:
        last = ledger.last_success(upstream)
        if last is None:
            raise GateRefused(
                f"{upstream} has no successful release to promote.",
                fix=f"Deploy to {upstream} first, or pass --digest.",
            )
        checked = str(last["digest"])
    histories = {name: ledger.history(name) for name in ctx.config.chain}
    gate = upstream_success(ctx.config, env, checked, histories, utc_now())
    build = ledger.latest_build(checked)
    scan, unscanned, scan_lines = scan_gate(env, checked, build, allow_unscanned=allow_unscanned)
    plan = _plan(
        ctx,
        env,
        kind="promote",
        digest=checked,
        source_environment=upstream,
        evidence=[*gate.lines, *scan_lines],
        build=build,
    )
    plan.scan, plan.allow_unscanned = scan, unscanned
    _approve_unless_dry_run(plan, approval, dry_run)
    return plan


def rollback_target(history: list[Record], current_digest: str | None) -> Record | None:
    """The newest success whose digest differs from what runs now and was never rolled away from since.

    Not 'revision N-1': a second rollback must go further back, not forward to the release just abandoned.
    """
    abandoned = {
        r.get("previous_digest") for r in history if r["kind"] == "rollback" and r["status"] == "success"
    }
    for record in reversed(history):
        digest = record["digest"]
        if record["status"] == "success" and digest != current_digest and digest not in abandoned:
            return record
    return None


def plan_rollback(
    ctx: Context, env_name: str, to: str | None, *, approval: Approval, dry_run: bool = False
) -> Plan:
    env = ctx.config.env(env_name)
    ledger = _ledger_ready(ctx, env.name)
    history = ledger.history(env.name)
    service = describe_service(ctx, env)
    _, running = running_task_definition(ctx, env, service)
    current = _digest_of_image(container_image(running, env.container))
    if to:
        target_digest = parse_digest(to)
        if not any(r["digest"] == target_digest and r["status"] == "success" for r in history):
            raise GateRefused(
                f"Digest {short(target_digest)} never succeeded in {env.name}; rollback only returns to known-good.",
                fix=f"Pick a digest from 'invoke history --env {env.name}'.",
            )
        if target_digest == current:
            raise BadInput(f"{env.name} already runs {short(target_digest)}.", fix="Nothing to roll back to.")
    else:
        target = rollback_target(history, current)
        if target is None:
            raise GateRefused(
                f"The {env.name} ledger has no earlier successful release to roll back to.",
                fix=f"Check 'invoke history --env {env.name}', or deploy a known-good digest.",
            )
        target_digest = str(target["digest"])
    build = ledger.latest_build(target_digest)
    plan = _plan(
        ctx,
        env,
        kind="rollback",
        digest=target_digest,
        source_environment=None,
        evidence=[
            f"rollback target: last known-good {short(target_digest)} (now running {short(current or '')})"
        ],
        build=build,
    )
    _approve_unless_dry_run(plan, approval, dry_run)
    return plan


# ---- execution ------------------------------------------------------------------------------------


@dataclass
class _Rollout:
    """What happened so far; the record is written from this whatever way the rollout ends."""

    status: str = "aborted"
    reasons: list[str] = field(default_factory=list)
    outcome: Outcome | None = None
    new_arn: str | None = None
    deployment_id: str | None = None


def execute(
    ctx: Context,
    plan: Plan,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    rollback_on_timeout: bool = False,
) -> ReleaseResult:
    """Lock, register, update, watch, record, unlock. Raises the outcome's error after recording it."""
    env = plan.env
    ledger = ctx.ledger()
    local = ctx.local_records()
    _resend_pending(ctx, ledger, local)
    local.ensure_writable()  # the record must have somewhere to go before anything changes
    lock = ctx.lock()
    holder = f"{ctx.identity.actor} ({plan.kind} {short(plan.image.digest)}, pid {os.getpid()}"
    holder += f", run {ctx.identity.run_id})" if ctx.identity.run_id else ")"
    lease = lock.acquire(env.name, holder)
    started = utc_now()
    run = _Rollout()
    try:
        _roll_out(ctx, plan, run, started, timeout=timeout, rollback_on_timeout=rollback_on_timeout)
    except KeyboardInterrupt:
        if run.outcome is None:
            run.status = "aborted"
            run.reasons = [
                "interrupted during the rollout; ECS may still be rolling out - run 'invoke drift'"
            ]
        else:
            run.reasons.append("interrupted after ECS had decided; the outcome above stands")
        raise
    except EnvPromoteError as exc:
        if run.outcome is None:
            run.status = "aborted"
            run.reasons = [exc.one_line()]
        raise
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        text = f"{error.get('Code')}: {error.get('Message', '')}"
        if run.outcome is None:
            run.status = "aborted"
            run.reasons = [f"AWS refused {text}"]
            raise PreflightFailed(
                f"AWS refused the release: {text}.",
                fix="Check the role's permissions for RegisterTaskDefinition/UpdateService and iam:PassRole.",
            ) from None
        run.reasons.append(f"after the outcome, AWS refused {text}")
    except botocore.exceptions.BotoCoreError as exc:
        if run.outcome is not None:
            run.reasons.append(f"after the outcome, AWS could not be reached ({exc})")
        elif run.new_arn is None:
            run.status = "aborted"
            run.reasons = [f"AWS could not be reached before anything changed ({exc})"]
            raise PreflightFailed(
                f"AWS could not be reached: {exc}.", fix="Check the network and AWS_ENDPOINT_URL; try again."
            ) from None
        else:
            run.status = "timed_out"
            run.reasons = [f"outcome unknown: lost contact with AWS after registering {run.new_arn} ({exc})"]
            raise RolloutTimedOut(
                f"{plan.kind} of {short(plan.image.digest)} to {env.name}: outcome unknown: AWS could not be "
                f"reached after the update ({exc}).",
                fix=f"Run 'invoke drift --env {env.name}' once AWS answers; ECS may still be rolling out.",
            ) from None
    finally:
        with _signals_deferred():
            try:
                result = _record(ctx, ledger, local, plan, run, started)
            finally:
                if not lock.release(lease):
                    warning = f"the {env.name} lock had passed to someone else before it was released"
                    ctx.out(f"WARNING: {warning}")
                    gha.annotate("warning", warning)
    _raise_for_outcome(plan, run)
    return result


def _roll_out(
    ctx: Context,
    plan: Plan,
    run: _Rollout,
    started: dt.datetime,
    *,
    timeout: float,
    rollback_on_timeout: bool,
) -> None:
    env = plan.env
    ecs = ctx.env_client(env, "ecs")
    _recheck_under_lock(ctx, plan)
    registered = ecs.register_task_definition(**plan.taskdef)["taskDefinition"]
    run.new_arn = str(registered["taskDefinitionArn"])
    ctx.out(f"registered {run.new_arn}")
    updated = ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=run.new_arn)[
        "service"
    ]
    show = progress_printer(ctx.out)
    watcher = RolloutWatcher(ecs, env.cluster, env.service, policy=ctx.poll_policy, on_progress=show)
    deployment_id = find_deployment_for(updated, run.new_arn) or find_deployment_for(
        watcher.describe(), run.new_arn
    )
    if deployment_id is None:
        run.status = "timed_out"
        run.reasons = [f"ECS listed no deployment for {run.new_arn} after UpdateService; outcome unknown"]
        raise RolloutTimedOut(
            f"ECS listed no deployment for {run.new_arn}; the outcome cannot be followed.",
            fix=f"Check the service in ECS; 'invoke drift --env {env.name}' shows what runs.",
        )
    run.deployment_id = deployment_id
    use_events = ctx.watch_mode != "poll" and env.events_queue is not None
    how = f"ECS events from {env.events_queue} + safety poll" if use_events else "adaptive polling"
    ctx.out(f"watching deployment {deployment_id} via {how} (timeout {timeout:.0f}s)")
    target = WatchTarget(
        deployment_id, run.new_arn, plan.running_taskdef_arn, started, frozenset(plan.running_deployment_ids)
    )
    try:
        if use_events:
            assert env.events_queue is not None
            events = EventWatcher(watcher, ctx.env_client(env, "sqs"), env.events_queue)
            outcome = events.watch(target, timeout=timeout)
        else:
            outcome = watcher.watch(target, timeout=timeout)
    finally:
        show.close()
    run.outcome = outcome
    run.status = outcome.status
    run.reasons = [f"{outcome.summary} (decided by {outcome.source})", *outcome.reasons]
    if outcome.status == "timed_out" and rollback_on_timeout and plan.running_taskdef_arn:
        ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=plan.running_taskdef_arn)
        run.reasons.append(f"envpromote rolled back to {plan.running_taskdef_arn} after the timeout")
    if outcome.status == "success" and plan.kind == "promote":
        try:
            add_tag(
                ctx.ecr(),
                ctx.config.registry.repository,
                plan.image.digest,
                promotion_tag(env.name, plan.image.digest),
            )
        except botocore.exceptions.ClientError as exc:
            run.reasons.append(
                f"could not add the promotion tag: {exc.response.get('Error', {}).get('Code')}"
            )


def _recheck_under_lock(ctx: Context, plan: Plan) -> None:
    """The plan may be minutes old (an approval prompt, a queue for the lock): is the service still as planned?"""
    service = describe_service(ctx, plan.env)
    busy = busy_deployment(service)
    if busy is not None:
        raise PreflightFailed(
            f"A deployment started on {plan.env.service} since the plan was made: {busy.get('id')}.",
            fix="Wait for it to finish and run the command again.",
        )
    if plan.running_taskdef_arn and service.get("taskDefinition") != plan.running_taskdef_arn:
        raise PreflightFailed(
            f"{plan.env.service} now runs {service.get('taskDefinition')}, not {plan.running_taskdef_arn} as planned.",
            fix="Run the command again so the plan, its diff and its rollback target are current.",
        )


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """While the record is written and the lock released, SIGINT/SIGTERM wait (a cancelled CI job sends both)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt


def _record(
    ctx: Context, ledger: Ledger, local: LocalRecords, plan: Plan, run: _Rollout, started: dt.datetime
) -> ReleaseResult:
    draft = new_record(
        environment=plan.env.name,
        kind=plan.kind,
        status=run.status,
        digest=plan.image.digest,
        image_uri=plan.image.uri,
        started_at=started,
        finished_at=utc_now(),
        source_environment=plan.source_environment,
        task_definition_arn=run.new_arn,
        previous_digest=plan.previous_digest,
        previous_task_definition_arn=plan.running_taskdef_arn,
        reasons=[*plan.evidence, *run.reasons],
        actor=ctx.identity.actor,
        approver=plan.approver,
        run_id=ctx.identity.run_id,
        run_attempt=ctx.identity.run_attempt,
        workflow_ref=ctx.identity.workflow_ref,
        source_commit=plan.source_commit,
        deployment_id=run.deployment_id,
        allow_unscanned=plan.allow_unscanned,
        scan=plan.scan,
        api_calls=dict(ctx.counter.requests),
    )
    result = ReleaseResult(
        plan=plan, dry_run=False, outcome=run.outcome, api_calls=dict(ctx.counter.requests)
    )
    _store(ctx, ledger, local, draft, result)
    return result


_OUTCOME_FIXES = {
    "rolled_back": "ECS restored the previous release; read the reasons above, fix forward and rebuild.",
    "failed": "Read the reasons above; another deployment replaced ours.",
    "timed_out": "Check the service in ECS; 'invoke drift' shows what runs.",
}


def _raise_for_outcome(plan: Plan, run: _Rollout) -> None:
    """The documented exit code for a recorded outcome: 5 rolled back/failed, 6 rollback failed, 7 timed out."""
    if run.status == "success":
        return
    summary = run.outcome.summary if run.outcome else run.status
    message = f"{plan.kind} of {short(plan.image.digest)} to {plan.env.name}: {run.status.replace('_', ' ')}: {summary}."
    fix = _OUTCOME_FIXES.get(run.status, "Check the service in ECS.")
    if plan.kind == "rollback":
        raise RollbackFailed(message, fix=fix)
    if run.status == "timed_out":
        raise RolloutTimedOut(message, fix=fix)
    raise DeploymentFailed(message, reasons=run.outcome.reasons if run.outcome else [], fix=fix)


def _resend_pending(ctx: Context, ledger: Ledger, local: LocalRecords) -> None:
    try:
        for record in sync_pending(ledger, local):
            ctx.out(f"ledger: re-sent kept record {record['environment']} #{record['sequence']}")
    except LedgerError as exc:
        ctx.out(f"ledger: kept records still not sent ({exc.message})")


def _store(ctx: Context, ledger: Ledger, local: LocalRecords, draft: Record, result: ReleaseResult) -> None:
    """Write-ahead: the draft is kept locally first, then sent; it leaves pending/ only once the ledger has it."""
    pending = local.keep_pending(draft)
    try:
        record = ledger.append(draft)
    except (LedgerError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        text = exc.one_line() if isinstance(exc, EnvPromoteError) else f"{type(exc).__name__}: {exc}"
        result.ledger_warning = (
            f"ledger write failed ({text}); record kept at {pending}; run 'invoke ledger.sync'"
        )
        result.record = draft
        result.record_path = pending
        ctx.out(f"WARNING: {result.ledger_warning}")
        gha.annotate("warning", result.ledger_warning)
        gha.append_summary(summary_markdown(draft) + f"\n\n> {result.ledger_warning}")
        gha.set_output("record_path", str(pending))
        return
    result.record = record
    result.record_path = local.write(record)
    pending.unlink(missing_ok=True)
    gha.append_summary(summary_markdown(record))
    gha.set_output("record_path", str(result.record_path))


def summary_markdown(record: Mapping[str, Any]) -> str:
    icon = {"success": "✅", "rolled_back": "↩️", "failed": "❌", "timed_out": "⏱️", "aborted": "⛔"}.get(
        str(record["status"]), ""
    )
    lines = [
        f"### {icon} {record['kind']} to {record['environment']}: {record['status']}",
        "",
        "| field | value |",
        "| --- | --- |",
        f"| digest | `{record['digest']}` |",
        f"| from | {record['source_environment'] or '-'} |",
        f"| replaced | `{record['previous_digest'] or '-'}` |",
        f"| task definition | `{record['task_definition_arn'] or '-'}` |",
        f"| approver | {record['approver'] or '-'} |",
        f"| duration | {record['duration_s']} s |",
        f"| ledger | #{record['sequence']} (prev sha256 `{(record['prev_record_sha256'] or '-')[:16]}`) |",
        "",
        "**Evidence and reasons**",
        "",
        *(f"- {reason}" for reason in record["reasons"]),
    ]
    return "\n".join(lines)


# ---- read-only use cases --------------------------------------------------------------------------


@dataclass
class VerifyReport:
    env: str
    image: str
    checks: list[str]


def verify(ctx: Context, env_name: str, digest: str | None) -> VerifyReport:
    env = ctx.config.env(env_name)
    checked = _require_digest(digest)
    image = _image_for(ctx, checked)
    _, lines = preflight(ctx, env, image)
    rendered = render_task_definition(
        ctx.config.template,
        template_values(ctx.config, env, image, source_commit=ctx.identity.commit or "unknown"),
    )
    lines.append(f"task definition renders and validates ({len(json.dumps(rendered))} bytes)")
    return VerifyReport(env=env.name, image=image.uri, checks=lines)


@dataclass
class DiffReport:
    env: str
    diff: list[str]
    cross_environment: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.diff or self.cross_environment)


def diff(ctx: Context, env_name: str, digest: str | None) -> DiffReport:
    env = ctx.config.env(env_name)
    checked = _require_digest(digest)
    image = _image_for(ctx, checked)
    service = describe_service(ctx, env)
    _, running = running_task_definition(ctx, env, service)
    build = ctx.ledger().latest_build(checked)
    rendered = render_task_definition(
        ctx.config.template,
        template_values(ctx.config, env, image, source_commit=_source_commit(ctx, build) or "unknown"),
    )
    cross = []
    if env.upstream:
        upstream_last = ctx.ledger().last_success(env.upstream)
        upstream_digest = upstream_last["digest"] if upstream_last else None
        if upstream_digest != checked:
            cross.append(
                f"image {short(checked)} differs from {env.upstream}'s last success "
                f"({short(upstream_digest) if upstream_digest else 'none'})"
            )
    return DiffReport(env=env.name, diff=taskdef_diff(running, rendered, env.name), cross_environment=cross)


@dataclass
class DriftReport:
    env: str
    running_digest: str | None
    ledger_digest: str | None
    task_definition_arn: str
    in_progress: bool

    @property
    def drifted(self) -> bool:
        return self.running_digest != self.ledger_digest


def drift(ctx: Context, env_name: str) -> DriftReport:
    env = ctx.config.env(env_name)
    service = describe_service(ctx, env)
    arn, running = running_task_definition(ctx, env, service)
    last = ctx.ledger().last_success(env.name)
    return DriftReport(
        env=env.name,
        running_digest=_digest_of_image(container_image(running, env.container)),
        ledger_digest=str(last["digest"]) if last else None,
        task_definition_arn=arn,
        in_progress=len(service.get("deployments", [])) > 1,
    )


def history(ctx: Context, env_name: str, limit: int = 50) -> list[Record]:
    env = ctx.config.env(env_name)
    return list(reversed(ctx.ledger().history(env.name)))[:limit]


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=cwd, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def record_build(
    ctx: Context, digest: str, *, scan: Mapping[str, Any] | None, source_commit: str | None
) -> str:
    """Store the build record (digest, commit, scan summary) that the scan gate reads."""
    checked = parse_digest(digest)
    if scan is not None:
        scan = ScanSummary.from_dict(scan).to_dict()  # refuse a malformed summary now, not at promotion
    image = _image_for(ctx, checked)
    _require_image_in_ecr(ctx, checked, fix="Push it with 'invoke build' before recording the build.")
    build = {
        "digest": checked,
        "image_uri": image.uri,
        "source_commit": source_commit or ctx.identity.commit or git_commit(),
        "recorded_at": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "actor": ctx.identity.actor,
        "run_id": ctx.identity.run_id,
        "scan": dict(scan) if scan is not None else None,
    }
    return ctx.ledger().put_build(build)


WATCH_MODES = ("auto", "events", "poll")


def check_watch_mode(mode: str, env: Environment) -> str:
    if mode not in WATCH_MODES:
        raise BadInput(f"--watch {mode!r} is not a watch mode.", fix="Use auto, events or poll.")
    if mode == "events" and env.events_queue is None:
        raise BadInput(
            f"--watch events needs an event queue for {env.name}.",
            fix=f"Set events_queue in [environments.{env.name}] (from 'invoke infra.output') or use --watch poll.",
        )
    return mode


LEASE_MARGIN_S = 5


def check_timeout_within_lease(timeout: float, lease_seconds: int) -> None:
    """The lock must outlive the watch; otherwise another promotion could start under a running rollout."""
    if timeout + LEASE_MARGIN_S > lease_seconds:
        raise BadInput(
            f"--timeout {timeout:g}s does not fit in the lock lease of {lease_seconds}s.",
            fix=f"Use --timeout {max(1, lease_seconds - LEASE_MARGIN_S)} or less, or raise [lock] lease_seconds.",
        )


def ensure_time(value: float | int | str | None, name: str) -> float:
    try:
        number = float(value) if value is not None else DEFAULT_TIMEOUT_S
    except (TypeError, ValueError):
        raise BadInput(f"--{name} {value!r} is not a number of seconds.", fix=f"Pass --{name} 600.") from None
    if not 1 <= number <= 6 * 3600:
        raise BadInput(f"--{name} {number:g} is out of range.", fix=f"Use 1 to 21600 seconds for --{name}.")
    return number
