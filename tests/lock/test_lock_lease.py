"""The lock against the sandbox's DynamoDB: no shared clock, takeover only after a full lease unchanged on the
waiter's monotonic clock, heartbeats, lost leases, releases by owner and by force."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest
from lock_support import LEASE_S, FakeClock, item

from envpromote.aws import ClientFactory
from envpromote.config import LockSettings
from envpromote.errors import EXIT_BAD_INPUT, EXIT_LOCKED, BadInput, EnvironmentLocked
from envpromote.lock import EnvironmentLock, Holder, Lease
from envpromote.sandbox.testing import Sandbox

MakeLock = Callable[..., EnvironmentLock]
HOUR = 3600.0


def rvn_of(dynamodb: Any, settings: LockSettings, env: str = "dev") -> str | None:
    found = item(dynamodb, settings, env)
    return None if found is None else str(found["record_version_number"]["S"])


def test_a_free_lock_is_taken_and_released_with_its_item(make_lock: MakeLock, dynamodb, settings) -> None:
    lock = make_lock(wall_clock=lambda: 0.0)
    lease = lock.acquire("dev", Holder("alice", "deploy", "sha256:" + "a" * 64, pid=42, run="7"))
    stored = item(dynamodb, settings)
    assert stored is not None
    assert stored["holder"]["S"] == "alice (deploy sha256:aaaaaaaaaaaa, pid 42, run 7)"
    assert stored["lease_duration_ms"]["N"] == str(LEASE_S * 1000)
    assert stored["record_version_number"]["S"] == lease.record_version_number
    assert stored["acquired_at"]["S"] == "1970-01-01T00:00:00+00:00", "for people only"
    assert stored["holder_detail"]["M"]["run"]["S"] == "7"
    assert "expires_at" not in stored, "no absolute time that another machine would compare"
    assert lock.release(lease)
    assert item(dynamodb, settings) is None


@pytest.mark.parametrize("skew", [+HOUR, -HOUR])
def test_skewed_wall_clocks_never_share_the_lock(
    make_lock: MakeLock, dynamodb, settings, skew: float
) -> None:
    """Two clients whose wall clocks differ by an hour race for one environment: exactly one holds it, and
    the other, watching the holder heartbeat, is refused (the old lock let the client at +1 h take it)."""
    clocks = [FakeClock(), FakeClock(start=5.0)]
    locks = [
        make_lock(clocks[0], wall_clock=lambda: time.time()),
        make_lock(clocks[1], wall_clock=lambda: time.time() + skew),
    ]
    leases: dict[int, Lease] = {}

    def holder_heartbeats(_clock: FakeClock) -> None:  # while the loser waits, the winner is alive
        for lease in leases.values():
            locks[0].heartbeat(lease)

    for clock in clocks:
        clock.on_sleep.append(holder_heartbeats)
    barrier = threading.Barrier(2)
    outcomes: list[Any] = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            leases[i] = locks[i].acquire("dev", f"client-{i}")
            outcomes[i] = leases[i]
        except EnvironmentLocked as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(type(o).__name__ for o in outcomes) == ["EnvironmentLocked", "Lease"]
    (winner,) = leases
    refused = outcomes[1 - winner]
    assert f"client-{winner}" in refused.message
    assert "heartbeat is alive" in refused.message
    assert refused.exit_code == EXIT_LOCKED
    assert rvn_of(dynamodb, settings) == leases[winner].record_version_number
    assert locks[winner].release(leases[winner])


@pytest.mark.parametrize("skew", [+HOUR, -HOUR])
def test_a_skewed_waiter_does_not_take_a_live_lock_a_minute_early(
    make_lock: MakeLock, dynamodb, settings, skew: float
) -> None:
    holder = make_lock(wall_clock=lambda: time.time() - skew)
    lease = holder.acquire("dev", "holder")
    clock = FakeClock()
    beats: list[float] = []

    def beat_late(c: FakeClock) -> None:  # the holder renews just before a whole lease has passed
        if c.now - 1000.0 >= LEASE_S - 5 and not beats:
            assert rvn_of(dynamodb, settings) == lease.record_version_number, "nothing taken yet"
            assert holder.heartbeat(lease)
            beats.append(c.now)

    clock.on_sleep.append(beat_late)
    waiter = make_lock(clock, wall_clock=lambda: time.time() + skew)
    with pytest.raises(EnvironmentLocked, match="heartbeat is alive"):
        waiter.acquire("dev", "waiter")
    assert beats, "the holder's heartbeat is what refused the waiter"
    assert rvn_of(dynamodb, settings) == lease.record_version_number
    assert holder.release(lease)


def test_a_dead_holder_is_taken_over_after_one_full_lease_unchanged(
    make_lock: MakeLock, dynamodb, settings
) -> None:
    dead = make_lock()
    crashed = dead.acquire("dev", Holder("ci", "promote", run="99"))
    clock = FakeClock()

    def still_there(c: FakeClock) -> None:  # every time the waiter waits, the dead holder's item is intact
        assert rvn_of(dynamodb, settings) == crashed.record_version_number

    clock.on_sleep.append(still_there)
    said: list[str] = []
    waiter = make_lock(clock, out=said.append)
    taken = waiter.acquire("dev", "next")
    assert clock.slept >= LEASE_S, "not one moment before a whole lease on the waiter's own clock"
    assert clock.slept < LEASE_S + 6, "and not much after"
    assert taken.took_over is not None
    assert taken.took_over.holder == "ci (promote, run 99)"
    assert any("took over the dev lock from ci (promote, run 99)" in line for line in said)
    assert rvn_of(dynamodb, settings) == taken.record_version_number
    assert not dead.release(crashed), "the dead holder no longer owns it"
    assert not dead.heartbeat(crashed)
    assert crashed.lost
    with pytest.raises(EnvironmentLocked, match="now belongs to next"):
        crashed.check()
    assert waiter.release(taken)


def test_preflight_watches_a_stale_lock_once_and_acquire_takes_it_at_once(
    make_lock: MakeLock, dynamodb, settings
) -> None:
    make_lock().acquire("dev", "gone")
    clock = FakeClock()
    preflight = make_lock(clock)
    preflight.ensure_free("dev")
    assert clock.slept >= LEASE_S
    waited = clock.slept
    execute = make_lock(clock)  # another instance, as the engine makes one per call
    lease = execute.acquire("dev", "next")
    assert clock.slept == waited, "the observation made during preflight counts"
    assert execute.release(lease)


def test_ensure_free_refuses_a_live_holder_and_passes_a_free_lock(make_lock: MakeLock) -> None:
    make_lock().ensure_free("dev")
    holder = make_lock()
    lease = holder.acquire("dev", "bob (promote from another terminal)")
    clock = FakeClock()
    clock.on_sleep.append(lambda _c: holder.heartbeat(lease))
    with pytest.raises(EnvironmentLocked, match="locked by bob"):
        make_lock(clock).ensure_free("dev")
    assert clock.slept <= LEASE_S / 3, "a live holder is recognised within a heartbeat"
    assert holder.release(lease)


def test_a_holder_that_finishes_while_we_wait_refuses_the_stale_plan(make_lock: MakeLock) -> None:
    holder = make_lock()
    lease = holder.acquire("dev", "bob")
    clock = FakeClock()
    clock.on_sleep.append(lambda _c: holder.release(lease))
    with pytest.raises(EnvironmentLocked, match="finished while we waited"):
        make_lock(clock).acquire("dev", "alice")


def test_the_heartbeat_thread_renews_the_record_version(make_lock: MakeLock, dynamodb, settings) -> None:
    lock = EnvironmentLock(dynamodb, settings)  # real clocks, real thread
    lease = lock.acquire("dev", "runner", lease_seconds=0.6)  # a heartbeat every 0.2 s
    first = lease.record_version_number
    deadline = time.monotonic() + 30
    while lease.heartbeats < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lease.heartbeats >= 2, "the heartbeat thread renewed the lease"
    assert not lease.lost_reason
    assert lock.release(lease)
    assert lease.record_version_number != first
    assert item(dynamodb, settings) is None
    assert lease._thread is not None
    assert not lease._thread.is_alive(), "release stops the heartbeat"


def test_a_heartbeat_that_finds_the_lock_broken_marks_the_lease_lost(
    make_lock: MakeLock, dynamodb, settings
) -> None:
    lock = make_lock()
    lease = lock.acquire("dev", "runner")
    broken = make_lock().force_release("dev", reason="runner host is gone", broken_by="oncall")
    assert broken is not None
    assert broken.state.record_version_number == lease.record_version_number
    assert not lock.heartbeat(lease)
    assert lease.lost
    assert "released by someone else" in (lease.lost_reason or "")
    with pytest.raises(EnvironmentLocked) as info:
        lease.check()
    assert info.value.exit_code == EXIT_LOCKED
    assert lock.release(lease), "nothing left to release, and no one else holds it"
    assert lease.lost_reason, "the engine still sees that its lock was broken during the run"


def test_heartbeats_that_cannot_reach_dynamodb_lose_the_lease_after_one_lease(
    make_lock: MakeLock, sandbox: Sandbox, dynamodb, settings
) -> None:
    clock = FakeClock()
    flaky = ClientFactory("us-east-1", max_attempts=1).client("dynamodb")
    lock = make_lock(clock, client=flaky)
    lease = lock.acquire("dev", "runner")
    sandbox.set_faults(drop_connections={"dynamodb": 1.0})
    assert not lock.heartbeat(lease)
    assert lease.last_error
    assert not lease.lost, "one failed heartbeat is not a lost lease"
    clock.now += LEASE_S
    assert lease.lost
    with pytest.raises(EnvironmentLocked, match="no heartbeat succeeded for 60s"):
        lease.check()
    sandbox.clear_faults()
    assert rvn_of(dynamodb, settings) is not None, "nothing was deleted"


class _AnswerLost:
    """A DynamoDB client whose update_item lands but whose answer is lost once (a dropped connection)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lose_next = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update_item(self, **kwargs: Any) -> Any:
        answer = self.inner.update_item(**kwargs)
        if self.lose_next:
            self.lose_next = False
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1")
        return answer


def test_a_heartbeat_whose_answer_was_lost_keeps_the_lease(make_lock: MakeLock, dynamodb, settings) -> None:
    lock = make_lock(client=_AnswerLost(dynamodb))
    lease = lock.acquire("dev", "runner")
    assert not lock.heartbeat(lease)  # it landed; we could not know
    assert lock.heartbeat(lease), "the next heartbeat recognises its own version and carries on"
    assert not lease.lost
    assert rvn_of(dynamodb, settings) == lease.record_version_number
    assert lock.release(lease)


class _TableGoneOnRead(_AnswerLost):
    """As _AnswerLost, and then the table disappears before the heartbeat can read whose the lock is."""

    def get_item(self, **kwargs: Any) -> Any:
        if not self.lose_next:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "table gone"}}, "GetItem"
            )
        return self.inner.get_item(**kwargs)


def test_a_heartbeat_whose_follow_up_read_fails_reports_it_and_never_raises(
    make_lock: MakeLock, dynamodb, settings
) -> None:
    # Seen under load: a refused heartbeat, then the read that tells a lost answer from a broken lock failed
    # (the table was deleted in between); the heartbeat thread died with a traceback.
    lock = make_lock(client=_TableGoneOnRead(dynamodb))
    lease = lock.acquire("dev", "runner")
    assert not lock.heartbeat(lease)  # it landed; the answer was lost
    dynamodb.update_item(  # someone else's write: our next heartbeat is refused and must read the item
        TableName=settings.table,
        Key={"lock_id": {"S": "dev"}},
        UpdateExpression="SET record_version_number = :other",
        ExpressionAttributeValues={":other": {"S": "someone-else"}},
    )
    assert not lock.heartbeat(lease)
    assert "does not exist" in (lease.last_error or "")
    assert not lease.lost, "not known to be lost: the lease lasts until it runs out"


def test_release_by_a_non_owner_is_refused(make_lock: MakeLock, dynamodb, settings) -> None:
    lock = make_lock()
    lease = lock.acquire("dev", "owner")
    impostor = Lease("dev", "impostor", "0" * 32, LEASE_S, 0.0, time.monotonic)
    assert not lock.release(impostor)
    assert rvn_of(dynamodb, settings) == lease.record_version_number
    assert lock.release(lease)


def test_forced_release_validates_the_reason_and_reports_what_it_broke(
    make_lock: MakeLock, dynamodb, settings
) -> None:
    lease = make_lock().acquire("dev", Holder("alice", "promote", run="12"))
    operator = make_lock()
    for bad in ["", "   ", "x" * 201, "stuck\x1b[31m", "line\nbreak", "bob\udcff"]:
        with pytest.raises(BadInput) as info:
            operator.force_release("dev", reason=bad, broken_by="oncall")
        assert info.value.exit_code == EXIT_BAD_INPUT
        assert rvn_of(dynamodb, settings) == lease.record_version_number, "a refused break changes nothing"
    broken = operator.force_release("dev", reason="runner vanished; see INC-42 ü", broken_by="oncall")
    assert broken is not None
    assert broken.state.holder == "alice (promote, run 12)"
    assert broken.state.record_version_number == lease.record_version_number
    assert broken.to_json()["reason"] == "runner vanished; see INC-42 ü"
    assert broken.to_json()["broken_by"] == "oncall"
    assert item(dynamodb, settings) is None
    assert operator.force_release("dev", reason="again", broken_by="oncall") is None


def test_held_releases_on_exceptions_and_interrupts(make_lock: MakeLock, dynamodb, settings) -> None:
    lock = make_lock()
    seen: list[str | None] = []

    def body(exc: BaseException) -> None:
        with lock.held("dev", "runner") as lease:
            seen.append(rvn_of(dynamodb, settings))
            assert seen[-1] == lease.record_version_number
            raise exc

    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            body(exc)
        assert item(dynamodb, settings) is None
    assert len(seen) == 2, "the lock was held inside the block both times"


def test_an_item_from_the_previous_lock_format_is_taken_over_after_a_lease(
    make_lock: MakeLock, dynamodb, settings
) -> None:
    dynamodb.put_item(
        TableName=settings.table,
        Item={
            "lock_id": {"S": "dev"},
            "holder": {"S": "old envpromote"},
            "token": {"S": "f" * 32},
            "acquired_at": {"N": "1.0"},
            "expires_at": {"N": "99999999999.0"},
        },
    )
    clock = FakeClock()
    lease = make_lock(clock).acquire("dev", "new")
    assert clock.slept >= LEASE_S
    assert lease.took_over is not None
    assert lease.took_over.holder == "old envpromote"


class _RetriedAfterLanding:
    """put_item/delete_item land, but the answer the caller sees is the retry's: the condition failed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _landed_then_refused(self, operation: str, **kwargs: Any) -> Any:
        getattr(self.inner, operation)(**kwargs)
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "ConditionalCheckFailedException", "Message": "retry"}}, operation
        )

    def put_item(self, **kwargs: Any) -> Any:
        return self._landed_then_refused("put_item", **kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        return self._landed_then_refused("delete_item", **kwargs)


def test_a_put_or_delete_retried_after_it_landed_is_recognised_as_ours(
    make_lock: MakeLock, dynamodb, settings
) -> None:
    clock = FakeClock()
    lock = make_lock(clock, client=_RetriedAfterLanding(dynamodb))
    lease = lock.acquire("dev", "runner")
    assert clock.slept == 0, "no waiting for a lease on our own item"
    assert rvn_of(dynamodb, settings) == lease.record_version_number
    assert lock.release(lease), "gone is released, whoever's delete answered"
    assert item(dynamodb, settings) is None
