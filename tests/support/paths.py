"""Where the repository is, for tests that run its CLI or read its shipped files."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_CONFIG = REPO_ROOT / "envpromote.toml"
