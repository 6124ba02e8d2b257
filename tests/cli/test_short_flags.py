"""One meaning per short flag across every task (``-d`` is --digest everywhere, never --dry-run)."""

from __future__ import annotations

from collections import defaultdict

from envpromote.tasks import namespace
from envpromote.tasks._release_common import SHORT_FLAGS, ProductTask

# Task modules owned by other helpers that still use invoke's automatic short flags (follow-up: decorate with
# envpromote.tasks._release_common.task). Listed by task; test_pending_tasks_are_still_pending keeps it honest.
PENDING: set[str] = set()


def _shorts(task_names: set[str]) -> dict[str, set[str]]:
    meanings: dict[str, set[str]] = defaultdict(set)
    for name in task_names:
        for argument in namespace[name].get_arguments(ignore_unknown_help=True):
            long = next(n for n in argument.names if len(n) > 1)
            for short in (n for n in argument.names if len(n) == 1):
                meanings[short].add(long)
    return meanings


def test_each_short_flag_has_one_meaning() -> None:
    checked = set(namespace.task_names) - PENDING
    assert {"deploy", "promote", "rollback", "status", "history"} <= checked
    meanings = _shorts(checked)
    assert meanings, "no short flags at all"
    clashes = {short: longs for short, longs in meanings.items() if len(longs) > 1}
    assert not clashes, clashes
    expected = {short: {long.replace("_", "-")} for long, short in SHORT_FLAGS.items()}
    assert all(meanings[s] <= expected[s] for s in meanings), dict(meanings)


def test_the_release_flags() -> None:
    names = {n for a in namespace["rollback"].get_arguments(ignore_unknown_help=True) for n in a.names}
    assert {"e", "c", "n", "j", "y", "a", "f"} <= names
    assert "d" not in names
    assert "t" not in names


def test_pending_tasks_are_still_pending() -> None:
    """When a listed task adopts the shared decorator, take it off PENDING so the check above covers it."""
    converted = sorted(name for name in PENDING if isinstance(namespace[name], ProductTask))
    assert not converted, f"remove from PENDING: {converted}"
    assert set(namespace.task_names) >= PENDING
