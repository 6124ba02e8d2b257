"""Planning: everything decided before the first mutating call, with read-only calls only.

A plan is built in one go and never changed afterwards (approval returns a new plan). `busy_deployment` is the
one rule for "a rollout is in progress": preflight, the re-check under the lock, drift and the demo use it.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from envpromote.config import Environment
from envpromote.errors import BadInput, GateRefused, PreflightFailed
from envpromote.gate import refuse_unscanned_override, require_upstream, scan_gate, upstream_success
from envpromote.image import ImageRef, parse_digest, short_digest
from envpromote.ledger import Ledger, Record, utc_now
from envpromote.registry import describe_image
from envpromote.release.approve import approve
from envpromote.release.context import Approval, Context, require_digest
from envpromote.release.records import ledger_ready
from envpromote.render import container_image, render_task_definition, require_image, template_values


@dataclass(frozen=True)
class Plan:
    """Everything decided before the first mutating call."""

    env: Environment
    kind: str  # deploy | promote | rollback
    image: ImageRef
    source_environment: str | None
    taskdef: dict[str, Any]
    running_taskdef: dict[str, Any] | None
    running_taskdef_arn: str | None
    previous_digest: str | None
    diff: tuple[str, ...]
    evidence: tuple[str, ...]
    source_commit: str | None
    approver: str | None = None
    approved_via: str | None = (
        None  # github-environment | assume-yes | prompt | not-required | None (dry run)
    )
    scan: Mapping[str, Any] | None = None
    allow_unscanned: bool = False
    # Deployments listed before ours: a stale read right after UpdateService must not pass for a rollback.
    running_deployment_ids: tuple[str, ...] = ()


# ---- reading the service --------------------------------------------------------------------------


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


def digest_of_image(image: str | None) -> str | None:
    """The digest of an image URI pinned by digest (`repo@sha256:...`); None for a tag or nothing."""
    if image and "@sha256:" in image:
        return image.rsplit("@", 1)[1]
    return None


def running_digest(env: Environment, taskdef: Mapping[str, Any]) -> str | None:
    return digest_of_image(container_image(taskdef, env.container))


def busy_deployment(service: Mapping[str, Any]) -> dict[str, Any] | None:
    """A deployment besides the settled PRIMARY one (ECS lists exactly one PRIMARY), if a rollout is under way."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") != "PRIMARY" or deployment.get("rolloutState") == "IN_PROGRESS":
            return dict(deployment)
    return None


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


# ---- preflight ------------------------------------------------------------------------------------


def require_image_in_ecr(ctx: Context, digest: str, *, fix: str) -> None:
    if describe_image(ctx.ecr(), ctx.config.registry.repository, digest) is None:
        raise PreflightFailed(
            f"Image {short_digest(digest)} is not in ECR repository {ctx.config.registry.repository}.",
            fix=fix,
        )


def _check_roles(ctx: Context, env: Environment) -> list[str]:
    """Existence of the execution and task roles; AccessDenied is reported as 'not checked', not as a failure."""
    iam = ctx.env_client(env, "iam")
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


def preflight(ctx: Context, env: Environment, image: ImageRef) -> tuple[dict[str, Any], list[str]]:
    """Read-only readiness checks. Returns the service description and evidence lines."""
    lines: list[str] = []
    require_image_in_ecr(
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


def release_commit(ctx: Context, build: Mapping[str, Any] | None) -> str | None:
    if build and build.get("source_commit"):
        return str(build["source_commit"])
    return ctx.identity.commit


# ---- building plans -------------------------------------------------------------------------------


def _build_plan(
    ctx: Context,
    env: Environment,
    *,
    kind: str,
    digest: str,
    source_environment: str | None,
    evidence: Sequence[str],
    build: Mapping[str, Any] | None,
    scan: Mapping[str, Any] | None = None,
    allow_unscanned: bool = False,
) -> Plan:
    image = ctx.image(digest)
    service, lines = preflight(ctx, env, image)
    running_arn, running = running_task_definition(ctx, env, service)
    commit = release_commit(ctx, build)
    values = template_values(ctx.config, env, image, source_commit=commit or "unknown")
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
        previous_digest=running_digest(env, running),
        diff=tuple(taskdef_diff(running, rendered, env.name)),
        evidence=(*evidence, *lines),
        source_commit=commit,
        scan=scan,
        allow_unscanned=allow_unscanned,
        running_deployment_ids=tuple(str(d.get("id")) for d in service.get("deployments", [])),
    )


def _scanned_plan(
    ctx: Context,
    env: Environment,
    ledger: Ledger,
    *,
    kind: str,
    digest: str,
    source_environment: str | None,
    evidence: Sequence[str],
    allow_unscanned: bool = False,
) -> Plan:
    """A plan for a digest that must pass the scan gate (deploys and promotions; rollbacks return to known-good)."""
    build = ledger.latest_build(digest)
    scan, unscanned, scan_lines = scan_gate(env, digest, build, allow_unscanned=allow_unscanned)
    return _build_plan(
        ctx,
        env,
        kind=kind,
        digest=digest,
        source_environment=source_environment,
        evidence=[*evidence, *scan_lines],
        build=build,
        scan=scan,
        allow_unscanned=unscanned,
    )


def _approved(plan: Plan, approval: Approval, dry_run: bool) -> Plan:
    if dry_run and plan.env.approval_required:
        note = f"approval: required for {plan.env.name}; not asked in a dry run"
        return dataclasses.replace(plan, evidence=(*plan.evidence, note))
    return approve(plan, approval)


def plan_deploy(ctx: Context, env_name: str, digest: str | None) -> Plan:
    env = ctx.config.env(env_name)
    checked = require_digest(digest)
    if env.upstream is not None:
        raise BadInput(
            f"{env.name} has upstream {env.upstream}; only the entry environment takes direct deploys.",
            fix=f"Use 'invoke promote --env {env.name}' (it checks {env.upstream}'s record first).",
        )
    ledger = ledger_ready(ctx, env.name)
    # the entry environment takes deploys without an approval step
    return _scanned_plan(
        ctx, env, ledger, kind="deploy", digest=checked, source_environment=None, evidence=()
    )


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
    ledger = ledger_ready(ctx, *ctx.config.chain)
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
    plan = _scanned_plan(
        ctx,
        env,
        ledger,
        kind="promote",
        digest=checked,
        source_environment=upstream,
        evidence=gate.lines,
        allow_unscanned=allow_unscanned,
    )
    return _approved(plan, approval, dry_run)


def rollback_target(history: Sequence[Record], current_digest: str | None) -> Record | None:
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
    ledger = ledger_ready(ctx, env.name)
    history = ledger.history(env.name)
    service = describe_service(ctx, env)
    _, running = running_task_definition(ctx, env, service)
    current = running_digest(env, running)
    if to:
        target_digest = parse_digest(to)
        if not any(r["digest"] == target_digest and r["status"] == "success" for r in history):
            raise GateRefused(
                f"Digest {short_digest(target_digest)} never succeeded in {env.name}; "
                "rollback only returns to known-good.",
                fix=f"Pick a digest from 'invoke history --env {env.name}'.",
            )
        if target_digest == current:
            raise BadInput(
                f"{env.name} already runs {short_digest(target_digest)}.", fix="Nothing to roll back to."
            )
    else:
        target = rollback_target(history, current)
        if target is None:
            raise GateRefused(
                f"The {env.name} ledger has no earlier successful release to roll back to.",
                fix=f"Check 'invoke history --env {env.name}', or deploy a known-good digest.",
            )
        target_digest = str(target["digest"])
    now_running = short_digest(current) if current else "an image not pinned by digest"
    plan = _build_plan(
        ctx,
        env,
        kind="rollback",
        digest=target_digest,
        source_environment=None,
        evidence=[
            f"rollback target: last known-good {short_digest(target_digest)} (now running {now_running})"
        ],
        build=ledger.latest_build(target_digest),
    )
    return _approved(plan, approval, dry_run)
