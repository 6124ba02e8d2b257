"""The release board's data model, built by pure functions from ledger records and ECS observations.

Nothing here does I/O: ``observe.py`` asks ECS and the lock table, ``site.py`` renders the model with Jinja.
Records are the dicts of ``envpromote/schemas/release-record.schema.json`` (schema 1 or 2); fields a record does
not have are shown as absent, never guessed.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from envpromote.board.outcomes import FILTERABLE, Outcome, outcome, short_commit, short_digest

Record = Mapping[str, Any]
# Task-definition fields that change on every registration and would make every diff noisy.
_VOLATILE_TASKDEF_KEYS = frozenset(
    {"taskDefinitionArn", "revision", "registeredAt", "registeredBy", "deregisteredAt", "status"}
)


@dataclass(frozen=True)
class Observation:
    """What ECS and the lock table say about one environment right now."""

    environment: str
    running_digest: str | None = None
    task_definition_arn: str | None = None
    since: str | None = None  # ISO time the PRIMARY deployment was created
    rollout_in_progress: bool = False
    rollout_detail: str | None = None
    lock_holder: str | None = None
    lock_expires: str | None = None
    lock_stale: bool = False
    error: str | None = None  # why ECS could not be read (the column says so instead of guessing)


@dataclass
class Release:
    """One record as the board shows it."""

    record: Record
    environment: str
    sequence: int
    page: str  # relative to the site root
    outcome: Outcome
    kind: str
    digest: str | None
    short: str
    digest_page: str | None
    finished_at: str
    approver: str | None
    actor: str
    commit: str | None
    reasons: list[str]
    scan_text: str
    ledger_key: str | None
    verification: list[Mapping[str, Any]]
    undone_by: Release | None = None  # a later rollback that moved the environment away from this digest
    taskdef_diff: list[str] = field(default_factory=list)

    @property
    def rolled_back(self) -> bool:
        return self.outcome.status == "rolled_back" or self.undone_by is not None

    @property
    def short_commit(self) -> str:
        return short_commit(self.commit)

    @property
    def why(self) -> str | None:
        """The reason that explains a failure best: the first naming one, else the first (records list
        preflight evidence before the rollout's own reasons)."""
        return why(self.reasons)

    def fields(self) -> list[tuple[str, str]]:
        """Every field of the record, in the record's order, as text."""
        return [(key, _text(value)) for key, value in self.record.items()]

    def raw_json(self) -> str:
        return json.dumps(self.record, indent=2, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Step:
    """One stage of a digest's path: built, then each environment of the chain."""

    name: str
    outcome: Outcome
    when: str | None
    page: str | None
    note: str | None = None
    alert: bool = False  # the note reports a rollback (shown emphasised, in words)


@dataclass
class DigestPath:
    digest: str
    short: str
    page: str
    commit: str | None
    last_activity: str
    steps: list[Step]
    releases: list[Release]  # every release of this digest, oldest first, across the chain

    @property
    def short_commit(self) -> str:
        return short_commit(self.commit)


@dataclass
class Column:
    environment: str
    upstream: str | None
    observation: Observation
    running_digest: str | None
    running_short: str
    running_page: str | None
    current: Release | None  # the last successful release of the running digest
    last: Release | None  # the environment's latest record, whatever its outcome
    last_success: Release | None
    since: str | None
    drift: bool | None  # None: unknown (ECS could not be read)
    history_page: str


@dataclass
class Board:
    project: str
    chain: list[str]
    generated_at: str
    columns: list[Column]
    paths: list[DigestPath]
    histories: dict[str, list[Release]]  # newest first
    approvers: dict[str, list[str]]
    releases: list[Release]
    filterable: tuple[str, ...] = FILTERABLE

    def outcomes_in(self, environment: str) -> list[Outcome]:
        present = {r.outcome.status for r in self.histories.get(environment, [])}
        return [outcome(s) for s in FILTERABLE if s in present]


_FAILURE_WORDS = (
    "circuit breaker",
    "failed",
    "exited",
    "exit code",
    "timed out",
    "rollback",
    "rolled back",
    "stopped",
)


def why(reasons: Sequence[str]) -> str | None:
    for reason in reasons:
        lowered = reason.lower()
        if any(word in lowered for word in _FAILURE_WORDS):
            return reason
    return reasons[0] if reasons else None


def display_time(value: Any) -> str:
    """``2026-11-29T18:36:21.123456Z`` -> ``2026-11-29 18:36:21 UTC``."""
    text = str(value or "")
    if len(text) >= 19 and text[10] == "T":
        return f"{text[:10]} {text[11:19]} UTC"
    return text or "\u2014"


def _text(value: Any) -> str:
    if value is None:
        return "\u2014"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def scan_text(scan: Mapping[str, Any] | None) -> str:
    """``0 critical, 2 high (partial: no vulnerability DB)``, or ``not scanned``."""
    if not isinstance(scan, Mapping):
        return "not scanned"
    counts = scan.get("counts")
    if not isinstance(counts, Mapping):
        return "scan recorded (no counts)"
    parts = [f"{int(counts.get(sev, 0) or 0)} {sev.lower()}" for sev in ("CRITICAL", "HIGH", "MEDIUM")]
    text = ", ".join(parts)
    if scan.get("partial"):
        text += " (partial: vulnerabilities not scanned)"
    return text


def digest_page(digest: str) -> str:
    return f"digest/{digest.removeprefix('sha256:')}.html"


def release_page(environment: str, sequence: int) -> str:
    return f"release/{environment}-{sequence}.html"


def history_page(environment: str, status: str | None = None) -> str:
    return f"env/{environment}.html" if status is None else f"env/{environment}-{status}.html"


def taskdef_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """A unified diff of two task definitions without the fields every registration changes."""
    if not before or not after:
        return []

    def lines(doc: Mapping[str, Any]) -> list[str]:
        kept = {k: v for k, v in doc.items() if k not in _VOLATILE_TASKDEF_KEYS}
        return json.dumps(kept, indent=2, sort_keys=True, default=str).splitlines()

    return list(difflib.unified_diff(lines(before), lines(after), "before", "after", lineterm=""))


def _release(
    record: Record,
    *,
    ledger_key: Callable[[str, int], str] | None,
    builds: Mapping[str, Mapping[str, Any]],
    taskdefs: Mapping[str, Mapping[str, Any]],
) -> Release:
    environment = str(record["environment"])
    sequence = int(record["sequence"])
    digest = record.get("digest")
    scan = record.get("scan")
    if scan is None and digest:
        scan = (builds.get(digest) or {}).get("scan")
    verification = record.get("verification") or []
    before = taskdefs.get(str(record.get("previous_task_definition_arn") or ""))
    after = taskdefs.get(str(record.get("task_definition_arn") or ""))
    return Release(
        record=record,
        environment=environment,
        sequence=sequence,
        page=release_page(environment, sequence),
        outcome=outcome(str(record.get("status", "unknown"))),
        kind=str(record.get("kind", "deploy")),
        digest=digest,
        short=short_digest(digest),
        digest_page=digest_page(digest) if digest else None,
        finished_at=str(record.get("finished_at") or record.get("timestamp_utc") or ""),
        approver=record.get("approver"),
        actor=str(record.get("actor", "unknown")),
        commit=record.get("source_commit") or (builds.get(digest or "") or {}).get("source_commit"),
        reasons=[str(r) for r in record.get("reasons") or []],
        scan_text=scan_text(scan),
        ledger_key=ledger_key(environment, sequence) if ledger_key else None,
        verification=[v for v in verification if isinstance(v, Mapping)],
        taskdef_diff=taskdef_diff(before, after),
    )


def visible_records(records: Sequence[Record]) -> list[Record]:
    """The records in the ledger's order (oldest first) without the write-ahead intents a later record resolves."""
    resolved = {str(r["resolves"]) for r in records if r.get("resolves")}
    return [r for r in records if not (r.get("status") == "in_progress" and r.get("record_id") in resolved)]


def _mark_rollbacks(history: list[Release]) -> None:
    """A successful rollback away from digest X marks the release that had put X there as undone."""
    for index, release in enumerate(history):
        if release.kind != "rollback" or release.outcome.status != "success":
            continue
        away_from = release.record.get("previous_digest")
        for earlier in reversed(history[:index]):
            if (
                earlier.digest == away_from
                and earlier.outcome.status == "success"
                and earlier.kind != "rollback"
            ):
                earlier.undone_by = release
                break


def _path(
    digest: str,
    chain: Sequence[str],
    by_digest: Mapping[str, Mapping[str, list[Release]]],
    builds: Mapping[str, Mapping[str, Any]],
) -> DigestPath:
    per_env = by_digest.get(digest, {})
    releases = sorted(
        (r for env in chain for r in per_env.get(env, [])), key=lambda r: (r.finished_at, r.sequence)
    )
    build = builds.get(digest) or {}
    commit = build.get("source_commit") or next((r.commit for r in releases if r.commit), None)
    built_note = f"commit {short_commit(commit)}" if commit else None
    steps = [
        Step(
            name="built",
            outcome=outcome("success") if (build or releases) else outcome("not_reached"),
            when=build.get("recorded_at"),
            page=None,
            note=built_note,
        )
    ]
    for env in chain:
        mine = per_env.get(env, [])
        if not mine:
            steps.append(Step(env, outcome("not_reached"), None, None))
            continue
        latest = mine[-1]
        note = None
        rolled = [r for r in mine if r.rolled_back]
        if latest.undone_by is not None:
            note = f"rolled back at {display_time(latest.undone_by.finished_at)}"
        elif rolled and latest.outcome.status != "rolled_back":
            note = f"rolled back {len(rolled)} time(s) before"
        steps.append(Step(env, latest.outcome, latest.finished_at, latest.page, note, alert=note is not None))
    last_activity = releases[-1].finished_at if releases else str(build.get("recorded_at") or "")
    return DigestPath(
        digest=digest,
        short=short_digest(digest),
        page=digest_page(digest),
        commit=commit,
        last_activity=last_activity,
        steps=steps,
        releases=releases,
    )


def build_board(
    *,
    project: str,
    chain: Sequence[str],
    upstreams: Mapping[str, str | None],
    records_by_env: Mapping[str, Sequence[Record]],
    observations: Mapping[str, Observation],
    generated_at: str,
    builds: Mapping[str, Mapping[str, Any]] | None = None,
    taskdefs: Mapping[str, Mapping[str, Any]] | None = None,
    ledger_key: Callable[[str, int], str] | None = None,
) -> Board:
    """The whole board. `records_by_env` holds each environment's records as the ledger returns them (oldest first)."""
    builds = builds or {}
    taskdefs = taskdefs or {}
    histories: dict[str, list[Release]] = {}
    by_digest: dict[str, dict[str, list[Release]]] = defaultdict(lambda: defaultdict(list))
    releases: list[Release] = []
    for env in chain:
        ordered = visible_records(records_by_env.get(env, ()))
        history = [_release(r, ledger_key=ledger_key, builds=builds, taskdefs=taskdefs) for r in ordered]
        _mark_rollbacks(history)
        for release in history:
            if release.digest:
                by_digest[release.digest][env].append(release)
        releases.extend(history)
        histories[env] = list(reversed(history))

    paths = [_path(digest, chain, by_digest, builds) for digest in by_digest]
    paths.sort(key=lambda p: p.last_activity, reverse=True)

    columns = [
        _column(env, upstreams.get(env), histories[env], observations.get(env) or Observation(env))
        for env in chain
    ]
    approvers = {
        env: sorted({r.approver for r in histories[env] if r.approver}, key=str.lower) for env in chain
    }
    return Board(
        project=project,
        chain=list(chain),
        generated_at=generated_at,
        columns=columns,
        paths=paths,
        histories=histories,
        approvers=approvers,
        releases=releases,
    )


def _column(env: str, upstream: str | None, newest_first: list[Release], obs: Observation) -> Column:
    last = newest_first[0] if newest_first else None
    last_success = next((r for r in newest_first if r.outcome.status == "success"), None)
    running = obs.running_digest
    current = next((r for r in newest_first if r.outcome.status == "success" and r.digest == running), None)
    drift: bool | None = None
    if obs.error is None and (running is not None or last_success is not None):
        drift = running != (last_success.digest if last_success else None)
    return Column(
        environment=env,
        upstream=upstream,
        observation=obs,
        running_digest=running,
        running_short=short_digest(running),
        running_page=digest_page(running) if running else None,
        current=current,
        last=last,
        last_success=last_success,
        since=current.finished_at if current else obs.since,
        drift=drift,
        history_page=history_page(env),
    )
