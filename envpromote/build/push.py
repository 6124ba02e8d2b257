"""Getting an image into ECR: the layer-upload API plus PutImage by digest (no Docker), or the Docker path.

ECR is addressed through envpromote.registry (repository URI) and the one client factory; nothing here builds
image bytes (that is envpromote.build.oci).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore.exceptions

from envpromote.build.oci import OCI_MANIFEST, OciImage
from envpromote.errors import BadInput, PreflightFailed
from envpromote.registry import repository_uri

LOCAL_IMAGE = "envpromote-local"
_UPLOAD_PART_BYTES = 10 * 1024 * 1024


def _upload_blobs(ecr: Any, repository: str, image: OciImage) -> None:
    blobs = [image.config, *image.layers]
    available = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[b.digest for b in blobs]
    )
    present = {
        layer["layerDigest"]
        for layer in available.get("layers", [])
        if layer.get("layerAvailability") == "AVAILABLE"
    }
    for blob in blobs:
        if blob.digest in present:
            continue
        upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
        for start in range(0, len(blob.data), _UPLOAD_PART_BYTES):
            part = blob.data[start : start + _UPLOAD_PART_BYTES]
            ecr.upload_layer_part(
                repositoryName=repository,
                uploadId=upload_id,
                partFirstByte=start,
                partLastByte=start + len(part) - 1,
                layerPartBlob=part,
            )
        try:
            ecr.complete_layer_upload(
                repositoryName=repository, uploadId=upload_id, layerDigests=[blob.digest]
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "LayerAlreadyExistsException":
                raise


def push_image(ecr: Any, repository: str, image: OciImage, tag: str) -> None:
    """Upload the blobs with ECR's layer API, then PutImage with the manifest's own digest.

    Works against real ECR (which requires the blobs first) and the sandbox alike. An identical image that is
    already there is fine (builds are reproducible); a tag that points at another image is refused.
    """
    try:
        _upload_blobs(ecr, repository, image)
        ecr.put_image(
            repositoryName=repository,
            imageManifest=image.manifest.decode(),
            imageManifestMediaType=OCI_MANIFEST,
            imageDigest=image.digest,
            imageTag=tag,
        )
    except botocore.exceptions.ClientError as exc:
        code = exc.response["Error"]["Code"]
        message = exc.response["Error"].get("Message", "")
        if code == "ImageAlreadyExistsException" and tagged_digest(ecr, repository, tag) == image.digest:
            return  # the very same image under the same tag: builds are reproducible, nothing to do
        if code in {"ImageAlreadyExistsException", "ImageTagAlreadyExistsException"}:
            raise BadInput(
                f"Tag {tag!r} already points at another image in the immutable repository {repository!r}.",
                fix="Commit your change (the default tag is the commit) or pass a new --tag.",
            ) from None
        if code == "RepositoryNotFoundException":
            raise PreflightFailed(
                f"ECR repository {repository!r} does not exist.",
                fix="Create it with 'invoke infra.apply' (AWS) or 'invoke sandbox.up' (local).",
            ) from None
        raise PreflightFailed(
            f"ECR refused the push: {code}: {message}", fix="Check ECR permissions."
        ) from None


def tagged_digest(ecr: Any, repository: str, tag: str) -> str | None:
    """The digest `tag` points at, or None if there is no such tag."""
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except botocore.exceptions.ClientError:
        return None
    return str(details[0]["imageDigest"]) if details else None


# ------------------------------------------------------------------------------------------ Docker path
def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        subprocess.run(["docker", "info"], capture_output=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def docker_image_exists(ref: str) -> bool:
    probe = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, check=False)
    return probe.returncode == 0


def docker_build_local(app_dir: Path, tag: str, annotations: Mapping[str, str]) -> str:
    """The one build: `docker buildx build --load` into the local engine, so it can be scanned before a push."""
    ref = f"{LOCAL_IMAGE}:{tag}"
    command = ["docker", "buildx", "build", "--load", "--provenance=false", "-t", ref]
    for key, value in sorted(annotations.items()):
        command += ["--annotation", f"manifest:{key}={value}"]
    subprocess.run([*command, str(app_dir)], check=True)
    return ref


def docker_push(ecr: Any, repository: str, tag: str, local_ref: str) -> tuple[str, str]:
    """Push the already-built local image under its immutable tag; (digest read back from ECR, repository URI)."""
    uri = repository_uri(ecr, repository)
    auth = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(auth["authorizationToken"]).decode().partition(":")
    subprocess.run(
        ["docker", "login", "--username", user, "--password-stdin", auth["proxyEndpoint"]],
        input=password.encode(),
        check=True,
        capture_output=True,
    )
    subprocess.run(["docker", "tag", local_ref, f"{uri}:{tag}"], check=True)
    subprocess.run(["docker", "push", f"{uri}:{tag}"], check=True)
    detail = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    return str(detail["imageDigest"]), uri
