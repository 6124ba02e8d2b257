"""parse_targets: the three target forms, and every mistake reported with its key path (exit 2)."""

from __future__ import annotations

import pytest

from envpromote.errors import EXIT_BAD_INPUT, BadInput
from envpromote.notify import SlackTarget, SnsTarget, parse_targets, target_problems

KEY = "environments.production.notify"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:envpromote/slack-AbCdEf"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:envpromote-production-alerts"


def test_the_three_forms_parse() -> None:
    targets = parse_targets(
        ["slack:env:SLACK_WEBHOOK_URL", f"slack:secretsmanager:{SECRET}", f"sns:{TOPIC}"], KEY
    )
    assert targets == (
        SlackTarget("env", "SLACK_WEBHOOK_URL"),
        SlackTarget("secretsmanager", SECRET),
        SnsTarget(TOPIC),
    )
    assert targets[2].region == "eu-west-1"  # type: ignore[union-attr]
    assert next(t.describe() for t in targets) == "slack:env:SLACK_WEBHOOK_URL"
    assert parse_targets(None, KEY) == ()


@pytest.mark.parametrize(
    "value",
    [
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "slack:env:https://hooks.slack.com/services/T000/B000/XXXX",
        "hooks.slack.com/services/T000/B000/XXXX",
    ],
)
def test_a_webhook_url_in_the_file_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_targets([value], KEY)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert f"{KEY}[0]: looks like a webhook URL" in str(caught.value)
    assert "XXXX" not in caught.value.one_line()


def test_every_problem_is_reported_with_its_key_path() -> None:
    targets, problems = target_problems(
        [
            "slack:env:1BAD",
            "slack:teams:x",
            "sns:arn:aws:sqs:us-east-1:123456789012:q",
            7,
            "email:a@b",
            f"sns:{TOPIC}",
            f"sns:{TOPIC}",
        ],
        KEY,
    )
    assert targets == (SnsTarget(TOPIC),)
    assert [p.split(":", 1)[0] for p in problems] == [f"{KEY}[{i}]" for i in (0, 1, 2, 3, 4, 6)]
    assert "duplicate" in problems[-1]
    assert "must be a string, got int" in problems[3]


def test_the_value_must_be_a_short_list() -> None:
    assert target_problems("sns:x", KEY)[1] == [f"{KEY}: must be a list of strings, got str"]
    assert "at most 10" in target_problems([f"sns:{TOPIC}"] * 11, KEY)[1][0]
