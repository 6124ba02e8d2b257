"""Release records, pure: the schema, canonical bytes, sealing into a hash chain, ordering, checking a chain.

Each record carries the sha256 of the previous record of its environment, so a deleted, edited or reordered
object breaks the chain at a point ``verify_chain`` can name.

Ordering rule (schema 2). A sequence number is taken when a record is appended, and the chain is in sequence
order. A run takes its place in history at INTENT time: its ``in_progress`` record gets sequence S, and the final
record that resolves it carries ``resolves`` (the intent's record_id) and ``resolves_sequence`` = S. Whenever it
is appended (normally S + 1; later if it was kept locally and re-sent, or when a reconcile wrote first), it is
ordered at S: ``order_key`` = (S, own sequence). A re-sent kept record is therefore appended as the resolution of
its intent and never lands after newer releases in ``last_success``, ``drift`` or the gates. A kept record with no
intent (schema 1 engines) that is re-sent after newer records is marked ``orders_before`` = the first of them
and ordered just before it. Every resolution is kept; two resolutions of one intent order by their own sequence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from envpromote.errors import BadInput
from envpromote.ledger.layout import sequence_of_legacy_key, sequence_of_record_key

SCHEMA_VERSION = 2
STATUSES = ("success", "failed", "rolled_back", "timed_out", "aborted", "in_progress", "unknown")
FINAL_STATUSES = ("success", "failed", "rolled_back", "timed_out", "aborted", "unknown")
KINDS = ("deploy", "promote", "rollback", "reconcile", "lock_break")
PERSON_TEXT_MAX = 200

Record = dict[str, Any]


def validate_person_text(value: str, what: str) -> str:
    """A value typed by a person (approver, actor, reason): printable Unicode, <= 200 chars, valid UTF-8.

    Bytes that are not UTF-8 reach Python as lone surrogates (``$'bob\xff'``); they and control characters are
    refused with BadInput (exit 2) naming `what` (e.g. ``--approver``). Returns the value unchanged.
    """
    if not isinstance(value, str):
        raise BadInput(f"{what} must be text, got {type(value).__name__}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(
            f"{what} is not valid UTF-8 text.", fix=f"Pass {what} as plain UTF-8 text (a name or an e-mail)."
        ) from None
    if len(value) > PERSON_TEXT_MAX:
        raise BadInput(f"{what} is {len(value)} characters long; at most {PERSON_TEXT_MAX} are allowed.")
    bad = sorted({f"U+{ord(ch):04X}" for ch in value if not _printable(ch)})
    if bad:
        raise BadInput(
            f"{what} contains control or non-printable characters ({', '.join(bad[:5])}).",
            fix=f"Pass {what} as printable text without control characters.",
        )
    return value


def _printable(ch: str) -> bool:
    if ch == " ":
        return True
    # C* = control, format, surrogate, private use, unassigned; Z[lp] = line/paragraph separators.
    return unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in {"Zl", "Zp"}


# ---- pure functions -------------------------------------------------------------------------------


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """The exact bytes stored and hashed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_sha256(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


@lru_cache(maxsize=1)
def record_schema() -> dict[str, Any]:
    text = resources.files("envpromote").joinpath("schemas/release-record.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_errors(record: Any) -> list[str]:
    """Every way `record` breaks the published JSON Schema (empty when valid)."""
    validator = jsonschema.Draft202012Validator(record_schema())
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<record>'}: {error.message[:200]}"
        for error in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    ]


def new_record(
    *,
    environment: str,
    kind: str,
    status: str,
    digest: str | None,
    image_uri: str | None,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    source_environment: str | None = None,
    task_definition_arn: str | None = None,
    previous_digest: str | None = None,
    previous_task_definition_arn: str | None = None,
    reasons: Iterable[str] = (),
    actor: str = "unknown",
    approver: str | None = None,
    run_id: str | None = None,
    run_attempt: str | None = None,
    workflow_ref: str | None = None,
    source_commit: str | None = None,
    deployment_id: str | None = None,
    allow_unscanned: bool = False,
    scan: Mapping[str, Any] | None = None,
    api_calls: Mapping[str, int] | None = None,
    resolves: Mapping[str, Any] | None = None,
    service_deployment_arn: str | None = None,
    strategy: str | None = None,
    verification: Iterable[Mapping[str, Any]] = (),
    reconciled_by: str | None = None,
    record_id: str | None = None,
) -> Record:
    """A draft record: `sequence` and `prev_record_sha256` are filled in when it is appended.

    `resolves` is the intent (an appended ``in_progress`` record) this final record closes. People's values
    (actor, approver, reconciled_by) are checked with `validate_person_text` (BadInput, exit 2).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if (digest is None or image_uri is None) and kind != "lock_break":
        raise ValueError("only a lock_break record may have no digest")
    if resolves is not None and resolves.get("status") != "in_progress":
        raise ValueError("a record can only resolve an in_progress (intent) record")
    validate_person_text(actor, "actor")
    if approver is not None:
        validate_person_text(approver, "--approver")
    if reconciled_by is not None:
        validate_person_text(reconciled_by, "reconciled_by")
    return {
        "schema_version": SCHEMA_VERSION,
        "record_id": record_id or uuid.uuid4().hex,
        "sequence": 0,
        "timestamp_utc": iso(finished_at),
        "environment": environment,
        "source_environment": source_environment,
        "digest": digest,
        "image_uri": image_uri,
        "task_definition_arn": task_definition_arn,
        "previous_digest": previous_digest,
        "previous_task_definition_arn": previous_task_definition_arn,
        "status": status,
        "kind": kind,
        "reasons": [safe_text(str(r))[:2000] for r in reasons][:200],
        "started_at": iso(started_at),
        "finished_at": iso(finished_at),
        "duration_s": round(max(0.0, (finished_at - started_at).total_seconds()), 3),
        "actor": actor,
        "approver": approver or None,
        "run_id": run_id,
        "run_attempt": run_attempt,
        "workflow_ref": workflow_ref,
        "source_commit": source_commit,
        "prev_record_sha256": None,
        "deployment_id": deployment_id,
        "allow_unscanned": allow_unscanned,
        "scan": dict(scan) if scan is not None else None,
        "api_calls": dict(api_calls) if api_calls is not None else None,
        "resolves": str(resolves["record_id"]) if resolves is not None else None,
        "resolves_sequence": int(resolves["sequence"]) if resolves is not None else None,
        "service_deployment_arn": service_deployment_arn,
        "strategy": strategy,
        "verification": [
            {
                "check": safe_text(str(v["check"]))[:200],
                "result": str(v["result"]),
                "detail": safe_text(str(v.get("detail", "")))[:2000],
            }
            for v in verification
        ][:50],
        "reconciled_by": reconciled_by,
        "orders_before": None,
    }


def safe_text(text: str) -> str:
    """Machine text (ECS reasons, exception messages) made storable: lone surrogates and controls replaced."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "".join(ch if ch in "\t\n" or _printable(ch) else "\ufffd" for ch in text)


def order_key(record: Mapping[str, Any]) -> tuple[int, int]:
    """Where a record stands in history (see the module's ordering rule): (anchor sequence, own sequence)."""
    sequence = int(record["sequence"])
    if record.get("resolves_sequence"):
        return int(record["resolves_sequence"]), sequence
    if record.get("orders_before"):
        return int(record["orders_before"]) - 1, sequence
    return sequence, sequence


def resolves_intent(record: Mapping[str, Any]) -> str | None:
    value = record.get("resolves")
    return str(value) if value else None


def seal(
    draft: Mapping[str, Any],
    *,
    sequence: int,
    previous: Mapping[str, Any] | None = None,
    previous_sha256: str | None = None,
) -> Record:
    """Place a draft in the chain after `previous` (or after the record whose sha256 is `previous_sha256`)."""
    record = dict(draft)
    record["sequence"] = sequence
    record["prev_record_sha256"] = record_sha256(previous) if previous is not None else previous_sha256
    return record


def upgrade_draft(draft: Mapping[str, Any]) -> Record:
    """A schema-1 draft (kept by an older version) as a schema-2 draft; nothing else changes."""
    record = dict(draft)
    if record.get("schema_version") == 1:
        record["schema_version"] = SCHEMA_VERSION
        for name in ("resolves", "resolves_sequence", "service_deployment_arn", "strategy", "reconciled_by"):
            record.setdefault(name, None)
        record.setdefault("orders_before", None)
        record.setdefault("verification", [])
    return record


@dataclass(frozen=True)
class ChainProblem:
    environment: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.environment}: {self.key}: {self.problem}"


def verify_chain(environment: str, entries: Iterable[tuple[str, bytes]]) -> list[ChainProblem]:
    """Check one environment's records, given (key, stored bytes) in sequence order. Pure."""
    checker = ChainChecker(environment)
    problems: list[ChainProblem] = []
    for key, body in entries:
        problems.extend(checker.feed(key, body))
    return problems


class ChainChecker:
    """Streaming form of `verify_chain`: feed records oldest first, one at a time (constant memory)."""

    def __init__(self, environment: str) -> None:
        self.environment = environment
        self.previous: Record | None = None
        self.expected_sequence = 1
        self.open_intents: dict[str, Record] = {}

    def feed(self, key: str, body: bytes) -> list[ChainProblem]:
        environment = self.environment
        problems: list[ChainProblem] = []
        try:
            record = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            problems.append(ChainProblem(environment, key, "not valid JSON (corrupted)"))
            self.previous, self.expected_sequence = None, self.expected_sequence + 1
            return problems
        for error in schema_errors(record):
            problems.append(ChainProblem(environment, key, f"schema: {error}"))
        if not isinstance(record, dict):
            return problems
        if body != canonical_bytes(record):
            problems.append(ChainProblem(environment, key, "bytes are not canonical JSON (edited by hand?)"))
        key_sequence = _sequence_from_key(key)
        sequence = record.get("sequence")
        if key_sequence is not None and sequence != key_sequence:
            problems.append(
                ChainProblem(
                    environment,
                    key,
                    f"holds sequence {sequence} but is stored as {key_sequence} (reordered?)",
                )
            )
        if key_sequence is not None and key_sequence != self.expected_sequence:
            missing = ", ".join(str(n) for n in range(self.expected_sequence, key_sequence))
            problems.append(
                ChainProblem(environment, key, f"records {missing} are missing before it (deleted?)")
            )
            self.previous = None
        if record.get("environment") != environment:
            problems.append(
                ChainProblem(environment, key, f"belongs to environment {record.get('environment')!r}")
            )
        if self.previous is not None and record.get("prev_record_sha256") != record_sha256(self.previous):
            problems.append(
                ChainProblem(
                    environment, key, "prev_record_sha256 does not match the previous record (edited?)"
                )
            )
        if self.expected_sequence == 1 and key_sequence == 1 and record.get("prev_record_sha256") is not None:
            problems.append(ChainProblem(environment, key, "first record points at a predecessor"))
        if record.get("status") == "in_progress":
            self.open_intents[str(record.get("record_id"))] = record
        resolved = record.get("resolves")
        if resolved:
            self.open_intents.pop(str(resolved), None)
        self.previous = record
        self.expected_sequence = (key_sequence or self.expected_sequence) + 1
        return problems


def _sequence_from_key(key: str) -> int | None:
    new = sequence_of_record_key(key)
    return new if new is not None else sequence_of_legacy_key(key)
