"""Fixtures for the scan tests: the real trivy binary, an isolated cache, and a tiny OCI image layout."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from envpromote.errors import PreflightFailed
from envpromote.scan import model, trivy

FIXTURES = Path(__file__).parent / "fixtures"
# Built at test time so the repository itself holds no image containing a secret-shaped string.
FAKE_IMAGE_TOKEN = "ghp_" + "FAKEimageFAKEimageFAKEimageFAKE00000"


@pytest.fixture(scope="session")
def fake_image_token() -> str:
    return FAKE_IMAGE_TOKEN


@pytest.fixture(scope="session")
def trivy_bin() -> str:
    try:
        return trivy.find_trivy()
    except PreflightFailed as exc:
        pytest.skip(
            f"TRIVY BINARY MISSING - scan tests NOT run: {exc.one_line()} "
            f"(the `test` dependency group installs {model.TRIVY_WHEEL})"
        )


@pytest.fixture(scope="session")
def empty_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trivy cache with no vulnerability database in it, whatever the user's ~/.cache holds."""
    return tmp_path_factory.mktemp("trivy-cache")


@pytest.fixture
def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _blob(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return digest


def write_oci_layout(layout: Path, files: dict[str, bytes], *, user: str | None) -> str:
    """A one-layer OCI image layout (the shape the build writes); returns the manifest digest hex."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    layer_tar = buffer.getvalue()
    layer_gz = gzip.compress(layer_tar, mtime=0)
    layer_digest = _blob(layout, layer_gz)
    container_config: dict[str, object] = {"Cmd": ["python", "-m", "app"]}
    if user is not None:
        container_config["User"] = user
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
            # trivy rebuilds a Dockerfile from the history to check the image config (USER, ...);
            # without history it checks nothing there.
            "history": [
                {"created_by": "COPY app /srv/app # buildkit"},
                {"created_by": 'CMD ["python", "-m", "app"]', "empty_layer": True},
            ],
        }
    ).encode()
    config_digest = _blob(layout, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + layer_digest,
                    "size": len(layer_gz),
                }
            ],
        }
    ).encode()
    manifest_digest = _blob(layout, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + manifest_digest,
                "size": len(manifest),
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return manifest_digest


@pytest.fixture(scope="session")
def make_oci_layout() -> Callable[..., str]:
    return write_oci_layout


@pytest.fixture(scope="session")
def oci_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image that runs as root, carries a python package and a planted FAKE token."""
    layout = tmp_path_factory.mktemp("oci") / "layout"
    write_oci_layout(
        layout,
        {
            "usr/lib/python3/site-packages/requests-2.19.0.dist-info/METADATA": (
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n"
            ),
            "srv/app/settings.py": f'TOKEN = "{FAKE_IMAGE_TOKEN}"\n'.encode(),
        },
        user=None,
    )
    return layout


def write_docker_archive(path: Path, files: dict[str, bytes]) -> None:
    """A `docker save`-style tarball (manifest.json, config, one layer) - trivy's other --input format."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    layer_tar = layer.getvalue()
    diff_id = hashlib.sha256(layer_tar).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"User": "1000"},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": ["app:scan-test"], "Layers": [f"{diff_id}/layer.tar"]}]
    ).encode()
    with tarfile.open(path, mode="w") as archive:
        for name, data in (
            (config_name, config),
            (f"{diff_id}/layer.tar", layer_tar),
            ("manifest.json", manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="session")
def make_docker_archive() -> Callable[[Path, dict[str, bytes]], None]:
    return write_docker_archive
