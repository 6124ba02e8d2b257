"""Build the app image once and push it to ECR; the digest is what gets promoted.

Two paths, one result (an image in ECR addressed by ``sha256:`` digest):

The app directory is the config's ``[build] app_dir`` (default ``app``, relative to the config file's folder,
called ``app/`` below); ``.envpromote/`` state goes to the config file's folder (``repo_root``).

* **No Docker engine** (this machine, the sandbox): pack ``app/`` into a real OCI image layout
  (``.envpromote/oci/<digest-hex>/``) and push it with ECR's own layer-upload API plus ``PutImage``. The layer
  holds what the Dockerfile's final stage copies (else ``app/src``) and the requirements; the image config is read
  from that stage (`dockerfile`). The base image's layers are not included (nothing can be pulled offline); the
  base is recorded as an annotation. Bytes come from `oci` (the one OCI writer), the upload from `push`.
* **Docker engine reachable and a real registry** (no ``AWS_ENDPOINT_URL``): ``docker buildx build``, then push;
  the digest is read back from ECR.

Callers may add manifest annotations (the sandbox records its rollout scenario this way) and a tag `variant`,
so that builds of the same commit with different annotations get distinct tags.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions

from envpromote import gha
from envpromote.aws import ClientFactory
from envpromote.build.dockerfile import app_files, parse_dockerfile
from envpromote.build.oci import (
    OCI_MANIFEST,
    Blob,
    ImageConfig,
    OciImage,
    assemble_image,
    write_oci_layout,
)
from envpromote.build.push import (
    LOCAL_IMAGE,
    docker_available,
    docker_build_local,
    docker_image_exists,
    docker_push,
    push_image,
)
from envpromote.errors import BadInput, PreflightFailed
from envpromote.registry import repository_uri
from envpromote.vcs import source_state

__all__ = [
    "OCI_MANIFEST",
    "Blob",
    "BuildResult",
    "ImageConfig",
    "OciImage",
    "app_files",
    "assemble_image",
    "build",
    "default_tag",
    "parse_dockerfile",
    "push_image",
    "tag_variant",
    "validate_tag",
    "write_oci_layout",
]

TAG_PREFIX = "git-"
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_VARIANT_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def tag_variant(text: str) -> str:
    """A tag-safe slug of free text (``circuit-breaker:5:20`` -> ``circuit-breaker-5-20``)."""
    slug = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")[:64].strip("-.")
    if not slug:
        raise BadInput(f"{text!r} gives an empty tag variant.", fix="Use letters or digits.")
    return slug


def default_tag(commit: str | None, dirty: bool, variant: str = "") -> str:
    """``git-<12 hex>[-dirty][-<variant>]`` (``local-build[-<variant>]`` outside git).

    Every tag of a commit starts with ``git-``, which the ECR lifecycle rules match.
    """
    base = f"{TAG_PREFIX}{commit[:12]}" + ("-dirty" if dirty else "") if commit else "local-build"
    if variant and not _VARIANT_RE.match(variant):
        raise BadInput(
            f"Tag variant {variant!r} is not a slug.", fix="Use lowercase letters, digits, '.', '-'."
        )
    return f"{base}-{variant}" if variant else base


def validate_tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        raise BadInput(
            f"Image tag {tag!r} is not a valid tag.",
            fix="Use 1-128 characters from letters, digits, '_', '.', '-', not starting with '.' or '-'.",
        )
    return tag


@dataclass
class BuildResult:
    digest: str
    image_uri: str
    tag: str
    oci_layout: str | None
    source_commit: str | None
    built_at: str
    pushed: bool
    method: str
    annotations: dict[str, str] = field(default_factory=dict)
    scan_target: str | None = (
        None  # what `invoke scan --image` takes: the OCI layout or the local Docker image
    )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build(
    *,
    repo_root: Path,
    app_dir: Path | None = None,
    repository: str,
    region: str,
    tag: str | None = None,
    annotations: Mapping[str, str] | None = None,
    variant: str = "",
    push: bool = True,
    factory: ClientFactory | None = None,
    use_docker: bool | None = None,
) -> BuildResult:
    """Build `app_dir` (default ``repo_root/app``) and (by default) push it; writes .envpromote/build.json under
    `repo_root` and GitHub step outputs.

    `annotations` are added to the image manifest; `variant` is appended to the default tag. The tag's
    ``-dirty`` looks at uncommitted changes under `app_dir` only.
    """
    app_dir = app_dir if app_dir is not None else repo_root / "app"
    if not app_dir.is_dir():
        raise BadInput(
            f"build.app_dir: {app_dir} is not a directory.",
            fix="Set [build] app_dir in envpromote.toml to your app's folder (relative to the config's folder).",
        )
    commit, dirty = source_state(repo_root, _git_path(repo_root, app_dir))
    tag = validate_tag(tag or default_tag(commit, dirty, variant))
    extra = dict(annotations or {})
    factory = factory or ClientFactory(region)
    if use_docker is None:
        # A real registry and a Docker engine (a CI runner): build with Docker, scan the local image, then push
        # that same image. Otherwise (the sandbox, or no engine): the OCI layout.
        real_registry = not os.environ.get("AWS_ENDPOINT_URL") and not os.environ.get("AWS_ENDPOINT_URL_ECR")
        use_docker = real_registry and docker_available()
    context = _Context(repo_root, app_dir, factory, repository, tag, extra, commit, dirty, push)
    try:
        result = _docker_build(context) if use_docker else _oci_build(context)
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError) as exc:
        raise PreflightFailed(
            f"Cannot reach ECR ({exc}).",
            fix="Start the local AWS with 'invoke sandbox.up' and eval \"$(invoke sandbox.env)\", "
            "or unset AWS_ENDPOINT_URL to use AWS.",
        ) from None
    except subprocess.CalledProcessError as exc:
        raise PreflightFailed(
            f"'{' '.join(map(str, exc.cmd[:3]))}' failed with exit code {exc.returncode}.",
            fix="See Docker's output above; 'invoke build' without a Docker engine packs an OCI layout instead.",
        ) from None

    out = repo_root / ".envpromote" / "build.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    gha.set_output("digest", result.digest)
    gha.set_output("image_uri", result.image_uri)
    gha.set_output("scan_target", result.scan_target or "")
    return result


def _git_path(repo_root: Path, app_dir: Path) -> str:
    """`app_dir` as a pathspec relative to `repo_root` (where git runs), or absolute when outside it."""
    try:
        return app_dir.resolve().relative_to(repo_root.resolve()).as_posix() or "."
    except ValueError:
        return str(app_dir.resolve())


@dataclass(frozen=True)
class _Context:
    repo_root: Path
    app_dir: Path
    factory: ClientFactory
    repository: str
    tag: str
    annotations: Mapping[str, str]
    commit: str | None
    dirty: bool
    push: bool
    built_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def result(
        self,
        *,
        digest: str,
        image_uri: str,
        oci_layout: str | None,
        method: str,
        annotations: Mapping[str, str],
    ) -> BuildResult:
        """The record of this build; `scan_target` is the OCI layout, else the local Docker image."""
        return BuildResult(
            digest=digest,
            image_uri=image_uri,
            tag=self.tag,
            oci_layout=oci_layout,
            source_commit=self.commit,
            built_at=self.built_at,
            pushed=self.push,
            method=method,
            annotations=dict(annotations),
            scan_target=oci_layout or f"{LOCAL_IMAGE}:{self.tag}",
        )


def _docker_build(ctx: _Context) -> BuildResult:
    local_ref = f"{LOCAL_IMAGE}:{ctx.tag}"
    if not docker_image_exists(local_ref):
        docker_build_local(ctx.app_dir, ctx.tag, ctx.annotations)
    digest, image_uri = (
        "",
        local_ref,
    )  # a Docker build not pushed yet: the registry assigns the digest on push
    if ctx.push:
        digest, uri = docker_push(ctx.factory.client("ecr"), ctx.repository, ctx.tag, local_ref)
        image_uri = f"{uri}@{digest}"
    return ctx.result(
        digest=digest,
        image_uri=image_uri,
        oci_layout=None,
        method="docker-buildx",
        annotations=ctx.annotations,
    )


def _oci_build(ctx: _Context) -> BuildResult:
    app_dir = ctx.app_dir
    dockerfile = app_dir / "Dockerfile"
    config = parse_dockerfile(dockerfile.read_text()) if dockerfile.is_file() else ImageConfig()
    annotations = {"org.opencontainers.image.base.name": config.base}
    if ctx.commit:
        annotations["org.opencontainers.image.revision"] = ctx.commit + ("-dirty" if ctx.dirty else "")
    annotations.update(ctx.annotations)
    image = assemble_image(app_files(app_dir, config), config, annotations=annotations)
    layout = str(
        write_oci_layout(image, ctx.repo_root / ".envpromote" / "oci", ctx.tag).relative_to(ctx.repo_root)
    )
    uri = ctx.repository
    if ctx.push:
        ecr = ctx.factory.client("ecr")
        uri = repository_uri(ecr, ctx.repository)
        push_image(ecr, ctx.repository, image, ctx.tag)
    return ctx.result(
        digest=image.digest,
        image_uri=f"{uri}@{image.digest}",
        oci_layout=layout,
        method="oci-layout",
        annotations=image.annotations,
    )
