"""One call that puts the pieces together for a release: the StageWatcher of an environment's strategy.

The watcher verifies at EnvPromote's PAUSE hook (:func:`~envpromote.verify.control.pause_handler`) and runs the
same checks during bake (against `bake_url`, by default the test listener, which serves the new revision too);
for canary and linear also between the production traffic steps, when real users already reach the new revision.
"""

from __future__ import annotations

from typing import Any, Unpack

from envpromote.rollout.poll import WatchOptions
from envpromote.rollout.stage_watch import (
    BAKE_STAGES,
    SHIFTING_BAKE_STAGES,
    BakeCheck,
    PauseHandler,
    StageOptions,
    StageWatcher,
)
from envpromote.strategy import Strategy
from envpromote.verify.checks import Verifier, VerifyContext
from envpromote.verify.control import Approve, pause_handler

BAKE_CHECK_INTERVAL_S = 30.0


def strategy_watcher(
    ecs: Any,
    cluster: str,
    service: str,
    strategy: Strategy,
    context: VerifyContext,
    *,
    cloudwatch: Any | None = None,
    approve: Approve | None = None,
    bake_url: str | None = None,
    bake_check_interval: float = BAKE_CHECK_INTERVAL_S,
    stop_at_pause: bool = False,
    verifier: Verifier | None = None,
    **options: Unpack[WatchOptions],
) -> StageWatcher:
    """The StageWatcher for `strategy` (blue_green, canary, linear); with `verify` it verifies at the pause.

    `options` (pace, clock, progress) go to the watcher as they are."""
    on_pause: PauseHandler | None = None
    bake_check: BakeCheck | None = None
    pause_stage: str | None = None
    if strategy.verify is not None:
        checks = verifier or Verifier(strategy.verify, context, cloudwatch=cloudwatch)
        on_pause = pause_handler(ecs, checks, approve=approve)
        pause_stage = strategy.verify.pause_stage

        def bake() -> list[dict[str, str]]:
            return checks.run("bake", bake_url)

        bake_check = bake
    stages = StageOptions(
        pause_stage=pause_stage,
        on_pause=on_pause,
        bake_check=bake_check,
        bake_check_interval=bake_check_interval,
        bake_stages=SHIFTING_BAKE_STAGES if strategy.kind in {"canary", "linear"} else BAKE_STAGES,
        stop_at_pause=stop_at_pause,
    )
    return StageWatcher(ecs, cluster, service, stages, **options)
