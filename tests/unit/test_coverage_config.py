"""`nox -s coverage` measures the child processes too; `nox -s test` leaves them out (90 of its 690 CPU-s)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from support.paths import REPO_ROOT

from tools import coverage_config


def test_the_suite_measures_only_its_own_processes() -> None:
    settings = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "patch" not in settings["tool"]["coverage"]["run"]


def test_the_coverage_config_adds_children_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "rc.toml"
    assert coverage_config.main([str(out)]) == 0
    written = tomllib.loads(out.read_text(encoding="utf-8"))["tool"]["coverage"]
    kept = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["coverage"]
    assert written["run"]["patch"] == ["subprocess"]
    assert {k: v for k, v in written["run"].items() if k != "patch"} == kept["run"]
    assert coverage_config.main([]) == 2
