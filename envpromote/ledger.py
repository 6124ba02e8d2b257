"""The release ledger: append-only, hash-chained release records in a versioned S3 bucket.

Layout under the configured prefix:
  ``envs/<env>/<sequence:010d>.json``   one release record, canonical JSON, written with If-None-Match: *
  ``builds/<digest hex>/<utc stamp>-<id>.json``   build records (digest, commit, scan summary)

Each record carries the sha256 of the previous record of its environment, so a deleted, edited or reordered
object breaks the chain at a point ``verify`` can name. Conditional writes mean two writers can never both
claim the same sequence number; S3 versioning (and Object Lock, where configured) keeps every version.

Records are also written as local JSON files (the workflow uploads them). If the S3 write fails, the record is
kept under ``<local_dir>/pending/`` and re-sent by the next command or ``invoke ledger.sync``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import botocore.exceptions
import jsonschema

from envpromote.config import LedgerSettings
from envpromote.errors import LedgerError, PreflightFailed

SCHEMA_VERSION = 1
STATUSES = ("success", "failed", "rolled_back", "timed_out", "aborted")
KINDS = ("deploy", "promote", "rollback")

Record = dict[str, Any]


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
    digest: str,
    image_uri: str,
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
) -> Record:
    """A draft record: `sequence` and `prev_record_sha256` are filled in when it is appended."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return {
        "schema_version": SCHEMA_VERSION,
        "record_id": uuid.uuid4().hex,
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
        "reasons": [str(r)[:2000] for r in reasons][:200],
        "started_at": iso(started_at),
        "finished_at": iso(finished_at),
        "duration_s": round(max(0.0, (finished_at - started_at).total_seconds()), 3),
        "actor": actor[:200],
        "approver": approver[:200] if approver else None,
        "run_id": run_id,
        "run_attempt": run_attempt,
        "workflow_ref": workflow_ref,
        "source_commit": source_commit,
        "prev_record_sha256": None,
        "deployment_id": deployment_id,
        "allow_unscanned": allow_unscanned,
        "scan": dict(scan) if scan is not None else None,
        "api_calls": dict(api_calls) if api_calls is not None else None,
    }


def seal(draft: Mapping[str, Any], *, sequence: int, previous: Mapping[str, Any] | None) -> Record:
    """Place a draft in the chain after `previous`."""
    record = dict(draft)
    record["sequence"] = sequence
    record["prev_record_sha256"] = record_sha256(previous) if previous is not None else None
    return record


@dataclass(frozen=True)
class ChainProblem:
    environment: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.environment}: {self.key}: {self.problem}"


def verify_chain(environment: str, entries: list[tuple[str, bytes]]) -> list[ChainProblem]:
    """Check one environment's records, given (key, stored bytes) in key order. Pure."""
    problems: list[ChainProblem] = []
    previous: Record | None = None
    expected_sequence = 1
    for key, body in entries:
        try:
            record = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            problems.append(ChainProblem(environment, key, "not valid JSON (corrupted)"))
            previous, expected_sequence = None, expected_sequence + 1
            continue
        for error in schema_errors(record):
            problems.append(ChainProblem(environment, key, f"schema: {error}"))
        if not isinstance(record, dict):
            continue
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
        if key_sequence is not None and key_sequence != expected_sequence:
            missing = ", ".join(str(n) for n in range(expected_sequence, key_sequence))
            problems.append(
                ChainProblem(environment, key, f"records {missing} are missing before it (deleted?)")
            )
            previous = None
        if record.get("environment") != environment:
            problems.append(
                ChainProblem(environment, key, f"belongs to environment {record.get('environment')!r}")
            )
        if previous is not None and record.get("prev_record_sha256") != record_sha256(previous):
            problems.append(
                ChainProblem(
                    environment, key, "prev_record_sha256 does not match the previous record (edited?)"
                )
            )
        if expected_sequence == 1 and key_sequence == 1 and record.get("prev_record_sha256") is not None:
            problems.append(ChainProblem(environment, key, "first record points at a predecessor"))
        previous = record
        expected_sequence = (key_sequence or expected_sequence) + 1
    return problems


def _sequence_from_key(key: str) -> int | None:
    stem = key.rsplit("/", 1)[-1].removesuffix(".json")
    return int(stem) if stem.isdigit() else None


# ---- the store ------------------------------------------------------------------------------------


class Ledger:
    """S3-backed ledger. `s3` is a boto3 S3 client from the one client factory."""

    def __init__(self, s3: Any, settings: LedgerSettings) -> None:
        self.s3 = s3
        self.settings = settings
        self._cache: dict[str, list[Record]] = {}

    # keys
    def _env_prefix(self, environment: str) -> str:
        return f"{self.settings.prefix}/envs/{environment}/"

    def _record_key(self, environment: str, sequence: int) -> str:
        return f"{self._env_prefix(environment)}{sequence:010d}.json"

    # reading
    def _keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except botocore.exceptions.ClientError as exc:
            raise _ledger_error("list", self.settings.bucket, exc) from None
        return sorted(keys)

    def _get(self, key: str) -> bytes:
        try:
            body: bytes = self.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            raise _ledger_error("read", self.settings.bucket, exc) from None
        return body

    def history(self, environment: str) -> list[Record]:
        """All records of an environment, oldest first (validated against the schema)."""
        if environment in self._cache:
            return list(self._cache[environment])
        records: list[Record] = []
        for key in self._keys(self._env_prefix(environment)):
            body = self._get(key)
            try:
                record = json.loads(body)
            except json.JSONDecodeError:
                raise LedgerError(
                    f"Ledger object s3://{self.settings.bucket}/{key} is corrupted (not JSON).",
                    fix="Run 'invoke ledger.verify' and restore the object's previous version from S3 versioning.",
                ) from None
            errors = schema_errors(record)
            if errors:
                raise LedgerError(
                    f"Ledger object s3://{self.settings.bucket}/{key} breaks the record schema: {errors[0]}.",
                    fix="Run 'invoke ledger.verify' and restore the object's previous version from S3 versioning.",
                )
            records.append(record)
        self._cache[environment] = records
        return list(records)

    def last_success(self, environment: str) -> Record | None:
        for record in reversed(self.history(environment)):
            if record["status"] == "success":
                return record
        return None

    def environments(self) -> list[str]:
        prefix = f"{self.settings.prefix}/envs/"
        try:
            response = self.s3.list_objects_v2(Bucket=self.settings.bucket, Prefix=prefix, Delimiter="/")
        except botocore.exceptions.ClientError as exc:
            raise _ledger_error("list", self.settings.bucket, exc) from None
        return sorted(p["Prefix"][len(prefix) :].strip("/") for p in response.get("CommonPrefixes", []))

    # writing
    def append(self, draft: Mapping[str, Any]) -> Record:
        """Seal the draft after the environment's last record and write it; never overwrites."""
        environment = str(draft["environment"])
        for _attempt in range(5):
            self._cache.pop(environment, None)
            existing = self.history(environment)
            already = next((r for r in existing if r["record_id"] == draft["record_id"]), None)
            if already is not None:
                return already  # an earlier attempt landed but its answer was lost: never append twice
            previous = existing[-1] if existing else None
            # After the highest sequence, not the count: a deleted object must not block every later write.
            sequence = max((int(r["sequence"]) for r in existing), default=0) + 1
            record = seal(draft, sequence=sequence, previous=previous)
            errors = schema_errors(record)
            if errors:
                raise LedgerError(
                    f"Refusing to write an invalid record: {errors[0]}.", fix="Report this bug."
                )
            try:
                self.s3.put_object(
                    Bucket=self.settings.bucket,
                    Key=self._record_key(environment, record["sequence"]),
                    Body=canonical_bytes(record),
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}:
                    continue  # someone appended in between; re-read and try the next sequence
                raise _ledger_error("write", self.settings.bucket, exc) from None
            self._cache[environment] = [*existing, record]
            return record
        raise LedgerError(
            f"Could not append to the {environment} ledger: the chain kept moving.",
            fix="Check for a runaway writer; promotions hold a lock, so this should not happen.",
        )

    def put_build(self, build: Mapping[str, Any]) -> str:
        digest = str(build["digest"])
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        key = f"{self.settings.prefix}/builds/{digest.removeprefix('sha256:')}/{stamp}-{uuid.uuid4().hex[:8]}.json"
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=canonical_bytes(build),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except botocore.exceptions.ClientError as exc:
            raise _ledger_error("write", self.settings.bucket, exc) from None
        return key

    def latest_build(self, digest: str) -> dict[str, Any] | None:
        keys = self._keys(f"{self.settings.prefix}/builds/{digest.removeprefix('sha256:')}/")
        if not keys:
            return None
        build: dict[str, Any] = json.loads(self._get(keys[-1]))
        return build

    # verification
    def verify(self, environments: Iterable[str] | None = None) -> tuple[int, list[ChainProblem]]:
        """Check every record and link; also flag objects that S3 versioning shows were rewritten or deleted."""
        names = list(environments) if environments is not None else self.environments()
        problems: list[ChainProblem] = []
        checked = 0
        for environment in names:
            entries = [(key, self._get(key)) for key in self._keys(self._env_prefix(environment))]
            checked += len(entries)
            problems.extend(verify_chain(environment, entries))
            problems.extend(self._version_problems(environment))
        return checked, problems

    def _version_problems(self, environment: str) -> list[ChainProblem]:
        problems: list[ChainProblem] = []
        try:
            paginator = self.s3.get_paginator("list_object_versions")
            versions: dict[str, int] = {}
            deleted: set[str] = set()
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=self._env_prefix(environment)):
                for version in page.get("Versions", []):
                    versions[version["Key"]] = versions.get(version["Key"], 0) + 1
                for marker in page.get("DeleteMarkers", []):
                    deleted.add(marker["Key"])
        except botocore.exceptions.ClientError as exc:
            raise _ledger_error("list versions of", self.settings.bucket, exc) from None
        for key, count in sorted(versions.items()):
            if count > 1:
                problems.append(ChainProblem(environment, key, f"was overwritten ({count} versions in S3)"))
        for key in sorted(deleted):
            problems.append(ChainProblem(environment, key, "was deleted (delete marker in S3)"))
        return problems


def _ledger_error(action: str, bucket: str, exc: botocore.exceptions.ClientError) -> LedgerError:
    error = exc.response.get("Error", {})
    return LedgerError(
        f"Cannot {action} ledger bucket {bucket}: {error.get('Code')}: {error.get('Message', '')}".rstrip(
            ": "
        )
        + ".",
        fix="Check [ledger] bucket/region in envpromote.toml and the role's S3 permissions on the ledger prefix.",
    )


# ---- local copies ---------------------------------------------------------------------------------


class LocalRecords:
    """The local JSON copies: one file per record, plus drafts still waiting for the ledger."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def pending_dir(self) -> Path:
        return self.directory / "pending"

    def write(self, record: Mapping[str, Any]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{record['environment']}-{record['sequence']:06d}-{record['record_id']}.json"
        path.write_text(
            json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return path

    def ensure_writable(self) -> None:
        """Refuse before any change if the local copy could not be written afterwards."""
        try:
            self.pending_dir.mkdir(parents=True, exist_ok=True)
            probe = self.pending_dir / f".probe-{uuid.uuid4().hex}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise PreflightFailed(
                f"Cannot write release records under {self.directory}: {exc.strerror or exc}.",
                fix="Pass a writable --records-dir or fix [ledger] local_dir.",
            ) from None

    def keep_pending(self, draft: Mapping[str, Any]) -> Path:
        """Atomically (write + rename), so a killed process never leaves half a draft."""
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        path = self.pending_dir / f"{draft['finished_at'].replace(':', '')}-{draft['record_id']}.json"
        partial = path.with_suffix(".partial")
        text = json.dumps(draft, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
        return path

    def pending(self) -> list[tuple[Path, Record]]:
        """Drafts waiting for the ledger, oldest first; an unreadable file is set aside, not fatal."""
        if not self.pending_dir.is_dir():
            return []
        drafts = []
        for path in sorted(self.pending_dir.glob("*.json")):
            try:
                drafts.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                path.rename(path.with_suffix(".corrupt"))
        return drafts


def sync_pending(ledger: Ledger, local: LocalRecords) -> list[Record]:
    """Send drafts kept after a failed ledger write, oldest first; each is removed only once stored."""
    sent: list[Record] = []
    for path, draft in local.pending():
        record = ledger.append(draft)
        local.write(record)
        path.unlink()
        sent.append(record)
    return sent
