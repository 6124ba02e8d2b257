"""`invoke build` without Docker: a real, reproducible OCI image layout, pushed to the sandbox's ECR by digest."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from envpromote.build import (
    ImageConfig,
    app_files,
    assemble_image,
    build,
    default_tag,
    parse_dockerfile,
    tag_variant,
    write_oci_layout,
)
from envpromote.errors import BadInput
from envpromote.sandbox.provisioning import bootstrap_image
from envpromote.sandbox.scenarios import SCENARIO_ANNOTATION
from envpromote.sandbox.testing import Sandbox

REPO_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "envpromote-app"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of app/ and envpromote.toml outside the repository (build.json and the layout land here)."""
    shutil.copytree(
        REPO_ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__", "tests")
    )
    shutil.copy(REPO_ROOT / "envpromote.toml", tmp_path / "envpromote.toml")
    return tmp_path


def test_digest_is_sha256_of_the_manifest_and_blobs_match(project: Path) -> None:
    result = build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="t1", push=False)
    layout = project / result.oci_layout  # type: ignore[operator]
    assert layout.name == result.digest.removeprefix("sha256:")
    blobs = layout / "blobs" / "sha256"
    for blob in blobs.iterdir():
        assert sha256(blob.read_bytes()) == "sha256:" + blob.name
    manifest_bytes = (blobs / layout.name).read_bytes()
    assert sha256(manifest_bytes) == result.digest
    manifest = json.loads(manifest_bytes)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    for descriptor in [manifest["config"], *manifest["layers"]]:
        data = (blobs / descriptor["digest"].removeprefix("sha256:")).read_bytes()
        assert len(data) == descriptor["size"]
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == result.digest
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "t1"
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}

    config = json.loads((blobs / manifest["config"]["digest"].removeprefix("sha256:")).read_bytes())
    layer = (blobs / manifest["layers"][0]["digest"].removeprefix("sha256:")).read_bytes()
    assert config["rootfs"]["diff_ids"] == [sha256(gzip.decompress(layer))]
    assert config["config"]["Cmd"] == ["python", "-m", "envpromote_app"]
    assert config["config"]["User"] == "10001:10001"
    assert config["config"]["WorkingDir"] == "/app"
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert "PYTHONPATH=/app" in config["config"]["Env"]
    assert config["config"]["Healthcheck"]["Test"][0] == "CMD"

    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members if m.isfile()]
    assert "app/envpromote_app/__main__.py" in names
    assert "app/requirements.txt" in names
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)

    record = json.loads((project / ".envpromote" / "build.json").read_text())
    assert (record["digest"], record["tag"], record["pushed"]) == (result.digest, "t1", False)


def test_same_source_same_digest_and_any_change_changes_it(project: Path) -> None:
    first = build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="a", push=False)
    (project / "app" / "src" / "envpromote_app" / "__main__.py").touch()  # mtime only: same digest
    second = build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="b", push=False)
    assert first.digest == second.digest
    with (project / "app" / "src" / "envpromote_app" / "app.py").open("a") as fh:
        fh.write("\n# changed\n")
    third = build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="c", push=False)
    assert third.digest != first.digest
    annotated = build(
        repo_root=project,
        repository=REPOSITORY,
        region="us-east-1",
        tag="d",
        push=False,
        annotations={SCENARIO_ANNOTATION: "stuck"},
    )
    assert annotated.digest != third.digest
    assert annotated.annotations["org.envpromote.sandbox-scenario"] == "stuck"


def test_dockerfile_final_stage_and_args() -> None:
    config = parse_dockerfile(
        "ARG BASE=python:3.12-slim\n"
        'FROM golang AS build\nCMD ["go"]\nUSER 1\n'
        'FROM ${BASE}\nENV A=1 \\\n    B="two words"\nENV PATH=/x/bin:$PATH\nWORKDIR /srv\nWORKDIR app\n'
        "COPY --from=build /out /out\nCOPY src/ ./src/\nEXPOSE 8080 9000/udp\nUSER nobody\n"
        'ENTRYPOINT ["tini", "--"]\nCMD python -m app\n'
    )
    assert config.base == "python:3.12-slim"
    assert config.workdir == "/srv/app"
    assert config.user == "nobody"
    assert dict(config.env) == {
        "A": "1",
        "B": "two words",
        "PATH": "/x/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    }
    assert config.copies == ((("src/",), "/srv/app/src/"),)
    assert config.exposed_ports == ("8080/tcp", "9000/udp")
    assert config.entrypoint == ("tini", "--")
    assert config.cmd == ("/bin/sh", "-c", "python -m app")


def test_copy_outside_the_context_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    config = ImageConfig(copies=((("../secrets",), "/app/"),))
    with pytest.raises(BadInput, match="outside app/"):
        app_files(tmp_path / "app", config)


def test_layout_writer_and_assembler_are_pure_functions_of_their_input(tmp_path: Path) -> None:
    image = assemble_image([("x/y", b"data", 0o644)], ImageConfig(), annotations={"k": "v"})
    again = assemble_image([("x/y", b"data", 0o644)], ImageConfig(), annotations={"k": "v"})
    assert image == again
    assert image.digest == sha256(image.manifest)
    layout = write_oci_layout(image, tmp_path, "tag")
    assert (layout / "blobs" / "sha256" / image.digest.removeprefix("sha256:")).read_bytes() == image.manifest
    assert bootstrap_image().digest == bootstrap_image().digest


def test_push_registers_the_image_by_its_manifest_digest(sandbox: Sandbox, project: Path) -> None:
    result = build(
        repo_root=project,
        repository=REPOSITORY,
        region="us-east-1",
        tag="v1",
        annotations={SCENARIO_ANNOTATION: "healthy:1"},
    )
    assert result.pushed
    assert result.method == "oci-layout"
    ecr = boto3.client("ecr")
    uri = ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["repositoryUri"]
    assert result.image_uri == f"{uri}@{result.digest}"
    [detail] = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}])["imageDetails"]
    assert detail["imageDigest"] == result.digest
    [image] = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": result.digest}])[
        "images"
    ]
    assert sha256(image["imageManifest"].encode()) == result.digest
    assert json.loads(image["imageManifest"])["annotations"]["org.envpromote.sandbox-scenario"] == "healthy:1"

    again = build(
        repo_root=project,
        repository=REPOSITORY,
        region="us-east-1",
        tag="v1",
        annotations={SCENARIO_ANNOTATION: "healthy:1"},
    )
    assert again.digest == result.digest  # reproducible, and pushing it again is not an error

    with (project / "app" / "src" / "envpromote_app" / "app.py").open("a") as fh:
        fh.write("\n# changed\n")
    with pytest.raises(BadInput, match="already points at another image"):
        build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="v1")


def test_image_annotation_chooses_the_scenario_and_the_task_tag_wins(sandbox: Sandbox, project: Path) -> None:
    ecs = boto3.client("ecs")
    result = build(
        repo_root=project,
        repository=REPOSITORY,
        region="us-east-1",
        tag="cb",
        annotations={SCENARIO_ANNOTATION: "circuit-breaker:0.3:0.6"},
    )

    def roll_out(tags: list[dict[str, str]]) -> list[str]:
        td = ecs.register_task_definition(
            family="envpromote-dev-web",
            containerDefinitions=[{"name": "web", "image": result.image_uri, "memory": 512}],
            **({"tags": tags} if tags else {}),
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster="envpromote-dev", service="envpromote-dev-web", taskDefinition=td)
        ecs.get_waiter("services_stable").wait(
            cluster="envpromote-dev",
            services=["envpromote-dev-web"],
            WaiterConfig={"Delay": 0.2, "MaxAttempts": 50},
        )
        [service] = sandbox.timeline("envpromote-dev", "envpromote-dev-web")
        return [e["state"] for e in service["entries"] if e["state"] != "TASK_STOPPED"]

    assert roll_out([]) == ["IN_PROGRESS", "FAILED", "ROLLBACK_IN_PROGRESS", "COMPLETED"]
    assert roll_out([{"key": "sandbox-scenario", "value": "healthy:0.2"}])[-2:] == [
        "IN_PROGRESS",
        "COMPLETED",
    ]


def test_bad_tag_is_bad_input_and_pushes_nothing(sandbox: Sandbox, project: Path) -> None:
    ecr = boto3.client("ecr")
    before = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    with pytest.raises(BadInput, match="not a valid tag"):
        build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="-bad tag")
    assert ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] == before


def test_default_tags_start_with_git_and_scenario_builds_get_their_own() -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert default_tag(commit, False) == "git-0123456789ab"
    assert default_tag(commit, True) == "git-0123456789ab-dirty"
    variant = tag_variant("circuit-breaker:5:20")
    assert variant == "circuit-breaker-5-20"
    assert default_tag(commit, True, variant) == "git-0123456789ab-dirty-circuit-breaker-5-20"
    assert default_tag(None, False, tag_variant("throttle:0.5")) == "local-build-throttle-0.5"
    with pytest.raises(BadInput):
        default_tag(commit, False, "Not A Slug")


def run_invoke(project: Path, *args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), *args],
        cwd=project,
        env={**os.environ, "ENVPROMOTE_CONFIG": str(project / "envpromote.toml")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_invoke_build_prints_the_digest_and_json(sandbox: Sandbox, project: Path) -> None:
    plain = run_invoke(project, "build", "--tag", "cli-1")
    assert plain.returncode == 0, plain.stderr
    digest = plain.stdout.strip()
    assert digest.startswith("sha256:")
    assert len(digest) == 71
    as_json = run_invoke(project, "build", "--tag", "cli-1", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["digest"] == digest
    bad = run_invoke(project, "sandbox.build", "--scenario", "sometimes")
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("envpromote: error: unknown sandbox scenario 'sometimes'")
    assert "Traceback" not in bad.stderr


def test_scenario_build_after_a_plain_build_of_the_same_commit_gets_a_distinct_tag(
    sandbox: Sandbox, project: Path
) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run([*git, "-C", str(project), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(project), "commit", "-q", "-m", "app"], check=True)
    head = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    plain = run_invoke(project, "build", "--json")
    assert plain.returncode == 0, plain.stderr
    scenario = run_invoke(project, "sandbox.build", "--scenario", "circuit-breaker:5:20", "--json")
    assert scenario.returncode == 0, scenario.stderr
    plain_record, scenario_record = json.loads(plain.stdout), json.loads(scenario.stdout)
    assert plain_record["tag"] == f"git-{head[:12]}"
    assert scenario_record["tag"] == f"git-{head[:12]}-circuit-breaker-5-20"
    assert scenario_record["scenario"] == "circuit-breaker:5:20"
    assert scenario_record["annotations"][SCENARIO_ANNOTATION] == "circuit-breaker:5:20"
    assert scenario_record["digest"] != plain_record["digest"]
    again = run_invoke(project, "sandbox.build", "--scenario", "circuit-breaker:5:20", "--json")
    assert again.returncode == 0, again.stderr  # same commit, same scenario: same image, nothing to refuse
    assert json.loads(again.stdout)["digest"] == scenario_record["digest"]
    tags = {
        tag
        for detail in boto3.client("ecr").describe_images(repositoryName=REPOSITORY)["imageDetails"]
        for tag in detail.get("imageTags", [])
    }
    assert {plain_record["tag"], scenario_record["tag"]} <= tags


def test_unreachable_registry_is_a_preflight_failure(project: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens once the probe is closed
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"}
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "build", "--tag", "x"],
        cwd=project,
        env={
            **env,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "ENVPROMOTE_CONFIG": str(project / "envpromote.toml"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 4
    assert result.stderr.strip().startswith("envpromote: error: Cannot reach ECR")
    assert "invoke sandbox.up" in result.stderr


def _trivy() -> str | None:
    local = Path(sys.executable).parent / "trivy"
    return str(local) if local.is_file() else shutil.which("trivy")


def _image_config_failures(trivy: str, layout: Path, cache: Path) -> set[str]:
    offline = [
        "--skip-db-update",
        "--offline-scan",
        "--format",
        "json",
        "--image-config-scanners",
        "misconfig",
    ]
    scan = subprocess.run(
        [trivy, "image", "--input", str(layout), "--cache-dir", str(cache), "--scanners", "secret", *offline],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results = json.loads(scan.stdout).get("Results") or []
    return {m["ID"] for r in results for m in r.get("Misconfigurations") or [] if m["Status"] == "FAIL"}


def test_the_image_history_carries_the_healthcheck_so_scanners_see_it(project: Path, tmp_path: Path) -> None:
    """trivy rebuilds a Dockerfile from the image history (not the config's Healthcheck): DS-0026 came from a
    history that recorded no HEALTHCHECK. The check still fires for a Dockerfile that really has none."""
    result = build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="hc", push=False)
    layout = project / str(result.oci_layout)
    manifest = json.loads((layout / "blobs" / "sha256" / layout.name).read_bytes())
    config = json.loads((layout / "blobs" / "sha256" / manifest["config"]["digest"][7:]).read_bytes())
    history = [entry["created_by"] for entry in config["history"]]
    assert any(line.startswith("HEALTHCHECK ") for line in history)
    assert "USER 10001:10001" in history
    assert [entry.get("empty_layer", False) for entry in config["history"]].count(False) == len(
        manifest["layers"]
    )
    trivy = _trivy()
    if trivy is None:
        pytest.skip("NO TRIVY: the scanner half of this test did not run (install the project's test group)")
    assert "DS-0026" not in _image_config_failures(trivy, layout, tmp_path / "cache")

    dockerfile = project / "app" / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    dockerfile.write_text("\n".join(lines[:start] + lines[start + 2 :]) + "\n")  # HEALTHCHECK spans two lines
    without = build(repo_root=project, repository=REPOSITORY, region="us-east-1", tag="nohc", push=False)
    assert "DS-0026" in _image_config_failures(trivy, project / str(without.oci_layout), tmp_path / "cache")
