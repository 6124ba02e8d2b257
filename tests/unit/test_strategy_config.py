"""The strategy config model: parsing with key-path problems, and ECS's deploymentConfiguration shapes."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from envpromote.errors import EXIT_BAD_INPUT, ConfigError
from envpromote.strategy import (
    ROLLING,
    deployment_configuration,
    describe,
    merged_deployment_configuration,
    minimum_watch_seconds,
    parse_strategy,
    strategy_problems,
)

KEY = "environments.prod"
VERIFY = {
    "test_url": "http://127.0.0.1:8081/",
    "alarms": ["web-5xx"],
    "command": "./smoke.sh --fast",
    "http": [{"path": "/", "json": {"digest": "{digest}"}}],
}


def update_service_problems(configuration: dict[str, Any]) -> str:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("UpdateService").input_shape
    params = {"cluster": "c", "service": "s", "deploymentConfiguration": configuration}
    return str(ParamValidator().validate(params, shape).generate_report())


def test_no_strategy_key_is_a_rolling_update_that_leaves_deployment_settings_alone() -> None:
    strategy = parse_strategy({"cluster": "c"}, KEY)
    assert strategy == ROLLING
    assert deployment_configuration(strategy) == {"strategy": "ROLLING"}
    assert not strategy.pauses


def test_blue_green_with_verify_pauses_at_post_test_traffic_shift_and_rolls_back_on_timeout() -> None:
    strategy = parse_strategy({"strategy": "blue_green", "bake_minutes": 5, "verify": VERIFY}, KEY)
    assert strategy.pauses
    assert strategy.verify is not None
    assert strategy.verify.test_url == "http://127.0.0.1:8081"
    assert strategy.verify.command == ("./smoke.sh", "--fast")
    assert strategy.verify.http[0].json_fields == {"digest": "{digest}"}
    fragment = deployment_configuration(strategy)
    assert fragment == {
        "strategy": "BLUE_GREEN",
        "bakeTimeInMinutes": 5,
        "lifecycleHooks": [
            {
                "targetType": "PAUSE",
                "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"},
            }
        ],
    }
    assert update_service_problems(fragment) == ""
    assert describe(strategy) == "blue_green (bake 5 min, verified at POST_TEST_TRAFFIC_SHIFT)"


def test_blue_green_without_bake_minutes_still_gives_ecs_the_required_bake_time() -> None:
    assert deployment_configuration(parse_strategy({"strategy": "blue_green"}, KEY))["bakeTimeInMinutes"] == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"strategy": "canary", "canary": {"percent": 10.0, "bake_minutes": 3}},
            {
                "strategy": "CANARY",
                "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
            },
        ),
        (
            {"strategy": "linear", "bake_minutes": 2, "linear": {"step_percent": 25, "interval_minutes": 1}},
            {
                "strategy": "LINEAR",
                "bakeTimeInMinutes": 2,
                "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1},
            },
        ),
        (
            {"strategy": "canary"},
            {
                "strategy": "CANARY",
                "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10},
            },
        ),
    ],
)
def test_canary_and_linear_fragments_are_valid_update_service_input(
    raw: dict[str, Any], expected: dict[str, Any]
) -> None:
    fragment = deployment_configuration(parse_strategy(raw, KEY))
    assert fragment == expected
    assert update_service_problems(fragment) == ""


def test_every_strategy_with_verify_is_valid_update_service_input() -> None:
    for kind in ("blue_green", "canary", "linear"):
        raw = {"strategy": kind, "bake_minutes": 1, "verify": {**VERIFY, "pause_stage": "TEST_TRAFFIC_SHIFT"}}
        fragment = deployment_configuration(parse_strategy(raw, KEY))
        assert fragment["lifecycleHooks"][0]["lifecycleStages"] == ["TEST_TRAFFIC_SHIFT"]
        assert update_service_problems(fragment) == ""


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            {"strategy": "bluegreen"},
            "environments.prod.strategy: must be one of rolling, blue_green, canary, linear",
        ),
        ({"bake_minutes": 3}, "environments.prod.bake_minutes: only for blue_green, canary or linear"),
        (
            {"strategy": "blue_green", "bake_minutes": 2000},
            "environments.prod.bake_minutes: must be between 0 and 1440",
        ),
        ({"strategy": "linear", "canary": {}}, "environments.prod.canary: only for strategy = 'canary'"),
        (
            {"strategy": "canary", "canary": {"percent": 0.05}},
            "environments.prod.canary.percent: must be between",
        ),
        (
            {"strategy": "canary", "canary": {"percent": 5.55}},
            "environments.prod.canary.percent: must be a multiple of 0.1",
        ),
        (
            {"strategy": "linear", "linear": {"step_percent": 2}},
            "environments.prod.linear.step_percent: must be between 3",
        ),
        ({"strategy": "linear", "linear": {"steps": 2}}, "environments.prod.linear.steps: unknown key"),
        ({"verify": VERIFY}, "environments.prod.verify: needs strategy blue_green, canary or linear"),
        ({"strategy": "blue_green", "verify": {}}, "environments.prod.verify: no checks"),
        (
            {"strategy": "blue_green", "verify": {"http": [{"path": "/"}]}},
            "environments.prod.verify.test_url: missing",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "test_url": "ftp://x"}},
            "environments.prod.verify.test_url: must be an http(s) URL",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "http": [{"path": "http://evil.example/"}]}},
            "environments.prod.verify.http.0.path: must be a path starting with '/'",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "http": [{"path": "/", "json": {"d": "{sha}"}}]}},
            "environments.prod.verify.http.0.json.d: unknown placeholder {sha}",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "pause_stage": "BAKE_TIME"}},
            "environments.prod.verify.pause_stage: must be one of RECONCILE_SERVICE",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "command": []}},
            "environments.prod.verify.command: must be a string or a non-empty list of strings",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "alarms": "web-5xx"}},
            "environments.prod.verify.alarms: must be a list of alarm names",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "pause_timeout_minutes": 0}},
            "environments.prod.verify.pause_timeout_minutes: must be between 1 and 20160",
        ),
        (
            {"strategy": "blue_green", "verify": {**VERIFY, "retries": 3}},
            "environments.prod.verify.retries: unknown key",
        ),
    ],
)
def test_each_problem_names_its_key_path_and_exits_2(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_strategy(raw, KEY)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert any(line.startswith(problem) for line in caught.value.problems), caught.value.problems


def test_all_problems_are_listed_at_once() -> None:
    raw = {"strategy": "canary", "bake_minutes": -1, "canary": {"percent": 200, "bake_minutes": "5"}}
    problems = strategy_problems(raw, KEY)
    assert [p.split(":")[0] for p in problems] == [
        "environments.prod.bake_minutes",
        "environments.prod.canary.percent",
        "environments.prod.canary.bake_minutes",
    ]


def test_merging_keeps_the_infrastructure_settings_and_hooks_envpromote_does_not_own() -> None:
    lambda_hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": "arn:aws:lambda:us-east-1:1:function:f",
        "lifecycleStages": ["PRE_SCALE_UP"],
    }
    old_pause = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
    current = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10},
        "lifecycleHooks": [lambda_hook, old_pause],
    }
    merged = merged_deployment_configuration(
        current, parse_strategy({"strategy": "blue_green", "verify": VERIFY}, KEY)
    )
    assert merged["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert merged["maximumPercent"] == 200
    assert merged["strategy"] == "BLUE_GREEN"
    assert "canaryConfiguration" not in merged
    assert [h["targetType"] for h in merged["lifecycleHooks"]] == ["AWS_LAMBDA", "PAUSE"]
    assert merged["lifecycleHooks"][1]["timeoutConfiguration"]["action"] == "ROLLBACK"
    assert update_service_problems(merged) == ""
    back_to_rolling = merged_deployment_configuration(merged, ROLLING)
    assert back_to_rolling["strategy"] == "ROLLING"
    assert "bakeTimeInMinutes" not in back_to_rolling
    assert back_to_rolling["lifecycleHooks"] == [lambda_hook, merged["lifecycleHooks"][1]]


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ({}, 0.0),
        ({"strategy": "blue_green", "bake_minutes": 5}, 300.0),
        ({"strategy": "canary", "bake_minutes": 1, "canary": {"percent": 10.0, "bake_minutes": 3}}, 240.0),
        # 25% steps: 25, 50, 75, 100 -> three waits between steps, none after 100%
        ({"strategy": "linear", "linear": {"step_percent": 25, "interval_minutes": 2}}, 360.0),
        ({"strategy": "linear", "linear": {"step_percent": 30, "interval_minutes": 1}}, 180.0),
        ({"strategy": "linear", "linear": {"step_percent": 100, "interval_minutes": 9}}, 0.0),
    ],
)
def test_minimum_watch_time_covers_the_waits_ecs_makes(raw: dict[str, Any], seconds: float) -> None:
    assert minimum_watch_seconds(parse_strategy(raw, KEY)) == seconds
