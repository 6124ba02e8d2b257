"""`invoke dev`: option checks, the environment it gives the app, and a real auto-reload on a file change."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_process import APP_SRC, free_port, http_get

ROOT = APP_SRC.parents[1]
sys.path.insert(0, str(ROOT))

from envpromote.errors import BadInput  # noqa: E402 - the repository root must be importable first
from tools.tasks.app import dev_environment  # noqa: E402


def test_dev_environment_listens_on_loopback_with_a_short_drain() -> None:
    env = dev_environment(9123, "local", {"PATH": "/bin", "PYTHONPATH": "/extra"})
    assert env["HOST"] == "127.0.0.1"
    assert env["PORT"] == "9123"
    assert env["APP_ENVIRONMENT"] == "local"
    assert int(env["SHUTDOWN_GRACE_SECONDS"]) < 30
    assert env["PYTHONPATH"].split(os.pathsep) == [str(APP_SRC), "/extra"]
    assert env["PATH"] == "/bin"


@pytest.mark.parametrize(
    ("port", "environment", "option"),
    [(0, "local", "--port"), (65536, "local", "--port"), (8080, "has space", "--environment")],
)
def test_dev_refuses_bad_options(port: int, environment: str, option: str) -> None:
    with pytest.raises(BadInput) as caught:
        dev_environment(port, environment, {})
    line = caught.value.one_line()
    assert line.startswith(option)
    assert "Fix:" in line


def test_invoke_dev_with_a_bad_port_exits_2_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "dev", "--port", "70000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "envpromote: error: --port 70000 is not a TCP port. Fix: Pass --port between 1 and 65535 (default 8080)."
    ]


def _server_pids(text: str) -> list[str]:
    return re.findall(r"Started server process \[(\d+)\]", text)


@pytest.mark.slow
def test_invoke_dev_serves_and_restarts_the_app_when_a_source_file_changes(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "dev.log"
    with log_path.open("w") as log:
        dev = subprocess.Popen(
            [sys.executable, "-m", "invoke", "dev", "--port", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a signal for this test's `invoke dev`, not for pytest
        )
    try:
        first = _wait_for_pids(log_path, 1)
        assert len(first) == 1, f"the app did not start; log:\n{log_path.read_text()}"
        assert _wait_for_health(port) == 200
        source = APP_SRC / "envpromote_app" / "__init__.py"
        second = first
        for attempt in range(5):  # bounded; repeats only if the watcher was not yet watching
            stat = source.stat()
            os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a save without an edit
            second = _wait_for_pids(log_path, 2, attempts=50 if attempt < 4 else 300)
            if len(second) >= 2:
                break
        assert len(second) >= 2, f"no restart after a file change; log:\n{log_path.read_text()}"
        assert second[0] == first[0]
        assert second[1] != first[0]  # a new server process
        assert _wait_for_health(port) == 200
    finally:
        os.killpg(dev.pid, signal.SIGINT)
        code = dev.wait(timeout=30)
    assert code == 0


def _wait_for_pids(log_path: Path, count: int, attempts: int = 300) -> list[str]:
    """Server PIDs started so far, once there are ``count`` (or whatever there are after ``attempts``)."""
    pids = _server_pids(log_path.read_text())
    for _ in range(attempts):  # bounded: attempts x 0.1 s
        if len(pids) >= count:
            break
        time.sleep(0.1)
        pids = _server_pids(log_path.read_text())
    return pids


def _wait_for_health(port: int) -> int:
    for _ in range(100):  # bounded: about 10 s
        try:
            return http_get(port, "/health", timeout=1.0)[0]
        except OSError:
            time.sleep(0.1)
    pytest.fail("the restarted app never answered /health")
