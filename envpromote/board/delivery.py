"""How a release page shows whether the team was told: the record's ``notifications`` as lines (pure).

``Slack (SLACK_WEBHOOK_PROD): delivered, 1 attempt`` / ``SNS arn:...: failed after 3 attempts: HTTP 500``. The
record names each target as configured (a variable name, a secret ARN, a topic ARN), never a webhook URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envpromote.board.outcomes import Outcome

DELIVERED = Outcome("delivered", "Delivered", "\u2714", "ok")
NOT_DELIVERED = Outcome("not_delivered", "Not delivered", "\u2716", "bad")


@dataclass(frozen=True)
class DeliveryLine:
    label: str  # "Slack (SLACK_WEBHOOK_PROD)", "SNS arn:aws:sns:..."
    outcome: Outcome
    text: str  # "delivered, 1 attempt" | "failed after 3 attempts: ..." | "not sent: ..."

    def __str__(self) -> str:
        return f"{self.label}: {self.text}"


def target_label(target: str) -> str:
    kind, _, rest = target.partition(":")
    source, _, ref = rest.partition(":")
    if kind == "slack" and source == "env":
        return f"Slack ({ref})"
    if kind == "slack" and source == "secretsmanager":
        return f"Slack (secret {ref})"
    if kind == "sns":
        return f"SNS {rest}"
    return target


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def delivery_lines(record: Mapping[str, Any]) -> list[DeliveryLine] | None:
    """One line per notify target; None when the record says nothing about notifications (written before they
    were recorded, by a run killed while notifying, or for an environment without targets)."""
    notes = record.get("notifications")
    if not isinstance(notes, list):
        return None
    lines = []
    for note in notes:
        if not isinstance(note, Mapping):
            continue
        attempts = note.get("attempts")
        count = attempts if isinstance(attempts, int) else 0
        error = note.get("error")
        if note.get("ok") is True:
            text, shown = f"delivered, {_attempts(count)}", DELIVERED
        elif count == 0:
            text, shown = f"not sent: {error or 'unknown error'}", NOT_DELIVERED
        else:
            text, shown = f"failed after {_attempts(count)}: {error or 'unknown error'}", NOT_DELIVERED
        lines.append(DeliveryLine(target_label(str(note.get("target", "unknown target"))), shown, text))
    return lines
