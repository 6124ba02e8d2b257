"""The release page says whether the team was told: the record's ``notifications``, one line per target, in words
(colour is never the only signal), the target as configured and never a webhook URL."""

from __future__ import annotations

import re
from pathlib import Path

from board_records import CHAIN, story

from envpromote.board import build_board, render_site
from envpromote.board.delivery import delivery_lines, target_label

TOPIC = "arn:aws:sns:us-east-1:123456789012:envpromote-production-alerts"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-prod-AbCdEf"


def _page(tmp_path: Path, env: str, sequence: int) -> str:
    board = build_board(
        project="demo",
        chain=CHAIN,
        upstreams={"dev": None, "staging": "dev", "production": "staging"},
        records_by_env=RECORDS,
        observations={},
        generated_at="2026-11-29T18:00:00Z",
    )
    render_site(board, tmp_path, bucket="b")
    return (tmp_path / "release" / f"{env}-{sequence}.html").read_text("utf-8")


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


RECORDS = story()
RECORDS["production"][0]["notifications"] = [
    {"target": "slack:env:SLACK_WEBHOOK_PROD", "ok": True, "attempts": 1, "error": None},
    {"target": f"sns:{TOPIC}", "ok": False, "attempts": 3, "error": "InternalError: <b>boom</b>"},
    {
        "target": f"slack:secretsmanager:{SECRET}",
        "ok": False,
        "attempts": 0,
        "error": "No AWS credentials found.",
    },
]


def test_the_release_page_lists_each_delivery_in_words(tmp_path: Path) -> None:
    html = _page(tmp_path, "production", 1)
    text = _text(html)
    assert "Slack (SLACK_WEBHOOK_PROD): delivered, 1 attempt" in text
    assert f"SNS {TOPIC}: failed after 3 attempts: InternalError: &lt;b&gt;boom&lt;/b&gt;" in text
    assert f"Slack (secret {SECRET}): not sent: No AWS credentials found." in text
    assert "<b>boom</b>" not in html, "error text is escaped"
    assert html.count('data-outcome="delivered"') == 1
    assert html.count('data-outcome="not_delivered"') == 2


def test_a_record_without_deliveries_says_so(tmp_path: Path) -> None:
    text = _text(_page(tmp_path, "production", 2))
    assert "This record notes no notification" in text


def test_lines_tolerate_what_a_hostile_or_old_record_holds() -> None:
    assert delivery_lines({}) is None
    assert delivery_lines({"notifications": "yes"}) is None
    lines = delivery_lines({"notifications": [7, {"ok": True, "attempts": 2}, {"target": "x", "ok": "yes"}]})
    assert [str(line) for line in lines or []] == [
        "unknown target: delivered, 2 attempts",
        "x: not sent: unknown error",
    ]
    assert target_label("slack:env:HOOK") == "Slack (HOOK)"
