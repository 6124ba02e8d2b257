"""Pure parts of the ledger's S3 layout and head object."""

from __future__ import annotations

import pytest
from ledger_support import draft

from envpromote.ledger import layout, seal
from envpromote.ledger.head import advance, empty_head, head_bytes, parse_head


def test_record_keys_list_newest_first_and_round_trip() -> None:
    keys = [layout.record_key("releases", "dev", n) for n in (1, 2, 10, 11, 10_000)]
    assert sorted(keys) == list(reversed(keys))
    assert [layout.sequence_of_record_key(k) for k in keys] == [1, 2, 10, 11, 10_000]
    assert layout.sequence_of_record_key(layout.legacy_record_key("releases", "dev", 3)) is None
    assert layout.sequence_of_legacy_key(layout.legacy_record_key("releases", "dev", 3)) == 3
    with pytest.raises(ValueError, match="out of range"):
        layout.record_key("releases", "dev", 0)


def test_digest_index_keys_carry_sequence_status_and_role() -> None:
    key = layout.digest_index_key("releases", "dev", "sha256:" + "a" * 64, 42, "rolled_back", "p")
    assert key.startswith("releases/envs/dev/d/" + "a" * 64 + "/")
    assert layout.parse_index_key(key) == layout.IndexEntry(42, "rolled_back", "p")
    newer = layout.digest_index_key("releases", "dev", "sha256:" + "a" * 64, 43, "success", "d")
    assert newer < key


def test_head_follows_intents_and_the_last_success() -> None:
    head = empty_head("dev")
    first = seal(draft("dev", 1), sequence=1)
    head = advance(head, first)
    intent = seal(draft("dev", 2, "in_progress"), sequence=2)
    head = advance(head, intent)
    assert head["unresolved"] == [{"sequence": 2, "record_id": intent["record_id"]}]
    assert head["last_success"]["sequence"] == 1
    final = seal(draft("dev", 2, "success", resolves=intent), sequence=3)
    head = advance(head, final)
    assert head["unresolved"] == []
    assert head["last_success"] == {"sequence": 3, "digest": final["digest"], "order": [2, 3]}
    assert parse_head(head_bytes(head), "dev") == head
    assert parse_head(head_bytes(head), "staging") is None
    assert parse_head(b"{not json", "dev") is None
    with pytest.raises(ValueError, match="cannot advance"):
        advance(head, first)


def test_a_late_success_does_not_move_the_last_success_back() -> None:
    head = empty_head("dev")
    intent = seal(draft("dev", 1, "in_progress"), sequence=1)
    newer = seal(draft("dev", 2), sequence=2)
    late = seal(draft("dev", 1, "success", resolves=intent), sequence=3)
    for record in (intent, newer, late):
        head = advance(head, record)
    assert head["last_success"]["sequence"] == 2
