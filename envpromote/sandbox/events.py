"""ECS-shaped EventBridge events from the rollout simulation, delivered through moto's in-process EventBridge.

The builders are pure and produce ``PutEvents`` entries whose delivered form matches what ECS publishes:
"ECS Deployment State Change", "ECS Service Action" and "ECS Task State Change" (source ``aws.ecs``).
The sink applies the fault settings (event loss, delay) and counts what it did.
"""

from __future__ import annotations

import heapq
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

DEPLOYMENT_STATE_CHANGE = "ECS Deployment State Change"
SERVICE_ACTION = "ECS Service Action"
TASK_STATE_CHANGE = "ECS Task State Change"


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def deployment_state_change(
    *, service_arn: str, event_name: str, deployment_id: str, reason: str, when: datetime
) -> dict[str, Any]:
    """SERVICE_DEPLOYMENT_IN_PROGRESS | SERVICE_DEPLOYMENT_COMPLETED | SERVICE_DEPLOYMENT_FAILED."""
    severity = "ERROR" if event_name.endswith("FAILED") else "INFO"
    return _service_event(
        DEPLOYMENT_STATE_CHANGE,
        service_arn,
        severity,
        event_name,
        when,
        deploymentId=deployment_id,
        updatedAt=iso(when),
        reason=reason,
    )


def service_action(*, service_arn: str, cluster_arn: str, event_name: str, when: datetime) -> dict[str, Any]:
    """SERVICE_STEADY_STATE (INFO), SERVICE_TASK_START_IMPAIRED (WARN), ..."""
    severity = "WARN" if event_name.endswith("IMPAIRED") else "INFO"
    return _service_event(
        SERVICE_ACTION, service_arn, severity, event_name, when, clusterArn=cluster_arn, createdAt=iso(when)
    )


def _service_event(
    detail_type: str, service_arn: str, severity: str, event_name: str, when: datetime, **fields: str
) -> dict[str, Any]:
    """A service's event as ECS words it: its eventType (severity) and eventName first, then its own fields."""
    return _entry(
        detail_type, [service_arn], {"eventType": severity, "eventName": event_name, **fields}, when
    )


def task_state_change(task: dict[str, Any], when: datetime) -> dict[str, Any]:
    """`task` is the DescribeTasks shape of the task (lastStatus, stoppedReason, containers with exitCode)."""
    return _entry(TASK_STATE_CHANGE, [task["taskArn"]], task, when)


def _entry(detail_type: str, resources: list[str], detail: dict[str, Any], when: datetime) -> dict[str, Any]:
    return {
        "Source": "aws.ecs",
        "DetailType": detail_type,
        "Resources": resources,
        "Detail": json.dumps(detail, default=str),
        # moto's SQS target wants epoch seconds here and writes the ISO string into the delivered event itself.
        "Time": when.timestamp(),
    }


class EventSink:
    """Puts entries on the default bus of moto's EventBridge for (account, region), with loss and delay.

    A delayed event is held until the sandbox clock reaches its due time (``deliver_due``, called by every
    simulation step): with a scaled or advanced clock, delays shrink with the rollouts they belong to.
    """

    def __init__(self, now: Callable[[], float] | None = None) -> None:
        """`now`: sandbox-clock seconds (the simulation's clock); real monotonic time if not given."""
        self.now = now or time.monotonic
        self.loss = 0.0
        self.delay_s = 0.0
        self.rng = random.Random()  # noqa: S311 - fault injection, not security
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._held: list[
            tuple[float, int, str, str, dict[str, Any]]
        ] = []  # (due, order, account, region, entry)
        self._order = 0

    def configure(self, *, loss: float, delay_s: float, seed: int | None = None) -> None:
        with self._lock:
            self.loss, self.delay_s = loss, delay_s
            if seed is not None:
                self.rng.seed(seed)

    def reset(self) -> None:
        """Clear settings and counters, and drop delayed events not yet delivered (they belong to old state)."""
        with self._lock:
            self.loss, self.delay_s = 0.0, 0.0
            self.counters.clear()
            self._held.clear()

    def publish(self, account: str, region: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self.counters["published"] += 1
            if self.loss and self.rng.random() < self.loss:
                self.counters["lost"] += 1
                return
            if self.delay_s > 0:
                self.counters["delayed"] += 1
                self._order += 1
                heapq.heappush(self._held, (self.now() + self.delay_s, self._order, account, region, entry))
                return
        self._deliver(account, region, entry)

    def deliver_due(self) -> int:
        """Deliver the held events whose time has come (in publication order); returns how many."""
        due: list[tuple[str, str, dict[str, Any]]] = []
        with self._lock:
            now = self.now()
            while self._held and self._held[0][0] <= now:
                _, _, account, region, entry = heapq.heappop(self._held)
                due.append((account, region, entry))
        for account, region, entry in due:
            self._deliver(account, region, entry)
        return len(due)

    def _deliver(self, account: str, region: str, entry: dict[str, Any]) -> None:
        from moto.events.models import events_backends

        try:
            events_backends[account][region].put_events([entry])
        except Exception as exc:  # a broken target must never break the simulation; count and log it
            with self._lock:
                self.counters["delivery_errors"] += 1
            print(f"envpromote-sandbox: event delivery failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        with self._lock:
            self.counters["delivered"] += 1
