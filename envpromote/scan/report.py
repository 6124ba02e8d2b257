"""Report formats: the table `invoke scan` prints (rich), SARIF 2.1.0 for GitHub code scanning.

The CycloneDX SBOM is trivy's own output (:func:`envpromote.scan.trivy.write_sbom`).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

from envpromote.scan.model import SEVERITIES, ScanReport

DEFAULT_WIDTH = 160  # when stdout is not a terminal (CI logs, pipes); $COLUMNS overrides it


def render_table(report: ScanReport, *, width: int | None = None) -> str:
    """The readable summary printed by `invoke scan`: banner, counts, then one row per finding (plain text)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

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
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("SEVERITY", "KIND", "ID"):
            table.add_column(column, no_wrap=True)
        for column in ("WHERE", "TITLE"):  # long paths and titles wrap: nothing is cut off
            table.add_column(column, overflow="fold")
        for finding in report.findings:
            where = finding.location
            if finding.package:
                fixed = f" -> {finding.fixed_version}" if finding.fixed_version else ""
                where = f"{finding.package} {finding.installed_version or ''}{fixed} ({finding.target})"
            table.add_row(finding.severity, finding.kind, finding.rule_id, where, finding.title)
        columns = width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
        buffer = io.StringIO()
        console = Console(
            file=buffer, width=columns, no_color=True, highlight=False, emoji=False, markup=False
        )
        console.print(table)
        lines.extend(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())
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


def write_sarif(report: ScanReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_sarif(report), indent=2) + "\n", encoding="utf-8")
    return path
