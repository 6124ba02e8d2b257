"""The board's model and site from hand-made records (pure: no AWS, no browser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from board_records import CHAIN, A, B, C, record, story

from envpromote.board import Observation, build_board, render_site
from envpromote.board.model import Board, visible_records

UPSTREAMS = {"dev": None, "staging": "dev", "production": "staging"}


def make_board(observations: dict[str, Observation] | None = None) -> Board:
    observations = observations or {
        "dev": Observation("dev", running_digest=C),
        "staging": Observation("staging", running_digest=B),
        "production": Observation("production", running_digest=A, lock_holder="run 42"),
    }
    return build_board(
        project="demo",
        chain=CHAIN,
        upstreams=UPSTREAMS,
        records_by_env=story(),
        observations=observations,
        generated_at="2026-11-29T18:00:00Z",
        ledger_key=lambda env, seq: f"releases/envs/{env}/{seq:010d}.json",
    )


def test_columns_show_what_runs_and_who_put_it_there() -> None:
    board = make_board()
    by_env = {c.environment: c for c in board.columns}
    assert [c.environment for c in board.columns] == list(CHAIN)
    assert by_env["staging"].running_digest == B
    assert by_env["staging"].drift is False  # staging's last success is B; C was rolled back by ECS
    production = by_env["production"]
    assert production.current is not None
    assert production.current.kind == "rollback"  # A runs again because of the manual rollback
    assert production.observation.lock_holder == "run 42"
    assert production.drift is False


def test_drift_is_running_digest_against_last_success_and_unknown_without_ecs() -> None:
    board = make_board(
        {
            "dev": Observation("dev", running_digest=A),  # the ledger says C
            "staging": Observation("staging", error="AccessDeniedException: no"),
            "production": Observation("production", running_digest=A),
        }
    )
    by_env = {c.environment: c for c in board.columns}
    assert by_env["dev"].drift is True
    assert by_env["staging"].drift is None


def test_rollbacks_are_marked_on_the_release_and_on_the_digest_path() -> None:
    board = make_board()
    staging_c = board.histories["staging"][0]
    assert (staging_c.digest, staging_c.outcome.label, staging_c.rolled_back) == (C, "Rolled back", True)
    production_b = next(r for r in board.histories["production"] if r.digest == B)
    assert production_b.outcome.status == "success"
    assert production_b.undone_by is not None
    assert production_b.undone_by.sequence == 3
    paths = {p.digest: p for p in board.paths}
    assert [s.outcome.status for s in paths[C].steps] == ["success", "success", "rolled_back", "not_reached"]
    b_production = paths[B].steps[-1]
    assert b_production.alert
    assert b_production.note == "rolled back at 2026-11-20 09:31:35 UTC"
    assert paths[A].steps[-1].outcome.status == "success"


def test_paths_are_ordered_by_latest_activity() -> None:
    board = make_board()
    assert [p.digest for p in board.paths] == [A, C, B]


def test_resolved_write_ahead_intents_are_not_shown() -> None:
    intent = record("dev", 40, B, "success")
    intent["status"], intent["sequence"] = "in_progress", 4
    final = record("dev", 41, B, "failed")
    final["sequence"], final["resolves"] = 5, intent["record_id"]
    open_intent = record("dev", 50, B, "success")
    open_intent["status"], open_intent["sequence"] = "in_progress", 6
    shown = visible_records([*story()["dev"], intent, final, open_intent])
    assert [r["sequence"] for r in shown] == [1, 2, 3, 5, 6]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src"} and value:
                self.hrefs.append(value)


def test_site_links_are_relative_and_all_resolve(tmp_path: Path) -> None:
    report = render_site(make_board(), tmp_path, bucket="ledger-bucket")
    pages = sorted(tmp_path.rglob("*.html"))
    assert report.pages == len(pages) == 21
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text("utf-8"))
        for href in parser.hrefs:
            assert not re.match(r"^(/|[a-z]+:)", href), f"{page.name}: {href} is not relative"
            target = href.split("#", 1)[0]
            if target:
                assert (page.parent / target).resolve().is_file(), f"{page.name}: {href} is broken"


def test_pages_escape_record_text_and_name_the_ledger_object(tmp_path: Path) -> None:
    records = story()
    records["staging"][2]["reasons"] = ["<script>alert(1)</script> & co"]
    board = build_board(
        project="demo",
        chain=CHAIN,
        upstreams=UPSTREAMS,
        records_by_env=records,
        observations={},
        generated_at="2026-11-29T18:00:00Z",
        ledger_key=lambda env, seq: f"releases/envs/{env}/{seq:010d}.json",
    )
    render_site(board, tmp_path, bucket="ledger-bucket")
    staging = (tmp_path / "release" / "staging-3.html").read_text("utf-8")
    assert "<script>alert" not in staging
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in staging
    assert "s3://ledger-bucket/releases/envs/staging/0000000003.json" in staging
    production = (tmp_path / "release" / "production-1.html").read_text("utf-8")
    assert "alice &lt;Lead&gt;" in production


@pytest.mark.parametrize("status", ["rolled_back", "success"])
def test_outcome_pages_hold_only_their_outcome(tmp_path: Path, status: str) -> None:
    render_site(make_board(), tmp_path, bucket="b")
    page = (tmp_path / "env" / f"staging-{status}.html").read_text("utf-8")
    rows = re.findall(r'<tr data-outcome="([a-z_]+)"', page)
    assert rows
    assert set(rows) == {status}


def test_release_page_shows_the_task_definition_diff(tmp_path: Path) -> None:
    records = story()
    prod = records["production"][1]
    prod["previous_task_definition_arn"] = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    prod["task_definition_arn"] = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
    taskdefs = {
        prod["previous_task_definition_arn"]: {"revision": 1, "containerDefinitions": [{"image": f"r@{A}"}]},
        prod["task_definition_arn"]: {"revision": 2, "containerDefinitions": [{"image": f"r@{B}"}]},
    }
    board = build_board(
        project="demo",
        chain=CHAIN,
        upstreams=UPSTREAMS,
        records_by_env=records,
        observations={},
        generated_at="2026-11-29T18:00:00Z",
        taskdefs=taskdefs,
    )
    render_site(board, tmp_path, bucket="b")
    page = (tmp_path / "release" / "production-2.html").read_text("utf-8")
    assert f'<span class="del">-      &#34;image&#34;: &#34;r@{A}&#34;</span>' in page
    assert f'<span class="add">+      &#34;image&#34;: &#34;r@{B}&#34;</span>' in page
    assert "No task-definition diff" in (tmp_path / "release" / "production-1.html").read_text("utf-8")


def test_why_prefers_the_reason_that_names_the_failure() -> None:
    from envpromote.board.model import why

    reasons = [
        "scan: no scan record; unscanned allowed for dev",
        "service web: ACTIVE",
        "ECS deployment circuit breaker: tasks failed to start.",
    ]
    assert why(reasons) == "ECS deployment circuit breaker: tasks failed to start."
    assert why(["gate: approval missing"]) == "gate: approval missing"
    assert why([]) is None
