"""Tasks: `invoke infra.init|plan|apply|output|bootstrap` over the Terraform roots in infra/."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import Task

from envpromote.errors import BadInput
from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import task

if TYPE_CHECKING:
    from envpromote.terraform import PlanSummary

INFRA_DIR_ENV = "ENVPROMOTE_INFRA_DIR"


def _infra(config: str = "") -> Path:
    """The Terraform tree: $ENVPROMOTE_INFRA_DIR, else [infra] dir of the config (default infra/, relative to the
    config file's folder), else ./infra when there is no config file. Never the installed package's folder."""
    explicit = os.environ.get(INFRA_DIR_ENV)
    if explicit:
        return Path(explicit)
    cfg = _optional_config(config)
    return cfg.infra_dir if cfg is not None else Path.cwd() / "infra"


ENV_HELP = "environment root: a folder of <[infra] dir>/envs with a versions.tf (this repository: shared, dev, staging, production)"
CONFIG_HELP = (
    "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml); its [infra] dir (default infra/,"
    " next to it) holds the Terraform roots"
)
APPLY_CONFIG_HELP = CONFIG_HELP + "; it decides which environment is production"


def _optional_config(explicit: str) -> Any:
    """The project config when there is one (it decides which environment is production), else None."""
    from envpromote.config import config_path, load_config

    path = config_path(explicit or None)
    return load_config(path) if explicit or path.is_file() else None


def _variables_task(**help: str) -> Callable[[Callable[..., Any]], Task[Any]]:
    """``@task`` for plan and apply, which take an environment root's variables: --var-file and --var repeat."""
    variables_help = {
        "env": ENV_HELP,
        "var-file": "extra .tfvars file (repeatable); <env>.tfvars in the root is always used",
        "var": "KEY=VALUE variable (repeatable); GITHUB_REPOSITORY fills github_repository",
    }
    return task(positional=[], iterable=["var_file", "var"], help={**variables_help, **help})


def _confirm(env: str) -> Callable[[PlanSummary], bool]:
    """A person confirms on a terminal; without one (CI) the answer is no, so --yes must be explicit."""
    from envpromote.terraform import plan_digest

    def ask(summary: PlanSummary) -> bool:
        print(plan_digest(summary))
        if not sys.stdin.isatty():
            return False
        return input(f"Apply these changes to {env}? Type 'yes' to continue: ").strip() == "yes"

    return ask


@task(
    positional=[],
    help={
        "env": ENV_HELP,
        "state-bucket": "Terraform state bucket (default: $ENVPROMOTE_TF_STATE_BUCKET)",
        "state-region": "region of the state bucket (default: $ENVPROMOTE_TF_STATE_REGION, then $AWS_REGION)",
        "workspace": "select (or create) this Terraform workspace after init",
        "config": CONFIG_HELP,
    },
)
@handle_errors
def init(
    c: Any,
    env: str | None = None,
    state_bucket: str | None = None,
    state_region: str | None = None,
    workspace: str | None = None,
    config: str = "",
) -> None:
    """Initialise an environment's Terraform root with its partial S3 backend (lockfile locking).

    backend.hcl holds the state key; the bucket and region are this account's, given here.
    """
    from envpromote import terraform as tf

    root = tf.environment_root(_infra(config), env)
    backend = tf.state_backend(state_bucket, state_region, os.environ)
    runner = tf.init_root(root, backend=backend, workspace=workspace)
    print(f"{env}: initialised {root} (terraform {runner.engine.version}, state s3://{backend['bucket']}).")


@_variables_task(verbose="print terraform's whole plan, not only the summary", config=CONFIG_HELP)
@handle_errors
def plan(
    c: Any,
    env: str | None = None,
    var_file: list[str] | None = None,
    var: list[str] | None = None,
    verbose: bool = False,
    config: str = "",
) -> None:
    """Show what apply would change: exit 0 when nothing, exit 2 when there are changes (like terraform).

    Run `invoke infra.init --env ENV` first.
    """
    from envpromote import terraform as tf

    root = tf.environment_root(_infra(config), env)
    runner = tf.TerraformRunner(root)
    summary = runner.plan(
        var_files=tf.root_var_files(root, var_file or []),
        variables=tf.root_variables(root, os.environ, var or []),
    )
    print(summary.text if verbose else tf.plan_digest(summary))
    print(f"{env}: {summary.one_line()}")
    if summary.has_changes:
        raise Exit(code=2)


@_variables_task(
    yes="do not ask for confirmation (production asks otherwise; without a terminal it refuses)",
    config=APPLY_CONFIG_HELP,
)
@handle_errors
def apply(
    c: Any,
    env: str | None = None,
    yes: bool = False,
    var_file: list[str] | None = None,
    var: list[str] | None = None,
    config: str = "",
) -> None:
    """Plan, then apply exactly that plan; production asks for confirmation unless --yes (exit 3 if declined)."""
    from envpromote import terraform as tf

    root = tf.environment_root(_infra(config), env)
    name = root.name
    runner = tf.TerraformRunner(root, stream=True)
    summary = tf.apply_root(
        runner,
        var_files=tf.root_var_files(root, var_file or []),
        variables=tf.root_variables(root, os.environ, var or []),
        confirm=_confirm(name)
        if tf.require_confirmation(name, yes=yes, config=_optional_config(config))
        else None,
    )
    print(f"{name}: {'applied: ' + summary.one_line() if summary.has_changes else summary.one_line()}")


@task(
    positional=[],
    help={"env": ENV_HELP, "json": "print JSON instead of a TOML snippet", "config": CONFIG_HELP},
)
@handle_errors
def output(c: Any, env: str | None = None, json: bool = False, config: str = "") -> None:
    """Print the root's outputs in envpromote.toml's terms (a TOML snippet to paste, or JSON)."""
    from envpromote import terraform as tf

    root = tf.environment_root(_infra(config), env)
    tables = tf.config_tables(root.name, tf.TerraformRunner(root).output())
    if json:
        print_json(tables)
    else:
        print(f"# From infra/envs/{env} (invoke infra.output --env {env}): merge into envpromote.toml.")
        print(tf.to_toml(tables), end="")


@task(
    positional=[],
    help={
        "state-bucket": "name of the state bucket to create (globally unique; include the account id)",
        "region": "region of the state bucket (default: $AWS_REGION)",
        "step": "state, oidc or all (state first: the OIDC root keeps its state in that bucket)",
        "yes": "do not ask for confirmation",
        "config": CONFIG_HELP,
    },
)
@handle_errors
def bootstrap(
    c: Any,
    state_bucket: str,
    region: str | None = None,
    step: str = "all",
    yes: bool = False,
    config: str = "",
) -> None:
    """Create the state bucket (local state) and the GitHub OIDC provider (state in that bucket); once per account."""
    from envpromote import terraform as tf

    if step not in {"state", "oidc", "all"}:
        raise BadInput(f"Unknown bootstrap step {step!r}.", fix="Use --step state, oidc or all.")
    backend = tf.state_backend(state_bucket, region, os.environ)
    infra = _infra(config)
    confirm = None if yes else _confirm("this account")
    if step in {"state", "all"}:
        runner = tf.init_root(infra / "bootstrap" / "state", backend=None)
        summary = tf.apply_root(
            runner, variables={"bucket_name": backend["bucket"], "region": backend["region"]}, confirm=confirm
        )
        print(
            f"bootstrap/state: {summary.one_line()} (local state: {infra / 'bootstrap' / 'state' / 'terraform.tfstate'})"
        )
    if step in {"oidc", "all"}:
        runner = tf.init_root(infra / "bootstrap" / "oidc", backend=backend)
        summary = tf.apply_root(runner, variables={"region": backend["region"]}, confirm=confirm)
        print(f"bootstrap/oidc: {summary.one_line()}")


ROOT_TASKS: list[Task[Any]] = []
COLLECTIONS: dict[str, Collection] = {"infra": Collection(init, plan, apply, output, bootstrap)}
