"""The read-only commands as a user runs them: required options, and nothing printed as 'None'."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from release_support import deployed, run_cli

from envpromote import release


@pytest.mark.parametrize("command", ["drift", "history", "verify", "diff", "deploy", "promote", "rollback"])
def test_env_is_required_with_a_one_line_message(command: str) -> None:
    result = run_cli(command)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "envpromote: error: No --env given. Fix: Pass --env with one of: dev, staging, production."
    )


def test_drift_and_history_of_an_environment_without_records(sandbox) -> None:
    drift = run_cli("drift", "--env", "staging")
    assert drift.returncode == 1, "the ledger has no success while ECS runs something: drift"
    assert "None" not in drift.stdout + drift.stderr
    assert "last success none (no successful release recorded)" in drift.stdout
    history = run_cli("history", "--env", "staging")
    assert history.returncode == 0, history.stderr
    assert "(no records for staging)" in history.stdout
    assert json.loads(run_cli("history", "--env", "staging", "--json").stdout) == []


def test_history_rows_show_dashes_not_none(ctx: release.Context) -> None:
    digest = deployed(ctx)
    result = run_cli("history", "--env", "dev", "--limit", "5")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert len(rows) == 2  # the header and the release (its resolved intent is not repeated)
    assert digest[7:19] in rows[1]
    assert "None" not in result.stdout
    drift = run_cli("drift", "--env", "dev")
    assert drift.returncode == 0, drift.stderr
    assert "None" not in drift.stdout


def test_release_task_modules_load_no_engine_or_aws_at_import() -> None:
    heavy = ("boto3", "botocore", "jinja2", "jsonschema", "envpromote.release", "envpromote.ledger")
    code = f"import sys, envpromote.tasks.engine; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
