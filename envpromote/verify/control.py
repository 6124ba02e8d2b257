"""Acting on a paused or in-progress service deployment: the verified pause, `continue`, and rollback.

- :func:`pause_handler`: what the stage watcher calls at EnvPromote's PAUSE hook - run the checks (and the
  optional human approval), then ContinueServiceDeployment CONTINUE if all passed, ROLLBACK otherwise;
- :func:`continue_deployment`: the `continue` command - find the deployment paused at a hook and continue it or
  roll it back; a clear refusal when nothing is paused;
- :func:`roll_back_service_deployment`: roll back a paused (ContinueServiceDeployment ROLLBACK) or in-progress
  (StopServiceDeployment ROLLBACK) deployment - never a second blue/green deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from envpromote.errors import EnvPromoteError, PreflightFailed
from envpromote.rollout.stages import PausedHook, paused_hook, short_arn_of, stage_line
from envpromote.verify.checks import Evidence, Verifier, evidence, passed

Approve = Callable[[PausedHook, Sequence[Evidence]], bool]
ACTIVE = ["PENDING", "IN_PROGRESS"]
_AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def pause_handler(
    ecs: Any, verifier: Verifier, *, approve: Approve | None = None
) -> Callable[[PausedHook], list[Evidence]]:
    """The StageWatcher's ``on_pause``: verify on test traffic, then CONTINUE or ROLLBACK; returns the evidence."""

    def handle(hook: PausedHook) -> list[Evidence]:
        results = verifier.run("pause")
        if passed(results) and approve is not None:
            try:
                approved = approve(hook, results)
                detail = "approved at the pause" if approved else "declined at the pause"
            except (EnvPromoteError, EOFError) as exc:  # a closed stdin at the prompt is a refusal
                approved = False
                detail = (
                    f"not approved: {exc.one_line() if isinstance(exc, EnvPromoteError) else 'input ended'}"
                )
            results.append(evidence("pause: approval", approved, detail))
        action = "CONTINUE" if passed(results) else "ROLLBACK"
        try:
            ecs.continue_service_deployment(
                serviceDeploymentArn=hook.service_deployment_arn, hookId=hook.hook_id, action=action
            )
        except _AWS_ERRORS as exc:
            results.append(evidence(f"pause: ContinueServiceDeployment {action}", False, str(exc)))
        else:
            results.append(
                evidence(
                    f"pause: ContinueServiceDeployment {action}", True, f"hook {hook.hook_id} at {hook.stage}"
                )
            )
        return results

    return handle


def pause_approval_text(hook: PausedHook, results: Sequence[Evidence]) -> str:
    """What a person approving at the pause sees: where it is paused and every check's result."""
    lines = [f"The new revision is {hook.line()}, on test traffic only. Checks:"]
    lines += [f"  {r['result'].upper():4} {r['check']}: {r['detail']}" for r in results]
    lines.append("Approving lets ECS shift production traffic to it; refusing rolls it back.")
    return "\n".join(lines)


@dataclass(frozen=True)
class Resolved:
    """What `continue` / rollback did: the call, on which service deployment, at which stage."""

    service_deployment_arn: str
    action: str  # CONTINUE | ROLLBACK (ContinueServiceDeployment) or STOP_ROLLBACK (StopServiceDeployment)
    stage: str | None
    hook_id: str | None = None

    def line(self) -> str:
        at = f" at {self.stage}" if self.stage else ""
        if self.action == "STOP_ROLLBACK":
            return f"stopped service deployment {short_arn_of(self.service_deployment_arn)}{at} with ROLLBACK"
        return (
            f"{self.action} sent to service deployment {short_arn_of(self.service_deployment_arn)}{at} "
            f"(hook {self.hook_id})"
        )


def active_service_deployments(ecs: Any, cluster: str, service: str) -> list[Mapping[str, Any]]:
    """The service's PENDING/IN_PROGRESS service deployments, described (newest first)."""
    briefs = ecs.list_service_deployments(cluster=cluster, service=service, status=ACTIVE).get(
        "serviceDeployments", []
    )
    arns = [str(b["serviceDeploymentArn"]) for b in briefs if b.get("serviceDeploymentArn")][:20]
    if not arns:
        return []
    described = ecs.describe_service_deployments(serviceDeploymentArns=arns).get("serviceDeployments", [])
    order = {arn: index for index, arn in enumerate(arns)}
    return sorted(described, key=lambda d: order.get(str(d.get("serviceDeploymentArn")), len(order)))


def continue_deployment(ecs: Any, cluster: str, service: str, *, rollback: bool) -> Resolved:
    """Continue (or roll back) the deployment of `service` paused at a PAUSE hook; PreflightFailed if none is."""
    active = active_service_deployments(ecs, cluster, service)
    for deployment in active:
        hook = paused_hook(deployment)
        if hook is not None:
            action = "ROLLBACK" if rollback else "CONTINUE"
            ecs.continue_service_deployment(
                serviceDeploymentArn=hook.service_deployment_arn, hookId=hook.hook_id, action=action
            )
            return Resolved(hook.service_deployment_arn, action, hook.stage, hook.hook_id)
    if active:
        shown = "; ".join(stage_line(d) for d in active)
        raise PreflightFailed(
            f"No deployment of {service} is paused at a hook: {shown}.",
            fix="Wait for the deployment to reach its PAUSE hook, or use 'invoke rollback' to stop it.",
        )
    raise PreflightFailed(
        f"No deployment of {service} in cluster {cluster} is in progress, so there is nothing to continue.",
        fix="Check 'invoke status'; a PAUSE hook that timed out has already been resolved by ECS.",
    )


def roll_back_service_deployment(ecs: Any, cluster: str, service: str) -> Resolved | None:
    """Roll back the service's active deployment in place; None when no deployment is active (roll back as usual)."""
    active = active_service_deployments(ecs, cluster, service)
    if not active:
        return None
    deployment = active[0]
    hook = paused_hook(deployment)
    arn = str(deployment.get("serviceDeploymentArn"))
    stage = deployment.get("lifecycleStage")
    if hook is not None:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook.hook_id, action="ROLLBACK")
        return Resolved(arn, "ROLLBACK", hook.stage, hook.hook_id)
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    return Resolved(arn, "STOP_ROLLBACK", str(stage) if stage else None)


def stage_status(ecs: Any, cluster: str, service: str) -> str | None:
    """For `status`: the active service deployment's stage and pause, or None when none is active.

    ``service deployment sd-2 IN_PROGRESS at POST_TEST_TRAFFIC_SHIFT: new revision 2/2 running, ..., paused at
    POST_TEST_TRAFFIC_SHIFT (hook h1)``. Read errors (and endpoints without the service deployments API) give None.
    """
    try:
        active = active_service_deployments(ecs, cluster, service)
    except (*_AWS_ERRORS, AttributeError):
        return None
    if not active:
        return None
    return stage_line(active[0], paused_hook(active[0]))
