"""ROLLING deployments, as the scenario says (healthy, slow, circuit-breaker, stuck; see ``scenarios.py``).

* healthy: tasks start evenly until ``complete``; then COMPLETED, the older deployments' tasks are stopped
  and those deployments disappear.
* circuit-breaker: tasks start and exit 1 ("Essential container in task exited") evenly until ``fail``,
  where the deployment is FAILED with failedTasks = ECS's threshold (>= 3). With rollback enabled a new
  PRIMARY deployment on the last completed task definition appears and completes at ``rollback_done``;
  the failed deployment stays ACTIVE until then.
* stuck: stays IN_PROGRESS with every task PENDING.

``complete``, ``fail_task`` and ``scale_in`` are shared with the staged strategies (``staged.py``). Functions here take the
``Simulation`` (``engine``) and run under its LOCK.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from envpromote.sandbox import events
from envpromote.sandbox.deployments import SimDeployment, SimService, new_deployment_id
from envpromote.sandbox.scenarios import Scenario, circuit_breaker_threshold

if TYPE_CHECKING:
    from envpromote.sandbox.simulation import Simulation

FAILED_TASK_REASON = "Essential container in task exited"
FAILED_DEPLOYMENT_REASON = "ECS deployment circuit breaker: tasks failed to start."


def advance(engine: Simulation, sim: SimService, d: SimDeployment, now: float) -> bool:
    elapsed = now - d.start
    scenario = d.scenario
    if scenario.kind == "healthy":
        complete_s = scenario.complete_s or 0.0
        target = d.desired if elapsed >= complete_s else int(d.desired * elapsed / complete_s)
        started = start_up_to(engine, sim, d, target, complete_s)
        if elapsed >= complete_s:
            complete(engine, sim, d, complete_s)
            return True
        return started
    if scenario.kind == "circuit-breaker":
        fail_at = scenario.fail_s or 0.0
        threshold = circuit_breaker_threshold(d.desired)
        changed = False
        while d.failed < threshold:
            due = fail_at * (d.failed + 1) / threshold
            if elapsed < due:
                break
            fail_task(engine, sim, d, due)
            changed = True
        if elapsed >= fail_at:
            fail(engine, sim, d, fail_at)
            return True
        return changed
    return False  # stuck: nothing ever happens


def start_up_to(engine: Simulation, sim: SimService, d: SimDeployment, target: int, complete: float) -> bool:
    started = False
    while len(d.running) < target:
        n = len(d.running) + 1
        offset = complete * n / d.desired if d.desired else 0.0
        task = engine._start_task(sim, d, d.at(offset))
        d.running.append(task)
        d.pending = max(0, d.desired - len(d.running))
        engine._service_event(
            sim, f"(service {sim.name}) has started 1 tasks: (task {task.id}).", d.at(offset)
        )
        started = True
    return started


def fail_task(engine: Simulation, sim: SimService, d: SimDeployment, offset: float) -> None:
    when = d.at(offset)
    task = engine._start_task(sim, d, when)
    engine._service_event(sim, f"(service {sim.name}) has started 1 tasks: (task {task.id}).", when)
    engine._stop_task(
        sim, task, reason=FAILED_TASK_REASON, code="EssentialContainerExited", exit_code=1, when=when
    )
    d.failed += 1
    if d.service_deployment is not None:
        d.service_deployment.circuit_breaker["failureCount"] = d.failed
        d.service_deployment.updated_at = when
    engine._record(sim, d, "TASK_STOPPED", offset, f"{task.task_arn}: {FAILED_TASK_REASON} (exit code 1)")


def complete(engine: Simulation, sim: SimService, d: SimDeployment, offset: float) -> None:
    when = d.at(offset)
    d.rollout_state = "COMPLETED"
    d.reason = f"ECS deployment {d.id} completed."
    d.pending = 0
    d.updated_at = when
    stopped: list[Any] = []
    for other in sim.deployments:
        if other is d:
            continue
        for task in other.running:
            scale_in(engine, sim, task, d.id, when)
            stopped.append(task)
        other.running = []
    sim.deployments = [d]
    d.status = "PRIMARY"
    sim.last_completed_td = d.task_definition
    if stopped:
        ids = " ".join(f"(task {t.id})" for t in stopped)
        engine._service_event(
            sim, f"(service {sim.name}) has stopped {len(stopped)} running tasks: {ids}.", when
        )
    engine._service_event(sim, f"(service {sim.name}) (deployment {d.id}) deployment completed.", when)
    engine._service_event(sim, f"(service {sim.name}) has reached a steady state.", when)
    sd = d.service_deployment
    if sd is not None:
        sd.status = "ROLLBACK_SUCCESSFUL" if d.rollback_to else "SUCCESSFUL"
        sd.status_reason = "Rollback completed." if d.rollback_to else "Service deployment completed."
        sd.finished_at = sd.updated_at = when
        if sd.circuit_breaker.get("status") == "MONITORING":
            sd.circuit_breaker["status"] = "MONITORING_COMPLETE"
    engine._record(sim, d, "COMPLETED", offset, "")
    engine._publish_deployment(sim, d, "SERVICE_DEPLOYMENT_COMPLETED", when)
    service = sim.service
    engine.sink.publish(
        service._account_id,
        service.region_name,
        events.service_action(
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            event_name="SERVICE_STEADY_STATE",
            when=when,
        ),
    )


def fail(engine: Simulation, sim: SimService, d: SimDeployment, offset: float) -> None:
    when = d.at(offset)
    d.rollout_state = "FAILED"
    d.reason = FAILED_DEPLOYMENT_REASON
    d.pending = 0
    d.updated_at = when
    engine._service_event(
        sim, f"(service {sim.name}) (deployment {d.id}) deployment failed: tasks failed to start.", when
    )
    engine._record(sim, d, "FAILED", offset, d.reason)
    engine._publish_deployment(sim, d, "SERVICE_DEPLOYMENT_FAILED", when)
    sd = d.service_deployment
    if sd is not None:
        sd.circuit_breaker["status"] = "TRIGGERED"
        sd.updated_at = when
    if not sim.rollback_enabled() or sim.last_completed_td is None:
        if sd is not None:
            sd.status = "STOPPED"
            sd.status_reason = "Circuit breaker: tasks failed to start; rollback is not enabled."
            sd.stopped_at = when
        return
    roll_back_rolling(engine, sim, d, offset, "Circuit breaker: tasks failed to start")


def roll_back_rolling(
    engine: Simulation, sim: SimService, d: SimDeployment, offset: float, reason: str
) -> None:
    """A new PRIMARY deployment on the last completed task definition (circuit breaker, StopServiceDeployment)."""
    when = d.at(offset)
    sd = d.service_deployment
    previous = next((x for x in sim.deployments if x is not d), None)
    assert sim.last_completed_td is not None
    breaker = reason.startswith("Circuit breaker")
    if d.rollout_state == "IN_PROGRESS":
        d.rollout_state, d.reason, d.pending, d.updated_at = "FAILED", reason, 0, when
    d.status = "ACTIVE"
    back_to = previous.id if previous is not None else "(none)"
    scenario = d.scenario  # a requested rollback takes as long as the rollout would have
    done = (
        scenario.rollback_done_s
        if scenario.rollback_done_s is not None
        else offset + (scenario.complete_s or 0)
    )
    rollback = SimDeployment(
        id=new_deployment_id(engine.rng),
        task_definition=sim.last_completed_td,
        scenario=Scenario("healthy", complete_s=max(0.0, done - offset), text=f"rollback of {d.id}"),
        start=d.start + offset,
        created_at=when,
        desired=d.desired,
        service_deployment=sd,
        pending=d.desired,
        rollback_to=back_to,
        origin=d.zero,
    )
    rollback.reason = (
        f"ECS deployment circuit breaker: rolling back to deploymentId {back_to}."
        if breaker
        else f"ECS deployment rollback requested: rolling back to deploymentId {back_to}."
    )
    sim.deployments.insert(0, rollback)
    for other in sim.deployments[1:]:
        other.status = "ACTIVE"
    engine._service_event(sim, f"(service {sim.name}) rolling back to deployment {back_to}.", when)
    if sd is not None:
        sd.status = "ROLLBACK_IN_PROGRESS"
        sd.status_reason = (
            "Circuit breaker triggered; rolling back to the previous service revision."
            if breaker
            else f"{reason} Rolling back to the previous service revision."
        )
        sd.rollback = {
            "reason": reason,
            "startedAt": when,
            "serviceRevisionArn": sd.source_revisions[0]["arn"] if sd.source_revisions else None,
        }
    engine._record(sim, rollback, "ROLLBACK_IN_PROGRESS", 0.0, rollback.reason)
    engine._publish_deployment(sim, rollback, "SERVICE_DEPLOYMENT_IN_PROGRESS", when)


def scale_in(engine: Simulation, sim: SimService, task: Any, deployment_id: str, when: datetime) -> None:
    """ECS's scheduler stops `task` (exit 0) because deployment `deployment_id` needs fewer tasks of its kind."""
    engine._stop_task(
        sim,
        task,
        reason=f"Scaling activity initiated by (deployment {deployment_id})",
        code="ServiceSchedulerInitiated",
        exit_code=0,
        when=when,
    )


def scale(engine: Simulation, sim: SimService, d: SimDeployment, desired: int) -> None:
    when = engine.clock.wall()
    d.desired = desired
    if d.rollout_state == "COMPLETED":
        while len(d.running) < desired:
            d.running.append(engine._start_task(sim, d, when))
        while len(d.running) > desired:
            scale_in(engine, sim, d.running.pop(), d.id, when)
    else:
        d.pending = max(0, desired - len(d.running))
    engine._render(sim)
