"""Shared fixtures: one real sandbox server process per test session, reset and provisioned per test.

* ``sandbox_server`` (session): starts ``python -m envpromote.sandbox serve`` on 127.0.0.1 (free port) and
  points this process at it (AWS_ENDPOINT_URL, fake credentials, AWS_DEFAULT_REGION=us-east-1); restores the
  environment and stops the server at the end.
* ``sandbox`` (function): resets the server (all AWS state, the rollout simulation, the faults) and provisions
  the chain from the repository's envpromote.toml, or from the path given with
  ``@pytest.mark.parametrize("sandbox", [path], indirect=True)``. Exposes ``.url``, ``.reset()``,
  ``.provision(path)``, ``.set_faults(**kw)``, ``.faults()``, ``.timeline(...)``, ``.resources`` and the sandbox
  clock: ``.clock()``, ``.freeze()``, ``.set_time_scale(x)``, ``.advance(s)``, ``.settle()``.
  ``@pytest.mark.sandbox_time_scale(x)`` runs one test's sandbox time at x (0 = frozen; the reset before the
  next test restores the server's speed: $ENVPROMOTE_SANDBOX_TIME_SCALE, else 1).

Tests that use either fixture are marked ``sandbox`` automatically. For type hints:
``from envpromote.sandbox.testing import Sandbox``. Shared helpers: tests/support/ (``support.*``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paths import REPO_CONFIG

from envpromote.sandbox import process
from envpromote.sandbox.testing import Sandbox, SandboxServer

SANDBOX_FIXTURES = {"sandbox", "sandbox_server"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sandbox_time_scale(scale): run this test's sandbox clock at scale x real time (0 = frozen)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)
    items[:] = spread_slow_tests(items, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")))


def spread_slow_tests(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The tests marked slow (up to a minute or more on a busy machine) first in each worker's share.

    `nox -s test` runs ``--dist worksteal``: xdist hands each of the `workers` a contiguous share of the
    collection (``len(pending) // workers_left`` each) and idle workers then steal the back half of a busy one's
    queue. Slow tests at the front of every share start at once, side by side, instead of one after another on
    the first worker or alone at the end of the run (the run's wall time was their tail).
    """
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    rest = [item for item in items if item.get_closest_marker("slow") is None]
    if workers < 2:
        return slow + rest
    ordered: list[pytest.Item] = []
    left = len(items)
    for worker in range(workers):
        share = left // (workers - worker)
        left -= share
        own_slow = slow[worker::workers]
        fill = max(0, share - len(own_slow))
        ordered += own_slow + rest[:fill]
        rest = rest[fill:]
    return ordered + rest


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    state_dir = tmp_path_factory.mktemp("sandbox-server")
    with pytest.MonkeyPatch.context() as unmeasured:
        # The session's server (moto answering every test's AWS calls) runs without coverage: it is stopped by a
        # signal, so its coverage data was never saved (the report showed 0 % for the simulation) while tracing
        # it cost CPU on every AWS call of every test.
        unmeasured.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
        info = process.start(REPO_CONFIG, port=0, state_dir=state_dir, tied_to_caller=True)
    env = process.client_env(info.url, "us-east-1")
    try:
        with process.patched_env(env):
            yield SandboxServer(url=info.url, pid=info.pid, state_dir=state_dir, env=env)
    finally:
        process.stop(state_dir)


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    config = Path(getattr(request, "param", None) or REPO_CONFIG)
    box = Sandbox(url=sandbox_server.url, config_path=config)
    box.reset()
    box.provision()
    marker = request.node.get_closest_marker("sandbox_time_scale")
    if marker is not None:
        box.set_time_scale(float(marker.args[0]))
    try:
        yield box
    finally:
        box.clear_faults()
