"""Review: the verify command's timeout ends the command's children too, and output that is not UTF-8 is read."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path

from envpromote.verify.checks import VerifyContext, command_check

CONTEXT = VerifyContext(env="dev", digest="sha256:" + "a" * 64)


def _exits(pid: int) -> bool:
    """Whether `pid` (not our child: killed with its group, not waited for) ends; liveness bound 30 s."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], 30)  # readable once the process has ended
    finally:
        os.close(fd)
    return bool(readable)


def test_a_timed_out_command_leaves_no_child_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    command = (
        sys.executable,
        "-c",
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(120)",
    )
    result = command_check(command, 4.0, CONTEXT, None)
    assert result["result"] == "fail"
    assert result["detail"] == "did not finish within 4s"
    assert _exits(int(pid_file.read_text()))


def test_output_that_is_not_utf8_is_evidence_not_a_traceback() -> None:
    command = (
        sys.executable,
        "-c",
        "import sys; sys.stdout.buffer.write(bytes([99, 97, 102, 233, 10])); sys.exit(3)",
    )
    assert command_check(command, 30.0, CONTEXT, None)["detail"] == "exit 3: caf\ufffd"


def test_the_command_is_told_the_environment() -> None:
    command = (sys.executable, "-c", "import os; print(os.environ['ENVPROMOTE_ENV'])")
    assert command_check(command, 30.0, CONTEXT, None) == {
        "check": f"pause: command {' '.join(command)}",
        "result": "pass",
        "detail": "exit 0: dev",
    }
