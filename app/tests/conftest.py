"""Fixtures for the app's tests: the app's import path and a factory for real server processes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

APP_SRC = Path(__file__).resolve().parents[1] / "src"
if str(APP_SRC) not in sys.path:
    sys.path.insert(0, str(APP_SRC))

from app_process import AppProcess, app_env  # noqa: E402 - needs the path set above


@pytest.fixture
def start_app() -> Iterator[Any]:
    """Factory: start the real server with env overrides and wait until /health answers 200."""
    started: list[AppProcess] = []

    def _start(**overrides: str) -> AppProcess:
        proc = AppProcess(app_env(**overrides))
        started.append(proc)
        proc.wait_healthy()
        return proc

    yield _start
    for proc in started:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait()
