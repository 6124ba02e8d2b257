"""What runs now: ECS DescribeServices (the PRIMARY deployment's task definition and image) and the lock item.

Every failure becomes ``Observation.error`` for that environment: one unreadable service must not stop the board
from showing the others.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import botocore.exceptions

from envpromote.board.model import Observation
from envpromote.config import Environment


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else None


def _digest_of(image: str | None) -> str | None:
    if image and "@sha256:" in image:
        return image.rsplit("@", 1)[1]
    return None


def _error_text(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def observe_service(ecs: Any, env: Environment) -> tuple[Observation, dict[str, Any] | None]:
    """The running digest (PRIMARY deployment's task definition, env.container's image) and its document."""
    try:
        response = ecs.describe_services(cluster=env.cluster, services=[env.service])
        services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
        if not services:
            failures = response.get("failures", [])
            reason = failures[0].get("reason", "MISSING") if failures else "INACTIVE"
            return Observation(env.name, error=f"service {env.service} is {reason}"), None
        service = services[0]
        deployments = service.get("deployments", [])
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
        arn = str((primary or {}).get("taskDefinition") or service.get("taskDefinition"))
        document = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        return Observation(env.name, error=_error_text(exc)), None
    container = next(
        (c for c in document.get("containerDefinitions", []) if c.get("name") == env.container), None
    )
    in_progress = len(deployments) > 1 or (primary or {}).get("rolloutState") == "IN_PROGRESS"
    detail = None
    if in_progress and primary is not None:
        detail = (
            f"{primary.get('runningCount', 0)} of {primary.get('desiredCount', 0)} tasks running, "
            f"{len(deployments)} deployment(s)"
        )
    return (
        Observation(
            env.name,
            running_digest=_digest_of((container or {}).get("image")),
            task_definition_arn=arn,
            since=_iso((primary or {}).get("createdAt")),
            rollout_in_progress=in_progress,
            rollout_detail=detail,
        ),
        document,
    )


def observe_lock(
    dynamodb: Any, table: str, environment: str, *, clock: Callable[[], float] = time.time
) -> tuple[str | None, str | None, bool]:
    """(holder, expires ISO, stale) of the environment's lock item; (None, None, False) when there is none."""
    item = dynamodb.get_item(TableName=table, Key={"lock_id": {"S": environment}}, ConsistentRead=True).get(
        "Item"
    )
    if not item:
        return None, None, False
    holder = str(item.get("holder", {}).get("S") or "unknown holder")
    expires_raw = item.get("expires_at", {}).get("N")
    if expires_raw is None:
        return holder, None, False
    expires = float(expires_raw)
    return holder, _iso(dt.datetime.fromtimestamp(expires, dt.UTC)), expires <= clock()


def observe(
    ecs: Any, dynamodb: Any, env: Environment, lock_table: str
) -> tuple[Observation, dict[str, Any] | None]:
    observation, document = observe_service(ecs, env)
    try:
        holder, expires, stale = observe_lock(dynamodb, lock_table, env.name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        holder, expires, stale = f"unknown ({_error_text(exc)})", None, False
    return replace(observation, lock_holder=holder, lock_expires=expires, lock_stale=stale), document
