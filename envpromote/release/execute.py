"""Execution: the one place that changes AWS, as a sequence of named steps.

    check people's values -> take the lock (heartbeat) -> reconcile the environment's open intents -> write the
    intent record -> re-check under the lock -> [lease check] register the task definition -> [lease check]
    update the service -> watch -> after the outcome -> final record (resolves the intent) -> release the lock

(The re-check's DescribeServices is sent under the lock while the intent is written, and judged after it.)

Nothing mutating happens before the intent is in the ledger: if it cannot be written the run stops with exit 4,
nothing registered, nothing deployed. Whatever way the run ends after that (an outcome, a refusal under the lock,
Ctrl-C, SIGTERM, AWS unreachable, the lease lost) a final record resolving the intent is written and the lock
released, with SIGINT/SIGTERM deferred while that happens; then the outcome becomes its documented exit code
(5 rolled back/failed, 6 rollback failed, 7 timed out/unknown, 8 lock lost before a change). A run that dies
anyway (SIGKILL) leaves the intent open: the next command on the environment reconciles it (release/reconcile.py).

The lock is the clock-free heartbeat lease of envpromote/lock.py: it is renewed for as long as the run works,
whatever --timeout is, and checked (`lease.check()`) right before RegisterTaskDefinition and UpdateService. A
lease lost after the update cannot undo it: the record says so in its reasons.

A rollback planned over a rollout in progress (`plan.supersedes`, the escape hatch) supersedes it with a new
UpdateService to the known-good definition (ECS allows it during a rollout); the plan's evidence, and so the intent
and the record, name the superseded deployment. StopServiceDeployment(ROLLBACK), which the plan may offer as
`how`, is not used yet.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from typing import Any, NoReturn

import botocore.exceptions

from envpromote.errors import (
    DeploymentFailed,
    EnvPromoteError,
    LedgerError,
    PreflightFailed,
    RollbackFailed,
    RolloutTimedOut,
)
from envpromote.image import short_digest
from envpromote.ledger import Ledger, LocalRecords, validate_person_text
from envpromote.lock import Holder, Lease
from envpromote.release.context import DEFAULT_TIMEOUT_S, Context, describe_service
from envpromote.release.plan import Plan, busy_deployment
from envpromote.release.reconcile import reconcile_environment
from envpromote.release.records import ReleaseResult, Run, draft_intent, resend_pending, store_record
from envpromote.release.strategy_rollout import update_kwargs, watch_strategy
from envpromote.rollout import (
    EventWatcher,
    Outcome,
    RolloutWatcher,
    WatchTarget,
    find_deployment_for,
    progress_printer,
)
from envpromote.rollout.reasons import our_service_deployment


class Aborted(KeyboardInterrupt):
    """Raised inside a rollout when the process gets SIGTERM (SIGINT already raises KeyboardInterrupt)."""


def execute(
    ctx: Context,
    plan: Plan,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    rollback_on_timeout: bool = False,
) -> ReleaseResult:
    """Lock, write the intent, register, update, watch, record, unlock. Raises the outcome's error after
    recording it."""
    _check_people(ctx, plan)
    ledger, local = _records_ready(ctx)
    holder = Holder(
        ctx.identity.actor, plan.kind, plan.image.digest, os.getpid(), ctx.identity.run_id or None
    )
    with ctx.lock().held(plan.env.name, holder) as lease, ThreadPoolExecutor(1, "envpromote-read") as pool:
        # The re-check's read (under the lock) travels while the intent is written; it is judged after the
        # intent is in the ledger, as before, so a refusal under the lock is recorded as its resolution.
        service_now = pool.submit(describe_service, ctx, plan.env)
        run = Run()
        _write_intent(ctx, ledger, plan, run)
        result = _carry_out(ctx, ledger, local, plan, run, lease, timeout, rollback_on_timeout, service_now)
    raise_for_outcome(plan, run)
    return result


def _carry_out(
    ctx: Context,
    ledger: Ledger,
    local: LocalRecords,
    plan: Plan,
    run: Run,
    lease: Lease,
    timeout: float,
    rollback_on_timeout: bool,
    service_now: Future[dict[str, Any]],
) -> ReleaseResult:
    """The steps after the intent; whatever way they end, the final record resolves the intent."""
    try:
        _recheck_under_lock(plan, service_now.result())
        lease.check()
        _register(ctx, plan, run)
        lease.check()
        _update_service(ctx, plan, run)
        _watch(ctx, plan, run, timeout)
        _after_outcome(ctx, plan, run, rollback_on_timeout=rollback_on_timeout)
    except KeyboardInterrupt:
        _note_interrupt(run)
        raise
    except EnvPromoteError as exc:
        if run.outcome is None:
            run.status, run.reasons = "aborted", [exc.one_line()]
        raise
    except botocore.exceptions.ClientError as exc:
        _note_refused_by_aws(run, exc)  # raises unless the outcome was already decided
    except botocore.exceptions.BotoCoreError as exc:
        _note_unreachable(plan, run, exc)  # raises unless the outcome was already decided
    finally:
        with signals_deferred():
            _note_lease(run, lease)
            result = store_record(ctx, ledger, local, plan, run)
    return result


# ---- the steps ------------------------------------------------------------------------------------


def _check_people(ctx: Context, plan: Plan) -> None:
    """Values typed by people go into the record: refuse bad ones (exit 2) before anything changes."""
    if plan.approver is not None:
        validate_person_text(plan.approver, "--approver")
    validate_person_text(ctx.identity.actor, "the actor (GITHUB_ACTOR or the local user)")


def _records_ready(ctx: Context) -> tuple[Ledger, LocalRecords]:
    ledger, local = ctx.ledger(), ctx.local_records()
    resend_pending(ctx, ledger, local)
    local.ensure_writable()  # the record must have somewhere to go before anything changes
    return ledger, local


def _write_intent(ctx: Context, ledger: Ledger, plan: Plan, run: Run) -> None:
    """Under the lock: settle intents a dead run left open here, then write ours. The plan is durably in the
    ledger before the first mutating call, or nothing happens (exit 4)."""
    try:
        reconcile_environment(ctx, ledger, plan.env.name, lock_held=True)
        run.intent = ledger.append(draft_intent(ctx, plan, run))
    except (LedgerError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        text = exc.one_line() if isinstance(exc, EnvPromoteError) else f"{type(exc).__name__}: {exc}"
        raise PreflightFailed(
            f"Could not write the intent record to the {plan.env.name} ledger ({text}); nothing was changed.",
            fix="Check the ledger bucket and the role's s3:PutObject on it, then run the command again.",
        ) from None
    ctx.out(
        f"intent recorded: {plan.env.name} #{run.intent['sequence']} ({plan.kind} "
        f"{short_digest(plan.image.digest)})"
    )


def _recheck_under_lock(plan: Plan, service: Mapping[str, Any]) -> None:
    """The plan may be minutes old (an approval prompt, a queue for the lock): is the service (as read under
    the lock) still as planned?

    A rollback planned over a rollout in progress (`plan.supersedes`) accepts exactly that rollout: the same
    deployments as when planned, with the superseded one still ECS's primary; anything else is refused."""
    busy = busy_deployment(service)
    if busy is not None:
        superseded = plan.supersedes
        listed = {str(d.get("id")) for d in service.get("deployments", [])}
        primary = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), None)
        accepted = (
            superseded is not None
            and primary is not None
            and primary.get("id") == superseded.deployment_id
            and listed <= set(plan.running_deployment_ids)
        )
        if not accepted:
            planned = f" (the plan supersedes {superseded.deployment_id})" if superseded else ""
            raise PreflightFailed(
                f"A deployment started on {plan.env.service} since the plan was made: {busy.get('id')}{planned}.",
                fix="Wait for it to finish and run the command again.",
            )
    if plan.running_taskdef_arn and service.get("taskDefinition") != plan.running_taskdef_arn:
        raise PreflightFailed(
            f"{plan.env.service} now runs {service.get('taskDefinition')}, not {plan.running_taskdef_arn} as planned.",
            fix="Run the command again so the plan, its diff and its rollback target are current.",
        )


def _register(ctx: Context, plan: Plan, run: Run) -> None:
    registered = ctx.env_client(plan.env, "ecs").register_task_definition(**plan.taskdef)["taskDefinition"]
    run.new_arn = str(registered["taskDefinitionArn"])
    ctx.out(f"registered {run.new_arn}")


def _update_service(ctx: Context, plan: Plan, run: Run) -> None:
    env = plan.env
    assert run.new_arn is not None
    ecs = ctx.env_client(env, "ecs")
    updated = ecs.update_service(
        cluster=env.cluster, service=env.service, taskDefinition=run.new_arn, **update_kwargs(ctx, env)
    )["service"]
    deployment_id = find_deployment_for(updated, run.new_arn) or find_deployment_for(
        describe_service(ctx, env), run.new_arn
    )
    if deployment_id is None:
        run.status = "timed_out"
        run.reasons = [f"ECS listed no deployment for {run.new_arn} after UpdateService; outcome unknown"]
        raise RolloutTimedOut(
            f"ECS listed no deployment for {run.new_arn}; the outcome cannot be followed.",
            fix=f"Check the service in ECS; 'invoke drift --env {env.name}' shows what runs.",
        )
    run.deployment_id = deployment_id


def _watch(ctx: Context, plan: Plan, run: Run, timeout: float) -> None:
    """Follow our deployment until ECS decides or the timeout passes (events + safety poll, or polling)."""
    env = plan.env
    assert run.new_arn is not None
    assert run.deployment_id is not None
    use_events = ctx.watch_mode != "poll" and env.events_queue is not None
    how = f"ECS events from {env.events_queue} + safety poll" if use_events else "adaptive polling"
    ctx.out(f"watching deployment {run.deployment_id} via {how} (timeout {timeout:.0f}s)")
    target = WatchTarget(
        run.deployment_id,
        run.new_arn,
        plan.running_taskdef_arn,
        run.started,
        frozenset(plan.running_deployment_ids),
    )
    with closing(progress_printer(ctx.out)) as show:
        watcher = RolloutWatcher(
            ctx.env_client(env, "ecs"), env.cluster, env.service, policy=ctx.poll_policy, on_progress=show
        )
        follower: RolloutWatcher | EventWatcher = watcher
        if use_events and env.events_queue is not None:
            follower = EventWatcher(watcher, ctx.env_client(env, "sqs"), env.events_queue)
        staged = watch_strategy(ctx, plan, run, target, timeout, show)  # blue/green, canary, linear
        outcome: Outcome = staged or follower.watch(target, timeout=timeout)
    run.outcome = outcome
    run.status = outcome.status
    run.reasons = [f"{outcome.summary} (decided by {outcome.source})", *outcome.reasons]


def _after_outcome(ctx: Context, plan: Plan, run: Run, *, rollback_on_timeout: bool) -> None:
    """Put the previous definition back after a timeout (if asked); name the ECS service deployment.

    Promoted digests are tagged against expiry by the promotion tagger Lambda (infra) from the ledger's
    record, not here: deploy roles hold no ECR write."""
    env = plan.env
    if run.status == "timed_out" and rollback_on_timeout and plan.running_taskdef_arn:
        ctx.env_client(env, "ecs").update_service(
            cluster=env.cluster, service=env.service, taskDefinition=plan.running_taskdef_arn
        )
        run.reasons.append(f"envpromote rolled back to {plan.running_taskdef_arn} after the timeout")
    if run.outcome is not None and run.outcome.took_over_by:
        note = (
            f"another deployment ({run.outcome.took_over_by}) took over ours; the outcome is what ECS ends up "
            "running"
        )
        if not any(run.outcome.took_over_by in reason for reason in run.reasons):
            run.reasons.append(note)
    run.service_deployment_arn = _service_deployment_arn(ctx, plan, run)


def _service_deployment_arn(ctx: Context, plan: Plan, run: Run) -> str | None:
    """Our UpdateService's service deployment (ListServiceDeployments where offered), for the gates' check."""
    if run.deployment_id is None or run.new_arn is None:
        return None
    env = plan.env
    ecs = ctx.env_client(env, "ecs")
    try:
        with ThreadPoolExecutor(1, "envpromote-read") as pool:  # the two reads travel together
            service_read = pool.submit(describe_service, ctx, env)
            briefs = ecs.list_service_deployments(cluster=env.cluster, service=env.service).get(
                "serviceDeployments", []
            )
            service = service_read.result()
    except (
        AttributeError,
        EnvPromoteError,
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ):
        return None  # not offered (older endpoints): the gate says what it could not check
    target = WatchTarget(run.deployment_id, run.new_arn, plan.running_taskdef_arn, run.started)
    ours = our_service_deployment(briefs, service, target)
    return str(ours["serviceDeploymentArn"]) if ours and ours.get("serviceDeploymentArn") else None


def _note_lease(run: Run, lease: Lease) -> None:
    """A lease lost after the update cannot undo it; the record says so (it is still written)."""
    if lease.lost and run.new_arn is not None:
        reason = lease.lost_reason or f"no heartbeat succeeded for {lease.seconds_since_renewal():.0f}s"
        run.reasons.append(f"the {lease.environment} lock was lost during the run ({reason})")


# ---- how a run that did not reach its outcome is recorded -----------------------------------------


def _note_interrupt(run: Run) -> None:
    if run.outcome is None:
        run.status = "aborted"
        run.reasons = ["interrupted during the rollout; ECS may still be rolling out - run 'invoke drift'"]
    else:
        run.reasons.append("interrupted after ECS had decided; the outcome above stands")


def _note_refused_by_aws(run: Run, exc: botocore.exceptions.ClientError) -> None:
    error = exc.response.get("Error", {})
    text = f"{error.get('Code')}: {error.get('Message', '')}"
    if run.outcome is not None:
        run.reasons.append(f"after the outcome, AWS refused {text}")
        return
    run.status, run.reasons = "aborted", [f"AWS refused {text}"]
    raise PreflightFailed(
        f"AWS refused the release: {text}.",
        fix="Check the role's permissions for RegisterTaskDefinition/UpdateService and iam:PassRole.",
    ) from None


def _note_unreachable(plan: Plan, run: Run, exc: botocore.exceptions.BotoCoreError) -> None:
    if run.outcome is not None:
        run.reasons.append(f"after the outcome, AWS could not be reached ({exc})")
        return
    if run.new_arn is None:
        run.status = "aborted"
        run.reasons = [f"AWS could not be reached before anything changed ({exc})"]
        raise PreflightFailed(
            f"AWS could not be reached: {exc}.", fix="Check the network and AWS_ENDPOINT_URL; try again."
        ) from None
    run.status = "timed_out"
    run.reasons = [f"outcome unknown: lost contact with AWS after registering {run.new_arn} ({exc})"]
    raise RolloutTimedOut(
        f"{plan.kind} of {short_digest(plan.image.digest)} to {plan.env.name}: outcome unknown: AWS could not be "
        f"reached after the update ({exc}).",
        fix=f"Run 'invoke drift --env {plan.env.name}' once AWS answers; ECS may still be rolling out.",
    ) from None


_OUTCOME_FIXES = {
    "rolled_back": "ECS restored the previous release; read the reasons above, fix forward and rebuild.",
    "failed": "Read the reasons above; another deployment replaced ours.",
    "timed_out": "Check the service in ECS; 'invoke drift' shows what runs.",
}


def raise_for_outcome(plan: Plan, run: Run) -> None:
    """The documented exit code for a recorded outcome: 5 rolled back/failed, 6 rollback failed, 7 timed out."""
    if run.status == "success":
        return
    summary = run.outcome.summary if run.outcome else run.status
    message = (
        f"{plan.kind} of {short_digest(plan.image.digest)} to {plan.env.name}: "
        f"{run.status.replace('_', ' ')}: {summary}."
    )
    fix = _OUTCOME_FIXES.get(run.status, "Check the service in ECS.")
    if plan.kind == "rollback":
        raise RollbackFailed(message, fix=fix)
    if run.status == "timed_out":
        raise RolloutTimedOut(message, fix=fix)
    raise DeploymentFailed(message, reasons=run.outcome.reasons if run.outcome else [], fix=fix)


# ---- signals --------------------------------------------------------------------------------------


@contextmanager
def signals_deferred() -> Iterator[None]:
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


@contextmanager
def sigterm_aborts() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) aborts like Ctrl-C, so the record is written and the lock released."""

    def handler(_signum: int, _frame: Any) -> NoReturn:
        raise Aborted()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
