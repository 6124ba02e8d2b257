"""Fault injection against the sandbox's real server: the tool never lies about an outcome, never loses a record.

Each test injects real faults (throttling and dropped connections at the HTTP layer of the server, signals to
real `invoke` processes, concurrent writers, tampering with S3 objects) and checks what users rely on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_invoke, spawn_invoke
from support.configs import config_variant
from support.engine import deploy, push_test_image, record_clean_build

from envpromote import release as usecases
from envpromote.aws import ClientFactory
from envpromote.config import load_config
from envpromote.errors import EnvironmentLocked, PreflightFailed
from envpromote.ledger import Ledger, LocalRecords, layout
from envpromote.rollout import PollPolicy, RolloutWatcher, WatchTarget, find_deployment_for


def _report(name: str, **numbers: Any) -> None:
    """Append this test's fault counts to $ENVPROMOTE_RELIABILITY_REPORT (bench/reliability aggregates it)."""
    path = os.environ.get("ENVPROMOTE_RELIABILITY_REPORT")
    if path:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": name, **numbers}) + "\n")


@pytest.mark.slow
def test_a_third_of_ecs_and_s3_calls_throttled_during_a_promotion(ctx: usecases.Context, sandbox) -> None:
    # A third, not half: exponential backoff makes every throttled call cost seconds, so at one half a promotion
    # took ~170 s of a test run; a third still throttles dozens of calls and proves the same thing.
    digest = deploy(ctx)
    sandbox.set_faults(throttle={"ecs": 0.33, "s3": 0.33}, seed=7)
    result = usecases.execute(
        ctx, usecases.plan_promote(ctx, "staging", digest, approval=usecases.Approval()), timeout=120
    )
    counters = sandbox.faults()["counters"]
    sandbox.clear_faults()
    assert result.record["status"] == "success"
    assert ctx.ledger().last_success("staging")["digest"] == digest
    assert counters["throttled"] > 0
    assert ctx.counter.retries > 0, "botocore's retries are counted"
    _report("throttle-33", faults=counters["throttled"], retries=ctx.counter.retries, false_successes=0)


def _start_rollout(ctx: usecases.Context, scenario: str) -> tuple[Any, WatchTarget]:
    env = ctx.config.env("dev")
    digest = push_test_image(scenario)
    plan = usecases.plan_deploy(ctx, "dev", digest)
    ecs = ctx.env_client(env, "ecs")
    arn = ecs.register_task_definition(**plan.taskdef)["taskDefinition"]["taskDefinitionArn"]
    started = usecases.utc_now()
    service = ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=arn)["service"]
    deployment = find_deployment_for(service, arn)
    assert deployment is not None
    return env, WatchTarget(deployment, arn, plan.running_taskdef_arn, started)


def test_connection_drops_mid_watch_never_produce_a_success(ctx: usecases.Context, sandbox) -> None:
    env, target = _start_rollout(ctx, "healthy:1")
    sandbox.set_faults(drop_connections={"ecs": 1.0})
    ecs = ClientFactory(env.region, max_attempts=2).client("ecs")
    watcher = RolloutWatcher(
        ecs, env.cluster, env.service, policy=PollPolicy(interval=0.5, first_poll_min=0.2)
    )
    blind = watcher.watch(target, timeout=3)
    dropped = sandbox.faults()["counters"]["dropped"]
    assert blind.status == "timed_out"
    assert "outcome unknown" in blind.summary
    assert blind.errors > 0
    # The endpoint comes back: the same watch now reports the truth.
    sandbox.set_faults(drop_connections={"ecs": 0.3}, seed=3)
    resumed = watcher.watch(target, timeout=30)
    dropped = sandbox.faults()["counters"]["dropped"]
    sandbox.clear_faults()
    assert resumed.status == "success"
    _report("connection-drops", faults=dropped, false_successes=0)


def test_connection_drops_on_a_failing_rollout_report_the_rollback(ctx: usecases.Context, sandbox) -> None:
    deploy(ctx)
    env, target = _start_rollout(ctx, "circuit-breaker:1:4")
    sandbox.set_faults(drop_connections={"ecs": 0.5}, seed=1)  # seed 1: the first roll (0.13) drops
    ecs = ClientFactory(env.region, max_attempts=3).client("ecs")
    watcher = RolloutWatcher(
        ecs, env.cluster, env.service, policy=PollPolicy(interval=0.5, first_poll_min=0.2)
    )
    outcome = watcher.watch(target, timeout=30)
    dropped = sandbox.faults()["counters"].get("dropped", 0)
    sandbox.clear_faults()
    assert dropped > 0
    assert outcome.status == "rolled_back"
    _report("connection-drops-failing", faults=dropped, false_successes=0)


def _wait_for_line(proc: subprocess.Popen[str], needle: str, limit_s: float = 60) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + limit_s
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never appeared: {seen}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_watch_records_aborted_and_releases_the_lock(
    ctx: usecases.Context, config, sig: signal.Signals, tmp_path: Path
) -> None:
    digest = push_test_image("stuck")
    record_clean_build(ctx, digest)
    proc = spawn_invoke(
        "deploy", "--env", "dev", "--digest", digest, "--timeout", "120", "--records-dir", str(tmp_path)
    )
    _wait_for_line(proc, "watching deployment")
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    record = ctx.ledger().history("dev")[-1]
    assert record["status"] == "aborted"
    assert record["digest"] == digest
    assert ctx.lock().holder("dev") is None, "the lock was released"
    drift = run_invoke("drift", "--env", "dev")
    assert drift.returncode == 1, "drift shows what really runs"
    assert digest in drift.stdout + drift.stderr
    _report(f"signal-{sig.name}", faults=1, records_lost=0, false_successes=0)


@pytest.mark.slow
def test_killed_lock_holder_shows_no_heartbeat_and_is_taken_over(
    sandbox, make_context, tmp_path: Path
) -> None:
    short_lease = config_variant(tmp_path, lambda d: d["lock"].__setitem__("lease_seconds", 5))
    ctx = make_context(config=load_config(short_lease))
    digest = push_test_image("slow:30")
    record_clean_build(ctx, digest)
    proc = spawn_invoke("deploy", "--env", "dev", "--digest", digest, "--config", str(short_lease))
    _wait_for_line(proc, "watching deployment")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    status = run_invoke(
        "lock.status", "--env", "dev", "--observe", "5", "--config", str(short_lease), "--json"
    )
    assert status.returncode == 0, status.stderr
    seen = json.loads(status.stdout)
    assert seen["locked"], "SIGKILL left the lock item behind"
    assert seen["heartbeat_seen"] is False, "and no heartbeat renews it"
    assert seen["lock"]["holder_detail"]["pid"] == str(proc.pid)
    sandbox.settle()
    second = push_test_image("healthy:0.3")
    record_clean_build(ctx, second)
    late = run_invoke(
        "deploy", "--env", "dev", "--digest", second, "--config", str(short_lease), "--timeout", "60"
    )
    assert late.returncode == 0, late.stderr
    assert "took over the dev lock" in late.stderr
    assert "reconciled dev intent" in late.stderr
    assert ctx.ledger().unresolved_intents("dev") == []
    _report("sigkill-lock-holder", faults=1, false_successes=0, locks_stranded_beyond_one_lease=0)


def test_intent_write_failure_changes_nothing(make_context, sandbox, aws_state) -> None:
    ctx = make_context()
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    plan = usecases.plan_deploy(ctx, "dev", digest)
    before = aws_state.snapshot()
    sandbox.set_faults(drop_connections={"s3": 1.0})
    ctx._factories.clear()
    try:
        with pytest.raises(PreflightFailed, match="Could not write the intent record") as info:
            usecases.execute(ctx, plan, timeout=60)
    finally:
        sandbox.clear_faults()
    assert info.value.exit_code == 4
    assert aws_state.snapshot() == before, (
        "nothing registered, nothing deployed, no record, the lock released"
    )
    _report("intent-write-failure", faults=1, records_lost=0, false_successes=0)


def test_ledger_write_failure_keeps_the_record_and_resends_it(make_context, sandbox, tmp_path: Path) -> None:
    digest = push_test_image("healthy:1")
    ctx = make_context()
    record_clean_build(ctx, digest)

    def out(line: str) -> None:
        if line.startswith("watching deployment"):  # the ledger breaks after the rollout started
            sandbox.set_faults(drop_connections={"s3": 1.0})

    ctx.out = out
    ctx._factories.clear()
    result = usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)
    dropped = sandbox.faults()["counters"]["dropped"]
    sandbox.clear_faults()
    assert result.ledger_warning
    assert "ledger.sync" in result.ledger_warning
    pending = LocalRecords(tmp_path / "records").pending()
    assert len(pending) == 1
    assert pending[0][1]["status"] == "success"
    synced = run_invoke("ledger.sync", "--records-dir", str(tmp_path / "records"))
    assert synced.returncode == 0, synced.stderr
    assert "1 record(s) sent" in synced.stdout
    intent, final = ctx.ledger().history("dev")
    assert final["record_id"] == pending[0][1]["record_id"]
    assert final["resolves"] == intent["record_id"], "the re-sent record resolves the intent written before"
    assert ctx.ledger().unresolved_intents("dev") == []
    assert LocalRecords(tmp_path / "records").pending() == []
    _report("ledger-write-failure", faults=dropped, records_lost=0)


@pytest.mark.slow
def test_two_promotions_of_one_environment_exactly_one_deploys(ctx: usecases.Context, make_context) -> None:
    digest = deploy(ctx)
    other = make_context()
    plans = [usecases.plan_promote(c, "staging", digest, approval=usecases.Approval()) for c in (ctx, other)]
    barrier = threading.Barrier(2)
    outcomes: list[Any] = [None, None]

    def run(i: int, c: usecases.Context) -> None:
        barrier.wait()
        try:
            outcomes[i] = usecases.execute(c, plans[i], timeout=60).record["status"]
        except EnvironmentLocked as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate((ctx, other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(type(o).__name__ for o in outcomes) == ["EnvironmentLocked", "str"]
    assert "success" in outcomes
    history = ctx.ledger().history("staging")
    assert [r["status"] for r in history] == ["in_progress", "success"], "the refused run wrote nothing"
    _report("race-same-env", faults=1, false_successes=0)


def test_promotions_of_different_environments_run_in_parallel(ctx: usecases.Context, make_context) -> None:
    first = deploy(ctx)
    second = push_test_image("healthy:1")
    record_clean_build(ctx, second)
    other = make_context()
    results: dict[str, Any] = {}

    def dev() -> None:
        results["dev"] = usecases.execute(other, usecases.plan_deploy(other, "dev", second), timeout=60)

    def staging() -> None:
        plan = usecases.plan_promote(ctx, "staging", first, approval=usecases.Approval())
        results["staging"] = usecases.execute(ctx, plan, timeout=60)

    threads = [threading.Thread(target=dev), threading.Thread(target=staging)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results["dev"].record["status"] == "success"
    assert results["staging"].record["status"] == "success"


def _ledger(ctx: usecases.Context) -> tuple[Any, str]:
    return ctx.clients("us-east-1").client("s3"), ctx.config.ledger.bucket


def _key(ctx: usecases.Context, sequence: int) -> str:
    return layout.record_key(ctx.config.ledger.prefix, "dev", sequence)


def test_edited_record_is_named_by_ledger_verify(ctx: usecases.Context) -> None:
    for _ in range(3):
        deploy(ctx)
    s3, bucket = _ledger(ctx)
    key = _key(ctx, 2)
    record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    record["status"] = "success" if record["status"] != "success" else "failed"
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    )
    result = run_invoke("ledger.verify")
    assert result.returncode == 4
    assert f"{_key(ctx, 3)}: prev_record_sha256 does not match" in result.stdout
    assert f"{key}: was overwritten (2 versions in S3)" in result.stdout
    _report("tamper-edit", faults=1, detected=1)


def test_reordered_records_are_named_by_ledger_verify(ctx: usecases.Context) -> None:
    for _ in range(2):
        deploy(ctx)
    s3, bucket = _ledger(ctx)
    one, two = _key(ctx, 1), _key(ctx, 2)
    body_one = s3.get_object(Bucket=bucket, Key=one)["Body"].read()
    body_two = s3.get_object(Bucket=bucket, Key=two)["Body"].read()
    s3.put_object(Bucket=bucket, Key=one, Body=body_two)
    s3.put_object(Bucket=bucket, Key=two, Body=body_one)
    result = run_invoke("ledger.verify", "--env", "dev")
    assert result.returncode == 4
    assert f"{one}: holds sequence 2 but is stored as 1 (reordered?)" in result.stdout
    _report("tamper-reorder", faults=1, detected=1)


def test_deleted_record_is_named_by_ledger_verify(ctx: usecases.Context) -> None:
    for _ in range(3):
        deploy(ctx)
    s3, bucket = _ledger(ctx)
    s3.delete_object(Bucket=bucket, Key=_key(ctx, 2))
    result = run_invoke("ledger.verify", "--json")
    assert result.returncode == 4
    problems = json.loads(result.stdout)["problems"]
    assert f"dev: {_key(ctx, 3)}: records 2 are missing before it (deleted?)" in problems
    _report("tamper-delete", faults=1, detected=1)


def test_out_of_band_deploy_is_reported_by_drift(ctx: usecases.Context, config) -> None:
    deploy(ctx)
    env = config.env("dev")
    ecs = ctx.env_client(env, "ecs")
    rogue = push_test_image("healthy:0.3", label="console")
    definition = ecs.describe_task_definition(taskDefinition=env.family)["taskDefinition"]
    keep = {"family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities"}
    manual = {k: v for k, v in definition.items() if k in keep}
    image = manual["containerDefinitions"][0]["image"]
    manual["containerDefinitions"][0]["image"] = image.rsplit("@", 1)[0] + "@" + rogue
    arn = ecs.register_task_definition(**manual)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=env.cluster, service=env.service, taskDefinition=arn)
    result = run_invoke("drift", "--env", "dev")
    assert result.returncode == 1
    assert f"runs {rogue}" in result.stderr
    _report("out-of-band-deploy", faults=1, detected=1)


def test_ledger_survives_a_new_client(ctx: usecases.Context, config) -> None:
    """The records are durable in S3, not in the process: a fresh client sees the same chain."""
    deploy(ctx)
    fresh = Ledger(ClientFactory("us-east-1").client("s3"), config.ledger)
    assert [r["record_id"] for r in fresh.history("dev")] == [
        r["record_id"] for r in ctx.ledger().history("dev")
    ]
