"""Fault injection: throttling (ECS json / S3 xml) that botocore retries, dropped connections, the control API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from envpromote.aws import ClientFactory
from envpromote.sandbox.testing import Sandbox

CLUSTER = "envpromote-dev"
SERVICE = "envpromote-dev-web"
LEDGER_BUCKET = "envpromote-ledger-123456789012"


def client(service: str, attempts: int) -> Any:
    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": attempts}))


def test_full_ecs_throttling_is_a_throttling_exception(sandbox: Sandbox) -> None:
    sandbox.set_faults(throttle={"ecs": 1.0})
    ecs = client("ecs", 2)
    with pytest.raises(ClientError) as caught:
        ecs.describe_services(cluster=CLUSTER, services=[SERVICE])
    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    retries = error["ResponseMetadata"]["RetryAttempts"]
    assert retries >= 1  # botocore treated it as retryable
    assert sandbox.faults()["counters"]["throttled.ecs"] == retries + 1
    boto3.client("sqs").list_queues()  # other services are untouched
    assert sandbox.faults()["counters"].get("throttled.sqs", 0) == 0


def test_full_s3_throttling_is_slow_down(sandbox: Sandbox) -> None:
    sandbox.set_faults(throttle={"s3": 1.0})
    s3 = client("s3", 2)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_versioning(Bucket=LEDGER_BUCKET)
    assert caught.value.response["Error"]["Code"] == "SlowDown"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    retries = caught.value.response["ResponseMetadata"]["RetryAttempts"]
    assert retries >= 1
    assert sandbox.faults()["counters"]["throttled.s3"] == retries + 1


def test_half_throttling_is_absorbed_by_retries_and_counted(sandbox: Sandbox) -> None:
    sandbox.set_faults(throttle={"ecs": 0.5, "s3": 0.5}, seed=11)
    factory = ClientFactory("us-east-1", max_attempts=10)
    ecs, s3 = factory.client("ecs"), factory.client("s3")
    for _ in range(5):  # botocore's real backoff (up to seconds per retry) makes this the slow test here
        assert (
            ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["serviceName"]
            == SERVICE
        )
        assert s3.get_bucket_versioning(Bucket=LEDGER_BUCKET)["Status"] == "Enabled"
    counters = sandbox.faults()["counters"]
    assert counters["throttled.ecs"] > 0
    assert counters["throttled.s3"] > 0
    assert factory.counter.retries == counters["throttled"]


@pytest.mark.sandbox_time_scale(0)
def test_throttle_scenario_throttles_ecs_only_while_the_rollout_runs(sandbox: Sandbox) -> None:
    ecs = boto3.client("ecs", config=Config(retries={"mode": "standard", "max_attempts": 10}))
    current = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    base = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    td = ecs.register_task_definition(
        family=base["family"],
        containerDefinitions=base["containerDefinitions"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu=base["cpu"],
        memory=base["memory"],
        tags=[{"key": "sandbox-scenario", "value": "throttle:0.5:1"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=td)
    # One attempt per call: each throttled request is seen (botocore's retry backoff would take seconds).
    once = boto3.client("ecs", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

    def throttled(calls: int) -> int:
        codes = []
        for _ in range(calls):
            try:
                once.describe_services(cluster=CLUSTER, services=[SERVICE])
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
        assert set(codes) <= {"ThrottlingException"}
        return len(codes)

    during = throttled(20)  # the clock is frozen: the rollout runs all along (P(no throttle) = 0.5 ** 20)
    assert during > 0
    assert sandbox.faults()["counters"]["throttled_by_scenario"] == during
    sandbox.settle()
    assert throttled(10) == 0  # the rollout is over: no more throttling
    assert ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"] == td


def test_dropped_connections_surface_as_connection_errors(sandbox: Sandbox) -> None:
    sandbox.set_faults(drop_connections={"ecs": 1.0})
    ecs = client("ecs", 2)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        ecs.describe_services(cluster=CLUSTER, services=[SERVICE])
    assert sandbox.faults()["counters"]["dropped.ecs"] >= 2  # the first attempt and at least one retry


def test_partly_dropped_connections_are_retried(sandbox: Sandbox) -> None:
    sandbox.set_faults(drop_connections=0.3, seed=5)
    ecs = client("ecs", 10)
    for _ in range(10):
        ecs.describe_services(cluster=CLUSTER, services=[SERVICE])
    assert sandbox.faults()["counters"]["dropped"] > 0


def test_bad_fault_settings_are_refused_with_the_reason(sandbox: Sandbox) -> None:
    for payload, phrase in [
        ({"throttle": {"ecs": 2}}, "throttle.ecs must be a number from 0 to 1"),
        ({"event_loss": "lots"}, "event_loss must be a number from 0 to 1"),
        ({"flood": 1}, "unknown fault setting"),
        ({"event_delay_s": -1}, "event_delay_s must be a number of seconds"),
    ]:
        request = urllib.request.Request(  # noqa: S310 - local sandbox
            sandbox.url + "/envpromote-sandbox/faults", data=json.dumps(payload).encode(), method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310 - local sandbox
        assert caught.value.code == 400
        assert phrase in json.loads(caught.value.read())["error"]
    assert sandbox.faults()["settings"]["throttle"] == {}


def test_reset_clears_faults_and_counters(sandbox: Sandbox) -> None:
    sandbox.set_faults(throttle={"ecs": 1.0})
    with pytest.raises(ClientError):
        client("ecs", 1).list_clusters()
    sandbox.reset()
    report = sandbox.faults()
    assert report["settings"]["throttle"] == {}
    assert report["counters"] == {}
    assert boto3.client("ecs").list_clusters()["clusterArns"] == []


def test_latency_outlasting_the_read_timeout_is_a_read_timeout(sandbox: Sandbox) -> None:
    sandbox.set_faults(latency_s={"ecs": 1.5})
    slow = boto3.client(
        "ecs", config=Config(read_timeout=0.3, retries={"mode": "standard", "max_attempts": 1})
    )
    with pytest.raises(ReadTimeoutError):
        slow.list_clusters()
    patient = boto3.client(
        "ecs", config=Config(read_timeout=5, retries={"mode": "standard", "max_attempts": 1})
    )
    assert len(patient.list_clusters()["clusterArns"]) == 3
    assert sandbox.faults()["counters"]["delayed.ecs"] >= 2


def test_request_counter_counts_by_operation_and_client(sandbox: Sandbox) -> None:
    """Server-side counts, for tools that cannot be instrumented (awscli, ecs-deploy) in benchmarks."""
    sandbox.requests(clear=True)
    boto3.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])
    other_tool = boto3.client("ecs", config=Config(user_agent="other-tool/9.9 extra"))
    other_tool.describe_services(cluster=CLUSTER, services=[SERVICE])
    other_tool.list_clusters()
    counted = sandbox.requests()
    assert counted["by_operation"] == {"ecs:DescribeServices": 2, "ecs:ListClusters": 1}
    assert counted["total"] == 3
    assert counted["by_agent"]["other-tool/9.9"] == 2
    assert sum(counted["by_agent"].values()) == 3


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("ecs", lambda c: c.get_task_protection(cluster=CLUSTER), "UnknownOperationException"),  # JSON
        ("sns", lambda c: c.list_origination_numbers(), "InvalidAction"),  # query protocol
    ],
)
def test_an_operation_moto_lacks_is_answered_at_once_as_not_offered(
    sandbox: Sandbox, service: str, call: Any, code: str
) -> None:
    """Not a 500 that botocore retries for seconds: a 400 that callers can tell from a failure of ours."""
    with pytest.raises(ClientError) as caught:
        call(client(service, 5))
    error = caught.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RetryAttempts"] == 0
