"""Helpers for the ledger tests and bench/ledger: a ledger on the sandbox, an S3 call counter, fast seeding."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from envpromote.aws import ClientFactory
from envpromote.config import load_config
from envpromote.ledger import Ledger, Record, canonical_bytes, layout, new_record, seal
from envpromote.ledger.head import advance, empty_head, head_bytes

REPO_ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def digest_of(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def draft(env: str = "dev", n: int = 1, status: str = "success", **extra: Any) -> Record:
    digest = digest_of(n)
    fields: dict[str, Any] = {
        "environment": env,
        "kind": "deploy",
        "status": status,
        "digest": digest,
        "image_uri": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{digest}",
        "started_at": T0 + dt.timedelta(minutes=n),
        "finished_at": T0 + dt.timedelta(minutes=n, seconds=30),
        "actor": "tester",
    }
    fields.update(extra)
    return new_record(**fields)


def s3_client() -> Any:
    return ClientFactory("us-east-1").client("s3")


def make_ledger(s3: Any | None = None, prefix: str | None = None) -> Ledger:
    settings = load_config(REPO_ROOT / "envpromote.toml").ledger
    if prefix is not None:
        settings = replace(settings, prefix=prefix)
    return Ledger(s3 or s3_client(), settings)


class CallCounter:
    """Counts the S3 requests a client sends (botocore's before-send hook: one per HTTP request, retries too)
    and the seconds spent per operation (before-call to after-call, retries included)."""

    def __init__(self, s3: Any) -> None:
        self.by_operation: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self._started = threading.local()
        s3.meta.events.register("before-send.s3", self._count)
        s3.meta.events.register("before-call.s3", self._start)
        s3.meta.events.register("after-call.s3", self._stop)

    def _count(self, request: Any, **_: Any) -> None:
        self.by_operation[_operation(request)] += 1

    def _start(self, model: Any, **_: Any) -> None:
        self._started.at = time.perf_counter()

    def _stop(self, model: Any, **_: Any) -> None:
        started = getattr(self._started, "at", None)
        if started is not None:
            name = str(model.name)
            with _LOCK:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    @contextmanager
    def measure(self) -> Iterator[Counter[str]]:
        self.by_operation.clear()
        self.seconds.clear()
        yield self.by_operation


_LOCK = threading.Lock()


def _operation(request: Any) -> str:
    method = str(request.method)
    url = str(request.url)
    if "versions" in url:
        return "ListObjectVersions"
    if "list-type=2" in url:
        return "ListObjectsV2"
    return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject"}.get(method, method)


def seed(ledger: Ledger, env: str, count: int, *, start: int = 1, workers: int = 8) -> Record | None:
    """Write `count` chained records (every 3rd a failure) with direct puts, as `append` lays them out, without
    its per-append reads (in parallel): fast seeding for tests and the benchmark. Returns the last record."""
    head, _ = ledger._read_head(env)
    head = head or empty_head(env)
    records: list[Record] = []
    for n in range(start, start + count):
        status = "failed" if n % 3 == 0 else "success"
        record = seal(
            draft(env, n, status), sequence=int(head["sequence"]) + 1, previous_sha256=head["sha256"]
        )
        head = advance(head, record)
        records.append(record)

    def put(record: Record) -> None:
        key = layout.record_key(ledger.prefix, env, record["sequence"])
        ledger.s3.put_object(Bucket=ledger.bucket, Key=key, Body=canonical_bytes(record), IfNoneMatch="*")
        ledger._index(env, record)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(put, records))
    ledger.s3.put_object(Bucket=ledger.bucket, Key=layout.head_key(ledger.prefix, env), Body=head_bytes(head))
    return records[-1] if records else None
