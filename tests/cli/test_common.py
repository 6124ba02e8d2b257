"""The one error mapping and the --json contract, in process: one document on stdout, the rest on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from invoke.exceptions import Exit

from envpromote.errors import EXIT_GATE_REFUSED, GateRefused
from envpromote.tasks._common import EXIT_INTERRUPTED, Interrupted, failure_of, handle_errors, print_json


@handle_errors
def fake_task(c: object, json: bool = False, fail: BaseException | None = None) -> None:
    print("a plan line for people")
    subprocess.run([sys.executable, "-c", "print('a child process writes to fd 1')"], check=True)
    if fail is not None:
        raise fail
    print_json({"result": 1})


def test_json_success_is_one_document_and_people_text_goes_to_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    fake_task(None, json=True)
    out, err = capfd.readouterr()
    assert json.loads(out) == {"result": 1}
    assert "a plan line for people" in err
    assert "a child process writes to fd 1" in err


def test_json_failure_is_one_error_document(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(Exit) as raised:
        fake_task(
            None, json=True, fail=GateRefused("staging has no success.", fix="Deploy to staging first.")
        )
    out, _err = capfd.readouterr()
    assert json.loads(out) == {
        "error": "staging has no success.",
        "exit_code": EXIT_GATE_REFUSED,
        "fix": "Deploy to staging first.",
        "type": "GateRefused",
    }
    assert raised.value.code == EXIT_GATE_REFUSED
    assert raised.value.message == "envpromote: error: staging has no success. Fix: Deploy to staging first."


def test_an_exit_after_the_document_adds_no_second_one(capfd: pytest.CaptureFixture[str]) -> None:
    @handle_errors
    def differs(c: object, json: bool = False) -> None:
        print_json({"diff": ["-a", "+b"]})
        raise Exit(code=2)

    with pytest.raises(Exit):
        differs(None, json=True)
    assert json.loads(capfd.readouterr().out) == {"diff": ["-a", "+b"]}


def test_without_json_stdout_is_untouched(capfd: pytest.CaptureFixture[str]) -> None:
    fake_task(None)
    out, _ = capfd.readouterr()
    assert "a plan line for people" in out
    assert json.loads(out[out.index("{") :]) == {"result": 1}


def test_unexpected_errors_keep_their_one_line_and_exit_1() -> None:
    with pytest.raises(Exit) as raised:
        fake_task(None, fail=TypeError("boom"))
    assert raised.value.code == 1
    assert raised.value.message == (
        "envpromote: unexpected error: TypeError: boom. "
        "Fix: re-run with ENVPROMOTE_DEBUG=1 for a traceback and report it."
    )


def test_ctrl_c_says_what_carries_on_and_what_to_run() -> None:
    interrupted = Interrupted("ECS carries on with the rollout.", "Run 'invoke status'.")
    failure = failure_of(interrupted)
    assert (failure.exit_code, failure.fix) == (EXIT_INTERRUPTED, "Run 'invoke status'.")
    with pytest.raises(Exit) as raised:
        fake_task(None, fail=interrupted)
    assert raised.value.message == "envpromote: ECS carries on with the rollout. Fix: Run 'invoke status'."
