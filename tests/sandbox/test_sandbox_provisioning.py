"""Provisioning from envpromote.toml creates what the engine needs, in the real sandbox server."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from envpromote.config import load_config
from envpromote.sandbox.provisioning import bootstrap_image
from envpromote.sandbox.testing import Sandbox

REPO_CONFIG = Path(__file__).resolve().parents[2] / "envpromote.toml"
pytestmark = pytest.mark.sandbox


def test_provisions_every_environment_of_the_chain(sandbox: Sandbox) -> None:
    cfg = load_config(REPO_CONFIG)
    ecs = boto3.client("ecs")
    for env in cfg.environments:
        service = ecs.describe_services(cluster=env.cluster, services=[env.service])["services"][0]
        assert service["status"] == "ACTIVE"
        assert service["desiredCount"] == env.desired_count == service["runningCount"]
        breaker = service["deploymentConfiguration"]["deploymentCircuitBreaker"]
        assert breaker == {"enable": True, "rollback": True}
        assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
        td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        assert td["family"] == env.family
        assert td["containerDefinitions"][0]["image"].endswith("@" + bootstrap_image().digest)
        assert td["executionRoleArn"] == env.execution_role_arn


def test_registry_ledger_and_lock_store(sandbox: Sandbox) -> None:
    cfg = load_config(REPO_CONFIG)
    ecr = boto3.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[cfg.registry.repository])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    images = ecr.describe_images(repositoryName=cfg.registry.repository)["imageDetails"]
    assert [(i["imageDigest"], i["imageTags"]) for i in images] == [(bootstrap_image().digest, ["bootstrap"])]

    s3 = boto3.client("s3")
    assert s3.get_bucket_versioning(Bucket=cfg.ledger.bucket)["Status"] == "Enabled"
    table = boto3.client("dynamodb").describe_table(TableName=cfg.lock.table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "lock_id", "KeyType": "HASH"}]

    iam = boto3.client("iam")
    for env in cfg.environments:
        for arn in (env.execution_role_arn, env.task_role_arn):
            assert iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]["Arn"] == arn


def test_events_queue_and_rule_per_environment(sandbox: Sandbox) -> None:
    cfg = load_config(REPO_CONFIG)
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    for env in cfg.environments:
        queue_url = sqs.get_queue_url(QueueName=f"{env.service}-ecs-events")["QueueUrl"]
        rule = events.describe_rule(Name=f"{env.service}-ecs-events")
        pattern = json.loads(rule["EventPattern"])
        assert pattern["source"] == ["aws.ecs"]
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        assert [t["Arn"] for t in targets] == [queue_arn]


def test_provisioning_twice_changes_nothing(sandbox: Sandbox) -> None:
    ecs = boto3.client("ecs")
    before = ecs.describe_services(cluster="envpromote-dev", services=["envpromote-dev-web"])["services"][0]
    again = sandbox.provision()
    after = ecs.describe_services(cluster="envpromote-dev", services=["envpromote-dev-web"])["services"][0]
    assert after["deployments"] == before["deployments"]
    assert after["taskDefinition"] == before["taskDefinition"]
    assert [e["name"] for e in again["environments"]] == ["dev", "staging", "production"]


def test_reset_clears_everything_and_provision_restores_it(sandbox: Sandbox) -> None:
    ecs = boto3.client("ecs")
    sandbox.reset()
    assert ecs.list_clusters()["clusterArns"] == []
    sandbox.provision()
    assert len(ecs.list_clusters()["clusterArns"]) == 3


def test_object_lock_ledger_when_configured(sandbox: Sandbox, tmp_path: Path) -> None:
    text = REPO_CONFIG.read_text()
    text = text.replace('object_lock = "none"', 'object_lock = "governance"').replace(
        "retention_days = 0", "retention_days = 7"
    )
    assert 'object_lock = "governance"' in text
    config = tmp_path / "envpromote.toml"
    config.write_text(text)
    sandbox.reset()
    sandbox.provision(config)
    bucket = load_config(config).ledger.bucket
    lock = boto3.client("s3").get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("GOVERNANCE", 7)
