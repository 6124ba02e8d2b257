"""Module-level ASGI app for other servers (``granian --interface asgi envpromote_app.asgi:app``).

The production entry point is ``python -m envpromote_app``; this exists so bench/app can run the same
application under each candidate server.
"""

from __future__ import annotations

import os

from envpromote_app.app import App
from envpromote_app.config import load_settings
from envpromote_app.logs import configure_logging

settings = load_settings(os.environ)
configure_logging(settings.log_level, {"service": settings.service_name, "environment": settings.environment})
app = App(settings)
