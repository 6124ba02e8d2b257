"""Read-only tasks: render (no AWS), verify, diff, drift, history."""

from __future__ import annotations

import dataclasses
import json as jsonlib
import os
import sys
from pathlib import Path
from typing import Any

from invoke.context import Context as InvokeContext
from invoke.exceptions import Exit

from envpromote.config import load_config
from envpromote.errors import EXIT_BAD_INPUT, BadInput
from envpromote.image import ImageRef, parse_digest, short_digest
from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import (
    CONFIG_HELP,
    DIGEST_HELP,
    ENV_HELP,
    JSON_HELP,
    digest_option,
    options_task,
    print_calls,
    release_context,
    task,
)


@dataclasses.dataclass(frozen=True)
class QueryOptions:
    """The options every read-only query of one environment takes (verify, diff, drift, history)."""

    env: str = ""
    config: str = ""
    json: bool = False


query_task = options_task(QueryOptions, {"env": ENV_HELP, "config": CONFIG_HELP, "json": JSON_HELP})


def _or_none(value: str | None, none: str = "none") -> str:
    return value if value else none


@task(
    help={
        "env": ENV_HELP,
        "digest": DIGEST_HELP,
        "config": CONFIG_HELP,
        "output": "Write to this file.",
        "registry": "Registry host for the image URI (default: $ENVPROMOTE_REGISTRY or a placeholder).",
    }
)
@handle_errors
def render(
    c: InvokeContext, env: str = "", digest: str = "", config: str = "", output: str = "", registry: str = ""
) -> None:
    """Render ENV's task definition for a digest from templates/taskdef.json.j2 and validate it (no AWS calls)."""
    from envpromote.render import render_task_definition, template_values

    cfg = load_config(config or None)
    if not env:
        raise BadInput("No --env given.", fix=f"Pass --env with one of: {', '.join(cfg.chain)}.")
    environment = cfg.env(env)
    checked = parse_digest(digest_option(digest) or "")
    host = (
        registry
        or os.environ.get("ENVPROMOTE_REGISTRY")
        or f"ACCOUNT.dkr.ecr.{cfg.registry.region}.amazonaws.com"
    )
    image = ImageRef(host, cfg.registry.repository, checked)
    document = render_task_definition(cfg.template, template_values(cfg, environment, image))
    text = jsonlib.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@query_task(digest=DIGEST_HELP)
def verify(c: InvokeContext, opts: QueryOptions, *, digest: str = "") -> None:
    """Preflight only: image in ECR by digest, cluster/service/roles exist, no rollout in progress. Mutates nothing."""
    from envpromote import release

    ctx = release_context(opts.config, env=opts.env)
    report = release.verify(ctx, opts.env, digest_option(digest))
    if opts.json:
        print_json({"environment": report.env, "image_uri": report.image, "checks": list(report.checks)})
    else:
        for line in report.checks:
            print(f"ok: {line}")
    print_calls(dict(ctx.counter.requests))


@query_task(digest=DIGEST_HELP)
def diff(c: InvokeContext, opts: QueryOptions, *, digest: str = "") -> None:
    """Rendered task definition vs the running one, and the image vs upstream's. Exit 0 same, 2 different."""
    from envpromote import release

    ctx = release_context(opts.config, env=opts.env)
    report = release.diff(ctx, opts.env, digest_option(digest))
    if opts.json:
        print_json(
            {
                "environment": report.env,
                "diff": list(report.diff),
                "cross_environment": list(report.cross_environment),
            }
        )
    else:
        print("\n".join(report.diff) if report.diff else f"{report.env}: task definition unchanged")
        for line in report.cross_environment:
            print(f"cross-environment: {line}")
    if report.changed:
        raise Exit(code=EXIT_BAD_INPUT)


@query_task()
def drift(c: InvokeContext, opts: QueryOptions) -> None:
    """Compare the digest ECS runs in ENV with the ledger's last success; exit 1 when they differ."""
    from envpromote import release

    ctx = release_context(opts.config, env=opts.env)
    report = release.drift(ctx, opts.env)
    running = _or_none(report.running_digest, "an image not pinned by digest")
    recorded = _or_none(report.ledger_digest, "none (no successful release recorded)")
    if opts.json:
        print_json(
            {
                "environment": report.env,
                "running_digest": report.running_digest,
                "ledger_digest": report.ledger_digest,
                "task_definition_arn": report.task_definition_arn,
                "deployment_in_progress": report.in_progress,
                "drifted": report.drifted,
            }
        )
    else:
        print(f"{report.env}: running {running} ({report.task_definition_arn})")
        print(f"{report.env}: ledger's last success {recorded}")
        if report.in_progress:
            print(f"{report.env}: a deployment is in progress")
    if report.drifted:
        raise Exit(
            f"envpromote: drift: {report.env} runs {running} but the ledger's last success is {recorded}. "
            "Fix: promote or roll back through envpromote so the ledger is the truth.",
            code=1,
        )


def _history_row(r: dict[str, Any]) -> str:
    from envpromote.release.strategy_rollout import strategy_note

    approver = str(r.get("approver") or "-")[:12]
    digest = short_digest(str(r["digest"]))
    return (
        f"{r['sequence']:>4}  {str(r['finished_at'])[:19]:<20} {r['kind']:<8} {r['status']:<12} "
        f"{digest:<14} {r.get('source_environment') or '-':<8} {approver:<12} {r.get('actor') or '-'}"
    ) + strategy_note(r)


@query_task(limit="Newest N.")
def history(c: InvokeContext, opts: QueryOptions, *, limit: int = 50) -> None:
    """ENV's release records from the ledger, newest first."""
    from envpromote import release

    ctx = release_context(opts.config, env=opts.env)
    records = release.history(ctx, opts.env, limit)
    if opts.json:
        print_json(records)
        return
    print(
        f"{'#':>4}  {'finished (UTC)':<20} {'kind':<8} {'status':<12} {'digest':<14} {'from':<8} {'approver':<12} actor"
    )
    for r in records:
        print(_history_row(r))
    if not records:
        print(f"(no records for {opts.env})")


ROOT_TASKS: list[Any] = [render, verify, diff, drift, history]
