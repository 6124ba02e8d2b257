"""`invoke rollback` of a blue/green, canary or linear deployment that is paused or in progress: roll it back in place.

ECS restores the source revision of the service deployment itself: ContinueServiceDeployment ROLLBACK at a
paused hook, else StopServiceDeployment ROLLBACK - never a second blue/green deployment (which would put the
old revision through test traffic, a pause and a bake again while the bad one still holds production).

Under the environment's lock, like every change; followed to ECS's verdict with the StageWatcher; recorded in
the ledger as a ``rollback`` of the digest that runs afterwards (``success`` when ECS rolled back, ``failed`` when
its rollback failed or the deployment completed anyway, ``timed_out`` when ECS had not decided in time), with the
service deployment's ARN and the strategy. The exit codes are the release's: 6 rollback failed, 7 timed out.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import closing
from typing import TYPE_CHECKING

import botocore.exceptions

from envpromote.errors import EnvPromoteError, LedgerError, RollbackFailed, RolloutTimedOut
from envpromote.image import short_digest
from envpromote.ledger import Record, new_record, utc_now
from envpromote.release import announce
from envpromote.release.context import describe_service
from envpromote.release.plan import running_digest, running_task_definition
from envpromote.release.records import keep_and_notify, resend_pending
from envpromote.render import container_image
from envpromote.rollout import Outcome, WatchTarget, progress_printer
from envpromote.rollout.stage_watch import StageWatcher
from envpromote.strategy import describe, minimum_watch_seconds
from envpromote.verify import roll_back_service_deployment
from envpromote.verify.control import active_service_deployments

if TYPE_CHECKING:
    from envpromote.release.context import Context

# The watcher's verdict on the service deployment we rolled back -> the rollback record's status.
_STATUS = {"rolled_back": "success", "timed_out": "timed_out"}


def roll_back_in_place(ctx: Context, env_name: str, *, timeout: float) -> Record | None:
    """Roll back ENV's active service deployment in place and record it; None when there is none (or rolling).

    Raises RollbackFailed (exit 6) when ECS's rollback failed or the deployment completed anyway, and
    RolloutTimedOut (exit 7) when ECS had not decided by `timeout` - after the record is written.
    """
    env = ctx.config.env(env_name)
    if env.strategy.kind == "rolling":
        return None
    ecs = ctx.env_client(env, "ecs")
    if not active_service_deployments(ecs, env.cluster, env.service):
        return None
    ledger, local = ctx.ledger(), ctx.local_records()
    resend_pending(ctx, ledger, local)
    local.ensure_writable()
    lock = ctx.lock()
    lease = lock.acquire(env.name, f"{ctx.identity.actor} (rollback in place, pid {os.getpid()})")
    started = utc_now()
    try:
        rolled_away = str(describe_service(ctx, env).get("taskDefinition") or "")  # ECS's target revision
        resolved = roll_back_service_deployment(ecs, env.cluster, env.service)
        if resolved is None:  # it finished while we took the lock: the usual rollback applies
            return None
        ctx.out(f"{env.name}: {resolved.line()}")
        target = WatchTarget("(rollback in place)", "", None, started, frozenset())
        with closing(progress_printer(ctx.out)) as show:
            watcher = StageWatcher(ecs, env.cluster, env.service, policy=ctx.poll_policy, on_progress=show)
            outcome = watcher.watch(
                target,
                timeout=timeout + minimum_watch_seconds(env.strategy),
                service_deployment_arn=resolved.service_deployment_arn,
            )
        status = _STATUS.get(outcome.status, "failed")
        record = _record(ctx, env_name, outcome, status, [resolved.line()], started, rolled_away)
        record, pending, delivery = keep_and_notify(ctx, ledger, local, record)
        try:
            record = ledger.append(record)
        except (LedgerError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            text = exc.one_line() if isinstance(exc, EnvPromoteError) else f"{type(exc).__name__}: {exc}"
            ctx.out(
                f"WARNING: ledger write failed ({text}); record kept at {pending}; run 'invoke ledger.sync'"
            )
        else:
            announce.check_link(ctx, delivery, record)
            local.write(record)
            pending.unlink(missing_ok=True)
    finally:
        lock.release(lease)
    _raise_for(record, outcome, env_name)
    ctx.out(f"{status}: rollback in place of {env_name} to {record['digest']}: {outcome.summary}")
    return record


def _record(
    ctx: Context,
    env_name: str,
    outcome: Outcome,
    status: str,
    reasons: list[str],
    started: dt.datetime,
    rolled_away: str,
) -> Record:
    """``digest`` is what runs now; ``previous_*`` the revision rolled away from (the gate reads it)."""
    env = ctx.config.env(env_name)
    service = describe_service(ctx, env)
    arn, taskdef = running_task_definition(ctx, env, service)
    image = container_image(taskdef, env.container) or arn
    previous_digest = None
    if rolled_away and rolled_away != arn:
        away = ctx.env_client(env, "ecs").describe_task_definition(taskDefinition=rolled_away)
        previous_digest = running_digest(env, away["taskDefinition"])
    return new_record(
        environment=env.name,
        kind="rollback",
        status=status,
        digest=running_digest(env, taskdef) or image,
        image_uri=image,
        started_at=started,
        finished_at=utc_now(),
        task_definition_arn=arn,
        previous_digest=previous_digest,
        previous_task_definition_arn=rolled_away or None,
        reasons=[
            *reasons,
            f"{outcome.summary} (decided by {outcome.source})",
            *outcome.reasons,
            *([f"last lifecycle stage: {outcome.stage}"] if outcome.stage else []),
        ],
        actor=ctx.identity.actor,
        run_id=ctx.identity.run_id,
        run_attempt=ctx.identity.run_attempt,
        workflow_ref=ctx.identity.workflow_ref,
        service_deployment_arn=outcome.service_deployment_arn,
        strategy=describe(env.strategy),
        api_calls=dict(ctx.counter.requests),
    )


def _raise_for(record: Record, outcome: Outcome, env_name: str) -> None:
    status = record["status"]
    if status == "success":
        return
    message = (
        f"rollback in place of {env_name} ({short_digest(str(record['digest']))} runs now): "
        f"{status.replace('_', ' ')}: {outcome.summary}."
    )
    fix = "Check the service in ECS; 'invoke status' shows its stage."
    if status == "timed_out":
        raise RolloutTimedOut(message, fix=fix)
    raise RollbackFailed(message, fix=fix)
