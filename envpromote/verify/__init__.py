"""Verification of a new revision on test traffic (the verified pause) and during bake, and acting on a pause.

- ``checks``: :class:`Verifier` runs an environment's HTTP checks, alarms and command -> evidence
  ``{check, result, detail}`` (the ledger's ``verification`` entries);
- ``control``: :func:`pause_handler` (the stage watcher's ``on_pause``), :func:`continue_deployment` (the
  `continue` command), :func:`roll_back_service_deployment`, :func:`stage_status` (for `status`);
- ``watch``: :func:`strategy_watcher` - the StageWatcher of an environment's strategy, verifying at its pause.
"""

from envpromote.verify.checks import Evidence, Verifier, VerifyContext, passed
from envpromote.verify.control import (
    Resolved,
    continue_deployment,
    pause_approval_text,
    pause_handler,
    roll_back_service_deployment,
    stage_status,
)
from envpromote.verify.watch import strategy_watcher

__all__ = [
    "Evidence",
    "Resolved",
    "Verifier",
    "VerifyContext",
    "continue_deployment",
    "passed",
    "pause_approval_text",
    "pause_handler",
    "roll_back_service_deployment",
    "stage_status",
    "strategy_watcher",
]
