"""Reading the S3 ledger: the bounded reads (head, tip, indexes) and the evidence checks. Key layout: `layout`.

Cost per call, whatever the history's length (S3 requests; `bench/ledger/` measures them):
  append          GET head, LIST tip, GET id (404), PUT record, PUT id, PUT digest index (+1 for a rollback),
                  PUT head (If-Match)                                                            = 7 (8)
  last_success    GET head, LIST tip, GET record                                                 = 3
  last_for_digest GET head, LIST tip, LIST digest index, GET record                              = 4
  gate_records    as last_for_digest, + 1 GET per record of that digest since its last success
  verified        GET record, LIST versions of its key, GET previous record                      = 3
  history(N)      LIST newest N keys, N GETs (in parallel)                                       = N + 1
A crash between a record's write and the head's leaves an "orphan" past the head: readers see it in the tip
listing and fold it in (one GET each); the next append indexes it and moves the head first. The schema-1 layout
(``envs/E/<seq>.json``) is read as before until the first append copies it into the new layout (once, O(n)).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.exceptions

from envpromote.config import LedgerSettings
from envpromote.errors import LedgerError
from envpromote.ledger import layout
from envpromote.ledger.head import Head, advance, empty_head, parse_head
from envpromote.ledger.records import (
    ChainProblem,
    Record,
    canonical_bytes,
    order_key,
    record_sha256,
    schema_errors,
)

MAX_ORPHANS = 32
_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
_MISSING = {"NoSuchKey", "404", "NotFound"}

Progress = Callable[[str, int, int], None]


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    unresolved: list[Record] = field(default_factory=list)


@dataclass
class _State:
    head: Head
    etag: str | None
    orphans: list[Record]  # records past the head, oldest first

    @property
    def folded(self) -> Head:
        head = self.head
        for record in self.orphans:
            head = advance(head, record)
        return head


class LedgerReader:
    """The read side of `envpromote.ledger.Ledger`. `s3` is a boto3 S3 client from the one client factory."""

    def __init__(self, s3: Any, settings: LedgerSettings) -> None:
        self.s3 = s3
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self._stored_at: dict[tuple[str, int], dt.datetime] = {}
        # A state read under the environment's lock, kept for the append that follows at once (one use).
        self._kept: dict[str, _State | None] = {}

    # ---- low level ------------------------------------------------------------------------------

    def _call(self, action: str, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.s3, operation)(Bucket=self.bucket, **kwargs)
        except botocore.exceptions.ClientError as exc:
            raise _ledger_error(action, self.bucket, exc) from None

    def _get_optional(self, key: str) -> tuple[bytes, dict[str, Any]] | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise _ledger_error("read", self.bucket, exc) from None
        body: bytes = response["Body"].read()
        return body, response

    def _get(self, key: str) -> bytes:
        found = self._get_optional(key)
        if found is None:
            raise LedgerError(
                f"Ledger object s3://{self.bucket}/{key} is missing (deleted?).",
                fix="Run 'invoke ledger.verify' and restore the object's previous version from S3 versioning.",
            )
        return found[0]

    def _put_new(self, key: str, body: bytes) -> bool:
        """Write-once. False when the key already exists."""
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*"
            )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _PRECONDITION:
                return False
            raise _ledger_error("write", self.bucket, exc) from None
        return True

    def _list(self, prefix: str, max_keys: int | None = None) -> Iterator[str]:
        """Keys under `prefix` in key order (newest first for records and index entries)."""
        kwargs: dict[str, Any] = {"Prefix": prefix}
        if max_keys is not None:
            kwargs["MaxKeys"] = max_keys
        listed = 0
        while True:
            page = self._call("list", "list_objects_v2", **kwargs)
            for obj in page.get("Contents", []):
                yield obj["Key"]
                listed += 1
                if max_keys is not None and listed >= max_keys:
                    return
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _parse(self, key: str, body: bytes) -> Record:
        try:
            record = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise LedgerError(
                f"Ledger object s3://{self.bucket}/{key} is corrupted (not JSON).",
                fix="Run 'invoke ledger.verify' and restore the object's previous version from S3 versioning.",
            ) from None
        errors = schema_errors(record)
        if errors:
            raise LedgerError(
                f"Ledger object s3://{self.bucket}/{key} breaks the record schema: {errors[0]}.",
                fix="Run 'invoke ledger.verify' and restore the object's previous version from S3 versioning.",
            )
        result: Record = record
        return result

    def _record(self, environment: str, sequence: int) -> Record:
        key = layout.record_key(self.prefix, environment, sequence)
        return self._parse(key, self._get(key))

    def _records(self, environment: str, sequences: Iterable[int]) -> list[Record]:
        wanted = list(sequences)
        if len(wanted) <= 1:
            return [self._record(environment, s) for s in wanted]
        with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
            return list(pool.map(lambda s: self._record(environment, s), wanted))

    # ---- head, tip, legacy ----------------------------------------------------------------------

    def _tip(self, environment: str) -> int:
        """The highest sequence stored in the new layout (0 when none): one LIST of one key."""
        for key in self._list(layout.records_prefix(self.prefix, environment), max_keys=1):
            return layout.sequence_of_record_key(key) or 0
        return 0

    def _legacy_keys(self, environment: str, max_keys: int | None = None) -> list[str]:
        # Schema-1 keys are ten digits directly under envs/E/; sequences below 10^9 start with "0".
        keys = self._list(layout.env_prefix(self.prefix, environment) + "0", max_keys=max_keys)
        return [k for k in keys if layout.sequence_of_legacy_key(k) is not None]

    def _read_head(self, environment: str) -> tuple[Head | None, str | None]:
        found = self._get_optional(layout.head_key(self.prefix, environment))
        if found is None:
            return None, None
        body, response = found
        return parse_head(body, environment), str(response.get("ETag"))

    def _state(self, environment: str) -> _State | None:
        """Head + orphans; None when the environment is only in the schema-1 layout (or empty).

        A state kept by `unresolved_intents(keep_for_append=True)` is used once instead of reading again: the
        append's writes are conditional (the record If-None-Match, the head If-Match its ETag), so a state
        that went stale meanwhile costs a retry with a fresh read, never a fork of the chain."""
        if environment in self._kept:
            return self._kept.pop(environment)
        head, etag = self._read_head(environment)
        tip = self._tip(environment)
        if head is None and tip == 0:
            return None
        if head is None:  # lost or unreadable head: rebuilt from the records (rare, O(n))
            head, orphans_from = empty_head(environment), 1
        else:
            orphans_from = int(head["sequence"]) + 1
        if tip - orphans_from + 1 > MAX_ORPHANS and head["sequence"] != 0:
            raise LedgerError(
                f"The {environment} ledger has {tip - orphans_from + 1} records past its head object.",
                fix="Run 'invoke ledger.verify'; the next append re-indexes them.",
            )
        orphans = self._records(environment, range(orphans_from, tip + 1))
        return _State(head, etag, orphans)

    def _legacy_history(self, environment: str) -> list[Record]:
        keys = sorted(self._legacy_keys(environment), key=lambda k: layout.sequence_of_legacy_key(k) or 0)
        return [self._parse(key, self._get(key)) for key in keys]

    # ---- reading ----------------------------------------------------------------------------------

    def history(self, environment: str, limit: int | None = None) -> list[Record]:
        """The newest `limit` records (all when None), oldest first, schema-checked. Costs limit + 1 calls."""
        keys = list(self._list(layout.records_prefix(self.prefix, environment), max_keys=limit))
        if not keys:
            legacy = self._legacy_history(environment)
            return legacy[-limit:] if limit else legacy
        sequences = sorted(layout.sequence_of_record_key(k) or 0 for k in keys)
        return self._records(environment, sequences)

    def last_success(self, environment: str) -> Record | None:
        """The last success by the ordering rule (a resolution counts at its intent's place)."""
        state = self._state(environment)
        if state is None:
            legacy = [r for r in self._legacy_history(environment) if r["status"] == "success"]
            return max(legacy, key=order_key) if legacy else None
        pointer = state.folded.get("last_success")
        if pointer is None:
            return None
        sequence = int(pointer["sequence"])
        record = next((r for r in state.orphans if r["sequence"] == sequence), None)
        record = record or self._record(environment, sequence)
        if (
            record["status"] != "success"
            or record["kind"] == "lock_break"
            or record["digest"] != pointer["digest"]
        ):
            raise _evidence_error(
                self.bucket,
                layout.head_key(self.prefix, environment),
                f"points at record {sequence} as the last success, but that record is {record['status']}",
            )
        return record

    def unresolved_intents(self, environment: str, *, keep_for_append: bool = False) -> list[Record]:
        """`in_progress` records no later record resolves, oldest first.

        `keep_for_append`: the caller holds the environment's lock and appends next (the engine's intent):
        the head and tip read here serve that append's first attempt (see `_state`)."""
        state = self._state(environment)
        if keep_for_append:
            self._kept[environment] = state
        if state is None:
            return []
        by_sequence = {r["sequence"]: r for r in state.orphans}
        wanted = [int(i["sequence"]) for i in state.folded["unresolved"]]
        intents = [by_sequence.get(s) or self._record(environment, s) for s in wanted]
        for intent in intents:
            if intent["status"] != "in_progress":
                raise _evidence_error(
                    self.bucket,
                    layout.head_key(self.prefix, environment),
                    f"lists record {intent['sequence']} as an open intent, but it is {intent['status']}",
                )
        return intents

    def _digest_entries(self, environment: str, digest: str) -> Iterator[layout.IndexEntry]:
        for key in self._list(layout.digest_prefix(self.prefix, environment, digest)):
            entry = layout.parse_index_key(key)
            if entry is not None:
                yield entry

    def last_for_digest(self, environment: str, digest: str, status: str | None = None) -> Record | None:
        """The newest record of `digest` (with `status`, when given), by the ordering rule."""
        found = self.gate_records(environment, digest, until_status=status or "*")
        matching = [r for r in found if r["digest"] == digest and (status is None or r["status"] == status)]
        return max(matching, key=order_key) if matching else None

    def gate_records(self, environment: str, digest: str, *, until_status: str = "success") -> list[Record]:
        """The records about `digest` (its own and rollbacks away from it) back to its last `until_status`
        record, oldest first by the ordering rule: what gate.upstream_success needs from an environment."""
        state = self._state(environment)
        if state is None:
            return [r for r in self._legacy_history(environment) if _about(r, digest)]
        orphans = [r for r in state.orphans if _about(r, digest)]
        indexed_through = int(state.head["sequence"])
        wanted: list[int] = []
        if not any(_stops(r["status"], until_status) and r["digest"] == digest for r in orphans):
            for entry in self._digest_entries(environment, digest):
                if entry.sequence > indexed_through:
                    continue
                wanted.append(entry.sequence)
                if entry.role == "d" and _stops(entry.status, until_status):
                    break
        indexed = self._records(environment, sorted(set(wanted)))
        # An index entry is a hint; only records that really are about the digest count.
        records = [r for r in indexed if _about(r, digest)] + orphans
        return sorted(records, key=order_key)

    def environments(self) -> list[str]:
        prefix = f"{self.prefix}/envs/"
        response = self._call("list", "list_objects_v2", Prefix=prefix, Delimiter="/")
        return sorted(p["Prefix"][len(prefix) :].strip("/") for p in response.get("CommonPrefixes", []))

    # ---- evidence ---------------------------------------------------------------------------------

    def verified(self, environment: str, record: Mapping[str, Any]) -> Record:
        """The record as stored, after checking it: schema, bytes equal to `record`, exactly one S3 version and
        no delete marker, and its link to the previous record. LedgerError (exit 4) naming the object otherwise."""
        sequence = int(record["sequence"])
        key, found = self._stored(environment, sequence)
        if found is None:
            raise _evidence_error(self.bucket, key, "is missing (deleted?)")
        body, response = found
        stored = self._parse(key, body)
        if body != canonical_bytes(stored) or stored != dict(record):
            raise _evidence_error(self.bucket, key, "does not match the record read earlier (edited?)")
        versions = self._call("list versions of", "list_object_versions", Prefix=key, MaxKeys=3)
        own = [v for v in versions.get("Versions", []) if v["Key"] == key]
        markers = [m for m in versions.get("DeleteMarkers", []) if m["Key"] == key]
        if len(own) != 1 or markers:
            what = f"has {len(own)} versions" if len(own) != 1 else "has a delete marker"
            raise _evidence_error(self.bucket, key, f"{what} in S3 (overwritten or deleted)")
        if sequence == 1:
            if stored["prev_record_sha256"] is not None:
                raise _evidence_error(self.bucket, key, "is the first record but points at a predecessor")
        else:
            previous_key, previous = self._stored(environment, sequence - 1)
            if previous is None:
                raise _evidence_error(self.bucket, previous_key, "is missing (deleted?)")
            if record_sha256(self._parse(previous_key, previous[0])) != stored["prev_record_sha256"]:
                raise _evidence_error(
                    self.bucket, key, "does not link to the previous record (edited chain?)"
                )
        self._stored_at[(environment, sequence)] = response["LastModified"]
        return stored

    def _stored(self, environment: str, sequence: int) -> tuple[str, tuple[bytes, dict[str, Any]] | None]:
        """(key, body and response) of a record; the schema-1 key only while the environment has no new layout."""
        key = layout.record_key(self.prefix, environment, sequence)
        found = self._get_optional(key)
        if found is None and self._tip(environment) == 0:
            legacy = layout.legacy_record_key(self.prefix, environment, sequence)
            return legacy, self._get_optional(legacy)
        return key, found

    def stored_at(self, environment: str, record: Mapping[str, Any]) -> dt.datetime:
        """When S3 stored the record (its LastModified, AWS's clock)."""
        sequence = int(record["sequence"])
        if (environment, sequence) not in self._stored_at:
            key, found = self._stored(environment, sequence)
            if found is None:
                raise _evidence_error(self.bucket, key, "is missing (deleted?)")
            self._stored_at[(environment, sequence)] = found[1]["LastModified"]
        return self._stored_at[(environment, sequence)]

    def aws_time(self) -> dt.datetime:
        """Now, by AWS's clock: the Date header of an S3 response (never the local clock)."""
        response = self._call("reach", "head_bucket")
        date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        if not date:
            raise LedgerError(
                f"S3 gave no Date header for bucket {self.bucket}; AWS's time is unknown.",
                fix="Use a real S3 endpoint or the sandbox server (not an in-process mock).",
            )
        return parsedate_to_datetime(date).astimezone(dt.UTC)


def _about(record: Mapping[str, Any], digest: str) -> bool:
    """The record is of `digest`, or is a rollback away from it."""
    return bool(
        record["digest"] == digest
        or (record["kind"] == "rollback" and record.get("previous_digest") == digest)
    )


def _stops(status: str, until_status: str) -> bool:
    return until_status == "*" or status == until_status


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _ledger_error(action: str, bucket: str, exc: botocore.exceptions.ClientError) -> LedgerError:
    error = exc.response.get("Error", {})
    return LedgerError(
        f"Cannot {action} ledger bucket {bucket}: {error.get('Code')}: {error.get('Message', '')}".rstrip(
            ": "
        )
        + ".",
        fix="Check [ledger] bucket/region in envpromote.toml and the role's S3 permissions on the ledger prefix.",
    )


def _evidence_error(bucket: str, key: str, problem: str) -> LedgerError:
    return LedgerError(
        f"Ledger object s3://{bucket}/{key} {problem}: it cannot be relied on.",
        fix="Run 'invoke ledger.verify'; restore the object from S3 versioning or fix forward with a new release.",
    )
