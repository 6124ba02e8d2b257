"""The bandit cross-check behind `nox -s scan`: every bandit result needs a recorded reason.

Runs the real bandit on small files (skips loudly when bandit is not installed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import bandit_check

SOURCE = """\
import random
import subprocess

JITTER = random.Random()  # noqa: S311 - jitter, not security
TOKEN = random.Random()
PASSWORD = "hunter2"  # noqa: S105
subprocess.run(["git", "status"], check=False)
"""


@pytest.fixture
def bandit_report(tmp_path: Path) -> tuple[dict[str, object], dict[str, list[str]]]:
    bandit = shutil.which("bandit") or str(Path(sys.executable).parent / "bandit")
    if not Path(bandit).exists():
        pytest.skip("BANDIT MISSING - bandit cross-check NOT tested (the `scan` group installs it)")
    source = tmp_path / "module.py"
    source.write_text(SOURCE)
    completed = subprocess.run(
        [bandit, "-q", "-f", "json", str(source)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    report: dict[str, object] = json.loads(completed.stdout)
    return report, {str(source): SOURCE.splitlines()}


def test_each_bandit_result_is_explained_or_reported(
    bandit_report: tuple[dict[str, object], dict[str, list[str]]],
) -> None:
    report, sources = bandit_report
    unexplained, explained = bandit_check.unexplained_bandit_results(
        report, source_lines=sources, ignored_project_wide=["S603", "S607"]
    )
    found = {(line.split()[0].rsplit(":", 1)[1], line.split()[1]) for line in unexplained + explained}
    assert {("4", "B311"), ("5", "B311")} <= found, "bandit must flag both Random() uses"
    assert any(":4 B311" in line and "jitter, not security" in line for line in explained)
    assert any(":5 B311" in line for line in unexplained), "no noqa -> unexplained"
    assert any(":6 B105" in line and "has no reason" in line for line in unexplained)
    assert any(":7 B603" in line and "ignored project-wide" in line for line in explained)
    assert any(":2 B404" in line for line in explained)
    assert len(unexplained) + len(explained) == len(report["results"])  # type: ignore[arg-type]


def test_project_wide_ignores_come_from_the_caller(
    bandit_report: tuple[dict[str, object], dict[str, list[str]]],
) -> None:
    report, sources = bandit_report
    unexplained, _ = bandit_check.unexplained_bandit_results(
        report, source_lines=sources, ignored_project_wide=[]
    )
    assert any(":7 B603" in line for line in unexplained)


def test_noqa_reasons() -> None:
    assert bandit_check.noqa_reasons("x = 1  # noqa: S105, S106 - fixture value") == {
        "S105": "fixture value",
        "S106": "fixture value",
    }
    assert bandit_check.noqa_reasons("x = 1  # noqa: S105") == {"S105": ""}
    assert bandit_check.noqa_reasons("x = 1  # a comment") == {}


def test_module_cli_fails_on_unexplained_results_and_reads_ignores_from_pyproject(
    bandit_report: tuple[dict[str, object], dict[str, list[str]]], tmp_path: Path
) -> None:
    report, _ = bandit_report
    (tmp_path / "bandit.json").write_text(json.dumps(report))
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nignore = ["S603", "S607"]\n')
    completed = subprocess.run(
        [sys.executable, "-m", "tools.bandit_check", str(tmp_path / "bandit.json"), "--pyproject",
         str(tmp_path / "pyproject.toml")],
        capture_output=True, text=True, cwd=Path(__file__).parents[2], check=False,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert "UNEXPLAINED:" in completed.stdout
    assert "ignored project-wide in pyproject.toml" in completed.stdout
    assert completed.stdout.rstrip().splitlines()[-1].startswith("bandit: ")
