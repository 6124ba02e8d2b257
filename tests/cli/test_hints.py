"""Hints that work when pasted: every command a message names exists, with the options it names.

The messages are collected from the product's source (every string literal and f-string, placeholders kept as
``{}``), so a Fix text added anywhere is checked without listing it here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import envpromote
from envpromote.tasks import _common, namespace

PACKAGE = Path(envpromote.__file__).parent
# A command as a hint quotes it: 'invoke drift --env dev', `invoke build`, "$(invoke sandbox.env)".
COMMAND = re.compile(r"(?<=['`\"(])(?:invoke|envpromote) ([a-z][\w-]*(?:\.[a-z][\w-]*)?)([^'\"`()\n;|]*)")
OPTION = re.compile(r"(?<![\w-])--([a-z][\w-]*)")


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def hints() -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
    """(file:line, the text, the task, the options it names) for every command named in the product's strings."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        seen: set[int] = set()
        for node in ast.walk(tree):
            text = _text(node)
            if text is None or id(node) in seen:
                continue
            if isinstance(node, ast.JoinedStr):
                seen.update(id(v) for v in node.values)
            for match in COMMAND.finditer(text):
                task, rest = match.group(1), match.group(2)
                if rest.startswith(".*"):  # a family ('invoke infra.*'), not a command
                    continue
                where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
                yield where, match.group(0).strip(), task, tuple(OPTION.findall(rest))


ALL_HINTS = sorted(set(hints()))
# Known broken hints in files another helper owns (reported as follow-ups); strict, so a fix un-marks them.
BROKEN: dict[str, str] = {}
# Commands a sibling branch adds (not strict: they pass once that branch has landed; then drop the entry).
PENDING_TASKS: dict[str, str] = {}


def _param(hint: tuple[str, str, str, tuple[str, ...]]) -> object:
    reason = BROKEN.get(hint[1])
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    if hint[1] in PENDING_TASKS:
        marks = [pytest.mark.xfail(strict=False, reason=PENDING_TASKS[hint[1]])]
    return pytest.param(*hint, id=f"{hint[0]} {hint[1]}", marks=marks)


def _options(task: str) -> set[str]:
    return {name for a in namespace[task].get_arguments(ignore_unknown_help=True) for name in a.names}


def test_hints_are_found() -> None:
    tasks = {h[2] for h in ALL_HINTS}
    assert {"drift", "infra.apply", "lock.status", "history"} <= tasks, tasks


@pytest.mark.parametrize(("where", "text", "task", "options"), [_param(h) for h in ALL_HINTS])
def test_a_named_command_exists_with_its_options(
    where: str, text: str, task: str, options: tuple[str, ...]
) -> None:
    assert task in namespace.task_names, (
        f"{where}: '{text}' names no task (tasks: {sorted(namespace.task_names)})"
    )
    unknown = [o for o in options if o not in _options(task)]
    assert not unknown, f"{where}: '{text}': {task} has no option(s) {unknown}"


def test_hints_say_the_program_that_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Fix: run 'invoke drift --env dev', then `invoke promote --env staging`; invoked by cron."
    assert _common.as_program(text) == text
    monkeypatch.setattr(_common, "_program", "envpromote")
    assert _common.as_program(text) == (
        "Fix: run 'envpromote drift --env dev', then `envpromote promote --env staging`; invoked by cron."
    )
    assert _common.command("status --check") == "envpromote status --check"


def test_the_installed_command_names_itself_in_hints(tmp_path: Path) -> None:
    """Run as `envpromote`, a pasted hint must work: `envpromote sandbox.up`, not `invoke sandbox.up`."""
    import shutil
    import subprocess
    import sys

    config = tmp_path / "envpromote.toml"
    shutil.copy(PACKAGE.parent / "envpromote.toml", config)  # its own folder: no sandbox runs for it
    result = subprocess.run(
        [sys.executable, "-c", "from envpromote.cli import main; main(['envpromote', 'sandbox.status'])"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "ENVPROMOTE_CONFIG": str(config)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 4, result.stderr
    assert "envpromote sandbox.up" in result.stderr
    assert "invoke " not in result.stderr
