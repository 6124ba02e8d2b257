"""The head read under the lock serves the intent's append (one read fewer), and a stale one never forks the chain."""

from __future__ import annotations

import pytest
from ledger_support import CallCounter, draft, make_ledger, s3_client

from envpromote.ledger import canonical_bytes, layout, verify_chain

pytestmark = pytest.mark.usefixtures("sandbox")


def test_the_state_read_for_open_intents_serves_the_next_append() -> None:
    s3 = s3_client()
    ledger = make_ledger(s3)
    counter = CallCounter(s3)
    ledger.append(draft("dev", 1))
    ledger.append(draft("staging", 1))  # the same state in two environments
    with counter.measure() as plain:
        ledger.unresolved_intents("dev")
        ledger.append(draft("dev", 2, "in_progress"))
    plain_calls = dict(plain)
    with counter.measure() as kept:
        ledger.unresolved_intents("staging", keep_for_append=True)
        intent = ledger.append(draft("staging", 2, "in_progress"))
    kept_calls = dict(kept)
    assert intent["sequence"] == 2
    # The head GET and the tip LIST are made once instead of twice; the writes are the same.
    assert kept_calls["GetObject"] == plain_calls["GetObject"] - 1
    assert kept_calls["ListObjectsV2"] == plain_calls["ListObjectsV2"] - 1
    assert kept_calls["PutObject"] == plain_calls["PutObject"]
    # Used once: the next read goes to S3 again and sees both intents.
    assert [r["sequence"] for r in ledger.unresolved_intents("staging")] == [2]
    assert ledger.history("staging")[-1] == intent


def test_a_kept_state_gone_stale_costs_a_retry_not_a_fork() -> None:
    ledger = make_ledger()
    other = make_ledger()  # another writer (e.g. a run that broke the lock) appends in between
    ledger.append(draft("dev", 1))
    ledger.unresolved_intents("dev", keep_for_append=True)
    squeezed_in = other.append(draft("dev", 2))
    ours = ledger.append(draft("dev", 3, "in_progress"))
    assert (squeezed_in["sequence"], ours["sequence"]) == (2, 3)
    history = ledger.history("dev")
    assert [r["sequence"] for r in history] == [1, 2, 3]
    entries = [(layout.record_key(ledger.prefix, "dev", r["sequence"]), canonical_bytes(r)) for r in history]
    assert verify_chain("dev", entries) == []
    assert ledger.verify(["dev"]) == (3, [])
