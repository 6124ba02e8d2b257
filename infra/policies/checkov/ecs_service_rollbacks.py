"""Every ECS service rolls a failed deployment back: circuit breaker with rollback, and alarm rollback.

checkov has no built-in check for either; EnvPromote relies on both (fail-fast detection reads the
rollback ECS performs).
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


def _block(conf: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = conf.get(name)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return None


def _is_true(block: dict[str, Any], key: str) -> bool:
    value = block.get(key)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _rollback_block(conf: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The service's `name` block when it is enabled with rollback (both ECS features spell it so), else None."""
    block = _block(conf, name)
    if block and _is_true(block, "enable") and _is_true(block, "rollback"):
        return block
    return None


class _EcsServiceCheck(BaseResourceCheck):
    """A check of every aws_ecs_service: a subclass gives its NAME and ID and scans the resource."""

    NAME = ""
    ID = ""

    def __init__(self) -> None:
        super().__init__(
            name=self.NAME,
            id=self.ID,
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_ecs_service"],
        )


class EcsServiceCircuitBreakerRollback(_EcsServiceCheck):
    NAME = "ECS service has the deployment circuit breaker enabled with rollback"
    ID = "CKV_ENVP_1"

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        breaker = _rollback_block(conf, "deployment_circuit_breaker")
        return CheckResult.PASSED if breaker else CheckResult.FAILED


class EcsServiceAlarmRollback(_EcsServiceCheck):
    NAME = "ECS service rolls deployments back on CloudWatch alarms (deployment alarms with rollback)"
    ID = "CKV_ENVP_2"

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        alarms = _rollback_block(conf, "alarms")
        if alarms is None:
            return CheckResult.FAILED
        names = alarms.get("alarm_names")
        if isinstance(names, list) and len(names) == 1 and isinstance(names[0], list):
            names = names[0]
        return CheckResult.PASSED if names else CheckResult.FAILED


check_circuit_breaker = EcsServiceCircuitBreakerRollback()
check_alarm_rollback = EcsServiceAlarmRollback()
