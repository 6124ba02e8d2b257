"""Tasks: build (the image, once; prints its digest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invoke.context import Context

from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import task


def run_build(
    config: str, *, tag: str, push: bool, annotations: Mapping[str, str] | None = None, variant: str = ""
) -> Any:
    """The product build for the project of `config`: its [build] app_dir, state in its folder; shared with
    `sandbox.build`."""
    from envpromote.build import build as build_image
    from envpromote.config import load_config

    cfg = load_config(config or None)
    return build_image(
        repo_root=cfg.path.resolve().parent,
        app_dir=cfg.app_dir,
        repository=cfg.registry.repository,
        region=cfg.registry.region,
        tag=tag or None,
        annotations=annotations,
        variant=variant,
        push=push,
    )


def print_build(result: Any, *, json: bool) -> None:
    """The build's digest (or, with --json, its record); shared with `invoke sandbox.build`."""
    if json:
        print_json(result.to_json())
    elif result.digest:
        print(result.digest)
    else:  # a Docker build not pushed yet: the registry assigns the digest on push
        print(
            f"built {result.scan_target} (scan it; 'invoke build --push' pushes this image and prints its digest)"
        )


@task(
    help={
        "tag": "Image tag (default: git-<12 hex of the commit>, plus -dirty for uncommitted changes in the app dir).",
        "push": "Push to ECR (default); --no-push only writes the OCI layout.",
        "config": "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml).",
        "json": "Print the build record as JSON.",
    }
)
@handle_errors
def build(c: Context, tag: str = "", push: bool = True, config: str = "", json: bool = False) -> None:
    """Build the app directory ([build] app_dir, default app/) into an image once, push it to ECR; prints the digest.

    Without a Docker engine (or against the sandbox) it writes a real OCI image layout under .envpromote/oci/
    and pushes it with ECR's API; with Docker and a real registry it uses docker buildx. Writes
    .envpromote/build.json and, in GitHub Actions, the step outputs digest and image_uri.
    (A sandbox rollout scenario is recorded on the image by 'invoke sandbox.build --scenario S'.)
    """
    print_build(run_build(config, tag=tag, push=push), json=json)


ROOT_TASKS: list[Any] = [build]
COLLECTIONS: dict[str, Any] = {}
