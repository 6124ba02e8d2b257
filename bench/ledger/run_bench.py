"""Ledger cost at 10, 1,000 and 10,000 records: S3 calls and seconds for append, a gate read and history --limit 20.

Runs against a sandbox server of its own (``envpromote.sandbox`` on 127.0.0.1, a separate process, so the server's
work does not share this process's interpreter). Records are seeded with direct puts in the layout `append`
writes (tests/ledger/ledger_support.seed). Calls are counted on the client (botocore's before-send hook: every
HTTP request, retries included); seconds are wall time on this machine, median of --repeat runs.

With --old, the schema-1 implementation (git show <rev>:envpromote/ledger.py) is measured on the schema-1 layout
at the sizes given by --old-sizes (each of its operations reads every record, so 10,000 is left out by default).

    .venv/bin/python bench/ledger/run_bench.py --out bench/ledger/results.jsonl --old
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "ledger"))

from ledger_support import CallCounter, digest_of, draft, make_ledger, s3_client, seed  # noqa: E402

from envpromote.ledger import canonical_bytes, layout, seal  # noqa: E402
from envpromote.sandbox import process  # noqa: E402
from envpromote.sandbox.testing import Sandbox  # noqa: E402

CONFIG = REPO / "envpromote.toml"


def measure(counter: CallCounter, repeat: int, op: Callable[[int], Any]) -> dict[str, Any]:
    calls, seconds, per_op = [], [], []
    for i in range(repeat):
        with counter.measure() as by_op:
            started = time.perf_counter()
            op(i)
            seconds.append(time.perf_counter() - started)
        calls.append(dict(by_op))
        per_op.append({name: round(s, 4) for name, s in counter.seconds.items()})
    totals = [sum(c.values()) for c in calls]
    return {
        "calls": totals[-1],
        "calls_min": min(totals),
        "calls_max": max(totals),
        "by_operation": calls[-1],
        "seconds_by_operation": per_op[-1],
        "seconds_median": round(statistics.median(seconds), 4),
        "seconds_max": round(max(seconds), 4),
    }


def bench_new(size: int, repeat: int) -> dict[str, Any]:
    s3 = s3_client()
    ledger = make_ledger(s3)
    counter = CallCounter(s3)
    env = f"bench-{size}"
    started = time.perf_counter()
    seed(ledger, env, size)
    seeded_s = time.perf_counter() - started
    gate_digest = digest_of(size - 1 if (size - 1) % 3 else size - 2)  # a success near the tip
    old_digest = digest_of(2)  # a success near the start: its index is as short, the chain much longer

    def gate(digest: str) -> Callable[[int], Any]:
        def run(_: int) -> None:
            records = ledger.gate_records(env, digest)
            success = next(r for r in reversed(records) if r["status"] == "success" and r["digest"] == digest)
            ledger.verified(env, success)
            ledger.stored_at(env, success)

        return run

    def last_success_verified(_: int) -> None:
        last = ledger.last_success(env)
        assert last is not None
        ledger.verified(env, last)

    result = {
        "implementation": "v2",
        "records": size,
        "seed_seconds": round(seeded_s, 1),
        "history_limit_20": measure(counter, repeat, lambda _: ledger.history(env, limit=20)),
        "last_success_verified": measure(counter, repeat, last_success_verified),
        "gate_recent_digest": measure(counter, repeat, gate(gate_digest)),
        "gate_first_digest": measure(counter, repeat, gate(old_digest)),
        "unresolved_intents": measure(counter, repeat, lambda _: ledger.unresolved_intents(env)),
        "append": measure(counter, repeat, lambda i: ledger.append(draft(env, size + 1 + i))),
    }
    return result


def load_old(rev: str) -> Any:
    source = subprocess.run(
        ["git", "show", f"{rev}:envpromote/ledger.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "ledger_v1.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("ledger_v1", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ledger_v1"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def bench_old(rev: str, size: int, repeat: int) -> dict[str, Any]:
    old = load_old(rev)
    s3 = s3_client()
    settings = make_ledger(s3).settings
    counter = CallCounter(s3)
    env = f"old-{size}"
    previous = None
    for n in range(1, size + 1):
        v1 = {k: v for k, v in draft(env, n, "failed" if n % 3 == 0 else "success").items() if k in V1_FIELDS}
        v1["schema_version"] = 1
        record = seal(v1, sequence=n, previous=previous)
        key = layout.legacy_record_key(settings.prefix, env, n)
        s3.put_object(Bucket=settings.bucket, Key=key, Body=canonical_bytes(record), IfNoneMatch="*")
        previous = record

    def fresh() -> Any:
        return old.Ledger(s3, settings)  # a new process per command: no cache carried over

    def append(i: int) -> None:
        v1 = {k: v for k, v in draft(env, size + 1 + i).items() if k in V1_FIELDS}
        v1["schema_version"] = 1
        fresh().append(v1)

    return {
        "implementation": f"v1 ({rev})",
        "records": size,
        "history_limit_20": measure(counter, repeat, lambda _: fresh().history(env)[-20:]),
        "last_success": measure(counter, repeat, lambda _: fresh().last_success(env)),
        "append": measure(counter, repeat, append),
    }


V1_FIELDS = {
    "schema_version", "record_id", "sequence", "timestamp_utc", "environment", "source_environment", "digest",
    "image_uri", "task_definition_arn", "previous_digest", "previous_task_definition_arn", "status", "kind",
    "reasons", "started_at", "finished_at", "duration_s", "actor", "approver", "run_id", "run_attempt",
    "workflow_ref", "source_commit", "prev_record_sha256", "deployment_id", "allow_unscanned", "scan", "api_calls",
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--old", action="store_true", help="also measure the schema-1 implementation")
    parser.add_argument("--old-rev", default="main")
    parser.add_argument("--old-sizes", default="10,1000")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    info = process.start(CONFIG, port=0, state_dir=state_dir, tied_to_caller=True)
    results = []
    try:
        with process.patched_env(process.client_env(info.url, "us-east-1")):
            box = Sandbox(url=info.url, config_path=CONFIG)
            box.reset()
            box.provision()
            stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for size in (int(s) for s in args.sizes.split(",")):
                results.append({"at": stamp, **bench_new(size, args.repeat)})
                print(json.dumps(results[-1]), flush=True)
            if args.old:
                for size in (int(s) for s in args.old_sizes.split(",")):
                    results.append({"at": stamp, **bench_old(args.old_rev, size, args.repeat)})
                    print(json.dumps(results[-1]), flush=True)
    finally:
        process.stop(state_dir)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            for row in results:
                fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
