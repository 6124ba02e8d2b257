"""What a notification says, built from a release record (pure): Slack Block Kit JSON, an SNS subject and body.

Record fields come from people and CI (approver, reasons): Slack's control characters (``& < >``) are escaped so
that text can never become a mention (``<!channel>``) or a link.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envpromote.board.model import release_page
from envpromote.board.outcomes import Outcome, outcome, short_commit, short_digest

MAX_REASONS = 5
_SLACK_TEXT_LIMIT = 2900  # Block Kit section text is limited to 3000 characters
_SNS_SUBJECT_LIMIT = 99  # SNS: ASCII, no line breaks, under 100 characters


@dataclass(frozen=True)
class Links:
    board_release: str | None = None
    run: str | None = None


def links_for(
    record: Mapping[str, Any],
    *,
    board_url: str | None,
    environ: Mapping[str, str],
    sequence: int | None = None,
) -> Links:
    """The board's page for this release (when the board is published at `board_url`) and the GitHub run.

    `sequence` stands for the record's own when the record is a draft about to be appended (see
    release/records.py); a refusal has neither, so its message links the run only."""
    board = None
    sequence = sequence or record.get("sequence") or None
    if board_url and sequence and record.get("status") != "refused":
        board = f"{board_url.rstrip('/')}/{release_page(str(record['environment']), int(sequence))}"
    run = None
    server, repo = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    run_id = record.get("run_id") or environ.get("GITHUB_RUN_ID")
    if server and repo and run_id:
        run = f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
        attempt = record.get("run_attempt") or environ.get("GITHUB_RUN_ATTEMPT")
        if attempt and str(attempt) != "1":
            run += f"/attempts/{attempt}"
    return Links(board_release=board, run=run)


@dataclass(frozen=True)
class Message:
    environment: str
    kind: str
    outcome: Outcome
    digest: str | None
    commit: str | None
    approver: str | None
    actor: str
    duration_s: float | None
    reasons: tuple[str, ...]
    links: Links
    test: bool = False

    @property
    def title(self) -> str:
        prefix = "[test] " if self.test else ""
        return f"{prefix}{self.environment}: {self.kind} of {short_digest(self.digest)} {self.outcome.label.lower()}"


def message_for(record: Mapping[str, Any], links: Links, *, test: bool = False) -> Message:
    duration = record.get("duration_s")
    return Message(
        environment=str(record.get("environment", "unknown")),
        kind=str(record.get("kind", "deploy")),
        outcome=outcome(str(record.get("status", "unknown"))),
        digest=record.get("digest"),
        commit=record.get("source_commit"),
        approver=record.get("approver"),
        actor=str(record.get("actor", "unknown")),
        duration_s=float(duration) if isinstance(duration, int | float) else None,
        reasons=tuple(str(r) for r in (record.get("reasons") or [])[:MAX_REASONS]),
        links=links,
        test=test,
    )


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, text: str) -> str:
    """``<url|text>`` where nothing in `url` (run ids and board URLs come from records and the environment) can end
    the link early, add link text or start another link: ``& < >`` escaped, ``|`` percent-encoded."""
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(text)}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def slack_payload(message: Message) -> dict[str, Any]:
    """An incoming-webhook payload: ``text`` (notifications, screen readers) plus Block Kit blocks."""
    e = slack_escape
    duration = f"{message.duration_s:g} s" if message.duration_s is not None else "unknown"
    fields = [
        f"*Environment*\n{e(message.environment)}",
        f"*Outcome*\n{message.outcome.icon} {e(message.outcome.label)}",
        f"*Digest*\n`{e(message.digest or 'none')}`",
        f"*Commit*\n`{e(short_commit(message.commit))}`",
        f"*Approver*\n{e(message.approver or 'none')}",
        f"*Duration*\n{duration}",
        f"*Run by*\n{e(message.actor)}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(message.title, 150), "emoji": False}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _clip(f, 2000)} for f in fields]},
    ]
    if message.reasons:
        reasons = "\n".join(f"\u2022 {e(r)}" for r in message.reasons)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(f"*Why*\n{reasons}", _SLACK_TEXT_LIMIT)},
            }
        )
    link_parts = []
    if message.links.board_release:
        link_parts.append(slack_link(message.links.board_release, "Release on the board"))
    if message.links.run:
        link_parts.append(slack_link(message.links.run, "GitHub run"))
    if link_parts:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " \u00b7 ".join(link_parts)}]}
        )
    return {"text": e(message.title), "blocks": blocks}


def sns_subject(message: Message) -> str:
    """At most 99 printable ASCII characters (SNS refuses anything else)."""
    ascii_only = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in f"EnvPromote {message.title}")
    return _clip(ascii_only, _SNS_SUBJECT_LIMIT).replace("\u2026", "")


def sns_body(record: Mapping[str, Any], message: Message) -> str:
    """The JSON a subscriber gets: the release record itself (for a gate refusal, which writes no record, the
    refusal under ``refusal`` and ``record`` null), a summary line and the links."""
    refused = message.outcome.status == "refused"
    return json.dumps(
        {
            "source": "envpromote",
            "summary": message.title,
            "outcome": message.outcome.status,
            "test": message.test,
            "links": {"board_release": message.links.board_release, "run": message.links.run},
            "record": None if refused else dict(record),
            **({"refusal": dict(record)} if refused else {}),
        },
        sort_keys=True,
        ensure_ascii=True,  # \u escapes: a lone surrogate in a record (a JSON "\\ud800") cannot fail the publish
        default=str,
    )
