"""Review: webhook URLs and record fields that try to redirect, leak or inject never do."""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator

import pytest

from envpromote.aws import ClientFactory
from envpromote.notify import Links, SlackTarget, notify
from envpromote.notify.message import message_for, slack_payload, sns_body

RECORD = {"environment": "dev", "sequence": 3, "kind": "deploy", "status": "success", "actor": "ci"}
TARGET = SlackTarget("env", "HOOK")
SECRET_PATH = "/services/T000/B000/sekrit-token"


@pytest.fixture
def redirecting() -> Iterator[tuple[str, list[str]]]:
    """A receiver on 127.0.0.1 that answers every POST with a redirect to its own /elsewhere (and records hits)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            hits.append(f"{self.command} {self.path}")
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = _any

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}", hits
    finally:
        server.shutdown()
        server.server_close()


def _notify(url: str) -> tuple[list[dict[str, object]], str]:
    err = io.StringIO()
    results = notify(
        [TARGET],
        RECORD,
        Links(),
        clients=ClientFactory("us-east-1"),
        environ={"HOOK": url},
        stderr=err,
        sleep=lambda _s: None,
    )
    return [r.to_dict() for r in results], err.getvalue()


def test_a_redirecting_webhook_is_not_followed_and_not_retried(redirecting: tuple[str, list[str]]) -> None:
    url, hits = redirecting
    results, err = _notify(url)
    assert hits == [f"POST {SECRET_PATH}"]  # never GET /elsewhere
    assert results == [
        {
            "target": "slack:env:HOOK",
            "ok": False,
            "attempts": 1,
            "error": "HTTP 302: the webhook redirects (not followed)",
        }
    ]
    assert "sekrit" not in err


@pytest.mark.parametrize(
    "url",
    [
        f"https://hooks.slack.example{SECRET_PATH}\tx",
        f"https://hooks.slack.example{SECRET_PATH} x",
        f"https://hooks.slack.example{SECRET_PATH}\udcff",  # a non-UTF-8 byte in an environment variable
        f"https://hooks.slack.example{SECRET_PATH}\u00e9",
        f"https://hooks.slack.example:port{SECRET_PATH}",
    ],
    ids=["tab", "space", "surrogate-escaped-byte", "non-ascii", "bad-port"],
)
def test_a_malformed_webhook_url_fails_once_without_quoting_the_secret(url: str) -> None:
    results, err = _notify(url)
    assert (results[0]["ok"], results[0]["attempts"]) == (False, 1)
    assert "sekrit" not in f"{results[0]['error']} {err}"


def test_record_fields_cannot_break_out_of_slack_links() -> None:
    links = Links(
        board_release="https://board.example/release/dev-3.html|Click> <https://evil.example|x",
        run="https://github.com/o/r/actions/runs/1|Approve here",
    )
    payload = slack_payload(message_for(RECORD, links))
    (context,) = [b for b in payload["blocks"] if b["type"] == "context"]
    text = context["elements"][0]["text"]
    assert text == (
        "<https://board.example/release/dev-3.html%7CClick&gt; &lt;https://evil.example%7Cx|Release on the board>"
        " \u00b7 <https://github.com/o/r/actions/runs/1%7CApprove here|GitHub run>"
    )


def test_the_sns_body_survives_a_lone_surrogate_in_the_record() -> None:
    record = {**RECORD, "approver": "eve\ud800", "reasons": ["caf\u00e9"]}
    body = sns_body(record, message_for(record, Links()))
    body.encode("utf-8")  # what botocore does with the Message: no UnicodeEncodeError
    assert '"approver": "eve\\ud800"' in body
    assert json.loads(body)["record"]["reasons"] == ["caf\u00e9"]
