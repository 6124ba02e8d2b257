"""Task: `invoke scan` (trivy: repository, configuration, built image; SARIF and SBOM output)."""

from __future__ import annotations

from json import dumps
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.tasks import Task

from envpromote import gha
from envpromote.errors import GateRefused
from envpromote.scan import ignore, report, trivy
from envpromote.scan.model import exceeds, thresholds_for
from envpromote.tasks._common import handle_errors, print_json
from envpromote.tasks._release_common import task


@task(
    help={
        "image": "image to scan: OCI layout dir (.envpromote/oci/<hex>/), `docker save` tarball, or image ref",
        "fs": "scan the repository: vulnerabilities, secrets, misconfigurations (default with --config)",
        "config": "scan Terraform and Dockerfiles for misconfigurations",
        "offline": "skip vulnerability scanning (no database needed); the report is labelled PARTIAL",
        "sarif": "write SARIF 2.1.0 (GitHub code scanning) to this path",
        "sbom": "write a CycloneDX SBOM (of --image, else of the config's [build] app_dir) to this path",
        "json": "print the report as JSON instead of the table",
        "fail-on": "lowest severity that fails the scan (UNKNOWN..CRITICAL; UNKNOWN = any finding)",
        "summary-json": "write the scan summary (what 'invoke ledger.record-build --scan-json' records) here",
    }
)
@handle_errors
def scan(
    c: Any,
    image: str | None = None,
    fs: bool = False,
    config: bool = False,
    offline: bool = False,
    sarif: str | None = None,
    sbom: str | None = None,
    json: bool = False,
    fail_on: str = "HIGH",
    summary_json: str | None = None,
) -> None:
    """Scan with trivy; exit 3 on findings at or above --fail-on, exit 4 if trivy or its database is missing.

    With no mode given, scans the repository (--fs --config). Entries in .trivyignore need a reason
    comment and an exp:YYYY-MM-DD expiry. Without a vulnerability database the vulnerability part fails
    (exit 4); --offline skips it on purpose and labels the report PARTIAL.
    """
    thresholds = thresholds_for(fail_on)
    root = Path.cwd()
    ignore_file = root / ".trivyignore"
    wants_repo = fs or config or image is None
    request = trivy.ScanRequest(
        root=root,
        fs=fs or (image is None and not config),
        config=config or (image is None and not fs),
        image=image,
        offline=offline,
        ignore_file=ignore_file if ignore_file.exists() else None,
    )
    result = trivy.run_scan(request)
    if sarif:
        report.write_sarif(result, Path(sarif))
    if sbom:
        trivy.write_sbom(_sbom_request(request), Path(sbom))
    if summary_json:
        # Written before the threshold check: the build records the summary even when the scan fails it.
        Path(summary_json).write_text(dumps(result.summary.to_dict(), indent=2, sort_keys=True) + "\n")
    if json:
        print_json(result.to_dict())
    else:
        table = report.render_table(result)
        print(table)
        if wants_repo:
            for skipped in request.skip_dirs:
                print(f"skipped {skipped}: {trivy.REPO_SKIP_DIRS.get(skipped, 'requested')}")
        if request.ignore_file is not None:
            for entry in ignore.load_trivyignore(request.ignore_file):
                print(f"ignored {entry.rule_id} until {entry.expires.isoformat()}: {entry.reason}")
        gha.append_summary(f"### trivy scan\n\n```\n{table}\n```")
    # A partial summary here is the user's explicit choice (--offline or config-only); it is labelled.
    violations = exceeds(result.summary, thresholds, allow_partial=True)
    if violations:
        raise GateRefused(
            f"scan threshold exceeded (--fail-on {fail_on.upper()}): {'; '.join(violations)}.",
            fix="fix the findings, or add a `# reason` + `exp:YYYY-MM-DD` entry to .trivyignore.",
        )


def _sbom_request(request: trivy.ScanRequest) -> trivy.ScanRequest:
    """Without --image the SBOM is of the app directory: [build] app_dir of $ENVPROMOTE_CONFIG or
    ./envpromote.toml when there is one (the scan itself covers the current directory)."""
    from dataclasses import replace

    from envpromote.config import config_path, load_config

    if request.image is not None or not config_path().is_file():
        return request
    app_dir = load_config().app_dir
    # write_sbom scans <root>/app when that exists, else <root>: rooted at the app directory, it scans that.
    return replace(request, root=app_dir) if not (app_dir / "app").is_dir() else request


ROOT_TASKS: list[Task[Any]] = [scan]
COLLECTIONS: dict[str, Collection] = {}
