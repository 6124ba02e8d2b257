"""``python -m envpromote_app``: validate the environment, log as JSON, serve, exit 0 after a clean drain."""

from __future__ import annotations

import os
import sys

from envpromote_app.config import ConfigError, load_settings

EXIT_BAD_CONFIG = 2


def main() -> int:
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        print(f"envpromote-app: error: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG

    # Imported after validation so a bad environment fails fast, before the server stack loads.
    from envpromote_app.logs import configure_logging
    from envpromote_app.server import serve

    configure_logging(
        settings.log_level, {"service": settings.service_name, "environment": settings.environment}
    )
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
