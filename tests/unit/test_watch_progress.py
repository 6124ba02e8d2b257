"""Progress: the value the watchers report, the plain (CI) and live (terminal) renderers, and the lazy rich."""

from __future__ import annotations

import io
import subprocess
import sys

from watch_fakes import HALF, TARGET

from envpromote.rollout import LiveProgress, PlainProgress, Progress, classify, progress_printer
from envpromote.rollout.progress import progress_of


def test_progress_of_one_answer_names_state_counts_and_last_event() -> None:
    progress = progress_of(HALF, classify(HALF, TARGET), TARGET, 12.4)
    assert progress == Progress(
        "ecs-svc/2", "IN_PROGRESS", 1, 2, 1, 0, 12.4, "(service web) has started 1 tasks"
    )
    assert progress.line() == (
        "ecs-svc/2 IN_PROGRESS: running 1/2, pending 1, failed 0 (12s) - (service web) has started 1 tasks"
    )


def test_plain_lines_on_change_and_as_a_heartbeat_and_every_note() -> None:
    lines: list[str] = []
    show = PlainProgress(lines.append)
    base = Progress("d", "IN_PROGRESS", 0, 2, 2)
    show(base)
    show(Progress("d", "IN_PROGRESS", 0, 2, 2, elapsed=5))  # nothing new, too soon
    show(Progress("d", "IN_PROGRESS", 1, 2, 1, elapsed=6))  # a change
    show(Progress("d", "IN_PROGRESS", 1, 2, 1, elapsed=16))  # the heartbeat
    show(Progress("d", "IN_PROGRESS", 1, 2, 1, elapsed=17, note="ECS read failed"))
    assert lines == [
        "d IN_PROGRESS: running 0/2, pending 2, failed 0 (0s)",
        "d IN_PROGRESS: running 1/2, pending 1, failed 0 (6s)",
        "d IN_PROGRESS: running 1/2, pending 1, failed 0 (16s)",
        "ECS read failed",
    ]


def test_live_line_is_drawn_in_a_terminal() -> None:
    stream = io.StringIO()
    show = LiveProgress(stream)
    show(Progress("d", "IN_PROGRESS", 1, 2, 1, elapsed=3))
    show(Progress("d", "IN_PROGRESS", 1, 2, 1, elapsed=4, note="a remark"))
    show.close()
    text = stream.getvalue()
    assert "d IN_PROGRESS: running 1/2, pending 1, failed 0 (4s)" in text
    assert "a remark" in text


def test_the_renderer_follows_the_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(progress_printer(print, stream=io.StringIO()), PlainProgress)
    live = progress_printer(print, stream=Tty())
    assert isinstance(live, LiveProgress)
    live.close()


def test_rich_is_imported_only_when_a_live_line_is_drawn() -> None:
    code = "import sys, envpromote.rollout; print('rich' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
