"""Approval: on a terminal `invoke promote` shows the evidence once and asks; the answer is recorded. End of input
is a refusal; a dry run asks nothing."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_support import REPO_ROOT
from release_support import cli_environment, promoted_to_staging, run_cli

from envpromote import release
from envpromote.errors import GateRefused


def _converse(args: list[str], answers: list[tuple[str, str]], limit_s: float = 90) -> tuple[int, str]:
    """Run invoke on a pseudo-terminal; when a prompt appears, type its reply (a reply of "\x04" is Ctrl-D)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=cli_environment(),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    seen = ""
    pending = list(answers)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 4096).decode(errors="replace")
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if pending and pending[0][0] in seen:
                reply = pending.pop(0)[1]
                os.write(primary, reply.encode() if reply == "\x04" else (reply + "\n").encode())
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(primary)
    return proc.returncode, seen


def test_prompt_shows_evidence_and_diff_once_and_records_the_approver(
    ctx: release.Context, tmp_path: Path
) -> None:
    digest = promoted_to_staging(ctx)
    code, screen = _converse(
        ["promote", "--env", "production", "--digest", digest, "--records-dir", str(tmp_path)],
        [("Type 'production' to approve", "production"), ("Approver name", "alice")],
    )
    assert code == 0, screen
    assert "Evidence:" in screen
    assert "staging: success" in screen
    assert screen.count("production (running)") == 1, "the diff is shown at the prompt, not again after it"
    assert "approved at the prompt by alice" in screen
    record = ctx.ledger().history("production")[-1]
    assert record["approver"] == "alice"
    assert record["status"] == "success"


def test_declining_at_the_prompt_changes_nothing(ctx: release.Context, aws_state) -> None:
    digest = promoted_to_staging(ctx)
    before = aws_state.snapshot()
    code, screen = _converse(
        ["promote", "--env", "production", "--digest", digest], [("Type 'production' to approve", "no")]
    )
    assert code == 3, screen
    assert "was not approved" in screen
    assert aws_state.snapshot() == before


def test_end_of_input_at_the_prompt_is_a_refusal(ctx: release.Context, aws_state) -> None:
    digest = promoted_to_staging(ctx)
    before = aws_state.snapshot()
    code, screen = _converse(
        ["promote", "--env", "production", "--digest", digest], [("Type 'production' to approve", "\x04")]
    )
    assert code == 3, screen
    assert "input ended at the approval prompt" in screen
    assert "Traceback" not in screen
    assert aws_state.snapshot() == before


def test_dry_run_of_an_approval_environment_asks_nothing_and_changes_nothing(
    ctx: release.Context, aws_state
) -> None:
    digest = promoted_to_staging(ctx)
    before = aws_state.snapshot()
    result = run_cli("promote", "--env", "production", "--digest", digest, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)["plan"]
    assert plan["approver"] is None
    assert any("not asked in a dry run" in line for line in plan["evidence"])
    assert aws_state.snapshot() == before
    bad = run_cli("promote", "--env", "production", "--digest", digest, "--dry-run", "--timeout", "soon")
    assert bad.returncode == 2
    assert "not a number" in bad.stderr


def _answers(*replies: str | type[EOFError]) -> object:
    queue = list(replies)

    def read(_prompt: str) -> str:
        reply = queue.pop(0)
        if reply is EOFError:
            raise EOFError
        assert isinstance(reply, str)
        return reply

    return read


def test_terminal_prompt_answers() -> None:
    shown: list[str] = []

    def ask(*replies: str | type[EOFError]) -> str | None:
        return release.terminal_prompt(
            "evidence",
            env_name="production",
            default_approver="bob",
            read=_answers(*replies),
            write=shown.append,
        )  # type: ignore[arg-type]

    assert ask("production", "alice") == "alice"
    assert ask("production", "") == "bob", "an empty name takes the default"
    assert ask("prod") is None, "anything but the environment's name declines"
    with pytest.raises(GateRefused, match="input ended"):
        ask(EOFError)
    with pytest.raises(GateRefused, match="input ended"):
        ask("production", EOFError)
    assert shown == ["evidence"] * 5
