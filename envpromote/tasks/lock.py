"""Tasks for people: lock.status (who holds an environment's lock, is it alive) and lock.release --force.

Light at import time (`invoke --list` imports every task module): the lock module, and with it botocore, is
imported inside the task bodies. A forced release is recorded in the ledger as a ``lock_break`` record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context

from envpromote.config import Config, load_config
from envpromote.errors import BadInput
from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import task

if TYPE_CHECKING:
    from envpromote.lock import BrokenLock, EnvironmentLock, LockState
    from envpromote.release import Context as ReleaseContext

HEARTBEATS_PER_LEASE = 3  # envpromote.lock.HEARTBEATS_PER_LEASE (a test keeps the two equal)

CONFIG_HELP = "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml)."
ENV_HELP = "Environment name from the chain (e.g. dev)."
MAX_OBSERVE_S = 600


def _lock(cfg: Config) -> EnvironmentLock:
    from envpromote.aws import ClientFactory
    from envpromote.lock import EnvironmentLock

    return EnvironmentLock(ClientFactory(cfg.lock.region).client("dynamodb"), cfg.lock)


def _seconds(value: Any) -> int:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = -1
    if not 0 <= seconds <= MAX_OBSERVE_S:
        raise BadInput(
            f"--observe must be a whole number of seconds from 0 to {MAX_OBSERVE_S}, got {str(value)[:40]!r}.",
            fix="Use e.g. --observe 30 (a live holder renews its lock every lease/3).",
        )
    return seconds


def _describe(state: LockState) -> list[str]:
    return [
        f"  holder: {state.holder}",
        f"  since: {state.acquired_at or 'unknown'} (as the holder's clock reported it)",
        f"  lease: {state.lease_seconds:g}s, heartbeat every {state.lease_seconds / HEARTBEATS_PER_LEASE:g}s "
        f"({state.heartbeats} so far)",
        f"  record version: {state.record_version_number}",
    ]


@task(
    help={
        "env": ENV_HELP,
        "observe": "Also watch the lock for N seconds to see whether its holder is alive (heartbeats).",
        "config": CONFIG_HELP,
        "json": "Print JSON.",
    }
)
@handle_errors
def status(c: Context, env: str = "", observe: int = 0, config: str = "", json: bool = False) -> None:
    """Who holds ENV's lock: holder, run, since, lease and record version; with --observe N, is it alive."""
    seconds = _seconds(observe)
    cfg = load_config(config or None)
    name = cfg.env(env).name
    seen = _lock(cfg).observe(name, seconds)
    if json:
        print_json({"environment": name, **seen.to_json()})
        return
    if seen.released_while_watching:
        print(f"{name}: free (released while being watched)")
        return
    if seen.state is None:
        print(f"{name}: free")
        return
    print(f"{name}: locked")
    print("\n".join(_describe(seen.state)))
    if seen.heartbeat_seen:
        print(f"  heartbeat: seen within {seen.watched_seconds:.0f}s - the holder is alive")
    elif seen.heartbeat_seen is False:
        print(
            f"  heartbeat: none in {seen.watched_seconds:.0f}s of watching - if none comes for a whole lease "
            f"({seen.state.lease_seconds:g}s) the next promotion takes the lock over"
        )
    else:
        print(f"  heartbeat: not watched (add --observe {int(seen.state.lease_seconds)} to check)")


@task(
    help={
        "env": ENV_HELP,
        "force": "Required: breaking a lock can let two promotions run at once.",
        "reason": "Why (required, printable, at most 200 characters; recorded in the ledger).",
        "config": CONFIG_HELP,
        "json": "Print JSON.",
    }
)
@handle_errors
def release(
    c: Context, env: str = "", force: bool = False, reason: str = "", config: str = "", json: bool = False
) -> None:
    """Break ENV's lock whoever holds it (--force --reason R); prints the holder and version it broke."""
    if not force:
        raise BadInput(
            "lock.release breaks another run's lock and needs --force.",
            fix="Check 'invoke lock.status --env ENV --observe 60' first: a live holder is still deploying.",
        )
    from envpromote.ledger import validate_person_text
    from envpromote.lock import check_reason
    from envpromote.release import Context as ReleaseContext
    from envpromote.release import Identity

    text = validate_person_text(check_reason(reason), "--reason")  # before any AWS call: exit 2
    cfg = load_config(config or None)
    name = cfg.env(env).name
    identity = Identity.from_environment()
    validate_person_text(identity.actor, "the actor (GITHUB_ACTOR or the local user)")
    who = f"{identity.actor} (run {identity.run_id})" if identity.run_id else identity.actor
    broken = _lock(cfg).force_release(name, reason=text, broken_by=who)
    recorded = None
    if broken is not None:
        recorded = _record_break(ReleaseContext(config=cfg, identity=identity), name, broken)
    _print_broken(name, broken, json, recorded)


def _record_break(ctx: ReleaseContext, name: str, broken: BrokenLock) -> int | None:
    """Append the lock_break record (who broke whose lock, why). The lock is broken already: a ledger that
    cannot be written is reported (and the record kept locally for 'invoke ledger.sync'), not hidden."""
    import botocore.exceptions

    from envpromote.errors import LedgerError
    from envpromote.ledger import new_record, utc_now

    now = utc_now()
    detail = broken.state.detail
    draft = new_record(
        environment=name,
        kind="lock_break",
        status="aborted",  # the holder's claim on the environment was ended; never a success
        digest=None,
        image_uri=None,
        started_at=now,
        finished_at=now,
        reasons=[
            f"lock broken by {broken.broken_by}: {broken.reason}",
            f"holder was {broken.state.holder} (record version {broken.state.record_version_number}, "
            f"{broken.state.heartbeats} heartbeats, since {broken.state.acquired_at or 'unknown'} by its clock)",
            *(f"holder {k}: {v}" for k, v in sorted(detail.items())),
        ],
        actor=ctx.identity.actor,
        run_id=ctx.identity.run_id,
        run_attempt=ctx.identity.run_attempt,
        workflow_ref=ctx.identity.workflow_ref,
    )
    try:
        record = ctx.ledger().append(draft)
    except (LedgerError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        path = ctx.local_records().keep_pending(draft)
        print(
            f"WARNING: the lock_break record could not be written ({exc}); kept at {path}: run 'invoke ledger.sync'"
        )
        return None
    return int(record["sequence"])


def _print_broken(name: str, broken: BrokenLock | None, as_json: bool, recorded: int | None = None) -> None:
    if as_json:
        print_json(
            {
                "environment": name,
                "released": broken is not None,
                "broken": broken and broken.to_json(),
                "ledger_sequence": recorded,
            }
        )
    elif broken is None:
        print(f"{name}: no lock held; nothing released")
    else:
        print(f"{name}: lock broken by {broken.broken_by}: {broken.reason}")
        if recorded is not None:
            print(f"  recorded in the ledger: {name} #{recorded} (lock_break)")
        print("\n".join(_describe(broken.state)))
        print(
            "  if that run is alive, its next heartbeat finds the lock gone and it stops before its next change"
        )


ROOT_TASKS: list[Any] = []
COLLECTIONS = {"lock": Collection(status, release)}
