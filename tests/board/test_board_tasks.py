"""The tasks: `invoke board` (site from the sandbox, --serve on 127.0.0.1) and `invoke notify.test`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from envpromote.board.serve import make_server
from envpromote.errors import EXIT_BAD_INPUT, EXIT_PREFLIGHT_FAILED
from envpromote.sandbox.testing import Sandbox
from envpromote.tasks.board import COLLECTIONS, ROOT_TASKS, board, notify_test

REPO_CONFIG = Path(__file__).resolve().parents[2] / "envpromote.toml"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify"))
from notify_receiver import webhook_receiver  # noqa: E402 - lives in tests/notify


def test_the_module_exports_board_and_notify_test() -> None:
    assert [t.name for t in ROOT_TASKS] == ["board"]
    assert sorted(COLLECTIONS["notify"].task_names) == ["test"]


def test_board_task_renders_the_sandbox(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board(Context(), out=str(tmp_path / "site"), config=str(sandbox.config_path), json=True)
    printed = json.loads(capsys.readouterr().out)
    assert printed["index"] == str(tmp_path / "site" / "index.html")
    assert sorted(printed["running"]) == ["dev", "production", "staging"]
    assert (tmp_path / "site" / "static" / "board.css").is_file()
    assert "What runs where" in (tmp_path / "site" / "index.html").read_text("utf-8")


def test_the_server_serves_the_site_on_loopback_only(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>hello board", encoding="utf-8")
    server = make_server(tmp_path)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as response:
            assert response.status == 200
            assert b"hello board" in response.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_notify_test_sends_a_test_message(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with webhook_receiver() as receiver:
        monkeypatch.setenv("BOARD_TEST_WEBHOOK", receiver.url)
        notify_test(
            Context(), env="dev", target=["slack:env:BOARD_TEST_WEBHOOK"], config=str(sandbox.config_path)
        )
    assert capsys.readouterr().out.strip() == "slack:env:BOARD_TEST_WEBHOOK: sent after 1 attempt(s)"
    (payload,) = receiver.received
    assert payload["text"].startswith("[test] dev: deploy of sha256:")
    assert "nothing was deployed" in json.dumps(payload["blocks"])


def test_notify_test_fails_with_exit_4_when_a_target_fails(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOARD_UNSET_WEBHOOK", raising=False)
    with pytest.raises(Exit) as caught:
        notify_test(
            Context(), env="dev", target=["slack:env:BOARD_UNSET_WEBHOOK"], config=str(sandbox.config_path)
        )
    assert caught.value.code == EXIT_PREFLIGHT_FAILED


@pytest.mark.parametrize("target", [None, ["https://hooks.slack.com/services/x"]])
def test_notify_test_refuses_bad_input_with_exit_2(target: list[str] | None) -> None:
    with pytest.raises(Exit) as caught:
        notify_test(Context(), env="dev", target=target, config=str(REPO_CONFIG))
    assert caught.value.code == EXIT_BAD_INPUT


@pytest.mark.parametrize(
    "statement",
    ["import envpromote.tasks.board", "import envpromote.notify.targets", "import envpromote.board.graph"],
)
def test_light_imports_stay_light(statement: str) -> None:
    """`envpromote --list` imports task modules and config.py will import the targets parser: no boto3, no Jinja."""
    heavy = (
        "boto3",
        "botocore",
        "jinja2",
        "envpromote.ledger",
        "envpromote.board.site",
        "envpromote.notify.send",
    )
    probe = f"import sys\n{statement}\nprint([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("task_name", "option_help"),
    [("board", "Directory to write the site to"), ("notify.test", "Environment whose notify targets")],
)
def test_help_shows_each_option(task_name: str, option_help: str) -> None:
    # A fresh interpreter: invoke consumes a task's help dict the first time it builds a parser.
    probe = (
        "import importlib\nfrom invoke import Program\nfrom envpromote.tasks import build_namespace\n"
        "ns = build_namespace(importlib.import_module('envpromote.tasks.board'))\n"
        f"Program(namespace=ns, name='envpromote').run(['envpromote', {task_name!r}, '--help'], exit=False)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert option_help in " ".join(out.stdout.split())
