"""The release ledger: append-only, hash-chained release records in a versioned S3 bucket.

Modules: `records` (pure: schema, canonical bytes, sealing, ordering rule, chain checks, person-text validation),
`layout` (S3 keys), `head` (the per-environment head object), `read` (bounded-cost reads and evidence checks),
`store` (`Ledger`: append, repair, migration, verify), `local` (local copies and kept drafts).

Write-ahead: an ``in_progress`` intent is appended before the first mutating AWS call; the final record resolves
it (``resolves``) and is ordered at the intent's sequence. Conditional writes mean two writers can never both
claim the same sequence; S3 versioning (and Object Lock, where configured) keeps every version.
"""

from envpromote.ledger.layout import MAX_SEQUENCE
from envpromote.ledger.local import LocalRecords, sync_pending
from envpromote.ledger.read import VerifyReport
from envpromote.ledger.records import (
    FINAL_STATUSES,
    KINDS,
    SCHEMA_VERSION,
    STATUSES,
    ChainChecker,
    ChainProblem,
    Record,
    canonical_bytes,
    iso,
    new_record,
    order_key,
    parse_iso,
    record_schema,
    record_sha256,
    resolves_intent,
    safe_text,
    schema_errors,
    seal,
    upgrade_draft,
    utc_now,
    validate_person_text,
    verify_chain,
)
from envpromote.ledger.store import Ledger

__all__ = [
    "FINAL_STATUSES",
    "KINDS",
    "MAX_SEQUENCE",
    "SCHEMA_VERSION",
    "STATUSES",
    "ChainChecker",
    "ChainProblem",
    "Ledger",
    "LocalRecords",
    "Record",
    "VerifyReport",
    "canonical_bytes",
    "iso",
    "new_record",
    "order_key",
    "parse_iso",
    "record_schema",
    "record_sha256",
    "resolves_intent",
    "safe_text",
    "schema_errors",
    "seal",
    "sync_pending",
    "upgrade_draft",
    "utc_now",
    "validate_person_text",
    "verify_chain",
]
