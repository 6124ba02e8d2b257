"""``--json``: every task that has it prints exactly one JSON document on stdout, on success and on failure.

The tasks are enumerated from the collection (a new task with --json is covered without touching this file);
human text (plans, diffs, progress, warnings) must go to stderr.
"""

from __future__ import annotations

import re

import pytest
from cli_support import one_document, run
from support.engine import push_test_image, record_clean_build

from envpromote import release
from envpromote.tasks import namespace

# Tasks that do not reach their own error mapping without extra arguments (a required positional).
EXTRA_ARGS = {"sandbox.build": ["healthy"], "scan": ["--offline", "--fail-on", "bogus"]}


def json_tasks() -> list[str]:
    return sorted(
        name
        for name in namespace.task_names
        if "json" in {a.name for a in namespace[name].get_arguments(ignore_unknown_help=True)}
    )


def test_the_enumeration_finds_the_json_tasks() -> None:
    found = set(json_tasks())
    assert {"deploy", "promote", "rollback", "status", "history", "drift", "verify", "diff"} <= found
    assert {"build", "scan", "lock.status", "ledger.verify", "sandbox.status"} <= found


@pytest.mark.parametrize("name", json_tasks())
def test_a_failure_is_one_json_document_with_the_exit_code(name: str) -> None:
    """No sandbox, a config that does not exist: every task fails, and says so as one JSON document."""
    result = run(
        name,
        *EXTRA_ARGS.get(name, []),
        "--json",
        env={"ENVPROMOTE_CONFIG": "/nonexistent/envpromote.toml", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert result.returncode != 0, result.stdout
    document = one_document(result)
    if "error" in document:  # sandbox.status reports "not running" as its result document, then exits 4
        assert document["exit_code"] == result.returncode
        assert set(document) >= {"error", "exit_code", "fix"}
        assert document["error"]
        assert "Fix:" not in document["error"]


def test_release_and_query_results_are_one_json_document(ctx: release.Context) -> None:
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)

    # --timeout: the shipped config's lock lease (60 s) refuses the default 900 s (see the release context).
    dry = run("deploy", "--env", "dev", "--digest", digest, "--dry-run", "--json", "--timeout", "50")
    assert dry.returncode == 0, dry.stderr
    assert one_document(dry)["plan"]["image_uri"].endswith(digest)

    deployed = run("deploy", "--env", "dev", "--digest", digest, "--json", "--timeout", "50")
    assert deployed.returncode == 0, deployed.stderr
    record = one_document(deployed)["record"]
    assert (record["digest"], record["status"]) == (digest, "success")
    assert "watching deployment" in deployed.stderr  # progress went to stderr: CI's plain lines
    assert re.search(r"ecs-svc/\d+ [A-Z_]+: running \d+/\d+, pending \d+, failed \d+", deployed.stderr)

    again = run("deploy", "--env", "dev", "--digest", digest, "--json", "--timeout", "50")
    assert again.returncode == 0, again.stderr
    assert one_document(again)["no_op"] is True

    for args in (
        ["status"],
        ["history", "--env", "dev"],
        ["drift", "--env", "dev"],
        ["lock.status", "--env", "dev"],
    ):
        result = run(*args, "--json")
        assert result.returncode == 0, (args, result.stderr)
        one_document(result)

    refused = run("promote", "--env", "production", "--digest", digest, "--json", "--timeout", "50")
    assert refused.returncode == 3, refused.stderr
    assert one_document(refused)["exit_code"] == 3  # a gate refusal is a JSON document too

    changed = run("diff", "--env", "staging", "--digest", digest, "--json")
    assert changed.returncode == 2, changed.stderr  # 'different' is exit 2 with the diff as the one document
    assert "diff" in one_document(changed)
