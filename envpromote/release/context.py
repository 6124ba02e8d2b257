"""Who runs a release, how it is approved, and the context every step works in (clients, ledger, lock).

Also the option checks a task makes before planning, so a dry run refuses exactly what a real run would.
"""

from __future__ import annotations

import getpass
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions

from envpromote.aws import ApiCallCounter, ClientFactory
from envpromote.config import Config, Environment
from envpromote.errors import BadInput, PreflightFailed
from envpromote.image import ImageRef, parse_digest
from envpromote.ledger import Ledger, LocalRecords, validate_person_text
from envpromote.lock import EnvironmentLock, elapsed_clock
from envpromote.registry import registry_and_repository
from envpromote.rollout import PollPolicy

DEFAULT_TIMEOUT_S = 900.0
WATCH_MODES = ("auto", "events", "poll")


@dataclass(frozen=True)
class Identity:
    """Who and what is running this release (from GitHub Actions variables where present)."""

    actor: str
    run_id: str | None = None
    run_attempt: str | None = None
    workflow_ref: str | None = None
    commit: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Identity:
        env = os.environ if environ is None else environ
        try:
            local_user = getpass.getuser()
        except (KeyError, OSError):
            local_user = "unknown"
        return cls(
            actor=env.get("GITHUB_ACTOR") or local_user,
            run_id=env.get("GITHUB_RUN_ID"),
            run_attempt=env.get("GITHUB_RUN_ATTEMPT"),
            workflow_ref=env.get("GITHUB_WORKFLOW_REF"),
            commit=env.get("GITHUB_SHA"),
        )


@dataclass(frozen=True)
class Approval:
    """How approval is given: by the GitHub environment, by --yes --approver, or by an interactive prompt."""

    approver: str | None = None
    assume_yes: bool = False
    github_environment: bool = False
    prompt: Callable[[str], str | None] | None = None  # shows the evidence, returns the approver or None

    def __post_init__(self) -> None:
        # A value typed by a person is checked at the boundary, before any AWS call (exit 2 otherwise).
        if self.approver is not None:
            validate_person_text(self.approver, "--approver")


@dataclass
class Context:
    """The one place a release gets its AWS clients (through the one factory), ledger, lock and output."""

    config: Config
    identity: Identity
    out: Callable[[str], None] = print
    counter: ApiCallCounter = field(default_factory=ApiCallCounter)
    poll_policy: PollPolicy = field(default_factory=PollPolicy)
    records_dir: Path | None = None
    watch_mode: str = "auto"  # auto (events when the environment has a queue) | events | poll
    # The lock's clock and sleep (injectable so tests never wait a real lease); never compared across machines.
    lock_monotonic: Callable[[], float] = elapsed_clock
    lock_sleep: Callable[[float], None] = time.sleep
    pause_approval: Callable[..., bool] | None = None  # --approve-at-pause (release/strategy_rollout.py)
    _factories: dict[tuple[str, str | None], ClientFactory] = field(default_factory=dict)
    _factories_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clients(self, region: str, role_arn: str | None = None) -> ClientFactory:
        """One factory per (region, role), also when preflight's reads ask for it from several threads."""
        key = (region, role_arn)
        with self._factories_lock:
            if key not in self._factories:
                self._factories[key] = ClientFactory(region, role_arn=role_arn, counter=self.counter)
            return self._factories[key]

    def env_client(self, env: Environment, service: str) -> Any:
        return self.clients(env.region, env.role_arn).client(service)

    def ledger(self) -> Ledger:
        return Ledger(self.clients(self.config.ledger.region).client("s3"), self.config.ledger)

    def local_records(self) -> LocalRecords:
        return LocalRecords(self.records_dir or self.config.ledger.local_dir)

    def lock(self) -> EnvironmentLock:
        return EnvironmentLock(
            self.clients(self.config.lock.region).client("dynamodb"),
            self.config.lock,
            monotonic=self.lock_monotonic,
            sleep=self.lock_sleep,
            out=self.out,
        )

    def ecr(self) -> Any:
        return self.clients(self.config.registry.region).client("ecr")

    def image(self, digest: str) -> ImageRef:
        """The image URI for a (checked) digest in the configured repository."""
        registry, repository = registry_and_repository(self.ecr(), self.config.registry.repository)
        return ImageRef(registry, repository, digest)


# ---- option checks --------------------------------------------------------------------------------


def require_digest(digest: str | None) -> str:
    if digest is None or digest == "":
        raise BadInput("No --digest given.", fix="Pass --digest sha256:<64 hex> (printed by 'invoke build').")
    return parse_digest(digest)


def check_watch_mode(mode: str, env: Environment) -> str:
    if mode not in WATCH_MODES:
        raise BadInput(f"--watch {mode!r} is not a watch mode.", fix="Use auto, events or poll.")
    if mode == "events" and env.events_queue is None:
        raise BadInput(
            f"--watch events needs an event queue for {env.name}.",
            fix=f"Set events_queue in [environments.{env.name}] (from 'invoke infra.output') or use --watch poll.",
        )
    return mode


def ensure_time(value: float | int | str | None, name: str) -> float:
    try:
        number = float(value) if value is not None else DEFAULT_TIMEOUT_S
    except (TypeError, ValueError):
        raise BadInput(f"--{name} {value!r} is not a number of seconds.", fix=f"Pass --{name} 600.") from None
    if not 1 <= number <= 6 * 3600:
        raise BadInput(f"--{name} {number:g} is out of range.", fix=f"Use 1 to 21600 seconds for --{name}.")
    return number


def describe_service(ctx: Context, env: Environment) -> dict[str, Any]:
    """The service as ECS describes it now (ACTIVE only): what preflight, the watch and the queries all read."""
    ecs = ctx.env_client(env, "ecs")
    try:
        response = ecs.describe_services(cluster=env.cluster, services=[env.service])
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise PreflightFailed(
            f"Cannot describe service {env.service} in cluster {env.cluster} ({env.region}): "
            f"{error.get('Code')}: {error.get('Message', '')}.",
            fix="Check cluster, service and region in envpromote.toml, and the role's ECS permissions.",
        ) from None
    services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        failures = response.get("failures", [])
        reason = failures[0].get("reason", "MISSING") if failures else "INACTIVE"
        raise PreflightFailed(
            f"Service {env.service} in cluster {env.cluster} ({env.region}) is {reason}.",
            fix=f"Apply the {env.name} infrastructure ('invoke infra.apply --env {env.name}') "
            "or correct cluster/service/region in envpromote.toml.",
        )
    service: dict[str, Any] = services[0]
    return service
