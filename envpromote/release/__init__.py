"""Releasing one image digest into an ECS environment: plan, approve, execute, and the read-only queries.

Planning refuses with read-only calls only (input, gates, preflight, render, approval); execution then takes the
environment's lock and makes the first mutating call. Whatever the rollout's outcome - Ctrl-C and SIGTERM
included - a record goes to the ledger, to a local JSON copy and to the GitHub step summary.

Modules: context (identity, approval, clients, option checks) -> plan (preflight, gates, the frozen Plan) ->
approve (prompt and text) -> execute (the mutating steps) -> records (draft, store, re-send) -> summary
(step-summary Markdown); queries (verify, diff, drift, history, record_build) reads through plan.
"""

from __future__ import annotations

from envpromote.ledger import utc_now  # the records' clock; re-exported for callers that time a watch
from envpromote.release.approve import approval_text, terminal_prompt
from envpromote.release.context import (
    DEFAULT_TIMEOUT_S,
    Approval,
    Context,
    Identity,
    check_watch_mode,
    ensure_time,
)
from envpromote.release.execute import Aborted, execute, sigterm_aborts
from envpromote.release.plan import Plan, busy_deployment, plan_deploy, plan_promote, plan_rollback
from envpromote.release.queries import (
    DiffReport,
    DriftReport,
    VerifyReport,
    diff,
    drift,
    history,
    record_build,
    verify,
)
from envpromote.release.records import ReleaseResult
from envpromote.release.summary import summary_markdown

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "Aborted",
    "Approval",
    "Context",
    "DiffReport",
    "DriftReport",
    "Identity",
    "Plan",
    "ReleaseResult",
    "VerifyReport",
    "approval_text",
    "busy_deployment",
    "check_watch_mode",
    "diff",
    "drift",
    "ensure_time",
    "execute",
    "history",
    "plan_deploy",
    "plan_promote",
    "plan_rollback",
    "record_build",
    "sigterm_aborts",
    "summary_markdown",
    "terminal_prompt",
    "utc_now",
    "verify",
]
