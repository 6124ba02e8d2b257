"""After a terminal outcome: the step summary (the digest's path through the chain, then the record) and the
notifications. Neither can change the outcome or lose the record: the record is already stored (or kept)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from envpromote import gha
from envpromote.ledger import Ledger, Record
from envpromote.release.context import Context
from envpromote.release.summary import summary_markdown


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


def notify(ctx: Context, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Send the outcome to the environment's `notify` targets; failures are reported, never raised."""
    env = ctx.config.env(str(record["environment"]))
    if not env.notify:
        return []
    from envpromote.notify import notify_outcome

    results = notify_outcome(env.notify, record, clients=ctx.clients(env.region, env.role_arn))
    for result in results:
        if not result.ok:
            ctx.out(f"WARNING: notification to {result.target} failed after {result.attempts} attempt(s)")
    return [result.to_dict() for result in results]
