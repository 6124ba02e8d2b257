"""invoke lock.status and lock.release --force --reason, run as a person would (a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from lock_support import REPO_ROOT, item

from envpromote.aws import ClientFactory
from envpromote.config import load_config
from envpromote.errors import EXIT_BAD_INPUT
from envpromote.ledger import Ledger
from envpromote.lock import EnvironmentLock, Holder

# The same assembly as tasks.py, limited to this module's collection (tasks.py registers it at merge).
PROGRAM = (
    "from invoke import Collection, Program\n"
    "from envpromote.tasks import lock\n"
    "ns = Collection()\n"
    "for name, collection in lock.COLLECTIONS.items():\n"
    "    ns.add_collection(collection, name=name)\n"
    "Program(namespace=ns).run()\n"
)


def run_task(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def held(make_lock: Any) -> Any:
    lock: EnvironmentLock = make_lock(wall_clock=lambda: 1_800_000_000.0)
    lease = lock.acquire("dev", Holder("alice", "promote", "sha256:" + "b" * 64, pid=7, run="321"))
    yield lease
    lock.release(lease)


def test_status_of_a_free_lock(sandbox: Any) -> None:
    text = run_task("lock.status", "--env", "dev")
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == "dev: free"
    as_json = run_task("lock.status", "--env", "dev", "--json")
    assert json.loads(as_json.stdout) == {
        "environment": "dev",
        "locked": False,
        "lock": None,
        "watched_seconds": 0.0,
        "heartbeat_seen": None,
        "released_while_watching": False,
    }


def test_status_names_the_holder_its_run_and_its_lease(held: Any) -> None:
    text = run_task("lock.status", "--env", "dev")
    assert text.returncode == 0, text.stderr
    assert "dev: locked" in text.stdout
    assert "holder: alice (promote sha256:bbbbbbbbbbbb, pid 7, run 321)" in text.stdout
    assert "since: 2027-01-15T08:00:00+00:00 (as the holder's clock reported it)" in text.stdout
    assert "lease: 60s, heartbeat every 20s" in text.stdout
    assert f"record version: {held.record_version_number}" in text.stdout
    data = json.loads(run_task("lock.status", "--env", "dev", "--json").stdout)
    assert data["locked"] is True
    assert data["lock"]["holder_detail"]["run"] == "321"
    assert data["lock"]["record_version_number"] == held.record_version_number
    assert data["lock"]["lease_seconds"] == 60


def test_status_observe_tells_a_silent_holder_from_a_live_one(
    held: Any, dynamodb: Any, settings: Any
) -> None:
    silent = json.loads(run_task("lock.status", "--env", "dev", "--observe", "1", "--json").stdout)
    assert silent["heartbeat_seen"] is False, "the test's holder does not heartbeat"
    live_lock = EnvironmentLock(dynamodb, settings)  # real clocks and heartbeat thread
    lease = live_lock.acquire("staging", "busy runner", lease_seconds=0.6)  # a heartbeat every 0.2 s
    try:
        seen = json.loads(run_task("lock.status", "--env", "staging", "--observe", "60", "--json").stdout)
    finally:
        live_lock.release(lease)
    assert seen["heartbeat_seen"] is True, "status returns as soon as it sees the version change"
    assert seen["lock"]["holder"] == "busy runner"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reason", "stuck"], "needs --force"),
        (["--force"], "A reason is required"),
        (["--force", "--reason", "x" * 201], "at most 200"),
        (["--force", "--reason", "red\x1b[31m"], "not printable"),
    ],
)
def test_release_refuses_without_force_and_a_valid_reason(
    held: Any, dynamodb: Any, settings: Any, args: list[str], message: str
) -> None:
    refused = run_task("lock.release", "--env", "dev", *args)
    assert refused.returncode == EXIT_BAD_INPUT, refused.stderr
    assert message in refused.stderr
    stored = item(dynamodb, settings)
    assert stored is not None
    assert stored["record_version_number"]["S"] == held.record_version_number, "nothing was broken"


def test_forced_release_prints_what_it_broke(held: Any, dynamodb: Any, settings: Any) -> None:
    done = run_task("lock.release", "--env", "dev", "--force", "--reason", "runner lost; INC-7", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["released"] is True
    assert data["broken"]["holder"] == "alice (promote sha256:bbbbbbbbbbbb, pid 7, run 321)"
    assert data["broken"]["record_version_number"] == held.record_version_number
    assert data["broken"]["reason"] == "runner lost; INC-7"
    assert data["broken"]["broken_by"]
    assert item(dynamodb, settings) is None
    # who broke whose lock, and why, is in the ledger (a lock_break record, never a success)
    ledger = Ledger(
        ClientFactory("us-east-1").client("s3"), load_config(REPO_ROOT / "envpromote.toml").ledger
    )
    record = ledger.history("dev", limit=1)[-1]
    assert data["ledger_sequence"] == record["sequence"]
    assert (record["kind"], record["status"], record["digest"]) == ("lock_break", "aborted", None)
    assert record["reasons"][0] == f"lock broken by {data['broken']['broken_by']}: runner lost; INC-7"
    assert "holder was alice (promote sha256:bbbbbbbbbbbb, pid 7, run 321)" in record["reasons"][1]
    assert ledger.last_success("dev") is None
    assert ledger.verify(["dev"])[1] == []
    again = run_task("lock.release", "--env", "dev", "--force", "--reason", "again")
    assert again.returncode == 0, again.stderr
    assert "no lock held; nothing released" in again.stdout
    assert ledger.history("dev", limit=1)[-1]["sequence"] == record["sequence"], (
        "nothing broken, nothing recorded"
    )


def test_the_task_module_is_light_and_agrees_with_the_lock() -> None:
    from envpromote import lock
    from envpromote.tasks import lock as tasks

    assert tasks.HEARTBEATS_PER_LEASE == lock.HEARTBEATS_PER_LEASE
    code = "import sys, envpromote.tasks.lock; print(sorted(m for m in ('botocore', 'boto3') if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]", "boto3/botocore are imported inside the task bodies"


def test_unknown_environment_and_bad_observe_are_bad_input(sandbox: Any) -> None:
    unknown = run_task("lock.status", "--env", "qa")
    assert unknown.returncode == EXIT_BAD_INPUT
    assert "Unknown environment 'qa'" in unknown.stderr
    bad = run_task("lock.status", "--env", "dev", "--observe", "9999")
    assert bad.returncode == EXIT_BAD_INPUT
    assert "--observe" in bad.stderr
