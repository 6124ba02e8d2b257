"""Rollout scenarios: what a simulated ECS deployment does over time (pure, no I/O).

A scenario comes from the task definition tag ``sandbox-scenario`` (it wins) or from the image manifest
annotation ``org.envpromote.sandbox-scenario`` (set by ``invoke sandbox.build --scenario``; the
product's build only carries annotations, it knows nothing of scenarios). Times are seconds after
the UpdateService call that created the deployment.

A scenario may carry modifiers after ``+`` (or consist of modifiers only, with the default timing), which
matter for the strategy deployments (``deploymentConfiguration.strategy`` BLUE_GREEN, CANARY, LINEAR; see
``strategies.py``) and for the sandbox's listeners:

* ``fail-at:<STAGE>``  ECS detects the revision failing when the deployment enters lifecycle stage STAGE
  (SCALE_UP: its tasks fail to start; later stages: its targets fail the load balancer's health checks) and
  rolls back to the blue revision (BLUE_GREEN, CANARY and LINEAR deployments; ROLLING ones ignore it: use
  ``circuit-breaker`` there).
* ``http-fail:test``   the revision answers HTTP 500 on ``/`` and 503 on ``/health``, only on the test listener
  (the load balancer's health checks pass: ECS does not notice; only an HTTP check on test traffic does).
* ``http-fail``        the same on every listener.
* ``hook-timeout:<s>``  PAUSE hooks of this revision's deployment time out after s sandbox seconds instead of
  their ``timeoutConfiguration`` (a sandbox knob, so a paused hook can time out within seconds of real time).
* ``alarm-in-bake``    the first alarm of ``deploymentConfiguration.alarms`` goes to ALARM when the deployment
  enters BAKE_TIME (ECS then rolls back if the alarms configuration says so).

Example: ``healthy:2+http-fail:test``, ``fail-at:POST_TEST_TRAFFIC_SHIFT``, ``healthy:1+hook-timeout:5``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SCENARIO_TAG = "sandbox-scenario"
SCENARIO_ANNOTATION = "org.envpromote.sandbox-scenario"
DEFAULT_SCENARIO = "healthy:5"

SCENARIO_HELP = (
    "healthy[:complete] | circuit-breaker[:fail[:rollback_done]] | slow:<complete> | stuck | "
    "throttle:<fraction>[:complete]; modifiers after '+': fail-at:<STAGE> | http-fail[:test] | alarm-in-bake | hook-timeout:<seconds>"
)
# The lifecycle stages a service deployment reports (botocore's ServiceDeploymentLifecycleStage), in order.
LIFECYCLE_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
FAILABLE_STAGES = LIFECYCLE_STAGES[2:-1]  # SCALE_UP .. BAKE_TIME: where a revision can be found failing


class ScenarioError(ValueError):
    """A scenario string that does not parse; the message names the accepted forms."""


@dataclass(frozen=True)
class Scenario:
    """One rollout's fate.

    kind: healthy | circuit-breaker | stuck (slow is healthy with a given time; throttle is healthy
    while a share of ECS calls is throttled).
    """

    kind: str
    complete_s: float | None = None
    fail_s: float | None = None
    rollback_done_s: float | None = None
    throttle_fraction: float = 0.0
    text: str = DEFAULT_SCENARIO
    fail_stage: str | None = None  # fail-at:<STAGE>
    http_fail: str | None = None  # "test" (test listener only) | "all"
    alarm_in_bake: bool = False
    hook_timeout_s: float | None = None  # hook-timeout:<seconds>

    @property
    def fails(self) -> bool:
        return self.kind == "circuit-breaker"


def _seconds(raw: str, what: str, text: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ScenarioError(
            f"sandbox scenario {text!r}: {what} {raw!r} is not a number of seconds; expected {SCENARIO_HELP}"
        ) from None
    if not 0 <= value <= 86400:
        raise ScenarioError(f"sandbox scenario {text!r}: {what} must be between 0 and 86400 seconds")
    return value


_MODIFIERS = ("fail-at", "http-fail", "alarm-in-bake", "hook-timeout")


def parse_scenario(text: str) -> Scenario:
    """Parse a scenario string such as ``circuit-breaker:5:20`` or ``healthy:2+http-fail:test``; raise
    ScenarioError if it is invalid."""
    cleaned = text.strip()
    parts = [p.strip() for p in cleaned.split("+")]
    if parts[0].split(":")[0] in _MODIFIERS:
        base, modifiers = _parse_base(DEFAULT_SCENARIO, cleaned), parts
    else:
        base, modifiers = _parse_base(parts[0], cleaned), parts[1:]
    changes: dict[str, object] = {}
    for modifier in modifiers:
        name, *args = modifier.split(":")
        if name == "fail-at" and len(args) == 1 and args[0] in FAILABLE_STAGES:
            changes["fail_stage"] = args[0]
        elif name == "http-fail" and (not args or args == ["test"]):
            changes["http_fail"] = args[0] if args else "all"
        elif name == "alarm-in-bake" and not args:
            changes["alarm_in_bake"] = True
        elif name == "hook-timeout" and len(args) == 1:
            changes["hook_timeout_s"] = _seconds(args[0], "hook-timeout", cleaned)
        else:
            raise ScenarioError(
                f"sandbox scenario {cleaned!r}: unknown modifier {modifier!r}; expected fail-at:<STAGE> "
                f"(STAGE one of {', '.join(FAILABLE_STAGES)}), http-fail, http-fail:test, alarm-in-bake or "
                "hook-timeout:<seconds>"
            )
    if not changes:
        return base
    if base.kind != "healthy":
        raise ScenarioError(
            f"sandbox scenario {cleaned!r}: modifiers apply to healthy/slow/throttle timings only"
        )
    return replace(base, text=cleaned, **changes)  # type: ignore[arg-type]


def _parse_base(text: str, cleaned: str) -> Scenario:
    kind, *args = text.split(":")
    if kind == "healthy" and len(args) <= 1:
        complete = _seconds(args[0], "complete", cleaned) if args else 5.0
        return Scenario("healthy", complete_s=complete, text=cleaned)
    if kind == "slow" and len(args) == 1:
        return Scenario("healthy", complete_s=_seconds(args[0], "complete", cleaned), text=cleaned)
    if kind == "circuit-breaker" and len(args) <= 2:
        fail = _seconds(args[0], "fail", cleaned) if args else 5.0
        done = _seconds(args[1], "rollback_done", cleaned) if len(args) > 1 else max(20.0, fail + 15.0)
        if done < fail:
            raise ScenarioError(
                f"sandbox scenario {cleaned!r}: rollback_done ({done:g}) must not be before fail ({fail:g})"
            )
        return Scenario("circuit-breaker", fail_s=fail, rollback_done_s=done, text=cleaned)
    if kind == "stuck" and not args:
        return Scenario("stuck", text=cleaned)
    if kind == "throttle" and 1 <= len(args) <= 2:
        try:
            fraction = float(args[0])
        except ValueError:
            fraction = -1.0
        if not 0 <= fraction <= 1:
            raise ScenarioError(
                f"sandbox scenario {cleaned!r}: the throttled share must be a number from 0 to 1, e.g. throttle:0.5"
            )
        complete = _seconds(args[1], "complete", cleaned) if len(args) > 1 else 5.0
        return Scenario("healthy", complete_s=complete, throttle_fraction=fraction, text=cleaned)
    raise ScenarioError(f"unknown sandbox scenario {cleaned!r}; expected {SCENARIO_HELP}")


def circuit_breaker_threshold(desired_count: int) -> int:
    """ECS's failed-task threshold: half the desired count, at least 3, at most 200."""
    return max(3, min(200, -(-desired_count // 2)))
