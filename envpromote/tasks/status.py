"""``status``: every environment of the chain in one view (a rich table in a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from invoke.context import Context as InvokeContext
from invoke.exceptions import Exit

from envpromote.tasks._common import command, handle_errors, print_json
from envpromote.tasks._release_common import CONFIG_HELP, JSON_HELP, release_context, task

if TYPE_CHECKING:
    from envpromote.release.status import EnvStatus, StatusReport


def _short(digest: str | None) -> str:
    return digest[7:19] if digest and digest.startswith("sha256:") else (digest or "-")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def _cells(e: EnvStatus) -> list[str]:
    """Columns: env, running, ledger, age, last, rollout, lock, next, problems."""
    if e.error:
        return [e.environment, "?", "?", "-", "-", "-", "-", "-", f"unreachable: {e.error}"]
    running = _short(e.running_digest) + (" (last success)" if e.is_last_success else "")
    last = "-"
    if e.last_record:
        r = e.last_record
        last = f"#{r['sequence']} {r['kind']} {r['status']}"
        if r.get("approver"):
            last += f" by {r['approver']}"
    rollout = "-"
    if e.rollout:
        ro = e.rollout
        rollout = f"{ro.state} {ro.running}/{ro.desired}" + (f" {_age(ro.seconds)}" if ro.seconds else "")
        rollout += f" ({ro.stage})" if ro.stage else ""
    problems = list(e.problems)
    if e.unresolved_intents:
        problems = [
            p
            if p != "unresolved"
            else f"unresolved #{', #'.join(str(i['sequence']) for i in e.unresolved_intents)}"
            for p in problems
        ]
    return [
        e.environment,
        running,
        _short(e.ledger_digest) if e.ledger_digest else "none",
        _age(e.age_seconds),
        last,
        rollout,
        e.lock_holder or "-",
        f"{_short(e.next_promotion)} from {e.upstream}" if e.next_promotion else "-",
        ", ".join(problems) or "ok",
    ]


HEADERS = ["env", "running", "ledger success", "age", "last record", "rollout", "lock", "next", "problems"]


def _print_table(report: StatusReport) -> None:
    rows = [_cells(e) for e in report.environments]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*HEADERS, title="envpromote status")
        for row in rows:
            table.add_row(*row, style=None if row[-1] == "ok" else "bold red")
        Console().print(table)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    for row in [HEADERS, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _next_steps(report: StatusReport) -> list[str]:
    hints: list[str] = []
    for env, problem in report.problems:
        if problem == "drift":
            hints.append(f"{env}: {command(f'drift --env {env}')} shows the difference")
        elif problem == "unresolved":
            hints.append(f"{env}: {command(f'history --env {env}')} shows the open intent")
        elif problem == "locked":
            hints.append(f"{env}: {command(f'lock.status --env {env}')} shows who holds it")
    return hints


@task(
    help={
        "config": CONFIG_HELP,
        "json": JSON_HELP,
        "check": "Exit non-zero when something is wrong: 4 unreachable, 7 stuck or unresolved, 1 drift, 8 locked.",
        "stuck_after": "Seconds after which a rollout in progress counts as stuck (default 1800).",
    }
)
@handle_errors
def status(
    c: InvokeContext, config: str = "", json: bool = False, check: bool = False, stuck_after: float = 1800.0
) -> None:
    """Every environment of the chain: running digest, ledger's last success, rollout, lock, drift, what's next."""
    from envpromote.release.status import status as chain_status

    ctx = release_context(config)
    report = chain_status(ctx, stuck_after=float(stuck_after))
    if json:
        print_json(report.to_json())
    else:
        _print_table(report)
        for line in _next_steps(report):
            print(f"  {line}", file=sys.stderr)
    code = report.exit_code()
    if check and code:
        raise Exit(
            "envpromote: status: "
            + "; ".join(f"{env} {problem}" for env, problem in report.problems)
            + f" (exit {code})",
            code=code,
        )


ROOT_TASKS: list[Any] = [status]
