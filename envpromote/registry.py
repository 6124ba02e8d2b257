"""ECR: find the registry, check an image exists by digest, mark promoted images with an immutable tag."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from envpromote.errors import PreflightFailed
from envpromote.image import short_digest


def _missing_repository(repository: str) -> PreflightFailed:
    return PreflightFailed(
        f"ECR repository {repository} does not exist.",
        fix="Apply infra (modules/ecr) or check [registry] repository/region in envpromote.toml.",
    )


def repository_uri(ecr: Any, repository: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repository>`` as ECR reports it."""
    try:
        repos = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "RepositoryNotFoundException":
            raise _missing_repository(repository) from None
        raise
    uri: str = repos[0]["repositoryUri"]
    return uri


def registry_and_repository(ecr: Any, repository: str) -> tuple[str, str]:
    uri = repository_uri(ecr, repository)
    registry, _, repo = uri.partition("/")
    return registry, repo


def describe_image(ecr: Any, repository: str, digest: str) -> dict[str, Any] | None:
    """The image's details, or None if ECR has no image with that digest."""
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
            "imageDetails"
        ]
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ImageNotFoundException":
            return None
        if code == "RepositoryNotFoundException":
            raise _missing_repository(repository) from None
        raise
    return details[0] if details else None


def promotion_tag(environment: str, digest: str) -> str:
    """The immutable tag that marks a digest as promoted, so ECR lifecycle rules never expire it."""
    return f"promoted-{environment}-{short_digest(digest)}"


def add_tag(ecr: Any, repository: str, digest: str, tag: str) -> bool:
    """Tag an existing image (same manifest, new tag). False if the tag was already there."""
    images = ecr.batch_get_image(
        repositoryName=repository,
        imageIds=[{"imageDigest": digest}],
        acceptedMediaTypes=[
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ],
    )["images"]
    if not images:
        return False
    image = images[0]
    kwargs: dict[str, Any] = {
        "repositoryName": repository,
        "imageManifest": image["imageManifest"],
        "imageTag": tag,
        "imageDigest": digest,
    }
    if image.get("imageManifestMediaType"):
        kwargs["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        ecr.put_image(**kwargs)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {
            "ImageAlreadyExistsException",
            "ImageTagAlreadyExistsException",
        }:
            return False
        raise
    return True
