"""The ledger collection: ledger.verify, ledger.reconcile, ledger.sync, ledger.record-build."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context as InvokeContext

from envpromote.errors import BadInput, LedgerError, RolloutTimedOut
from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import (
    CONFIG_HELP,
    DIGEST_HELP,
    RECORDS_DIR_HELP,
    digest_option,
    release_context,
    task,
)


@task(name="verify", help={"config": CONFIG_HELP, "env": "Only this environment.", "json": "Print JSON."})
@handle_errors
def ledger_verify(c: InvokeContext, config: str = "", env: str = "", json: bool = False) -> None:
    """Check every record against the JSON Schema and every hash-chain link; name each broken link and every
    intent no record resolves (a run that died: 'invoke ledger.reconcile --env E' settles it)."""
    from envpromote.tasks._release_common import progress as show

    ctx = release_context(config)
    environments = [ctx.config.env(env).name] if env else None

    def progress(environment: str, checked: int, total: int) -> None:
        show(f"ledger.verify: {environment}: {checked}/{total} records")

    report = ctx.ledger().verify_report(environments, progress=progress)
    problems, unresolved = report.problems, report.unresolved
    if json:
        print_json(
            {
                "records_checked": report.checked,
                "problems": [str(p) for p in problems],
                "unresolved_intents": [
                    {k: r.get(k) for k in ("environment", "sequence", "kind", "digest", "actor", "run_id")}
                    for r in unresolved
                ],
            }
        )
    else:
        print(
            f"ledger: {report.checked} records checked, {len(problems)} problems, "
            f"{len(unresolved)} unresolved intent(s)"
        )
        for problem in problems:
            print(f"  broken: {problem}")
        for intent in unresolved:
            print(
                f"  unresolved: {intent['environment']} #{intent['sequence']} {intent['kind']} "
                f"{intent['digest']} by {intent['actor']} (run {intent.get('run_id') or 'local'}): its run never "
                f"wrote an outcome; fix: invoke ledger.reconcile --env {intent['environment']}"
            )
    if problems:
        raise LedgerError(
            f"The ledger's chain is broken in {len(problems)} place(s); first: {problems[0]}.",
            fix="Restore the named objects from S3 versioning; never edit records in place.",
        )


@task(
    name="reconcile", help={"config": CONFIG_HELP, "env": "Environment to reconcile.", "json": "Print JSON."}
)
@handle_errors
def ledger_reconcile(c: InvokeContext, config: str = "", env: str = "", json: bool = False) -> None:
    """Settle ENV's intents whose run never wrote an outcome: observe ECS, append what it proves (reconcile)."""
    from envpromote.release.reconcile import reconcile_on_demand

    ctx = release_context(config, env=env)
    name = ctx.config.env(env).name
    done = reconcile_on_demand(ctx, ctx.ledger(), name)
    if json:
        print_json(
            {
                "environment": name,
                "reconciled": [
                    {
                        "sequence": r["sequence"],
                        "resolves_sequence": r["resolves_sequence"],
                        "status": r["status"],
                    }
                    for r in done.appended
                ],
                "left_open": done.left_open,
            }
        )
    else:
        for record in done.appended:
            print(
                f"reconciled {name} intent #{record['resolves_sequence']}: {record['status']} "
                f"(record #{record['sequence']})"
            )
        for message in done.left_open:
            print(f"left open: {message}")
        if not done.appended and not done.left_open:
            print(f"{name}: no unresolved intents")
    if done.left_open:
        raise RolloutTimedOut(
            f"{len(done.left_open)} intent(s) in {name} could not be reconciled yet: {done.left_open[0]}.",
            fix=f"Run 'invoke ledger.reconcile --env {name}' again once ECS has decided.",
        )


@task(name="sync", help={"config": CONFIG_HELP, "records_dir": RECORDS_DIR_HELP})
@handle_errors
def ledger_sync(c: InvokeContext, config: str = "", records_dir: str = "") -> None:
    """Send records kept locally after a failed ledger write."""
    from envpromote.image import short_digest
    from envpromote.ledger import sync_pending

    ctx = release_context(config, records_dir)
    sent = sync_pending(ctx.ledger(), ctx.local_records())
    for record in sent:
        shown = short_digest(str(record["digest"]))
        print(f"sent {record['environment']} #{record['sequence']} ({record['status']} {shown})")
    print(f"ledger.sync: {len(sent)} record(s) sent")


def _read_scan(path: str) -> Any:
    try:
        scan = jsonlib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(
            f"Cannot read scan report {path}: {exc}.", fix="Pass the file 'invoke scan --json' wrote."
        ) from None
    if isinstance(scan, dict) and "summary" in scan:  # a whole 'invoke scan --json' report
        return scan["summary"]
    return scan


@task(
    name="record-build",
    help={
        "digest": DIGEST_HELP,
        "config": CONFIG_HELP,
        "scan_json": "Scan report JSON (what 'invoke scan --json' prints) or just its summary.",
        "source_commit": "Commit the image was built from (default: $GITHUB_SHA or git HEAD).",
    },
)
@handle_errors
def ledger_record_build(
    c: InvokeContext, digest: str = "", config: str = "", scan_json: str = "", source_commit: str = ""
) -> None:
    """Record a build (digest, commit, scan summary) in the ledger; the promotion scan gate reads it."""
    from envpromote.release import record_build

    ctx = release_context(config)
    scan = _read_scan(scan_json) if scan_json else None
    key = record_build(ctx, digest_option(digest) or "", scan=scan, source_commit=source_commit or None)
    print(f"build record: s3://{ctx.config.ledger.bucket}/{key}")


ledger = Collection("ledger", ledger_verify, ledger_reconcile, ledger_sync, ledger_record_build)

ROOT_TASKS: list[Any] = []
COLLECTIONS: dict[str, Any] = {"ledger": ledger}
