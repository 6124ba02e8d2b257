"""Progress of a watched rollout: one value per observation, and how to show it.

The watchers call ``on_progress(Progress)`` at every observation (and the event watcher after every long poll).
:func:`progress_printer` picks the renderer: in a terminal a live line drawn with `rich` (imported lazily, so a
task that never watches a rollout never pays for it); without a TTY (CI) a plain line on every change and at
least every ``heartbeat_s`` seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TextIO

from envpromote.rollout.classify import Observation, WatchTarget, events_since

HEARTBEAT_S = 10.0


@dataclass(frozen=True)
class Progress:
    """What the watch knows now about the deployment it follows. `note` is a one-off remark (a read error...)."""

    deployment_id: str
    state: str  # rolloutState of the followed deployment, or "?" before it is listed
    running: int = 0
    desired: int = 0
    pending: int = 0
    failed: int = 0
    elapsed: float = 0.0
    last_event: str = ""
    note: str = ""
    stage: str = ""  # the service deployment's lifecycleStage (blue/green, canary, linear), "" for rolling

    def line(self) -> str:
        if self.state == "?":
            return f"{self.deployment_id}: waiting for the first look at ECS ({self.elapsed:.0f}s)"
        state = f"{self.state} at {self.stage}" if self.stage else self.state
        text = (
            f"{self.deployment_id} {state}: running {self.running}/{self.desired}, pending {self.pending}, "
            f"failed {self.failed} ({self.elapsed:.0f}s)"
        )
        if self.last_event:
            text += f" - {self.last_event}"
        return text

    def key(self) -> tuple[Any, ...]:
        """Everything but the elapsed time: a change of key is a change worth a line."""
        return (
            self.deployment_id,
            self.state,
            self.running,
            self.desired,
            self.pending,
            self.failed,
            self.last_event,
            self.stage,
        )


def progress_of(
    service: Mapping[str, Any], observation: Observation, target: WatchTarget, elapsed: float
) -> Progress:
    """Pure: the Progress one DescribeServices answer shows."""
    deployment = observation.deployment or {}
    events = events_since(service, target.started_at, exclude=target.stale_ids)
    return Progress(
        deployment_id=str(deployment.get("id", target.deployment_id)),
        state=str(deployment.get("rolloutState", "?")),
        running=int(deployment.get("runningCount", 0)),
        desired=int(deployment.get("desiredCount", 0)),
        pending=int(deployment.get("pendingCount", 0)),
        failed=int(deployment.get("failedTasks", 0)),
        elapsed=elapsed,
        last_event=events[-1] if events else "",
    )


class ProgressRenderer(Protocol):
    def __call__(self, progress: Progress) -> None: ...
    def close(self) -> None: ...


class PlainProgress:
    """CI: a plain line when anything changes, and at least every `heartbeat_s` seconds of watching."""

    def __init__(self, out: Callable[[str], None], *, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.out = out
        self.heartbeat_s = heartbeat_s
        self._last_key: tuple[Any, ...] | None = None
        self._last_elapsed = 0.0

    def __call__(self, progress: Progress) -> None:
        if progress.note:
            self.out(progress.note)
        changed = progress.key() != self._last_key
        # The watchers report at least every 10 s; one second of slack keeps a report that comes a moment
        # early from skipping a whole beat.
        if changed or progress.elapsed - self._last_elapsed >= self.heartbeat_s - 1.0:
            self.out(progress.line())
            self._last_key = progress.key()
            self._last_elapsed = progress.elapsed

    def close(self) -> None:
        return None


class LiveProgress:
    """A terminal: one line redrawn in place (rich); notes are printed above it."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console  # lazy: only a watched rollout in a terminal needs rich
        from rich.live import Live

        self._console = Console(file=stream)
        self._live = Live("", console=self._console, refresh_per_second=4, transient=False)
        self._started = False

    def __call__(self, progress: Progress) -> None:
        from rich.text import Text

        if not self._started:
            self._live.start()
            self._started = True
        if progress.note:
            self._console.print(Text(progress.note))
        self._live.update(Text(progress.line()))

    def close(self) -> None:
        if self._started:
            self._live.stop()
            self._started = False


def progress_printer(
    out: Callable[[str], None], *, stream: TextIO | None = None, live: bool | None = None
) -> ProgressRenderer:
    """A live line when `stream` (stderr by default) is a terminal, plain lines through `out` otherwise."""
    stream = stream or sys.stderr
    if live is None:
        live = stream.isatty()
    return LiveProgress(stream) if live else PlainProgress(out)


def note(deployment_id: str, text: str, elapsed: float, last: Progress | None) -> Progress:
    """A Progress that carries a remark and otherwise repeats the last known state."""
    base = last or Progress(deployment_id=deployment_id, state="?")
    return replace(base, elapsed=elapsed, note=text)
