"""After a terminal outcome: the notifications (sent before the final record is sealed, so the record says
whether the team was told) and the step summary (the digest's path through the chain, then the record). In CI a
gate refusal is announced too. Nothing here can change an outcome, an exit code or lose a record: the draft is kept
locally before anyone is notified, and every failure here is reported, never raised."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from envpromote import gha
from envpromote.errors import GateRefused
from envpromote.ledger import Ledger, Record, iso, safe_text, utc_now
from envpromote.release.context import Context
from envpromote.release.summary import summary_markdown

_FULL_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def promotion_graph(ctx: Context, ledger: Ledger, digest: str) -> str:
    """A Mermaid block of the digest's path: its newest record in each environment (one indexed read each)."""
    from envpromote.board.graph import promotion_graph_markdown

    records: dict[str, list[Record]] = {}
    for name in ctx.config.chain:
        try:
            found = ledger.last_for_digest(name, digest)
        except Exception as exc:
            ctx.out(f"step summary: no promotion graph ({type(exc).__name__}: {exc})")
            return ""
        records[name] = [found] if found else []
    return promotion_graph_markdown(ctx.config.chain, records, digest)


def step_summary(
    ctx: Context, ledger: Ledger | None, record: Mapping[str, Any], *, warning: str | None
) -> None:
    if not os.environ.get("GITHUB_STEP_SUMMARY"):
        return  # outside GitHub Actions: nothing reads it, so no ledger reads for the graph either
    graph = promotion_graph(ctx, ledger, str(record["digest"])) if ledger and record.get("digest") else ""
    gha.append_summary(graph + "\n" + summary_markdown(record, warning=warning))


@dataclass
class Delivery:
    """What the notifications of one outcome did, as the record notes it (``notifications``)."""

    results: list[dict[str, Any]] = field(default_factory=list)
    sequence: int | None = None  # the sequence the message's board link names (None: no link)


def _noted(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result as the record schema takes it: the target as configured (never a URL), bounded text."""
    error = result.get("error")
    return {
        "target": safe_text(str(result["target"]))[:600],
        "ok": bool(result["ok"]),
        "attempts": min(10, max(0, int(result["attempts"]))),
        "error": safe_text(str(error))[:300] if error is not None else None,
    }


def _board_url() -> str | None:
    from envpromote.notify.send import BOARD_URL_VAR

    return os.environ.get(BOARD_URL_VAR) or None


def notify_draft(ctx: Context, ledger: Ledger, draft: Mapping[str, Any]) -> Delivery:
    """Send a final record's outcome to its environment's `notify` targets before the record is sealed.

    The environment's lock is held, so the record will take the sequence after the head's: that is the board
    page the message links to (one GET, only when the board is published). Failures are reported, never raised.
    """
    env = ctx.config.env(str(draft["environment"]))
    if not env.notify:
        return Delivery()
    from envpromote.notify import notify_outcome

    sequence = None
    if _board_url():
        try:
            sequence = ledger.next_sequence(env.name)
        except Exception as exc:  # the ledger write that follows reports the ledger; the link is left out
            ctx.out(f"notify: no board link ({type(exc).__name__}: {exc})")
    try:
        results = notify_outcome(
            env.notify, draft, clients=ctx.clients(env.region, env.role_arn), sequence=sequence
        )
    except Exception as exc:  # notify_outcome never raises; this is the belt to its braces
        ctx.out(f"WARNING: notifications not sent ({type(exc).__name__}: {exc})")
        return Delivery(sequence=sequence)
    for result in results:
        if not result.ok:
            ctx.out(f"WARNING: notification to {result.target} failed after {result.attempts} attempt(s)")
    return Delivery([_noted(result.to_dict()) for result in results], sequence)


def check_link(ctx: Context, delivery: Delivery, record: Mapping[str, Any]) -> str | None:
    """A warning when the record did not land where the message's board link points (the lock was broken and
    someone appended in between); None when the link is right or there was none."""
    if delivery.sequence is None or not any(n["ok"] for n in delivery.results):
        return None
    if int(record["sequence"]) == delivery.sequence:
        return None
    warning = (
        f"the notification's board link names {record['environment']} #{delivery.sequence} but the record was "
        f"appended as #{record['sequence']} (another writer appended in between: was the lock broken?); "
        f"the link in the message is stale"
    )
    ctx.out(f"WARNING: {warning}")
    gha.annotate("warning", warning)
    return warning


# ---- gate refusals in CI --------------------------------------------------------------------------


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("CI", "").lower() == "true" or env.get("GITHUB_ACTIONS", "").lower() == "true"


@contextmanager
def refusal_announced(
    ctx: Context, env_name: str, kind: str, digest: str | None, *, dry_run: bool = False
) -> Iterator[None]:
    """Around planning a deploy or promotion: a GateRefused (exit 3) in CI is announced to `env_name`'s notify
    targets, then re-raised unchanged. Outside CI nothing is sent (a person at a terminal sees the refusal), nor
    for a dry run (a preview, not a release attempt); bad input (exit 2) and every other error pass through."""
    try:
        yield
    except GateRefused as exc:
        if in_ci() and not dry_run:
            announce_refusal(ctx, env_name, kind, digest, exc)
        raise


def refusal(ctx: Context, env_name: str, kind: str, digest: str | None, exc: GateRefused) -> dict[str, Any]:
    """What a refusal message says (not a ledger record: a refusal changes nothing, so nothing is appended).
    The digest defaults to the upstream's last success (what `promote` without --digest offers); the commit
    comes from the digest's build record, else the run's commit. Reads only, each best effort."""
    env = ctx.config.env(env_name)
    commit = ctx.identity.commit
    try:
        ledger = ctx.ledger()
        if not digest and kind == "promote" and env.upstream:
            last = ledger.last_success(env.upstream)
            digest = str(last["digest"]) if last else None
        if digest and _FULL_DIGEST.match(digest):
            build = ledger.latest_build(digest) or {}
            commit = str(build.get("source_commit") or "") or commit
    except Exception as error:
        ctx.out(f"notify: refusal without its digest's details ({type(error).__name__}: {error})")
    reasons = [exc.message, *([f"Fix: {exc.fix}"] if exc.fix else [])]
    return {
        "environment": env.name,
        "kind": kind,
        "status": "refused",
        "digest": digest,
        "source_commit": commit,
        "actor": ctx.identity.actor,
        "approver": None,
        "refused_at": iso(utc_now()),
        "reasons": [safe_text(" ".join(r.split()))[:2000] for r in reasons],
        "run_id": ctx.identity.run_id,
        "run_attempt": ctx.identity.run_attempt,
        "workflow_ref": ctx.identity.workflow_ref,
    }


def announce_refusal(
    ctx: Context, env_name: str, kind: str, digest: str | None, exc: GateRefused
) -> list[dict[str, Any]]:
    """Send a refusal to the environment's notify targets; never raises (the refusal's exit 3 stands)."""
    try:
        env = ctx.config.env(env_name)
        if not env.notify:
            return []
        from envpromote.notify import notify_outcome

        message = refusal(ctx, env_name, kind, digest, exc)
        results = notify_outcome(env.notify, message, clients=ctx.clients(env.region, env.role_arn))
    except Exception as error:
        ctx.out(f"WARNING: the refusal was not announced ({type(error).__name__}: {error})")
        return []
    for result in results:
        ctx.out(
            f"notify: refusal sent to {result.target}"
            if result.ok
            else f"WARNING: the refusal did not reach {result.target} ({result.error})"
        )
    return [_noted(result.to_dict()) for result in results]
