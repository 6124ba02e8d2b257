"""The sandbox's invoke tasks (sandbox.up, down, status, env, reset, build), loaded through the
``envpromote.tasks`` entry point group: the product lists no sandbox module and never imports one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit

from envpromote.errors import EXIT_PREFLIGHT_FAILED, BadInput, PreflightFailed
from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import task

CONFIG_HELP = "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml)."


def _not_running() -> PreflightFailed:
    return PreflightFailed("The sandbox is not running.", fix="Start it with 'invoke sandbox.up'.")


@task(help={"port": "Port on 127.0.0.1 (default: a free one).", "config": CONFIG_HELP, "json": "Print JSON."})
@handle_errors
def up(c: Context, port: int = 0, config: str = "", json: bool = False) -> None:
    """Start the local AWS sandbox (moto + ECS rollout simulation) and provision the chain; idempotent."""
    from envpromote import sandbox as sbx

    info = sbx.ensure_running(config or None, port=port)
    if json:
        print_json({"endpoint": info.url, "pid": info.pid})
        return
    print(f"sandbox running at {info.url} (pid {info.pid}); provisioned from the config")
    print(f'point your shell at it with: eval "$({_env_command(config)})"')


def _env_command(config: str) -> str:
    """The `sandbox.env` command for this sandbox: the same program, and --config when one was given."""
    import shlex
    import sys
    from pathlib import Path

    program = "envpromote" if Path(sys.argv[0]).name == "envpromote" else "invoke"
    return f"{program} sandbox.env" + (f" --config {shlex.quote(config)}" if config else "")


@task(help={"config": CONFIG_HELP})
@handle_errors
def down(c: Context, config: str = "") -> None:
    """Stop the sandbox (all its state is lost); does nothing if it is not running."""
    from envpromote import sandbox as sbx

    pid = sbx.shutdown(config or None)
    print(f"sandbox stopped (pid {pid})" if pid else "sandbox was not running")


@task(help={"config": CONFIG_HELP, "json": "Print JSON: endpoint, pid, resources, faults."})
@handle_errors
def status(c: Context, config: str = "", json: bool = False) -> None:
    """Show the sandbox endpoint and its provisioned resources; exit 4 if it is not running."""
    from envpromote import sandbox as sbx

    report = sbx.status(config or None)
    if json:
        print_json(report)
    elif report["running"]:
        print(f"sandbox running at {report['endpoint']} (pid {report['pid']})")
        for env in report["resources"].get("environments", []):
            rollouts = ", ".join(f"{d['status']} {d['rollout_state']}" for d in env.get("deployments", []))
            print(
                f"  {env['name']}: {env['cluster']}/{env['service']} {env.get('status')} "
                f"running {env.get('running')}/{env.get('desired')} [{rollouts}]"
            )
    if not report["running"]:
        raise Exit("envpromote: sandbox is not running. Fix: invoke sandbox.up", code=EXIT_PREFLIGHT_FAILED)


@task(help={"config": CONFIG_HELP, "json": "Print the variables as one JSON object (for scripts and tests)."})
@handle_errors
def env(c: Context, config: str = "", json: bool = False) -> None:
    """Print shell exports (endpoint, fake credentials, region) for the running sandbox: eval "$(invoke sandbox.env)"."""
    import shlex

    from envpromote import sandbox as sbx
    from envpromote.config import config_path

    info = sbx.running(sbx.state_dir_for(config_path(config or None)))
    if info is None:
        raise _not_running()
    variables = sbx.client_env(info.url)
    if json:
        print_json(variables)
        return
    for key, value in variables.items():
        print(f"export {key}={shlex.quote(value)}")


@task(help={"config": CONFIG_HELP})
@handle_errors
def reset(c: Context, config: str = "") -> None:
    """Wipe the running sandbox (resources, rollouts, faults) and provision the chain again."""
    from envpromote import sandbox as sbx
    from envpromote.config import config_path

    path = config_path(config or None)
    info = sbx.running(sbx.state_dir_for(path))
    if info is None:
        raise _not_running()
    sbx.reset(info.url)
    sbx.provision(info.url, path)
    print(f"sandbox at {info.url} reset and provisioned")


@task(
    name="build",
    help={
        "scenario": "Rollout scenario recorded on the image, e.g. healthy:5, circuit-breaker:5:20, stuck.",
        "tag": "Image tag (default: git-<12 hex>[-dirty]-<scenario slug>, distinct from the plain build's).",
        "push": "Push to the sandbox's ECR (default); --no-push only writes the OCI layout.",
        "config": CONFIG_HELP,
        "json": "Print the build record (with the scenario) as JSON.",
    },
)
@handle_errors
def build_scenario(
    c: Context, scenario: str, tag: str = "", push: bool = True, config: str = "", json: bool = False
) -> None:
    """Build the app directory like 'invoke build', with a sandbox rollout scenario recorded as an image annotation.

    The sandbox's ECS simulation reads the annotation when a task definition runs the image (a task-definition
    tag 'sandbox-scenario' wins). Tags get the scenario as a suffix, so a scenario build of a commit never
    collides with its plain build.
    """
    from envpromote.build import tag_variant
    from envpromote.sandbox.scenarios import SCENARIO_ANNOTATION, ScenarioError, parse_scenario
    from envpromote.tasks.build import print_build, run_build

    try:
        parsed = parse_scenario(scenario)
    except ScenarioError as exc:
        raise BadInput(str(exc), fix="Pass --scenario with one of the forms listed.") from None
    result = run_build(
        config,
        tag=tag,
        push=push,
        annotations={SCENARIO_ANNOTATION: parsed.text},
        variant=tag_variant(parsed.text),
    )
    if json:
        print_json({**result.to_json(), "scenario": parsed.text})
    else:
        print_build(result, json=False)


@task(
    help={
        "config": CONFIG_HELP,
        "keep": "Keep the sandbox's current state instead of resetting it first.",
        "verbose": "Print every line of every step (task-definition diffs, progress) instead of the story.",
        "strategy": "Also show a strategy: blue_green, canary or linear (a revision caught on test traffic).",
    }
)
@handle_errors
def demo(c: Context, config: str = "", keep: bool = False, verbose: bool = False, strategy: str = "") -> None:
    """The main job on the local sandbox: build, deploy dev, promote staging and production, fail fast, roll back."""
    from envpromote import sandbox
    from envpromote.config import config_path
    from envpromote.sandbox.demo import demo_environment, run_demo
    from envpromote.tasks._common import command

    path = str(config_path(config or None).resolve())
    info = sandbox.ensure_running(path, provision_chain=keep)
    if not keep:
        sandbox.reset(info.url)
        sandbox.provision(info.url, path)
    env_command = command("sandbox.env" + (f" --config {path}" if config else ""))
    print(f"sandbox: {info.url} (pid {info.pid}); 'eval \"$({env_command})\"' points your shell at it")
    results = run_demo(
        Path(path).parent, path, demo_environment(info.url, sandbox.client_env(info.url)), verbose=verbose
    )
    if strategy:
        from envpromote.sandbox.demo_strategies import run_strategy_demo

        results += run_strategy_demo(
            Path(path).parent,
            path,
            demo_environment(info.url, sandbox.client_env(info.url)),
            info.url,
            strategy=strategy,
            stamp=time.strftime("%H%M%S"),
        )
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"BAD {r.title}: exit {r.exit_code}, expected {r.expected}")
    if failed:
        raise Exit(f"envpromote: demo: {len(failed)} step(s) gave an unexpected exit code.", code=1)
    seconds = sum(r.seconds for r in results)
    print(
        f"\ndemo: all {len(results)} steps gave the expected exit codes in {seconds:.0f}s; "
        "records are in .envpromote/records/"
    )
    print(
        f"the sandbox keeps running: '{command('status')}' to explore, '{command('sandbox.down')}' stops it"
    )


ROOT_TASKS: list[Any] = [demo]
COLLECTIONS: dict[str, Collection] = {"sandbox": Collection(up, down, status, env, reset, build_scenario)}
