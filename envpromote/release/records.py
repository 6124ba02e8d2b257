"""Release records: the write-ahead intent, then the final record drafted from a run whatever way it ended.

The intent (status ``in_progress``) is appended before the first mutating AWS call and takes the run's place in
history; if it cannot be written nothing is changed (exit 4). The final record ``resolves`` it. A final record
that cannot reach the ledger stays in the local `pending/` directory and is re-sent (as the intent's resolution,
at the intent's place) before the next command plans anything; no gate reads the ledger while a record for its
environments is still kept, and an intent left open by a dead run is reconciled from ECS (release/reconcile.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from envpromote import gha
from envpromote.errors import EnvPromoteError, LedgerError, PreflightFailed
from envpromote.ledger import Ledger, LocalRecords, Record, new_record, sync_pending, utc_now
from envpromote.release import announce
from envpromote.release.strategy_rollout import record_fields
from envpromote.rollout import Outcome

if TYPE_CHECKING:
    from envpromote.release.context import Context
    from envpromote.release.plan import Plan


@dataclass
class Run:
    """What happened so far; the record is written from this whatever way the rollout ends."""

    started: dt.datetime = field(default_factory=utc_now)
    status: str = "aborted"
    reasons: list[str] = field(default_factory=list)
    outcome: Outcome | None = None
    new_arn: str | None = None
    deployment_id: str | None = None
    intent: Record | None = None  # the appended in_progress record this run resolves
    final_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # one id, however often it is re-sent
    service_deployment_arn: str | None = None


@dataclass(frozen=True)
class ReleaseResult:
    """A finished release: its final record, in the ledger or (with `ledger_warning` saying why) kept pending."""

    plan: Plan
    outcome: Outcome | None
    record: Record
    record_path: Path
    api_calls: dict[str, int]  # counted before the notifications and the record's write
    notifications: list[dict[str, Any]]
    ledger_warning: str | None = None


def resend_pending(ctx: Context, ledger: Ledger, local: LocalRecords) -> None:
    """Send records kept after an earlier failed write; a failure here is reported, not raised."""
    try:
        for record in sync_pending(ledger, local):
            ctx.out(f"ledger: re-sent kept record {record['environment']} #{record['sequence']}")
    except LedgerError as exc:
        ctx.out(f"ledger: kept records still not sent ({exc.message})")


def ledger_ready(ctx: Context, *env_names: str) -> Ledger:
    """Kept records are re-sent before any gate reads the ledger; if they cannot be, nothing is planned. Then
    intents left open by dead runs in these environments are reconciled from ECS where that can be proven."""
    from envpromote.release.reconcile import reconcile_environment

    ledger = ctx.ledger()
    local = ctx.local_records()
    resend_pending(ctx, ledger, local)
    stuck = sorted(
        {str(d.get("environment")) for _, d in local.pending() if d.get("environment") in env_names}
    )
    if stuck:
        raise PreflightFailed(
            f"Release records for {', '.join(stuck)} are kept locally but not yet in the ledger.",
            fix="Run 'invoke ledger.sync' once the ledger is reachable; gates must see every record.",
        )
    for name in env_names:
        reconcile_environment(ctx, ledger, name)
    return ledger


def taskdef_sha256(taskdef: dict[str, object]) -> str:
    """The sha256 of the rendered task definition (canonical JSON): what the intent promises to register."""
    text = json.dumps(taskdef, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _release_fields(ctx: Context, plan: Plan) -> dict[str, Any]:
    """What the intent and the final record of one run both say: the plan and who runs it."""
    return {
        "environment": plan.env.name,
        "kind": plan.kind,
        "digest": plan.image.digest,
        "image_uri": plan.image.uri,
        "source_environment": plan.source_environment,
        "previous_digest": plan.previous_digest,
        "previous_task_definition_arn": plan.running_taskdef_arn,
        "actor": ctx.identity.actor,
        "approver": plan.approver,
        "run_id": ctx.identity.run_id,
        "run_attempt": ctx.identity.run_attempt,
        "workflow_ref": ctx.identity.workflow_ref,
        "source_commit": plan.source_commit,
        "allow_unscanned": plan.allow_unscanned,
        "scan": plan.scan,
    }


def draft_intent(ctx: Context, plan: Plan, run: Run) -> Record:
    """The write-ahead intent: the plan as it will be carried out (the new ARN is not known before
    RegisterTaskDefinition, so the family and the sha256 of the rendered definition stand for it)."""
    family = str(plan.taskdef.get("family", plan.env.family))
    return new_record(
        **_release_fields(ctx, plan),
        status="in_progress",
        started_at=run.started,
        finished_at=run.started,
        reasons=[
            *plan.evidence,
            f"intent: register a revision of {family} (rendered sha256 {taskdef_sha256(plan.taskdef)}) "
            f"and update {plan.env.cluster}/{plan.env.service}",
        ],
    )


def draft_record(ctx: Context, plan: Plan, run: Run) -> Record:
    """The record of a run, not yet numbered or chained (the ledger does that on append)."""
    return new_record(
        **_release_fields(ctx, plan),
        status=run.status,
        started_at=run.started,
        finished_at=utc_now(),
        task_definition_arn=run.new_arn,
        reasons=[*plan.evidence, *run.reasons],
        deployment_id=run.deployment_id,
        api_calls=dict(ctx.counter.requests),
        resolves=run.intent,
        record_id=run.final_id,
        **record_fields(plan, run),
    )


def keep_and_notify(
    ctx: Context, ledger: Ledger, local: LocalRecords, draft: Record
) -> tuple[Record, Path, announce.Delivery]:
    """Keep `draft` in pending/, tell the environment's notify targets, keep it again with the delivery results
    (``notifications``): the draft to append, its kept file and what was delivered (for `announce.check_link`).

    A process killed while notifying leaves the first draft (without ``notifications``) for 'ledger.sync';
    notify() returns within its time budget (15 s, envpromote/notify/send.py) whatever the targets do."""
    pending = local.keep_pending(draft)
    delivery = announce.notify_draft(ctx, ledger, draft)
    if delivery.results:
        draft = {**draft, "notifications": delivery.results}
        try:
            pending = local.keep_pending(draft)  # the same file (finished_at and record_id are unchanged)
        except OSError as exc:  # the first draft stays kept, only without the delivery results
            ctx.out(f"WARNING: could not note the deliveries in the kept draft {pending} ({exc})")
    return draft, pending, delivery


def store_record(ctx: Context, ledger: Ledger, local: LocalRecords, plan: Plan, run: Run) -> ReleaseResult:
    """Write-ahead: the draft is kept locally, the team is told, the draft with the delivery results is kept
    (`keep_and_notify`) and sent; it leaves pending/ only once the ledger has it."""
    api_calls = dict(ctx.counter.requests)
    draft, pending, delivery = keep_and_notify(ctx, ledger, local, draft_record(ctx, plan, run))
    try:
        record = ledger.append(draft)
    except (LedgerError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        text = exc.one_line() if isinstance(exc, EnvPromoteError) else f"{type(exc).__name__}: {exc}"
        warning = f"ledger write failed ({text}); record kept at {pending}; run 'invoke ledger.sync'"
        ctx.out(f"WARNING: {warning}")
        gha.annotate("warning", warning)
        announce.step_summary(ctx, None, draft, warning=warning)
        gha.set_output("record_path", str(pending))
        return ReleaseResult(
            plan, run.outcome, draft, pending, api_calls, delivery.results, ledger_warning=warning
        )
    record_path = local.write(record)
    pending.unlink(missing_ok=True)
    announce.check_link(ctx, delivery, record)
    announce.step_summary(ctx, ledger, record, warning=None)
    gha.set_output("record_path", str(record_path))
    return ReleaseResult(plan, run.outcome, record, record_path, api_calls, delivery.results)
