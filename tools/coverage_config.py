"""Write the repository's coverage settings with the child processes measured too, for `nox -s coverage`.

``python -m tools.coverage_config OUT.toml``: pyproject.toml's [tool.coverage] plus ``run.patch =
["subprocess"]``, so each process the tests start (a real CLI call, the app) traces itself and saves its data.
`nox -s test` leaves that out: it cost about 90 of the suite's 690 CPU-seconds.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]


def with_children(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Any]:
    """The [tool.coverage] settings of `pyproject` with subprocess measurement switched on."""
    settings: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["coverage"]
    run = settings.setdefault("run", {})
    run["patch"] = sorted({*run.get("patch", []), "subprocess"})
    return {"tool": {"coverage": settings}}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.coverage_config OUT.toml", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(tomli_w.dumps(with_children()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
