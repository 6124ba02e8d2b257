"""`invoke continue --env E [--rollback]`: resolve a blue/green, canary or linear deployment paused at a hook.

For a deployment paused by hand, or by a PAUSE hook EnvPromote does not own (its own pause is resolved by the
release that is watching it). Refused with exit 8 while a live EnvPromote run holds the environment's lock: that
run owns the deployment and will continue or roll it back itself.
"""

from __future__ import annotations

from typing import Any

from invoke.context import Context as InvokeContext

from envpromote.tasks._common import handle_errors
from envpromote.tasks._release_common import CONFIG_HELP, ENV_HELP, release_context, task


@task(
    name="continue",
    help={
        "env": ENV_HELP,
        "config": CONFIG_HELP,
        "rollback": "Roll the paused deployment back (ContinueServiceDeployment ROLLBACK) instead of continuing.",
    },
)
@handle_errors
def continue_(c: InvokeContext, env: str = "", config: str = "", rollback: bool = False) -> None:
    """Continue (or --rollback) ENV's deployment paused at a lifecycle hook (ContinueServiceDeployment)."""
    from envpromote.verify import continue_deployment

    ctx = release_context(config, env=env)
    environment = ctx.config.env(env)
    ctx.lock().ensure_free(
        environment.name
    )  # EnvironmentLocked (exit 8) while a live run owns the deployment
    resolved = continue_deployment(
        ctx.env_client(environment, "ecs"), environment.cluster, environment.service, rollback=rollback
    )
    print(f"{environment.name}: {resolved.line()}")


ROOT_TASKS: list[Any] = [continue_]
