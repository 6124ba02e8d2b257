"""The promotion graph: a Mermaid flowchart of one digest's path through the chain (pure).

GitHub renders ```` ```mermaid ```` blocks in step summaries. Labels are built from record fields that people
and CI control (approver names, commits), so every character outside a small safe set is written as a Mermaid
entity code (``#35;``): nothing in a label can close the node, start a link, or inject markup.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from envpromote.board.model import visible_records
from envpromote.board.outcomes import outcome, short_commit, short_digest

_SAFE = frozenset(string.ascii_letters + string.digits + " _.,:@+/-")  # a set lookup per character
_CLASSES = {
    "ok": "fill:#e6f4ea,stroke:#1e7e34,color:#0b3d17",
    "bad": "fill:#fdecea,stroke:#b3261e,color:#5c0f0a",
    "warn": "fill:#fff4e5,stroke:#8a5300,color:#4d2e00",
    "busy": "fill:#e8f0fe,stroke:#1a56c4,color:#0b2a66",
    "none": "fill:#f1f3f4,stroke:#5f6368,color:#202124,stroke-dasharray:4 3",
}


def mermaid_escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label: anything but ``[A-Za-z0-9 _.,:@+/-]`` as ``#<code>;``."""
    return "".join(ch if ch in _SAFE else f"#{ord(ch)};" for ch in text)


def _label(*lines: str) -> str:
    return "<br/>".join(mermaid_escape(line) for line in lines if line)


def _when(value: Any) -> str:
    text = str(value or "")
    return text[:16].replace("T", " ") + " UTC" if len(text) >= 16 else text


def promotion_graph_mermaid(
    chain: Sequence[str], records_by_env: Mapping[str, Sequence[Mapping[str, Any]]], digest: str
) -> str:
    """A ``flowchart LR``: built -> each environment, with the digest's latest outcome and time there.

    `records_by_env` holds each environment's records as the ledger returns them (oldest first); rollbacks of the digest are marked in text
    (``rolled back``), not only by colour. Returns the diagram source without the surrounding code fence.
    """
    commit: str | None = None
    nodes: list[tuple[str, str, str]] = []  # (id, label, css class)
    for index, env in enumerate(chain):
        records = visible_records(records_by_env.get(env, ()))
        mine = [r for r in records if r.get("digest") == digest]
        commit = commit or next((r.get("source_commit") for r in mine if r.get("source_commit")), None)
        node_id = f"e{index}"
        if not mine:
            nodes.append((node_id, _label(env, "not reached"), "none"))
            continue
        latest = mine[-1]
        shown = outcome(str(latest.get("status", "unknown")))
        lines = [
            env,
            f"{shown.label.lower()} ({latest.get('kind', 'deploy')})",
            _when(latest.get("finished_at")),
        ]
        if latest.get("approver"):
            lines.append(f"approved by {latest['approver']}")
        after = records[records.index(latest) + 1 :]
        undone = next(
            (
                r
                for r in after
                if r.get("kind") == "rollback"
                and r.get("status") == "success"
                and r.get("previous_digest") == digest
            ),
            None,
        )
        css = shown.css
        if undone is not None and shown.status == "success":
            lines.append(f"rolled back {_when(undone.get('finished_at'))}")
            css = "bad"
        nodes.append((node_id, _label(*lines), css))

    out = ["flowchart LR"]
    out.append(f'  b["{_label("built", short_digest(digest), f"commit {short_commit(commit)}")}"]')
    for node_id, label, _css in nodes:
        out.append(f'  {node_id}["{label}"]')
    previous = "b"
    for node_id, _label_text, css in nodes:
        arrow = "-.->" if css == "none" else "-->"
        out.append(f"  {previous} {arrow} {node_id}")
        previous = node_id
    used = {css for _id, _l, css in nodes} | {"ok"}
    for css in sorted(used):
        out.append(f"  classDef {css} {_CLASSES[css]}")
    out.append("  class b ok")
    for node_id, _label_text, css in nodes:
        out.append(f"  class {node_id} {css}")
    return "\n".join(out) + "\n"


def promotion_graph_markdown(
    chain: Sequence[str], records_by_env: Mapping[str, Sequence[Mapping[str, Any]]], digest: str
) -> str:
    """The graph as a fenced ```` ```mermaid ```` block for a GitHub step summary (put it above the record table)."""
    return f"```mermaid\n{promotion_graph_mermaid(chain, records_by_env, digest)}```\n"
