"""The ASGI application: two JSON endpoints, an access log line per request, a shutdown-aware health check.

Framework-free on purpose: two fixed routes do not need routing or validation layers, and every extra
layer costs start-up time, memory and per-request latency (see bench/app/README.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from envpromote_app.config import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

access_log = logging.getLogger("envpromote_app.access")
app_log = logging.getLogger("envpromote_app")

MAX_TEST_SLEEP_SECONDS = 60.0


class Lifecycle:
    """Process-wide lifecycle flag: set when the server begins shutting down, read by /health."""

    def __init__(self) -> None:
        self.shutting_down = False

    def begin_shutdown(self) -> None:
        self.shutting_down = True


def _json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def index_payload(settings: Settings) -> dict[str, Any]:
    """The body of ``GET /``: the version is the image digest and commit, never the environment name."""
    return {
        "service": settings.service_name,
        "environment": settings.environment,
        "version": {"image_digest": settings.image_digest, "source_commit": settings.source_commit},
    }


class App:
    """ASGI callable. Responses that never change are encoded once, at construction."""

    def __init__(self, settings: Settings, lifecycle: Lifecycle | None = None) -> None:
        self.settings = settings
        self.lifecycle = lifecycle or Lifecycle()
        self._index = _json_body(index_payload(settings))
        self._healthy = _json_body({"status": "ok"})
        self._draining = _json_body({"status": "shutting_down"})
        self._not_found = _json_body({"error": "not found"})
        self._not_allowed = _json_body({"error": "method not allowed"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            try:
                message = await receive()
            except asyncio.CancelledError:
                # A forced stop (a second SIGINT, e.g. Ctrl+C reaching both `invoke dev` and the app)
                # cancels this task instead of sending lifespan.shutdown; there is nothing left to drain.
                app_log.warning("stopped without draining (forced)")
                return
            if message["type"] == "lifespan.startup":
                app_log.info(
                    "ready",
                    extra={
                        "image_digest": self.settings.image_digest,
                        "source_commit": self.settings.source_commit,
                        "port": self.settings.port,
                    },
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                app_log.info("stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD"):
            status, body = 405, self._not_allowed
        elif path == "/":
            status, body = 200, self._index
        elif path == "/health":
            status, body = (503, self._draining) if self.lifecycle.shutting_down else (200, self._healthy)
        elif path == "/_test/slow" and self.settings.enable_test_endpoints:
            status, body = await self._slow(scope)
        else:
            status, body = 404, self._not_found
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
        ]
        if status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        client = scope.get("client")
        access_log.info(
            "%s %s %d",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "client": client[0] if client else None,
            },
        )

    async def _slow(self, scope: Scope) -> tuple[int, bytes]:
        """Test-only (APP_ENABLE_TEST_ENDPOINTS=1): an in-flight request that outlives a SIGTERM.

        It reports whether shutdown began while it slept, so tests see the lifecycle flag flip in a real
        server process.
        """
        query = parse_qs(scope.get("query_string", b"").decode())
        try:
            seconds = float(query.get("seconds", ["1"])[0])
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= MAX_TEST_SLEEP_SECONDS:
            return 400, _json_body({"error": f"seconds must be between 0 and {MAX_TEST_SLEEP_SECONDS:g}"})
        app_log.info("slow test request started", extra={"seconds": seconds})
        await asyncio.sleep(seconds)
        return 200, _json_body({"slept_seconds": seconds, "shutting_down": self.lifecycle.shutting_down})
