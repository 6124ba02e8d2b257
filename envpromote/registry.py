"""ECR: find the registry, check an image exists by digest, mark promoted images with an immutable tag."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from envpromote.errors import PreflightFailed


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
