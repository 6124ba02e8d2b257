"""The rollout benchmark's counting proxy (bench/rollout/countproxy.py) and its pure measurement functions.

The proxy is checked against the real sandbox server: answers must pass through unchanged and every call
must be counted once under the right service and operation. No timing is asserted anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from envpromote.sandbox.testing import SandboxServer

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench" / "rollout"
sys.path.insert(0, str(BENCH_DIR))

from countproxy import Call, CountingProxy, classify, count_by_name  # noqa: E402
from run_bench import BenchScenario, aggregate, measure  # noqa: E402


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_proxy_forwards_unchanged_and_counts_each_call_by_operation(sandbox_server: SandboxServer) -> None:
    with CountingProxy(sandbox_server.url) as proxy:
        ecs = _client("ecs", proxy.url)
        ecs.create_cluster(clusterName="bench-proxy-test")
        via_proxy = ecs.describe_clusters(clusters=["bench-proxy-test"])["clusters"]
        direct = _client("ecs", sandbox_server.url).describe_clusters(clusters=["bench-proxy-test"])[
            "clusters"
        ]
        queue_url = _client("sqs", proxy.url).create_queue(QueueName="bench-proxy-test")["QueueUrl"]
        _client("sqs", proxy.url).send_message(QueueUrl=queue_url, MessageBody="hello")
        received = _client("sqs", proxy.url).receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)
        s3 = _client("s3", proxy.url)
        s3.create_bucket(Bucket="bench-proxy-test")
        s3.put_object(Bucket="bench-proxy-test", Key="a/b.json", Body=b"{}")
        body = s3.get_object(Bucket="bench-proxy-test", Key="a/b.json")["Body"].read()
        identity = _client("sts", proxy.url).get_caller_identity()
        counted = count_by_name(proxy.calls())

    assert [c["clusterArn"] for c in via_proxy] == [c["clusterArn"] for c in direct]
    assert [m["Body"] for m in received["Messages"]] == ["hello"]
    assert body == b"{}"
    assert identity["Account"]
    assert counted == {
        "ecs:CreateCluster": 1,
        "ecs:DescribeClusters": 1,
        "s3:GET /{bucket}/{key}": 1,
        "s3:PUT /{bucket}": 1,
        "s3:PUT /{bucket}/{key}": 1,
        "sqs:CreateQueue": 1,
        "sqs:ReceiveMessage": 1,
        "sqs:SendMessage": 1,
        "sts:GetCallerIdentity": 1,
    }
    assert all(c.status == 200 for c in proxy.calls())


def test_proxy_refuses_anything_but_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
        CountingProxy("http://example.com:80")


@pytest.mark.parametrize(
    ("method", "target", "headers", "body", "expected"),
    [
        (
            "POST",
            "/",
            {
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-1/ecs/aws4_request, "
                "SignedHeaders=host, Signature=x",
                "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DescribeServices",
            },
            b"{}",
            ("ecs", "DescribeServices"),
        ),
        (
            "POST",
            "/",
            {
                "Authorization": "AWS4-HMAC-SHA256 Credential=k/20261126/us-east-1/sts/aws4_request",
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            },
            b"Action=GetCallerIdentity&Version=2011-06-15",
            ("sts", "GetCallerIdentity"),
        ),
        (
            "GET",
            "/ledger?list-type=2&prefix=releases%2F",
            {"Authorization": "AWS4-HMAC-SHA256 Credential=k/20261126/us-east-1/s3/aws4_request"},
            b"",
            ("s3", "GET /{bucket}?list-type&prefix"),
        ),
        ("GET", "/service/x/operation/GetMetricData", {}, b"", ("unsigned", "GetMetricData")),
    ],
)
def test_classify(
    method: str, target: str, headers: dict[str, str], body: bytes, expected: tuple[str, str]
) -> None:
    assert classify(method, target, headers, body) == expected


def _call(at: float, name: str, status: int = 200) -> Call:
    service, operation = name.split(":", 1)
    return Call(at, at + 0.01, service, operation, status)


def test_measure_counts_watch_calls_after_update_service_and_times_from_the_decisive_change() -> None:
    calls = [
        _call(100.0, "ecs:DescribeServices"),  # before the update: not waiting
        _call(100.5, "ecs:UpdateService"),
        _call(101.0, "sqs:ReceiveMessage"),
        _call(104.0, "ecs:DescribeServices"),
        _call(106.0, "s3:PUT /{bucket}/{key}"),  # the ledger write: listed, not a watch call
        _call(106.1, "ecs:DeregisterTaskDefinition"),  # a change, not a watch call
    ]
    entries = [
        {"deployment": "ecs-svc/1", "state": "IN_PROGRESS", "t": 0.0, "applied": 0.0},
        {"deployment": "ecs-svc/1", "state": "FAILED", "t": 5.0, "applied": 5.2},
        {"deployment": "ecs-svc/2", "state": "ROLLBACK_IN_PROGRESS", "t": 5.0, "applied": 5.2},
    ]
    run = measure(
        scenario=BenchScenario.parse("circuit-breaker:5:20"),
        tool="envpromote-poll",
        index=1,
        calls=calls,
        entries=entries,
        started=99.0,
        exited=106.2,
        exit_code=5,
        killed=False,
        timeout_s=60.0,
        last_line="",
        watch_option=True,
    )
    assert run["truth_reported"] is True
    assert run["signal"] == "FAILED"
    assert run["seconds_after_signal"] == pytest.approx(106.2 - (100.5 + 5.2))
    assert run["api_calls"] == 2
    assert run["waiting_calls"]["s3:PUT /{bucket}/{key}"] == 1
    assert run["api_calls_total"] == 6


def test_measure_a_rolled_back_deployment_reported_as_success_is_not_the_truth() -> None:
    run = measure(
        scenario=BenchScenario.parse("circuit-breaker:5:20"),
        tool="aws-wait",
        index=1,
        calls=[_call(10.0, "ecs:UpdateService"), _call(12.0, "ecs:DescribeServices")],
        entries=[
            {"deployment": "ecs-svc/1", "state": "IN_PROGRESS", "applied": 0.0},
            {"deployment": "ecs-svc/1", "state": "FAILED", "applied": 5.0},
        ],
        started=9.0,
        exited=40.0,
        exit_code=0,
        killed=False,
        timeout_s=60.0,
        last_line="",
        watch_option=True,
    )
    assert run["truth_reported"] is False
    rows = aggregate([run, {**run, "truth_reported": True}])
    assert rows["truth_reported"] is False
    assert rows["truth_runs"] == "1/2"


@pytest.mark.parametrize(
    ("text", "expected", "loss"),
    [
        ("healthy:5", "success", 0.0),
        ("stuck", "timeout", 0.0),
        ("circuit-breaker:5:20+loss:0.3", "failure", 0.3),
    ],
)
def test_bench_scenarios(text: str, expected: str, loss: float) -> None:
    scenario = BenchScenario.parse(text)
    assert (scenario.expected, scenario.event_loss) == (expected, loss)


@pytest.mark.parametrize("text", ["healthy:x", "stuck+loss:2", "stuck+drop:0.1"])
def test_bench_scenario_errors_name_the_problem(text: str) -> None:
    with pytest.raises(ValueError, match="scenario"):
        BenchScenario.parse(text)
