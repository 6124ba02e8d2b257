"""Promotion rules, as pure functions over ledger records. Each refusal says which rule and how to satisfy it.

Rules for promoting `digest` into an environment with upstream U:
1. the digest has a SUCCESS record in U (else: where it did succeed, and what to promote first);
2. that success is at least the environment's soak time old;
3. U has not rolled it back or failed it since that success;
4. its build record carries a scan within the environment's thresholds (or unscanned is explicitly allowed);
5. approval is present where the environment requires it (checked by the use case, which can prompt).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from envpromote.config import Config, Environment
from envpromote.errors import BadInput, GateRefused
from envpromote.image import short_digest
from envpromote.ledger import parse_iso
from envpromote.scan import ScanSummary, exceeds


@dataclass(frozen=True)
class GateEvidence:
    """What the gate relied on, shown to approvers and stored in the record's reasons."""

    upstream_record: Mapping[str, Any] | None
    lines: tuple[str, ...]


def require_upstream(env: Environment) -> str:
    """The environment promoted from; the entry environment has none and takes deploys instead."""
    if env.upstream is None:
        raise BadInput(
            f"{env.name} is the entry environment; it has no upstream to promote from.",
            fix=f"Use 'invoke deploy --env {env.name} --digest <digest>'.",
        )
    return env.upstream


def refuse_unscanned_override(env: Environment, allow_unscanned: bool) -> None:
    """--allow-unscanned never reaches production."""
    if allow_unscanned and env.is_production:
        raise BadInput(
            f"--allow-unscanned is not available for {env.name}.",
            fix="Scan the image ('invoke scan --image ...' during the build) and promote again.",
        )


def upstream_success(
    config: Config,
    env: Environment,
    digest: str,
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    now: dt.datetime,
) -> GateEvidence:
    """Rules 1-3. `histories` maps environment name -> its records, oldest first."""
    upstream = require_upstream(env)
    records = list(histories.get(upstream, ()))
    success_index = None
    for index in range(len(records) - 1, -1, -1):
        record = records[index]
        if record["digest"] == digest and record["status"] == "success":
            success_index = index
            break
    if success_index is None:
        reached = [
            name
            for name in config.chain
            if any(r["digest"] == digest and r["status"] == "success" for r in histories.get(name, ()))
        ]
        if reached:
            last = reached[-1]
            next_env = config.downstream_of(last)
            target = next_env.name if next_env else upstream
            raise GateRefused(
                f"Digest {short_digest(digest)} has succeeded only in {', '.join(reached)}; "
                f"promoting to {env.name} would skip {upstream}.",
                fix=f"Promote it to {target} first: 'invoke promote --env {target} --digest {digest}'.",
            )
        raise GateRefused(
            f"Digest {short_digest(digest)} has no successful release in {upstream}, the upstream of {env.name}.",
            fix=f"Deploy or promote it to {upstream} first, or pick a digest from 'invoke history --env {upstream}'.",
        )
    success = records[success_index]
    finished = parse_iso(success["finished_at"])
    soaked = (now - finished).total_seconds()
    if soaked < env.soak_seconds:
        ready = finished + dt.timedelta(seconds=env.soak_seconds)
        raise GateRefused(
            f"Digest {short_digest(digest)} has soaked {int(soaked)}s in {upstream}; {env.name} needs {env.soak_seconds}s.",
            fix=f"Wait until {ready.strftime('%Y-%m-%dT%H:%M:%SZ')} and promote again.",
        )
    for later in records[success_index + 1 :]:
        rolled_away = later["kind"] == "rollback" and later.get("previous_digest") == digest
        failed_again = later["digest"] == digest and later["status"] in {"failed", "rolled_back"}
        if rolled_away or failed_again:
            what = "rolled back" if rolled_away else f"recorded {later['status']}"
            raise GateRefused(
                f"Digest {short_digest(digest)} was {what} in {upstream} at {later['finished_at']} after it succeeded there.",
                fix=f"Fix forward: build a new image and promote it through {upstream}.",
            )
    lines = (
        f"{upstream}: success #{success['sequence']} at {success['finished_at']} "
        f"(soaked {int(soaked)}s >= {env.soak_seconds}s), not rolled back since",
    )
    return GateEvidence(upstream_record=success, lines=lines)


def scan_gate(
    env: Environment,
    digest: str,
    build: Mapping[str, Any] | None,
    *,
    allow_unscanned: bool,
) -> tuple[Mapping[str, Any] | None, bool, list[str]]:
    """Rule 4. Returns (scan summary, unscanned-allowed-and-used, evidence lines) or raises GateRefused."""
    policy = env.scan
    scan = build.get("scan") if build else None
    refuse_unscanned_override(env, allow_unscanned)
    if not scan:
        if allow_unscanned or policy.allow_unscanned:
            return (
                None,
                True,
                [f"scan: no scan record for {short_digest(digest)}; unscanned allowed for {env.name}"],
            )
        raise GateRefused(
            f"Digest {short_digest(digest)} has no scan record; {env.name} requires one.",
            fix="Record the build's scan ('invoke ledger.record-build --digest ... --scan') and promote again.",
        )
    try:
        summary = ScanSummary.from_dict(scan)
    except BadInput as exc:
        raise GateRefused(
            f"Digest {short_digest(digest)} has an unreadable scan record: {exc.message}", fix=exc.fix
        ) from None
    violations = exceeds(summary, policy.max_by_severity, allow_partial=policy.accept_partial)
    if violations:
        fix = "Fix the findings (or document an ignore with reason and expiry in .trivyignore), rebuild, promote."
        if summary.partial and not any(summary.counts.get(sev, 0) for sev in policy.max_by_severity):
            fix = "Scan where trivy's vulnerability DB is available (a CI runner) and record that scan for the build."
        raise GateRefused(
            f"Digest {short_digest(digest)} exceeds {env.name}'s scan thresholds: {'; '.join(violations)}.",
            fix=fix,
        )
    counts = ", ".join(f"{sev} {summary.counts.get(sev, 0)}" for sev in ("CRITICAL", "HIGH", "MEDIUM", "LOW"))
    partial = " (partial: no vulnerability data, accepted by config)" if summary.partial else ""
    return scan, False, [f"scan: {counts}{partial} within {env.name}'s thresholds"]
