"""ECS-native strategies wired into the release, against the sandbox: the verified pause, bake, canary, linear,
`continue` and the rollback of a paused deployment.

dev is switched to blue/green (canary, linear) with ``verify.test_url`` = the sandbox's test listener for dev
and one HTTP check: ``GET /`` answers the digest being released. Sandbox time runs at 60x real time, so a one
minute bake takes a second of the test's time; nothing here sleeps to hit a window - the engine's watcher polls
until ECS (the sandbox) decides.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from engine_support import push_test_image, record_clean_build
from release_support import run_cli
from support.configs import config_variant

from envpromote import release
from envpromote.config import load_config
from envpromote.errors import DeploymentFailed, PreflightFailed
from envpromote.release.strategy_rollback import roll_back_in_place
from envpromote.release.strategy_rollout import deployment_stage, strategy_note
from envpromote.rollout.stages import paused_hook
from envpromote.sandbox import listener_summary
from envpromote.sandbox.demo_strategies import strategy_config
from envpromote.sandbox.testing import Sandbox
from envpromote.verify import continue_deployment, pause_approval_text
from envpromote.verify.control import active_service_deployments

CLUSTER = "envpromote-dev"
SERVICE = "envpromote-dev-web"

pytestmark = pytest.mark.sandbox_time_scale(60)


def strategy_context(
    sandbox: Sandbox,
    make_context: Callable[..., release.Context],
    tmp_path: Path,
    kind: str = "blue_green",
    **extra: Any,
) -> release.Context:
    test_url = sandbox.listener_url(CLUSTER, SERVICE, "test")

    def change(data: dict[str, Any]) -> None:
        dev = data["environments"]["dev"]
        dev["strategy"] = kind
        dev["bake_minutes"] = 1
        dev["verify"] = {
            "test_url": test_url,
            "pause_timeout_minutes": 30,
            "http": [{"path": "/", "status": 200, "json": {"digest": "{digest}"}, "timeout_seconds": 5}],
        }
        dev.update(extra)

    return make_context(config=load_config(config_variant(tmp_path, change)))


def release_dev(ctx: release.Context, scenario: str) -> tuple[str, release.ReleaseResult]:
    digest = push_test_image(scenario)
    record_clean_build(ctx, digest)
    return digest, release.execute(ctx, release.plan_deploy(ctx, "dev", digest), timeout=120)


def served(sandbox: Sandbox, listener: str, digest: str) -> int:
    """Requests the revision with `digest` answered on `listener` (the sandbox's counts)."""
    (service,) = sandbox.listeners(CLUSTER, SERVICE)
    return sum(int(r["served"]) for r in service["requests"][listener].values() if r.get("digest") == digest)


def checks(record: dict[str, Any]) -> dict[str, str]:
    return {v["check"]: v["result"] for v in record["verification"]}


def test_blue_green_verified_at_the_pause_is_a_success_with_evidence(
    sandbox: Sandbox, make_context: Callable[..., release.Context], tmp_path: Path
) -> None:
    ctx = strategy_context(sandbox, make_context, tmp_path)
    digest, result = release_dev(ctx, "healthy:2")
    record = result.record
    assert record is not None
    assert record["status"] == "success"
    assert record["strategy"].startswith("blue_green")
    assert record["service_deployment_arn"]
    results = checks(record)
    assert results["pause: http GET /"] == "pass", record["verification"]
    assert results["pause: ContinueServiceDeployment CONTINUE"] == "pass"
    assert any(r.startswith("last lifecycle stage:") for r in record["reasons"])
    assert release.drift(ctx, "dev").running_digest == digest
    assert served(sandbox, "test", digest) >= 1
    note = strategy_note(record)
    assert note.startswith(" [blue_green"), note
    assert "verification 3/3 pass" in note, note  # the pause's check and Continue, the bake's check
    assert ", stage " in note, note
    assert deployment_stage(ctx, "dev") is None, "nothing active after the release"


def test_a_revision_failing_only_on_test_traffic_is_rolled_back_before_production(
    sandbox: Sandbox, make_context: Callable[..., release.Context], tmp_path: Path
) -> None:
    ctx = strategy_context(sandbox, make_context, tmp_path)
    good, _ = release_dev(ctx, "healthy:2")
    bad = push_test_image("healthy:2+http-fail:test")
    record_clean_build(ctx, bad)
    with pytest.raises(DeploymentFailed) as info:
        release.execute(ctx, release.plan_deploy(ctx, "dev", bad), timeout=120)
    assert info.value.exit_code == 5
    record = ctx.ledger().history("dev")[-1]
    assert record["digest"] == bad
    assert record["status"] == "rolled_back"
    results = checks(record)
    assert results["pause: http GET /"] == "fail"
    assert results["pause: ContinueServiceDeployment ROLLBACK"] == "pass"
    assert served(sandbox, "production", bad) == 0, "production traffic reached the failing revision"
    sandbox.settle()
    assert release.drift(ctx, "dev").running_digest == good


def test_an_alarm_during_bake_fails_the_release(
    sandbox: Sandbox, make_context: Callable[..., release.Context], tmp_path: Path
) -> None:
    """The sandbox puts the service's first deployment alarm in ALARM at BAKE_TIME; ECS rolls back (exit 5)."""
    alarm = "envpromote-dev-web-5xx"
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_alarm(
        AlarmName=alarm,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    boto3.client("ecs", region_name="us-east-1").update_service(
        cluster=CLUSTER,
        service=SERVICE,
        deploymentConfiguration={"alarms": {"alarmNames": [alarm], "enable": True, "rollback": True}},
    )
    ctx = strategy_context(sandbox, make_context, tmp_path)
    release_dev(ctx, "healthy:2")
    with pytest.raises(DeploymentFailed) as info:
        release_dev(ctx, "healthy:2+alarm-in-bake")
    assert info.value.exit_code == 5
    record = ctx.ledger().history("dev")[-1]
    assert record["status"] == "rolled_back"
    assert checks(record)["pause: http GET /"] == "pass", "it passed on test traffic; the bake caught it"
    assert "last lifecycle stage: BAKE_TIME" in record["reasons"]
    assert any(alarm in reason for reason in record["reasons"]), record["reasons"]


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("canary", {"canary": {"percent": 10.0, "bake_minutes": 1}}),
        ("linear", {"linear": {"step_percent": 50.0, "interval_minutes": 1}}),
    ],
)
def test_canary_and_linear_happy_paths(
    sandbox: Sandbox,
    make_context: Callable[..., release.Context],
    tmp_path: Path,
    kind: str,
    extra: dict[str, Any],
) -> None:
    ctx = strategy_context(sandbox, make_context, tmp_path, kind, **extra)
    digest, result = release_dev(ctx, "healthy:2")
    assert result.record is not None
    assert result.record["status"] == "success"
    assert result.record["strategy"].startswith(kind)
    assert checks(result.record)["pause: http GET /"] == "pass"
    assert release.drift(ctx, "dev").running_digest == digest


def is_paused(ecs: Any) -> bool:
    return any(paused_hook(d) is not None for d in active_service_deployments(ecs, CLUSTER, SERVICE))


def paused_by_hand(sandbox: Sandbox, ecs: Any) -> None:
    started_by_hand(sandbox, ecs, pause=True)


def started_by_hand(sandbox: Sandbox, ecs: Any, *, pause: bool, scenario: str = "healthy:1") -> str:
    """A blue/green deployment started outside EnvPromote (frozen clock), moved to its PAUSE hook (`pause`) or
    one sandbox second in (in progress); returns its task definition."""
    current = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    taskdef = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])["taskDefinition"]
    digest = push_test_image(scenario)
    container = dict(taskdef["containerDefinitions"][0])
    container["image"] = f"{container['image'].split('@')[0]}@{digest}"
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn")
    arn = ecs.register_task_definition(
        **{k: taskdef[k] for k in keep if k in taskdef}, containerDefinitions=[container]
    )["taskDefinition"]["taskDefinitionArn"]
    sandbox.freeze()
    ecs.update_service(
        cluster=CLUSTER,
        service=SERVICE,
        taskDefinition=arn,
        deploymentConfiguration={
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 1,
            "lifecycleHooks": (
                [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}] if pause else []
            ),
        },
    )
    if not pause:
        sandbox.advance(1)
        assert active_service_deployments(ecs, CLUSTER, SERVICE)
        return str(arn)
    for _ in range(60):  # one sandbox second per step; the sandbox reaches the pause in a few
        if is_paused(ecs):
            return str(arn)
        sandbox.advance(1)
    raise AssertionError("the hand-made deployment never paused")


def test_continue_resumes_a_deployment_paused_by_hand(
    sandbox: Sandbox, make_context: Callable[..., release.Context]
) -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    paused_by_hand(sandbox, ecs)
    stage = deployment_stage(make_context(), "dev")
    assert stage is not None
    assert "paused at POST_TEST_TRAFFIC_SHIFT" in stage, stage
    resolved = continue_deployment(ecs, CLUSTER, SERVICE, rollback=False)
    assert resolved.action == "CONTINUE"
    assert resolved.stage == "POST_TEST_TRAFFIC_SHIFT"
    sandbox.settle()
    with pytest.raises(PreflightFailed):
        continue_deployment(ecs, CLUSTER, SERVICE, rollback=False)


@pytest.mark.parametrize(("pause", "action"), [(True, "ROLLBACK"), (False, "STOP_ROLLBACK")])
def test_rollback_of_a_paused_or_in_progress_deployment_is_in_place_and_recorded(
    sandbox: Sandbox,
    make_context: Callable[..., release.Context],
    tmp_path: Path,
    pause: bool,
    action: str,
) -> None:
    ctx = strategy_context(sandbox, make_context, tmp_path)
    good, _ = release_dev(ctx, "healthy:2")
    ecs = boto3.client("ecs", region_name="us-east-1")
    before = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    started = started_by_hand(sandbox, ecs, pause=pause)
    assert started.startswith("arn:")
    seen: list[str] = []
    ctx.out = seen.append
    deployments = len(ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"])
    sandbox.set_time_scale(60)
    record = roll_back_in_place(ctx, "dev", timeout=60)
    assert record is not None
    assert record["kind"] == "rollback"
    assert record["status"] == "success"
    assert record["digest"] == good
    assert record["previous_task_definition_arn"] == started, "the revision rolled away from"
    assert record["previous_digest"] not in {None, good}
    assert record["service_deployment_arn"]
    assert record["strategy"].startswith("blue_green")
    assert any(
        line.startswith(f"dev: {'ROLLBACK sent' if pause else 'stopped service deployment'}") for line in seen
    )
    assert ctx.ledger().history("dev")[-1]["record_id"] == record["record_id"]
    after = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert after["taskDefinition"] == before, f"{action}: the previous revision runs again, no new deployment"
    listed = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"]
    assert len(listed) == deployments, "no second blue/green deployment"
    assert roll_back_in_place(ctx, "dev", timeout=60) is None, "nothing active: the usual rollback applies"


def test_rollback_cli_rolls_back_a_paused_deployment_in_place(
    sandbox: Sandbox, make_context: Callable[..., release.Context], tmp_path: Path
) -> None:
    ctx = strategy_context(sandbox, make_context, tmp_path)
    good, _ = release_dev(ctx, "healthy:2")
    ecs = boto3.client("ecs", region_name="us-east-1")
    started_by_hand(sandbox, ecs, pause=True)
    sandbox.set_time_scale(60)
    done = run_cli(
        "rollback", "--env", "dev", "--timeout", "50", "--config", str(tmp_path / "envpromote.toml")
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ROLLBACK sent to service deployment" in done.stderr
    assert f"success: rollback in place of dev to {good}" in done.stderr
    assert release.drift(ctx, "dev").running_digest == good


def test_continue_cli_refuses_while_a_live_run_holds_the_lock_then_continues(
    sandbox: Sandbox, make_context: Callable[..., release.Context]
) -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    paused_by_hand(sandbox, ecs)
    path = sandbox.config_path
    lock = make_context().lock()
    lease = lock.acquire("dev", "tester (promote sha256:abc, pid 1)", lease_seconds=1.5)  # beats every 0.5 s
    try:
        refused = run_cli("continue", "--env", "dev", "--config", str(path))
    finally:
        lock.release(lease)
    assert refused.returncode == 8, refused.stderr
    assert is_paused(ecs), "a refused continue must not touch the deployment"
    done = run_cli("continue", "--env", "dev", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert "CONTINUE sent to service deployment" in done.stdout
    assert not is_paused(ecs)


def test_a_person_declining_at_the_pause_rolls_the_revision_back(
    sandbox: Sandbox, make_context: Callable[..., release.Context], tmp_path: Path
) -> None:
    shown: list[str] = []

    def decline(hook: Any, results: Any) -> bool:
        shown.append(pause_approval_text(hook, results))
        return False

    ctx = strategy_context(sandbox, make_context, tmp_path)
    ctx.pause_approval = decline
    with pytest.raises(DeploymentFailed):
        release_dev(ctx, "healthy:2")
    record = ctx.ledger().history("dev")[-1]
    assert record["status"] == "rolled_back"
    results = checks(record)
    assert results["pause: http GET /"] == "pass"
    assert results["pause: approval"] == "fail"
    assert results["pause: ContinueServiceDeployment ROLLBACK"] == "pass"
    assert len(shown) == 1
    assert "PASS pause: http GET /" in shown[0]


def test_sandbox_status_lists_the_listeners(sandbox: Sandbox) -> None:
    summary = {(s["cluster"], s["service"]): s for s in listener_summary(sandbox.url)}
    dev = summary[(CLUSTER, SERVICE)]
    assert dev["test"] == sandbox.listener_url(CLUSTER, SERVICE, "test")
    assert dev["production"].startswith("http://127.0.0.1:")


def test_the_strategy_demo_config_verifies_dev_at_the_pause_on_the_test_listener(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    source = config_variant(tmp_path, lambda _data: None)
    path = strategy_config(str(source), sandbox.url, "blue_green")
    assert path.parent == source.parent, "next to the config, so its relative paths stay valid"
    dev = load_config(path).env("dev")
    assert dev.strategy.kind == "blue_green"
    assert dev.strategy.verify is not None
    assert dev.strategy.verify.test_url == sandbox.listener_url(CLUSTER, SERVICE, "test")
    assert [check.path for check in dev.strategy.verify.http] == ["/"]
