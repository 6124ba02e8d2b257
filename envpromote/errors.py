"""One error hierarchy; each class carries the exit code that every task uses for it.

Exit codes (documented in the README):
0 success, 1 unexpected error, 2 bad input/usage, 3 gate refused, 4 preflight failed,
5 deployment failed and ECS rolled back, 6 rollback failed, 7 timed out, 8 environment locked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2
EXIT_GATE_REFUSED = 3
EXIT_PREFLIGHT_FAILED = 4
EXIT_ROLLED_BACK = 5
EXIT_ROLLBACK_FAILED = 6
EXIT_TIMED_OUT = 7
EXIT_LOCKED = 8


class EnvPromoteError(Exception):
    """Base class. `message` says what is wrong; `fix` says what to do about it; `reasons` are the lines under
    the message (the config's key paths at fault, why a deployment failed), empty where there are none."""

    exit_code = EXIT_UNEXPECTED

    def __init_subclass__(cls, *, exit_code: int | None = None, **kwargs: Any) -> None:
        """``class GateRefused(EnvPromoteError, exit_code=EXIT_GATE_REFUSED)``; without one, the parent's."""
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code

    def __init__(self, message: str, *, fix: str | None = None, reasons: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.reasons = list(reasons)

    def one_line(self) -> str:
        """The single line printed for the user: problem, then the fix."""
        text = " ".join(self.message.split())
        if self.fix:
            text = f"{text} Fix: {' '.join(self.fix.split())}"
        return text


class BadInput(EnvPromoteError, exit_code=EXIT_BAD_INPUT):
    """Invalid option, config, template or image reference."""


class ConfigError(BadInput):
    """envpromote.toml is missing or invalid; `reasons` lists every key path at fault."""

    @property
    def problems(self) -> list[str]:
        """The key paths at fault (`reasons`, by the name the config's validators give them)."""
        return self.reasons


class GateRefused(EnvPromoteError, exit_code=EXIT_GATE_REFUSED):
    """A promotion rule (upstream success, soak, approval, scan) refused the digest."""


class PreflightFailed(EnvPromoteError, exit_code=EXIT_PREFLIGHT_FAILED):
    """The target is not ready: missing image, cluster, service, role, or a rollout in progress."""


class DeploymentFailed(EnvPromoteError, exit_code=EXIT_ROLLED_BACK):
    """ECS reported the deployment FAILED or rolled it back."""


class RollbackFailed(EnvPromoteError, exit_code=EXIT_ROLLBACK_FAILED):
    """A rollback could not restore the previous release."""


class RolloutTimedOut(EnvPromoteError, exit_code=EXIT_TIMED_OUT):
    """The rollout reached no conclusion within the time allowed (or its outcome is unknown)."""


class EnvironmentLocked(EnvPromoteError, exit_code=EXIT_LOCKED):
    """Another promotion holds the environment's lock."""


class LedgerError(EnvPromoteError, exit_code=EXIT_PREFLIGHT_FAILED):
    """The ledger is unreachable, corrupted or its hash chain is broken: nothing can be gated on it."""
