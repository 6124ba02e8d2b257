"""Where the ledger keeps things in S3 (pure functions; the bucket policy is written against these keys).

Under the configured prefix ``P`` and for environment ``E``:

  ``P/envs/E/head.json``                          the ONLY object ever overwritten (PutObject If-Match its ETag):
                                                  last sequence and its sha256, last-success pointer, unresolved
                                                  intents, how far the legacy layout was migrated.
  ``P/envs/E/r/<9999999999 - seq:010d>.json``     one record, canonical JSON, If-None-Match: * (lists newest first)
  ``P/envs/E/id/<record_id>.json``                 record_id -> sequence, If-None-Match: * (idempotent re-sends)
  ``P/envs/E/d/<digest hex>/<inv seq>-<status>-<role>.json``
                                                  digest index entry, If-None-Match: *, empty JSON body's worth of
                                                  facts in the key itself; role ``d`` = the record's digest,
                                                  ``p`` = the digest a rollback moved away from.
  ``P/envs/E/<seq:010d>.json``                    schema-1 layout (read; copied into ``r/`` on the first write)
  ``P/builds/<digest hex>/<utc stamp>-<id>.json`` build records, If-None-Match: *

Everything except ``head.json`` is write-once: the bucket policy may deny any PutObject on the prefix that carries
no ``If-None-Match`` header, except ``P/envs/*/head.json`` (which needs ``If-Match`` or ``If-None-Match``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SEQUENCE = 9_999_999_999
_RECORD_NAME = re.compile(r"^(\d{10})\.json$")
_INDEX_NAME = re.compile(r"^(\d{10})-([a-z_]+)-([dp])\.json$")


def env_prefix(prefix: str, environment: str) -> str:
    return f"{prefix}/envs/{environment}/"


def head_key(prefix: str, environment: str) -> str:
    return f"{env_prefix(prefix, environment)}head.json"


def records_prefix(prefix: str, environment: str) -> str:
    return f"{env_prefix(prefix, environment)}r/"


def record_key(prefix: str, environment: str, sequence: int) -> str:
    if not 1 <= sequence < MAX_SEQUENCE:
        raise ValueError(f"sequence out of range: {sequence}")
    return f"{records_prefix(prefix, environment)}{MAX_SEQUENCE - sequence:010d}.json"


def legacy_record_key(prefix: str, environment: str, sequence: int) -> str:
    return f"{env_prefix(prefix, environment)}{sequence:010d}.json"


def id_key(prefix: str, environment: str, record_id: str) -> str:
    return f"{env_prefix(prefix, environment)}id/{record_id}.json"


def digest_prefix(prefix: str, environment: str, digest: str) -> str:
    return f"{env_prefix(prefix, environment)}d/{digest.removeprefix('sha256:')}/"


def digest_index_key(
    prefix: str, environment: str, digest: str, sequence: int, status: str, role: str
) -> str:
    return f"{digest_prefix(prefix, environment, digest)}{MAX_SEQUENCE - sequence:010d}-{status}-{role}.json"


def sequence_of_record_key(key: str) -> int | None:
    """The sequence a new-layout record key stands for, else None."""
    match = _RECORD_NAME.match(key.rsplit("/", 1)[-1])
    if match is None or "/r/" not in key:
        return None
    return MAX_SEQUENCE - int(match.group(1))


def sequence_of_legacy_key(key: str) -> int | None:
    match = _RECORD_NAME.match(key.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class IndexEntry:
    sequence: int
    status: str
    role: str  # "d": the record is about this digest; "p": a rollback moved away from it


def parse_index_key(key: str) -> IndexEntry | None:
    match = _INDEX_NAME.match(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    return IndexEntry(MAX_SEQUENCE - int(match.group(1)), match.group(2), match.group(3))
