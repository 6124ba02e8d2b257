"""Blue/green and canary on the sandbox: how fast a revision failing on test traffic ends in exit 5, and how many
production requests it served meanwhile.

    python bench/rollout/strategies.py                  # Markdown table, 3 runs per case (about 3 minutes)
    python bench/rollout/strategies.py --runs 1 --json  # one JSON object per case, the runs inside

Each run: its own sandbox server (started here, 127.0.0.1, free port, stopped at the end) at ``--scale`` x real
time; reset + provision; a known-good ``healthy:1`` image deployed to dev with a rolling update; then the bad
image (scenario ``healthy:2+http-fail``: its tasks start, but ``/`` answers 500 on every listener) released to dev
through the engine (``release.execute``, the code behind ``invoke deploy``) with dev switched to the case's
strategy. While it runs, a bounded loop sends GET / to dev's production listener every ``--interval`` seconds
(at most 20 000 requests); the sandbox's listener counts (not the client's) say which revision answered each one.

Cases:
- ``envpromote-blue_green`` / ``envpromote-canary``: ``verify`` with the HTTP check ``/`` -> digest; EnvPromote's
  PAUSE hook at POST_TEST_TRAFFIC_SHIFT, ROLLBACK when the check fails;
- ``unverified-blue_green``: the same blue/green without ``verify`` (no pause): what ECS does on its own, which is
  what a tool that deploys blue/green and waits for ECS gets (ecspresso without a hook, or with a hook until a
  person acts - see the README).

Measured: ``check_to_exit_s`` - from the progress line that reports the failed verification to the exception
(exit 5) in the same process; ``update_to_exit_s``; ``prod_served_by_bad`` / ``prod_failed_by_bad`` - production
requests the bad revision answered (and answered with an error), from the sandbox's counts; the exit code.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[2]
CLUSTER, SERVICE = "envpromote-dev", "envpromote-dev-web"
BAD = "healthy:2+http-fail"
MAX_REQUESTS = 20_000
CASES = ("envpromote-blue_green", "envpromote-canary", "unverified-blue_green")


def push(scenario: str, label: str) -> str:
    from envpromote.aws import ClientFactory
    from envpromote.build import ImageConfig, assemble_image, push_image
    from envpromote.sandbox.scenarios import SCENARIO_ANNOTATION

    image = assemble_image(
        [("app/hello.txt", f"{scenario} {label}".encode(), 0o644)],
        ImageConfig(cmd=("/app/hello",), workdir="/app", user="10001"),
        annotations={SCENARIO_ANNOTATION: scenario},
    )
    push_image(ClientFactory("us-east-1").client("ecr"), "envpromote-app", image, f"bench-{label}")
    return image.digest


def config_for(case: str, test_url: str, directory: Path) -> Path:
    data = tomllib.loads((ROOT / "envpromote.toml").read_text())
    data["project"]["template"] = str(ROOT / "templates" / "taskdef.json.j2")
    dev = data["environments"]["dev"]
    if case != "rolling":
        dev["strategy"] = "canary" if case.endswith("canary") else "blue_green"
        dev["bake_minutes"] = 1
        if case.endswith("canary"):
            dev["canary"] = {"percent": 10.0, "bake_minutes": 1}
        if case.startswith("envpromote"):
            dev["verify"] = {
                "test_url": test_url,
                "http": [{"path": "/", "status": 200, "json": {"digest": "{digest}"}, "timeout_seconds": 5}],
            }
    path = directory / f"envpromote-{case}.toml"
    path.write_text(tomli_w.dumps(data))
    return path


class ProductionTraffic:
    """A bounded loop of GET / against the production listener, in a thread, until stopped."""

    def __init__(self, url: str, interval: float) -> None:
        self.url, self.interval = url, interval
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.sent < MAX_REQUESTS:
            self.sent += 1
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as answer:  # noqa: S310 - 127.0.0.1
                    answer.read()
            except (urllib.error.URLError, OSError):
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> ProductionTraffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def one_run(url: str, case: str, index: int, workdir: Path, interval: float) -> dict[str, Any]:
    from envpromote import release, sandbox
    from envpromote.config import load_config
    from envpromote.errors import EnvPromoteError
    from envpromote.rollout import PollPolicy
    from envpromote.sandbox.listeners import clear_listener_counts, listener_url, listeners

    sandbox.reset(url)
    sandbox.provision(url, ROOT / "envpromote.toml")
    lines: list[tuple[float, str]] = []

    def context(path: Path) -> release.Context:
        return release.Context(
            config=load_config(path),
            identity=release.Identity(actor="bench"),
            out=lambda line: lines.append((time.monotonic(), line)),
            poll_policy=PollPolicy(interval=0.5, first_poll_min=0.2),
            records_dir=workdir / f"records-{case}-{index}",
        )

    def deploy(ctx: release.Context, digest: str) -> None:
        release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=50)

    deploy(context(config_for("rolling", "", workdir)), push("healthy:1", f"good-{case}-{index}"))
    test_url = listener_url(url, CLUSTER, SERVICE, "test")
    production = listener_url(url, CLUSTER, SERVICE, "production")
    ctx = context(config_for(case, test_url, workdir))
    bad = push(BAD, f"bad-{case}-{index}")
    clear_listener_counts(url)
    exit_code = 0
    started = time.monotonic()
    with ProductionTraffic(production, interval) as traffic:
        try:
            deploy(ctx, bad)
        except EnvPromoteError as exc:
            exit_code = exc.exit_code
        ended = time.monotonic()
    failed_check = next((t for t, line in lines if "verification at" in line and "failed" in line), None)
    (service,) = listeners(url, CLUSTER, SERVICE)
    by_bad = [r for r in service["requests"]["production"].values() if r.get("digest") == bad]
    return {
        "case": case,
        "run": index,
        "exit_code": exit_code,
        "check_to_exit_s": round(ended - failed_check, 2) if failed_check is not None else None,
        "update_to_exit_s": round(ended - started, 2),
        "prod_requests_sent": traffic.sent,
        "prod_served_total": sum(int(r["served"]) for r in service["requests"]["production"].values()),
        "prod_served_by_bad": sum(int(r["served"]) for r in by_bad),
        "prod_failed_by_bad": sum(int(r["failed"]) for r in by_bad),
    }


def summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 2) if values else None

    return {
        "case": runs[0]["case"],
        "runs": len(runs),
        "exit_codes": sorted({r["exit_code"] for r in runs}),
        "check_to_exit_s_median": med("check_to_exit_s"),
        "update_to_exit_s_median": med("update_to_exit_s"),
        "prod_served_by_bad_max": max(r["prod_served_by_bad"] for r in runs),
        "prod_failed_by_bad_max": max(r["prod_failed_by_bad"] for r in runs),
        "prod_requests_sent_median": med("prod_requests_sent"),
        "detail": list(runs),
    }


def table(rows: Sequence[dict[str, Any]], scale: float) -> str:
    out = [
        f"| case (sandbox time x{scale:g}) | runs | exit | failed check -> exit (s, median) | update -> exit (s) "
        "| production requests served by the bad revision (max) | of which errors | production requests sent |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(
            f"| {r['case']} | {r['runs']} | {','.join(map(str, r['exit_codes']))} | "
            f"{r['check_to_exit_s_median'] if r['check_to_exit_s_median'] is not None else 'no check'} | "
            f"{r['update_to_exit_s_median']} | {r['prod_served_by_bad_max']} | {r['prod_failed_by_bad_max']} | "
            f"{r['prod_requests_sent_median']} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument(
        "--scale", type=float, default=5.0, help="sandbox time x real time (bake 1 min -> 12 s)"
    )
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between production requests")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from envpromote.sandbox import process

    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    rows = []
    with tempfile.TemporaryDirectory(prefix="envpromote-bench-strategies-") as tmp:
        workdir = Path(tmp)
        state_dir = workdir / "sandbox"
        info = process.start(ROOT / "envpromote.toml", state_dir=state_dir, time_scale=args.scale)
        try:
            with process.patched_env(process.client_env(info.url)):
                for case in args.cases.split(","):
                    runs = []
                    for index in range(1, args.runs + 1):
                        run = one_run(info.url, case, index, workdir, args.interval)
                        log(json.dumps(run))
                        runs.append(run)
                    rows.append(summary(runs))
        finally:
            process.stop(state_dir)
    if args.json:
        print("\n".join(json.dumps(r, sort_keys=True) for r in rows))
    else:
        print(table(rows, args.scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
