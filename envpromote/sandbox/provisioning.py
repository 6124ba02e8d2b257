"""Create, in whatever AWS endpoint the environment points at, everything the chain in envpromote.toml needs.

Idempotent: existing resources are kept. Uses the same client factory as the engine, so it is plain boto3
against ``AWS_ENDPOINT_URL`` (the sandbox). Per environment: ECS cluster, IAM execution/task roles, log group,
an SQS queue ``<service>-ecs-events`` with an EventBridge rule for that service's ECS events, a bootstrap task
definition on a tiny real OCI image (tag ``bootstrap``) and the service (circuit breaker with rollback).
Shared: the ECR repository (immutable tags, scan on push), the ledger bucket (versioned, Object Lock if
configured) and the DynamoDB lock table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import boto3
import botocore.exceptions

from envpromote.aws import ClientFactory
from envpromote.build.oci import ImageConfig, OciImage, assemble_image
from envpromote.build.push import push_image
from envpromote.config import Config, Environment, load_config
from envpromote.registry import repository_uri

BOOTSTRAP_TAG = "bootstrap"
ECS_EVENT_TYPES = ["ECS Deployment State Change", "ECS Service Action", "ECS Task State Change"]
ECS_TASKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def events_queue_name(env: Environment) -> str:
    """The queue the engine long-polls for this environment's ECS events (config value, else convention)."""
    if env.events_queue:
        return env.events_queue.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return f"{env.service}-ecs-events"


def ecs_event_pattern(account: str, env: Environment) -> dict[str, Any]:
    """Deployment/service events of this service, plus STOPPED task events of its tasks."""
    service_arn = f"arn:aws:ecs:{env.region}:{account}:service/{env.cluster}/{env.service}"
    cluster_arn = f"arn:aws:ecs:{env.region}:{account}:cluster/{env.cluster}"
    return {
        "source": ["aws.ecs"],
        "detail-type": ECS_EVENT_TYPES,
        "$or": [
            {"resources": [service_arn]},
            {
                "detail": {
                    "group": [f"service:{env.service}"],
                    "clusterArn": [cluster_arn],
                    "lastStatus": ["STOPPED"],
                }
            },
        ],
    }


def _ignore(code: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] not in code.split("|"):
            raise
        return None


class _Factories:
    """One boto3 session and one client factory per region, kept for the process per endpoint and credentials.

    Loading service models and making clients dominated provisioning's CPU (a test suite provisions before
    every test); the clients are thread-safe and hold no state of the sandbox, so later calls reuse them.
    """

    _sessions: ClassVar[dict[tuple[str | None, ...], boto3.session.Session]] = {}
    _factories: ClassVar[dict[tuple[tuple[str | None, ...], str], ClientFactory]] = {}

    def __init__(self) -> None:
        self.key = tuple(os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"))
        if self.key not in self._sessions:
            self._sessions[self.key] = boto3.session.Session()
        self.session = self._sessions[self.key]

    def __call__(self, region: str) -> ClientFactory:
        if (self.key, region) not in self._factories:
            self._factories[(self.key, region)] = ClientFactory(region, session=self.session)
        return self._factories[(self.key, region)]


def bootstrap_image() -> OciImage:
    """The tiny image every sandbox service starts on before the first real deploy."""
    config = ImageConfig(cmd=("/bootstrap/hello",), workdir="/bootstrap", user="65534")
    content = b"#!/bin/sh\necho 'envpromote sandbox bootstrap image'\n"
    return assemble_image(
        [("bootstrap/hello", content, 0o755)],
        config,
        annotations={"org.opencontainers.image.title": "envpromote-bootstrap"},
    )


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _account(factory: ClientFactory) -> str:
    return str(factory.client("sts").get_caller_identity()["Account"])


def provision(config_path: str | Path | None = None, *, cfg: Config | None = None) -> dict[str, Any]:
    """Provision every environment of the chain; returns the resources (for ``sandbox.status``)."""
    cfg = cfg or load_config(config_path)
    factories = _Factories()
    registry = factories(cfg.registry.region)
    account = _account(registry)
    ecr = registry.client("ecr")
    _ignore(
        "RepositoryAlreadyExistsException",
        lambda: ecr.create_repository(
            repositoryName=cfg.registry.repository,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
        ),
    )
    repo_uri = repository_uri(ecr, cfg.registry.repository)
    image = bootstrap_image()
    push_image(ecr, cfg.registry.repository, image, BOOTSTRAP_TAG)  # idempotent: same bytes, same digest
    bootstrap_uri = f"{repo_uri}@{image.digest}"

    _provision_ledger(cfg, factories)
    _provision_lock(cfg, factories)
    for env in cfg.environments:  # clients are made here, serially; using them from threads is safe
        for service in ("iam", "logs", "ecs", "sqs", "events", "ec2"):
            factories(env.region).client(service)
    with ThreadPoolExecutor(max_workers=len(cfg.environments) or 1) as pool:
        environments = list(
            pool.map(
                lambda env: _provision_environment(env, account, bootstrap_uri, factories), cfg.environments
            )
        )
    return {
        "account": account,
        "registry": {
            "repository": cfg.registry.repository,
            "uri": repo_uri,
            "bootstrap_image": bootstrap_uri,
        },
        "ledger": {"bucket": cfg.ledger.bucket, "object_lock": cfg.ledger.object_lock},
        "lock": {"table": cfg.lock.table},
        "environments": environments,
    }


def _provision_ledger(cfg: Config, factories: _Factories) -> None:
    s3 = factories(cfg.ledger.region).client("s3")
    locked = cfg.ledger.object_lock != "none"
    kwargs: dict[str, Any] = {"Bucket": cfg.ledger.bucket}
    if cfg.ledger.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": cfg.ledger.region}
    if locked:
        kwargs["ObjectLockEnabledForBucket"] = True
    _ignore("BucketAlreadyOwnedByYou|BucketAlreadyExists", lambda: s3.create_bucket(**kwargs))
    s3.put_bucket_versioning(Bucket=cfg.ledger.bucket, VersioningConfiguration={"Status": "Enabled"})
    if locked and cfg.ledger.retention_days > 0:
        s3.put_object_lock_configuration(
            Bucket=cfg.ledger.bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {
                    "DefaultRetention": {
                        "Mode": cfg.ledger.object_lock.upper(),
                        "Days": cfg.ledger.retention_days,
                    }
                },
            },
        )


def _provision_lock(cfg: Config, factories: _Factories) -> None:
    dynamodb = factories(cfg.lock.region).client("dynamodb")
    _ignore(
        "ResourceInUseException",
        lambda: dynamodb.create_table(
            TableName=cfg.lock.table,
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        ),
    )


def _provision_environment(
    env: Environment, account: str, bootstrap_uri: str, factories: _Factories
) -> dict[str, Any]:
    factory = factories(env.region)
    iam, logs, ecs = factory.client("iam"), factory.client("logs"), factory.client("ecs")
    sqs, events, ec2 = factory.client("sqs"), factory.client("events"), factory.client("ec2")

    for arn in (env.execution_role_arn, env.task_role_arn):
        name = _role_name(arn)
        _ignore(
            "EntityAlreadyExists",
            lambda name=name: iam.create_role(  # type: ignore[misc]
                RoleName=name, AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST)
            ),
        )
    _ignore(
        "NoSuchEntity",
        lambda: iam.attach_role_policy(
            RoleName=_role_name(env.execution_role_arn), PolicyArn=EXECUTION_POLICY_ARN
        ),
    )
    log_group = str(env.taskdef.get("log_group") or f"/ecs/{env.service}")
    _ignore("ResourceAlreadyExistsException", lambda: logs.create_log_group(logGroupName=log_group))
    ecs.create_cluster(clusterName=env.cluster)  # idempotent in ECS

    queue_name = events_queue_name(env)
    queue_url = sqs.create_queue(QueueName=queue_name, Attributes={"MessageRetentionPeriod": "3600"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule_name = f"{env.service}-ecs-events"
    rule_arn = events.put_rule(Name=rule_name, EventPattern=json.dumps(ecs_event_pattern(account, env)))[
        "RuleArn"
    ]
    events.put_targets(Rule=rule_name, Targets=[{"Id": "ecs-events-queue", "Arn": queue_arn}])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})

    existing = ecs.describe_services(cluster=env.cluster, services=[env.service])["services"]
    active = [s for s in existing if s.get("status") == "ACTIVE"]
    if active:
        service_arn = active[0]["serviceArn"]
    else:
        td_arn = _register_bootstrap(ecs, env, bootstrap_uri, log_group)
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
        groups = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
        service_arn = ecs.create_service(
            cluster=env.cluster,
            serviceName=env.service,
            taskDefinition=td_arn,
            desiredCount=env.desired_count,
            launchType="FARGATE",
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": subnets,
                    "securityGroups": [groups[0]["GroupId"]],
                    "assignPublicIp": "DISABLED",
                }
            },
            tags=[{"key": "envpromote:environment", "value": env.name}],
        )["service"]["serviceArn"]
    return {
        "name": env.name,
        "region": env.region,
        "cluster": env.cluster,
        "service": env.service,
        "service_arn": service_arn,
        "events_queue_url": queue_url,
        "events_rule": rule_name,
        "log_group": log_group,
    }


def _register_bootstrap(ecs: Any, env: Environment, image_uri: str, log_group: str) -> str:
    port = int(env.taskdef.get("port", 8080))
    response = ecs.register_task_definition(
        family=env.family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu=str(env.taskdef.get("cpu", "256")),
        memory=str(env.taskdef.get("memory", "512")),
        executionRoleArn=env.execution_role_arn,
        taskRoleArn=env.task_role_arn,
        containerDefinitions=[
            {
                "name": env.container,
                "image": image_uri,
                "essential": True,
                "portMappings": [{"containerPort": port, "protocol": "tcp"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": log_group,
                        "awslogs-region": env.region,
                        "awslogs-stream-prefix": env.name,
                    },
                },
            }
        ],
        tags=[
            {"key": "envpromote:environment", "value": env.name},
            {"key": "sandbox-scenario", "value": "healthy:0"},
        ],
    )
    return str(response["taskDefinition"]["taskDefinitionArn"])


def describe_resources(config_path: str | Path | None = None) -> dict[str, Any]:
    """What exists right now for the chain (read-only), for ``sandbox.status``."""
    cfg = load_config(config_path)
    factories = _Factories()
    out: dict[str, Any] = {"environments": []}
    for env in cfg.environments:
        ecs = factories(env.region).client("ecs")
        services = ecs.describe_services(cluster=env.cluster, services=[env.service]).get("services", [])
        entry: dict[str, Any] = {"name": env.name, "cluster": env.cluster, "service": env.service}
        if services:
            svc = services[0]
            entry.update(
                {
                    "status": svc.get("status"),
                    "task_definition": svc.get("taskDefinition"),
                    "running": svc.get("runningCount"),
                    "desired": svc.get("desiredCount"),
                    "deployments": [
                        {"id": d["id"], "status": d["status"], "rollout_state": d.get("rolloutState")}
                        for d in svc.get("deployments", [])
                    ],
                }
            )
        else:
            entry["status"] = "MISSING"
        out["environments"].append(entry)
    ecr = factories(cfg.registry.region).client("ecr")
    try:
        images = ecr.describe_images(repositoryName=cfg.registry.repository).get("imageDetails", [])
        out["registry"] = {"repository": cfg.registry.repository, "images": len(images)}
    except botocore.exceptions.ClientError:
        out["registry"] = {"repository": cfg.registry.repository, "images": None, "status": "MISSING"}
    return out
