"""Start a rollout and watch the one deployment it created until ECS decides.

The ServicesStable waiter is not used: it succeeds whenever a single deployment is at its desired count, which is
also the state after a circuit-breaker rollback completed. Instead :func:`classify` reads the deployment list
for *our* deployment id and ends the wait on the first conclusive signal:

- success: our deployment is PRIMARY, COMPLETED, and running == desired;
- rolled back: our deployment is FAILED, or another deployment on the previous task definition became PRIMARY;
- failed: another deployment on some other task definition replaced ours.

Polling is adaptive: a jittered first poll, then a fixed cadence that keeps within the call budget, stretched
after throttling. Connection errors never end the wait early and never produce a success: if the deadline
passes without a conclusive observation the outcome is ``timed_out`` (or "unknown" when ECS could not be read).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import botocore.exceptions

from envpromote.errors import PreflightFailed

THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}


@dataclass(frozen=True)
class Observation:
    """What one look at ECS showed. `verdict` is None while the rollout is still undecided."""

    verdict: str | None  # success | rolled_back | failed | None
    summary: str
    reasons: tuple[str, ...] = ()
    source: str = "poll"


@dataclass
class Outcome:
    status: str  # success | rolled_back | failed | timed_out | aborted
    deployment_id: str
    summary: str
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    source: str = "poll"
    errors: int = 0


def _deployment_line(deployment: Mapping[str, Any]) -> str:
    return (
        f"deployment {deployment.get('id')} {deployment.get('status')} {deployment.get('rolloutState', '?')}: "
        f"running {deployment.get('runningCount', 0)}/{deployment.get('desiredCount', 0)}, "
        f"pending {deployment.get('pendingCount', 0)}, failed tasks {deployment.get('failedTasks', 0)}"
    )


def classify(
    service: Mapping[str, Any], deployment_id: str, previous_task_definition: str | None
) -> Observation:
    """Pure: turn one DescribeServices `service` into an Observation about our deployment."""
    deployments = service.get("deployments", [])
    ours = next((d for d in deployments if d.get("id") == deployment_id), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    breaker = service.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
    rollback_enabled = bool(breaker.get("enable") and breaker.get("rollback"))

    if ours is not None and ours.get("rolloutState") == "FAILED":
        reason = ours.get("rolloutStateReason") or "ECS marked the deployment FAILED"
        verdict = "rolled_back" if rollback_enabled or (primary and primary is not ours) else "failed"
        return Observation(verdict, _deployment_line(ours), (reason,))
    if primary is not None and primary.get("id") != deployment_id:
        if previous_task_definition and primary.get("taskDefinition") == previous_task_definition:
            return Observation(
                "rolled_back",
                _deployment_line(primary),
                (f"ECS made rollback deployment {primary.get('id')} on {previous_task_definition} PRIMARY",),
            )
        return Observation(
            "failed",
            _deployment_line(primary),
            (
                f"deployment {primary.get('id')} on {primary.get('taskDefinition')} replaced ours (out-of-band deploy?)",
            ),
        )
    if ours is None:
        return Observation(None, f"deployment {deployment_id} not listed yet")
    if (
        ours.get("status") == "PRIMARY"
        and ours.get("rolloutState") == "COMPLETED"
        and ours.get("runningCount", 0) == ours.get("desiredCount", -1)
    ):
        return Observation("success", _deployment_line(ours))
    return Observation(None, _deployment_line(ours))


def find_deployment_for(service: Mapping[str, Any], task_definition_arn: str) -> str | None:
    """The id of the PRIMARY deployment running `task_definition_arn` (the one our UpdateService made)."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY" and deployment.get("taskDefinition") == task_definition_arn:
            return str(deployment["id"])
    return None


def _to_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def events_since(service: Mapping[str, Any], since: dt.datetime) -> list[str]:
    """Service events created at or after `since`, oldest first."""
    lines = []
    for event in service.get("events", []):
        created = _to_datetime(event.get("createdAt"))
        if created is None or created >= since - dt.timedelta(seconds=1):
            lines.append(str(event.get("message", "")))
    return list(reversed(lines))


def describe_stopped_tasks(
    tasks: list[Mapping[str, Any]], deployment_id: str, task_definition_arn: str
) -> list[str]:
    """Pure: stopped-task reasons (with container exit codes) of our deployment."""
    lines = []
    for task in tasks:
        if (
            task.get("startedBy") not in (None, deployment_id)
            and task.get("taskDefinitionArn") != task_definition_arn
        ):
            continue
        if task.get("startedBy") is None and task.get("taskDefinitionArn") != task_definition_arn:
            continue
        containers = "; ".join(
            f"container {c.get('name')} exit {c.get('exitCode', '?')}"
            + (f" ({c['reason']})" if c.get("reason") else "")
            for c in task.get("containers", [])
        )
        task_id = str(task.get("taskArn", "?")).rsplit("/", 1)[-1]
        line = f"task {task_id} stopped: {task.get('stoppedReason', 'no reason given')}"
        lines.append(f"{line}; {containers}" if containers else line)
    return lines


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class PollPolicy:
    """At most 60/interval DescribeServices calls a minute; detection within `interval` of a state change."""

    interval: float = 5.0
    first_poll_min: float = 2.0
    max_interval: float = 30.0

    def first_delay(self, rng: random.Random) -> float:
        # Jitter the phase once, so parallel pipelines do not poll in lock-step; the cadence stays fixed.
        return rng.uniform(self.first_poll_min, self.interval)


class RolloutWatcher:
    """Polls DescribeServices for one deployment. `on_progress` receives a line whenever the summary changes."""

    def __init__(
        self,
        ecs: Any,
        cluster: str,
        service: str,
        *,
        policy: PollPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.service = service
        self.policy = policy or PollPolicy()
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.on_progress = on_progress or (lambda _line: None)

    def describe(self) -> dict[str, Any]:
        response = self.ecs.describe_services(cluster=self.cluster, services=[self.service])
        services = response.get("services", [])
        if not services:
            failures = response.get("failures", [])
            reason = failures[0].get("reason") if failures else "not found"
            raise PreflightFailed(
                f"Service {self.service} in cluster {self.cluster}: {reason}.",
                fix="Check cluster/service in envpromote.toml or apply the environment's infra.",
            )
        service: dict[str, Any] = services[0]
        return service

    def watch(
        self,
        deployment_id: str,
        task_definition_arn: str,
        previous_task_definition: str | None,
        *,
        started_at: dt.datetime,
        timeout: float,
    ) -> Outcome:
        start = self.clock.now()
        deadline = start + timeout
        interval = self.policy.interval
        delay = self.policy.first_delay(self.rng)
        last_summary = "no observation yet"
        errors = 0
        consecutive_errors = 0
        last_error = ""
        last_service: dict[str, Any] | None = None
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                break
            self.clock.sleep(min(delay, remaining))
            try:
                service = self.describe()
            except PreflightFailed:
                raise
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                errors += 1
                consecutive_errors += 1
                last_error = _error_text(exc)
                self.on_progress(f"ECS read failed ({last_error}); still watching")
                if _is_throttle(exc):
                    interval = min(interval * 2, self.policy.max_interval)
                delay = interval
                continue
            consecutive_errors = 0
            interval = self.policy.interval
            delay = interval
            last_service = service
            observation = classify(service, deployment_id, previous_task_definition)
            if observation.summary != last_summary:
                self.on_progress(observation.summary)
                last_summary = observation.summary
            if observation.verdict is not None:
                reasons = list(observation.reasons)
                if observation.verdict != "success":
                    reasons += self.failure_reasons(service, deployment_id, task_definition_arn, started_at)
                return Outcome(
                    status=observation.verdict,
                    deployment_id=deployment_id,
                    summary=observation.summary,
                    reasons=reasons,
                    seconds=self.clock.now() - start,
                    errors=errors,
                )
        if last_service is None or consecutive_errors:
            summary = f"outcome unknown: ECS could not be read ({last_error or 'no answer'}); last seen: {last_summary}"
        else:
            summary = f"still undecided after {timeout:.0f}s: {last_summary}"
        reasons = events_since(last_service, started_at)[-10:] if last_service else []
        return Outcome(
            status="timed_out",
            deployment_id=deployment_id,
            summary=summary,
            reasons=reasons,
            seconds=self.clock.now() - start,
            errors=errors,
        )

    def failure_reasons(
        self,
        service: Mapping[str, Any],
        deployment_id: str,
        task_definition_arn: str,
        started_at: dt.datetime,
    ) -> list[str]:
        """ECS's own words: service events since the start and the stopped tasks of our deployment."""
        reasons = events_since(service, started_at)[-20:]
        try:
            arns = self.ecs.list_tasks(
                cluster=self.cluster, serviceName=self.service, desiredStatus="STOPPED", maxResults=100
            ).get("taskArns", [])
            if arns:
                tasks = self.ecs.describe_tasks(cluster=self.cluster, tasks=arns[:100]).get("tasks", [])
                reasons += describe_stopped_tasks(tasks, deployment_id, task_definition_arn)[:10]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            reasons.append(f"stopped-task reasons unavailable: {_error_text(exc)}")
        return reasons


def _is_throttle(exc: Exception) -> bool:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    return False


def _error_text(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"
