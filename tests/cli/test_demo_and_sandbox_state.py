"""The demo's story stays short; one sandbox per config file, on a stable port across down/up."""

from __future__ import annotations

import socket
from pathlib import Path

from envpromote.sandbox.demo import summarise
from envpromote.sandbox.process import previous_port, state_dir_for


def test_summarise_keeps_the_outcome_and_counts_the_diff() -> None:
    output = "\n".join(
        [
            "deploy 123.dkr.ecr/app@sha256:ab -> dev (c/s)",
            "--- running",
            "+++ rendered",
            *[f"+  line {i}" for i in range(40)],
            "watching deployment ecs-svc/1 via adaptive polling (timeout 50s)",
            "success: deploy sha256:ab to dev",
            "  record: .envpromote/records/dev-1.json",
        ]
    )
    lines = summarise(output)
    assert lines[0] == "success: deploy sha256:ab to dev"
    assert lines[-1] == "   (42 task-definition diff lines, 3 other lines not shown; --verbose shows them)"
    assert len(lines) <= 5


def test_a_refusal_is_shown() -> None:
    lines = summarise("envpromote: error: staging has no success. Fix: Deploy first.")
    assert lines == ["envpromote: error: staging has no success. Fix: Deploy first."]


def test_each_config_file_has_its_own_sandbox(tmp_path: Path) -> None:
    (tmp_path / "envpromote.toml").write_text("")
    (tmp_path / "copy.toml").write_text("")
    default = state_dir_for(tmp_path / "envpromote.toml")
    copy = state_dir_for(tmp_path / "copy.toml")
    assert default == tmp_path / ".envpromote" / "sandbox"
    assert copy != default
    assert copy.parent == default.parent
    assert copy.name.startswith("sandbox-copy-")
    assert state_dir_for(tmp_path / "copy.toml") == copy  # stable


def test_the_previous_port_is_reused_only_when_free(tmp_path: Path) -> None:
    assert previous_port(tmp_path) == 0
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        (tmp_path / "port").write_text(f"{port}\n")
        held.listen()
        assert previous_port(tmp_path) == 0  # taken now: the server will pick a free one
    assert previous_port(tmp_path) == port
