"""One promotion per environment at a time, with no clock shared between machines.

The algorithm is that of Amazon's DynamoDB Lock Client. The item is
``{lock_id, holder, holder_detail, lease_duration_ms, record_version_number, acquired_at, heartbeats}``.

* Acquire: put the item if absent. If present, watch its record version number (RVN) on OUR monotonic clock.
  If it changes (or the item goes away), its holder is alive: EnvironmentLocked. If it stays the same for the
  holder's whole lease duration, the holder is gone: take the lock over with a put conditional on that RVN.
* Heartbeat: a thread replaces the RVN every lease/3, conditional on ours, for as long as the lease is held
  (whatever the rollout's timeout). A failed condition means the lock was taken from us; no successful
  heartbeat for a whole lease means a waiter may have taken it. Either way the lease is marked lost.
* Release: delete the item conditional on our RVN.

No time read on one machine is ever compared with a time read on another: ``acquired_at`` is only shown to
people. A holder counts its lease from just BEFORE it sends a write; a waiter counts from just AFTER it reads
a version, so the waiter's "one lease later" is never earlier than the holder's. Both count on a clock that
includes suspended time (CLOCK_BOOTTIME), so a holder that wakes from sleep knows its lease ran out.

SIGINT/SIGTERM during the conditional put are held back until the put's outcome is known; if one came, the
lock is deleted again before the signal is delivered, so an interrupted acquire leaves nothing behind.

One module of ~600 lines on purpose: the safety argument (who counts which lease from when, which write is
conditional on which version, where signals are held) spans acquire, heartbeat and release, and is reviewed
best in one place. The tasks for people are in envpromote/tasks/lock.py.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, ClassVar

import botocore.exceptions

from envpromote.config import LockSettings
from envpromote.errors import BadInput, EnvironmentLocked, PreflightFailed

HEARTBEATS_PER_LEASE = 3
MAX_REASON_CHARS = 200
_MAX_LEASE_S = 86400.0
_MIN_LEASE_S = 1.0


def elapsed_clock() -> float:
    """Seconds on a clock that never runs slower than real time: Linux's CLOCK_BOOTTIME counts a suspended
    machine's sleep (CLOCK_MONOTONIC does not, so a laptop waking up would think its lease still fresh)."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.monotonic()


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing_table(table: str) -> PreflightFailed:
    return PreflightFailed(
        f"Lock table {table} does not exist.",
        fix="Apply infra (modules/ledger) or check [lock] table/region in envpromote.toml.",
    )


def check_reason(value: object) -> str:
    """A person-supplied reason: printable text (no control characters), 1-200 characters; BadInput otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput("A reason is required.", fix="Add --reason 'why the lock must be broken'.")
    text = value.strip()
    if len(text) > MAX_REASON_CHARS:
        raise BadInput(
            f"The reason is {len(text)} characters long; at most {MAX_REASON_CHARS} are allowed.",
            fix="Shorten --reason.",
        )
    if not text.isprintable():  # control characters, line breaks, undecodable bytes (surrogates)
        shown = text.encode("unicode_escape", "backslashreplace").decode("ascii")[:80]
        raise BadInput(
            f"The reason contains characters that are not printable: {shown!r}.",
            fix="Use printable text on one line for --reason.",
        )
    return text


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as shown to people (actor, what it runs, pid, CI run)."""

    actor: str
    kind: str = ""
    digest: str = ""
    pid: int | None = None
    run: str | None = None

    def text(self) -> str:
        what = " ".join(part for part in (self.kind, self.digest[:19]) if part)
        details = [what] if what else []
        if self.pid is not None:
            details.append(f"pid {self.pid}")
        if self.run:
            details.append(f"run {self.run}")
        return f"{self.actor} ({', '.join(details)})" if details else self.actor

    def detail(self) -> dict[str, str]:
        values = {"actor": self.actor, "kind": self.kind, "digest": self.digest, "run": self.run or ""}
        if self.pid is not None:
            values["pid"] = str(self.pid)
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class LockState:
    """The lock item as read from the table."""

    environment: str
    holder: str
    record_version_number: str
    lease_seconds: float
    acquired_at: str  # as the holder's clock reported it: for people, never compared
    heartbeats: int = 0
    detail: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "holder": self.holder,
            "holder_detail": dict(self.detail),
            "record_version_number": self.record_version_number,
            "lease_seconds": self.lease_seconds,
            "heartbeat_seconds": self.lease_seconds / HEARTBEATS_PER_LEASE,
            "acquired_at": self.acquired_at,
            "heartbeats": self.heartbeats,
        }


@dataclass(frozen=True)
class BrokenLock:
    """What a forced release broke, for the person (printed) and the ledger (a lock_break record)."""

    state: LockState
    reason: str
    broken_by: str

    def to_json(self) -> dict[str, Any]:
        return {**self.state.to_json(), "reason": self.reason, "broken_by": self.broken_by}


@dataclass
class Observation:
    """lock.status: the item (None when free) and whether its RVN changed while we watched."""

    state: LockState | None
    watched_seconds: float = 0.0
    heartbeat_seen: bool | None = None  # None: not watched (or nothing to watch)
    released_while_watching: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "locked": self.state is not None,
            "lock": self.state.to_json() if self.state else None,
            "watched_seconds": round(self.watched_seconds, 1),
            "heartbeat_seen": self.heartbeat_seen,
            "released_while_watching": self.released_while_watching,
        }


class Lease:
    """A lock we hold. `lost` turns true when a heartbeat finds the lock taken or none succeeded for a lease."""

    def __init__(
        self,
        environment: str,
        holder: str,
        rvn: str,
        lease_seconds: float,
        renewed_at: float,
        monotonic: Callable[[], float],
        took_over: LockState | None = None,
    ) -> None:
        self.environment = environment
        self.holder = holder
        self.record_version_number = rvn
        self.lease_seconds = lease_seconds
        self.took_over = took_over
        self.heartbeats = 0
        self.last_error: str | None = None
        self.lost_reason: str | None = None
        self._renewed_at = renewed_at
        self._unconfirmed: dict[str, float] = {}  # RVNs sent since the last answer: {RVN: sent at}
        self._monotonic = monotonic
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.released = False

    @property
    def token(self) -> str:  # the name the engine used before; the current RVN
        return self.record_version_number

    @property
    def lost(self) -> bool:
        return self.lost_reason is not None or self.seconds_since_renewal() >= self.lease_seconds

    def seconds_since_renewal(self) -> float:
        return self._monotonic() - self._renewed_at

    def check(self) -> None:
        """Raise EnvironmentLocked (exit 8) if the lease may be someone else's now; call before each mutation."""
        if not self.lost:
            return
        reason = self.lost_reason or (
            f"no heartbeat succeeded for {self.seconds_since_renewal():.0f}s (lease {self.lease_seconds:g}s)"
            + (f"; last error: {self.last_error}" if self.last_error else "")
        )
        raise EnvironmentLocked(
            f"The {self.environment} lock is no longer ours: {reason}.",
            fix=f"Another run may hold it now: see 'invoke lock.status --env {self.environment}', and "
            f"'invoke drift --env {self.environment}' for what ECS runs.",
        )


class EnvironmentLock:
    """The lock table of one config. Time functions are injectable; none is compared across machines."""

    # (table, env) -> (RVN, our monotonic time just after we first read it, that clock): shared by the
    # instances of one process, so a stale lock watched by preflight is not watched again by acquire.
    _seen: ClassVar[dict[tuple[str, str], tuple[str, float, Callable[[], float]]]] = {}
    _seen_mutex: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        dynamodb: Any,
        settings: LockSettings,
        *,
        monotonic: Callable[[], float] = elapsed_clock,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        out: Callable[[str], None] | None = None,
        on_step: Callable[[str], None] | None = None,
        heartbeat: bool = True,
    ) -> None:
        self.dynamodb = dynamodb
        self.settings = settings
        self.monotonic = monotonic
        self.sleep = sleep
        self.wall_clock = wall_clock  # only for acquired_at, which people read
        self.out = out
        self.on_step = on_step  # test hook: "before_put", "after_put", "before_release"
        self.heartbeat_thread = heartbeat

    # -- reading ---------------------------------------------------------------------------------------
    def holder(self, environment: str) -> LockState | None:
        """The lock item, or None when the environment is free."""
        try:
            item = self.dynamodb.get_item(
                TableName=self.settings.table, Key={"lock_id": {"S": environment}}, ConsistentRead=True
            ).get("Item")
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                raise _missing_table(self.settings.table) from None
            raise
        return None if not item else self._state(environment, item)

    def _state(self, environment: str, item: dict[str, Any]) -> LockState:
        def s(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        try:
            lease = float(item["lease_duration_ms"]["N"]) / 1000
        except (KeyError, TypeError, ValueError):
            lease = float(self.settings.lease_seconds)  # an item written before leases were recorded
        detail = item.get("holder_detail", {}).get("M", {})
        try:
            beats = int(item.get("heartbeats", {}).get("N", "0"))
        except ValueError:
            beats = 0
        return LockState(
            environment=environment,
            holder=s("holder") or "unknown",
            record_version_number=s("record_version_number") or s("token"),  # `token`: the older item
            lease_seconds=min(max(lease, _MIN_LEASE_S), _MAX_LEASE_S),
            acquired_at=s("acquired_at"),
            heartbeats=beats,
            detail={str(k): str(v.get("S", "")) for k, v in detail.items()},
        )

    def observe(self, environment: str, seconds: float = 0.0) -> Observation:
        """The lock item; with seconds > 0, also watch whether its RVN changes (a live holder) for that long."""
        state = self.holder(environment)
        if state is None or seconds <= 0:
            return Observation(state)
        start = self.monotonic()
        while (elapsed := self.monotonic() - start) < seconds:
            self.sleep(min(self._poll_seconds(state.lease_seconds), seconds - elapsed))
            current = self.holder(environment)
            if current is None:
                return Observation(None, self.monotonic() - start, released_while_watching=True)
            if current.record_version_number != state.record_version_number:
                return Observation(current, self.monotonic() - start, heartbeat_seen=True)
        return Observation(state, self.monotonic() - start, heartbeat_seen=False)

    # -- waiting -------------------------------------------------------------------------------------------
    @staticmethod
    def _poll_seconds(lease_seconds: float) -> float:
        return min(5.0, max(0.2, lease_seconds / (4 * HEARTBEATS_PER_LEASE)))

    def _locked(self, state: LockState | None, environment: str, why: str) -> EnvironmentLocked:
        who = state.holder if state else "another promotion"
        since = f" since {state.acquired_at} (its clock)" if state and state.acquired_at else ""
        return EnvironmentLocked(
            f"Environment {environment} is locked by {who}{since}: {why}.",
            fix=f"Wait for that run to finish, then run the command again; 'invoke lock.status --env "
            f"{environment}' shows the holder. A holder that died is taken over after one lease without "
            "heartbeats; never break a live lock.",
        )

    def _wait_until_stale(self, environment: str, state: LockState) -> LockState:
        """Return `state` once its RVN stayed the same for its whole lease on our clock; raise if it moved."""
        key = (self.settings.table, environment)
        with self._seen_mutex:
            seen = self._seen.get(key)
            if seen is None or seen[0] != state.record_version_number or seen[2] != self.monotonic:
                seen = (state.record_version_number, self.monotonic(), self.monotonic)  # just after the read
                self._seen[key] = seen
        first_seen = seen[1]
        told = False
        while (elapsed := self.monotonic() - first_seen) < state.lease_seconds:
            if not told and self.out:
                self.out(
                    f"{environment} is locked by {state.holder}; watching for its heartbeat "
                    f"(taken over if none comes within {state.lease_seconds - elapsed:.0f}s)"
                )
                told = True
            self.sleep(min(self._poll_seconds(state.lease_seconds), state.lease_seconds - elapsed))
            current = self.holder(environment)
            if current is None:
                self._forget(environment)
                raise self._locked(state, environment, "it finished while we waited (the plan may be stale)")
            if current.record_version_number != state.record_version_number:
                self._forget(environment)
                raise self._locked(current, environment, "its heartbeat is alive")
        return state

    def _forget(self, environment: str) -> None:
        with self._seen_mutex:
            self._seen.pop((self.settings.table, environment), None)

    def ensure_free(self, environment: str) -> None:
        """Before planning: return if the lock is free or its holder is gone (no heartbeat for a lease);
        raise EnvironmentLocked, naming the holder, as soon as a heartbeat shows it alive."""
        state = self.holder(environment)
        if state is None:
            return
        try:
            self._wait_until_stale(environment, state)
        except EnvironmentLocked:
            if self.holder(environment) is None:
                return  # it finished while we watched: free now, and the plan is made after this
            raise

    # -- acquiring -----------------------------------------------------------------------------------------
    def acquire(self, environment: str, holder: str | Holder, *, lease_seconds: float | None = None) -> Lease:
        """Take the lock (or take over a dead holder's) and start its heartbeat; EnvironmentLocked if alive."""
        text = holder.text() if isinstance(holder, Holder) else holder
        detail = holder.detail() if isinstance(holder, Holder) else {}
        seconds = float(lease_seconds or self.settings.lease_seconds)
        lease = self._put(environment, text, detail, seconds, None)
        if not isinstance(lease, Lease):  # held: watch it; take it over only if unchanged for a whole lease
            if lease is None:
                raise self._locked(None, environment, "it was released just now (the plan may be stale)")
            stale = self._wait_until_stale(environment, lease)
            lease = self._put(environment, text, detail, seconds, stale)
            if not isinstance(lease, Lease):
                raise self._locked(lease, environment, "it changed hands just now")
            if self.out:
                self.out(
                    f"took over the {environment} lock from {stale.holder}: its record version did not "
                    f"change for {stale.lease_seconds:g}s (run {stale.detail.get('run', 'unknown')})"
                )
        self._forget(environment)
        if self.heartbeat_thread:
            self._start_heartbeat(lease)
        return lease

    def _put(
        self,
        environment: str,
        holder: str,
        detail: dict[str, str],
        lease_seconds: float,
        previous: LockState | None,
    ) -> Lease | LockState | None:
        """One conditional put: absent, or still at `previous`'s RVN. When the condition fails: the item
        that made it fail, or None if that is gone already."""
        rvn = uuid.uuid4().hex
        item: dict[str, Any] = {
            "lock_id": {"S": environment},
            "holder": {"S": holder},
            "lease_duration_ms": {"N": str(int(lease_seconds * 1000))},
            "record_version_number": {"S": rvn},
            "acquired_at": {
                "S": dt.datetime.fromtimestamp(self.wall_clock(), dt.UTC).isoformat(timespec="seconds")
            },
            "heartbeats": {"N": "0"},
        }
        if detail:
            item["holder_detail"] = {"M": {k: {"S": v} for k, v in detail.items()}}
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(lock_id)"}
        if previous is not None:
            condition = {
                "ConditionExpression": "record_version_number = :rvn OR #t = :rvn",
                "ExpressionAttributeNames": {"#t": "token"},
                "ExpressionAttributeValues": {":rvn": {"S": previous.record_version_number}},
            }
        with _signals_held(lambda: self._undo(environment, rvn)):
            self._step("before_put")
            sent = self.monotonic()
            try:
                self.dynamodb.put_item(TableName=self.settings.table, Item=item, **condition)
            except botocore.exceptions.ClientError as exc:
                if _code(exc) == "ConditionalCheckFailedException":
                    current = self.holder(environment)
                    if current is None or current.record_version_number != rvn:
                        return current
                    # our own put, applied, whose answer was lost and whose retry then failed: it is ours
                elif _code(exc) == "ResourceNotFoundException":
                    raise _missing_table(self.settings.table) from None
                else:
                    raise
            except BaseException:  # outcome unknown (connection lost, interrupted): it may have landed
                self._undo(environment, rvn)
                raise
            self._step("after_put")
            return Lease(environment, holder, rvn, lease_seconds, sent, self.monotonic, took_over=previous)

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    def _undo(self, environment: str, rvn: str) -> None:
        """Best effort after an interrupted or unanswered put: delete the item if it is the one we sent.
        If DynamoDB cannot be reached, the item (if it landed) is taken over after one lease."""
        with suppress(botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            self._delete_if(environment, rvn)

    def _delete_if(self, environment: str, rvn: str) -> bool:
        """Delete the item if its RVN is `rvn` (`token` on an item written by an older envpromote)."""
        try:
            self.dynamodb.delete_item(
                TableName=self.settings.table,
                Key={"lock_id": {"S": environment}},
                ConditionExpression="record_version_number = :rvn OR #t = :rvn",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={":rvn": {"S": rvn}},
            )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- holding -------------------------------------------------------------------------------------------
    def _start_heartbeat(self, lease: Lease) -> None:
        interval = lease.lease_seconds / HEARTBEATS_PER_LEASE

        def beat() -> None:
            while not lease._stop.wait(interval):
                self.heartbeat(lease)
                if lease.lost_reason is not None:
                    return

        lease._thread = threading.Thread(target=beat, name=f"lock-heartbeat-{lease.environment}", daemon=True)
        lease._thread.start()

    def heartbeat(self, lease: Lease) -> bool:
        """Replace our RVN with a new one, conditional on ours. False (and `lease.lost` may turn) otherwise."""
        with lease._mutex:
            for _ in range(2):  # a second try only after adopting a version whose answer was lost
                if lease.released or lease.lost_reason is not None:
                    return False
                new = uuid.uuid4().hex
                sent = self.monotonic()
                # until its answer comes, `new` may or may not be the item's version (lost answers, retries)
                lease._unconfirmed[new] = sent
                try:
                    self.dynamodb.update_item(
                        TableName=self.settings.table,
                        Key={"lock_id": {"S": lease.environment}},
                        UpdateExpression="SET record_version_number = :new ADD heartbeats :one",
                        ConditionExpression="record_version_number = :old",
                        ExpressionAttributeValues={
                            ":new": {"S": new},
                            ":old": {"S": lease.record_version_number},
                            ":one": {"N": "1"},
                        },
                    )
                except botocore.exceptions.ClientError as exc:
                    if _code(exc) != "ConditionalCheckFailedException":
                        lease._unconfirmed.pop(new, None)  # answered: not applied
                        lease.last_error = _code(exc) or str(exc)  # the lease lasts until it runs out
                        return False
                    try:
                        if self._adopt_unconfirmed(lease):
                            continue
                        lease.lost_reason = self._taken_reason(lease.environment)
                    except (
                        PreflightFailed,  # the table is gone
                        botocore.exceptions.ClientError,
                        botocore.exceptions.BotoCoreError,
                    ) as exc:  # refused, and the read that says why failed: the lease lasts until it runs out
                        lease.last_error = exc.one_line() if isinstance(exc, PreflightFailed) else str(exc)
                    return False
                except (
                    botocore.exceptions.BotoCoreError
                ) as exc:  # transient: the lease lasts until it runs out
                    lease.last_error = str(exc)
                    return False
                lease.record_version_number = new
                lease._renewed_at = sent
                lease._unconfirmed.clear()
                lease.heartbeats += 1
                lease.last_error = None
                return True
            return False

    def _adopt_unconfirmed(self, lease: Lease) -> bool:
        """A heartbeat whose answer was lost may have landed: if the item carries its RVN, it is still ours."""
        if not lease._unconfirmed:
            return False
        current = self.holder(lease.environment)
        if current is None or current.record_version_number not in lease._unconfirmed:
            return False
        lease.record_version_number = current.record_version_number
        lease._renewed_at = lease._unconfirmed[current.record_version_number]
        lease._unconfirmed.clear()
        return True

    def _taken_reason(self, environment: str) -> str:
        current = self.holder(environment)
        if current is None:
            return "the lock was released by someone else (lock.release --force?)"
        return f"the lock now belongs to {current.holder}"

    def release(self, lease: Lease) -> bool:
        """Stop the heartbeat and delete the lock if it is still ours; False when it had passed to someone else."""
        lease._stop.set()
        with _signals_held(lambda: None), lease._mutex:
            if lease.released:
                return True
            lease.released = True
            self._step("before_release")
            ours = self._delete_if(lease.environment, lease.record_version_number)
            if not ours and self._adopt_unconfirmed(lease):
                ours = self._delete_if(lease.environment, lease.record_version_number)
            if not ours:
                current = self.holder(lease.environment)
                ours = current is None  # gone either way (our retried delete, or broken): no one else has it
                if current is not None and lease.lost_reason is None:
                    lease.lost_reason = f"the lock now belongs to {current.holder}"
        if lease._thread is not None and lease._thread is not threading.current_thread():
            lease._thread.join(timeout=1.0)
        return ours

    @contextmanager
    def held(
        self, environment: str, holder: str | Holder, *, lease_seconds: float | None = None
    ) -> Iterator[Lease]:
        """Hold the lock for the block: acquire, heartbeat, and release on any exit (exceptions, Ctrl-C and
        SIGTERM included: a default SIGTERM is turned into KeyboardInterrupt for the block's duration)."""
        with _sigterm_interrupts():
            lease = self.acquire(environment, holder, lease_seconds=lease_seconds)
            try:
                yield lease
            finally:
                if not self.release(lease) and self.out:
                    self.out(
                        f"WARNING: the {environment} lock had passed to someone else before it was released"
                    )

    # -- for people ----------------------------------------------------------------------------------------
    def force_release(self, environment: str, *, reason: str, broken_by: str) -> BrokenLock | None:
        """Break the lock whoever holds it (conditional on the RVN just read, so what is reported is what was
        deleted). None when there was no lock. The holder's next heartbeat finds it gone and marks its lease lost."""
        reason = check_reason(reason)
        state = self.holder(environment)
        for _ in range(5):
            if state is None:
                return None
            if self._delete_if(environment, state.record_version_number):
                return BrokenLock(state=state, reason=reason, broken_by=broken_by)
            current = self.holder(environment)
            if current is None:  # our delete's retry, or its holder released it meanwhile: report what we saw
                return BrokenLock(state=state, reason=reason, broken_by=broken_by)
            state = current
        raise EnvironmentLocked(
            f"The {environment} lock kept changing while it was being broken.", fix="Run the command again."
        )


@contextmanager
def _signals_held(on_signal: Callable[[], Any]) -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for the block; if one came, run `on_signal` (the undo), then deliver it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: received.append(signum))

    def delivered() -> list[int]:  # an ignored signal changes nothing, so it undoes nothing
        return [sig for sig in received if previous[sig] is not signal.SIG_IGN]

    undone = False
    try:
        yield
    finally:
        if delivered():
            on_signal()
            undone = True
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if delivered():
            if not undone:  # it came between the check above and the restore
                on_signal()
            signal.raise_signal(delivered()[0])


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Where SIGTERM would kill the process outright, make it a KeyboardInterrupt so the lock is released."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
