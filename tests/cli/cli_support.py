"""Run the product's CLI (this repository's ``invoke`` tasks) in a subprocess, the way a user or CI does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from support.paths import REPO_ROOT

DROPPED = {"GITHUB_ACTIONS", "ENVPROMOTE_DIGEST", "ENVPROMOTE_APPROVED_VIA", "ENVPROMOTE_CONFIG"}


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in DROPPED}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def one_document(result: subprocess.CompletedProcess[str]) -> Any:
    """The single JSON document on stdout (json.loads refuses anything before or after it)."""
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"stdout is not one JSON document ({exc}):\n{result.stdout[:2000]}\n--- stderr:\n{result.stderr[-2000:]}"
        ) from None
