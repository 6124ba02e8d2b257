"""Approval (gate rule 5): by the protected GitHub environment, by --yes --approver, or at a terminal prompt.

The prompt shows the evidence and the task-definition diff once; the task does not print them again after
approval (the plan records `approved_via="prompt"`). End of input at the prompt is a refusal (exit 3).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from envpromote.errors import GateRefused

if TYPE_CHECKING:
    from envpromote.release.context import Approval
    from envpromote.release.plan import Plan


def approval_text(plan: Plan) -> str:
    """What an approver sees: the image, where it goes, what it replaces, the evidence and the diff."""
    verb = {"rollback": "Roll back", "deploy": "Deploy"}.get(plan.kind, "Promote")
    lines = [
        f"{verb} {plan.image.uri}",
        f"  to {plan.env.name} ({plan.env.cluster}/{plan.env.service}) from {plan.source_environment or '-'}",
        f"  replacing {plan.previous_digest or 'unknown'}",
    ]
    if plan.supersedes is not None:
        lines.append(f"  stopping the rollout in progress: {plan.supersedes.describe()}")
    lines += [
        "Evidence:",
        *(f"  - {line}" for line in plan.evidence),
        "Task-definition diff:" if plan.diff else "Task definition: no change besides the image.",
        *plan.diff,
    ]
    return "\n".join(lines)


def approve(plan: Plan, approval: Approval) -> Plan:
    """The plan with its recorded approver, or GateRefused where the environment requires approval."""
    env = plan.env
    if not env.approval_required:
        return dataclasses.replace(plan, approver=approval.approver, approved_via="not-required")
    if approval.github_environment:
        recorded = approval.approver or f"github-environment:{env.name}"
        return dataclasses.replace(plan, approver=recorded, approved_via="github-environment")
    if approval.assume_yes:
        if not approval.approver:
            raise GateRefused(
                f"{env.name} requires approval and --yes was given without --approver.",
                fix="Add --approver NAME (recorded in the release record).",
            )
        return dataclasses.replace(plan, approver=approval.approver, approved_via="assume-yes")
    if approval.prompt is not None:
        approver = approval.prompt(approval_text(plan))
        if approver:
            return dataclasses.replace(plan, approver=approver, approved_via="prompt")
        raise GateRefused(
            f"Promotion to {env.name} was not approved.", fix="Approve at the prompt, or don't."
        )
    raise GateRefused(
        f"{env.name} requires approval.",
        fix="Run in its protected GitHub environment, answer the prompt in a terminal, or pass --yes --approver NAME.",
    )


def terminal_prompt(
    evidence: str,
    *,
    env_name: str,
    default_approver: str,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
) -> str | None:
    """Show the evidence, ask for the environment's name, then the approver's. None when declined.

    End of input (Ctrl-D, a closed stdin) is a refusal with its own message, not a crash.
    """
    write(evidence)
    try:
        answer = read(f"Type '{env_name}' to approve (anything else refuses): ").strip()
        if answer != env_name:
            return None
        name = read(f"Approver name [{default_approver}]: ").strip()
    except EOFError:
        raise GateRefused(
            f"Promotion to {env_name} was not approved: the input ended at the approval prompt.",
            fix="Answer the prompt in a terminal, or pass --yes --approver NAME.",
        ) from None
    return name or default_approver
