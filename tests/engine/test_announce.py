"""After a release: the step summary shows the digest's path through the chain, and the environment's
notification targets receive the outcome — a real webhook receiver on 127.0.0.1 and the sandbox's SNS — before the
final record is sealed, so the record in the ledger says whether the team was told. In CI a gate refusal is
announced too (and writes nothing)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from release_support import run_cli
from support.configs import config_variant
from support.engine import push_test_image, record_clean_build

from envpromote import release
from envpromote.config import load_config
from envpromote.errors import LedgerError
from envpromote.ledger import Ledger, LocalRecords, sync_pending


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []
    on_message: ClassVar[list[Callable[[], None]]] = []  # run while the message is being received

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        for hook in type(self).on_message:
            hook()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Receiver.bodies = []
    _Receiver.on_message = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.bodies
    finally:
        server.shutdown()
        server.server_close()


def _notify_dev(data: dict[str, Any]) -> None:
    data["environments"]["dev"]["notify"] = ["slack:env:ENVPROMOTE_TEST_WEBHOOK"]


def _notify_staging(data: dict[str, Any]) -> None:
    data["environments"]["staging"]["notify"] = ["slack:env:ENVPROMOTE_TEST_WEBHOOK"]


def _deploy_with_notify(
    make_context: Callable[..., release.Context], tmp_path: Path
) -> tuple[release.Context, str, release.ReleaseResult]:
    ctx = make_context(config=load_config(config_variant(tmp_path, _notify_dev)))
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    return ctx, digest, release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)


def _release_page_text(records: list[dict[str, Any]], out: Path, sequence: int) -> str:
    """The board's page of dev's release `sequence`, rendered from `records`, as a person reads it."""
    from envpromote.board import build_board, render_site

    board = build_board(
        project="demo",
        chain=["dev"],
        upstreams={"dev": None},
        records_by_env={"dev": records},
        observations={},
        generated_at="2026-11-29T18:00:00Z",
    )
    render_site(board, out, bucket="ledger")
    html = (out / "release" / f"dev-{sequence}.html").read_text("utf-8")
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_deploy_announces_its_outcome_and_draws_its_path(
    make_context: Callable[..., release.Context],
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, bodies = webhook
    monkeypatch.setenv("ENVPROMOTE_TEST_WEBHOOK", url)
    monkeypatch.setenv("ENVPROMOTE_BOARD_URL", "https://board.example/")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    kept_while_notifying: list[list[dict[str, Any]]] = []
    _Receiver.on_message.append(
        lambda: kept_while_notifying.append([d for _, d in LocalRecords(tmp_path / "records").pending()])
    )

    ctx, digest, result = _deploy_with_notify(make_context, tmp_path)

    assert result.record is not None
    assert result.record["status"] == "success"
    assert [n["ok"] for n in result.notifications] == [True]
    assert len(bodies) == 1
    message = json.dumps(bodies[0])
    assert "blocks" in bodies[0], "Slack Block Kit"
    assert digest.removeprefix("sha256:")[:12] in message
    assert "succeeded" in message

    # the record in the ledger says the team was told, naming the target as configured (never its URL)
    intent, final = ctx.ledger().history("dev")
    assert final["record_id"] == result.record["record_id"]
    assert final["notifications"] == [
        {"target": "slack:env:ENVPROMOTE_TEST_WEBHOOK", "ok": True, "attempts": 1, "error": None}
    ]
    assert url not in json.dumps(final)
    assert ctx.ledger().verify(["dev"]) == (2, [])
    # the message links the board page of the sequence the record then took
    assert f"https://board.example/release/dev-{final['sequence']}.html" in message
    # while the message was sent, the draft (without deliveries) was already kept for 'ledger.sync'
    (kept,) = kept_while_notifying
    assert [d["record_id"] for d in kept] == [final["record_id"]]
    assert "notifications" not in kept[0]
    assert LocalRecords(tmp_path / "records").pending() == []

    page = _release_page_text([intent, final], tmp_path / "board", final["sequence"])
    assert "Slack (ENVPROMOTE_TEST_WEBHOOK): delivered, 1 attempt" in page

    text = summary.read_text()
    assert "```mermaid" in text, "the promotion graph stands above the record table"
    assert text.index("```mermaid") < text.index("| digest |")
    assert "dev" in text.split("```mermaid", 1)[1].split("```", 1)[0]


def test_a_failing_notification_changes_nothing_but_is_recorded(
    make_context: Callable[..., release.Context], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVPROMOTE_TEST_WEBHOOK", "http://127.0.0.1:9/nothing-listens-here")
    ctx, digest, result = _deploy_with_notify(make_context, tmp_path)

    assert result.record is not None
    assert result.record["status"] == "success"
    assert [n["ok"] for n in result.notifications] == [False]
    assert ctx.ledger().last_success("dev")["digest"] == digest  # the record is in the ledger all the same
    intent, final = ctx.ledger().history("dev")
    (noted,) = final["notifications"]
    assert (noted["target"], noted["ok"], noted["attempts"]) == (
        "slack:env:ENVPROMOTE_TEST_WEBHOOK",
        False,
        3,
    )
    assert noted["error"].startswith("cannot reach the webhook")
    assert "nothing-listens-here" not in json.dumps(final), "the webhook URL is a secret"
    page = _release_page_text([intent, final], tmp_path / "board", final["sequence"])
    assert "Slack (ENVPROMOTE_TEST_WEBHOOK): failed after 3 attempts: cannot reach the webhook" in page


def test_when_the_ledger_write_fails_the_kept_record_carries_the_deliveries(
    make_context: Callable[..., release.Context],
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, bodies = webhook
    monkeypatch.setenv("ENVPROMOTE_TEST_WEBHOOK", url)
    append = Ledger.append

    def failing_final_write(self: Ledger, draft: Any) -> Any:
        if draft["status"] == "in_progress":
            return append(self, draft)  # the intent goes in; the final record's write fails
        raise LedgerError("S3 unreachable (injected)")

    monkeypatch.setattr(Ledger, "append", failing_final_write)
    ctx, _digest, result = _deploy_with_notify(make_context, tmp_path)

    assert result.ledger_warning
    assert "ledger.sync" in result.ledger_warning
    assert len(bodies) == 1, "the team was told"
    ((path, kept),) = LocalRecords(tmp_path / "records").pending()
    assert path == result.record_path
    assert kept["notifications"] == [
        {"target": "slack:env:ENVPROMOTE_TEST_WEBHOOK", "ok": True, "attempts": 1, "error": None}
    ]

    monkeypatch.setattr(Ledger, "append", append)
    (synced,) = sync_pending(ctx.ledger(), LocalRecords(tmp_path / "records"))
    assert synced["notifications"] == kept["notifications"]
    assert ctx.ledger().history("dev")[-1]["notifications"] == kept["notifications"]
    assert ctx.ledger().verify(["dev"]) == (2, [])


def test_a_record_that_lands_elsewhere_than_its_link_is_warned_about(
    make_context: Callable[..., release.Context],
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, bodies = webhook
    monkeypatch.setenv("ENVPROMOTE_TEST_WEBHOOK", url)
    monkeypatch.setenv("ENVPROMOTE_BOARD_URL", "https://board.example/")
    next_sequence = Ledger.next_sequence
    # as if a writer that broke the lock appended between our read of the head and our append
    monkeypatch.setattr(Ledger, "next_sequence", lambda self, env: next_sequence(self, env) - 1)
    lines: list[str] = []
    ctx = make_context(config=load_config(config_variant(tmp_path, _notify_dev)))
    ctx.out = lines.append
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    result = release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)

    assert result.record is not None
    sequence = result.record["sequence"]
    assert f"release/dev-{sequence - 1}.html" in json.dumps(bodies[0])
    (warning,) = [line for line in lines if "link in the message is stale" in line]
    assert f"#{sequence - 1}" in warning
    assert f"#{sequence}" in warning


# ---- gate refusals ---------------------------------------------------------------------------------

NEVER_DEPLOYED = "sha256:" + "e" * 64


def _promote_in(tmp_path: Path, url: str, digest: str, *options: str, **env: str) -> Any:
    config = config_variant(tmp_path, _notify_staging)
    return run_cli(
        "promote",
        *options,
        "--env",
        "staging",
        "--digest",
        digest,
        "--config",
        str(config),
        "--records-dir",
        str(tmp_path / "records"),
        env={"ENVPROMOTE_TEST_WEBHOOK": url, **env},
    )


def test_a_gate_refusal_in_ci_reaches_the_team_and_changes_nothing(
    aws_state: Any, tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = webhook
    before = aws_state.snapshot()
    result = _promote_in(
        tmp_path,
        url,
        NEVER_DEPLOYED,
        CI="true",
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY="o/r",
        GITHUB_RUN_ID="4242",
        GITHUB_ACTOR="ci-bot",
    )
    assert result.returncode == 3, result.stderr
    assert aws_state.snapshot() == before, "a refusal must not change AWS state (no record, no deployment)"
    (body,) = bodies
    assert body["text"] == "staging: promote of sha256:eeeeeeeeeeee refused by the gate"
    text = json.dumps(body)
    assert "has no successful release in dev, the upstream of staging" in text, "the refusal itself"
    assert "Fix: Deploy or promote it to dev first" in text, "and its fix"
    assert "ci-bot" in text
    assert "https://github.com/o/r/actions/runs/4242" in text, "the run link"
    assert "Release on the board" not in text, "a refusal has no release page"
    assert "refusal sent to slack:env:ENVPROMOTE_TEST_WEBHOOK" in result.stderr


def test_no_refusal_message_outside_ci_for_a_dry_run_or_for_bad_input(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = webhook
    at_a_terminal = _promote_in(tmp_path, url, NEVER_DEPLOYED, CI="false")
    assert at_a_terminal.returncode == 3, at_a_terminal.stderr
    bad_input = _promote_in(tmp_path, url, "sha256:1234", CI="true")
    assert bad_input.returncode == 2, bad_input.stderr
    dry_run = _promote_in(tmp_path, url, NEVER_DEPLOYED, "--dry-run", CI="true")
    assert dry_run.returncode == 3, dry_run.stderr
    assert bodies == []
