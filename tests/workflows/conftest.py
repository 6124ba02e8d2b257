"""Shared fixtures for the workflow policy tests: the real workflows, parsed and as text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # wf_policy sits beside the tests

from tools.ci_plan import load_workflows  # noqa: E402

ROOT = HERE.parents[1]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows(WORKFLOWS_DIR)


@pytest.fixture(scope="session")
def texts() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(WORKFLOWS_DIR.glob("*.y*ml"))}
