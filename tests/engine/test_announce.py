"""After a release: the step summary shows the digest's path through the chain, and the environment's
notification targets receive the outcome — a real webhook receiver on 127.0.0.1 and the sandbox's SNS."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from support.configs import config_variant
from support.engine import push_test_image, record_clean_build

from envpromote import release
from envpromote.config import load_config


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.bodies
    finally:
        server.shutdown()
        server.server_close()


def test_a_deploy_announces_its_outcome_and_draws_its_path(
    make_context: Callable[..., release.Context],
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, bodies = webhook
    monkeypatch.setenv("ENVPROMOTE_TEST_WEBHOOK", url)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    def notify_dev(data: dict[str, Any]) -> None:
        data["environments"]["dev"]["notify"] = ["slack:env:ENVPROMOTE_TEST_WEBHOOK"]

    ctx = make_context(config=load_config(config_variant(tmp_path, notify_dev)))
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    result = release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)

    assert result.record is not None
    assert result.record["status"] == "success"
    assert [n["ok"] for n in result.notifications] == [True]
    assert len(bodies) == 1
    message = json.dumps(bodies[0])
    assert "blocks" in bodies[0], "Slack Block Kit"
    assert digest.removeprefix("sha256:")[:12] in message
    assert "succeeded" in message

    text = summary.read_text()
    assert "```mermaid" in text, "the promotion graph stands above the record table"
    assert text.index("```mermaid") < text.index("| digest |")
    assert "dev" in text.split("```mermaid", 1)[1].split("```", 1)[0]


def test_a_failing_notification_changes_nothing(
    make_context: Callable[..., release.Context], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVPROMOTE_TEST_WEBHOOK", "http://127.0.0.1:9/nothing-listens-here")

    def notify_dev(data: dict[str, Any]) -> None:
        data["environments"]["dev"]["notify"] = ["slack:env:ENVPROMOTE_TEST_WEBHOOK"]

    ctx = make_context(config=load_config(config_variant(tmp_path, notify_dev)))
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    result = release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=60)

    assert result.record is not None
    assert result.record["status"] == "success"
    assert [n["ok"] for n in result.notifications] == [False]
    assert ctx.ledger().last_success("dev")["digest"] == digest  # the record is in the ledger all the same
