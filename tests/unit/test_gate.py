"""Gate rules over ledger histories (pure)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import botocore.exceptions
import pytest

from envpromote.config import load_config
from envpromote.errors import BadInput, GateRefused
from envpromote.gate import (
    confirm_with_ecs,
    refuse_reused_task_definition,
    refuse_unresolved,
    scan_gate,
    upstream_success,
)
from envpromote.ledger import new_record, seal

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "envpromote.toml")
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def rec(
    env: str, digest: str, status: str = "success", kind: str = "deploy", minutes_ago: int = 60, **kw: object
) -> dict:
    finished = NOW - dt.timedelta(minutes=minutes_ago)
    draft = new_record(
        environment=env,
        kind=kind,
        status=status,
        digest=digest,
        image_uri=f"r/app@{digest}",
        started_at=finished,
        finished_at=finished,
        **kw,
    )
    return seal(draft, sequence=1, previous=None)


def _stored(record: dict) -> dt.datetime:
    """When "S3" stored a record: its finished_at here (the engine asks S3 for LastModified)."""
    return dt.datetime.fromisoformat(record["finished_at"].replace("Z", "+00:00"))


def gate(env: str, records: list[dict], *, now: dt.datetime = NOW, reached: tuple[str, ...] = ()) -> object:
    return upstream_success(
        CFG, CFG.env(env), D1, records, now=now, stored_at=_stored, reached=lambda: reached
    )


def test_success_upstream_passes_with_evidence() -> None:
    evidence = gate("staging", [rec("dev", D1)])
    assert evidence.upstream_record["digest"] == D1
    assert "dev: success" in evidence.lines[0]
    assert "by AWS's clock" in evidence.lines[0]


def test_no_upstream_success_is_refused() -> None:
    with pytest.raises(GateRefused, match="no successful release in dev"):
        gate("staging", [rec("dev", D1, status="rolled_back")])


def test_skipping_an_environment_names_the_next_step() -> None:
    with pytest.raises(GateRefused, match="would skip staging") as info:
        gate("production", [], reached=("dev",))
    assert "--env staging" in (info.value.fix or "")


def test_soak_time_is_enforced_with_the_time_given_not_the_local_clock() -> None:
    cfg_env = CFG.env("staging")
    soaking = type(cfg_env)(**{**cfg_env.__dict__, "soak_seconds": 7200})
    with pytest.raises(GateRefused, match=r"soaked 3600s in dev \(by AWS's clock\); staging needs 7200s"):
        upstream_success(CFG, soaking, D1, [rec("dev", D1)], now=NOW, stored_at=_stored)
    # the local clock is not consulted: a record "stored" in the future has soaked 0 s, whatever time it is here
    with pytest.raises(GateRefused, match="soaked 0s"):
        upstream_success(CFG, soaking, D1, [rec("dev", D1, minutes_ago=-120)], now=NOW, stored_at=_stored)


def test_rolled_back_upstream_since_success_is_refused() -> None:
    history = [
        rec("dev", D1, minutes_ago=60),
        rec("dev", D2, kind="rollback", minutes_ago=30, previous_digest=D1),
    ]
    with pytest.raises(GateRefused, match="was rolled back in dev"):
        gate("staging", history)


def test_entry_environment_has_no_upstream() -> None:
    with pytest.raises(BadInput, match="entry environment"):
        gate("dev", [])


def test_unresolved_upstream_intent_is_not_yet_proven() -> None:
    refuse_unresolved("dev", [])
    with pytest.raises(GateRefused, match="not yet proven") as info:
        refuse_unresolved("dev", [rec("dev", D1, status="in_progress")])
    assert info.value.fix == "Run 'invoke ledger.reconcile --env dev' and promote again."


class FakeEcs:
    """Just the reads `confirm_with_ecs` makes, answering from dictionaries."""

    def __init__(self, taskdefs: dict, deployments: list, service_deployments: dict | None = None) -> None:
        self.taskdefs, self.deployments, self.sds = taskdefs, deployments, service_deployments

    def describe_task_definition(self, taskDefinition: str) -> dict:
        if taskDefinition not in self.taskdefs:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ClientException", "Message": "no"}}, "DescribeTaskDefinition"
            )
        return {"taskDefinition": self.taskdefs[taskDefinition]}

    def describe_services(self, cluster: str, services: list) -> dict:
        return {"services": [{"deployments": self.deployments}]}

    def describe_service_deployments(self, serviceDeploymentArns: list) -> dict:
        if self.sds is None:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidAction", "Message": "no"}}, "DescribeServiceDeployments"
            )
        return {"serviceDeployments": [self.sds[a] for a in serviceDeploymentArns if a in self.sds]}


def _taskdef(env_name: str, digest: str) -> dict:
    env = CFG.env(env_name)
    return {
        "family": env.family,
        "containerDefinitions": [{"name": env.container, "image": f"r/app@{digest}"}],
    }


def _confirm(ecs: FakeEcs, record: dict, days: int = 1) -> list[str]:
    return confirm_with_ecs(ecs, CFG.env("dev"), record, age=dt.timedelta(days=days))


def test_ecs_confirms_a_real_success_and_says_what_it_could_not_check() -> None:
    record = rec("dev", D1, task_definition_arn="td:1", deployment_id="ecs-svc/1")
    listed = [{"id": "ecs-svc/1", "taskDefinition": "td:1", "rolloutState": "COMPLETED", "status": "PRIMARY"}]
    assert any(
        "COMPLETED" in line for line in _confirm(FakeEcs({"td:1": _taskdef("dev", D1)}, listed), record)
    )
    lines = _confirm(FakeEcs({"td:1": _taskdef("dev", D1)}, []), record)
    assert any(line.startswith("not checked: deployment ecs-svc/1") for line in lines)


@pytest.mark.parametrize(
    ("taskdefs", "listed", "fields", "match"),
    [
        ({"td:1": _taskdef("dev", D2)}, [], {}, "whose container web runs 222222222222"),
        ({"td:1": _taskdef("staging", D1)}, [], {}, "of family"),
        ({}, [], {}, "which ECS does not know"),
        ({"td:1": _taskdef("dev", D1)}, [], {"task_definition_arn": None}, "names no task definition"),
        ({"td:1": _taskdef("dev", D1)}, [], {"deployment_id": None}, "names no ECS deployment"),
        (
            {"td:1": _taskdef("dev", D1)},
            [{"id": "ecs-svc/1", "taskDefinition": "td:9", "rolloutState": "COMPLETED"}],
            {},
            "which runs td:9",
        ),
        (
            {"td:1": _taskdef("dev", D1)},
            [{"id": "ecs-svc/1", "taskDefinition": "td:1", "rolloutState": "FAILED"}],
            {},
            "reports FAILED",
        ),
    ],
)
def test_ecs_contradicts_a_forged_success(taskdefs: dict, listed: list, fields: dict, match: str) -> None:
    record = rec("dev", D1, **{"task_definition_arn": "td:1", "deployment_id": "ecs-svc/1", **fields})
    with pytest.raises(GateRefused, match=match) as info:
        _confirm(FakeEcs(taskdefs, listed), record)
    assert info.value.exit_code == 3


def test_service_deployments_where_offered() -> None:
    sd_arn = "arn:aws:ecs:us-east-1:1:service-deployment/c/s/abc"
    env = CFG.env("dev")
    good = {
        "serviceArn": f"arn:aws:ecs:us-east-1:1:service/{env.cluster}/{env.service}",
        "status": "SUCCESSFUL",
    }
    record = rec(
        "dev", D1, task_definition_arn="td:1", deployment_id="ecs-svc/1", service_deployment_arn=sd_arn
    )
    taskdefs = {"td:1": _taskdef("dev", D1)}
    lines = _confirm(FakeEcs(taskdefs, [], {sd_arn: good}), record)
    assert any("SUCCESSFUL" in line for line in lines)
    assert any("not checked: the target service revision" in line for line in lines)
    with pytest.raises(GateRefused, match="reports STOPPED"):
        _confirm(FakeEcs(taskdefs, [], {sd_arn: {**good, "status": "STOPPED"}}), record)
    with pytest.raises(GateRefused, match="of arn:aws:ecs:us-east-1:1:service/other/x"):
        _confirm(
            FakeEcs(
                taskdefs, [], {sd_arn: {**good, "serviceArn": "arn:aws:ecs:us-east-1:1:service/other/x"}}
            ),
            record,
        )
    with pytest.raises(GateRefused, match="which ECS does not know"):
        _confirm(FakeEcs(taskdefs, [], {}), record)  # young: ECS would still know it
    old = _confirm(FakeEcs(taskdefs, [], {}), record, days=400)
    assert any("older than ECS's 90-day history" in line for line in old)
    # not offered: falls back to the service's deployments and says so
    lines = _confirm(FakeEcs(taskdefs, [], None), record)
    assert any("not offered" in line for line in lines)


def test_scan_gate() -> None:
    production = CFG.env("production")
    meta = {"trivy_version": "0.76.0", "db_date": "2026-11-01", "modes": ["image"]}
    clean = {"counts": {"CRITICAL": 0, "HIGH": 0}, "partial": False, **meta}
    dirty = {"counts": {"CRITICAL": 1, "HIGH": 3}, "partial": False, **meta}
    assert scan_gate(production, D1, {"scan": clean}, allow_unscanned=False)[1] is False
    with pytest.raises(GateRefused, match="1 CRITICAL finding"):
        scan_gate(production, D1, {"scan": dirty}, allow_unscanned=False)
    with pytest.raises(GateRefused, match="no scan record"):
        scan_gate(production, D1, None, allow_unscanned=False)
    with pytest.raises(BadInput, match="not available for production"):
        scan_gate(production, D1, None, allow_unscanned=True)
    _, used, lines = scan_gate(CFG.env("staging"), D1, None, allow_unscanned=True)
    assert used
    assert "unscanned allowed" in lines[0]


def test_partial_scan_never_passes_a_vulnerability_threshold_unless_accepted() -> None:
    partial = {"counts": {}, "partial": True, "trivy_version": "0.76.0", "db_date": None, "modes": ["image"]}
    strict = CFG.env("production")
    strict = type(strict)(
        **{**strict.__dict__, "scan": type(strict.scan)({"HIGH": 0}, False, accept_partial=False)}
    )
    with pytest.raises(GateRefused, match="PARTIAL"):
        scan_gate(strict, D1, {"scan": partial}, allow_unscanned=False)
    _, _, lines = scan_gate(CFG.env("production"), D1, {"scan": partial}, allow_unscanned=False)
    assert "partial" in lines[0]


def test_malformed_scan_record_is_refused() -> None:
    with pytest.raises(GateRefused, match="unreadable scan record"):
        scan_gate(CFG.env("production"), D1, {"scan": {"counts": "lots"}}, allow_unscanned=False)


def test_a_success_reusing_another_runs_task_definition_is_refused() -> None:
    dev = CFG.env("dev")
    failed = rec("dev", D1, status="rolled_back", task_definition_arn="td:1")
    intent = rec("dev", D1, status="in_progress", task_definition_arn="td:2")
    own = rec("dev", D1, task_definition_arn="td:2", resolves=intent)
    refuse_reused_task_definition(dev, own, [failed, intent, own])  # its own intent is no copy
    copy = rec("dev", D1, task_definition_arn="td:1")
    with pytest.raises(GateRefused, match=r"registered for another run"):
        refuse_reused_task_definition(dev, copy, [failed, copy])


def test_a_success_whose_recorded_check_failed_does_not_count_upstream() -> None:
    from envpromote.gate import last_success_index, verified_success

    digest = "sha256:" + "a" * 64
    passed = {"digest": digest, "status": "success", "verification": [{"check": "GET /", "result": "pass"}]}
    failed = {
        **passed,
        "verification": [{"check": "GET /", "result": "pass"}, {"check": "alarm", "result": "fail"}],
    }
    rolling = {"digest": digest, "status": "success"}  # a rolling release records no checks
    assert verified_success(passed)
    assert verified_success(rolling)
    assert not verified_success(failed)
    assert last_success_index([passed, failed], digest) == 0
