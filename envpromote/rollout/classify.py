"""Pure: one DescribeServices answer -> what it says about OUR deployment.

The ServicesStable waiter is not used: it succeeds whenever a single deployment is at its desired count, which is
also the state after a circuit-breaker rollback completed. Instead :func:`classify` reads the deployment list
for *our* deployment id and ends the wait on the first conclusive signal:

- success: our deployment is PRIMARY, COMPLETED, and running == desired - or, when an out-of-band deployment
  of OUR task definition took over (a ``force-new-deployment`` during the watch), that one is;
- rolled back: our deployment is FAILED, or another deployment on the previous task definition became PRIMARY;
- failed: another deployment on some other task definition replaced ours (ECS now runs something else).

Everything here is a pure function of its arguments; the watchers (``poll.py``, ``events.py``) do the I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_DEPLOYMENT_ID = re.compile(r"ecs-svc/\d+")


@dataclass(frozen=True)
class WatchTarget:
    """The one deployment a watch follows: what our UpdateService created and what it replaced.

    `stale_ids` are the deployments listed before our UpdateService (a read that still shows only those is stale,
    and their events and reasons are not ours). `started_at` is when our rollout started (events before it are
    an earlier rollout's).
    """

    deployment_id: str
    task_definition_arn: str
    previous_task_definition: str | None
    started_at: dt.datetime
    stale_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Observation:
    """What one look at ECS showed. `verdict` is None while the rollout is still undecided.

    `deployment` is the deployment the observation is about: ours, or the one that took over from it.
    """

    verdict: str | None  # success | rolled_back | failed | None
    summary: str
    reasons: tuple[str, ...] = ()
    deployment: Mapping[str, Any] | None = None
    took_over_by: str | None = None


@dataclass
class Outcome:
    status: str  # success | rolled_back | rollback_failed | failed | timed_out | aborted | paused
    deployment_id: str
    summary: str
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    source: str = "poll"
    errors: int = 0
    took_over_by: str | None = (
        None  # an out-of-band deployment of our task definition that ECS completed instead
    )
    # Blue/green, canary, linear: the last lifecycle stage seen, the service deployment followed, and the
    # verification evidence ({check, result, detail}) of the pause and the bake - the ledger's `verification`.
    stage: str | None = None
    service_deployment_arn: str | None = None
    verification: list[dict[str, str]] = field(default_factory=list)


def deployment_line(deployment: Mapping[str, Any]) -> str:
    return (
        f"deployment {deployment.get('id')} {deployment.get('status')} {deployment.get('rolloutState', '?')}: "
        f"running {deployment.get('runningCount', 0)}/{deployment.get('desiredCount', 0)}, "
        f"pending {deployment.get('pendingCount', 0)}, failed tasks {deployment.get('failedTasks', 0)}"
    )


def _completed(deployment: Mapping[str, Any]) -> bool:
    return (
        deployment.get("status") == "PRIMARY"
        and deployment.get("rolloutState") == "COMPLETED"
        and deployment.get("runningCount", 0) == deployment.get("desiredCount", -1)
    )


def _rollback_enabled(service: Mapping[str, Any]) -> bool:
    breaker = service.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
    return bool(breaker.get("enable") and breaker.get("rollback"))


def classify(service: Mapping[str, Any], target: WatchTarget) -> Observation:
    """Turn one DescribeServices `service` into an Observation about the deployment `target` follows."""
    deployments = service.get("deployments", [])
    ours = next((d for d in deployments if d.get("id") == target.deployment_id), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if ours is None and primary is not None and primary.get("id") in target.stale_ids:
        return Observation(None, f"deployment {target.deployment_id} not listed yet (stale read)")
    rollback_enabled = _rollback_enabled(service)

    if ours is not None and ours.get("rolloutState") == "FAILED":
        reason = ours.get("rolloutStateReason") or "ECS marked the deployment FAILED"
        verdict = "rolled_back" if rollback_enabled or (primary and primary is not ours) else "failed"
        return Observation(verdict, deployment_line(ours), (reason,), ours)
    if primary is not None and primary.get("id") != target.deployment_id:
        if (
            target.previous_task_definition
            and primary.get("taskDefinition") == target.previous_task_definition
        ):
            return Observation(
                "rolled_back",
                deployment_line(primary),
                (
                    f"ECS made rollback deployment {primary.get('id')} on {target.previous_task_definition} PRIMARY",
                ),
                primary,
            )
        if primary.get("taskDefinition") == target.task_definition_arn:
            return _took_over(primary, target, rollback_enabled)
        return Observation(
            "failed",
            deployment_line(primary),
            (
                f"ECS now runs {primary.get('taskDefinition')} (deployment {primary.get('id')}), not our "
                f"{target.task_definition_arn}: an out-of-band deployment replaced ours",
            ),
            primary,
        )
    if ours is None:
        return Observation(None, f"deployment {target.deployment_id} not listed yet")
    if _completed(ours):
        return Observation("success", deployment_line(ours), (), ours)
    return Observation(None, deployment_line(ours), (), ours)


def _took_over(other: Mapping[str, Any], target: WatchTarget, rollback_enabled: bool) -> Observation:
    """A deployment of OUR task definition replaced ours (e.g. `force-new-deployment`): follow it instead."""
    other_id = str(other.get("id"))
    note = f"deployment {other_id} of our task definition took over from {target.deployment_id} (forced new deployment?)"
    line = f"{deployment_line(other)} (took over from {target.deployment_id})"
    if other.get("rolloutState") == "FAILED":
        reason = other.get("rolloutStateReason") or "ECS marked the deployment FAILED"
        return Observation(
            "rolled_back" if rollback_enabled else "failed", line, (note, str(reason)), other, other_id
        )
    if _completed(other):
        return Observation(
            "success", line, (f"{note}; ECS runs our task definition, COMPLETED",), other, other_id
        )
    return Observation(None, line, (note,), other, other_id)


def find_deployment_for(service: Mapping[str, Any], task_definition_arn: str) -> str | None:
    """The id of the PRIMARY deployment running `task_definition_arn` (the one our UpdateService made)."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY" and deployment.get("taskDefinition") == task_definition_arn:
            return str(deployment["id"])
    return None


def to_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def events_since(
    service: Mapping[str, Any], since: dt.datetime, *, exclude: frozenset[str] = frozenset()
) -> list[str]:
    """Service events created at or after `since`, oldest first.

    Events naming one of the deployments in `exclude` (the ones before ours) are left out: they are about an
    earlier rollout even when ECS wrote them after ours started.
    """
    lines = []
    for event in service.get("events", []):
        created = to_datetime(event.get("createdAt"))
        message = str(event.get("message", ""))
        if exclude and any(named in exclude for named in _DEPLOYMENT_ID.findall(message)):
            continue
        if created is None or created >= since - dt.timedelta(seconds=1):
            lines.append(message)
    return list(reversed(lines))
