"""Release records: appended once, never blocked by a gap, kept locally when the ledger is away, and shown
safely in the GitHub step summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import push_test_image
from release_support import NO_APPROVAL, YES, deployed, promoted_to_staging, run_cli

from envpromote import release
from envpromote.errors import PreflightFailed
from envpromote.ledger import layout, new_record, utc_now

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def _draft(**fields: object) -> dict[str, object]:
    now = utc_now()
    base: dict[str, object] = {
        "environment": "dev",
        "kind": "deploy",
        "status": "success",
        "digest": A,
        "image_uri": f"r/app@{A}",
        "started_at": now,
        "finished_at": now,
    }
    return new_record(**{**base, **fields})  # type: ignore[arg-type]


def test_append_is_idempotent_per_record(ctx: release.Context) -> None:
    draft = _draft()
    first = ctx.ledger().append(draft)
    again = ctx.ledger().append(draft)  # as if the first PUT's answer had been lost and the write retried
    assert again == first
    assert len(ctx.ledger().history("dev")) == 1


def test_a_deleted_record_is_reported_and_does_not_block_later_writes(ctx: release.Context, config) -> None:
    for _ in range(3):
        deployed(ctx)
    assert ctx.ledger().verify() == (6, []), "three intents and the three outcomes resolving them"
    s3 = ctx.clients("us-east-1").client("s3")
    key = {n: layout.record_key(config.ledger.prefix, "dev", n) for n in (2, 3)}
    s3.delete_object(Bucket=config.ledger.bucket, Key=key[2])
    problems = [str(p) for p in ctx.ledger().verify()[1]]
    assert f"dev: {key[3]}: records 2 are missing before it (deleted?)" in problems
    assert f"dev: {key[2]}: was deleted (delete marker in S3)" in problems
    deployed(ctx)
    assert [r["sequence"] for r in ctx.ledger().history("dev")] == [1, 3, 4, 5, 6, 7, 8]
    assert any("records 2 are missing" in str(p) for p in ctx.ledger().verify(["dev"])[1]), "still reported"


def test_records_not_yet_in_the_ledger_block_planning(ctx: release.Context, aws_state) -> None:
    digest = promoted_to_staging(ctx)
    kept = _draft(
        environment="staging", kind="rollback", digest=B, image_uri=f"r/app@{B}", previous_digest=digest
    )
    kept["schema_version"] = "broken"  # a draft the ledger refuses, so it stays pending
    ctx.local_records().keep_pending(kept)
    before = aws_state.snapshot()
    with pytest.raises(PreflightFailed, match="not yet in the ledger"):
        release.plan_promote(ctx, "production", digest, approval=YES)
    assert aws_state.snapshot() == before


def test_step_summary_and_outputs_are_written_in_actions(ctx: release.Context, tmp_path: Path) -> None:
    digest = push_test_image("healthy:0.3")
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    result = run_cli(
        "deploy",
        "--env",
        "dev",
        "--digest",
        digest,
        "--records-dir",
        str(tmp_path / "records"),
        env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)},
    )
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert "deploy to dev: success" in text
    assert digest in text
    assert "record_path<<" in outputs.read_text()


def test_summary_shows_what_people_typed_as_inert_text() -> None:
    record = {
        **_draft(kind="promote", environment="production", source_environment="staging"),
        "sequence": 7,
        "prev_record_sha256": "f" * 64,
        "approver": "eve | <img src=x> **boss**\n### owned",
        "reasons": ["gate: ok", "[click](https://evil.example) `code` | cell\r\nnext"],
    }
    markdown = release.summary_markdown(record)
    table = [line for line in markdown.splitlines() if line.startswith("| approver")]
    assert len(table) == 1, "the approver stays on its own table row"
    row = table[0]
    assert row.count("|") - row.count("\\|") == 3, "no extra table cells"
    assert "<img" not in markdown
    assert "**boss**" not in markdown
    assert "\n### owned" not in markdown
    assert "[click](" not in markdown
    assert "`code`" not in markdown
    assert f"`{A}`" in markdown, "machine values stay readable as code"
    assert release.summary_markdown({**record, "approver": None}).count("| approver | - |") == 1


def test_a_promotion_needs_no_approval_where_none_is_required(ctx: release.Context) -> None:
    digest = deployed(ctx)
    plan = release.plan_promote(ctx, "staging", digest, approval=NO_APPROVAL)
    assert plan.approver is None
    assert plan.approved_via == "not-required"


# ---- reconciling intents a dead run left open ------------------------------------------------------

PREV = "arn:aws:ecs:us-east-1:123456789012:task-definition/envpromote-dev-web:4"
OURS = "arn:aws:ecs:us-east-1:123456789012:task-definition/envpromote-dev-web:5"


def _intent() -> dict[str, object]:
    return {**_draft(status="in_progress", previous_task_definition_arn=PREV), "sequence": 3}


def _seen(deployments: list[dict[str, object]], briefs: list[dict[str, object]] | None, running: str = PREV):
    from envpromote.release.reconcile import Observed

    return Observed({"taskDefinition": running, "deployments": deployments}, [OURS], briefs)


@pytest.mark.parametrize(
    ("deployments", "briefs", "running", "status"),
    [
        (
            [{"id": "ecs-svc/1", "taskDefinition": OURS, "status": "PRIMARY", "rolloutState": "COMPLETED"}],
            [],
            OURS,
            "success",
        ),
        (
            [{"id": "ecs-svc/1", "taskDefinition": OURS, "status": "PRIMARY", "rolloutState": "IN_PROGRESS"}],
            [],
            OURS,
            None,
        ),
        (
            [{"id": "ecs-svc/1", "taskDefinition": OURS, "status": "ACTIVE", "rolloutState": "FAILED"}],
            [],
            PREV,
            "rolled_back",
        ),
        ([], [], PREV, "aborted"),
        ([], [{"serviceDeploymentArn": "arn:sd/1", "status": "ROLLBACK_SUCCESSFUL"}], PREV, "rolled_back"),
        ([], [{"serviceDeploymentArn": "arn:sd/1", "status": "STOPPED"}], PREV, "failed"),
        ([], [{"serviceDeploymentArn": "arn:sd/1", "status": "ROLLBACK_IN_PROGRESS"}], PREV, None),
        ([], [{"serviceDeploymentArn": "arn:sd/1", "status": "SUCCESSFUL"}], PREV, "unknown"),
        ([], None, PREV, "unknown"),
    ],
    ids=[
        "runs-ours-completed",
        "still-rolling-out",
        "ecs-rolled-back",
        "registered-never-updated",
        "service-deployment-rolled-back",
        "service-deployment-stopped",
        "rollback-still-moving",
        "replaced-since",
        "no-service-deployments-api",
    ],
)
def test_reconcile_appends_only_what_ecs_proves(deployments, briefs, running, status) -> None:
    from envpromote.release.reconcile import judge

    finding = judge(_intent(), _seen(deployments, briefs, running))
    assert finding.status == status, finding.reasons
    assert finding.reasons, "every judgement says what it rests on"
    if status == "unknown":
        assert "cannot be proven" in finding.reasons[0]


def test_nothing_registered_is_an_abort() -> None:
    from envpromote.release.reconcile import Observed, judge

    finding = judge(_intent(), Observed({"taskDefinition": PREV, "deployments": []}, [], []))
    assert finding.status == "aborted"
    assert "nothing was deployed" in finding.reasons[0]


def test_verify_reports_an_open_intent_and_reconcile_settles_it(ctx: release.Context) -> None:
    """An intent whose run died before registering anything: verify names it, ledger.reconcile resolves it."""
    digest = deployed(ctx)
    ledger = ctx.ledger()
    running = ledger.last_success("dev")["task_definition_arn"]
    intent = ledger.append(
        _draft(
            status="in_progress",
            digest=digest,
            image_uri=f"r/app@{digest}",
            actor="runner-7",
            previous_task_definition_arn=running,  # a re-deploy of the digest that runs, killed before registering
        )
    )
    verify = run_cli("ledger.verify", "--env", "dev")
    assert verify.returncode == 0, verify.stderr
    assert "1 unresolved intent(s)" in verify.stdout
    assert f"unresolved: dev #{intent['sequence']} deploy {digest} by runner-7" in verify.stdout
    assert "invoke ledger.reconcile --env dev" in verify.stdout
    done = run_cli("ledger.reconcile", "--env", "dev")
    assert done.returncode == 0, done.stderr
    assert f"reconciled dev intent #{intent['sequence']}: aborted" in done.stdout
    record = ledger.history("dev", limit=1)[-1]
    assert (record["kind"], record["status"], record["resolves"]) == (
        "reconcile",
        "aborted",
        intent["record_id"],
    )
    assert record["reconciled_by"]
    assert ledger.unresolved_intents("dev") == []
    assert ledger.last_success("dev")["digest"] == digest, "an abort does not move the last success"
    again = run_cli("ledger.reconcile", "--env", "dev")
    assert again.returncode == 0
    assert "no unresolved intents" in again.stdout
    assert ctx.lock().holder("dev") is None


def test_the_record_schema_takes_delivery_results_and_old_records_stay_valid() -> None:
    from envpromote.ledger import schema_errors, seal

    record = seal(_draft(), sequence=1)
    assert "notifications" not in record
    assert schema_errors(record) == [], "a record without notifications (every older one) is valid"
    noted = {"target": "slack:env:SLACK_WEBHOOK_PROD", "ok": False, "attempts": 3, "error": "HTTP 503"}
    assert schema_errors({**record, "notifications": [noted]}) == []
    assert schema_errors({**record, "notifications": [{**noted, "error": None, "ok": True}]}) == []
    url = {**noted, "target": "https://hooks.slack.com/services/T0/B0/secret"}
    assert any("notifications/0/target" in e for e in schema_errors({**record, "notifications": [url]})), (
        "a webhook URL is never a target label"
    )
    assert schema_errors({**record, "notifications": [{**noted, "extra": 1}]})
    assert schema_errors({**record, "notifications": [noted] * 11}), "at most one per target (10)"
