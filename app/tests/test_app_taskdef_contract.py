"""The contract with the task definition: what `templates/taskdef.json.j2` renders, the real app accepts.

For every environment in envpromote.toml, the rendered container environment starts the real app, which then
reports the promoted digest; and the app's drain period fits inside the container's stopTimeout.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from app_process import APP_SRC, AppProcess, free_port, http_get

ROOT = APP_SRC.parents[1]
sys.path.insert(0, str(ROOT))

from envpromote.config import load_config  # noqa: E402 - the repository root must be importable first
from envpromote.image import ImageRef  # noqa: E402
from envpromote.render import render_task_definition, template_values  # noqa: E402

DIGEST = "sha256:" + "5e" * 32
IMAGE = ImageRef("123456789012.dkr.ecr.us-east-1.amazonaws.com", "envpromote-app", DIGEST)
CONFIG = load_config(ROOT / "envpromote.toml")
APP_DEFAULT_GRACE_SECONDS = 20


def rendered_container(environment: str, source_commit: str) -> dict[str, Any]:
    env = CONFIG.env(environment)
    taskdef = render_task_definition(
        CONFIG.template, template_values(CONFIG, env, IMAGE, source_commit=source_commit)
    )
    containers: list[dict[str, Any]] = taskdef["containerDefinitions"]
    return containers[0]


@pytest.mark.slow
@pytest.mark.parametrize("environment", CONFIG.chain)
@pytest.mark.parametrize("source_commit", ["0123456789abcdef0123456789abcdef01234567", "unknown"])
def test_the_rendered_environment_starts_the_app_and_it_reports_the_digest(
    environment: str, source_commit: str
) -> None:
    container = rendered_container(environment, source_commit)
    variables = {item["name"]: item["value"] for item in container["environment"]}
    port = free_port()
    proc_env = {
        **{key: value for key, value in os.environ.items() if key.startswith("COVERAGE_")},
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(APP_SRC),
        **variables,
        "HOST": "127.0.0.1",  # the container listens on all interfaces; the test stays on loopback
        "PORT": str(port),
    }
    app = AppProcess(proc_env)
    try:
        status, _, body = _get_when_listening(port)
        assert status == 200
        payload = json.loads(body)
        assert payload["environment"] == environment
        assert payload["version"]["image_digest"] == DIGEST
        expected_commit = None if source_commit == "unknown" else source_commit
        assert payload["version"]["source_commit"] == expected_commit
    finally:
        code = app.stop(signal.SIGTERM)
    assert code == 0


@pytest.mark.parametrize("environment", CONFIG.chain)
def test_the_drain_period_fits_inside_the_stop_timeout(environment: str) -> None:
    container = rendered_container(environment, "unknown")
    variables = {item["name"]: item["value"] for item in container["environment"]}
    grace = int(variables.get("SHUTDOWN_GRACE_SECONDS", APP_DEFAULT_GRACE_SECONDS))
    assert grace < int(container.get("stopTimeout", 30)), (
        f"{environment}: the app drains for {grace}s but ECS kills it after {container.get('stopTimeout')}s"
    )


def _get_when_listening(port: int) -> tuple[int, dict[str, str], bytes]:
    # Bounded (about 15 s). Not waiting for the "ready" log line: production runs at LOG_LEVEL=warning.
    for _ in range(300):
        try:
            return http_get(port, "/", timeout=2.0)
        except OSError:
            time.sleep(0.05)
    pytest.fail("the app never answered on its port")


def test_path_constants_point_at_the_repository() -> None:
    assert (ROOT / "envpromote.toml").is_file()
    assert Path(CONFIG.template).name == "taskdef.json.j2"
