"""`invoke demo --strategy blue_green`: a revision caught on test traffic and rolled back before production traffic.

The extra demo steps, as real `invoke` commands against the sandbox (like the main demo): dev switched to the
strategy with EnvPromote's verified pause (``verify.test_url`` = the sandbox's test listener for dev, one HTTP
check: ``/`` answers the released digest); a healthy build deployed through the pause (exit 0); a build whose
``/`` fails only on test traffic (scenario ``healthy:2+http-fail:test``) rolled back at the pause (exit 5); the
sandbox's listener counts show that no production request reached it; dev's history shows the evidence.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from envpromote.errors import EXIT_ROLLED_BACK
from envpromote.sandbox.demo import Demo, StepResult

CAUGHT_ON_TEST_TRAFFIC = "healthy:2+http-fail:test"


def strategy_config(config: str, url: str, strategy: str) -> Path:
    """A copy of `config`, next to it (its relative paths stay valid), where dev uses `strategy`, verified at the
    pause against the sandbox's test listener. The caller removes it."""
    from envpromote.config import load_config
    from envpromote.sandbox.listeners import listener_url

    source = Path(config)
    dev = load_config(source).env("dev")
    data: dict[str, Any] = tomllib.loads(source.read_text(encoding="utf-8"))
    table = data["environments"]["dev"]
    table["strategy"] = strategy
    table["bake_minutes"] = 1
    if strategy == "canary":
        table["canary"] = {"percent": 10.0, "bake_minutes": 1}
    if strategy == "linear":
        table["linear"] = {"step_percent": 50.0, "interval_minutes": 1}
    table["verify"] = {
        "test_url": listener_url(url, dev.cluster, dev.service, "test"),
        "http": [{"path": "/", "status": 200, "json": {"digest": "{digest}"}, "timeout_seconds": 5}],
    }
    path = source.with_name(f".envpromote-demo-{strategy}.toml")
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def run_strategy_demo(
    repo_root: Path,
    config: str,
    env: dict[str, str],
    url: str,
    *,
    strategy: str = "blue_green",
    stamp: str = "",
    out: Callable[[str], None] = print,
) -> list[StepResult]:
    """The strategy steps of the demo; returns every step's result (the caller prints the table)."""
    from envpromote.config import load_config

    path = strategy_config(config, url, strategy)
    load_config(path)  # a strategy the config model refuses stops here, before any step runs
    demo = Demo(repo_root=repo_root, env=env, config=str(path), out=out)
    try:
        _steps(demo, url, strategy, stamp, out)
    finally:
        path.unlink(missing_ok=True)
    return demo.results


def _steps(demo: Demo, url: str, strategy: str, stamp: str, out: Callable[[str], None]) -> None:
    from envpromote.sandbox.listeners import clear_listener_counts, listeners

    out(f"\n== dev now deploys with {strategy}, verified at the pause ({demo.config})")
    good = demo.build(f"demo-{strategy}-{stamp}-1", "healthy:2")
    demo.release(
        f"Deploy a healthy build to dev with {strategy}: checked on test traffic, then continued",
        ["deploy", "--env", "dev", "--digest", good],
    )
    bad = demo.build(f"demo-{strategy}-{stamp}-2", CAUGHT_ON_TEST_TRAFFIC)
    clear_listener_counts(url)
    demo.release(
        "Deploy a build whose / fails on test traffic: caught at the pause, rolled back before production",
        ["deploy", "--env", "dev", "--digest", bad],
        expected=EXIT_ROLLED_BACK,
    )
    dev = [s for s in listeners(url) if s["service"].startswith("envpromote-dev")]
    production = dev[0]["requests"]["production"] if dev else {}
    reached = sum(int(r["served"]) for r in production.values() if r.get("digest") == bad)
    out(f"-> production requests answered by {bad[:19]}...: {reached} (sandbox listener counts)")
    demo.run("History of dev: strategy and the verification evidence", ["history", "--env", "dev"])
