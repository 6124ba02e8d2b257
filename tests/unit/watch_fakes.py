"""Test doubles for the watch loops: a clock that advances only when slept on, a scripted ECS, a scripted queue.

No real time passes: `FakeClock.sleep` moves the clock, and every fake records the clock time of each call.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from envpromote.rollout import WatchTarget

OLD = "arn:aws:ecs:us-east-1:1:task-definition/web:1"
NEW = "arn:aws:ecs:us-east-1:1:task-definition/web:2"
OTHER = "arn:aws:ecs:us-east-1:1:task-definition/web:9"
STARTED = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
TARGET = WatchTarget("ecs-svc/2", NEW, OLD, STARTED, frozenset({"ecs-svc/1"}))
BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.t += seconds


def dep(dep_id: str, status: str, state: str, taskdef: str, running: int = 0, **kw: Any) -> dict[str, Any]:
    return {
        "id": dep_id,
        "status": status,
        "rolloutState": state,
        "taskDefinition": taskdef,
        "runningCount": running,
        "desiredCount": 2,
        "pendingCount": 2 - running,
        "failedTasks": 0,
        **kw,
    }


def service(*deployments: dict[str, Any], events: Iterable[str] = (), **kw: Any) -> dict[str, Any]:
    """A DescribeServices `service`; `events` are messages written after the start, newest last."""
    listed = [
        {"createdAt": STARTED + dt.timedelta(seconds=i + 1), "message": message}
        for i, message in enumerate(events)
    ]
    return {"deployments": list(deployments), "events": list(reversed(listed)), **kw}


IN_PROGRESS = service(
    dep("ecs-svc/2", "PRIMARY", "IN_PROGRESS", NEW), dep("ecs-svc/1", "ACTIVE", "COMPLETED", OLD, 2)
)
HALF = service(
    dep("ecs-svc/2", "PRIMARY", "IN_PROGRESS", NEW, running=1),
    dep("ecs-svc/1", "ACTIVE", "COMPLETED", OLD, 2),
    events=["(service web) has started 1 tasks"],
)
COMPLETED = service(dep("ecs-svc/2", "PRIMARY", "COMPLETED", NEW, running=2))


def client_error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "slow down"}}, "DescribeServices"
    )


class ScriptedEcs:
    """DescribeServices answers in order (an exception instance is raised); the last answer repeats."""

    def __init__(
        self, clock: FakeClock, answers: list[Any], stopped_tasks: list[dict[str, Any]] | None = None
    ):
        self.clock = clock
        self.answers = list(answers)
        self.calls: list[float] = []
        self.stopped_tasks = stopped_tasks or []

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        self.calls.append(self.clock.now())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return {"services": [answer]}

    def list_tasks(self, **_kw: Any) -> dict[str, Any]:
        return {"taskArns": [t["taskArn"] for t in self.stopped_tasks]}

    def describe_tasks(self, **_kw: Any) -> dict[str, Any]:
        return {"tasks": self.stopped_tasks}


def deployment_event(deployment_id: str, name: str, when: dt.datetime = STARTED) -> str:
    return json.dumps(
        {
            "source": "aws.ecs",
            "detail-type": "ECS Deployment State Change",
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detail": {"eventName": name, "deploymentId": deployment_id},
        }
    )


@dataclass
class ScriptedQueue:
    """SQS: `deliveries` maps a clock offset (seconds after `origin`) to message bodies that arrive then.

    A long poll returns at once if a message is due within its wait, else after the whole wait.
    """

    clock: FakeClock
    deliveries: dict[float, list[str]] = field(default_factory=dict)
    unavailable: bool = False
    receives: list[tuple[float, int]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    origin: float = 0.0
    _n: int = 0

    def __post_init__(self) -> None:
        self.origin = self.clock.now()

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        if self.unavailable:
            raise client_error("AWS.SimpleQueueService.NonExistentQueue")
        return {"QueueUrl": f"http://127.0.0.1/{QueueName}"}

    def receive_message(self, **kw: Any) -> dict[str, Any]:
        wait = int(kw["WaitTimeSeconds"])
        self.receives.append((self.clock.now(), wait))
        due = sorted(t for t in self.deliveries if self.origin + t <= self.clock.now() + wait)
        if not due:
            self.clock.sleep(wait)
            return {"Messages": []}
        arrival = self.origin + due[0]
        self.clock.sleep(max(0.0, arrival - self.clock.now()))
        messages = []
        for body in self.deliveries.pop(due[0]):
            self._n += 1
            messages.append({"MessageId": f"m{self._n}", "ReceiptHandle": f"r{self._n}", "Body": body})
        return {"Messages": messages}

    def delete_message_batch(self, **kw: Any) -> dict[str, Any]:
        self.deleted += [entry["ReceiptHandle"] for entry in kw["Entries"]]
        return {}
