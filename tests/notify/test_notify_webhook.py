"""Slack notifications against a real HTTP receiver on 127.0.0.1: Block Kit JSON, retries, failures returned."""

from __future__ import annotations

import io
import json
import socket

import pytest
from notify_receiver import webhook_receiver

from envpromote.aws import ClientFactory
from envpromote.notify import Links, SlackTarget, links_for, notify

DIGEST = "sha256:" + "c" * 64
RECORD = {
    "environment": "staging",
    "sequence": 7,
    "kind": "promote",
    "status": "rolled_back",
    "digest": DIGEST,
    "source_commit": "0123456789abcdef0123456789abcdef01234567",
    "approver": "<!channel> mallory",
    "actor": "ci-bot",
    "duration_s": 181.5,
    "reasons": [
        "ECS deployment circuit breaker: tasks failed to start.",
        "Essential container in task exited",
    ],
    "run_id": "9876",
}
LINKS = Links(
    board_release="https://board.example/release/staging-7.html",
    run="https://github.com/o/r/actions/runs/9876",
)
TARGET = SlackTarget("env", "TEST_SLACK_WEBHOOK")


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _clients() -> ClientFactory:
    return ClientFactory("us-east-1")


def test_the_webhook_receives_block_kit_with_every_fact() -> None:
    with webhook_receiver() as receiver:
        results = notify(
            [TARGET], RECORD, LINKS, clients=_clients(), environ={"TEST_SLACK_WEBHOOK": receiver.url}
        )
    assert [r.to_dict() for r in results] == [
        {"target": "slack:env:TEST_SLACK_WEBHOOK", "ok": True, "attempts": 1, "error": None}
    ]
    (payload,) = receiver.received
    assert receiver.headers[0]["Content-Type"].startswith("application/json")
    assert payload["text"] == "staging: promote of sha256:cccccccccccc rolled back"
    header, facts, why, links = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": payload["text"], "emoji": False},
    }
    texts = [f["text"] for f in facts["fields"]]
    assert texts[0] == "*Environment*\nstaging"
    assert texts[1] == "*Outcome*\n\u21a9 Rolled back"
    assert texts[2] == f"*Digest*\n`{DIGEST}`"
    assert texts[3] == "*Commit*\n`0123456789`"
    assert (
        texts[4] == "*Approver*\n&lt;!channel&gt; mallory"
    )  # no mention: Slack's control characters escaped
    assert texts[5] == "*Duration*\n181.5 s"
    assert texts[6] == "*Run by*\nci-bot"
    assert why["text"]["text"].startswith("*Why*\n\u2022 ECS deployment circuit breaker")
    assert links["elements"][0]["text"] == (
        "<https://board.example/release/staging-7.html|Release on the board> \u00b7 "
        "<https://github.com/o/r/actions/runs/9876|GitHub run>"
    )


def test_a_failing_webhook_is_retried_with_backoff() -> None:
    sleeps = Sleeps()
    with webhook_receiver([500, 429]) as receiver:
        (result,) = notify(
            [TARGET],
            RECORD,
            LINKS,
            clients=_clients(),
            environ={"TEST_SLACK_WEBHOOK": receiver.url},
            sleep=sleeps,
        )
    assert (result.ok, result.attempts) == (True, 3)
    assert len(receiver.received) == 3
    assert sleeps == [1.0, 2.0]


def test_failures_are_returned_and_reported_never_raised() -> None:
    stderr = io.StringIO()
    sleeps = Sleeps()
    # targets are sent in parallel: each gets its own receiver, so the answers cannot interleave
    with webhook_receiver([503, 503, 503]) as failing, webhook_receiver([400]) as refusing:
        environ = {"TEST_SLACK_WEBHOOK": failing.url, "BAD_REQUEST": refusing.url}
        results = notify(
            [TARGET, SlackTarget("env", "UNSET_VARIABLE"), SlackTarget("env", "BAD_REQUEST")],
            RECORD,
            LINKS,
            clients=_clients(),
            environ=environ,
            sleep=sleeps,
            stderr=stderr,
        )
    assert [(r.ok, r.attempts) for r in results] == [(False, 3), (False, 1), (False, 1)]
    assert results[0].error == "HTTP 503 Service Unavailable"
    assert results[1].error == "environment variable UNSET_VARIABLE is not set"
    assert results[2].error == "HTTP 400 Bad Request"  # a 4xx is not retried
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("envpromote: notify: slack:env:") for line in lines)
    assert "secret" not in stderr.getvalue()  # the webhook URL (a secret) is never printed


@pytest.mark.parametrize(
    "url", ["http://example.com/hook", "ftp://127.0.0.1/x", "file:///etc/passwd", "not a url"]
)
def test_only_https_or_loopback_http_is_posted_to(url: str) -> None:
    (result,) = notify(
        [TARGET], RECORD, LINKS, clients=_clients(), environ={"TEST_SLACK_WEBHOOK": url}, stderr=io.StringIO()
    )
    assert (result.ok, result.attempts) == (False, 1)
    assert "https://" in str(result.error)


def test_the_webhook_url_can_come_from_secrets_manager(sandbox: object) -> None:
    secrets = ClientFactory("us-east-1").client("secretsmanager")
    with webhook_receiver() as receiver:
        arn = secrets.create_secret(Name="envpromote/slack", SecretString=json.dumps({"url": receiver.url}))[
            "ARN"
        ]
        (result,) = notify(
            [SlackTarget("secretsmanager", arn)], RECORD, LINKS, clients=_clients(), environ={}
        )
    assert result.ok, result.error
    assert receiver.received[0]["text"].startswith("staging: promote")


def test_links_point_at_the_board_page_and_the_github_run() -> None:
    environ = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ATTEMPT": "2",
    }
    links = links_for(RECORD, board_url="https://o.github.io/r/board/", environ=environ)
    assert links == Links(
        board_release="https://o.github.io/r/board/release/staging-7.html",
        run="https://github.com/o/r/actions/runs/9876/attempts/2",
    )
    assert links_for(RECORD, board_url=None, environ={}) == Links()


def test_notify_outcome_links_the_board_page_from_the_environment() -> None:
    from envpromote.notify import notify_outcome

    with webhook_receiver() as receiver:
        environ = {"TEST_SLACK_WEBHOOK": receiver.url, "ENVPROMOTE_BOARD_URL": "https://o.github.io/r"}
        (result,) = notify_outcome([TARGET], RECORD, clients=_clients(), environ=environ)
    assert result.ok
    context = receiver.received[0]["blocks"][-1]["elements"][0]["text"]
    assert context == "<https://o.github.io/r/release/staging-7.html|Release on the board>"
    assert notify_outcome([], RECORD, clients=_clients(), environ={}) == []


def test_retries_stop_when_the_time_budget_is_spent() -> None:
    sleeps = Sleeps()
    with webhook_receiver([503, 503, 503]) as receiver:
        (result,) = notify(
            [TARGET],
            RECORD,
            LINKS,
            clients=_clients(),
            environ={"TEST_SLACK_WEBHOOK": receiver.url},
            sleep=sleeps,
            stderr=io.StringIO(),
            budget_s=1.9,  # room for the 1 s pause, never for the 2 s one
        )
    assert sleeps == [1.0]
    assert (result.ok, result.attempts) == (False, 2)
    assert result.error == "HTTP 503 Service Unavailable (no budget left to retry)"


def test_a_target_that_never_answers_holds_up_neither_the_others_nor_the_caller() -> None:
    silent = socket.socket()  # accepts connections (the backlog) and never answers a request
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    stderr = io.StringIO()
    try:
        with webhook_receiver() as receiver:
            environ = {
                "SILENT": f"http://127.0.0.1:{silent.getsockname()[1]}/hook",
                "TEST_SLACK_WEBHOOK": receiver.url,
            }
            silent_result, result = notify(
                [SlackTarget("env", "SILENT"), TARGET],
                RECORD,
                LINKS,
                clients=_clients(),
                environ=environ,
                stderr=stderr,
                budget_s=2.0,
            )
    finally:
        silent.close()
    assert (result.ok, result.attempts) == (True, 1), "sent in parallel with the silent one"
    assert len(receiver.received) == 1
    assert not silent_result.ok
    assert silent_result.attempts == 1
    assert "no answer within the 2 s" in str(silent_result.error) or "TimeoutError" in str(
        silent_result.error
    )
    assert stderr.getvalue().startswith("envpromote: notify: slack:env:SILENT failed after 1 attempt(s)")
