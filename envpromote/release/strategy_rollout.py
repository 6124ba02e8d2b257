"""The release's side of the ECS-native strategies (blue/green, canary, linear): what execute and records call.

- :func:`update_kwargs`: the UpdateService ``deploymentConfiguration`` of the environment's strategy, merged with
  the service's current one (nothing for a rolling environment whose service already rolls);
- :func:`watch_strategy`: for a non-rolling environment the watch is the StageWatcher of
  :func:`envpromote.verify.strategy_watcher` (verified pause against ``verify.test_url`` -> CONTINUE/ROLLBACK,
  bake checks); None for rolling (execute watches as before);
- :func:`record_fields`: the record's ``strategy``, ``verification`` and ``service_deployment_arn``;
- :func:`pause_approval`: ``--approve-at-pause``, a terminal prompt that shows every check's result;
- :func:`deployment_stage` (for `drift`/`status`) and :func:`strategy_note` (for `history`).

The record schema has no ``stage`` and no ``rollback_failed`` status yet: the last lifecycle stage goes into the
reasons, and a failed ECS rollback is recorded as ``failed`` and raised as RollbackFailed (exit 6).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from envpromote.errors import RollbackFailed
from envpromote.image import short_digest
from envpromote.rollout import Outcome, Progress, WatchTarget
from envpromote.rollout.stages import PausedHook
from envpromote.strategy import describe, merged_deployment_configuration, minimum_watch_seconds
from envpromote.verify import VerifyContext, pause_approval_text, stage_status, strategy_watcher
from envpromote.verify.checks import Evidence

if TYPE_CHECKING:
    from envpromote.config import Environment
    from envpromote.release.context import Context
    from envpromote.release.plan import Plan
    from envpromote.release.records import Run

Approve = Callable[[PausedHook, Sequence[Evidence]], bool]
STAGE_REASON = (
    "last lifecycle stage: "  # the record has no `stage` field yet: the stage is kept in the reasons
)


def update_kwargs(ctx: Context, env: Environment) -> dict[str, Any]:
    """Extra UpdateService arguments: the strategy's deploymentConfiguration merged with the service's current one.

    A rolling environment sends nothing extra and costs no extra call (its UpdateService is exactly as before;
    the infrastructure's circuit breaker and percentages stay as they are - a service switched back from
    blue/green to rolling is switched by the infrastructure, which owns its deployment configuration).
    """
    if env.strategy.kind == "rolling":
        return {}
    from envpromote.release.context import describe_service

    current = describe_service(ctx, env).get("deploymentConfiguration") or {}
    return {"deploymentConfiguration": merged_deployment_configuration(current, env.strategy)}


def watch_strategy(
    ctx: Context,
    plan: Plan,
    run: Run,
    target: WatchTarget,
    timeout: float,
    show: Callable[[Progress], None],
) -> Outcome | None:
    """Follow a blue/green, canary or linear deployment through its stages; None for rolling environments.

    The watch gets the strategy's own waits (bake, canary bake, linear steps) on top of `timeout`. The outcome
    carries its last stage in the reasons (the record has no ``stage`` field yet); ``rollback_failed`` (ECS could
    not restore the previous revision) is recorded as ``failed`` and raised as RollbackFailed (exit 6).
    """
    env = plan.env
    strategy = env.strategy
    if strategy.kind == "rolling":
        return None
    assert run.new_arn is not None
    verify = strategy.verify
    watcher = strategy_watcher(
        ctx.env_client(env, "ecs"),
        env.cluster,
        env.service,
        strategy,
        VerifyContext(
            env=env.name, digest=plan.image.digest, image=plan.image.uri, task_definition=run.new_arn
        ),
        cloudwatch=ctx.env_client(env, "cloudwatch") if verify is not None and verify.alarms else None,
        policy=ctx.poll_policy,
        on_progress=show,
        approve=ctx.pause_approval,
    )
    ctx.out(f"strategy: {describe(strategy)}")
    outcome = watcher.watch(target, timeout=timeout + minimum_watch_seconds(strategy))
    reasons = list(outcome.reasons)
    if outcome.stage:
        reasons.append(f"{STAGE_REASON}{outcome.stage}")
    reasons += [
        f"verification {v['result']}: {v['check']}: {v['detail']}"
        for v in outcome.verification
        if v.get("result") == "fail"
    ]
    outcome = dataclasses.replace(outcome, reasons=reasons)
    if outcome.status == "rollback_failed":
        run.outcome = dataclasses.replace(outcome, status="failed")
        run.status = "failed"
        run.reasons = [f"rollback failed: {outcome.summary} (decided by {outcome.source})", *reasons]
        raise RollbackFailed(
            f"{plan.kind} of {short_digest(plan.image.digest)} to {env.name}: ECS could not roll back: "
            f"{outcome.summary}.",
            fix="Check the service in ECS now; 'invoke status' shows its stage.",
        )
    if outcome.status == "paused":  # only with stop_at_pause, which a release never asks for
        outcome = dataclasses.replace(outcome, status="timed_out")
    return outcome


def record_fields(plan: Plan, run: Run) -> dict[str, Any]:
    """The record's strategy fields (``new_record`` keyword arguments)."""
    outcome = run.outcome
    return {
        "strategy": describe(plan.env.strategy),
        "verification": list(outcome.verification) if outcome is not None else [],
        # The stage watcher knows the service deployment it followed; a rolling watch leaves it to the engine's
        # own lookup (run.service_deployment_arn, from ListServiceDeployments after the update).
        "service_deployment_arn": (outcome.service_deployment_arn if outcome is not None else None)
        or run.service_deployment_arn,
    }


def pause_approval(ctx: Context, env_name: str) -> Approve:
    """``--approve-at-pause``: a person approves at the pause after reading every check's result."""
    from envpromote.release.approve import terminal_prompt

    def approve(hook: PausedHook, results: Sequence[Evidence]) -> bool:
        return (
            terminal_prompt(
                pause_approval_text(hook, results),
                env_name=env_name,
                default_approver=ctx.identity.actor,
            )
            is not None
        )

    return approve


def deployment_stage(ctx: Context, env_name: str) -> str | None:
    """For `drift`/`status`: the active service deployment's stage (and pause), None when none is active."""
    env = ctx.config.env(env_name)
    return stage_status(ctx.env_client(env, "ecs"), env.cluster, env.service)


def strategy_note(record: Mapping[str, Any]) -> str:
    """For `history`: `` [blue_green ..., verification 3/3 pass, stage BAKE_TIME]`` ('' for rolling records)."""
    if not record.get("strategy") or str(record["strategy"]).startswith("rolling"):
        return ""  # the default says nothing a reader needs
    parts = [str(record["strategy"])]
    checks = record.get("verification") or []
    if checks:
        passed = sum(1 for v in checks if v.get("result") == "pass")
        parts.append(f"verification {passed}/{len(checks)} pass")
    stages = [str(r) for r in record.get("reasons") or [] if str(r).startswith(STAGE_REASON)]
    if stages:
        parts.append(f"stage {stages[-1][len(STAGE_REASON) :]}")
    return f" [{', '.join(parts)}]"
