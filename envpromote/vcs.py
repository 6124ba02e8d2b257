"""The source revision a build or a release comes from (git, read-only; absent git is not an error)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(repo: Path | None, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit(repo: Path | None = None) -> str | None:
    """HEAD's commit in ``repo`` (the current directory when None); None outside a git checkout."""
    return _git(repo, "rev-parse", "HEAD") or None


def source_state(repo: Path, path: str = "app") -> tuple[str | None, bool]:
    """(HEAD commit, whether the tree has uncommitted changes under ``path``)."""
    status = _git(repo, "status", "--porcelain", "--", path)
    return git_commit(repo), bool(status)
