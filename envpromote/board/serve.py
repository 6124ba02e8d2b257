"""Serve a generated board on 127.0.0.1 (never on other interfaces) for `invoke board --serve`."""

from __future__ import annotations

import functools
import http.server
import os
from pathlib import Path

LOOPBACK = "127.0.0.1"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def make_server(directory: str | os.PathLike[str], port: int = 0) -> http.server.ThreadingHTTPServer:
    """A threading HTTP server for `directory` on 127.0.0.1:`port` (0 = a free port); call serve_forever()."""
    handler = functools.partial(_QuietHandler, directory=str(Path(directory).resolve()))
    return http.server.ThreadingHTTPServer((LOOPBACK, port), handler)
