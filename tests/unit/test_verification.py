"""The verified pause: checks against a real HTTP server on 127.0.0.1, alarms, the command, Continue/Rollback."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.exceptions
import pytest

from envpromote.errors import EXIT_PREFLIGHT_FAILED, PreflightFailed
from envpromote.rollout import PollPolicy
from envpromote.rollout.stages import PausedHook
from envpromote.strategy import HttpCheck, Verify, parse_strategy
from envpromote.verify import (
    Verifier,
    VerifyContext,
    continue_deployment,
    passed,
    pause_approval_text,
    pause_handler,
    roll_back_service_deployment,
    stage_status,
    strategy_watcher,
)
from envpromote.verify.checks import alarm_checks, command_check, http_check
from tests.unit.watch_fakes import TARGET, FakeClock

GOOD = "sha256:" + "a" * 64
BAD = "sha256:" + "b" * 64
CONTEXT = VerifyContext(env="prod", digest=GOOD, image=f"repo@{GOOD}")
ARN = "arn:aws:ecs:us-east-1:1:service-deployment/c/web/sd-2"


class App:
    """What the test listener serves: `routes` maps a path to (status, body); every request is recorded."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.requests: list[str] = []


@pytest.fixture
def listener() -> Iterator[tuple[str, App]]:
    app = App()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            app.requests.append(self.path)
            status, body, headers = app.routes.get(self.path, (404, b"not found", {}))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", app
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def digest_body(digest: str) -> bytes:
    return json.dumps({"service": "web", "build": {"digest": digest}, "digest": digest}).encode()


# ---- HTTP checks ----------------------------------------------------------------------------------------------


def test_the_running_digest_on_test_traffic_passes(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(GOOD), {})
    check = HttpCheck(path="/", json_fields={"digest": "{digest}", "build.digest": "{digest}"})
    result = http_check(check, url, CONTEXT)
    assert result == {
        "check": "pause: http GET /",
        "result": "pass",
        "detail": f"{url}/: 200, digest={GOOD}, build.digest={GOOD}",
    }
    assert app.requests == ["/"]


def test_another_revision_on_the_test_listener_fails_with_both_digests(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(BAD), {})
    result = http_check(HttpCheck(path="/", json_fields={"digest": "{digest}"}), url, CONTEXT)
    assert result["result"] == "fail"
    assert f"digest: expected {GOOD}, got {BAD}" in result["detail"]


@pytest.mark.parametrize(
    ("route", "check", "detail"),
    [
        ((503, b"down", {}), HttpCheck(path="/"), "expected status 200, got 503"),
        ((200, b"<html>", {}), HttpCheck(path="/", json_fields={"digest": "{digest}"}), "body is not JSON"),
        (
            (200, b"{}", {}),
            HttpCheck(path="/", json_fields={"digest": "{digest}"}),
            f"digest missing (expected {GOOD})",
        ),
        (
            (200, b"hello", {}),
            HttpCheck(path="/", contains="ready in {env}"),
            "body does not contain 'ready in prod'",
        ),
        (
            (302, b"", {"Location": "http://example.com/"}),
            HttpCheck(path="/"),
            "expected status 200, got 302",
        ),
    ],
)
def test_failing_answers_say_what_was_wrong(
    listener: tuple[str, App], route: tuple[int, bytes, dict[str, str]], check: HttpCheck, detail: str
) -> None:
    url, app = listener
    app.routes["/"] = route
    result = http_check(check, url, CONTEXT)
    assert result["result"] == "fail"
    assert result["detail"].startswith(f"{url}/: ")
    assert detail in result["detail"]
    assert app.requests == ["/"]  # a redirect is not followed: the check never leaves the configured URL


def test_a_listener_that_does_not_answer_fails_the_check() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused
        result = http_check(
            HttpCheck(path="/healthz", timeout_seconds=2), f"http://127.0.0.1:{port}", CONTEXT
        )
    assert result["result"] == "fail"
    assert result["detail"].startswith(f"http://127.0.0.1:{port}/healthz: no answer")


# ---- alarms and the command -------------------------------------------------------------------------------------


class FakeCloudWatch:
    def __init__(self, states: dict[str, str], error: Exception | None = None) -> None:
        self.states = states
        self.error = error
        self.calls: list[list[str]] = []

    def describe_alarms(self, AlarmNames: list[str], MaxRecords: int) -> dict[str, Any]:
        self.calls.append(AlarmNames)
        if self.error:
            raise self.error
        alarms = [
            {"AlarmName": n, "StateValue": s, "StateReason": "Threshold Crossed: 5 datapoints"}
            for n, s in self.states.items()
            if n in AlarmNames
        ]
        return {"MetricAlarms": alarms, "CompositeAlarms": []}


def test_alarm_in_alarm_fails_ok_and_no_data_pass_unknown_fails() -> None:
    cloudwatch = FakeCloudWatch({"a-ok": "OK", "a-new": "INSUFFICIENT_DATA", "a-bad": "ALARM"})
    results = alarm_checks(cloudwatch, ("a-ok", "a-new", "a-bad", "a-typo"), phase="bake")
    assert [(r["check"], r["result"]) for r in results] == [
        ("bake: alarm a-ok", "pass"),
        ("bake: alarm a-new", "pass"),
        ("bake: alarm a-bad", "fail"),
        ("bake: alarm a-typo", "fail"),
    ]
    assert results[2]["detail"] == "ALARM: Threshold Crossed: 5 datapoints"
    assert results[3]["detail"] == "no such CloudWatch alarm"


def test_unreadable_alarms_fail() -> None:
    error = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeAlarms"
    )
    results = alarm_checks(FakeCloudWatch({}, error), ("a",))
    assert results[0]["result"] == "fail"
    assert "could not read the alarm" in results[0]["detail"]


def test_the_command_runs_without_a_shell_and_sees_the_digest_and_url() -> None:
    script = "import os, sys; print(os.environ['ENVPROMOTE_DIGEST'][:9], os.environ['ENVPROMOTE_TEST_URL']); sys.exit(0)"
    ok = command_check((sys.executable, "-c", script), 30, CONTEXT, "http://127.0.0.1:1")
    assert ok["result"] == "pass"
    assert ok["detail"] == "exit 0: sha256:aa http://127.0.0.1:1"
    failed = command_check((sys.executable, "-c", "import sys; sys.exit('smoke failed')"), 30, CONTEXT, None)
    assert failed["result"] == "fail"
    assert failed["detail"] == "exit 1: smoke failed"
    missing = command_check(("/nonexistent/smoke",), 30, CONTEXT, None)
    assert missing["result"] == "fail"
    assert missing["detail"].startswith("could not run:")


def test_a_command_that_outlives_its_timeout_fails() -> None:
    import subprocess

    def run(*_args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired("smoke", kwargs["timeout"])

    result = command_check(("smoke",), 7, CONTEXT, None, run=run)
    assert result == {"check": "pause: command smoke", "result": "fail", "detail": "did not finish within 7s"}


# ---- the verified pause ------------------------------------------------------------------------------------------


class PausedEcs:
    def __init__(self, deployments: list[dict[str, Any]] | None = None) -> None:
        self.deployments = deployments or []
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.fail_continue: Exception | None = None

    def list_service_deployments(self, **kw: Any) -> dict[str, Any]:
        assert kw["status"] == ["PENDING", "IN_PROGRESS"]
        return {
            "serviceDeployments": [
                {"serviceDeploymentArn": d["serviceDeploymentArn"]} for d in self.deployments
            ]
        }

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        return {
            "serviceDeployments": [
                d for d in self.deployments if d["serviceDeploymentArn"] in serviceDeploymentArns
            ]
        }

    def continue_service_deployment(self, **kw: Any) -> dict[str, Any]:
        if self.fail_continue:
            raise self.fail_continue
        self.actions.append(("continue", kw))
        return {}

    def stop_service_deployment(self, **kw: Any) -> dict[str, Any]:
        self.actions.append(("stop", kw))
        return {}


HOOK = PausedHook(ARN, "hook-1", "POST_TEST_TRAFFIC_SHIFT")


def verifier_for(url: str, cloudwatch: Any = None) -> Verifier:
    raw = {
        "strategy": "blue_green",
        "verify": {
            "test_url": url,
            "alarms": ["web-5xx"],
            "http": [{"path": "/", "json": {"digest": "{digest}"}}, {"path": "/healthz"}],
        },
    }
    verify = parse_strategy(raw, "environments.prod").verify
    assert verify is not None
    return Verifier(verify, CONTEXT, cloudwatch=cloudwatch or FakeCloudWatch({"web-5xx": "OK"}))


def test_all_checks_passing_continues_and_returns_the_evidence(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(GOOD), {})
    app.routes["/healthz"] = (200, b"ok", {})
    ecs = PausedEcs()
    evidence = pause_handler(ecs, verifier_for(url))(HOOK)
    assert ecs.actions == [
        ("continue", {"serviceDeploymentArn": ARN, "hookId": "hook-1", "action": "CONTINUE"})
    ]
    assert [(e["check"], e["result"]) for e in evidence] == [
        ("pause: http GET /", "pass"),
        ("pause: http GET /healthz", "pass"),
        ("pause: alarm web-5xx", "pass"),
        ("pause: ContinueServiceDeployment CONTINUE", "pass"),
    ]


def test_a_wrong_digest_on_test_traffic_rolls_back(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(BAD), {})
    app.routes["/healthz"] = (200, b"ok", {})
    ecs = PausedEcs()
    evidence = pause_handler(ecs, verifier_for(url))(HOOK)
    assert ecs.actions == [
        ("continue", {"serviceDeploymentArn": ARN, "hookId": "hook-1", "action": "ROLLBACK"})
    ]
    assert not passed(evidence)
    assert evidence[0]["result"] == "fail"
    assert evidence[-1]["check"] == "pause: ContinueServiceDeployment ROLLBACK"


def test_an_alarm_at_the_pause_rolls_back(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(GOOD), {})
    app.routes["/healthz"] = (200, b"ok", {})
    ecs = PausedEcs()
    pause_handler(ecs, verifier_for(url, FakeCloudWatch({"web-5xx": "ALARM"})))(HOOK)
    assert ecs.actions[0][1]["action"] == "ROLLBACK"


def test_human_approval_is_asked_only_when_the_checks_pass(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(GOOD), {})
    app.routes["/healthz"] = (200, b"ok", {})
    asked: list[int] = []

    def decline(_hook: PausedHook, results: Any) -> bool:
        asked.append(len(results))
        return False

    ecs = PausedEcs()
    evidence = pause_handler(ecs, verifier_for(url), approve=decline)(HOOK)
    assert asked == [3]
    assert {"check": "pause: approval", "result": "fail", "detail": "declined at the pause"} in evidence
    assert ecs.actions[0][1]["action"] == "ROLLBACK"
    app.routes["/"] = (200, digest_body(BAD), {})
    pause_handler(PausedEcs(), verifier_for(url), approve=decline)(HOOK)
    assert asked == [3]  # failing checks roll back without asking anyone


def test_a_refused_continue_is_evidence_not_a_crash(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(GOOD), {})
    app.routes["/healthz"] = (200, b"ok", {})
    ecs = PausedEcs()
    ecs.fail_continue = botocore.exceptions.ClientError(
        {"Error": {"Code": "InvalidParameterException", "Message": "hook expired"}},
        "ContinueServiceDeployment",
    )
    evidence = pause_handler(ecs, verifier_for(url))(HOOK)
    assert evidence[-1]["check"] == "pause: ContinueServiceDeployment CONTINUE"
    assert evidence[-1]["result"] == "fail"
    assert "hook expired" in evidence[-1]["detail"]


def test_checks_without_a_url_fail_rather_than_pass() -> None:
    verify = Verify(test_url=None, http=(HttpCheck(path="/"),))
    assert Verifier(verify, CONTEXT).run("bake")[0] == {
        "check": "bake: http GET /",
        "result": "fail",
        "detail": "no URL to check",
    }


# ---- continue / rollback -----------------------------------------------------------------------------------------


def paused_sd(hook_status: str = "AWAITING_ACTION") -> dict[str, Any]:
    return {
        "serviceDeploymentArn": ARN,
        "status": "IN_PROGRESS",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "lifecycleHookDetails": [{"hookId": "hook-1", "targetType": "PAUSE", "status": hook_status}],
    }


@pytest.mark.parametrize(("rollback", "action"), [(False, "CONTINUE"), (True, "ROLLBACK")])
def test_continue_resolves_the_paused_hook(rollback: bool, action: str) -> None:
    ecs = PausedEcs([paused_sd()])
    resolved = continue_deployment(ecs, "c", "web", rollback=rollback)
    assert ecs.actions == [("continue", {"serviceDeploymentArn": ARN, "hookId": "hook-1", "action": action})]
    assert (
        resolved.line()
        == f"{action} sent to service deployment sd-2 at POST_TEST_TRAFFIC_SHIFT (hook hook-1)"
    )


def test_continue_refuses_when_the_deployment_is_not_paused() -> None:
    moving = {**paused_sd("SUCCEEDED"), "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT"}
    with pytest.raises(PreflightFailed) as caught:
        continue_deployment(PausedEcs([moving]), "c", "web", rollback=False)
    assert caught.value.exit_code == EXIT_PREFLIGHT_FAILED
    assert (
        "No deployment of web is paused at a hook: service deployment sd-2 IN_PROGRESS at PRODUCTION_TRAFFIC_SHIFT"
        in caught.value.message
    )


def test_continue_refuses_when_nothing_is_in_progress() -> None:
    with pytest.raises(PreflightFailed, match="nothing to continue"):
        continue_deployment(PausedEcs([]), "c", "web", rollback=True)


def test_rollback_of_a_paused_deployment_continues_it_with_rollback_and_of_a_moving_one_stops_it() -> None:
    paused = PausedEcs([paused_sd()])
    assert roll_back_service_deployment(paused, "c", "web") is not None
    assert paused.actions == [
        ("continue", {"serviceDeploymentArn": ARN, "hookId": "hook-1", "action": "ROLLBACK"})
    ]
    moving = PausedEcs([{**paused_sd("SUCCEEDED"), "lifecycleStage": "BAKE_TIME"}])
    resolved = roll_back_service_deployment(moving, "c", "web")
    assert moving.actions == [("stop", {"serviceDeploymentArn": ARN, "stopType": "ROLLBACK"})]
    assert resolved is not None
    assert resolved.line() == "stopped service deployment sd-2 at BAKE_TIME with ROLLBACK"
    assert roll_back_service_deployment(PausedEcs([]), "c", "web") is None


def test_status_shows_the_stage_and_the_pause_of_the_active_deployment() -> None:
    line = stage_status(PausedEcs([paused_sd()]), "c", "web")
    assert line == (
        "service deployment sd-2 IN_PROGRESS at POST_TEST_TRAFFIC_SHIFT: paused at POST_TEST_TRAFFIC_SHIFT "
        "(hook hook-1)"
    )
    assert stage_status(PausedEcs([]), "c", "web") is None
    assert stage_status(object(), "c", "web") is None  # an endpoint without the service deployments API


# ---- the whole verified pause: stage watcher + pause handler + checks against a real listener ----------------


class ReactiveEcs(PausedEcs):
    """A blue/green deployment that waits at its PAUSE hook and then goes where ContinueServiceDeployment says."""

    def __init__(self) -> None:
        super().__init__([paused_sd()])

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        continued = [kw["action"] for kind, kw in self.actions if kind == "continue"]
        if not continued:
            return {"serviceDeployments": [paused_sd()]}
        if continued[0] == "ROLLBACK":
            rolled = {
                **paused_sd("SUCCEEDED"),
                "status": "ROLLBACK_REQUESTED",
                "statusReason": "hook rollback",
            }
            return {"serviceDeployments": [rolled]}
        return {
            "serviceDeployments": [
                {**paused_sd("SUCCEEDED"), "status": "SUCCESSFUL", "lifecycleStage": "CLEAN_UP"}
            ]
        }


@pytest.mark.parametrize(("served", "status"), [(GOOD, "success"), (BAD, "rolled_back")])
def test_verified_pause_end_to_end(listener: tuple[str, App], served: str, status: str) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(served), {})
    app.routes["/healthz"] = (200, b"ok", {})
    ecs = ReactiveEcs()
    clock = FakeClock()
    strategy = parse_strategy(
        {
            "strategy": "blue_green",
            "verify": {
                "test_url": url,
                "alarms": ["web-5xx"],
                "http": [{"path": "/", "json": {"digest": "{digest}"}}, {"path": "/healthz"}],
            },
        },
        "environments.prod",
    )
    watcher = strategy_watcher(
        ecs,
        "c",
        "web",
        strategy,
        CONTEXT,
        cloudwatch=FakeCloudWatch({"web-5xx": "OK"}),
        policy=PollPolicy(interval=5.0, first_poll_min=1.0),
        clock=clock,
    )
    outcome = watcher.watch(TARGET, timeout=600, service_deployment_arn=ARN)
    assert outcome.status == status
    assert [e["check"] for e in outcome.verification] == [
        "pause: http GET /",
        "pause: http GET /healthz",
        "pause: alarm web-5xx",
        f"pause: ContinueServiceDeployment {'CONTINUE' if served == GOOD else 'ROLLBACK'}",
    ]
    assert app.requests == ["/", "/healthz"]  # verified once, on the test listener only
    if status == "rolled_back":
        assert any(r.startswith("verification pause: http GET /: ") for r in outcome.reasons)


class BakingEcs(PausedEcs):
    """In BAKE_TIME until StopServiceDeployment(ROLLBACK), then ROLLBACK_REQUESTED."""

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        baking = {**paused_sd("SUCCEEDED"), "lifecycleStage": "BAKE_TIME"}
        if any(kind == "stop" for kind, _ in self.actions):
            baking["status"] = "ROLLBACK_REQUESTED"
        return {"serviceDeployments": [baking]}


def test_an_alarm_going_off_during_bake_rolls_back_within_one_check_interval(
    listener: tuple[str, App],
) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(GOOD), {})
    cloudwatch = FakeCloudWatch({"web-5xx": "OK"})
    ecs = BakingEcs()
    clock = FakeClock()
    strategy = parse_strategy(
        {
            "strategy": "blue_green",
            "bake_minutes": 10,
            "verify": {"test_url": url, "alarms": ["web-5xx"], "http": [{"path": "/"}]},
        },
        "environments.prod",
    )
    watcher = strategy_watcher(
        ecs, "c", "web", strategy, CONTEXT, cloudwatch=cloudwatch, clock=clock, bake_check_interval=10.0
    )
    original = ecs.describe_service_deployments
    looks: list[float] = []

    def describe(serviceDeploymentArns: list[str]) -> dict[str, Any]:
        looks.append(clock.now())
        if len(looks) == 4:
            cloudwatch.states["web-5xx"] = "ALARM"  # the alarm fires during bake
        return original(serviceDeploymentArns)

    ecs.describe_service_deployments = describe  # type: ignore[method-assign]
    outcome = watcher.watch(TARGET, timeout=1200, service_deployment_arn=ARN)
    assert outcome.status == "rolled_back"
    assert ecs.actions == [("stop", {"serviceDeploymentArn": ARN, "stopType": "ROLLBACK"})]
    assert [e["check"] for e in outcome.verification] == [
        "bake: http GET /",
        "bake: alarm web-5xx",
        "bake: http GET /",
        "bake: alarm web-5xx",
    ]
    assert outcome.verification[-1]["result"] == "fail"
    stop_at = looks[-2]
    assert (
        stop_at - looks[3] <= 10.0
    )  # the failing round came at most one bake-check interval after the alarm


def test_an_approver_whose_input_ends_declines(listener: tuple[str, App]) -> None:
    url, app = listener
    app.routes["/"] = (200, digest_body(GOOD), {})
    app.routes["/healthz"] = (200, b"ok", {})

    def closed_stdin(_hook: PausedHook, _results: Any) -> bool:
        raise EOFError

    ecs = PausedEcs()
    evidence = pause_handler(ecs, verifier_for(url), approve=closed_stdin)(HOOK)
    assert {"check": "pause: approval", "result": "fail", "detail": "not approved: input ended"} in evidence
    assert ecs.actions[0][1]["action"] == "ROLLBACK"


def test_the_pause_approval_text_shows_every_check() -> None:
    text = pause_approval_text(HOOK, [{"check": "pause: http GET /", "result": "pass", "detail": "200"}])
    assert text.splitlines() == [
        "The new revision is paused at POST_TEST_TRAFFIC_SHIFT (hook hook-1), on test traffic only. Checks:",
        "  PASS pause: http GET /: 200",
        "Approving lets ECS shift production traffic to it; refusing rolls it back.",
    ]


class ShiftingEcs(PausedEcs):
    """Shifting production traffic in steps until StopServiceDeployment(ROLLBACK)."""

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        shifting = {**paused_sd("SUCCEEDED"), "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT"}
        if any(kind == "stop" for kind, _ in self.actions):
            shifting["status"] = "ROLLBACK_REQUESTED"
        return {"serviceDeployments": [shifting]}


@pytest.mark.parametrize(("kind", "checked"), [("canary", True), ("linear", True), ("blue_green", False)])
def test_canary_and_linear_are_checked_between_production_steps(kind: str, checked: bool) -> None:
    cloudwatch = FakeCloudWatch({"web-5xx": "ALARM"})
    strategy = parse_strategy({"strategy": kind, "verify": {"alarms": ["web-5xx"]}}, "environments.prod")
    ecs = ShiftingEcs()
    watcher = strategy_watcher(ecs, "c", "web", strategy, CONTEXT, cloudwatch=cloudwatch, clock=FakeClock())
    outcome = watcher.watch(TARGET, timeout=60, service_deployment_arn=ARN)
    if checked:
        assert outcome.status == "rolled_back"
        assert ecs.actions == [("stop", {"serviceDeploymentArn": ARN, "stopType": "ROLLBACK"})]
    else:  # blue/green's production shift is all at once; its bake is BAKE_TIME
        assert outcome.status == "timed_out"
        assert ecs.actions == []
        assert cloudwatch.calls == []
