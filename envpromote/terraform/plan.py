"""What a saved plan would change, read from ``terraform show -json <planfile>`` (pure; no text parsing).

Counts follow terraform's own "Plan: N to add, N to change, N to destroy" line: a replacement counts as one
add and one destroy; reads and no-ops count nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_SYMBOLS = {
    ("create",): "+",
    ("delete",): "-",
    ("update",): "~",
    ("delete", "create"): "-/+",
    ("create", "delete"): "+/-",
    ("read",): "<=",
}


@dataclass(frozen=True)
class PlanSummary:
    """The outcome of ``terraform plan -detailed-exitcode -out``: 0 no changes, 2 changes."""

    exit_code: int
    to_add: int
    to_change: int
    to_destroy: int
    outputs_change: bool
    text: str = field(repr=False)
    changes: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return self.exit_code == 2

    def one_line(self) -> str:
        if not self.has_changes:
            return "No changes: the infrastructure matches the configuration."
        line = f"Plan: {self.to_add} to add, {self.to_change} to change, {self.to_destroy} to destroy."
        if self.outputs_change and not (self.to_add or self.to_change or self.to_destroy):
            line = "Plan: only output values change."
        return line


def _actions(entry: Any) -> tuple[str, ...]:
    change = entry.get("change") if isinstance(entry, Mapping) else None
    actions = change.get("actions") if isinstance(change, Mapping) else None
    return tuple(str(a) for a in actions) if isinstance(actions, list) else ()


def parse_plan(exit_code: int, plan: Mapping[str, Any], text: str = "") -> PlanSummary:
    """Summarise ``terraform show -json`` of a saved plan; `text` is plan's human output, kept for --verbose."""
    add = change = destroy = 0
    lines: list[str] = []
    for entry in plan.get("resource_changes") or []:
        actions = _actions(entry)
        add += "create" in actions
        destroy += "delete" in actions
        change += actions == ("update",)
        symbol = _SYMBOLS.get(actions)
        if symbol:
            lines.append(f"{symbol} {entry.get('address')}")
    outputs = plan.get("output_changes") or {}
    outputs_change = any(_actions(entry) not in {(), ("no-op",)} for entry in outputs.values())
    return PlanSummary(
        exit_code=exit_code,
        to_add=add,
        to_change=change,
        to_destroy=destroy,
        outputs_change=outputs_change,
        text=text,
        changes=tuple(lines),
    )


def plan_digest(summary: PlanSummary) -> str:
    """One line per resource change (+ create, ~ update, - destroy, -/+ replace), then the counts."""
    lines = list(summary.changes) or ([] if not summary.has_changes else ["(output values only)"])
    return "\n".join([*lines, summary.one_line()]) if lines else summary.one_line()
