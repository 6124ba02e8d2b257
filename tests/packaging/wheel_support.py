"""Build the product's wheel from a copy of this checkout and install it into a fresh venv (with uv).

Shared by tests/packaging (the wheel's contents and its command) and tests/adoption (a throwaway repository
that adopts the installed product). Nothing here imports the product: what runs, runs from the venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".nox", "dist", "*.egg-info", "node_modules", ".envpromote", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", ".terraform", ".venv-tools",
)  # fmt: skip


def not_sources(directory: str, names: list[str]) -> set[str]:
    """What the copy leaves out; `build` only at the top (envpromote/build/ is a package, not an output)."""
    ignored = set(_NOT_SOURCES(directory, names))
    if Path(directory) == ROOT and "build" in names:
        ignored.add("build")
    return ignored


def uv() -> list[str]:
    """The uv command (the test dependency group installs it)."""
    try:
        from uv import find_uv_bin
    except ImportError:
        found = shutil.which("uv")
        if found is None:
            pytest.fail("uv is missing: the test dependency group installs it (uv>=0.5)")
        return [found]
    return [find_uv_bin()]


def run(
    *command: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def build_wheel(work: Path) -> Path:
    """The wheel built from a copy of the checkout (setuptools writes build/ next to the sources)."""
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=not_sources)
    built = run(*uv(), "build", "--wheel", "--out-dir", work / "dist", source, cwd=work)
    assert built.returncode == 0, built.stderr
    (path,) = (work / "dist").glob("envpromote-*.whl")
    return path


def install_into_fresh_venv(venv: Path, requirements: Sequence[str]) -> Path:
    """A new venv at `venv` (this interpreter's Python) with `requirements` installed; returns `venv`."""
    created = run(*uv(), "venv", "--quiet", "--python", sys.executable, venv, cwd=venv.parent)
    assert created.returncode == 0, created.stderr
    pip = run(
        *uv(),
        "pip",
        "install",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        *requirements,
        cwd=venv.parent,
    )
    assert pip.returncode == 0, pip.stderr
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points into the checkout, its venv or an AWS account."""
    dropped_prefixes = ("AWS_", "ENVPROMOTE_", "GITHUB_")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV"} and not key.startswith(dropped_prefixes)
    }
    env["COLUMNS"] = "200"
    env.update(extra)
    return env
