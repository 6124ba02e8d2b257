"""Release records: drafted from a run whatever way it ended, kept locally first, then sent to the ledger.

A record that cannot reach the ledger stays in the local `pending/` directory; it is re-sent before the next
command plans anything, and no gate reads the ledger while a record for its environments is still kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import botocore.exceptions

from envpromote import gha
from envpromote.errors import EnvPromoteError, LedgerError, PreflightFailed
from envpromote.ledger import Ledger, LocalRecords, Record, new_record, sync_pending, utc_now
from envpromote.release.strategy_rollout import record_fields
from envpromote.release.summary import summary_markdown
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


@dataclass
class ReleaseResult:
    plan: Plan
    dry_run: bool
    record: Record | None = None
    record_path: Path | None = None
    outcome: Outcome | None = None
    ledger_warning: str | None = None
    api_calls: dict[str, int] = field(default_factory=dict)


def resend_pending(ctx: Context, ledger: Ledger, local: LocalRecords) -> None:
    """Send records kept after an earlier failed write; a failure here is reported, not raised."""
    try:
        for record in sync_pending(ledger, local):
            ctx.out(f"ledger: re-sent kept record {record['environment']} #{record['sequence']}")
    except LedgerError as exc:
        ctx.out(f"ledger: kept records still not sent ({exc.message})")


def ledger_ready(ctx: Context, *env_names: str) -> Ledger:
    """Kept records are re-sent before any gate reads the ledger; if they cannot be, nothing is planned."""
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
    return ledger


def draft_record(ctx: Context, plan: Plan, run: Run) -> Record:
    """The record of a run, not yet numbered or chained (the ledger does that on append)."""
    return new_record(
        environment=plan.env.name,
        kind=plan.kind,
        status=run.status,
        digest=plan.image.digest,
        image_uri=plan.image.uri,
        started_at=run.started,
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
        **record_fields(plan, run),
    )


def store_record(ctx: Context, ledger: Ledger, local: LocalRecords, plan: Plan, run: Run) -> ReleaseResult:
    """Write-ahead: the draft is kept locally first, then sent; it leaves pending/ only once the ledger has it."""
    draft = draft_record(ctx, plan, run)
    result = ReleaseResult(
        plan=plan, dry_run=False, outcome=run.outcome, api_calls=dict(ctx.counter.requests)
    )
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
        gha.append_summary(summary_markdown(draft, warning=result.ledger_warning))
        gha.set_output("record_path", str(pending))
        return result
    result.record = record
    result.record_path = local.write(record)
    pending.unlink(missing_ok=True)
    gha.append_summary(summary_markdown(record))
    gha.set_output("record_path", str(result.record_path))
    return result
