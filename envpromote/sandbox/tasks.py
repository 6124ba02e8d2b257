"""The simulated ECS task: a moto Task whose status only the simulation moves (moto's advance on every
DescribeTasks is switched off). Built lazily, so importing the sandbox does not import moto."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from envpromote.sandbox import events


def make_task_class() -> type:
    from moto.ecs.models import Container, Task
    from moto.moto_api._internal.managed_state_model import ManagedState

    class SimTask(Task):
        """A task whose status the simulation sets (moto's own tasks advance on every DescribeTasks)."""

        def __init__(
            self,
            *,
            backend: Any,
            cluster: Any,
            task_definition: Any,
            started_by: str,
            group: str,
            launch_type: str,
            image_digest: str | None,
            when: datetime,
        ) -> None:
            ManagedState.__init__(self, model_name="ecs::task", transitions=[("RUNNING", "RUNNING")])
            self.id = uuid.uuid4().hex
            self.cluster_name = cluster.name
            self.cluster_arn = cluster.arn
            self.container_instance_arn = None
            self.desired_status = "RUNNING"
            self.task_definition_arn = task_definition.arn
            self.overrides: dict[str, Any] = {}
            container_cls: Any = Container  # moto's Container is abstract only in its CloudFormation hooks
            self.containers: list[Any] = [container_cls(task_definition)]
            for container in self.containers:
                container.last_status = "RUNNING"
                container.image_digest = image_digest
                container.exitCode = None
                container.task_arn = None
            self.started_by = started_by
            self.tags: list[dict[str, str]] = []
            self.launch_type = launch_type
            self.capacity_provider_name = None
            self.platform_version = "1.4.0" if launch_type == "FARGATE" else None
            self.platform_family = "Linux"
            self.stopped_reason = ""
            self.stop_code: str | None = None
            self.resource_requirements = None
            self.region_name = cluster.region_name
            self._account_id = backend.account_id
            self._backend = backend
            self.attachments: list[dict[str, Any]] = []
            self.group = group
            self.cpu = task_definition.cpu
            self.memory = task_definition.memory
            self.sim_status = "RUNNING"
            self.health_status = "HEALTHY"
            self.created_at = when
            self.started_at: datetime | None = when
            self.stopping_at: datetime | None = None
            self.stopped_at: datetime | None = None
            self.version = 1
            for container in self.containers:
                container.task_arn = self.task_arn

        @property
        def last_status(self) -> str:
            return self.sim_status

        @last_status.setter
        def last_status(self, value: str) -> None:
            self.sim_status = value

        def advance(self) -> None:  # moto calls this on DescribeTasks; our tasks only move on the timeline
            return None

        def stop(self, *, reason: str, code: str, exit_code: int, when: datetime) -> None:
            self.sim_status = "STOPPED"
            self.desired_status = "STOPPED"
            self.stopped_reason = reason
            self.stop_code = code
            self.stopping_at = when
            self.stopped_at = when
            self.health_status = "UNKNOWN"
            self.version += 2
            for container in self.containers:
                container.last_status = "STOPPED"
                container.exitCode = exit_code
                container.health_status = "UNKNOWN"

        def to_event_detail(self) -> dict[str, Any]:
            return {
                "clusterArn": self.cluster_arn,
                "taskArn": self.task_arn,
                "taskDefinitionArn": self.task_definition_arn,
                "group": self.group,
                "startedBy": self.started_by,
                "launchType": self.launch_type,
                "lastStatus": self.sim_status,
                "desiredStatus": self.desired_status,
                "stoppedReason": self.stopped_reason,
                "stopCode": self.stop_code,
                "cpu": self.cpu,
                "memory": self.memory,
                "version": self.version,
                "createdAt": events.iso(self.created_at),
                "startedAt": events.iso(self.started_at) if self.started_at else None,
                "stoppedAt": events.iso(self.stopped_at) if self.stopped_at else None,
                "containers": [
                    {
                        "containerArn": c.container_arn,
                        "taskArn": self.task_arn,
                        "name": c.name,
                        "image": c.image,
                        "imageDigest": c.image_digest,
                        "lastStatus": c.last_status,
                        "exitCode": c.exitCode,
                    }
                    for c in self.containers
                ],
            }

    return SimTask
