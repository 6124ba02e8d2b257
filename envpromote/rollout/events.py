"""Event-driven watching: ECS events via EventBridge -> SQS hint, DescribeServices decides.

Lost, duplicated, stale or out-of-order events can delay an outcome but never change it: every hint is confirmed
with the polling watcher's :meth:`~envpromote.rollout.poll.RolloutWatcher.observe` / ``conclude`` (one wait
strategy for both watchers), and a slow safety poll runs whatever the queue says.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any

from envpromote.rollout.classify import Outcome, WatchTarget, to_datetime
from envpromote.rollout.poll import Clock, RolloutWatcher
from envpromote.rollout.progress import Progress
from envpromote.rollout.reasons import READ_ERRORS, describe_stopped_tasks, error_text

SAFETY_POLL_S = 40.0  # one DescribeServices per 40 s while waiting on events
# A long poll at most this long, so progress is reported at least every 10 s (a CI log line): about 6
# ReceiveMessage a minute instead of 3 with 20 s polls; the DescribeServices budget is unchanged.
MAX_LONG_POLL_S = 10
CONFIRM_ATTEMPTS = 3


def parse_ecs_event(body: str) -> dict[str, Any] | None:
    """An EventBridge envelope from the queue, or None if the message is not an ECS event."""
    try:
        event = json.loads(body)
    except (TypeError, ValueError, RecursionError):  # RecursionError: a forged body nested past the stack
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
    return to_datetime(raw)


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


def other_deployment_settled(event: Mapping[str, Any], deployment_id: str, started_at: dt.datetime) -> bool:
    """Pure: a fresh COMPLETED/FAILED event of ANOTHER deployment - perhaps one that took over from ours
    (a forced new deployment of our task definition): worth a DescribeServices now rather than at the safety poll.
    """
    when = _event_time(event)
    detail = event.get("detail", {})
    return (
        event.get("detail-type") == "ECS Deployment State Change"
        and detail.get("deploymentId") not in (None, deployment_id)
        and str(detail.get("eventName", "")).endswith(("COMPLETED", "FAILED"))
        and (when is None or when >= started_at - dt.timedelta(seconds=2))
    )


class EventQueueUnavailable(Exception):
    """The queue cannot be read (missing, deleted, denied, unreachable): fall back to polling."""


@dataclass(eq=False)
class EventWatcher:
    """Long-polls the environment's ECS event queue; DescribeServices confirms every verdict and runs as a
    slow safety poll.
    """

    poller: RolloutWatcher
    sqs: Any
    queue: str
    _: KW_ONLY
    safety_interval: float = SAFETY_POLL_S
    long_poll_s: int = MAX_LONG_POLL_S
    _queue_url: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.long_poll_s = max(1, min(20, self.long_poll_s))  # SQS allows 0-20 s

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
                except READ_ERRORS as exc:
                    raise EventQueueUnavailable(error_text(exc)) from None
        return self._queue_url

    def _receive(self, wait_s: int, visibility_s: int) -> list[dict[str, Any]]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url(),
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait_s,
                VisibilityTimeout=visibility_s,
            )
        except READ_ERRORS as exc:
            raise EventQueueUnavailable(error_text(exc)) from None
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
            except (*READ_ERRORS, EventQueueUnavailable):
                return  # best effort: undeleted messages expire with the queue's short retention

    def watch(self, target: WatchTarget, *, timeout: float) -> Outcome:
        start = self.clock.now()
        deadline = start + timeout
        next_safety = start + self.safety_interval
        receipts: list[str] = []
        seen: set[str] = set()
        stopped: list[str] = []
        events = 0
        visibility = int(min(43200, timeout + 60))
        try:
            while True:
                now = self.clock.now()
                if now >= deadline:
                    break
                wait = int(min(self.long_poll_s, next_safety - now, deadline - now))
                hint = None
                if wait < 1:  # under a second to the next safety poll or the deadline: sleep, don't spin
                    self.clock.sleep(max(0.0, min(next_safety, deadline) - now))
                else:
                    try:
                        messages = self._receive(wait, visibility)
                    except EventQueueUnavailable as exc:
                        return self._fall_back(str(exc), target, deadline, start)
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
                            verdict, reason = event_signal(event, target.deployment_id, target.started_at)
                            if verdict is None and other_deployment_settled(
                                event, target.deployment_id, target.started_at
                            ):
                                verdict = "look"
                        except (TypeError, ValueError, KeyError, AttributeError):
                            continue  # a malformed event is ignored; the safety poll still decides
                        if reason and reason not in stopped:
                            stopped.append(reason)
                            self.poller.remark(target, start, reason)
                        hint = hint or verdict
                    if hint is None:
                        # No news: the same state, a little later (keeps a CI log line at least every 10 s).
                        last = self.poller.last_progress or Progress(target.deployment_id, "?")
                        self.poller.report(replace(last, elapsed=self.clock.now() - start))
                if hint is None and self.clock.now() < next_safety:
                    continue
                outcome = self._confirm(
                    target,
                    start,
                    source="events" if hint else "safety poll",
                    attempts=CONFIRM_ATTEMPTS if hint else 1,
                )
                next_safety = self.clock.now() + self.safety_interval
                if outcome is not None:
                    outcome.reasons += [r for r in stopped if r not in outcome.reasons]
                    return outcome
            return self._final_look(target, start, stopped, events, timeout)
        finally:
            self._delete(receipts)

    def _final_look(
        self, target: WatchTarget, start: float, stopped: list[str], events: int, timeout: float
    ) -> Outcome:
        try:
            service, observation = self.poller.observe(target, start)
        except READ_ERRORS as exc:
            outcome = self.poller.timed_out(
                target,
                start,
                None,
                f"outcome unknown: ECS could not be read ({error_text(exc)}); {events} events seen",
                source="events",
            )
            outcome.reasons += stopped
            return outcome
        outcome = self.poller.timed_out(
            target,
            start,
            service,
            f"still undecided after {timeout:.0f}s: {observation.summary} ({events} events seen)",
            source="events",
        )
        outcome.reasons += stopped
        return outcome

    def _confirm(self, target: WatchTarget, start: float, *, source: str, attempts: int) -> Outcome | None:
        for attempt in range(attempts):
            if attempt:
                self.clock.sleep(1.0)  # ECS's read side can trail its events by a moment
            try:
                service, observation = self.poller.observe(target, start)
            except READ_ERRORS as exc:
                self.poller.remark(target, start, f"ECS read failed ({error_text(exc)}); still watching")
                continue
            if observation.verdict is not None:
                return self.poller.conclude(service, observation, target, start, source=source)
        return None

    def _fall_back(self, why: str, target: WatchTarget, deadline: float, start: float) -> Outcome:
        self.poller.remark(target, start, f"event queue unavailable ({why}); falling back to polling")
        outcome = self.poller.watch_until(target, deadline=max(deadline, self.clock.now() + 1.0), start=start)
        outcome.source = "poll (event queue unavailable)"
        outcome.reasons.append(f"event queue unavailable ({why}); the outcome came from polling")
        return outcome
