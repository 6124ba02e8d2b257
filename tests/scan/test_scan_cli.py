"""`invoke scan` end to end: real invoke, real trivy, the documented exit codes and output files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envpromote.errors import EXIT_BAD_INPUT, EXIT_GATE_REFUSED, EXIT_OK, EXIT_PREFLIGHT_FAILED

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def invoke_scan(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "scan", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def insecure_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "repo"
    shutil.copytree(FIXTURES, tree)
    return tree


@pytest.fixture
def clean_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "clean"
    tree.mkdir()
    (tree / "README.md").write_text("nothing to see\n")
    return tree


@pytest.mark.usefixtures("trivy_bin")
def test_findings_over_threshold_exit_3_and_still_write_sarif_and_sbom(insecure_tree: Path) -> None:
    out = insecure_tree / "out"
    completed = invoke_scan(
        insecure_tree, "--offline", "--sarif", str(out / "t.sarif"), "--sbom", str(out / "sbom.json")
    )
    assert completed.returncode == EXIT_GATE_REFUSED, completed.stderr
    (error,) = completed.stderr.strip().splitlines()
    assert "scan threshold exceeded (--fail-on HIGH)" in error
    assert "Fix:" in error
    assert "PARTIAL SCAN" in completed.stdout
    assert "github-pat" in completed.stdout
    assert json.loads((out / "t.sarif").read_text())["version"] == "2.1.0"
    assert json.loads((out / "sbom.json").read_text())["bomFormat"] == "CycloneDX"


@pytest.mark.usefixtures("trivy_bin")
def test_clean_tree_passes_offline_labelled_partial(clean_tree: Path) -> None:
    completed = invoke_scan(clean_tree, "--offline", "--fail-on", "UNKNOWN")
    assert completed.returncode == EXIT_OK, completed.stderr
    assert "PARTIAL SCAN" in completed.stdout
    assert "no findings" in completed.stdout


@pytest.mark.usefixtures("trivy_bin")
def test_json_output(insecure_tree: Path) -> None:
    completed = invoke_scan(insecure_tree, "--offline", "--config", "--json", "--fail-on", "CRITICAL")
    assert completed.returncode == EXIT_OK, completed.stderr
    report = json.loads(completed.stdout)
    assert report["summary"]["partial"] is True
    assert report["summary"]["modes"] == ["config"]
    assert report["summary"]["counts"]["HIGH"] == sum(
        1 for f in report["findings"] if f["severity"] == "HIGH"
    )


@pytest.mark.usefixtures("trivy_bin")
def test_missing_vulnerability_database_exits_4(clean_tree: Path, tmp_path: Path, closed_port: int) -> None:
    env = {"TRIVY_DB_REPOSITORY": f"127.0.0.1:{closed_port}/trivy-db", "TRIVY_CACHE_DIR": str(tmp_path / "c")}
    completed = invoke_scan(clean_tree, "--fs", env=env)
    assert completed.returncode == EXIT_PREFLIGHT_FAILED
    (error,) = completed.stderr.strip().splitlines()
    assert "vulnerability database is unavailable" in error
    assert "--offline" in error
    assert "no findings" not in completed.stdout


def test_invalid_trivyignore_exits_2(clean_tree: Path) -> None:
    (clean_tree / ".trivyignore").write_text("DS-0002\n")
    completed = invoke_scan(clean_tree, "--offline")
    assert completed.returncode == EXIT_BAD_INPUT
    assert "line 1: DS-0002 has no expiry" in completed.stderr


def test_unknown_severity_exits_2(clean_tree: Path) -> None:
    completed = invoke_scan(clean_tree, "--offline", "--fail-on", "SEVERE")
    assert completed.returncode == EXIT_BAD_INPUT
    assert "is not a severity" in completed.stderr
