"""The lock and signals: whatever interrupts a release, its record is written and the lock released."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_support import REPO_ROOT, push_test_image, record_clean_build
from release_support import cli_environment

from envpromote import release
from envpromote.errors import EnvironmentLocked


def test_expired_lease_is_taken_over(ctx: release.Context) -> None:
    clock = [1000.0]
    lock = ctx.lock()
    lock.clock = lambda: clock[0]
    crashed = lock.acquire("staging", "crashed-runner", lease_seconds=60)
    clock[0] += 30
    with pytest.raises(EnvironmentLocked, match="crashed-runner"):
        lock.acquire("staging", "next")
    clock[0] += 31
    taken = lock.acquire("staging", "next")
    assert taken.holder == "next"
    assert not lock.release(crashed), "the crashed holder no longer owns the lock"
    assert lock.release(taken)


def _wait_for(condition: object, limit_s: float, what: str) -> None:
    """Wait on observable state (not on time): poll `condition` until it holds or the limit passes."""
    deadline = time.monotonic() + limit_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_second_signal_while_recording_still_records_and_unlocks(
    ctx: release.Context, sandbox, tmp_path: Path
) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "invoke",
            "deploy",
            "--env",
            "dev",
            "--digest",
            digest,
            "--records-dir",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        env=cli_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "watching deployment" not in proc.stderr.readline():
        pass
    sandbox.set_faults(latency_s={"s3": 1.5})  # the ledger write now takes seconds
    proc.send_signal(signal.SIGINT)
    # The draft is kept locally first, inside the deferred-signal block, then sent (slowly) to the ledger:
    # once it is on disk the second signal lands while the record is being written.
    pending = tmp_path / "pending"
    _wait_for(lambda: pending.is_dir() and any(pending.glob("*.json")), 60, "the kept draft")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=90)
    sandbox.clear_faults()
    assert proc.returncode == 130
    assert ctx.ledger().history("dev")[-1]["status"] == "aborted"
    assert ctx.lock().holder("dev") is None
    assert not any(pending.glob("*.json")), "the record reached the ledger"
