"""Config variants for tests: a copy of the shipped envpromote.toml with one change applied."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from support.paths import REPO_CONFIG, REPO_ROOT


def config_variant(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], name: str = "envpromote.toml"
) -> Path:
    """A copy of the shipped config with `change` applied; the template stays the repository's."""
    data = tomllib.loads(REPO_CONFIG.read_text())
    data["project"]["template"] = str(REPO_ROOT / "templates" / "taskdef.json.j2")
    change(data)
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data))
    return path
