"""Promotion rules: pure functions over ledger records, and the evidence they are fed (verified records, AWS's
clock, what ECS says). Each refusal says which rule and how to satisfy it.

Rules for promoting `digest` into an environment with upstream U:
0. U has no unresolved intent (a release whose outcome is not yet proven; `invoke ledger.reconcile` proves it);
1. the digest has a SUCCESS record in U (else: where it did succeed, and what to promote first);
2. that success is at least the environment's soak time old, by AWS's clock (S3 stored it; S3 says what time it
   is now) - never the local clock;
3. U has not rolled it back or failed it since that success;
4. its build record carries a scan within the environment's thresholds (or unscanned is explicitly allowed);
5. approval is present where the environment requires it (checked by the use case, which can prompt).

Evidence, not claims (`upstream_gate`): every record rules 1-3 rely on is read back through `Ledger.verified`
(schema, the stored bytes, exactly one S3 version and no delete marker, the chain link; exit 4 naming the object
otherwise), and the success is cross-checked with ECS (`confirm_with_ecs`): its task definition belongs to U's
family and runs the digest, and its deployment completed on U's service. What ECS no longer remembers is said in
the evidence as "not checked", never assumed.

Slightly over 400 lines: the rules and the evidence they are fed belong together (one place to read what a gate
trusts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from envpromote.config import Config, Environment
from envpromote.errors import BadInput, GateRefused
from envpromote.image import short_digest
from envpromote.scan import ScanSummary, exceeds

if TYPE_CHECKING:
    from envpromote.ledger import Ledger

# Error codes meaning "this ECS endpoint does not offer the operation" (older regions, emulators).
_NOT_OFFERED = {
    "InvalidAction",
    "UnknownOperationException",
    "UnknownOperation",
    "NotImplemented",
    "UnsupportedOperation",
    "InternalFailure",
}


@dataclass(frozen=True)
class GateEvidence:
    """What the gate relied on, shown to approvers and stored in the record's reasons."""

    upstream_record: Mapping[str, Any] | None
    lines: tuple[str, ...]


def require_upstream(env: Environment) -> str:
    """The environment promoted from; the entry environment has none and takes deploys instead."""
    if env.upstream is None:
        raise BadInput(
            f"{env.name} is the entry environment; it has no upstream to promote from.",
            fix=f"Use 'invoke deploy --env {env.name} --digest <digest>'.",
        )
    return env.upstream


def refuse_unscanned_override(env: Environment, allow_unscanned: bool) -> None:
    """--allow-unscanned never reaches production."""
    if allow_unscanned and env.is_production:
        raise BadInput(
            f"--allow-unscanned is not available for {env.name}.",
            fix="Scan the image ('invoke scan --image ...' during the build) and promote again.",
        )


# ---- the rules (pure) ------------------------------------------------------------------------------


def refuse_unresolved(upstream: str, intents: Sequence[Mapping[str, Any]]) -> None:
    """Rule 0: an upstream release whose outcome nobody has proven yet could be a rollback of anything."""
    if not intents:
        return
    first = intents[0]
    what = f"{first.get('kind')} of {short_digest(str(first.get('digest') or '?'))}"
    raise GateRefused(
        f"{upstream} has {len(intents)} unresolved release intent(s) (#{first.get('sequence')}: {what} started "
        f"at {first.get('started_at')}); its outcome is not yet proven, so {upstream}'s history cannot be judged.",
        fix=f"Run 'invoke ledger.reconcile --env {upstream}' and promote again.",
    )


def verified_success(record: Mapping[str, Any]) -> bool:
    """A success counts upstream only if every check recorded at its pause and bake passed (issue 14): ECS
    reaching COMPLETED is not enough for a blue/green, canary or linear release."""
    checks = record.get("verification") or []
    return record["status"] == "success" and all(check.get("result") == "pass" for check in checks)


def last_success_index(records: Sequence[Mapping[str, Any]], digest: str) -> int | None:
    for index in range(len(records) - 1, -1, -1):
        record = records[index]
        if record["digest"] == digest and verified_success(record):
            return index
    return None


def refuse_no_success(config: Config, env: Environment, digest: str, reached: Sequence[str]) -> GateRefused:
    """Rule 1's refusal: where the digest did succeed (`reached`, in chain order) and what to promote first."""
    upstream = require_upstream(env)
    if reached:
        last = reached[-1]
        next_env = config.downstream_of(last)
        target = next_env.name if next_env else upstream
        return GateRefused(
            f"Digest {short_digest(digest)} has succeeded only in {', '.join(reached)}; "
            f"promoting to {env.name} would skip {upstream}.",
            fix=f"Promote it to {target} first: 'invoke promote --env {target} --digest {digest}'.",
        )
    return GateRefused(
        f"Digest {short_digest(digest)} has no successful release in {upstream}, the upstream of {env.name}.",
        fix=f"Deploy or promote it to {upstream} first, or pick a digest from 'invoke history --env {upstream}'.",
    )


def upstream_success(
    config: Config,
    env: Environment,
    digest: str,
    records: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime,
    stored_at: Callable[[Mapping[str, Any]], dt.datetime],
    reached: Callable[[], Sequence[str]] = lambda: (),
) -> GateEvidence:
    """Rules 1-3 over the upstream's records about `digest` (oldest first, by the ledger's ordering rule).

    `now` is AWS's time and `stored_at(record)` when S3 stored a record (AWS's clock too); `reached()` lists the
    environments where the digest succeeded (only asked when refusing).
    """
    upstream = require_upstream(env)
    success_index = last_success_index(records, digest)
    if success_index is None:
        raise refuse_no_success(config, env, digest, reached())
    success = records[success_index]
    finished = stored_at(success)
    soaked = (now - finished).total_seconds()
    if soaked < env.soak_seconds:
        ready = finished + dt.timedelta(seconds=env.soak_seconds)
        raise GateRefused(
            f"Digest {short_digest(digest)} has soaked {max(0, int(soaked))}s in {upstream} (by AWS's clock); "
            f"{env.name} needs {env.soak_seconds}s.",
            fix=f"Wait until {ready.strftime('%Y-%m-%dT%H:%M:%SZ')} (UTC, AWS's clock) and promote again.",
        )
    for later in records[success_index + 1 :]:
        rolled_away = later["kind"] == "rollback" and later.get("previous_digest") == digest
        failed_again = later["digest"] == digest and later["status"] in {"failed", "rolled_back"}
        if rolled_away or failed_again:
            what = "rolled back" if rolled_away else f"recorded {later['status']}"
            raise GateRefused(
                f"Digest {short_digest(digest)} was {what} in {upstream} at {later['finished_at']} after it succeeded there.",
                fix=f"Fix forward: build a new image and promote it through {upstream}.",
            )
    lines = (
        f"{upstream}: success #{success['sequence']} stored at {finished.strftime('%Y-%m-%dT%H:%M:%SZ')} "
        f"(soaked {int(soaked)}s >= {env.soak_seconds}s by AWS's clock), not rolled back since",
    )
    return GateEvidence(upstream_record=success, lines=lines)


# ---- evidence: verified records and ECS ------------------------------------------------------------

ECS_HISTORY_DAYS = 90  # ECS keeps service deployments this long; a younger one it does not know is a forgery


def upstream_gate(ledger: Ledger, ecs: Any, config: Config, env: Environment, digest: str) -> GateEvidence:
    """Rules 0-3 on evidence: verified upstream records, AWS's clock, and ECS's word on the success.

    `ecs` is an ECS client for the upstream environment (its account and region). Raises GateRefused (exit 3)
    for a refusal or a record ECS contradicts, LedgerError (exit 4, naming the object) for a record that was
    overwritten, deleted, unlinked or edited.
    """
    upstream = require_upstream(env)
    refuse_unresolved(upstream, ledger.unresolved_intents(upstream))
    records = ledger.gate_records(upstream, digest)
    index = last_success_index(records, digest)
    if index is not None:  # the success and everything after it is what the rules rely on
        records = [*records[:index], *(ledger.verified(upstream, r) for r in records[index:])]
    now = ledger.aws_time()
    evidence = upstream_success(
        config,
        env,
        digest,
        records,
        now=now,
        stored_at=lambda record: ledger.stored_at(upstream, record),
        reached=lambda: [n for n in config.chain if ledger.last_for_digest(n, digest, "success")],
    )
    success = evidence.upstream_record
    assert success is not None
    # Every run registers its own revision: a success naming one another record of this digest names is a copy.
    # (All records of the digest: one GET each, bounded by the digest's history, not the environment's.)
    refuse_reused_task_definition(
        config.env(upstream), success, ledger.gate_records(upstream, digest, until_status="")
    )
    relied = [r["sequence"] for r in records[index or 0 :]]
    age = now - ledger.stored_at(upstream, success)
    checked = confirm_with_ecs(ecs, config.env(upstream), success, age=age)
    return GateEvidence(
        upstream_record=success,
        lines=(
            *evidence.lines,
            f"{upstream} record(s) #{', #'.join(str(s) for s in relied)}: verified (schema, one S3 version, "
            "no delete marker, chain link)",
            *checked,
        ),
    )


def refuse_reused_task_definition(
    env: Environment, success: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> None:
    """A success whose task definition another record of the same environment already names (other than its
    own intent and the records resolving that intent) was copied from that record: refused."""
    arn = success.get("task_definition_arn")
    run = {success.get("record_id"), success.get("resolves")} - {None}
    for other in records:
        if not arn or other.get("task_definition_arn") != arn:
            continue
        if other.get("record_id") in run or (other.get("resolves") and other.get("resolves") in run):
            continue
        raise _refuse_claim(
            success,
            env,
            f"names task definition {arn}, which record #{other.get('sequence')} ({other.get('status')}) "
            "registered for another run",
        )


def _refuse_claim(record: Mapping[str, Any], env: Environment, problem: str) -> GateRefused:
    return GateRefused(
        f"{env.name}'s success #{record.get('sequence')} for {short_digest(str(record.get('digest')))} {problem}: "
        "ECS does not confirm the record, so the gate does not trust it.",
        fix=f"Run 'invoke ledger.verify' and check {env.name}'s ledger; promote only a digest that ran there "
        f"('invoke history --env {env.name}').",
    )


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _image_digest(taskdef: Mapping[str, Any], container: str) -> str | None:
    for definition in taskdef.get("containerDefinitions", []):
        if definition.get("name") == container:
            image = str(definition.get("image") or "")
            return image.rsplit("@", 1)[1] if "@sha256:" in image else None
    return None


def confirm_with_ecs(
    ecs: Any, env: Environment, record: Mapping[str, Any], *, age: dt.timedelta
) -> list[str]:
    """ECS's word on a success record of `env`: evidence lines, or GateRefused when ECS contradicts it.

    Checked: the task definition (DescribeTaskDefinition: `env`'s family, the container's image digest), then
    the deployment - the service deployment (DescribeServiceDeployments, where offered; its service, SUCCESSFUL,
    and its target revision's task definition where DescribeServiceRevisions is offered), else the service's
    deployments (the deployment id with this task definition, COMPLETED). `age` (AWS's clock) tells an expired
    ECS history from a deployment ECS never had.
    """
    digest = str(record["digest"])
    arn = record.get("task_definition_arn")
    if not arn:
        raise _refuse_claim(record, env, "names no task definition")
    try:
        taskdef = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    except botocore.exceptions.ClientError as exc:
        raise _refuse_claim(
            record, env, f"names task definition {arn}, which ECS does not know ({_code(exc)})"
        ) from None
    if taskdef.get("family") != env.family:
        raise _refuse_claim(
            record, env, f"names task definition {arn} of family {taskdef.get('family')}, not {env.family}"
        )
    ran = _image_digest(taskdef, env.container)
    if ran != digest:
        shown = short_digest(ran) if ran else "an image not pinned by digest"
        raise _refuse_claim(
            record, env, f"names task definition {arn}, whose container {env.container} runs {shown}"
        )
    lines = [f"ECS: task definition {arn} runs {short_digest(digest)} in {env.container}"]
    offered, sd_lines = _service_deployment(ecs, env, record, age)
    if offered:
        return lines + sd_lines
    return lines + sd_lines + _listed_deployment(ecs, env, record)


def _service_deployment(
    ecs: Any, env: Environment, record: Mapping[str, Any], age: dt.timedelta
) -> tuple[bool, list[str]]:
    """(offered, lines): the record's service deployment as DescribeServiceDeployments reports it."""
    sd_arn = record.get("service_deployment_arn")
    if not sd_arn:
        return False, [
            "not checked with DescribeServiceDeployments: the record carries no service deployment"
        ]
    try:
        response = ecs.describe_service_deployments(serviceDeploymentArns=[sd_arn])
    except (AttributeError, botocore.exceptions.ClientError) as exc:
        if isinstance(exc, botocore.exceptions.ClientError) and _code(exc) not in _NOT_OFFERED:
            raise _refuse_claim(
                record, env, f"names service deployment {sd_arn}, which ECS cannot describe ({_code(exc)})"
            ) from None
        return False, ["not checked with DescribeServiceDeployments: not offered by this ECS endpoint"]
    found = response.get("serviceDeployments", [])
    if not found:
        if age < dt.timedelta(days=ECS_HISTORY_DAYS):
            raise _refuse_claim(record, env, f"names service deployment {sd_arn}, which ECS does not know")
        return True, [
            f"not checked: service deployment {sd_arn} (older than ECS's {ECS_HISTORY_DAYS}-day history); "
            "checked: the task definition's image only"
        ]
    sd = found[0]
    if not str(sd.get("serviceArn", "")).endswith(f":service/{env.cluster}/{env.service}"):
        raise _refuse_claim(record, env, f"names service deployment {sd_arn} of {sd.get('serviceArn')}")
    if sd.get("status") != "SUCCESSFUL":
        raise _refuse_claim(
            record, env, f"names service deployment {sd_arn}, which ECS reports {sd.get('status')}"
        )
    lines = [f"ECS: service deployment {sd_arn.rsplit('/', 1)[-1]} on {env.service}: SUCCESSFUL"]
    revision = (sd.get("targetServiceRevision") or {}).get("arn")
    try:
        revisions = (
            ecs.describe_service_revisions(serviceRevisionArns=[revision])["serviceRevisions"]
            if revision
            else []
        )
    except (AttributeError, botocore.exceptions.ClientError):
        revisions = None
    if not revisions:
        lines.append(
            "not checked: the target service revision's task definition (DescribeServiceRevisions not offered)"
        )
    elif revisions[0].get("taskDefinition") != record["task_definition_arn"]:
        raise _refuse_claim(
            record,
            env,
            f"names service deployment {sd_arn}, which deployed {revisions[0].get('taskDefinition')}",
        )
    else:
        lines.append(f"ECS: its target revision runs {record['task_definition_arn']}")
    return True, lines


def _listed_deployment(ecs: Any, env: Environment, record: Mapping[str, Any]) -> list[str]:
    """The record's ECS deployment among the service's deployments (ECS lists only the current ones)."""
    deployment_id = record.get("deployment_id")
    if not deployment_id:
        raise _refuse_claim(record, env, "names no ECS deployment")
    try:
        services = ecs.describe_services(cluster=env.cluster, services=[env.service]).get("services", [])
    except botocore.exceptions.ClientError as exc:
        return [f"not checked: deployment {deployment_id} (DescribeServices refused: {_code(exc)})"]
    listed = next(
        (d for d in (services[0].get("deployments", []) if services else []) if d.get("id") == deployment_id),
        None,
    )
    if listed is None:
        return [
            f"not checked: deployment {deployment_id}'s outcome (ECS lists only the service's current "
            "deployments, and no longer lists it); checked: the task definition's image"
        ]
    if listed.get("taskDefinition") != record["task_definition_arn"]:
        raise _refuse_claim(
            record, env, f"names deployment {deployment_id}, which runs {listed.get('taskDefinition')}"
        )
    if listed.get("rolloutState", "COMPLETED") != "COMPLETED":
        raise _refuse_claim(
            record, env, f"names deployment {deployment_id}, which ECS reports {listed.get('rolloutState')}"
        )
    return [f"ECS: deployment {deployment_id} of that task definition COMPLETED on {env.service}"]


# ---- rule 4 ----------------------------------------------------------------------------------------


def scan_gate(
    env: Environment,
    digest: str,
    build: Mapping[str, Any] | None,
    *,
    allow_unscanned: bool,
) -> tuple[Mapping[str, Any] | None, bool, list[str]]:
    """Rule 4. Returns (scan summary, unscanned-allowed-and-used, evidence lines) or raises GateRefused."""
    policy = env.scan
    scan = build.get("scan") if build else None
    refuse_unscanned_override(env, allow_unscanned)
    if not scan:
        if allow_unscanned or policy.allow_unscanned:
            return (
                None,
                True,
                [f"scan: no scan record for {short_digest(digest)}; unscanned allowed for {env.name}"],
            )
        raise GateRefused(
            f"Digest {short_digest(digest)} has no scan record; {env.name} requires one.",
            fix="Record the build's scan ('invoke ledger.record-build --digest ... --scan-json FILE') and promote again.",
        )
    try:
        summary = ScanSummary.from_dict(scan)
    except BadInput as exc:
        raise GateRefused(
            f"Digest {short_digest(digest)} has an unreadable scan record: {exc.message}", fix=exc.fix
        ) from None
    violations = exceeds(summary, policy.max_by_severity, allow_partial=policy.accept_partial)
    if violations:
        fix = "Fix the findings (or document an ignore with reason and expiry in .trivyignore), rebuild, promote."
        if summary.partial and not any(summary.counts.get(sev, 0) for sev in policy.max_by_severity):
            fix = "Scan where trivy's vulnerability DB is available (a CI runner) and record that scan for the build."
        raise GateRefused(
            f"Digest {short_digest(digest)} exceeds {env.name}'s scan thresholds: {'; '.join(violations)}.",
            fix=fix,
        )
    counts = ", ".join(f"{sev} {summary.counts.get(sev, 0)}" for sev in ("CRITICAL", "HIGH", "MEDIUM", "LOW"))
    partial = " (partial: no vulnerability data, accepted by config)" if summary.partial else ""
    return scan, False, [f"scan: {counts}{partial} within {env.name}'s thresholds"]
