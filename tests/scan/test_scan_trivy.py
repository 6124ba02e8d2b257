"""Scanning against the real trivy binary, offline, on deliberately insecure fixtures.

Expected counts are not hard-coded: they come from the raw JSON that trivy prints when run directly,
so the tests check our parsing and thresholds against what the tool actually reported.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from envpromote.errors import EXIT_BAD_INPUT, EXIT_PREFLIGHT_FAILED, BadInput, PreflightFailed
from envpromote.scan import model, report, trivy

FIXTURES = Path(__file__).parent / "fixtures"

OFFLINE = ["--skip-db-update", "--skip-check-update", "--offline-scan", "--disable-telemetry", "--quiet"]


def raw_trivy(trivy: str, *args: str) -> dict[str, Any]:
    """trivy's own JSON, run directly (not through envpromote.scan)."""
    completed = subprocess.run(
        [trivy, *args, "--format", "json", "--ignorefile", ""], capture_output=True, text=True, check=True
    )
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def raw_counts(report: dict[str, Any]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for result in report.get("Results") or []:
        for item in result.get("Misconfigurations") or []:
            if item["Status"] == "FAIL":
                counts[item["Severity"]] += 1
        for item in result.get("Secrets") or []:
            counts[item["Severity"]] += 1
        for item in result.get("Vulnerabilities") or []:
            counts[item["Severity"]] += 1
    return counts


def fixture_request(**overrides: Any) -> trivy.ScanRequest:
    settings: dict[str, Any] = {"root": FIXTURES, "offline": True, "skip_dirs": ()}
    settings.update(overrides)
    return trivy.ScanRequest(**settings)


@pytest.fixture(scope="module")
def fs_report(trivy_bin: str) -> model.ScanReport:
    return trivy.run_scan(fixture_request(fs=True), trivy=trivy_bin)


def by_rule(report: model.ScanReport) -> dict[str, list[model.Finding]]:
    found: dict[str, list[model.Finding]] = {}
    for finding in report.findings:
        found.setdefault(finding.rule_id, []).append(finding)
    return found


def test_fs_offline_finds_root_dockerfile_unencrypted_bucket_and_planted_secret(
    fs_report: model.ScanReport,
) -> None:
    rules = by_rule(fs_report)
    (root_user,) = rules["DS-0002"]
    assert (root_user.kind, root_user.severity) == ("misconfiguration", "HIGH")
    assert root_user.target == "root-dockerfile/Dockerfile"
    encryption = [f for f in fs_report.findings if "encryption" in f.title.lower()]
    assert encryption, "the unencrypted bucket must be reported"
    assert {f.target for f in encryption} == {"s3-unencrypted/main.tf"}
    (secret,) = rules["github-pat"]
    assert (secret.kind, secret.severity) == ("secret", "CRITICAL")
    source_lines = (FIXTURES / "planted-secret" / "settings.py").read_text().splitlines()
    assert secret.start_line is not None
    assert "GITHUB_TOKEN" in source_lines[secret.start_line - 1]


def test_fs_summary_counts_match_trivys_own_json(trivy_bin: str, fs_report: model.ScanReport) -> None:
    raw = raw_trivy(trivy_bin, "fs", *OFFLINE, "--scanners", "secret,misconfig", str(FIXTURES))
    expected = raw_counts(raw)
    assert sum(expected.values()) == len(fs_report.findings) > 0
    for severity in model.SEVERITIES:
        assert fs_report.summary.counts[severity] == expected[severity], severity


def test_offline_summary_is_partial_and_records_the_trivy_version(
    trivy_bin: str, fs_report: model.ScanReport
) -> None:
    version = subprocess.run([trivy_bin, "--version"], capture_output=True, text=True, check=True).stdout
    summary = fs_report.summary
    assert summary.partial
    assert summary.db_date is None
    assert summary.modes == ("fs",)
    assert f"Version: {summary.trivy_version}" in version
    assert "PARTIAL SCAN" in report.render_table(fs_report)


def test_config_mode_reports_misconfigurations_only(trivy_bin: str) -> None:
    report = trivy.run_scan(fixture_request(config=True), trivy=trivy_bin)
    raw = raw_trivy(trivy_bin, "config", "--skip-check-update", "--quiet", str(FIXTURES))
    assert {f.kind for f in report.findings} == {"misconfiguration"}
    assert sum(raw_counts(raw).values()) == len(report.findings)
    assert "DS-0002" in by_rule(report)
    assert report.summary.partial, "a config-only scan says nothing about vulnerabilities"


def test_fs_and_config_together_count_each_misconfiguration_once(
    trivy_bin: str, fs_report: model.ScanReport
) -> None:
    both = trivy.run_scan(fixture_request(fs=True, config=True), trivy=trivy_bin)
    assert both.summary.counts == fs_report.summary.counts
    assert both.summary.modes == ("fs", "config")


def test_thresholds_on_real_findings(fs_report: model.ScanReport) -> None:
    summary = fs_report.summary
    critical_only = model.exceeds(summary, model.thresholds_for("CRITICAL"), allow_partial=True)
    assert critical_only == [f"{summary.counts['CRITICAL']} CRITICAL finding (at most 0 allowed)"]
    lenient = {severity: summary.counts[severity] for severity in model.SEVERITIES}
    assert model.exceeds(summary, lenient, allow_partial=True) == []
    refused = model.exceeds(summary, lenient)
    assert len(refused) == 1
    assert "PARTIAL" in refused[0]


def test_trivyignore_with_reason_and_expiry_silences_a_finding(trivy_bin: str, tmp_path: Path) -> None:
    expiry = (date.today() + timedelta(days=30)).isoformat()
    ignore = tmp_path / ".trivyignore"
    ignore.write_text(
        f"# ECS runs this fixture nowhere; checking the ignore mechanism\nDS-0002 exp:{expiry}\n"
    )
    report = trivy.run_scan(fixture_request(fs=True, ignore_file=ignore), trivy=trivy_bin)
    assert "DS-0002" not in by_rule(report)
    assert "github-pat" in by_rule(report)


def test_expired_trivyignore_entry_no_longer_applies(trivy_bin: str, tmp_path: Path) -> None:
    ignore = tmp_path / ".trivyignore"
    ignore.write_text("# accepted until the fix landed\nDS-0002 exp:2020-01-01\n")
    report = trivy.run_scan(fixture_request(fs=True, ignore_file=ignore), trivy=trivy_bin)
    assert "DS-0002" in by_rule(report)
    assert any("DS-0002 expired 2020-01-01" in note for note in report.notes)


def test_trivyignore_without_reason_or_expiry_is_refused_before_trivy_runs(tmp_path: Path) -> None:
    ignore = tmp_path / ".trivyignore"
    ignore.write_text("DS-0002 exp:2099-01-01\n\n# a reason\nDS-0026\n")
    with pytest.raises(BadInput) as caught:
        # A non-existent binary proves validation happens first: trivy is never looked up.
        trivy.run_scan(fixture_request(fs=True, ignore_file=ignore), trivy="/nonexistent/trivy")
    message = caught.value.one_line()
    assert "line 1: DS-0002 has no reason" in message or "line 1: DS-0002 expires" in message
    assert "line 4: DS-0026 has no expiry" in message
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_missing_vulnerability_database_fails_loudly(trivy_bin: str, empty_cache: Path) -> None:
    request = fixture_request(fs=True, offline=False, download_db=False, cache_dir=empty_cache)
    with pytest.raises(PreflightFailed) as caught:
        trivy.run_scan(request, trivy=trivy_bin)
    message = caught.value.one_line()
    assert "vulnerability database is unavailable" in message
    assert "not a pass" in message
    assert "--offline" in message
    assert caught.value.exit_code == EXIT_PREFLIGHT_FAILED


def test_undownloadable_vulnerability_database_fails_loudly(
    trivy_bin: str, empty_cache: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # trivy really tries to download, from a 127.0.0.1 port where nothing listens.
    monkeypatch.setenv("TRIVY_DB_REPOSITORY", f"127.0.0.1:{closed_port}/trivy-db")
    request = fixture_request(fs=True, offline=False, cache_dir=empty_cache)
    with pytest.raises(PreflightFailed) as caught:
        trivy.run_scan(request, trivy=trivy_bin)
    assert "failed to download vulnerability DB" in caught.value.message
    assert "vulnerability database is unavailable" in caught.value.message


def test_db_date_comes_from_trivy_version(trivy_bin: str, tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    metadata = {"Version": 2, "UpdatedAt": "2026-11-20T06:12:00Z", "NextUpdate": "2026-11-21T06:12:00Z"}
    (tmp_path / "db" / "metadata.json").write_text(json.dumps(metadata))
    version, db_date = trivy.trivy_version(trivy_bin, cache_dir=tmp_path)
    assert db_date == "2026-11-20T06:12:00Z"
    assert version
    assert trivy.trivy_version(trivy_bin, cache_dir=tmp_path / "none")[1] is None


def test_image_layout_offline_finds_root_user_and_secret_and_writes_sbom(
    trivy_bin: str, oci_layout: Path, fake_image_token: str, tmp_path: Path
) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    report = trivy.scan_image(oci_layout, offline=True, root=tmp_path, sbom_path=sbom, trivy=trivy_bin)
    rules = by_rule(report)
    assert report.summary.modes == ("image",)
    assert report.summary.partial
    assert rules["github-pat"][0].target.endswith("srv/app/settings.py")
    assert any(f.kind == "misconfiguration" and "root" in f.title.lower() for f in report.findings)
    bom = json.loads(sbom.read_text())
    assert bom["bomFormat"] == "CycloneDX"
    components = {(c["name"], c.get("version")) for c in bom["components"]}
    assert ("requests", "2.19.0") in components
    assert fake_image_token not in sbom.read_text()


def test_image_without_installed_packages_says_so(
    trivy_bin: str, oci_layout: Path, make_oci_layout: Callable[..., str], tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    make_oci_layout(
        bare, {"srv/app/main.py": b"print('hi')\n", "srv/app/requirements.txt": b"six==1.16.0\n"}, user="1000"
    )
    bare_report = trivy.scan_image(bare, offline=True, root=tmp_path, trivy=trivy_bin)
    assert any("no installed OS or language packages" in note for note in bare_report.notes)
    with_packages = trivy.scan_image(oci_layout, offline=True, root=tmp_path, trivy=trivy_bin)
    assert not any("no installed" in note for note in with_packages.notes)


def test_docker_save_tarball_is_scanned(
    trivy_bin: str,
    make_docker_archive: Callable[[Path, dict[str, bytes]], None],
    fake_image_token: str,
    tmp_path: Path,
) -> None:
    tarball = tmp_path / "image.tar"
    make_docker_archive(tarball, {"srv/app/settings.py": f'TOKEN = "{fake_image_token}"\n'.encode()})
    report = trivy.scan_image(tarball, offline=True, root=tmp_path, trivy=trivy_bin)
    (secret,) = by_rule(report)["github-pat"]
    assert secret.target.endswith("srv/app/settings.py")
    assert secret.mode == "image"


def test_image_path_that_is_not_a_layout_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not an OCI image layout"):
        trivy.image_source(str(tmp_path))
    with pytest.raises(BadInput, match="does not exist"):
        trivy.image_source(str(tmp_path / "missing.tar"))
    assert trivy.image_source("registry.example/app@sha256:" + "a" * 64) == [
        "registry.example/app@sha256:" + "a" * 64
    ]


def test_sbom_of_app_dir(trivy_bin: str, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==3.1.4\nmarkupsafe==2.1.5\n")
    sbom = trivy.write_sbom(
        trivy.ScanRequest(root=tmp_path), tmp_path / "out" / "app.cdx.json", trivy=trivy_bin
    )
    components = {(c["name"], c.get("version")) for c in json.loads(sbom.read_text())["components"]}
    assert {("jinja2", "3.1.4"), ("markupsafe", "2.1.5")} <= components


def test_sarif_from_real_findings(fs_report: model.ScanReport, tmp_path: Path) -> None:
    path = report.write_sarif(fs_report, tmp_path / "trivy.sarif")
    sarif = json.loads(path.read_text())
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == len(fs_report.findings)
    assert len({rule["id"] for rule in rules}) == len(rules)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
    secret = next(r for r in run["results"] if r["ruleId"] == "github-pat")
    location = secret["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "planted-secret/settings.py"
    assert location["region"]["startLine"] == by_rule(fs_report)["github-pat"][0].start_line
    assert secret["level"] == "error"


def test_repository_scan_skips_the_insecure_fixtures(trivy_bin: str) -> None:
    """The fixtures exist to be found; the repository scan must not trip over them (they are skipped)."""
    repo = FIXTURES.parents[2]
    request = trivy.ScanRequest(root=repo, config=True, offline=True)
    report = trivy.run_scan(request, trivy=trivy_bin)
    assert not [f for f in report.findings if f.target.startswith("tests/scan/fixtures")]
    assert "tests/scan/fixtures" in trivy.REPO_SKIP_DIRS
