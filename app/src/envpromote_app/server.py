"""Run the app under uvicorn (httptools + uvloop, one process) with ECS-friendly graceful shutdown.

Why uvicorn: measured against granian, hypercorn and Express 5 in bench/app/README.md.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

import uvicorn

from envpromote_app.app import App, Lifecycle
from envpromote_app.config import Settings

# Longer than an ALB's default 60 s idle timeout, so the load balancer, not the app, closes idle
# connections; the other way round the ALB can reuse a connection the app just closed and answer 502.
KEEP_ALIVE_SECONDS = 65
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulServer(uvicorn.Server):
    """uvicorn.Server that flips /health to 503 on the first signal and exits 0 after draining."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._lifecycle.begin_shutdown()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version re-raises the signal after a clean drain, so the process would die of
        # SIGTERM (exit 143). A drained, orderly stop is a success: restore the handlers and return.
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def build_server(settings: Settings, lifecycle: Lifecycle | None = None) -> GracefulServer:
    """The configured server: listener, protocol, keep-alive, and the grace period for in-flight requests."""
    lifecycle = lifecycle or Lifecycle()
    config = uvicorn.Config(
        App(settings, lifecycle),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,  # the app writes its own JSON access line, with latency
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    return GracefulServer(config, lifecycle)


def serve(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT, then stop accepting, finish in-flight requests and return."""
    build_server(settings).run()
