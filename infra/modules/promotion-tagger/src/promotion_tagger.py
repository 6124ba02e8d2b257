"""Promotion tagger: marks every digest the ledger records as released, so ECR never expires it.

Runs in AWS Lambda (python3.12; boto3 from the runtime, nothing else). S3 notifies it of each object
created under ``<prefix>/envs/``. For a release record whose status is ``success`` it adds the immutable
tag ``<tag_prefix><env>-<digest12>`` to the digest the record names. Only this function (and the build
role) can write images; deploy roles cannot (see the module README for why this design).

What it checks before writing: the object is a record (schema_version, status, environment, digest), the
record's environment is the one in its key (``<prefix>/envs/<env>/...``), the digest has the sha256 form and
matches the record's image_uri, and the image exists in the one repository. It reads the exact object
version named by the event, so a later write to the same key cannot change what it tags.

Outcomes: ``tagged``; ``already-tagged`` (the tag is on this digest: replays are harmless); ``skipped`` (not a
record, not a success, another repository). Errors (raised, so Lambda retries and then sends the event to
the dead-letter queue, where an alarm sees it): a success record that fails a check (``RecordRejected``),
an image missing from the repository, or the tag already on another digest (``TagConflict``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("promotion_tagger")
LOG.setLevel(logging.INFO)

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
SCHEMA_VERSIONS = frozenset({1, 2})
# Kinds whose success means the digest ran in the environment (v2 adds reconcile: a proven outcome).
RELEASE_KINDS = frozenset({"deploy", "promote", "rollback", "reconcile"})
# Kinds that are records but release nothing (a broken lock): skipped whatever their status.
OTHER_KINDS = frozenset({"lock_break"})
MAX_RECORD_BYTES = 1024 * 1024  # a v1/v2 record is at most ~450 KB (200 reasons of 2,000 characters)
MANIFEST_TYPES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
]


class RecordRejected(Exception):
    """A success record that does not pass the checks: not tagged, reported as an error."""


class TagConflict(Exception):
    """The promotion tag already names another digest (squatted or corrupted): reported as an error."""


class ImageMissing(Exception):
    """The record names a digest that is not in the repository."""


@dataclass(frozen=True)
class Settings:
    repository: str
    prefix: str
    tag_prefix: str = "promoted-"
    registry_id: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        return cls(
            repository=env["REPOSITORY"],
            prefix=env["LEDGER_PREFIX"].strip("/"),
            tag_prefix=env.get("TAG_PREFIX", "promoted-"),
            registry_id=env.get("REGISTRY_ID") or None,
        )


@dataclass(frozen=True)
class Outcome:
    key: str
    action: str  # tagged | already-tagged | skipped
    detail: str
    tag: str | None = None
    digest: str | None = None


def promotion_tag(settings: Settings, environment: str, digest: str) -> str:
    return f"{settings.tag_prefix}{environment}-{digest.removeprefix('sha256:')[:12]}"


def environment_of_key(settings: Settings, key: str) -> str | None:
    """``<prefix>/envs/<env>/<name>.json`` -> env (None for any other key)."""
    head = f"{settings.prefix}/envs/"
    if not key.startswith(head) or not key.endswith(".json"):
        return None
    env, sep, rest = key[len(head) :].partition("/")
    return env if sep and rest and ENVIRONMENT.match(env) else None


def tag_request(settings: Settings, key: str, record: Any) -> tuple[str, str, str] | Outcome:
    """Pure check of one object: (environment, digest, tag) to write, or the Outcome that ends it.

    Raises RecordRejected for a success record that fails a check.
    """
    key_env = environment_of_key(settings, key)
    if key_env is None:
        return Outcome(key, "skipped", "not a record key (<prefix>/envs/<env>/*.json)")
    if not isinstance(record, dict) or "status" not in record or "schema_version" not in record:
        return Outcome(key, "skipped", "not a release record (head, index or other object)")
    if record["status"] != "success":
        return Outcome(key, "skipped", f"status {str(record['status'])[:40]!r} is not success")
    if record.get("kind") in OTHER_KINDS:
        return Outcome(key, "skipped", f"kind {record['kind']!r} releases nothing")
    problems: list[str] = []
    if record.get("schema_version") not in SCHEMA_VERSIONS:
        problems.append(f"schema_version {record.get('schema_version')!r} unknown")
    if record.get("kind") not in RELEASE_KINDS:
        problems.append(f"kind {str(record.get('kind'))[:40]!r} is not a release")
    environment = record.get("environment")
    if environment != key_env:
        problems.append(f"environment {str(environment)[:40]!r} is not the key's {key_env!r}")
    digest = record.get("digest")
    if not isinstance(digest, str) or not DIGEST.match(digest):
        problems.append("digest is not sha256:<64 hex>")
    image_uri = record.get("image_uri")
    if not isinstance(image_uri, str) or "@" not in image_uri:
        problems.append("image_uri is not <repository>@<digest>")
    elif image_uri.rsplit("@", 1)[1] != digest:
        problems.append("image_uri names another digest than digest")
    if problems:
        raise RecordRejected(f"{key}: " + "; ".join(problems))
    # Checked above: all three are strings here (no assert: Lambda may run with -O).
    image_uri, digest, environment = str(image_uri), str(digest), str(environment)
    repository = image_uri.rsplit("@", 1)[0].partition("/")[2]
    if repository != settings.repository:
        return Outcome(
            key, "skipped", f"image of repository {repository[:100]!r}, not {settings.repository!r}"
        )
    return environment, digest, promotion_tag(settings, environment, digest)


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def _registry(settings: Settings) -> dict[str, str]:
    return {"registryId": settings.registry_id} if settings.registry_id else {}


def tag_image(ecr: Any, settings: Settings, digest: str, tag: str) -> str:
    """Put ``tag`` on the existing manifest of ``digest``: 'tagged' or 'already-tagged'."""
    found = ecr.batch_get_image(
        repositoryName=settings.repository,
        imageIds=[{"imageDigest": digest}],
        acceptedMediaTypes=MANIFEST_TYPES,
        **_registry(settings),
    )
    images = [
        image for image in found.get("images", []) if image.get("imageId", {}).get("imageDigest") == digest
    ]
    if not images:
        raise ImageMissing(f"{digest} is not in repository {settings.repository}")
    image = images[0]
    request: dict[str, Any] = {
        "repositoryName": settings.repository,
        "imageManifest": image["imageManifest"],
        "imageTag": tag,
        "imageDigest": digest,
        **_registry(settings),
    }
    if image.get("imageManifestMediaType"):
        request["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        ecr.put_image(**request)
    except Exception as exc:
        if _error_code(exc) not in {"ImageAlreadyExistsException", "ImageTagAlreadyExistsException"}:
            raise
        holder = ecr.describe_images(
            repositoryName=settings.repository, imageIds=[{"imageTag": tag}], **_registry(settings)
        )["imageDetails"]
        if holder and holder[0].get("imageDigest") == digest:
            return "already-tagged"
        held_by = holder[0].get("imageDigest") if holder else "?"
        raise TagConflict(f"tag {tag} already names {held_by}, not {digest}") from exc
    return "tagged"


def read_record(s3: Any, bucket: str, key: str, version_id: str | None) -> Any:
    """The object's JSON (that exact version), or None when it is not JSON or too large to be a record."""
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    response = s3.get_object(**request)
    if int(response.get("ContentLength", 0)) > MAX_RECORD_BYTES:
        return None
    body = response["Body"].read(MAX_RECORD_BYTES + 1)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def handle_object(
    s3: Any, ecr: Any, settings: Settings, bucket: str, key: str, version_id: str | None
) -> Outcome:
    if environment_of_key(settings, key) is None:
        return Outcome(key, "skipped", "not a record key (<prefix>/envs/<env>/*.json)")
    record = read_record(s3, bucket, key, version_id)
    request = tag_request(settings, key, record)
    if isinstance(request, Outcome):
        return request
    environment, digest, tag = request
    action = tag_image(ecr, settings, digest, tag)
    return Outcome(key, action, f"{environment} released {digest}", tag=tag, digest=digest)


def handle(event: dict[str, Any], s3: Any, ecr: Any, settings: Settings) -> list[Outcome]:
    """Every S3 record of the event; raises after the last one if any failed (so the event is retried)."""
    outcomes: list[Outcome] = []
    errors: list[str] = []
    for entry in event.get("Records", []):
        if not str(entry.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3_part = entry.get("s3", {})
        bucket = s3_part.get("bucket", {}).get("name")
        key = urllib.parse.unquote_plus(s3_part.get("object", {}).get("key", ""))
        version_id = s3_part.get("object", {}).get("versionId")
        try:
            outcome = handle_object(s3, ecr, settings, bucket, key, version_id)
        except (RecordRejected, TagConflict, ImageMissing) as exc:
            LOG.error(json.dumps({"key": key, "error": type(exc).__name__, "detail": str(exc)}))
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        LOG.info(json.dumps(outcome.__dict__))
        outcomes.append(outcome)
    if errors:
        raise RuntimeError("; ".join(errors))
    return outcomes


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # pragma: no cover - AWS entry
    import boto3

    outcomes = handle(event, boto3.client("s3"), boto3.client("ecr"), Settings.from_env(dict(os.environ)))
    return {"outcomes": [outcome.__dict__ for outcome in outcomes]}
