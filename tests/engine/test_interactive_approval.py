"""Local approval: on a terminal, `invoke promote` shows the evidence and asks; the answer is recorded."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from engine_support import REPO_ROOT, push_test_image, record_clean_build

from envpromote import release as usecases


def _promoted_to_staging(ctx: usecases.Context) -> str:
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    usecases.execute(
        ctx, usecases.plan_promote(ctx, "staging", digest, approval=usecases.Approval()), timeout=60
    )
    return digest


def _converse(args: list[str], answers: list[tuple[str, str]], limit_s: float = 90) -> tuple[int, str]:
    """Run invoke on a pseudo-terminal; when `prompt` appears, type `reply`."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in {"GITHUB_ACTIONS", "ENVPROMOTE_APPROVED_VIA"}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=env,
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
                os.write(primary, (pending.pop(0)[1] + "\n").encode())
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(primary)
    return proc.returncode, seen


def test_prompt_shows_evidence_and_records_the_approver(ctx: usecases.Context, tmp_path: Path) -> None:
    digest = _promoted_to_staging(ctx)
    code, screen = _converse(
        ["promote", "--env", "production", "--digest", digest, "--records-dir", str(tmp_path)],
        [("Type 'production' to approve", "production"), ("Approver name", "alice")],
    )
    assert code == 0, screen
    assert "Evidence:" in screen
    assert "staging: success" in screen
    record = ctx.ledger().history("production")[-1]
    assert record["approver"] == "alice"
    assert record["status"] == "success"


def test_declining_at_the_prompt_changes_nothing(ctx: usecases.Context, aws_state) -> None:
    digest = _promoted_to_staging(ctx)
    before = aws_state.snapshot()
    code, screen = _converse(
        ["promote", "--env", "production", "--digest", digest], [("Type 'production' to approve", "no")]
    )
    assert code == 3, screen
    assert "was not approved" in screen
    assert aws_state.snapshot() == before
