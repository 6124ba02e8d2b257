"""Release tasks: deploy, promote, rollback.

The options the three verbs share are declared once, in :class:`ReleaseOptions`; ``release_task`` (an
:func:`~envpromote.tasks._release_common.options_task`) gives invoke each verb's full flag list (shared options
plus the verb's own) and hands the body the shared ones as one value. One path decides no-op, approval and run
for all three: :func:`_release`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from typing import TYPE_CHECKING, Any

from invoke.context import Context as InvokeContext

from envpromote.errors import DeploymentFailed
from envpromote.tasks._common import Interrupted, command, print_json
from envpromote.tasks._release_common import (
    CONFIG_HELP,
    DIGEST_HELP,
    ENV_HELP,
    JSON_HELP,
    RECORDS_DIR_HELP,
    digest_option,
    options_task,
    print_calls,
    release_context,
)

if TYPE_CHECKING:
    from envpromote.release import Approval, Context, Plan, ReleaseResult


@dataclasses.dataclass(frozen=True)
class ReleaseOptions:
    """The options every release verb takes, each with its one default (its help text: RELEASE_HELP)."""

    env: str = ""
    config: str = ""
    dry_run: bool = False
    json: bool = False
    timeout: str = "900"
    records_dir: str = ""
    watch: str = "auto"
    force: bool = False


RELEASE_HELP = {
    "env": ENV_HELP,
    "config": CONFIG_HELP,
    "dry_run": "Print the plan and the task-definition diff; change nothing.",
    "json": JSON_HELP,
    "timeout": "Seconds to wait for ECS to decide (default 900).",
    "records_dir": RECORDS_DIR_HELP,
    "watch": "How to follow the rollout: auto (ECS events when the environment has a queue), events, poll.",
    "force": "Release even when the digest already runs there and is the ledger's last success.",
}
ROLLBACK_ON_TIMEOUT_HELP = "If ECS has not decided by the timeout, put the previous task definition back."
APPROVAL_HELP = {
    "yes": "Approve without a prompt (requires --approver where approval is required).",
    "approver": "Name recorded as the approver.",
}
release_task = options_task(ReleaseOptions, RELEASE_HELP)  # @release_task(option=help) over def verb(c, opts)


def _prepared(opts: ReleaseOptions) -> tuple[Context, float]:
    """Everything about the options is checked before planning, so a dry run refuses what a real run would."""
    from envpromote import release

    ctx = release_context(opts.config, opts.records_dir, env=opts.env)
    seconds = release.ensure_time(opts.timeout, "timeout")
    ctx.watch_mode = release.check_watch_mode(opts.watch, ctx.config.env(opts.env))
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
    record = result.record
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


def _already_there(ctx: Context, plan: Plan) -> bool:
    """The digest already runs in the environment and is its last success: releasing it would change nothing."""
    if plan.previous_digest != plan.image.digest:
        return False
    last = ctx.ledger().last_success(plan.env.name)  # one read, only when ECS already runs the digest
    return last is not None and last.get("digest") == plan.image.digest


def _no_op(plan: Plan, as_json: bool) -> None:
    """Nothing registered, nothing rolled out, nothing recorded: the ledger records changes, and this is none."""
    text = (
        f"{plan.image.digest} already runs in {plan.env.name} and is its last recorded success: "
        f"nothing to do (--force re-deploys it)"
    )
    if as_json:
        print_json({"no_op": True, "reason": text, "plan": _plan_dict(plan)})
    else:
        print(f"no-op: {text}")


def _interrupted(plan: Plan) -> Interrupted:
    env = plan.env.name
    return Interrupted(
        f"interrupted during the {env} release of {plan.image.digest[:19]}. If UpdateService had been called, "
        f"ECS carries on with the rollout without us (its circuit breaker still decides and rolls back on "
        f"failure); the release is recorded as aborted.",
        f"See where it ends with '{command('status')}' or '{command(f'drift --env {env}')}'; "
        f"put the last success back with '{command(f'rollback --env {env}')}'.",
    )


def _run(
    ctx: Context,
    plan: Plan,
    *,
    dry_run: bool,
    as_json: bool,
    seconds: float,
    rollback_on_timeout: bool,
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
        except KeyboardInterrupt:  # SIGINT, or SIGTERM through sigterm_aborts; execute has recorded it
            raise _interrupted(plan) from None
    _finish(ctx, result, as_json)


def _release(
    ctx: Context,
    plan: Plan,
    approval: Approval | None,
    opts: ReleaseOptions,
    *,
    seconds: float,
    rollback_on_timeout: bool = False,
) -> None:
    """A no-op is said (and nobody is asked to approve nothing); else the plan is approved and run, or printed.

    `plan` is planned without approval; `approval` is None for a deploy, which needs none.
    """
    from envpromote.release.announce import refusal_announced
    from envpromote.release.approve import approve

    if not opts.dry_run and not opts.force and _already_there(ctx, plan):
        _no_op(plan, opts.json)
        return
    if approval is not None and not opts.dry_run:
        not_asked = f"approval: required for {plan.env.name}; not asked in a dry run"
        # A missing approval in CI is a gate refusal too: the environment's targets are told (exit 3 stays).
        with refusal_announced(ctx, plan.env.name, plan.kind, plan.image.digest):
            plan = approve(
                dataclasses.replace(plan, evidence=tuple(e for e in plan.evidence if e != not_asked)),
                approval,
            )
    _run(
        ctx,
        plan,
        dry_run=opts.dry_run,
        as_json=opts.json,
        seconds=seconds,
        rollback_on_timeout=rollback_on_timeout,
    )


@release_task(digest=DIGEST_HELP, rollback_on_timeout=ROLLBACK_ON_TIMEOUT_HELP)
def deploy(
    c: InvokeContext, opts: ReleaseOptions, *, digest: str = "", rollback_on_timeout: bool = False
) -> None:
    """Deploy a digest to the entry environment (dev); no upstream gate, the scan gate still applies."""
    from envpromote.release import plan_deploy
    from envpromote.release.announce import refusal_announced

    ctx, seconds = _prepared(opts)
    with refusal_announced(ctx, opts.env, "deploy", digest_option(digest), dry_run=opts.dry_run):  # CI: told
        plan = plan_deploy(ctx, opts.env, digest_option(digest))
    _release(ctx, plan, None, opts, seconds=seconds, rollback_on_timeout=rollback_on_timeout)


@release_task(
    **APPROVAL_HELP,
    digest="Digest to promote (default: $ENVPROMOTE_DIGEST, else the upstream's last success).",
    rollback_on_timeout=ROLLBACK_ON_TIMEOUT_HELP,
    allow_unscanned="Let an unscanned digest through (non-production only; recorded).",
    approve_at_pause="Blue/green/canary/linear: a person approves at the pause after the checks passed.",
)
def promote(
    c: InvokeContext,
    opts: ReleaseOptions,
    *,
    digest: str = "",
    yes: bool = False,
    approver: str = "",
    allow_unscanned: bool = False,
    rollback_on_timeout: bool = False,
    approve_at_pause: bool = False,
) -> None:
    """Promote the upstream's digest into ENV after the gates: upstream success, soak, scan, approval."""
    from envpromote.release import Approval, plan_promote
    from envpromote.release.announce import refusal_announced
    from envpromote.release.strategy_rollout import pause_approval

    ctx, seconds = _prepared(opts)
    ctx.pause_approval = pause_approval(ctx, opts.env) if approve_at_pause else None
    with refusal_announced(ctx, opts.env, "promote", digest_option(digest), dry_run=opts.dry_run):  # CI: told
        # Planned without asking anyone first: a no-op is said before an approver is prompted for nothing.
        unapproved = plan_promote(
            ctx,
            opts.env,
            digest_option(digest),
            approval=Approval(),
            allow_unscanned=allow_unscanned,
            dry_run=True,
        )
    approval = _approval(yes, approver or None, opts.env)
    _release(ctx, unapproved, approval, opts, seconds=seconds, rollback_on_timeout=rollback_on_timeout)


@release_task(
    **APPROVAL_HELP, to="Digest to return to (default: the ledger's last success before the running one)."
)
def rollback(
    c: InvokeContext, opts: ReleaseOptions, *, to: str = "", yes: bool = False, approver: str = ""
) -> None:
    """Re-deploy ENV's last known-good digest from the ledger (not 'revision N-1'); recorded as a rollback."""
    from envpromote.release import Approval, plan_rollback
    from envpromote.release.strategy_rollback import roll_back_in_place

    ctx, seconds = _prepared(opts)
    if not opts.dry_run and roll_back_in_place(ctx, opts.env, timeout=seconds) is not None:
        return  # blue/green, canary, linear: the paused or in-progress deployment was rolled back in place
    unapproved = plan_rollback(ctx, opts.env, to or None, approval=Approval(), dry_run=True)
    _release(ctx, unapproved, _approval(yes, approver or None, opts.env), opts, seconds=seconds)


ROOT_TASKS: list[Any] = [deploy, promote, rollback]
