"""Fixtures for engine tests: the loaded config, a fast-polling use-case context, AWS state snapshots.

Helpers (YES, deploy, push_test_image, record_clean_build, AwsState) are in tests/support/engine.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.engine import AwsState

from envpromote import release as usecases
from envpromote.config import Config, load_config
from envpromote.rollout import PollPolicy
from envpromote.sandbox.testing import Sandbox


@pytest.fixture
def config(sandbox: Any) -> Config:
    return load_config(sandbox.config_path)


@pytest.fixture
def make_context(config: Config, tmp_path: Path) -> Callable[..., usecases.Context]:
    def make(**kwargs: Any) -> usecases.Context:
        return usecases.Context(
            config=kwargs.pop("config", config),
            identity=usecases.Identity(actor="tester", commit="0" * 40),
            out=lambda _line: None,
            poll_policy=kwargs.pop("poll_policy", PollPolicy(interval=0.5, first_poll_min=0.2)),
            records_dir=tmp_path / "records",
            **kwargs,
        )

    return make


@pytest.fixture
def ctx(make_context: Callable[..., usecases.Context]) -> usecases.Context:
    return make_context()


@pytest.fixture
def aws_state(config: Config, sandbox: Sandbox) -> AwsState:
    """Snapshots of AWS state taken once no simulated rollout is moving (see AwsState)."""
    return AwsState(config, sandbox)
