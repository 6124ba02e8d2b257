"""The real server process on 127.0.0.1: endpoints, bad configuration, graceful shutdown on signals."""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from app_process import AppProcess, app_env, http_get

pytestmark = pytest.mark.slow


def test_both_endpoints_answer_and_each_request_is_logged(start_app: Any) -> None:
    app: AppProcess = start_app()
    status, headers, body = http_get(app.port, "/")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body.decode() == (
        '{"environment":"staging","service":"envpromote-app","version":'
        f'{{"image_digest":"sha256:{"ab" * 32}",'
        '"source_commit":"0123456789abcdef0123456789abcdef01234567"}}'
    )
    assert http_get(app.port, "/health")[:1] == (200,)
    assert app.stop() == 0
    access = [record for record in app.drain_logs() if record["logger"] == "envpromote_app.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access[-2:]] == [
        ("GET", "/", 200),
        ("GET", "/health", 200),
    ]
    assert all(isinstance(r["duration_ms"], float) for r in access)
    assert {r["environment"] for r in access} == {"staging"}


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "eighty"), ("SHUTDOWN_GRACE_SECONDS", "45"), ("APP_IMAGE_DIGEST", "latest")],
)
def test_bad_configuration_stops_start_up_with_one_line_and_exit_2(name: str, value: str) -> None:
    env = app_env(**{name: value})
    result = subprocess.run(
        [sys.executable, "-m", "envpromote_app"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"envpromote-app: error: {name}=")
    assert "Fix:" in lines[0]


def _connection_refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) in (errno.ECONNREFUSED, errno.ECONNRESET)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_in_flight_request_completes_after_signal_while_new_connections_are_refused(
    start_app: Any, sig: signal.Signals
) -> None:
    app: AppProcess = start_app(APP_ENABLE_TEST_ENDPOINTS="1", SHUTDOWN_GRACE_SECONDS="20")
    result: dict[str, Any] = {}

    def slow_request() -> None:
        result["response"] = http_get(app.port, "/_test/slow?seconds=2", timeout=30)

    client = threading.Thread(target=slow_request)
    client.start()
    app.wait_for_log("slow test request started")
    app.process.send_signal(sig)

    refused_while_in_flight = False
    for _ in range(100):  # bounded: about 5 s at most
        if _connection_refused(app.port):
            refused_while_in_flight = client.is_alive()
            break
        time.sleep(0.05)
    client.join(timeout=30)

    assert refused_while_in_flight, (
        "new connections were still accepted, or the slow request had already ended"
    )
    status, _, body = result["response"]
    assert status == 200
    assert body == b'{"shutting_down":true,"slept_seconds":2.0}'
    assert app.process.wait(timeout=30) == 0
    messages = [record["message"] for record in app.drain_logs()]
    assert "stopped" in messages


def test_requests_still_running_when_the_grace_period_ends_are_cut_and_the_process_exits(
    start_app: Any,
) -> None:
    app: AppProcess = start_app(APP_ENABLE_TEST_ENDPOINTS="1", SHUTDOWN_GRACE_SECONDS="1")
    outcome: dict[str, Any] = {}

    def too_slow_request() -> None:
        try:
            outcome["response"] = http_get(app.port, "/_test/slow?seconds=30", timeout=60)
        except OSError as error:  # the server closed the connection without answering
            outcome["error"] = error

    client = threading.Thread(target=too_slow_request)
    client.start()
    app.wait_for_log("slow test request started")
    assert app.stop(signal.SIGTERM, timeout=25) == 0  # well before the 30 s request could have finished
    client.join(timeout=30)
    assert "error" in outcome or outcome["response"][0] >= 500
    assert any("timeout graceful shutdown exceeded" in r["message"] for r in app.drain_logs())
