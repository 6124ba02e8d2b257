"""Tasks: (placeholder until its issue lands)."""

from __future__ import annotations

from typing import Any

ROOT_TASKS: list[Any] = []
COLLECTIONS: dict[str, Any] = {}
