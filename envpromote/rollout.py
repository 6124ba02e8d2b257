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
import json
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
    service: Mapping[str, Any],
    deployment_id: str,
    previous_task_definition: str | None,
    stale_ids: frozenset[str] = frozenset(),
) -> Observation:
    """Pure: turn one DescribeServices `service` into an Observation about our deployment.

    `stale_ids` are the deployments listed before our UpdateService: if ours is missing and one of those is still
    PRIMARY, the read is stale (eventual consistency), not a rollback - a rollback is a new deployment.
    """
    deployments = service.get("deployments", [])
    ours = next((d for d in deployments if d.get("id") == deployment_id), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if ours is None and primary is not None and primary.get("id") in stale_ids:
        return Observation(None, f"deployment {deployment_id} not listed yet (stale read)")
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
        if task.get("startedBy") != deployment_id and task.get("taskDefinitionArn") != task_definition_arn:
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
        stale_ids: frozenset[str] = frozenset(),
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
            if remaining < delay and last_service is not None:
                # No extra poll at the deadline: the last observation stands, and the budget of one
                # DescribeServices per interval holds to the end.
                self.clock.sleep(remaining)
                break
            self.clock.sleep(min(delay, remaining))
            try:
                service = self.describe()
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
            observation = classify(service, deployment_id, previous_task_definition, stale_ids)
            if observation.summary != last_summary:
                self.on_progress(observation.summary)
                last_summary = observation.summary
            if observation.verdict is not None:
                outcome = self.conclude(
                    service, observation, deployment_id, task_definition_arn, started_at, start, source="poll"
                )
                outcome.errors = errors
                return outcome
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

    def conclude(
        self,
        service: Mapping[str, Any],
        observation: Observation,
        deployment_id: str,
        task_definition_arn: str,
        started_at: dt.datetime,
        start: float,
        *,
        source: str,
    ) -> Outcome:
        """The outcome of a conclusive observation; failures carry ECS's own reasons."""
        reasons = list(observation.reasons)
        if observation.verdict != "success":
            reasons += self.failure_reasons(service, deployment_id, task_definition_arn, started_at)
        return Outcome(
            status=str(observation.verdict),
            deployment_id=deployment_id,
            summary=observation.summary,
            reasons=reasons,
            seconds=self.clock.now() - start,
            source=source,
        )

    def service_deployment_states(self, started_at: dt.datetime) -> list[str]:
        """ECS's service deployments API (ROLLBACK_* states and reasons) where the endpoint offers it."""
        try:
            briefs = self.ecs.list_service_deployments(
                cluster=self.cluster,
                service=self.service,
                createdAt={"after": started_at - dt.timedelta(seconds=5)},
            ).get("serviceDeployments", [])
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, AttributeError):
            return []  # older endpoints (and plain moto) lack it; DescribeServices already decided
        return [_service_deployment_line(brief) for brief in briefs[:5]]

    def failure_reasons(
        self,
        service: Mapping[str, Any],
        deployment_id: str,
        task_definition_arn: str,
        started_at: dt.datetime,
    ) -> list[str]:
        """ECS's own words: service events since the start and the stopped tasks of our deployment."""
        reasons = events_since(service, started_at)[-20:]
        reasons += self.service_deployment_states(started_at)
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


def _service_deployment_line(brief: Mapping[str, Any]) -> str:
    arn = str(brief.get("serviceDeploymentArn", "?")).rsplit("/", 1)[-1]
    reason = f" ({brief['statusReason']})" if brief.get("statusReason") else ""
    return f"service deployment {arn}: {brief.get('status')}{reason}"


def _is_throttle(exc: Exception) -> bool:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    return False


def _error_text(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


# ---- event-driven watching (ECS events via EventBridge -> SQS) -------------------------------------

SAFETY_POLL_S = 40.0  # two full 20 s long polls, then one DescribeServices: about 4.5 calls a minute
MAX_LONG_POLL_S = 20
CONFIRM_ATTEMPTS = 3


def parse_ecs_event(body: str) -> dict[str, Any] | None:
    """An EventBridge envelope from the queue, or None if the message is not an ECS event."""
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        return None
    if (
        not isinstance(event, dict)
        or event.get("source") != "aws.ecs"
        or not isinstance(event.get("detail"), dict)
    ):
        return None
    return event


def _event_time(event: Mapping[str, Any]) -> dt.datetime | None:
    raw = event.get("time")
    if isinstance(raw, str):
        try:
            parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return _to_datetime(raw)


def event_signal(
    event: Mapping[str, Any], deployment_id: str, started_at: dt.datetime
) -> tuple[str | None, str | None]:
    """Pure: (verdict hinted by the event, a stopped-task reason) for OUR deployment; stale/foreign -> (None, None).

    A hint is never the outcome: the watcher confirms it with DescribeServices before deciding.
    """
    when = _event_time(event)
    if when is not None and when < started_at - dt.timedelta(seconds=2):
        return None, None  # from an earlier rollout
    detail = event["detail"]
    kind = event.get("detail-type")
    if kind == "ECS Deployment State Change" and detail.get("deploymentId") == deployment_id:
        name = str(detail.get("eventName", ""))
        if name.endswith("COMPLETED"):
            return "success", None
        if name.endswith("FAILED"):
            return "rolled_back", None
        return None, None
    if (
        kind == "ECS Task State Change"
        and detail.get("lastStatus") == "STOPPED"
        and detail.get("startedBy") == deployment_id
    ):
        lines = describe_stopped_tasks([detail], deployment_id, str(detail.get("taskDefinitionArn")))
        return None, lines[0] if lines else None
    return None, None


class EventQueueUnavailable(Exception):
    """The queue cannot be read (missing, deleted, denied, unreachable): fall back to polling."""


class EventWatcher:
    """Long-polls the environment's ECS event queue; DescribeServices confirms every verdict and runs as a
    slow safety poll, so lost, duplicated, stale or out-of-order events can delay an outcome but never change it.
    """

    def __init__(
        self,
        poller: RolloutWatcher,
        sqs: Any,
        queue: str,
        *,
        safety_interval: float = SAFETY_POLL_S,
    ) -> None:
        self.poller = poller
        self.sqs = sqs
        self.queue = queue
        self.safety_interval = safety_interval
        self._queue_url: str | None = None
        self._stale: frozenset[str] = frozenset()

    @property
    def clock(self) -> Clock:
        return self.poller.clock

    def queue_url(self) -> str:
        if self._queue_url is None:
            if self.queue.startswith(("http://", "https://")):
                self._queue_url = self.queue
            else:
                try:
                    self._queue_url = str(self.sqs.get_queue_url(QueueName=self.queue)["QueueUrl"])
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                    raise EventQueueUnavailable(_error_text(exc)) from None
        return self._queue_url

    def _receive(self, wait_s: int, visibility_s: int) -> list[dict[str, Any]]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url(),
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait_s,
                VisibilityTimeout=visibility_s,
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise EventQueueUnavailable(_error_text(exc)) from None
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _delete(self, receipts: list[str]) -> None:
        """Consumed messages are deleted once, at the end, in batches (no calls while waiting)."""
        for start in range(0, len(receipts), 10):
            batch = receipts[start : start + 10]
            try:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url(),
                    Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(batch)],
                )
            except (
                botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError,
                EventQueueUnavailable,
            ):
                return  # best effort: undeleted messages expire with the queue's short retention

    def watch(
        self,
        deployment_id: str,
        task_definition_arn: str,
        previous_task_definition: str | None,
        *,
        started_at: dt.datetime,
        timeout: float,
        stale_ids: frozenset[str] = frozenset(),
    ) -> Outcome:
        start = self.clock.now()
        deadline = start + timeout
        next_safety = start + self.safety_interval
        receipts: list[str] = []
        seen: set[str] = set()
        stopped: list[str] = []
        events = 0
        visibility = int(min(43200, timeout + 60))
        self._stale = stale_ids
        try:
            while True:
                now = self.clock.now()
                if now >= deadline:
                    break
                wait = int(min(MAX_LONG_POLL_S, next_safety - now, deadline - now))
                hint = None
                if wait < 1:  # under a second to the next safety poll or the deadline: sleep, don't spin
                    self.clock.sleep(max(0.0, min(next_safety, deadline) - now))
                else:
                    try:
                        messages = self._receive(wait, visibility)
                    except EventQueueUnavailable as exc:
                        return self._fall_back(
                            str(exc),
                            deployment_id,
                            task_definition_arn,
                            previous_task_definition,
                            started_at,
                            deadline,
                            start,
                        )
                    for message in messages:
                        receipts.append(message["ReceiptHandle"])
                        if message.get("MessageId") in seen:
                            continue
                        seen.add(str(message.get("MessageId")))
                        event = parse_ecs_event(message.get("Body", ""))
                        if event is None:
                            continue
                        events += 1
                        try:
                            verdict, reason = event_signal(event, deployment_id, started_at)
                        except (TypeError, ValueError, KeyError, AttributeError):
                            continue  # a malformed event is ignored; the safety poll still decides
                        if reason and reason not in stopped:
                            stopped.append(reason)
                        hint = hint or verdict
                if hint is None and self.clock.now() < next_safety:
                    continue
                outcome = self._confirm(
                    deployment_id,
                    task_definition_arn,
                    previous_task_definition,
                    started_at,
                    start,
                    source="events" if hint else "safety poll",
                    attempts=CONFIRM_ATTEMPTS if hint else 1,
                )
                next_safety = self.clock.now() + self.safety_interval
                if outcome is not None:
                    outcome.reasons += [r for r in stopped if r not in outcome.reasons]
                    return outcome
            try:
                service = self.poller.describe()
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                return Outcome(
                    status="timed_out",
                    deployment_id=deployment_id,
                    summary=f"outcome unknown: ECS could not be read ({_error_text(exc)}); {events} events seen",
                    reasons=stopped,
                    seconds=self.clock.now() - start,
                    source="events",
                )
            observation = classify(service, deployment_id, previous_task_definition, stale_ids)
            return Outcome(
                status="timed_out",
                deployment_id=deployment_id,
                summary=f"still undecided after {timeout:.0f}s: {observation.summary} ({events} events seen)",
                reasons=events_since(service, started_at)[-10:] + stopped,
                seconds=self.clock.now() - start,
                source="events",
            )
        finally:
            self._delete(receipts)

    def _confirm(
        self,
        deployment_id: str,
        task_definition_arn: str,
        previous: str | None,
        started_at: dt.datetime,
        start: float,
        *,
        source: str,
        attempts: int,
    ) -> Outcome | None:
        for attempt in range(attempts):
            if attempt:
                self.clock.sleep(1.0)  # ECS's read side can trail its events by a moment
            try:
                service = self.poller.describe()
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                self.poller.on_progress(f"ECS read failed ({_error_text(exc)}); still watching")
                continue
            observation = classify(service, deployment_id, previous, self._stale)
            self.poller.on_progress(observation.summary)
            if observation.verdict is not None:
                return self.poller.conclude(
                    service, observation, deployment_id, task_definition_arn, started_at, start, source=source
                )
        return None

    def _fall_back(
        self,
        why: str,
        deployment_id: str,
        task_definition_arn: str,
        previous: str | None,
        started_at: dt.datetime,
        deadline: float,
        start: float,
    ) -> Outcome:
        self.poller.on_progress(f"event queue unavailable ({why}); falling back to polling")
        outcome = self.poller.watch(
            deployment_id,
            task_definition_arn,
            previous,
            started_at=started_at,
            timeout=max(1.0, deadline - self.clock.now()),
            stale_ids=self._stale,
        )
        outcome.source = "poll (event queue unavailable)"
        outcome.reasons.append(f"event queue unavailable ({why}); the outcome came from polling")
        outcome.seconds = self.clock.now() - start
        return outcome
