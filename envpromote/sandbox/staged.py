"""BLUE_GREEN, CANARY and LINEAR service deployments played on the sandbox clock (the steps: ``strategies.py``).

A staged deployment starts its green tasks next to blue's, moves test traffic, then production traffic to
green step by step, bakes, and cleans blue up. PAUSE hooks hold it at the end of their stage until
``ContinueServiceDeployment`` (CONTINUE or ROLLBACK) or their timeout (``timeoutConfiguration``). A rollback
(scenario ``fail-at:<STAGE>``, an alarm of ``deploymentConfiguration.alarms`` in ALARM, a hook's ROLLBACK,
``StopServiceDeployment ROLLBACK``) moves every listener's traffic back to blue at once, stops green's tasks
one STAGE_S later and leaves blue PRIMARY: a revision rolled back before PRODUCTION_TRAFFIC_SHIFT never served
production traffic.

Functions here take the ``Simulation`` (``engine``) and run under its LOCK.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from envpromote.sandbox import rolling
from envpromote.sandbox.strategies import STAGE_S, Hook, Step, hooks_of, plan, strategy_of

if TYPE_CHECKING:
    from envpromote.sandbox.deployments import SimDeployment, SimService
    from envpromote.sandbox.simulation import Simulation

FAILED_HEALTH_REASON = "Target health checks failed for the target service revision."


@dataclass
class HookRun:
    """One lifecycle hook invocation (``DeploymentLifecycleHookDetail``)."""

    hook_id: str
    hook: Hook
    stage: str
    expires: float  # the sandbox time its timeout ends: started + the hook's (or the scenario's) timeout
    status: str = "IN_PROGRESS"

    def describe(self, wall: Callable[[float], datetime]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "hookId": self.hook_id,
            "targetType": self.hook.target_type,
            "status": self.status,
            "expiresAt": wall(self.expires),
            "timeoutAction": self.hook.timeout_action,
        }
        if self.hook.target_arn:
            data["targetArn"] = self.hook.target_arn
        return data


@dataclass
class Staged:
    strategy: str
    steps: list[Step]
    hooks: list[Hook]
    blue: SimDeployment | None
    step_start: float
    index: int = 0
    hold_until: float = 0.0
    hooks_ran: int = -1  # the step index whose hooks were started
    runs: list[HookRun] = field(default_factory=list)
    waiting: list[HookRun] = field(default_factory=list)  # PAUSE hooks of this step not yet resolved
    rollback_until: float | None = None
    finished: bool = False
    test_percent: float = 0.0
    production_percent: float = 0.0

    @property
    def stage(self) -> str:
        return self.steps[min(self.index, len(self.steps) - 1)].stage

    @property
    def paused(self) -> HookRun | None:
        return next((r for r in self.waiting if r.status == "AWAITING_ACTION"), None)

    @property
    def moving(self) -> bool:
        return not self.finished


def is_staged(config: dict[str, Any] | None) -> bool:
    return strategy_of(config) != "ROLLING"


def start(engine: Simulation, sim: SimService, d: SimDeployment, config: dict[str, Any], now: float) -> None:
    """Attach a staged plan to the new deployment `d` (blue: the service's last completed deployment)."""
    blue = next((x for x in sim.deployments if x is not d and x.rollout_state == "COMPLETED"), None)
    d.staged = Staged(
        strategy=strategy_of(config),
        steps=plan(config, d.scenario.complete_s or 0.0),
        hooks=hooks_of(config),
        blue=blue,
        step_start=now,
    )
    _enter(engine, sim, d, now)


def due(d: SimDeployment) -> float | None:
    """Sandbox time of this deployment's next change; None while it waits for someone (a paused hook)."""
    st = d.staged
    if st is None or st.finished:
        return None
    if st.rollback_until is not None:
        return st.rollback_until
    if st.paused is not None:
        return None
    step = st.steps[st.index]
    if step.stage == "SCALE_UP" and d.scenario.kind == "stuck":
        return None
    return max(st.step_start + step.duration_s, st.hold_until)


def advance(engine: Simulation, sim: SimService, d: SimDeployment, now: float) -> bool:
    st = d.staged
    assert st is not None
    changed = False
    for _ in range(10_000):
        if st.finished:
            return changed
        if st.rollback_until is not None:
            if now < st.rollback_until:
                return changed
            _finish_rollback(engine, sim, d, st.rollback_until)
            return True
        triggered = engine.alarms_in_alarm(sim, d)
        if triggered:
            _alarm(engine, sim, d, triggered, now)
            changed = True
            continue
        paused = st.paused
        if paused is not None:
            if now < paused.expires:
                return changed
            _timeout(engine, sim, d, paused)
            changed = True
            continue
        step = st.steps[st.index]
        end = max(st.step_start + step.duration_s, st.hold_until)
        if step.stage == "SCALE_UP":
            if d.scenario.kind == "stuck":  # its tasks never start: it stays in SCALE_UP
                return changed
            changed |= _scale_up(engine, sim, d, step, min(now, end))
        if now < end:
            return changed
        if step.hook_stage and st.hooks_ran != st.index:
            st.hooks_ran = st.index
            _run_hooks(engine, sim, d, step.hook_stage, end)
            changed = True
            continue
        st.waiting = []
        st.index += 1
        if st.index == len(st.steps):
            st.finished = True
            sim.traffic = None
            rolling.complete(engine, sim, d, end - d.start)
            return True
        st.step_start = end
        _enter(engine, sim, d, end)
        changed = True
    raise RuntimeError("staged deployment did not converge")


def _scale_up(engine: Simulation, sim: SimService, d: SimDeployment, step: Step, until: float) -> bool:
    st = d.staged
    assert st is not None
    if step.duration_s <= 0:
        target = d.desired
    else:
        target = min(d.desired, int(d.desired * (until - st.step_start) / step.duration_s))
    started = False
    while len(d.running) < target:
        n = len(d.running) + 1
        when = engine.clock.wall(st.step_start + step.duration_s * n / d.desired)
        task = engine._start_task(sim, d, when)
        d.running.append(task)
        d.pending = max(0, d.desired - len(d.running))
        engine._service_event(sim, f"(service {sim.name}) has started 1 tasks: (task {task.id}).", when)
        started = True
    return started


def _enter(engine: Simulation, sim: SimService, d: SimDeployment, t: float) -> None:
    """Enter the current step at sandbox time t: traffic, stage, the scenario's failure or alarm."""
    st = d.staged
    assert st is not None
    step = st.steps[st.index]
    previous = st.steps[st.index - 1].stage if st.index else None
    st.test_percent, st.production_percent = step.test_percent, step.production_percent
    engine.set_traffic(sim, d, st.blue, test=step.test_percent, production=step.production_percent)
    sd = d.service_deployment
    when = engine.clock.wall(t)
    if sd is not None:
        sd.lifecycle_stage = step.stage
        sd.updated_at = when
    if step.stage != previous:
        engine._service_event(
            sim, f"(service {sim.name}) (deployment {d.id}) entered lifecycle stage {step.stage}.", when
        )
        engine._record(sim, d, step.stage, t - d.start, _traffic_text(st))
    elif step.production_percent != st.steps[st.index - 1].production_percent:
        engine._record(sim, d, step.stage, t - d.start, _traffic_text(st))
    if step.stage == previous:
        return
    if d.scenario.fail_stage == step.stage:
        if step.stage == "SCALE_UP":
            for _ in range(engine.breaker_threshold(d)):
                rolling.fail_task(engine, sim, d, t - d.start)
            reason = "ECS deployment circuit breaker: tasks failed to start."
        else:
            reason = FAILED_HEALTH_REASON
        rollback(engine, sim, d, t, reason)
    elif step.stage == "BAKE_TIME" and d.scenario.alarm_in_bake:
        engine.set_first_alarm(sim, d, "sandbox scenario alarm-in-bake")


def _traffic_text(st: Staged) -> str:
    return f"test traffic {st.test_percent:g}% / production traffic {st.production_percent:g}% on the target revision"


def _run_hooks(engine: Simulation, sim: SimService, d: SimDeployment, stage: str, t: float) -> None:
    st = d.staged
    assert st is not None
    when = engine.clock.wall(t)
    for hook in st.hooks:
        if stage not in hook.stages:
            continue
        timeout = d.scenario.hook_timeout_s if d.scenario.hook_timeout_s is not None else hook.timeout_s
        run = HookRun(hook_id=uuid.uuid4().hex, hook=hook, stage=stage, expires=t + timeout)
        st.runs.append(run)
        if hook.target_type == "AWS_LAMBDA":  # the sandbox has no Lambda: the hook answers SUCCEEDED at once
            run.status = "SUCCEEDED"
            continue
        run.status = "AWAITING_ACTION"
        st.waiting.append(run)
        engine._service_event(
            sim,
            f"(service {sim.name}) (deployment {d.id}) is paused at lifecycle hook {run.hook_id} "
            f"({stage}); waiting for ContinueServiceDeployment.",
            when,
        )
        engine._record(sim, d, "PAUSED", t - d.start, f"hook {run.hook_id} at {stage}")
    if d.service_deployment is not None:
        d.service_deployment.updated_at = when


def _timeout(engine: Simulation, sim: SimService, d: SimDeployment, run: HookRun) -> None:
    run.status = "TIMED_OUT"
    t = run.expires
    engine._record(sim, d, "HOOK_TIMED_OUT", t - d.start, f"hook {run.hook_id}: {run.hook.timeout_action}")
    if run.hook.timeout_action == "CONTINUE":
        _resume(d, t)
    else:
        rollback(engine, sim, d, t, f"Lifecycle hook {run.hook_id} timed out.")


def _resume(d: SimDeployment, t: float) -> None:
    st = d.staged
    assert st is not None
    if st.paused is None:
        st.hold_until = max(st.hold_until, t)


def continue_hook(engine: Simulation, sim: SimService, d: SimDeployment, hook_id: str, action: str) -> None:
    """ContinueServiceDeployment: raise LookupError if `hook_id` is not awaiting action in this deployment."""
    st = d.staged
    run = next((r for r in st.runs if r.hook_id == hook_id), None) if st is not None else None
    if st is None or run is None or run.status != "AWAITING_ACTION" or st.rollback_until is not None:
        raise LookupError(hook_id)
    now = engine.clock.now()
    engine._record(sim, d, f"HOOK_{action}", now - d.start, f"hook {hook_id}")
    if action == "ROLLBACK":
        run.status = "FAILED"
        rollback(
            engine, sim, d, now, f"Rolled back by ContinueServiceDeployment at lifecycle hook {hook_id}."
        )
        return
    run.status = "SUCCEEDED"
    _resume(d, now)


def _alarm(engine: Simulation, sim: SimService, d: SimDeployment, triggered: list[str], t: float) -> None:
    sd = d.service_deployment
    config = sd.deployment_configuration.get("alarms") if sd is not None else None
    if sd is not None:
        sd.alarms = {**sd.alarms, "status": "TRIGGERED", "triggeredAlarmNames": triggered}
    reason = f"CloudWatch alarm(s) {', '.join(triggered)} in ALARM."
    if config and config.get("rollback"):
        rollback(engine, sim, d, t, reason)
        return
    stop(engine, sim, d, t, reason)


def rollback(engine: Simulation, sim: SimService, d: SimDeployment, t: float, reason: str) -> None:
    """Every listener back to blue now; green's tasks stop and the deployment ends STAGE_S later."""
    st = d.staged
    assert st is not None
    blue = st.blue
    when = engine.clock.wall(t)
    for run in st.waiting:
        if run.status == "AWAITING_ACTION":
            run.status = "FAILED"
    if blue is None:
        stop(engine, sim, d, t, reason + " There is no previous revision to roll back to.")
        return
    st.rollback_until = t + STAGE_S
    st.test_percent = st.production_percent = 0.0
    engine.set_traffic(sim, d, blue, test=0.0, production=0.0)
    d.rollout_state, d.reason, d.status, d.pending, d.updated_at = "FAILED", reason, "ACTIVE", 0, when
    blue.status = "PRIMARY"
    sim.deployments = [blue] + [x for x in sim.deployments if x is not blue]
    sd = d.service_deployment
    if sd is not None:
        sd.status = "ROLLBACK_IN_PROGRESS"
        sd.status_reason = reason
        sd.updated_at = when
        sd.rollback = {"reason": reason, "startedAt": when, "serviceRevisionArn": blue.revision_arn}
        if sd.circuit_breaker.get("status") == "MONITORING" and "circuit breaker" not in reason:
            sd.circuit_breaker["status"] = "MONITORING_COMPLETE"
        elif "circuit breaker" in reason:
            sd.circuit_breaker["status"] = "TRIGGERED"
    engine._service_event(sim, f"(service {sim.name}) (deployment {d.id}) deployment failed: {reason}", when)
    engine._service_event(sim, f"(service {sim.name}) rolling back to deployment {blue.id}.", when)
    engine._record(sim, d, "ROLLBACK_IN_PROGRESS", t - d.start, reason)
    engine._publish_deployment(sim, d, "SERVICE_DEPLOYMENT_FAILED", when)


def _finish_rollback(engine: Simulation, sim: SimService, d: SimDeployment, t: float) -> None:
    st = d.staged
    assert st is not None
    assert st.blue is not None
    when = engine.clock.wall(t)
    for task in d.running:
        rolling.scale_in(engine, sim, task, st.blue.id, when)
    d.running = []
    st.finished = True
    st.rollback_until = None
    sim.deployments = [x for x in sim.deployments if x is not d]
    sim.traffic = None
    sd = d.service_deployment
    if sd is not None:
        sd.status = "ROLLBACK_SUCCESSFUL"
        sd.status_reason = f"Rolled back to the previous service revision: {d.reason}"
        sd.finished_at = sd.updated_at = when
    engine._service_event(sim, f"(service {sim.name}) has reached a steady state.", when)
    engine._record(sim, d, "ROLLBACK_SUCCESSFUL", t - d.start, "")


def stop(engine: Simulation, sim: SimService, d: SimDeployment, t: float, reason: str) -> None:
    """End the deployment where it is (StopServiceDeployment ABORT, an alarm without rollback)."""
    st = d.staged
    when = engine.clock.wall(t)
    if st is not None:
        st.finished = True
        for run in st.waiting:
            if run.status == "AWAITING_ACTION":
                run.status = "FAILED"
    d.rollout_state, d.reason, d.pending, d.updated_at = "FAILED", reason, 0, when
    d.superseded = True
    sd = d.service_deployment
    if sd is not None:
        sd.status = "STOPPED"
        sd.status_reason = reason
        sd.stopped_at = sd.updated_at = when
    engine._service_event(sim, f"(service {sim.name}) (deployment {d.id}) deployment stopped: {reason}", when)
    engine._record(sim, d, "STOPPED", t - d.start, reason)
    engine._publish_deployment(sim, d, "SERVICE_DEPLOYMENT_FAILED", when)
