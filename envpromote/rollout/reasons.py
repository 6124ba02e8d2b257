"""ECS's own words about OUR deployment: service events, service-deployment states, stopped tasks.

Only our deployment's: events naming an earlier deployment, an older service deployment's ROLLBACK_SUCCESSFUL
and tasks of other deployments are left out (issue 13: the circuit breaker's reasons listed an older rollout's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from envpromote.rollout.classify import WatchTarget, events_since, to_datetime

THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
READ_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
SERVICE_DEPLOYMENT_MATCH_S = 5.0  # a service deployment is created with its ECS deployment, within moments


def describe_stopped_tasks(
    tasks: list[Mapping[str, Any]], deployment_id: str, task_definition_arn: str
) -> list[str]:
    """Pure: stopped-task reasons (with container exit codes) of our deployment."""
    lines = []
    for task in tasks:
        if task.get("startedBy") != deployment_id and task.get("taskDefinitionArn") != task_definition_arn:
            continue
        containers = "; ".join(
            f"container {c.get('name')} exit {c.get('exitCode', '?')}"
            + (f" ({c['reason']})" if c.get("reason") else "")
            for c in task.get("containers", [])
        )
        task_id = str(task.get("taskArn", "?")).rsplit("/", 1)[-1]
        line = f"task {task_id} stopped: {task.get('stoppedReason', 'no reason given')}"
        lines.append(one_line(f"{line}; {containers}" if containers else line))
    return lines


MAX_REASON = 500


def one_line(text: str, limit: int = MAX_REASON) -> str:
    """A reason as one printable line: control characters (a newline could start a GitHub workflow command such
    as ``::add-mask::`` in the CI log, an escape sequence could redraw the terminal) become spaces, characters
    that cannot be written as UTF-8 (lone surrogates from JSON escapes) become U+FFFD, and it is clipped."""
    cleaned = "".join(
        "\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch if ch.isprintable() else " " for ch in text
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "\u2026"


def our_service_deployment(
    briefs: list[Mapping[str, Any]], service: Mapping[str, Any], target: WatchTarget
) -> Mapping[str, Any] | None:
    """Pure: the service deployment (ListServiceDeployments brief) of our ECS deployment, if one can be told.

    ECS names the target service revision after the deployment (`.../<digits>` for `ecs-svc/<digits>`); where
    it does not, the brief created closest to our deployment's `createdAt` (within a few seconds) is ours.
    """
    digits = target.deployment_id.removeprefix("ecs-svc/")
    for brief in briefs:
        if str(brief.get("targetServiceRevisionArn", "")).rsplit("/", 1)[-1] == digits:
            return brief
    ours = next((d for d in service.get("deployments", []) if d.get("id") == target.deployment_id), None)
    created = to_datetime(ours.get("createdAt")) if ours else None
    if created is None:
        return None
    best: tuple[float, Mapping[str, Any]] | None = None
    for brief in briefs:
        when = to_datetime(brief.get("createdAt"))
        if when is None:
            continue
        gap = abs((when - created).total_seconds())
        if gap <= SERVICE_DEPLOYMENT_MATCH_S and (best is None or gap < best[0]):
            best = (gap, brief)
    return best[1] if best else None


def service_deployment_line(brief: Mapping[str, Any]) -> str:
    arn = str(brief.get("serviceDeploymentArn", "?")).rsplit("/", 1)[-1]
    reason = f" ({brief['statusReason']})" if brief.get("statusReason") else ""
    return f"service deployment {arn}: {brief.get('status')}{reason}"


def failure_reasons(
    ecs: Any, cluster: str, service_name: str, service: Mapping[str, Any], target: WatchTarget
) -> list[str]:
    """Service events since our start, our service deployment's state, and the stopped tasks of our deployment."""
    reasons = events_since(service, target.started_at, exclude=target.stale_ids)[-20:]
    try:
        briefs = ecs.list_service_deployments(
            cluster=cluster,
            service=service_name,
            createdAt={"after": target.started_at - dt.timedelta(minutes=1)},
        ).get("serviceDeployments", [])
    except (*READ_ERRORS, AttributeError):
        briefs = []  # older endpoints (and plain moto) lack it; DescribeServices already decided
    ours = our_service_deployment(briefs, service, target)
    if ours is not None:
        reasons.append(service_deployment_line(ours))
    try:
        arns = ecs.list_tasks(
            cluster=cluster, serviceName=service_name, desiredStatus="STOPPED", maxResults=100
        ).get("taskArns", [])
        if arns:
            tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100]).get("tasks", [])
            reasons += describe_stopped_tasks(tasks, target.deployment_id, target.task_definition_arn)[:10]
    except READ_ERRORS as exc:
        reasons.append(f"stopped-task reasons unavailable: {error_text(exc)}")
    return reasons


def is_throttle(exc: Exception) -> bool:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    return False


def error_text(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"
