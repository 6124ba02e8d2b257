"""The app in granian's embedded (single-process) server, for bench/app only: PORT/HOST from the environment.

granian logs "Embedded server is experimental!" for this mode, which is why the app does not ship on it.
"""

from __future__ import annotations

import asyncio
import os
import signal

import uvloop
from envpromote_app.asgi import app
from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server


async def main() -> None:
    server = Server(
        app,
        address=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ["PORT"]),
        interface=Interfaces.ASGI,
        websockets=False,
        http=HTTPModes.http1,
        log_enabled=False,
        backlog=1024,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()


if __name__ == "__main__":
    uvloop.run(main())
