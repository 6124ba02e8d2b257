"""Reconcile: settle an intent whose run never wrote its outcome (killed, runner lost), from what ECS shows.

A run appends an ``in_progress`` intent before its first mutating call and resolves it with its final record.
An intent nobody resolved means the run died somewhere in between. Reconciling observes ECS and appends the
outcome it can PROVE, as a ``reconcile`` record that ``resolves`` the intent and names who reconciled it:

* ``aborted``: no task definition with the intent's digest was registered in its family after the intent's
  previous revision, or one was registered but the service was never updated (no service deployment since).
* ``success``: the service's PRIMARY deployment runs a definition with our digest and ECS says COMPLETED.
* ``rolled_back`` / ``failed``: the first service deployment after the intent ended ROLLBACK_SUCCESSFUL /
  was stopped or replaced (ROLLBACK_FAILED counts as failed).
* ``unknown``: what ECS shows proves none of these (the service deployments API is missing, or history
  expired). The record says what was and was not seen; nothing is guessed.

A rollout that is still moving is NOT reconciled (no record): the intent stays open, the gates keep refusing,
and the message says to run ``invoke ledger.reconcile --env E`` again once ECS has decided.

Reconciling an environment holds its lock (so no live run is judged while it runs): when the lock is held by
someone else the environment is skipped with a message; the engine, which already holds it, passes
``lock_held=True``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from envpromote.errors import EnvironmentLocked
from envpromote.image import short_digest
from envpromote.ledger import Ledger, Record, new_record, parse_iso, utc_now
from envpromote.lock import Holder

if TYPE_CHECKING:
    from envpromote.config import Environment
    from envpromote.release.context import Context

MAX_REVISIONS = 10  # newest task-definition revisions of the family looked at (bounded cost)
CLAIMS_LOOKBACK = 50  # newest records whose task definitions are known to be other runs'
_MOVING = {"PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_REQUESTED", "STOP_REQUESTED"}
_READ_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


@dataclass
class Finding:
    """What ECS proves about an intent. status None = still moving: nothing is appended."""

    status: str | None
    reasons: list[str] = field(default_factory=list)
    task_definition_arn: str | None = None
    service_deployment_arn: str | None = None
    deployment_id: str | None = None


@dataclass
class Observed:
    """The ECS facts a judgement rests on (gathered by `observe`, judged by the pure `judge`)."""

    service: Mapping[str, Any]
    ours: list[str]  # task definitions of the family with our digest, registered after the intent's previous
    service_deployments: list[Mapping[str, Any]] | None  # created after the intent; None = API not offered


def _image_digest(image: str) -> str | None:
    """The sha256 digest an image reference pins, if any (the same rule as the plan's)."""
    return "sha256:" + image.rsplit("@sha256:", 1)[1] if "@sha256:" in image else None


def revision_of(arn: str | None) -> int:
    try:
        return int(str(arn).rsplit(":", 1)[-1])
    except ValueError:
        return 0


def judge(intent: Mapping[str, Any], seen: Observed) -> Finding:
    """Pure: the outcome the observed ECS state proves for `intent` (see the module docstring)."""
    digest = short_digest(str(intent["digest"]))
    if not seen.ours:
        return Finding(
            "aborted",
            [
                f"reconcile: no task definition with {digest} was registered after the intent; nothing was deployed"
            ],
        )
    ours = set(seen.ours)
    newest = seen.ours[0]
    for deployment in seen.service.get("deployments", []):
        if deployment.get("taskDefinition") not in ours:
            continue
        taskdef, ident = str(deployment.get("taskDefinition")), str(deployment.get("id"))
        state = deployment.get("rolloutState")
        running = seen.service.get("taskDefinition") in ours
        if deployment.get("status") == "PRIMARY" and state == "COMPLETED" and running:
            return Finding(
                "success",
                [f"reconcile: ECS runs {taskdef} ({digest}); deployment {ident} COMPLETED"],
                taskdef,
                _arn_of_first(seen.service_deployments),
                ident,
            )
        if state == "IN_PROGRESS":
            return Finding(
                None, [f"deployment {ident} of {taskdef} is still in progress"], taskdef, None, ident
            )
        if state == "FAILED":
            return Finding(
                "rolled_back",
                [
                    f"reconcile: deployment {ident} of {taskdef} FAILED; {deployment.get('rolloutStateReason', '')}"
                ],
                taskdef,
                _arn_of_first(seen.service_deployments),
                ident,
            )
    if seen.service_deployments is None:
        return Finding(
            "unknown",
            [
                f"reconcile: {newest} ({digest}) was registered, but ECS no longer lists a deployment of it and "
                "this endpoint offers no ListServiceDeployments: whether it was deployed cannot be proven"
            ],
            newest,
        )
    if not seen.service_deployments:
        return Finding(
            "aborted",
            [
                f"reconcile: {newest} was registered but the service was never updated (no service deployment since)"
            ],
            newest,
        )
    first = seen.service_deployments[0]  # the first after the intent: ours (we held the lock)
    arn, status = str(first.get("serviceDeploymentArn")), str(first.get("status"))
    line = f"service deployment {arn.rsplit('/', 1)[-1]} {status}"
    if first.get("statusReason"):
        line += f" ({first['statusReason']})"
    if status in _MOVING:
        return Finding(None, [line], newest, arn)
    if status == "ROLLBACK_SUCCESSFUL":
        return Finding("rolled_back", [f"reconcile: {line}; ECS restored the previous release"], newest, arn)
    if status in {"STOPPED", "ROLLBACK_FAILED"}:
        return Finding("failed", [f"reconcile: {line}"], newest, arn)
    return Finding(
        "unknown",
        [
            f"reconcile: {line}, but the service now runs {seen.service.get('taskDefinition')}, not "
            f"{newest}: another deployment came after it; its own outcome cannot be proven"
        ],
        newest,
        arn,
    )


def _arn_of_first(briefs: Sequence[Mapping[str, Any]] | None) -> str | None:
    return str(briefs[0].get("serviceDeploymentArn")) if briefs else None


# ---- observing ECS ---------------------------------------------------------------------------------


def observe(
    ctx: Context,
    env: Environment,
    intent: Mapping[str, Any],
    since: dt.datetime,
    claimed: frozenset[str] = frozenset(),
) -> Observed:
    """DescribeServices, the family's newest revisions with our digest, the service deployments created since
    `since` (when S3 stored the intent, by AWS's clock). Definitions other records name (`claimed`) were
    registered by other runs and are never taken for the intent's."""
    ecs = ctx.env_client(env, "ecs")
    service = ecs.describe_services(cluster=env.cluster, services=[env.service])["services"][0]
    after = revision_of(intent.get("previous_task_definition_arn"))
    listed = ecs.list_task_definitions(familyPrefix=env.family, sort="DESC", maxResults=MAX_REVISIONS)
    newest = sorted(listed.get("taskDefinitionArns", []), key=revision_of, reverse=True)[:MAX_REVISIONS]
    ours: list[str] = []
    for arn in newest:  # (sorted again: some endpoints ignore sort and maxResults)
        if revision_of(arn) <= after:
            break
        if arn in claimed:
            continue
        taskdef = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        images = [str(c.get("image", "")) for c in taskdef.get("containerDefinitions", [])]
        if any(_image_digest(image) == intent["digest"] for image in images):
            ours.append(str(arn))
    try:
        briefs = ecs.list_service_deployments(
            cluster=env.cluster, service=env.service, createdAt={"after": since - dt.timedelta(minutes=1)}
        ).get("serviceDeployments", [])
        # AWS's clock on both sides: S3 stored the intent before UpdateService was sent (LastModified is in
        # whole seconds, hence the second of slack); the local clock is never used.
        deployments: list[Mapping[str, Any]] | None = sorted(
            (
                b
                for b in briefs
                if b.get("createdAt") is None or b["createdAt"] >= since - dt.timedelta(seconds=1)
            ),
            key=lambda b: b.get("createdAt") or since,
        )
    except (AttributeError, botocore.exceptions.ClientError):  # not offered by this endpoint
        deployments = None
    return Observed(service, ours, deployments)


# ---- appending ---------------------------------------------------------------------------------------


@dataclass
class Reconciled:
    environment: str
    appended: list[Record] = field(default_factory=list)
    left_open: list[str] = field(default_factory=list)  # messages for intents that stay open


def reconcile_record(ctx: Context, intent: Mapping[str, Any], finding: Finding) -> Record:
    assert finding.status is not None
    return new_record(
        environment=str(intent["environment"]),
        kind="reconcile",
        status=finding.status,
        digest=str(intent["digest"]),
        image_uri=str(intent["image_uri"]),
        started_at=parse_iso(str(intent["started_at"])),
        finished_at=utc_now(),
        source_environment=intent.get("source_environment"),
        task_definition_arn=finding.task_definition_arn,
        previous_digest=intent.get("previous_digest"),
        previous_task_definition_arn=intent.get("previous_task_definition_arn"),
        reasons=[
            f"reconciles the {intent['kind']} intent #{intent['sequence']} by {intent['actor']} "
            f"(run {intent.get('run_id') or 'local'}) that never wrote its outcome",
            *finding.reasons,
        ],
        actor=ctx.identity.actor,
        approver=intent.get("approver"),
        run_id=ctx.identity.run_id,
        run_attempt=ctx.identity.run_attempt,
        workflow_ref=ctx.identity.workflow_ref,
        source_commit=intent.get("source_commit"),
        deployment_id=finding.deployment_id,
        resolves=intent,
        service_deployment_arn=finding.service_deployment_arn,
        reconciled_by=ctx.identity.actor,
    )


def _claimed(ledger: Ledger, environment: str, intent: Mapping[str, Any]) -> frozenset[str]:
    """Task definitions the newest records name for other runs (bounded: the last CLAIMS_LOOKBACK records)."""
    run = {intent["record_id"]}
    return frozenset(
        str(r["task_definition_arn"])
        for r in ledger.history(environment, limit=CLAIMS_LOOKBACK)
        if r.get("task_definition_arn") and r["record_id"] not in run and r.get("resolves") not in run
    )


def _settle(ctx: Context, ledger: Ledger, env: Environment, intents: Iterable[Record]) -> Reconciled:
    done = Reconciled(env.name)
    for intent in intents:
        try:
            since = ledger.stored_at(env.name, intent)
            finding = judge(intent, observe(ctx, env, intent, since, _claimed(ledger, env.name, intent)))
        except _READ_ERRORS as exc:
            done.left_open.append(f"{env.name} intent #{intent['sequence']}: ECS could not be read ({exc})")
            continue
        if finding.status is None:
            done.left_open.append(
                f"{env.name} intent #{intent['sequence']} ({short_digest(str(intent['digest']))}) is still "
                f"rolling out ({'; '.join(finding.reasons)}); run 'invoke ledger.reconcile --env {env.name}' "
                "again once ECS has decided"
            )
            continue
        record = ledger.append(reconcile_record(ctx, intent, finding))
        ctx.out(
            f"ledger: reconciled {env.name} intent #{intent['sequence']} as {record['status']} "
            f"(record #{record['sequence']})"
        )
        done.appended.append(record)
    for message in done.left_open:
        ctx.out(f"ledger: {message}")
    return done


def reconcile_environment(
    ctx: Context, ledger: Ledger, env_name: str, *, lock_held: bool = False
) -> Reconciled:
    """Settle `env_name`'s unresolved intents. Costs one read of the head when there are none (with
    `lock_held`, that read also serves the append that follows).

    Without `lock_held`, the environment's lock is taken for the duration (a free lock: one put); when
    someone holds it, nothing is judged (its run may be alive) and the reason is in ``left_open``."""
    env = ctx.config.env(env_name)
    # Under the engine's lock the intent is appended next: the head read here serves that append too.
    intents = ledger.unresolved_intents(env.name, keep_for_append=lock_held)
    if not intents:
        return Reconciled(env.name)
    if lock_held:
        return _settle(ctx, ledger, env, intents)
    lock = ctx.lock()
    holder = lock.holder(env.name)
    if holder is not None:
        done = Reconciled(env.name)
        done.left_open.append(
            f"{env.name} has {len(intents)} open intent(s) and its lock is held by {holder.holder}: not reconciled "
            f"now (that run may be alive); 'invoke ledger.reconcile --env {env.name}' waits for it"
        )
        ctx.out(f"ledger: {done.left_open[0]}")
        return done
    try:
        with lock.held(env.name, Holder(ctx.identity.actor, "reconcile", run=ctx.identity.run_id)):
            return _settle(ctx, ledger, env, ledger.unresolved_intents(env.name))
    except EnvironmentLocked as exc:
        done = Reconciled(env.name, left_open=[f"{env.name}: not reconciled: {exc.message}"])
        ctx.out(f"ledger: {done.left_open[0]}")
        return done


def reconcile_on_demand(ctx: Context, ledger: Ledger, env_name: str) -> Reconciled:
    """`invoke ledger.reconcile --env E`: waits for E's lock like a promotion does (a dead holder is taken over
    after one lease without heartbeats; a live one refuses with exit 8), then settles E's intents."""
    env = ctx.config.env(env_name)
    if not ledger.unresolved_intents(env.name):
        return Reconciled(env.name)
    with ctx.lock().held(env.name, Holder(ctx.identity.actor, "reconcile", run=ctx.identity.run_id)):
        return _settle(ctx, ledger, env, ledger.unresolved_intents(env.name))
