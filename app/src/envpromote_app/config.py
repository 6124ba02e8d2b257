"""Settings from environment variables, validated once at start-up.

The task-definition template passes exactly these names; ``load_settings`` reports every bad value at once
so a broken deployment shows all of its problems in one log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

ECS_DEFAULT_STOP_TIMEOUT_SECONDS = 30
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
UNKNOWN_COMMIT = "unknown"

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
_COMMIT_RE = re.compile(r"[0-9a-f]{7,40}")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class ConfigError(Exception):
    """One or more environment variables are invalid; ``problems`` holds one ``problem. Fix: ...`` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Settings:
    port: int = 8080
    host: str = "0.0.0.0"  # noqa: S104 - in a container the service must listen on the task's interface
    service_name: str = "envpromote-app"
    environment: str = "local"
    image_digest: str | None = None
    source_commit: str | None = None
    log_level: str = "INFO"
    shutdown_grace_seconds: int = 20
    enable_test_endpoints: bool = False


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build Settings from ``env`` (normally ``os.environ``); raise ConfigError listing every bad value."""
    problems: list[str] = []
    defaults = Settings()

    port = defaults.port
    raw_port = env.get("PORT")
    if raw_port is not None:
        if raw_port.strip().isdigit() and 1 <= int(raw_port) <= 65535:
            port = int(raw_port)
        else:
            problems.append(f"PORT={raw_port!r} is not a TCP port. Fix: set PORT to 1-65535 (default 8080)")

    host = env.get("HOST", defaults.host).strip()
    if not host:
        problems.append("HOST is empty. Fix: unset it (listens on 0.0.0.0) or set an interface address")

    service_name = env.get("APP_NAME", defaults.service_name)
    if not _NAME_RE.fullmatch(service_name):
        problems.append(
            f"APP_NAME={service_name!r} is not a valid name. "
            "Fix: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )

    environment = env.get("APP_ENVIRONMENT", defaults.environment)
    if not _NAME_RE.fullmatch(environment):
        problems.append(
            f"APP_ENVIRONMENT={environment!r} is not a valid environment name. "
            "Fix: use the environment's name from envpromote.toml, e.g. dev, staging or production"
        )

    image_digest = env.get("APP_IMAGE_DIGEST") or None
    if image_digest is not None and not _DIGEST_RE.fullmatch(image_digest):
        problems.append(
            f"APP_IMAGE_DIGEST={image_digest!r} is not an image digest. "
            "Fix: pass 'sha256:' followed by 64 lowercase hex digits (never a tag or environment name)"
        )

    source_commit = env.get("APP_SOURCE_COMMIT") or None
    if source_commit == UNKNOWN_COMMIT:  # what the renderer passes when the build did not record a commit
        source_commit = None
    if source_commit is not None and not _COMMIT_RE.fullmatch(source_commit):
        problems.append(
            f"APP_SOURCE_COMMIT={source_commit!r} is not a git commit. "
            "Fix: pass the 7-40 lowercase hex digit commit SHA the image was built from"
        )

    log_level = env.get("LOG_LEVEL", defaults.log_level).strip().upper()
    if log_level not in LOG_LEVELS:
        problems.append(
            f"LOG_LEVEL={env.get('LOG_LEVEL')!r} is unknown. Fix: use one of {', '.join(LOG_LEVELS)}"
        )

    grace = defaults.shutdown_grace_seconds
    raw_grace = env.get("SHUTDOWN_GRACE_SECONDS")
    if raw_grace is not None:
        grace = int(raw_grace) if raw_grace.strip().isdigit() else 0
        if not 0 < grace < ECS_DEFAULT_STOP_TIMEOUT_SECONDS:
            problems.append(
                f"SHUTDOWN_GRACE_SECONDS={raw_grace!r} is not a whole number of seconds from 1 to "
                f"{ECS_DEFAULT_STOP_TIMEOUT_SECONDS - 1}. Fix: keep it below ECS's default stopTimeout "
                f"({ECS_DEFAULT_STOP_TIMEOUT_SECONDS} s) so a drained task exits before SIGKILL, e.g. 20"
            )

    raw_test = env.get("APP_ENABLE_TEST_ENDPOINTS", "").strip().lower()
    if raw_test not in _TRUE + _FALSE:
        problems.append(
            f"APP_ENABLE_TEST_ENDPOINTS={raw_test!r} is not a boolean. "
            "Fix: use 1 or 0 (default 0; never 1 in AWS)"
        )

    if problems:
        raise ConfigError(problems)
    return Settings(
        port=port,
        host=host,
        service_name=service_name,
        environment=environment,
        image_digest=image_digest,
        source_commit=source_commit,
        log_level=log_level,
        shutdown_grace_seconds=grace,
        enable_test_endpoints=raw_test in _TRUE,
    )
