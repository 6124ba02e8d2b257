"""Pure: one DescribeServiceDeployments answer -> what it says about OUR service deployment.

Blue/green, canary and linear deployments are followed through the service deployment, not the service's
``deployments`` list: its ``status`` decides (SUCCESSFUL = success; ROLLBACK_* at any stage = failure, decided as
soon as ECS asks for the rollback; STOPPED = failed), its ``lifecycleStage`` is the progress, and a PAUSE hook
``AWAITING_ACTION`` in ``lifecycleHookDetails`` is a pause: neither success nor failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envpromote.rollout.classify import to_datetime

UNDECIDED = frozenset({"PENDING", "IN_PROGRESS"})
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"})
STOPPING = frozenset({"STOP_REQUESTED", "STOPPED"})


@dataclass(frozen=True)
class PausedHook:
    """A PAUSE lifecycle hook holding our service deployment until ContinueServiceDeployment."""

    service_deployment_arn: str
    hook_id: str
    stage: str
    expires_at: dt.datetime | None = None
    timeout_action: str | None = None

    def line(self) -> str:
        expiry = (
            f", ECS will {self.timeout_action or 'ROLLBACK'} at {self.expires_at:%H:%M:%S}Z"
            if self.expires_at
            else ""
        )
        return f"paused at {self.stage} (hook {self.hook_id}{expiry})"


@dataclass(frozen=True)
class StageObservation:
    """What one look at our service deployment showed. `verdict` is None while undecided (and while paused).

    verdict: success | rolled_back | rollback_failed | failed | None
    """

    verdict: str | None
    status: str
    stage: str | None
    summary: str
    reasons: tuple[str, ...] = ()
    paused: PausedHook | None = None
    test_weight: float | None = None
    production_weight: float | None = None


def classify_service_deployment(deployment: Mapping[str, Any]) -> StageObservation:
    """Turn one DescribeServiceDeployments `serviceDeployments[]` item into a StageObservation."""
    status = str(deployment.get("status", "?"))
    stage = deployment.get("lifecycleStage")
    stage = str(stage) if stage else None
    target = deployment.get("targetServiceRevision") or {}
    test_weight = _weight(target.get("requestedTestTrafficWeight"))
    production_weight = _weight(target.get("requestedProductionTrafficWeight"))
    paused = paused_hook(deployment)
    summary = stage_line(deployment, paused)
    if status == "SUCCESSFUL":
        return StageObservation("success", status, stage, summary, (), None, test_weight, production_weight)
    if status in UNDECIDED:
        return StageObservation(None, status, stage, summary, (), paused, test_weight, production_weight)
    reasons = tuple(deployment_reasons(deployment))
    if status in ROLLING_BACK:
        verdict = "rolled_back"
    elif status == "ROLLBACK_FAILED":
        verdict = "rollback_failed"
    else:  # STOP_REQUESTED, STOPPED, or a status this version does not know
        verdict = "failed"
    return StageObservation(verdict, status, stage, summary, reasons, None, test_weight, production_weight)


def paused_hook(deployment: Mapping[str, Any]) -> PausedHook | None:
    """The PAUSE hook awaiting action on an in-progress service deployment, if any."""
    if deployment.get("status") not in UNDECIDED:
        return None
    for hook in deployment.get("lifecycleHookDetails", []) or []:
        if (
            hook.get("targetType") == "PAUSE"
            and hook.get("status") == "AWAITING_ACTION"
            and hook.get("hookId")
        ):
            return PausedHook(
                service_deployment_arn=str(deployment.get("serviceDeploymentArn", "")),
                hook_id=str(hook["hookId"]),
                stage=str(deployment.get("lifecycleStage") or "?"),
                expires_at=to_datetime(hook.get("expiresAt")),
                timeout_action=hook.get("timeoutAction"),
            )
    return None


def deployment_reasons(deployment: Mapping[str, Any]) -> list[str]:
    """ECS's own words about why the service deployment did not succeed (status, rollback, monitors, hooks)."""
    reasons: list[str] = []
    stage = deployment.get("lifecycleStage") or "?"
    reason = deployment.get("statusReason")
    reasons.append(
        f"service deployment {short_arn(deployment)} {deployment.get('status')} at {stage}"
        + (f": {reason}" if reason else "")
    )
    rollback = deployment.get("rollback") or {}
    if rollback.get("reason") and rollback.get("reason") != reason:
        target = (
            f" to {short_arn_of(rollback['serviceRevisionArn'])}"
            if rollback.get("serviceRevisionArn")
            else ""
        )
        reasons.append(f"rollback{target}: {rollback['reason']}")
    alarms = deployment.get("alarms") or {}
    if alarms.get("status") == "TRIGGERED":
        names = ", ".join(alarms.get("triggeredAlarmNames", [])) or "?"
        reasons.append(f"CloudWatch alarm(s) in ALARM: {names}")
    breaker = deployment.get("deploymentCircuitBreaker") or {}
    if breaker.get("status") == "TRIGGERED":
        reasons.append(
            f"circuit breaker triggered: {breaker.get('failureCount', '?')} failed tasks "
            f"(threshold {breaker.get('threshold', '?')})"
        )
    for hook in deployment.get("lifecycleHookDetails", []) or []:
        if hook.get("status") in {"FAILED", "TIMED_OUT"}:
            what = (
                "PAUSE hook"
                if hook.get("targetType") == "PAUSE"
                else f"hook {hook.get('targetArn', '')}".rstrip()
            )
            action = (
                f", timeout action {hook['timeoutAction']}"
                if hook.get("status") == "TIMED_OUT" and hook.get("timeoutAction")
                else ""
            )
            reasons.append(f"{what} {hook.get('hookId')} {hook.get('status')}{action}")
    return reasons


def stage_line(deployment: Mapping[str, Any], paused: PausedHook | None = None) -> str:
    """``service deployment abc IN_PROGRESS at TEST_TRAFFIC_SHIFT: green 2/2, test 100%, production 0%``."""
    target = deployment.get("targetServiceRevision") or {}
    parts = [f"service deployment {short_arn(deployment)} {deployment.get('status', '?')}"]
    if deployment.get("lifecycleStage"):
        parts.append(f"at {deployment['lifecycleStage']}")
    text = " ".join(parts)
    details = []
    if target:
        details.append(
            f"new revision {target.get('runningTaskCount', 0)}/{target.get('requestedTaskCount', 0)} running"
        )
        test, production = (
            _weight(target.get("requestedTestTrafficWeight")),
            _weight(target.get("requestedProductionTrafficWeight")),
        )
        if test is not None:
            details.append(f"test traffic {test:g}%")
        if production is not None:
            details.append(f"production traffic {production:g}%")
    if paused is not None:
        details.append(paused.line())
    return f"{text}: {', '.join(details)}" if details else text


def short_arn(deployment: Mapping[str, Any]) -> str:
    return short_arn_of(str(deployment.get("serviceDeploymentArn", "?")))


def short_arn_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _weight(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def is_service_deployment_arn(value: Any) -> bool:
    return isinstance(value, str) and ":service-deployment/" in value
