"""Real signals to a real process at exact steps of taking and holding the lock: nothing is left behind.

The child stops at a named step (a hook in the lock) and waits for a line on stdin; the test sends the signal,
then lets it go on, so the signal is pending exactly at that step - no sleeps, no timing windows. "During the
put" is made exact by the sandbox's latency fault: the signal is sent once the server has received the put
and is still holding its answer."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lock_support import LEASE_S, FakeClock, item

from envpromote.sandbox.testing import Sandbox

CHILD = Path(__file__).with_name("lock_child.py")


def spawn(mode: str, stop: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode, stop],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    for got in proc.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"the child ended before {line!r}: {proc.communicate(timeout=30)}")


def go_on(proc: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = proc.communicate("go\n", timeout=60)
    return out, err


EXPECTED_RC = {
    # held(): SIGTERM becomes KeyboardInterrupt, the child exits 130 after the lock is released or undone.
    ("held", signal.SIGTERM): 130,
    ("held", signal.SIGINT): 130,
    # acquire() alone: SIGTERM keeps its default action and kills the process - after the undo.
    ("acquire", signal.SIGTERM): -signal.SIGTERM,
    ("acquire", signal.SIGINT): 130,
}


@pytest.mark.parametrize("mode", ["held", "acquire"])
@pytest.mark.parametrize("step", ["before_put", "after_put"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_lock_is_being_taken_leaves_nothing(
    sandbox: Sandbox, dynamodb: Any, settings: Any, mode: str, step: str, sig: signal.Signals
) -> None:
    proc = spawn(mode, step)
    wait_for(proc, f"at {step}")
    proc.send_signal(sig)
    out, err = go_on(proc)
    assert proc.returncode == EXPECTED_RC[(mode, sig)], err
    assert "holding" not in out, "the interrupted acquire never handed out a lease"
    assert item(dynamodb, settings) is None, "an interrupted acquire leaves no lock behind"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_lock_is_held_releases_it(
    sandbox: Sandbox, dynamodb: Any, settings: Any, sig: signal.Signals
) -> None:
    proc = spawn("held", "holding")
    wait_for(proc, "holding")
    assert item(dynamodb, settings) is not None
    proc.send_signal(sig)
    out, err = go_on(proc)
    assert proc.returncode == 130, err
    assert "interrupted" in out
    assert item(dynamodb, settings) is None


def test_sigterm_while_the_conditional_put_is_on_the_wire(
    sandbox: Sandbox, dynamodb: Any, settings: Any
) -> None:
    sandbox.requests(clear=True)
    sandbox.set_faults(latency_s={"dynamodb": 3})
    proc = spawn("acquire", "none")
    deadline = time.monotonic() + 60
    while not sandbox.requests()["by_operation"].get("dynamodb:PutItem"):
        assert time.monotonic() < deadline, "the child never sent its put"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # the server holds the put's answer (and the write) for 3 s more
    sandbox.clear_faults()
    _out, err = go_on(proc)
    assert proc.returncode == -signal.SIGTERM, err
    assert item(dynamodb, settings) is None, "the put landed, and was undone before the signal took effect"
    calls = sandbox.requests()["by_operation"]
    assert calls.get("dynamodb:DeleteItem") == 1, calls


def test_sigkill_strands_the_lock_for_at_most_one_lease(
    sandbox: Sandbox, dynamodb: Any, settings: Any, make_lock: Any
) -> None:
    proc = spawn("held", "holding")
    wait_for(proc, "holding")
    killed = item(dynamodb, settings)
    assert killed is not None
    proc.kill()
    proc.communicate(timeout=30)
    clock = FakeClock()
    lease = make_lock(clock).acquire("dev", "next")
    assert lease.took_over is not None
    assert lease.took_over.record_version_number == killed["record_version_number"]["S"]
    assert int(killed["lease_duration_ms"]["N"]) == LEASE_S * 1000
    assert LEASE_S <= clock.slept < LEASE_S + 6, "taken over one lease after the last heartbeat, not later"
