"""Notifications on a release's terminal outcome: Slack (Block Kit over an incoming webhook) and SNS.

``targets`` parses ``notify = [...]`` (pure, light: config.py imports it), ``message`` builds what is said
(pure), ``send`` delivers it with retries and never raises. Importing this package loads only ``targets``;
the rest (boto3, the board's model) loads on first use of its names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envpromote.lazy import lazy_exports
from envpromote.notify.targets import SlackTarget, SnsTarget, Target, parse_targets, target_problems

if TYPE_CHECKING:
    from envpromote.notify.message import (
        Links,
        Message,
        links_for,
        message_for,
        slack_payload,
        sns_body,
        sns_subject,
    )
    from envpromote.notify.send import NotifyResult, notify, notify_outcome

_LAZY = {
    "Links": "message",
    "Message": "message",
    "links_for": "message",
    "message_for": "message",
    "slack_payload": "message",
    "sns_body": "message",
    "sns_subject": "message",
    "NotifyResult": "send",
    "notify": "send",
    "notify_outcome": "send",
}

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
    "notify_outcome",
    "parse_targets",
    "slack_payload",
    "sns_body",
    "sns_subject",
    "target_problems",
]


__getattr__ = lazy_exports(__name__, _LAZY)
