"""Notifications on a release's terminal outcome: Slack (Block Kit over an incoming webhook) and SNS.

``targets`` parses ``notify = [...]`` (pure), ``message`` builds what is said (pure), ``send`` delivers it with
retries and never raises.
"""

from __future__ import annotations

from envpromote.notify.message import (
    Links,
    Message,
    links_for,
    message_for,
    slack_payload,
    sns_body,
    sns_subject,
)
from envpromote.notify.send import NotifyResult, notify
from envpromote.notify.targets import SlackTarget, SnsTarget, Target, parse_targets, target_problems

__all__ = [
    "Links",
    "Message",
    "NotifyResult",
    "SlackTarget",
    "SnsTarget",
    "Target",
    "links_for",
    "message_for",
    "notify",
    "parse_targets",
    "slack_payload",
    "sns_body",
    "sns_subject",
    "target_problems",
]
