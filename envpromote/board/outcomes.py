"""How an outcome is shown: a word, an icon and a CSS class, so colour is never the only signal (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    status: str  # the record's status, or "not_reached"
    label: str  # what a person reads
    icon: str  # decorative (aria-hidden); the label carries the meaning
    css: str  # ok | bad | warn | busy | none

    @property
    def terminal(self) -> bool:
        return self.status not in {"in_progress", "not_reached"}


_OUTCOMES = {
    "success": Outcome("success", "Succeeded", "\u2714", "ok"),
    "failed": Outcome("failed", "Failed", "\u2716", "bad"),
    "rolled_back": Outcome("rolled_back", "Rolled back", "\u21a9", "bad"),
    "timed_out": Outcome("timed_out", "Timed out", "\u23f1", "warn"),
    "aborted": Outcome("aborted", "Aborted", "\u25a0", "warn"),
    "in_progress": Outcome("in_progress", "In progress", "\u27f3", "busy"),
    "unknown": Outcome("unknown", "Unknown", "?", "warn"),
    "refused": Outcome("refused", "Refused by the gate", "\u26d4", "warn"),
    "not_reached": Outcome("not_reached", "Not reached", "\u2013", "none"),
}

# The outcomes a history page can be filtered by, in the order the filter lists them.
FILTERABLE = ("success", "failed", "rolled_back", "timed_out", "aborted", "in_progress", "unknown")


def outcome(status: str) -> Outcome:
    """The display of a status; an unexpected status is shown as itself, never hidden."""
    known = _OUTCOMES.get(status)
    if known is not None:
        return known
    return Outcome(status, status.replace("_", " ").capitalize() or "Unknown", "?", "warn")


def short_digest(digest: str | None, length: int = 12) -> str:
    """``sha256:0123456789ab`` for people; the full digest stays in titles and the release page."""
    if not digest:
        return "none"
    hex_part = digest.removeprefix("sha256:")
    return f"sha256:{hex_part[:length]}"


def short_commit(commit: str | None) -> str:
    return commit[:10] if commit else "unknown"
