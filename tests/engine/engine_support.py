"""Helpers for engine tests: synthetic images with a scenario, clean build records, AWS state snapshots."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from envpromote import release as usecases
from envpromote.aws import ClientFactory
from envpromote.build import ImageConfig, assemble_image, push_image
from envpromote.config import Config
from envpromote.sandbox.scenarios import SCENARIO_ANNOTATION

REPO_ROOT = Path(__file__).resolve().parents[2]
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


class AwsState:
    """Everything a refused command must leave alone: task-definition revisions, services, ledger, locks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        factory = ClientFactory("us-east-1")
        self.ecs = factory.client("ecs")
        self.s3 = factory.client("s3")
        self.dynamodb = factory.client("dynamodb")

    def snapshot(self) -> dict[str, Any]:
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
