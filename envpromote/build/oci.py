"""THE one OCI image writer: reproducible layer, config, manifest and image layout (pure, bytes in, bytes out).

Everything that builds image bytes lives here - the app build, the sandbox's bootstrap image and test images
all go through `assemble_image` and `write_oci_layout`. Reproducible by construction (sorted entries, zero
mtimes/uids, gzip without timestamp), so the same input gives the same digest.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DEFAULT_WORKDIR = "/app"
DEFAULT_CMD = ("python", "-m", "envpromote_app")
EPOCH = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an OCI image config, as the Dockerfile's final stage declares it.

    `copies` are the final stage's COPY/ADD instructions from the build context: (sources, absolute dest).
    """

    cmd: tuple[str, ...] = DEFAULT_CMD
    entrypoint: tuple[str, ...] = ()
    user: str = ""
    workdir: str = DEFAULT_WORKDIR
    exposed_ports: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    base: str = "scratch"
    copies: tuple[tuple[tuple[str, ...], str], ...] = ()
    healthcheck: tuple[tuple[str, Any], ...] = ()


def content_digest(data: bytes) -> str:
    """The OCI digest of `data` (a blob, a manifest, an uncompressed layer's diff id): ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    """One content-addressed part of an image (its config or a layer): the bytes and their media type."""

    media_type: str
    data: bytes

    @functools.cached_property
    def digest(self) -> str:
        """Computed once: a layer's bytes are hashed for its descriptor and again for its blob file otherwise."""
        return content_digest(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class OciImage:
    """A complete image: the manifest bytes are what ECR stores and what the digest is taken of."""

    manifest: bytes
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def digest(self) -> str:
        return content_digest(self.manifest)

    @property
    def annotations(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(self.manifest).get("annotations", {})
        return data


def reproducible_tar(files: Iterable[tuple[str, bytes, int]]) -> bytes:
    """A tar of (path, content, mode) with parent directories, sorted, zero mtimes and owners."""
    entries = sorted(files)
    directories: set[str] = set()
    for path, _, _ in entries:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directories.add("/".join(parts[:i]))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted(directories):
            info = tarfile.TarInfo(directory + "/")
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for path, content, mode in entries:
            info = tarfile.TarInfo(path.strip("/"))
            info.size = len(content)
            info.mode = 0o755 if mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name, so equal input gives equal output."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="", compresslevel=6) as fh:
        fh.write(data)
    return buffer.getvalue()


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def config_history(config: ImageConfig, created: str) -> list[dict[str, Any]]:
    """The layer's history entry, then one empty-layer entry per instruction that shaped the config.

    Docker records every instruction in the history; scanners rebuild a Dockerfile from it to check the image
    config (trivy's DS-0026 "No HEALTHCHECK defined" looks for a ``HEALTHCHECK`` entry, not at
    ``config.Healthcheck``). The entries use the words Docker writes (``USER x``, ``HEALTHCHECK ...``),
    one ENV entry per variable so values with spaces stay one variable.
    """
    instructions = [f"ENV {key}={value}" for key, value in config.env]
    instructions.append(f"WORKDIR {config.workdir}")
    if config.user:
        instructions.append(f"USER {config.user}")
    if config.exposed_ports:
        instructions.append("EXPOSE " + " ".join(config.exposed_ports))
    if config.healthcheck:
        test = dict(config.healthcheck).get("Test", [])
        instructions.append("HEALTHCHECK " + json.dumps(test))
    if config.entrypoint:
        instructions.append("ENTRYPOINT " + json.dumps(list(config.entrypoint)))
    instructions.append("CMD " + json.dumps(list(config.cmd)))
    layer = {"created": created, "created_by": "envpromote build (OCI layout, no Docker)"}
    return [layer, *({"created": created, "created_by": line, "empty_layer": True} for line in instructions)]


def image_config_json(config: ImageConfig, diff_ids: list[str], created: str) -> bytes:
    """The OCI image config blob (canonical JSON: sorted keys, no spaces)."""
    runtime: dict[str, Any] = {"Cmd": list(config.cmd), "WorkingDir": config.workdir}
    if config.entrypoint:
        runtime["Entrypoint"] = list(config.entrypoint)
    if config.user:
        runtime["User"] = config.user
    if config.exposed_ports:
        runtime["ExposedPorts"] = {port: {} for port in config.exposed_ports}
    if config.env:
        runtime["Env"] = [f"{key}={value}" for key, value in config.env]
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    if config.healthcheck:
        runtime["Healthcheck"] = dict(config.healthcheck)
    return _canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": config_history(config, created),
        }
    )


def image_manifest_json(config: Blob, layers: list[Blob], annotations: Mapping[str, str]) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    if annotations:
        document["annotations"] = dict(sorted(annotations.items()))
    return _canonical(document)


def assemble_image(
    files: Iterable[tuple[str, bytes, int]],
    config: ImageConfig,
    *,
    annotations: Mapping[str, str],
    created: str = EPOCH,
) -> OciImage:
    """One-layer OCI image from files placed under the image's root (paths are absolute in the image)."""
    tar = reproducible_tar(files)
    layer = Blob(OCI_LAYER_GZIP, gzip_bytes(tar))
    diff_id = content_digest(tar)
    config_blob = Blob(OCI_CONFIG, image_config_json(config, [diff_id], created))
    manifest = image_manifest_json(config_blob, [layer], annotations)
    return OciImage(manifest=manifest, config=config_blob, layers=(layer,))


def write_oci_layout(image: OciImage, root: Path, tag: str) -> Path:
    """Write ``<root>/<digest-hex>/`` as an OCI image layout; returns that directory."""
    layout = root / image.digest.removeprefix("sha256:")
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (image.config, *image.layers, Blob(OCI_MANIFEST, image.manifest)):
        (blobs / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}) + "\n")
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": image.digest,
                "size": len(image.manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return layout
