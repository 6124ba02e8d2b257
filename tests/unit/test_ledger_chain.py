"""Release records: schema, canonical bytes, hash chain and what verify_chain names when it breaks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envpromote.errors import BadInput
from envpromote.ledger import (
    canonical_bytes,
    new_record,
    order_key,
    record_sha256,
    safe_text,
    schema_errors,
    seal,
    upgrade_draft,
    validate_person_text,
    verify_chain,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PERSON_UNSAFE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def draft(digest_char: str = "a", status: str = "success", env: str = "dev") -> dict:
    digest = "sha256:" + digest_char * 64
    return new_record(
        environment=env,
        kind="deploy",
        status=status,
        digest=digest,
        image_uri=f"123.dkr.ecr.us-east-1.amazonaws.com/app@{digest}",
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=42),
        reasons=["ok"],
    )


def chain(n: int) -> list[tuple[str, bytes]]:
    entries, previous = [], None
    for i in range(1, n + 1):
        record = seal(draft("abcdef"[i % 6]), sequence=i, previous=previous)
        entries.append((f"releases/envs/dev/{i:010d}.json", canonical_bytes(record)))
        previous = record
    return entries


def test_sealed_records_are_schema_valid_and_linked() -> None:
    entries = chain(3)
    assert verify_chain("dev", entries) == []
    second, third = (json.loads(b) for _, b in entries[1:])
    assert third["prev_record_sha256"] == record_sha256(second)
    assert schema_errors(third) == []


def test_draft_is_not_valid_until_sealed() -> None:
    assert any("sequence" in e for e in schema_errors(draft()))


def test_deleted_record_is_named() -> None:
    entries = chain(4)
    del entries[1]
    problems = [str(p) for p in verify_chain("dev", entries)]
    assert any("0000000003.json: records 2 are missing" in p for p in problems)


def test_edited_record_is_named() -> None:
    entries = chain(3)
    key, body = entries[1]
    record = json.loads(body)
    record["status"] = "failed"
    entries[1] = (key, canonical_bytes(record))
    problems = [str(p) for p in verify_chain("dev", entries)]
    assert any("0000000003.json: prev_record_sha256 does not match" in p for p in problems)


def test_reordered_records_are_named() -> None:
    entries = chain(3)
    (k1, b1), (k2, b2) = entries[0], entries[1]
    entries[0], entries[1] = (k1, b2), (k2, b1)
    problems = [str(p) for p in verify_chain("dev", entries)]
    assert any("holds sequence 2 but is stored as 1" in p for p in problems)


def test_corrupted_bytes_are_named() -> None:
    entries = chain(2)
    entries[1] = (entries[1][0], b"{not json")
    assert any("not valid JSON" in str(p) for p in verify_chain("dev", entries))


def test_non_canonical_bytes_are_named() -> None:
    entries = chain(1)
    entries[0] = (entries[0][0], json.dumps(json.loads(entries[0][1]), indent=2).encode())
    assert any("not canonical" in str(p) for p in verify_chain("dev", entries))


@settings(max_examples=50, deadline=None)
@given(
    reasons=st.lists(st.text(max_size=50), max_size=5),
    status=st.sampled_from(["success", "failed", "rolled_back", "timed_out", "aborted"]),
    actor=st.text(alphabet=st.characters(exclude_categories=PERSON_UNSAFE), min_size=1, max_size=30),
)
def test_record_round_trip(reasons: list[str], status: str, actor: str) -> None:
    record = seal(
        new_record(
            environment="staging",
            kind="promote",
            status=status,
            digest="sha256:" + "e" * 64,
            image_uri="r/app@sha256:" + "e" * 64,
            started_at=T0,
            finished_at=T0,
            reasons=reasons,
            actor=actor,
            source_environment="dev",
        ),
        sequence=1,
        previous=None,
    )
    assert schema_errors(record) == []
    again = json.loads(canonical_bytes(record))
    assert again == record
    assert record_sha256(again) == record_sha256(record)


@pytest.mark.parametrize(
    "value",
    [b"bob\xff".decode("utf-8", "surrogateescape"), "bob\x1b[31m", "a\nb", "x" * 201, "bob\u202e", "\u2028"],
)
def test_person_text_is_refused_with_the_flag_named(value: str) -> None:
    with pytest.raises(BadInput, match="--approver") as caught:
        validate_person_text(value, "--approver")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "value", ["bob", "Zoë Ñuñez", "李雷", "alice@example.com", "x" * 200, "o'brien <ob>"]
)
def test_person_text_accepts_printable_unicode(value: str) -> None:
    assert validate_person_text(value, "--approver") == value


def test_machine_reasons_are_made_storable() -> None:
    record = seal(
        new_record(
            environment="dev",
            kind="deploy",
            status="failed",
            digest="sha256:" + "a" * 64,
            image_uri="r/app@sha256:" + "a" * 64,
            started_at=T0,
            finished_at=T0,
            reasons=[b"task \xff stopped".decode("utf-8", "surrogateescape"), "esc \x1b[0m"],
        ),
        sequence=1,
        previous=None,
    )
    assert schema_errors(record) == []
    canonical_bytes(record).decode("utf-8")
    assert safe_text("ok\tline") == "ok\tline"
    assert "\x1b" not in record["reasons"][1]


def test_schema_1_records_stay_valid_and_schema_2_statuses_are_refused_in_them() -> None:
    v2 = seal(draft(), sequence=1, previous=None)
    v1 = {k: v for k, v in v2.items() if k not in V2_ONLY}
    v1["schema_version"] = 1
    assert schema_errors(v1) == []
    assert schema_errors(dict(v1, status="in_progress"))
    assert upgrade_draft(v1)["schema_version"] == 2
    assert schema_errors(dict(upgrade_draft(v1), status="in_progress")) == []


def test_a_resolution_is_ordered_at_its_intent() -> None:
    intent = seal(draft(status="in_progress"), sequence=3, previous=None)
    final = seal(
        new_record(
            environment="dev",
            kind="deploy",
            status="success",
            digest=intent["digest"],
            image_uri=intent["image_uri"],
            started_at=T0,
            finished_at=T0,
            resolves=intent,
        ),
        sequence=9,
        previous=None,
    )
    newer = seal(draft(), sequence=4, previous=None)
    assert sorted([newer, final, intent], key=order_key) == [intent, final, newer]


def test_only_an_intent_can_be_resolved() -> None:
    done = seal(draft(), sequence=1, previous=None)
    with pytest.raises(ValueError, match="in_progress"):
        new_record(
            environment="dev",
            kind="deploy",
            status="success",
            digest=done["digest"],
            image_uri=done["image_uri"],
            started_at=T0,
            finished_at=T0,
            resolves=done,
        )


V2_ONLY = {
    "resolves",
    "resolves_sequence",
    "service_deployment_arn",
    "strategy",
    "verification",
    "reconciled_by",
    "orders_before",
}


def test_only_a_lock_break_may_have_no_digest() -> None:
    lock_break = seal(
        new_record(
            environment="production",
            kind="lock_break",
            status="success",
            digest=None,
            image_uri=None,
            started_at=T0,
            finished_at=T0,
            actor="oncall",
            reasons=["runner lost; lock held by run 42"],
        ),
        sequence=1,
        previous=None,
    )
    assert schema_errors(lock_break) == []
    assert schema_errors(dict(lock_break, kind="deploy"))
    with pytest.raises(ValueError, match="lock_break"):
        new_record(
            environment="dev",
            kind="deploy",
            status="success",
            digest=None,
            image_uri=None,
            started_at=T0,
            finished_at=T0,
        )
