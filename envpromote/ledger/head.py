"""The per-environment head object (``head.json``): a pure summary of the chain, advanced record by record.

It is an index, not evidence: gates re-read and verify the records it points at. It holds the last sequence and
its sha256 (to seal the next record without reading it), the last success by the ordering rule (`order_key`),
the unresolved intents, and how many schema-1 records were copied from the legacy layout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from envpromote.ledger.records import order_key, record_sha256

HEAD_FORMAT = "envpromote-ledger-head/1"

Head = dict[str, Any]


def empty_head(environment: str) -> Head:
    return {
        "format": HEAD_FORMAT,
        "environment": environment,
        "sequence": 0,
        "sha256": None,
        "record_id": None,
        "last_success": None,
        "unresolved": [],
        "migrated_legacy": 0,
    }


def advance(head: Mapping[str, Any], record: Mapping[str, Any]) -> Head:
    """The head after `record` (the next sequence) is appended. Pure."""
    sequence = int(record["sequence"])
    if sequence != int(head["sequence"]) + 1:
        raise ValueError(f"head at {head['sequence']} cannot advance to {sequence}")
    new = dict(head)
    new["sequence"] = sequence
    new["sha256"] = record_sha256(record)
    new["record_id"] = record["record_id"]
    unresolved = [dict(item) for item in head["unresolved"] if item["record_id"] != record.get("resolves")]
    if record["status"] == "in_progress":
        unresolved.append({"sequence": sequence, "record_id": record["record_id"]})
    new["unresolved"] = unresolved
    if record["status"] == "success" and record["kind"] != "lock_break":
        key = list(order_key(record))
        last = head.get("last_success")
        if last is None or key >= list(last["order"]):
            new["last_success"] = {"sequence": sequence, "digest": record["digest"], "order": key}
    return new


def head_bytes(head: Mapping[str, Any]) -> bytes:
    return json.dumps(head, sort_keys=True, separators=(",", ":")).encode("utf-8")


def parse_head(body: bytes, environment: str) -> Head | None:
    """The head, or None when the object is not one (then it is rebuilt from the records)."""
    try:
        head = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if (
        not isinstance(head, dict)
        or head.get("format") != HEAD_FORMAT
        or head.get("environment") != environment
    ):
        return None
    if not isinstance(head.get("sequence"), int) or not isinstance(head.get("unresolved"), list):
        return None
    return head
