"""SNS notifications through the sandbox's SNS -> SQS subscription: the JSON record arrives with a subject."""

from __future__ import annotations

import io
import json
from typing import Any

from envpromote.aws import ClientFactory
from envpromote.notify import Links, SnsTarget, notify

DIGEST = "sha256:" + "d" * 64
RECORD: dict[str, Any] = {
    "environment": "production",
    "sequence": 12,
    "kind": "promote",
    "status": "success",
    "digest": DIGEST,
    "source_commit": "feedfacefeedfacefeedfacefeedfacefeedface",
    "approver": "alice",
    "actor": "ci-bot",
    "duration_s": 95.0,
    "reasons": [],
}


def _subscribed_queue(factory: ClientFactory) -> tuple[str, str]:
    sns, sqs = factory.client("sns"), factory.client("sqs")
    topic = sns.create_topic(Name="envpromote-production-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue_url


def test_the_topic_gets_the_record_and_a_subject(sandbox: object) -> None:
    factory = ClientFactory("us-east-1")
    topic, queue_url = _subscribed_queue(factory)
    links = Links(board_release="https://board.example/release/production-12.html", run=None)
    (result,) = notify([SnsTarget(topic)], RECORD, links, clients=factory, environ={})
    assert result.ok, result.error
    messages = (
        factory.client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages", [])
    )
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "EnvPromote production: promote of sha256:dddddddddddd succeeded"
    body = json.loads(envelope["Message"])
    assert body["record"] == RECORD
    assert body["outcome"] == "success"
    assert body["links"]["board_release"] == links.board_release


def test_a_missing_topic_is_a_returned_failure(sandbox: object) -> None:
    factory = ClientFactory("us-east-1")
    stderr = io.StringIO()
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    (result,) = notify([SnsTarget(missing)], RECORD, Links(), clients=factory, environ={}, stderr=stderr)
    assert not result.ok
    assert result.attempts == 1  # NotFound: another attempt cannot help
    assert f"sns:{missing} failed" in stderr.getvalue()


def test_a_refusal_reaches_the_topic_as_a_refusal_not_a_record(sandbox: object) -> None:
    factory = ClientFactory("us-east-1")
    topic, queue_url = _subscribed_queue(factory)
    refusal = {
        "environment": "production",
        "kind": "promote",
        "status": "refused",
        "digest": DIGEST,
        "actor": "ci-bot",
        "reasons": [
            "Digest sha256:dddddddddddd has no successful release in staging.",
            "Fix: promote it first.",
        ],
    }
    (result,) = notify(
        [SnsTarget(topic)], refusal, Links(run="https://github.com/o/r/actions/runs/1"), clients=factory
    )
    assert result.ok, result.error
    messages = (
        factory.client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages", [])
    )
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Subject"] == "EnvPromote production: promote of sha256:dddddddddddd refused by the gate"
    body = json.loads(envelope["Message"])
    assert body["outcome"] == "refused"
    assert body["record"] is None, "a refusal writes no ledger record"
    assert body["refusal"] == refusal
    assert body["links"] == {"board_release": None, "run": "https://github.com/o/r/actions/runs/1"}
