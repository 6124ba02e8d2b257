"""The wheel is the product only, and its `envpromote` command works in a fresh venv outside this checkout.

Builds the wheel from a copy of the repository (setuptools writes build/ next to the sources), installs it
with its dependencies but without extras into a new virtualenv, and runs the console script from an empty
directory with no PYTHONPATH: nothing may come from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".nox", "dist", "*.egg-info", "node_modules", ".envpromote", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", ".terraform", ".venv-tools",
)  # fmt: skip


def NOT_SOURCES(directory: str, names: list[str]) -> set[str]:
    """What the copy leaves out; `build` only at the top (envpromote/build/ is a package, not an output)."""
    ignored = set(_NOT_SOURCES(directory, names))
    if Path(directory) == ROOT and "build" in names:
        ignored.add("build")
    return ignored


PRODUCT_TASKS = (
    "build",
    "promote",
    "rollback",
    "scan",
    "history",
    "ledger.verify",
    "sandbox.up",
    "infra.plan",
)
REPOSITORY_TASKS = ("ci.plan", "bench.rollout", "dev", "test")

pytestmark = pytest.mark.slow


def _uv() -> list[str]:
    try:
        from uv import find_uv_bin
    except ImportError:
        found = shutil.which("uv")
        if found is None:
            pytest.fail("uv is missing: the test dependency group installs it (uv>=0.5)")
        return [found]
    return [find_uv_bin()]


def _run(
    *command: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    built = _run(*_uv(), "build", "--wheel", "--out-dir", work / "dist", source, cwd=work)
    assert built.returncode == 0, built.stderr
    (path,) = (work / "dist").glob("envpromote-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    created = _run(*_uv(), "venv", "--quiet", "--python", sys.executable, venv, cwd=venv.parent)
    assert created.returncode == 0, created.stderr
    pip = _run(
        *_uv(), "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel, cwd=venv.parent
    )
    assert pip.returncode == 0, pip.stderr
    return venv


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An empty directory and an environment in which nothing of the checkout is importable."""
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["COLUMNS"] = "200"
    return tmp_path, env


def test_wheel_ships_the_product_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"envpromote", wheel.name.split("-py3")[0] + ".dist-info"}
    for required in ("envpromote/cli.py", "envpromote/py.typed", "envpromote/scan/model.py"):
        assert required in names
    assert any(name.startswith("envpromote/schemas/") and name.endswith(".json") for name in names)
    assert not [name for name in names if "/tests/" in name or name.startswith(("tools/", "tests/"))]
    entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    assert "envpromote = envpromote.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_command_lists_the_product_tasks(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    listed = _run(installed / "bin" / "envpromote", "--list", cwd=cwd, env=env)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.startswith("  ") and line.strip()}
    assert set(PRODUCT_TASKS) <= names
    assert not set(REPOSITORY_TASKS) & names, "repository-only tasks leaked into the product"

    helped = _run(installed / "bin" / "envpromote", "--help", "promote", cwd=cwd, env=env)
    assert helped.returncode == 0, helped.stderr
    assert "Usage: envpromote" in helped.stdout
    assert "--env" in helped.stdout

    version = _run(installed / "bin" / "envpromote", "--version", cwd=cwd, env=env)
    assert version.stdout.strip().startswith("envpromote ")


def test_installed_package_comes_from_the_venv_and_state_from_the_cwd(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    where = _run(
        installed / "bin" / "python", "-c", "import envpromote; print(envpromote.__file__)", cwd=cwd, env=env
    )
    assert Path(where.stdout.strip()).is_relative_to(installed)
    # The sandbox's state lives in .envpromote/ of the current repository: an empty directory has none.
    status = _run(installed / "bin" / "envpromote", "sandbox.status", cwd=cwd, env=env)
    assert status.returncode == 4, status.stdout + status.stderr
    assert "not running" in status.stdout + status.stderr


def test_shell_completion_script_names_the_command(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    script = _run(installed / "bin" / "envpromote", "--print-completion-script", "bash", cwd=cwd, env=env)
    assert script.returncode == 0, script.stderr
    assert "complete -F _complete_envpromote -o default envpromote" in script.stdout
    # What the script calls on TAB: the task's own options.
    options = _run(
        installed / "bin" / "envpromote", "--complete", "--", "envpromote", "promote", "--", cwd=cwd, env=env
    )
    assert {"--env", "--digest", "--dry-run"} <= set(options.stdout.split())
