"""Read-only use cases: verify, diff, drift, history, and recording a build for the scan gate."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envpromote.image import short_digest
from envpromote.ledger import Record, utc_now
from envpromote.release.context import Context, describe_service
from envpromote.release.plan import (
    busy_deployment,
    preflight,
    release_commit,
    require_image_in_ecr,
    resolve_digest,
    running_digest,
    running_task_definition,
    taskdef_diff,
)
from envpromote.render import render_task_definition, template_values
from envpromote.scan import ScanSummary
from envpromote.vcs import git_commit


@dataclass(frozen=True)
class VerifyReport:
    env: str
    image: str
    checks: tuple[str, ...]


def verify(ctx: Context, env_name: str, digest: str | None) -> VerifyReport:
    """Preflight and render, nothing else: what a release would check before its first mutating call."""
    env = ctx.config.env(env_name)
    image = ctx.image(resolve_digest(ctx, digest))
    _, lines = preflight(ctx, env, image)
    rendered = render_task_definition(
        ctx.config.template,
        template_values(ctx.config, env, image, source_commit=ctx.identity.commit or "unknown"),
    )
    lines.append(f"task definition renders and validates ({len(json.dumps(rendered))} bytes)")
    return VerifyReport(env=env.name, image=image.uri, checks=tuple(lines))


@dataclass(frozen=True)
class DiffReport:
    env: str
    diff: tuple[str, ...]
    cross_environment: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.diff or self.cross_environment)


def diff(ctx: Context, env_name: str, digest: str | None) -> DiffReport:
    """The rendered task definition against the running one, and the digest against the upstream's."""
    env = ctx.config.env(env_name)
    checked = resolve_digest(ctx, digest)
    image = ctx.image(checked)
    service = describe_service(ctx, env)
    _, running = running_task_definition(ctx, env, service)
    ledger = ctx.ledger()
    build = ledger.latest_build(checked)
    rendered = render_task_definition(
        ctx.config.template,
        template_values(ctx.config, env, image, source_commit=release_commit(ctx, build) or "unknown"),
    )
    cross: list[str] = []
    if env.upstream:
        upstream_last = ledger.last_success(env.upstream)
        upstream_digest = str(upstream_last["digest"]) if upstream_last else None
        if upstream_digest != checked:
            shown = short_digest(upstream_digest) if upstream_digest else "none"
            cross.append(
                f"image {short_digest(checked)} differs from {env.upstream}'s last success ({shown})"
            )
    return DiffReport(
        env=env.name, diff=tuple(taskdef_diff(running, rendered, env.name)), cross_environment=tuple(cross)
    )


@dataclass(frozen=True)
class DriftReport:
    env: str
    running_digest: str | None
    ledger_digest: str | None
    task_definition_arn: str
    in_progress: bool

    @property
    def drifted(self) -> bool:
        return self.running_digest != self.ledger_digest


def drift(ctx: Context, env_name: str) -> DriftReport:
    """What ECS runs against the ledger's last success; "in progress" is the same rule preflight uses."""
    env = ctx.config.env(env_name)
    service = describe_service(ctx, env)
    arn, running = running_task_definition(ctx, env, service)
    last = ctx.ledger().last_success(env.name)
    return DriftReport(
        env=env.name,
        running_digest=running_digest(env, running),
        ledger_digest=str(last["digest"]) if last else None,
        task_definition_arn=arn,
        in_progress=busy_deployment(service) is not None,
    )


def history(ctx: Context, env_name: str, limit: int = 50) -> list[Record]:
    """The environment's releases, newest first, at most `limit`: final records and the intents nobody has
    resolved yet (a resolved intent is the same release as the record that closes it, so it is not repeated).

    Reads a bounded window (each release is an intent plus its final record), never the whole ledger."""
    env = ctx.config.env(env_name)
    window = ctx.ledger().history(env.name, limit=2 * limit + 2)
    resolved = {r.get("resolves") for r in window if r.get("resolves")}
    shown = [r for r in window if not (r["status"] == "in_progress" and r["record_id"] in resolved)]
    return list(reversed(shown))[:limit]


def record_build(
    ctx: Context, digest: str, *, scan: Mapping[str, Any] | None, source_commit: str | None
) -> str:
    """Store the build record (digest, commit, scan summary) that the scan gate reads; returns its S3 key."""
    checked = resolve_digest(ctx, digest)
    if scan is not None:
        scan = ScanSummary.from_dict(scan).to_dict()  # refuse a malformed summary now, not at promotion
    image = ctx.image(checked)
    require_image_in_ecr(ctx, checked, fix="Push it with 'invoke build' before recording the build.")
    build = {
        "digest": checked,
        "image_uri": image.uri,
        "source_commit": source_commit or ctx.identity.commit or git_commit(),
        "recorded_at": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "actor": ctx.identity.actor,
        "run_id": ctx.identity.run_id,
        "scan": dict(scan) if scan is not None else None,
    }
    return ctx.ledger().put_build(build)
