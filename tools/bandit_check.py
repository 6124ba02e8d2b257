"""bandit cross-check: every bandit result must be explained, or ``nox -s scan`` fails.

``python -m tools.bandit_check REPORT.json`` (a ``bandit -f json`` report) exits 1 unless every result is
explained by a reasoned ruff suppression, a project-wide ruff ignore, or BANDIT_NOT_FINDINGS.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

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
    parser = argparse.ArgumentParser(prog="python -m tools.bandit_check", description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, metavar="JSON", help="a `bandit -f json` report")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return check_bandit_report(args.report, pyproject=args.pyproject)


if __name__ == "__main__":
    sys.exit(main())
