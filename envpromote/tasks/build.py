"""Tasks: build (the image, once; prints its digest)."""

from __future__ import annotations

from typing import Any

from invoke.context import Context
from invoke.tasks import task

from envpromote.build import build as build_image
from envpromote.config import load_config
from envpromote.tasks._common import handle_errors, print_json


@task(
    help={
        "scenario": "Sandbox rollout scenario recorded on the image, e.g. healthy:5 or circuit-breaker:5:20.",
        "tag": "Image tag (default: git-<short sha>, plus -dirty for uncommitted changes under app/).",
        "push": "Push to ECR (default); --no-push only writes the OCI layout.",
        "config": "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml).",
        "json": "Print the build record as JSON.",
    }
)
@handle_errors
def build(
    c: Context, scenario: str = "", tag: str = "", push: bool = True, config: str = "", json: bool = False
) -> None:
    """Build app/ into an image once and push it to ECR; prints the digest to promote.

    Without a Docker engine (or against the sandbox) it writes a real OCI image layout under .envpromote/oci/
    and pushes it with ECR's API; with Docker and a real registry it uses docker buildx. Writes
    .envpromote/build.json and, in GitHub Actions, the step outputs digest and image_uri.
    """
    cfg = load_config(config or None)
    result = build_image(
        repo_root=cfg.path.resolve().parent,
        repository=cfg.registry.repository,
        region=cfg.registry.region,
        tag=tag or None,
        scenario=scenario or None,
        push=push,
    )
    if json:
        print_json(result.to_json())
    elif result.digest:
        print(result.digest)
    else:  # a Docker build not pushed yet: the registry assigns the digest on push
        print(
            f"built {result.scan_target} (scan it; 'invoke build --push' pushes this image and prints its digest)"
        )


ROOT_TASKS: list[Any] = [build]
COLLECTIONS: dict[str, Any] = {}
