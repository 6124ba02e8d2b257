"""The promotion tagger's handler (infra/modules/promotion-tagger/src) against a local moto server: it tags the
digest a success record names, and refuses records it cannot trust."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

SOURCE = (
    Path(__file__).resolve().parents[2]
    / "infra"
    / "modules"
    / "promotion-tagger"
    / "src"
    / "promotion_tagger.py"
)
BUCKET = "ledger-test"
REPOSITORY = "envpromote-app"
PREFIX = "releases"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("promotion_tagger", SOURCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["promotion_tagger"] = module
    spec.loader.exec_module(module)
    return module


tagger = _load()


def manifest(seed: str) -> tuple[str, str]:
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(seed.encode()).hexdigest(),
                "size": 10,
            },
            "layers": [],
        },
        sort_keys=True,
    )
    return body, "sha256:" + hashlib.sha256(body.encode()).hexdigest()


class World:
    def __init__(self, endpoint: str) -> None:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.ecr = session.client("ecr", endpoint_url=endpoint)
        self.registry = self.ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")[
            "repository"
        ]["repositoryUri"].split("/")[0]
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.settings = tagger.Settings(repository=REPOSITORY, prefix=PREFIX)

    def push(self, seed: str, tag: str) -> str:
        body, digest = manifest(seed)
        self.ecr.put_image(
            repositoryName=REPOSITORY,
            imageManifest=body,
            imageManifestMediaType="application/vnd.oci.image.manifest.v1+json",
            imageTag=tag,
            imageDigest=digest,
        )
        return digest

    def record(self, environment: str, digest: str, /, **changes: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "schema_version": 1,
            "sequence": 1,
            "environment": environment,
            "digest": digest,
            "image_uri": f"{self.registry}/{REPOSITORY}@{digest}",
            "status": "success",
            "kind": "promote",
        }
        record.update(changes)
        return record

    def write(self, key: str, body: Any) -> dict[str, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        version = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data).get("VersionId")
        return {
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": BUCKET},
                "object": {"key": key.replace(" ", "+"), "versionId": version},
            },
        }

    def tags_of(self, digest: str) -> set[str]:
        details = self.ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageDigest": digest}])
        return set(details["imageDetails"][0].get("imageTags", []))

    def run(self, *entries: dict[str, Any]) -> list[Any]:
        result: list[Any] = tagger.handle({"Records": list(entries)}, self.s3, self.ecr, self.settings)
        return result


@pytest.fixture
def world(moto_endpoint: str) -> World:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()  # noqa: S310 - 127.0.0.1
    return World(moto_endpoint)


def test_success_record_tags_its_digest_and_a_replay_is_harmless(world: World) -> None:
    digest = world.push("a", "git-0123456789ab")
    event = world.write(
        f"{PREFIX}/envs/staging/r/9999999998.json", world.record("staging", digest, schema_version=2)
    )
    [outcome] = world.run(event)
    tag = f"promoted-staging-{digest.removeprefix('sha256:')[:12]}"
    assert (outcome.action, outcome.tag, outcome.digest) == ("tagged", tag, digest)
    assert world.tags_of(digest) == {"git-0123456789ab", tag}
    [again] = world.run(event)
    assert again.action == "already-tagged"
    assert world.tags_of(digest) == {"git-0123456789ab", tag}


def test_rollback_success_tags_the_last_known_good_digest(world: World) -> None:
    digest = world.push("good", "git-aaaaaaaaaaaa")
    event = world.write(
        f"{PREFIX}/envs/production/9999999998.json", world.record("production", digest, kind="rollback")
    )
    assert [o.action for o in world.run(event)] == ["tagged"]
    assert f"promoted-production-{digest[7:19]}" in world.tags_of(digest)


@pytest.mark.parametrize(
    ("key", "body", "detail"),
    [
        (f"{PREFIX}/envs/dev/head.json", {"last_sequence": 3, "last_success": None}, "not a release record"),
        (f"{PREFIX}/envs/dev/0000000002.json", b"\xff not json", "not a release record"),
        (f"{PREFIX}/builds/abc/1.json", {"status": "success", "schema_version": 1}, "not a record key"),
        (f"{PREFIX}/envs/dev/0000000003.json", "rolled_back", "is not success"),
        (f"{PREFIX}/envs/dev/0000000004.json", "in_progress", "is not success"),
        (f"{PREFIX}/envs/dev/r/9999999994.json", "lock_break", "releases nothing"),
    ],
)
def test_objects_that_are_not_success_records_are_skipped(
    world: World, key: str, body: Any, detail: str
) -> None:
    digest = world.push("b", "git-bbbbbbbbbbbb")
    if body == "lock_break":
        body = world.record("dev", digest, kind="lock_break")
    elif isinstance(body, str):
        body = world.record("dev", digest, status=body)
    [outcome] = world.run(world.write(key, body))
    assert outcome.action == "skipped"
    assert detail in outcome.detail
    assert world.tags_of(digest) == {"git-bbbbbbbbbbbb"}


def test_record_of_another_repository_is_skipped(world: World) -> None:
    digest = world.push("c", "git-cccccccccccc")
    record = world.record("dev", digest, image_uri=f"{world.registry}/other-app@{digest}")
    [outcome] = world.run(world.write(f"{PREFIX}/envs/dev/1.json", record))
    assert outcome.action == "skipped"
    assert world.tags_of(digest) == {"git-cccccccccccc"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"environment": "production"}, "is not the key's 'staging'"),
        ({"digest": "sha256:ABC"}, "digest is not sha256:<64 hex>"),
        ({"image_uri": "x/envpromote-app@sha256:" + "0" * 64}, "image_uri names another digest"),
        ({"schema_version": 7}, "schema_version 7 unknown"),
        ({"kind": "bogus"}, "is not a release"),
    ],
)
def test_success_records_that_fail_a_check_are_refused_loudly(
    world: World, changes: dict[str, Any], expected: str
) -> None:
    digest = world.push("d", "git-dddddddddddd")
    event = world.write(f"{PREFIX}/envs/staging/5.json", world.record("staging", digest, **changes))
    with pytest.raises(RuntimeError, match="RecordRejected") as caught:
        world.run(event)
    assert expected in str(caught.value)
    assert world.tags_of(digest) == {"git-dddddddddddd"}


def test_digest_missing_from_the_repository_is_an_error(world: World) -> None:
    _, absent = manifest("never pushed")
    event = world.write(f"{PREFIX}/envs/dev/1.json", world.record("dev", absent))
    with pytest.raises(RuntimeError, match="ImageMissing"):
        world.run(event)


def test_a_squatted_promotion_tag_is_a_conflict_not_a_success(world: World) -> None:
    real = world.push("real", "git-eeeeeeeeeeee")
    squatter_tag = f"promoted-production-{real[7:19]}"
    world.push("squatter", squatter_tag)
    event = world.write(f"{PREFIX}/envs/production/1.json", world.record("production", real))
    with pytest.raises(RuntimeError, match="TagConflict"):
        world.run(event)
    assert squatter_tag not in world.tags_of(real)


def test_reads_the_version_named_by_the_event_not_the_latest(world: World) -> None:
    first = world.push("v1", "git-111111111111")
    second = world.push("v2", "git-222222222222")
    key = f"{PREFIX}/envs/dev/7.json"
    event = world.write(key, world.record("dev", first))
    world.write(key, world.record("dev", second))  # an overwrite (the bucket policy denies it on AWS)
    [outcome] = world.run(event)
    assert outcome.digest == first
    assert world.tags_of(second) == {"git-222222222222"}


def test_one_bad_record_does_not_stop_the_others_in_the_event(world: World) -> None:
    good = world.push("g", "git-333333333333")
    bad = world.write(f"{PREFIX}/envs/dev/1.json", world.record("dev", good, environment="staging"))
    fine = world.write(f"{PREFIX}/envs/dev/2.json", world.record("dev", good))
    with pytest.raises(RuntimeError, match="RecordRejected"):
        world.run(bad, fine)
    assert f"promoted-dev-{good[7:19]}" in world.tags_of(good)


def test_settings_from_the_function_environment() -> None:
    settings = tagger.Settings.from_env({"REPOSITORY": "r", "LEDGER_PREFIX": "releases/", "TAG_PREFIX": "p-"})
    assert (settings.repository, settings.prefix, settings.tag_prefix, settings.registry_id) == (
        "r",
        "releases",
        "p-",
        None,
    )
    assert tagger.environment_of_key(settings, "releases/envs/dev/x/1.json") == "dev"
    assert tagger.environment_of_key(settings, "releases/envs/Dev/1.json") is None
    assert tagger.environment_of_key(settings, "other/envs/dev/1.json") is None
