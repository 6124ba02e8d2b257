"""Writing the S3 ledger: append (write-once records, indexes, the head moved with If-Match), repair, migration
from the schema-1 layout, build records, and `verify`, which streams every record with progress callbacks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import botocore.exceptions

from envpromote.errors import LedgerError
from envpromote.ledger import layout
from envpromote.ledger.head import Head, advance, empty_head, head_bytes
from envpromote.ledger.read import (
    _PRECONDITION,
    LedgerReader,
    Progress,
    VerifyReport,
    _code,
    _ledger_error,
    _State,
)
from envpromote.ledger.records import (
    ChainChecker,
    ChainProblem,
    Record,
    canonical_bytes,
    parse_iso,
    schema_errors,
    seal,
    upgrade_draft,
    utc_now,
)

_ATTEMPTS = 8
_LATE_LOOKBACK = 50


class Ledger(LedgerReader):
    """S3-backed ledger: append-only, hash-chained, with bounded-cost reads (see `envpromote.ledger.read`)."""

    # ---- appending --------------------------------------------------------------------------------

    def append(self, draft: Mapping[str, Any]) -> Record:
        """Seal the draft as the environment's next record and write it; never overwrites, never appends twice
        (a draft whose record_id is already stored returns the stored record)."""
        environment = str(draft["environment"])
        draft = upgrade_draft(draft)
        for _attempt in range(_ATTEMPTS):
            state = self._state(environment)
            if state is None:
                if self._legacy_keys(environment, max_keys=1):
                    self._migrate(environment)
                    continue
                state = _State(empty_head(environment), None, [])
            if state.orphans:
                self._repair(environment, state)
                continue
            already = self._by_id(environment, str(draft["record_id"]))
            if already is not None:
                return already
            head = state.head
            record = seal(draft, sequence=int(head["sequence"]) + 1, previous_sha256=head["sha256"])
            errors = schema_errors(record)
            if errors:
                raise LedgerError(
                    f"Refusing to write an invalid record: {errors[0]}.", fix="Report this bug."
                )
            key = layout.record_key(self.prefix, environment, record["sequence"])
            if not self._put_new(key, canonical_bytes(record)):
                continue  # someone appended in between; re-read and take the next sequence
            self._index(environment, record)
            self._move_head(environment, state.head, state.etag, [record])
            return record
        raise LedgerError(
            f"Could not append to the {environment} ledger: the chain kept moving.",
            fix="Check for a runaway writer; promotions hold a lock, so this should not happen.",
        )

    def next_sequence(self, environment: str) -> int:
        """The sequence the environment's next append takes, as the head says: one GET (one LIST more when
        there is no head yet). An estimate, not a claim: records past the head, or a writer that broke the lock,
        move it; the caller compares it with the sequence `append` returns."""
        head, _etag = self._read_head(environment)
        return int(head["sequence"]) + 1 if head is not None else self._tip(environment) + 1

    def append_kept(self, draft: Mapping[str, Any]) -> Record:
        """Append a draft kept locally after a failed write. A resolution of an intent takes the intent's place
        (see the ordering rule); a draft without an intent that finished before newer records were started is
        marked ``orders_before`` the first of them (looking back at most 50 records), with a reason saying so."""
        record = upgrade_draft(draft)
        environment = str(record["environment"])
        if record.get("resolves") or self._by_id(environment, str(record["record_id"])) is not None:
            return self.append(record)
        finished = parse_iso(str(record["finished_at"]))
        newer = [
            r
            for r in self.history(environment, limit=_LATE_LOOKBACK)
            if parse_iso(r["started_at"]) > finished
        ]
        if newer:
            first = min(int(r["sequence"]) for r in newer)
            record["orders_before"] = first
            record["reasons"] = [
                *record["reasons"][:199],
                f"kept locally and appended late: it happened before record #{first}",
            ]
        return self.append(record)

    def _by_id(self, environment: str, record_id: str) -> Record | None:
        found = self._get_optional(layout.id_key(self.prefix, environment, record_id))
        if found is None:
            return None
        sequence = int(self._parse_json(found[0]).get("sequence", 0))
        return self._record(environment, sequence) if sequence else None

    @staticmethod
    def _parse_json(body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def _index(self, environment: str, record: Mapping[str, Any]) -> None:
        """Write-once index entries (already present = fine: an earlier attempt or a repair wrote them)."""
        sequence, status = int(record["sequence"]), str(record["status"])
        body = json.dumps({"sequence": sequence}, separators=(",", ":")).encode()
        self._put_new(layout.id_key(self.prefix, environment, str(record["record_id"])), body)
        if record.get("digest"):
            own = layout.digest_index_key(self.prefix, environment, record["digest"], sequence, status, "d")
            self._put_new(own, body)
        if record["kind"] == "rollback" and record.get("previous_digest"):
            away = layout.digest_index_key(
                self.prefix, environment, record["previous_digest"], sequence, status, "p"
            )
            self._put_new(away, body)

    def _move_head(self, environment: str, head: Head, etag: str | None, records: Iterable[Record]) -> None:
        """Advance the head past `records`. A lost race is harmless: whoever moved it folded our record in, or
        the next reader/appender will (it is past the head, in the tip listing)."""
        new = head
        for record in records:
            new = advance(new, record)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=layout.head_key(self.prefix, environment),
                Body=head_bytes(new),
                ContentType="application/json",
                **condition,
            )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _PRECONDITION or _code(exc) in {"NoSuchKey", "404"}:
                return
            raise _ledger_error("write", self.bucket, exc) from None

    def _repair(self, environment: str, state: _State) -> None:
        """Index the records past the head (a writer died between its record and the head) and move the head."""
        for record in state.orphans:
            self._index(environment, record)
        self._move_head(environment, state.head, state.etag, state.orphans)

    def _migrate(self, environment: str, progress: Progress | None = None) -> None:
        """Copy the schema-1 layout into the new one, byte for byte (once; O(n)). The old objects stay."""
        keys = sorted(self._legacy_keys(environment), key=lambda k: layout.sequence_of_legacy_key(k) or 0)
        head = empty_head(environment)
        for done, key in enumerate(keys, 1):
            body = self._get(key)
            record = self._parse(key, body)
            if int(record["sequence"]) != int(head["sequence"]) + 1:
                raise LedgerError(
                    f"Cannot migrate the {environment} ledger: s3://{self.bucket}/{key} holds sequence "
                    f"{record['sequence']} after {head['sequence']}.",
                    fix="Run 'invoke ledger.verify' and restore the missing record from S3 versioning.",
                )
            self._put_new(layout.record_key(self.prefix, environment, int(record["sequence"])), body)
            self._index(environment, record)
            head = advance(head, record)
            if progress is not None:
                progress(environment, done, len(keys))
        head["migrated_legacy"] = len(keys)
        self._move_head(
            environment, head, None, []
        )  # If-None-Match: a concurrent migration's head is as good

    # ---- builds -----------------------------------------------------------------------------------

    def put_build(self, build: Mapping[str, Any]) -> str:
        digest = str(build["digest"])
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        key = f"{self.prefix}/builds/{digest.removeprefix('sha256:')}/{stamp}-{uuid.uuid4().hex[:8]}.json"
        if not self._put_new(key, canonical_bytes(build)):
            raise LedgerError(f"Build record s3://{self.bucket}/{key} already exists.", fix="Retry.")
        return key

    def latest_build(self, digest: str) -> dict[str, Any] | None:
        keys = sorted(self._list(f"{self.prefix}/builds/{digest.removeprefix('sha256:')}/"))
        if not keys:
            return None
        return self._parse_json(self._get(keys[-1])) or None

    # ---- verification -----------------------------------------------------------------------------

    def verify(self, environments: Iterable[str] | None = None) -> tuple[int, list[ChainProblem]]:
        """Check every record and link; also flag objects that S3 versioning shows were rewritten or deleted."""
        report = self.verify_report(environments)
        return report.checked, report.problems

    def verify_report(
        self, environments: Iterable[str] | None = None, progress: Progress | None = None
    ) -> VerifyReport:
        """Stream every record of each environment oldest first (constant memory), calling
        ``progress(environment, checked, total)``; also versions, the head object and unresolved intents."""
        report = VerifyReport()
        for environment in list(environments) if environments is not None else self.environments():
            checker = ChainChecker(environment)
            tip = self._tip(environment)
            if tip == 0:
                entries = [(k, self._get(k)) for k in self._legacy_keys(environment)]
                for done, (key, body) in enumerate(entries, 1):
                    report.problems.extend(checker.feed(key, body))
                    if progress is not None:
                        progress(environment, done, len(entries))
                report.checked += len(entries)
            for sequence in range(1, tip + 1):
                key = layout.record_key(self.prefix, environment, sequence)
                found = self._get_optional(key)
                if found is None:
                    report.problems.append(ChainProblem(environment, key, "is missing (deleted?)"))
                    continue
                report.problems.extend(checker.feed(key, found[0]))
                report.checked += 1
                if progress is not None and (sequence % 100 == 0 or sequence == tip):
                    progress(environment, sequence, tip)
            report.problems.extend(self._version_problems(environment))
            report.problems.extend(self._head_problems(environment, tip))
            report.unresolved.extend(checker.open_intents.values())
        return report

    def _head_problems(self, environment: str, tip: int) -> list[ChainProblem]:
        if tip == 0:
            return []
        head, _ = self._read_head(environment)
        key = layout.head_key(self.prefix, environment)
        if head is None:
            return [ChainProblem(environment, key, "is missing or unreadable (the next append rebuilds it)")]
        if int(head["sequence"]) > tip:
            return [
                ChainProblem(environment, key, f"points at record {head['sequence']}, past the last ({tip})")
            ]
        return []

    def _version_problems(self, environment: str) -> list[ChainProblem]:
        """Streams the version listing (versions of a key come together): overwritten or deleted objects."""
        problems: list[ChainProblem] = []
        head_key = layout.head_key(self.prefix, environment)
        kwargs: dict[str, Any] = {"Prefix": layout.env_prefix(self.prefix, environment)}
        current, count = "", 0

        def overwritten() -> None:
            if count > 1:
                problems.append(
                    ChainProblem(environment, current, f"was overwritten ({count} versions in S3)")
                )

        while True:
            page = self._call("list versions of", "list_object_versions", **kwargs)
            for version in page.get("Versions", []):
                if version["Key"] == head_key:
                    continue
                if version["Key"] != current:
                    overwritten()
                    current, count = version["Key"], 0
                count += 1
            for marker in page.get("DeleteMarkers", []):
                if marker["Key"] != head_key:
                    problems.append(
                        ChainProblem(environment, marker["Key"], "was deleted (delete marker in S3)")
                    )
            if not page.get("IsTruncated"):
                overwritten()
                return problems
            kwargs["KeyMarker"] = page.get("NextKeyMarker")
            kwargs["VersionIdMarker"] = page.get("NextVersionIdMarker")
