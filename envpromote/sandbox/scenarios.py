"""Rollout scenarios: what a simulated ECS deployment does over time (pure, no I/O).

A scenario comes from the task definition tag ``sandbox-scenario`` (it wins) or from the image manifest
annotation ``org.envpromote.sandbox-scenario`` (set by ``invoke sandbox.build --scenario``; the
product's build only carries annotations, it knows nothing of scenarios). Times are seconds after
the UpdateService call that created the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

SCENARIO_TAG = "sandbox-scenario"
SCENARIO_ANNOTATION = "org.envpromote.sandbox-scenario"
DEFAULT_SCENARIO = "healthy:5"

SCENARIO_HELP = (
    "healthy[:complete] | circuit-breaker[:fail[:rollback_done]] | slow:<complete> | stuck | "
    "throttle:<fraction>[:complete]"
)


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


def parse_scenario(text: str) -> Scenario:
    """Parse a scenario string such as ``circuit-breaker:5:20``; raise ScenarioError if it is invalid."""
    cleaned = text.strip()
    kind, *args = cleaned.split(":")
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
