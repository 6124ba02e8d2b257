"""Every environment of the chain in one read-only view: what runs, what the ledger says, what is under way.

Per environment: the running digest (and whether it is the ledger's last success), since when it runs, the last
record (outcome, approver), a rollout in progress (state, running/desired), the lock holder, open intents, and
what the next promotion would take (the upstream's last success not yet here). ``problems`` names what an alert
should fire on; :data:`PROBLEM_EXIT_CODES` maps each to the documented exit code ``status --check`` uses.

Calls per environment: DescribeServices, DescribeTaskDefinition, the ledger's head and newest record, the lock's
GetItem. Nothing is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from envpromote.errors import (
    EXIT_LOCKED,
    EXIT_PREFLIGHT_FAILED,
    EXIT_TIMED_OUT,
    EXIT_UNEXPECTED,
    EnvPromoteError,
)
from envpromote.ledger import Record, utc_now
from envpromote.release.context import Context, describe_service
from envpromote.release.plan import busy_deployment, running_digest, running_task_definition

STUCK_AFTER_S = 1800.0  # a rollout in progress for longer than this is reported as stuck

# `status --check` exits with the code of the first problem found in this order (README, "Exit codes").
PROBLEM_EXIT_CODES: dict[str, int] = {
    "unreachable": EXIT_PREFLIGHT_FAILED,  # the service or the ledger could not be read
    "stuck": EXIT_TIMED_OUT,  # a rollout in progress for longer than --stuck-after
    "unresolved": EXIT_TIMED_OUT,  # an intent no record resolves, and nobody holds the lock
    "drift": EXIT_UNEXPECTED,  # ECS runs another digest than the ledger's last success (as `drift` exits 1)
    "locked": EXIT_LOCKED,  # someone holds the environment's lock
}


@dataclass(frozen=True)
class Rollout:
    deployment_id: str
    state: str
    running: int
    desired: int
    pending: int
    failed: int
    started_at: str | None
    seconds: float | None
    stage: str | None = (
        None  # blue/green, canary, linear: the service deployment's lifecycle stage (and pause)
    )


@dataclass(frozen=True)
class EnvStatus:
    environment: str
    upstream: str | None
    running_digest: str | None = None
    task_definition_arn: str | None = None
    running_since: str | None = None
    age_seconds: float | None = None
    ledger_digest: str | None = None
    last_record: dict[str, Any] | None = None
    rollout: Rollout | None = None
    lock_holder: str | None = None
    lock: dict[str, Any] | None = None
    unresolved_intents: list[dict[str, Any]] = field(default_factory=list)
    next_promotion: str | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def is_last_success(self) -> bool:
        return self.running_digest is not None and self.running_digest == self.ledger_digest

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["running_is_last_success"] = self.is_last_success
        return data


@dataclass(frozen=True)
class StatusReport:
    environments: list[EnvStatus]

    @property
    def problems(self) -> list[tuple[str, str]]:
        return [(e.environment, p) for e in self.environments for p in e.problems]

    def exit_code(self) -> int:
        """0 when nothing is wrong, else the code of the most pressing problem (PROBLEM_EXIT_CODES order)."""
        found = {p for _, p in self.problems}
        return next((code for name, code in PROBLEM_EXIT_CODES.items() if name in found), 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "environments": [e.to_json() for e in self.environments],
            "problems": [{"environment": env, "problem": p} for env, p in self.problems],
            "exit_code_with_check": self.exit_code(),
        }


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else None


def _seconds_since(value: Any, now: dt.datetime) -> float | None:
    if not isinstance(value, dt.datetime):
        return None
    return max(0.0, (now - value.astimezone(dt.UTC)).total_seconds())


def _primary(service: Mapping[str, Any]) -> Mapping[str, Any]:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})


def _rollout(service: Mapping[str, Any], now: dt.datetime) -> Rollout | None:
    busy = busy_deployment(service)
    if busy is None:
        return None
    primary = _primary(service)
    created = primary.get("createdAt")
    return Rollout(
        deployment_id=str(primary.get("id") or busy.get("id", "?")),
        state=str(primary.get("rolloutState") or busy.get("rolloutState") or "?"),
        running=int(primary.get("runningCount", 0)),
        desired=int(primary.get("desiredCount", 0)),
        pending=int(primary.get("pendingCount", 0)),
        failed=int(primary.get("failedTasks", 0)),
        started_at=_iso(created),
        seconds=_seconds_since(created, now),
    )


def _record_summary(record: Record) -> dict[str, Any]:
    keys = ("sequence", "kind", "status", "digest", "approver", "actor", "finished_at", "source_environment")
    return {k: record.get(k) for k in keys}


def environment_status(
    ctx: Context, name: str, *, upstream_success: str | None, stuck_after: float = STUCK_AFTER_S
) -> EnvStatus:
    """One environment's view; `upstream_success` is the upstream's last successful digest (None: none)."""
    env = ctx.config.env(name)
    now = utc_now()
    base = EnvStatus(environment=env.name, upstream=env.upstream)
    try:
        service = describe_service(ctx, env)
        arn, taskdef = running_task_definition(ctx, env, service)
        ledger = ctx.ledger()
        last = ledger.last_success(env.name)
        newest = ledger.history(env.name, limit=1)
        intents = ledger.unresolved_intents(env.name)
        held = ctx.lock().holder(env.name)
    except EnvPromoteError as exc:
        return EnvStatus(
            environment=env.name, upstream=env.upstream, error=exc.one_line(), problems=["unreachable"]
        )
    created = _primary(service).get("createdAt")
    rollout = _rollout(service, now)
    if rollout is not None and env.strategy.kind != "rolling":
        from envpromote.verify import stage_status

        rollout = dataclasses.replace(
            rollout, stage=stage_status(ctx.env_client(env, "ecs"), env.cluster, env.service)
        )
    ledger_digest = str(last["digest"]) if last else None
    digest = running_digest(env, taskdef)
    problems: list[str] = []
    if rollout is not None and rollout.seconds is not None and rollout.seconds > stuck_after:
        problems.append("stuck")
    if intents and held is None:
        problems.append("unresolved")
    if rollout is None and held is None and digest != ledger_digest:
        problems.append("drift")
    if held is not None:
        problems.append("locked")
    pending = upstream_success if upstream_success and upstream_success != ledger_digest else None
    return EnvStatus(
        environment=base.environment,
        upstream=base.upstream,
        running_digest=digest,
        task_definition_arn=arn,
        running_since=_iso(created),
        age_seconds=_seconds_since(created, now),
        ledger_digest=ledger_digest,
        last_record=_record_summary(newest[-1]) if newest else None,
        rollout=rollout,
        lock_holder=held.holder if held else None,
        lock=held.to_json() if held else None,
        unresolved_intents=[_record_summary(i) for i in intents],
        next_promotion=pending,
        problems=problems,
    )


def status(ctx: Context, *, stuck_after: float = STUCK_AFTER_S) -> StatusReport:
    """The whole chain, in chain order, read-only."""
    results: list[EnvStatus] = []
    last_success: dict[str, str | None] = {}
    for name in ctx.config.chain:
        env = ctx.config.env(name)
        upstream = last_success.get(env.upstream) if env.upstream else None
        result = environment_status(ctx, name, upstream_success=upstream, stuck_after=stuck_after)
        last_success[name] = result.ledger_digest
        results.append(result)
    return StatusReport(results)
