"""ECS rollout simulation layered on moto's (static) ECS backend.

(Over 400 lines: this is the one object the patches, the server, the ticker and the listeners call under one
lock — service bookkeeping, deployment start, time, queries and output. What a deployment does over time
lives in ``rolling.py`` (ROLLING) and ``staged.py`` + ``strategies.py`` (BLUE_GREEN, CANARY, LINEAR), the
state in ``deployments.py``, the task objects in ``tasks.py``.)

moto stores services and task definitions but never rolls anything out. This module keeps, per service, a
list of deployments that advance on a timeline chosen by the rollout's scenario (``scenarios.py``) and the
service's ``deploymentConfiguration.strategy``, measured on the sandbox clock (``clock.py``: scaled and
advanceable, so tests need not wait in real time), and writes the result back into moto's objects so every
ECS API (DescribeServices, ListTasks, DescribeTasks, the waiters) sees it:

* CreateService keeps ``deploymentConfiguration`` (strategy included); its first deployment is COMPLETED at
  once (so a freshly provisioned sandbox is steady).
* UpdateService with a new task definition (or forceNewDeployment) starts a new PRIMARY deployment
  (``ecs-svc/<digits>``, IN_PROGRESS, runningCount 0); the previous one becomes ACTIVE. ROLLING plays the
  scenario (``rolling.py``); BLUE_GREEN, CANARY and LINEAR play ECS's lifecycle stages (``staged.py``).

Every deployment state change and every stopped task is also published as an ECS EventBridge event, and each
UpdateService gets a service deployment (ListServiceDeployments / DescribeServiceDeployments /
ContinueServiceDeployment / StopServiceDeployment). Each service's "test" and "production" listeners
(``listeners.py``) ask ``route`` who serves them.

All state is guarded by ``LOCK``: the server's ticker thread, every ECS request and every clock advance move
the simulation under it, so changes happen on the sandbox clock whether or not anybody is asking. Every
timestamp the simulation reports (deployments, service events, tasks, EventBridge events) is
``clock.wall(...)`` of its scheduled sandbox time.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import datetime
from typing import Any

from envpromote.sandbox import events, rolling, staged
from envpromote.sandbox.clock import SandboxClock
from envpromote.sandbox.deployments import (
    SimDeployment,
    SimService,
    SimServiceDeployment,
    TimelineEntry,
    new_deployment_id,
    short_id,
)
from envpromote.sandbox.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIO_ANNOTATION,
    SCENARIO_TAG,
    Scenario,
    ScenarioError,
    circuit_breaker_threshold,
    parse_scenario,
)

LOCK = threading.RLock()
MAX_SERVICE_EVENTS = 100
SETTLE_STEP_S = 1e-6


class Simulation:
    """The rollout state of every service, keyed by (account, region, cluster, service)."""

    def __init__(self, sink: events.EventSink | None = None, clock: SandboxClock | None = None) -> None:
        self.clock = clock or SandboxClock()
        self.sink = sink or events.EventSink(now=self.clock.now)
        self.services: dict[tuple[str, str, str, str], SimService] = {}
        self.rng = random.Random()  # noqa: S311 - ids, not secrets
        self._task_class: type | None = None
        self.listeners: Any = None  # listeners.ListenerHub in the server process: opened per new service

    # ------------------------------------------------------------------ bookkeeping
    def reset(self) -> None:
        with LOCK:
            self.services.clear()

    @staticmethod
    def key(service: Any) -> tuple[str, str, str, str]:
        return (service._account_id, service.region_name, service.cluster_name, service.name)

    def _task(self, **kwargs: Any) -> Any:
        if self._task_class is None:
            from envpromote.sandbox.tasks import make_task_class

            self._task_class = make_task_class()
        return self._task_class(**kwargs)

    def _live(self, sim: SimService) -> bool:
        """False once moto forgot the service (reset, DeleteService, re-create)."""
        current = sim.backend.services.get(f"{sim.service.cluster_name}:{sim.service.name}")
        return current is sim.service and sim.service.status == "ACTIVE"

    def get(self, service: Any) -> SimService | None:
        sim = self.services.get(self.key(service))
        if sim is not None and sim.service is not service:
            return None
        return sim

    def forget(self, service: Any) -> None:
        with LOCK:
            self.services.pop(self.key(service), None)

    # ------------------------------------------------------------------ scenario lookup
    def scenario_for(self, backend: Any, td: Any) -> Scenario:
        """Task definition tag first, then the image's manifest annotation, else the default."""
        for tag in getattr(td, "tags", None) or []:
            if tag.get("key") == SCENARIO_TAG:
                return parse_scenario(str(tag.get("value", "")))
        for container in td.container_definitions:
            annotation = self._image_annotation(backend, str(container.get("image", "")))
            if annotation:
                try:
                    return parse_scenario(annotation)
                except ScenarioError:
                    break
        return parse_scenario(DEFAULT_SCENARIO)

    @staticmethod
    def _find_image(backend: Any, image_uri: str) -> Any:
        from moto.ecr.models import ecr_backends

        if ".dkr.ecr." not in image_uri:
            return None
        host, _, rest = image_uri.partition("/")
        region = host.split(".dkr.ecr.")[1].split(".")[0]
        if "@" in rest:
            name, _, ref = rest.partition("@")
        else:
            name, _, ref = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
        try:
            repository = ecr_backends[backend.account_id][region].repositories.get(name)
        except KeyError:
            return None
        if repository is None:
            return None
        for image in repository.images:
            if ref.startswith("sha256:") and image.image_digest == ref:
                return image
            if ref in (image.image_tags or []):
                return image
        return None

    def _image_annotation(self, backend: Any, image_uri: str) -> str | None:
        import json

        image = self._find_image(backend, image_uri)
        if image is None:
            return None
        try:
            manifest = json.loads(image.image_manifest)
        except (TypeError, ValueError):
            return None
        value = (manifest.get("annotations") or {}).get(SCENARIO_ANNOTATION)
        return str(value) if value else None

    def _image_digest(self, backend: Any, td: Any) -> str | None:
        image_uri = str(td.container_definitions[0].get("image", "")) if td.container_definitions else ""
        return self.digest_of(backend, image_uri)

    def digest_of(self, backend: Any, image_uri: str) -> str | None:
        """The digest an image reference runs: its own when pinned, else the tag's image in the sandbox's ECR."""
        if "@sha256:" in image_uri:
            return image_uri.split("@", 1)[1]
        image = self._find_image(backend, image_uri)
        return str(image.image_digest) if image is not None else None

    # ------------------------------------------------------------------ hooks called by the patches
    def on_create_service(self, backend: Any, service: Any) -> None:
        """A new service starts steady: one COMPLETED deployment with desiredCount running tasks."""
        with LOCK:
            now = self.clock.now()
            sim = SimService(service=service, backend=backend)
            self.services[self.key(service)] = sim
            if not service.task_definition:
                return
            td = backend.describe_task_definition(service.task_definition)
            deployment = SimDeployment(
                id=new_deployment_id(self.rng),
                task_definition=td.arn,
                scenario=parse_scenario("healthy:0"),
                start=now,
                created_at=self.clock.wall(now),
                desired=service.desired_count,
                service_deployment=None,
                rollout_state="COMPLETED",
            )
            deployment.reason = f"ECS deployment {deployment.id} completed."
            deployment.running = [
                self._start_task(sim, deployment, deployment.created_at) for _ in range(deployment.desired)
            ]
            deployment.revision_arn = self._revision_arn(service, deployment.id.removeprefix("ecs-svc/"))
            sim.revisions[deployment.revision_arn] = (td.arn, deployment.created_at)
            sim.deployments = [deployment]
            sim.last_completed_td = td.arn
            if self.listeners is not None:
                self.listeners.open(self.key(service))
            self._service_event(
                sim, f"(service {sim.name}) has reached a steady state.", deployment.created_at
            )
            self._render(sim)

    def on_update_service(
        self, backend: Any, service: Any, previous_td: str | None, force_new_deployment: bool
    ) -> None:
        with LOCK:
            sim = self.get(service)
            if sim is None:  # created before the simulation existed (cannot happen in the server)
                self.on_create_service(backend, service)
                return
            td = backend.describe_task_definition(service.task_definition)
            primary = sim.deployments[0] if sim.deployments else None
            if primary is not None and td.arn == primary.task_definition and not force_new_deployment:
                rolling.scale(self, sim, primary, service.desired_count)
                return
            self.start_deployment(sim, td)

    def start_deployment(self, sim: SimService, td: Any) -> SimDeployment:
        scenario = self.scenario_for(sim.backend, td)
        now = self.clock.now()
        when = self.clock.wall(now)
        service = sim.service
        config = dict(getattr(service, "deployment_configuration", None) or {})
        for previous in sim.deployments:
            previous.status = "ACTIVE"
            if previous.rollout_state == "IN_PROGRESS":
                previous.superseded = True
                previous.pending = 0
        for sd in sim.service_deployments:
            if sd.status in {"PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_REQUESTED"}:
                sd.status = "STOPPED"
                sd.status_reason = "A newer service deployment started."
                sd.stopped_at = sd.updated_at = when
        region, account = service.region_name, service._account_id
        sd_id = short_id(self.rng)
        revision_arn = (
            f"arn:aws:ecs:{region}:{account}:service-revision/{service.cluster_name}/{service.name}/{sd_id}"
        )
        for d in sim.deployments:
            if not d.revision_arn:
                d.revision_arn = self._revision_arn(service, d.id.removeprefix("ecs-svc/"))
                sim.revisions.setdefault(d.revision_arn, (d.task_definition, d.created_at))
        sim.revisions[revision_arn] = (td.arn, when)
        sources = [
            {
                "arn": d.revision_arn,
                "requestedTaskCount": d.desired,
                "runningTaskCount": len(d.running),
                "pendingTaskCount": d.pending,
            }
            for d in sim.deployments
        ]
        threshold = circuit_breaker_threshold(service.desired_count)
        sd = SimServiceDeployment(
            arn=f"arn:aws:ecs:{region}:{account}:service-deployment/{service.cluster_name}/{service.name}/{sd_id}",
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            target_revision_arn=revision_arn,
            target_task_definition=td.arn,
            source_revisions=sources,
            created_at=when,
            started_at=when,
            updated_at=when,
            circuit_breaker={"status": "MONITORING", "failureCount": 0, "threshold": threshold},
            deployment_configuration=config,
            wall=self.clock.wall,
        )
        alarms = config.get("alarms") or {}
        if alarms.get("alarmNames"):
            sd.alarms = {
                "status": "MONITORING" if alarms.get("enable") else "DISABLED",
                "alarmNames": list(alarms["alarmNames"]),
                "triggeredAlarmNames": [],
            }
        sim.service_deployments.append(sd)
        deployment = SimDeployment(
            id=new_deployment_id(self.rng),
            task_definition=td.arn,
            scenario=scenario,
            start=now,
            created_at=when,
            desired=service.desired_count,
            service_deployment=sd,
            pending=service.desired_count,
            revision_arn=revision_arn,
        )
        deployment.reason = f"ECS deployment {deployment.id} in progress."
        sim.deployments.insert(0, deployment)
        self._record(sim, deployment, "IN_PROGRESS", 0.0, scenario.text)
        self._publish_deployment(sim, deployment, "SERVICE_DEPLOYMENT_IN_PROGRESS", when)
        if staged.is_staged(config):
            staged.start(self, sim, deployment, config, now)
            sd.staged = deployment.staged
        else:
            sim.traffic = None
        self._render(sim)
        return deployment

    # ------------------------------------------------------------------ time
    def advance(self, now: float | None = None) -> None:
        with LOCK:
            now = self.clock.now() if now is None else now
            for key, sim in list(self.services.items()):
                if not self._live(sim):
                    del self.services[key]
                    continue
                changed = False
                for deployment in list(sim.deployments):
                    if deployment.superseded:
                        continue
                    if deployment.staged is not None and deployment.staged.moving:
                        changed |= staged.advance(self, sim, deployment, now)
                    elif deployment.rollout_state == "IN_PROGRESS" and deployment.staged is None:
                        changed |= rolling.advance(self, sim, deployment, now)
                if changed:
                    self._render(sim)
            self.sink.deliver_due()

    def next_due(self) -> float | None:
        """Sandbox time of the next conclusion (COMPLETED or FAILED) of a rollout in progress, or of the next step
        of a staged one; None if none is due.

        Stuck rollouts never conclude and paused ones wait for ContinueServiceDeployment: neither is due.
        """
        with LOCK:
            due: list[float] = []
            for sim in self.services.values():
                if not self._live(sim):
                    continue
                for d in sim.deployments:
                    if d.superseded:
                        continue
                    if d.staged is not None:
                        at = staged.due(d)
                        if at is not None:
                            due.append(at)
                    elif d.rollout_state == "IN_PROGRESS" and d.scenario.kind != "stuck":
                        scenario = d.scenario
                        due.append(
                            d.start
                            + (
                                scenario.complete_s or 0.0
                                if scenario.kind == "healthy"
                                else scenario.fail_s or 0.0
                            )
                        )
            return min(due, default=None)

    def settle(self, max_steps: int = 1000) -> float:
        """Jump the clock to the moment no rollout is in progress any more (stuck ones excepted); returns it."""
        with LOCK:
            for _ in range(max_steps):
                self.advance()
                due = self.next_due()
                if due is None:
                    return self.clock.now()
                # 1 us past the due time: (start + t) - start can come out a hair below t in floats
                self.clock.advance(max(0.0, due - self.clock.now()) + SETTLE_STEP_S)
            raise RuntimeError(f"the simulation did not settle within {max_steps} steps")

    def throttle_fraction(self) -> float:
        """The largest throttle share of any rollout in progress (scenario ``throttle:<fraction>``)."""
        with LOCK:
            return max(
                (
                    d.scenario.throttle_fraction
                    for sim in self.services.values()
                    for d in sim.deployments
                    if d.rollout_state == "IN_PROGRESS" and not d.superseded
                ),
                default=0.0,
            )

    def _start_task(self, sim: SimService, d: SimDeployment, when: datetime) -> Any:
        backend = sim.backend
        td = backend.describe_task_definition(d.task_definition)
        cluster = backend._get_cluster(sim.service.cluster_name)
        task = self._task(
            backend=backend,
            cluster=cluster,
            task_definition=td,
            started_by=d.id,
            group=f"service:{sim.name}",
            launch_type=sim.service.launch_type or "FARGATE",
            image_digest=self._image_digest(backend, td),
            when=when,
        )
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        return task

    def _stop_task(
        self, sim: SimService, task: Any, *, reason: str, code: str, exit_code: int, when: datetime
    ) -> None:
        task.stop(reason=reason, code=code, exit_code=exit_code, when=when)
        service = sim.service
        self.sink.publish(
            service._account_id, service.region_name, events.task_state_change(task.to_event_detail(), when)
        )

    # ------------------------------------------------------------------ strategies, traffic, alarms
    @staticmethod
    def _revision_arn(service: Any, revision_id: str) -> str:
        return (
            f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-revision/"
            f"{service.cluster_name}/{service.name}/{revision_id}"
        )

    @staticmethod
    def breaker_threshold(d: SimDeployment) -> int:
        return circuit_breaker_threshold(d.desired)

    @staticmethod
    def set_traffic(
        sim: SimService, green: SimDeployment, blue: SimDeployment | None, **percent: float
    ) -> None:
        """Route each listener's traffic: `percent[listener]` % to green, the rest to blue."""
        sim.traffic = {
            listener: [(green, share)] + ([(blue, 100.0 - share)] if blue is not None else [])
            for listener, share in percent.items()
        }

    def route(self, sim: SimService, listener: str) -> list[tuple[SimDeployment, float]]:
        """Who serves `listener` ("test" | "production"), with weights: a staged deployment's split, else
        every deployment by its running tasks (a rolling update mixes old and new tasks)."""
        if sim.traffic is not None and listener in sim.traffic:
            return [(d, w) for d, w in sim.traffic[listener] if w > 0]
        return [(d, float(len(d.running))) for d in sim.deployments if d.running]

    def revision_digest(self, sim: SimService, d: SimDeployment) -> str | None:
        return self._image_digest(sim.backend, sim.backend.describe_task_definition(d.task_definition))

    @staticmethod
    def _cloudwatch(sim: SimService) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[sim.service._account_id][sim.service.region_name]

    def alarms_in_alarm(self, sim: SimService, d: SimDeployment) -> list[str]:
        """The alarms of the deployment's ``alarms`` configuration (when enabled) that are in ALARM."""
        sd = d.service_deployment
        config = (sd.deployment_configuration.get("alarms") if sd is not None else None) or {}
        if not config.get("enable") or not config.get("alarmNames"):
            return []
        alarms = self._cloudwatch(sim).alarms
        return [
            name
            for name in config["alarmNames"]
            if name in alarms and getattr(alarms[name], "state_value", "OK") == "ALARM"
        ]

    def set_first_alarm(self, sim: SimService, d: SimDeployment, reason: str) -> None:
        sd = d.service_deployment
        names = ((sd.deployment_configuration.get("alarms") if sd is not None else None) or {}).get(
            "alarmNames"
        )
        backend = self._cloudwatch(sim)
        if names and names[0] in backend.alarms:
            backend.set_alarm_state(names[0], reason, "{}", "ALARM")

    def find_service_deployment(
        self, account: str, region: str, arn: str
    ) -> tuple[SimService, SimServiceDeployment, SimDeployment | None] | None:
        for (acc, reg, _, _), sim in self.services.items():
            if acc != account or reg != region or not self._live(sim):
                continue
            for sd in sim.service_deployments:
                if sd.arn == arn:
                    d = next(
                        (x for x in sim.deployments if x.service_deployment is sd and not x.rollback_to), None
                    )
                    return sim, sd, d
        return None

    def continue_deployment(self, sim: SimService, d: SimDeployment, hook_id: str, action: str) -> None:
        """ContinueServiceDeployment; LookupError if the hook is not awaiting action."""
        with LOCK:
            self.advance()
            staged.continue_hook(self, sim, d, hook_id, action)
            self.advance()
            self._render(sim)

    def stop_deployment(
        self, sim: SimService, sd: SimServiceDeployment, d: SimDeployment | None, stop_type: str
    ) -> None:
        """StopServiceDeployment; LookupError if the service deployment is no longer in progress."""
        with LOCK:
            self.advance()
            if sd.status not in {"PENDING", "IN_PROGRESS"} or d is None:
                raise LookupError(sd.arn)
            now = self.clock.now()
            reason = f"Service deployment stopped by StopServiceDeployment ({stop_type})."
            if stop_type == "ABORT":
                staged.stop(self, sim, d, now, reason)
            elif d.staged is not None:
                staged.rollback(self, sim, d, now, reason)
            else:
                rolling.roll_back_rolling(self, sim, d, now - d.start, reason)
            self.advance()
            self._render(sim)

    # ------------------------------------------------------------------ output
    def _record(
        self,
        sim: SimService,
        d: SimDeployment,
        state: str,
        offset: float,
        detail: str,
    ) -> None:
        scheduled = d.start + offset - d.zero
        applied = self.clock.now() - d.zero  # when the ticker or a request actually got there
        sd_arn = d.service_deployment.arn if d.service_deployment is not None else None
        sim.timeline.append(TimelineEntry(d.id, state, scheduled, max(applied, scheduled), detail, sd_arn))

    def _publish_deployment(self, sim: SimService, d: SimDeployment, name: str, when: datetime) -> None:
        service = sim.service
        self.sink.publish(
            service._account_id,
            service.region_name,
            events.deployment_state_change(
                service_arn=service.arn, event_name=name, deployment_id=d.id, reason=d.reason, when=when
            ),
        )

    def _service_event(self, sim: SimService, message: str, when: datetime) -> None:
        sim.service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": when, "message": message})
        del sim.service.events[MAX_SERVICE_EVENTS:]

    def _render(self, sim: SimService) -> None:
        """Write the simulated state into moto's Service object (what DescribeServices serialises)."""
        service = sim.service
        rendered = []
        for d in sim.deployments:
            rendered.append(
                {
                    "id": d.id,
                    "status": d.status,
                    "taskDefinition": d.task_definition,
                    "desiredCount": d.desired,
                    "pendingCount": d.pending,
                    "runningCount": len(d.running),
                    "failedTasks": d.failed,
                    "createdAt": d.created_at,
                    "updatedAt": d.updated_at or d.created_at,
                    "launchType": service.launch_type,
                    "platformVersion": "1.4.0" if service.launch_type == "FARGATE" else None,
                    "platformFamily": "Linux",
                    "networkConfiguration": service.network_configuration or None,
                    "rolloutState": d.rollout_state,
                    "rolloutStateReason": d.reason,
                }
            )
        service.deployments = rendered
        if sim.deployments:
            service.task_definition = sim.deployments[0].task_definition
        service.running_count = sum(len(d.running) for d in sim.deployments)
        service.pending_count = sum(d.pending for d in sim.deployments)

    # ------------------------------------------------------------------ queries for the API
    def find_service(self, cluster: str, service: str, account: str, region: str) -> SimService | None:
        cluster_name = cluster.split("/")[-1]
        service_name = service.split("/")[-1]
        sim = self.services.get((account, region, cluster_name, service_name))
        return sim if sim is not None and self._live(sim) else None

    def all_service_deployments(self, account: str, region: str) -> list[SimServiceDeployment]:
        return [
            sd
            for (acc, reg, _, _), sim in self.services.items()
            if acc == account and reg == region and self._live(sim)
            for sd in sim.service_deployments
        ]

    def service_revisions(self, account: str, region: str) -> dict[str, tuple[SimService, str, datetime]]:
        """Every service revision of the live services: ARN -> (service, task definition ARN, created at)."""
        return {
            arn: (sim, taskdef, created)
            for (acc, reg, _, _), sim in self.services.items()
            if acc == account and reg == region and self._live(sim)
            for arn, (taskdef, created) in sim.revisions.items()
        }

    def timeline(self, cluster: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
        with LOCK:
            out = []
            for (_, region, cluster_name, service_name), sim in self.services.items():
                if cluster and cluster.split("/")[-1] != cluster_name:
                    continue
                if service and service.split("/")[-1] != service_name:
                    continue
                moving = [
                    d
                    for d in sim.deployments
                    if not d.superseded
                    and (d.staged.moving if d.staged is not None else d.rollout_state == "IN_PROGRESS")
                ]
                out.append(
                    {
                        "region": region,
                        "cluster": cluster_name,
                        "service": service_name,
                        "entries": [e.to_json() for e in sim.timeline],
                        "in_progress": [d.id for d in moving if d.scenario.kind != "stuck"],
                        "stuck": [d.id for d in moving if d.scenario.kind == "stuck"],
                        "paused": [d.id for d in moving if d.staged is not None and d.staged.paused],
                    }
                )
            return out
