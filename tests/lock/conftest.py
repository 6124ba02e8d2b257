"""Fixtures for the lock tests: the sandbox's DynamoDB, lock settings with a 60 s lease, lock clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from lock_support import LEASE_S, REPO_ROOT, FakeClock

from envpromote.aws import ClientFactory
from envpromote.config import LockSettings, load_config
from envpromote.lock import EnvironmentLock
from envpromote.sandbox.testing import Sandbox


@pytest.fixture
def settings(sandbox: Sandbox) -> LockSettings:
    return dataclasses.replace(load_config(REPO_ROOT / "envpromote.toml").lock, lease_seconds=LEASE_S)


@pytest.fixture
def dynamodb(sandbox: Sandbox) -> Any:
    return ClientFactory("us-east-1").client("dynamodb")


@pytest.fixture
def make_lock(dynamodb: Any, settings: LockSettings) -> Callable[..., EnvironmentLock]:
    """A lock client; by default no heartbeat thread (tests renew by hand) and a fresh FakeClock."""

    def make(clock: FakeClock | None = None, **kwargs: Any) -> EnvironmentLock:
        clock = clock or FakeClock()
        kwargs.setdefault("heartbeat", False)
        return EnvironmentLock(
            kwargs.pop("client", dynamodb),
            kwargs.pop("settings", settings),
            monotonic=clock.monotonic,
            sleep=clock.sleep,
            **kwargs,
        )

    return make
