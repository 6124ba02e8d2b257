"""Scenario strings (pure): the accepted forms, their defaults, and one-line errors for the rest."""

from __future__ import annotations

import pytest

from envpromote.sandbox.scenarios import Scenario, ScenarioError, circuit_breaker_threshold, parse_scenario


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("healthy", Scenario("healthy", complete_s=5.0, text="healthy")),
        ("healthy:2.5", Scenario("healthy", complete_s=2.5, text="healthy:2.5")),
        ("slow:60", Scenario("healthy", complete_s=60.0, text="slow:60")),
        (
            "circuit-breaker",
            Scenario("circuit-breaker", fail_s=5.0, rollback_done_s=20.0, text="circuit-breaker"),
        ),
        (
            "circuit-breaker:1",
            Scenario("circuit-breaker", fail_s=1.0, rollback_done_s=20.0, text="circuit-breaker:1"),
        ),
        (
            "circuit-breaker:5:20",
            Scenario("circuit-breaker", fail_s=5.0, rollback_done_s=20.0, text="circuit-breaker:5:20"),
        ),
        ("stuck", Scenario("stuck", text="stuck")),
        ("throttle:0.5", Scenario("healthy", complete_s=5.0, throttle_fraction=0.5, text="throttle:0.5")),
        ("throttle:1:2", Scenario("healthy", complete_s=2.0, throttle_fraction=1.0, text="throttle:1:2")),
        (" healthy:1 ", Scenario("healthy", complete_s=1.0, text="healthy:1")),
    ],
)
def test_valid_scenarios(text: str, expected: Scenario) -> None:
    assert parse_scenario(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unknown sandbox scenario ''"),
        ("HEALTHY", "unknown sandbox scenario 'HEALTHY'"),
        ("healthy:1:2", "unknown sandbox scenario"),
        ("slow", "unknown sandbox scenario 'slow'"),
        ("stuck:3", "unknown sandbox scenario"),
        ("healthy:soon", "complete 'soon' is not a number of seconds"),
        ("healthy:-1", "complete must be between 0 and 86400 seconds"),
        ("circuit-breaker:10:5", "rollback_done (5) must not be before fail (10)"),
        ("throttle:2", "the throttled share must be a number from 0 to 1"),
        ("throttle:half", "the throttled share must be a number from 0 to 1"),
        ("healthy:1;rm -rf /", "is not a number of seconds"),
    ],
)
def test_invalid_scenarios_name_the_accepted_forms(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("desired", "threshold"), [(1, 3), (2, 3), (6, 3), (7, 4), (10, 5), (1000, 200)])
def test_circuit_breaker_threshold_matches_ecs(desired: int, threshold: int) -> None:
    assert circuit_breaker_threshold(desired) == threshold


# ---------------------------------------------------------------------------------------------- modifiers
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "healthy:2+http-fail:test",
            Scenario("healthy", complete_s=2.0, http_fail="test", text="healthy:2+http-fail:test"),
        ),
        ("http-fail", Scenario("healthy", complete_s=5.0, http_fail="all", text="http-fail")),
        (
            "healthy:1+hook-timeout:30",
            Scenario("healthy", complete_s=1.0, hook_timeout_s=30.0, text="healthy:1+hook-timeout:30"),
        ),
        (
            "fail-at:BAKE_TIME",
            Scenario("healthy", complete_s=5.0, fail_stage="BAKE_TIME", text="fail-at:BAKE_TIME"),
        ),
        (
            "slow:30+alarm-in-bake+http-fail:test",
            Scenario(
                "healthy",
                complete_s=30.0,
                http_fail="test",
                alarm_in_bake=True,
                text="slow:30+alarm-in-bake+http-fail:test",
            ),
        ),
    ],
)
def test_scenario_modifiers(text: str, expected: Scenario) -> None:
    assert parse_scenario(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("healthy+fail-at:CLEAN_UP", "unknown modifier 'fail-at:CLEAN_UP'"),
        ("healthy+fail-at:nowhere", "STAGE one of SCALE_UP, POST_SCALE_UP"),
        ("healthy+http-fail:prod", "unknown modifier 'http-fail:prod'"),
        ("circuit-breaker+http-fail", "modifiers apply to healthy/slow/throttle timings only"),
        ("stuck+alarm-in-bake", "modifiers apply to healthy/slow/throttle timings only"),
        ("healthy+hook-timeout:soon", "hook-timeout 'soon' is not a number of seconds"),
    ],
)
def test_invalid_modifiers(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    assert message in str(caught.value)
