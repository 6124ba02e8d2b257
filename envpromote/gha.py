"""GitHub Actions glue: step outputs, the step summary and annotations.

Every function is a no-op outside Actions (when the variable it writes to is unset), so tasks can call
them unconditionally.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def set_output(name: str, value: str) -> None:
    """Write a step output (multi-line safe, using a random heredoc delimiter)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    delimiter = f"ghadelim_{uuid.uuid4().hex}"
    with Path(path).open("a", encoding="utf-8", errors="replace") as fh:  # a surrogate never fails a step
        fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(markdown: str) -> None:
    """Append Markdown to the job's step summary."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with Path(path).open("a", encoding="utf-8", errors="replace") as fh:  # a surrogate never fails a step
        fh.write(markdown.rstrip() + "\n")


def annotate(level: str, message: str) -> str:
    """Return (and print in Actions) a workflow command annotation: level is notice, warning or error."""
    if level not in {"notice", "warning", "error"}:
        raise ValueError(f"unknown annotation level {level!r}")
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    line = f"::{level}::{escaped}"
    if in_actions():
        print(line, flush=True)
    return line
