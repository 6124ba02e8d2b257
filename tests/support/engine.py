"""Engine-layer helpers: synthetic images with a scenario, clean build records, a deploy, AWS state snapshots."""

from __future__ import annotations

import itertools
from typing import Any

from envpromote import release as usecases
from envpromote.aws import ClientFactory
from envpromote.build import ImageConfig, assemble_image, push_image
from envpromote.config import Config
from envpromote.sandbox.scenarios import SCENARIO_ANNOTATION
from envpromote.sandbox.testing import Sandbox

YES = usecases.Approval(approver="alice", assume_yes=True)
_counter = itertools.count(1)
CLEAN_SCAN = {
    "counts": {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0},
    "trivy_version": "0.76.0",
    "db_date": "2026-11-01",
    "partial": False,
    "modes": ["image"],
}


def push_test_image(scenario: str, *, repository: str = "envpromote-app", label: str = "") -> str:
    """A real (tiny) OCI image whose manifest annotation tells the sandbox how its rollout goes."""
    n = next(_counter)
    image = assemble_image(
        [("app/hello.txt", f"{scenario} {label} {n}".encode(), 0o644)],
        ImageConfig(cmd=("/app/hello",), workdir="/app", user="10001"),
        annotations={SCENARIO_ANNOTATION: scenario},
    )
    push_image(ClientFactory("us-east-1").client("ecr"), repository, image, f"test-{n}")
    return image.digest


def record_clean_build(ctx: usecases.Context, digest: str) -> None:
    usecases.record_build(ctx, digest, scan=CLEAN_SCAN, source_commit="1" * 40)


def deploy(
    ctx: usecases.Context, scenario: str = "healthy:0.3", *, env: str = "dev", timeout: float = 60
) -> str:
    """Push an image with `scenario`, record a clean build of it and deploy it to `env`; returns its digest."""
    digest = push_test_image(scenario)
    record_clean_build(ctx, digest)
    usecases.execute(ctx, usecases.plan_deploy(ctx, env, digest), timeout=timeout)
    return digest


class AwsState:
    """Everything a refused command must leave alone: task-definition revisions, services, ledger, locks.

    With `sandbox`, ``snapshot()`` first lets every simulated rollout conclude (``Sandbox.settle``), so two
    snapshots differ only by what a command changed, never by a rollout the simulation was still moving.
    """

    def __init__(self, config: Config, sandbox: Sandbox | None = None) -> None:
        self.config = config
        self.sandbox = sandbox
        factory = ClientFactory("us-east-1")
        self.ecs = factory.client("ecs")
        self.s3 = factory.client("s3")
        self.dynamodb = factory.client("dynamodb")

    def snapshot(self) -> dict[str, Any]:
        if self.sandbox is not None:
            self.sandbox.settle()
        state: dict[str, Any] = {}
        for env in self.config.environments:
            arns = self.ecs.list_task_definitions(familyPrefix=env.family)["taskDefinitionArns"]
            service = self.ecs.describe_services(cluster=env.cluster, services=[env.service])["services"][0]
            state[env.name] = {
                "revisions": sorted(arns),
                "task_definition": service["taskDefinition"],
                "deployments": sorted(d["id"] for d in service["deployments"]),
            }
        objects = self.s3.list_object_versions(Bucket=self.config.ledger.bucket).get("Versions", [])
        state["ledger"] = sorted((o["Key"], o["VersionId"]) for o in objects)
        state["locks"] = self.dynamodb.scan(TableName=self.config.lock.table)["Count"]
        return state
