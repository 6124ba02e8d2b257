"""Release tasks: render, deploy, promote, rollback, verify, diff, drift, history, and the ledger collection."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context as InvokeContext
from invoke.exceptions import Exit
from invoke.tasks import task

from envpromote import promote as usecases
from envpromote.config import load_config
from envpromote.errors import EXIT_BAD_INPUT, BadInput, DeploymentFailed, LedgerError
from envpromote.image import ImageRef, parse_digest
from envpromote.ledger import sync_pending
from envpromote.render import render_task_definition, template_values
from envpromote.tasks._common import handle_errors, print_json

CONFIG_HELP = "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml)."
DIGEST_HELP = "Image digest sha256:<64 hex> (default: $ENVPROMOTE_DIGEST)."


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _context(config: str | None, records_dir: str | None = None) -> usecases.Context:
    cfg = load_config(config)
    return usecases.Context(
        config=cfg,
        identity=usecases.Identity.from_environment(),
        out=_progress,
        records_dir=Path(records_dir) if records_dir else None,
    )


def _digest(value: str | None) -> str | None:
    return value or os.environ.get("ENVPROMOTE_DIGEST") or None


def _approval(yes: bool, approver: str | None, env_name: str) -> usecases.Approval:
    via_github = os.environ.get("ENVPROMOTE_APPROVED_VIA") == "github-environment"
    return usecases.Approval(
        approver=approver or (os.environ.get("ENVPROMOTE_APPROVER") if via_github else None),
        assume_yes=yes,
        github_environment=via_github and os.environ.get("GITHUB_ACTIONS") == "true",
        prompt=functools.partial(_interactive_prompt, env_name=env_name)
        if sys.stdin.isatty() and not yes
        else None,
    )


def _interactive_prompt(evidence: str, *, env_name: str) -> str | None:
    print(evidence, file=sys.stderr)
    answer = input(f"Type '{env_name}' to approve (anything else refuses): ").strip()
    if answer != env_name:
        return None
    default = usecases.Identity.from_environment().actor
    name = input(f"Approver name [{default}]: ").strip()
    return name or default


@contextmanager
def _sigterm_aborts() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) aborts like Ctrl-C, so the record is written and the lock released."""

    def handler(_signum: int, _frame: Any) -> None:
        raise usecases.Aborted()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_plan(plan: usecases.Plan) -> None:
    print(f"{plan.kind} {plan.image.uri} -> {plan.env.name} ({plan.env.cluster}/{plan.env.service})")
    print(f"replaces: {plan.previous_digest or 'unknown'} ({plan.running_taskdef_arn})")
    for line in plan.evidence:
        print(f"  ok: {line}")
    if plan.approver:
        print(f"  approver: {plan.approver}")
    print("\n".join(plan.diff) if plan.diff else "task definition: unchanged")


def _finish(ctx: usecases.Context, result: usecases.ReleaseResult, as_json: bool) -> None:
    record = result.record or {}
    if as_json:
        print_json({"record": record, "record_path": str(result.record_path), "api_calls": result.api_calls})
    else:
        outcome = result.outcome
        print(
            f"{record.get('status')}: {record.get('kind')} {record.get('digest')} to {record.get('environment')}"
        )
        if outcome:
            print(f"  {outcome.summary} (decided after {outcome.seconds:.1f}s of watching)")
        print(f"  record: {result.record_path}")
    _print_calls(dict(ctx.counter.requests))  # every call, the record's write and the lock release included


def _print_calls(calls: dict[str, int]) -> None:
    total = sum(calls.values())
    ecs = sum(n for k, n in calls.items() if k.startswith("ecs:"))
    _progress(
        f"AWS API calls: {total} (ECS {ecs}): " + ", ".join(f"{k} {n}" for k, n in sorted(calls.items()))
    )


def _release_context(
    config: str, records_dir: str, env: str, timeout: Any, watch: str
) -> tuple[usecases.Context, float]:
    """Everything about the options is checked before planning, so a dry run refuses what a real run would."""
    ctx = _context(config or None, records_dir or None)
    seconds = usecases.ensure_time(timeout, "timeout")
    usecases.check_timeout_within_lease(seconds, ctx.config.lock.lease_seconds)
    ctx.watch_mode = usecases.check_watch_mode(watch, ctx.config.env(env))
    return ctx, seconds


def _run_release(
    ctx: usecases.Context,
    plan: usecases.Plan,
    dry_run: bool,
    as_json: bool,
    seconds: float,
    rollback_on_timeout: bool,
) -> None:
    if dry_run:
        if as_json:
            print_json({"dry_run": True, "plan": _plan_dict(plan)})
        else:
            _print_plan(plan)
            print("dry run: nothing changed")
        return
    _print_plan(plan)
    with _sigterm_aborts():
        try:
            result = usecases.execute(ctx, plan, timeout=seconds, rollback_on_timeout=rollback_on_timeout)
        except DeploymentFailed as exc:
            for reason in exc.reasons:
                print(f"  reason: {reason}", file=sys.stderr)
            _print_calls(dict(ctx.counter.requests))
            raise
    _finish(ctx, result, as_json)


def _plan_dict(plan: usecases.Plan) -> dict[str, Any]:
    return {
        "environment": plan.env.name,
        "kind": plan.kind,
        "image_uri": plan.image.uri,
        "source_environment": plan.source_environment,
        "previous_digest": plan.previous_digest,
        "running_task_definition_arn": plan.running_taskdef_arn,
        "evidence": plan.evidence,
        "approver": plan.approver,
        "diff": plan.diff,
        "task_definition": plan.taskdef,
    }


RELEASE_HELP = {
    "env": "Target environment (from the chain in envpromote.toml).",
    "digest": DIGEST_HELP,
    "config": CONFIG_HELP,
    "dry_run": "Print the plan and the task-definition diff; change nothing.",
    "json": "Print the result as JSON.",
    "timeout": "Seconds to wait for ECS to decide (default 900).",
    "rollback_on_timeout": "If ECS has not decided by the timeout, put the previous task definition back.",
    "records_dir": "Where the local JSON copy of the record goes (default: [ledger] local_dir).",
    "watch": "How to follow the rollout: auto (ECS events when the environment has a queue), events, poll.",
}


@task(help=RELEASE_HELP)
@handle_errors
def deploy(
    c: InvokeContext,
    env: str = "",
    digest: str = "",
    config: str = "",
    dry_run: bool = False,
    json: bool = False,
    timeout: str = "900",
    rollback_on_timeout: bool = False,
    records_dir: str = "",
    watch: str = "auto",
) -> None:
    """Deploy a digest to the entry environment (dev); no upstream gate, the scan gate still applies."""
    ctx, seconds = _release_context(config, records_dir, env, timeout, watch)
    plan = usecases.plan_deploy(ctx, env, _digest(digest))
    _run_release(ctx, plan, dry_run, json, seconds, rollback_on_timeout)


@task(
    help={
        **RELEASE_HELP,
        "digest": "Digest to promote (default: $ENVPROMOTE_DIGEST, else the upstream's last success).",
        "yes": "Approve without a prompt (requires --approver where approval is required).",
        "approver": "Name recorded as the approver.",
        "allow_unscanned": "Let an unscanned digest through (non-production only; recorded).",
    }
)
@handle_errors
def promote(
    c: InvokeContext,
    env: str = "",
    digest: str = "",
    config: str = "",
    yes: bool = False,
    approver: str = "",
    allow_unscanned: bool = False,
    dry_run: bool = False,
    json: bool = False,
    timeout: str = "900",
    rollback_on_timeout: bool = False,
    records_dir: str = "",
    watch: str = "auto",
) -> None:
    """Promote the upstream's digest into ENV after the gates: upstream success, soak, scan, approval."""
    ctx, seconds = _release_context(config, records_dir, env, timeout, watch)
    plan = usecases.plan_promote(
        ctx,
        env,
        _digest(digest),
        approval=_approval(yes, approver or None, env),
        allow_unscanned=allow_unscanned,
        dry_run=dry_run,
    )
    _run_release(ctx, plan, dry_run, json, seconds, rollback_on_timeout)


@task(
    help={
        **{k: v for k, v in RELEASE_HELP.items() if k not in {"digest", "rollback_on_timeout"}},
        "to": "Digest to return to (default: the ledger's last success before the running one).",
        "yes": "Approve without a prompt (requires --approver where approval is required).",
        "approver": "Name recorded as the approver.",
    }
)
@handle_errors
def rollback(
    c: InvokeContext,
    env: str = "",
    to: str = "",
    config: str = "",
    yes: bool = False,
    approver: str = "",
    dry_run: bool = False,
    json: bool = False,
    timeout: str = "900",
    records_dir: str = "",
    watch: str = "auto",
) -> None:
    """Re-deploy ENV's last known-good digest from the ledger (not 'revision N-1'); recorded as a rollback."""
    ctx, seconds = _release_context(config, records_dir, env, timeout, watch)
    plan = usecases.plan_rollback(
        ctx, env, to or None, approval=_approval(yes, approver or None, env), dry_run=dry_run
    )
    _run_release(ctx, plan, dry_run, json, seconds, False)


@task(
    help={
        "env": RELEASE_HELP["env"],
        "digest": DIGEST_HELP,
        "config": CONFIG_HELP,
        "output": "Write to this file.",
        "registry": "Registry host for the image URI (default: $ENVPROMOTE_REGISTRY or a placeholder).",
    }
)
@handle_errors
def render(
    c: InvokeContext, env: str = "", digest: str = "", config: str = "", output: str = "", registry: str = ""
) -> None:
    """Render ENV's task definition for a digest from templates/taskdef.json.j2 and validate it (no AWS calls)."""
    cfg = load_config(config or None)
    environment = cfg.env(env)
    checked = parse_digest(_digest(digest) or "")
    host = (
        registry
        or os.environ.get("ENVPROMOTE_REGISTRY")
        or f"ACCOUNT.dkr.ecr.{cfg.registry.region}.amazonaws.com"
    )
    image = ImageRef(host, cfg.registry.repository, checked)
    document = render_task_definition(cfg.template, template_values(cfg, environment, image))
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@task(help={"env": RELEASE_HELP["env"], "digest": DIGEST_HELP, "config": CONFIG_HELP, "json": "Print JSON."})
@handle_errors
def verify(c: InvokeContext, env: str = "", digest: str = "", config: str = "", json: bool = False) -> None:
    """Preflight only: image in ECR by digest, cluster/service/roles exist, no rollout in progress. Mutates nothing."""
    ctx = _context(config or None)
    report = usecases.verify(ctx, env, _digest(digest))
    if json:
        print_json({"environment": report.env, "image_uri": report.image, "checks": report.checks})
    else:
        for line in report.checks:
            print(f"ok: {line}")
    _print_calls(dict(ctx.counter.requests))


@task(help={"env": RELEASE_HELP["env"], "digest": DIGEST_HELP, "config": CONFIG_HELP, "json": "Print JSON."})
@handle_errors
def diff(c: InvokeContext, env: str = "", digest: str = "", config: str = "", json: bool = False) -> None:
    """Rendered task definition vs the running one, and the image vs upstream's. Exit 0 same, 2 different."""
    ctx = _context(config or None)
    report = usecases.diff(ctx, env, _digest(digest))
    if json:
        print_json(
            {"environment": report.env, "diff": report.diff, "cross_environment": report.cross_environment}
        )
    else:
        print("\n".join(report.diff) if report.diff else f"{report.env}: task definition unchanged")
        for line in report.cross_environment:
            print(f"cross-environment: {line}")
    if report.changed:
        raise Exit(code=EXIT_BAD_INPUT)


@task(help={"env": RELEASE_HELP["env"], "config": CONFIG_HELP, "json": "Print JSON."})
@handle_errors
def drift(c: InvokeContext, env: str = "", config: str = "", json: bool = False) -> None:
    """Compare the digest ECS runs in ENV with the ledger's last success; exit 1 when they differ."""
    ctx = _context(config or None)
    report = usecases.drift(ctx, env)
    if json:
        print_json(
            {
                "environment": report.env,
                "running_digest": report.running_digest,
                "ledger_digest": report.ledger_digest,
                "task_definition_arn": report.task_definition_arn,
                "deployment_in_progress": report.in_progress,
                "drifted": report.drifted,
            }
        )
    else:
        print(f"{report.env}: running {report.running_digest} ({report.task_definition_arn})")
        print(f"{report.env}: ledger's last success {report.ledger_digest}")
        if report.in_progress:
            print(f"{report.env}: a deployment is in progress")
    if report.drifted:
        raise Exit(
            f"envpromote: drift: {report.env} runs {report.running_digest} but the ledger's last success is "
            f"{report.ledger_digest}. Fix: promote or roll back through envpromote so the ledger is the truth.",
            code=1,
        )


@task(help={"env": RELEASE_HELP["env"], "config": CONFIG_HELP, "json": "Print JSON.", "limit": "Newest N."})
@handle_errors
def history(c: InvokeContext, env: str = "", config: str = "", json: bool = False, limit: int = 50) -> None:
    """ENV's release records from the ledger, newest first."""
    ctx = _context(config or None)
    records = usecases.history(ctx, env, limit)
    if json:
        print_json(records)
        return
    print(
        f"{'#':>4}  {'finished (UTC)':<20} {'kind':<8} {'status':<12} {'digest':<14} {'from':<8} {'approver':<12} actor"
    )
    for r in records:
        print(
            f"{r['sequence']:>4}  {r['finished_at'][:19]:<20} {r['kind']:<8} {r['status']:<12} "
            f"{r['digest'][7:19]:<14} {r['source_environment'] or '-':<8} {(r['approver'] or '-')[:12]:<12} {r['actor']}"
        )
    if not records:
        print(f"(no records for {env})")


@task(
    help={
        "config": CONFIG_HELP,
        "keep": "Keep the sandbox's current state instead of resetting it first.",
    }
)
@handle_errors
def demo(c: InvokeContext, config: str = "", keep: bool = False) -> None:
    """The main job on the local sandbox: build, deploy dev, promote staging and production, fail fast, roll back."""
    from envpromote import sandbox
    from envpromote.config import config_path
    from envpromote.demo import demo_environment, run_demo

    path = str(config_path(config or None).resolve())
    info = sandbox.ensure_running(path, provision_chain=keep)
    if not keep:
        sandbox.reset(info.url)
        sandbox.provision(info.url, path)
    print(
        f"sandbox: {info.url} (pid {info.pid}); 'invoke sandbox.env' prints the variables to use it yourself"
    )
    results = run_demo(Path.cwd(), path, demo_environment(info.url, sandbox.client_env(info.url)))
    print("\nstep                                                               expected  got   seconds")
    for r in results:
        mark = "ok " if r.ok else "BAD"
        print(f"{mark} {r.title[:62]:<62} {r.expected:>5} {r.exit_code:>5} {r.seconds:>8.1f}")
    failed = [r for r in results if not r.ok]
    if failed:
        raise Exit(f"envpromote: demo: {len(failed)} step(s) gave an unexpected exit code.", code=1)
    print(f"demo: all {len(results)} steps gave the expected exit codes; records are in .envpromote/records/")
    print(
        "the sandbox keeps running for you to explore ('invoke sandbox.status'); 'invoke sandbox.down' stops it"
    )


# ---- ledger collection ----------------------------------------------------------------------------


@task(name="verify", help={"config": CONFIG_HELP, "env": "Only this environment.", "json": "Print JSON."})
@handle_errors
def ledger_verify(c: InvokeContext, config: str = "", env: str = "", json: bool = False) -> None:
    """Check every record against the JSON Schema and every hash-chain link; name each broken link."""
    ctx = _context(config or None)
    environments = [ctx.config.env(env).name] if env else None
    checked, problems = ctx.ledger().verify(environments)
    if json:
        print_json({"records_checked": checked, "problems": [str(p) for p in problems]})
    else:
        print(f"ledger: {checked} records checked, {len(problems)} problems")
        for problem in problems:
            print(f"  broken: {problem}")
    if problems:
        raise LedgerError(
            f"The ledger's chain is broken in {len(problems)} place(s); first: {problems[0]}.",
            fix="Restore the named objects from S3 versioning; never edit records in place.",
        )


@task(name="sync", help={"config": CONFIG_HELP, "records_dir": RELEASE_HELP["records_dir"]})
@handle_errors
def ledger_sync(c: InvokeContext, config: str = "", records_dir: str = "") -> None:
    """Send records kept locally after a failed ledger write."""
    ctx = _context(config or None, records_dir or None)
    sent = sync_pending(ctx.ledger(), ctx.local_records())
    for record in sent:
        print(
            f"sent {record['environment']} #{record['sequence']} ({record['status']} {record['digest'][:19]})"
        )
    print(f"ledger.sync: {len(sent)} record(s) sent")


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
    ctx = _context(config or None)
    scan = None
    if scan_json:
        try:
            scan = json.loads(Path(scan_json).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInput(
                f"Cannot read scan report {scan_json}: {exc}.",
                fix="Pass the file 'invoke scan --json' wrote.",
            ) from None
        if isinstance(scan, dict) and "summary" in scan:  # a whole 'invoke scan --json' report
            scan = scan["summary"]
    key = usecases.record_build(ctx, _digest(digest) or "", scan=scan, source_commit=source_commit or None)
    print(f"build record: s3://{ctx.config.ledger.bucket}/{key}")


ledger = Collection("ledger", ledger_verify, ledger_sync, ledger_record_build)

ROOT_TASKS: list[Any] = [demo, render, deploy, promote, rollback, verify, diff, drift, history]
COLLECTIONS: dict[str, Any] = {"ledger": ledger}
