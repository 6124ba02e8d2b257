"""The background server's lifecycle through the real CLI: up is idempotent, down leaves nothing, ports clash clearly.

These start their own servers (with a copy of the config in a temporary directory, so the state files do not
touch the repository's .envpromote/) and do not use the shared session server.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import run_invoke
from support.paths import REPO_ROOT

from envpromote.sandbox import process

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A directory with envpromote.toml; the sandbox it starts is stopped afterwards whatever happens."""
    shutil.copy(REPO_ROOT / "envpromote.toml", tmp_path / "envpromote.toml")
    yield tmp_path
    process.stop(tmp_path / ".envpromote" / "sandbox")


def invoke(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in `project`, cut off from the test session's sandbox (no AWS_* variables)."""
    return run_invoke(
        *args, cwd=project, config=project / "envpromote.toml", drop_prefixes=("AWS_",), timeout=180
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_up_is_idempotent_and_down_leaves_nothing_running(project: Path) -> None:
    first = invoke(project, "sandbox.up", "--json")
    assert first.returncode == 0, first.stderr
    started = json.loads(first.stdout)
    assert started["endpoint"].startswith("http://127.0.0.1:")

    again = invoke(project, "sandbox.up", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == started

    status = invoke(project, "sandbox.status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert (report["running"], report["endpoint"], report["pid"]) == (
        True,
        started["endpoint"],
        started["pid"],
    )
    assert [e["name"] for e in report["resources"]["environments"]] == ["dev", "staging", "production"]
    assert {e["status"] for e in report["resources"]["environments"]} == {"ACTIVE"}

    exports = invoke(project, "sandbox.env")
    assert exports.returncode == 0
    assert f"export AWS_ENDPOINT_URL={started['endpoint']}" in exports.stdout.splitlines()
    assert "export AWS_ACCESS_KEY_ID=testing" in exports.stdout.splitlines()

    down = invoke(project, "sandbox.down")
    assert down.returncode == 0
    assert f"pid {started['pid']}" in down.stdout
    assert not alive(started["pid"])
    assert not (project / ".envpromote" / "sandbox" / "server.pid").exists()

    again_down = invoke(project, "sandbox.down")
    assert again_down.returncode == 0
    assert "not running" in again_down.stdout
    stopped = invoke(project, "sandbox.status", "--json")
    assert stopped.returncode == 4
    assert json.loads(stopped.stdout)["running"] is False


def test_port_in_use_is_a_clear_preflight_error(project: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = invoke(project, "sandbox.up", "--port", str(port))
    assert result.returncode == 4
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"envpromote: error: Port {port} on 127.0.0.1 is already in use. Fix: Pick another with --port "
        "(or omit it for a free one), or stop whatever listens there."
    ]
    assert process.running(project / ".envpromote" / "sandbox") is None


def test_server_refuses_a_taken_port_itself(tmp_path: Path) -> None:
    """Even when started directly (a race with the pre-check), the server exits 4 with one line."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "envpromote.sandbox", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 4
    assert result.stderr.strip().startswith(f"envpromote-sandbox: error: cannot listen on 127.0.0.1:{port}:")
    assert "Traceback" not in result.stderr


def test_env_and_reset_need_a_running_sandbox(project: Path) -> None:
    for task in ("sandbox.env", "sandbox.reset"):
        result = invoke(project, task)
        assert result.returncode == 4
        assert result.stderr.strip() == (
            "envpromote: error: The sandbox is not running. Fix: Start it with 'invoke sandbox.up'."
        )


def test_concurrent_ups_start_one_server(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["ENVPROMOTE_CONFIG"] = str(project / "envpromote.toml")
    command = [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "sandbox.up", "--json"]
    runs = [
        subprocess.Popen(
            command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    first, second = (json.loads(out) for out, _ in outputs)
    assert first == second


def test_up_on_another_port_while_running_is_refused(project: Path) -> None:
    started = json.loads(invoke(project, "sandbox.up", "--json").stdout)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        other = probe.getsockname()[1]
    result = invoke(project, "sandbox.up", "--port", str(other))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"envpromote: error: The sandbox is already running on port {started['endpoint'].rsplit(':', 1)[1]}, "
        f"not {other}. Fix: Use it as it is, or run 'invoke sandbox.down' first."
    )
