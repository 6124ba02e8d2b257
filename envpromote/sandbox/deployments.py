"""The simulation's state: services, their deployments (DescribeServices' ``deployments``), their service
deployments (the service deployments API) and the timeline of state changes. Plain data, no moto, no clock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from envpromote.sandbox.scenarios import Scenario

if TYPE_CHECKING:
    from envpromote.sandbox.staged import Staged


def new_deployment_id(rng: random.Random) -> str:
    return f"ecs-svc/{rng.randrange(10**18, 10**19)}"


def short_id(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))


@dataclass
class SimServiceDeployment:
    """One UpdateService as the service deployments API reports it."""

    arn: str
    service_arn: str
    cluster_arn: str
    target_revision_arn: str
    target_task_definition: str
    source_revisions: list[dict[str, Any]]
    created_at: datetime
    status: str = "IN_PROGRESS"
    status_reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime | None = None
    rollback: dict[str, Any] | None = None
    circuit_breaker: dict[str, Any] = field(default_factory=dict)
    deployment_configuration: dict[str, Any] = field(default_factory=dict)
    lifecycle_stage: str | None = None
    alarms: dict[str, Any] = field(default_factory=dict)
    staged: Any = None  # staged.Staged of a BLUE_GREEN / CANARY / LINEAR deployment
    wall: Any = None  # the clock's wall(): hook expiry times

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "targetServiceRevisionArn": self.target_revision_arn,
            "status": self.status,
            "statusReason": self.status_reason,
        }
        if self.finished_at:
            data["finishedAt"] = self.finished_at
        if self.stopped_at:
            data["stoppedAt"] = self.stopped_at
        return data

    def describe(self) -> dict[str, Any]:
        data = self.summary()
        data.pop("targetServiceRevisionArn")
        data["updatedAt"] = self.updated_at or self.created_at
        data["sourceServiceRevisions"] = [dict(r) for r in self.source_revisions]
        data["targetServiceRevision"] = {"arn": self.target_revision_arn}
        data["deploymentConfiguration"] = self.deployment_configuration
        data["deploymentCircuitBreaker"] = self.circuit_breaker
        if self.alarms:
            data["alarms"] = self.alarms
        if self.lifecycle_stage:
            data["lifecycleStage"] = self.lifecycle_stage
        st = self.staged
        if st is not None:
            test, production = st.test_percent, st.production_percent
            data["targetServiceRevision"].update(
                requestedTestTrafficWeight=test, requestedProductionTrafficWeight=production
            )
            for source in data["sourceServiceRevisions"]:
                if st.blue is not None and source["arn"] == st.blue.revision_arn:
                    source.update(
                        requestedTestTrafficWeight=100.0 - test,
                        requestedProductionTrafficWeight=100.0 - production,
                    )
            data["lifecycleHookDetails"] = [run.describe(self.wall) for run in st.runs]
        if self.rollback:
            data["rollback"] = self.rollback
        return data


@dataclass
class SimDeployment:
    id: str
    task_definition: str
    scenario: Scenario
    start: float  # sandbox-clock seconds; the timeline's zero
    created_at: datetime
    desired: int
    service_deployment: SimServiceDeployment | None
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"
    reason: str = ""
    failed: int = 0
    running: list[Any] = field(default_factory=list)  # SimTask
    pending: int = 0
    superseded: bool = False
    rollback_to: str | None = None
    updated_at: datetime | None = None
    origin: float | None = None  # the UpdateService this rollout belongs to (a rollback shares its failure's)
    revision_arn: str = ""
    staged: Staged | None = None  # BLUE_GREEN / CANARY / LINEAR

    @property
    def zero(self) -> float:
        return self.start if self.origin is None else self.origin

    def at(self, offset: float) -> datetime:
        return self.created_at + timedelta(seconds=offset)


@dataclass
class TimelineEntry:
    """A state change, at its scheduled offset from UpdateService (``t``) and when it was applied (``applied``)."""

    deployment: str
    state: str
    t: float
    applied: float
    detail: str = ""
    service_deployment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "service_deployment": self.service_deployment,
            "deployment": self.deployment,
            "state": self.state,
            "t": round(self.t, 3),
            "applied": round(self.applied, 3),
            "detail": self.detail,
        }


@dataclass
class SimService:
    service: Any  # moto.ecs.models.Service
    backend: Any  # moto.ecs.models.EC2ContainerServiceBackend
    deployments: list[SimDeployment] = field(default_factory=list)
    last_completed_td: str | None = None
    service_deployments: list[SimServiceDeployment] = field(default_factory=list)
    # every service revision this service has had: ARN -> (task definition ARN, created at), for
    # DescribeServiceRevisions (ECS keeps them after their deployment is gone from DescribeServices)
    revisions: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    # listener -> [(deployment, percent)] while a staged deployment moves traffic; None: by running tasks
    traffic: dict[str, list[tuple[Any, float]]] | None = None

    @property
    def name(self) -> str:
        return str(self.service.name)

    def rollback_enabled(self) -> bool:
        config = getattr(self.service, "deployment_configuration", None) or {}
        breaker = config.get("deploymentCircuitBreaker") or {}
        return bool(breaker.get("enable")) and bool(breaker.get("rollback"))
