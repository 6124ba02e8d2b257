"""Helpers for tests that run the real server process: free ports, GET over 127.0.0.1, log reading."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

APP_SRC = Path(__file__).resolve().parents[1] / "src"
START_TIMEOUT_SECONDS = 15.0  # generous: CI machines are slow, and this bounds a loop, it asserts no speed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One GET over a fresh connection to 127.0.0.1; returns status, headers, body (also for 4xx/5xx)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - fixed http URL
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class AppProcess:
    """A running ``python -m envpromote_app``; stdout lines are collected by a reader thread."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = int(env["PORT"])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "envpromote_app"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_log(self, message: str, timeout: float = START_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Return the first JSON log record whose message is ``message``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            record: dict[str, Any] = json.loads(line)
            if record["message"] == message:
                return record
        stderr = self.process.stderr.read() if self.process.poll() is not None and self.process.stderr else ""
        pytest.fail(f"no log line {message!r} within {timeout}s; stdout={self.seen!r} stderr={stderr!r}")

    def wait_healthy(self) -> None:
        self.wait_for_log("ready")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if http_get(self.port, "/health", timeout=1.0)[0] == 200:
                    return
            time.sleep(0.05)
        pytest.fail("the server never answered 200 on /health")

    def drain_logs(self) -> list[dict[str, Any]]:
        """Every JSON record written so far (waits for the process to exit if it is stopping)."""
        while True:
            try:
                self.seen.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                break
        return [json.loads(line) for line in self.seen]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the server did not exit within {timeout}s of signal {sig}")


def app_env(**overrides: str) -> dict[str, str]:
    """A clean environment for the app: only what a task definition would pass, plus PYTHONPATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        # COVERAGE_*: lets coverage's subprocess measurement follow the server process when enabled.
        if key in ("PATH", "SYSTEMROOT", "LANG", "LC_ALL", "VIRTUAL_ENV") or key.startswith("COVERAGE_")
    }
    env.update(
        PYTHONPATH=str(APP_SRC),
        PYTHONUNBUFFERED="1",
        HOST="127.0.0.1",
        PORT=str(free_port()),
        APP_NAME="envpromote-app",
        APP_ENVIRONMENT="staging",
        APP_IMAGE_DIGEST="sha256:" + "ab" * 32,
        APP_SOURCE_COMMIT="0123456789abcdef0123456789abcdef01234567",
        LOG_LEVEL="INFO",
        SHUTDOWN_GRACE_SECONDS="10",
    )
    env.update(overrides)
    return env
