"""The lifecycle plan of each strategy (pure): stage order, traffic per step, bake times, hook stages."""

from __future__ import annotations

from typing import Any

import pytest

from envpromote.sandbox.scenarios import LIFECYCLE_STAGES
from envpromote.sandbox.strategies import STAGE_S, StrategyError, hooks_of, plan


def production(config: dict[str, Any]) -> list[tuple[float, float]]:
    return [
        (s.production_percent, s.duration_s)
        for s in plan(config, 2.0)
        if s.stage == "PRODUCTION_TRAFFIC_SHIFT"
    ]


@pytest.mark.parametrize("strategy", ["BLUE_GREEN", "CANARY", "LINEAR"])
def test_every_strategy_plays_the_stages_in_ecs_order(strategy: str) -> None:
    steps = plan({"strategy": strategy}, 2.0)
    seen = [s.stage for s in steps]
    assert sorted(set(seen), key=seen.index) == list(LIFECYCLE_STAGES)
    assert next(s.stage for s in steps if s.production_percent > 0) == "PRODUCTION_TRAFFIC_SHIFT"
    assert next(s.stage for s in steps if s.test_percent > 0) == "TEST_TRAFFIC_SHIFT"
    assert next(s for s in steps if s.stage == "SCALE_UP").duration_s == 2.0
    assert next(s for s in steps if s.stage == "BAKE_TIME").duration_s == 0.0  # no bakeTimeInMinutes: none


def test_blue_green_moves_all_production_traffic_at_once() -> None:
    assert production({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 3}) == [(100.0, STAGE_S)]
    assert (
        next(
            s for s in plan({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 3}, 1) if s.stage == "BAKE_TIME"
        ).duration_s
        == 180.0
    )


def test_canary_holds_the_canary_share_for_its_bake() -> None:
    config = {
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10},
    }
    assert production(config) == [(5.0, STAGE_S + 600.0), (100.0, STAGE_S)]


def test_linear_steps_up_to_100_with_a_bake_between_steps() -> None:
    config = {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 30.0, "stepBakeTimeInMinutes": 2}}
    assert production(config) == [
        (30.0, STAGE_S + 120.0),
        (60.0, STAGE_S + 120.0),
        (90.0, STAGE_S + 120.0),
        (100.0, STAGE_S),
    ]


def test_hooks_end_their_stage_and_pre_production_runs_before_any_production_traffic() -> None:
    hooks = [
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT"],
        },
        {"hookTargetArn": "arn:aws:lambda:us-east-1:1:function:f", "lifecycleStages": ["POST_SCALE_UP"]},
    ]
    steps = plan({"strategy": "CANARY", "lifecycleHooks": hooks}, 1.0)
    hooked = [(s.stage, s.hook_stage, s.production_percent) for s in steps if s.hook_stage]
    assert hooked == [
        ("POST_SCALE_UP", "POST_SCALE_UP", 0.0),
        ("POST_TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", 0.0),
        ("PRODUCTION_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", 0.0),
    ]
    pause, lam = hooks_of({"lifecycleHooks": hooks})
    assert (pause.target_type, pause.timeout_s, pause.timeout_action) == ("PAUSE", 1440 * 60.0, "ROLLBACK")
    assert lam.target_type == "AWS_LAMBDA"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"strategy": "RED_BLACK"}, "strategy must be one of ROLLING, BLUE_GREEN, CANARY, LINEAR"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0}}, "canaryPercent"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 101}}, "stepPercent"),
        (
            {"strategy": "BLUE_GREEN", "lifecycleHooks": [{"lifecycleStages": ["BAKE_TIME"]}]},
            "lifecycleStages",
        ),
        (
            {
                "strategy": "BLUE_GREEN",
                "lifecycleHooks": [{"lifecycleStages": ["SCALE_UP"], "targetType": "SNS"}],
            },
            "targetType",
        ),
        (
            {
                "strategy": "BLUE_GREEN",
                "lifecycleHooks": [
                    {"lifecycleStages": ["PRE_SCALE_UP"], "timeoutConfiguration": {"action": "WAIT"}}
                ],
            },
            "timeoutConfiguration.action",
        ),
    ],
)
def test_unplayable_configurations(config: dict[str, Any], message: str) -> None:
    with pytest.raises(StrategyError) as caught:
        plan(config, 1.0)
    assert message in str(caught.value)
