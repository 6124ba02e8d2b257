"""ECS deployment strategies as a plan of lifecycle steps (pure: no moto, no clock, no I/O).

``plan(config, scale_up_s)`` turns a service's ``deploymentConfiguration`` (botocore's shape: ``strategy``
ROLLING | BLUE_GREEN | CANARY | LINEAR, ``bakeTimeInMinutes``, ``canaryConfiguration {canaryPercent,
canaryBakeTimeInMinutes}``, ``linearConfiguration {stepPercent, stepBakeTimeInMinutes}``, ``lifecycleHooks``)
into the steps the simulation plays on the sandbox clock, in ECS's stage order:

RECONCILE_SERVICE, PRE_SCALE_UP, SCALE_UP (green tasks start over the scenario's time), POST_SCALE_UP,
TEST_TRAFFIC_SHIFT (100% of test traffic to green), POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT
(BLUE_GREEN: 100% at once; CANARY: canaryPercent, canary bake, then 100%; LINEAR: stepPercent more per step,
each followed by the step bake), POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME (bakeTimeInMinutes; blue keeps
running), CLEAN_UP (blue's tasks stop).

Each step may end with the lifecycle hooks of one hook stage (``DeploymentLifecycleHookStage``). The hook stage
PRE_PRODUCTION_TRAFFIC_SHIFT has no lifecycle stage of its own: its hooks run at the start of
PRODUCTION_TRAFFIC_SHIFT, before any production traffic moves (the deployment then reports
PRODUCTION_TRAFFIC_SHIFT with 0% production traffic on green). SCALE_UP, BAKE_TIME and CLEAN_UP take no hooks
in botocore's model.

Sandbox choices, not ECS facts: every stage without a configured duration takes ``STAGE_S`` sandbox seconds;
a missing ``bakeTimeInMinutes`` means 0; a hook's default timeout is 1440 minutes with action ROLLBACK (the
documented defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envpromote.strategy import HOOK_STAGES  # the product knows ECS's hook stages; the sandbox plays them

STAGE_S = 1.0
STRATEGIES = ("ROLLING", "BLUE_GREEN", "CANARY", "LINEAR")
DEFAULT_HOOK_TIMEOUT_MIN = 1440
DEFAULT_HOOK_TIMEOUT_ACTION = "ROLLBACK"
DEFAULT_CANARY_PERCENT = 5.0
DEFAULT_LINEAR_STEP_PERCENT = 10.0


class StrategyError(ValueError):
    """A deploymentConfiguration the sandbox cannot play (ECS would answer InvalidParameterException)."""


@dataclass(frozen=True)
class Step:
    """One step of a staged deployment: entering it sets the traffic on green, it lasts `duration_s`, and at
    its end the hooks of `hook_stage` (if any) run before the next step starts."""

    stage: str
    duration_s: float
    test_percent: float  # share of the test listener's traffic on green while in this step
    production_percent: float  # share of the production listener's traffic on green while in this step
    hook_stage: str | None = None


@dataclass(frozen=True)
class Hook:
    """A configured lifecycle hook (``DeploymentLifecycleHook``)."""

    target_type: str  # PAUSE | AWS_LAMBDA
    stages: tuple[str, ...]
    timeout_s: float
    timeout_action: str  # CONTINUE | ROLLBACK
    target_arn: str | None = None
    details: Any = None


def strategy_of(config: dict[str, Any] | None) -> str:
    strategy = str((config or {}).get("strategy") or "ROLLING")
    if strategy not in STRATEGIES:
        raise StrategyError(f"deploymentConfiguration.strategy must be one of {', '.join(STRATEGIES)}.")
    return strategy


def hooks_of(config: dict[str, Any] | None) -> list[Hook]:
    hooks = []
    for i, raw in enumerate((config or {}).get("lifecycleHooks") or []):
        target = str(raw.get("targetType") or ("AWS_LAMBDA" if raw.get("hookTargetArn") else "PAUSE"))
        if target not in {"PAUSE", "AWS_LAMBDA"}:
            raise StrategyError(f"lifecycleHooks[{i}].targetType must be PAUSE or AWS_LAMBDA.")
        stages = tuple(str(s) for s in raw.get("lifecycleStages") or [])
        unknown = [s for s in stages if s not in HOOK_STAGES]
        if not stages or unknown:
            raise StrategyError(
                f"lifecycleHooks[{i}].lifecycleStages must list stages among {', '.join(HOOK_STAGES)}."
            )
        timeout = raw.get("timeoutConfiguration") or {}
        action = str(timeout.get("action") or DEFAULT_HOOK_TIMEOUT_ACTION)
        if action not in {"CONTINUE", "ROLLBACK"}:
            raise StrategyError(
                f"lifecycleHooks[{i}].timeoutConfiguration.action must be CONTINUE or ROLLBACK."
            )
        minutes = float(timeout.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MIN)
        hooks.append(
            Hook(
                target_type=target,
                stages=stages,
                timeout_s=minutes * 60.0,
                timeout_action=action,
                target_arn=raw.get("hookTargetArn"),
                details=raw.get("hookDetails"),
            )
        )
    return hooks


def _minutes(value: Any) -> float:
    return max(0.0, float(value or 0)) * 60.0


def _percent(value: Any, default: float, what: str) -> float:
    percent = float(default if value is None else value)
    if not 0 < percent <= 100:
        raise StrategyError(f"{what} must be more than 0 and at most 100.")
    return percent


def production_steps(config: dict[str, Any], strategy: str) -> list[Step]:
    """The PRODUCTION_TRAFFIC_SHIFT steps: where production traffic goes, and for how long it stays there."""
    stage = "PRODUCTION_TRAFFIC_SHIFT"
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        percent = _percent(
            canary.get("canaryPercent"), DEFAULT_CANARY_PERCENT, "canaryConfiguration.canaryPercent"
        )
        bake = _minutes(canary.get("canaryBakeTimeInMinutes"))
        if percent >= 100:
            return [Step(stage, STAGE_S, 100.0, 100.0)]
        return [Step(stage, STAGE_S + bake, 100.0, percent), Step(stage, STAGE_S, 100.0, 100.0)]
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        step = _percent(
            linear.get("stepPercent"), DEFAULT_LINEAR_STEP_PERCENT, "linearConfiguration.stepPercent"
        )
        bake = _minutes(linear.get("stepBakeTimeInMinutes"))
        steps, percent = [], 0.0
        while percent < 100:
            percent = min(100.0, percent + step)
            steps.append(Step(stage, STAGE_S + (bake if percent < 100 else 0.0), 100.0, percent))
        return steps
    return [Step(stage, STAGE_S, 100.0, 100.0)]


def plan(config: dict[str, Any] | None, scale_up_s: float) -> list[Step]:
    """The steps of a BLUE_GREEN, CANARY or LINEAR deployment (ROLLING is played by the simulation itself)."""
    config = config or {}
    strategy = strategy_of(config)
    if strategy == "ROLLING":
        raise StrategyError("a ROLLING deployment has no staged plan")
    hook_stages = {stage for hook in hooks_of(config) for stage in hook.stages}

    def hooked(stage: str) -> str | None:
        return stage if stage in hook_stages else None

    steps = [
        Step("RECONCILE_SERVICE", STAGE_S, 0.0, 0.0, hooked("RECONCILE_SERVICE")),
        Step("PRE_SCALE_UP", STAGE_S, 0.0, 0.0, hooked("PRE_SCALE_UP")),
        Step("SCALE_UP", scale_up_s, 0.0, 0.0),
        Step("POST_SCALE_UP", STAGE_S, 0.0, 0.0, hooked("POST_SCALE_UP")),
        Step("TEST_TRAFFIC_SHIFT", STAGE_S, 100.0, 0.0, hooked("TEST_TRAFFIC_SHIFT")),
        Step("POST_TEST_TRAFFIC_SHIFT", STAGE_S, 100.0, 0.0, hooked("POST_TEST_TRAFFIC_SHIFT")),
    ]
    if "PRE_PRODUCTION_TRAFFIC_SHIFT" in hook_stages:
        steps.append(Step("PRODUCTION_TRAFFIC_SHIFT", 0.0, 100.0, 0.0, "PRE_PRODUCTION_TRAFFIC_SHIFT"))
    shifts = production_steps(config, strategy)
    last = shifts[-1]
    shifts[-1] = Step(
        last.stage, last.duration_s, last.test_percent, last.production_percent, hooked(last.stage)
    )
    steps += shifts
    steps += [
        Step("POST_PRODUCTION_TRAFFIC_SHIFT", STAGE_S, 100.0, 100.0, hooked("POST_PRODUCTION_TRAFFIC_SHIFT")),
        Step("BAKE_TIME", _minutes(config.get("bakeTimeInMinutes")), 100.0, 100.0),
        Step("CLEAN_UP", STAGE_S, 100.0, 100.0),
    ]
    return steps
