"""The wheel is the product only, and its `envpromote` command works in a fresh venv outside this checkout.

Builds the wheel from a copy of the repository (setuptools writes build/ next to the sources), installs it
with its dependencies but without extras into a new virtualenv, and runs the console script from an empty
directory with no PYTHONPATH: nothing may come from the checkout.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.packaging.wheel_support import build_wheel, clean_env, install_into_fresh_venv, run

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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_into_fresh_venv(tmp_path_factory.mktemp("venv") / "fresh", [str(wheel)])


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An empty directory and an environment in which nothing of the checkout is importable."""
    return tmp_path, clean_env()


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
    listed = run(installed / "bin" / "envpromote", "--list", cwd=cwd, env=env)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.startswith("  ") and line.strip()}
    assert set(PRODUCT_TASKS) <= names
    assert not set(REPOSITORY_TASKS) & names, "repository-only tasks leaked into the product"

    helped = run(installed / "bin" / "envpromote", "--help", "promote", cwd=cwd, env=env)
    assert helped.returncode == 0, helped.stderr
    assert "Usage: envpromote" in helped.stdout
    assert "--env" in helped.stdout

    version = run(installed / "bin" / "envpromote", "--version", cwd=cwd, env=env)
    assert version.stdout.strip().startswith("envpromote ")


def test_installed_package_comes_from_the_venv_and_state_from_the_cwd(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    where = run(
        installed / "bin" / "python", "-c", "import envpromote; print(envpromote.__file__)", cwd=cwd, env=env
    )
    assert Path(where.stdout.strip()).is_relative_to(installed)
    # The sandbox's state lives in .envpromote/ of the current repository: an empty directory has none.
    status = run(installed / "bin" / "envpromote", "sandbox.status", cwd=cwd, env=env)
    assert status.returncode == 4, status.stdout + status.stderr
    assert "not running" in status.stdout + status.stderr


def test_shell_completion_script_names_the_command(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    script = run(installed / "bin" / "envpromote", "--print-completion-script", "bash", cwd=cwd, env=env)
    assert script.returncode == 0, script.stderr
    assert "complete -F _complete_envpromote -o default envpromote" in script.stdout
    # What the script calls on TAB: the task's own options.
    options = run(
        installed / "bin" / "envpromote", "--complete", "--", "envpromote", "promote", "--", cwd=cwd, env=env
    )
    assert {"--env", "--digest", "--dry-run"} <= set(options.stdout.split())
