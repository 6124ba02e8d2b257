"""The advisory-service check that decides whether `nox -s audit` can run (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools import advisory

ROOT = Path(__file__).parents[2]

CANARY_ADVISORY = {"id": "PYSEC-2018-28", "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"]}
RESPONSES: dict[str, tuple[int, bytes]] = {
    "/truthful": (200, json.dumps({"info": {}, "vulnerabilities": [CANARY_ADVISORY]}).encode()),
    # What a mirror without advisory data answers: this would make pip-audit pass falsely.
    "/empty": (200, json.dumps({"info": {}, "vulnerabilities": []}).encode()),
    "/no-field": (200, json.dumps({"info": {}}).encode()),
    "/html": (200, b"<html>proxy login</html>"),
    "/missing": (404, b"not found"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = RESPONSES.get(self.path, (500, b""))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_truthful_service_is_reachable(base_url: str) -> None:
    reachable, reason = advisory.advisory_service_reachable(f"{base_url}/truthful")
    assert reachable
    assert "CVE-2018-18074" in reason


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/empty", "did not report the known advisory"),
        ("/no-field", "without a vulnerabilities list"),
        ("/html", "did not answer with JSON"),
        ("/missing", "HTTP 404"),
    ],
)
def test_untrustworthy_answers_count_as_unreachable(base_url: str, path: str, reason: str) -> None:
    reachable, why = advisory.advisory_service_reachable(f"{base_url}{path}")
    assert not reachable
    assert reason in why


def test_refused_connection_is_unreachable(closed_port: int) -> None:
    reachable, why = advisory.advisory_service_reachable(f"http://127.0.0.1:{closed_port}/x", timeout_s=2)
    assert not reachable
    assert "unreachable" in why


@pytest.mark.parametrize(("path", "code"), [("/truthful", 0), ("/empty", 1)])
def test_module_cli_exit_code(base_url: str, path: str, code: int) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tools.advisory", "--url", f"{base_url}{path}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == code
    assert completed.stdout.startswith("advisory service ")
