"""``status``: the whole chain in one view; ``--check`` turns what is wrong into the documented exit codes."""

from __future__ import annotations

from cli_support import one_document, run
from support.engine import deploy as deployed

from envpromote import release
from envpromote.errors import EXIT_LOCKED, EXIT_PREFLIGHT_FAILED, EXIT_TIMED_OUT
from envpromote.release.status import EnvStatus, StatusReport


def _env(name: str, *problems: str) -> EnvStatus:
    return EnvStatus(environment=name, upstream=None, problems=list(problems))


def test_check_exit_codes_follow_the_documented_order() -> None:
    assert StatusReport([_env("dev"), _env("staging")]).exit_code() == 0
    assert StatusReport([_env("dev", "locked")]).exit_code() == EXIT_LOCKED
    assert StatusReport([_env("dev", "locked"), _env("staging", "drift")]).exit_code() == 1
    assert StatusReport([_env("dev", "drift"), _env("prod", "unresolved")]).exit_code() == EXIT_TIMED_OUT
    assert (
        StatusReport([_env("dev", "stuck"), _env("prod", "unreachable")]).exit_code() == EXIT_PREFLIGHT_FAILED
    )


def test_status_of_the_chain(ctx: release.Context) -> None:
    digest = deployed(ctx)
    lease = ctx.lock().acquire("production", "someone-else")
    try:
        result = run("status", "--json")
        checked = run("status", "--check")
        table = run("status")
    finally:
        ctx.lock().release(lease)
    assert result.returncode == 0, result.stderr
    report = one_document(result)
    by_name = {e["environment"]: e for e in report["environments"]}
    assert list(by_name) == ["dev", "staging", "production"]
    dev, staging, production = by_name["dev"], by_name["staging"], by_name["production"]
    assert (dev["running_digest"], dev["ledger_digest"], dev["running_is_last_success"]) == (
        digest,
        digest,
        True,
    )
    assert dev["last_record"]["status"] == "success"
    assert dev["problems"] == []
    assert staging["next_promotion"] == digest  # dev's last success is not in staging yet
    assert "drift" in staging["problems"]  # ECS runs the provisioned image; the ledger has no success there
    assert production["lock_holder"] == "someone-else"
    assert "locked" in production["problems"]
    assert report["exit_code_with_check"] == 1

    assert checked.returncode == 1, checked.stderr  # drift comes before locked
    assert "staging drift" in checked.stderr
    assert "production locked" in checked.stderr
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["env", "running", "ledger"]
    assert f"{digest[7:19]} (last success)" in table.stdout
    assert "None" not in table.stdout
