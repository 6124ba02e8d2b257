"""The ASGI application in-process: routes, headers, the shutdown-aware health check, access logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from envpromote_app.app import App, Lifecycle, index_payload
from envpromote_app.config import Settings
from envpromote_app.logs import JsonFormatter

DIGEST = "sha256:" + "12" * 32
COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
SETTINGS = Settings(environment="production", image_digest=DIGEST, source_commit=COMMIT)


def client_for(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_index_reports_service_environment_and_version_by_digest() -> None:
    async with client_for(App(SETTINGS)) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "service": "envpromote-app",
        "environment": "production",
        "version": {"image_digest": DIGEST, "source_commit": COMMIT},
    }


def test_version_is_never_the_environment_name() -> None:
    payload = index_payload(Settings(environment="staging"))
    assert payload["version"] == {"image_digest": None, "source_commit": None}
    assert "staging" not in json.dumps(payload["version"])


@pytest.mark.anyio
async def test_health_turns_503_once_shutdown_begins() -> None:
    lifecycle = Lifecycle()
    async with client_for(App(SETTINGS, lifecycle)) as client:
        before = await client.get("/health")
        lifecycle.begin_shutdown()
        after = await client.get("/health")
    assert (before.status_code, before.json()) == (200, {"status": "ok"})
    assert (after.status_code, after.json()) == (503, {"status": "shutting_down"})


@pytest.mark.anyio
async def test_unknown_paths_and_methods_get_json_errors() -> None:
    async with client_for(App(SETTINGS)) as client:
        missing = await client.get("/nope")
        posted = await client.post("/", content=b"{}")
    assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET, HEAD"


@pytest.mark.anyio
async def test_head_has_headers_but_no_body() -> None:
    async with client_for(App(SETTINGS)) as client:
        response = await client.head("/health")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(b'{"status":"ok"}')


@pytest.mark.anyio
async def test_test_endpoint_is_off_unless_enabled() -> None:
    async with client_for(App(SETTINGS)) as client:
        disabled = await client.get("/_test/slow?seconds=0")
    async with client_for(App(Settings(enable_test_endpoints=True))) as client:
        enabled = await client.get("/_test/slow?seconds=0")
        refused = await client.get("/_test/slow?seconds=600")
    assert disabled.status_code == 404
    assert enabled.json() == {"slept_seconds": 0.0, "shutting_down": False}
    assert refused.status_code == 400


@pytest.mark.anyio
async def test_one_access_record_per_request_with_latency(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="envpromote_app.access")
    async with client_for(App(SETTINGS)) as client:
        await client.get("/health")
        await client.get("/missing")
    records = [record for record in caplog.records if record.name == "envpromote_app.access"]
    assert [(r.__dict__["path"], r.__dict__["status"]) for r in records] == [
        ("/health", 200),
        ("/missing", 404),
    ]
    assert all(r.__dict__["duration_ms"] >= 0 for r in records)


def test_json_formatter_writes_one_parseable_line_with_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "envpromote_app.access", "levelname": "INFO", "msg": "GET %s", "args": ("/",), "status": 200}
    )
    line = JsonFormatter({"service": "web"}).format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "GET /"
    assert parsed["status"] == 200
    assert parsed["service"] == "web"
    assert parsed["time"].endswith("Z")
