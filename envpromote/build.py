"""Build the app image once and push it to ECR; the digest is what gets promoted.

Two paths, one result (an image in ECR addressed by ``sha256:`` digest):

* **No Docker engine** (this machine, the sandbox): pack ``app/`` into a real OCI image layout
  (``.envpromote/oci/<digest-hex>/``: ``oci-layout``, ``index.json``, ``blobs/sha256/...``) and push it with
  ECR's own layer-upload API plus ``PutImage``. The layer holds ``app/src`` and the requirements; the image config
  (Cmd, User, WorkingDir, ExposedPorts, Env) is read from the Dockerfile's final stage. The base image's layers
  are not included (nothing can be pulled offline); the base is recorded as an annotation.
* **Docker engine reachable and a real registry** (no ``AWS_ENDPOINT_URL``): ``docker buildx build --push`` and
  the digest is read back from ECR.

Everything that builds bytes (tar layer, config, manifest) is a pure function; reproducible by construction
(sorted entries, zero mtimes/uids, gzip without timestamp), so the same source gives the same digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions

from envpromote import gha
from envpromote.aws import ClientFactory
from envpromote.errors import BadInput, PreflightFailed

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCENARIO_ANNOTATION = "org.envpromote.sandbox-scenario"
DEFAULT_WORKDIR = "/app"
DEFAULT_CMD = ("python", "-m", "envpromote_app")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_UPLOAD_PART_BYTES = 10 * 1024 * 1024


# --------------------------------------------------------------------------------------------- pure parts
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


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

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
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    @property
    def annotations(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(self.manifest).get("annotations", {})
        return data


def _json_words(text: str) -> tuple[str, ...] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((current + stripped).strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _key_values(rest: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        return [(words[0], " ".join(words[1:]))]
    pairs = []
    for word in words:
        key, _, value = word.partition("=")
        pairs.append((key, value))
    return pairs


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def _expand(text: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values.get(m.group(1) or m.group(2), ""), text)


def _nanoseconds(value: str) -> int:
    match = _DURATION.match(value)
    return int(float(match.group(1)) * _NS[match.group(2)]) if match else 0


def _healthcheck(rest: str) -> tuple[tuple[str, Any], ...]:
    words = rest.split()
    options: dict[str, Any] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        names = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod"}
        if key in names:
            options[names[key]] = _nanoseconds(value)
        elif key == "retries":
            options["Retries"] = int(value)
    command = " ".join(words)
    if command.upper() == "NONE":
        return (("Test", ["NONE"]),)
    instruction, _, body = command.partition(" ")
    if instruction.upper() == "CMD":
        argv = _json_words(body.strip())
        options["Test"] = ["CMD", *argv] if argv else ["CMD-SHELL", body.strip()]
    return tuple(sorted(options.items()))


def parse_dockerfile(text: str) -> ImageConfig:
    """The image config declared by the final stage (FROM starts a stage; later stages replace earlier ones)."""
    args: dict[str, str] = {}
    cmd: tuple[str, ...] = DEFAULT_CMD
    entrypoint: tuple[str, ...] = ()
    user = ""
    workdir = "/"
    ports: list[str] = []
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    copies: list[tuple[tuple[str, ...], str]] = []
    healthcheck: tuple[tuple[str, Any], ...] = ()
    base = "scratch"
    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        scope = {"PATH": DOCKER_DEFAULT_PATH, **args, **env}
        if instruction == "ARG":
            for key, value in _key_values(rest):
                args.setdefault(key, value)
        elif instruction == "FROM":
            base = _expand(rest.split()[0], args) if rest else "scratch"
            cmd, entrypoint, user, workdir = DEFAULT_CMD, (), "", "/"
            ports, env, labels, copies, healthcheck = [], {}, {}, [], ()
        elif instruction in {"CMD", "ENTRYPOINT"}:
            words = _json_words(rest) or ("/bin/sh", "-c", rest)
            if instruction == "CMD":
                cmd = words
            else:
                entrypoint = words
        elif instruction == "USER":
            user = _expand(rest, scope)
        elif instruction == "WORKDIR":
            rest = _expand(rest, scope)
            workdir = posixpath.normpath(posixpath.join(workdir, rest))
        elif instruction == "EXPOSE":
            for port in _expand(rest, scope).split():
                ports.append(port if "/" in port else f"{port}/tcp")
        elif instruction == "ENV":
            for key, value in _key_values(rest):
                env[key] = _expand(value, {"PATH": DOCKER_DEFAULT_PATH, **args, **env})
        elif instruction == "LABEL":
            labels.update(_key_values(rest))
        elif instruction == "HEALTHCHECK":
            healthcheck = _healthcheck(rest)
        elif instruction in {"COPY", "ADD"}:
            words = _json_words(rest) or tuple(shlex.split(rest))
            if any(w.startswith("--from") for w in words):
                continue  # from another stage: built by Docker only
            paths = [_expand(w, scope) for w in words if not w.startswith("--")]
            if len(paths) >= 2:
                dest = posixpath.normpath(posixpath.join(workdir, paths[-1]))
                if paths[-1].endswith("/") and not dest.endswith("/"):
                    dest += "/"
                copies.append((tuple(paths[:-1]), dest))
    return ImageConfig(
        cmd=cmd,
        entrypoint=entrypoint,
        user=user,
        workdir=workdir,
        exposed_ports=tuple(sorted(set(ports))),
        env=tuple(env.items()),
        labels=tuple(sorted(labels.items())),
        base=base,
        copies=tuple(copies),
        healthcheck=healthcheck,
    )


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
    document = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": "envpromote build (OCI layout, no Docker)"}],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def image_manifest_json(config: Blob, layers: list[Blob], annotations: Mapping[str, str]) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    if annotations:
        document["annotations"] = dict(sorted(annotations.items()))
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def assemble_image(
    files: Iterable[tuple[str, bytes, int]],
    config: ImageConfig,
    *,
    annotations: Mapping[str, str],
    created: str = "1970-01-01T00:00:00Z",
) -> OciImage:
    """One-layer OCI image from files placed under the image's root (paths are absolute in the image)."""
    tar = reproducible_tar(files)
    layer = Blob(OCI_LAYER_GZIP, gzip_bytes(tar))
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    config_blob = Blob(OCI_CONFIG, image_config_json(config, [diff_id], created))
    manifest = image_manifest_json(config_blob, [layer], annotations)
    return OciImage(manifest=manifest, config=config_blob, layers=(layer,))


def bootstrap_image() -> OciImage:
    """The tiny image every sandbox service starts on before the first real deploy."""
    config = ImageConfig(cmd=("/bootstrap/hello",), workdir="/bootstrap", user="65534")
    content = b"#!/bin/sh\necho 'envpromote sandbox bootstrap image'\n"
    return assemble_image(
        [("bootstrap/hello", content, 0o755)],
        config,
        annotations={"org.opencontainers.image.title": "envpromote-bootstrap"},
    )


def _context_files(app_dir: Path, source: str) -> list[tuple[Path, str]]:
    """(file, path relative to the source) for a COPY source, skipping caches as app/.dockerignore does."""
    root = (app_dir / source).resolve()
    if not root.is_relative_to(app_dir.resolve()):
        raise BadInput(f"Dockerfile COPY source {source!r} is outside app/.", fix="Copy only from app/.")
    if root.is_file():
        return [(root, root.name)]
    return [
        (p, p.relative_to(root).as_posix())
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".pyc", ".pyo"))
    ]


def app_files(app_dir: Path, config: ImageConfig) -> list[tuple[str, bytes, int]]:
    """The app layer: what the Dockerfile's final stage copies from the context (else app/src under WORKDIR),
    plus app/requirements.txt under WORKDIR (the virtualenv itself needs Docker and a package index)."""
    placed: dict[str, Path] = {}
    copies = config.copies or ((("src",), f"{config.workdir.rstrip('/')}/src/"),)
    for sources, dest in copies:
        for source in sources:
            for path, relative in _context_files(app_dir, source):
                into_dir = dest.endswith("/") or len(sources) > 1 or (app_dir / source).is_dir()
                target = f"{dest.rstrip('/')}/{relative}" if into_dir else dest
                placed[target.lstrip("/")] = path
    requirements = app_dir / "requirements.txt"
    if requirements.is_file():
        placed.setdefault(f"{config.workdir.strip('/')}/requirements.txt".lstrip("/"), requirements)
    if not placed:
        raise BadInput(
            f"Nothing to build in {app_dir}: the Dockerfile copies nothing and there is no src/ directory.",
            fix="Run 'invoke build' from the repository root (it packs app/), or create app/src.",
        )
    return [(target, path.read_bytes(), path.stat().st_mode) for target, path in sorted(placed.items())]


def default_tag(commit: str | None, dirty: bool) -> str:
    if not commit:
        return "local-build"
    return f"git-{commit[:12]}" + ("-dirty" if dirty else "")


def validate_tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        raise BadInput(
            f"Image tag {tag!r} is not a valid tag.",
            fix="Use 1-128 characters from letters, digits, '_', '.', '-', not starting with '.' or '-'.",
        )
    return tag


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


# ------------------------------------------------------------------------------------------------- I/O
def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def source_state(repo: Path) -> tuple[str | None, bool]:
    """(HEAD commit, whether the tree has uncommitted changes under app/)."""
    commit = _git(repo, "rev-parse", "HEAD")
    status = _git(repo, "status", "--porcelain", "--", "app")
    return commit, bool(status)


def push_image(ecr: Any, repository: str, image: OciImage, tag: str) -> None:
    """Upload the blobs with ECR's layer API, then PutImage with the manifest's own digest.

    Works against real ECR (which requires the blobs first) and the sandbox alike. An identical image that is
    already there is fine (builds are reproducible); a tag that points at another image is refused.
    """
    blobs = [image.config, *image.layers]
    try:
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
        if code == "ImageAlreadyExistsException" and _tagged_digest(ecr, repository, tag) == image.digest:
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


def _tagged_digest(ecr: Any, repository: str, tag: str) -> str | None:
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except botocore.exceptions.ClientError:
        return None
    return str(details[0]["imageDigest"]) if details else None


def _registry_uri(ecr: Any, repository: str) -> str:
    try:
        repo = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] == "RepositoryNotFoundException":
            raise PreflightFailed(
                f"ECR repository {repository!r} does not exist.",
                fix="Create it with 'invoke infra.apply' (AWS) or 'invoke sandbox.up' (local).",
            ) from None
        raise
    return str(repo["repositoryUri"])


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        subprocess.run(["docker", "info"], capture_output=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@dataclass
class BuildResult:
    digest: str
    image_uri: str
    tag: str
    oci_layout: str | None
    source_commit: str | None
    scenario: str | None
    built_at: str
    pushed: bool
    method: str
    annotations: dict[str, str] = field(default_factory=dict)
    scan_target: str | None = (
        None  # what `invoke scan --image` takes: the OCI layout or the local Docker image
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "image_uri": self.image_uri,
            "tag": self.tag,
            "oci_layout": self.oci_layout,
            "source_commit": self.source_commit,
            "scenario": self.scenario,
            "built_at": self.built_at,
            "pushed": self.pushed,
            "method": self.method,
            "scan_target": self.scan_target,
        }


LOCAL_IMAGE = "envpromote-local"


def _docker_image_exists(ref: str) -> bool:
    probe = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, check=False)
    return probe.returncode == 0


def _docker_build_local(app_dir: Path, tag: str, scenario: str | None) -> str:
    """The one build: `docker buildx build --load` into the local engine, so it can be scanned before a push."""
    ref = f"{LOCAL_IMAGE}:{tag}"
    command = ["docker", "buildx", "build", "--load", "--provenance=false", "-t", ref]
    if scenario:
        command += ["--annotation", f"manifest:{SCENARIO_ANNOTATION}={scenario}"]
    subprocess.run([*command, str(app_dir)], check=True)
    return ref


def _docker_push(ecr: Any, repository: str, tag: str, local_ref: str) -> tuple[str, str]:
    """Push the already-built local image under its immutable tag; the digest is read back from ECR."""
    import base64

    uri = _registry_uri(ecr, repository)
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


def build(
    *,
    repo_root: Path,
    repository: str,
    region: str,
    tag: str | None = None,
    scenario: str | None = None,
    push: bool = True,
    factory: ClientFactory | None = None,
    use_docker: bool | None = None,
) -> BuildResult:
    """Build app/ and (by default) push it; writes .envpromote/build.json and GitHub step outputs."""
    if scenario is not None:
        from envpromote.sandbox.scenarios import ScenarioError, parse_scenario

        try:
            parse_scenario(scenario)
        except ScenarioError as exc:
            raise BadInput(str(exc), fix="Pass --scenario with one of the forms listed.") from None
    app_dir = repo_root / "app"
    commit, dirty = source_state(repo_root)
    tag = validate_tag(tag or default_tag(commit, dirty))
    built_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    factory = factory or ClientFactory(region)
    real_registry = not os.environ.get("AWS_ENDPOINT_URL") and not os.environ.get("AWS_ENDPOINT_URL_ECR")
    if use_docker is None:
        # A real registry and a Docker engine (a CI runner): build with Docker, scan the local image, then push
        # that same image. Otherwise (the sandbox, or no engine): the OCI layout.
        use_docker = real_registry and docker_available()

    try:
        result = _build_and_push(
            app_dir,
            repo_root,
            factory,
            repository,
            region,
            tag,
            scenario,
            push,
            use_docker,
            commit,
            dirty,
            built_at,
        )
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


def _build_and_push(
    app_dir: Path,
    repo_root: Path,
    factory: ClientFactory,
    repository: str,
    region: str,
    tag: str,
    scenario: str | None,
    push: bool,
    use_docker: bool,
    commit: str | None,
    dirty: bool,
    built_at: str,
) -> BuildResult:
    if use_docker:
        local_ref = f"{LOCAL_IMAGE}:{tag}"
        if not _docker_image_exists(local_ref):
            _docker_build_local(app_dir, tag, scenario)
        if not push:
            return BuildResult(
                "",
                local_ref,
                tag,
                None,
                commit,
                scenario,
                built_at,
                False,
                "docker-buildx",
                scan_target=local_ref,
            )
        digest, uri = _docker_push(factory.client("ecr"), repository, tag, local_ref)
        result = BuildResult(
            digest,
            f"{uri}@{digest}",
            tag,
            None,
            commit,
            scenario,
            built_at,
            True,
            "docker-buildx",
            scan_target=local_ref,
        )
    else:
        dockerfile = app_dir / "Dockerfile"
        config = parse_dockerfile(dockerfile.read_text()) if dockerfile.is_file() else ImageConfig()
        annotations = {"org.opencontainers.image.base.name": config.base}
        if commit:
            annotations["org.opencontainers.image.revision"] = commit + ("-dirty" if dirty else "")
        if scenario:
            annotations[SCENARIO_ANNOTATION] = scenario
        image = assemble_image(app_files(app_dir, config), config, annotations=annotations)
        layout = write_oci_layout(image, repo_root / ".envpromote" / "oci", tag)
        uri = repository
        if push:
            ecr = factory.client("ecr")
            uri = _registry_uri(ecr, repository)
            push_image(ecr, repository, image, tag)
        result = BuildResult(
            image.digest,
            f"{uri}@{image.digest}",
            tag,
            str(layout.relative_to(repo_root)),
            commit,
            scenario,
            built_at,
            push,
            "oci-layout",
            image.annotations,
            scan_target=str(layout.relative_to(repo_root)),
        )
    return result
