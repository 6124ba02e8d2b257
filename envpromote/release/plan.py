"""Planning: everything decided before the first mutating call, with read-only calls only.

A plan is built in one go and never changed afterwards (approval returns a new plan). `busy_deployment` is the
one rule for "a rollout is in progress": preflight, the re-check under the lock, drift and the demo use it.
A rollback is the escape hatch: it does not refuse a busy service but plans to supersede the rollout in progress
(`Plan.supersedes`), and the re-check under the lock accepts exactly that rollout. Digests people pass are
resolved here (`resolve_digest`: unique prefixes against the ledger and ECR, references of the repository).

Over 400 lines: the three plans, the escape hatch and digest resolution share preflight and the service reads.
Digest resolution (`resolve_digest` and the `_*_digests` helpers, ~80 lines) is self-contained and is meant to
move to a module of its own (envpromote/release/digests.py) when that module is added.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from envpromote.config import Environment
from envpromote.errors import BadInput, GateRefused, PreflightFailed
from envpromote.gate import refuse_unscanned_override, require_upstream, scan_gate, upstream_gate
from envpromote.image import ImageRef, choose_digest, parse_digest_query, short_digest
from envpromote.ledger import Ledger, Record
from envpromote.ledger.layout import env_prefix
from envpromote.registry import describe_image
from envpromote.release.approve import approve
from envpromote.release.context import Approval, Context, describe_service
from envpromote.release.records import ledger_ready
from envpromote.render import container_image, render_task_definition, require_image, template_values
from envpromote.verify.control import ACTIVE


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
    # A rollback planned over a rollout in progress: the rollout it supersedes (the record says both outcomes).
    supersedes: Superseded | None = None


@dataclass(frozen=True)
class Superseded:
    """The rollout in progress a rollback replaces (the escape hatch for a stuck or unwanted rollout).

    `how` is what `execute` does: ``update-service``, a new UpdateService to the target, which ECS allows during a
    rollout and which stops the rollout in progress. (StopServiceDeployment(stopType=ROLLBACK) would return to the
    rollout's source revision instead; `execute` does not use it for rolling deployments, so no plan claims it.)
    """

    deployment_id: str
    task_definition_arn: str | None
    rollout_state: str | None
    digest: str | None
    service_deployment_arn: str | None = None
    how: str = "update-service"

    def describe(self) -> str:
        digest = short_digest(self.digest) if self.digest else "an image not pinned by digest"
        sd = f", service deployment {self.service_deployment_arn}" if self.service_deployment_arn else ""
        return (
            f"supersedes deployment {self.deployment_id} ({self.rollout_state}, {self.task_definition_arn}, "
            f"{digest}{sd}) by {self.how}"
        )


# ---- reading the service --------------------------------------------------------------------------


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


def _check_role(ctx: Context, env: Environment, arn: str) -> str:
    """One role's existence; AccessDenied is reported as 'not checked', not as a failure."""
    name = arn.rsplit("/", 1)[-1]
    try:
        ctx.env_client(env, "iam").get_role(RoleName=name)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "NoSuchEntity":
            raise PreflightFailed(
                f"IAM role {arn} used by {env.name}'s task definition does not exist.",
                fix=f"Apply the {env.name} infrastructure or correct the role ARN in envpromote.toml.",
            ) from None
        if code in {"AccessDenied", "AccessDeniedException"}:
            return f"role {name}: not checked (no iam:GetRole permission)"
        raise
    return f"role {name}: exists"


ServiceRead = tuple[
    dict[str, Any], str, dict[str, Any]
]  # (service, running task definition ARN, its document)


def read_service(ctx: Context, env: Environment) -> ServiceRead:
    """DescribeServices, then the running task definition (the two reads every plan starts from)."""
    service = describe_service(ctx, env)
    arn, running = running_task_definition(ctx, env, service)
    return service, arn, running


PREFLIGHT_THREADS = 6  # the independent reads of one preflight, sent together


@contextmanager
def parallel_reads() -> Iterator[ThreadPoolExecutor]:
    """A small pool for a plan's independent read-only calls (boto3 clients are thread-safe)."""
    with ThreadPoolExecutor(max_workers=PREFLIGHT_THREADS, thread_name_prefix="envpromote-read") as pool:
        yield pool


@dataclass(frozen=True)
class PreflightReads:
    """Preflight's read-only calls, started at once; `checked` judges them in the order a person reads them."""

    image: Future[ImageRef]
    in_ecr: Future[dict[str, Any] | None]
    lock: Future[Any]  # the lock item (LockState) or None
    service: Future[ServiceRead] | None  # None: the caller already read the service
    roles: tuple[Future[str], ...]

    @classmethod
    def start(
        cls, pool: ThreadPoolExecutor, ctx: Context, env: Environment, digest: str, *, service: bool = True
    ) -> PreflightReads:
        repository = ctx.config.registry.repository
        return cls(
            image=pool.submit(ctx.image, digest),
            in_ecr=pool.submit(lambda: describe_image(ctx.ecr(), repository, digest)),
            lock=pool.submit(lambda: ctx.lock().holder(env.name)),
            service=pool.submit(read_service, ctx, env) if service else None,
            roles=tuple(
                pool.submit(_check_role, ctx, env, arn) for arn in (env.execution_role_arn, env.task_role_arn)
            ),
        )

    def checked(
        self, ctx: Context, env: Environment, *, allow_busy: bool, known: ServiceRead | None = None
    ) -> tuple[ImageRef, ServiceRead, list[str]]:
        """(image, service read, evidence lines); the first refusal in the usual order is raised. When the lock
        is held, its check may wait for a dead holder's lease: then the service is read again after it."""
        image = self.image.result()
        if self.in_ecr.result() is None:
            raise PreflightFailed(
                f"Image {short_digest(image.digest)} is not in ECR repository {ctx.config.registry.repository}.",
                fix="Build and push it with 'invoke build', or check the digest (tags are never resolved).",
            )
        lines = [f"image {image.uri}: present in ECR"]
        service_read = known
        if self.lock.result() is not None:
            ctx.lock().ensure_free(env.name)  # raises while the holder is alive; the plan is made after it
            service_read = read_service(ctx, env)
        if service_read is None:
            assert self.service is not None
            service_read = self.service.result()
        lines.append(f"service {env.cluster}/{env.service}: ACTIVE")
        lines += [role.result() for role in self.roles]
        current = busy_deployment(service_read[0])
        if current is not None and not allow_busy:
            raise PreflightFailed(
                f"A deployment is in progress on {env.service}: {current.get('id')} {current.get('rolloutState')}.",
                fix=f"Wait for it to finish ('invoke drift --env {env.name}' shows the running digest) and try "
                f"again, or stop it with 'invoke rollback --env {env.name}'.",
            )
        if current is None:
            lines.append("no deployment in progress")
        return image, service_read, lines


def preflight(
    ctx: Context, env: Environment, image: ImageRef, *, allow_busy: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Read-only readiness checks (ECR image, lock, service, roles, in parallel). Returns the service
    description and evidence lines.

    `allow_busy` (rollbacks only): a rollout in progress is not refused; the caller plans to supersede it."""
    with parallel_reads() as pool:
        reads = PreflightReads.start(pool, ctx, env, image.digest)
        _, (service, _, _), lines = reads.checked(ctx, env, allow_busy=allow_busy)
    return service, lines


def release_commit(ctx: Context, build: Mapping[str, Any] | None) -> str | None:
    if build and build.get("source_commit"):
        return str(build["source_commit"])
    return ctx.identity.commit


# ---- building plans -------------------------------------------------------------------------------


def _build_plan(
    ctx: Context,
    env: Environment,
    reads: PreflightReads,
    *,
    kind: str,
    digest: str,
    source_environment: str | None,
    evidence: Sequence[str],
    build: Mapping[str, Any] | None,
    scan: Mapping[str, Any] | None = None,
    allow_unscanned: bool = False,
    known: ServiceRead | None = None,
) -> Plan:
    image, (service, running_arn, running), lines = reads.checked(
        ctx, env, allow_busy=kind == "rollback", known=known
    )
    supersedes = superseded_rollout(ctx, env, service) if kind == "rollback" else None
    if supersedes is not None:
        lines.append(supersedes.describe())
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
        supersedes=supersedes,
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
    """A plan for a digest that must pass the scan gate (deploys and promotions; rollbacks return to known-good).

    The build record and preflight's reads are sent together; the scan gate still refuses first."""
    with parallel_reads() as pool:
        build_read = pool.submit(ledger.latest_build, digest)
        reads = PreflightReads.start(pool, ctx, env, digest)
        build = build_read.result()
        scan, unscanned, scan_lines = scan_gate(env, digest, build, allow_unscanned=allow_unscanned)
        return _build_plan(
            ctx,
            env,
            reads,
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
    checked = resolve_digest(ctx, digest)
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
        checked = resolve_digest(ctx, digest)
    else:
        last = ledger.last_success(upstream)
        if last is None:
            raise GateRefused(
                f"{upstream} has no successful release to promote.",
                fix=f"Deploy to {upstream} first, or pass --digest.",
            )
        checked = str(last["digest"])
    upstream_ecs = ctx.env_client(ctx.config.env(upstream), "ecs")
    gate = upstream_gate(ledger, upstream_ecs, ctx.config, env, checked)
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
    with parallel_reads() as pool:
        history_read = pool.submit(ledger.history, env.name)
        known = read_service(ctx, env)
        history = history_read.result()
    current = running_digest(env, known[2])
    if to:
        target_digest = resolve_digest(ctx, to, environments=(env.name,))
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
    with parallel_reads() as pool:  # the service was read above: not again
        build_read = pool.submit(ledger.latest_build, target_digest)
        reads = PreflightReads.start(pool, ctx, env, target_digest, service=False)
        plan = _build_plan(
            ctx,
            env,
            reads,
            kind="rollback",
            digest=target_digest,
            source_environment=None,
            evidence=[
                f"rollback target: last known-good {short_digest(target_digest)} (now running {now_running})"
            ],
            build=build_read.result(),
            known=known,
        )
    return _approved(plan, approval, dry_run)


# ---- the escape hatch -----------------------------------------------------------------------------


def superseded_rollout(ctx: Context, env: Environment, service: Mapping[str, Any]) -> Superseded | None:
    """The rollout in progress a rollback would replace, and how (read-only; None when the service is settled)."""
    busy = busy_deployment(service)
    if busy is None:
        return None
    primary = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), busy)
    ecs = ctx.env_client(env, "ecs")
    arn = primary.get("taskDefinition")
    digest = None
    if arn:
        digest = running_digest(env, ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"])
    return Superseded(
        deployment_id=str(primary.get("id")),
        task_definition_arn=str(arn) if arn else None,
        rollout_state=primary.get("rolloutState"),
        digest=digest,
        service_deployment_arn=_rollout_service_deployment(ecs, env),
    )


_READ_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, AttributeError, KeyError)


def _rollout_service_deployment(ecs: Any, env: Environment) -> str | None:
    """The ARN of the rollout's service deployment (recorded with the rollback), where the API is offered."""
    try:
        briefs = ecs.list_service_deployments(cluster=env.cluster, service=env.service, status=ACTIVE).get(
            "serviceDeployments", []
        )
    except _READ_ERRORS:
        return None
    return str(briefs[0].get("serviceDeploymentArn")) if len(briefs) == 1 else None


# ---- digests people pass --------------------------------------------------------------------------


def resolve_digest(ctx: Context, value: str | None, *, environments: Sequence[str] = ()) -> str:
    """The full digest for what a person passed: a digest, a unique prefix (>= 12 hex; resolved against the
    ledger of `environments` - all by default -, the build records and ECR) or a reference of the configured
    repository. BadInput (exit 2) for no value, a reference of another repository, an unknown or ambiguous prefix.
    """
    if value is None or value == "":
        raise BadInput("No --digest given.", fix="Pass --digest sha256:<64 hex> (printed by 'invoke build').")
    query = parse_digest_query(value)
    repository = ctx.config.registry.repository
    if query.repository is not None:
        assert query.digest is not None
        configured = ctx.image(query.digest)
        query.check_repository(configured.registry, configured.repository)
    if query.prefix is None:
        assert query.digest is not None
        return query.digest
    names = tuple(environments) or tuple(ctx.config.chain)
    candidates = _ledger_digests(ctx.ledger(), query.prefix, names) | _ecr_digests(ctx, query.prefix)
    return choose_digest(
        query,
        candidates,
        where=f"in the ledger of {', '.join(names)}, build records and ECR repository {repository}",
    )


def _common_prefixes(ledger: Ledger, prefix: str) -> list[str]:
    found: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": ledger.bucket, "Prefix": prefix, "Delimiter": "/"}
    while True:
        try:
            page = ledger.s3.list_objects_v2(**kwargs)
        except botocore.exceptions.ClientError:
            return found  # ECR still answers; a digest only the ledger knew is refused as unknown
        found += [str(p["Prefix"]) for p in page.get("CommonPrefixes", [])]
        if not page.get("IsTruncated"):
            return found
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def _ledger_digests(ledger: Ledger, hex_prefix: str, environments: Sequence[str]) -> set[str]:
    """Digests starting with `hex_prefix` in the per-digest indexes and build records (one LIST each)."""
    prefixes = [f"{env_prefix(ledger.prefix, name)}d/{hex_prefix}" for name in environments]
    prefixes.append(f"{ledger.prefix}/builds/{hex_prefix}")
    return {
        "sha256:" + p.rstrip("/").rsplit("/", 1)[-1]
        for key in prefixes
        for p in _common_prefixes(ledger, key)
    }


def _ecr_digests(ctx: Context, hex_prefix: str) -> set[str]:
    wanted = f"sha256:{hex_prefix}"
    found: set[str] = set()
    try:
        pages = ctx.ecr().get_paginator("list_images").paginate(repositoryName=ctx.config.registry.repository)
        for page in pages:
            found |= {
                str(i["imageDigest"])
                for i in page.get("imageIds", [])
                if str(i.get("imageDigest", "")).startswith(wanted)
            }
    except botocore.exceptions.ClientError:
        return found
    return found
