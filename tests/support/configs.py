"""Config variants for tests: a copy of the shipped envpromote.toml with one change applied."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.paths import REPO_CONFIG, REPO_ROOT


def toml_dump(data: dict[str, Any]) -> str:
    """Just enough TOML for our config (tables, strings, numbers, booleans, lists of strings)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a valid TOML basic string

    def table(prefix: str, data: dict[str, Any]) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(
            f'"{k}" = {value(v)}' if not k.replace("_", "").isalnum() else f"{k} = {value(v)}"
            for k, v in scalars.items()
        )
        lines.append("")
        for k, v in data.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", data)
    return "\n".join(lines)


def config_variant(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], name: str = "envpromote.toml"
) -> Path:
    """A copy of the shipped config with `change` applied; the template stays the repository's."""
    data = tomllib.loads(REPO_CONFIG.read_text())
    data["project"]["template"] = str(REPO_ROOT / "templates" / "taskdef.json.j2")
    change(data)
    path = tmp_path / name
    path.write_text(toml_dump(data))
    return path
