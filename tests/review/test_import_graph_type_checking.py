"""Review: tools/import_graph ignores imports under ``if TYPE_CHECKING:`` (either spelling) and keeps the rest."""

from __future__ import annotations

from pathlib import Path

from tools.import_graph import imports_of


def test_only_run_time_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "import typing\n"
        "from typing import TYPE_CHECKING\n"
        "from envpromote import errors\n"
        "if TYPE_CHECKING:\n"
        "    from envpromote.config import Config\n"
        "if typing.TYPE_CHECKING:\n"
        "    import envpromote.ledger\n"
        "if errors:\n"
        "    import envpromote.aws\n",
        "utf-8",
    )
    assert sorted(imports_of(source)) == ["envpromote.aws", "envpromote.errors"]
