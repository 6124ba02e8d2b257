""".trivyignore: every entry needs a reason (``#`` comment lines right above it) and an expiry within a year.

trivy applies the file itself (``--ignorefile``); this module refuses entries that would silence a finding
without a reason or for good, and reports entries that have expired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from envpromote.errors import BadInput

MAX_IGNORE_DAYS = 366


@dataclass(frozen=True)
class IgnoreEntry:
    """One `.trivyignore` entry: the id it silences, until when, and why."""

    rule_id: str
    expires: date
    reason: str
    line: int


_EXPIRY = re.compile(r"^exp:(\d{4}-\d{2}-\d{2})$")


def parse_trivyignore(
    text: str, *, today: date, max_days: int = MAX_IGNORE_DAYS
) -> tuple[list[IgnoreEntry], list[str]]:
    """Entries and problems. Every entry needs a reason (comment lines right above it) and an expiry.

    An expiry more than ``max_days`` ahead is refused: a silenced finding must come back for review.
    Entries already expired are returned (trivy no longer applies them, so the finding shows again).
    """
    entries: list[IgnoreEntry] = []
    problems: list[str] = []
    reason_lines: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            reason_lines = []
            continue
        if line.startswith("#"):
            reason_lines.append(line.lstrip("#").strip())
            continue
        body = line.split("#", 1)[0].split()
        rule_id, options = body[0], body[1:]
        reason = " ".join(part for part in reason_lines if part)
        reason_lines = []
        expiry: date | None = None
        option_problems: list[str] = []
        for option in options:
            match = _EXPIRY.match(option)
            if not match:
                option_problems.append(f"unexpected field {option!r} (only exp:YYYY-MM-DD)")
                continue
            try:
                expiry = date.fromisoformat(match.group(1))
            except ValueError:
                option_problems.append(f"{option!r} is not a real date")
        if option_problems:
            problems.extend(f"line {number}: {rule_id}: {problem}" for problem in option_problems)
            continue
        if expiry is None:
            problems.append(f"line {number}: {rule_id} has no expiry (append exp:YYYY-MM-DD)")
            continue
        if not reason:
            problems.append(f"line {number}: {rule_id} has no reason (put a # comment line right above it)")
            continue
        if expiry > today + timedelta(days=max_days):
            problems.append(
                f"line {number}: {rule_id} expires {expiry.isoformat()}, more than {max_days} days ahead"
            )
            continue
        entries.append(IgnoreEntry(rule_id=rule_id, expires=expiry, reason=reason, line=number))
    return entries, problems


def load_trivyignore(path: Path, *, today: date | None = None) -> list[IgnoreEntry]:
    """Validated entries of a `.trivyignore` file; raises BadInput naming every bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries, problems = parse_trivyignore(text, today=today or date.today())
    if problems:
        raise BadInput(
            f"{path} has invalid entries: {'; '.join(problems)}.",
            fix="give every entry a `# reason` comment line above it and `exp:YYYY-MM-DD` (within a year).",
        )
    return entries
