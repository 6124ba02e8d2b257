"""Release tasks: deploy, promote, rollback (and demo, the whole chain on the sandbox)."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.context import Context as InvokeContext
from invoke.exceptions import Exit
from invoke.tasks import task

from envpromote.errors import DeploymentFailed
from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import (
    CONFIG_HELP,
    DIGEST_HELP,
    ENV_HELP,
    RECORDS_DIR_HELP,
    digest_option,
    print_calls,
    release_context,
)

if TYPE_CHECKING:
    from envpromote.release import Approval, Context, Plan, ReleaseResult

RELEASE_HELP = {
    "env": ENV_HELP,
    "digest": DIGEST_HELP,
    "config": CONFIG_HELP,
    "dry_run": "Print the plan and the task-definition diff; change nothing.",
    "json": "Print the result as JSON.",
    "timeout": "Seconds to wait for ECS to decide (default 900).",
    "rollback_on_timeout": "If ECS has not decided by the timeout, put the previous task definition back.",
    "records_dir": RECORDS_DIR_HELP,
    "watch": "How to follow the rollout: auto (ECS events when the environment has a queue), events, poll.",
}
APPROVAL_HELP = {
    "yes": "Approve without a prompt (requires --approver where approval is required).",
    "approver": "Name recorded as the approver.",
}


def _prepared(config: str, records_dir: str, env: str, timeout: Any, watch: str) -> tuple[Context, float]:
    """Everything about the options is checked before planning, so a dry run refuses what a real run would."""
    from envpromote import release

    ctx = release_context(config, records_dir, env=env)
    seconds = release.ensure_time(timeout, "timeout")
    release.check_timeout_within_lease(seconds, ctx.config.lock.lease_seconds)
    ctx.watch_mode = release.check_watch_mode(watch, ctx.config.env(env))
    return ctx, seconds


def _approval(yes: bool, approver: str | None, env_name: str) -> Approval:
    from envpromote.release import Approval, Identity, terminal_prompt

    via_github = os.environ.get("ENVPROMOTE_APPROVED_VIA") == "github-environment"
    prompt = None
    if sys.stdin.isatty() and not yes:
        prompt = functools.partial(
            terminal_prompt, env_name=env_name, default_approver=Identity.from_environment().actor
        )
    return Approval(
        approver=approver or (os.environ.get("ENVPROMOTE_APPROVER") if via_github else None),
        assume_yes=yes,
        github_environment=via_github and os.environ.get("GITHUB_ACTIONS") == "true",
        prompt=prompt,
    )


def _print_plan(plan: Plan) -> None:
    print(f"{plan.kind} {plan.image.uri} -> {plan.env.name} ({plan.env.cluster}/{plan.env.service})")
    print(
        f"replaces: {plan.previous_digest or 'unknown'} ({plan.running_taskdef_arn or 'no task definition'})"
    )
    if plan.approved_via == "prompt":  # the approver has just read the evidence and the diff at the prompt
        print(f"  approved at the prompt by {plan.approver}")
        return
    for line in plan.evidence:
        print(f"  ok: {line}")
    if plan.approver:
        print(f"  approver: {plan.approver}")
    print("\n".join(plan.diff) if plan.diff else "task definition: unchanged")


def _plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "environment": plan.env.name,
        "kind": plan.kind,
        "image_uri": plan.image.uri,
        "source_environment": plan.source_environment,
        "previous_digest": plan.previous_digest,
        "running_task_definition_arn": plan.running_taskdef_arn,
        "evidence": list(plan.evidence),
        "approver": plan.approver,
        "diff": list(plan.diff),
        "task_definition": plan.taskdef,
    }


def _finish(ctx: Context, result: ReleaseResult, as_json: bool) -> None:
    record = result.record or {}
    if as_json:
        print_json({"record": record, "record_path": str(result.record_path), "api_calls": result.api_calls})
    else:
        print(
            f"{record.get('status')}: {record.get('kind')} {record.get('digest')} to {record.get('environment')}"
        )
        if result.outcome:
            print(f"  {result.outcome.summary} (decided after {result.outcome.seconds:.1f}s of watching)")
        print(f"  record: {result.record_path}")
    print_calls(dict(ctx.counter.requests))  # every call, the record's write and the lock release included


def _run(
    ctx: Context, plan: Plan, *, dry_run: bool, as_json: bool, seconds: float, rollback_on_timeout: bool
) -> None:
    from envpromote.release import execute, sigterm_aborts

    if dry_run:
        if as_json:
            print_json({"dry_run": True, "plan": _plan_dict(plan)})
        else:
            _print_plan(plan)
            print("dry run: nothing changed")
        return
    _print_plan(plan)
    with sigterm_aborts():
        try:
            result = execute(ctx, plan, timeout=seconds, rollback_on_timeout=rollback_on_timeout)
        except DeploymentFailed as exc:
            for reason in exc.reasons:
                print(f"  reason: {reason}", file=sys.stderr)
            print_calls(dict(ctx.counter.requests))
            raise
    _finish(ctx, result, as_json)


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
    from envpromote.release import plan_deploy

    ctx, seconds = _prepared(config, records_dir, env, timeout, watch)
    plan = plan_deploy(ctx, env, digest_option(digest))
    _run(ctx, plan, dry_run=dry_run, as_json=json, seconds=seconds, rollback_on_timeout=rollback_on_timeout)


@task(
    help={
        **RELEASE_HELP,
        **APPROVAL_HELP,
        "digest": "Digest to promote (default: $ENVPROMOTE_DIGEST, else the upstream's last success).",
        "allow_unscanned": "Let an unscanned digest through (non-production only; recorded).",
        "approve_at_pause": "Blue/green/canary/linear: a person approves at the pause after the checks passed.",
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
    approve_at_pause: bool = False,
) -> None:
    """Promote the upstream's digest into ENV after the gates: upstream success, soak, scan, approval."""
    from envpromote.release import plan_promote
    from envpromote.release.strategy_rollout import pause_approval

    ctx, seconds = _prepared(config, records_dir, env, timeout, watch)
    ctx.pause_approval = pause_approval(ctx, env) if approve_at_pause else None
    plan = plan_promote(
        ctx,
        env,
        digest_option(digest),
        approval=_approval(yes, approver or None, env),
        allow_unscanned=allow_unscanned,
        dry_run=dry_run,
    )
    _run(ctx, plan, dry_run=dry_run, as_json=json, seconds=seconds, rollback_on_timeout=rollback_on_timeout)


@task(
    help={
        **{k: v for k, v in RELEASE_HELP.items() if k not in {"digest", "rollback_on_timeout"}},
        **APPROVAL_HELP,
        "to": "Digest to return to (default: the ledger's last success before the running one).",
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
    from envpromote.release import plan_rollback
    from envpromote.release.strategy_rollback import roll_back_in_place

    ctx, seconds = _prepared(config, records_dir, env, timeout, watch)
    if not dry_run and roll_back_in_place(ctx, env, timeout=seconds) is not None:
        return  # blue/green, canary, linear: the paused or in-progress deployment was rolled back in place
    plan = plan_rollback(
        ctx, env, to or None, approval=_approval(yes, approver or None, env), dry_run=dry_run
    )
    _run(ctx, plan, dry_run=dry_run, as_json=json, seconds=seconds, rollback_on_timeout=False)


@task(help={"config": CONFIG_HELP, "keep": "Keep the sandbox's current state instead of resetting it first."})
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


ROOT_TASKS: list[Any] = [demo, deploy, promote, rollback]
