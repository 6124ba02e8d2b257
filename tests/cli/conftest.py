"""Fixtures for the CLI tests: a use-case context on the session's sandbox (for setting state up quickly)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envpromote import release
from envpromote.config import load_config
from envpromote.rollout import PollPolicy


@pytest.fixture
def ctx(sandbox: Any, tmp_path: Path) -> release.Context:
    return release.Context(
        config=load_config(sandbox.config_path),
        identity=release.Identity(actor="tester", commit="0" * 40),
        out=lambda _line: None,
        poll_policy=PollPolicy(interval=0.5, first_poll_min=0.2),
        records_dir=tmp_path / "records",
    )
