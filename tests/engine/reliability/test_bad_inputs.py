"""The bad-input catalogue: every case runs the real `invoke` CLI against the sandbox.

For each: the documented exit code, one line on stderr that names the problem and the fix, no traceback, and
no change to AWS state (task-definition revisions, services, ledger object versions, locks).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_invoke
from support.configs import config_variant
from support.engine import deploy, push_test_image, record_clean_build

from envpromote import release as usecases
from envpromote.ledger import layout

GOOD_SHAPE = "sha256:" + "5" * 64


@dataclass
class Case:
    name: str
    args: list[str]
    code: int
    text: str
    prepare: Callable[[Any, Path], dict[str, str]] | None = None  # returns {placeholder: value}
    env: dict[str, str] = field(default_factory=dict)
    drop_env: tuple[str, ...] = ()


def deployed_to_dev(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    return {"@D": deploy(ctx, "healthy:0.3")}


def deployed_unscanned(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    digest = push_test_image("healthy:0.3")
    usecases.execute(ctx, usecases.plan_deploy(ctx, "dev", digest), timeout=60)  # dev allows unscanned
    return {"@D": digest}


def promoted_to_staging(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    values = deployed_to_dev(ctx, tmp)
    usecases.execute(
        ctx, usecases.plan_promote(ctx, "staging", values["@D"], approval=usecases.Approval()), timeout=60
    )
    return values


def pushed(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    return {"@D": push_test_image("healthy:0.3")}


def pushed_scanned(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    digest = push_test_image("healthy:0.3")
    record_clean_build(ctx, digest)
    return {"@D": digest}


def cfg(change: Callable[[dict[str, Any]], None]) -> Callable[[Any, Path], dict[str, str]]:
    def prepare(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
        return {"@CFG": str(config_variant(tmp, change)), **pushed(ctx, tmp)}

    return prepare


def raw_config(text: str | bytes) -> Callable[[Any, Path], dict[str, str]]:
    def prepare(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
        path = tmp / "raw.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return {"@CFG": str(path)}

    return prepare


def template(source: str) -> Callable[[Any, Path], dict[str, str]]:
    def prepare(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
        path = tmp / "t.json.j2"
        path.write_text(source)
        config = config_variant(tmp, lambda d: d["project"].__setitem__("template", str(path)))
        return {"@CFG": str(config), **pushed(ctx, tmp)}

    return prepare


def locked(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    values = pushed_scanned(ctx, tmp)
    # A short lease: carol's heartbeat (every lease/3) shows she is alive within 2 s, not the default 20 s.
    ctx.lock().acquire("dev", "carol (another terminal)", lease_seconds=6)
    return values


def corrupted_ledger(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    values = deployed_to_dev(ctx, tmp)
    s3 = ctx.clients("us-east-1").client("s3")
    key = layout.record_key(ctx.config.ledger.prefix, "dev", 2)
    s3.put_object(Bucket=ctx.config.ledger.bucket, Key=key, Body=b"{garbage")
    return values


def bad_scan_file(ctx: usecases.Context, tmp: Path) -> dict[str, str]:
    path = tmp / "scan.json"
    path.write_text(json.dumps({"summary": {"counts": {"HIGH": -1}}}))
    return {"@SCAN": str(path), **pushed(ctx, tmp)}


TEMPLATE_OK = (Path(__file__).resolve().parents[3] / "templates" / "taskdef.json.j2").read_text()
NO_CREDS = {"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/creds", "AWS_CONFIG_FILE": "/nonexistent/config"}
CREDS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")

CASES = [
    # image references
    Case("tag latest", ["deploy", "--env", "dev", "--digest", "latest"], 2, "not an image digest"),
    Case("repo:tag", ["deploy", "--env", "dev", "--digest", "app:v1.2"], 2, "looks like a tag"),
    Case(
        "full ref with tag", ["deploy", "--env", "dev", "--digest", "registry/app:1"], 2, "looks like a tag"
    ),
    Case("short digest", ["deploy", "--env", "dev", "--digest", "sha256:abc123"], 2, "64 lowercase hex"),
    Case("uppercase digest", ["deploy", "--env", "dev", "--digest", "sha256:" + "AB" * 32], 2, "uppercase"),
    Case("sha512 digest", ["deploy", "--env", "dev", "--digest", "sha512:" + "ab" * 64], 2, "only sha256"),
    Case("no digest", ["deploy", "--env", "dev"], 2, "No --digest given"),
    Case(
        "digest with newline",
        ["deploy", "--env", "dev", "--digest", GOOD_SHAPE + "\nx"],
        2,
        "64 lowercase hex",
    ),
    Case(
        "shell metacharacters",
        ["deploy", "--env", "dev", "--digest", "sha256:$(whoami)"],
        2,
        "64 lowercase hex",
    ),
    Case("unicode digest", ["deploy", "--env", "dev", "--digest", "sha256:ü" * 3], 2, "64 lowercase hex"),
    Case("verify short digest", ["verify", "--env", "dev", "--digest", "sha256:12"], 2, "64 lowercase hex"),
    Case("diff with a tag", ["diff", "--env", "dev", "--digest", "latest"], 2, "not an image digest"),
    Case("render with a tag", ["render", "--env", "dev", "--digest", "v1"], 2, "not an image digest"),
    Case("rollback --to a tag", ["rollback", "--env", "dev", "--to", "latest"], 2, "not an image digest"),
    Case("record-build with a tag", ["ledger.record-build", "--digest", "latest"], 2, "not an image digest"),
    # environments
    Case(
        "unknown environment",
        ["deploy", "--env", "qa", "--digest", GOOD_SHAPE],
        2,
        "Unknown environment 'qa'",
    ),
    Case("empty environment", ["history", "--env", ""], 2, "No --env given"),
    Case("unicode environment", ["drift", "--env", "prod🚀"], 2, "Unknown environment"),
    Case("shell in environment", ["history", "--env", "dev; rm -rf /"], 2, "Unknown environment"),
    Case("render unknown env", ["render", "--env", "nope", "--digest", GOOD_SHAPE], 2, "Unknown environment"),
    Case(
        "deploy skips the chain", ["deploy", "--env", "staging", "--digest", "@D"], 2, "upstream dev", pushed
    ),
    Case(
        "promote the entry env", ["promote", "--env", "dev", "--digest", "@D"], 2, "entry environment", pushed
    ),
    Case(
        "promote skips staging",
        ["promote", "--env", "production", "--digest", "@D", "--yes", "--approver", "x"],
        3,
        "would skip staging",
        deployed_to_dev,
    ),
    Case(
        "not successful upstream",
        ["promote", "--env", "staging", "--digest", "@D"],
        3,
        "no successful",
        pushed_scanned,
    ),
    Case(
        "unscanned to staging",
        ["promote", "--env", "staging", "--digest", "@D"],
        3,
        "no scan record",
        deployed_unscanned,
    ),
    Case(
        "approval without approver",
        ["promote", "--env", "production", "--digest", "@D", "--yes"],
        3,
        "without --approver",
        promoted_to_staging,
    ),
    Case(
        "unscanned production",
        ["promote", "--env", "production", "--digest", "@D", "--allow-unscanned"],
        2,
        "not available for production",
        pushed,
    ),
    Case("rollback to never-good", ["rollback", "--env", "dev", "--to", "@D"], 3, "never succeeded", pushed),
    # options
    Case(
        "timeout not a number",
        ["deploy", "--env", "dev", "--digest", "@D", "--timeout", "soon"],
        2,
        "not a number",
        pushed_scanned,
    ),
    Case(
        "timeout zero",
        ["deploy", "--env", "dev", "--digest", "@D", "--timeout", "0"],
        2,
        "out of range",
        pushed_scanned,
    ),
    Case(
        "scan file missing",
        ["ledger.record-build", "--digest", "@D", "--scan-json", "/nonexistent.json"],
        2,
        "Cannot read scan report",
        pushed,
    ),
    Case(
        "scan summary malformed",
        ["ledger.record-build", "--digest", "@D", "--scan-json", "@SCAN"],
        2,
        "invalid scan summary",
        bad_scan_file,
    ),
    Case("bad build scenario", ["sandbox.build", "--scenario", "explode:now", "--no-push"], 2, "scenario"),
    Case("fail-on not a severity", ["scan", "--fail-on", "SEVERE"], 2, "not a severity"),
    Case(
        "timeout beyond six hours",
        ["deploy", "--env", "dev", "--digest", "@D", "--timeout", "86400"],
        2,
        "out of range",
        pushed_scanned,
    ),
    # configuration
    Case(
        "config missing",
        ["history", "--env", "dev", "--config", "/nonexistent/envpromote.toml"],
        2,
        "not found",
    ),
    Case("config empty", ["history", "--env", "dev", "--config", "@CFG"], 2, "is empty", raw_config("\n\n")),
    Case(
        "config oversized",
        ["history", "--env", "dev", "--config", "@CFG"],
        2,
        "byte limit",
        raw_config("#" * 300_000),
    ),
    Case(
        "config not TOML",
        ["history", "--env", "dev", "--config", "@CFG"],
        2,
        "not valid TOML",
        raw_config("[chain\n"),
    ),
    Case(
        "config not UTF-8",
        ["history", "--env", "dev", "--config", "@CFG"],
        2,
        "not UTF-8",
        raw_config(b"\xff\xfe[x]"),
    ),
    Case(
        "config unknown key",
        ["history", "--env", "dev", "--config", "@CFG"],
        2,
        "environments.dev.colour: unknown key",
        cfg(lambda d: d["environments"]["dev"].__setitem__("colour", "blue")),
    ),
    Case(
        "config is a directory",
        ["history", "--env", "dev"],
        2,
        "Cannot read config file",
        env={"ENVPROMOTE_CONFIG": "/tmp"},
    ),
    Case(
        "lease too short to expire sanely",
        ["history", "--env", "dev", "--config", "@CFG"],
        2,
        "lock.lease_seconds",
        cfg(lambda d: d["lock"].__setitem__("lease_seconds", 0)),
    ),
    Case(
        "environments as an array",
        ["history", "--env", "dev", "--config", "@CFG"],
        2,
        "environments: must be a table",
        raw_config('[chain]\norder = ["dev"]\n[[environments]]\nname = "dev"\n'),
    ),
    Case(
        "hard-coded image in the template",
        ["deploy", "--env", "dev", "--digest", "@D", "--config", "@CFG"],
        2,
        "not the released image",
        template(TEMPLATE_OK.replace("{{ image_uri | tojson }}", '"r/app@sha256:' + "0" * 64 + '"')),
    ),
    # templates
    Case(
        "template syntax error",
        ["deploy", "--env", "dev", "--digest", "@D", "--config", "@CFG"],
        2,
        "syntax error",
        template('{"family": {{ family }'),
    ),
    Case(
        "template undefined variable",
        ["deploy", "--env", "dev", "--digest", "@D", "--config", "@CFG"],
        2,
        "'colour' is undefined",
        template('{"family": {{ colour }}}'),
    ),
    Case(
        "botocore rejects the definition",
        ["deploy", "--env", "dev", "--digest", "@D", "--config", "@CFG"],
        2,
        "RegisterTaskDefinition model",
        template(TEMPLATE_OK.replace('"cpu": {{ cpu | string | tojson }}', '"cpu": 256')),
    ),
    # AWS-side problems
    Case("image not in ECR", ["deploy", "--env", "dev", "--digest", GOOD_SHAPE], 4, "not in ECR"),
    Case(
        "wrong region",
        ["deploy", "--env", "dev", "--digest", "@D", "--config", "@CFG"],
        4,
        "does not exist",
        cfg(
            lambda d: (
                d["registry"].__setitem__("region", "eu-west-3"),
                d["environments"]["dev"].__setitem__("region", "eu-west-3"),
            )
        ),
    ),
    Case("no credentials", ["history", "--env", "dev"], 2, "credentials", env=NO_CREDS, drop_env=CREDS),
    Case("environment locked", ["deploy", "--env", "dev", "--digest", "@D"], 8, "locked by carol", locked),
    Case(
        "corrupted ledger record",
        ["promote", "--env", "staging", "--digest", "@D"],
        4,
        "corrupted",
        corrupted_ledger,
    ),
]


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, ctx: usecases.Context, aws_state, tmp_path: Path) -> None:
    values = case.prepare(ctx, tmp_path) if case.prepare else {}
    args = [values.get(a, a) for a in case.args]
    before = aws_state.snapshot()
    result = run_invoke(*args, env=case.env, drop_env=case.drop_env)
    # The one error line; progress notes (e.g. the lock's "watching for its heartbeat") may come before it.
    stderr_lines = [line for line in result.stderr.splitlines() if line.startswith("envpromote: ")]
    assert result.returncode == case.code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(stderr_lines) == 1, result.stderr
    message = stderr_lines[0]
    assert case.text in message
    assert "Fix:" in message or "fix" in message.lower()
    assert aws_state.snapshot() == before, "bad input must not change AWS state"
