"""The patches that put the rollout simulation into moto's ECS (applied once, in the server process).

Kept to the few entry points that matter: CreateService (keep deploymentConfiguration, start steady),
UpdateService (new PRIMARY deployment per new task definition), DeleteService, ListTasks (filter by service,
default desiredStatus RUNNING as ECS does) and two operations moto lacks: ListServiceDeployments and
DescribeServiceDeployments, ContinueServiceDeployment and StopServiceDeployment. A deploymentConfiguration
the strategy player cannot play (``strategies.StrategyError``) is refused with InvalidParameterException.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from envpromote.sandbox.scenarios import ScenarioError
from envpromote.sandbox.simulation import LOCK, Simulation
from envpromote.sandbox.strategies import StrategyError, hooks_of, production_steps, strategy_of

DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
_MAX_DESCRIBE = 20


def apply(sim: Simulation) -> None:
    """Patch moto's ECS backend and response classes to drive `sim`. Idempotent."""
    from moto.ecs import models, responses
    from moto.ecs.exceptions import InvalidParameterException, ServiceNotFoundException

    backend_cls: Any = models.EC2ContainerServiceBackend
    response_cls: Any = responses.EC2ContainerServiceResponse
    if getattr(backend_cls, "_envpromote_simulation", None) is sim:
        return
    originals = getattr(backend_cls, "_envpromote_originals", None)
    if originals is None:
        originals = {
            "update_service": backend_cls.update_service,
            "delete_service": backend_cls.delete_service,
            "list_tasks": backend_cls.list_tasks,
            "create_service_response": response_cls.create_service,
        }
        backend_cls._envpromote_originals = originals
    backend_cls._envpromote_simulation = sim

    def check_config(config: Any) -> None:
        if not config:
            return
        try:
            strategy = strategy_of(config)
            hooks_of(config)
            if strategy != "ROLLING":
                production_steps(config, strategy)
        except (StrategyError, TypeError, ValueError) as exc:
            raise InvalidParameterException(str(exc)) from None

    def create_service_response(self: Any) -> Any:
        config = self._get_param("deploymentConfiguration")
        check_config(config)
        with LOCK:
            result = originals["create_service_response"](self)
            service = result.result["service"]
            merged = dict(DEFAULT_DEPLOYMENT_CONFIGURATION)
            merged.update(config or {})
            service.deployment_configuration = merged
            sim.on_create_service(self.ecs_backend, service)
        return result

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        force = bool(service_properties.get("force_new_deployment"))
        td_ref = service_properties.get("task_definition")
        check_config(service_properties.get("deployment_configuration"))
        with LOCK:
            if td_ref:
                try:
                    sim.scenario_for(self, self.describe_task_definition(td_ref))
                except ScenarioError as exc:
                    raise InvalidParameterException(str(exc)) from None
            service = originals["update_service"](self, service_properties)
            sim.on_update_service(self, service, None, force)
            return service

    def delete_service(self: Any, cluster_name: str, service_name: str, force: bool) -> Any:
        with LOCK:
            service = originals["delete_service"](self, cluster_name, service_name, force)
            sim.forget(service)
            return service

    list_tasks_signature = inspect.signature(originals["list_tasks"])

    def list_tasks(*args: Any, **kwargs: Any) -> Any:
        """moto's ListTasks with the two arguments it does not follow ECS on: only the service's tasks (moto
        ignores serviceName) and desiredStatus RUNNING unless asked otherwise; the others are passed on."""
        call = list_tasks_signature.bind(*args, **kwargs)
        service_name = call.arguments.pop("service_name", None)
        call.arguments["desiredStatus"] = call.arguments.get("desiredStatus") or "RUNNING"
        tasks = originals["list_tasks"](*call.args, **call.kwargs)
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [t for t in tasks if getattr(t, "group", None) == group]
        return tasks

    def list_service_deployments(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cluster = self._get_param("cluster", "default")
        service = self._get_param("service")
        statuses = self._get_param("status") or []
        max_results = int(self._get_param("maxResults") or 20)
        start = int(self._get_param("nextToken") or 0)
        with LOCK:
            sim.advance()
            found = sim.find_service(cluster, service, self.current_account, self.region)
            if found is None:
                raise ServiceNotFoundException
            items = [
                sd.summary()
                for sd in reversed(found.service_deployments)
                if not statuses or sd.status in statuses
            ]
        page = items[start : start + max_results]
        result: dict[str, Any] = {"serviceDeployments": page}
        if start + max_results < len(items):
            result["nextToken"] = str(start + max_results)
        return ActionResult(result)

    def describe_service_deployments(self: Any) -> Any:
        from moto.core.responses import ActionResult

        arns = self._get_param("serviceDeploymentArns") or []
        if not arns or len(arns) > _MAX_DESCRIBE:
            raise InvalidParameterException(f"serviceDeploymentArns must list 1 to {_MAX_DESCRIBE} ARNs.")
        with LOCK:
            sim.advance()
            known = {sd.arn: sd for sd in sim.all_service_deployments(self.current_account, self.region)}
            found = [known[arn].describe() for arn in arns if arn in known]
        failures = [{"arn": arn, "reason": "MISSING"} for arn in arns if arn not in known]
        return ActionResult({"serviceDeployments": found, "failures": failures})

    def describe_service_revisions(self: Any) -> Any:
        """ECS's DescribeServiceRevisions: each revision's service, task definition and container images."""
        from moto.core.responses import ActionResult

        arns = self._get_param("serviceRevisionArns") or []
        if not arns or len(arns) > _MAX_DESCRIBE:
            raise InvalidParameterException(f"serviceRevisionArns must list 1 to {_MAX_DESCRIBE} ARNs.")
        with LOCK:
            known = sim.service_revisions(self.current_account, self.region)
            found = [_service_revision(arn, *known[arn], self.ecs_backend) for arn in arns if arn in known]
        failures = [{"arn": arn, "reason": "MISSING"} for arn in arns if arn not in known]
        return ActionResult({"serviceRevisions": found, "failures": failures})

    def one_of(response: Any, name: str, allowed: tuple[str, ...]) -> str:
        """The request's `name` parameter (absent: the first allowed value); anything else is refused."""
        value = str(response._get_param(name) or allowed[0])
        if value not in allowed:
            raise InvalidParameterException(f"{name} must be {' or '.join(allowed)}.")
        return value

    def act_on_service_deployment(
        response: Any,
        arn: str,
        act: Callable[[Any, Any, Any], None],
        refusal: Callable[[Any], Exception],
    ) -> Any:
        """`act(service, service_deployment, deployment)` under the simulation's lock, the simulation brought up
        to now; an unknown ARN is ServiceDeploymentNotFoundException, a LookupError from `act` is `refusal`."""
        from moto.core.responses import ActionResult
        from moto.ecs.exceptions import ECSException

        with LOCK:
            sim.advance()
            found = sim.find_service_deployment(response.current_account, response.region, arn)
            if found is None:
                raise ECSException(
                    "ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist."
                )
            service, sd, deployment = found
            try:
                act(service, sd, deployment)
            except LookupError:
                raise refusal(sd) from None
        return ActionResult({"serviceDeploymentArn": arn})

    def continue_service_deployment(self: Any) -> Any:
        from moto.ecs.exceptions import ECSException

        arn = str(self._get_param("serviceDeploymentArn") or "")
        hook_id = str(self._get_param("hookId") or "")
        action = one_of(self, "action", ("CONTINUE", "ROLLBACK"))

        def resume(service: Any, sd: Any, deployment: Any) -> None:
            if deployment is None or sd.status != "IN_PROGRESS":
                raise LookupError(hook_id)
            sim.continue_deployment(service, deployment, hook_id, action)

        return act_on_service_deployment(
            self,
            arn,
            resume,
            lambda _sd: ECSException(
                "InvalidParameterException",
                f"The service deployment {arn} has no lifecycle hook {hook_id} awaiting action.",
            ),
        )

    def stop_service_deployment(self: Any) -> Any:
        from moto.ecs.exceptions import ECSException

        arn = str(self._get_param("serviceDeploymentArn") or "")
        stop_type = one_of(self, "stopType", ("ROLLBACK", "ABORT"))
        return act_on_service_deployment(
            self,
            arn,
            lambda service, sd, deployment: sim.stop_deployment(service, sd, deployment, stop_type),
            lambda sd: ECSException(
                "ConflictException", f"The service deployment {arn} is {sd.status}: it cannot be stopped."
            ),
        )

    for backend_method in (update_service, delete_service, list_tasks):
        setattr(backend_cls, backend_method.__name__, backend_method)
    response_cls.create_service = create_service_response
    for response_method in (
        list_service_deployments,
        describe_service_deployments,
        describe_service_revisions,
        continue_service_deployment,
        stop_service_deployment,
    ):
        setattr(response_cls, response_method.__name__, response_method)


def _service_revision(arn: str, sim: Any, taskdef_arn: str, created: Any, backend: Any) -> dict[str, Any]:
    """A ServiceRevision as ECS describes it (the fields the sandbox knows)."""
    service = sim.service
    images = []
    try:
        containers = backend.describe_task_definition(taskdef_arn).container_definitions or []
    except Exception:  # the revision outlived its task definition (deregistered and deleted)
        containers = []
    for container in containers:
        image = str(container.get("image", ""))
        entry = {"containerName": container.get("name"), "image": image}
        if "@sha256:" in image:
            entry["imageDigest"] = image.split("@", 1)[1]
        images.append(entry)
    return {
        "serviceRevisionArn": arn,
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "taskDefinition": taskdef_arn,
        "launchType": getattr(service, "launch_type", None) or "FARGATE",
        "containerImages": images,
        "createdAt": created,
    }
