"""promotion_graph_mermaid: the digest's path with outcomes, labels that cannot break out of their node."""

from __future__ import annotations

import re

from board_records import CHAIN, A, B, C, story

from envpromote.board import mermaid_escape, promotion_graph_mermaid
from envpromote.board.model import taskdef_diff


def test_graph_shows_each_step_with_its_outcome() -> None:
    text = promotion_graph_mermaid(CHAIN, story(), C)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  b["built<br/>sha256:cccccccccccc<br/>commit cccccccccc"]' in lines
    assert any(line.startswith('  e1["staging<br/>rolled back #40;promote#41;') for line in lines)
    assert 'e2["production<br/>not reached"]' in text
    assert "  e1 -.-> e2" in lines  # not reached: a dashed edge, not only a grey box
    assert "  class e1 bad" in lines


def test_a_success_later_rolled_back_says_so_in_words() -> None:
    text = promotion_graph_mermaid(CHAIN, story(), B)
    production = next(line for line in text.splitlines() if line.startswith('  e2["'))
    assert "approved by bob" in production
    assert "rolled back 2026-11-20 09:31 UTC" in production
    assert "  class e2 bad" in text


def test_a_digest_never_deployed_is_not_reached_everywhere() -> None:
    text = promotion_graph_mermaid(CHAIN, story(), "sha256:" + "f" * 64)
    assert text.count("not reached") == 3
    assert "commit unknown" in text


def test_labels_cannot_close_the_node_or_inject_markup() -> None:
    records = story()
    records["production"][0]["approver"] = 'x"] --> evil["<b>pwn</b>'
    text = promotion_graph_mermaid(CHAIN, records, A)
    label_line = next(line for line in text.splitlines() if line.startswith('  e2["'))
    # One quoted label per node line: nothing the approver typed ends it early.
    assert label_line.count('"') == 2
    assert label_line.endswith('"]')
    assert "<b>" not in text
    assert "-->" not in label_line
    assert mermaid_escape('a"b<c>') == "a#34;b#60;c#62;"
    assert re.fullmatch(r"[A-Za-z0-9 _.,:@+/#;-]*", mermaid_escape("ünïcode & `code` {x}"))


def test_taskdef_diff_ignores_fields_every_registration_changes() -> None:
    before = {"family": "web", "revision": 3, "containerDefinitions": [{"image": "r@" + A}]}
    after = {"family": "web", "revision": 4, "containerDefinitions": [{"image": "r@" + B}]}
    diff = taskdef_diff(before, after)
    assert any(line.startswith("-") and A in line for line in diff)
    assert any(line.startswith("+") and B in line for line in diff)
    assert not any("revision" in line for line in diff)
    assert taskdef_diff(before, None) == []


def test_markdown_wraps_the_graph_for_a_step_summary() -> None:
    from envpromote.board import promotion_graph_markdown

    text = promotion_graph_markdown(CHAIN, story(), A)
    assert text.startswith("```mermaid\nflowchart LR\n")
    assert text.endswith("\n```\n")
