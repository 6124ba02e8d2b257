"""Review: forged or malformed ECS events on the queue are ignored or cleaned, never a traceback or a CI command."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from envpromote.rollout.classify import to_datetime
from envpromote.rollout.events import event_signal, other_deployment_settled, parse_ecs_event
from envpromote.rollout.reasons import describe_stopped_tasks, one_line

OURS = "ecs-svc/1234567890"
STARTED = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def test_a_body_nested_past_the_parsers_stack_is_not_an_event() -> None:
    assert parse_ecs_event("[" * 100_000 + "]" * 100_000) is None
    assert parse_ecs_event('{"a":' * 100_000 + "1" + "}" * 100_000) is None


@pytest.mark.parametrize(
    "when", [1e300, -1e300, 1e18, float("nan")], ids=["huge", "negative", "year-overflow", "nan"]
)
def test_an_event_time_no_datetime_can_hold_is_unknown_not_a_crash(when: float) -> None:
    event = parse_ecs_event(
        json.dumps(
            {
                "source": "aws.ecs",
                "detail-type": "ECS Deployment State Change",
                "time": when,
                "detail": {"deploymentId": "ecs-svc/other", "eventName": "SERVICE_DEPLOYMENT_COMPLETED"},
            }
        )
    )
    assert event is not None
    assert to_datetime(when) is None
    assert event_signal(event, OURS, STARTED) == (None, None)
    assert other_deployment_settled(event, OURS, STARTED) is True  # worth a DescribeServices, which decides


def test_stopped_reasons_are_one_printable_line() -> None:
    task = {
        "startedBy": OURS,
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/abc",
        "stoppedReason": "Essential container exited\n::add-mask::x\r\x1b[2J\ud800",
        "containers": [{"name": "app\n::error::pwned", "exitCode": 1}],
    }
    (line,) = describe_stopped_tasks([task], OURS, "arn:td")
    assert (
        line
        == "task abc stopped: Essential container exited ::add-mask::x [2J\ufffd; container app ::error::pwned exit 1"
    )
    line.encode("utf-8")  # writable to a UTF-8 log without UnicodeEncodeError
    assert one_line("x" * 600).endswith("\u2026")
    assert len(one_line("x" * 600)) == 500
