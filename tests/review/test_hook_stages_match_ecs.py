"""Review: the product and the sandbox each keep a list of ECS's hook stages (the sandbox plays AWS and must not
borrow the product's beliefs); both must be botocore's own list, in its order."""

from __future__ import annotations

import botocore.session

from envpromote import strategy
from envpromote.sandbox import strategies


def test_both_hook_stage_lists_are_botocores() -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    ecs = tuple(model.shape_for("DeploymentLifecycleHookStageList").member.enum)
    assert ecs == strategy.HOOK_STAGES
    assert ecs == strategies.HOOK_STAGES
