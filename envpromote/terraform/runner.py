"""One Terraform root module driven through python-terraform, its Terraform 1.x incompatibilities wrapped here.

python-terraform 0.10.1 predates Terraform 1.x. Its convenience methods carry defaults that no longer
fit, so every call here goes through ``Terraform.cmd`` with explicit flags:

* a positional directory argument breaks init/plan/apply: we use ``Terraform(working_dir=...)`` only;
* ``plan()`` always adds ``-detailed-exitcode``: we keep it and treat exit 2 as "changes", not failure;
  plans are saved with ``-out`` and read back with ``terraform show -json`` (never parsed from text);
* ``apply()`` stops at the approval prompt unless ``skip_plan=True``: we send ``-auto-approve`` and ask
  for confirmation ourselves, before the call, where it matters (production);
* ``destroy()`` sends the removed ``-force`` flag: we pass ``force=IsNotFlagged, auto_approve=IsFlagged``;
* ``output()`` swallows errors (returns None): we run ``output -json`` and raise with terraform's message;
* a ``dict`` of variables becomes a temporary var file: we send ``-var k=v`` lists instead;
* colour codes unless ``-no-color``: every command that accepts it gets it, and ANSI is stripped anyway.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from envpromote.errors import BadInput
from envpromote.terraform.engine import (
    Engine,
    TerraformFailed,
    error_lines,
    find_engine,
    quiet_environment,
    strip_ansi,
)
from envpromote.terraform.plan import PlanSummary, parse_plan


def _variable_options(var_files: Iterable[Path], variables: Mapping[str, str] | None) -> dict[str, Any]:
    """-var-file and -var lists (never python-terraform's temporary var file for a dict)."""
    return {
        "var_file": [str(path) for path in var_files] or None,
        "var": [f"{key}={value}" for key, value in (variables or {}).items()] or None,
    }


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
        """terraform plan -detailed-exitcode -out: 0 no changes, 2 changes; anything else raises.

        The plan is always saved and summarised from ``terraform show -json`` of that file. With `out`, the file
        is kept so that `apply_plan` applies exactly what was shown; otherwise it is removed.
        """
        plan_file = out or self.working_dir / ".terraform" / f"envpromote-{os.getpid()}.tfplan"
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            code, text, _ = self._run(
                "plan",
                ok=(0, 2),
                **_variable_options(var_files, variables),
                out=str(plan_file),
                input=False,
                no_color=IsFlagged,
                detailed_exitcode=IsFlagged,
            )
            return parse_plan(code, self.show_plan(plan_file), text)
        finally:
            if out is None:
                plan_file.unlink(missing_ok=True)

    def show_plan(self, plan_file: Path) -> dict[str, Any]:
        """``terraform show -json <planfile>``: the saved plan as terraform's machine-readable document."""
        _, out, _ = self._run("show", str(plan_file), json=IsFlagged, no_color=IsFlagged)
        try:
            document = json.loads(out)
        except ValueError as exc:
            raise TerraformFailed(
                f"terraform show -json {plan_file.name} in {self.working_dir} printed no JSON.",
                fix="Run 'terraform show -json' on the plan there to see what is wrong.",
            ) from exc
        if not isinstance(document, dict):
            raise TerraformFailed(
                f"terraform show -json {plan_file.name} printed {type(document).__name__}, not an object.",
                fix="Check the terraform engine version (>= 1.10).",
            )
        return document

    def apply_plan(self, plan_file: Path) -> str:
        """Apply a saved plan (no prompt: a saved plan is the approval; variables are baked into it)."""
        if not plan_file.is_file():
            raise BadInput(f"Plan file {plan_file} does not exist.", fix="Run the plan step first.")
        return self._auto_approved("apply", str(plan_file))

    def apply(self, *, var_files: Iterable[Path] = (), variables: Mapping[str, str] | None = None) -> str:
        """terraform apply -auto-approve (callers ask for confirmation before this where needed)."""
        return self._auto_approved("apply", **_variable_options(var_files, variables))

    def destroy(self, *, var_files: Iterable[Path] = (), variables: Mapping[str, str] | None = None) -> str:
        """terraform destroy -auto-approve (never the removed -force flag)."""
        return self._auto_approved("destroy", force=IsNotFlagged, **_variable_options(var_files, variables))

    def _auto_approved(self, command: str, *args: str, **options: Any) -> str:
        """A changing command: no input, no colour, -auto-approve, terraform's output streamed if asked."""
        _, out, _ = self._run(
            command, *args, input=False, no_color=IsFlagged, auto_approve=IsFlagged, capture=False, **options
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
