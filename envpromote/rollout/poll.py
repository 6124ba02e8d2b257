"""The polling watcher, and the wait strategy both watchers share (observe, conclude, time out).

Polling is adaptive: a jittered first poll, then a fixed cadence that keeps within the call budget, stretched
after throttling. Connection errors never end the wait early and never produce a success: if the deadline
passes without a conclusive observation the outcome is ``timed_out`` (or "unknown" when ECS could not be read).
Time comes from an injectable :class:`Clock`, so the loops are tested without real time passing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, Unpack

from envpromote.errors import PreflightFailed
from envpromote.rollout.classify import Observation, Outcome, WatchTarget, classify, events_since
from envpromote.rollout.progress import Progress, note, progress_of
from envpromote.rollout.reasons import READ_ERRORS, error_text, failure_reasons, is_throttle


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


class WatchOptions(TypedDict, total=False):
    """How a watcher paces itself and whom it tells: every watcher of one service takes these."""

    policy: PollPolicy | None
    clock: Clock | None
    rng: random.Random | None
    on_progress: Callable[[Progress], None] | None


class ServiceWatcher:
    """What watching one ECS service needs, whatever is watched: the client and service, the pace, the clock,
    and who hears of each observation (`on_progress` receives a :class:`Progress`)."""

    def __init__(self, ecs: Any, cluster: str, service: str, **options: Unpack[WatchOptions]) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.service = service
        self.policy = options.get("policy") or PollPolicy()
        self.clock = options.get("clock") or SystemClock()
        self.rng = options.get("rng") or random.Random()  # noqa: S311 - jitter, not security
        self.on_progress = options.get("on_progress") or (lambda _progress: None)
        self.last_progress: Progress | None = None


class RolloutWatcher(ServiceWatcher):
    """Polls DescribeServices for one deployment."""

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

    # ---- the shared wait strategy ------------------------------------------------------------------------

    def observe(self, target: WatchTarget, start: float) -> tuple[dict[str, Any], Observation]:
        """One DescribeServices, classified and reported as progress. Read errors propagate to the caller."""
        service = self.describe()
        observation = classify(service, target)
        self.report(progress_of(service, observation, target, self.clock.now() - start))
        return service, observation

    def report(self, progress: Progress) -> None:
        if not progress.note:
            self.last_progress = progress
        self.on_progress(progress)

    def remark(self, target: WatchTarget, start: float, text: str) -> None:
        self.report(note(target.deployment_id, text, self.clock.now() - start, self.last_progress))

    def conclude(
        self,
        service: Mapping[str, Any],
        observation: Observation,
        target: WatchTarget,
        start: float,
        *,
        source: str,
    ) -> Outcome:
        """The outcome of a conclusive observation; failures carry ECS's own reasons about our deployment."""
        reasons = list(observation.reasons)
        if observation.verdict != "success":
            reasons += failure_reasons(self.ecs, self.cluster, self.service, service, target)
        return Outcome(
            status=str(observation.verdict),
            deployment_id=target.deployment_id,
            summary=observation.summary,
            reasons=reasons,
            seconds=self.clock.now() - start,
            source=source,
            took_over_by=observation.took_over_by,
        )

    def timed_out(
        self,
        target: WatchTarget,
        start: float,
        service: Mapping[str, Any] | None,
        summary: str,
        *,
        source: str,
    ) -> Outcome:
        reasons = events_since(service, target.started_at, exclude=target.stale_ids)[-10:] if service else []
        return Outcome(
            status="timed_out",
            deployment_id=target.deployment_id,
            summary=summary,
            reasons=reasons,
            seconds=self.clock.now() - start,
            source=source,
        )

    # ---- polling -------------------------------------------------------------------------------------------

    def watch(self, target: WatchTarget, *, timeout: float) -> Outcome:
        start = self.clock.now()
        return self.watch_until(target, deadline=start + timeout, start=start)

    def watch_until(self, target: WatchTarget, *, deadline: float, start: float) -> Outcome:
        """Poll until a conclusive observation or `deadline` (a `clock.now()` value); `start` dates the outcome."""
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
                service, observation = self.observe(target, start)
            except READ_ERRORS as exc:
                errors += 1
                consecutive_errors += 1
                last_error = error_text(exc)
                self.remark(target, start, f"ECS read failed ({last_error}); still watching")
                if is_throttle(exc):
                    interval = min(interval * 2, self.policy.max_interval)
                delay = interval
                continue
            consecutive_errors = 0
            interval = self.policy.interval
            delay = interval
            last_service = service
            last_summary = observation.summary
            if observation.verdict is not None:
                outcome = self.conclude(service, observation, target, start, source="poll")
                outcome.errors = errors
                return outcome
        if last_service is None or consecutive_errors:
            summary = f"outcome unknown: ECS could not be read ({last_error or 'no answer'}); last seen: {last_summary}"
        else:
            summary = f"still undecided after {deadline - start:.0f}s: {last_summary}"
        outcome = self.timed_out(target, start, last_service, summary, source="poll")
        outcome.errors = errors
        return outcome
