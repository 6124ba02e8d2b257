"""How long does the release board take for a ledger of 5,000 records?

Two measurements on the same seeded history (3 environments, digests flowing dev -> staging -> production, with
failures, ECS rollbacks and manual rollbacks):

* ``render``: the pure part - build_board() + render_site() from records already in memory;
* ``end-to-end``: envpromote.board.generate.generate() against a local sandbox server (moto + the ECS
  simulation) whose S3 ledger holds the same records: list + get 5,000 objects, schema-validate them, read ECS
  and the lock table, build, render.

Usage: python bench/board/run_bench.py [--records 5000] [--runs 3] [--seed 7] [--skip-e2e] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from envpromote.board import Observation, build_board, render_site  # noqa: E402
from envpromote.ledger import canonical_bytes, new_record, seal  # noqa: E402

CHAIN = ("dev", "staging", "production")
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/envpromote-app"


def seeded_history(total: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """`total` sealed records: each digest is deployed to dev, and goes on while it succeeds."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    records: dict[str, list[dict[str, Any]]] = {env: [] for env in CHAIN}
    count = 0
    step = 0
    approvers = ["alice", "bob", "carol", "dmitri", "eve"]
    while count < total:
        digest = "sha256:" + rng.randbytes(32).hex()
        commit = rng.randbytes(20).hex()
        for index, env in enumerate(CHAIN):
            if count >= total:
                break
            step += 1
            roll = rng.random()
            status = (
                "success"
                if roll < 0.85
                else ("rolled_back" if roll < 0.95 else rng.choice(["failed", "timed_out"]))
            )
            began = start + dt.timedelta(minutes=17 * step)
            history = records[env]
            last_success = next((r for r in reversed(history) if r["status"] == "success"), None)
            draft = new_record(
                environment=env,
                kind="deploy" if index == 0 else "promote",
                status=status,
                digest=digest,
                image_uri=f"{REPO}@{digest}",
                started_at=began,
                finished_at=began + dt.timedelta(seconds=rng.randint(40, 400)),
                source_environment=CHAIN[index - 1] if index else None,
                previous_digest=last_success["digest"] if last_success else None,
                reasons=["ECS deployment circuit breaker: tasks failed to start."]
                if status != "success"
                else [],
                actor="ci-bot",
                approver=rng.choice(approvers) if env == "production" else None,
                source_commit=commit,
                run_id=str(1000 + step),
            )
            history.append(seal(draft, sequence=len(history) + 1, previous=history[-1] if history else None))
            count += 1
            if status == "success" and env == "production" and rng.random() < 0.05 and count < total:
                back = next((r for r in reversed(history[:-1]) if r["status"] == "success"), None)
                if back is not None:
                    step += 1
                    began = start + dt.timedelta(minutes=17 * step)
                    draft = new_record(
                        environment=env,
                        kind="rollback",
                        status="success",
                        digest=back["digest"],
                        image_uri=back["image_uri"],
                        started_at=began,
                        finished_at=began + dt.timedelta(seconds=60),
                        previous_digest=digest,
                        reasons=["manual rollback"],
                        actor=rng.choice(approvers),
                    )
                    history.append(seal(draft, sequence=len(history) + 1, previous=history[-1]))
                    count += 1
            if status != "success":
                break
    return records


CPU: dict[str, list[float]] = {}


def timed(fn: Callable[[], Any], runs: int, name: str) -> tuple[list[float], Any]:
    """Wall-clock seconds per run; this process's CPU seconds go to CPU[name] (the machine may be shared)."""
    seconds: list[float] = []
    result: Any = None
    for _ in range(runs):
        began, cpu = time.perf_counter(), time.process_time()
        result = fn()
        seconds.append(time.perf_counter() - began)
        CPU.setdefault(name, []).append(time.process_time() - cpu)
    return seconds, result


def bench_render(records: dict[str, list[dict[str, Any]]], runs: int) -> dict[str, Any]:
    running = {
        env: next((r["digest"] for r in reversed(h) if r["status"] == "success"), None)
        for env, h in records.items()
    }
    observations = {env: Observation(env, running_digest=digest) for env, digest in running.items()}
    with tempfile.TemporaryDirectory(prefix="board-bench-") as out:

        def build_only() -> Any:
            return build_board(
                project="bench",
                chain=CHAIN,
                upstreams={"dev": None, "staging": "dev", "production": "staging"},
                records_by_env=records,
                observations=observations,
                generated_at="2026-11-29T00:00:00Z",
                ledger_key=lambda env, seq: f"releases/envs/{env}/{seq:010d}.json",
            )

        model_s, board = timed(build_only, runs, "model_s")
        render_s, report = timed(lambda: render_site(board, out, bucket="bench"), runs, "render_s")
        size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    return {"model_s": model_s, "render_s": render_s, "pages": report.pages, "bytes": size}


def bench_end_to_end(records: dict[str, list[dict[str, Any]]], runs: int) -> dict[str, Any]:
    from envpromote.aws import ClientFactory
    from envpromote.board.generate import generate
    from envpromote.config import load_config
    from envpromote.sandbox import process, provision

    config_path = REPO_ROOT / "envpromote.toml"
    config = load_config(config_path)
    with (
        tempfile.TemporaryDirectory(prefix="board-bench-sandbox-") as state,
        tempfile.TemporaryDirectory() as out,
    ):
        info = process.start(config_path, port=0, state_dir=Path(state), tied_to_caller=True)
        try:
            with process.patched_env(process.client_env(info.url, "us-east-1")):
                provision(info.url, config_path)
                s3 = ClientFactory("us-east-1").client("s3")
                seeded = time.perf_counter()
                for env, history in records.items():
                    for record in history:
                        # The schema-1 key layout: every ledger version reads it.
                        key = f"{config.ledger.prefix}/envs/{env}/{record['sequence']:010d}.json"
                        s3.put_object(Bucket=config.ledger.bucket, Key=key, Body=canonical_bytes(record))
                seed_s = time.perf_counter() - seeded
                from envpromote.ledger import Ledger

                def read_ledger() -> int:
                    ledger = Ledger(ClientFactory("us-east-1").client("s3"), config.ledger)
                    return sum(len(ledger.history(env)) for env in CHAIN)

                ledger_s, _ = timed(read_ledger, 1, "ledger_read_s")
                seconds, generated = timed(lambda: generate(config, out), runs, "end_to_end_s")
                pages = generated.site.pages
        finally:
            process.stop(Path(state))
    return {"end_to_end_s": seconds, "ledger_read_s": ledger_s, "seed_s": seed_s, "pages": pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    records = seeded_history(args.records, args.seed)
    result: dict[str, Any] = {
        "records": sum(len(h) for h in records.values()),
        "per_env": {env: len(h) for env, h in records.items()},
        "runs": args.runs,
        **bench_render(records, args.runs),
    }
    if not args.skip_e2e:
        result.update(bench_end_to_end(records, args.runs))
    result["cpu_s"] = CPU
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"records: {result['records']} {result['per_env']}, pages: {result['pages']}, site: {result['bytes'] / 1e6:.1f} MB"
    )
    for name in ("model_s", "render_s", "ledger_read_s", "end_to_end_s"):
        if name in result:
            values = result[name]
            cpu = statistics.median(CPU[name])
            runs = ", ".join(f"{v:.2f}" for v in values)
            print(
                f"{name:<14} median {statistics.median(values):6.2f} s wall, {cpu:6.2f} s CPU  (wall per run: {runs})"
            )
    if "seed_s" in result:
        print(
            f"{'seed_s':<14} {result['seed_s']:6.2f} s  (writing the records to the sandbox's S3; not part of the board)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
