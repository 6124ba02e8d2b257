"""Ctrl-C during a rollout: the message says ECS carries on and what to run next; exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from support.engine import push_test_image, record_clean_build
from support.paths import REPO_ROOT

from envpromote import release


def test_ctrl_c_during_the_watch_says_what_carries_on(ctx: release.Context) -> None:
    digest = push_test_image("slow:40")
    record_clean_build(ctx, digest)
    environ = {k: v for k, v in os.environ.items() if k not in {"GITHUB_ACTIONS", "ENVPROMOTE_DIGEST"}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "deploy", "--env", "dev", "--digest", digest, "--timeout", "50"],
        cwd=REPO_ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the watch has begun once it says so: UpdateService has been called
        seen.append(line)
        if line.startswith("watching deployment"):
            break
    else:
        raise AssertionError("".join(seen))
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    message = [line for line in rest.splitlines() if line.startswith("envpromote: ")]
    assert proc.returncode == 130, rest
    assert message, rest
    assert "ECS carries on with the rollout" in message[-1]
    assert "'invoke status'" in message[-1]
    assert "'invoke rollback --env dev'" in message[-1]
