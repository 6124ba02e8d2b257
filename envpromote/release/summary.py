"""The GitHub step-summary Markdown for a release record.

Values that come from people (approver, actor, reasons, evidence) are escaped: no Markdown, HTML, table
breaks or line breaks survive from them. Machine values (digest, ARN) are shown as code, backticks removed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

ICONS = {"success": "✅", "rolled_back": "↩️", "failed": "❌", "timed_out": "⏱️", "aborted": "⛔"}
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def escape_markdown(value: object) -> str:
    """`value` as inert text on one line: HTML-escaped, Markdown punctuation backslash-escaped."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def code(value: object) -> str:
    """`value` as an inline code span (a code span cannot be escaped, so backticks and line breaks go)."""
    text = "".join(ch if ch.isprintable() and ch != "`" else " " for ch in str(value))
    return f"`{text.replace('|', '¦')}`"


def _or_dash(value: Any, render: Any = escape_markdown) -> str:
    return "-" if value is None or value == "" else str(render(value))


def summary_markdown(record: Mapping[str, Any], *, warning: str | None = None) -> str:
    status = str(record["status"])
    prev_hash = record.get("prev_record_sha256")
    lines = [
        f"### {ICONS.get(status, '')} {escape_markdown(record['kind'])} to "
        f"{escape_markdown(record['environment'])}: {escape_markdown(status)}",
        "",
        "| field | value |",
        "| --- | --- |",
        f"| digest | {code(record['digest'])} |",
        f"| from | {_or_dash(record.get('source_environment'))} |",
        f"| replaced | {_or_dash(record.get('previous_digest'), code)} |",
        f"| task definition | {_or_dash(record.get('task_definition_arn'), code)} |",
        f"| approver | {_or_dash(record.get('approver'))} |",
        f"| actor | {_or_dash(record.get('actor'))} |",
        f"| duration | {_or_dash(record.get('duration_s'))} s |",
        f"| ledger | #{_or_dash(record.get('sequence'))} (prev sha256 {_or_dash(prev_hash and prev_hash[:16], code)}) |",
        "",
        "**Evidence and reasons**",
        "",
        *(f"- {escape_markdown(reason)}" for reason in record.get("reasons", [])),
    ]
    if warning:
        lines += ["", f"> {escape_markdown(warning)}"]
    return "\n".join(lines)
