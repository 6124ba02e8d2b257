"""Start-to-verdict watching of one ECS deployment.

- ``classify``: pure - one DescribeServices answer -> an :class:`Observation` about the :class:`WatchTarget`;
- ``poll``: :class:`RolloutWatcher` (adaptive polling, injectable :class:`Clock`) and the shared wait strategy;
- ``events``: :class:`EventWatcher` (ECS events via EventBridge -> SQS, confirmed by DescribeServices);
- ``reasons``: ECS's own words about our deployment (events, service deployment, stopped tasks);
- ``progress``: the :class:`Progress` value given to ``on_progress`` and its renderers;
- ``stages``: pure - one DescribeServiceDeployments answer -> a :class:`StageObservation` (stage, pause, verdict);
- ``stage_watch``: :class:`StageWatcher` for blue/green, canary and linear (stages, verified pause, bake checks).

Usage::

    target = WatchTarget(deployment_id, new_arn, previous_arn, started_at, stale_ids)
    with closing(progress_printer(out)) as show:
        outcome = RolloutWatcher(ecs, cluster, service, on_progress=show).watch(target, timeout=600)
"""

from envpromote.rollout.classify import (
    Observation,
    Outcome,
    WatchTarget,
    classify,
    events_since,
    find_deployment_for,
)
from envpromote.rollout.events import EventQueueUnavailable, EventWatcher, event_signal, parse_ecs_event
from envpromote.rollout.poll import Clock, PollPolicy, RolloutWatcher, SystemClock
from envpromote.rollout.progress import LiveProgress, PlainProgress, Progress, progress_printer
from envpromote.rollout.reasons import describe_stopped_tasks
from envpromote.rollout.stage_watch import StageWatcher
from envpromote.rollout.stages import PausedHook, StageObservation, classify_service_deployment

__all__ = [
    "Clock",
    "EventQueueUnavailable",
    "EventWatcher",
    "LiveProgress",
    "Observation",
    "Outcome",
    "PausedHook",
    "PlainProgress",
    "PollPolicy",
    "Progress",
    "RolloutWatcher",
    "StageObservation",
    "StageWatcher",
    "SystemClock",
    "WatchTarget",
    "classify",
    "classify_service_deployment",
    "describe_stopped_tasks",
    "event_signal",
    "events_since",
    "find_deployment_for",
    "parse_ecs_event",
    "progress_printer",
]
