"""A process that takes the dev lock and stops at a named step until told to go on (a line on stdin), so a test
can send it a real signal at that exact step. Usage: lock_child.py held|acquire STEP
(STEP: before_put, after_put, holding, or none)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from envpromote.aws import ClientFactory
from envpromote.config import load_config
from envpromote.lock import EnvironmentLock

REPO_ROOT = Path(__file__).resolve().parents[2]


def main(mode: str, stop: str) -> None:
    cfg = load_config(REPO_ROOT / "envpromote.toml")

    def on_step(step: str) -> None:
        if step == stop:
            print(f"at {step}", flush=True)
            sys.stdin.readline()

    settings = dataclasses.replace(cfg.lock, lease_seconds=60)  # the lease the tests expect (LEASE_S)
    lock = EnvironmentLock(ClientFactory(cfg.lock.region).client("dynamodb"), settings, on_step=on_step)
    if mode == "held":
        with lock.held("dev", "child"):
            print("holding", flush=True)
            if stop == "holding":
                sys.stdin.readline()
    else:
        lease = lock.acquire("dev", "child")
        print("holding", flush=True)
        if stop == "holding":
            sys.stdin.readline()
        lock.release(lease)
    print("done", flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2])
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
