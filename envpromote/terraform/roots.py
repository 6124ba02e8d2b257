"""The Terraform roots in infra/ and the use cases behind `invoke infra.*` (init, apply with confirmation)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from envpromote.config import Config, is_production
from envpromote.errors import BadInput, GateRefused
from envpromote.terraform.engine import Engine
from envpromote.terraform.plan import PlanSummary
from envpromote.terraform.runner import TerraformRunner

STATE_BUCKET_ENV = "ENVPROMOTE_TF_STATE_BUCKET"
STATE_REGION_ENV = "ENVPROMOTE_TF_STATE_REGION"


def environment_roots(infra_dir: Path) -> dict[str, Path]:
    """Environment name -> its root module (every directory of infra/envs with a versions.tf)."""
    return {p.parent.name: p.parent for p in sorted((infra_dir / "envs").glob("*/versions.tf"))}


def environment_root(infra_dir: Path, env: str | None) -> Path:
    """The root module of `env`, or BadInput naming the ones that exist."""
    roots = environment_roots(infra_dir)
    known = ", ".join(roots) or f"(none found under {infra_dir / 'envs'})"
    if not env:
        raise BadInput("No environment given.", fix=f"Pass --env with one of: {known}.")
    if env not in roots:
        raise BadInput(f"Unknown infrastructure environment {env!r}.", fix=f"Use one of: {known}.")
    return roots[env]


def state_backend(bucket: str | None, region: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The account-specific half of the partial S3 backend (backend.hcl holds the rest)."""
    bucket = bucket or environ.get(STATE_BUCKET_ENV)
    region = (
        region
        or environ.get(STATE_REGION_ENV)
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
    )
    if not bucket:
        raise BadInput(
            "No Terraform state bucket given.",
            fix=f"Pass --state-bucket NAME or set {STATE_BUCKET_ENV} (the bucket infra.bootstrap created).",
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise BadInput(
            f"Invalid state bucket name {bucket!r}.", fix="Use the S3 bucket name, not a URL or ARN."
        )
    if not region:
        raise BadInput(
            "No region for the Terraform state bucket.",
            fix=f"Pass --state-region REGION or set {STATE_REGION_ENV} or AWS_REGION.",
        )
    return {"bucket": bucket, "region": region}


def root_var_files(root: Path, extra: Iterable[str] = ()) -> list[Path]:
    """The root's own <name>.tfvars (if any), then the given ones, which must exist."""
    own = root / f"{root.name}.tfvars"
    files = [own] if own.is_file() else []
    for item in extra:
        path = Path(item)
        if not path.is_file():
            raise BadInput(f"Variable file {item} does not exist.", fix="Pass an existing .tfvars file.")
        files.append(path.resolve())
    return files


def root_variables(root: Path, environ: Mapping[str, str], given: Iterable[str] = ()) -> dict[str, str]:
    """-var values: GITHUB_REPOSITORY fills github_repository (as in Actions); KEY=VALUE items override."""
    variables: dict[str, str] = {}
    declares_repo = any(
        'variable "github_repository"' in p.read_text(encoding="utf-8") for p in root.glob("*.tf")
    )
    if declares_repo and "TF_VAR_github_repository" not in environ and environ.get("GITHUB_REPOSITORY"):
        variables["github_repository"] = environ["GITHUB_REPOSITORY"]
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
            raise BadInput(f"Invalid variable {item!r}.", fix="Use --var KEY=VALUE.")
        variables[key] = value
    return variables


# Use cases behind `invoke infra.*` -------------------------------------------------------------------


def init_root(
    root: Path,
    *,
    backend: Mapping[str, str] | None,
    engine: Engine | None = None,
    workspace: str | None = None,
) -> TerraformRunner:
    """terraform init a root: its backend.hcl plus the account-specific `backend` settings."""
    runner = TerraformRunner(root, engine=engine)
    backend_file = root / "backend.hcl"
    runner.init(
        backend_config_file=backend_file if backend is not None and backend_file.is_file() else None,
        backend_config=backend,
    )
    if workspace:
        runner.select_workspace(workspace)
    return runner


def require_confirmation(env: str, *, yes: bool, config: Config | None = None) -> bool:
    """Production applies are confirmed by a person unless --yes was given.

    Production is the config's rule (`Environment.is_production`: a production name or approval required) for
    an environment of the chain; for other roots (shared) it is the name rule alone.
    """
    if yes:
        return False
    if config is not None and env in config.chain:
        return config.env(env).is_production
    return is_production(env)


def apply_root(
    runner: TerraformRunner,
    *,
    var_files: Iterable[Path] = (),
    variables: Mapping[str, str] | None = None,
    confirm: Callable[[PlanSummary], bool] | None = None,
) -> PlanSummary:
    """Plan to a file, ask `confirm` (if given) with the summary, then apply exactly that plan.

    Declining raises GateRefused before anything changes; a plan without changes applies nothing.
    """
    plan_file = runner.working_dir / ".terraform" / "envpromote.tfplan"
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = runner.plan(var_files=var_files, variables=variables, out=plan_file)
        if not summary.has_changes:
            return summary
        if confirm is not None and not confirm(summary):
            raise GateRefused(
                f"Apply not confirmed ({summary.one_line()}); nothing was changed.",
                fix="Answer 'yes' at the prompt, or pass --yes in automation.",
            )
        runner.apply_plan(plan_file)
        return summary
    finally:
        plan_file.unlink(missing_ok=True)
