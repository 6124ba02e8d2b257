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


class EcsServiceCircuitBreakerRollback(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS service has the deployment circuit breaker enabled with rollback",
            id="CKV_ENVP_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_ecs_service"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        breaker = _block(conf, "deployment_circuit_breaker")
        if breaker and _is_true(breaker, "enable") and _is_true(breaker, "rollback"):
            return CheckResult.PASSED
        return CheckResult.FAILED


class EcsServiceAlarmRollback(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS service rolls deployments back on CloudWatch alarms (deployment alarms with rollback)",
            id="CKV_ENVP_2",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_ecs_service"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        alarms = _block(conf, "alarms")
        if not alarms or not (_is_true(alarms, "enable") and _is_true(alarms, "rollback")):
            return CheckResult.FAILED
        names = alarms.get("alarm_names")
        if isinstance(names, list) and len(names) == 1 and isinstance(names[0], list):
            names = names[0]
        return CheckResult.PASSED if names else CheckResult.FAILED


check_circuit_breaker = EcsServiceCircuitBreakerRollback()
check_alarm_rollback = EcsServiceAlarmRollback()
