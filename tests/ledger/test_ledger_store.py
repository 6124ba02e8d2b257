"""The S3 ledger against the sandbox's real server: bounded cost, write-ahead intents, ordering, evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ledger_support import T0, CallCounter, digest_of, draft, make_ledger, s3_client, seed

from envpromote.errors import BadInput, LedgerError
from envpromote.ledger import (
    Ledger,
    LocalRecords,
    canonical_bytes,
    layout,
    new_record,
    seal,
    sync_pending,
    verify_chain,
)

pytestmark = pytest.mark.usefixtures("sandbox")


def _append_calls(ledger: Ledger, counter: CallCounter, env: str, n: int) -> dict[str, int]:
    with counter.measure() as calls:
        ledger.append(draft(env, n))
    return dict(calls)


@pytest.mark.slow
def test_append_costs_the_same_at_1000_records_as_at_10() -> None:
    s3 = s3_client()
    ledger = make_ledger(s3)
    counter = CallCounter(s3)
    seed(ledger, "dev", 10)
    seed(ledger, "staging", 1000)
    small = _append_calls(ledger, counter, "dev", 11)
    large = _append_calls(ledger, counter, "staging", 1001)
    assert small == large
    assert sum(small.values()) == 7
    for env, length in (("dev", 11), ("staging", 1001)):
        with counter.measure() as calls:
            last = ledger.last_success(env)
        assert last is not None
        assert last["sequence"] == length
        assert sum(calls.values()) == 3
        with counter.measure() as calls:
            assert len(ledger.history(env, limit=5)) == 5
        assert sum(calls.values()) == 6


def test_history_is_the_newest_records_oldest_first_and_chains() -> None:
    ledger = make_ledger()
    records = [ledger.append(draft("dev", n)) for n in range(1, 6)]
    assert [r["sequence"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["record_id"] for r in ledger.history("dev", limit=3)] == [r["record_id"] for r in records[2:]]
    whole = ledger.history("dev")
    entries = [(layout.record_key(ledger.prefix, "dev", r["sequence"]), canonical_bytes(r)) for r in whole]
    assert verify_chain("dev", entries) == []
    checked, problems = ledger.verify(["dev"])
    assert (checked, problems) == (5, [])


def test_append_is_idempotent_per_record_id() -> None:
    ledger = make_ledger()
    first = draft("dev", 1)
    stored = ledger.append(first)
    again = ledger.append(first)
    assert again == stored
    assert len(ledger.history("dev")) == 1


def test_intent_is_unresolved_until_a_record_resolves_it() -> None:
    ledger = make_ledger()
    ledger.append(draft("dev", 1))
    intent = ledger.append(draft("dev", 2, "in_progress"))
    assert [r["record_id"] for r in ledger.unresolved_intents("dev")] == [intent["record_id"]]
    final = ledger.append(draft("dev", 2, "rolled_back", resolves=intent))
    assert final["resolves"] == intent["record_id"]
    assert final["resolves_sequence"] == intent["sequence"]
    assert ledger.unresolved_intents("dev") == []
    assert ledger.last_success("dev")["digest"] == digest_of(1)
    report = ledger.verify_report(["dev"])
    assert report.problems == []
    assert report.unresolved == []


def test_verify_reports_an_unresolved_intent() -> None:
    ledger = make_ledger()
    intent = ledger.append(draft("dev", 1, "in_progress"))
    report = ledger.verify_report(["dev"])
    assert [r["record_id"] for r in report.unresolved] == [intent["record_id"]]


def test_a_late_resolution_is_ordered_at_its_intent() -> None:
    """A final record kept locally and re-sent after newer releases never becomes the 'last success'."""
    ledger = make_ledger()
    intent = ledger.append(draft("dev", 1, "in_progress"))
    kept = draft("dev", 1, "success", resolves=intent)
    reconciled = ledger.append(
        draft("dev", 1, "unknown", kind="reconcile", resolves=intent, reconciled_by="carol")
    )
    newer = ledger.append(draft("dev", 2))
    late = ledger.append_kept(kept)
    assert late["sequence"] == newer["sequence"] + 1
    assert ledger.last_success("dev")["record_id"] == newer["record_id"]
    assert reconciled["sequence"] < late["sequence"]


def test_a_kept_draft_without_intent_is_marked_orders_before(tmp_path: Any) -> None:
    ledger = make_ledger()
    local = LocalRecords(tmp_path)
    old = draft("dev", 1, "rolled_back")
    local.keep_pending(old)
    newer = ledger.append(draft("dev", 5))
    [sent] = sync_pending(ledger, local)
    assert sent["orders_before"] == newer["sequence"]
    assert any("appended late" in reason for reason in sent["reasons"])
    assert ledger.last_success("dev")["record_id"] == newer["record_id"]
    assert local.pending() == []


def test_a_crash_between_record_and_head_is_harmless() -> None:
    """The record is written but the head is not moved: readers fold it in, the next append indexes it."""
    s3 = s3_client()
    ledger = make_ledger(s3)
    ledger.append(draft("dev", 1))
    orphan_draft = draft("dev", 2)
    head = json.loads(
        s3.get_object(Bucket=ledger.bucket, Key=layout.head_key(ledger.prefix, "dev"))["Body"].read()
    )
    orphan = seal(orphan_draft, sequence=2, previous_sha256=head["sha256"])
    s3.put_object(
        Bucket=ledger.bucket, Key=layout.record_key(ledger.prefix, "dev", 2), Body=canonical_bytes(orphan)
    )
    assert ledger.last_success("dev")["record_id"] == orphan["record_id"]
    assert ledger.last_for_digest("dev", digest_of(2))["record_id"] == orphan["record_id"]
    assert ledger.append(orphan_draft)["record_id"] == orphan["record_id"]  # the re-send finds it
    third = ledger.append(draft("dev", 3))
    assert third["sequence"] == 3
    assert ledger.verify(["dev"]) == (3, [])


def test_gate_records_bound_the_reads_to_the_digest() -> None:
    s3 = s3_client()
    ledger = make_ledger(s3)
    counter = CallCounter(s3)
    seed(ledger, "staging", 50)
    target = digest_of(7)
    ledger.append(draft("staging", 7, "rolled_back"))
    ledger.append(draft("staging", 51, kind="rollback", previous_digest=target))
    with counter.measure() as calls:
        records = ledger.gate_records("staging", target)
    assert (records[0]["digest"], records[0]["status"]) == (target, "success")
    assert [r["sequence"] for r in records] == [7, 51, 52]
    assert sum(calls.values()) == 2 + 1 + 3
    assert ledger.last_for_digest("staging", target)["sequence"] == 51
    assert ledger.last_for_digest("staging", target, "success")["sequence"] == 7


def test_verified_names_an_overwritten_record() -> None:
    s3 = s3_client()
    ledger = make_ledger(s3)
    first = ledger.append(draft("staging", 1))
    rolled = ledger.append(draft("staging", 2, "rolled_back"))
    assert ledger.verified("staging", rolled) == rolled
    forged = dict(rolled, status="success")
    key = layout.record_key(ledger.prefix, "staging", 2)
    s3.put_object(Bucket=ledger.bucket, Key=key, Body=canonical_bytes(forged))
    with pytest.raises(LedgerError, match=key) as caught:
        ledger.verified("staging", forged)
    assert "2 versions" in caught.value.message
    assert caught.value.exit_code == 4
    assert ledger.verified("staging", first) == first
    _, problems = ledger.verify(["staging"])
    assert f"staging: {key}: was overwritten (2 versions in S3)" in [str(p) for p in problems]


def test_verified_names_a_deleted_predecessor() -> None:
    s3 = s3_client()
    ledger = make_ledger(s3)
    ledger.append(draft("staging", 1))
    second = ledger.append(draft("staging", 2))
    previous_key = layout.record_key(ledger.prefix, "staging", 1)
    s3.delete_object(Bucket=ledger.bucket, Key=previous_key)
    with pytest.raises(LedgerError, match=previous_key):
        ledger.verified("staging", second)
    problems = [str(p) for p in ledger.verify(["staging"])[1]]
    assert f"staging: {previous_key}: is missing (deleted?)" in problems
    assert f"staging: {previous_key}: was deleted (delete marker in S3)" in problems
    second_key = layout.record_key(ledger.prefix, "staging", 2)
    assert f"staging: {second_key}: records 1 are missing before it (deleted?)" in problems


def test_a_forged_successor_with_a_broken_link_is_refused() -> None:
    s3 = s3_client()
    ledger = make_ledger(s3)
    ledger.append(draft("staging", 1))
    forged = dict(draft("staging", 9), sequence=2, prev_record_sha256="0" * 64)
    s3.put_object(
        Bucket=ledger.bucket,
        Key=layout.record_key(ledger.prefix, "staging", 2),
        Body=canonical_bytes(forged),
        IfNoneMatch="*",
    )
    with pytest.raises(LedgerError, match="does not link"):
        ledger.verified("staging", forged)


def test_aws_time_and_stored_at_come_from_s3() -> None:
    ledger = make_ledger()
    record = ledger.append(draft("dev", 1))
    now = ledger.aws_time()
    stored = ledger.stored_at("dev", record)
    assert stored.tzinfo is not None
    assert now.tzinfo is not None
    assert abs((now - stored).total_seconds()) < 3600


def test_schema_1_layout_is_read_then_migrated_on_first_append() -> None:
    s3 = s3_client()
    ledger = make_ledger(s3)
    previous = None
    for n in (1, 2, 3):
        v1 = {k: v for k, v in draft("dev", n).items() if k not in _V2_FIELDS}
        v1["schema_version"] = 1
        record = seal(v1, sequence=n, previous=previous)
        s3.put_object(
            Bucket=ledger.bucket,
            Key=layout.legacy_record_key(ledger.prefix, "dev", n),
            Body=canonical_bytes(record),
        )
        previous = record
    assert [r["sequence"] for r in ledger.history("dev")] == [1, 2, 3]
    assert ledger.last_success("dev")["sequence"] == 3
    assert ledger.verify(["dev"]) == (3, [])
    fourth = ledger.append(draft("dev", 4))
    assert fourth["sequence"] == 4
    assert [r["schema_version"] for r in ledger.history("dev")] == [1, 1, 1, 2]
    assert ledger.verify(["dev"]) == (4, [])
    assert ledger.last_for_digest("dev", digest_of(2))["sequence"] == 2


_V2_FIELDS = {
    "resolves",
    "resolves_sequence",
    "service_deployment_arn",
    "strategy",
    "verification",
    "reconciled_by",
    "orders_before",
}


def test_new_record_refuses_an_approver_that_is_not_utf8() -> None:
    bad = b"bob\xff".decode("utf-8", "surrogateescape")
    with pytest.raises(BadInput, match="--approver") as caught:
        new_record(**{**_minimal(), "approver": bad})
    assert caught.value.exit_code == 2


def _minimal() -> dict[str, Any]:
    d = draft("dev", 1)
    return {
        "environment": "dev",
        "kind": "deploy",
        "status": "success",
        "digest": d["digest"],
        "image_uri": d["image_uri"],
        "started_at": T0,
        "finished_at": T0,
    }
